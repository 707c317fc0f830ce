// n-spin operators as dense matrices, Kronecker products, partial traces, and the local
// application of a few-spin operator to a state vector or density matrix without forming the
// 2^n x 2^n operator. Spin 0 is the leftmost (most significant) factor: basis index bit
// (n-1-k) is spin k, and |0> is the ground state (sigma_z|0> = +|0>).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "nmrc/core/types.hpp"

namespace nmrc {

/// Single-spin Pauli matrix for axis 'I', 'X', 'Y' or 'Z' (case-insensitive).
/// Throws std::invalid_argument for any other character.
Mat pauli(char axis);
/// The paper's ladder operators: sigma_+ = |1><0| excites the ground state |0> to |1>, and
/// sigma_- = |0><1| (so P^0 = <sigma_- sigma_+>, P^1 = <sigma_+ sigma_->, as in Eq. (46)).
Mat sigma_plus();
Mat sigma_minus();

/// Kronecker product a (x) b.
Mat kron(const Mat& a, const Mat& b);
/// Kronecker product of a list, factors[0] leftmost.
Mat kron_all(const std::vector<Mat>& factors);

/// The operator `op` (dimension 2^m) acting on spins `spins` (m distinct indices in [0,n)),
/// embedded in an n-spin space: identity on the others. spins[0] is op's leftmost factor.
Mat embed(const Mat& op, const std::vector<int>& spins, int n);
/// Pauli sigma_axis on spin k of n.
Mat sigma(char axis, int k, int n);
/// Spin-1/2 operator I_axis = sigma_axis / 2 on spin k of n.
Mat spin_op(char axis, int k, int n);

/// Partial trace of an n-spin operator keeping `keep` (sorted order kept as given).
Mat partial_trace(const Mat& rho, const std::vector<int>& keep, int n);

/// rho <- U rho U^dagger for a 2^m x 2^m operator U on spins `spins`, in place, in
/// O(nnz(U) * 2 * 4^(n-m) * 2^m) work (zero entries of U cost nothing). `threads` = 0 picks
/// default_thread_count(2^n); the column blocks are split across that many std::threads.
void apply_local(Mat& rho, const Mat& u, const std::vector<int>& spins, int n, int threads = 0);
/// Threads apply_local uses for a dim x dim matrix when not told: 1 below dim 512, else the
/// hardware concurrency (at most 8).
int default_thread_count(Eigen::Index dim);
/// psi <- U psi for a 2^m x 2^m operator U on spins `spins`.
void apply_local(Vec& psi, const Mat& u, const std::vector<int>& spins, int n);
/// M <- U M (left multiplication only), the building block of apply_local.
void apply_local_left(Mat& m, const Mat& u, const std::vector<int>& spins, int n);

/// Basis index of the n-spin product state with bits[k] in {0,1} for spin k.
int basis_index(const std::vector<int>& bits);
/// Bit of spin k (0 or 1) in basis index `index` of an n-spin space.
inline int spin_bit(int index, int k, int n) { return (index >> (n - 1 - k)) & 1; }

/// The Pauli-string basis of n-spin operators, the one numbering in the tree: index p in
/// [0, 4^n), one base-4 digit per spin (0 = I, 1 = X, 2 = Y, 3 = Z), spin 0 most significant,
/// so p = 0 is the identity and p in [1, 4^n) the traceless strings. pauli_string(p, n) is the
/// Kronecker product of the digits' Pauli matrices; pauli_name(p, n) names it like "XIZY".
Mat pauli_string(int p, int n);
std::string pauli_name(int p, int n);
/// Pauli string p as a signed permutation: row b of pauli_string(p, n) has its one non-zero
/// entry at column b ^ flip, equal to phase(b) (1, -1, i or -i).
struct SparsePauliString {
  int flip = 0;  ///< basis-index mask of the spins the string flips (its X and Y digits)
  Vec phase;
};
SparsePauliString sparse_pauli_string(int p, int n);
/// Tr(P op) = sum_b P(b, b ^ flip) op(b ^ flip, b): 2^n terms instead of 4^n.
cplx pauli_trace(const SparsePauliString& pauli, const Mat& op);
/// Coefficients a_P of op = sum_P a_P P over the n-spin Pauli strings P (keyed by pauli_name,
/// e.g. "ZZIZ", spin 0 leftmost), a_P = Tr(P op) / 2^n; only |a_P| > tol are returned.
/// NMRC_CHECK: op is 2^n x 2^n.
std::map<std::string, cplx> pauli_coefficients(const Mat& op, double tol = 1e-14);

}  // namespace nmrc
