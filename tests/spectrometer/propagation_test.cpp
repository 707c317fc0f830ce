#include "nmrc/spectrometer/propagation.hpp"

#include <cmath>
#include <random>

#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"
#include "support/pulse_reference.hpp"
#include "support/reference.hpp"
#include "support/test_molecules.hpp"

using namespace nmrc;
using namespace nmrc::spectrometer;
using nmrc::ref::random_pulse;

namespace {

// One 13C spin at offset_hz; T1 2 s, T2 0.5 s.
Molecule one_spin(double offset_hz) {
  return parse_molecule(R"(
name: one
spectrometer: {proton_mhz: 400.0}
channels: [{name: 13C, max_rf_hz: 10000}]
nuclei:
  - {label: C, isotope: 13C, offset_hz: )" +
                            std::to_string(offset_hz) +
                            R"(, t1_s: 2.0, t2_s: 0.5, t2star_s: 0.5}
sources: [test]
)",
                        "one.yaml");
}

Molecule two_spins(double nu1, double nu2, double j) {
  return parse_molecule(
      "name: two\nspectrometer: {proton_mhz: 400.0}\n"
      "channels: [{name: 13C, max_rf_hz: 10000}]\nnuclei:\n"
      "  - {label: A, isotope: 13C, offset_hz: " +
          std::to_string(nu1) +
          ", t1_s: 3.0, t2_s: 0.4, t2star_s: 0.3}\n"
          "  - {label: B, isotope: 13C, offset_hz: " +
          std::to_string(nu2) +
          ", t1_s: 1.5, t2_s: 0.9, t2star_s: 0.3}\n"
          "couplings: [{spins: [A, B], j_hz: " +
          std::to_string(j) + "}]\nsources: [test]\n",
      "two.yaml");
}

using nmrc::testing::crotonic;  // tests/support/test_molecules.hpp

// Textbook Lindblad superoperator from explicit jump operators (independent of the library's
// element-wise dissipator): sum_m conj(L) (x) L - (I (x) L^dag L + (L^dag L)^T (x) I)/2.
Mat kron_lindblad(const Mat& h, const RelaxationRates& r, int n) {
  const int d = 1 << n;
  const Mat id = Mat::Identity(d, d);
  Mat l = cplx(0, -1) * (ref::kron(id, h) - ref::kron(h.transpose(), id));
  Mat sm(2, 2), sp(2, 2), sz(2, 2);
  sm << 0, 1, 0, 0;  // |0><1|
  sp << 0, 0, 1, 0;  // |1><0|
  sz << 1, 0, 0, -1;
  for (int k = 0; k < n; ++k) {
    const std::vector<Mat> ops = {std::sqrt(r.w_down[k]) * ref::single(sm, k, n),
                                  std::sqrt(r.w_up[k]) * ref::single(sp, k, n),
                                  std::sqrt(r.dephasing[k] / 2) * ref::single(sz, k, n)};
    for (const Mat& j : ops) {
      const Mat jj = j.adjoint() * j;
      l += ref::kron(j.conjugate(), j) - 0.5 * (ref::kron(id, jj) + ref::kron(jj.transpose(), id));
    }
  }
  return l;
}

}  // namespace

TEST_CASE("thermal equilibrium and relaxation rates") {
  SUBCASE("correctness") {
    const Molecule m = crotonic();
    const ThermalState t = thermal_equilibrium(m);
    // h nu / (2 k_B T) for 13C at 75.47 MHz, 298 K: 6.08e-6; epsilon = that / 16.
    const double nu = m.channels[0].larmor_mhz * 1e6 * (1 + 171.27e-6);
    CHECK(t.polarization[0] == doctest::Approx(6.62607015e-34 * nu / (2 * 1.380649e-23 * 298.0)));
    CHECK(t.polarization[0] == doctest::Approx(6.08e-6).epsilon(1e-2));
    CHECK(t.epsilon == doctest::Approx(t.polarization[0] / 16));
    CHECK(t.rho.trace().real() == doctest::Approx(1.0));
    CHECK(std::abs(t.rho(0, 0).real() - 1.0 / 16 -
                   (t.polarization[0] + t.polarization[1] + t.polarization[2] + t.polarization[3]) /
                       16) < 1e-15);
    // The thermal state is stationary under the dissipator to first order in the polarisation
    // (its neglected products p_j p_k are ~1e-11).
    const RelaxationRates r = relaxation_rates(m, t);
    Mat out = Mat::Zero(16, 16);
    add_dissipator(r, 4, t.rho, out);
    CHECK(out.cwiseAbs().maxCoeff() < 1e-11 * r.total());
    CHECK(r.w_down[0] + r.w_up[0] == doctest::Approx(1 / 10.2));
    CHECK(r.w_down[0] / 2 + r.w_up[0] / 2 + r.dephasing[0] == doctest::Approx(1 / 0.84));
  }
}

TEST_CASE("Liouvillian equals the textbook Kronecker form of the Lindblad equation") {
  const Molecule m = two_spins(300.0, -120.0, 40.0);
  const Dynamics d(m, {.offset_error_hz = {}, .relaxation = true});
  double ux[1] = {700.0}, uy[1] = {-250.0};
  const Mat h = d.hamiltonian(ux, uy);
  CHECK_MAT_NEAR(d.liouvillian(h), kron_lindblad(h, d.rates(), 2), 1e-9);
  // The fast right-hand side equals the commutator plus the element-wise reference dissipator.
  const Mat rho = ref::random_density(4, 9);
  Mat fast(4, 4), slow = cplx(0, -1) * (h * rho - rho * h);
  d.lindblad_rhs(h, rho, fast);
  add_dissipator(d.rates(), 2, rho, slow);
  CHECK_MAT_NEAR(fast, slow, 1e-12);
}

TEST_CASE("nutation of one spin matches the analytic rotation") {
  for (double offset : {0.0, 400.0}) {
    const Molecule m = one_spin(offset);
    const Dynamics d(m);
    const double rf = 1000.0, phase = 0.3, t = 2.1e-4;
    HardPulseElement p{0, kTwoPi * rf * t, phase, rf};
    const auto segs = segments_of(p, 1);
    REQUIRE(segs.size() == 1);
    CHECK(segs[0].duration_s == doctest::Approx(t));
    // exp(-i 2 pi t (offset Iz + rf cos(ph) Ix + rf sin(ph) Iy)) as a rotation about n.
    const double weff = std::hypot(offset, rf);
    const Mat expect = ref::rotation(kTwoPi * weff * t, rf * std::cos(phase) / weff,
                                     rf * std::sin(phase) / weff, offset / weff);
    CHECK_MAT_NEAR(exact_unitary(d, segs), expect, 1e-12);
    CHECK_MAT_NEAR(odeint_unitary(d, segs), expect, 1e-8);
  }
}

TEST_CASE("J evolution of two weakly coupled spins") {
  const double nu1 = 250.0, nu2 = -90.0, j = 45.0, t = 3.7e-3;
  const Molecule m = two_spins(nu1, nu2, j);
  const Dynamics d(m);
  const auto segs = segments_of(DelayElement{t}, 1);
  Mat expect = Mat::Zero(4, 4);
  for (int a = 0; a < 4; ++a) {
    const double m1 = (a >> 1) & 1 ? -0.5 : 0.5, m2 = a & 1 ? -0.5 : 0.5;
    expect(a, a) = std::polar(1.0, -kTwoPi * t * (nu1 * m1 + nu2 * m2 + j * m1 * m2));
  }
  CHECK_MAT_NEAR(exact_unitary(d, segs), expect, 1e-12);
  CHECK_MAT_NEAR(odeint_unitary(d, segs), expect, 1e-8);
}

TEST_CASE("T2 decay and T1 recovery of one spin") {
  const double offset = 150.0, t = 0.3;
  const Molecule m = one_spin(offset);
  const Dynamics d(m, {.offset_error_hz = {}, .relaxation = true});
  const ThermalState th = thermal_equilibrium(m);
  // Start with coherence and inverted populations (an O(1) state, not a deviation).
  Mat rho(2, 2);
  rho << 0.2, cplx(0.3, 0.1), cplx(0.3, -0.1), 0.8;
  const auto segs = segments_of(DelayElement{t}, 1);
  const cplx c0(0.3, -0.1);  // rho_10
  const cplx c_expect = c0 * std::exp(cplx(-t / 0.5, kTwoPi * offset * t));
  const double p0_eq = 0.5 * (1 + th.polarization[0]);
  const double p0_expect = p0_eq + (0.2 - p0_eq) * std::exp(-t / 2.0);
  for (const Mat& out : {exact_state(d, segs, rho), odeint_state(d, segs, rho)}) {
    CHECK(std::abs(out(1, 0) - c_expect) < 1e-9);
    CHECK(std::abs(out(0, 0).real() - p0_expect) < 1e-9);
    CHECK(std::abs(out.trace() - 1.0) < 1e-12);
  }
}

TEST_CASE("a multiplet line decays faster than 1/T2: the partner's T1 flips move it") {
  // T2 is the decay of a spin's total coherence. One line of spin A (partner B in |0>) also
  // loses amplitude when B flips to |1> (rate w_up of B) and gains from the other line when B
  // flips back (w_down): for c0 = rho(|1_A 0_B>, |0_A 0_B>), c1 = rho(|1_A 1_B>, |0_A 1_B>),
  //   d/dt (c0, c1) = -G (c0, c1) + (-w_up c0 + w_down c1, w_up c0 - w_down c1), G = 1/T2_A,
  // so c0 + c1 decays at exactly 1/T2 and, from c1 = 0, c0 = (w_down e^{-G t} +
  // w_up e^{-(G + 1/T1_B) t}) / (1/T1_B) (J = 0, both lines at one frequency). With the lines
  // resolved (J >> rates) the feed back averages out and the line decays at G + w_up.
  const double t = 0.3;
  Mat rho = Mat::Identity(4, 4) / 4.0;
  rho(2, 0) = 0.2;
  rho(0, 2) = 0.2;
  const auto segs = segments_of(DelayElement{t}, 1);
  {
    const Molecule m = two_spins(120.0, -80.0, 0.0);
    const Dynamics d(m, {.offset_error_hz = {}, .relaxation = true});
    const RelaxationRates r = relaxation_rates(m, thermal_equilibrium(m));
    const double g = 1.0 / 0.4, wu = r.w_up[1], wd = r.w_down[1];
    CHECK(wu + wd == doctest::Approx(1.0 / 1.5));
    const Mat out = exact_state(d, segs, rho);
    const double c0 = 0.2 * (wd * std::exp(-g * t) + wu * std::exp(-(g + wu + wd) * t)) / (wu + wd);
    CHECK(std::abs(std::abs(out(2, 0)) - c0) < 1e-9);
    CHECK(std::abs(std::abs(out(2, 0) + out(3, 1)) - 0.2 * std::exp(-g * t)) < 1e-9);
  }
  {
    const Molecule m = two_spins(120.0, -80.0, 45.0);
    const Dynamics d(m, {.offset_error_hz = {}, .relaxation = true});
    const RelaxationRates r = relaxation_rates(m, thermal_equilibrium(m));
    const double g = 1.0 / 0.4, wu = r.w_up[1];
    const Mat out = exact_state(d, segs, rho);
    CHECK(std::abs(out(2, 0)) == doctest::Approx(0.2 * std::exp(-(g + wu) * t)).epsilon(2e-3));
    // exp(-w_up t) = 0.905 below the 1/T2 decay here: visibly faster.
    CHECK(std::abs(out(2, 0)) < 0.95 * 0.2 * std::exp(-g * t));
  }
}

TEST_CASE("exact and Odeint engines agree on a shaped pulse on crotonic acid") {
  const Molecule m = crotonic();
  const ShapedPulseElement p = random_pulse(40, 2e-5, 6000.0, 7);
  SUBCASE("unitary") {
    PropagationOptions o;
    const Mat u_exact = simulate_unitary(m, p, 0.97, o);
    o.engine = Engine::kOdeint;
    const Mat u_ode = simulate_unitary(m, p, 0.97, o);
    CHECK(ref::max_abs_diff(u_exact, u_ode) < 1e-8);
    CHECK((u_exact.adjoint() * u_exact - Mat::Identity(16, 16)).cwiseAbs().maxCoeff() < 1e-12);
  }
  SUBCASE("relaxing state") {
    const Dynamics d(m, {.b1_scale = 1.02, .offset_error_hz = {}, .relaxation = true});
    const auto segs = segments_of(p, 1);
    const Mat rho0 = ref::random_density(16, 3);
    const Mat a = exact_state(d, segs, rho0), b = odeint_state(d, segs, rho0);
    CHECK(ref::max_abs_diff(a, b) < 1e-9);
    // Relaxation acts: the state differs from the unitary one by about rate * duration.
    const Mat u = exact_unitary(d, segs);
    CHECK(ref::max_abs_diff(a, u * rho0 * u.adjoint()) > 1e-5);
  }
}

TEST_CASE("superoperators: dense exact, state propagation, and fidelities") {
  const Molecule m = two_spins(500.0, -700.0, 60.0);
  ShapedPulseElement p = random_pulse(25, 4e-5, 3000.0, 11);
  const Mat s = simulate_superoperator(m, p);
  const Dynamics d(m, {.offset_error_hz = {}, .relaxation = true});
  const Mat rho0 = ref::random_density(4, 5);
  const Mat via_s =
      Eigen::Map<const Mat>(Vec(s * Eigen::Map<const Vec>(rho0.data(), 16)).data(), 4, 4);
  CHECK_MAT_NEAR(via_s, exact_state(d, segments_of(p, 1), rho0), 1e-10);
  CHECK_MAT_NEAR(simulate_state(m, p, rho0), via_s, 1e-10);
  PropagationOptions o;
  o.engine = Engine::kOdeint;
  CHECK(ref::max_abs_diff(simulate_superoperator(m, p, 1.0, o), s) < 1e-8);
  // A unitary channel's process fidelity is the square of the gate fidelity.
  const Mat u = simulate_unitary(m, p);
  const Mat v = ref::random_unitary(4, 2);
  const double g = std::abs((v.adjoint() * u).trace()) / 4;
  CHECK(process_fidelity(unitary_superoperator(u), v) == doctest::Approx(g * g).epsilon(1e-12));
  CHECK(process_fidelity(unitary_superoperator(u), u) == doctest::Approx(1.0));
  // Relaxation lowers the fidelity to the pulse's own unitary, by about duration / T2.
  const double f = process_fidelity(s, u);
  CHECK(f < 1.0 - 1e-4);
  CHECK(f > 1.0 - 0.01);
  const EnsembleFidelity e = ensemble_fidelity(m, p, u, {0.9, 1.0, 1.1}, {1, 2, 1}, true);
  CHECK(e.gate[1] == doctest::Approx(1.0));
  CHECK(e.process[1] == doctest::Approx(f));
  CHECK(e.min_gate < 0.999);
  CHECK(e.weights[1] == doctest::Approx(0.5));
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(ensemble_fidelity(m, p, u, {1.0}, {1, 2}, false),
                         doctest::Contains("one entry per b1_scale"), InputError);
    p.dt_s = -1;
    CHECK_THROWS_WITH_AS(simulate_unitary(m, p), doctest::Contains("must be > 0"), InputError);
  }
}

TEST_CASE("Odeint with a continuous waveform converges to fine piecewise-constant steps") {
  const Molecule m = two_spins(300.0, -450.0, 55.0);
  const Dynamics d(m);
  const double t_total = 1e-3;
  // u(t) = 800 sin(pi t / T) on x, 300 cos(3 pi t / T) on y: a smooth shape.
  const Waveform w = [t_total](double t, double* ux, double* uy) {
    ux[0] = 800.0 * std::sin(kPi * t / t_total);
    uy[0] = 300.0 * std::cos(3 * kPi * t / t_total);
  };
  const Mat u_ode = odeint_unitary(d, w, {0.0, 0.5 * t_total, t_total});
  // Midpoint-sampled steps have O(dt^2) error: 4x finer steps cut it about 16x.
  auto stepped = [&](int steps) {
    std::vector<Segment> segs;
    for (int j = 0; j < steps; ++j) {
      Segment s;
      s.duration_s = t_total / steps;
      s.ux_hz.resize(1);
      s.uy_hz.resize(1);
      w((j + 0.5) * s.duration_s, s.ux_hz.data(), s.uy_hz.data());
      segs.push_back(s);
    }
    return exact_unitary(d, segs);
  };
  const double e1 = ref::max_abs_diff(stepped(100), u_ode);
  const double e4 = ref::max_abs_diff(stepped(400), u_ode);
  CHECK(e1 < 1e-3);
  CHECK(e4 < e1 / 12.0);
  CHECK(e4 > e1 / 20.0);
}

TEST_CASE("strong coupling and static offset errors enter the Hamiltonian") {
  const Molecule m = two_spins(100.0, 60.0, 30.0);  // strongly coupled: J comparable to dnu
  DynamicsOptions o;
  o.strong_coupling = true;
  o.offset_error_hz = {2.0, -3.0};
  const Dynamics d(m, o);
  Mat expect = m.hamiltonian(true) + kTwoPi * (2.0 * spin_op('z', 0, 2) - 3.0 * spin_op('z', 1, 2));
  CHECK_MAT_NEAR(d.h0(), expect, 1e-12);
  CHECK(std::abs(d.h0()(1, 2)) > 1.0);  // flip-flop term present
  SUBCASE("validation") {
    o.offset_error_hz = {1.0};
    CHECK_THROWS_WITH_AS(Dynamics(m, o), doctest::Contains("one value per spin"), InputError);
    o.offset_error_hz.clear();
    o.b1_scale = 0.0;
    CHECK_THROWS_WITH_AS(Dynamics(m, o), doctest::Contains("must be > 0"), InputError);
  }
}
