// Real symmetric eigendecomposition A = V diag(w) V^T for the small dense matrices of spin
// dynamics (n up to a few dozen), written for speed at n = 8..32 where Eigen's general
// SelfAdjointEigenSolver spends most of its time in per-call overhead: GRAPE decomposes one
// 16 x 16 matrix per time step and ensemble member.
//
// Algorithm (textbook, own implementation):
//  1. Householder reduction to tridiagonal form A = Q T Q^T with Q accumulated explicitly
//     (Golub & Van Loan, Matrix Computations, 4th ed., Alg. 8.3.1 and Sec. 5.1.6 backward
//     accumulation).
//  2. Implicit QL iteration with Wilkinson-type shifts on T, rotations accumulated into Q
//     (Bowdler, Martin, Reinsch & Wilkinson, "The QR and QL algorithms for symmetric matrices",
//     Numer. Math. 11, 293 (1968), procedure tql2).
// Eigenvalues are returned in the order the iteration produces them (not sorted): callers that
// need an order sort themselves. If the iteration does not converge within 30 sweeps per
// eigenvalue (not observed), Eigen's solver is used instead, so the result is always a valid
// decomposition.
#pragma once

#include <Eigen/Dense>
#include <cmath>
#include <limits>

namespace nmrc {

template <int N = Eigen::Dynamic>
class SymmetricEigen {
 public:
  using Matrix = Eigen::Matrix<double, N, N>;
  using Vector = Eigen::Matrix<double, N, 1>;

  explicit SymmetricEigen(int n = N > 0 ? N : 0) { resize(n); }

  // Decomposes the symmetric matrix a (both triangles are read; a must be symmetric).
  void compute(const Matrix& a) {
    const int n = static_cast<int>(a.rows());
    if (n != static_cast<int>(z_.rows())) resize(n);
    t_ = a;
    tridiagonalise(n);
    accumulate_q(n);
    Ql q = ql_state();
    while (ql_step(q)) {
    }
    if (q.failed) fallback(a);
  }

  const Vector& eigenvalues() const { return w_; }
  const Matrix& eigenvectors() const { return z_; }

 private:
  void fallback(const Matrix& a) {  // see the header comment
    Eigen::SelfAdjointEigenSolver<Matrix> es(a);
    w_ = es.eigenvalues();
    z_ = es.eigenvectors();
  }

  void resize(int n) {
    t_.resize(n, n);
    z_.resize(n, n);
    w_.resize(n);
    e_.resize(n);
    p_.resize(n);
    beta_.resize(n);
  }

  // Householder step k annihilates t(k+2:, k); its vector v (v_0 = 1) is kept in t(k+1:, k) and
  // the trailing block is updated as A <- H A H = A - v q^T - q v^T with p = beta A v,
  // q = p - (beta/2)(p^T v) v. Both triangles of the trailing block are kept.
  void tridiagonalise(int n) {
    double* a = t_.data();
    double* p = p_.data();
    for (int k = 0; k + 2 < n; ++k) {
      const int m = n - k - 1, o = k + 1;
      double* x = a + o + k * n;
      double sigma = 0;
      for (int i = 1; i < m; ++i) sigma += x[i] * x[i];
      const double x0 = x[0];
      if (sigma == 0.0) {  // already tridiagonal in this column
        beta_(k) = 0;
        e_(k) = x0;
        continue;
      }
      const double mu = std::sqrt(x0 * x0 + sigma);
      const double alpha = x0 <= 0 ? mu : -mu;  // H x = alpha e_1, no cancellation in v0
      const double v0 = x0 - alpha;
      const double inv = 1.0 / v0;
      for (int i = 1; i < m; ++i) x[i] *= inv;
      x[0] = 1.0;
      const double b = -v0 / alpha;  // = 2 / (v^T v)
      beta_(k) = b;
      e_(k) = alpha;
      for (int i = 0; i < m; ++i) p[i] = 0;
      for (int j = 0; j < m; ++j) {
        const double* col = a + o + (o + j) * n;
        const double xj = x[j];
        for (int i = 0; i < m; ++i) p[i] += col[i] * xj;
      }
      double px = 0;
      for (int i = 0; i < m; ++i) {
        p[i] *= b;
        px += p[i] * x[i];
      }
      const double half = 0.5 * b * px;
      for (int i = 0; i < m; ++i) p[i] -= half * x[i];
      for (int j = 0; j < m; ++j) {
        double* col = a + o + (o + j) * n;
        const double xj = x[j], pj = p[j];
        for (int i = 0; i < m; ++i) col[i] -= x[i] * pj + p[i] * xj;
      }
    }
    for (int k = 0; k < n; ++k) w_(k) = t_(k, k);
    if (n >= 2) e_(n - 2) = t_(n - 1, n - 2);
    if (n >= 1) e_(n - 1) = 0;
  }

  // Q = H_0 H_1 ... H_{n-3}, applied right to left onto the identity (each H_k touches only the
  // trailing block of rows and columns k+1..n-1).
  void accumulate_q(int n) {
    z_.setIdentity();
    double* z = z_.data();
    double* p = p_.data();
    const double* a = t_.data();
    for (int k = n - 3; k >= 0; --k) {
      if (beta_(k) == 0) continue;
      const int m = n - k - 1, o = k + 1;
      const double* x = a + o + k * n;
      for (int j = 0; j < m; ++j) {
        const double* col = z + o + (o + j) * n;
        double s = 0;
        for (int i = 0; i < m; ++i) s += x[i] * col[i];
        p[j] = beta_(k) * s;
      }
      for (int j = 0; j < m; ++j) {
        double* col = z + o + (o + j) * n;
        const double pj = p[j];
        for (int i = 0; i < m; ++i) col[i] -= x[i] * pj;
      }
    }
  }

  // Implicit QL on (w, e), e(i) coupling w(i) and w(i+1), written as a state machine that
  // advances by one rotation per call so that two decompositions can be interleaved
  // (compute_two): each rotation waits on a square root and a division of the previous one, and
  // a second independent chain fills that latency.
  struct Ql {
    double *w, *e, *z;
    int n;
    int l = 0, m = 0, i = -1;  // i >= l: inside a chase
    int iterations = 0;
    double s = 1, c = 1, g = 0, shift = 0;
    bool failed = false;
  };

  Ql ql_state() { return Ql{w_.data(), e_.data(), z_.data(), static_cast<int>(z_.rows())}; }

  // One rotation, or the bookkeeping that starts the next chase; false when finished.
  static bool ql_step(Ql& q) {
    constexpr double eps = std::numeric_limits<double>::epsilon();
    double* w = q.w;
    double* e = q.e;
    const int n = q.n;
    if (q.i >= q.l) {
      const int i = q.i, l = q.l, m = q.m;
      const double f = q.s * e[i], b = q.c * e[i];
      double r = std::sqrt(f * f + q.g * q.g);
      e[i + 1] = r;
      if (r == 0.0) {  // the chase deflated early: recover and iterate again
        w[i + 1] -= q.shift;
        e[m] = 0;
        q.i = -1;
        return true;
      }
      const double inv = 1.0 / r;
      const double s = f * inv, c = q.g * inv;
      const double g = w[i + 1] - q.shift;
      r = (w[i] - g) * s + 2.0 * c * b;
      q.shift = s * r;
      w[i + 1] = g + q.shift;
      q.g = c * r - b;
      q.s = s;
      q.c = c;
      double* zi = q.z + i * n;
      double* zj = zi + n;
      for (int k = 0; k < n; ++k) {
        const double t = zj[k];
        zj[k] = s * zi[k] + c * t;
        zi[k] = c * zi[k] - s * t;
      }
      if (--q.i < l) {
        w[l] -= q.shift;
        e[l] = q.g;
        e[m] = 0;
      }
      return true;
    }
    while (q.l < n) {
      const int l = q.l;
      int m = l;
      for (; m + 1 < n; ++m)
        if (std::abs(e[m]) <= eps * (std::abs(w[m]) + std::abs(w[m + 1]))) break;
      if (m == l) {
        ++q.l;
        q.iterations = 0;
        continue;
      }
      if (++q.iterations > 30) {
        q.failed = true;
        return false;
      }
      // Shift: the eigenvalue of the leading 2 x 2 block closer to w(l).
      double g = (w[l + 1] - w[l]) / (2.0 * e[l]);
      const double r = std::sqrt(g * g + 1.0);
      q.g = w[m] - w[l] + e[l] / (g + (g >= 0 ? r : -r));
      q.s = q.c = 1;
      q.shift = 0;
      q.m = m;
      q.i = m - 1;
      return true;
    }
    return false;
  }

  template <int M>
  friend void compute_batch(SymmetricEigen<M>* const*,
                            const typename SymmetricEigen<M>::Matrix* const*, int);

  Matrix t_, z_;
  Vector w_, e_, p_, beta_;
};

/// Decomposes a[j] into es[j] for j < count (count <= 8), interleaving the QL iterations: each
/// rotation waits on a square root and a division of the previous one, and independent chains fill
/// that latency. Results are identical to calling compute() on each.
template <int N>
void compute_batch(SymmetricEigen<N>* const* es, const typename SymmetricEigen<N>::Matrix* const* a,
                   int count) {
  using E = SymmetricEigen<N>;
  typename E::Ql q[8];
  bool running[8];
  for (int j = 0; j < count; ++j) {
    E& x = *es[j];
    const int n = static_cast<int>(a[j]->rows());
    if (n != static_cast<int>(x.z_.rows())) x.resize(n);
    x.t_ = *a[j];
    x.tridiagonalise(n);
    x.accumulate_q(n);
    q[j] = x.ql_state();
    running[j] = true;
  }
  for (int active = count; active > 0;) {
    active = 0;
    for (int j = 0; j < count; ++j)
      if (running[j]) {
        running[j] = E::ql_step(q[j]);
        active += running[j];
      }
  }
  for (int j = 0; j < count; ++j)
    if (q[j].failed) es[j]->fallback(*a[j]);
}

}  // namespace nmrc
