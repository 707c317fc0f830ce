// nmrc theory PROGRAM.yaml --out DIR: the paper's heat-flow model (collision model, master
// equation, convergence study, coherence sweeps), written as CSV, JSON and PNG/SVG figures.
// Output layout and columns: docs/theory-format.md.
#ifdef NMRC_THERMO_AVAILABLE
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/text.hpp"
#include "nmrc/thermo/analysis.hpp"
#include "plot.hpp"
#include "terminal.hpp"

namespace nmrc::cli {

namespace {

using nlohmann::json;
using thermo::Interaction;
using thermo::RunSpec;
using thermo::StepRecord;
using thermo::Trajectory;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double v) {
  if (!std::isfinite(v)) return "";
  return fmt::format("{:.10g}", v);
}

// A JSON number, or "undefined" for an AT that does not exist (never a bare NaN).
json at_json(const thermo::ApparentTemperature& at) {
  if (at.value) return *at.value;
  return "undefined";
}

std::string acting_name(const RunSpec& r, int acting) {
  if (acting < 0) return "initial";
  if (acting >= r.params.n()) return "all";
  return r.params.names[acting];
}

std::string steps_csv(const RunSpec& r, const Trajectory& t) {
  const auto& p = r.params;
  const int n = p.n();
  const int per = p.interaction == Interaction::kCascade ? n : 1;
  std::ostringstream os;
  os << "step,collision,acting,time";
  for (const auto& nm : p.names) os << ",E_" << nm;
  for (const auto& nm : p.names) os << ",dQ_" << nm;
  for (const auto& nm : p.names) os << ",Q_" << nm;
  for (const auto& nm : p.names) os << ",C1way_" << nm;
  for (const auto& nm : p.names) os << ",AT_" << nm << ",AT_" << nm << "_defined";
  os << ",E_R,E_S,heat_to_bath,AT_system,AT_system_defined,F,dF,C_rel_entropy,I_SR";
  for (const auto& nm : p.names) os << ",I_" << nm << "R";
  os << ",resource_lhs,resource_rhs,resource_slack,free_energy_bound\n";
  const double f0 = t.steps.front().free_energy;
  for (const StepRecord& s : t.steps) {
    os << s.step << "," << s.collision << "," << csv_field(acting_name(r, s.acting)) << ","
       << num(p.tau * s.step / per);
    for (double e : s.energy) os << "," << num(e);
    for (double e : s.step_heat) os << "," << num(e);
    for (double e : s.heat_released) os << "," << num(e);
    for (double e : s.at.one_way) os << "," << num(e);
    for (const auto& a : s.at.subsystem)
      os << "," << (a.value ? num(*a.value) : "") << "," << (a.value ? 1 : 0);
    os << "," << num(s.bath_energy) << "," << num(s.system_energy) << "," << num(s.heat_to_bath)
       << "," << (s.at.system.value ? num(*s.at.system.value) : "") << ","
       << (s.at.system.value ? 1 : 0) << "," << num(s.free_energy) << "," << num(s.free_energy - f0)
       << "," << num(s.coherence) << "," << num(s.mi_sr);
    for (int k = 0; k < n; ++k) os << "," << (s.mi_kr.empty() ? "" : num(s.mi_kr[k]));
    os << "," << num(s.resource_lhs) << "," << num(s.resource_rhs) << "," << num(s.resource_slack)
       << "," << num(s.free_energy_bound) << "\n";
  }
  return os.str();
}

std::string directions_csv(const RunSpec& r, const Trajectory& t) {
  std::ostringstream os;
  os << "collision,subsystem,step,at_defined,predicted,actual,violated\n";
  for (const auto& d : t.directions)
    os << d.collision << "," << csv_field(r.params.names[d.subsystem]) << "," << d.step << ","
       << (d.at_defined ? 1 : 0) << "," << d.predicted << "," << d.actual << ","
       << (d.violated() ? 1 : 0) << "\n";
  return os.str();
}

json parameters_json(const RunSpec& r) {
  const auto& p = r.params;
  json j;
  j["subsystems"] = json::array();
  for (int k = 0; k < p.n(); ++k)
    j["subsystems"].push_back({{"name", p.names[k]}, {"temperature", p.temperatures[k]}});
  j["bath_temperature"] = p.bath_temperature;
  j["g"] = p.g;
  j["tau"] = p.tau;
  j["theta"] = p.g * p.tau;
  j["collisions"] = p.collisions;
  j["interaction"] = p.interaction == Interaction::kCascade ? "cascade" : "simultaneous";
  j["order"] = json::array();
  for (int k : p.order) j["order"].push_back(p.names[k]);
  j["coherences"] = json::array();
  for (const auto& c : p.coherences)
    j["coherences"].push_back({{"pair", {p.names[c.p], p.names[c.q]}},
                               {"re", c.c.real()},
                               {"im", c.c.imag()},
                               {"lambda", std::abs(c.c)},
                               {"alpha", std::arg(c.c)}});
  j["engine"] = p.engine == thermo::Engine::kSectors ? "sectors" : "local";
  j["units"] = "delta = k_B = 1";
  return j;
}

json predictors_json(const RunSpec& r, const thermo::PredictorChecks& pc) {
  const auto& p = r.params;
  json j;
  for (int k = 0; k < p.n(); ++k) {
    const auto& c = pc.subsystems[k];
    json e = {{"one_way_coherence", c.one_way_coherence},
              {"threshold", c.threshold},
              {"natural_direction", thermo::direction_name(c.natural)},
              {"reversal_predicted", c.reversal_predicted},
              {"first_collision_heat_in", c.first_collision_heat_in},
              {"first_collision_direction", thermo::direction_name(c.first_collision)}};
    if (c.compared) {
      e["reversed_in_simulation"] = c.reversed;
      e["agrees"] = c.agrees;
    }
    j["eq51_52"][p.names[k]] = e;
  }
  j["eq51_52_agreement"] = std::to_string(pc.agree) + "/" + std::to_string(pc.compared);
  if (pc.two_subsystems) {
    const auto& t = *pc.two_subsystems;
    j["eq72_75"] = {{"second_subsystem", p.names[t.second_subsystem]},
                    {"first_collision_heat_to_bath_eq72", t.heat_to_bath_eq72},
                    {"first_collision_heat_to_bath_simulated", t.heat_to_bath_simulated},
                    {"two_lambda_cos_alpha", t.two_lambda_cos_alpha},
                    {"threshold", t.threshold},
                    {"reversal_predicted_eq74_75", t.reversal_predicted}};
  }
  return j;
}

json run_summary(const thermo::RunResult& res) {
  const RunSpec& r = *res.spec;
  const Trajectory& t = *res.trajectory;
  const auto& p = r.params;
  const int n = p.n();
  const StepRecord& a = t.steps.front();
  const StepRecord& z = t.steps.back();
  json j;
  j["format"] = "nmrc-theory-run/1";
  j["name"] = r.name;
  j["title"] = r.title;
  j["parameters"] = parameters_json(r);
  j["initial_state_min_eigenvalue"] = res.initial_min_eigenvalue;
  for (int k = 0; k < n; ++k) {
    j["delta_energy"][p.names[k]] = z.energy[k] - a.energy[k];
    j["heat_to_bath_per_subsystem"][p.names[k]] = z.heat_released[k];
    j["apparent_temperature"]["initial"][p.names[k]] = at_json(a.at.subsystem[k]);
    j["apparent_temperature"]["final"][p.names[k]] = at_json(z.at.subsystem[k]);
    j["one_way_coherence"]["initial"][p.names[k]] = a.at.one_way[k];
  }
  j["apparent_temperature"]["system_initial"] = at_json(a.at.system);
  j["apparent_temperature"]["system_final"] = at_json(z.at.system);
  j["apparent_temperature"]["bath"] = p.bath_temperature;
  j["delta_system_energy"] = z.system_energy - a.system_energy;
  j["heat_to_bath"] = z.heat_to_bath;
  if (p.information) {
    j["delta_free_energy"] = z.free_energy - a.free_energy;
    j["free_energy"] = {{"initial", a.free_energy}, {"final", z.free_energy}};
    j["coherence_rel_entropy"] = {{"initial", a.coherence}, {"final", z.coherence}};
  } else {
    j["delta_free_energy"] = "not computed (information: false)";
  }
  json dir;
  dir["rule"] =
      "heat into S_k in collision c has the sign of Eq. (48) evaluated on rho_S at the start of "
      "collision c (AT_k < T_R: absorb; AT_k > T_R: release; where AT_k is undefined the sign "
      "of gamma+ (P0 + C_k) - gamma- (P1 + C_k))";
  dir["checked"] = t.directions.size();
  dir["violations"] = t.direction_violations;
  json viol = json::array();
  for (const auto& d : t.directions) {
    if (d.violated() && viol.size() < 100)
      viol.push_back({{"collision", d.collision},
                      {"subsystem", p.names[d.subsystem]},
                      {"step", d.step},
                      {"predicted", d.predicted},
                      {"actual", d.actual}});
  }
  dir["violating_steps"] = viol;
  dir["checks_with_at_undefined"] = res.directions_with_at_undefined;
  j["direction_check"] = dir;
  j["at_undefined_cells"] = t.at_undefined;
  if (p.information) {
    const double min_slack = res.eq36_min_slack;
    j["resource_checks"] = {
        {"eq36_rule", "beta_R dE_R + Tr[K d rho_S] >= dI(S:R) + dC(rho_S) since collision start"},
        {"eq36_violations", t.resource_violations},
        {"eq36_min_slack", std::isfinite(min_slack) ? json(min_slack) : json("n/a")},
        {"s26_rule", "dF(rho_S) + T_R I(S:R) <= 0 since collision start"},
        {"s26_violations", t.free_energy_violations},
        {"mutual_information_order_violations", t.mi_order_violations}};
  }
  j["predictors"] = predictors_json(r, res.predictors);
  return j;
}

const int kColors[] = {1, 2, 3, 4, 6, 7, 8, 5};

// Leaves an empty band at the top of the panel for the key (top right), so that the key never
// hides a curve: y range = data range (or the panel's fixed range) plus 40% on top.
std::string best_key(Panel& p) {
  double y0 = INFINITY, y1 = -INFINITY;
  if (std::isfinite(p.ymin) && std::isfinite(p.ymax)) {
    y0 = p.ymin;
    y1 = p.ymax;
  } else {
    for (const auto& s : p.series)
      for (double y : s.y)
        if (std::isfinite(y)) y0 = std::min(y0, y), y1 = std::max(y1, y);
  }
  if (!std::isfinite(y0) || !std::isfinite(y1)) return "top right";
  const double span = y1 > y0 ? y1 - y0 : std::max(1e-3, std::abs(y0));
  const double rows = static_cast<double>(p.series.size());
  p.ymin = y0 - 0.04 * span;
  p.ymax = y1 + std::min(0.7, 0.1 + 0.09 * rows) * span;
  return "top right";
}

int color(int k) { return kColors[k % 8]; }

std::vector<double> steps_x(const Trajectory& t) {
  std::vector<double> x;
  for (const auto& s : t.steps) x.push_back(s.step);
  return x;
}

Panel energy_panel(const RunSpec& r, const Trajectory& t) {
  Panel pn{"energy change of each subsystem", "interaction", "E_k - E_k(0)  [delta]", {}, {}};
  const auto x = steps_x(t);
  for (int k = 0; k < r.params.n(); ++k) {
    Series s{r.params.names[k], x, {}};
    for (const auto& st : t.steps) s.y.push_back(st.energy[k] - t.steps[0].energy[k]);
    s.color = color(k);
    pn.series.push_back(s);
  }
  pn.key = best_key(pn);
  return pn;
}

Panel heat_panel(const RunSpec& r, const Trajectory& t) {
  Panel pn{"heat to bath and free-energy change", "interaction", "[delta]", {}, {}};
  const auto x = steps_x(t);
  Series q{"heat to bath Q", x, {}}, f{"free energy F - F(0)", x, {}};
  for (const auto& s : t.steps) {
    q.y.push_back(s.heat_to_bath);
    f.y.push_back(s.free_energy - t.steps[0].free_energy);
  }
  q.color = 7;
  f.color = 4;
  pn.series.push_back(q);
  if (r.params.information) pn.series.push_back(f);
  pn.key = best_key(pn);
  return pn;
}

Panel at_panel(const RunSpec& r, const Trajectory& t) {
  Panel pn{
      "apparent temperature (Eq. 49; gaps: undefined)", "interaction", "AT_k  [delta/k_B]", {}, {}};
  const auto x = steps_x(t);
  double lo = r.params.bath_temperature, hi = r.params.bath_temperature;
  for (int k = 0; k < r.params.n(); ++k) {
    Series s{r.params.names[k], x, {}};
    for (const auto& st : t.steps) {
      const auto& a = st.at.subsystem[k];
      s.y.push_back(a.value ? *a.value : kNaN);
      if (a.value && *a.value > 0 && *a.value < 10) {
        lo = std::min(lo, *a.value);
        hi = std::max(hi, *a.value);
      }
    }
    s.color = color(k);
    pn.series.push_back(s);
  }
  Series bath{
      "T_R (bath)", {x.front(), x.back()}, {r.params.bath_temperature, r.params.bath_temperature}};
  bath.dashed = true;
  bath.color = 8;
  pn.series.push_back(bath);
  // Near the boundary where AT_k becomes undefined it diverges; keep the readable range.
  const double pad = 0.08 * (hi - lo) + 0.02;
  pn.ymin = std::max(0.0, lo - pad);
  pn.ymax = hi + pad;
  pn.key = best_key(pn);
  return pn;
}

Panel info_panel(const RunSpec& r, const Trajectory& t) {
  Panel pn{"coherence and correlations", "interaction", "[nats]", {}, {}};
  const auto x = steps_x(t);
  Series c{"C(rho_S)", x, {}}, i{"I(S:R)", x, {}};
  for (const auto& s : t.steps) {
    c.y.push_back(s.coherence);
    i.y.push_back(s.mi_sr);
  }
  c.color = 7;
  i.color = 8;
  pn.series.push_back(c);
  pn.series.push_back(i);
  for (int k = 0; k < r.params.n(); ++k) {
    Series s{"I(" + r.params.names[k] + ":R)", x, {}};
    for (const auto& st : t.steps) s.y.push_back(st.mi_kr.empty() ? kNaN : st.mi_kr[k]);
    s.color = color(k);
    s.dashed = true;
    pn.series.push_back(s);
  }
  if (t.steps.size() < 12)
    for (auto& s : pn.series) s.style = "linespoints";
  pn.key = best_key(pn);
  return pn;
}

Figure run_figure(const RunSpec& r, const Trajectory& t) {
  Figure f;
  f.title = r.title;
  f.rows = r.params.information ? 2 : 1;
  f.cols = r.params.information ? 2 : 3;
  f.width_px = 1200;
  f.height_px = r.params.information ? 860 : 420;
  f.panels = {energy_panel(r, t), heat_panel(r, t), at_panel(r, t)};
  if (r.params.information) f.panels.push_back(info_panel(r, t));
  if (t.steps.size() < 12)
    for (auto& p : f.panels)
      for (auto& s : p.series)
        if (!s.dashed || p.title.rfind("coherence", 0) == 0) s.style = "linespoints";
  return f;
}

// Master-equation comparison at the collision ends (t = N tau).
json master_equation_output(const RunSpec& r, const thermo::MasterEquationComparison& c,
                            std::string& csv) {
  const auto& p = r.params;
  const int n = p.n();
  std::ostringstream os;
  os << "collision,t";
  for (const auto& nm : p.names) os << ",E_" << nm << "_ME,E_" << nm << "_CM";
  for (const auto& nm : p.names) os << ",Qdot_" << nm << "_ME,AT_" << nm << "_ME";
  os << "\n";
  for (const auto& pt : c.points) {
    os << pt.collision << "," << num(pt.t);
    for (int k = 0; k < n; ++k) os << "," << num(pt.energy_me[k]) << "," << num(pt.energy_cm[k]);
    for (int k = 0; k < n; ++k)
      os << "," << num(pt.heat_current_me[k]) << "," << (pt.at_me[k] ? num(*pt.at_me[k]) : "");
    os << "\n";
  }
  csv = os.str();
  return {{"integrator", "Boost.Odeint runge_kutta_dopri5, dense output, abs = rel tol 1e-10"},
          {"time_mapping", "t = collision number x tau; gamma+- = g^2 tau P_R^(1,0)"},
          {"max_energy_difference_vs_collision_model", c.max_energy_difference},
          {"direction_checks", c.direction_checks},
          {"direction_agreements", c.direction_agreements}};
}

std::string convergence_md(const RunSpec& r, const std::vector<thermo::ConvergenceRow>& rows) {
  std::ostringstream os;
  os << "# Collision model -> cascaded master equation (" << r.name << ")\n\n"
     << "g^2 tau = " << num(r.params.g * r.params.g * r.params.tau)
     << " fixed (same master equation), final time t = collisions x tau = "
     << num(r.params.collisions * r.params.tau)
     << ". Error: max over subsystems and the base run's collision times of |E_k(collision "
        "model) - E_k(master equation)|; master equation by Boost.Odeint dopri5, tol 1e-11.\n\n"
     << "| tau | g | theta = g tau | collisions | max energy error | final max abs(rho) error | "
        "observed order |\n|---|---|---|---|---|---|---|\n";
  for (const auto& row : rows)
    os << fmt::format("| {:.6g} | {:.6g} | {:.4g} | {} | {:.3e} | {:.3e} | {} |\n", row.tau, row.g,
                      row.theta, row.collisions, row.max_energy_error, row.final_state_error,
                      row.observed_order == 0 ? "-" : num(row.observed_order).substr(0, 5));
  return os.str();
}

struct SweepResult {
  std::string csv;
  json summary;
  Figure figure;
};

SweepResult sweep_output(const RunSpec& r, const std::vector<thermo::SweepPoint>& pts) {
  const auto& sw = *r.sweep;
  const auto& base = r.params;
  const int n = base.n();
  const std::string pname = "c_" + base.names[sw.p] + "_" + base.names[sw.q];
  const std::string plabel = "c(" + base.names[sw.p] + "," + base.names[sw.q] + ")";
  std::ostringstream os;
  os << pname;
  for (const auto& nm : base.names) os << ",dE_" << nm;
  os << ",dE_S,heat_to_bath,dC_rel_entropy,d_coherence_l1,dF,d_coherence_free_energy\n";
  Figure fig;
  fig.title = r.title;
  fig.rows = 1;
  fig.cols = 2;
  fig.width_px = 1200;
  fig.height_px = 460;
  Panel pe{"energy change after " + std::to_string(base.collisions) + " collisions",
           plabel,
           "[delta]",
           {},
           {}};
  Panel pc{"coherence change", plabel, "", {}, {}};
  std::vector<Series> es(n + 1);
  for (int k = 0; k < n; ++k) es[k] = Series{"dE(" + base.names[k] + ")", {}, {}};
  es[n] = Series{"dE(system) = -heat to bath", {}, {}};
  Series dc{"dC(rho_S) [nats]", {}, {}}, dl{"d(l1 coherence), sum of |off-diagonals|", {}, {}},
      dfc{"d(T_R C) coherence free energy [delta]", {}, {}};
  json points = json::array();
  for (const auto& pt : pts) {
    const double v = pt.c;
    os << num(v);
    json pj = {{pname, v}};
    for (int k = 0; k < n; ++k) {
      os << "," << num(pt.delta_energy[k]);
      es[k].x.push_back(v);
      es[k].y.push_back(pt.delta_energy[k]);
      pj["delta_energy"][base.names[k]] = pt.delta_energy[k];
    }
    es[n].x.push_back(v);
    es[n].y.push_back(pt.delta_system_energy);
    os << "," << num(pt.delta_system_energy) << "," << num(pt.heat_to_bath) << ","
       << num(pt.delta_coherence_rel_entropy) << "," << num(pt.delta_l1_coherence) << ","
       << num(pt.delta_free_energy) << "," << num(pt.delta_coherence_free_energy) << "\n";
    dc.x.push_back(v);
    dc.y.push_back(pt.delta_coherence_rel_entropy);
    dl.x.push_back(v);
    dl.y.push_back(pt.delta_l1_coherence);
    dfc.x.push_back(v);
    dfc.y.push_back(pt.delta_coherence_free_energy);
    pj["heat_to_bath"] = pt.heat_to_bath;
    pj["delta_free_energy"] = pt.delta_free_energy;
    pj["delta_coherence_rel_entropy"] = pt.delta_coherence_rel_entropy;
    pj["direction_violations"] = pt.direction_violations;
    points.push_back(pj);
  }
  for (int k = 0; k <= n; ++k) {
    es[k].color = k < n ? color(k) : 7;
    pe.series.push_back(es[k]);
  }
  dc.color = 7;
  dl.color = 4;
  dfc.color = 2;
  pc.series = {dc, dl, dfc};
  pe.key = best_key(pe);
  pc.key = best_key(pc);
  fig.panels = {pe, pc};
  json s;
  s["format"] = "nmrc-theory-sweep/1";
  s["name"] = r.name;
  s["title"] = r.title;
  s["parameters"] = parameters_json(r);
  s["sweep"] = {{"pair", {base.names[sw.p], base.names[sw.q]}},
                {"from", sw.values.front()},
                {"to", sw.values.back()},
                {"count", sw.values.size()}};
  s["points"] = points;
  return {os.str(), s, fig};
}

// Paper-like grid for programs with several trajectory runs: rows energies / heat and free
// energy / AT, one column per run (Fig. 3's layout).
Figure program_figure(const thermo::TheoryProgram& prog, const std::vector<const RunSpec*>& runs,
                      const std::vector<const Trajectory*>& trajs) {
  Figure f;
  f.title = prog.description.empty() ? prog.name : prog.description;
  f.rows = 3;
  f.cols = static_cast<int>(runs.size());
  f.width_px = std::min(2400, 480 * f.cols);
  f.height_px = 1050;
  std::vector<Panel> rows[3];
  for (size_t i = 0; i < runs.size(); ++i) {
    Panel e = energy_panel(*runs[i], *trajs[i]), h = heat_panel(*runs[i], *trajs[i]),
          a = at_panel(*runs[i], *trajs[i]);
    e.title = runs[i]->title + ": energy";
    h.title = runs[i]->title + ": heat, free energy";
    a.title = runs[i]->title + ": AT";
    rows[0].push_back(e);
    rows[1].push_back(h);
    rows[2].push_back(a);
  }
  for (auto& r : rows)
    for (auto& p : r) f.panels.push_back(p);
  return f;
}

int run_theory(const std::string& file, const std::string& out_dir, bool quiet, int threads) {
  thermo::TheoryProgram prog = thermo::load_theory_program(file);  // validates everything
  for (auto& r : prog.runs) r.params.threads = threads;
  Progress progress(quiet);
  const auto results = thermo::run_theory_program(
      prog, [&](const std::string& run, const std::string& stage, int done, int total) {
        if (total == 0)
          progress.update(run + ": " + stage);
        else if (stage != "collision" || done % 10 == 0 || done == total)
          progress.update(run + ": " + stage + " " + std::to_string(done) + "/" +
                          std::to_string(total));
      });
  make_directories(out_dir);
  json program;
  program["format"] = "nmrc-theory/1";
  program["program"] = prog.name;
  program["source"] = prog.source;
  program["runs"] = json::array();
  std::vector<const RunSpec*> grid_runs;
  std::vector<const Trajectory*> grid_trajs;
  for (const auto& res : results) {
    const RunSpec& r = *res.spec;
    const std::string dir = out_dir + "/" + r.name;
    make_directories(dir);
    if (r.sweep) {
      SweepResult s = sweep_output(r, res.sweep);
      write_file_atomic(dir + "/sweep.csv", s.csv);
      write_file_atomic(dir + "/summary.json", s.summary.dump(2) + "\n");
      write_figure(s.figure, dir + "/sweep");
      program["runs"].push_back({{"name", r.name}, {"kind", "sweep"}, {"dir", r.name}});
      continue;
    }
    const Trajectory& t = *res.trajectory;
    json summary = run_summary(res);
    if (res.master_equation) {
      std::string csv;
      summary["master_equation"] = master_equation_output(r, *res.master_equation, csv);
      write_file_atomic(dir + "/master_equation.csv", csv);
    }
    if (!res.convergence.empty()) {
      const auto& rows = res.convergence;
      json cj = json::array();
      std::ostringstream csv;
      csv << "tau,g,theta,collisions,max_energy_error,final_state_error,observed_order\n";
      for (const auto& row : rows) {
        cj.push_back({{"tau", row.tau},
                      {"g", row.g},
                      {"theta", row.theta},
                      {"collisions", row.collisions},
                      {"max_energy_error", row.max_energy_error},
                      {"final_state_error", row.final_state_error},
                      {"observed_order", row.observed_order}});
        csv << num(row.tau) << "," << num(row.g) << "," << num(row.theta) << "," << row.collisions
            << "," << num(row.max_energy_error) << "," << num(row.final_state_error) << ","
            << num(row.observed_order) << "\n";
      }
      summary["convergence"] = cj;
      write_file_atomic(dir + "/convergence.csv", csv.str());
      write_file_atomic(dir + "/convergence.md", convergence_md(r, rows));
    }
    write_file_atomic(dir + "/steps.csv", steps_csv(r, t));
    write_file_atomic(dir + "/directions.csv", directions_csv(r, t));
    write_file_atomic(dir + "/summary.json", summary.dump(2) + "\n");
    write_figure(run_figure(r, t), dir + "/plot");
    program["runs"].push_back({{"name", r.name},
                               {"kind", "trajectory"},
                               {"dir", r.name},
                               {"delta_energy", summary["delta_energy"]},
                               {"heat_to_bath", summary["heat_to_bath"]},
                               {"direction_violations", t.direction_violations}});
    grid_runs.push_back(&r);
    grid_trajs.push_back(&t);
  }
  if (grid_runs.size() >= 2)
    write_figure(program_figure(prog, grid_runs, grid_trajs), out_dir + "/figure");
  write_file_atomic(out_dir + "/summary.json", program.dump(2) + "\n");
  progress.done();
  if (!quiet)
    std::printf("nmrc theory: %zu run(s) of %s written to %s\n", prog.runs.size(),
                prog.name.c_str(), out_dir.c_str());
  return 0;
}

}  // namespace

void add_theory_command(CLI::App& app, GlobalOptions& global, Action& run) {
  auto* cmd = app.add_subcommand(
      "theory", "Heat-flow model: collision model, master equation, the paper's figures");
  auto file = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto threads = std::make_shared<int>(0);
  cmd->add_option("PROGRAM", *file, "Theory program YAML (docs/theory-format.md)")->required();
  cmd->add_option("--out", *out, "Output directory")->required();
  cmd->add_option("--threads", *threads, "Threads per collision model (0 = all cores)")
      ->check(CLI::Range(0, 64));
  cmd->callback([&run, &global, file, out, threads] {
    run = [&global, file, out, threads] { return run_theory(*file, *out, global.quiet, *threads); };
  });
}

}  // namespace nmrc::cli
#endif  // NMRC_THERMO_AVAILABLE
