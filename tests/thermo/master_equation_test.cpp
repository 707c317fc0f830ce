// The cascaded master equation (Eqs. (42)-(45)): its heat currents equal Eq. (46), heat
// follows the apparent temperature (Eq. (48)) at every time, and the collision model
// converges to it as tau -> 0 at fixed g^2 tau.
#include "nmrc/thermo/master_equation.hpp"

#include <doctest/doctest.h>

#include <cmath>

#include "nmrc/thermo/collision.hpp"
#include "nmrc/thermo/observables.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::thermo;

namespace {
ModelParams base(int n) {
  ModelParams p;
  for (int k = 0; k < n; ++k) {
    // Appended, not "S" + std::to_string(..): GCC 12 warns falsely there (-Wrestrict, GCC PR
    // 105329).
    p.names.push_back(std::string("S").append(std::to_string(k + 1)));
    p.temperatures.push_back(1.0 + 0.1 * k);
    p.order.push_back(k);
  }
  p.bath_temperature = 0.9;
  p.g = 20;
  p.tau = 0.01;
  p.collisions = 100;
  return p;
}
}  // namespace

TEST_CASE("master-equation heat currents equal Eq. (46) with the one-way coherence (47)") {
  for (bool sim : {false, true}) {
    ModelParams p = base(3);
    p.order = {1, 2, 0};
    p.interaction = sim ? Interaction::kSimultaneous : Interaction::kCascade;
    const MasterEquation me(p);
    const auto w = coherence_weights(p);
    for (unsigned seed = 1; seed <= 3; ++seed) {
      const Mat rho = ref::random_density(8, seed);
      const Mat d = me.rhs(rho);
      CHECK(std::abs(d.trace()) < 1e-13);
      CHECK((d - d.adjoint()).cwiseAbs().maxCoeff() < 1e-13);
      const auto c = one_way_coherences(rho, w);
      for (int k = 0; k < 3; ++k) {
        const auto [p0, p1] = subsystem_populations(rho, k, 3);
        CHECK(me.heat_current(rho, k) ==
              doctest::Approx(heat_current(p0, p1, c[k], me.gamma_plus(), me.gamma_minus()))
                  .epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("in the master-equation limit heat flows from higher to lower AT at every time") {
  ModelParams p = base(3);
  p.temperatures = {1, 1, 1};
  p.coherences = {{0, 1, -0.5}, {0, 2, -0.5}, {1, 2, -0.5}};
  const MasterEquation me(p);
  std::vector<double> times;
  for (int i = 0; i <= 200; ++i) times.push_back(0.01 * i);
  const auto states = me.integrate(initial_state(p.temperatures, p.coherences), times);
  const auto w = coherence_weights(p);
  int checked = 0, with_at = 0;
  for (const Mat& rho : states) {
    CHECK(std::abs(rho.trace() - 1.0) < 1e-9);
    const auto at = apparent_temperatures(rho, w);
    for (int k = 0; k < 3; ++k) {
      const double q = me.heat_current(rho, k);
      if (std::abs(q) < 1e-12) continue;
      ++checked;
      CHECK(at.subsystem[k].current_sign(p.bath_temperature) == (q > 0 ? 1 : -1));
      const auto& a = at.subsystem[k];
      if (a.value && *a.value > 0 && a.p0_plus_c > 0) {
        ++with_at;
        CHECK((*a.value < p.bath_temperature) == (q > 0));  // AT_k < T_R <=> absorbs
      }
    }
  }
  CHECK(checked > 500);
  CHECK(with_at > 400);
}

TEST_CASE("the collision model converges to the master equation, error O(tau)") {
  for (bool sim : {false, true}) {
    ModelParams p = base(3);
    p.collisions = 25;
    p.coherences = {{0, 1, -0.4}, {1, 2, cplx(0.2, 0.1)}};
    p.interaction = sim ? Interaction::kSimultaneous : Interaction::kCascade;
    const auto rows = convergence_study(p, 3);
    REQUIRE(rows.size() == 4);
    for (size_t i = 1; i < rows.size(); ++i) {
      CHECK(rows[i].max_energy_error < rows[i - 1].max_energy_error);
      CHECK(rows[i].observed_order == doctest::Approx(1.0).epsilon(0.1));
    }
  }
}
