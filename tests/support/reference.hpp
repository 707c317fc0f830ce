// Slow, obvious reference implementations that the library is tested against, and one
// tolerance helper. Nothing here is clever: loops over basis states and textbook formulas.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "nmrc/core/types.hpp"

namespace nmrc::ref {

/// Kronecker product by its definition (a_ij b_kl at row i*rb+k, column j*cb+l).
Mat kron(const Mat& a, const Mat& b);
/// Embeds a single-spin operator on spin k of n by kron with identities.
Mat single(const Mat& op2, int k, int n);
/// Partial trace by explicit sums of <i_keep, j_traced| rho |i'_keep, j_traced>.
Mat partial_trace(const Mat& rho, const std::vector<int>& keep, int n);
/// exp(A) by a Taylor series with scaling and squaring (slow, accurate for moderate norms).
Mat expm_taylor(const Mat& a);
/// Analytic rotation of one spin-1/2 by angle theta about axis (nx, ny, nz):
/// cos(theta/2) I - i sin(theta/2) (n . sigma).
Mat rotation(double theta, double nx, double ny, double nz);
/// A random Hermitian matrix and a random density matrix (seeded).
Mat random_hermitian(int dim, unsigned seed);
Mat random_density(int dim, unsigned seed);
Mat random_unitary(int dim, unsigned seed);
/// Entropy by the eigenvalues of a Hermitian matrix (slow path is the same formula; kept here
/// so tests of information measures do not call the library).
double entropy(const Mat& rho);
/// Eigenvalues of a real symmetric matrix by the cyclic Jacobi method (rotations until the
/// off-diagonal norm vanishes), sorted ascending. Slow, and independent of Eigen's solvers.
RVec jacobi_eigenvalues(const RMat& a);

/// Largest element-wise difference.
double max_abs_diff(const Mat& a, const Mat& b);

/// The one tolerance used for "equal to rounding" comparisons of O(1) quantities.
inline constexpr double kTol = 1e-10;

/// Absolute path of a file in the source tree (NMRC_SOURCE_DIR, set by CTest).
/// The lines of a text, without their newlines (for byte-level checks of file layouts).
std::vector<std::string> lines_of(const std::string& text);

std::string source_path(const std::string& relative);

}  // namespace nmrc::ref

#define CHECK_MAT_NEAR(a, b, tol) CHECK(::nmrc::ref::max_abs_diff((a), (b)) <= (tol))
