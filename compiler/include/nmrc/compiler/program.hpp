// The pulse-program front end: a YAML program (docs/program-format.md) -> the sequence IR of
// core/sequence.hpp plus the gate targets still to compile. Every violation throws InputError
// "file:line:col: field = value: rule" before anything is written.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/targets.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/sequence.hpp"
#include "nmrc/core/yaml_input.hpp"

namespace nmrc::compiler {

/// A gate target of the program with its resolved compile options. Until compiled it stands in
/// the sequence as a UnitaryElement (the ideal gate; empty matrix for a state transfer) at
/// `element_indices` (several when inside a loop).
struct GateJob {
  std::string name;
  GateTarget target;
  CompileOptions options;
  std::vector<size_t> element_indices;
  std::string location;  ///< file:line:col of the gate element
};

struct Program {
  std::string name;
  std::string path;           ///< program file
  std::string molecule_path;  ///< resolved relative to the program
  Molecule molecule;          ///< with the program's carriers applied
  Sequence sequence;
  std::vector<GateJob> gates;
};

/// Loads a program file; the molecule path and pulse/shape files are relative to it.
Program load_program(const std::string& path);
/// Same from text; `name` stands for the file in messages, `base_dir` resolves relative paths.
Program parse_program(const std::string& text, const std::string& name,
                      const std::string& base_dir);

/// The one reader of a `compile:` map's `decoupler` field (docs/program-format.md), for compile
/// and experiment programs: `none` (off) or {sequence, channel, b2_hz, o2_ppm, molecule}, the
/// heteronuclear molecule read relative to base_dir and checked against `m`, the program's
/// molecule (DecouplerModel::problem). A bad value throws InputError at its YAML field
/// (file:line:col, "decoupler.KEY = value: rule"); `options` is the compile map holding it.
std::optional<DecouplerModel> read_decoupler_model(const YamlField& options, const YamlField& v,
                                                   const Molecule& m, const std::string& base_dir);

/// Replaces every placeholder of `job` in the program's sequence by the compiled pulse.
void install_pulse(Program& program, const GateJob& job, const CompiledPulse& pulse);

/// What compile_program made of one gate: the compiled pulse (installed in the program's
/// sequence) and its validation by the spectrometer's judge (validate_pulse). A gate stopped by
/// ProgramCompileOptions::stop keeps GRAPE's best pulse, installed but not validated.
struct GateOutcome {
  const GateJob* job = nullptr;  ///< in Program::gates
  CompileResult result;
  std::optional<ValidationResult> validation;
  /// partial_swap_bound_s of a partial SWAP on its direct coupling, s; 0 for other gates.
  double bound_s = 0.0;
  /// GRAPE reached the fidelity target and the validation passed.
  bool passed() const { return result.summary.reached_target && validation && validation->passed; }
};

/// How compile_program runs a program's gates.
struct ProgramCompileOptions {
  std::vector<std::string> only;  ///< gate names (default: every gate); an unknown name: InputError
  int threads = 0;                ///< GRAPE threads of every gate (0: the program's own)
  std::string cache_dir;          ///< pulse cache ("" for none; an unusable one is warned of)
  /// Set from another thread to stop: the running gate keeps its best pulse, no gate follows.
  const std::atomic<bool>* stop = nullptr;
  /// The processes sharing the work (`mpirun -n N nmrc compile`, docs/mpi.md). One gate: its
  /// GRAPE work (CompileOptions::team). Two or more: the gates are dealt to groups of ranks,
  /// each gate's GRAPE shared by its group (share_items_in_groups). Only rank 0 uses the cache,
  /// validates and calls on_gate (in the program's order); the others' outcomes carry no
  /// validation (one gate) or are none (several). Pulses are bit-identical to one process's.
  Team* team = nullptr;
  /// GRAPE progress of gate `index` (1-based) of `total`.
  std::function<void(const GateJob&, int index, int total, const GrapeProgress&)> progress;
  /// Called once every argument is checked, before the cache is opened and GRAPE starts.
  std::function<void()> before_work;
  /// Called when a gate is compiled, installed and validated, before the next one starts
  /// (the CLI writes that gate's files here).
  std::function<void(const GateOutcome&, int index, int total)> on_gate;
};

/// Compiles the program's gates in order (`nmrc compile` and nmrc.compile_program): each by
/// compile_target, installed in program.sequence, then validated. Every argument is checked
/// before GRAPE starts (InputError).
std::vector<GateOutcome> compile_program(Program& program, const ProgramCompileOptions& options);

}  // namespace nmrc::compiler
