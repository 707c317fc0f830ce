#include "nmrc/thermo/master_equation.hpp"

#include <bit>
#include <boost/numeric/odeint.hpp>
#include <cmath>

#include "nmrc/core/operators.hpp"
#include "nmrc/thermo/collision.hpp"
#include "nmrc/thermo/observables.hpp"

namespace nmrc::thermo {

namespace {

// Ladder operators applied by index arithmetic (O(4^n) each, no 2^n x 2^n operators).
// sigma+ = |1><0| excites, sigma- = |0><1| (docs/conventions.md).
// (s+^k M)(i,j) = M(i^b, j) if bit_k(i) = 1; (s-^k M)(i,j) = M(i^b, j) if bit_k(i) = 0.
Mat left(const Mat& m, int k, int n, bool plus) {
  const int b = 1 << (n - 1 - k);
  Mat out = Mat::Zero(m.rows(), m.cols());
  for (Eigen::Index j = 0; j < m.cols(); ++j)
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      const bool set = (i & b) != 0;
      if (set == plus) out(i, j) = m(i ^ b, j);
    }
  return out;
}
// (M s+^k)(i,j) = M(i, j^b) if bit_k(j) = 0; (M s-^k)(i,j) = M(i, j^b) if bit_k(j) = 1.
Mat right(const Mat& m, int k, int n, bool plus) {
  const int b = 1 << (n - 1 - k);
  Mat out = Mat::Zero(m.rows(), m.cols());
  for (Eigen::Index j = 0; j < m.cols(); ++j) {
    const bool set = (j & b) != 0;
    if (set == plus) continue;
    for (Eigen::Index i = 0; i < m.rows(); ++i) out(i, j) = m(i, j ^ b);
  }
  return out;
}

}  // namespace

MasterEquation::MasterEquation(const ModelParams& params)
    : n_(params.n()), w_(coherence_weights(params)) {
  const auto [pr0, pr1] = populations(params.bath_temperature);
  const double rate = params.g * params.g * params.tau;  // Eq. (45): gamma = g^2 tau <...>_R
  gamma_plus_ = rate * pr1;
  gamma_minus_ = rate * pr0;
}

Mat MasterEquation::rhs(const Mat& rho) const {
  const int n = n_;
  const double gp = gamma_plus_, gm = gamma_minus_;
  Mat out = Mat::Zero(rho.rows(), rho.cols());
  // -i [H_S, rho], H_S diagonal with h_i = sum_k (bit_k(i) - 1/2).
  for (Eigen::Index j = 0; j < rho.cols(); ++j)
    for (Eigen::Index i = 0; i < rho.rows(); ++i) {
      const double hij =
          std::popcount(static_cast<unsigned>(i)) - std::popcount(static_cast<unsigned>(j));
      out(i, j) += cplx(0.0, -hij) * rho(i, j);
    }
  for (int k = 0; k < n; ++k) {
    // Eq. (44): L_k = g+/2 (2 s+ rho s- - {s- s+, rho}) + g-/2 (2 s- rho s+ - {s+ s-, rho}).
    const Mat sp_rho = left(rho, k, n, true), sm_rho = left(rho, k, n, false);
    const Mat rho_sp = right(rho, k, n, true), rho_sm = right(rho, k, n, false);
    out += gp * right(sp_rho, k, n, false) + gm * right(sm_rho, k, n, true);
    out -= 0.5 * gp * (left(sp_rho, k, n, false) + right(rho_sm, k, n, true));
    out -= 0.5 * gm * (left(sm_rho, k, n, true) + right(rho_sp, k, n, false));
  }
  for (int k = 0; k < n; ++k)
    for (int l = 0; l < n; ++l) {
      if (k == l || w_[k][l] == 0.0) continue;
      // Eq. (45): D_kl = g+/2 (s+^k [rho, s-^l] + [s+^l, rho] s-^k)
      //                + g-/2 (s-^k [rho, s+^l] + [s-^l, rho] s+^k); L gets 2 w D_kl.
      const Mat c1 = right(rho, l, n, false) - left(rho, l, n, false);  // [rho, s-^l]
      const Mat c2 = left(rho, l, n, true) - right(rho, l, n, true);    // [s+^l, rho]
      const Mat c3 = right(rho, l, n, true) - left(rho, l, n, true);    // [rho, s+^l]
      const Mat c4 = left(rho, l, n, false) - right(rho, l, n, false);  // [s-^l, rho]
      const Mat d = 0.5 * gp * (left(c1, k, n, true) + right(c2, k, n, false)) +
                    0.5 * gm * (left(c3, k, n, false) + right(c4, k, n, true));
      out += 2.0 * w_[k][l] * d;
    }
  return out;
}

double MasterEquation::heat_current(const Mat& rho, int k) const {
  return subsystem_energy(rhs(rho), k, n_);  // Tr(H_k drho/dt): E_k is linear in rho
}

std::vector<Mat> MasterEquation::integrate(const Mat& rho0, const std::vector<double>& times,
                                           double tol) const {
  namespace ode = boost::numeric::odeint;
  using State = std::vector<double>;
  const Eigen::Index d = rho0.rows();
  State x(2 * d * d);
  Eigen::Map<Mat>(reinterpret_cast<cplx*>(x.data()), d, d) = rho0;
  auto system = [&](const State& xs, State& dxdt, double /*t*/) {
    const Eigen::Map<const Mat> r(reinterpret_cast<const cplx*>(xs.data()), d, d);
    dxdt.resize(xs.size());
    Eigen::Map<Mat>(reinterpret_cast<cplx*>(dxdt.data()), d, d) = rhs(Mat(r));
  };
  std::vector<Mat> out;
  auto observer = [&](const State& xs, double /*t*/) {
    out.push_back(Eigen::Map<const Mat>(reinterpret_cast<const cplx*>(xs.data()), d, d));
  };
  auto stepper = ode::make_dense_output(tol, tol, ode::runge_kutta_dopri5<State>());
  const double dt0 = times.size() > 1 ? (times[1] - times[0]) * 0.1 : 1e-3;
  ode::integrate_times(stepper, system, x, times.begin(), times.end(), dt0, observer);
  return out;
}

std::vector<ConvergenceRow> convergence_study(const ModelParams& base, int halvings,
                                              const std::function<void(int, int)>& progress) {
  const int n = base.n();
  std::vector<double> times;
  for (int m = 0; m <= base.collisions; ++m) times.push_back(m * base.tau);
  const MasterEquation me(base);
  const auto me_states =
      me.integrate(initial_state(base.temperatures, base.coherences), times, kConvergenceTolerance);
  std::vector<ConvergenceRow> rows;
  for (int j = 0; j <= halvings; ++j) {
    ModelParams p = base;
    const int f = 1 << j;
    p.tau = base.tau / f;
    p.g = base.g * std::sqrt(static_cast<double>(f));  // g^2 tau fixed
    p.collisions = base.collisions * f;
    p.information = false;
    const Trajectory t = run_collision_model(p);
    ConvergenceRow row;
    row.tau = p.tau;
    row.g = p.g;
    row.theta = p.g * p.tau;
    row.collisions = p.collisions;
    const int per = p.interaction == Interaction::kCascade ? n : 1;  // steps per collision
    for (int m = 0; m <= base.collisions; ++m) {
      const StepRecord& s = t.steps[static_cast<size_t>(m) * f * per];
      for (int k = 0; k < n; ++k)
        row.max_energy_error = std::max(
            row.max_energy_error, std::abs(s.energy[k] - subsystem_energy(me_states[m], k, n)));
    }
    row.final_state_error = (t.final_state - me_states.back()).cwiseAbs().maxCoeff();
    if (!rows.empty() && row.max_energy_error > 0)
      row.observed_order = std::log2(rows.back().max_energy_error / row.max_energy_error);
    rows.push_back(row);
    if (progress) progress(j + 1, halvings + 1);
  }
  return rows;
}

}  // namespace nmrc::thermo
