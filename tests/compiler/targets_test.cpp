#include "nmrc/compiler/targets.hpp"

#include <cmath>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/information.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/states.hpp"
#include "support/paper_states.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::compiler;

TEST_CASE("gate unitaries against their definitions") {
  SUBCASE("partial swap: exp(-i theta (s+s- + s-s+)) = exp(-i theta/2 (XX + YY))") {
    const double th = 0.2;
    const Mat xx_yy = ref::kron(pauli('X'), pauli('X')) + ref::kron(pauli('Y'), pauli('Y'));
    CHECK_MAT_NEAR(partial_swap_unitary(th), ref::expm_taylor(cplx(0, -th / 2) * xx_yy), 1e-12);
    // Acts as cos(theta) on |01> and -i sin(theta) to |10>, identity on |00>, |11>.
    const Mat u = partial_swap_unitary(th);
    CHECK(std::abs(u(1, 1) - std::cos(th)) < 1e-12);
    CHECK(std::abs(u(2, 1) - cplx(0, -std::sin(th))) < 1e-12);
    CHECK(std::abs(u(0, 0) - 1.0) < 1e-12);
    CHECK(std::abs(u(3, 3) - 1.0) < 1e-12);
    CHECK_MAT_NEAR(partial_swap_unitary(kPi / 2) * partial_swap_unitary(kPi / 2),
                   ref::kron(pauli('Z'), pauli('Z')), 1e-12);
  }
  SUBCASE("rotations, zz, cnot") {
    CHECK_MAT_NEAR(rotation_unitary(kPi / 2, kPi / 2), ref::rotation(kPi / 2, 0, 1, 0), 1e-12);
    CHECK_MAT_NEAR(rotation_unitary(1.0, 0.0, 'x'), ref::rotation(1.0, 1, 0, 0), 1e-12);
    CHECK_MAT_NEAR(rotation_unitary(0.3, 0.0, 'z'), ref::rotation(0.3, 0, 0, 1), 1e-12);
    CHECK_MAT_NEAR(zz_unitary(0.4),
                   ref::expm_taylor(cplx(0, -0.2) * ref::kron(pauli('Z'), pauli('Z'))), 1e-12);
    Vec in = Vec::Zero(4);
    in(2) = 1;  // |10>: control excited
    CHECK(std::abs((cnot_unitary() * in)(3) - 1.0) < 1e-15);
    CHECK(is_unitary(cz_unitary()));
  }
  SUBCASE("identity on the unnamed spins") {
    GateTarget t;
    t.spins = {0, 2};
    t.local = partial_swap_unitary(0.2);
    CHECK_MAT_NEAR(t.full(3), embed(partial_swap_unitary(0.2), {0, 2}, 3), 1e-15);
    CHECK(t.norm(3) == 8.0);
  }
  SUBCASE("state transfer operator") {
    GateTarget t;
    t.state_transfer = true;
    t.spins = {1};
    t.transfers = {{product_state("0"), product_state("1")}};
    const Mat x = embed(pauli('X'), {1}, 2);  // flips spin 1: reaches the target exactly
    CHECK(std::abs((t.full(2).adjoint() * x).trace()) / t.norm(2) == doctest::Approx(1.0));
    CHECK_THROWS_AS(product_state("0a"), InputError);
  }
}

TEST_CASE("the paper's coherent initial state and its diagonalising U_d") {
  const std::vector<double> temps{1.0, 1.0, 1.0};
  const Mat rho = ref::equal_pair_state(temps, cplx(-0.5, 0));
  SUBCASE("Eq. (S4)-(S5): a density matrix with thermal local states and energy") {
    CHECK(std::abs(rho.trace() - 1.0) < 1e-14);
    CHECK_MAT_NEAR(rho, rho.adjoint(), 1e-15);
    // c = -0.5 puts the state on the boundary: the symmetric one-excitation vector has weight 0.
    CHECK(hermitian_eigenvalues(rho).minCoeff() > -1e-15);
    const double p0 = 1.0 / (1.0 + std::exp(-1.0));
    for (int k = 0; k < 3; ++k) {
      const Mat local = partial_trace(rho, {k}, 3);
      CHECK(std::abs(local(0, 0) - p0) < 1e-14);  // ground population, unchanged by chi
      CHECK(std::abs(local(0, 1)) < 1e-15);
    }
    // chi_12 element: <0_1 1_2 0_3| rho |1_1 0_2 0_3> = c P0 sqrt(P0 P1 P0 P1).
    const int i = basis_index({0, 1, 0}), j = basis_index({1, 0, 0});
    CHECK(std::abs(rho(i, j) - cplx(-0.5 * p0 * p0 * (1 - p0), 0)) < 1e-14);
  }
  SUBCASE("U_d: unitary, diagonalises rho, stays within excitation subspaces") {
    const Mat ud = ref::near_identity_ud(rho);
    CHECK(is_unitary(ud, 1e-12));
    const Mat rho_d = ud.adjoint() * rho * ud;
    CHECK_MAT_NEAR(rho_d, Mat(rho_d.diagonal().asDiagonal()), 1e-13);
    CHECK_MAT_NEAR(ud * rho_d * ud.adjoint(), rho, 1e-13);
    for (int a = 0; a < 8; ++a)
      for (int b = 0; b < 8; ++b) {
        const int na = spin_bit(a, 0, 3) + spin_bit(a, 1, 3) + spin_bit(a, 2, 3);
        const int nb = spin_bit(b, 0, 3) + spin_bit(b, 1, 3) + spin_bit(b, 2, 3);
        if (na != nb) CHECK(std::abs(ud(a, b)) < 1e-13);
      }
    // |000> and |111> are eigenstates: untouched.
    CHECK(std::abs(ud(0, 0) - 1.0) < 1e-13);
    CHECK(std::abs(ud(7, 7) - 1.0) < 1e-13);
    // Deterministic and phase-fixed: real positive diagonal.
    for (int a = 0; a < 8; ++a) CHECK(ud(a, a).real() > 0);
    CHECK_MAT_NEAR(ref::near_identity_ud(rho), ud, 0.0);
  }
  SUBCASE("c = 0: the thermal state is already diagonal and U_d = 1") {
    CHECK_MAT_NEAR(ref::near_identity_ud(ref::equal_pair_state(temps, 0.0)), Mat::Identity(8, 8),
                   1e-14);
  }
}
