#include "nmrc/core/sparse_propagation.hpp"

#include <cmath>
#include <random>

#include "nmrc/core/operators.hpp"
#include "nmrc/core/propagators.hpp"
#include "support/reference.hpp"
#include "support/test_molecules.hpp"

using namespace nmrc;

namespace {

// The molecule restricted to `spins` (in that order), with the couplings among them.
Molecule sparse_test_subset(const Molecule& m, const std::vector<int>& spins) {
  Molecule s = m;
  s.nuclei.clear();
  s.couplings.clear();
  for (int k : spins) s.nuclei.push_back(m.nuclei[k]);
  for (size_t a = 0; a < spins.size(); ++a)
    for (size_t b = a + 1; b < spins.size(); ++b)
      if (const double j = m.j_hz(spins[a], spins[b]); j != 0.0)
        s.couplings.push_back({static_cast<int>(a), static_cast<int>(b), j});
  return s;
}

Vec sparse_test_random_state(int dim, unsigned seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> n;
  Vec v(dim);
  for (int i = 0; i < dim; ++i) v[i] = cplx(n(g), n(g));
  return v.normalized();
}

}  // namespace

TEST_CASE("the 12-spin IQC register file holds the data file's numbers") {
  const Molecule m = testing::iqc_register();
  REQUIRE(m.size() == 12);
  CHECK(m.couplings.size() == 53);
  CHECK(m.nuclei[0].offset_hz == 30020.0);
  CHECK(m.nuclei[11].offset_hz == 3649.0);
  CHECK(m.channels[m.channel_index("13C")].carrier_hz == 20696.0);
  CHECK(m.channels[m.channel_index("1H")].carrier_hz == 3000.0);
  CHECK(m.j_hz(m.index_of("C2"), m.index_of("H11")) == 133.6);
  CHECK(m.j_hz(m.index_of("H9"), m.index_of("H10")) == -12.41);
  CHECK(m.spins_on(m.channel_index("13C")).size() == 7);
}

TEST_CASE("sparse Hamiltonian and controls equal the dense ones") {
  const Molecule reg = testing::iqc_register();
  // C1, C2, C3 (homonuclear, strongly coupled option), H9, H10 (a CH2 pair), H11.
  const Molecule m = sparse_test_subset(reg, {0, 1, 2, 8, 9, 10});
  for (bool strong : {false, true})
    CHECK_MAT_NEAR(Mat(sparse_hamiltonian(m, strong)), m.hamiltonian(strong), 1e-9);
  for (int c = 0; c < 2; ++c)
    for (char axis : {'x', 'y'})
      CHECK_MAT_NEAR(Mat(sparse_control(m, c, axis)), m.control(c, axis), 1e-12);
  // The protons' own Hamiltonian: Zeeman and H-H couplings only.
  const std::vector<int> protons{3, 4, 5};
  Mat hh = Mat::Zero(64, 64);
  for (int k : protons)
    hh += kTwoPi * (m.nuclei[k].offset_hz - m.channel_of(k).carrier_hz) * spin_op('z', k, 6);
  for (int a : protons)
    for (int b : protons)
      if (a < b)
        hh += kTwoPi * m.j_hz(a, b) *
              (spin_op('x', a, 6) * spin_op('x', b, 6) + spin_op('y', a, 6) * spin_op('y', b, 6) +
               spin_op('z', a, 6) * spin_op('z', b, 6));
  CHECK_MAT_NEAR(Mat(sparse_hamiltonian(m, true, protons)), hh, 1e-9);
}

TEST_CASE("Lanczos pulse propagation against the dense exponential, 4 to 8 spins") {
  const Molecule reg = testing::iqc_register();
  const std::vector<std::vector<int>> sets{
      {0, 1, 2, 10}, {0, 1, 6, 10, 11}, {1, 2, 3, 8, 9, 10}, {0, 1, 2, 3, 4, 5, 6, 11}};
  unsigned seed = 1;
  for (const auto& spins : sets) {
    const Molecule m = sparse_test_subset(reg, spins);
    const int d = 1 << m.size();
    const int steps = 12;
    const double dt = 10e-6;
    RMat u = RMat::Random(4, steps) * 20000.0;  // both channels, up to 20 kHz per quadrature
    const Mat h0 = m.hamiltonian(true);
    Vec psi = sparse_test_random_state(d, seed++);
    Vec dense = psi;
    for (int k = 0; k < steps; ++k) {
      Mat h = h0;
      for (int c = 0; c < 2; ++c)
        h += u(2 * c, k) * m.control(c, 'x') + u(2 * c + 1, k) * m.control(c, 'y');
      dense = expm_hermitian(h, dt) * dense;
    }
    LanczosPropagator lp;
    const std::vector<SparseMat> cx{sparse_control(m, 0, 'x'), sparse_control(m, 1, 'x')};
    const std::vector<SparseMat> cy{sparse_control(m, 0, 'y'), sparse_control(m, 1, 'y')};
    CHECK(lp.pulse(sparse_hamiltonian(m, true), cx, cy, u, dt, psi) > steps);
    INFO(m.size(), " spins");
    CHECK((psi - dense).norm() < 1e-9);
    // A step too long for the Krylov space (|H| t ~ 1e3) is split and stays exact.
    LanczosPropagator small(8, 1e-12);
    Vec a = sparse_test_random_state(d, seed++), b = a;
    small.step(sparse_hamiltonian(m, true), 2e-3, a);
    b = expm_hermitian(h0, 2e-3) * b;
    CHECK((a - b).norm() < 1e-8);
  }
}

TEST_CASE("Lanczos propagation conserves the norm over a long pulse") {
  const Molecule reg = testing::iqc_register();
  const Molecule m = sparse_test_subset(reg, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  const int steps = 100;
  RMat u = RMat::Random(4, steps) * 15000.0;
  Vec psi = sparse_test_random_state(1 << m.size(), 7);
  LanczosPropagator lp;
  lp.pulse(sparse_hamiltonian(m, true), {sparse_control(m, 0, 'x'), sparse_control(m, 1, 'x')},
           {sparse_control(m, 0, 'y'), sparse_control(m, 1, 'y')}, u, 10e-6, psi);
  CHECK(std::abs(psi.norm() - 1.0) < 1e-12);
}

TEST_CASE("Lanczos nutation of one spin: the analytic Rabi formula") {
  // One spin at offset Delta from its carrier under RF u along x: from |0>, the population of
  // |1> is u^2 / (u^2 + Delta^2) sin^2(pi sqrt(u^2 + Delta^2) t) (Rabi; frequencies in Hz).
  Molecule m = testing::iqc_register();
  m.nuclei.resize(1);
  m.couplings.clear();
  for (double delta : {0.0, 3000.0}) {
    m.nuclei[0].offset_hz = m.channels[0].carrier_hz + delta;
    const double u = 10000.0;
    const SparseMat h = SparseMat(sparse_hamiltonian(m, false)) + u * sparse_control(m, 0, 'x');
    for (double t : {12.5e-6, 25e-6, 61e-6}) {
      Vec psi = Vec::Zero(2);
      psi[0] = 1.0;
      LanczosPropagator lp;
      lp.step(h, t, psi);
      const double w = std::sqrt(u * u + delta * delta);
      const double p1 = u * u / (w * w) * std::pow(std::sin(kPi * w * t), 2);
      CHECK(std::norm(psi[1]) == doctest::Approx(p1).epsilon(1e-12));
    }
  }
  // On resonance, a pi/2 pulse: psi = (|0> - i |1>) / sqrt 2.
  m.nuclei[0].offset_hz = m.channels[0].carrier_hz;
  Vec psi = Vec::Zero(2);
  psi[0] = 1.0;
  LanczosPropagator lp;
  lp.step(SparseMat(10000.0 * sparse_control(m, 0, 'x')), 25e-6, psi);
  CHECK(std::abs(psi[0] - cplx(std::sqrt(0.5), 0.0)) < 1e-12);
  CHECK(std::abs(psi[1] - cplx(0.0, -std::sqrt(0.5))) < 1e-12);
}

TEST_CASE("sparse propagation rejects a register beyond its bound") {
  Molecule m = testing::iqc_register();
  while (m.size() < 21) m.nuclei.push_back(m.nuclei[0]);
  CHECK_THROWS_AS(sparse_hamiltonian(m, false), InputError);
}
