// nmrc compile PROGRAM.yaml --out DIR: GRAPE-compiles the program's gate targets into
// nmrc-pulse/1 files, plots, report.json and report.txt, then validates each pulse by an
// independent re-simulation. nmrc validate PULSE.json... --molecule M: that validation alone.
#ifdef NMRC_COMPILER_AVAILABLE
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/program.hpp"
#include "nmrc/core/bruker_shape.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "plot.hpp"
#include "terminal.hpp"

namespace nmrc::cli {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

void plot_pulse(const compiler::CompiledPulse& p, const std::string& base) {
  Figure fig;
  std::string title =
      p.name + " (" + p.molecule + ", " + fmt::format("{:.2f}", p.duration_s() * 1e3) + " ms)";
  std::string escaped;  // gnuplot's enhanced text reads _ as a subscript
  for (char ch : title) escaped += ch == '_' ? std::string("\\_") : std::string(1, ch);
  fig.title = escaped;
  fig.rows = 2;
  fig.cols = 1;
  fig.width_px = 900;
  fig.height_px = 600;
  Panel amp, ph;
  amp.title = "RF amplitude";
  amp.xlabel = ph.xlabel = "time (ms)";
  amp.ylabel = "amplitude (kHz)";
  ph.title = "RF phase";
  ph.ylabel = "phase (deg)";
  for (const auto& c : p.channels) {
    Series a{c.name, {}, {}, "steps"}, f{c.name, {}, {}, "points"};
    f.width = 0.5;
    for (int k = 0; k < c.ux_hz.size(); ++k) {
      const double t_ms = k * p.dt_s * 1e3;
      a.x.push_back(t_ms);
      a.y.push_back(std::hypot(c.ux_hz(k), c.uy_hz(k)) / 1e3);
      f.x.push_back(t_ms);
      f.y.push_back(std::atan2(c.uy_hz(k), c.ux_hz(k)) * 180.0 / kPi);
    }
    Series lim{"max RF " + c.name,
               {0.0, p.duration_s() * 1e3},
               {c.max_rf_hz / 1e3, c.max_rf_hz / 1e3},
               "lines",
               true};
    amp.series.push_back(a);
    amp.series.push_back(lim);
    ph.series.push_back(f);
  }
  fig.panels = {amp, ph};
  write_figure(fig, base);
}

json validation_json(const compiler::ValidationResult& v) {
  json j = {{"engine", v.engine}, {"nominal", v.nominal}, {"b1_scale", v.b1_scale},
            {"values", v.values}, {"min", v.min},         {"target", v.target},
            {"passed", v.passed}};
  if (!v.process_relaxed.empty())  // process fidelity Tr(S_t^dag S)/d^2 with T1/T2, nominal B1
    j["process_fidelity_relaxed"] = {{"nominal", v.process_relaxed_nominal},
                                     {"min", v.process_relaxed_min},
                                     {"values", v.process_relaxed}};
  return j;
}

std::string validation_line(const compiler::ValidationResult& v) {
  std::ostringstream os;
  os << v.name << ": nominal " << fmt::format("{:.5f}", v.nominal) << ", ensemble min "
     << fmt::format("{:.5f}", v.min) << " over B1";
  for (size_t i = 0; i < v.b1_scale.size(); ++i)
    os << " " << fmt::format("{:.3f}", v.b1_scale[i]) << ":" << fmt::format("{:.5f}", v.values[i]);
  os << (v.passed ? "  PASS" : "  BELOW TARGET ")
     << (v.passed ? "" : fmt::format("{:.4f}", v.target));
  if (v.relaxation)
    os << "\n  with relaxation: process fidelity nominal "
       << fmt::format("{:.5f}", v.process_relaxed_nominal) << ", min "
       << fmt::format("{:.5f}", v.process_relaxed_min) << " (gate-fidelity equivalent sqrt: "
       << fmt::format("{:.5f}", std::sqrt(v.process_relaxed_nominal)) << ")";
  return os.str();
}

// The decoupler a pulse was compiled with in GRAPE's model (compile: {decoupler: ...}), as the
// pulse file records it: one line, and its JSON; empty / null when none.
std::string decoupler_line(const PulseData& p) {
  if (!p.decoupler) return {};
  const PulseDecoupler& d = *p.decoupler;
  return fmt::format(
      "  decoupler in GRAPE's model: {} at B2 {:g} Hz, O2 {:g} ppm on {} of molecule {} ({} "
      "residual configurations): GRAPE's min over B1 x offsets x configurations {:.5f}\n",
      d.sequence, d.b2_hz, d.o2_ppm, d.channel, d.molecule, d.configurations, d.fidelity_min);
}

json decoupler_json(const PulseData& p) {
  if (!p.decoupler) return nullptr;
  const PulseDecoupler& d = *p.decoupler;
  return {{"sequence", d.sequence},
          {"channel", d.channel},
          {"molecule", d.molecule},
          {"b2_hz", d.b2_hz},
          {"o2_ppm", d.o2_ppm},
          {"configurations", d.configurations},
          {"fidelity_min", d.fidelity_min}};
}

}  // namespace

void add_compile_command(CLI::App& app, GlobalOptions& global, Action& run) {
  auto* cmd = app.add_subcommand("compile",
                                 "GRAPE-compile a pulse program's gate targets into shaped pulses");
  struct Opts {
    std::string program, out, cache;
    std::vector<std::string> only;
    bool no_cache = false, no_plots = false;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("PROGRAM", o->program, "Pulse program YAML (docs/program-format.md)")->required();
  cmd->add_option("--out", o->out, "Output directory")->required();
  cmd->add_option("--only", o->only, "Compile only the named gate(s)");
  cmd->add_option("--threads", o->threads, "Threads (default: the program's, 2)");
  cmd->add_option("--cache-dir", o->cache, "Pulse cache (default OUT/.cache)");
  cmd->add_flag("--no-cache", o->no_cache, "Neither read nor write the pulse cache");
  cmd->add_flag("--no-plots", o->no_plots, "Do not draw the amplitude/phase plots");
  cmd->callback([&run, &global, o] {
    global.team_command = true;  // mpirun -n N: the ranks share each gate's GRAPE work
    run = [o, &global] {
      compiler::Program prog = compiler::load_program(o->program);
      compiler::ProgramCompileOptions po;
      // Under mpirun (docs/mpi.md) every rank compiles in lock step; rank 0 alone writes the
      // files and prints (and uses the cache: the library's rule).
      po.team = global.team;
      const bool root = compiler::team_root(global.team);
      po.only = o->only;
      po.threads = o->threads;
      po.cache_dir = o->no_cache ? "" : (o->cache.empty() ? o->out + "/.cache" : o->cache);
      if (o->threads < 0)
        throw InputError("--threads = " + std::to_string(o->threads) + ": must be >= 1");
      Progress progress(global.quiet);
      po.progress = [&progress](const compiler::GateJob& job, int index, int total,
                                const compiler::GrapeProgress& g) {
        if (g.evaluations % 5 != 0) return;
        progress.update("compile " + job.name + " [" + std::to_string(index) + "/" +
                        std::to_string(total) + "]: start " + std::to_string(g.start) + ", eval " +
                        std::to_string(g.evaluations) + ", F_min " +
                        fmt::format("{:.5f}", g.fidelity_min) + " (best " +
                        fmt::format("{:.5f}", g.best_fidelity_min) + "), " +
                        fmt::format("{:.1f}", g.elapsed_s) + " s");
      };
      json report;
      report["format"] = "nmrc-compile-report/1";
      report["program"] = o->program;
      report["molecule"] = prog.molecule.name;
      report["gates"] = json::array();
      std::ostringstream txt;
      txt << "nmrc compile " << o->program << " (molecule " << prog.molecule.name << ")\n";
      txt << "fidelity F = |Tr(Ut^dag U)|/d (gate fidelity; state transfers: |<to|U|from>| "
             "averaged)\n\n";
      int missed = 0;
      double total_s = 0;
      // Each gate's files as soon as it is compiled and validated (the library's compile_program).
      po.on_gate = [&](const compiler::GateOutcome& out, int, int) {
        progress.done();
        if (!root) return;
        const compiler::GateJob* job = out.job;
        const compiler::CompileResult& r = out.result;
        const compiler::ValidationResult& v = *out.validation;
        const std::string json_path = o->out + "/" + job->name + ".json";
        write_file_atomic(json_path, pulse_file_text(r.pulse));
        if (!o->no_plots) plot_pulse(r.pulse, o->out + "/" + job->name);
        const double bound = out.bound_s;
        const double dur = r.pulse.duration_s();
        total_s += dur;
        json g;
        g["name"] = job->name;
        g["file"] = job->name + ".json";
        g["target"] = json::parse(job->target.description_json);
        if (g["target"].contains("local_unitary")) g["target"].erase("local_unitary");
        g["duration_s"] = dur;
        g["steps"] = r.pulse.channels[0].ux_hz.size();
        g["dt_s"] = r.pulse.dt_s;
        if (bound > 0) {
          g["time_optimal_bound_s"] = bound;
          g["duration_over_bound"] = dur / bound;
        }
        g["fidelity"] = {{"nominal", r.pulse.fidelity_nominal},
                         {"ensemble_min", r.pulse.ensemble_min},
                         {"values", r.pulse.ensemble_values},
                         {"b1_scale", r.pulse.b1_scale},
                         {"target", job->options.fidelity_target}};
        g["validation"] = validation_json(v);
        if (r.pulse.decoupler) g["decoupler"] = decoupler_json(r.pulse);
        int coarse_evaluations = 0;  // the coarse stage's, over every start (brief_report's)
        for (const auto& s : r.summary.starts) coarse_evaluations += s.coarse_evaluations;
        g["grape"] = {{"termination", compiler::termination_name(r.summary.termination)},
                      {"message", r.summary.message},
                      {"iterations", r.summary.iterations},
                      {"evaluations", r.summary.evaluations},
                      {"coarse_evaluations", coarse_evaluations},
                      {"coarse_factor", r.summary.coarse_factor},
                      {"wall_s", r.summary.wall_s},
                      {"best_start", r.summary.best_start},
                      {"b1_quadrature_points", r.summary.quadrature_points},
                      {"nominal_first", r.summary.nominal_first},
                      {"fine_b1_members", r.summary.fine_points},
                      {"fine_b1_fidelity_min", r.summary.fine_fidelity_min},
                      {"from_cache", r.from_cache},
                      {"cache_key", r.cache_key},
                      {"warm_start", r.summary.warm_start}};
        report["gates"].push_back(g);
        txt << job->name << " (" << job->target.type_name() << " on";
        for (const auto& l : job->target.spin_labels) txt << " " << l;
        txt << "): " << fmt::format("{:.3f}", dur * 1e3) << " ms in "
            << r.pulse.channels[0].ux_hz.size() << " steps";
        if (bound > 0)
          txt << " (time-optimal bound on the direct coupling 2 theta/(pi |J|) = "
              << fmt::format("{:.2f}", bound * 1e3) << " ms, ratio "
              << fmt::format("{:.2f}", dur / bound)
              << (dur < bound ? "; faster than that bound: routed through other couplings" : "")
              << ")";
        txt << "\n  GRAPE: " << r.summary.brief_report() << (r.from_cache ? " [from cache]" : "")
            << "\n";
        txt << "  fidelity nominal " << fmt::format("{:.5f}", r.pulse.fidelity_nominal)
            << ", ensemble min " << fmt::format("{:.5f}", r.pulse.ensemble_min) << " (target "
            << fmt::format("{:.4f}", job->options.fidelity_target) << ")\n";
        if (r.summary.fine_points > 0)  // a fresh compile (a cached one does not store it)
          txt << "  fine B1 grid (" << r.summary.fine_points << " members): min "
              << fmt::format("{:.5f}", r.summary.fine_fidelity_min) << "\n";
        txt << decoupler_line(r.pulse);
        txt << "  validation (" << v.engine << "): " << validation_line(v) << "\n\n";
        std::printf("%s: %s%s\n", job->name.c_str(), r.summary.brief_report().c_str(),
                    r.from_cache ? " [from cache]" : "");
        std::printf("%s  validation: %s\n", decoupler_line(r.pulse).c_str(),
                    validation_line(v).c_str());
        std::fflush(stdout);
        if (!out.passed()) {
          ++missed;
          std::fprintf(
              stderr,
              "%s: %s: best ensemble-minimum fidelity %.5f below target %.4f; try a longer "
              "duration_s, more RF (max_rf_hz), or more starts\n",
              job->location.c_str(), job->name.c_str(), std::min(r.pulse.ensemble_min, v.min),
              job->options.fidelity_target);
        }
      };
      // After the library's checks (a refused run leaves no folder), before the cache in it.
      po.before_work = [&o, root] {
        if (root) make_directories(o->out);
      };
      compiler::compile_program(prog, po);
      if (!root) return 0;  // rank 0 says whether a gate missed its target
      report["total_gate_duration_s"] = total_s;
      report["missed"] = missed;
      txt << "total duration of the compiled gates: " << fmt::format("{:.3f}", total_s * 1e3)
          << " ms\n";
      write_file_atomic(o->out + "/report.json", report.dump(1) + "\n");
      write_file_atomic(o->out + "/report.txt", txt.str());
      return missed > 0 ? 1 : 0;
    };
  });

  auto* val = app.add_subcommand("validate",
                                 "Re-simulate compiled pulses independently; exit 1 below target");
  struct VOpts {
    std::vector<std::string> pulses;
    std::string molecule;
    std::string engine = "exact";
    bool relaxation = false;
    std::string json_out;
    double duration_s = 0, max_rf_hz = 0;  // TopSpin shape files (docs/bruker.md)
    std::string target_from;
    int phase_sense = 1;
  };
  auto v = std::make_shared<VOpts>();
  val->add_option("PULSE", v->pulses, "nmrc-pulse/1 files")->required();
  val->add_option("--molecule", v->molecule, "Molecule YAML")->required();
  val->add_option("--engine", v->engine,
                  "Spectrometer engine: exact (default; eigendecomposition per step) or odeint "
                  "(adaptive Runge-Kutta)")
      ->check(CLI::IsMember({"exact", "odeint"}));
  val->add_flag("--relaxation", v->relaxation,
                "Also the process fidelity with T1/T2 relaxation (spectrometer; slow)");
  val->add_option("--json", v->json_out, "Write the results as JSON to this file");
  val->add_option("--duration", v->duration_s, "Shape files: pulse length, s");
  val->add_option("--max-rf", v->max_rf_hz, "Shape files: nutation frequency at 100 %, Hz");
  val->add_option("--target-from", v->target_from,
                  "Shape files: nmrc-pulse/1 file whose target, channel and ensemble apply");
  val->add_option("--phase-sense", v->phase_sense, "Shape files: 1 (default) or -1");
  val->callback([&run, &global, v] {
    run = [v, &global] {
      const Molecule m = load_molecule(v->molecule);
      std::vector<compiler::CompiledPulse> pulses;
      for (const auto& path : v->pulses) {
        compiler::CompiledPulse p;
        if (fs::path(path).extension() == ".json") {
          p = compiler::read_pulse_file(path);
        } else {  // a TopSpin shape: the waveform from the file, the rest from --target-from
          if (v->target_from.empty())
            throw InputError(path +
                             ": a shape file has no target: give --target-from PULSE.json "
                             "with --duration and --max-rf");
          const compiler::CompiledPulse ref = compiler::read_pulse_file(v->target_from);
          const PulseData shape = pulse_data_from_bruker_shape(
              read_bruker_shape_file(path), ref.channels.at(0).name, v->duration_s, v->max_rf_hz,
              ShapeFrame{v->phase_sense, 0.0});
          p = ref;  // target, molecule, carrier and ensemble of the reference pulse
          p.name = shape.name;
          p.source = shape.source;
          p.dt_s = shape.dt_s;
          p.channels.resize(1);
          p.channels[0].ux_hz = shape.channels[0].ux_hz;
          p.channels[0].uy_hz = shape.channels[0].uy_hz;
          p.channels[0].max_rf_hz = std::max(p.channels[0].max_rf_hz, v->max_rf_hz);
        }
        if (p.molecule != m.name)
          throw InputError((p.molecule_location.empty() ? path : p.molecule_location) +
                           ": molecule = " + p.molecule +
                           ": pulse was compiled for another molecule than " + m.name);
        if (p.name.empty()) p.name = fs::path(path).stem().string();
        compiler::target_from_json(p.target_json, m,
                                   p.target_where());  // every check before any work
        (void)p.element(m);
        pulses.push_back(p);
      }
      int failed = 0;
      json out = json::array();
      compiler::ValidationOptions vo;
      vo.engine =
          v->engine == "odeint" ? spectrometer::Engine::kOdeint : spectrometer::Engine::kExact;
      vo.relaxation = v->relaxation;
      Progress progress(global.quiet);
      for (const auto& p : pulses) {
        vo.progress = [&progress, &p](int done, int total, const std::string& what) {
          progress.update("validate " + p.name + " [" + std::to_string(done + 1) + "/" +
                          std::to_string(total) + "]: " + what);
        };
        const compiler::ValidationResult r = compiler::validate_pulse(p, m, vo);
        progress.done();
        std::printf("%s\n%s", validation_line(r).c_str(), decoupler_line(p).c_str());
        std::fflush(stdout);
        json j = validation_json(r);
        if (p.decoupler) j["decoupler"] = decoupler_json(p);
        j["name"] = r.name;
        out.push_back(j);
        if (!r.passed) ++failed;
      }
      if (!v->json_out.empty()) write_file_atomic(v->json_out, out.dump(1) + "\n");
      if (failed)
        std::fprintf(stderr, "%d of %zu pulses below their fidelity target\n", failed,
                     pulses.size());
      return failed ? 1 : 0;
    };
  });
}

}  // namespace nmrc::cli

#endif  // NMRC_COMPILER_AVAILABLE
