#include "nmrc/core/states.hpp"

#include <cmath>
#include <sstream>

#include "nmrc/core/operators.hpp"

namespace nmrc {

StateCheck validate_density_matrix(const Mat& rho, double tol) {
  StateCheck r;
  if (rho.rows() != rho.cols() || rho.rows() == 0) {
    r.ok = false;
    r.message = "not a square matrix";
    return r;
  }
  r.hermiticity_error = (rho - rho.adjoint()).cwiseAbs().maxCoeff();
  r.trace_error = std::abs(rho.trace() - cplx(1.0, 0.0));
  const Mat h = 0.5 * (rho + rho.adjoint());
  Eigen::SelfAdjointEigenSolver<Mat> es(h, Eigen::EigenvaluesOnly);
  r.min_eigenvalue = es.eigenvalues().minCoeff();
  std::ostringstream msg;
  msg.precision(3);
  if (r.hermiticity_error > tol) {
    r.ok = false;
    msg << "not Hermitian (max |rho - rho^dag| = " << r.hermiticity_error << ")";
  } else if (r.trace_error > tol) {
    r.ok = false;
    msg << "trace is not 1 (|Tr rho - 1| = " << r.trace_error << ")";
  } else if (r.min_eigenvalue < -tol) {
    r.ok = false;
    msg << "not positive (smallest eigenvalue " << r.min_eigenvalue << ")";
  }
  r.message = msg.str();
  return r;
}

std::pair<double, double> thermal_populations(double temperature, double delta) {
  const double p0 = 1.0 / (1.0 + std::exp(-delta / temperature));
  return {p0, 1.0 - p0};
}

Mat thermal_qubit(double temperature, double delta) {
  const auto [p0, p1] = thermal_populations(temperature, delta);
  Mat m = Mat::Zero(2, 2);
  m(0, 0) = p0;
  m(1, 1) = p1;
  return m;
}

Mat thermal_state(const Mat& hamiltonian, double temperature) {
  Eigen::SelfAdjointEigenSolver<Mat> es(hamiltonian);
  const RVec& w = es.eigenvalues();
  const double wmin = w.minCoeff();
  RVec p = (-(w.array() - wmin) / temperature).exp();
  p /= p.sum();
  return es.eigenvectors() * p.cast<cplx>().asDiagonal() * es.eigenvectors().adjoint();
}

Mat product_state(const std::vector<Mat>& factors) { return kron_all(factors); }

Mat pure_state(const Vec& psi) { return psi * psi.adjoint(); }

}  // namespace nmrc
