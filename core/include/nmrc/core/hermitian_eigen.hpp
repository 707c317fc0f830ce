// Eigen-decomposition of Hermitian matrices: the one place nmrc instantiates Eigen's
// SelfAdjointEigenSolver for dynamic complex matrices.
//
// Why a wrapper: the solver is a large template. Instantiated at -O3 -march=native it adds about
// 17 s of compile time to every translation unit that names it (measured with GCC 12 on a
// one-function file: 7.2 s for a matrix product alone, 24.1 s with the solver), and fifteen
// files named it. Compiled once here, it costs that once (docs/building.md).
// GRAPE's kernel keeps its own workspace solvers (compiler/src/grape_evaluator.cpp), and the
// slow references of tests/support/ call Eigen directly, so that they stay independent of this.
#pragma once

#include "nmrc/core/types.hpp"

namespace nmrc {

/// Eigenvalues in ascending order and the matching orthonormal eigenvectors (columns).
struct HermitianEigen {
  RVec values;
  Mat vectors;
};

/// Eigen-decomposition of the Hermitian matrix `h` (only its lower triangle is read, as
/// Eigen's SelfAdjointEigenSolver does: symmetrise first, 0.5 (h + h^dag), where h may carry
/// rounding errors).
HermitianEigen hermitian_eigen(const Mat& h);

/// The eigenvalues alone, ascending (cheaper: no eigenvectors are accumulated).
RVec hermitian_eigenvalues(const Mat& h);

}  // namespace nmrc
