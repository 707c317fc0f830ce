// GCC 12 at -O3 reports moves of sequence elements (std::variant) into vectors as "may be used
// uninitialized", a known false positive on variant moves (e.g. boostorg/variant2 issue 55).
// Silenced for this file only, so -Wall -Wextra -Werror stays on everywhere else.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "nmrc/spectrometer/preparation.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/states.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "support/reference.hpp"
#include "support/test_molecules.hpp"

using namespace nmrc;
using namespace nmrc::spectrometer;

namespace {

using nmrc::testing::crotonic;  // tests/support/test_molecules.hpp

// Eq. (S15) as typed from the paper (independent of the library's table), in units of the
// thermal coefficient; keys list the (1-based) spins carrying sigma_z.
std::map<std::string, double> paper_terms(int step) {
  auto z = [](std::initializer_list<int> on) {
    std::string p = "IIII";
    for (int k : on) p[k - 1] = 'Z';
    return p;
  };
  switch (step) {
    case 0:
      return {{z({1}), 1}, {z({2}), 1}, {z({3}), 1}, {z({4}), 1}};
    case 1:
      return {{z({1}), 1}, {z({2}), 0.5}, {z({3}), 0.25}, {z({4}), 0.125}};
    case 2:  // printed line plus the missing sigma_z^3 / 8
      return {{z({1, 2, 3}), 0.5}, {z({1, 2, 3, 4}), 0.5}, {z({2, 3}), 0.25}, {z({2, 3, 4}), 0.25},
              {z({3, 4}), 0.125},  {z({4}), 0.125},        {z({3}), 0.125}};
    case 3:
      return {{z({1, 2, 3}), 0.25},  {z({1, 2}), 0.25},  {z({1, 2, 3, 4}), 0.25},
              {z({1, 2, 4}), 0.25},  {z({2}), 0.125},    {z({2, 3}), 0.125},
              {z({2, 3, 4}), 0.125}, {z({2, 4}), 0.125}, {z({3}), 0.125},
              {z({3, 4}), 0.125},    {z({4}), 0.125}};
    default: {
      std::map<std::string, double> t;
      for (int m = 1; m < 16; ++m) {
        std::string p = "IIII";
        for (int k = 0; k < 4; ++k)
          if (m >> k & 1) p[k] = 'Z';
        t[p] = 0.125;
      }
      return t;
    }
  }
}

// Dense diagonal (populations) of a Pauli-Z expansion on 4 spins.
RVec populations_of(const std::map<std::string, double>& terms) {
  RVec p = RVec::Zero(16);
  for (const auto& [s, a] : terms)
    for (int b = 0; b < 16; ++b) {
      double v = a;
      for (int k = 0; k < 4; ++k)
        if (s[k] == 'Z' && spin_bit(b, k, 4)) v = -v;
      p(b) += v;
    }
  return p;
}

// Largest |coefficient / scale - expected| over all Pauli strings (missing = 0).
double term_error(const Mat& rho, double scale, const std::map<std::string, double>& expected) {
  const auto got = pauli_coefficients(deviation(rho), 0.0);
  double worst = 0.0;
  for (const auto& [p, a] : got) {
    const auto e = expected.find(p);
    worst = std::max(worst, std::abs(a / scale - (e == expected.end() ? 0.0 : e->second)));
  }
  for (const auto& [p, a] : expected)
    if (!got.count(p)) worst = std::max(worst, std::abs(a));
  return worst;
}

// Ideal reference: every element applied as a dense 16x16 unitary, every gradient as full
// dephasing (all off-diagonal elements removed).
Mat ideal_run(const std::vector<Element>& elements, Mat rho, int n, bool* zq_free = nullptr) {
  for (const auto& e : elements) {
    if (const auto* r = std::get_if<RotationElement>(&e)) {
      for (int k : r->spins) {
        const Mat u =
            ref::rotation(r->angle_rad, std::cos(r->phase_rad), std::sin(r->phase_rad), 0);
        const Mat big = ref::single(u, k, n);
        rho = big * rho * big.adjoint();
      }
    } else if (const auto* u = std::get_if<UnitaryElement>(&e)) {
      const Mat big = embed(u->unitary, u->spins, n);
      rho = big * rho * big.adjoint();
    } else if (std::holds_alternative<GradientElement>(e)) {
      // Zero-quantum check: a homonuclear gradient leaves Delta m = 0 coherences alone.
      for (int a = 0; a < rho.rows(); ++a)
        for (int b = 0; b < rho.cols(); ++b) {
          if (a == b) continue;
          int dm = 0;
          for (int k = 0; k < n; ++k) dm += spin_bit(b, k, n) - spin_bit(a, k, n);
          if (dm == 0 && std::abs(rho(a, b)) > 1e-14 && zq_free) *zq_free = false;
        }
      rho = Mat(rho.diagonal().asDiagonal());
    }
  }
  return rho;
}

Sample exact_sample() {
  Sample s;
  s.molecule = crotonic();
  return s;
}

}  // namespace

TEST_CASE("Eq. (S15) as printed: step 2 cannot precede step 3") {
  SUBCASE("correctness") {
    // Unitaries and gradients are unital: the populations after any of them are majorised by
    // the spectrum before. The printed second line's largest population (14/8) is below the
    // third line's (15/8): impossible. With sigma_z^3/8 added the largest is 15/8.
    const RVec printed = populations_of(eq_s15_printed_step2());
    const RVec corrected = populations_of(paper_terms(2));
    const RVec third = populations_of(paper_terms(3));
    CHECK(printed.maxCoeff() == doctest::Approx(14.0 / 8));
    CHECK(third.maxCoeff() == doctest::Approx(15.0 / 8));
    CHECK(corrected.maxCoeff() == doctest::Approx(15.0 / 8));
    // The library's table is the paper's, with the correction.
    for (int s = 0; s <= 4; ++s) CHECK(eq_s15_terms(s) == paper_terms(s));
  }
}

TEST_CASE("pseudo-pure state by spatial averaging, Eqs. (S13)-(S15)") {
  const Sample sample = exact_sample();
  const std::vector<int> spins{0, 1, 2, 3};
  SUBCASE("correctness: each intermediate is Eq. (S15) term by term (equalised polarisations)") {
    PpsOptions o;
    o.compensate_polarization = true;
    const auto steps = pps_steps(sample.molecule, spins, o);
    const PpsResult r = run_pps(sample, spins, steps);
    REQUIRE(r.after_step.size() == 4);
    // Step 0 has the molecule's own (slightly unequal) polarisations: 1 + O(1e-4).
    CHECK(r.step_deviation[0] < 2e-4);
    for (int s = 1; s <= 4; ++s) {
      CAPTURE(s);
      // The stored physical matrix holds the 1e-7 deviation on top of I/16: ~1e-11 rounding.
      CHECK(term_error(r.after_step[s - 1], r.thermal_epsilon, paper_terms(s)) < 1e-9);
      CHECK(r.step_deviation[s] < 1e-12);
    }
    // Eq. (S13): deviation = epsilon (|0000><0000| - I/16) with epsilon = 2 x Eq. (S14)'s.
    CHECK(r.fit.epsilon == doctest::Approx(2.0 * r.thermal_epsilon).epsilon(1e-12));
    CHECK(r.fit.error < 1e-12);
    CHECK(validate_density_matrix(r.rho_after, 1e-12).ok);
  }
  SUBCASE("correctness: the paper's angles leave a 1e-4 error from unequal chemical shifts") {
    const auto steps = pps_steps(sample.molecule, spins);
    const PpsResult r = run_pps(sample, spins, steps);
    CHECK(r.fit.error < 2e-4);
    CHECK(r.fit.error > 1e-5);  // measured 4.0e-5: the polarisations differ by up to 1.6e-4
    CHECK(r.fit.epsilon == doctest::Approx(2.0 * r.thermal_epsilon).epsilon(1e-3));
  }
  SUBCASE("correctness: no zero-quantum coherence ever meets a gradient; ideal reference") {
    const auto steps = pps_steps(sample.molecule, spins);  // the paper's angles
    bool zq_free = true;
    Mat rho = Mat::Zero(16, 16);
    for (int k = 0; k < 4; ++k) rho += sigma('Z', k, 4);  // Eq. (S14) without scale
    for (int s = 0; s < 4; ++s) {
      rho = ideal_run(steps[s].elements, rho, 4, &zq_free);
      CHECK(term_error(rho + Mat::Identity(16, 16) / 16.0, 1.0, paper_terms(s + 1)) < 1e-12);
    }
    CHECK(zq_free);
  }
  SUBCASE("correctness: explicit slice-averaging gradients agree with the exact filter") {
    Sample sl = sample;
    sl.gradient.mode = GradientMode::kSlices;
    sl.gradient.slices = 1024;  // > 2 x (1 + 5 + 25 + 125) x 4 turns: no aliasing
    PpsOptions o;
    o.compensate_polarization = true;
    const auto steps = pps_steps(sl.molecule, spins, o);
    const PpsResult r = run_pps(sl, spins, steps);
    CHECK(r.fit.error < 1e-10);
    for (int s = 1; s <= 4; ++s) CHECK(r.step_deviation[s] < 1e-10);
  }
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(pps_steps(sample.molecule, {0, 1, 2}), doctest::Contains("needs 4"),
                         InputError);
    CHECK_THROWS_WITH_AS(pps_steps(sample.molecule, {0, 1, 2, 7}),
                         doctest::Contains("not a spin of the molecule"), InputError);
    CHECK_THROWS_WITH_AS(pps_steps(sample.molecule, {0, 1, 1, 2}),
                         doctest::Contains("spin listed twice"), InputError);
    PpsOptions bad;
    bad.twists = {1, 5, -1, 3};
    CHECK_THROWS_WITH_AS(pps_steps(sample.molecule, spins, bad),
                         doctest::Contains("pps.twists[2] = -1: must be > 0"), InputError);
  }
}

TEST_CASE("the preparation's gradients kill single- and multi-quantum coherence, not ZQ") {
  SUBCASE("correctness") {
    for (GradientMode mode : {GradientMode::kExact, GradientMode::kSlices}) {
      Sample s = exact_sample();
      s.gradient.mode = mode;
      GradientPlan plan;
      Sequence seq;
      seq.elements.push_back(plan.element(1.0, s.molecule.gamma_hz_per_gauss(0)));
      Mat rho = Mat::Identity(16, 16) / 16.0;
      const int a = 0;  // |0000>
      const std::vector<std::pair<int, int>> killed{{a, 1}, {a, 3}, {a, 7}, {a, 15}, {2, 13}};
      for (auto [i, j] : killed) rho(i, j) = rho(j, i) = 0.01;  // orders 1, 2, 3, 4, 2 (mixed)
      rho(1, 2) = rho(2, 1) = 0.02;                             // |0001><0010|: zero quantum
      const Mat out = run_sequence(s, seq, rho);
      CAPTURE(static_cast<int>(mode));
      for (auto [i, j] : killed) CHECK(std::abs(out(i, j)) < 1e-15);
      CHECK(std::abs(out(1, 2)) == doctest::Approx(0.02).epsilon(1e-12));  // survives (precesses)
    }
  }
}

TEST_CASE("fit_pps and pseudo_state") {
  SUBCASE("correctness") {
    Mat sigma = Mat::Zero(16, 16);
    sigma(0, 0) = 1.0;
    const Mat rho = from_pseudo_state(sigma, 3e-6);
    const PpsFit f = fit_pps(rho);
    CHECK(f.epsilon == doctest::Approx(3e-6).epsilon(1e-9));
    CHECK(f.error < 1e-9);
    CHECK_MAT_NEAR(pseudo_state(rho, 3e-6), sigma, 1e-9);
    Mat off = rho;
    off(1, 2) = off(2, 1) = 1e-6;  // a deviation orthogonal to the PPS pattern
    const double nd = deviation(off).norm();
    CHECK(fit_pps(off).error == doctest::Approx(std::sqrt(2e-12) / nd).epsilon(1e-9));
  }
}

TEST_CASE("bath particle: rotation + 1 ms gradient gives thermal populations") {
  const Sample sample = exact_sample();
  SUBCASE("correctness") {
    for (double t : {0.3, 0.9, 1.0, 5.0}) {
      CAPTURE(t);
      const Sequence seq = bath_sequence(sample.molecule, 3, t);
      const auto* g = std::get_if<GradientElement>(&seq.elements.back());
      REQUIRE(g);
      CHECK(g->duration_s == 1e-3);
      Mat pure = Mat::Zero(16, 16);
      pure(0, 0) = 1.0;  // pseudo-pure |0000>
      const Mat out = run_sequence(sample, seq, pure);
      const double p0 = 1.0 / (1.0 + std::exp(-1.0 / t));
      Mat want = Mat::Zero(16, 16);
      want(0, 0) = p0;
      want(1, 1) = 1.0 - p0;  // |0001>: spin C4 excited
      CHECK_MAT_NEAR(out, want, 1e-14);
      CHECK_MAT_NEAR(ref::partial_trace(out, {3}, 4), thermal_qubit(t), 1e-14);
    }
  }
  SUBCASE("correctness: from the physical PPS, relative to its epsilon") {
    PpsOptions o;
    o.compensate_polarization = true;
    const std::vector<int> spins{0, 1, 2, 3};
    const PpsResult pps = run_pps(sample, spins, pps_steps(sample.molecule, spins, o));
    const Mat out = run_deviation(sample, bath_sequence(sample.molecule, 3, 0.9), pps.rho_after);
    const Mat sigma = pseudo_state(out, pps.fit.epsilon);
    CHECK_MAT_NEAR(ref::partial_trace(sigma, {3}, 4), thermal_qubit(0.9), 1e-10);
    CHECK(std::abs(sigma(0, 0) - thermal_qubit(0.9)(0, 0)) < 1e-10);
  }
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(bath_rotation_angle(-1.0),
                         doctest::Contains("bath.temperature = -1: must be > 0"), InputError);
    CHECK_THROWS_WITH_AS(bath_sequence(sample.molecule, 4, 1.0),
                         doctest::Contains("not a spin of the molecule"), InputError);
  }
}

TEST_CASE("Eq. (1): coherent thermal state") {
  SUBCASE("correctness") {
    const std::vector<double> temps{1.0, 0.7, 2.0};
    const std::vector<PairCoherence> coh{{0, 1, cplx(-0.3, 0.1)}, {1, 2, 0.2}, {0, 2, -0.25}};
    const Mat rho = coherent_thermal_state(temps, coh);
    CHECK(std::abs(rho.trace() - 1.0) < 1e-14);
    // Local states unchanged (the coherence lives on |0_p 1_q><1_p 0_q| only).
    for (int k = 0; k < 3; ++k)
      CHECK_MAT_NEAR(ref::partial_trace(rho, {k}, 3), thermal_qubit(temps[k]), 1e-14);
    // [H_S, rho] = 0 with H_S = -(1/2) sum Z_k (docs/conventions.md).
    Mat h = Mat::Zero(8, 8);
    for (int k = 0; k < 3; ++k) h -= 0.5 * sigma('Z', k, 3);
    CHECK((h * rho - rho * h).norm() < 1e-14);
    // One element by hand: <0_1 1_2 0_3| rho |1_1 0_2 0_3> = c_12 sqrt(P0_1 P1_1 P0_2 P1_2) P0_3.
    const auto [a0, a1] = thermal_populations(1.0);
    const auto [b0, b1] = thermal_populations(0.7);
    const auto [c0, c1] = thermal_populations(2.0);
    (void)c1;
    CHECK(std::abs(rho(basis_index({0, 1, 0}), basis_index({1, 0, 0})) -
                   cplx(-0.3, 0.1) * std::sqrt(a0 * a1 * b0 * b1) * c0) < 1e-15);
    // Fig. 3's c = -0.5 with T_k = 1 sits on the positivity boundary (eigenvalue 0).
    std::vector<PairCoherence> fig3{{0, 1, -0.5}, {0, 2, -0.5}, {1, 2, -0.5}};
    const Mat f3 = coherent_thermal_state({1, 1, 1}, fig3);
    CHECK(std::abs(hermitian_eigenvalues(f3)(0)) < 1e-15);
  }
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(coherent_thermal_state({1.0, 0.0}, {}),
                         doctest::Contains("temperatures[1] = 0: must be > 0"), InputError);
    CHECK_THROWS_WITH_AS(coherent_thermal_state({1.0, 1.0}, {{1, 1, 0.1}}),
                         doctest::Contains("coherences[0] = [1, 1]: must name two different spins"),
                         InputError);
  }
}

TEST_CASE("diagonalize_near_identity") {
  SUBCASE("correctness: random states") {
    for (unsigned seed = 1; seed <= 5; ++seed) {
      const Mat rho = ref::random_density(8, seed);
      const Diagonalization dz = diagonalize_near_identity(rho);
      CHECK((dz.u_d.adjoint() * dz.u_d - Mat::Identity(8, 8)).norm() < 1e-13);
      const Mat back = dz.u_d * dz.rho_d.cast<cplx>().asDiagonal() * dz.u_d.adjoint();
      CHECK_MAT_NEAR(back, rho, 1e-14);
      // The rule: each column's own basis overlap is real and positive.
      for (int i = 0; i < 8; ++i) {
        CHECK(std::abs(dz.u_d(i, i).imag()) < 1e-14);
        CHECK(dz.u_d(i, i).real() > 0.0);
      }
    }
  }
  SUBCASE("correctness: nearly diagonal states give nearly the identity") {
    Mat rho = Mat::Zero(4, 4);
    rho.diagonal() << 0.1, 0.4, 0.3, 0.2;
    CHECK_MAT_NEAR(diagonalize_near_identity(rho).u_d, Mat::Identity(4, 4), 0.0);
    rho(1, 2) = cplx(0.0, 1e-3);
    rho(2, 1) = cplx(0.0, -1e-3);
    const Diagonalization dz = diagonalize_near_identity(rho);
    CHECK((dz.u_d - Mat::Identity(4, 4)).norm() < 2e-2);
    CHECK(dz.rho_d(1) == doctest::Approx(0.4).epsilon(1e-4));
  }
  SUBCASE("correctness: degenerate eigenvalues (Fig. 3, c = -0.5)") {
    std::vector<PairCoherence> fig3{{0, 1, -0.5}, {0, 2, -0.5}, {1, 2, -0.5}};
    const Mat rho = coherent_thermal_state({1, 1, 1}, fig3);
    const Diagonalization dz = diagonalize_near_identity(rho);
    CHECK((dz.u_d.adjoint() * dz.u_d - Mat::Identity(8, 8)).norm() < 1e-13);
    CHECK_MAT_NEAR(dz.u_d * dz.rho_d.cast<cplx>().asDiagonal() * dz.u_d.adjoint(), rho, 1e-14);
    // |000> and |111> carry no coherence: they stay put.
    CHECK(std::abs(dz.u_d(0, 0) - 1.0) < 1e-14);
    CHECK(std::abs(dz.u_d(7, 7) - 1.0) < 1e-14);
  }
}

TEST_CASE("temporal averaging: weighted experiments rebuild the requested state") {
  const Sample sample = exact_sample();
  const std::vector<int> system{0, 1, 2};
  auto rebuild = [&](const Mat& target, const Mat& pps_pseudo) {
    const TemporalAveragingPlan plan = plan_temporal_averaging(target, system, 4);
    std::vector<WeightedOutcome> outs;
    for (const auto& e : plan.experiments) {
      const Mat out = run_sequence(sample, experiment_sequence(plan, e), pps_pseudo);
      outs.push_back({e.weight, ref::partial_trace(out, {0, 1, 2}, 4)});
    }
    double wsum = 0.0;
    for (const auto& o : outs) wsum += o.weight;
    // Zero-weight experiments are omitted; the rest sum to one.
    CHECK(std::abs(wsum - 1.0) < 1e-12);
    return temporal_average(outs);
  };
  Mat pure = Mat::Zero(16, 16);
  pure(0, 0) = 1.0;
  SUBCASE("correctness: random states") {
    for (unsigned seed = 11; seed <= 15; ++seed) {
      const Mat rho = ref::random_density(8, seed);
      CHECK_MAT_NEAR(rebuild(rho, pure), rho, 1e-12);
    }
  }
  SUBCASE("correctness: Fig. 3's state (T_k = 1, c_pq = -0.5) from the physical PPS") {
    std::vector<PairCoherence> fig3{{0, 1, -0.5}, {0, 2, -0.5}, {1, 2, -0.5}};
    const Mat rho = coherent_thermal_state({1, 1, 1}, fig3);
    CHECK_MAT_NEAR(rebuild(rho, pure), rho, 1e-12);
    PpsOptions o;
    o.compensate_polarization = true;
    const std::vector<int> spins{0, 1, 2, 3};
    const PpsResult pps = run_pps(sample, spins, pps_steps(sample.molecule, spins, o));
    // Linear in the input: running on the physical state and then removing the identity
    // part gives the same pseudo-state (to the PPS error, 1e-12 relative here).
    const TemporalAveragingPlan plan = plan_temporal_averaging(rho, system, 4);
    std::vector<WeightedOutcome> outs;
    for (const auto& e : plan.experiments) {
      const Mat out = run_deviation(sample, experiment_sequence(plan, e), pps.rho_after);
      outs.push_back({e.weight, pseudo_state(out, pps.fit.epsilon)});
    }
    const Mat got = ref::partial_trace(temporal_average(outs), {0, 1, 2}, 4);
    // Measured 3.8e-12: the physical matrices carry the 7.6e-7 PPS deviation on top of I/16.
    CHECK_MAT_NEAR(got, rho, 1e-10);
  }
  SUBCASE("validation") {
    std::vector<PairCoherence> too_much{{0, 1, -0.8}, {0, 2, -0.8}, {1, 2, -0.8}};
    const Mat bad = coherent_thermal_state({1, 1, 1}, too_much);
    CHECK_THROWS_WITH_AS(plan_temporal_averaging(bad, system, 4),
                         doctest::Contains("state: not positive"), InputError);
    CHECK_THROWS_WITH_AS(plan_temporal_averaging(ref::random_density(8, 3), {0, 1, 5}, 4),
                         doctest::Contains("spins[2] = 5"), InputError);
    CHECK_THROWS_WITH_AS(validate_weights({0.5, -0.1, 0.6}),
                         doctest::Contains("weights[1] = -0.1: must be >= 0"), InputError);
    CHECK_THROWS_WITH_AS(validate_weights({0.5, 0.6}),
                         doctest::Contains("weights: sum = 1.1: must be 1"), InputError);
    CHECK_THROWS_WITH_AS(temporal_average({{0.7, pure}, {0.7, pure}}),
                         doctest::Contains("must be 1"), InputError);
  }
}

TEST_CASE("unitary and density JSON") {
  SUBCASE("correctness") {
    const Mat u = ref::random_unitary(4, 7);
    const auto j = nlohmann::json::parse(unitary_json(u, {"C1", "C2"}));
    CHECK(j["format"] == "nmrc-unitary/1");
    CHECK(j["spins"][1] == "C2");
    Mat back(4, 4);
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c)
        back(r, c) = cplx(j["real"][r][c].get<double>(), j["imag"][r][c].get<double>());
    CHECK_MAT_NEAR(back, u, 0.0);
  }
  SUBCASE("correctness: the committed U_d of Fig. 3's c = -0.5 state is current") {
    std::vector<PairCoherence> fig3{{0, 1, -0.5}, {0, 2, -0.5}, {1, 2, -0.5}};
    const Mat rho = coherent_thermal_state({1, 1, 1}, fig3);
    const TemporalAveragingPlan plan = plan_temporal_averaging(rho, {0, 1, 2}, 4);
    const auto j = nlohmann::json::parse(
        read_file(ref::source_path("sequences/preparation/ud_fig3_c-0.5.json")));
    CHECK(j["format"] == "nmrc-unitary/1");
    CHECK(j["spins"] == nlohmann::json({"C1", "C2", "C3"}));
    Mat ud(8, 8);
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 8; ++c)
        ud(r, c) = cplx(j["real"][r][c].get<double>(), j["imag"][r][c].get<double>());
    CHECK_MAT_NEAR(ud, plan.u_d, 1e-12);
    CHECK_MAT_NEAR(ud * plan.rho_d * ud.adjoint(), rho, 1e-12);
  }
}
