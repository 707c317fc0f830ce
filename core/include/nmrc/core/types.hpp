// Basic numeric types shared by every nmrc layer: dense complex matrices and vectors (Eigen),
// and the conventions they carry (docs/conventions.md): spin 0 is the leftmost factor of every
// Kronecker product, |0> is the ground state (sigma_z = +1).
#pragma once

#include <Eigen/Dense>
#include <complex>

namespace nmrc {

using cplx = std::complex<double>;
using Mat = Eigen::MatrixXcd;
using Vec = Eigen::VectorXcd;
using RMat = Eigen::MatrixXd;
using RVec = Eigen::VectorXd;

inline constexpr double kPi = 3.14159265358979323846;
inline constexpr double kTwoPi = 2.0 * kPi;

}  // namespace nmrc
