// Heat-flow theory programs (`nmrc theory PROGRAM.yaml`): a list of collision-model runs with
// their subsystems, temperatures, coherences, order, interaction type, g, tau and collision
// count, optional master-equation comparison, convergence study and coherence sweep. The file
// format is specified in docs/theory-format.md; every error is one located line
// "file:line:col: field = value: rule" (nmrc::InputError), found before anything is computed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nmrc/thermo/model.hpp"

namespace nmrc::thermo {

/// A sweep of the real coherence c_pq of one pair over `values` (Fig. 13).
struct SweepSpec {
  int p = 0, q = 1;
  std::vector<double> values;
};

struct RunSpec {
  std::string name;   ///< also the output sub-directory
  std::string title;  ///< for plots
  ModelParams params;
  bool master_equation = false;  ///< also integrate Eqs. (42)-(45) and compare
  int convergence_halvings = 0;  ///< > 0: convergence study with this many halvings of tau
  std::optional<SweepSpec> sweep;
};

struct TheoryProgram {
  std::string name, description, source;
  std::vector<RunSpec> runs;
};

/// Loads and validates a program file (docs/theory-format.md). Throws InputError.
TheoryProgram load_theory_program(const std::string& path);
/// Same, from text; `file_name` stands for the file in messages.
TheoryProgram parse_theory_program(const std::string& text, const std::string& file_name);

/// Largest subsystem counts accepted: the cascade keeps a 2^(n+1) x 2^(n+1) complex matrix
/// (1 GiB at n = 12); the simultaneous interaction works per excitation sector.
inline constexpr int kMaxCascadeSubsystems = 12;
inline constexpr int kMaxSimultaneousSubsystems = 10;
inline constexpr int kMaxMasterEquationSubsystems = 8;

}  // namespace nmrc::thermo
