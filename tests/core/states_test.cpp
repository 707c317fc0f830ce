#include "nmrc/core/states.hpp"

#include <cmath>
#include <random>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/random_states.hpp"
#include "support/reference.hpp"

using namespace nmrc;

TEST_CASE("density matrix validation names the failed condition") {
  SUBCASE("correctness") { CHECK(validate_density_matrix(ref::random_density(8, 3)).ok); }
  SUBCASE("validation") {
    Mat r = ref::random_density(4, 1);
    Mat nh = r;
    nh(0, 1) += 0.1;
    auto c = validate_density_matrix(nh);
    CHECK_FALSE(c.ok);
    CHECK(c.message.find("not Hermitian") != std::string::npos);
    CHECK(c.hermiticity_error == doctest::Approx(0.1));
    c = validate_density_matrix(2.0 * r);
    CHECK_FALSE(c.ok);
    CHECK(c.message.find("trace") != std::string::npos);
    Mat neg = Mat::Zero(2, 2);
    neg(0, 0) = 1.2;
    neg(1, 1) = -0.2;
    c = validate_density_matrix(neg);
    CHECK_FALSE(c.ok);
    CHECK(c.message.find("not positive") != std::string::npos);
    CHECK(c.min_eigenvalue == doctest::Approx(-0.2));
  }
}

TEST_CASE("thermal states: ground state more populated, Gibbs form") {
  const Mat q = thermal_qubit(1.0);
  CHECK(q(0, 0).real() > q(1, 1).real());
  CHECK(q(1, 1).real() / q(0, 0).real() == doctest::Approx(std::exp(-1.0)));
  // thermal_state of H = -(delta/2) Z (|0> ground) equals thermal_qubit.
  const Mat h = -0.5 * pauli('Z');
  CHECK_MAT_NEAR(thermal_state(h, 1.0), q, 1e-12);
  CHECK(validate_density_matrix(product_state({q, thermal_qubit(0.5), q})).ok);
}

TEST_CASE("coherent thermal state of Eq. (1)/(S4)-(S5)") {
  SUBCASE("correctness") {
    // Two spins: chi_01 = sqrt(P0 P1 P0 P1) |01><10|, so rho(|01>,|10>) = c P0 P1 at equal T.
    const auto [p0, p1] = thermal_populations(1.0);
    const cplx c(-0.3, 0.2);
    const Mat rho = coherent_thermal_state({1.0, 1.0}, {{0, 1, c}});
    CHECK(std::abs(rho(1, 2) - c * p0 * p1) < 1e-15);
    CHECK(std::abs(rho(2, 1) - std::conj(c) * p0 * p1) < 1e-15);
    CHECK_MAT_NEAR(Mat(rho.diagonal().asDiagonal()),
                   product_state({thermal_qubit(1.0), thermal_qubit(1.0)}), 1e-15);
    // p > q names the same coherence from the other side: c_10 chi_10 = conj-side of c_01.
    CHECK_MAT_NEAR(coherent_thermal_state({1.0, 1.0}, {{1, 0, std::conj(c)}}), rho, 1e-15);
    // Local states are untouched (the paper's construction).
    CHECK_MAT_NEAR(partial_trace(rho, {0}, 2), thermal_qubit(1.0), 1e-15);
  }
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(coherent_thermal_state({1.0, 0.0}, {}),
                         doctest::Contains("temperatures[1] = 0: must be > 0"), InputError);
    CHECK_THROWS_WITH_AS(coherent_thermal_state({1.0, 1.0}, {{0, 2, 0.1}}),
                         doctest::Contains("coherences[0] = [0, 2]"), InputError);
  }
}

TEST_CASE("random density matrices: unit trace, positive, rank at most the Gaussian's columns") {
  std::mt19937_64 gen(7);
  for (int rank : {1, 2, 8}) {
    CAPTURE(rank);
    const Mat rho = random_density_matrix(8, rank, gen);
    CHECK(validate_density_matrix(rho).ok);
    int nonzero = 0;
    for (double x : hermitian_eigenvalues(rho))
      if (x > 1e-12) ++nonzero;
    CHECK(nonzero == rank);
  }
  // The same seed gives the same matrix (tomography programs name their random state by seed).
  std::mt19937_64 a(11), b(11);
  CHECK((gaussian_matrix(3, 2, a) - gaussian_matrix(3, 2, b)).norm() == 0.0);
}
