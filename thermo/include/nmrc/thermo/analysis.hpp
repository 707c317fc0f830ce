// Analysis of the heat-flow model behind `nmrc theory` (docs/theory-format.md): the reversal
// predictors of Eqs. (51)-(52) and (72)-(75) checked against a trajectory's first collision, the
// comparison of the collision model with the cascaded master equation (Eqs. (42)-(45)) at the
// collision ends, coherence sweeps (Fig. 13), and a whole theory program run to results. Every
// function returns structs; nothing prints or writes files.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/thermo/collision.hpp"
#include "nmrc/thermo/master_equation.hpp"
#include "nmrc/thermo/model.hpp"
#include "nmrc/thermo/program.hpp"

namespace nmrc::thermo {

/// Direction of a heat flow into a subsystem.
enum class HeatDirection { kNone, kAbsorb, kRelease };
/// "none", "absorb", "release".
const char* direction_name(HeatDirection d);
/// kAbsorb for heat_in > 0, kRelease for < 0, kNone below 1e-14 in magnitude.
HeatDirection direction_of_heat(double heat_in);

/// Eqs. (51)-(52) for one subsystem on the initial state, against the first collision.
struct ReversalCheck {
  double one_way_coherence = 0.0;                ///< C_k of Eq. (47) on the initial state
  double threshold = 0.0;                        ///< reversal_threshold(T_k, T_R)
  HeatDirection natural = HeatDirection::kNone;  ///< release for T_k > T_R, absorb for <
  bool reversal_predicted = false;
  double first_collision_heat_in = 0.0;  ///< E_k after collision 1 minus E_k initially
  HeatDirection first_collision = HeatDirection::kNone;
  /// Both directions are defined (natural and first collision not kNone): then `reversed` and
  /// `agrees` say whether the simulation reversed the natural flow and whether the prediction
  /// matched.
  bool compared = false;
  bool reversed = false;
  bool agrees = false;
};

/// Eqs. (72)-(75): two subsystems in a cascade with one coherence c_12 (order[0] meets R first).
struct TwoSubsystemCheck {
  int second_subsystem = 0;             ///< order[1]
  double heat_to_bath_eq72 = 0.0;       ///< first_collision_heat_s2 (exact, Eq. (72))
  double heat_to_bath_simulated = 0.0;  ///< minus the second subsystem's heat in collision 1
  double two_lambda_cos_alpha = 0.0;    ///< 2 Re(c_12) sqrt(P_1^0 P_1^1 P_2^0 P_2^1)
  double threshold = 0.0;               ///< reversal_threshold(T_2, T_R)
  bool reversal_predicted = false;      ///< Eqs. (74)-(75)
};

struct PredictorChecks {
  std::vector<ReversalCheck> subsystems;            ///< one per subsystem
  int agree = 0, compared = 0;                      ///< over the subsystems with `compared`
  std::optional<TwoSubsystemCheck> two_subsystems;  ///< n = 2 cascades only
};
/// The predictors on `params`' initial state against the trajectory's first collision.
/// Precondition: `trajectory` = run_collision_model(params).
PredictorChecks check_predictors(const ModelParams& params, const Trajectory& trajectory);

/// The master equation integrated from the initial state and compared with the collision model
/// at t = N tau, N = 0..collisions (Boost.Odeint dopri5, abs = rel tol kMasterEquationTolerance).
struct MasterEquationComparison {
  struct Point {
    int collision = 0;
    double t = 0.0;
    std::vector<double> energy_me, energy_cm;  ///< E_k by master equation, collision model
    std::vector<double> heat_current_me;       ///< Tr(H_k d rho/dt)
    std::vector<std::optional<double>> at_me;  ///< AT_k (Eq. 49) of the master-equation state
  };
  std::vector<Point> points;
  double max_energy_difference = 0.0;  ///< max over k and N of |E_k(ME) - E_k(CM)|
  /// Currents above 1e-12 in magnitude, and those whose sign matches AT_k against T_R.
  int direction_checks = 0, direction_agreements = 0;
};
/// Precondition: `trajectory` = run_collision_model(params).
MasterEquationComparison compare_master_equation(const ModelParams& params,
                                                 const Trajectory& trajectory);

/// A sweep of the real coherence c_pq (Fig. 13): every other coherence of `base` kept, c_pq set
/// to each value (any earlier entry for the pair, either order, replaced).
struct SweepPoint {
  double c = 0.0;
  std::vector<double> delta_energy;  ///< E_k(final) - E_k(initial)
  double delta_system_energy = 0.0;
  double heat_to_bath = 0.0;
  double delta_coherence_rel_entropy = 0.0;  ///< dC(rho_S) [nats]
  double delta_l1_coherence = 0.0;           ///< d l1_coherence(rho_S)
  double delta_free_energy = 0.0;
  double delta_coherence_free_energy = 0.0;  ///< T_R dC(rho_S)
  int direction_violations = 0;
};
/// The model parameters of each sweep point.
std::vector<ModelParams> sweep_items(const ModelParams& base, const SweepSpec& sweep);
/// Runs the points with run_batch (threads = 0: all cores); progress(done, total) per point.
std::vector<SweepPoint> run_sweep(const ModelParams& base, const SweepSpec& sweep,
                                  const std::function<void(int, int)>& progress = {});

/// One run of a theory program, analysed.
struct RunResult {
  const RunSpec* spec = nullptr;  ///< the program's run (the program must outlive the result)
  std::vector<SweepPoint> sweep;  ///< sweep runs: the points; otherwise empty
  std::optional<Trajectory> trajectory;  ///< trajectory runs
  double initial_min_eigenvalue = 0.0;   ///< of the Eq. (1) initial state
  /// Eq. (36) slack min over steps where it was computed (information: true), +inf if none.
  double eq36_min_slack = 0.0;
  int directions_with_at_undefined = 0;  ///< direction checks where AT_k was undefined
  PredictorChecks predictors;
  std::optional<MasterEquationComparison> master_equation;
  std::vector<ConvergenceRow> convergence;  ///< empty unless convergence_halvings > 0
};

/// Progress of a program: (run name, stage, done, total); stage is "collision", "sweep point",
/// "convergence" or "master equation" (done = total = 0).
using TheoryProgress =
    std::function<void(const std::string& run, const std::string& stage, int done, int total)>;
/// Runs every run of the program in order: sweeps, or the collision model followed by the
/// predictor checks and, when asked, the master-equation comparison and convergence study.
std::vector<RunResult> run_theory_program(const TheoryProgram& program,
                                          const TheoryProgress& progress = {});

}  // namespace nmrc::thermo
