#include "nmrc/thermo/analysis.hpp"

#include <algorithm>
#include <cmath>

#include "nmrc/core/information.hpp"
#include "nmrc/thermo/observables.hpp"

namespace nmrc::thermo {

const char* direction_name(HeatDirection d) {
  switch (d) {
    case HeatDirection::kAbsorb:
      return "absorb";
    case HeatDirection::kRelease:
      return "release";
    case HeatDirection::kNone:
      break;
  }
  return "none";
}

HeatDirection direction_of_heat(double heat_in) {
  if (std::abs(heat_in) < 1e-14) return HeatDirection::kNone;
  return heat_in > 0 ? HeatDirection::kAbsorb : HeatDirection::kRelease;
}

PredictorChecks check_predictors(const ModelParams& p, const Trajectory& t) {
  const int n = p.n();
  PredictorChecks out;
  // Eqs. (51)-(52) on the initial state: one-way coherence against the threshold.
  const StepRecord& s0 = t.steps.front();
  std::vector<double> first_heat(n, 0.0);
  for (const StepRecord& s : t.steps)
    if (s.collision == 1)
      for (int k = 0; k < n; ++k) first_heat[k] = s.energy[k] - s0.energy[k];
  for (int k = 0; k < n; ++k) {
    const double tk = p.temperatures[k], tr = p.bath_temperature;
    ReversalCheck e;
    e.one_way_coherence = s0.at.one_way[k];
    e.threshold = reversal_threshold(tk, tr);
    e.reversal_predicted = reversal_predicted(e.one_way_coherence, tk, tr);
    e.natural = tk > tr ? HeatDirection::kRelease
                        : (tk < tr ? HeatDirection::kAbsorb : HeatDirection::kNone);
    e.first_collision_heat_in = first_heat[k];
    e.first_collision = direction_of_heat(first_heat[k]);
    if (e.natural != HeatDirection::kNone && e.first_collision != HeatDirection::kNone) {
      e.compared = true;
      e.reversed = e.first_collision != e.natural;
      e.agrees = e.reversed == e.reversal_predicted;
      out.agree += e.agrees;
      ++out.compared;
    }
    out.subsystems.push_back(e);
  }
  // Eqs. (72)-(75) for two subsystems in a cascade with one coherence c_12.
  if (n == 2 && p.interaction == Interaction::kCascade) {
    const int a = p.order[0], b = p.order[1];
    cplx c12 = 0.0;
    for (const auto& c : p.coherences)
      c12 += (c.p == a && c.q == b) ? c.c : (c.p == b && c.q == a ? std::conj(c.c) : 0.0);
    TwoSubsystemCheck two;
    two.second_subsystem = b;
    two.heat_to_bath_eq72 = first_collision_heat_s2(p.temperatures[a], p.temperatures[b],
                                                    p.bath_temperature, c12, p.g * p.tau);
    two.heat_to_bath_simulated = -first_heat[b];
    const double w =
        std::sqrt(populations(p.temperatures[a]).first * populations(p.temperatures[a]).second *
                  populations(p.temperatures[b]).first * populations(p.temperatures[b]).second);
    // 2 lambda cos(alpha), lambda the matrix element |c_12| sqrt(P_1^0 P_1^1 P_2^0 P_2^1).
    two.two_lambda_cos_alpha = 2.0 * c12.real() * w;
    two.threshold = reversal_threshold(p.temperatures[b], p.bath_temperature);
    two.reversal_predicted =
        reversal_predicted(two.two_lambda_cos_alpha, p.temperatures[b], p.bath_temperature);
    out.two_subsystems = two;
  }
  return out;
}

MasterEquationComparison compare_master_equation(const ModelParams& p, const Trajectory& t) {
  const int n = p.n();
  const int per = p.interaction == Interaction::kCascade ? n : 1;
  std::vector<double> times;
  for (int m = 0; m <= p.collisions; ++m) times.push_back(m * p.tau);
  const MasterEquation me(p);
  const auto states = me.integrate(initial_state(p.temperatures, p.coherences), times);
  const auto w = coherence_weights(p);
  MasterEquationComparison out;
  for (int m = 0; m <= p.collisions; ++m) {
    const StepRecord& s = t.steps[static_cast<size_t>(m) * per];
    MasterEquationComparison::Point pt;
    pt.collision = m;
    pt.t = times[m];
    for (int k = 0; k < n; ++k) {
      const double e = subsystem_energy(states[m], k, n);
      out.max_energy_difference = std::max(out.max_energy_difference, std::abs(e - s.energy[k]));
      pt.energy_me.push_back(e);
      pt.energy_cm.push_back(s.energy[k]);
    }
    const auto at = apparent_temperatures(states[m], w);
    for (int k = 0; k < n; ++k) {
      const double q = me.heat_current(states[m], k);
      pt.heat_current_me.push_back(q);
      pt.at_me.push_back(at.subsystem[k].value);
      if (std::abs(q) > 1e-12) {
        ++out.direction_checks;
        out.direction_agreements +=
            at.subsystem[k].current_sign(p.bath_temperature) == (q > 0 ? 1 : -1);
      }
    }
    out.points.push_back(std::move(pt));
  }
  return out;
}

std::vector<ModelParams> sweep_items(const ModelParams& base, const SweepSpec& sw) {
  std::vector<ModelParams> items;
  for (double v : sw.values) {
    ModelParams p = base;
    p.coherences.clear();
    for (const auto& c : base.coherences)
      if (std::minmax(c.p, c.q) != std::minmax(sw.p, sw.q)) p.coherences.push_back(c);
    p.coherences.push_back({sw.p, sw.q, v});
    items.push_back(p);
  }
  return items;
}

std::vector<SweepPoint> run_sweep(const ModelParams& base, const SweepSpec& sw,
                                  const std::function<void(int, int)>& progress) {
  const auto items = sweep_items(base, sw);
  const auto trajs = run_batch(items, 0, progress);
  const int n = base.n();
  std::vector<SweepPoint> out;
  for (size_t i = 0; i < sw.values.size(); ++i) {
    const Trajectory& t = trajs[i];
    const StepRecord &a = t.steps.front(), &z = t.steps.back();
    SweepPoint pt;
    pt.c = sw.values[i];
    for (int k = 0; k < n; ++k) pt.delta_energy.push_back(z.energy[k] - a.energy[k]);
    pt.delta_system_energy = z.system_energy - a.system_energy;
    pt.heat_to_bath = z.heat_to_bath;
    pt.delta_coherence_rel_entropy = z.coherence - a.coherence;
    pt.delta_l1_coherence = l1_coherence(t.final_state) -
                            l1_coherence(initial_state(items[i].temperatures, items[i].coherences));
    pt.delta_free_energy = z.free_energy - a.free_energy;
    pt.delta_coherence_free_energy = base.bath_temperature * pt.delta_coherence_rel_entropy;
    pt.direction_violations = t.direction_violations;
    out.push_back(std::move(pt));
  }
  return out;
}

std::vector<RunResult> run_theory_program(const TheoryProgram& prog,
                                          const TheoryProgress& progress) {
  auto report = [&](const RunSpec& r, const char* stage) {
    return [&progress, &r, stage](int done, int total) {
      if (progress) progress(r.name, stage, done, total);
    };
  };
  std::vector<RunResult> out;
  for (const auto& r : prog.runs) {
    RunResult res;
    res.spec = &r;
    if (r.sweep) {
      res.sweep = run_sweep(r.params, *r.sweep, report(r, "sweep point"));
      out.push_back(std::move(res));
      continue;
    }
    const auto& p = r.params;
    res.trajectory = run_collision_model(p, report(r, "collision"));
    const Trajectory& t = *res.trajectory;
    res.initial_min_eigenvalue = min_eigenvalue(initial_state(p.temperatures, p.coherences), p.n());
    res.eq36_min_slack = INFINITY;
    for (const auto& s : t.steps)
      if (std::isfinite(s.resource_lhs))
        res.eq36_min_slack = std::min(res.eq36_min_slack, s.resource_lhs - s.resource_rhs);
    for (const auto& d : t.directions) res.directions_with_at_undefined += !d.at_defined;
    res.predictors = check_predictors(p, t);
    if (r.master_equation) {
      if (progress) progress(r.name, "master equation", 0, 0);
      res.master_equation = compare_master_equation(p, t);
    }
    if (r.convergence_halvings > 0)
      res.convergence = convergence_study(p, r.convergence_halvings, report(r, "convergence"));
    out.push_back(std::move(res));
  }
  return out;
}

}  // namespace nmrc::thermo
