#include "support/reference.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>

#include "nmrc/core/random_states.hpp"

namespace nmrc::ref {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

Mat kron(const Mat& a, const Mat& b) {
  Mat out(a.rows() * b.rows(), a.cols() * b.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index j = 0; j < a.cols(); ++j)
      for (Eigen::Index k = 0; k < b.rows(); ++k)
        for (Eigen::Index l = 0; l < b.cols(); ++l)
          out(i * b.rows() + k, j * b.cols() + l) = a(i, j) * b(k, l);
  return out;
}

Mat single(const Mat& op2, int k, int n) {
  Mat out = Mat::Identity(1, 1);
  for (int j = 0; j < n; ++j) out = kron(out, j == k ? op2 : Mat(Mat::Identity(2, 2)));
  return out;
}

Mat partial_trace(const Mat& rho, const std::vector<int>& keep, int n) {
  std::vector<int> traced;
  for (int j = 0; j < n; ++j) {
    bool kept = false;
    for (int k : keep) kept = kept || k == j;
    if (!kept) traced.push_back(j);
  }
  const int m = static_cast<int>(keep.size());
  const int t = static_cast<int>(traced.size());
  auto full_index = [&](int local, int env) {
    int idx = 0;
    for (int i = 0; i < m; ++i)
      if ((local >> (m - 1 - i)) & 1) idx |= 1 << (n - 1 - keep[i]);
    for (int i = 0; i < t; ++i)
      if ((env >> (t - 1 - i)) & 1) idx |= 1 << (n - 1 - traced[i]);
    return idx;
  };
  Mat out = Mat::Zero(1 << m, 1 << m);
  for (int r = 0; r < (1 << m); ++r)
    for (int c = 0; c < (1 << m); ++c)
      for (int e = 0; e < (1 << t); ++e) out(r, c) += rho(full_index(r, e), full_index(c, e));
  return out;
}

Mat expm_taylor(const Mat& a) {
  const double norm = a.cwiseAbs().rowwise().sum().maxCoeff();
  int s = 0;
  while (norm / std::pow(2.0, s) > 0.1) ++s;
  const Mat b = a / std::pow(2.0, s);
  Mat term = Mat::Identity(a.rows(), a.cols());
  Mat sum = term;
  for (int k = 1; k < 30; ++k) {
    term = term * b / static_cast<double>(k);
    sum += term;
  }
  for (int i = 0; i < s; ++i) sum = sum * sum;
  return sum;
}

Mat rotation(double theta, double nx, double ny, double nz) {
  Mat sx(2, 2), sy(2, 2), sz(2, 2);
  sx << 0, 1, 1, 0;
  sy << 0, cplx(0, -1), cplx(0, 1), 0;
  sz << 1, 0, 0, -1;
  return std::cos(theta / 2) * Mat(Mat::Identity(2, 2)) -
         cplx(0, 1) * std::sin(theta / 2) * (nx * sx + ny * sy + nz * sz);
}

Mat random_hermitian(int dim, unsigned seed) {
  std::mt19937 gen(seed);
  const Mat a = gaussian_matrix(dim, dim, gen);
  return 0.5 * (a + a.adjoint());
}

Mat random_density(int dim, unsigned seed) {
  std::mt19937 gen(seed);
  return random_density_matrix(dim, dim, gen);
}

Mat random_unitary(int dim, unsigned seed) {
  const Mat h = random_hermitian(dim, seed);
  return expm_taylor(cplx(0, -1) * h);
}

double entropy(const Mat& rho) {
  Eigen::SelfAdjointEigenSolver<Mat> es(rho);
  double s = 0;
  for (double x : es.eigenvalues())
    if (x > 1e-15) s -= x * std::log(x);
  return s;
}

RVec jacobi_eigenvalues(const RMat& a_in) {
  RMat a = a_in;
  const int n = static_cast<int>(a.rows());
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        if (i != j) off += a(i, j) * a(i, j);
    if (off <= 1e-30 * std::max(1.0, a.squaredNorm())) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        if (a(p, q) == 0.0) continue;
        // Rotation angle that zeroes a(p, q): tan(2 phi) = 2 a_pq / (a_qq - a_pp).
        const double phi = 0.5 * std::atan2(2 * a(p, q), a(q, q) - a(p, p));
        const double c = std::cos(phi), s = std::sin(phi);
        for (int k = 0; k < n; ++k) {  // A <- A J
          const double akp = a(k, p), akq = a(k, q);
          a(k, p) = c * akp - s * akq;
          a(k, q) = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // A <- J^T A
          const double apk = a(p, k), aqk = a(q, k);
          a(p, k) = c * apk - s * aqk;
          a(q, k) = s * apk + c * aqk;
        }
      }
  }
  RVec w = a.diagonal();
  std::sort(w.data(), w.data() + n);
  return w;
}

double max_abs_diff(const Mat& a, const Mat& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return 1e300;
  return (a - b).cwiseAbs().maxCoeff();
}

std::string source_path(const std::string& relative) {
  const char* dir = std::getenv("NMRC_SOURCE_DIR");
  return std::string(dir ? dir : NMRC_SOURCE_DIR_FALLBACK) + "/" + relative;
}

}  // namespace nmrc::ref
