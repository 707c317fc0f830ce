// The experiment's readout FIDs as TopSpin datasets: recorded by run_case, written as EXPNOs
// (spectrometer::write_bruker_series), read back and reconstructed (tomography_from_bruker),
// they give the state the run itself reconstructed from the same FIDs.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "nmrc/core/io.hpp"
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

TEST_CASE("experiment: readout FIDs through TopSpin datasets reconstruct the run's raw state") {
  const fs::path dir = fs::temp_directory_path() / "nmrc_experiment_bruker_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  // Collision 1 of Fig. 3's c = 0 (no U_d), the shipped pulses, one noise draw at SNR 300;
  // relaxation and the B1 ensemble off to keep the test fast (the FID path is the same).
  const std::string program =
      "format: nmrc-experiment/1\n"
      "molecule: " +
      ref::source_path("molecules/crotonic_acid.yaml") +
      "\ntheory: " + ref::source_path("sequences/heat_flow/fig3.yaml") +
      "\nreadout: " + ref::source_path("sequences/readout/paper17_completed.yaml") +
      "\ncompiled: shipped" +
      "\nmeasure: [1]\n"
      "acquisition: {snr: 300, repeats: 1, seed: 3, td: 4096}\n"
      "imperfections: {relaxation: false, b1_ensemble: false, compiled_gates: true, noise: true,"
      " readout: true}\n"
      "calibration: {inversion: true, reference: false}\n"
      "error_budget: false\n"
      "cases:\n"
      "  - {run: c_0}\n";
  // A program names only folders inside its own: the shipped library is linked in.
  fs::create_directory_symlink(ref::source_path("sequences/experiment/compiled"), dir / "shipped");
  write_file_atomic((dir / "program.yaml").string(), program);
  const ExperimentProgram p = load_experiment_program((dir / "program.yaml").string());
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
