#include "nmrc/spectrometer/judge.hpp"

#include <cmath>

#include "nmrc/core/error.hpp"
#include "support/pulse_reference.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::spectrometer;

namespace {

Molecule pair_molecule() {
  return parse_molecule(
      "name: two\nspectrometer: {proton_mhz: 400.0}\n"
      "channels: [{name: 13C, max_rf_hz: 10000}]\nnuclei:\n"
      "  - {label: A, isotope: 13C, offset_hz: 650.0, t1_s: 3.0, t2_s: 0.4, t2star_s: 0.3}\n"
      "  - {label: B, isotope: 13C, offset_hz: -420.0, t1_s: 1.5, t2_s: 0.9, t2star_s: 0.3}\n"
      "couplings: [{spins: [A, B], j_hz: 55.0}]\nsources: [test]\n",
      "two.yaml");
}

}  // namespace

TEST_CASE("the judge re-simulates a pulse against its target") {
  const Molecule m = pair_molecule();
  const ShapedPulseElement p = ref::random_pulse(40, 2e-5, 3000.0, 3);
  // The target is the pulse's own propagator by the slow reference (tests/support), so the
  // nominal fidelity is 1 to rounding and B1 errors lower it.
  const Mat w = ref::pulse_propagator(m, p, 1.0, 0.0, 4);
  SUBCASE("correctness") {
    JudgeOptions o;
    o.b1_scale = {0.95, 1.0, 1.05};
    o.offset_hz = {0.0, 30.0};
    o.fidelity_target = 0.9;
    // Progress: one report per stage (nominal, then each of the 6 members), in order.
    std::vector<int> done_seen;
    o.progress = [&done_seen](int done, int total, const std::string&) {
      CHECK(total == 7);
      done_seen.push_back(done);
    };
    const Judgement j = judge_pulse(m, p, {w, 0.0, true}, o);
    CHECK(done_seen == std::vector<int>{0, 1, 2, 3, 4, 5, 6});
    o.progress = nullptr;
    CHECK(j.nominal == doctest::Approx(1.0).epsilon(1e-10));
    REQUIRE(j.values.size() == 6);
    CHECK(j.b1_scale == std::vector<double>{0.95, 0.95, 1.0, 1.0, 1.05, 1.05});
    CHECK(j.offset_hz == std::vector<double>{0.0, 30.0, 0.0, 30.0, 0.0, 30.0});
    CHECK(j.values[2] == doctest::Approx(1.0).epsilon(1e-10));
    // Each member against the slow reference with the same B1 scale and offset.
    for (size_t i = 0; i < j.values.size(); ++i) {
      const Mat u = ref::pulse_propagator(m, p, j.b1_scale[i], j.offset_hz[i], 4);
      CHECK(j.values[i] == doctest::Approx(std::abs((w.adjoint() * u).trace()) / 4).epsilon(1e-9));
    }
    CHECK(j.min < 0.9999);
    CHECK(j.passed == (j.min >= 0.9));
    CHECK(j.engine == "spectrometer exact");
    // The Odeint engine agrees with the exact one.
    o.engine = Engine::kOdeint;
    const Judgement jo = judge_pulse(m, p, {w, 0.0, true}, o);
    for (size_t i = 0; i < j.values.size(); ++i)
      CHECK(jo.values[i] == doctest::Approx(j.values[i]).epsilon(1e-8));
    CHECK(jo.engine == "spectrometer odeint");
    // A target no member reaches fails.
    o.engine = Engine::kExact;
    o.fidelity_target = 1.0;
    CHECK_FALSE(judge_pulse(m, p, {w, 0.0, true}, o).passed);
  }
  SUBCASE("validation: options, target size, and NaN never passes") {
    JudgeOptions o;
    o.fidelity_target = 0.0;
    CHECK_THROWS_WITH_AS(judge_pulse(m, p, {w, 0.0, true}, o),
                         doctest::Contains("fidelity_target = 0: must be in (0, 1]"), InputError);
    o = {};
    o.b1_scale = {1.0, -0.5};
    CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("b1_scale = [1, -0.5]: every entry"),
                         InputError);
    CHECK_THROWS_WITH_AS(judge_pulse(m, p, {Mat::Identity(8, 8), 0.0, true}),
                         doctest::Contains("target is 8x8"), InputError);
    const Mat nan_target = Mat::Constant(4, 4, cplx(std::nan(""), 0.0));
    const Judgement j = judge_pulse(m, p, {nan_target, 0.0, true});
    CHECK(std::isnan(j.min));
    CHECK_FALSE(j.passed);
  }
  SUBCASE("up to diagonal phases: W D passes as W, with and without relaxation") {
    Vec phases(4);
    for (int k = 0; k < 4; ++k) phases(k) = std::polar(1.0, 0.8 * k + 0.3);
    const Mat target = w * phases.conjugate().asDiagonal();  // the pulse makes W = target D
    JudgeOptions o;
    o.b1_scale = {0.95, 1.0, 1.05};
    o.fidelity_target = 0.9;
    o.relaxation = true;
    const Judgement strict = judge_pulse(m, p, {target, 0.0, true, false}, o);
    const Judgement free = judge_pulse(m, p, {target, 0.0, true, true}, o);
    const Judgement exact = judge_pulse(m, p, {w, 0.0, true, false}, o);
    CHECK(strict.nominal < 0.9);
    CHECK_FALSE(strict.passed);
    CHECK(free.nominal == doctest::Approx(1.0).epsilon(1e-10));
    CHECK(free.passed);
    for (size_t i = 0; i < free.values.size(); ++i) {
      const Mat u = ref::pulse_propagator(m, p, free.b1_scale[i], free.offset_hz[i], 4);
      double s = 0;
      for (int k = 0; k < 4; ++k) s += std::abs((target.adjoint() * u)(k, k));
      CHECK(free.values[i] == doctest::Approx(s / 4).epsilon(1e-9));
      CHECK(free.values[i] >= exact.values[i] - 1e-12);
    }
    // The relaxed process fidelity is taken against W D with D fitted at nominal B1: here W.
    REQUIRE(free.process_relaxed.size() == 1);
    CHECK(free.process_relaxed[0] == doctest::Approx(exact.process_relaxed[0]).epsilon(1e-8));
    CHECK(free.process_relaxed[0] > strict.process_relaxed[0]);
  }
}
