#include "nmrc/core/information.hpp"

#include <cmath>

#include "nmrc/core/operators.hpp"
#include "nmrc/core/states.hpp"
#include "support/reference.hpp"

using namespace nmrc;

TEST_CASE("entropies and mutual information") {
  SUBCASE("correctness") {
    CHECK(von_neumann_entropy(Mat::Identity(4, 4) / 4.0) == doctest::Approx(std::log(4.0)));
    Vec psi = Vec::Zero(4);
    psi(1) = psi(2) = 1.0 / std::sqrt(2.0);  // Bell state
    const Mat bell = pure_state(psi);
    CHECK(von_neumann_entropy(bell) == doctest::Approx(0.0).epsilon(1e-12));
    CHECK(mutual_information(bell, {0}, {1}, 2) == doctest::Approx(2 * std::log(2.0)));
    const Mat a = ref::random_density(2, 1), b = ref::random_density(2, 2);
    CHECK(mutual_information(kron(a, b), {0}, {1}, 2) == doctest::Approx(0.0).scale(1));
    const Mat r = ref::random_density(8, 5);
    CHECK(von_neumann_entropy(r) == doctest::Approx(ref::entropy(r)));
    // S(rho||sigma) = -S(rho) - Tr rho ln sigma; for diagonal states the classical KL.
    Mat p = Mat::Zero(2, 2), q = Mat::Zero(2, 2);
    p(0, 0) = 0.7;
    p(1, 1) = 0.3;
    q(0, 0) = 0.4;
    q(1, 1) = 0.6;
    CHECK(relative_entropy(p, q) ==
          doctest::Approx(0.7 * std::log(0.7 / 0.4) + 0.3 * std::log(0.3 / 0.6)));
    CHECK(relative_entropy(r, r) == doctest::Approx(0.0).scale(1));
    Mat pure0 = Mat::Zero(2, 2);
    pure0(0, 0) = 1;
    Mat pure1 = Mat::Zero(2, 2);
    pure1(1, 1) = 1;
    CHECK(std::isinf(relative_entropy(pure0, pure1)));
  }
}

TEST_CASE("relative entropy of coherence") {
  // Maximally coherent qubit |+>: C = ln 2. Diagonal states: C = 0.
  Vec plus = Vec::Constant(2, 1.0 / std::sqrt(2.0));
  CHECK(coherence_relative_entropy(pure_state(plus)) == doctest::Approx(std::log(2.0)));
  CHECK(coherence_relative_entropy(thermal_qubit(0.7)) == doctest::Approx(0.0).scale(1));
  const Mat r = ref::random_density(8, 9);
  CHECK(coherence_relative_entropy(r) >= 0.0);
}

TEST_CASE("l1 coherence") {
  // |+><+| has |rho_01| = |rho_10| = 1/2; a diagonal state none; a random state the sum by hand.
  Vec plus = Vec::Constant(2, 1.0 / std::sqrt(2.0));
  CHECK(l1_coherence(pure_state(plus)) == doctest::Approx(1.0));
  CHECK(l1_coherence(thermal_qubit(0.7)) == 0.0);
  const Mat r = ref::random_density(8, 4);
  // All |entries| minus the diagonal ones.
  const double by_hand = r.cwiseAbs().sum() - r.diagonal().cwiseAbs().sum();
  CHECK(l1_coherence(r) == doctest::Approx(by_hand).epsilon(1e-13));
}

TEST_CASE("Uhlmann fidelity of a state with itself is 1, never above") {
  // Rounding in the two eigendecompositions can put (Tr sqrt(...))^2 a few 1e-12 above 1 (nmrc
  // prepare printed 1.000000000008); the fidelity of density matrices is at most 1.
  for (int dim : {2, 4, 8, 16})
    for (unsigned seed = 1; seed <= 40; ++seed) {
      const Mat r = ref::random_density(dim, seed);
      const double f = uhlmann_fidelity(r, r);
      CHECK(f <= 1.0);
      CHECK(f == doctest::Approx(1.0).epsilon(1e-9));
    }
}

TEST_CASE("fidelities") {
  const Mat r = ref::random_density(4, 1), s = ref::random_density(4, 2);
  CHECK(uhlmann_fidelity(r, r) == doctest::Approx(1.0));
  const double f = uhlmann_fidelity(r, s);
  CHECK(f == doctest::Approx(uhlmann_fidelity(s, r)));
  CHECK(f < 1.0);
  // Pure states: |<a|b>|^2.
  Vec a = Vec::Zero(2), b = Vec::Zero(2);
  a(0) = 1;
  b(0) = b(1) = 1.0 / std::sqrt(2.0);
  CHECK(uhlmann_fidelity(pure_state(a), pure_state(b)) == doctest::Approx(0.5));
  const Mat u = ref::random_unitary(4, 3);
  CHECK(gate_fidelity(u, std::polar(1.0, 0.7) * u) == doctest::Approx(1.0));
  CHECK(average_gate_fidelity(u, u) == doctest::Approx(1.0));
  // X vs identity on one qubit: F = 0, average fidelity 1/3.
  CHECK(gate_fidelity(pauli('I'), pauli('X')) == doctest::Approx(0.0));
  CHECK(average_gate_fidelity(pauli('I'), pauli('X')) == doctest::Approx(1.0 / 3.0));
}

// Up to diagonal phases: W D (D diagonal unitary) is the same gate on a diagonal input state,
// so its fidelity is 1; for any V the fitted D is the best of all diagonal phases (checked
// against random ones) and the fidelity is |Tr((W D)^dag V)| / d with that D.
TEST_CASE("gate fidelity up to diagonal phases") {
  const Mat w = ref::random_unitary(8, 5);
  Vec phases(8);
  for (int j = 0; j < 8; ++j) phases(j) = std::polar(1.0, 0.37 * j * j - 1.1);
  const Mat wd = w * phases.asDiagonal();
  CHECK(gate_fidelity(w, wd) < 0.9);
  CHECK(gate_fidelity_diagonal_phases(w, wd) == doctest::Approx(1.0).epsilon(1e-12));
  const Vec fit = diagonal_phase_fit(w, wd);
  CHECK((fit - phases).cwiseAbs().maxCoeff() < 1e-12);
  // A gate that is not W D: F below 1, at least the plain gate fidelity, and no diagonal
  // phase does better than the fitted one.
  const Mat v = ref::random_unitary(8, 6);
  const double f = gate_fidelity_diagonal_phases(w, v);
  CHECK(f < 1.0);
  CHECK(f >= gate_fidelity(w, v));
  const Mat best = w * diagonal_phase_fit(w, v).asDiagonal();
  CHECK(std::abs((best.adjoint() * v).trace()) / 8 == doctest::Approx(f).epsilon(1e-12));
  for (int trial = 0; trial < 50; ++trial) {
    Vec d(8);
    for (int j = 0; j < 8; ++j) d(j) = std::polar(1.0, 0.731 * trial + 2.3 * j + 0.1 * trial * j);
    CHECK(std::abs(((w * d.asDiagonal()).adjoint() * v).trace()) / 8 <= f + 1e-12);
  }
  // A zero diagonal entry of W^dag V has no phase: D_jj = 1 there.
  CHECK(diagonal_phase_fit(pauli('I'), pauli('X')) == Vec::Ones(2));
  CHECK(gate_fidelity_diagonal_phases(pauli('I'), pauli('X')) == 0.0);
}
