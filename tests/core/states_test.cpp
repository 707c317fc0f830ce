#include "nmrc/core/states.hpp"

#include <cmath>

#include "nmrc/core/operators.hpp"
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
