// The exact engine's kernels (propagation.cpp, dynamics.cpp): the Lindblad right-hand side
// -i [H, rho] + D(rho), the Taylor series of exact_step built on it, and the products that
// accumulate exact_deviation_map. The PPS and gates played on the exact engine per B1 member
// spend most of an experiment's time here (small dense complex products). Compiled once per
// instruction set in a portable build and chosen at run time by dynamics.cpp (nmrc/core/isa.hpp,
// cmake/IsaKernels.cmake); only these calls cross between the copies, and the Eigen matrices
// they pass are laid out alike in every copy (EIGEN_MAX_ALIGN_BYTES is fixed for the whole build,
// core/CMakeLists.txt).
#pragma once

#include "nmrc/core/isa.hpp"
#include "nmrc/core/types.hpp"

namespace nmrc::spectrometer {

/// The dissipator as Dynamics holds it (dynamics.hpp): element-wise decay coefficients and the
/// per-spin population transfers w_down (|1> -> |0>) and w_up (|0> -> |1>), 1/s. decay ==
/// nullptr: no relaxation.
struct LindbladParts {
  int n = 0;
  const Mat* decay = nullptr;
  const double* w_down = nullptr;
  const double* w_up = nullptr;
};

NMRC_ISA_DECLARE(
    /// out = -i [h, rho] + D(rho) (Dynamics::lindblad_rhs).
    void lindblad_rhs_kernel(const LindbladParts& p, const Mat& h, const Mat& rho, Mat& out);
    /// exact_step's series: `substeps` steps of length hstep of dx/dt = -i [hs, x] + D(x) +
    /// drift, each the Taylor series of exp(hstep L) to relative 1e-17 (at most 60 terms).
    void taylor_steps_kernel(const LindbladParts& p, const Mat& hs, const Mat& drift, double hstep,
                             int substeps, Mat& x);
    /// One segment of exact_deviation_map: with e = exp(G dt) of the augmented generator
    /// [[L, c], [0, 0]] (d2 + 1 square), s <- e_ss s and drift <- e_ss drift + e_sc.
    void deviation_map_step_kernel(const Mat& e, Mat& s, Vec& drift);)

class Dynamics;

/// The dispatching entry points (dynamics.cpp) of the last two kernels, for propagation.cpp.
void taylor_steps(const Dynamics& d, const Mat& hs, const Mat& drift, double hstep, int substeps,
                  Mat& x);
void deviation_map_step(const Mat& e, Mat& s, Vec& drift);

}  // namespace nmrc::spectrometer
