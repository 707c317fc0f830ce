#include "nmrc/core/propagators.hpp"

#include <cmath>
#include <unsupported/Eigen/MatrixFunctions>

#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/isa.hpp"

namespace nmrc {

// The exponential itself is expm_kernel.cpp, one copy per instruction set in a portable build.
NMRC_ISA_DECLARE(Mat expm_kernel(const Mat& a);)

Mat expm(const Mat& a) { return NMRC_ISA_CALL(expm_kernel)(a); }

Mat expm_frechet(const Mat& a, const Mat& e) {
  const Eigen::Index n = a.rows();
  Mat big = Mat::Zero(2 * n, 2 * n);
  big.topLeftCorner(n, n) = a;
  big.topRightCorner(n, n) = e;
  big.bottomRightCorner(n, n) = a;
  const Mat x = big.exp();
  return x.topRightCorner(n, n);
}

HermitianExp::HermitianExp(const Mat& h) {
  HermitianEigen es = hermitian_eigen(0.5 * (h + h.adjoint()));
  w_ = std::move(es.values);
  v_ = std::move(es.vectors);
}

Mat HermitianExp::propagator(double t) const {
  Vec phase(w_.size());
  for (Eigen::Index j = 0; j < w_.size(); ++j) phase(j) = std::polar(1.0, -w_(j) * t);
  return v_ * phase.asDiagonal() * v_.adjoint();
}

Mat HermitianExp::derivative(const Mat& e, double t) const {
  const Eigen::Index n = w_.size();
  Mat ee = v_.adjoint() * e * v_;
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index k = 0; k < n; ++k) {
      const double dw = w_(j) - w_(k);
      cplx dd;
      if (std::abs(dw * t) < 1e-8) {
        // f'(x) = -i t exp(-i x t) at the mean eigenvalue.
        dd = cplx(0.0, -t) * std::polar(1.0, -0.5 * (w_(j) + w_(k)) * t);
      } else {
        dd = (std::polar(1.0, -w_(j) * t) - std::polar(1.0, -w_(k) * t)) / dw;
      }
      ee(j, k) *= dd;
    }
  }
  return v_ * ee * v_.adjoint();
}

Mat expm_hermitian(const Mat& h, double t) { return HermitianExp(h).propagator(t); }

}  // namespace nmrc
