// The pulse-program front end: a YAML program (docs/program-format.md) -> the sequence IR of
// core/sequence.hpp plus the gate targets still to compile. Every violation throws InputError
// "file:line:col: field = value: rule" before anything is written.
#pragma once

#include <string>
#include <vector>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/targets.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/sequence.hpp"

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

/// Replaces every placeholder of `job` in the program's sequence by the compiled pulse.
void install_pulse(Program& program, const GateJob& job, const CompiledPulse& pulse);

}  // namespace nmrc::compiler
