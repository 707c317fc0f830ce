#include "nmrc/core/information.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/operators.hpp"

namespace nmrc {

namespace {
constexpr double kZeroEigen = 1e-15;

HermitianEigen hermitian_eig(const Mat& rho) {
  return hermitian_eigen(0.5 * (rho + rho.adjoint()));
}
}  // namespace

double von_neumann_entropy(const Mat& rho) {
  const RVec w = hermitian_eig(rho).values;
  double s = 0.0;
  for (double x : w)
    if (x > kZeroEigen) s -= x * std::log(x);
  return s;
}

double relative_entropy(const Mat& rho, const Mat& sigma) {
  const auto er = hermitian_eig(rho);
  const auto es = hermitian_eig(sigma);
  // Tr rho ln rho
  double a = 0.0;
  for (double x : er.values)
    if (x > kZeroEigen) a += x * std::log(x);
  // Tr rho ln sigma = sum_j <s_j|rho|s_j> ln s_j
  const Mat rs = es.vectors.adjoint() * rho * es.vectors;
  double b = 0.0;
  for (Eigen::Index j = 0; j < rs.rows(); ++j) {
    const double weight = rs(j, j).real();
    const double sj = es.values(j);
    if (sj > kZeroEigen) {
      b += weight * std::log(sj);
    } else if (weight > 1e-12) {
      return std::numeric_limits<double>::infinity();
    }
  }
  return a - b;
}

double mutual_information(const Mat& rho, const std::vector<int>& a, const std::vector<int>& b,
                          int n) {
  std::vector<int> ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  return von_neumann_entropy(partial_trace(rho, a, n)) +
         von_neumann_entropy(partial_trace(rho, b, n)) -
         von_neumann_entropy(partial_trace(rho, ab, n));
}

Mat dephase(const Mat& rho) { return rho.diagonal().asDiagonal(); }

double coherence_relative_entropy(const Mat& rho) {
  return von_neumann_entropy(dephase(rho)) - von_neumann_entropy(rho);
}

double uhlmann_fidelity(const Mat& rho, const Mat& sigma) {
  const auto er = hermitian_eig(rho);
  RVec sq = er.values.cwiseMax(0.0).cwiseSqrt();
  const Mat sr = er.vectors * sq.cast<cplx>().asDiagonal() * er.vectors.adjoint();
  const Mat inner = sr * sigma * sr;
  const RVec w = hermitian_eig(inner).values;
  double t = 0.0;
  for (double x : w) t += std::sqrt(std::max(x, 0.0));
  // F <= Tr(rho) Tr(sigma) = 1 for density matrices. The two eigendecompositions round at
  // ~1e-15 relative per eigenvalue, which can leave F just above 1 for (nearly) equal states
  // (nmrc prepare measured 1.000000000008): a fidelity above 1 is rounding, so report 1.
  return std::min(t * t, 1.0);
}

double l1_coherence(const Mat& rho) {
  double s = 0.0;
  for (Eigen::Index c = 0; c < rho.cols(); ++c)
    for (Eigen::Index r = 0; r < rho.rows(); ++r)
      if (r != c) s += std::abs(rho(r, c));
  return s;
}

double gate_fidelity(const Mat& u, const Mat& v) {
  return std::abs((u.adjoint() * v).trace()) / static_cast<double>(u.rows());
}

Vec diagonal_phase_fit(const Mat& w, const Mat& v) {
  Vec d(w.cols());
  for (Eigen::Index j = 0; j < w.cols(); ++j) {
    const cplx m = w.col(j).dot(v.col(j));  // (W^dag V)_jj (dot conjugates its first argument)
    d(j) = std::abs(m) > 0 ? m / std::abs(m) : cplx(1.0);
  }
  return d;
}

double gate_fidelity_diagonal_phases(const Mat& w, const Mat& v) {
  double s = 0.0;
  for (Eigen::Index j = 0; j < w.cols(); ++j) s += std::abs(w.col(j).dot(v.col(j)));
  return s / static_cast<double>(w.rows());
}

double average_gate_fidelity(const Mat& u, const Mat& v) {
  const double d = static_cast<double>(u.rows());
  const double f = gate_fidelity(u, v);
  return (d * f * f + 1.0) / (d + 1.0);
}

}  // namespace nmrc
