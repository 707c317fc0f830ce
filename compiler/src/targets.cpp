#include "nmrc/compiler/targets.hpp"

#include <algorithm>
#include <cmath>

#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"

namespace nmrc::compiler {

namespace {
Mat expi_hermitian(const Mat& h, double scale) {
  // exp(-i scale H) for Hermitian H by its eigendecomposition.
  Eigen::SelfAdjointEigenSolver<Mat> es(h);
  Vec ph(h.rows());
  for (int j = 0; j < h.rows(); ++j) ph(j) = std::polar(1.0, -scale * es.eigenvalues()(j));
  return es.eigenvectors() * ph.asDiagonal() * es.eigenvectors().adjoint();
}
}  // namespace

Mat partial_swap_unitary(double theta_rad) {
  // sigma_+ sigma_- + sigma_- sigma_+ on two spins (first factor p, second R) = (XX + YY)/2.
  const Mat sp = sigma_plus(), sm = sigma_minus();
  const Mat h = kron(sp, sm) + kron(sm, sp);
  return expi_hermitian(h, theta_rad);
}

Mat rotation_unitary(double angle_rad, double phase_rad, char axis) {
  Mat gen;
  if (axis == 'z' || axis == 'Z') {
    gen = pauli('Z');
  } else {
    if (axis == 'x' || axis == 'X') phase_rad = 0.0;
    if (axis == 'y' || axis == 'Y') phase_rad = kPi / 2;
    gen = std::cos(phase_rad) * pauli('X') + std::sin(phase_rad) * pauli('Y');
  }
  return expi_hermitian(gen, angle_rad / 2);
}

Mat zz_unitary(double theta_rad) {
  return expi_hermitian(kron(pauli('Z'), pauli('Z')), theta_rad / 2);
}

Mat cnot_unitary() {
  Mat u = Mat::Zero(4, 4);
  u(0, 0) = u(1, 1) = 1;
  u(2, 3) = u(3, 2) = 1;
  return u;
}

Mat cz_unitary() {
  Mat u = Mat::Identity(4, 4);
  u(3, 3) = -1;
  return u;
}

Mat coherent_initial_state(const std::vector<double>& temperatures, cplx c) {
  const int n = static_cast<int>(temperatures.size());
  std::vector<double> p0(n), p1(n);
  for (int k = 0; k < n; ++k) {
    // Ground |0> at energy -1/2, excited |1> at +1/2 (delta = k_B = 1): Gibbs populations.
    p0[k] = 1.0 / (1.0 + std::exp(-1.0 / temperatures[k]));
    p1[k] = 1.0 - p0[k];
  }
  const int d = 1 << n;
  Mat rho = Mat::Zero(d, d);
  for (int i = 0; i < d; ++i) {
    double p = 1;
    for (int k = 0; k < n; ++k) p *= spin_bit(i, k, n) ? p1[k] : p0[k];
    rho(i, i) = p;
  }
  // Eq. (S5): chi_pq couples |0_p 1_q, rest> with |1_p 0_q, rest>, weighted by the thermal
  // populations of the rest and sqrt(P_p^0 P_p^1 P_q^0 P_q^1).
  for (int p = 0; p < n; ++p)
    for (int q = p + 1; q < n; ++q)
      for (int i = 0; i < d; ++i) {
        if (spin_bit(i, p, n) != 0 || spin_bit(i, q, n) != 1) continue;
        const int j = i ^ (1 << (n - 1 - p)) ^ (1 << (n - 1 - q));  // |1_p 0_q, rest>
        double rest = 1;
        for (int k = 0; k < n; ++k)
          if (k != p && k != q) rest *= spin_bit(i, k, n) ? p1[k] : p0[k];
        const double amp = rest * std::sqrt(p0[p] * p1[p] * p0[q] * p1[q]);
        rho(i, j) += c * amp;
        rho(j, i) += std::conj(c) * amp;
      }
  return rho;
}

Mat diagonalising_unitary(const Mat& rho) {
  const int d = static_cast<int>(rho.rows());
  // Blocks of a conserved excitation number (popcount of the basis index) when rho commutes with
  // it, as the paper's states do (chi_pq couples |0_p 1_q> with |1_p 0_q>); else one block.
  bool conserves = true;
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j)
      if (__builtin_popcount(i) != __builtin_popcount(j) && std::abs(rho(i, j)) > 1e-15)
        conserves = false;
  std::vector<std::vector<int>> blocks;
  if (conserves) {
    for (int nexc = 0; (1 << nexc) <= d; ++nexc) {
      std::vector<int> idx;
      for (int i = 0; i < d; ++i)
        if (__builtin_popcount(i) == nexc) idx.push_back(i);
      if (!idx.empty()) blocks.push_back(idx);
    }
  } else {
    blocks.emplace_back();
    for (int i = 0; i < d; ++i) blocks.back().push_back(i);
  }
  Mat ud = Mat::Zero(d, d);
  for (const auto& idx : blocks) {
    const int m = static_cast<int>(idx.size());
    Mat sub(m, m);
    for (int a = 0; a < m; ++a)
      for (int b = 0; b < m; ++b)
        sub(a, b) = 0.5 * (rho(idx[a], idx[b]) + std::conj(rho(idx[b], idx[a])));
    Eigen::SelfAdjointEigenSolver<Mat> es(sub);
    const RVec& w = es.eigenvalues();
    const Mat& v = es.eigenvectors();
    const double scale = std::max(1.0, w.cwiseAbs().maxCoeff());
    std::vector<bool> used(m, false);
    int a = 0;
    while (a < m) {  // clusters of (numerically) degenerate eigenvalues
      int b = a + 1;
      while (b < m && std::abs(w(b) - w(a)) < 1e-10 * scale) ++b;
      const Mat e = v.middleCols(a, b - a);
      const Mat proj = e * e.adjoint();
      // The (b - a) unused basis states with the largest weight in this eigenspace (ties: lowest
      // index), then Loewdin: the orthonormal eigenspace basis closest to them,
      // E U V^dag from the SVD E^dag S = U Sigma V^dag.
      std::vector<int> chosen;
      for (int t = 0; t < b - a; ++t) {
        int best = -1;
        for (int i = 0; i < m; ++i)
          if (!used[i] && std::find(chosen.begin(), chosen.end(), i) == chosen.end() &&
              (best < 0 || proj(i, i).real() > proj(best, best).real() + 1e-12))
            best = i;
        chosen.push_back(best);
      }
      std::sort(chosen.begin(), chosen.end());
      Mat s = Mat::Zero(m, b - a);
      for (int t = 0; t < b - a; ++t) s(chosen[t], t) = 1.0;
      Eigen::JacobiSVD<Mat> svd(e.adjoint() * s, Eigen::ComputeFullU | Eigen::ComputeFullV);
      const Mat cols = e * (svd.matrixU() * svd.matrixV().adjoint());
      for (int t = 0; t < b - a; ++t) {
        Vec col = cols.col(t);
        const cplx diag = col(chosen[t]);
        if (std::abs(diag) > 1e-14) col *= std::conj(diag) / std::abs(diag);
        for (int r = 0; r < m; ++r) ud(idx[r], idx[chosen[t]]) = col(r);
        used[chosen[t]] = true;
      }
      a = b;
    }
  }
  return ud;
}

bool is_unitary(const Mat& u, double tol) {
  if (u.rows() != u.cols() || u.rows() == 0) return false;
  return (u.adjoint() * u - Mat::Identity(u.rows(), u.cols())).cwiseAbs().maxCoeff() <= tol;
}

Vec product_state(const std::string& spec) {
  Vec psi = Vec::Ones(1);
  for (char ch : spec) {
    Vec s(2);
    const double r = 1.0 / std::sqrt(2.0);
    switch (ch) {
      case '0':
        s << 1, 0;
        break;
      case '1':
        s << 0, 1;
        break;
      case '+':
        s << r, r;
        break;
      case '-':
        s << r, -r;
        break;
      default:
        throw InputError("product_state: '" + spec + "': use the characters 0, 1, +, -");
    }
    Vec next(psi.size() * 2);
    for (int i = 0; i < psi.size(); ++i) next.segment(2 * i, 2) = psi(i) * s;
    psi = next;
  }
  return psi;
}

Mat GateTarget::full(int n) const {
  const int m = static_cast<int>(spins.size());
  if (!state_transfer) return embed(local, spins, n);
  Mat w = Mat::Zero(1 << m, 1 << m);
  for (const auto& [from, to] : transfers) w += to * from.adjoint();
  return embed(w, spins, n);
}

double GateTarget::norm(int n) const {
  if (!state_transfer) return static_cast<double>(1 << n);
  return static_cast<double>(transfers.size()) *
         static_cast<double>(1 << (n - static_cast<int>(spins.size())));
}

std::string GateTarget::fidelity_definition() const {
  if (!state_transfer) return "|Tr(Ut^dag U)|/d";
  return "|Tr(W^dag U)|/norm, W = sum_i |to_i><from_i| (x) 1, norm = pairs * 2^(n-m)";
}

}  // namespace nmrc::compiler
