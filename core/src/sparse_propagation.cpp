#include "nmrc/core/sparse_propagation.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <string>

#include "nmrc/core/error.hpp"

namespace nmrc {
namespace {

// 2^20 amplitudes (16 MB per vector) is the largest register these functions build for; the
// molecule loader allows 12 spins.
constexpr int kMaxSparseSpins = 20;

int checked_size(const Molecule& m) {
  const int n = m.size();
  if (n < 1 || n > kMaxSparseSpins)
    throw InputError("sparse Hamiltonian: " + std::to_string(n) + " spins: must be 1 to " +
                     std::to_string(kMaxSparseSpins));
  return n;
}

// Bit of spin k in a basis index (spin 0 the most significant bit, as spin_op's Kronecker order).
inline int bit_of(int k, int n) { return 1 << (n - 1 - k); }

}  // namespace

SparseMat sparse_hamiltonian(const Molecule& m, bool strong_coupling,
                             const std::vector<int>& spins) {
  const int n = checked_size(m);
  const long dim = 1L << n;
  std::vector<char> in(n, 0);
  for (int k : spins) {
    NMRC_CHECK(k >= 0 && k < n, "spin index out of range");
    in[k] = 1;
  }
  RVec diag = RVec::Zero(dim);
  std::vector<Eigen::Triplet<cplx>> off;
  for (int k = 0; k < n; ++k) {
    if (!in[k]) continue;
    const double w = kTwoPi * (m.nuclei[k].offset_hz - m.channel_of(k).carrier_hz);
    const int b = bit_of(k, n);
    for (long s = 0; s < dim; ++s) diag[s] += (s & b) ? -0.5 * w : 0.5 * w;
  }
  for (const auto& c : m.couplings) {
    if (!in[c.a] || !in[c.b]) continue;
    const double w = kTwoPi * c.j_hz;
    const int ba = bit_of(c.a, n), bb = bit_of(c.b, n);
    for (long s = 0; s < dim; ++s)
      diag[s] += (((s & ba) != 0) == ((s & bb) != 0)) ? 0.25 * w : -0.25 * w;
    // 2 pi J (IxIx + IyIy) = pi J (I+I- + I-I+): 1/2 between |..0..1..> and |..1..0..>.
    if (strong_coupling && m.nuclei[c.a].isotope == m.nuclei[c.b].isotope)
      for (long s = 0; s < dim; ++s)
        if (((s & ba) != 0) != ((s & bb) != 0)) off.emplace_back(s, s ^ ba ^ bb, 0.5 * w);
  }
  for (long s = 0; s < dim; ++s)
    if (diag[s] != 0.0) off.emplace_back(s, s, diag[s]);
  SparseMat h(dim, dim);
  h.setFromTriplets(off.begin(), off.end());
  return h;
}

SparseMat sparse_hamiltonian(const Molecule& m, bool strong_coupling) {
  std::vector<int> all(checked_size(m));
  for (int k = 0; k < m.size(); ++k) all[k] = k;
  return sparse_hamiltonian(m, strong_coupling, all);
}

SparseMat sparse_control(const Molecule& m, int channel, char axis) {
  const int n = checked_size(m);
  NMRC_CHECK(channel >= 0 && channel < static_cast<int>(m.channels.size()), "no such channel");
  NMRC_CHECK(axis == 'x' || axis == 'y', "control axis must be x or y");
  const long dim = 1L << n;
  std::vector<Eigen::Triplet<cplx>> t;
  for (int k : m.spins_on(channel)) {
    const int b = bit_of(k, n);
    for (long s = 0; s < dim; ++s) {
      // <s|I_x|s^b> = 1/2; <s|I_y|s^b> = -i/2 when spin k is 0 (up) in s, +i/2 when 1.
      const cplx v = axis == 'x' ? cplx(0.5, 0.0) : cplx(0.0, (s & b) ? 0.5 : -0.5);
      t.emplace_back(s, s ^ b, kTwoPi * v);
    }
  }
  SparseMat c(dim, dim);
  c.setFromTriplets(t.begin(), t.end());
  return c;
}

LanczosPropagator::LanczosPropagator(int max_dim, double tolerance)
    : max_dim_(max_dim), tolerance_(tolerance) {
  NMRC_CHECK(max_dim >= 2 && max_dim <= 200, "Lanczos dimension must be 2 to 200");
  NMRC_CHECK(tolerance > 0.0 && tolerance < 1.0, "Lanczos tolerance must be in (0, 1)");
}

int LanczosPropagator::step(const SparseMat& h, double t, Vec& psi) {
  NMRC_CHECK(h.rows() == psi.size() && h.cols() == psi.size(), "dimension mismatch");
  NMRC_CHECK(std::isfinite(t), "time step is not finite");
  const Eigen::Index d = psi.size();
  if (basis_.rows() != d || basis_.cols() != max_dim_ + 1) basis_.resize(d, max_dim_ + 1);
  int products = 0;
  double remaining = t;
  RVec alpha(max_dim_), beta(max_dim_ + 1);
  // y = exp(-i tau T_j) e_1 for the j x j tridiagonal T_j, from its eigendecomposition.
  Eigen::SelfAdjointEigenSolver<RMat> es;
  auto krylov_exp = [&](int j, double tau, Vec& y) {
    es.computeFromTridiagonal(alpha.head(j), beta.segment(1, j - 1), Eigen::ComputeEigenvectors);
    const RMat& q = es.eigenvectors();
    Vec c(j);
    for (int i = 0; i < j; ++i) c[i] = std::exp(cplx(0.0, -tau * es.eigenvalues()[i])) * q(0, i);
    y = q.cast<cplx>() * c;
  };
  while (remaining != 0.0) {
    const double norm = psi.norm();
    if (norm == 0.0) return products;
    basis_.col(0) = psi / norm;
    int j = 0;
    Vec y;
    double tau = remaining;
    bool converged = false;
    while (j < max_dim_) {
      w_.noalias() = h * basis_.col(j);
      ++products;
      alpha[j] = basis_.col(j).dot(w_).real();
      // Full reorthogonalisation (twice is enough: Giraud et al., Numer. Math. 101, 87 (2005)).
      for (int pass = 0; pass < 2; ++pass)
        w_.noalias() -= basis_.leftCols(j + 1) * (basis_.leftCols(j + 1).adjoint() * w_);
      beta[j + 1] = w_.norm();
      ++j;
      // An invariant subspace: the Krylov result is exact.
      if (beta[j] <= 1e-14 * std::max(1.0, std::abs(alpha[j - 1]))) {
        krylov_exp(j, tau, y);
        converged = true;
        break;
      }
      basis_.col(j) = w_ / beta[j];
      if (j >= 2) {
        krylov_exp(j, tau, y);
        if (std::abs(tau) * beta[j] * std::abs(y[j - 1]) <= tolerance_) {
          converged = true;
          break;
        }
      }
    }
    // Not converged within max_dim: a shorter step on the same basis (the estimate shrinks
    // with tau), then the rest from the new vector.
    while (!converged) {
      tau *= 0.5;
      NMRC_CHECK(std::abs(tau) > 1e-300, "Lanczos step does not converge");
      krylov_exp(j, tau, y);
      converged = std::abs(tau) * beta[j] * std::abs(y[j - 1]) <= tolerance_;
    }
    psi.noalias() = norm * (basis_.leftCols(j) * y);
    remaining = (tau == remaining) ? 0.0 : remaining - tau;
  }
  return products;
}

long LanczosPropagator::pulse(const SparseMat& drift, const std::vector<SparseMat>& cx,
                              const std::vector<SparseMat>& cy, const RMat& u_hz, double dt,
                              Vec& psi) {
  NMRC_CHECK(cx.size() == cy.size() && u_hz.rows() == 2 * static_cast<Eigen::Index>(cx.size()),
             "pulse: one (u_x, u_y) row pair per control channel");
  long products = 0;
  SparseMat h;
  for (Eigen::Index k = 0; k < u_hz.cols(); ++k) {
    h = drift;
    for (size_t c = 0; c < cx.size(); ++c) {
      if (u_hz(2 * c, k) != 0.0) h += u_hz(2 * c, k) * cx[c];
      if (u_hz(2 * c + 1, k) != 0.0) h += u_hz(2 * c + 1, k) * cy[c];
    }
    products += step(h, dt, psi);
  }
  return products;
}

}  // namespace nmrc
