#include "nmrc/core/operators.hpp"

#include "support/reference.hpp"

using namespace nmrc;

TEST_CASE("pauli algebra and ladder operators") {
  SUBCASE("correctness") {
    const Mat x = pauli('X'), y = pauli('Y'), z = pauli('Z');
    CHECK_MAT_NEAR(x * y, cplx(0, 1) * z, ref::kTol);
    CHECK_MAT_NEAR(sigma_plus() + sigma_minus(), x, ref::kTol);
    // sigma_+ excites |0> (ground) to |1>.
    Vec ground = Vec::Zero(2);
    ground(0) = 1.0;
    CHECK(std::abs((sigma_plus() * ground)(1) - cplx(1.0)) < ref::kTol);
    // P^0 = <sigma_- sigma_+> is the |0><0| projector.
    Mat p0 = Mat::Zero(2, 2);
    p0(0, 0) = 1;
    CHECK_MAT_NEAR(sigma_minus() * sigma_plus(), p0, ref::kTol);
  }
  SUBCASE("validation") { CHECK_THROWS_AS(pauli('Q'), std::invalid_argument); }
}

TEST_CASE("kron and embed against the definition") {
  const Mat a = ref::random_hermitian(2, 1), b = ref::random_hermitian(4, 2);
  CHECK_MAT_NEAR(kron(a, b), ref::kron(a, b), ref::kTol);
  for (int n = 1; n <= 4; ++n)
    for (int k = 0; k < n; ++k)
      for (char ax : {'X', 'Y', 'Z'})
        CHECK_MAT_NEAR(sigma(ax, k, n), ref::single(pauli(ax), k, n), ref::kTol);
  // Two-spin operator on non-adjacent, reversed spins (2, 0) of 3.
  const Mat op = ref::random_hermitian(4, 3);
  const Mat direct = embed(op, {2, 0}, 3);
  // Reference: permute via swap of spins using kron on (spin2, spin1, spin0) order.
  Mat perm = Mat::Zero(8, 8);  // maps |b0 b1 b2> -> |b2 b1 b0>
  for (int i = 0; i < 8; ++i) {
    const int b0 = (i >> 2) & 1, b1 = (i >> 1) & 1, b2 = i & 1;
    perm((b2 << 2) | (b1 << 1) | b0, i) = 1;
  }
  // In order (2,1,0): op on first two? No: op acts on (spin2, spin0) = positions 0 and 2 of the
  // permuted order. Build kron(op on 0,2 of (2,1,0)) from pieces.
  Mat ref_full = Mat::Zero(8, 8);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      for (int m = 0; m < 2; ++m) {
        const int row = ((r >> 1) << 2) | (m << 1) | (r & 1);  // order (2,1,0)
        const int col = ((c >> 1) << 2) | (m << 1) | (c & 1);
        ref_full(row, col) = op(r, c);
      }
  CHECK_MAT_NEAR(direct, perm.transpose() * ref_full * perm, ref::kTol);
}

TEST_CASE("partial trace against the slow reference") {
  const int n = 4;
  const Mat rho = ref::random_density(1 << n, 7);
  for (std::vector<int> keep :
       std::vector<std::vector<int>>{{0}, {3}, {1, 2}, {3, 0}, {0, 1, 3}, {0, 1, 2, 3}})
    CHECK_MAT_NEAR(partial_trace(rho, keep, n), ref::partial_trace(rho, keep, n), ref::kTol);
  // Product states factor.
  const Mat a = ref::random_density(2, 1), b = ref::random_density(4, 2);
  CHECK_MAT_NEAR(partial_trace(kron(a, b), {0}, 3), a, ref::kTol);
  CHECK_MAT_NEAR(partial_trace(kron(a, b), {1, 2}, 3), b, ref::kTol);
}

TEST_CASE("local application equals the full operator") {
  const int n = 5;
  const Mat rho = ref::random_density(1 << n, 11);
  const Vec psi = ref::random_density(1 << n, 12).col(0).normalized();
  for (std::vector<int> spins :
       std::vector<std::vector<int>>{{0}, {4}, {1, 3}, {4, 0}, {2, 1, 4}}) {
    const Mat u = ref::random_unitary(1 << spins.size(), 5 + spins[0]);
    const Mat full = embed(u, spins, n);
    Mat r = rho;
    apply_local(r, u, spins, n);
    CHECK_MAT_NEAR(r, full * rho * full.adjoint(), 1e-12);
    Vec p = psi;
    apply_local(p, u, spins, n);
    CHECK_MAT_NEAR(Mat(p), Mat(full * psi), 1e-12);
  }
}

TEST_CASE("basis indices") {
  CHECK(basis_index({0, 0, 0, 0}) == 0);
  CHECK(basis_index({1, 0, 0, 0}) == 8);
  CHECK(spin_bit(8, 0, 4) == 1);
  CHECK(spin_bit(8, 3, 4) == 0);
}

TEST_CASE("local application in place: sparse gates and threads agree with the full operator") {
  // n = 9 gives a 512 x 512 matrix, where apply_local starts threads by default.
  const int n = 9;
  const Mat rho = ref::random_density(1 << n, 21);
  // A partial SWAP exp(-i theta (s+ s- + s- s+)) has 6 nonzeros of 16: the sparse path.
  Mat pswap = Mat::Zero(4, 4);
  pswap(0, 0) = pswap(3, 3) = 1.0;
  pswap(1, 1) = pswap(2, 2) = std::cos(0.3);
  pswap(1, 2) = pswap(2, 1) = cplx(0.0, -std::sin(0.3));
  const Mat dense = ref::random_unitary(4, 8);
  for (const Mat& u : {pswap, dense})
    for (std::vector<int> spins : std::vector<std::vector<int>>{{2, 8}, {8, 0}}) {
      const Mat full = embed(u, spins, n);
      const Mat expected = full * rho * full.adjoint();
      for (int threads : {1, 2, 3, 0}) {
        Mat r = rho;
        apply_local(r, u, spins, n, threads);
        CHECK_MAT_NEAR(r, expected, 1e-12);
      }
    }
  CHECK(default_thread_count(256) == 1);
  CHECK(default_thread_count(1024) >= 1);
}

TEST_CASE("Pauli strings: the sparse form is the dense Kronecker product, its trace Tr(P op)") {
  const int n = 3, d = 1 << n;
  const Mat op = ref::random_hermitian(d, 4) + cplx(0, 1) * ref::random_hermitian(d, 5);
  for (int p = 0; p < (1 << (2 * n)); ++p) {
    CAPTURE(p);
    const Mat dense = pauli_string(p, n);
    const SparsePauliString s = sparse_pauli_string(p, n);
    Mat rebuilt = Mat::Zero(d, d);
    for (int b = 0; b < d; ++b) rebuilt(b, b ^ s.flip) = s.phase(b);
    CHECK((rebuilt - dense).norm() == 0.0);
    CHECK(std::abs(pauli_trace(s, op) - (dense * op).trace()) < 1e-12);
  }
}
