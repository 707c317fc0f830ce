// Thermodynamic observables of the heat-flow model on a system state rho_S (n subsystems,
// delta = k_B = 1): energies, populations, the one-way coherence C_k of Eq. (47), the apparent
// temperatures of Eqs. (49) and (54), the heat current of Eqs. (46)/(48), and the reversal
// predictors of Eqs. (51)-(52) and (74)-(75).
#pragma once

#include <optional>
#include <vector>

#include "nmrc/core/types.hpp"
#include "nmrc/thermo/model.hpp"

namespace nmrc::thermo {

/// E_k = Tr(rho H_k) = (P_k^1 - P_k^0)/2 for subsystem k (spin k of n).
double subsystem_energy(const Mat& rho, int k, int n);
/// (P_k^0, P_k^1) = (<s- s+>, <s+ s->), Eq. (46).
std::pair<double, double> subsystem_populations(const Mat& rho, int k, int n);
/// <s-^p s+^k> + <s+^p s-^k> = 2 Re <s-^p s+^k> = 2 Re rho(1_p 0_k, 0_p 1_k).
double pair_coherence(const Mat& rho, int p, int k, int n);

/// Weights w(p -> k) with which subsystem p's coherence enters subsystem k's current:
/// cascade: 1 when p meets the bath before k (Eq. (47), "one-way"), else 0; simultaneous:
/// 1/2 for every p != k (the symmetric second-order expansion of exp(-i tau sum_k H_kR)).
std::vector<std::vector<double>> coherence_weights(const ModelParams& params);

/// C_k = sum_p w(p -> k) (<s-^p s+^k> + <s+^p s-^k>): Eq. (47) for the cascade. `rho` may be
/// rho_S (n spins) or rho_SR (n + 1 spins, R last): expectations of S operators are the same.
std::vector<double> one_way_coherences(const Mat& rho, const std::vector<std::vector<double>>& w);

/// An apparent temperature AT = 1 / ln((P0 + C)/(P1 + C)) (Eqs. (49), (54)). Undefined (empty)
/// when (P0 + C)/(P1 + C) is not positive or equals 1 (AT infinite); may be negative.
struct ApparentTemperature {
  std::optional<double> value;
  double p0_plus_c = 0.0, p1_plus_c = 0.0;
  /// Direction of the heat current of Eq. (48): +1 heat flows into the subsystem, -1 out of it,
  /// 0 none; defined even where AT is not, from gamma+ (P0 + C) - gamma- (P1 + C).
  int current_sign(double bath_temperature) const;
};
ApparentTemperature apparent_temperature(double p0, double p1, double c);

/// Per-subsystem AT_k (Eq. 49) with C_k from `w`, and the system AT (Eq. 54) with
/// C = sum_k C_k (the value for which Eq. (53)'s current equals sum_k Eq. (46)).
struct ApparentTemperatures {
  std::vector<ApparentTemperature> subsystem;
  ApparentTemperature system;
  std::vector<double> one_way;  ///< C_k
};
ApparentTemperatures apparent_temperatures(const Mat& rho,
                                           const std::vector<std::vector<double>>& w);
/// The same from populations P_k^0, P_k^1 and one-way coherences C_k.
ApparentTemperatures apparent_temperatures(const std::vector<double>& p0,
                                           const std::vector<double>& p1,
                                           const std::vector<double>& one_way);

/// Eq. (46): Qdot_k = -gamma- (P1 + C_k) + gamma+ (P0 + C_k), heat into S_k per unit time.
double heat_current(double p0, double p1, double c, double gamma_plus, double gamma_minus);

/// Threshold (e^{beta_k} - e^{beta_R}) / ((e^{beta_k} + 1)(e^{beta_R} - 1)) of Eqs. (51)-(52)
/// and (74)-(75) (delta = 1).
double reversal_threshold(double t_k, double t_r);
/// Eqs. (51)-(52): does one-way coherence c reverse S_k's natural heat flow? For T_k > T_R
/// (natural: release) reversal iff c < threshold; for T_k < T_R iff c > threshold; for
/// T_k == T_R there is no natural direction and this returns false.
bool reversal_predicted(double c, double t_k, double t_r);

/// Eqs. (72)-(73), exact at finite theta = g tau: the heat S_2 gives to the bath particle in
/// the first cascade collision S_1 -> S_2 of a two-subsystem system with coherence c_12.
/// Reduces to Eq. (67), lambda cos(alpha) sin(theta) sin(2 theta) with lambda the element
/// |c_12| sqrt(P_1^0 P_1^1 P_2^0 P_2^1) (P_R^0 - P_R^1), when T_1 = T_2 = T_R.
double first_collision_heat_s2(double t1, double t2, double t_r, cplx c12, double theta);

}  // namespace nmrc::thermo
