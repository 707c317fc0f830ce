// The experiment's readout FIDs as TopSpin datasets: recorded by run_case, written as EXPNOs
// (spectrometer::write_bruker_series), read back and reconstructed (tomography_from_bruker),
// they give the state the run itself reconstructed from the same FIDs. A run export played back
// from its folder on the virtual console gives the virtual run's energies (docs/bruker.md).
#include "nmrc/experiment/bruker_run.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/jcamp.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/run.hpp"
#include "nmrc/spectrometer/bruker_dataset.hpp"
#include "nmrc/spectrometer/tomography_run.hpp"
#include "nmrc/thermo/observables.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::experiment;
namespace fs = std::filesystem;
namespace sp = nmrc::spectrometer;

namespace {

// Fig. 3 as a fast program in `dir`: one case, one measured collision, the shipped pulses
// (linked in: a program names only folders inside its own), relaxation and the B1 ensemble off
// (the paths tested are the same with them), one acquisition draw.
ExperimentProgram fast_fig3(const fs::path& dir, const std::string& case_name, int collision,
                            bool noise, bool inversion, bool reference = false) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string program =
      "format: nmrc-experiment/1\n"
      "molecule: " +
      ref::source_path("molecules/crotonic_acid.yaml") +
      "\ntheory: " + ref::source_path("sequences/heat_flow/fig3.yaml") +
      "\nreadout: " + ref::source_path("sequences/readout/paper17_completed.yaml") +
      "\ncompiled: shipped\nmeasure: [" + std::to_string(collision) +
      "]\n"
      "acquisition: {snr: 300, repeats: 1, seed: 3, td: 4096}\n"
      "imperfections: {relaxation: false, b1_ensemble: false, compiled_gates: true, noise: " +
      (noise ? "true" : "false") +
      ", readout: true}\n"
      "calibration: {inversion: " +
      (inversion ? "true" : "false") + ", reference: " + (reference ? "true" : "false") +
      "}\n"
      "error_budget: false\n"
      "cases:\n"
      "  - {run: " +
      case_name + "}\n";
  fs::create_directory_symlink(ref::source_path("sequences/experiment/compiled"), dir / "shipped");
  write_file_atomic((dir / "program.yaml").string(), program);
  return load_experiment_program((dir / "program.yaml").string());
}

}  // namespace

TEST_CASE("experiment: readout FIDs through TopSpin datasets reconstruct the run's raw state") {
  // Collision 1 of Fig. 3's c = 0 (no U_d), one noise draw at SNR 300.
  const fs::path dir =
      fs::temp_directory_path() / ("nmrc_experiment_bruker_test_" + std::to_string(::getpid()));
  const ExperimentProgram p = fast_fig3(dir, "c_0", 1, true, true);
  RunSettings settings;
  settings.compile_mode = CompileMode::kNever;
  settings.error_budget = false;
  settings.record_collisions = {1};
  PulseLibrary lib = make_pulse_library(p, settings);
  const CaseSpec& c = p.cases.front();
  const CaseResult r = run_case(p, c, lib, settings);
  REQUIRE(r.recorded.size() == 2);
  CHECK(r.recorded[0].acquisition == "equilibrium");
  CHECK(r.recorded[1].acquisition == "inverted");
  REQUIRE(r.recorded[0].fids.size() == p.readout.settings.size());
  std::vector<sp::BrukerSeriesEntry> entries;
  for (size_t k = 0; k < r.recorded[0].fids.size(); ++k)
    entries.push_back({r.recorded[0].fids[k], "nmrc_" + p.readout.settings[k].name, "", ""});
  sp::write_bruker_series((dir / "ds").string(), p.molecule, entries);
  const auto back =
      sp::tomography_from_bruker(p.molecule, p.readout.settings, {(dir / "ds").string()});
  const int n = p.molecule.size(), ns = c.params.n();
  const Mat sys = partial_trace(back.reconstruction.physical, c.system_spins, n);
  double worst = 0;
  for (int k = 0; k < ns; ++k) {
    const double e = thermo::subsystem_energy(sys, k, ns);
    // the point of collision 1 (points[0] is collision 0, the state without contact); one
    // draw: draw 0's value
    const double direct = r.points.at(1).energy_raw[k].mean;
    worst = std::max(worst, std::abs(e - direct));
  }
  MESSAGE("raw subsystem energies through 18 TopSpin EXPNOs: largest difference " << worst);
  CHECK(worst < 1e-8);
  fs::remove_all(dir);
}

TEST_CASE("experiment: a run export played back gives the virtual run's calibrated energies") {
  // Collision 2 of Fig. 3's c = -0.5 (U_d, the three partial SWAPs), with the program's whole
  // calibration (inversion pairing, the PPS reference, the contact-loss reference), exported
  // with the shipped pulses, read back from the folder alone and played on the virtual console:
  // (a) the same energies as the sequences the export was made from, played on the same
  // console (what the folder holds: shapes, powers, delays, gradients, loops, weights, groups);
  // (b) the virtual run's own energies (run_case, noise-free): raw, and calibrated before and
  // after the contact through the same calibration (calibrate_pair) from the folder's data.
  // The run plays the PPS and the inversion through the same compiled pulses (issue 23,
  // inversion_need): nothing differs between the export and the simulation. With the default
  // probe (53.5 G/cm) the PPS and bath gradients play longer than 1 ms, in the export and in the
  // virtual run alike (protocol.hpp's PlayedGradients).
  const fs::path dir =
      fs::temp_directory_path() / ("nmrc_run_playback_test_" + std::to_string(::getpid()));
  const ExperimentProgram p = fast_fig3(dir, "c_minus_0.5", 2, false, true, true);
  RunSettings settings;
  settings.compile_mode = CompileMode::kNever;
  settings.error_budget = false;
  PulseLibrary lib = make_pulse_library(p, settings);
  const CaseSpec& c = p.cases.front();
  const int collision = 2;
  compiler::BrukerExportOptions o;
  o.p90_us = 10.0;
  o.plw_w = 20.0;
  o.decouple->p90_us = 10.0;
  o.decouple->plw_w = 15.0;
  for (const auto& f : export_run_bruker(p, c, collision, lib, o).files) {
    fs::create_directories((dir / "export" / f.path).parent_path());
    write_file_atomic((dir / "export" / f.path).string(), f.content);
  }
  const Imperfections imp = p.imperfections;
  const RunPlayback back =
      play_back_run_bruker((dir / "export").string(), p, c, (dir / "console").string(), imp);
  const RunSequences rs = run_sequences(p, c, collision, lib);
  REQUIRE(back.expnos == rs.experiments.size());
  // The groups: per sign (equilibrium, inverted) contact, prepared, pps, thermal,
  // thermal_contact; 18 settings x 8 experiments each, the PPS reference one experiment.
  REQUIRE(rs.groups.size() == 10);
  const size_t ns = p.readout.settings.size();
  size_t expected = 0;
  for (const auto& g : rs.groups) {
    CHECK(g.first == expected);
    expected += ns * g.weights.size();
    double wsum = 0;
    for (double w : g.weights) wsum += w;
    CHECK(wsum == doctest::Approx(1.0).epsilon(1e-12));
  }
  CHECK(expected == rs.experiments.size());
  CHECK(rs.groups[2].acquisition == PairAcquisition::kPps);
  CHECK(rs.groups[2].weights.size() == 1);
  CHECK(rs.groups[5].sign == 1);
  // From inverted equilibrium every EXPNO starts with the inversion pulse.
  const std::string inv_pp = read_file(
      (dir / "export" / std::to_string(rs.groups[5].first + 1) / "pulseprogram").string());
  CHECK(inv_pp.find("rx180_all") != std::string::npos);
  // The PPS and bath gradients (the weakest winds 1 turn over 1 cm) strengthened x 100/pi, so
  // that a 1-1.8 cm sample keeps < 1 % of a single-quantum coherence (simulated over z slices).
  CHECK(rs.gradient_scale == doctest::Approx(100.0 / kPi).epsilon(1e-9));
  CHECK(rs.gradient_residual > 0.0);
  CHECK(rs.gradient_residual < 0.01);
  // Every PPS and bath gradient is played otherwise than the protocol's (x 100/pi); PPS steps
  // 2-4 and the bath (3 to 81 units) above GPZ 100 % in 1 ms, so longer, in the run's plan too.
  CHECK(rs.stretched.size() == 5);
  int longer = rs.protocol.bath_gradient.duration_s > 1e-3 ? 1 : 0;
  for (const auto& st : rs.protocol.pps) longer += st.gradient.duration_s > 1e-3 ? 1 : 0;
  CHECK(longer == 4);
  std::vector<Sequence> seqs;
  for (const auto& e : rs.experiments) seqs.push_back(e.sequence);
  const RunPlayback direct = console_run(p, c, seqs, rs.groups, imp, (dir / "direct").string());
  const RunSequences ideal = run_sequences(p, c, collision, lib, {}, true);
  seqs.clear();
  for (const auto& e : ideal.experiments) seqs.push_back(e.sequence);
  const RunPlayback ideal_pps =
      console_run(p, c, seqs, ideal.groups, imp, (dir / "ideal_pps").string());
  const CaseResult run = run_case(p, c, lib, settings);
  REQUIRE(run.points.size() == 2);
  REQUIRE(run.points[1].collision == collision);
  const auto& pt = run.points[1];
  double folder = 0, model = 0, worst = 0;
  auto compare = [&](const char* what, size_t k, double b, double d, double i, double v) {
    MESSAGE(std::string(what) << " E_" << k + 1 << ": played back " << b << ", export's sequences "
                              << d << ", with the ideal PPS " << i << ", virtual run " << v);
    folder = std::max(folder, std::abs(b - d));
    model = std::max(model, std::abs(i - v));
    worst = std::max(worst, std::abs(b - v));
  };
  for (size_t k = 0; k < back.energy.size(); ++k) {
    compare("raw", k, back.energy[k], direct.energy[k], ideal_pps.energy[k], pt.energy_raw[k].mean);
    compare("before", k, back.calibrated.before[k], direct.calibrated.before[k],
            ideal_pps.calibrated.before[k], pt.energy_before[k].mean);
    compare("after", k, back.calibrated.after[k], direct.calibrated.after[k],
            ideal_pps.calibrated.after[k], pt.energy[k].mean);
  }
  CHECK(back.calibrated.pps == doctest::Approx(pt.pps_scale.mean).epsilon(1e-6));
  MESSAGE("largest energy difference: folder vs the export's sequences "
          << folder << "; ideal-PPS sequences vs the virtual run " << model
          << "; played back vs the virtual run " << worst);
  CHECK(folder < 1e-6);
  CHECK(worst < 1e-6);
  CHECK(model > 1e-3);  // the ideal PPS is not what the run plays
  // The reader takes the folder's groups as written, and refuses another run's folder.
  const auto groups = read_run_groups((dir / "export").string(), p, nullptr, "c_minus_0p5_m2");
  CHECK(groups.size() == rs.groups.size());
  CHECK_THROWS_WITH_AS(read_run_groups((dir / "export").string(), p, nullptr, "c_minus_0p5_m3"),
                       doctest::Contains("pulprog = c_minus_0p5_m2_e1_IIII"), InputError);
  // The virtual console's datasets share one NC (write_bruker_series), as EXPNOs recorded with
  // one RG do, so a plain weighted sum of their stored values is right.
  std::set<long> nc;
  for (size_t k = 1; k <= back.expnos; ++k)
    nc.insert(read_jcamp((dir / "console" / std::to_string(k) / "acqus").string()).integer("$NC"));
  CHECK(nc.size() == 1);
  // A weights.csv that is not a run export's is refused, located.
  write_file_atomic((dir / "export" / "weights.csv").string(),
                    "expno,readout_setting,experiment,basis_state,flipped,weight,pulprog\n");
  CHECK_THROWS_WITH_AS(read_run_groups((dir / "export").string(), p),
                       doctest::Contains("weights.csv:1:"), InputError);
  fs::remove_all(dir);
}

TEST_CASE("experiment: the run export refuses a phase cycle it does not play") {
  const fs::path dir =
      fs::temp_directory_path() / ("nmrc_run_cycle_test_" + std::to_string(::getpid()));
  ExperimentProgram p = fast_fig3(dir, "c_minus_0.5", 2, false, false);
  RunSettings settings;
  settings.compile_mode = CompileMode::kNever;
  PulseLibrary lib = make_pulse_library(p, settings);
  p.contact_phase_cycle = 4;
  CHECK_THROWS_WITH_AS(run_sequences(p, p.cases.front(), 2, lib),
                       doctest::Contains("contact_phase_cycle = 4: the Bruker export plays no "
                                         "phase cycle (use 1)"),
                       InputError);
  p.contact_phase_cycle = 1;
  p.bath_phase_cycle = 2;
  CHECK_THROWS_WITH_AS(run_sequences(p, p.cases.front(), 2, lib),
                       doctest::Contains("bath_phase_cycle = 2"), InputError);
  fs::remove_all(dir);
}
