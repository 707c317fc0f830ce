// Gate targets: the unitaries (or state transfers) that the compiler turns into shaped pulses.
// Each target names the spins it acts on and is the identity on every other spin, up to a
// global phase. Formulas with their sources are at each function.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nmrc/core/types.hpp"

namespace nmrc::compiler {

/// The paper's partial SWAP U_k = exp(-i theta (sigma_+ sigma_- + sigma_- sigma_+)) on two
/// spins (Huang et al., Eq. (2) with theta = g tau), equal to exp(-i theta/2 (XX + YY)).
Mat partial_swap_unitary(double theta_rad);
/// exp(-i angle/2 (cos(phase) X + sin(phase) Y)) on one spin (axis 'x'/'y' via phase), or
/// exp(-i angle/2 Z) when axis == 'z'.
Mat rotation_unitary(double angle_rad, double phase_rad, char axis = 'p');
/// exp(-i theta/2 Z (x) Z): the evolution under 2 pi J I_z I_z for theta = pi J t.
Mat zz_unitary(double theta_rad);
/// CNOT with spins[0] as control (|1> = excited flips the target) and CZ.
Mat cnot_unitary();
Mat cz_unitary();

/// The paper's initial system state, Eq. (1)/(S4)-(S5): rho = prod_k rho_k^th +
/// sum_{p<q} (c chi_pq + h.c.), chi_pq = (prod_{k != p,q} rho_k^th) sqrt(P_p^0 P_p^1 P_q^0 P_q^1)
/// |0_p 1_q><1_p 0_q|, with rho_k^th = diag(P^0, P^1), P^0 = 1/(1 + exp(-1/T_k)) (delta = k_B = 1,
/// |0> ground at -1/2). `temperatures` gives T_k per spin; c is the same for every pair.
Mat coherent_initial_state(const std::vector<double>& temperatures, cplx c);
/// U_d with rho = U_d rho_d U_d^dag, rho_d diagonal (paper, "Preparation of the initial state"):
/// eigendecomposition of rho; each eigenvector is assigned to the computational basis state it
/// overlaps most (rho commutes with the excitation number, so eigenvectors stay inside its
/// subspaces); degenerate eigenspaces use the closest orthonormal basis to the assigned basis
/// states (Loewdin), and every column is phased so its diagonal entry is real positive. Returns
/// U_d; rho_d = U_d^dag rho U_d is diagonal. Requires a Hermitian rho.
Mat diagonalising_unitary(const Mat& rho);

/// A compiled target: the figure of merit g = Tr(W^dag U) with F = |g| / norm.
struct GateTarget {
  std::string gate;        ///< partial_swap, rotation, zz, cnot, cz, unitary, ud, state_transfer
  std::vector<int> spins;  ///< spins it names (indices into the molecule)
  std::vector<std::string> spin_labels;
  Mat local;  ///< 2^m unitary on `spins` (gates)
  bool state_transfer = false;
  std::vector<std::pair<Vec, Vec>> transfers;  ///< (from, to) local states for state_transfer
  nlohmann::json description;                  ///< the pulse file's "target" entry
  /// W on n spins: local (x) identity on the others (or the transfer operator).
  Mat full(int n) const;
  /// Normalisation: 2^n for gates, (number of transfers) * 2^(n-m) for state transfers.
  double norm(int n) const;
  /// "|Tr(Ut^dag U)|/d" or the state-transfer definition.
  std::string fidelity_definition() const;
};

/// Unitarity check: max |U^dag U - I| <= tol.
bool is_unitary(const Mat& u, double tol = 1e-8);
/// Product state of m spins from a string of 0, 1, +, - (e.g. "0+"), spin 0 leftmost.
Vec product_state(const std::string& spec);

}  // namespace nmrc::compiler
