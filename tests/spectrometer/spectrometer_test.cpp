// Sample execution (B1 ensemble, gradients, phase cycling), acquisition, processing and line
// analysis.
// GCC 12 at -O3 reports moves of sequence elements (std::variant) into vectors as "may be used
// uninitialized", a known false positive on variant moves (e.g. boostorg/variant2 issue 55), and
// the string copies inside them as overlapping (-Wrestrict, GCC PR 105329). Silenced for this
// file only, so -Wall -Wextra -Werror stays on everywhere else.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <cmath>

#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/spectrometer/acquisition.hpp"
#include "nmrc/spectrometer/gradient_input.hpp"
#include "nmrc/spectrometer/lines.hpp"
#include "nmrc/spectrometer/sample.hpp"
#include "support/reference.hpp"
#include "support/test_molecules.hpp"

using namespace nmrc;
using namespace nmrc::spectrometer;

namespace {

using nmrc::testing::crotonic;  // tests/support/test_molecules.hpp

Sample sample_of(const Molecule& m) {
  Sample s;
  s.molecule = m;
  return s;
}

// |bits_a><bits_b| + h.c. on 4 spins.
Mat coherence(const std::vector<int>& a, const std::vector<int>& b) {
  Mat r = Mat::Zero(16, 16);
  r(basis_index(a), basis_index(b)) = 1.0;
  r(basis_index(b), basis_index(a)) = 1.0;
  return r;
}

Sequence hard90_acquire(double sw, int td) {
  Sequence s;
  s.name = "thermal_90";
  s.elements.push_back(HardPulseElement{0, kPi / 2, kPi / 2, 25000.0});
  s.elements.push_back(AcquireElement{0, sw, td, 0.0});
  return s;
}

}  // namespace

TEST_CASE("gradients: exact coherence-order filter and explicit z-slices") {
  const Molecule m = crotonic();
  const Mat zq = coherence({0, 1, 0, 0}, {1, 0, 0, 0});  // homonuclear zero quantum C1-C2
  const Mat sq = coherence({0, 0, 0, 0}, {0, 0, 1, 0});  // single quantum of C3
  const Mat dq = coherence({0, 0, 0, 0}, {1, 1, 0, 0});  // double quantum C1-C2
  const Mat pop = Mat::Identity(16, 16) / 16.0;
  const Mat rho = pop + 0.01 * (zq + sq + dq);
  SUBCASE("exact filter keeps zero-quantum coherence and populations") {
    const Mat f = coherence_filter(m, rho);
    CHECK_MAT_NEAR(f, pop + 0.01 * zq, 1e-15);
  }
  SUBCASE("slices: an integer number of turns across the sample averages exactly") {
    Sample s = sample_of(m);
    s.gradient.mode = GradientMode::kSlices;
    s.gradient.slices = 64;
    // One turn per unit coherence order across 1 cm: gamma G tau L = 1.
    GradientElement g{1e-3, 1.0 / (m.gamma_hz_per_gauss(0) * 1e-3 * 1.0), 1.0};
    Sequence seq;
    seq.elements = {g};
    const Mat out = run_sequence(s, seq, rho);
    // The free evolution during the gradient is a diagonal unitary: undo it to compare.
    const Dynamics d(m);
    const Mat u = exact_unitary(d, segments_of(DelayElement{1e-3}, 1));
    CHECK_MAT_NEAR(u.adjoint() * out * u, pop + 0.01 * zq, 1e-12);
    s.gradient.mode = GradientMode::kExact;
    CHECK_MAT_NEAR(run_sequence(s, seq, rho), out, 1e-12);
  }
  SUBCASE("slices refocus a gradient echo; the exact filter, by design, does not") {
    Sample s = sample_of(m);
    s.gradient.mode = GradientMode::kSlices;
    Sequence seq;
    seq.elements = {GradientElement{1e-3, 10.0, 1.0}, GradientElement{1e-3, -10.0, 1.0}};
    const Dynamics d(m);
    const Mat u = exact_unitary(d, segments_of(DelayElement{2e-3}, 1));
    CHECK_MAT_NEAR(run_sequence(s, seq, rho), u * rho * u.adjoint(), 1e-12);
    s.gradient.mode = GradientMode::kExact;
    CHECK_MAT_NEAR(run_sequence(s, seq, rho), u * (pop + 0.01 * zq) * u.adjoint(), 1e-12);
  }
  SUBCASE("heteronuclear zero quantum does not survive") {
    const Molecule c = load_molecule(ref::source_path("molecules/chloroform.yaml"));
    Mat r = Mat::Identity(4, 4) / 4.0;
    r(1, 2) = r(2, 1) = 0.1;  // |01><10|
    CHECK(std::abs(coherence_filter(c, r)(1, 2)) == 0.0);
  }
}

TEST_CASE("a gradient's residual coherence on a uniform sample: the slices and the sinc") {
  const Molecule m = crotonic();
  const double gamma = m.gamma_hz_per_gauss(2);  // C3
  // A gradient winding `turns` turns of a single-quantum coherence across length_cm.
  auto winding = [&](double turns, double length_cm) {
    return GradientElement{1e-3, turns / (gamma * 1e-3 * length_cm), 1.0};
  };
  SUBCASE("the residual is what run_sequence's slices leave of a single-quantum element") {
    Sample s = sample_of(m);
    s.gradient.mode = GradientMode::kSlices;
    s.gradient.slices = 64;
    s.gradient.length_cm = 1.4;
    const GradientElement g = winding(3.37, 1.4);
    const Mat sq = coherence({0, 0, 0, 0}, {0, 0, 1, 0});  // single quantum of C3
    const Mat rho = Mat::Identity(16, 16) / 16.0 + 0.01 * sq;
    Sequence seq;
    seq.elements = {g};
    const Mat out = run_sequence(s, seq, rho);  // free evolution: a phase, not a magnitude
    const auto res = gradient_residual(s, g);
    REQUIRE(res.size() == 4u);
    CHECK(std::abs(out(0, 2)) / 0.01 == doctest::Approx(res[2]).epsilon(1e-12));
    CHECK(res[2] > 0.01);  // 64 slices, 3.37 turns: not dephased
  }
  SUBCASE("many slices: the analytic |sinc(pi T)| of a uniform sample, <= 1/(pi T)") {
    for (double length : {1.0, 1.8})
      for (double turns : {0.37, 3.37, 31.9, 125.5}) {
        Sample s = sample_of(m);
        s.gradient.length_cm = length;
        s.gradient.slices = kMaxGradientSlices;
        const double res = gradient_residual(s, winding(turns, length))[2];
        const double sinc = std::abs(std::sin(kPi * turns) / (kPi * turns));
        CAPTURE(turns);
        CHECK(res == doctest::Approx(sinc).epsilon(1e-5));
        CHECK(res <= 1.0 / (kPi * turns) * (1.0 + 1e-4));  // the slice sum: + (pi T/N)^2/6
      }
    // 100/pi turns: at most 1 % left (the run export's rule, docs/bruker.md)
    Sample s = sample_of(m);
    s.gradient.slices = kMaxGradientSlices;
    CHECK(gradient_residual(s, winding(100.0 / kPi, 1.0))[2] <= 0.01);
  }
}

TEST_CASE("B1 ensemble is the weighted average of its members") {
  const Molecule m = crotonic();
  Sequence seq;
  seq.elements = {HardPulseElement{0, kPi / 2, 0.0, 20000.0}, DelayElement{2e-3}};
  const Mat rho0 = thermal_equilibrium(m).rho;
  Sample s = sample_of(m);
  s.b1_scale = {0.8, 1.1};
  s.b1_weight = {1.0, 3.0};
  const Mat avg = run_sequence(s, seq, rho0);
  Sample a = sample_of(m), b = sample_of(m);
  a.b1_scale = {0.8};
  b.b1_scale = {1.1};
  CHECK_MAT_NEAR(avg, 0.25 * run_sequence(a, seq, rho0) + 0.75 * run_sequence(b, seq, rho0), 1e-15);
  // The Odeint engine executes the same sequence to its tolerance.
  RunOptions o;
  o.engine = Engine::kOdeint;
  const double eps = thermal_equilibrium(m).epsilon;
  CHECK(ref::max_abs_diff(run_sequence(s, seq, rho0, o), avg) < 1e-8 * eps);
  SUBCASE("relaxing: cached superoperators, state propagation and Odeint agree") {
    s.relaxation = true;
    ShapedPulseElement p;
    p.dt_s = 5e-5;
    p.channels = {0};
    p.ux_hz = {RVec::LinSpaced(30, -3000, 3000)};
    p.uy_hz = {RVec::LinSpaced(30, 2000, -1000)};
    seq.elements.push_back(p);
    const Mat exact = run_sequence(s, seq, rho0);
    CHECK(ref::max_abs_diff(run_sequence(s, seq, rho0, o), exact) < 1e-8 * eps);
    s.relaxation = false;
    CHECK(ref::max_abs_diff(run_sequence(s, seq, rho0), exact) > 1e-5 * eps);
  }
  SUBCASE("validation") {
    s.b1_weight = {1.0};
    CHECK_THROWS_WITH_AS(s.validate(), doctest::Contains("one entry per b1 scale"), InputError);
  }
}

TEST_CASE("thermal 90-degree spectrum: 32 lines where the line list says") {
  const Molecule m = crotonic();
  const ThermalState th = thermal_equilibrium(m);
  const ExperimentResult r = run_experiment(sample_of(m), hard90_acquire(15000.0, 16384), th.rho);
  REQUIRE(r.fid.points.size() == 16384);
  SUBCASE("line fit matches the density matrix") {
    const LineReadout fit = measure_lines(m, r.fid);
    const LineReadout truth = measure_lines(m, r.rho_acquired, 0);
    REQUIRE(fit.lines.size() == 32);
    double amax = 0.0, dmax = 0.0;
    for (size_t i = 0; i < 32; ++i) {
      amax = std::max(amax, std::abs(truth.lines[i].amplitude));
      dmax = std::max(dmax, std::abs(fit.lines[i].amplitude - truth.lines[i].amplitude));
    }
    // A thermal line is ~2 epsilon (the state's deviation), matched to 1e-6 of it.
    CHECK(amax == doctest::Approx(2 * th.epsilon).epsilon(0.05));
    CHECK(dmax < 1e-6 * amax);
  }
  SUBCASE("the processed spectrum peaks at the predicted lines") {
    ProcessingOptions po;
    po.zero_fill = 65536;
    const Spectrum sp = process(m, r.fid, po);
    REQUIRE(sp.values.size() == 65536);
    CHECK(sp.hz.front() == doctest::Approx(-7500.0));
    // The strongest point near each well-resolved line lies within one point of it, and the
    // pulse at phase y gives absorption (positive real) lines.
    for (const auto& l : m.lines()) {
      const double f = l.frequency_hz;
      int best = 0;
      double best_v = -1;
      for (size_t i = 0; i < sp.hz.size(); ++i)
        if (std::abs(sp.hz[i] - f) < 0.3 && sp.values[i].real() > best_v) {
          best_v = sp.values[i].real();
          best = static_cast<int>(i);
        }
      CHECK(best_v > 0);
      CHECK(std::abs(sp.hz[best] - f) < 0.3);
    }
    // ppm axis: C4 at 18.0 ppm.
    const auto it = std::min_element(sp.hz.begin(), sp.hz.end(), [](double a, double b) {
      return std::abs(a + 5783.6) < std::abs(b + 5783.6);
    });
    CHECK(sp.ppm[it - sp.hz.begin()] == doctest::Approx(18.0).epsilon(2e-4));
  }
}

TEST_CASE("line fit on arbitrary states, noise and phase cycling") {
  const Molecule m = crotonic();
  const Dynamics d(m);
  const Mat rho = ref::random_density(16, 21);
  const Fid fid = [&] {
    Fid f;
    f.sw_hz = 14000.0;
    f.receiver_phase_rad = 0.7;
    f.points = fid_signal(m, d.h0(), rho, 0, 14000.0, 8192, 0.7);
    return f;
  }();
  SUBCASE("noise-free: every <sigma_x P>, <sigma_y P> to 1e-6") {
    const LineReadout fit = measure_lines(m, fid);
    for (const auto& l : fit.lines) {
      // Independent expectation values: Tr(rho sigma_x^k P_b), built by Kronecker products.
      std::vector<Mat> fx, fy;
      for (int j = 0; j < 4; ++j) {
        Mat proj = Mat::Zero(2, 2);
        if (j != l.spin) proj(l.other_bits[j], l.other_bits[j]) = 1.0;
        fx.push_back(j == l.spin ? pauli('X') : proj);
        fy.push_back(j == l.spin ? pauli('Y') : proj);
      }
      const double ex = (rho * kron_all(fx)).trace().real();
      const double ey = (rho * kron_all(fy)).trace().real();
      CHECK(std::abs(l.sx() - ex) < 1e-6);
      CHECK(std::abs(l.sy() - ey) < 1e-6);
    }
    CHECK(fit.residual_rms < 1e-9);
  }
  SUBCASE("noise: seeded, reproducible, errors as predicted") {
    const ThermalState th = thermal_equilibrium(m);
    Sample s = sample_of(m);
    AcquisitionOptions ao;
    ao.snr = 200;
    ao.seed = 5;
    ao.scans = 4;
    ao.phase_cycle = PhaseCycle::kCyclops;
    const auto seq = hard90_acquire(15000.0, 8192);
    const ExperimentResult a = run_experiment(s, seq, th.rho, ao);
    const ExperimentResult b = run_experiment(s, seq, th.rho, ao);
    CHECK(a.fid.points == b.fid.points);
    ao.seed = 6;
    CHECK(run_experiment(s, seq, th.rho, ao).fid.points != a.fid.points);
    const LineReadout fit = measure_lines(m, a.fid);
    const LineReadout truth = measure_lines(m, a.rho_acquired, 0);
    int within = 0;
    for (size_t i = 0; i < 32; ++i) {
      REQUIRE(fit.lines[i].std_error > 0);
      const double dx = std::abs(fit.lines[i].sx() - truth.lines[i].sx()) / fit.lines[i].std_error;
      within += dx < 2.0;
      CHECK(dx < 5.0);
    }
    CHECK(within >= 26);  // ~95% within 2 sigma
  }
  SUBCASE("CYCLOPS without noise adds the scans coherently") {
    const ThermalState th = thermal_equilibrium(m);
    AcquisitionOptions ao;
    const auto seq = hard90_acquire(15000.0, 1024);
    const Fid one = run_experiment(sample_of(m), seq, th.rho, ao).fid;
    ao.scans = 4;
    ao.phase_cycle = PhaseCycle::kCyclops;
    const Fid four = run_experiment(sample_of(m), seq, th.rho, ao).fid;
    double diff = 0, scale = 0;
    for (size_t j = 0; j < 1024; ++j) {
      diff = std::max(diff, std::abs(four.points[j] - 4.0 * one.points[j]));
      scale = std::max(scale, std::abs(one.points[j]));
    }
    CHECK(diff < 1e-10 * scale);
  }
}

TEST_CASE("direct energy readout: R_y(pi/2) maps sigma_z^k to the lines of spin k (Eq. S18)") {
  const Molecule m = crotonic();
  const Mat rho = ref::random_density(16, 4);
  for (int k = 0; k < 4; ++k) {
    Sequence seq;
    seq.elements = {RotationElement{{k}, kPi / 2, kPi / 2}};
    const Mat after = run_sequence(sample_of(m), seq, rho);
    const LineReadout r = measure_lines(m, after, 0);
    double sum = 0.0;
    for (const auto& l : r.lines)
      if (l.spin == k) sum += l.sx();
    CHECK(sum == doctest::Approx((rho * sigma('z', k, 4)).trace().real()).epsilon(1e-12));
  }
}

TEST_CASE("processing: a single line, zero filling, phases and aliasing") {
  const Molecule m = crotonic();
  Fid f;
  f.sw_hz = 1000.0;
  const int td = 1024;
  const double freq = 1000.0 * 100 / 1024;  // on a bin of the unfilled transform
  for (int j = 0; j < td; ++j)
    f.points.push_back(std::exp(cplx(-0.5 / td * 1000.0, kTwoPi * freq) * (j / 1000.0)));
  Spectrum s = process(m, f);
  const auto peak = std::max_element(s.values.begin(), s.values.end(),
                                     [](cplx a, cplx b) { return std::abs(a) < std::abs(b); });
  const size_t i = peak - s.values.begin();
  CHECK(s.hz[i] == doctest::Approx(freq));
  CHECK(std::abs(peak->imag()) < 0.05 * peak->real());
  ProcessingOptions po;
  po.phase0_rad = kPi / 2;
  po.zero_fill = 4096;
  s = process(m, f, po);
  CHECK(s.values.size() == 4096);
  const size_t j = 4096 / 2 + 400;
  CHECK(s.hz[j] == doctest::Approx(freq));
  CHECK(s.values[j].imag() > 0);
  CHECK(std::abs(s.values[j].real()) < 0.05 * s.values[j].imag());
  SUBCASE("validation") {
    po.zero_fill = 3000;
    CHECK_THROWS_WITH_AS(process(m, f, po), doctest::Contains("power of two"), InputError);
    po.zero_fill = 512;
    CHECK_THROWS_WITH_AS(process(m, f, po), doctest::Contains("must be >= td"), InputError);
  }
  SUBCASE("aliasing") {
    CHECK(folded_lines(m, 0, 15000.0).empty());
    const auto folds = folded_lines(m, 0, 10000.0);
    CHECK(folds.size() == 16);  // C1 and C4
    CHECK(folds.front().find("C1 #1") == 0);
  }
}

TEST_CASE("line operators are the observables behind measure_lines") {
  const Molecule m = crotonic();
  const Mat rho = ref::random_density(16, 17);
  const auto ops = line_operators(m, 0);
  const LineReadout r = measure_lines(m, rho, 0);
  REQUIRE(ops.size() == 32);
  for (size_t i = 0; i < 32; ++i) {
    CHECK(std::abs((rho * ops[i].first).trace() - r.lines[i].sx()) < 1e-14);
    CHECK(std::abs((rho * ops[i].second).trace() - r.lines[i].sy()) < 1e-14);
  }
}
