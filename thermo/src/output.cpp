// The theory's result files (output.hpp; columns and keys: docs/theory-format.md).
#include "nmrc/thermo/output.hpp"

#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "nmrc/core/io.hpp"
#include "nmrc/core/text.hpp"

namespace nmrc::thermo {

namespace {

using nlohmann::json;

// A finite number with 10 significant digits; "" for NaN or infinity (an empty CSV cell).
std::string num(double v) {
  if (!std::isfinite(v)) return "";
  return fmt::format("{:.10g}", v);
}

// A JSON number, or "undefined" for an AT that does not exist (never a bare NaN).
json at_json(const ApparentTemperature& at) {
  if (at.value) return *at.value;
  return "undefined";
}

std::string acting_name(const RunSpec& r, int acting) {
  if (acting < 0) return "initial";
  if (acting >= r.params.n()) return "all";
  return r.params.names[acting];
}

// One column of a CSV: its header and its cell in a row of type T (one list, so that a header
// and its value cannot drift apart).
template <class T>
struct Column {
  std::string header;
  std::function<std::string(const T&)> cell;
};

template <class T>
std::string csv_table(const std::vector<Column<T>>& columns, const std::vector<T>& rows) {
  std::string out;
  for (size_t c = 0; c < columns.size(); ++c) {
    if (c) out += ',';
    out += columns[c].header;
  }
  out += '\n';
  for (const T& row : rows) {
    for (size_t c = 0; c < columns.size(); ++c) {
      if (c) out += ',';
      out += columns[c].cell(row);
    }
    out += '\n';
  }
  return out;
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
  j["engine"] = p.engine == Engine::kSectors ? "sectors" : "local";
  j["units"] = "delta = k_B = 1";
  return j;
}

json predictors_json(const RunSpec& r, const PredictorChecks& pc) {
  const auto& p = r.params;
  json j;
  for (int k = 0; k < p.n(); ++k) {
    const auto& c = pc.subsystems[k];
    json e = {{"one_way_coherence", c.one_way_coherence},
              {"threshold", c.threshold},
              {"natural_direction", direction_name(c.natural)},
              {"reversal_predicted", c.reversal_predicted},
              {"first_collision_heat_in", c.first_collision_heat_in},
              {"first_collision_direction", direction_name(c.first_collision)}};
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

json run_summary(const RunResult& res) {
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

// Master-equation comparison at the collision ends (t = N tau): its CSV and its summary entry.
json master_equation_output(const RunSpec& r, const MasterEquationComparison& c, std::string& csv) {
  const auto& names = r.params.names;
  using Point = MasterEquationComparison::Point;
  std::vector<Column<Point>> cols = {
      {"collision", [](const Point& pt) { return std::to_string(pt.collision); }},
      {"t", [](const Point& pt) { return num(pt.t); }}};
  for (size_t k = 0; k < names.size(); ++k) {
    cols.push_back(
        {"E_" + names[k] + "_ME", [k](const Point& pt) { return num(pt.energy_me[k]); }});
    cols.push_back(
        {"E_" + names[k] + "_CM", [k](const Point& pt) { return num(pt.energy_cm[k]); }});
  }
  for (size_t k = 0; k < names.size(); ++k) {
    cols.push_back(
        {"Qdot_" + names[k] + "_ME", [k](const Point& pt) { return num(pt.heat_current_me[k]); }});
    cols.push_back({"AT_" + names[k] + "_ME",
                    [k](const Point& pt) { return pt.at_me[k] ? num(*pt.at_me[k]) : ""; }});
  }
  csv = csv_table(cols, c.points);
  return {{"integrator",
           fmt::format("Boost.Odeint runge_kutta_dopri5, dense output, abs = rel tol {:g}",
                       kMasterEquationTolerance)},
          {"time_mapping", "t = collision number x tau; gamma+- = g^2 tau P_R^(1,0)"},
          {"max_energy_difference_vs_collision_model", c.max_energy_difference},
          {"direction_checks", c.direction_checks},
          {"direction_agreements", c.direction_agreements}};
}

std::string convergence_csv(const std::vector<ConvergenceRow>& rows) {
  using Row = ConvergenceRow;
  const std::vector<Column<Row>> cols = {
      {"tau", [](const Row& r) { return num(r.tau); }},
      {"g", [](const Row& r) { return num(r.g); }},
      {"theta", [](const Row& r) { return num(r.theta); }},
      {"collisions", [](const Row& r) { return std::to_string(r.collisions); }},
      {"max_energy_error", [](const Row& r) { return num(r.max_energy_error); }},
      {"final_state_error", [](const Row& r) { return num(r.final_state_error); }},
      {"observed_order", [](const Row& r) { return num(r.observed_order); }}};
  return csv_table(cols, rows);
}

std::string convergence_md(const RunSpec& r, const std::vector<ConvergenceRow>& rows) {
  std::ostringstream os;
  os << "# Collision model -> cascaded master equation (" << r.name << ")\n\n"
     << "g^2 tau = " << num(r.params.g * r.params.g * r.params.tau)
     << " fixed (same master equation), final time t = collisions x tau = "
     << num(r.params.collisions * r.params.tau)
     << ". Error: max over subsystems and the base run's collision times of |E_k(collision "
        "model) - E_k(master equation)|; master equation by Boost.Odeint dopri5, tol "
     << fmt::format("{:g}", kConvergenceTolerance) << ".\n\n"
     << "| tau | g | theta = g tau | collisions | max energy error | final max abs(rho) error | "
        "observed order |\n|---|---|---|---|---|---|---|\n";
  for (const auto& row : rows)
    os << fmt::format("| {:.6g} | {:.6g} | {:.4g} | {} | {:.3e} | {:.3e} | {} |\n", row.tau, row.g,
                      row.theta, row.collisions, row.max_energy_error, row.final_state_error,
                      row.observed_order == 0 ? "-" : num(row.observed_order).substr(0, 5));
  return os.str();
}

// sweep.csv and the sweep's summary.json.
void write_sweep(const RunSpec& r, const std::vector<SweepPoint>& pts, const std::string& dir) {
  const auto& sw = *r.sweep;
  const auto& base = r.params;
  const std::string pname = "c_" + base.names[sw.p] + "_" + base.names[sw.q];
  using Pt = SweepPoint;
  std::vector<Column<Pt>> cols = {{pname, [](const Pt& pt) { return num(pt.c); }}};
  for (size_t k = 0; k < base.names.size(); ++k)
    cols.push_back({"dE_" + base.names[k], [k](const Pt& pt) { return num(pt.delta_energy[k]); }});
  cols.push_back({"dE_S", [](const Pt& pt) { return num(pt.delta_system_energy); }});
  cols.push_back({"heat_to_bath", [](const Pt& pt) { return num(pt.heat_to_bath); }});
  cols.push_back(
      {"dC_rel_entropy", [](const Pt& pt) { return num(pt.delta_coherence_rel_entropy); }});
  cols.push_back({"d_coherence_l1", [](const Pt& pt) { return num(pt.delta_l1_coherence); }});
  cols.push_back({"dF", [](const Pt& pt) { return num(pt.delta_free_energy); }});
  cols.push_back({"d_coherence_free_energy",
                  [](const Pt& pt) { return num(pt.delta_coherence_free_energy); }});
  json points = json::array();
  for (const auto& pt : pts) {
    json pj = {{pname, pt.c}};
    for (int k = 0; k < base.n(); ++k) pj["delta_energy"][base.names[k]] = pt.delta_energy[k];
    pj["heat_to_bath"] = pt.heat_to_bath;
    pj["delta_free_energy"] = pt.delta_free_energy;
    pj["delta_coherence_rel_entropy"] = pt.delta_coherence_rel_entropy;
    pj["direction_violations"] = pt.direction_violations;
    points.push_back(pj);
  }
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
  write_file_atomic(dir + "/sweep.csv", csv_table(cols, pts));
  write_file_atomic(dir + "/summary.json", s.dump(2) + "\n");
}

}  // namespace

std::string steps_csv(const RunSpec& r, const Trajectory& t) {
  const auto& p = r.params;
  const int per = p.interaction == Interaction::kCascade ? p.n() : 1;
  const double f0 = t.steps.front().free_energy;
  using S = StepRecord;
  auto opt = [](const std::optional<double>& v) { return v ? num(*v) : std::string(); };
  auto defined = [](const std::optional<double>& v) { return std::string(v ? "1" : "0"); };
  std::vector<Column<S>> cols = {
      {"step", [](const S& s) { return std::to_string(s.step); }},
      {"collision", [](const S& s) { return std::to_string(s.collision); }},
      {"acting", [&r](const S& s) { return csv_field(acting_name(r, s.acting)); }},
      {"time", [&p, per](const S& s) { return num(p.tau * s.step / per); }}};
  const auto& names = p.names;
  for (size_t k = 0; k < names.size(); ++k)
    cols.push_back({"E_" + names[k], [k](const S& s) { return num(s.energy[k]); }});
  for (size_t k = 0; k < names.size(); ++k)
    cols.push_back({"dQ_" + names[k], [k](const S& s) { return num(s.step_heat[k]); }});
  for (size_t k = 0; k < names.size(); ++k)
    cols.push_back({"Q_" + names[k], [k](const S& s) { return num(s.heat_released[k]); }});
  for (size_t k = 0; k < names.size(); ++k)
    cols.push_back({"C1way_" + names[k], [k](const S& s) { return num(s.at.one_way[k]); }});
  for (size_t k = 0; k < names.size(); ++k) {
    cols.push_back(
        {"AT_" + names[k], [k, opt](const S& s) { return opt(s.at.subsystem[k].value); }});
    cols.push_back({"AT_" + names[k] + "_defined",
                    [k, defined](const S& s) { return defined(s.at.subsystem[k].value); }});
  }
  cols.push_back({"E_R", [](const S& s) { return num(s.bath_energy); }});
  cols.push_back({"E_S", [](const S& s) { return num(s.system_energy); }});
  cols.push_back({"heat_to_bath", [](const S& s) { return num(s.heat_to_bath); }});
  cols.push_back({"AT_system", [opt](const S& s) { return opt(s.at.system.value); }});
  cols.push_back(
      {"AT_system_defined", [defined](const S& s) { return defined(s.at.system.value); }});
  cols.push_back({"F", [](const S& s) { return num(s.free_energy); }});
  cols.push_back({"dF", [f0](const S& s) { return num(s.free_energy - f0); }});
  cols.push_back({"C_rel_entropy", [](const S& s) { return num(s.coherence); }});
  cols.push_back({"I_SR", [](const S& s) { return num(s.mi_sr); }});
  for (size_t k = 0; k < names.size(); ++k)
    cols.push_back({"I_" + names[k] + "R",
                    [k](const S& s) { return s.mi_kr.empty() ? std::string() : num(s.mi_kr[k]); }});
  cols.push_back({"resource_lhs", [](const S& s) { return num(s.resource_lhs); }});
  cols.push_back({"resource_rhs", [](const S& s) { return num(s.resource_rhs); }});
  cols.push_back({"resource_slack", [](const S& s) { return num(s.resource_slack); }});
  cols.push_back({"free_energy_bound", [](const S& s) { return num(s.free_energy_bound); }});
  return csv_table(cols, t.steps);
}

void write_theory_files(const TheoryProgram& prog, const std::vector<RunResult>& results,
                        const std::string& out_dir) {
  make_directories(out_dir);
  json program;
  program["format"] = "nmrc-theory/1";
  program["program"] = prog.name;
  program["source"] = prog.source;
  program["runs"] = json::array();
  for (const auto& res : results) {
    const RunSpec& r = *res.spec;
    const std::string dir = out_dir + "/" + r.name;
    make_directories(dir);
    if (r.sweep) {
      write_sweep(r, res.sweep, dir);
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
      json cj = json::array();
      for (const auto& row : res.convergence)
        cj.push_back({{"tau", row.tau},
                      {"g", row.g},
                      {"theta", row.theta},
                      {"collisions", row.collisions},
                      {"max_energy_error", row.max_energy_error},
                      {"final_state_error", row.final_state_error},
                      {"observed_order", row.observed_order}});
      summary["convergence"] = cj;
      write_file_atomic(dir + "/convergence.csv", convergence_csv(res.convergence));
      write_file_atomic(dir + "/convergence.md", convergence_md(r, res.convergence));
    }
    write_file_atomic(dir + "/steps.csv", steps_csv(r, t));
    write_file_atomic(dir + "/directions.csv", directions_csv(r, t));
    write_file_atomic(dir + "/summary.json", summary.dump(2) + "\n");
    program["runs"].push_back({{"name", r.name},
                               {"kind", "trajectory"},
                               {"dir", r.name},
                               {"delta_energy", summary["delta_energy"]},
                               {"heat_to_bath", summary["heat_to_bath"]},
                               {"direction_violations", t.direction_violations}});
  }
  write_file_atomic(out_dir + "/summary.json", program.dump(2) + "\n");
}

}  // namespace nmrc::thermo
