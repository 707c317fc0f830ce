// The paper's heat-flow model (Huang et al., "Reversing heat flow by coherence"), in
// dimensionless units delta = k_B = 1: n two-level subsystems S_k with H_k = (1/2) sigma_z in
// the paper's convention (|0> ground at -1/2, i.e. -(1/2) Z_k in standard Pauli matrices,
// docs/conventions.md), a fresh thermal bath particle R per collision, the initial states of
// Eq. (1)/(S4)-(S5), and the state-space helpers (excitation-number sectors) the engines use.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/options.hpp"
#include "nmrc/core/states.hpp"
#include "nmrc/core/types.hpp"

namespace nmrc::thermo {

/// Coherence c_pq between subsystems (indices into the subsystem list), Eq. (S4)-(S5): the
/// state gains c_pq chi_pq + h.c., chi_pq on |0_p 1_q><1_p 0_q| (core's PairCoherence).
using Coherence = nmrc::PairCoherence;

enum class Interaction { kCascade, kSimultaneous };

/// How the (n+1)-spin state is stored and the interactions applied:
/// kSectors: only the excitation-number blocks of rho_SR (the only nonzero ones: every U_k and
/// the initial state conserve/respect the excitation number), each U_k a two-spin rotation of
/// row and column pairs inside each block; kLocal: the full 2^(n+1) x 2^(n+1) matrix with
/// core's in-place two-spin apply_local. Same results (tested); kSectors moves ~C(2n+2, n+1) /
/// 4^(n+1) of the memory (17% at n = 10).
enum class Engine { kSectors, kLocal };

/// Parameters of one collision-model run. `order` lists subsystem indices in the order they
/// meet the bath particle (a permutation of 0..n-1; ignored by the simultaneous interaction).
struct ModelParams {
  std::vector<std::string> names;
  std::vector<double> temperatures;  ///< T_k > 0
  double bath_temperature = 0.9;     ///< T_R > 0
  std::vector<Coherence> coherences;
  std::vector<int> order;
  Interaction interaction = Interaction::kCascade;
  double g = 20.0;    ///< coupling strength in H_kR = g (s+^k s-^R + s-^k s+^R), Eq. (38)
  double tau = 0.01;  ///< interaction time of each U_k = exp(-i tau H_kR)
  int collisions = 100;
  bool information = true;  ///< compute entropic observables (C, I, F, resource checks)
  int threads = 0;          ///< threads for the (n+1)-spin updates; 0 = auto
  Engine engine = Engine::kSectors;

  int n() const { return static_cast<int>(temperatures.size()); }
  /// The first rule violated (core's OptionChecks), or nullopt (library-level check; file
  /// input is validated with locations by the program loader).
  std::optional<OptionProblem> check() const;
  /// Throws check()'s problem as std::invalid_argument "model: field = value: rule".
  void validate() const;
};

/// Ground and excited populations of a thermal qubit, P0 = 1 / (1 + exp(-1/T)).
std::pair<double, double> populations(double temperature);

/// Eq. (1)/(S4)-(S5): the paper's initial system state, core's coherent_thermal_state (one
/// implementation for every layer). Spin k of the result is subsystem k.
inline Mat initial_state(const std::vector<double>& temperatures,
                         const std::vector<Coherence>& coh) {
  return coherent_thermal_state(temperatures, coh);
}

/// Basis indices of an n-spin space grouped by excitation number (number of 1 bits).
std::vector<std::vector<int>> excitation_sectors(int n);

/// Smallest eigenvalue of a Hermitian n-spin matrix that is block diagonal in excitation
/// number (every state of this model is: the interactions conserve excitations and chi_pq
/// connects degenerate levels); falls back to the full matrix when it is not.
double min_eigenvalue(const Mat& rho, int n);
/// Von Neumann entropy (nats) of such a state, sector by sector; same fallback.
double entropy(const Mat& rho, int n);

/// Outcome of the positivity check of Eq. (1)'s state.
struct PositivityReport {
  bool ok = true;
  double min_eigenvalue = 0.0;
  /// Largest s in [0, 1] with rho(s c_pq) >= 0 (all c_pq scaled together, phases fixed);
  /// 1 when ok. Found by bisection on the (concave) smallest eigenvalue.
  double max_scale = 1.0;
  /// max_scale * max_pq |c_pq|: the paper's largest physical lambda when all |c_pq| are equal.
  double max_lambda = 0.0;
};
/// Checks that Eq. (1)'s state is a density matrix (min eigenvalue >= -tol).
PositivityReport check_positivity(const std::vector<double>& temperatures,
                                  const std::vector<Coherence>& coh, double tol = 1e-12);

/// The 4x4 interaction unitary U = exp(-i theta (s+ s- + s- s+)) on (subsystem, bath), with
/// theta = g tau: |00>, |11> unchanged; |01>, |10> -> cos(theta), -i sin(theta) mixing.
Mat partial_swap(double theta);

}  // namespace nmrc::thermo
