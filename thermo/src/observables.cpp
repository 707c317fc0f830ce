#include "nmrc/thermo/observables.hpp"

#include <bit>
#include <cmath>
#include <tuple>

#include "nmrc/core/operators.hpp"

namespace nmrc::thermo {

std::pair<double, double> subsystem_populations(const Mat& rho, int k, int n) {
  double p1 = 0.0, p0 = 0.0;
  for (Eigen::Index i = 0; i < rho.rows(); ++i)
    (spin_bit(static_cast<int>(i), k, n) ? p1 : p0) += rho(i, i).real();
  return {p0, p1};
}

double subsystem_energy(const Mat& rho, int k, int n) {
  const auto [p0, p1] = subsystem_populations(rho, k, n);
  return 0.5 * (p1 - p0);  // H_k = (delta/2) sigma_z with |0> at -1/2 (docs/conventions.md)
}

double pair_coherence(const Mat& rho, int p, int k, int n) {
  // <s-^p s+^k> = Tr(|0_p 1_k><1_p 0_k| rho) = sum rho(1_p 0_k, 0_p 1_k); plus its conjugate.
  const int bp = 1 << (n - 1 - p), bk = 1 << (n - 1 - k);
  cplx s = 0.0;
  for (Eigen::Index i = 0; i < rho.rows(); ++i) {
    const int ii = static_cast<int>(i);
    if (!(ii & bp) || (ii & bk)) continue;  // i: p = 1, k = 0
    const int j = (ii & ~bp) | bk;          // j: p = 0, k = 1
    s += rho(ii, j);
  }
  return 2.0 * s.real();
}

std::vector<std::vector<double>> coherence_weights(const ModelParams& params) {
  const int n = params.n();
  std::vector<std::vector<double>> w(n, std::vector<double>(n, 0.0));
  if (params.interaction == Interaction::kSimultaneous) {
    for (int k = 0; k < n; ++k)
      for (int p = 0; p < n; ++p)
        if (p != k) w[p][k] = 0.5;
    return w;
  }
  for (size_t a = 0; a < params.order.size(); ++a)
    for (size_t b = a + 1; b < params.order.size(); ++b) w[params.order[a]][params.order[b]] = 1.0;
  return w;
}

namespace {
// Spins of a 2^s x 2^s matrix: n for rho_S, n + 1 for rho_SR (R last, so subsystem indices
// are the same and sums over the extra bit trace R out).
int spins_of(const Mat& rho) { return std::countr_zero(static_cast<unsigned>(rho.rows())); }
}  // namespace

std::vector<double> one_way_coherences(const Mat& rho, const std::vector<std::vector<double>>& w) {
  const int n = static_cast<int>(w.size());
  const int ns = spins_of(rho);
  std::vector<double> c(n, 0.0);
  for (int k = 0; k < n; ++k)
    for (int p = 0; p < n; ++p)
      if (w[p][k] != 0.0) c[k] += w[p][k] * pair_coherence(rho, p, k, ns);
  return c;
}

ApparentTemperature apparent_temperature(double p0, double p1, double c) {
  ApparentTemperature at;
  at.p0_plus_c = p0 + c;
  at.p1_plus_c = p1 + c;
  const double ratio = at.p0_plus_c / at.p1_plus_c;
  if (at.p1_plus_c != 0.0 && ratio > 0.0 && std::isfinite(ratio)) {
    const double beta = std::log(ratio);  // Eq. (49): 1/AT = ln((P0 + C)/(P1 + C))
    if (beta != 0.0) at.value = 1.0 / beta;
  }
  return at;
}

int ApparentTemperature::current_sign(double bath_temperature) const {
  // Eq. (48) times 1/gamma-: e^{-1/T_R} (P0 + C) - (P1 + C), positive = heat into S_k.
  const double q = std::exp(-1.0 / bath_temperature) * p0_plus_c - p1_plus_c;
  return (q > 0.0) - (q < 0.0);
}

ApparentTemperatures apparent_temperatures(const Mat& rho,
                                           const std::vector<std::vector<double>>& w) {
  const int n = static_cast<int>(w.size());
  const int ns = spins_of(rho);
  ApparentTemperatures r;
  r.one_way = one_way_coherences(rho, w);
  double sp0 = 0.0, sp1 = 0.0, sc = 0.0;
  for (int k = 0; k < n; ++k) {
    const auto [p0, p1] = subsystem_populations(rho, k, ns);
    r.subsystem.push_back(apparent_temperature(p0, p1, r.one_way[k]));
    sp0 += p0;
    sp1 += p1;
    sc += r.one_way[k];
  }
  r.system = apparent_temperature(sp0, sp1, sc);  // Eq. (54)
  return r;
}

ApparentTemperatures apparent_temperatures(const std::vector<double>& p0,
                                           const std::vector<double>& p1,
                                           const std::vector<double>& one_way) {
  ApparentTemperatures r;
  r.one_way = one_way;
  double sp0 = 0.0, sp1 = 0.0, sc = 0.0;
  for (size_t k = 0; k < p0.size(); ++k) {
    r.subsystem.push_back(apparent_temperature(p0[k], p1[k], one_way[k]));
    sp0 += p0[k];
    sp1 += p1[k];
    sc += one_way[k];
  }
  r.system = apparent_temperature(sp0, sp1, sc);  // Eq. (54)
  return r;
}

double heat_current(double p0, double p1, double c, double gamma_plus, double gamma_minus) {
  return -gamma_minus * (p1 + c) + gamma_plus * (p0 + c);  // Eq. (46), delta = 1
}

double reversal_threshold(double t_k, double t_r) {
  const double ek = std::exp(1.0 / t_k), er = std::exp(1.0 / t_r);
  return (ek - er) / ((ek + 1.0) * (er - 1.0));  // Eqs. (51)-(52)
}

bool reversal_predicted(double c, double t_k, double t_r) {
  const double th = reversal_threshold(t_k, t_r);
  if (t_k > t_r) return c < th;  // Eq. (51)
  if (t_k < t_r) return c > th;  // Eq. (52)
  return false;
}

double first_collision_heat_s2(double t1, double t2, double t_r, cplx c12, double theta) {
  // Plain variables, not structured bindings: a lambda may capture those only from C++20 on,
  // which clang implements from version 16 (the sanitized build uses Debian's clang 14).
  double p10, p11, p20, p21, pm0, pm1;
  std::tie(p10, p11) = populations(t1);
  std::tie(p20, p21) = populations(t2);
  std::tie(pm0, pm1) = populations(t_r);
  auto p = [&](int s1, int s2, int m) {
    return (s1 ? p11 : p10) * (s2 ? p21 : p20) * (m ? pm1 : pm0);
  };
  const double c = std::cos(theta), s = std::sin(theta);
  // Eq. (71): the effective qubit {|0_2 1_m>, |1_2 0_m>} after the first contact S_1 - R.
  const double a = c * c * p(0, 0, 1) + s * s * p(1, 0, 0) + p(1, 0, 1);
  const double b = p(0, 1, 0) + c * c * p(1, 1, 0) + s * s * p(0, 1, 1);
  const double w = std::sqrt(p10 * p11 * p20 * p21);
  // Off-diagonal -i sin(theta) e^{-i alpha} (lambda_0 - lambda_1), lambda_{0,1} = P_m^{0,1}
  // |c12| w; the second contact rotates the effective qubit, and the population of
  // |0_2 1_m> (bath excited) changes by a' - a = sin^2 (b - a) + 2 sin^2 cos Re(c12) w
  // (P_m^0 - P_m^1): the heat from S_2 to R (Eqs. (72)-(73) before the theta -> 0 limit).
  return s * s * (b - a) + 2.0 * s * s * c * c12.real() * w * (pm0 - pm1);
}

}  // namespace nmrc::thermo
