// nmrc export bruker INPUT... --out DIR: shapes, pulse programs, parameter sets and a README
// for a TopSpin console (docs/bruker.md). INPUT is a pulse program (YAML, one experiment each;
// its gates come from --pulses DIR, the output of nmrc compile) or nmrc-pulse/1 files (played
// in order, then acquired; needs --molecule). Nothing is written unless every input exports.
#ifdef NMRC_COMPILER_AVAILABLE
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "nmrc/compiler/bruker_export.hpp"
#include "nmrc/compiler/bruker_inputs.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "terminal.hpp"
#ifdef NMRC_EXPERIMENT_AVAILABLE
#include "nmrc/experiment/bruker_run.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/run.hpp"
#endif

namespace nmrc::cli {

namespace {

// Energies of the played-back export against the virtual run's (issue 24: 1e-6).
constexpr double kPlaybackTolerance = 1e-6;

struct Opts {
  std::vector<std::string> inputs;
  std::string out, molecule, pulses;
  double p90_us = 0, plw_w = 0, d1_s = -1, d16_s = 200e-6, sw_hz = 0;
  // An experiment run's probe: the program's spectrometer.gradient_max_g_per_cm and sample_cm
  // unless given (53.5 G/cm for other exports).
  std::optional<double> gpz_max, sample_cm;
  std::string rpar = "C13CPD";
  int ns = 1, ds = 0, td = 16384, phase_sense = 1;
  std::string case_name, cache_dir;
  int collision = -1;  // -1: not given
  bool no_compile = false;
  // 1H decoupling and the probe's limits (compiler/bruker_export.hpp).
  compiler::BrukerDecoupling decouple;
  double p90_h_us = 0, plw_h_w = 0;
  double cw_min_us = compiler::BrukerDecoupling{}.cw_min_s * 1e6;
  bool no_decouple = false, cyclops = false;
  compiler::ProbeLimits probe;
  std::string check_playback;  // the virtual console's datasets (empty: no check)
};

// Pulse programs (YAML) and pulse files: one experiment per program, the pulse files as one
// (compiler/bruker_inputs.hpp, as nmrc.export_bruker makes it).
compiler::BrukerExportResult export_programs(const Opts& o,
                                             const compiler::BrukerExportOptions& eo) {
  compiler::BrukerExportInputs in;
  in.inputs = o.inputs;
  in.molecule = o.molecule;
  in.pulses = o.pulses;
  in.sw_hz = o.sw_hz;
  in.td = o.td;
  return compiler::export_bruker_inputs(in, eo);
}

#ifdef NMRC_EXPERIMENT_AVAILABLE
// The experiment program of a run export, with --gpz-max and --sample-cm (when given) as its
// probe: they set how long the run's gradients play, in the export and in the virtual run the
// play back compares it with (experiment::PlayedGradients).
experiment::ExperimentProgram run_program(const Opts& o) {
  experiment::ExperimentProgram p = experiment::load_experiment_program(o.inputs[0]);
  auto probe = [](const char* option, double v, double max, const char* unit) {
    if (!(v > 0 && v <= max))
      throw InputError(std::string(option) + " = " + fmt::format("{:.6g}", v) + ": must be > 0 " +
                       unit + " and at most " + fmt::format("{:g}", max));
    return v;
  };
  if (o.gpz_max) p.gradient_max_g_per_cm = probe("--gpz-max", *o.gpz_max, 1e4, "G/cm");
  if (o.sample_cm) p.sample_cm = probe("--sample-cm", *o.sample_cm, 100.0, "cm");
  return p;
}

// An experiment program's run: --case C --collision M (experiment/bruker_run.hpp).
compiler::BrukerExportResult export_experiment_run(const Opts& o,
                                                   const compiler::BrukerExportOptions& eo,
                                                   bool quiet) {
  if (o.inputs.size() != 1)
    throw InputError("--case: export one experiment program at a time (" +
                     std::to_string(o.inputs.size()) + " inputs given)");
  if (o.case_name.empty() || o.collision == -1)
    throw InputError("--case and --collision: give both to export an experiment run");
  const experiment::ExperimentProgram p = run_program(o);
  const experiment::CaseSpec* c = nullptr;
  std::string names;
  for (const auto& cs : p.cases) {
    if (cs.name == o.case_name || experiment::topspin_case_name(cs.name) == o.case_name) c = &cs;
    names += (names.empty() ? "" : ", ") + cs.name;
  }
  if (!c)
    throw InputError(o.inputs[0] + ": --case = " + o.case_name + ": no such case (" + names + ")");
  experiment::RunSettings settings;
  settings.cache_dir = o.cache_dir.empty() ? default_cache_dir() : o.cache_dir;
  settings.compile_mode =
      o.no_compile ? experiment::CompileMode::kNever : experiment::CompileMode::kAuto;
  experiment::PulseLibrary lib = experiment::make_pulse_library(p, settings);
  Progress progress(quiet);
  auto r = experiment::export_run_bruker(
      p, *c, o.collision, lib, eo, [&](const std::string& name, int ev, double f) {
        progress.update("compiling " + name + ": " + std::to_string(ev) +
                        " evaluations, best min F " + std::to_string(f).substr(0, 6));
      });
  progress.done();
  return r;
}

// --check-playback DATA: the written folder played back on the virtual console (its datasets
// into DATA/folder) and read as console data, against the virtual experiment's own run of the
// same case and collision (noise-free): the raw energies of the contact run (no pairing, no
// scale) and the calibrated energies before and after the contact (every calibration group of
// the folder through experiment::calibrate_run_bruker, the run's own calibration). Two more
// console runs say where a difference comes from: the sequences the export was made from
// (DATA/sequences: what the files should hold) and the same with the PPS steps and the
// inversion as the ideal operations (DATA/ideal_pps).
int check_playback(const Opts& o, bool quiet) {
  experiment::ExperimentProgram p = run_program(o);
  const experiment::CaseSpec* c = nullptr;
  for (const auto& cs : p.cases)
    if (cs.name == o.case_name || experiment::topspin_case_name(cs.name) == o.case_name) c = &cs;
  experiment::CaseSpec one = *c;
  one.measure = {o.collision};
  p.cases = {one};
  p.imperfections.noise = false;
  p.error_budget = false;
  experiment::RunSettings settings;
  settings.cache_dir = o.cache_dir.empty() ? default_cache_dir() : o.cache_dir;
  settings.compile_mode = experiment::CompileMode::kNever;
  settings.error_budget = false;
  experiment::PulseLibrary lib = experiment::make_pulse_library(p, settings);
  Progress progress(quiet);
  auto console = [&](const std::string& what) {
    return [&progress, what](size_t k, size_t n) {
      progress.update("virtual console, " + what + ": EXPNO " + std::to_string(k) + " of " +
                      std::to_string(n));
    };
  };
  const std::string data = o.check_playback;
  const experiment::RunPlayback back = experiment::play_back_run_bruker(
      o.out, p, one, data + "/folder", p.imperfections, o.phase_sense, console("the folder"));
  auto play = [&](bool ideal_pps, const std::string& sub, const std::string& what) {
    const experiment::RunSequences rs =
        experiment::run_sequences(p, one, o.collision, lib, {}, ideal_pps);
    std::vector<Sequence> seqs;
    for (const auto& e : rs.experiments) seqs.push_back(e.sequence);
    return experiment::console_run(p, one, seqs, rs.groups, p.imperfections, data + "/" + sub,
                                   console(what));
  };
  const experiment::RunPlayback direct = play(false, "sequences", "the export's sequences");
  const experiment::RunPlayback ideal = play(true, "ideal_pps", "ideal PPS");
  progress.update("virtual experiment: case " + one.name + ", collision " +
                  std::to_string(o.collision));
  const experiment::CaseResult run = experiment::run_case(p, one, lib, settings);
  progress.done();
  double folder = 0, model = 0, worst = 0;
  std::printf("play back: %zu EXPNOs of %s played on the virtual console (datasets in %s)\n",
              back.expnos, o.out.c_str(), data.c_str());
  std::printf("%-12s %-16s %-16s %-16s %-16s\n", "energy", "played_back", "sequences", "ideal_pps",
              "virtual_run");
  const auto& pt = run.points.back();
  auto row = [&](const std::string& name, double b, double d, double i, double v) {
    folder = std::max(folder, std::abs(b - d));
    model = std::max(model, std::abs(i - v));
    worst = std::max(worst, std::abs(b - v));
    std::printf("%-12s %-16.10f %-16.10f %-16.10f %-16.10f\n", name.c_str(), b, d, i, v);
  };
  const size_t ns = back.energy.size();
  for (size_t k = 0; k < ns; ++k)
    row("raw E_" + std::to_string(k + 1), back.energy[k], direct.energy[k], ideal.energy[k],
        pt.energy_raw[k].mean);
  for (size_t k = 0; k < ns; ++k)
    row("before E_" + std::to_string(k + 1), back.calibrated.before[k], direct.calibrated.before[k],
        ideal.calibrated.before[k], pt.energy_before[k].mean);
  for (size_t k = 0; k < ns; ++k)
    row("after E_" + std::to_string(k + 1), back.calibrated.after[k], direct.calibrated.after[k],
        ideal.calibrated.after[k], pt.energy[k].mean);
  if (o.collision == 1) {  // heat of collision 1: sum_k E_k before - after (run.cpp)
    auto heat = [&](const experiment::PairCalibration& cal) {
      double h = 0;
      for (size_t k = 0; k < ns; ++k) h += cal.before[k] - cal.after[k];
      return h;
    };
    row("heat", heat(back.calibrated), heat(direct.calibrated), heat(ideal.calibrated),
        pt.heat.mean);
  }
  std::printf("pps scale    %-16.10f %-16.10f %-16.10f %-16.10f\n", back.calibrated.pps,
              direct.calibrated.pps, ideal.calibrated.pps, pt.pps_scale.mean);
  std::printf("the folder against the sequences it was written from: %.3g\n", folder);
  std::printf("the sequences with the ideal PPS against the virtual run: %.3g\n", model);
  const bool ok = worst <= kPlaybackTolerance;
  std::printf("play back %s the virtual run: largest energy difference %.3g (tolerance %.0e)%s\n",
              ok ? "agrees with" : "DIFFERS from", worst, kPlaybackTolerance,
              ok || folder > kPlaybackTolerance
                  ? ""
                  : ": the export plays what the virtual run does not (a gradient stretched to "
                    "--gpz-max: the zero-quantum coherences evolve longer)");
  return ok ? 0 : 1;
}
#endif

}  // namespace

void add_export_command(CLI::App& app, GlobalOptions& global, Action& run) {
  auto* ex = app.add_subcommand("export", "Export sequences for another system");
  ex->require_subcommand(1);
  auto* br = ex->add_subcommand(
      "bruker", "TopSpin shapes, pulse programs and parameter sets (docs/bruker.md)");

  auto o = std::make_shared<Opts>();
  br->add_option("INPUT", o->inputs, "Pulse programs (YAML) or nmrc-pulse/1 files (JSON)")
      ->required();
  br->add_option("--out", o->out, "Output folder")->required();
  br->add_option("--molecule", o->molecule, "Molecule YAML (for pulse files)");
  br->add_option("--pulses", o->pulses, "Compiled gates of the programs (nmrc compile --out DIR)");
  br->add_option("--p90", o->p90_us, "Calibrated hard 90 on f1, microseconds (with --plw)");
  br->add_option("--plw", o->plw_w, "Power of that hard 90, watts (with --p90)");
  br->add_option("--ns", o->ns, "Scans (NS, default 1)");
  br->add_option("--ds", o->ds, "Dummy scans (DS, default 0)");
  br->add_option("--d1", o->d1_s, "Relaxation delay D1, s (default 5 x the longest T1)");
  br->add_option("--d16", o->d16_s, "Gradient recovery d16, s (default 200e-6)");
  br->add_option("--gpz-max", o->gpz_max,
                 "Gradient at GPZ 100 %, G/cm (default 53.5; an experiment run: the program's "
                 "spectrometer.gradient_max_g_per_cm)");
  br->add_option("--sample-cm", o->sample_cm,
                 "Experiment program: shortest sample length the PPS and bath gradients must "
                 "dephase to 1 %, cm (default: the program's spectrometer.sample_cm)");
  br->add_option("--rpar", o->rpar,
                 "Standard parameter set setup.mac loads before nmrc's values (default C13CPD)");
  br->add_option("--phase-sense", o->phase_sense,
                 "1 (default) or -1: the console's sense of phase");
  br->add_option("--p90-h", o->p90_h_us,
                 "Calibrated 1H hard 90 on f2, microseconds (with --plw-h): sets PLW12");
  br->add_option("--plw-h", o->plw_h_w, "Power of that 1H hard 90, watts (with --p90-h)");
  br->add_option("--pcpd2", o->decouple.pcpd_us,
                 "90-degree pulse of the 1H decoupling sequence PCPD2, us (default 90)");
  br->add_option("--cpd", o->decouple.program, "1H decoupling sequence: waltz16 (default) or garp");
  br->add_option("--o2-ppm", o->decouple.o2_ppm, "1H carrier O2, ppm (default 5)");
  br->add_flag("--no-decouple", o->no_decouple, "No 1H decoupling on f2");
  br->add_option("--decoupler-pulses", o->decouple.pulses,
                 "f2 during shaped pulses of at least --cw-min-us: cw (default: CW at "
                 "--cw-b2-hz on pl13, switched) or cpd (the CPD program throughout)");
  br->add_option("--cw-b2-hz", o->decouple.cw_b2_hz,
                 "1H CW amplitude during the long shaped pulses, Hz (default 25000)");
  br->add_option("--cw-min-us", o->cw_min_us,
                 "Shortest shaped pulse played under CW, us (default 1000)");
  br->add_flag("--cyclops", o->cyclops,
               "CYCLOPS: every pulse and the receiver turn 90 degrees per scan (--ns 4n)");
  br->add_option("--probe-max-w-f1", o->probe.peak_w_f1,
                 "Probe limit: largest power level on f1, W (default 100)");
  br->add_option("--probe-max-w-f2", o->probe.peak_w_f2,
                 "Probe limit: largest power level on f2, W (default 50)");
  br->add_option("--probe-avg-w-f1", o->probe.average_w_f1,
                 "Probe limit: average power on f1 over a scan, W (default 1)");
  br->add_option("--probe-avg-w-f2", o->probe.average_w_f2,
                 "Probe limit: average power on f2 over a scan, W (default 1)");
  br->add_option("--sw", o->sw_hz, "Pulse files: spectral width of the acquisition, Hz");
  br->add_option("--td", o->td, "Pulse files: complex points acquired (default 16384)");
#ifdef NMRC_EXPERIMENT_AVAILABLE
  br->add_option("--case", o->case_name,
                 "Experiment program: the case whose run is exported (e.g. c_minus_0.5)");
  br->add_option("--collision", o->collision, "Experiment program: the measured collision m");
  br->add_option("--cache-dir", o->cache_dir, "Experiment program: compile cache");
  br->add_flag("--no-compile", o->no_compile,
               "Experiment program: refuse to compile a missing pulse (exit 2)");
  br->add_option("--check-playback", o->check_playback,
                 "Experiment program: play the written folder back on the virtual console (its "
                 "datasets into this folder) and compare the energies with the virtual run's "
                 "(exit 1 when they differ by more than 1e-6)");
#endif
  br->callback([&run, &global, o] {
    run = [o, &global] {
      compiler::BrukerExportOptions eo;
      if (o->p90_us != 0 || o->plw_w != 0) {
        eo.p90_us = o->p90_us;
        eo.plw_w = o->plw_w;
        if (o->p90_us == 0) eo.p90_us.reset();
        if (o->plw_w == 0) eo.plw_w.reset();
      }
      eo.ns = o->ns;
      eo.ds = o->ds;
      compiler::check_export_options(eo);
      eo.d1_s = o->d1_s;
      eo.d16_s = o->d16_s;
      eo.gpz_max_g_per_cm = o->gpz_max.value_or(53.5);
      eo.rpar = o->rpar;
      eo.phase_sense = o->phase_sense;
      eo.probe = o->probe;
      eo.cyclops = o->cyclops;
      if (o->no_decouple) {
        eo.decouple.reset();
      } else {
        eo.decouple = o->decouple;
        if (o->p90_h_us != 0) eo.decouple->p90_us = o->p90_h_us;
        if (o->plw_h_w != 0) eo.decouple->plw_w = o->plw_h_w;
        eo.decouple->cw_min_s = o->cw_min_us * 1e-6;
      }
      compiler::stamp_export_time(eo);  // SOURCE_DATE_EPOCH or now
      if (!o->check_playback.empty() && o->case_name.empty())
        throw InputError("--check-playback = " + o->check_playback +
                         ": plays back an experiment run (give --case and --collision)");
      if (o->sample_cm && o->case_name.empty())
        throw InputError("--sample-cm = " + fmt::format("{:.6g}", *o->sample_cm) +
                         ": sets an experiment run's gradients (give --case and --collision)");
      compiler::BrukerExportResult r;
      if (!o->case_name.empty() || o->collision != -1) {
#ifdef NMRC_EXPERIMENT_AVAILABLE
        r = export_experiment_run(*o, eo, global.quiet);
#endif
      } else {
        r = export_programs(*o, eo);
      }
      compiler::write_export_files(r, o->out);
      for (const auto& s : r.summary) std::printf("%s\n", s.c_str());
      std::printf("wrote %zu files to %s (see %s/README.txt)\n", r.files.size(), o->out.c_str(),
                  o->out.c_str());
      if (!o->check_playback.empty()) {
#ifdef NMRC_EXPERIMENT_AVAILABLE
        std::fflush(stdout);
        return check_playback(*o, global.quiet);
#endif
      }
      return 0;
    };
  });
}

}  // namespace nmrc::cli

#endif  // NMRC_COMPILER_AVAILABLE
