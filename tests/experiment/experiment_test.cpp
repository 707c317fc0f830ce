// The experiment layer: program loader errors, and the virtual experiment with every
// imperfection switched off, which must reproduce the theory engine exactly.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/experiment/output.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/protocol.hpp"
#include "nmrc/experiment/run.hpp"
#include "nmrc/spectrometer/preparation.hpp"
#include "nmrc/spectrometer/tomography_run.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::experiment;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) : path(fs::temp_directory_path() / name) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string header(const TempDir& t, const std::string& readout = "paper17_completed.yaml") {
  return "format: nmrc-experiment/1\n"
         "molecule: " +
         ref::source_path("molecules/crotonic_acid.yaml") +
         "\n"
         "theory: " +
         ref::source_path("sequences/heat_flow/fig3.yaml") +
         "\n"
         "readout: " +
         ref::source_path("sequences/readout/" + readout) +
         "\n"
         "compiled: " +
         (t.path / "compiled").string() + "\n";
}

ExperimentProgram load_text(const TempDir& t, const std::string& text) {
  const std::string f = (t.path / "program.yaml").string();
  write_file_atomic(f, text);
  return load_experiment_program(f);
}

std::string error_of(const TempDir& t, const std::string& text) {
  try {
    load_text(t, text);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// Every number of a result as its bits, in a fixed order (NaN compares equal to itself).
struct Bits {
  std::vector<std::uint64_t> v;
  void add(double x) { v.push_back(std::bit_cast<std::uint64_t>(x)); }
  void add(const Stat& s) {
    add(s.mean);
    add(s.std);
    add(s.sys);
  }
  void add(const Mat& m) {
    v.push_back(static_cast<std::uint64_t>(m.size()));
    for (long i = 0; i < m.size(); ++i) {
      add(m.data()[i].real());
      add(m.data()[i].imag());
    }
  }
  template <class T>
  void add(const std::vector<T>& xs) {
    v.push_back(xs.size());
    for (const auto& x : xs) add(x);
  }
  template <class T>
  void add(const std::optional<T>& x) {
    v.push_back(x.has_value());
    if (x) add(*x);
  }
};

Bits bits_of(const CaseResult& r) {
  Bits b;
  for (const auto& pt : r.points) {
    b.add(double(pt.collision));
    b.add(double(pt.step));
    b.add(pt.de_ideal);
    b.add(pt.de);
    b.add(pt.de_uncorrected);
    b.add(pt.de_bath_ideal);
    b.add(pt.de_bath);
    for (Verdict v : pt.verdict) b.add(double(static_cast<int>(v)));
    b.add(pt.energy_ideal);
    b.add(pt.energy);
    b.add(pt.energy_before);
    b.add(pt.energy_raw);
    b.add(pt.scale);
    b.add(pt.pps_scale);
    b.add(pt.heat_ideal);
    b.add(pt.heat);
    b.add(pt.free_energy_ideal);
    b.add(pt.free_energy);
    b.add(pt.coherence_ideal);
    b.add(pt.coherence);
    b.add(pt.at_ideal);
    b.add(pt.at);
    b.add(pt.fidelity);
    b.add(pt.rho_measured);
    b.add(pt.rho_system);
  }
  b.add(r.delta_ideal);
  b.add(r.delta_measured);
  b.add(r.delta_raw);
  for (const auto& row : r.budget) {
    b.add(row.delta);
    b.add(row.increment);
  }
  for (int n : {r.verdicts.right, r.verdicts.wrong, r.verdicts.unresolved, r.verdicts.not_judged,
                r.verdicts.magnitude_ok, r.verdicts.sign_wrong, r.verdicts.within_bar,
                r.verdicts.within_two_bars})
    b.add(double(n));
  b.add(r.pps_epsilon);
  b.add(r.noise_sigma);
  b.add(double(r.systematics));
  return b;
}

// A unit's text but for what depends on the process that ran it: the pulses its engine had
// played by then and its seconds.
nlohmann::json pairs_of(const std::string& unit) {
  nlohmann::json j = nlohmann::json::parse(unit);
  j.erase("pulses");
  j.erase("seconds");
  return j;
}

// The files of a case (its data files and summary, "seconds" removed), as the CLI writes them.
std::string files_of(const ExperimentProgram& p, CaseResult r) {
  r.seconds = 0.0;
  std::string all;
  for (const auto& [name, text] : case_data_files(p, r)) all += name + "\n" + text;
  return all + case_summary(p, r, true).dump(1);
}

}  // namespace

TEST_CASE("experiment program: located errors for bad input") {
  TempDir t("nmrc_experiment_program_test");
  const std::string ok_cases = "measure: [1, 5]\ncases:\n  - {run: c_0}\n";
  CHECK(load_text(t, header(t) + ok_cases).cases.size() == 1);

  auto has = [](const std::string& msg, const std::string& part) {
    INFO(msg);
    CHECK(msg.find(part) != std::string::npos);
  };
  // incomplete readout set (the paper's 17 settings as printed)
  has(error_of(t, header(t, "paper17.yaml") + ok_cases), "readout set is incomplete");
  has(error_of(t, header(t, "paper17.yaml") + ok_cases), "program.yaml:4:");
  // unknown spin or role
  has(error_of(t, header(t) + "measure: [1]\ncases:\n  - {run: c_0, spins: {S1: C9}}\n"),
      "unknown spin or role");
  // measured collision beyond the theory run
  has(error_of(t, header(t) + "measure: [1, 500]\ncases:\n  - {run: c_0}\n"),
      "measures collision 500");
  // unknown run, unknown key, not ascending
  has(error_of(t, header(t) + "measure: [1]\ncases:\n  - {run: nope}\n"), "no such run");
  has(error_of(t, header(t) + "measure: [1]\nbogus: 1\ncases:\n  - {run: c_0}\n"), "bogus");
  has(error_of(t, header(t) + "measure: [5, 1]\ncases:\n  - {run: c_0}\n"), "ascending");
  // a case whose Eq. (1) state is not positive (the theory loader names the largest lambda)
  const std::string bad_theory = (t.path / "bad_theory.yaml").string();
  write_file_atomic(bad_theory,
                    "format: nmrc-theory/1\nname: bad\nruns:\n  - name: big\n    subsystems:\n"
                    "      - {name: S1, temperature: 1.0}\n      - {name: S2, temperature: 1.0}\n"
                    "    bath_temperature: 0.9\n    g: 20\n    tau: 0.01\n    collisions: 10\n"
                    "    coherences:\n      - {pair: all, c: 3.0}\n");
  has(error_of(t, header(t) + "measure: [1]\ncases:\n  - {run: big, theory: " + bad_theory + "}\n"),
      "largest physical lambda");
}

TEST_CASE("experiment: with every imperfection off the measurement equals the theory engine") {
  TempDir t("nmrc_experiment_ideal_test");
  const ExperimentProgram p = load_text(
      t, header(t) +
             "measure: [1, 2, 7]\n"
             "imperfections: {relaxation: false, b1_ensemble: false, compiled_gates: false,"
             " noise: false, readout: false}\n"
             "error_budget: false\n"
             "cases:\n  - {run: c_0}\n  - {run: c_minus_0.5}\n  - {run: c_plus_0.5}\n");
  RunSettings s;  // no cache, no compiles needed
  PulseLibrary lib = make_pulse_library(p, s);
  for (const auto& c : p.cases) {
    const CaseResult r = run_case(p, c, lib, s);
    REQUIRE(r.points.size() == 4);  // collision 0, then 1, 2, 7
    CHECK(r.points.front().collision == 0);
    for (const auto& pt : r.points) {
      CHECK(std::abs(pt.pps_scale.mean - 1.0) < 1e-9);
      for (int k = 0; k < 3; ++k) {
        CHECK(std::abs(pt.energy[k].mean - pt.energy_ideal[k]) < 1e-9);
        CHECK(std::abs(pt.energy_raw[k].mean - pt.energy_ideal[k]) < 1e-9);
        CHECK(std::abs(pt.scale[k] - 1.0) < 1e-9);
        CHECK(pt.energy[k].std == 0.0);
        CHECK(pt.energy[k].sys == 0.0);  // no error budget here
        REQUIRE(pt.at[k].has_value() == pt.at_ideal[k].has_value());
        if (pt.at[k]) CHECK(std::abs(pt.at[k]->mean - *pt.at_ideal[k]) < 1e-7);
      }
      CHECK(std::abs(pt.heat.mean - pt.heat_ideal) < 1e-9);
      CHECK(std::abs(pt.free_energy.mean - pt.free_energy_ideal) < 1e-8);
      CHECK(std::abs(pt.coherence.mean - pt.coherence_ideal) < 1e-8);
      CHECK(pt.fidelity.mean > 1.0 - 1e-9);
      if (pt.collision == 0) continue;
      // the pair of runs: with minus without contact is the heat of collision m
      double sum = 0;
      for (int k = 0; k < 3; ++k) {
        CHECK(std::abs(pt.de[k].mean - pt.de_ideal[k]) < 1e-9);
        CHECK(pt.verdict[k] == judge_direction(pt.de_ideal[k], pt.de[k]));
        sum += pt.de_ideal[k];
      }
      // the bath spin is read from the tomography; energy is conserved by the contact
      CHECK(std::abs(pt.de_bath.mean - pt.de_bath_ideal) < 1e-9);
      CHECK(std::abs(pt.de_bath_ideal + sum) < 1e-12);
    }
    // every judged increment is resolved right (exact values, zero error bars)
    CHECK(r.verdicts.wrong == 0);
    CHECK(r.verdicts.unresolved == 0);
    CHECK(r.verdicts.right + r.verdicts.not_judged == 9);
    CHECK(r.verdicts.right >= 6);
    CHECK(lib.used().empty());  // ideal gates: no pulse was needed
  }
}

// `repreparation: measured` (issue 23 item 4): collision m starts from the reconstructed state
// after collision m - 1, with its own U_d, and is judged on the same per-collision increments.
// With every imperfection off the measured chain is the ideal chain: each prepared state is the
// previous collision's measured state, and the increments and the drift are the ideal ones.
TEST_CASE("experiment: measured re-preparation follows its own measured chain") {
  TempDir t("nmrc_experiment_measured_chain_test");
  const ExperimentProgram p = load_text(
      t, header(t) +
             "repreparation: measured\n"
             "measure: [3]\n"
             "imperfections: {relaxation: false, b1_ensemble: false, compiled_gates: false,"
             " noise: false, readout: false}\n"
             "error_budget: false\n"
             "cases:\n  - {run: c_minus_0.5}\n");
  REQUIRE(p.cases.front().measure == std::vector<int>{1, 2, 3});  // every collision up to 3
  RunSettings s;
  PulseLibrary lib = make_pulse_library(p, s);
  const CaseResult r = run_case(p, p.cases.front(), lib, s);
  REQUIRE(r.points.size() == 4);  // collision 0, then 1, 2, 3
  for (size_t i = 1; i < r.points.size(); ++i) {
    const MeasuredPoint& pt = r.points[i];
    const MeasuredPoint& prev = r.points[i - 1];
    for (int k = 0; k < 3; ++k) {
      INFO("collision " << pt.collision << " S" << k + 1);
      // prepared from the previous collision's measured state
      CHECK(std::abs(pt.energy_before[k].mean - prev.energy[k].mean) < 1e-9);
      CHECK(std::abs(pt.energy[k].mean - pt.energy_ideal[k]) < 1e-9);
      CHECK(std::abs(pt.de[k].mean - pt.de_ideal[k]) < 1e-9);
    }
  }
  for (int k = 0; k < 3; ++k) CHECK(std::abs(r.delta_measured[k].mean - r.delta_ideal[k]) < 1e-9);
  CHECK(r.verdicts.wrong == 0);
  CHECK(r.verdicts.unresolved == 0);
  CHECK(lib.used().empty());
}

TEST_CASE("experiment: direction verdicts and error bars") {
  SUBCASE("correctness") {
    CHECK(judge_direction(1e-4, {5e-4, 0, 0}) == Verdict::kNotJudged);
    CHECK(judge_direction(-1e-3, {-8e-4, 1e-4, 2e-4}) == Verdict::kResolvedRight);
    CHECK(judge_direction(-1e-3, {8e-4, 1e-4, 2e-4}) == Verdict::kResolvedWrong);
    // 2 x sqrt(0.0003^2 + 0.0004^2) = 0.001: not beyond it
    CHECK(judge_direction(-1e-3, {-9.9e-4, 3e-4, 4e-4}) == Verdict::kUnresolved);
    CHECK(judge_direction(-1e-3, {-1.01e-3, 3e-4, 4e-4}) == Verdict::kResolvedRight);
    CHECK(Stat{0, 3, 4}.total() == doctest::Approx(5.0));
    CHECK(std::string(verdict_name(Verdict::kResolvedWrong)) == "resolved wrong");
  }
}

TEST_CASE("experiment: Imperfections is one table") {
  SUBCASE("correctness") {
    const Imperfections none = Imperfections::none(), all = Imperfections::all();
    CHECK(Imperfections::flags().size() == 7);
    for (const auto& f : Imperfections::flags()) {
      CHECK_FALSE(none.*(f.member));
      CHECK(all.*(f.member));
    }
    CHECK(all == Imperfections{});  // every imperfection is on by default
    CHECK(!(none == all));
  }
}

// The paper's conclusions on the virtual measurement (Fig. 3 at the 100th collision): relaxation
// with its T1 recovery, the B1 ensemble, FID noise and line fits on; gates ideal here (the
// next test plays the shipped compiled pulses).
TEST_CASE("experiment: Fig. 3's conclusions hold on the calibrated virtual measurement") {
  TempDir t("nmrc_experiment_fig3_test");
  const ExperimentProgram p =
      load_text(t, header(t) +
                       "measure: [100]\n"
                       "imperfections: {relaxation: true, b1_ensemble: true, compiled_gates: false,"
                       " noise: true, readout: true}\n"
                       "acquisition: {snr: 300, repeats: 3}\n"
                       "error_budget: false\n"
                       "cases:\n  - {run: c_0}\n  - {run: c_minus_0.5}\n  - {run: c_plus_0.5}\n");
  RunSettings s;
  PulseLibrary lib = make_pulse_library(p, s);
  std::vector<CaseResult> r;
  for (const auto& c : p.cases) r.push_back(run_case(p, c, lib, s));
  auto dm = [&](int c, int k) { return r[c].delta_measured[k].mean; };
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < 3; ++k) {
      INFO("case " << c << " S" << k + 1 << ": measured " << dm(c, k) << " ideal "
                   << r[c].delta_ideal[k]);
      CHECK(std::abs(dm(c, k) - r[c].delta_ideal[k]) < 0.2 * std::abs(r[c].delta_ideal[k]));
    }
  // S1 unaffected by c
  CHECK(std::abs(dm(1, 0) - dm(0, 0)) < 0.15 * std::abs(dm(0, 0)));
  CHECK(std::abs(dm(2, 0) - dm(0, 0)) < 0.15 * std::abs(dm(0, 0)));
  // c = 0: every subsystem releases heat; c = -0.5 reverses S2 and S3, S3 more than S2
  for (int k = 0; k < 3; ++k) CHECK(dm(0, k) < 0);
  CHECK(dm(1, 1) > 0);
  CHECK(dm(1, 2) > dm(1, 1));
  // c = +0.5 enhances the release of S2 and S3
  CHECK(dm(2, 1) < dm(0, 1));
  CHECK(dm(2, 2) < dm(0, 2));
}

// The GRAPE pulses shipped in sequences/experiment/compiled (bath rotation, pi pulses, U_d,
// partial SWAPs, readout pulses) over the B1 ensemble, noise and line fits on; relaxation off so
// that the pulses' unitaries, not their 256 x 256 relaxing channels, are built (the full
// measurement is docs/results.md's table, from `nmrc experiment`). The pulses' residual error
// (F = 0.995 over B1) moves each prepared state's energies by up to ~0.03: the cumulative
// directions and the reversal still show, and every error lies within the error bars the error
// budget gives (statistical + systematic), per collision and cumulative.
TEST_CASE("experiment: with the shipped compiled pulses the error bars hold the error") {
  TempDir t("nmrc_experiment_fig3_compiled_test");
  std::string h = header(t);
  // A program names only folders inside its own: the shipped library is linked in.
  fs::create_directory_symlink(ref::source_path("sequences/experiment/compiled"),
                               t.path / "shipped");
  h = h.substr(0, h.find("compiled: ")) + "compiled: shipped\n";
  const ExperimentProgram p =
      load_text(t, h + "measure: [1, 100]\n"
                       "imperfections: {relaxation: false, b1_ensemble: true, compiled_gates: true,"
                       " noise: true, readout: true}\n"
                       "acquisition: {snr: 300, repeats: 3}\n"
                       "cases:\n  - {run: c_0}\n  - {run: c_minus_0.5}\n  - {run: c_plus_0.5}\n");
  RunSettings s;
  s.compile_mode = CompileMode::kNever;  // shipped pulses only: a missing one is an error
  PulseLibrary lib = make_pulse_library(p, s);
  std::vector<CaseResult> r;
  for (const auto& c : p.cases) r.push_back(run_case(p, c, lib, s));
  CHECK(lib.used().size() >= 15);  // 3 swaps, bath, U_d per case, pi and readout pulses
  // Each case lists its own pulses only, though the library is shared (issue 27): a U_d pulse
  // (ud_<case>_m<M>) appears in its own case's list alone.
  for (int c = 0; c < 3; ++c) {
    CHECK(!r[c].pulses.empty());
    for (const auto& name : r[c].pulses)
      if (name.rfind("ud_", 0) == 0)
        CHECK_MESSAGE(name.find(p.cases[c].name + "_m") != std::string::npos, name);
  }
  CHECK(r[0].pulses.size() < lib.used().size());
  auto dm = [&](int c, int k) { return r[c].delta_measured[k].mean; };
  for (int c = 0; c < 3; ++c) {
    REQUIRE(r[c].systematics);
    // all; B1, gates, readout (summed); contact, preparation (the gates' breakdown); none
    REQUIRE(r[c].budget.size() == 7);
    for (int k = 0; k < 3; ++k) {
      INFO("case " << c << " S" << k + 1 << ": measured " << dm(c, k) << " ideal "
                   << r[c].delta_ideal[k]);
      CHECK(direction(dm(c, k)) == direction(r[c].delta_ideal[k]));
      CHECK(std::abs(dm(c, k) - r[c].delta_ideal[k]) < 2.0 * r[c].delta_measured[k].total());
      // the budget's row without any imperfection is the ideal model
      CHECK(std::abs(r[c].budget.back().delta[k] - r[c].delta_ideal[k]) < 1e-9);
      for (const auto& pt : r[c].points) {
        if (pt.collision == 0) continue;
        INFO("collision " << pt.collision << ": dE " << pt.de[k].mean << " +- " << pt.de[k].std
                          << " +- " << pt.de[k].sys << " ideal " << pt.de_ideal[k]);
        CHECK(pt.de[k].sys > 0.0);
        CHECK(std::abs(pt.de[k].mean - pt.de_ideal[k]) < 2.0 * pt.de[k].total());
      }
    }
  }
  // the reversal (c = -0.5: S2 and S3 take heat) and the enhancement (c = +0.5)
  CHECK(dm(1, 1) > 0);
  CHECK(dm(1, 2) > 0);
  CHECK(dm(2, 1) < dm(0, 1));
  CHECK(dm(2, 2) < dm(0, 2));
}

TEST_CASE("experiment: Fig. 4(c)'s order dependence on the virtual measurement") {
  TempDir t("nmrc_experiment_fig4c_test");
  const ExperimentProgram p = load_text(
      t, header(t) +
             "measure: [100]\n"
             "imperfections: {relaxation: true, b1_ensemble: false, compiled_gates: false,"
             " noise: true, readout: true}\n"
             "acquisition: {snr: 300, repeats: 2}\n"
             "error_budget: false\n"
             "cases:\n  - {run: forward, theory: " +
             ref::source_path("sequences/heat_flow/fig4c.yaml") + "}\n  - {run: reverse, theory: " +
             ref::source_path("sequences/heat_flow/fig4c.yaml") + "}\n");
  RunSettings s;
  PulseLibrary lib = make_pulse_library(p, s);
  const CaseResult fwd = run_case(p, p.cases[0], lib, s);
  const CaseResult rev = run_case(p, p.cases[1], lib, s);
  // forward S1-S2-S3: S2 absorbs, S3 releases; reverse S3-S2-S1: S2 releases, S1 absorbs
  CHECK(fwd.delta_measured[1].mean > 0);
  CHECK(fwd.delta_measured[2].mean < 0);
  CHECK(rev.delta_measured[1].mean < 0);
  CHECK(rev.delta_measured[0].mean > 0);
  for (int k = 0; k < 3; ++k) {
    CHECK(direction(fwd.delta_measured[k].mean) == direction(fwd.delta_ideal[k]));
    CHECK(direction(rev.delta_measured[k].mean) == direction(rev.delta_ideal[k]));
  }
}

// The "ideal readout" row of the budget measures with ideal line values; its noise must be the
// real meter's: noise on the FID points, through the line fit (issue 23: it used to add the
// per-point sigma to each line value).
TEST_CASE("experiment: the ideal-readout meter's noise is the fitted meter's") {
  SUBCASE("correctness") {
    const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
    const double sw = spectrometer::default_sw_hz(m);
    const spectrometer::SettingMeasurer ideal(m, spectrometer::LineSource::kIdeal, sw, 4096);
    const spectrometer::SettingMeasurer fitted(m, spectrometer::LineSource::kSpectrometer, sw,
                                               4096);
    const double sigma = spectrometer::tomography_noise_sigma(m.size(), 300.0);
    double sum2 = 0;
    int count = 0;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      const RVec a = ideal.noise_values(sigma, seed), b = fitted.noise_values(sigma, seed);
      CHECK((a - b).cwiseAbs().maxCoeff() == 0.0);
      sum2 += a.squaredNorm();
      count += static_cast<int>(a.size());
    }
    const double rms = std::sqrt(sum2 / count);
    INFO("line-value noise " << rms << " for sigma " << sigma << " per FID point");
    CHECK(rms > 0.0);
    // measured 0.0033 for sigma 0.0133: the old meter added sigma itself to every line value
    CHECK(rms < 0.5 * sigma);
  }
}

// Of the shipped pulses with one target the best is played, and a kind's fidelity_target
// accepts only pulses compiled for it (sequences/experiment/compiled holds the bath rotation at
// F 0.995 and at F 0.9999).
TEST_CASE("experiment: the pulse library plays the best shipped pulse of a target") {
  TempDir t("nmrc_experiment_library_test");
  fs::create_directory_symlink(ref::source_path("sequences/experiment/compiled"),
                               t.path / "shipped");
  std::string h = header(t);
  h = h.substr(0, h.find("compiled: ")) + "compiled: shipped\n";
  const ExperimentProgram p = load_text(t, h + "measure: [1]\ncases:\n  - {run: c_0}\n");
  RunSettings s;
  s.compile_mode = CompileMode::kNever;
  PulseLibrary lib = make_pulse_library(p, s);
  const PulseNeed bath = bath_need(p, p.cases.front());
  SUBCASE("correctness") {
    const PulseRecord& best = lib.get(bath, pulse_compile_options(p, bath.kind));
    CHECK(best.pulse.ensemble_min > 0.9999);
    PulseLibrary again = make_pulse_library(p, s);
    CHECK(again.get(bath, pulse_compile_options(p, bath.kind), {}, 0.9999).file == best.file);
  }
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(lib.get(bath, pulse_compile_options(p, bath.kind), {}, 0.99999),
                         doctest::Contains("compiled for F_min >= 0.99999"), InputError);
  }
}

// The library plays the pulse of the program's length for the kind (issue 23: a program asking
// for shorter PPS gates used to get the shipped longer ones of the same target, which had the
// higher F_min). Two shipped files of one target: CNOT(C2 -> C1) in 30 ms (600 steps, F_min
// 0.995) and in 12 ms (240 steps, F_min 0.9999).
TEST_CASE("experiment: the pulse library plays the pulse of the program's length") {
  TempDir t("nmrc_experiment_pulse_length_test");
  const fs::path lib_dir = t.path / "compiled";
  fs::create_directories(lib_dir);
  for (const char* f : {"pps2_cnot_c2_c1.json", "pps2_cnot_c2_c1_20f7a295.json"})
    write_file_atomic(
        (lib_dir / f).string(),
        read_file(ref::source_path(std::string("sequences/experiment/compiled/") + f)));
  auto library_for = [&](const std::string& pps) {
    const ExperimentProgram p = load_text(
        t, header(t) + "pulses: {pps: " + pps + "}\nmeasure: [1]\ncases:\n  - {run: c_0}\n");
    const PulseNeed cnot = run_protocol(p, p.cases.front(), 1).pps[1].pulses[0];
    REQUIRE(cnot.name == "pps2_cnot_c2_c1");
    RunSettings s;
    s.compile_mode = CompileMode::kNever;
    PulseLibrary lib = make_pulse_library(p, s);
    return fs::path(lib.get(cnot, pulse_compile_options(p, "pps")).file).filename().string();
  };
  SUBCASE("correctness") {
    // the 30 ms pulse for a 30 ms program, though the 12 ms one has the higher F_min
    CHECK(library_for("{duration_s: 0.03, steps: 600}") == "pps2_cnot_c2_c1.json");
    CHECK(library_for("{duration_s: 0.012, steps: 240}") == "pps2_cnot_c2_c1_20f7a295.json");
  }
  SUBCASE("validation") {
    // no pulse of the program's length: refused under --no-compile (compiled otherwise), never
    // another length played instead; the steps count as much as the duration
    CHECK_THROWS_WITH_AS(library_for("{duration_s: 0.008, steps: 160}"),
                         doctest::Contains("of 8 ms, 160 steps"), InputError);
    CHECK_THROWS_WITH_AS(library_for("{duration_s: 0.012, steps: 120}"),
                         doctest::Contains("of 12 ms, 120 steps"), InputError);
  }
}

// U_d's state-aware target (issue 23): U_d acts on a diagonal input, so its need allows any
// diagonal unitary first (`up_to: diagonal_phases`). A pulse compiled that way serves such a
// need only; a pulse compiled against W exactly serves either. Two files with one unitary: the
// shipped strict U_d and the same pulse filed as compiled up to diagonal phases (F 0.9999).
TEST_CASE("experiment: a pulse compiled up to diagonal phases serves only U_d's need") {
  TempDir t("nmrc_experiment_diagonal_phase_test");
  const fs::path lib_dir = t.path / "compiled";
  fs::create_directories(lib_dir);
  const std::string strict_file =
      ref::source_path("sequences/experiment/compiled/ud_c_minus_0.5_m1.json");
  nlohmann::json j = nlohmann::json::parse(read_file(strict_file));
  REQUIRE(!j["target"].contains("up_to"));
  write_file_atomic((lib_dir / "strict.json").string(), j.dump(1) + "\n");
  j["target"]["up_to"] = "diagonal_phases";
  j["fidelity"]["target"] = 0.9999;
  j["fidelity"]["ensemble"]["min"] = 0.99991;
  write_file_atomic((lib_dir / "diagonal.json").string(), j.dump(1) + "\n");
  const ExperimentProgram p =
      load_text(t, header(t) + "measure: [2]\ncases:\n  - {run: c_minus_0.5}\n");
  RunSettings s;
  s.compile_mode = CompileMode::kNever;
  PulseLibrary lib = make_pulse_library(p, s);
  const Mat u = nmrc::matrix_from_json(j["target"]["local_unitary"].dump(), {},
                                       [](const std::string& rule) { FAIL(rule); });
  const PulseNeed ud = ud_need(p, p.cases.front(), u, "ud_test");
  PulseNeed strict = ud;
  strict.name = "strict_test";
  strict.target.erase("up_to");
  const auto o = pulse_compile_options(p, "ud");
  SUBCASE("correctness") {
    CHECK(ud.target.at("up_to") == "diagonal_phases");
    // the best of both for U_d's own need
    CHECK(fs::path(lib.get(ud, o).file).filename() == "diagonal.json");
    // the exact gate: only the strict pulse, though the other has the higher F_min
    CHECK(fs::path(lib.get(strict, o).file).filename() == "strict.json");
  }
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(lib.get(strict, o, {}, 0.9999),
                         doctest::Contains("compiled for F_min >= 0.9999"), InputError);
    CHECK(fs::path(lib.get(ud, o, {}, 0.9999).file).filename() == "diagonal.json");
  }
}

TEST_CASE("experiment: pps_pulses per_step plays step 2's three gates as one pulse") {
  TempDir t("nmrc_experiment_pps_step_test");
  const ExperimentProgram gate = load_text(t, header(t) + "measure: [1]\ncases:\n  - {run: c_0}\n");
  const ExperimentProgram step =
      load_text(t, header(t) + "pps_pulses: per_step\nmeasure: [1]\ncases:\n  - {run: c_0}\n");
  const RunProtocol a = run_protocol(gate, gate.cases.front(), 1);
  const RunProtocol b = run_protocol(step, step.cases.front(), 1);
  REQUIRE(a.pps.size() == 4);
  REQUIRE(b.pps.size() == 4);
  CHECK(a.pps[1].pulses.size() == 3);
  REQUIRE(b.pps[1].pulses.size() == 1);
  CHECK(b.pps[1].pulses[0].kind == "pps_step");
  CHECK(b.pps[1].pulses[0].target.at("up_to") == "diagonal_phases");
  // steps of one gate keep their per-gate pulse
  for (int s : {0, 2, 3}) {
    REQUIRE(b.pps[s].pulses.size() == a.pps[s].pulses.size());
    for (size_t i = 0; i < a.pps[s].pulses.size(); ++i) {
      CHECK(b.pps[s].pulses[i].name == a.pps[s].pulses[i].name);
      CHECK(b.pps[s].pulses[i].target == a.pps[s].pulses[i].target);
    }
  }
  // The merged operation is the product of the three gates, the first acting first: the same
  // 16 x 16 unitary, and the same ideal PPS from thermal equilibrium (the independent reference:
  // the spectrometer's exact engine playing the per-gate operations).
  const auto full = [](const std::vector<Element>& ops) {
    Mat u = Mat::Identity(16, 16);
    for (const auto& e : ops) {
      const auto& g = std::get<UnitaryElement>(e);
      u = embed(g.unitary, g.spins, 4) * u;
    }
    return u;
  };
  CHECK((full(b.pps[1].operations) - full(a.pps[1].operations)).norm() < 1e-12);
  // and the pulse need's target is that product (what GRAPE compiles)
  RunSettings rs;
  rs.compile_mode = CompileMode::kNever;
  const PulseLibrary lib = make_pulse_library(step, rs);
  CHECK((lib.ideal_unitary(b.pps[1].pulses[0]) - full(a.pps[1].operations)).norm() < 1e-12);
  const auto played = [&](const RunProtocol& r) {
    Sequence seq;
    for (const auto& st : r.pps) {
      for (const auto& e : st.operations) seq.elements.push_back(e);
      seq.elements.push_back(st.gradient);
    }
    spectrometer::Sample sample;
    sample.molecule = gate.molecule;
    return spectrometer::run_deviation(sample, seq,
                                       spectrometer::thermal_equilibrium(gate.molecule).rho);
  };
  const Mat pa = played(a), pb = played(b);
  CHECK((pa - pb).norm() < 1e-12 * pa.norm());
  CHECK(spectrometer::fit_pps(pb).error < 1e-6);
}

// GRAPE with the decoupler in its model for the run's pulses (compile: {decoupler: ...}, read
// by the compile program's own reader, compiler::read_decoupler_model): bad values located,
// and the decoupler part of the pulse library's key: a pulse compiled without it is not played
// for a program with it (refused under --no-compile, naming the decoupler), one compiled with
// it is recorded so and reused, and a plain program keeps its plain pulse.
TEST_CASE("experiment program: compile's decoupler is part of the pulse library's key") {
  TempDir t("nmrc_experiment_decoupler_test");
  const fs::path lib_dir = t.path / "compiled";
  fs::create_directories(lib_dir);
  for (const char* f : {"bath_c4_t0p9.json", "bath_c4_t0p9_ea5ebfe2.json"})
    fs::copy_file(ref::source_path(std::string("sequences/experiment/compiled/") + f), lib_dir / f);
  const std::string mol7 = ref::source_path("molecules/crotonic_acid_7.yaml");
  const std::string cases = "measure: [1]\ncases:\n  - {run: c_0}\n";
  // A 2 ms rotation to 0.99 with one start: a few seconds of GRAPE on 5 B1 x 8 configurations.
  const std::string fast =
      "pulses: {rotation: {duration_s: 0.002, steps: 100, fidelity_target: 0.99}}\n";
  auto with = [&](const std::string& dec) {
    return header(t) + fast + "compile: {starts: 1, threads: 1, decoupler: " + dec + "}\n" + cases;
  };
  const std::string dec = "{b2_hz: 25000, o2_ppm: 5.0, molecule: " + mol7 + "}";
  const ExperimentProgram p = load_text(t, with(dec));
  REQUIRE(p.compile.decoupler.has_value());
  CHECK(p.compile.decoupler->b2_hz == 25000.0);
  CHECK(p.compile.decoupler->configurations().size() == 8u);
  const ExperimentProgram plain = load_text(t, header(t) + fast + cases);
  CHECK(!plain.compile.decoupler);
  CHECK(!load_text(t, with("none")).compile.decoupler);
  const PulseNeed bath = bath_need(p, p.cases.front());
  RunSettings never;
  never.compile_mode = CompileMode::kNever;
  SUBCASE("correctness") {
    // the shipped plain pulse serves the plain program only
    PulseLibrary plain_lib = make_pulse_library(plain, never);
    CHECK(!plain_lib.get(bath, pulse_compile_options(plain, bath.kind)).pulse.decoupler);
    PulseLibrary lib = make_pulse_library(p, never);
    CHECK_THROWS_WITH_AS(
        lib.get(bath, pulse_compile_options(p, bath.kind)),
        doctest::Contains("no compiled pulse for bath_c4_t0p9 (bath rotation to T_R = 0p9) of 2 "
                          "ms, 100 steps with the decoupler in GRAPE's model (cw at B2 25000 Hz, "
                          "O2 5 ppm on 1H of "
                          "molecule crotonic_acid_7) and --no-compile forbids GRAPE"),
        InputError);
    // compiled with the decoupler, recorded so, written to compiled:, found again
    RunSettings s;
    s.cache_dir = (t.path / "cache").string();
    PulseLibrary compiling = make_pulse_library(p, s);
    const PulseRecord& r = compiling.get(bath, pulse_compile_options(p, bath.kind));
    CHECK(r.compiled_now);
    REQUIRE(r.pulse.decoupler.has_value());
    CHECK(r.pulse.decoupler->b2_hz == 25000.0);
    CHECK(r.pulse.decoupler->configurations == 8);
    CHECK(r.pulse.decoupler->fidelity_min >= 0.99);
    CHECK(fs::path(r.file).parent_path() == lib_dir);
    PulseLibrary again = make_pulse_library(p, never);
    CHECK(again.get(bath, pulse_compile_options(p, bath.kind)).file == r.file);
    PulseLibrary plain_again = make_pulse_library(plain, never);
    CHECK(plain_again.get(bath, pulse_compile_options(plain, bath.kind)).file != r.file);
    // another B2 is another key
    const ExperimentProgram other =
        load_text(t, with("{b2_hz: 20000, o2_ppm: 5.0, molecule: " + mol7 + "}"));
    PulseLibrary other_lib = make_pulse_library(other, never);
    CHECK_THROWS_AS(other_lib.get(bath, pulse_compile_options(other, bath.kind)), InputError);
  }
  SUBCASE("validation") {
    auto has = [](const std::string& msg, const std::string& part) {
      INFO(msg);
      CHECK(msg.find(part) != std::string::npos);
    };
    has(error_of(t, with("{b2_hz: 30000, o2_ppm: 5.0, molecule: " + mol7 + "}")),
        "program.yaml:7:");
    has(error_of(t, with("{b2_hz: 30000, o2_ppm: 5.0, molecule: " + mol7 + "}")),
        "decoupler.b2_hz = 30000: must be in (0, 25000] Hz");
    has(error_of(t, with("{b2_hz: 25000, molecule: " + mol7 + "}")), "o2_ppm");
    has(error_of(t, with("{b2_hz: 25000, o2_ppm: 5.0, molecule: " + mol7 + ", bogus: 1}")),
        "bogus");
    has(error_of(t, with("{b2_hz: 25000, o2_ppm: 5.0, sequence: waltz16, molecule: " + mol7 + "}")),
        "decoupler.sequence = waltz16: must be cw");
    has(error_of(t, with("{b2_hz: 25000, o2_ppm: 5.0, molecule: " +
                         ref::source_path("molecules/crotonic_acid.yaml") + "}")),
        "decoupled channel 1H is not a channel of molecule");
    has(error_of(t, with("yes")), "must be a mapping");
  }
}

// A case's units of work (CaseRunner, assemble_case): what `mpirun -n N nmrc experiment` deals
// to its ranks. A unit computed on its own (another process, any units before it) gives the same
// bits, and the case assembled from units computed out of order on separate runners and pulse
// libraries is run_case's, bit for bit, and writes the same files.
TEST_CASE("experiment: a case's units computed apart assemble to run_case's result") {
  SUBCASE("correctness: ideal re-preparation, a unit per pair of runs") {
    TempDir t("nmrc_run_units_test");
    // noise (two draws), relaxation and the error budget: every part of a pair of runs
    const ExperimentProgram p = load_text(
        t, header(t) +
               "imperfections: {relaxation: true, b1_ensemble: false, compiled_gates: false,"
               " noise: true, readout: false}\n"
               "acquisition: {snr: 300, repeats: 2}\nerror_budget: true\nmeasure: [2, 3]\n"
               "cases: [{run: c_minus_0.5}]\n");
    const CaseSpec& c = p.cases.front();
    RunSettings s;
    REQUIRE(case_units(p, c) == 3);  // collisions 1 (it holds collision 0), 2, 3
    PulseLibrary lib = make_pulse_library(p, s);
    const CaseResult alone = run_case(p, c, lib, s);
    REQUIRE(alone.budget.size() > 1);
    REQUIRE(alone.points.size() == 3);
    // "Rank 0" runs units 0 and 2, "rank 1" unit 1; each with its own library, out of order.
    PulseLibrary lib0 = make_pulse_library(p, s), lib1 = make_pulse_library(p, s);
    CaseRunner rank0(p, c, lib0, s), rank1(p, c, lib1, s);
    REQUIRE(rank0.units() == 3);
    std::vector<std::string> units(3);
    units[2] = rank0.run_unit(2);
    units[1] = rank1.run_unit(1);
    units[0] = rank0.run_unit(0);
    // unit 2 alone on a fresh runner equals unit 2 after units 0 and 1 on another
    PulseLibrary lib2 = make_pulse_library(p, s);
    CaseRunner in_order(p, c, lib2, s);
    in_order.run_unit(0);
    in_order.run_unit(1);
    CHECK(pairs_of(in_order.run_unit(2)) == pairs_of(units[2]));
    const CaseResult apart = assemble_case(p, c, s, units);
    CHECK(bits_of(apart).v == bits_of(alone).v);
    CHECK(apart.pulses == alone.pulses);
    CHECK(files_of(p, apart) == files_of(p, alone));
  }
  SUBCASE("correctness: measured re-preparation, the chain as one unit") {
    TempDir t("nmrc_run_units_chain_test");
    const ExperimentProgram p = load_text(
        t, header(t) +
               "repreparation: measured\n"
               "imperfections: {relaxation: false, b1_ensemble: false, compiled_gates: false,"
               " noise: true, readout: false}\n"
               "acquisition: {snr: 300, repeats: 2}\nerror_budget: false\nmeasure: [3]\n"
               "cases: [{run: c_plus_0.5}]\n");
    const CaseSpec& c = p.cases.front();
    RunSettings s;
    REQUIRE(case_units(p, c) == 1);
    PulseLibrary lib = make_pulse_library(p, s), other = make_pulse_library(p, s);
    const CaseResult alone = run_case(p, c, lib, s);
    REQUIRE(alone.points.size() == 4);  // collision 0, then 1, 2, 3
    CaseRunner runner(p, c, other, s);
    const CaseResult apart = assemble_case(p, c, s, {runner.run_unit(0)});
    CHECK(bits_of(apart).v == bits_of(alone).v);
    CHECK(files_of(p, apart) == files_of(p, alone));
  }
}
