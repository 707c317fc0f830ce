// Density matrices: validity checks that say which condition failed and by how much,
// thermal and product states. |0> is the ground state of every two-level system, energy
// -delta/2; |1> is excited, +delta/2 (docs/conventions.md).
#pragma once

#include <string>
#include <vector>

#include "nmrc/core/types.hpp"

namespace nmrc {

/// Result of checking a density matrix: Hermitian, unit trace, positive semidefinite.
struct StateCheck {
  bool ok = true;
  double hermiticity_error = 0.0;  ///< max |rho - rho^dag|
  double trace_error = 0.0;        ///< |Tr rho - 1|
  double min_eigenvalue = 0.0;     ///< smallest eigenvalue of the Hermitian part
  std::string message;             ///< empty when ok, else which condition failed and by how much
};

/// Checks rho against Hermiticity, unit trace and positivity, each within `tol`.
StateCheck validate_density_matrix(const Mat& rho, double tol = 1e-10);

/// Ground/excited populations (P0, P1) of a two-level system with gap delta at temperature T:
/// P0 = 1 / (1 + exp(-delta/T)). Precondition: T > 0.
std::pair<double, double> thermal_populations(double temperature, double delta = 1.0);
/// Thermal qubit diag(P0, P1): |0> ground (energy -delta/2), |1> excited (+delta/2).
Mat thermal_qubit(double temperature, double delta = 1.0);
/// exp(-H/T) / Tr for a Hermitian H. Precondition: T > 0.
Mat thermal_state(const Mat& hamiltonian, double temperature);
/// Kronecker product of single-spin states, factors[0] is spin 0.
Mat product_state(const std::vector<Mat>& factors);
/// Coherence c_pq between spins p and q (p != q) of a coherent thermal state.
struct PairCoherence {
  int p = 0, q = 1;
  cplx c = 0.0;
};

/// The paper's Eq. (1)/(S4)-(S5): rho = (x)_k rho_k^th + sum (c_pq chi_pq + h.c.) with
/// rho_k^th = diag(P0_k, P1_k) at temperature T_k (delta = k_B = 1, |0> ground) and
/// chi_pq = (x)_{k != p,q} rho_k^th (x) sqrt(P0_p P1_p P0_q P1_q) |0_p 1_q><1_p 0_q|.
/// p > q is allowed and means the same (the row has p = 0, q = 1). No positivity check.
/// Throws InputError naming temperatures[k] (must be finite and > 0) or coherences[i]
/// (p, q distinct and in [0, n), c finite).
Mat coherent_thermal_state(const std::vector<double>& temperatures,
                           const std::vector<PairCoherence>& coherences);

/// Pure state |psi><psi|.
Mat pure_state(const Vec& psi);

}  // namespace nmrc
