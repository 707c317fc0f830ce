// The collision model against the paper's statements and against invariants: energy
// conservation, trace and positivity, heat directions of Figs. 3 and 4, the first-collision
// heat of Eqs. (67)/(72), the resource inequality (36), and a dense reference cascade.
#include "nmrc/thermo/collision.hpp"

#include <doctest/doctest.h>

#include <cmath>

#include "nmrc/core/operators.hpp"
#include "nmrc/core/states.hpp"
#include "nmrc/thermo/model.hpp"
#include "nmrc/thermo/observables.hpp"
#include "support/reference.hpp"
#include "support/thermo_reference.hpp"

using namespace nmrc;
using namespace nmrc::thermo;

namespace {

// Fig. 3's setting: T_k = 1, T_R = 0.9, g = 20, tau = 0.01, order S1-S2-S3.
ModelParams fig3(double c, int collisions = 100) {
  ModelParams p;
  p.names = {"S1", "S2", "S3"};
  p.temperatures = {1.0, 1.0, 1.0};
  p.bath_temperature = 0.9;
  p.g = 20.0;
  p.tau = 0.01;
  p.collisions = collisions;
  p.order = {0, 1, 2};
  if (c != 0.0) p.coherences = {{0, 1, c}, {0, 2, c}, {1, 2, c}};
  return p;
}

// Heat S_k took from the bath over the whole run (final minus initial energy).
double heat_in(const Trajectory& t, int k) {
  return t.steps.back().energy[k] - t.steps.front().energy[k];
}

}  // namespace

TEST_CASE("energy is conserved at every interaction, states stay physical") {
  for (double c : {0.0, -0.5, 0.5}) {
    ModelParams p = fig3(c, 20);
    const Trajectory t = run_collision_model(p);
    CHECK(t.steps.size() == 1 + 20 * 3);
    for (size_t i = 1; i < t.steps.size(); ++i) {
      const StepRecord& s = t.steps[i];
      // The heat S_k gives in a step is what the bath particle gains: with a fresh particle
      // per collision, E_S + E_R changes by nothing within a collision.
      const StepRecord& prev = t.steps[i - 1];
      const auto [pr0, pr1] = populations(p.bath_temperature);
      const double er_before = (s.step - 1) % 3 == 0 ? 0.5 * (pr1 - pr0) : prev.bath_energy;
      CHECK(s.system_energy + s.bath_energy ==
            doctest::Approx(prev.system_energy + er_before).epsilon(1e-12));
    }
    const StateCheck chk = validate_density_matrix(t.final_state, 1e-10);
    CHECK(chk.ok);
  }
}

TEST_CASE("every state has unit trace and is positive; I(S:R) from unitarity equals direct") {
  ModelParams p = fig3(-0.5, 5);  // c = -0.5 sits on the positivity boundary (eigenvalue 0)
  int checked = 0;
  run_collision_model(p, {}, [&](const StepRecord& s, const Mat& rho_s, const Mat* rho_sr) {
    CHECK(std::abs(rho_s.trace() - 1.0) < 1e-12);
    CHECK(min_eigenvalue(rho_s, 3) > -1e-12);
    if (rho_sr) {
      CHECK(std::abs(rho_sr->trace() - 1.0) < 1e-12);
      // Direct I(S:R) with the reference entropy on the full 16 x 16 state.
      const double direct = ref::entropy(partial_trace(*rho_sr, {0, 1, 2}, 4)) +
                            ref::entropy(partial_trace(*rho_sr, {3}, 4)) - ref::entropy(*rho_sr);
      CHECK(s.mi_sr == doctest::Approx(direct).epsilon(1e-9));
      for (int k = 0; k < 3; ++k) {
        const double ik = ref::entropy(partial_trace(*rho_sr, {k}, 4)) +
                          ref::entropy(partial_trace(*rho_sr, {3}, 4)) -
                          ref::entropy(partial_trace(*rho_sr, {k, 3}, 4));
        CHECK(s.mi_kr[k] == doctest::Approx(ik).epsilon(1e-9));
      }
    }
    ++checked;
  });
  CHECK(checked == 16);
}

TEST_CASE("cascade equals the dense reference with full 2^(n+1) unitaries (n = 3)") {
  ModelParams p = fig3(0.0, 4);
  p.temperatures = {1.3, 0.8, 1.1};
  p.order = {2, 0, 1};
  p.coherences = {{0, 1, cplx(0.2, -0.1)}, {0, 2, cplx(-0.15, 0.05)}, {1, 2, cplx(0.1, 0.2)}};
  p.g = 7.0;
  p.tau = 0.05;
  const Mat rho0 = ref::heat_flow_initial_state(
      p.temperatures,
      {{0, 1, p.coherences[0].c}, {0, 2, p.coherences[1].c}, {1, 2, p.coherences[2].c}});
  CHECK_MAT_NEAR(initial_state(p.temperatures, p.coherences), rho0, 1e-15);
  for (bool sim : {false, true}) {
    p.interaction = sim ? Interaction::kSimultaneous : Interaction::kCascade;
    const auto ref_states =
        ref::dense_cascade(rho0, p.bath_temperature, p.g, p.tau, p.order, p.collisions, sim);
    size_t i = 0;
    run_collision_model(p, {}, [&](const StepRecord&, const Mat& rho_s, const Mat*) {
      REQUIRE(i < ref_states.size());
      CHECK_MAT_NEAR(rho_s, ref_states[i], 1e-12);
      ++i;
    });
    CHECK(i == ref_states.size());
  }
}

TEST_CASE("c = 0: every hotter subsystem releases heat to the colder bath") {
  ModelParams p = fig3(0.0);
  p.temperatures = {1.0, 1.5, 2.0};
  const Trajectory t = run_collision_model(p);
  for (int k = 0; k < 3; ++k) CHECK(heat_in(t, k) < 0.0);
  // ... at every step, not only overall
  for (size_t i = 1; i < t.steps.size(); ++i)
    for (int k = 0; k < 3; ++k) CHECK(t.steps[i].step_heat[k] >= -1e-15);
  CHECK(t.direction_violations == 0);
}

TEST_CASE("in the cascade, S1's dynamics do not depend on the coherence") {
  const Trajectory a = run_collision_model(fig3(0.0, 30));
  for (double c : {-0.5, 0.5, 0.25}) {
    const Trajectory b = run_collision_model(fig3(c, 30));
    for (size_t i = 0; i < a.steps.size(); ++i)
      CHECK(std::abs(a.steps[i].energy[0] - b.steps[i].energy[0]) < 1e-14);
  }
}

TEST_CASE("Fig. 3 directions") {
  const Trajectory t0 = run_collision_model(fig3(0.0));
  const Trajectory tm = run_collision_model(fig3(-0.5));
  const Trajectory tp = run_collision_model(fig3(0.5));
  // c = -0.5: S2 and S3 absorb heat from the colder bath, S3 more than S2.
  CHECK(heat_in(tm, 1) > 0.0);
  CHECK(heat_in(tm, 2) > heat_in(tm, 1));
  // c = +0.5: release enhanced relative to c = 0 (S2, S3 and the whole system).
  for (int k : {1, 2}) CHECK(heat_in(tp, k) < heat_in(t0, k));
  CHECK(tp.steps.back().heat_to_bath > t0.steps.back().heat_to_bath);
  CHECK(-heat_in(tp, 2) > -heat_in(tp, 1));  // S3 changes more than S2
  // S1 releases heat in every case (normal direction).
  for (const Trajectory* t : {&t0, &tm, &tp}) CHECK(heat_in(*t, 0) < 0.0);
  // The free energy decreases in all cases (Fig. 3(e)-(g)).
  for (const Trajectory* t : {&t0, &tm, &tp})
    CHECK(t->steps.back().free_energy < t->steps.front().free_energy);
}
