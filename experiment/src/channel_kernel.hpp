// The channel application's kernels (channel.cpp's AffineMap::apply, AffineMap::then and
// Stepper::propagate: the complex products and per-step maps a run of the experiment spends its
// time in), compiled once per instruction set in a portable build and chosen at run time by
// channel.cpp (nmrc/core/isa.hpp, cmake/IsaKernels.cmake). Only these calls cross between the
// copies; the Eigen matrices they pass are laid out alike in every copy (EIGEN_MAX_ALIGN_BYTES is
// fixed for the whole build, core/CMakeLists.txt).
#pragma once

#include <vector>

#include "nmrc/core/isa.hpp"
#include "nmrc/core/types.hpp"

namespace nmrc::experiment {

using Mat4 = Eigen::Matrix<cplx, 4, 4>;

NMRC_ISA_DECLARE(
    /// out = unvec(s vec(delta) + drift) (no drift when `drift` is empty); out is d x d.
    void affine_apply(const Mat& s, const Vec& drift, const Mat& delta, Mat& out);
    /// The composition `second` after `first` (AffineMap::then): s = s2 s1, drift = s2 d1 + d2.
    void affine_then(const Mat& s1, const Vec& d1, const Mat& s2, const Vec& d2, Mat& s,
                     Vec& drift);
    /// x through the steps of a Stepper (channel.hpp): per step j, when `e` is not empty,
    /// the per-spin 4 x 4 maps e[j][k] on spins k = 0..n-1 (and drift[j] when `with_drift`),
    /// then x -> u[j] x u[j]^dag.
    void propagate_steps(const std::vector<Mat>& u, const std::vector<std::vector<Mat4>>& e,
                         const std::vector<Mat>& drift, int n, bool with_drift, Mat& x);)

}  // namespace nmrc::experiment
