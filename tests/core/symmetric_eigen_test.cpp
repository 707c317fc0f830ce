#include "nmrc/core/symmetric_eigen.hpp"

#include <algorithm>
#include <random>

#include "nmrc/core/operators.hpp"
#include "support/reference.hpp"

using namespace nmrc;

namespace {

RMat random_symmetric(int n, unsigned seed, double scale = 1.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g;
  RMat a(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) a(i, j) = a(j, i) = scale * g(rng);
  return a;
}

// V orthogonal, V diag(w) V^T = A, and the eigenvalues equal the Jacobi reference.
template <int N>
void check_decomposition(const RMat& a, double tol) {
  using M = typename SymmetricEigen<N>::Matrix;
  const int n = static_cast<int>(a.rows());
  SymmetricEigen<N> es(n);
  es.compute(M(a));
  const RMat v = es.eigenvectors();
  const RVec w = es.eigenvalues();
  const double norm = std::max(1.0, a.cwiseAbs().maxCoeff());
  CHECK((v.transpose() * v - RMat::Identity(n, n)).cwiseAbs().maxCoeff() <= tol);
  CHECK((v * w.asDiagonal() * v.transpose() - a).cwiseAbs().maxCoeff() <= tol * norm);
  RVec sorted = w;
  std::sort(sorted.data(), sorted.data() + n);
  CHECK((sorted - ref::jacobi_eigenvalues(a)).cwiseAbs().maxCoeff() <= tol * norm);
}

}  // namespace

TEST_CASE("symmetric eigendecomposition against the Jacobi reference") {
  for (int n : {1, 2, 3, 5, 8, 16, 33})
    for (unsigned seed : {1u, 2u, 3u})
      check_decomposition<Eigen::Dynamic>(random_symmetric(n, seed), 1e-12);
  for (unsigned seed : {4u, 5u}) check_decomposition<16>(random_symmetric(16, seed), 1e-12);
  check_decomposition<8>(random_symmetric(8, 6), 1e-12);
}

TEST_CASE("symmetric eigendecomposition of structured and degenerate matrices") {
  const int n = 16;
  check_decomposition<16>(RMat::Zero(n, n), 1e-14);
  check_decomposition<16>(RMat::Identity(n, n) * 3.5, 1e-14);
  RMat diag = RMat::Zero(n, n);
  for (int i = 0; i < n; ++i) diag(i, i) = (i % 3) - 1.0;  // threefold-degenerate, diagonal
  check_decomposition<16>(diag, 1e-14);
  // A GRAPE step of four spins: offsets and J couplings on the diagonal (rad/s), RF along x.
  RMat h = RMat::Zero(n, n);
  const double offsets[4] = {9300.0, 2054.0, -1100.0, -7300.0};
  for (int k = 0; k < 4; ++k)
    h += kTwoPi * offsets[k] * spin_op('z', k, 4).real() +
         kTwoPi * 8000.0 * spin_op('x', k, 4).real();
  h += kTwoPi * 72.0 * (spin_op('z', 0, 4) * spin_op('z', 1, 4)).real();
  check_decomposition<16>(h, 1e-12);
  // Exactly degenerate pairs: the all-x drive alone has eigenvalues -2..2 with multiplicities.
  RMat fx = RMat::Zero(n, n);
  for (int k = 0; k < 4; ++k) fx += spin_op('x', k, 4).real();
  check_decomposition<16>(fx, 1e-13);
  // Widely graded scales.
  RMat graded = random_symmetric(n, 9);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) graded(i, j) *= std::pow(10.0, -0.5 * (i + j));
  check_decomposition<16>(graded, 1e-12);
}

TEST_CASE("symmetric eigendecomposition keeps working when reused with other sizes") {
  SymmetricEigen<> es;
  for (int n : {4, 16, 2, 9}) {
    const RMat a = random_symmetric(n, 10 + n, 1e4);
    es.compute(a);
    CHECK((es.eigenvectors() * es.eigenvalues().asDiagonal() * es.eigenvectors().transpose() - a)
              .cwiseAbs()
              .maxCoeff() <= 1e-12 * 1e4 * n);
  }
}

TEST_CASE("interleaved decompositions equal separate ones") {
  using E = SymmetricEigen<16>;
  const E::Matrix a[4] = {random_symmetric(16, 21), random_symmetric(16, 22), RMat::Zero(16, 16),
                          random_symmetric(16, 23, 1e3)};
  E single, x, y;
  for (auto [i, j] : {std::pair{0, 1}, std::pair{2, 3}, std::pair{3, 2}}) {
    compute_pair<16>(x, a[i], y, a[j]);
    single.compute(a[i]);
    CHECK(x.eigenvalues() == single.eigenvalues());
    CHECK(x.eigenvectors() == single.eigenvectors());
    single.compute(a[j]);
    CHECK(y.eigenvalues() == single.eigenvalues());
    CHECK(y.eigenvectors() == single.eigenvectors());
  }
}
