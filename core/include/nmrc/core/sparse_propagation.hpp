// State-vector propagation on registers too large for dense 2^n x 2^n propagators (10-12
// spins, 1024-4096 dimensions): the rotating-frame Hamiltonian and the RF controls as sparse
// matrices, and exp(-i H t) psi by the Lanczos (Krylov) method with an a-posteriori error
// bound (Saad, SIAM J. Numer. Anal. 29, 209 (1992); Hochbruck & Lubich, SIAM J. Numer. Anal.
// 34, 1911 (1997)). Same conventions as Molecule::hamiltonian and Molecule::control
// (docs/conventions.md): spin 0 is the most significant bit of a basis index.
#pragma once

#include <Eigen/SparseCore>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/types.hpp"

namespace nmrc {

using SparseMat = Eigen::SparseMatrix<cplx, Eigen::RowMajor>;

/// Molecule::hamiltonian(strong_coupling) as a sparse matrix (rad/s): the Zeeman and ZZ terms
/// on the diagonal, and with strong_coupling the flip-flop terms 2 pi J (IxIx + IyIy) of
/// homonuclear pairs. Throws InputError above 20 spins (bounded before allocation).
SparseMat sparse_hamiltonian(const Molecule& m, bool strong_coupling);
/// The part of sparse_hamiltonian acting on a subset of spins only: their Zeeman terms and the
/// couplings among them (e.g. the protons' own Hamiltonian H_H of a heteronuclear register).
SparseMat sparse_hamiltonian(const Molecule& m, bool strong_coupling,
                             const std::vector<int>& spins);
/// Molecule::control(channel, axis) as a sparse matrix: 2 pi sum_{k on channel} I_axis^k.
SparseMat sparse_control(const Molecule& m, int channel, char axis);

/// exp(-i H t) psi by Lanczos with full reorthogonalisation: the Krylov space grows until
/// Saad's error estimate |t| beta_{j+1} |e_j^T exp(-i t T_j) e_1| is below `tolerance` (times
/// |psi|); when max_dim vectors do not reach it, the step is split (t halved until the estimate
/// holds, then the rest from the new vector). Reuses its buffers between calls.
class LanczosPropagator {
 public:
  explicit LanczosPropagator(int max_dim = 40, double tolerance = 1e-12);
  /// psi <- exp(-i h t) psi for Hermitian h. Returns the number of products h * vector.
  int step(const SparseMat& h, double t, Vec& psi);
  /// Piecewise-constant RF: for each column k of u_hz (rows 2c, 2c+1: u_x, u_y of control
  /// channel c, in Hz), psi <- exp(-i dt (drift + sum_c (u_xck cx[c] + u_yck cy[c]))) psi.
  /// Returns the products h * vector over all steps.
  long pulse(const SparseMat& drift, const std::vector<SparseMat>& cx,
             const std::vector<SparseMat>& cy, const RMat& u_hz, double dt, Vec& psi);

 private:
  int max_dim_;
  double tolerance_;
  Mat basis_;  // d x (max_dim + 1)
  Vec w_;
};

}  // namespace nmrc
