// A preparation program on the virtual spectrometer (`nmrc prepare`, docs/preparation.md): the
// pseudo-pure state by spatial averaging, then optionally the bath particle and the system state
// by temporal averaging. The loader validates the whole YAML file before anything runs (one
// located line per error, nmrc::InputError); the runner returns every state and number the
// command writes, and prints nothing.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/types.hpp"
#include "nmrc/spectrometer/preparation.hpp"
#include "nmrc/spectrometer/sample.hpp"

namespace nmrc::spectrometer {

/// What the program prepares; every target starts with the pseudo-pure state.
enum class PreparationTarget { kPps, kBath, kTemporalAveraging };
/// "pps", "bath", "temporal_averaging" (the program file's spelling).
const char* target_name(PreparationTarget target);

struct PreparationProgram {
  std::string source_file;
  Molecule molecule;
  PreparationTarget target = PreparationTarget::kPps;
  std::vector<int> pps_spins;  ///< the paper's spins 1..4 of Eq. (S15)
  PpsOptions pps;
  Sample sample;  ///< molecule, relaxation, gradient mode and slices
  struct Bath {
    int spin = -1;
    double temperature = 0.0;  ///< T_R in the paper's units (delta = k_B = 1)
  };
  std::optional<Bath> bath;
  std::vector<int> system_spins;  ///< temporal averaging: spins carrying the system state
  Mat requested;                  ///< temporal averaging: the requested system state
};

/// Loads and validates a preparation program (docs/preparation.md). Paths inside are relative
/// to the program file. Throws InputError "file:line:col: field = value: rule" for unknown keys
/// and spins, a missing bath, weights that are negative or do not sum to 1, temperatures
/// <= 0, a non-physical requested state (Eq. (1) with too large |c|), and so on.
PreparationProgram load_preparation_program(const std::string& path);
/// Same from text (nmrc.prepare with a dict): `name` stands for the file in messages, relative
/// paths resolve against base_dir.
PreparationProgram parse_preparation_program(const std::string& text, const std::string& name,
                                             const std::string& base_dir);

struct PreparationResult {
  std::vector<PpsStep> pps_steps;
  PpsResult pps;  ///< thermal and PPS states, per-step deviations from Eq. (S15), the fit
  struct Bath {
    double rotation_rad = 0.0;
    double p0_requested = 0.0, p0_obtained = 0.0;  ///< bath spin's ground population
    double pseudo_state_error = 0.0;  ///< ||sigma - |0..0><0..0| (x) rho_R|| / ||target||
    Mat start;                        ///< physical state before the bath stage (the PPS)
    Mat after;                        ///< physical state after it
    Mat sigma;                        ///< pseudo-state of `after`
  };
  std::optional<Bath> bath;
  struct TemporalAveraging {
    TemporalAveragingPlan plan;
    Mat start;                      ///< physical state every experiment starts from
    Mat after;                      ///< weighted average of the experiments' physical states
    Mat sigma;                      ///< weighted average of their pseudo-states
    Mat reduced;                    ///< sigma traced down to the system spins
    double max_abs_error = 0.0;     ///< max |reduced - requested|
    double uhlmann_fidelity = 0.0;  ///< F(reduced, requested), in [0, 1]
    double u_d_distance_from_identity = 0.0;  ///< ||U_d - I||_F
  };
  std::optional<TemporalAveraging> temporal;
  /// The physical states before and after the target's own stage (for pps: thermal and PPS).
  Mat before, after;
};

/// Progress: (done, total, what) after each stage and each temporal-averaging experiment.
using PreparationProgress = std::function<void(int, int, const std::string&)>;

/// Runs the program: the PPS sequence (run_pps), then the bath sequence when a bath is given,
/// then the temporal-averaging experiments. Deterministic. Throws InputError only for
/// parameters the loader could not check (sample.validate()).
PreparationResult run_preparation(const PreparationProgram& program,
                                  const PreparationProgress& progress = {});

}  // namespace nmrc::spectrometer
