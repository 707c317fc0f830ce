// nmrc theory PROGRAM.yaml --out DIR: the paper's heat-flow model (collision model, master
// equation, convergence study, coherence sweeps), written as CSV, JSON and PNG/SVG figures.
// Output layout and columns: docs/theory-format.md.
#ifdef NMRC_THERMO_AVAILABLE
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "nmrc/thermo/analysis.hpp"
#include "nmrc/thermo/output.hpp"
#include "plot.hpp"
#include "terminal.hpp"

namespace nmrc::cli {

namespace {

using thermo::Interaction;
using thermo::RunSpec;
using thermo::Trajectory;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

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

// The sweep's figure (Fig. 13): energy changes and coherence changes against c_pq.
Figure sweep_figure(const RunSpec& r, const std::vector<thermo::SweepPoint>& pts) {
  const auto& sw = *r.sweep;
  const auto& base = r.params;
  const int n = base.n();
  const std::string plabel = "c(" + base.names[sw.p] + "," + base.names[sw.q] + ")";
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
  for (const auto& pt : pts) {
    const double v = pt.c;
    for (int k = 0; k < n; ++k) {
      es[k].x.push_back(v);
      es[k].y.push_back(pt.delta_energy[k]);
    }
    es[n].x.push_back(v);
    es[n].y.push_back(pt.delta_system_energy);
    dc.x.push_back(v);
    dc.y.push_back(pt.delta_coherence_rel_entropy);
    dl.x.push_back(v);
    dl.y.push_back(pt.delta_l1_coherence);
    dfc.x.push_back(v);
    dfc.y.push_back(pt.delta_coherence_free_energy);
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
  return fig;
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
  // The CSV and JSON files (thermo/output.hpp, as nmrc.theory(..., out=DIR) writes them), then
  // the figures.
  thermo::write_theory_files(prog, results, out_dir);
  std::vector<const RunSpec*> grid_runs;
  std::vector<const Trajectory*> grid_trajs;
  for (const auto& res : results) {
    const RunSpec& r = *res.spec;
    const std::string dir = out_dir + "/" + r.name;
    if (r.sweep) {
      write_figure(sweep_figure(r, res.sweep), dir + "/sweep");
      continue;
    }
    const Trajectory& t = *res.trajectory;
    write_figure(run_figure(r, t), dir + "/plot");
    grid_runs.push_back(&r);
    grid_trajs.push_back(&t);
  }
  if (grid_runs.size() >= 2)
    write_figure(program_figure(prog, grid_runs, grid_trajs), out_dir + "/figure");
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
