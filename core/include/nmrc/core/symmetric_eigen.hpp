// Real symmetric eigendecomposition A = V diag(w) V^T for the small dense matrices of spin
// dynamics (n up to a few dozen), written for speed at n = 8..32: GRAPE decomposes one 16 x 16
// matrix per time step and ensemble member, and Eigen's general SelfAdjointEigenSolver took
// ~12 us for it (measured), most of that in its tridiagonal QR loop; this one takes ~6 us
// (bench/results/grape.md).
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
#include <tuple>
#include <utility>

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
    if (!ql(chain())) fallback(a);
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

  // Implicit QL on (w, e), e(i) coupling w(i) and w(i+1), rotations accumulated into z. Each
  // "chase" runs i = m-1 .. l; each rotation waits on a square root and a division of the
  // previous one, so compute_pair() runs two independent chases in one loop to fill that latency.
  struct Chain {
    double *w, *e, *z;
    int n;
    int l = 0, m = 0, iterations = 0;
    bool failed = false;
  };
  struct Chase {  // the running chase's scalars, kept in registers by the loops
    int i = -1;
    double s = 1, c = 1, g = 0, shift = 0;
  };

  Chain chain() { return Chain{w_.data(), e_.data(), z_.data(), static_cast<int>(z_.rows())}; }

  // Deflates converged eigenvalues and sets up the next chase; false when all have converged (or
  // after 30 chases without convergence of one eigenvalue: failed).
  static bool next_chase(Chain& q, Chase& r) {
    constexpr double eps = std::numeric_limits<double>::epsilon();
    const double* w = q.w;
    const double* e = q.e;
    while (q.l < q.n) {
      const int l = q.l;
      int m = l;
      for (; m + 1 < q.n; ++m)
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
      const double g = (w[l + 1] - w[l]) / (2.0 * e[l]);
      const double h = std::sqrt(g * g + 1.0);
      r.g = w[m] - w[l] + e[l] / (g + (g >= 0 ? h : -h));
      r.s = r.c = 1;
      r.shift = 0;
      r.i = m - 1;
      q.m = m;
      return true;
    }
    return false;
  }

  // One rotation of the chase at row r.i; false when the chase has ended.
  static inline bool rotate(const Chain& q, Chase& r) {
    double* w = q.w;
    double* e = q.e;
    const int i = r.i, n = q.n;
    const double f = r.s * e[i], b = r.c * e[i];
    double h = std::sqrt(f * f + r.g * r.g);
    e[i + 1] = h;
    if (h == 0.0) {  // the chase deflated early: recover, and the next chase starts afresh
      w[i + 1] -= r.shift;
      e[q.m] = 0;
      r.i = -1;
      return false;
    }
    const double inv = 1.0 / h;
    const double s = f * inv, c = r.g * inv;
    const double g = w[i + 1] - r.shift;
    h = (w[i] - g) * s + 2.0 * c * b;
    r.shift = s * h;
    w[i + 1] = g + r.shift;
    r.g = c * h - b;
    r.s = s;
    r.c = c;
    double* zi = q.z + i * n;
    double* zj = zi + n;
    for (int k = 0; k < n; ++k) {
      const double t = zj[k];
      zj[k] = s * zi[k] + c * t;
      zi[k] = c * zi[k] - s * t;
    }
    if (--r.i >= q.l) return true;
    w[q.l] -= r.shift;
    e[q.l] = r.g;
    e[q.m] = 0;
    return false;
  }

  // QL on one matrix; false on non-convergence.
  static bool ql(Chain q) {
    Chase r;
    while (next_chase(q, r))
      while (rotate(q, r)) {
      }
    return !q.failed;
  }

  // QL on two matrices, their chases interleaved; the flags report convergence.
  static void ql_pair(Chain qa, Chain qb, bool& ok_a, bool& ok_b) {
    Chase ra, rb;
    bool run_a = next_chase(qa, ra), run_b = next_chase(qb, rb);
    while (run_a && run_b) {
      bool in_a = true, in_b = true;
      while (in_a && in_b) {
        in_a = rotate(qa, ra);
        in_b = rotate(qb, rb);
      }
      if (!in_a) run_a = next_chase(qa, ra);
      if (!in_b) run_b = next_chase(qb, rb);
    }
    for (auto [q, r, run] : {std::tuple{&qa, &ra, run_a}, std::tuple{&qb, &rb, run_b}})
      if (run) do {
          while (rotate(*q, *r)) {
          }
        } while (next_chase(*q, *r));
    ok_a = !qa.failed;
    ok_b = !qb.failed;
  }

  template <int M>
  friend void compute_pair(SymmetricEigen<M>&, const typename SymmetricEigen<M>::Matrix&,
                           SymmetricEigen<M>&, const typename SymmetricEigen<M>::Matrix&);

  Matrix t_, z_;
  Vector w_, e_, p_, beta_;
};

/// Decomposes a into x and b into y with their QL iterations interleaved (the second chain fills
/// the first's latency). Results are identical to x.compute(a), y.compute(b).
template <int N>
void compute_pair(SymmetricEigen<N>& x, const typename SymmetricEigen<N>::Matrix& a,
                  SymmetricEigen<N>& y, const typename SymmetricEigen<N>::Matrix& b) {
  for (auto [es, m] : {std::pair{&x, &a}, std::pair{&y, &b}}) {
    const int n = static_cast<int>(m->rows());
    if (n != static_cast<int>(es->z_.rows())) es->resize(n);
    es->t_ = *m;
    es->tridiagonalise(n);
    es->accumulate_q(n);
  }
  bool ok_a = true, ok_b = true;
  SymmetricEigen<N>::ql_pair(x.chain(), y.chain(), ok_a, ok_b);
  if (!ok_a) x.fallback(a);
  if (!ok_b) y.fallback(b);
}

}  // namespace nmrc
