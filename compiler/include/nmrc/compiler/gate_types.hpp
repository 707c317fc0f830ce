// The gate types: one descriptor per type (name, arity, parameters with units and rules, the
// reader of a program's `gate` element, the target builder, what the judge measures), after
// qsim's one struct per gate (lib/gates_qsim.h). Every reader goes through this table: a
// program's YAML gate element (program.cpp), a pulse file's or the experiment's target
// description (target_from_description), the compiler (build_problem through GateTarget), the
// judge (validate_pulse) and the experiment's pulse needs (the *_description builders below).
// Adding a gate type: one descriptor in gate_types.cpp's table, with its test
// (docs/architecture.md, "Recipes"); a type is its descriptor, there is no enumerator.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nmrc/compiler/targets.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/yaml_input.hpp"

namespace nmrc::compiler {

/// One parameter of a gate element (and of its target description, under the same key unless
/// the YAML reader converts it: angle_deg -> angle_rad, file -> local_unitary).
struct GateParameter {
  const char* key;
  const char* unit;  ///< "rad", "deg", "" (dimensionless or text)
  const char* rule;  ///< what a value must be (docs/program-format.md, "Gate targets")
};

/// What the judge and GRAPE measure for a gate type.
enum class GateMeasure {
  kUnitary,        ///< F = |Tr(W^dag U)| / d (or up to diagonal phases)
  kStateTransfer,  ///< F = |Tr(W^dag U)| / norm, W = sum_i |to_i><from_i| (x) 1
};

/// The YAML side of one gate element, for a descriptor's reader.
struct GateYaml {
  const YamlField& element;                ///< the gate's mapping
  const YamlField& spins_field;            ///< its `spins:` list
  const std::vector<std::string>& labels;  ///< the spins it names, in order
  const std::string& base_dir;             ///< files named by the gate resolve against it
};

/// The description being built or read (a pulse file's "target" entry) and where to say so.
struct GateDescription {
  const nlohmann::json& d;
  const std::string& where;
  /// Throws InputError "where: target.<field>: rule".
  [[noreturn]] void fail(const std::string& field, const std::string& rule) const;
  /// The number under `key`; fails "missing number" when absent or not a number.
  double number(const char* key) const;
};

struct GateDescriptor {
  const char* name;     ///< as programs and pulse files spell it; the type's identity
  int min_spins;        ///< arity: the spins it names
  int max_spins;        ///< 0: as many as the molecule has
  const char* summary;  ///< one line for docs and messages
  std::vector<GateParameter> parameters;  ///< keys of a gate element beside type/name/spins/compile
  GateMeasure measure;
  bool up_to_diagonal_phases;  ///< may be compiled and judged `up_to: diagonal_phases`
  /// A program's gate element -> the description's entries beyond gate/spins/up_to (fails at
  /// the YAML field).
  void (*read_yaml)(const GateYaml& yaml, nlohmann::json& description);
  /// The description -> the target's local unitary (kUnitary) or transfers (kStateTransfer).
  void (*build)(const GateDescription& description, GateTarget& target);
  /// A lower bound on the pulse length for these spins, s (0: none known); may be null.
  double (*bound_s)(const nlohmann::json& description, const Molecule& molecule,
                    const std::vector<int>& spins);
};

/// Every gate type, in the order messages list them.
const std::vector<GateDescriptor>& gate_descriptors();
/// The descriptor of a name; nullptr for a name that is not a gate type.
const GateDescriptor* find_gate_descriptor(const std::string& name);
/// The descriptor of a type the code names (a name in the table: std::logic_error otherwise).
const GateDescriptor& gate_descriptor(const std::string& name);
/// Every type's name, comma-separated, for messages.
std::string gate_type_names();
/// "acts on exactly 2 spins", "acts on at least 1 spin", "acts on 2 to 6 spins".
std::string arity_rule(const GateDescriptor& descriptor);
/// Whether `count` spins satisfy the descriptor's arity (max 0: up to `molecule_size`).
bool arity_allows(const GateDescriptor& descriptor, size_t count);

/// Builds a GateTarget from its description (a JSON object as in a pulse file's "target"):
/// the one reader of descriptions; target_from_json parses text and calls it.
GateTarget target_from_description(const nlohmann::json& description, const Molecule& molecule,
                                   const std::string& where);

// Descriptions for callers that build targets in code (the experiment's pulse needs): the keys
// are the descriptors', spelled here once.
nlohmann::json rotation_description(const std::vector<std::string>& spins, double angle_rad,
                                    double phase_rad);
nlohmann::json partial_swap_description(const std::vector<std::string>& spins, double theta_rad);
/// `local_unitary` in core's matrix layout (matrix_json.hpp); up_to_diagonal_phases adds
/// "up_to": "diagonal_phases".
nlohmann::json unitary_description(const std::vector<std::string>& spins, const Mat& local,
                                   bool up_to_diagonal_phases = false);

}  // namespace nmrc::compiler
