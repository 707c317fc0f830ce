// Preparation programs (docs/preparation.md): the loader's located errors and the runner on the
// shipped programs, against the populations and states they must produce.
#include "nmrc/spectrometer/preparation_run.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::spectrometer;

namespace {

// Writes a program beside nothing else; the molecule is named by its absolute path.
std::string program_file(const std::string& name, const std::string& body) {
  const auto dir = std::filesystem::temp_directory_path() / "nmrc_preparation_run_test";
  std::filesystem::create_directories(dir);
  const auto path = (dir / (name + ".yaml")).string();
  std::ofstream(path) << "molecule: " << ref::source_path("molecules/crotonic_acid.yaml") << "\n"
                      << body << "\n";
  return path;
}

}  // namespace

TEST_CASE("preparation programs: the bath particle") {
  SUBCASE("correctness") {
    const auto p =
        load_preparation_program(ref::source_path("sequences/preparation/bath_0.9.yaml"));
    CHECK(p.target == PreparationTarget::kBath);
    CHECK(std::string(target_name(p.target)) == "bath");
    REQUIRE(p.bath);
    CHECK(p.bath->spin == p.molecule.index_of("C4"));
    CHECK(p.bath->temperature == 0.9);
    CHECK(p.pps_spins == std::vector<int>{0, 1, 2, 3});

    const PreparationResult r = run_preparation(p);
    // The pseudo-pure state: deviation eps (|0000><0000| - I/16) with eps = 2 eps_th (Eq. (S13),
    // docs/preparation.md), exact with compensate_polarization.
    CHECK(r.pps.fit.error < 1e-9);
    CHECK(r.pps.fit.epsilon == doctest::Approx(2.0 * r.pps.thermal_epsilon).epsilon(1e-9));
    REQUIRE(r.bath);
    // P0 = 1 / (1 + exp(-1/T_R)) in the paper's units (delta = k_B = 1).
    const double p0 = 1.0 / (1.0 + std::exp(-1.0 / 0.9));
    CHECK(r.bath->p0_requested == doctest::Approx(p0).epsilon(1e-15));
    CHECK(std::abs(r.bath->p0_obtained - p0) < 1e-9);
    CHECK(r.bath->pseudo_state_error < 1e-9);
    // cos^2(theta/2) = P0.
    CHECK(std::cos(r.bath->rotation_rad / 2) * std::cos(r.bath->rotation_rad / 2) ==
          doctest::Approx(p0).epsilon(1e-12));
    CHECK_MAT_NEAR(r.before, r.bath->start, 0.0);
    CHECK_MAT_NEAR(r.after, r.bath->after, 0.0);
    CHECK_MAT_NEAR(r.bath->start, r.pps.rho_after, 0.0);
    CHECK_FALSE(r.temporal);
  }
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(load_preparation_program(program_file(
                             "c9", "target: bath\nbath: {spin: C9, temperature: 0.9}")),
                         doctest::Contains("bath.spin = C9: unknown spin C9 (known: C1..C4)"),
                         InputError);
    CHECK_THROWS_WITH_AS(load_preparation_program(program_file("nobath", "target: bath")),
                         doctest::Contains("missing required key"), InputError);
    CHECK_THROWS_WITH_AS(load_preparation_program(program_file(
                             "cold", "target: bath\nbath: {spin: C4, temperature: -1}")),
                         doctest::Contains("bath.temperature = -1: must be > 0"), InputError);
    CHECK_THROWS_WITH_AS(
        load_preparation_program(program_file("tgt", "target: ppss")),
        doctest::Contains("target = ppss: must be pps, bath or temporal_averaging"), InputError);
    // The gradient block shares its rules with acquisition programs (read_gradient_options).
    CHECK_THROWS_WITH_AS(
        load_preparation_program(
            program_file("slices", "target: pps\ngradient: {mode: slices, slices: 65537}")),
        doctest::Contains("gradient.slices = 65537: must be an integer between 1 and 65536"),
        InputError);
    CHECK_THROWS_WITH_AS(
        load_preparation_program(program_file("mode", "target: pps\ngradient: {mode: twisted}")),
        doctest::Contains("gradient.mode = twisted: must be exact or slices"), InputError);
    const auto p = load_preparation_program(
        program_file("len", "target: pps\ngradient: {mode: slices, slices: 65536, length_cm: 2}"));
    CHECK(p.sample.gradient.slices == 65536);
    CHECK(p.sample.gradient.length_cm == 2.0);
    CHECK(p.pps.gradient.length_cm == 2.0);
  }
}

TEST_CASE("preparation programs: temporal averaging") {
  SUBCASE("correctness") {
    const auto p =
        load_preparation_program(ref::source_path("sequences/preparation/fig3_c-0.5.yaml"));
    CHECK(p.target == PreparationTarget::kTemporalAveraging);
    CHECK(p.system_spins == std::vector<int>{0, 1, 2});
    int reported = 0;
    const PreparationResult r =
        run_preparation(p, [&](int, int, const std::string&) { ++reported; });
    REQUIRE(r.temporal);
    const auto& ta = *r.temporal;
    CHECK(ta.plan.experiments.size() == 6);
    CHECK(reported == 3 + 6);  // three stages, six experiments
    double weights = 0.0;
    for (const auto& e : ta.plan.experiments) weights += e.weight;
    CHECK(weights == doctest::Approx(1.0).epsilon(1e-12));
    // The reduced pseudo-state is the requested state (noise-free, ideal gates).
    CHECK(ta.max_abs_error < 1e-9);
    CHECK(ta.max_abs_error == doctest::Approx(ref::max_abs_diff(ta.reduced, p.requested)));
    CHECK_MAT_NEAR(ta.reduced, partial_trace(ta.sigma, p.system_spins, 4), 0.0);
    CHECK(ta.uhlmann_fidelity <= 1.0);
    CHECK(ta.uhlmann_fidelity > 1.0 - 1e-9);
    CHECK_MAT_NEAR(r.before, ta.start, 0.0);
    CHECK_MAT_NEAR(r.after, ta.after, 0.0);
    REQUIRE(r.bath);
    CHECK_MAT_NEAR(ta.start, r.bath->after, 0.0);
  }
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(load_preparation_program(program_file("sum", R"(target: temporal_averaging
system:
  spins: [C1, C2]
  populations: [{state: '00', weight: 0.7}, {state: '11', weight: 0.5}])")),
                         doctest::Contains("weights sum to 1.2: must sum to 1"), InputError);
    CHECK_THROWS_WITH_AS(
        load_preparation_program(program_file("bathsys", R"(target: temporal_averaging
bath: {spin: C3, temperature: 0.9}
system: {spins: [C1, C3], temperatures: [1, 1], coherence: -0.2})")),
        doctest::Contains("is the bath spin"), InputError);
    CHECK_THROWS_WITH_AS(load_preparation_program(program_file("phys", R"(target: temporal_averaging
system: {spins: [C1, C2, C3], temperatures: [1, 1, 1], coherence: -0.8})")),
                         doctest::Contains("system.coherence = -0.8: state: not positive"),
                         InputError);
    CHECK_THROWS_WITH_AS(load_preparation_program(program_file("sys", "target: pps\nsystem: {}")),
                         doctest::Contains("only used with target: temporal_averaging"),
                         InputError);
  }
}
