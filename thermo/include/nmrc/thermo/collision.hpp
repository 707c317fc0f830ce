// The collision model (Eqs. (38)-(39), Figs. 1, 3, 4, 10-12): in every collision a fresh
// thermal bath particle R meets the subsystems, either in a cascade U_k = exp(-i tau H_kR) in
// a given order, each U_k a two-spin operation on (S_k, R), or all at once (simultaneous
// interaction, SI Fig. 11: exp(-i tau sum_k H_kR), applied per excitation sector). The joint
// (n+1)-spin state is kept either as its excitation-number blocks (Engine::kSectors) or as the
// full matrix updated by core's apply_local (Engine::kLocal). After each collision R is traced
// out and a fresh thermal R appended. Observables are recorded after every interaction.
#pragma once

#include <functional>
#include <limits>
#include <vector>

#include "nmrc/core/types.hpp"
#include "nmrc/thermo/model.hpp"
#include "nmrc/thermo/observables.hpp"

namespace nmrc::thermo {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Everything recorded after one interaction (step 0 is the initial state).
struct StepRecord {
  int step = 0;                ///< 0 initial, then 1, 2, ... one per interaction
  int collision = 0;           ///< 1-based collision of this interaction (0 for the initial state)
  int acting = -1;             ///< subsystem that met R; -1 initial state; n = all (simultaneous)
  std::vector<double> energy;  ///< E_k = Tr(rho H_k)
  std::vector<double> heat_released;  ///< cumulative heat S_k gave to the bath, E_k(0) - E_k
  std::vector<double> step_heat;      ///< heat S_k gave to R in this interaction
  double bath_energy = 0.0;           ///< E_R of the current bath particle
  double system_energy = 0.0;         ///< E_S = sum_k E_k
  double heat_to_bath = 0.0;          ///< cumulative E_S(0) - E_S
  ApparentTemperatures at;            ///< AT_k (Eq. 49), system AT (Eq. 54), C_k (Eq. 47)
  // Entropic quantities (params.information; NaN otherwise), nats:
  double free_energy = kNaN;  ///< F = Tr(rho_S H_S) - T_R S(rho_S), Eq. (S19)
  double coherence = kNaN;    ///< C(rho_S) = S(D(rho_S)) - S(rho_S)
  double mi_sr = kNaN;        ///< I(S:R) with the current bath particle
  std::vector<double> mi_kr;  ///< I(S_k:R)
  /// Eq. (36) generalised, from the start of this collision (fresh R, I(S:R) = 0) to now:
  /// lhs = beta_R dE_R + Tr[K d rho_S], K = -ln D(rho_S^start) (= -beta_S dE_R when
  /// D(rho_S^start) is Gibbs at beta_S, Eq. (36) itself); rhs = dI(S:R) + dC(rho_S); and
  /// lhs - rhs = S(D rho_S' || D rho_S) + S(rho_R' || rho_R) >= 0 (Eq. (35)), given as slack.
  double resource_lhs = kNaN, resource_rhs = kNaN, resource_slack = kNaN;
  /// Eq. (S26)/(29): dF(rho_S) + T_R I(S:R) <= 0 since the start of this collision.
  double free_energy_bound = kNaN;
};

/// Heat-direction check of one subsystem in one collision: Eq. (48)'s sign from the state at
/// the start of the collision (AT_k against T_R; the current's sign where AT_k is undefined)
/// against the sign of the heat S_k actually took from R in that collision.
struct DirectionCheck {
  int collision = 0, subsystem = 0, step = 0;
  int predicted = 0;  ///< +1 into S_k, -1 out of S_k, 0 none
  int actual = 0;     ///< sign of E_k(end) - E_k(start), 0 below 1e-14
  bool at_defined = true;
  bool violated() const { return predicted != 0 && actual != 0 && predicted != actual; }
};

struct Trajectory {
  std::vector<StepRecord> steps;
  std::vector<DirectionCheck> directions;
  int direction_violations = 0;
  int at_undefined = 0;            ///< steps x subsystems where AT_k was undefined
  int resource_violations = 0;     ///< steps with resource_lhs < resource_rhs - 1e-10
  int free_energy_violations = 0;  ///< steps with free_energy_bound > 1e-10
  int mi_order_violations = 0;     ///< steps with I(S_k:R) > I(S:R) + 1e-10 (S26)
  Mat final_state;                 ///< rho_S after the last collision
};

/// Called after every interaction with the step record, rho_S and the (n+1)-spin rho_SR
/// (nullptr for the initial state); for tests and diagnostics.
using StateObserver = std::function<void(const StepRecord&, const Mat& rho_s, const Mat* rho_sr)>;

/// Runs the collision model. `progress(done, total)` is called after every collision.
/// Preconditions: params.validate() passes and the initial state is positive.
Trajectory run_collision_model(const ModelParams& params,
                               const std::function<void(int, int)>& progress = {},
                               const StateObserver& observer = {});

/// Runs independent collision models (sweep points) on `threads` std::threads (0 = hardware
/// concurrency), each item single-threaded inside; results in input order. `progress(done,
/// total)` is called under a lock after each item. A later MPI layer only partitions `items`.
std::vector<Trajectory> run_batch(const std::vector<ModelParams>& items, int threads = 0,
                                  const std::function<void(int, int)>& progress = {});

/// Lower-level engine pieces (public for tests and benchmarks).
/// rho_S (x) diag(P_R^0, P_R^1) with R as the last spin.
Mat append_thermal_bath(const Mat& rho_s, double bath_temperature);
/// Tr_R of an (n+1)-spin state whose last spin is R.
Mat trace_out_bath(const Mat& rho_sr);

/// exp(-i tau g sum_k (s+^k s-^R + h.c.)) on n+1 spins (R last), stored per excitation sector.
class SimultaneousUnitary {
 public:
  SimultaneousUnitary(int n, double g, double tau);
  /// rho <- U rho U^dagger on the (n+1)-spin matrix.
  void apply(Mat& rho) const;
  /// block <- U_m block U_m^dagger for excitation sector m of excitation_sectors(n + 1).
  void apply_sector(Mat& block, size_t m) const;
  /// The dense unitary (tests).
  Mat dense() const;

 private:
  int n_;
  std::vector<std::vector<int>> sectors_;
  std::vector<Mat> u_;
};

}  // namespace nmrc::thermo
