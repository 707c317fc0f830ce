// The cascaded master equation of the collision model in the limit tau -> 0 (Eqs. (42)-(45)):
// d rho_S / dt = -i [H_S, rho_S] + sum_k L_k(rho_S) + 2 sum_{k before l} D_kl(rho_S), with
// gamma+ = g^2 tau <s+^R s-^R> = g^2 tau P_R^1 and gamma- = g^2 tau P_R^0. Time mapping: one
// collision (all n interactions) advances t by tau, so collision number N sits at t = N tau
// (Eq. (41): rho' = rho - i tau [H_S, rho] + tau L(rho) per collision). Integrated with
// Boost.Odeint's adaptive Runge-Kutta-Dormand-Prince 5(4) with dense output.
#pragma once

#include <functional>
#include <vector>

#include "nmrc/core/types.hpp"
#include "nmrc/thermo/model.hpp"

namespace nmrc::thermo {

/// Absolute and relative tolerance of the master equation's integration (Boost.Odeint
/// runge_kutta_dopri5, dense output) when it is compared with a run (compare_master_equation).
inline constexpr double kMasterEquationTolerance = 1e-10;
/// The same for the convergence study's reference solution (convergence_study).
inline constexpr double kConvergenceTolerance = 1e-11;

class MasterEquation {
 public:
  /// Uses params' temperatures (via the initial state given to integrate), T_R, g, tau, order
  /// and interaction (simultaneous: every pair weighted 1/2 both ways, the symmetric limit).
  explicit MasterEquation(const ModelParams& params);
  /// d rho / dt.
  Mat rhs(const Mat& rho) const;
  /// Heat current into S_k, Tr(H_k d rho/dt) (compare Eq. (46)).
  double heat_current(const Mat& rho, int k) const;
  double gamma_plus() const { return gamma_plus_; }
  double gamma_minus() const { return gamma_minus_; }

  /// rho_S at times[i], starting from rho0 at t = 0; absolute and relative tolerance `tol`.
  std::vector<Mat> integrate(const Mat& rho0, const std::vector<double>& times,
                             double tol = kMasterEquationTolerance) const;

 private:
  int n_;
  double gamma_plus_, gamma_minus_;
  std::vector<std::vector<double>> w_;  // w_[k][l]: weight of 2 D_kl (k meets R before l)
};

/// One row of the collision-model -> master-equation convergence study.
struct ConvergenceRow {
  double tau = 0, g = 0, theta = 0;
  int collisions = 0;
  double max_energy_error = 0;   ///< max over k and the base run's collision times of |dE_k|
  double final_state_error = 0;  ///< max |rho_CM - rho_ME| element at the final time
  double observed_order = 0;     ///< log2(previous error / this error); 0 for the first row
};

/// Halves tau `halvings` times at fixed g^2 tau (so the master equation is the same) and
/// fixed final time t = collisions * tau, comparing subsystem energies with the master
/// equation (tolerance kConvergenceTolerance) at the base run's collision times.
std::vector<ConvergenceRow> convergence_study(const ModelParams& base, int halvings,
                                              const std::function<void(int, int)>& progress = {});

}  // namespace nmrc::thermo
