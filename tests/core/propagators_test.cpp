#include "nmrc/core/propagators.hpp"

#include <cmath>

#include "nmrc/core/operators.hpp"
#include "support/reference.hpp"

using namespace nmrc;

TEST_CASE("exponentials against Taylor series and analytic rotations") {
  const Mat h = ref::random_hermitian(8, 4);
  const Mat ref_u = ref::expm_taylor(cplx(0, -0.37) * h);
  CHECK_MAT_NEAR(expm_hermitian(h, 0.37), ref_u, 1e-10);
  CHECK_MAT_NEAR(expm(cplx(0, -0.37) * h), ref_u, 1e-10);
  const Mat a = ref::random_hermitian(4, 5) + cplx(0, 1) * ref::random_hermitian(4, 6);
  CHECK_MAT_NEAR(expm(a), ref::expm_taylor(a), 1e-9);
  // Nutation: exp(-i theta I_x) is the analytic rotation about x.
  for (double theta : {0.3, kPi / 2, kPi}) {
    CHECK_MAT_NEAR(expm_hermitian(0.5 * pauli('X'), theta), ref::rotation(theta, 1, 0, 0), 1e-12);
    CHECK_MAT_NEAR(expm_hermitian(0.5 * pauli('Y'), theta), ref::rotation(theta, 0, 1, 0), 1e-12);
  }
}

TEST_CASE("J evolution of two spins") {
  // H = 2 pi J Iz Iz: after t = 1/(2J), <2 Ix Iz> from Ix (antiphase), analytic cos/sin(pi J t).
  const double j = 7.0;
  const Mat h = kTwoPi * j * spin_op('z', 0, 2) * spin_op('z', 1, 2);
  for (double t : {0.01, 1.0 / (4 * j), 1.0 / (2 * j)}) {
    const Mat u = expm_hermitian(h, t);
    const Mat ix = spin_op('x', 0, 2);
    const Mat rho = u * ix * u.adjoint();
    const double in_phase = (rho * spin_op('x', 0, 2)).trace().real() / 1.0;
    const double anti = (rho * 2.0 * spin_op('y', 0, 2) * spin_op('z', 1, 2)).trace().real();
    CHECK(in_phase == doctest::Approx(std::cos(kPi * j * t)));  // Tr(Ix Ix) = 1 for 2 spins
    CHECK(anti == doctest::Approx(std::sin(kPi * j * t)));
  }
}

TEST_CASE("Frechet derivative of the exponential against finite differences") {
  const Mat h = ref::random_hermitian(8, 1);
  const Mat e = ref::random_hermitian(8, 2);
  const double t = 0.8, eps = 1e-6;
  const HermitianExp he(h);
  const Mat analytic = he.derivative(e, t);
  const Mat fd = (expm_hermitian(h + eps * e, t) - expm_hermitian(h - eps * e, t)) / (2 * eps);
  CHECK_MAT_NEAR(analytic, fd, 1e-8);
  // The block formula agrees: d/dh exp(-i t (H + hE)) = L(-i t H, -i t E).
  CHECK_MAT_NEAR(expm_frechet(cplx(0, -t) * h, cplx(0, -t) * e), analytic, 1e-10);
  // Degenerate eigenvalues take the derivative branch.
  const Mat hd = spin_op('z', 0, 2) + spin_op('z', 1, 2);
  const Mat fd2 = (expm_hermitian(hd + eps * e.topLeftCorner(4, 4), t) -
                   expm_hermitian(hd - eps * e.topLeftCorner(4, 4), t)) /
                  (2 * eps);
  CHECK_MAT_NEAR(HermitianExp(hd).derivative(e.topLeftCorner(4, 4), t), fd2, 1e-8);
}
