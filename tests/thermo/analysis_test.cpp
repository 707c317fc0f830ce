// The analysis behind nmrc theory: predictor checks against the first collision, the master-
// equation comparison, coherence sweeps, and whole programs, each against an independent run or
// a closed form.
#include "nmrc/thermo/analysis.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <string>

#include "nmrc/thermo/observables.hpp"
#include "paper_params.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::thermo;

namespace {

using testing::fig3;  // tests/thermo/paper_params.hpp

// l1 coherence as all |entries| minus the diagonal ones (independent of core's loop).
double l1_by_hand(const Mat& m) { return m.cwiseAbs().sum() - m.diagonal().cwiseAbs().sum(); }

}  // namespace

TEST_CASE("heat directions") {
  CHECK(direction_of_heat(1e-3) == HeatDirection::kAbsorb);
  CHECK(direction_of_heat(-1e-3) == HeatDirection::kRelease);
  CHECK(direction_of_heat(1e-15) == HeatDirection::kNone);
  CHECK(std::string(direction_name(HeatDirection::kAbsorb)) == "absorb");
  CHECK(std::string(direction_name(HeatDirection::kRelease)) == "release");
  CHECK(std::string(direction_name(HeatDirection::kNone)) == "none");
}

TEST_CASE("predictor checks: Eqs. (51)-(52) per subsystem, Eqs. (72)-(75) for two") {
  SUBCASE("Fig. 3 with c = -0.5: S2 and S3 absorb heat from the colder bath") {
    ModelParams p = fig3(-0.5, 1);
    p.g = 2.0;  // theta = 0.02, close to the limit the predictors are derived in
    const Trajectory t = run_collision_model(p);
    const PredictorChecks pc = check_predictors(p, t);
    REQUIRE(pc.subsystems.size() == 3);
    for (int k = 0; k < 3; ++k) {
      const auto& c = pc.subsystems[k];
      CHECK(c.natural == HeatDirection::kRelease);  // T_k = 1 > T_R = 0.9
      CHECK(c.one_way_coherence == t.steps[0].at.one_way[k]);
      CHECK(c.threshold == reversal_threshold(1.0, 0.9));
      CHECK(c.first_collision_heat_in ==
            doctest::Approx(t.steps[3].energy[k] - t.steps[0].energy[k]).epsilon(1e-15));
      REQUIRE(c.compared);
      CHECK(c.reversed == (c.first_collision == HeatDirection::kAbsorb));
      CHECK(c.agrees);
    }
    // S1 meets the bath first and has no one-way coherence: it releases; S2, S3 reverse.
    CHECK(pc.subsystems[0].first_collision == HeatDirection::kRelease);
    CHECK(pc.subsystems[1].first_collision == HeatDirection::kAbsorb);
    CHECK(pc.subsystems[2].first_collision == HeatDirection::kAbsorb);
    CHECK(pc.agree == 3);
    CHECK(pc.compared == 3);
    CHECK_FALSE(pc.two_subsystems);
  }
  SUBCASE("two subsystems: Eq. (72) is exact at finite theta") {
    ModelParams p = fig3(0.0, 1);
    p.names = {"S1", "S2"};
    p.temperatures = {1.3, 0.7};
    p.order = {1, 0};  // S2 meets the bath first
    p.coherences = {{0, 1, std::polar(0.6, 2.5)}};
    const PredictorChecks pc = check_predictors(p, run_collision_model(p));
    REQUIRE(pc.two_subsystems);
    const auto& two = *pc.two_subsystems;
    CHECK(two.second_subsystem == 0);
    CHECK(two.heat_to_bath_simulated ==
          doctest::Approx(two.heat_to_bath_eq72).epsilon(1e-10).scale(1e-3));
    // The pair is listed as (S1, S2), the order is S2 then S1: c_21 = conj(c_12) enters.
    const auto [a0, a1] = populations(0.7);
    const auto [b0, b1] = populations(1.3);
    CHECK(two.two_lambda_cos_alpha ==
          doctest::Approx(2.0 * 0.6 * std::cos(-2.5) * std::sqrt(a0 * a1 * b0 * b1)));
    CHECK(two.threshold == reversal_threshold(1.3, 0.9));
    CHECK(two.reversal_predicted == reversal_predicted(two.two_lambda_cos_alpha, 1.3, 0.9));
  }
}

TEST_CASE("master-equation comparison at the collision ends") {
  // One subsystem: the state stays diagonal, AT_1 is its temperature and the current flows
  // toward the bath's temperature at every time.
  ModelParams p;
  p.names = {"S"};
  p.temperatures = {1.5};
  p.bath_temperature = 0.9;
  p.order = {0};
  p.collisions = 40;
  const Trajectory t = run_collision_model(p);
  const auto c = compare_master_equation(p, t);
  REQUIRE(c.points.size() == 41);
  // At t = 0 both start from the thermal qubit: E = (P1 - P0)/2.
  const auto [q0, q1] = populations(1.5);
  CHECK(c.points[0].energy_me[0] == doctest::Approx((q1 - q0) / 2).epsilon(1e-14));
  CHECK(c.points[0].energy_cm[0] == doctest::Approx((q1 - q0) / 2).epsilon(1e-14));
  double maxdiff = 0.0;
  for (size_t m = 0; m < c.points.size(); ++m) {
    CHECK(c.points[m].collision == static_cast<int>(m));
    CHECK(c.points[m].t == doctest::Approx(m * p.tau));
    CHECK(c.points[m].energy_cm[0] == t.steps[m].energy[0]);
    maxdiff = std::max(maxdiff, std::abs(c.points[m].energy_me[0] - c.points[m].energy_cm[0]));
    CHECK(c.points[m].heat_current_me[0] < 0.0);  // hotter than the bath: releases
  }
  CHECK(c.max_energy_difference == maxdiff);
  CHECK(c.max_energy_difference < 1e-2);  // O(tau) at tau = 0.01 (Eq. (41))
  CHECK(c.direction_checks == 41);
  CHECK(c.direction_agreements == 41);

  // Halving tau at fixed g^2 tau keeps the master equation: the difference shrinks (O(tau)).
  ModelParams h = p;
  h.tau = p.tau / 2;
  h.g = p.g * std::sqrt(2.0);
  h.collisions = 2 * p.collisions;
  const auto ch = compare_master_equation(h, run_collision_model(h));
  CHECK(ch.max_energy_difference < 0.75 * c.max_energy_difference);
}

TEST_CASE("coherence sweeps") {
  ModelParams base = fig3(0.0, 20);
  base.coherences = {{1, 0, cplx(0.2, 0.1)}, {1, 2, -0.1}};  // (S2, S1) replaced by the sweep
  const SweepSpec sw{0, 1, {-0.4, 0.0, 0.3}};
  const auto items = sweep_items(base, sw);
  REQUIRE(items.size() == 3);
  for (size_t i = 0; i < items.size(); ++i) {
    REQUIRE(items[i].coherences.size() == 2);
    CHECK(items[i].coherences[0].p == 1);
    CHECK(items[i].coherences[0].q == 2);
    CHECK(items[i].coherences[1].c == cplx(sw.values[i], 0.0));
  }
  int reported = 0;
  const auto pts = run_sweep(base, sw, [&](int, int total) {
    ++reported;
    CHECK(total == 3);
  });
  CHECK(reported == 3);
  REQUIRE(pts.size() == 3);
  for (size_t i = 0; i < pts.size(); ++i) {
    // Each point is the run of its own parameters, started afresh.
    const Trajectory t = run_collision_model(items[i]);
    const StepRecord &a = t.steps.front(), &z = t.steps.back();
    CHECK(pts[i].c == sw.values[i]);
    for (int k = 0; k < 3; ++k)
      CHECK(pts[i].delta_energy[k] == doctest::Approx(z.energy[k] - a.energy[k]).epsilon(1e-12));
    CHECK(pts[i].delta_system_energy ==
          doctest::Approx(z.system_energy - a.system_energy).epsilon(1e-12));
    CHECK(pts[i].heat_to_bath == doctest::Approx(-pts[i].delta_system_energy).epsilon(1e-12));
    CHECK(pts[i].delta_coherence_rel_entropy ==
          doctest::Approx(z.coherence - a.coherence).epsilon(1e-10));
    CHECK(pts[i].delta_coherence_free_energy ==
          doctest::Approx(0.9 * pts[i].delta_coherence_rel_entropy).epsilon(1e-14));
    const double l1_initial = l1_by_hand(initial_state(items[i].temperatures, items[i].coherences));
    CHECK(pts[i].delta_l1_coherence ==
          doctest::Approx(l1_by_hand(t.final_state) - l1_initial).epsilon(1e-10));
    CHECK(pts[i].direction_violations == t.direction_violations);
  }
}

TEST_CASE("theory programs run to results") {
  const TheoryProgram prog = parse_theory_program(R"(format: nmrc-theory/1
name: t
defaults:
  subsystems:
    - {name: A, temperature: 1.0}
    - {name: B, temperature: 1.2}
  bath_temperature: 0.9
  g: 20
  tau: 0.01
  collisions: 12
runs:
  - name: traj
    coherences: [{pair: [A, B], c: -0.3}]
    master_equation: true
    convergence: {halvings: 1}
  - name: sw
    sweep: {pair: [A, B], from: -0.2, to: 0.2, count: 3}
)",
                                                  "t.yaml");
  std::set<std::string> stages;
  const auto results =
      run_theory_program(prog, [&](const std::string& run, const std::string& stage, int, int) {
        stages.insert(run + "/" + stage);
      });
  CHECK(stages == std::set<std::string>{"traj/collision", "traj/master equation",
                                        "traj/convergence", "sw/sweep point"});
  REQUIRE(results.size() == 2);
  const RunResult& a = results[0];
  CHECK(a.spec == &prog.runs[0]);
  REQUIRE(a.trajectory);
  CHECK(a.trajectory->steps.size() == 1 + 12 * 2);
  CHECK(a.sweep.empty());
  REQUIRE(a.master_equation);
  CHECK(a.master_equation->points.size() == 13);
  CHECK(a.convergence.size() == 2);
  CHECK(a.predictors.subsystems.size() == 2);
  REQUIRE(a.predictors.two_subsystems);
  CHECK(a.initial_min_eigenvalue ==
        doctest::Approx(min_eigenvalue(initial_state({1.0, 1.2}, {{0, 1, -0.3}}), 2)));
  CHECK(a.initial_min_eigenvalue > 0.0);
  double slack = INFINITY;
  int undefined = 0;
  for (const auto& s : a.trajectory->steps)
    if (std::isfinite(s.resource_lhs)) slack = std::min(slack, s.resource_lhs - s.resource_rhs);
  for (const auto& d : a.trajectory->directions) undefined += !d.at_defined;
  CHECK(a.eq36_min_slack == slack);
  CHECK(a.eq36_min_slack >= -1e-10);  // Eq. (36)
  CHECK(a.directions_with_at_undefined == undefined);
  const RunResult& b = results[1];
  CHECK(b.spec == &prog.runs[1]);
  CHECK_FALSE(b.trajectory);
  CHECK_FALSE(b.master_equation);
  REQUIRE(b.sweep.size() == 3);
  CHECK(b.sweep[0].c == doctest::Approx(-0.2));
  CHECK(b.sweep[2].c == doctest::Approx(0.2));
}
