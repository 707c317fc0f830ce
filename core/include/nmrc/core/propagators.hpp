// Propagators: exp(-i H t) for Hermitian H by eigendecomposition, the general matrix
// exponential (scaling and squaring, Pade), and the Frechet derivative of the exponential
// L(A, E) = d/dh exp(A + h E)|_{h=0}, which GRAPE needs for exact gradients.
#pragma once

#include "nmrc/core/types.hpp"

namespace nmrc {

/// exp(A) for a general square complex matrix (Eigen's scaling-and-squaring Pade).
Mat expm(const Mat& a);

/// Frechet derivative L(A, E) by the block formula exp([[A, E], [0, A]]) = [[e^A, L], [0, e^A]]
/// (Higham, Functions of Matrices, Thm 3.6 / Najfeld & Havel 1995). Exact to rounding.
Mat expm_frechet(const Mat& a, const Mat& e);

/// Eigendecomposition H = V diag(w) V^dag of a Hermitian matrix, and what follows from it.
class HermitianExp {
 public:
  explicit HermitianExp(const Mat& h);
  /// exp(-i H t).
  Mat propagator(double t) const;
  /// d/dh exp(-i (H + h E) t)|_{h=0} for Hermitian direction E, by divided differences of
  /// f(x) = exp(-i x t) in the eigenbasis: (V^dag L V)_jk = (V^dag E V)_jk f[w_j, w_k].
  Mat derivative(const Mat& e, double t) const;
  const RVec& eigenvalues() const { return w_; }
  const Mat& eigenvectors() const { return v_; }

 private:
  RVec w_;
  Mat v_;
};

/// exp(-i H t) for Hermitian H.
Mat expm_hermitian(const Mat& h, double t);

}  // namespace nmrc
