#include "nmrc/spectrometer/decoupling.hpp"

#include <cmath>
#include <string>

#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::spectrometer;

namespace {

// exp(-i H t) by the reference Taylor series.
Mat dec_expm(const Mat& h, double t) { return ref::expm_taylor(cplx(0, -t) * h); }

// A 13C-1H pair: carbon at c_hz, proton at h_hz (offsets in their channels' frames), J in Hz.
Molecule dec_ch_pair(double c_hz, double h_hz, double j_hz) {
  return parse_molecule(
      "name: ch\nspectrometer: {proton_mhz: 300.13}\n"
      "channels:\n  - {name: 13C, isotope: 13C, max_rf_hz: 10000}\n"
      "  - {name: 1H, isotope: 1H, max_rf_hz: 25000}\n"
      "nuclei:\n  - {label: C, isotope: 13C, offset_hz: " +
          std::to_string(c_hz) +
          ", t1_s: 5, t2_s: 1, t2star_s: 0.5}\n"
          "  - {label: H, isotope: 1H, offset_hz: " +
          std::to_string(h_hz) +
          ", t1_s: 3, t2_s: 1, t2star_s: 0.5}\n"
          "couplings: [{spins: [C, H], j_hz: " +
          std::to_string(j_hz) + "}]\nsources: [test]\n",
      "ch.yaml");
}

// exp(-i theta n.sigma/2) by the Rodrigues formula: a proton rectangle of nutation nu_hz at
// phase phi and offset off_hz for t seconds (independent of the library's propagators).
Mat dec_rotation(double nu_hz, double phi, double off_hz, double t) {
  const double nx = nu_hz * std::cos(phi), ny = nu_hz * std::sin(phi), nz = off_hz;
  const double w = std::sqrt(nx * nx + ny * ny + nz * nz);
  const double th = kTwoPi * w * t;
  Mat r(2, 2);
  if (w == 0.0) return Mat::Identity(2, 2);
  const double c = std::cos(th / 2), s = std::sin(th / 2);
  const cplx i(0, 1);
  r(0, 0) = c - i * s * nz / w;
  r(1, 1) = c + i * s * nz / w;
  r(0, 1) = -i * s * cplx(nx, -ny) / w;
  r(1, 0) = -i * s * cplx(nx, ny) / w;
  return r;
}

// The cycle's proton rotation at offset off_hz, element by element.
Mat dec_cycle_rotation(CpdSequence seq, double pcpd_s, double off_hz) {
  Mat r = Mat::Identity(2, 2);
  for (const auto& p : cpd_supercycle(seq))
    r = dec_rotation(0.25 / pcpd_s, p.phase_deg * kPi / 180.0, off_hz,
                     p.angle_deg / 90.0 * pcpd_s) *
        r;
  return r;
}

// Net rotation angle of an SU(2) matrix.
double dec_angle(const Mat& r) {
  return 2.0 * std::acos(std::min(1.0, std::abs(0.5 * r.trace().real())));
}

// The residual C-H splitting of the theory of CPD (average over a cycle): the proton turns by
// theta(+/-) in one cycle when the carbon is up/down, i.e. sees offset off +/- J/2, so the
// carbon's line splits by |theta(+) - theta(-)| / (2 pi T_c).
double dec_residual_splitting_hz(CpdSequence seq, double pcpd_s, double off_hz, double j_hz) {
  double t = 0.0;
  for (const auto& p : cpd_supercycle(seq)) t += p.angle_deg / 90.0 * pcpd_s;
  return std::abs(dec_angle(dec_cycle_rotation(seq, pcpd_s, off_hz + 0.5 * j_hz)) -
                  dec_angle(dec_cycle_rotation(seq, pcpd_s, off_hz - 0.5 * j_hz))) /
         (kTwoPi * t);
}

// The dense reference of a C-H pair's evolution (carbon channel 0, proton channel 1) under a
// decoupler that plays `seq` at `pcpd` (on, or off) from its first element at the start of
// `segs`: every carbon step split by hand at the decoupler's element edges, each piece
// exp(-i H t) by the Taylor series, H built here from the molecule's matrices.
Mat dec_dense(const Molecule& m, CpdSequence seq, double pcpd, bool on, double o2,
              const std::vector<Segment>& segs) {
  const auto cyc = cpd_supercycle(seq);
  double total = 0.0;
  for (const auto& g : segs) total += g.duration_s;
  std::vector<double> edges{0.0};
  while (edges.back() < total + pcpd)
    for (const auto& p : cyc) edges.push_back(edges.back() + p.angle_deg / 90.0 * pcpd);
  const Mat hc = m.hamiltonian(false);
  const Mat ixc = m.control(0, 'x'), iyc = m.control(0, 'y');
  const Mat ixh = m.control(1, 'x'), iyh = m.control(1, 'y');
  const Mat sh = -kTwoPi * o2 * spin_op('z', 1, 2);
  Mat dense = Mat::Identity(4, 4);
  double tt = 0.0;
  for (const auto& g : segs) {
    double t0 = tt, t1 = tt + g.duration_s;
    while (t0 < t1 - 1e-13) {
      size_t e = 0;
      while (edges[e + 1] <= t0 + 1e-13) ++e;
      const double te = std::min(t1, edges[e + 1]);
      const auto& p = cyc[e % cyc.size()];
      const double ph = p.phase_deg * kPi / 180.0, rf = on ? 0.25 / pcpd : 0.0;
      const Mat hh = hc + sh + g.ux_hz[0] * ixc + g.uy_hz[0] * iyc + rf * std::cos(ph) * ixh +
                     rf * std::sin(ph) * iyh;
      dense = dec_expm(hh, te - t0) * dense;
      t0 = te;
    }
    tt = t1;
  }
  return dense;
}

// A shaped carbon pulse of `steps` steps of 7 us (amplitudes that do not meet any grid).
std::vector<Segment> dec_shaped(int steps) {
  std::vector<Segment> segs;
  for (int s = 0; s < steps; ++s) {
    Segment g;
    g.duration_s = 7e-6;
    g.ux_hz = {500.0 * std::sin(0.1 * s), 0.0};
    g.uy_hz = {300.0 * std::cos(0.07 * s), 0.0};
    segs.push_back(g);
  }
  return segs;
}

// A delay of t seconds (both channels silent).
std::vector<Segment> dec_delay(double t) {
  Segment g;
  g.duration_s = t;
  g.ux_hz = {0.0, 0.0};
  g.uy_hz = {0.0, 0.0};
  return {g};
}

}  // namespace

TEST_CASE("decoupling: the supercycles are WALTZ-16 (96 x 90 degrees) and GARP-1") {
  double w = 0.0;
  for (const auto& p : cpd_supercycle(CpdSequence::kWaltz16)) w += p.angle_deg;
  CHECK(w == doctest::Approx(96 * 90.0));
  CHECK(cpd_supercycle(CpdSequence::kWaltz16).size() == 36u);
  CHECK(cpd_supercycle(CpdSequence::kGarp).size() == 100u);
  // MLEV-16: 16 composite inversions 90x 180y 90x, 64 x 90 degrees.
  const auto mlev = cpd_supercycle(CpdSequence::kMlev16);
  double wm = 0.0;
  for (const auto& p : mlev) wm += p.angle_deg;
  CHECK(mlev.size() == 48u);
  CHECK(wm == doctest::Approx(64 * 90.0));
  CHECK(mlev[1].phase_deg == 90.0);
  CHECK(mlev[7].phase_deg == 270.0);  // the third R is Rb
  CHECK(cpd_sequence("waltz16") == CpdSequence::kWaltz16);
  CHECK(cpd_sequence("mlev16") == CpdSequence::kMlev16);
  CHECK(std::string(cpd_name(cpd_sequence("cw"))) == "cw");
  CHECK_THROWS_AS(cpd_sequence("mlev;rm"), InputError);
}

TEST_CASE("decoupling: a cycle's propagator is the carbon phase times the proton's rotation") {
  // Weak coupling: with the carbon in |0> (|1>) the proton sees offset h + J/2 (h - J/2); the
  // 4 x 4 propagator of one supercycle is block diagonal with the Rodrigues rotations.
  for (auto seq :
       {CpdSequence::kWaltz16, CpdSequence::kGarp, CpdSequence::kMlev16, CpdSequence::kCw}) {
    const double c = 1234.0, h = 311.0, j = 150.0, o2 = 100.0, pcpd = 90e-6;
    const Molecule m = dec_ch_pair(c, h, j);
    Decoupler dec;
    dec.sequence = seq;
    dec.pcpd_s = pcpd;
    dec.o2_hz = o2;
    DecoupledEvolution ev(m, dec);
    Segment free;
    free.duration_s = ev.cycle_s();
    free.ux_hz = {0.0, 0.0};
    free.uy_hz = {0.0, 0.0};
    const Mat u = ev.advance({free});
    const double t = ev.cycle_s();
    Mat ref = Mat::Zero(4, 4);
    ref.block(0, 0, 2, 2) =
        std::exp(cplx(0, -kPi * c * t)) * dec_cycle_rotation(seq, pcpd, h - o2 + 0.5 * j);
    ref.block(2, 2, 2, 2) =
        std::exp(cplx(0, kPi * c * t)) * dec_cycle_rotation(seq, pcpd, h - o2 - 0.5 * j);
    CHECK((u - ref).norm() < 1e-9);
    // A shaped carbon pulse cut by the decoupler's element edges gives the same propagator as
    // the dense product of every piece (steps of 7 us do not meet the 90 us grid).
    DecoupledEvolution ev2(m, dec);
    const std::vector<Segment> segs = dec_shaped(200);
    const Mat up = ev2.advance(segs);
    // Reference: split every step at the decoupler's element edges by hand (over the whole
    // 1.4 ms: a CW "cycle" is one short element, WALTZ-16's is 9 ms).
    const Mat dense = dec_dense(m, seq, pcpd, true, o2, segs);
    CHECK((up - dense).norm() < 1e-9);
  }
}

TEST_CASE("decoupling: WALTZ-16 collapses a C-H doublet as the theory of the cycle says") {
  // 2.78 kHz decoupling field (PCPD2 90 us, the export's default), J_CH 156 Hz (C3-H3).
  const double pcpd = 90e-6, b2 = 0.25 / pcpd, j = 156.0, c = 1000.0;
  // Literature: WALTZ-16 decouples over about +/- B2 (Shaka, Keeler & Freeman, J. Magn.
  // Reson. 53, 313 (1983), effective bandwidth ~ 2 gamma B2); theory of the cycle
  // (dec_residual_splitting_hz) gives the splitting at each offset.
  for (double frac : {0.0, 0.3, 0.6, 0.9, 2.0}) {
    const double off = frac * b2;
    const double theory = dec_residual_splitting_hz(CpdSequence::kWaltz16, pcpd, off, j);
    if (frac <= 0.9) CHECK(theory < 0.05 * j);
    if (frac >= 2.0) CHECK(theory > 0.1 * j);  // outside the band: no longer decoupled
    // The simulated spectrum: the FID of the carbon's x magnetisation with the decoupler on,
    // its largest peaks at c +/- theory/2.
    const Molecule m = dec_ch_pair(c, off, j);
    Decoupler dec;
    dec.pcpd_s = pcpd;
    DecoupledEvolution ev(m, dec);
    const Mat rho = spin_op('x', 0, 2);
    const int k = 4, td = 1 << 15;  // dwell 2.16 ms: sw 463 Hz, 70.8 s: 0.014 Hz per point
    Fid fid = ev.acquire(rho, 0, k, td);
    // Undo T2* (0.5 s) so that the lines are resolved: the test is about frequencies.
    for (int i = 0; i < td; ++i) fid.points[i] *= std::exp(i / fid.sw_hz / 0.5);
    // Power spectrum by direct DFT around the carbon line (folded into the sw).
    const double f0 = std::remainder(c, fid.sw_hz);
    double best = 0.0, best_f = 0.0, second = 0.0, second_f = 0.0;
    const double span = std::max(2.0, theory * 2);
    for (double f = f0 - span; f <= f0 + span; f += 0.005) {
      cplx s = 0.0;
      const cplx q = std::exp(cplx(0, -kTwoPi * f / fid.sw_hz));
      cplx z = 1.0;
      for (int i = 0; i < td; i += 1) {
        s += fid.points[i] * z;
        z *= q;
      }
      const double p = std::norm(s);
      if (p > best) {
        if (std::abs(f - best_f) > 0.05) {
          second = best;
          second_f = best_f;
        }
        best = p;
        best_f = f;
      } else if (p > second && std::abs(f - best_f) > 0.05) {
        second = p;
        second_f = f;
      }
    }
    INFO("offset/B2 " << frac << ": theory " << theory << " Hz, peaks " << best_f << ", "
                      << second_f);
    if (theory > 0.05) {
      CHECK(std::abs(std::abs(best_f - second_f) - theory) < 0.02 + 0.01 * theory);
    } else {
      CHECK(std::abs(best_f - f0) < 0.05);
    }
  }
}

TEST_CASE("decoupling: with the decoupler off the carbon shows the J_CH doublet") {
  const double j = 156.0, c = 1000.0;
  const Molecule m = dec_ch_pair(c, 200.0, j);
  Decoupler dec;
  dec.on = false;
  DecoupledEvolution ev(m, dec);
  const Fid fid = ev.acquire(spin_op('x', 0, 2), 0, 12, 1 << 12);  // sw 1389 Hz
  // Lines at c +/- J/2 (folded): the FID is the sum of two exponentials of equal weight.
  const double sw = fid.sw_hz;
  for (double f : {c - j / 2, c + j / 2}) {
    cplx s = 0.0;
    for (size_t i = 0; i < fid.points.size(); ++i)
      s += fid.points[i] * std::exp(cplx(0, -kTwoPi * f * i / sw) + i / sw / 0.5);
    CHECK(std::abs(s) / fid.points.size() == doctest::Approx(1.0).epsilon(0.02));
  }
  cplx s0 = 0.0;
  for (size_t i = 0; i < fid.points.size(); ++i)
    s0 += fid.points[i] * std::exp(cplx(0, -kTwoPi * c * i / sw) + i / sw / 0.5);
  CHECK(std::abs(s0) / fid.points.size() < 0.02);
}

TEST_CASE("decoupling: subsystem fidelity of a product is the gate fidelity of its factor") {
  const Mat v = dec_expm(spin_op('x', 0, 2) + 0.3 * spin_op('z', 1, 2), 0.7);
  const Mat w = dec_expm(spin_op('y', 0, 1), 1.1);
  // kept = spins {0, 1} of 3; the environment is spin 2.
  const Mat u = kron(v, w);
  CHECK(subsystem_gate_fidelity(u, 3, {0, 1}, v) == doctest::Approx(1.0).epsilon(1e-12));
  const Mat t = dec_expm(spin_op('x', 0, 2), 0.7);
  CHECK(subsystem_gate_fidelity(u, 3, {0, 1}, t) ==
        doctest::Approx(std::abs((t.adjoint() * v).trace()) / 4).epsilon(1e-12));
  // Environment in the middle: U = V_0 (x) W_1 (x) V'_2 kept {0, 2}.
  const Mat a = dec_expm(spin_op('y', 0, 1), 0.4);
  const Mat b = dec_expm(spin_op('x', 0, 1), 0.9);
  CHECK(subsystem_gate_fidelity(kron(kron(a, w), b), 3, {0, 2}, kron(a, b)) ==
        doctest::Approx(1.0).epsilon(1e-12));
  CHECK_THROWS_AS(subsystem_gate_fidelity(u, 3, {0, 0}, v), InputError);
}

TEST_CASE("decoupling: CW leaves the first-order residual coupling J cos(theta) on the carbon") {
  // A 13C-1H pair, J 150 Hz, the proton 600 Hz from O2 under CW of B2 = 2.5 kHz (PCPD2 100 us):
  // the residual splitting J Delta / sqrt(Delta^2 + B2^2) = 35 Hz (Ernst, J. Chem. Phys. 45,
  // 3845 (1966)). The carbon plays a 90-degree pulse (1 ms at 250 Hz) and evolves 19 ms more.
  const double pcpd = 100e-6, b2 = 0.25 / pcpd, j = 150.0, c = 300.0, delta = 600.0;
  const Molecule m = dec_ch_pair(c, delta, j);
  Decoupler dec;
  dec.sequence = CpdSequence::kCw;
  dec.pcpd_s = pcpd;
  const auto confs = cw_residual_configurations(m, dec);
  REQUIRE(confs.size() == 2);
  const double jr = j * delta / std::hypot(delta, b2);
  CHECK(confs[0].weight == doctest::Approx(0.5));
  CHECK(confs[0].offset_hz[0] == doctest::Approx(0.5 * jr));
  CHECK(confs[1].offset_hz[0] == doctest::Approx(-0.5 * jr));
  CHECK(confs[0].offset_hz[1] == 0.0);
  ShapedPulseElement p;
  p.dt_s = 50e-6;
  p.channels = {0};
  p.ux_hz = {RVec::Zero(400)};
  p.uy_hz = {RVec::Zero(400)};
  p.ux_hz[0].head(20).setConstant(250.0);
  const Mat u = decoupled_unitary(m, dec, p);
  // The first-order model: the carbon alone at c +/- J_r/2 (the pair with J = 0, no decoupler),
  // equal weights; and the same without the residual coupling, which the test must tell apart.
  auto reduced = [](const Mat& v, const Mat& rho) {
    return partial_trace(v * rho * v.adjoint(), {0}, 2);
  };
  double worst = 0.0, worst_none = 0.0;
  for (char axis : {'x', 'y', 'z'}) {
    const Mat rho =
        kron(0.5 * (Mat::Identity(2, 2) + spin_op(axis, 0, 1)), Mat::Identity(2, 2) / 2);
    const Mat sim = reduced(u, rho);
    Mat model = Mat::Zero(2, 2);
    for (const auto& cf : confs)
      model += cf.weight *
               reduced(simulate_unitary(dec_ch_pair(c + cf.offset_hz[0], delta, 0.0), p), rho);
    const Mat none = reduced(simulate_unitary(dec_ch_pair(c, delta, 0.0), p), rho);
    worst = std::max(worst, (sim - model).norm());
    worst_none = std::max(worst_none, (sim - none).norm());
  }
  INFO("model " << worst << ", no residual coupling " << worst_none);
  CHECK(worst < 5e-3);
  CHECK(worst_none > 0.2);
  dec.sequence = CpdSequence::kWaltz16;
  CHECK_THROWS_AS(cw_residual_configurations(m, dec), InputError);
}

TEST_CASE("decoupling: a switching decoupler's propagator is the product of its intervals") {
  // The scheme of docs/console-physics.md: WALTZ-16 at 2.78 kHz in a delay, the switching
  // delay with the RF off, CW at 25 kHz during a shaped carbon pulse, off again, then WALTZ-16
  // restarted from its first element; each interval against the dense reference, and the
  // settings kept (switching back reuses WALTZ-16's propagators: same result).
  const double c = 1234.0, h = 311.0, j = 150.0, o2 = 100.0;
  const Molecule m = dec_ch_pair(c, h, j);
  Decoupler waltz;
  waltz.o2_hz = o2;
  Decoupler cw = waltz, off = waltz;
  cw.sequence = CpdSequence::kCw;
  cw.pcpd_s = 10e-6;
  off.on = false;
  DecoupledEvolution ev(m, waltz);
  struct Interval {
    const Decoupler* dec;
    std::vector<Segment> segs;
  };
  const std::vector<Interval> plan = {{&waltz, dec_delay(1.3e-3)}, {&off, dec_delay(4e-6)},
                                      {&cw, dec_shaped(150)},      {&off, dec_delay(4e-6)},
                                      {&waltz, dec_delay(0.7e-3)}, {&cw, dec_shaped(30)},
                                      {&waltz, dec_delay(20e-3)}};
  Mat u = Mat::Identity(4, 4), ref = Mat::Identity(4, 4);
  for (size_t i = 0; i < plan.size(); ++i) {
    if (i > 0) ev.switch_to(*plan[i].dec);
    CHECK(ev.decoupler().sequence == plan[i].dec->sequence);
    const Mat step = ev.advance(plan[i].segs);
    const Mat want =
        dec_dense(m, plan[i].dec->sequence, plan[i].dec->pcpd_s, plan[i].dec->on, o2, plan[i].segs);
    CHECK((step - want).norm() < 1e-9);
    u = step * u;
    ref = want * ref;
  }
  CHECK((u - ref).norm() < 1e-8);
  CHECK(ev.time_s() == doctest::Approx(1.3e-3 + 8e-6 + 180 * 7e-6 + 0.7e-3 + 20e-3));
  // The frame cannot change, nor the power exceed the channel's limit.
  Decoupler moved = waltz;
  moved.o2_hz = 200.0;
  CHECK_THROWS_AS(ev.switch_to(moved), InputError);
  Decoupler hot = cw;
  hot.pcpd_s = 5e-6;  // 50 kHz on a 25 kHz channel
  CHECK_THROWS_AS(ev.switch_to(hot), InputError);
}
