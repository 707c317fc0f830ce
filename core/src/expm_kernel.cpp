// The matrix exponential's kernel (Eigen's scaling and squaring with Pade approximants, its
// MatrixFunctions module): the Liouvillian propagators of the spectrometer and the experiment
// spend most of their time here (dense complex products). Compiled once per instruction set in a
// portable build and chosen at run time by expm() in propagators.cpp (nmrc/core/isa.hpp,
// cmake/IsaKernels.cmake).
#include <unsupported/Eigen/MatrixFunctions>

#include "nmrc/core/isa.hpp"
#include "nmrc/core/propagators.hpp"

namespace nmrc::NMRC_ISA_NS {

Mat expm_kernel(const Mat& a) { return a.exp(); }

}  // namespace nmrc::NMRC_ISA_NS
