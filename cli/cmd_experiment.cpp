// nmrc experiment PROGRAM.yaml --out DIR: the paper's heat-flow experiment on the virtual
// spectrometer (nmrc::experiment, docs/experiment-format.md). Thin: loads the program, runs each
// case through the library, writes files and pictures, prints the table. A case whose
// summary.json is complete for the same program text is kept (resume after an interruption).
#ifdef NMRC_EXPERIMENT_AVAILABLE

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "nmrc/compiler/team.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/text.hpp"
#include "nmrc/experiment/bruker_run.hpp"
#include "nmrc/experiment/output.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/run.hpp"
#include "nmrc/spectrometer/bruker_dataset.hpp"
#include "nmrc/spectrometer/preparation.hpp"
#include "plot.hpp"
#include "terminal.hpp"

namespace nmrc::cli {

namespace {

using nlohmann::ordered_json;
namespace ex = nmrc::experiment;
namespace fs = std::filesystem;
namespace sp = nmrc::spectrometer;

double total_bar(const ordered_json& s) {
  const double a = s["statistical"].get<double>(), b = s["systematic"].get<double>();
  return std::sqrt(a * a + b * b);
}

/// The four panels of one case (Fig. 3(b)-(j) / Fig. 4 style) from its summary JSON: energy
/// change per subsystem, heat released and free-energy change, apparent temperatures, and the
/// heat each subsystem exchanged in each measured collision (the pair of runs). Error bars: the
/// total (statistical + systematic in quadrature); the per-collision panel also draws the
/// statistical part alone.
std::vector<Panel> case_panels(const ordered_json& j) {
  const std::string title = j["title"].get<std::string>();
  std::vector<std::string> names;
  for (const auto& [k, v] : j["spins"].items())
    if (k != "R") names.push_back(k);
  const int ns = static_cast<int>(names.size());
  const auto& th = j["theory_curves"];
  Panel pe{title + ": energy change", "interaction", "E_k - E_k(0)  [delta]", {}, {}};
  Panel ph{title + ": heat and free energy", "interaction", "[delta]", {}, {}};
  Panel pa{title + ": apparent temperature", "interaction", "AT_k  [delta/k_B]", {}, {}};
  Panel pc{title + ": heat exchanged in collision m",
           "collision m  (bars: thin stat + sys, thick stat)",
           "E_k(m) - E_k(m-1)  [delta]",
           {},
           {}};
  pe.key = ph.key = pa.key = pc.key = "outside bottom center horizontal";
  const size_t steps = th["step"].size();
  std::vector<double> x(steps);
  for (size_t i = 0; i < steps; ++i) x[i] = th["step"][i].get<double>();
  const auto& zero = j["points"][0];  // collision 0: the measured prepared state
  for (int k = 0; k < ns; ++k) {
    Series s{names[k] + " theory", x, {}};
    s.color = k + 1;
    const double e0 = th["energy"][0][k].get<double>();
    for (size_t i = 0; i < steps; ++i) s.y.push_back(th["energy"][i][k].get<double>() - e0);
    pe.series.push_back(s);
    Series m{names[k] + " measured", {}, {}};
    m.color = k + 1;
    m.style = "points";
    const double m0 = zero["energy"][k]["mean"].get<double>();
    const double s0 = zero["energy"][k]["statistical"].get<double>();
    for (const auto& pt : j["points"]) {
      if (pt["collision"].get<int>() == 0) continue;
      m.x.push_back(pt["step"].get<double>());
      m.y.push_back(pt["energy"][k]["mean"].get<double>() - m0);
      // E(m) - E(0), both measured: statistical parts add in quadrature (independent draws);
      // the systematic part of the point itself (E(0)'s is reported in the CSV)
      const double st = pt["energy"][k]["statistical"].get<double>();
      const double sy = pt["energy"][k]["systematic"].get<double>();
      m.yerr.push_back(std::sqrt(st * st + s0 * s0 + sy * sy));
    }
    pe.series.push_back(m);
    // per-collision heat: the ideal increment at every collision, the measured pairs
    Series ci{names[k] + " ideal", {}, {}};
    ci.color = k + 1;
    const int spc = static_cast<int>((steps - 1) / std::max<size_t>(1, th["collision"].back()));
    for (size_t i = static_cast<size_t>(spc); i < steps; i += static_cast<size_t>(spc)) {
      ci.x.push_back(th["collision"][i].get<double>());
      ci.y.push_back(th["energy"][i][k].get<double>() - th["energy"][i - spc][k].get<double>());
    }
    pc.series.push_back(ci);
    Series cm{names[k] + " measured", {}, {}}, cs{"", {}, {}};  // cs: no key entry
    cm.color = cs.color = k + 1;
    cm.style = "points pt 7";
    cs.style = "points pt 7";
    cs.width = 4.0;
    for (const auto& pt : j["points"]) {
      if (pt["collision"].get<int>() == 0) continue;
      const auto& d = pt["collision_increment"][k];
      cm.x.push_back(pt["collision"].get<double>());
      cm.y.push_back(d["mean"].get<double>());
      cm.yerr.push_back(total_bar(d));
      cs.x.push_back(pt["collision"].get<double>());
      cs.y.push_back(d["mean"].get<double>());
      cs.yerr.push_back(d["statistical"].get<double>());
    }
    pc.series.push_back(cm);
    pc.series.push_back(cs);
    Series a{names[k] + " theory", {}, {}};
    a.color = k + 1;
    for (size_t i = 0; i < steps; ++i)
      if (!th["at"][i][k].is_null()) {
        a.x.push_back(x[i]);
        a.y.push_back(th["at"][i][k].get<double>());
      }
    pa.series.push_back(a);
    Series am{names[k] + " measured", {}, {}};
    am.color = k + 1;
    am.style = "points pt 7";
    for (const auto& pt : j["points"])
      if (!pt["at"][k].is_null()) {
        am.x.push_back(pt["step"].get<double>());
        am.y.push_back(pt["at"][k]["mean"].get<double>());
        am.yerr.push_back(total_bar(pt["at"][k]));
      }
    pa.series.push_back(am);
  }
  Series tr{"T_R", {x.front(), x.back()}, {}};
  tr.y.assign(2, j["bath_temperature"].get<double>());
  tr.dashed = true;
  tr.color = 0;
  pa.series.push_back(tr);
  Series q{"heat to bath, theory", x, {}}, qm{"heat, measured", {}, {}};
  Series f{"F - F(0), theory", {}, {}}, fm{"F - F(0), measured", {}, {}};
  q.color = qm.color = 6;
  f.color = fm.color = 7;
  qm.style = fm.style = "points";
  const double f0 = th["free_energy"][0].get<double>();
  for (size_t i = 0; i < steps; ++i) {
    q.y.push_back(th["heat_to_bath"][i].get<double>());
    f.x.push_back(x[i]);
    f.y.push_back(th["free_energy"][i].get<double>() - f0);
  }
  const double fm0 = zero["free_energy"]["mean"].get<double>();
  const double fs0 = zero["free_energy"]["statistical"].get<double>();
  for (const auto& pt : j["points"]) {
    if (pt["collision"].get<int>() == 0) continue;
    qm.x.push_back(pt["step"].get<double>());
    qm.y.push_back(pt["heat"]["mean"].get<double>());
    qm.yerr.push_back(total_bar(pt["heat"]));
    fm.x.push_back(pt["step"].get<double>());
    fm.y.push_back(pt["free_energy"]["mean"].get<double>() - fm0);  // F(m) - F(0), both measured
    const double st = pt["free_energy"]["statistical"].get<double>();
    const double sy = pt["free_energy"]["systematic"].get<double>();
    fm.yerr.push_back(std::sqrt(st * st + fs0 * fs0 + sy * sy));
  }
  ph.series = {q, qm, f, fm};
  for (Panel* p : {&pe, &ph, &pa, &pc})  // gnuplot warns about empty series (AT undefined)
    p->series.erase(std::remove_if(p->series.begin(), p->series.end(),
                                   [](const Series& s) { return s.x.empty(); }),
                    p->series.end());
  // AT can diverge where P0 + C ~ P1 + C: keep the panel readable
  pa.ymin = 0.0;
  pa.ymax = 2.5;
  return {pe, ph, pa, pc};
}

int run_experiment(const std::string& file, const std::string& out, bool quiet, bool recompile,
                   bool no_compile, std::string cache_dir, bool no_cache, bool no_budget,
                   const std::string& bruker, const std::vector<int>& bruker_collisions,
                   int threads, compiler::Team* global_team) {
  if (threads < 1 || threads > 256)  // the bound of compile's --threads (CompileOptions)
    throw InputError("--threads = " + std::to_string(threads) + ": must be between 1 and 256");
  if (!fs::is_regular_file(file)) throw InputError(file + ": cannot read file");
  const ex::ExperimentProgram p = ex::load_experiment_program(file);
  compiler::Team* team = compiler::team_shared(global_team) ? global_team : nullptr;
  if (team && !bruker.empty())
    throw InputError(
        "--bruker: writes the TopSpin datasets from one process: run it without "
        "mpirun (docs/mpi.md)");
  // TopSpin datasets of chosen measured collisions (docs/bruker.md): checked and bounded first.
  std::map<std::string, std::vector<int>> record;
  if (!bruker.empty()) {
    size_t expnos = 0;
    for (const auto& c : p.cases) {
      std::vector<int>& r = record[c.name];
      if (bruker_collisions.empty()) r.push_back(c.measure.back());
      for (int m : bruker_collisions)
        if (std::find(c.measure.begin(), c.measure.end(), m) != c.measure.end()) r.push_back(m);
      expnos += r.size() * p.readout.settings.size() * (p.inversion ? 2 : 1);
    }
    for (int m : bruker_collisions) {
      bool measured = false;
      for (const auto& c : p.cases)
        measured |= std::find(c.measure.begin(), c.measure.end(), m) != c.measure.end();
      if (!measured)
        throw InputError("--bruker-collisions = " + std::to_string(m) +
                         ": not a measured collision of any case (measure: in " + file + ")");
    }
    if (!p.imperfections.readout)
      throw InputError(file +
                       ": imperfections.readout = false: ideal line values, no FIDs to "
                       "write with --bruker");
    if (expnos > sp::kMaxBrukerSeries)
      throw InputError("--bruker: " + std::to_string(expnos) + " experiments: at most " +
                       std::to_string(sp::kMaxBrukerSeries) + "; choose fewer collisions");
  }
  std::ostringstream datasets;
  datasets << "dataset,case,collision,acquisition,expnos\n";
  ex::RunSettings settings;
  settings.cache_dir = no_cache ? "" : cache_dir.empty() ? default_cache_dir() : cache_dir;
  // Before any long work: an unwritable --out is an error now, a cache that cannot be used a
  // warning now (the run goes on without it).
  check_output_folder(out);
  if (!settings.cache_dir.empty() && compiler::team_root(team)) cache_usable(settings.cache_dir);
  settings.compile_mode = no_compile  ? ex::CompileMode::kNever
                          : recompile ? ex::CompileMode::kRecompile
                                      : ex::CompileMode::kAuto;
  settings.error_budget = !no_budget;
  settings.threads = threads;
  const bool budget = settings.error_budget && p.error_budget;
  ex::PulseLibrary lib = ex::make_pulse_library(p, settings);
  Progress progress(quiet);
  // Under mpirun (docs/mpi.md) the cases are shared by the ranks (compiler::share_items): rank 0
  // finds the finished ones, the others learn which remain, each rank runs its cases and sends
  // their files, and rank 0 writes them in case order as one process does.
  std::vector<std::optional<ordered_json>> summaries(p.cases.size());
  std::string todo_text;  // the cases to run, as indices
  if (compiler::team_root(team))
    for (size_t i = 0; i < p.cases.size(); ++i) {
      const std::string dir = out + "/" + p.cases[i].name;
      const std::string sfile = dir + "/summary.json";
      if (!recompile && bruker.empty() && fs::is_regular_file(sfile)) {
        try {
          auto j = ordered_json::parse(read_file(sfile));
          // A case whose figure is missing (a full disk, a killed gnuplot) runs again to redraw
          // it.
          if (j.value("complete", false) &&
              j.value("settings_key", "") == ex::settings_key(p, budget) &&
              fs::is_regular_file(dir + "/experiment.png") &&
              fs::is_regular_file(dir + "/experiment.svg")) {
            summaries[i] = std::move(j);
            continue;  // finished by an earlier run
          }
        } catch (const std::exception&) {
          // unreadable: run the case again
        }
      }
      todo_text += std::to_string(i) + " ";
    }
  if (team) team->broadcast(todo_text);
  std::vector<size_t> todo;
  {
    std::istringstream is(todo_text);
    for (size_t i; is >> i;) {
      NMRC_CHECK(i < p.cases.size(), "experiment: rank 0 sent a case index out of range");
      todo.push_back(i);
    }
  }
  // The units of work (experiment::case_units): a pair of runs of a case with ideal
  // re-preparation, a whole case with measured re-preparation; item k of the cases to run, in
  // case and unit order, is dealt to rank k % N (compiler::share_items).
  struct Item {
    size_t t, unit;  // todo[t]'s unit
  };
  std::vector<Item> items;
  for (size_t t = 0; t < todo.size(); ++t)
    for (size_t u = 0; u < ex::case_units(p, p.cases[todo[t]]); ++u) items.push_back({t, u});
  auto case_settings = [&](size_t t) {
    ex::RunSettings cs = settings;
    if (!bruker.empty()) cs.record_collisions = record[p.cases[todo[t]].name];
    return cs;
  };
  // Progress: the pairs of runs done of all (rank 0 counts the others' as they post them, at
  // its own units' ends), then what the unit's engine is doing.
  size_t done = 0, pairs = 0;
  for (const Item& it : items) pairs += ex::unit_pairs(p, p.cases[todo[it.t]], it.unit);
  std::string status;
  auto show = [&](const std::string& s) { progress.update(p.name + " | " + status + " | " + s); };
  // A unit: its pairs of runs as text (bit-exact, experiment::CaseRunner), by this rank's runner
  // of the unit's case (its engines kept for the case's next units on this rank).
  std::unique_ptr<ex::CaseRunner> runner;
  size_t runner_t = todo.size();
  auto produce = [&](size_t i) {
    const Item& it = items[i];
    if (team && compiler::team_root(team))
      for (int n : team->take_posts()) done += static_cast<size_t>(n);
    status = "collisions " + std::to_string(done) + "/" + std::to_string(pairs) + " done";
    if (runner_t != it.t) {
      runner.reset();  // the previous case's engines
      runner =
          std::make_unique<ex::CaseRunner>(p, p.cases[todo[it.t]], lib, case_settings(it.t), show);
      runner_t = it.t;
    }
    std::string text = runner->run_unit(it.unit);
    const size_t n = ex::unit_pairs(p, p.cases[todo[it.t]], it.unit);
    done += n;
    if (team && !compiler::team_root(team)) team->post(static_cast<int>(n));  // for rank 0
    return text;
  };
  // Rank 0: a case's units in order; at its last, the case assembled and written as one process.
  std::vector<std::string> units;
  auto consume = [&](size_t i, const std::string& text) {
    const Item& it = items[i];
    units.push_back(text);
    if (units.size() < ex::case_units(p, p.cases[todo[it.t]])) return;
    const ex::CaseSpec& c = p.cases[todo[it.t]];
    const ex::CaseResult r = ex::assemble_case(p, c, case_settings(it.t), units);
    units.clear();
    progress.done();
    for (const auto& rec : r.recorded) {  // --bruker: one process only (refused above)
      // One dataset per acquisition: EXPNO k = readout setting k (docs/bruker.md).
      const std::string name = ex::topspin_case_name(c.name) + "_m" +
                               std::to_string(rec.collision) + "_" + rec.acquisition;
      std::vector<sp::BrukerSeriesEntry> entries;
      for (size_t k = 0; k < rec.fids.size(); ++k) {
        const std::string st = p.readout.settings[k].name;
        entries.push_back(
            {rec.fids[k],
             ex::topspin_case_name(c.name) + "_m" + std::to_string(rec.collision) + "_" + st,
             "case " + c.name + ", collision " + std::to_string(rec.collision) + ", run from " +
                 rec.acquisition + ", readout setting " + st,
             ""});
      }
      sp::write_bruker_series(bruker + "/" + name, p.molecule, entries);
      datasets << name << "," << c.name << "," << rec.collision << "," << rec.acquisition << ","
               << entries.size() << "\n";
    }
    const std::string dir = out + "/" + c.name;
    make_directories(dir);
    for (const auto& [name, text] : ex::case_data_files(p, r))
      write_file_atomic(dir + "/" + name, text);
    const std::string summary = ex::case_summary(p, r, budget).dump(1) + "\n";
    ordered_json j = ordered_json::parse(summary);
    Figure fig;
    fig.title = p.name + " / " + c.title +
                ": virtual experiment (points, bars stat + sys) and theory (lines)";
    fig.rows = 1;
    fig.cols = 4;
    fig.width_px = 2000;
    fig.height_px = 520;
    fig.panels = case_panels(j);
    write_figure(fig, dir + "/experiment");
    // last: marks the case complete (the text ex::write_case_summary writes)
    write_file_atomic(dir + "/summary.json", summary);
    summaries[todo[it.t]] = std::move(j);
  };
  try {
    compiler::share_items(team, items.size(), produce, consume);
  } catch (...) {
    if (team) team->end_posts();  // every rank throws after the same round (share_items)
    throw;
  }
  if (team) team->end_posts();
  if (!compiler::team_root(team)) return 0;  // rank 0 writes the program's files
  std::vector<ordered_json> cases;
  for (auto& j : summaries) cases.push_back(std::move(*j));
  // all cases: one figure (rows: energy, heat/free energy, AT, per-collision heat; one column
  // per case) and a table
  Figure all;
  all.title = p.name + ": virtual experiment on " + p.molecule.name +
              " (points: measurement, bars: statistical + systematic; lines: ideal theory)";
  all.rows = 4;
  all.cols = static_cast<int>(cases.size());
  all.width_px = 520 * all.cols;
  all.height_px = 1650;
  std::vector<std::vector<Panel>> cols;
  for (const auto& j : cases) cols.push_back(case_panels(j));
  for (int row = 0; row < 4; ++row)
    for (const auto& c : cols) all.panels.push_back(c[row]);
  make_directories(out);
  write_figure(all, out + "/" + p.name);
  const ordered_json top = ex::program_summary(p, cases, out + "/" + p.name + ".png");
  std::printf(
      "%s: virtual experiment, %zu cases (measured: pairs of runs without/with contact, "
      "inversion-paired, PPS-reference scale)\n",
      p.name.c_str(), cases.size());
  std::printf("%-16s %-4s %11s %11s %9s %9s %8s  %s\n", "case", "S", "ideal dE", "measured",
              "+-stat", "+-sys", "rel.err", "per-collision directions: right/wrong/unresolved");
  for (const auto& j : cases) {
    size_t k = 0;
    for (const auto& [s, ideal] : j["delta_energy"].items()) {
      int r = 0, w = 0, u = 0;
      for (const auto& pt : j["points"]) {
        if (!pt.contains("verdict")) continue;
        const std::string v = pt["verdict"][k].get<std::string>();
        r += v == "resolved right";
        w += v == "resolved wrong";
        u += v == "unresolved";
      }
      std::printf("%-16s %-4s %11.5f %11.5f %9.5f %9.5f %7.1f%%  %d/%d/%d\n",
                  escape_text(j["case"].get<std::string>()).c_str(), escape_text(s).c_str(),
                  ideal.get<double>(), j["measured_delta_energy"][s].get<double>(),
                  j["measured_delta_energy_statistical"][s].get<double>(),
                  j["measured_delta_energy_systematic"][s].get<double>(),
                  100.0 * j["relative_error"][s].get<double>(), r, w, u);
      ++k;
    }
  }
  const auto& v = top["verdicts"];
  std::printf(
      "per-collision heat directions (|ideal| > %g, resolved beyond %g sigma stat+sys): %d judged, "
      "%d resolved right, %d resolved wrong, %d unresolved; %d within 30%% or 3e-4; %d with a "
      "mean of the wrong sign; error within 1 (2) bars: %d (%d)\n",
      ex::kJudgedIncrement, ex::kVerdictSigmas, v["judged"].get<int>(),
      v["resolved_right"].get<int>(), v["resolved_wrong"].get<int>(), v["unresolved"].get<int>(),
      v["magnitude_within_goal"].get<int>(), v["mean_of_wrong_sign"].get<int>(),
      v["within_one_bar"].get<int>(), v["within_two_bars"].get<int>());
  write_file_atomic(out + "/summary.json", top.dump(1) + "\n");
  if (!bruker.empty()) {
    write_file_atomic(bruker + "/datasets.csv", datasets.str());
    std::printf("TopSpin datasets: %s/datasets.csv\n", bruker.c_str());
  }
  std::printf(
      "figure: %s/%s.png (.svg); per case: %s/<case>/{measurements.csv,summary.json,"
      "experiment.png}\n",
      out.c_str(), p.name.c_str(), out.c_str());
  return 0;
}

// nmrc experiment PROGRAM --from-bruker DIR --case C --collision M --out OUT: a run export's
// folder holding the console's data (every EXPNO's fid), calibrated as the virtual run
// calibrates (experiment::calibrate_run_bruker; docs/bruker.md, "Calibration from the
// console's data"). Writes OUT/calibration.json.
int run_from_bruker(const std::string& file, const std::string& out, const std::string& dir,
                    const std::string& case_name, int collision, double scale) {
  if (!fs::is_regular_file(file)) throw InputError(file + ": cannot read file");
  if (!(scale > 0) || !std::isfinite(scale))
    throw InputError("--scale = " + std::to_string(scale) + ": must be a finite number > 0");
  const ex::ExperimentProgram p = ex::load_experiment_program(file);
  const ex::CaseSpec* c = nullptr;
  std::string names;
  for (const auto& cs : p.cases) {
    if (cs.name == case_name || ex::topspin_case_name(cs.name) == case_name) c = &cs;
    names += (names.empty() ? "" : ", ") + cs.name;
  }
  if (!c) throw InputError(file + ": --case = " + case_name + ": no such case (" + names + ")");
  const int last = std::max(c->params.collisions, c->measure.back());
  if (collision < 1 || collision > last)
    throw InputError("--collision = " + std::to_string(collision) + ": must be in 1.." +
                     std::to_string(last) + " for case " + c->name);
  size_t expnos = 0;
  const std::string tag = ex::topspin_case_name(c->name) + "_m" + std::to_string(collision);
  const auto groups = ex::read_run_groups(dir, p, &expnos, tag);
  const ex::PairCalibration cal = ex::calibrate_run_bruker(p, *c, groups, dir, scale);
  const size_t ns = cal.after.size();
  ordered_json j;
  j["program"] = ex::recorded_program_path(file);
  j["case"] = c->name;
  j["collision"] = collision;
  j["expnos"] = expnos;
  j["scale"] = scale;
  j["inversion"] = p.inversion;
  j["reference"] = p.reference;
  j["pps_scale"] = cal.pps;
  j["contact_loss"] = cal.loss;
  j["energy_before"] = cal.before;
  j["energy_after"] = cal.after;
  j["energy_after_uncorrected"] = cal.after_uncorrected;
  std::vector<double> inc;
  for (size_t k = 0; k < ns; ++k) inc.push_back(cal.after[k] - cal.before[k]);
  j["increment"] = inc;
  j["bath_energy_before"] = cal.bath_before;
  j["bath_energy_after"] = cal.bath_after;
  j["energy_raw_before"] = cal.raw_before;
  j["energy_raw_after"] = cal.raw_after;
  double heat = 0;
  for (size_t k = 0; k < ns; ++k) heat += cal.before[k] - cal.after[k];
  // The run's heat of collision m is E_S(collision 0) - E_S(after m) (run.cpp): this folder
  // holds the state before collision m, which is collision 0's only for m = 1.
  if (collision == 1) j["heat"] = heat;
  fs::create_directories(out);
  write_file_atomic(out + "/calibration.json", j.dump(2) + "\n");
  std::printf("%s: case %s, collision %d: %zu EXPNOs, %zu groups; PPS scale %.6f\n", dir.c_str(),
              c->name.c_str(), collision, expnos, groups.size(), cal.pps);
  std::printf("%-8s %-14s %-14s %-14s %-12s\n", "spin", "E_before", "E_after", "increment", "loss");
  for (size_t k = 0; k < ns; ++k)
    std::printf("%-8s %-14.8f %-14.8f %-14.8f %-12.6f\n", c->params.names[k].c_str(), cal.before[k],
                cal.after[k], inc[k], cal.loss[k]);
  if (collision == 1) std::printf("heat to the bath: %.8f\n", heat);
  std::printf("wrote %s/calibration.json\n", out.c_str());
  return 0;
}

}  // namespace

std::string default_cache_dir() {
  // The XDG Base Directory spec: a relative XDG_CACHE_HOME is invalid and ignored.
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x == '/')
    return std::string(x) + "/nmrc";
  if (const char* h = std::getenv("HOME"); h && *h == '/') return std::string(h) + "/.cache/nmrc";
  std::fprintf(stderr,
               "nmrc: warning: no cache folder (HOME and XDG_CACHE_HOME are not set to absolute "
               "paths): caching is off; give --cache-dir DIR to cache\n");
  return "";
}

void add_experiment_command(CLI::App& app, GlobalOptions& global, Action& run) {
  auto* cmd = app.add_subcommand(
      "experiment", "The paper's heat-flow experiment on the virtual spectrometer (Fig. 3, 4, 12)");
  auto file = std::make_shared<std::string>();
  auto dir = std::make_shared<std::string>();
  auto cache = std::make_shared<std::string>();
  auto recompile = std::make_shared<bool>(false);
  auto no_compile = std::make_shared<bool>(false);
  auto no_budget = std::make_shared<bool>(false);
  auto no_cache = std::make_shared<bool>(false);
  auto threads = std::make_shared<int>(2);
  cmd->add_option("PROGRAM", *file, "Experiment program (YAML, docs/experiment-format.md)")
      ->required();
  cmd->add_option("--out", *dir, "Output directory")->required();
  cmd->add_option("--cache-dir", *cache,
                  "Channel and compile caches (default $XDG_CACHE_HOME/nmrc or ~/.cache/nmrc)");
  cmd->add_flag("--no-cache", *no_cache, "Neither read nor write the channel and compile caches");
  auto* rc = cmd->add_flag("--recompile", *recompile, "Compile every pulse with GRAPE again");
  cmd->add_flag("--no-compile", *no_compile, "Refuse to compile: a missing pulse is an error")
      ->excludes(rc);
  cmd->add_flag("--no-budget", *no_budget, "Skip the error budget");
  cmd->add_option("--threads", *threads,
                  "Threads for the relaxing channels and the tomography settings (default 2; "
                  "results do not depend on it)");
  auto bruker = std::make_shared<std::string>();
  auto bruker_collisions = std::make_shared<std::vector<int>>();
  cmd->add_option(
      "--bruker", *bruker,
      "Also write the readout FIDs as TopSpin datasets DIR/<case>_m<M>_<acquisition>/k");
  cmd->add_option("--bruker-collisions", *bruker_collisions,
                  "Measured collisions to write (default: the last measured of each case)")
      ->delimiter(',');
  auto from_bruker = std::make_shared<std::string>();
  auto case_name = std::make_shared<std::string>();
  auto collision = std::make_shared<int>(-1);
  auto scale = std::make_shared<double>(1.0);
  auto* fb = cmd->add_option("--from-bruker", *from_bruker,
                             "A run export's folder holding the console's data: calibrate it as "
                             "the virtual run does (with --case, --collision)");
  fb->excludes(cmd->get_option("--bruker"));
  cmd->add_option("--case", *case_name, "--from-bruker: the exported run's case")->needs(fb);
  cmd->add_option("--collision", *collision, "--from-bruker: the exported run's collision")
      ->needs(fb);
  cmd->add_option("--scale", *scale,
                  "--from-bruker: factor from the folders' signal to nmrc's units (default 1)")
      ->needs(fb);
  cmd->callback([&run, &global, file, dir, cache, no_cache, recompile, no_compile, no_budget,
                 bruker, bruker_collisions, threads, from_bruker, case_name, collision, scale] {
    global.team_command = true;  // mpirun -n N: the ranks share the cases (docs/mpi.md)
    run = [&global, file, dir, cache, no_cache, recompile, no_compile, no_budget, bruker,
           bruker_collisions, threads, from_bruker, case_name, collision, scale] {
      if (!from_bruker->empty()) {
        if (case_name->empty() || *collision == -1)
          throw InputError("--from-bruker = " + *from_bruker +
                           ": give the exported run's --case and --collision");
        if (compiler::team_shared(global.team))
          throw InputError("--from-bruker = " + *from_bruker +
                           ": calibrates in one process: run it without mpirun (docs/mpi.md)");
        return run_from_bruker(*file, *dir, *from_bruker, *case_name, *collision, *scale);
      }
      return run_experiment(*file, *dir, global.quiet, *recompile, *no_compile, *cache, *no_cache,
                            *no_budget, *bruker, *bruker_collisions, *threads, global.team);
    };
  });
}

}  // namespace nmrc::cli
#endif  // NMRC_EXPERIMENT_AVAILABLE
