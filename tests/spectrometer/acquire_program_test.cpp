#include "nmrc/spectrometer/acquire_program.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "nmrc/core/error.hpp"
#include "nmrc/spectrometer/lines.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::spectrometer;

namespace {

std::string molecules_dir() {
  return std::filesystem::path(ref::source_path("molecules/crotonic_acid.yaml")).parent_path();
}

std::string program(const std::string& extra_sample, const std::string& sequence) {
  return "molecule: crotonic_acid.yaml\nsample:\n  relaxation: false\n" + extra_sample +
         "elements:\n" + sequence +
         "acquisition: {channel: 13C, sw_hz: 14000, td: 8192, receiver_phase_deg: 30}\n";
}

}  // namespace

TEST_CASE("acquisition programs") {
  SUBCASE("correctness: elements, sample and a run with offset errors") {
    const auto tmp = std::filesystem::temp_directory_path() / "nmrc_acq_test_pulse.json";
    {
      std::ofstream f(tmp);
      f << R"({"format": "nmrc-pulse/1", "dt_s": 1e-5, "channels": {"13C": {"carrier_hz": 0.0,
             "ux_hz": [0, 2500, 2500, 0], "uy_hz": [0, 0, 100, 0]}}})";
    }
    const std::string text = program(
        "  b1: {scale: [0.98, 1.02]}\n  offset_error_hz: {C2: 1.5, R: -0.7}\n"
        "  gradient: {mode: slices, slices: 8}\n",
        "  - rotation: {spins: C1, angle_deg: 90, phase_deg: 90}\n"
        "  - gradient: {duration_s: 0.001, strength_g_per_cm: 5}\n"
        "  - shaped_pulse: {file: " +
            tmp.string() +
            "}\n"
            "  - hard_pulse: {channel: 13C, angle_deg: 90, phase_deg: 90}\n");
    const AcquireProgram p = parse_acquire_program(text, "t.yaml", molecules_dir());
    REQUIRE(p.sequence.elements.size() == 5);
    CHECK(std::holds_alternative<RotationElement>(p.sequence.elements[0]));
    const auto& sp = std::get<ShapedPulseElement>(p.sequence.elements[2]);
    CHECK(sp.ux_hz[0](1) == 2500.0);
    CHECK(sp.duration_s() == doctest::Approx(4e-5));
    const auto& hp = std::get<HardPulseElement>(p.sequence.elements[3]);
    CHECK(hp.rf_hz == 10000.0);  // the channel's max_rf_hz
    const auto& acq = std::get<AcquireElement>(p.sequence.elements[4]);
    CHECK(acq.receiver_phase_rad == doctest::Approx(kPi / 6));
    CHECK(p.sample.b1_weight == std::vector<double>{1.0, 1.0});
    CHECK(p.sample.offset_error_hz == std::vector<double>{0.0, 1.5, 0.0, -0.7});
    CHECK(p.sample.gradient.mode == GradientMode::kSlices);
    // Run it; the fit with the known offsets recovers the acquired state's lines.
    const ExperimentResult r =
        run_experiment(p.sample, p.sequence, thermal_equilibrium(p.sample.molecule).rho);
    LineFitOptions lo;
    lo.offset_error_hz = p.sample.offset_error_hz;
    const LineReadout fit = measure_lines(p.sample.molecule, r.fid, lo);
    const LineReadout truth = measure_lines(p.sample.molecule, r.rho_acquired, 0);
    double amax = 0, dmax = 0;
    for (size_t i = 0; i < fit.lines.size(); ++i) {
      amax = std::max(amax, std::abs(truth.lines[i].amplitude));
      dmax = std::max(dmax, std::abs(fit.lines[i].amplitude - truth.lines[i].amplitude));
    }
    CHECK(dmax < 1e-6 * amax);
    // Ignoring the offsets misfits the shifted lines.
    const LineReadout naive = measure_lines(p.sample.molecule, r.fid);
    double nmax = 0;
    for (size_t i = 0; i < fit.lines.size(); ++i)
      nmax = std::max(nmax, std::abs(naive.lines[i].amplitude - truth.lines[i].amplitude));
    CHECK(nmax > 1e-2 * amax);
    std::filesystem::remove(tmp);
  }
  SUBCASE("validation") {
    const std::string d = molecules_dir();
    CHECK_THROWS_WITH_AS(
        parse_acquire_program(program("", "  - rotation: {spins: [C7], angle_deg: 90}\n"), "t.yaml",
                              d),
        doctest::Contains("unknown spin C7 (known: C1..C4)"), InputError);
    CHECK_THROWS_WITH_AS(
        parse_acquire_program(program("  engine: magic\n", "  - delay: {duration_s: 0.1}\n"),
                              "t.yaml", d),
        doctest::Contains("sample.engine = magic: must be exact or odeint"), InputError);
    CHECK_THROWS_WITH_AS(
        parse_acquire_program(program("", "  - delay: {duration_s: 0}\n"), "t.yaml", d),
        doctest::Contains("must be > 0"), InputError);
    CHECK_THROWS_WITH_AS(
        parse_acquire_program(program("", "  - shaped_pulse: {file: missing.json}\n"), "t.yaml", d),
        doctest::Contains("cannot read"), InputError);
    CHECK_THROWS_WITH_AS(
        parse_acquire_program(program("  gradient: {mode: slices, slices: 65537}\n",
                                      "  - delay: {duration_s: 0.1}\n"),
                              "t.yaml", d),
        doctest::Contains(
            "t.yaml:4:36: sample.gradient.slices = 65537: must be an integer between 1 and 65536"),
        InputError);
    // The options' own rules, placed by the loader at the field that broke one.
    std::string zero_scans = program("", "  - delay: {duration_s: 0.1}\n");
    zero_scans.replace(zero_scans.find("td: 8192"), 8, "td: 8192, scans: 0");
    CHECK_THROWS_WITH_AS(
        parse_acquire_program(zero_scans, "t.yaml", d),
        doctest::Contains("acquisition.scans = 0: must be an integer between 1 and 1000000"),
        InputError);
  }
  SUBCASE("validation: acquisition and processing options validate themselves") {
    AcquisitionOptions a;
    CHECK_NOTHROW(a.validate());
    a.scans = 6;
    a.phase_cycle = PhaseCycle::kCyclops;
    CHECK_THROWS_WITH_AS(a.validate(),
                         doctest::Contains("acquisition: phase_cycle = cyclops: CYCLOPS needs a "
                                           "multiple of 4 scans (scans = 6)"),
                         InputError);
    a = {};
    a.snr = -1;
    CHECK_THROWS_WITH_AS(a.validate(), doctest::Contains("acquisition: snr = -1: must be >= 0"),
                         InputError);
    ProcessingOptions o;
    CHECK_NOTHROW(o.validate(1024));
    CHECK_THROWS_WITH_AS(o.validate(1000), doctest::Contains("td = 1000 is not a power of two"),
                         InputError);
    o.zero_fill = 2048;
    CHECK_NOTHROW(o.validate(1000));
    o.lb_hz = -0.5;
    CHECK_THROWS_WITH_AS(o.validate(1000),
                         doctest::Contains("processing: lb_hz = -0.5: must be >= 0"), InputError);
  }
}

TEST_CASE("run_acquire_program: the CLI's and Python's acquisition run") {
  const AcquireProgram p =
      load_acquire_program(ref::source_path("sequences/demos/thermal_90.yaml"));
  std::vector<std::string> stages;
  const AcquireRun run =
      run_acquire_program(p, nullptr, [&](const std::string& s) { stages.push_back(s); });
  CHECK(stages.size() == 2);
  REQUIRE(run.fit.lines.size() == run.truth.lines.size());
  REQUIRE(!run.fit.lines.empty());
  double worst = 0;
  for (size_t i = 0; i < run.fit.lines.size(); ++i)
    worst = std::max(worst, std::abs(run.fit.lines[i].amplitude - run.truth.lines[i].amplitude));
  MESSAGE("largest |fit - true| amplitude: " << worst / run.thermal.epsilon << " epsilon");
  CHECK(worst < 0.05 * run.thermal.epsilon);  // the fit finds the simulated lines
  CHECK(run.spectrum.values.size() == run.spectrum.hz.size());
  CHECK(!run.spectrum.values.empty());
  // A recorded FID replaces the simulated one for processing and fitting; truth stays.
  Fid recorded = run.result.fid;
  for (auto& z : recorded.points) z = -z;
  const AcquireRun rec = run_acquire_program(p, &recorded);
  CHECK(rec.result.fid.points == recorded.points);
  CHECK(std::abs(rec.fit.lines[0].amplitude + run.fit.lines[0].amplitude) <=
        1e-9 * std::abs(run.fit.lines[0].amplitude));  // the fit is linear in the FID
  CHECK(rec.truth.lines[0].amplitude == run.truth.lines[0].amplitude);
}
