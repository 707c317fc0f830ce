#include "nmrc/spectrometer/tomography.hpp"

#include <algorithm>
#include <cmath>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/operators.hpp"

namespace nmrc::spectrometer {

Tomographer::Tomographer(std::vector<ReadoutSetting> settings, int n)
    : settings_(std::move(settings)), n_(n) {
  report_ = analyze_completeness(settings_, n_);
  if (!report_.complete)
    throw InputError("readout set cannot reconstruct the state: " + report_.summary());
  a_ = measurement_matrix(settings_, n_) / static_cast<double>(1 << n_);
  pinv_ = a_.completeOrthogonalDecomposition().pseudoInverse();
  for (int p = 1; p < (1 << (2 * n_)); ++p) paulis_.push_back(pauli_string(p, n_));
}

Reconstruction Tomographer::reconstruct(const std::vector<RVec>& values) const {
  NMRC_CHECK(values.size() == settings_.size(), "one value vector per setting");
  const Eigen::Index per = values.empty() ? 0 : values.front().size();
  RVec y(per * values.size());
  for (size_t s = 0; s < values.size(); ++s) {
    NMRC_CHECK(values[s].size() == per, "value vectors of equal length");
    y.segment(s * per, per) = values[s];
  }
  const RVec r = pinv_ * y;
  const int d = 1 << n_;
  Mat rho = Mat::Identity(d, d);
  for (size_t p = 0; p < paulis_.size(); ++p) rho += r(p) * paulis_[p];
  rho /= static_cast<double>(d);
  Reconstruction out;
  out.linear = 0.5 * (rho + rho.adjoint());
  out.residual = std::sqrt((a_ * r - y).squaredNorm() / std::max<Eigen::Index>(1, y.size()));
  out.min_eigenvalue_linear = hermitian_eigenvalues(out.linear).minCoeff();
  out.physical = project_to_density_matrix(out.linear);
  return out;
}

Mat project_to_density_matrix(const Mat& h) {
  const HermitianEigen es = hermitian_eigen(0.5 * (h + h.adjoint()));
  const RVec& mu = es.values;  // ascending
  std::vector<double> sorted(mu.data(), mu.data() + mu.size());
  std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  // Euclidean projection onto the simplex {lambda >= 0, sum = 1}.
  double cumulative = 0.0, theta = 0.0;
  for (size_t j = 0; j < sorted.size(); ++j) {
    cumulative += sorted[j];
    const double t = (cumulative - 1.0) / static_cast<double>(j + 1);
    if (sorted[j] - t > 0.0) theta = t;
  }
  RVec lambda = (mu.array() - theta).cwiseMax(0.0);
  return es.vectors * lambda.cast<cplx>().asDiagonal() * es.vectors.adjoint();
}

std::vector<double> z_expectations_from_y_readout(const RVec& values, int n) {
  const int per_spin = 1 << (n - 1);
  NMRC_CHECK(values.size() == 2 * n * per_spin, "values of one acquisition");
  std::vector<double> z(n, 0.0);
  for (int k = 0; k < n; ++k)
    for (int b = 0; b < per_spin; ++b) z[k] += values(2 * (k * per_spin + b));
  return z;
}

}  // namespace nmrc::spectrometer
