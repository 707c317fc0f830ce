#include "nmrc/compiler/compile.hpp"

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "nmrc/compiler/program.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "support/pulse_reference.hpp"
#include "support/reference.hpp"
#include "support/test_molecules.hpp"

using namespace nmrc;
using namespace nmrc::compiler;

namespace {
const char* kCompileProgram = R"(
molecule: crotonic_acid.yaml
compile: {duration_s: 0.002, steps: 60, starts: 2, seed: 2, fidelity_target: 0.99,
          ensemble: {b1_scale: [0.99, 1.0, 1.01]}}
elements:
  - gate: {name: ry_c4, type: rotation, spins: [C4], angle_deg: 90, axis: y}
)";
}

TEST_CASE("compile a selective rotation on crotonic acid, write, read back, validate, cache") {
  Program prog = parse_program(kCompileProgram, "p.yaml", ref::source_path("molecules"));
  const GateJob& job = prog.gates.at(0);
  const auto cache = std::filesystem::temp_directory_path() / "nmrc_compile_test_cache";
  std::filesystem::remove_all(cache);
  const CompileResult r =
      compile_target(prog.molecule, job.target, job.options, job.name, cache.string());
  CHECK_FALSE(r.from_cache);
  CHECK(r.summary.reached_target);
  CHECK(r.pulse.ensemble_min >= 0.99);
  SUBCASE("nmrc-pulse/1 round trip and the independent re-simulation agree") {
    const nlohmann::json j = nlohmann::json::parse(pulse_file_text(r.pulse));
    CHECK(j["format"] == "nmrc-pulse/1");
    CHECK(j["channels"]["13C"]["ux_hz"].size() == 60);
    CHECK(j["fidelity"]["definition"] == "|Tr(Ut^dag U)|/d");
    const CompiledPulse back = parse_pulse_json(j.dump(), "mem");
    CHECK((back.channels[0].ux_hz - r.pulse.channels[0].ux_hz).cwiseAbs().maxCoeff() == 0.0);
    const ValidationResult v = validate_pulse(back, prog.molecule);  // spectrometer engine
    CHECK(v.passed);
    // The slow reference (tests/support): Hamiltonian rebuilt term by term, 3 Taylor
    // exponentials per step; nominal, then every member of the pulse's ensemble.
    const GateTarget t = target_from_json(back.target_json, prog.molecule, "mem");
    const ShapedPulseElement e = back.element(prog.molecule);
    auto reference = [&](double b1, double off) {
      const Mat u = ref::pulse_propagator(prog.molecule, e, b1, off, 3);
      return std::abs((t.full(4).adjoint() * u).trace()) / t.norm(4);
    };
    CHECK(reference(1.0, 0.0) == doctest::Approx(v.nominal).epsilon(1e-10));
    size_t i_ref = 0;
    for (double b1 : back.b1_scale)
      for (double off : back.offset_hz)
        CHECK(reference(b1, off) == doctest::Approx(v.values[i_ref++]).epsilon(1e-10));
    CHECK(i_ref == v.values.size());
    CHECK(v.nominal == doctest::Approx(r.pulse.fidelity_nominal).epsilon(1e-9));
    for (size_t i = 0; i < v.values.size(); ++i)
      CHECK(v.values[i] == doctest::Approx(r.pulse.ensemble_values[i]).epsilon(1e-9));
    install_pulse(prog, job, back);
    CHECK(std::holds_alternative<ShapedPulseElement>(prog.sequence.elements[0]));
    CHECK(prog.sequence.duration_s() == doctest::Approx(0.002));
  }
  SUBCASE("recompiling the unchanged target comes from the cache; a change misses it") {
    const CompileResult again =
        compile_target(prog.molecule, job.target, job.options, job.name, cache.string());
    CHECK(again.from_cache);
    CHECK(again.cache_key == r.cache_key);
    CHECK((again.pulse.channels[0].ux_hz - r.pulse.channels[0].ux_hz).cwiseAbs().maxCoeff() == 0.0);
    CompileOptions o = job.options;
    o.seed = 5;
    CHECK(cache_key(prog.molecule, job.target, o) != r.cache_key);
  }
  SUBCASE("a cache miss starts from the family's best cached pulse (warm start)") {
    // The first evaluation of start 0 shows where it began (the first of its coarse stage, when
    // GRAPE chose one: the full steps' count starts again after it).
    double first_f = -1.0;
    const ProgressCallback first = [&first_f](const GrapeProgress& g) {
      if (g.start == 0 && g.evaluations == 1 && first_f < 0) first_f = g.fidelity_min;
    };
    CompileOptions o = job.options;
    o.fidelity_target = 0.995;  // another key, the same family (target, duration, steps)
    REQUIRE(warm_start_family(prog.molecule, job.target, o) ==
            warm_start_family(prog.molecule, job.target, job.options));
    const CompileResult warm =
        compile_target(prog.molecule, job.target, o, job.name, cache.string(), first);
    CHECK_FALSE(warm.from_cache);
    CHECK(warm.summary.warm_start.find(r.cache_key) != std::string::npos);
    CHECK(warm.summary.brief_report().find("start 0 warm from cache entry " + r.cache_key) !=
          std::string::npos);
    REQUIRE_FALSE(warm.summary.starts.empty());
    CHECK(warm.summary.starts[0].initial == "warm");
    CHECK(first_f >= r.pulse.ensemble_min - 1e-9);  // the cached pulse under its own ensemble
    CHECK(warm.summary.reached_target);
    // Off: the seed's own starts; a random start begins far from the target (a few iterations
    // show it).
    o.warm_start = false;
    o.starts = 1;
    o.max_iterations = 5;
    first_f = -1.0;
    const CompileResult cold =
        compile_target(prog.molecule, job.target, o, job.name, cache.string(), first);
    CHECK(cold.cache_key != warm.cache_key);
    CHECK(cold.summary.warm_start.empty());
    CHECK(cold.summary.starts[0].initial == "random");
    CHECK(first_f < 0.9);
    // Another duration is another family: nothing to start from.
    o.warm_start = true;
    o.duration_s = 0.0025;
    CHECK(warm_start_family(prog.molecule, job.target, o) !=
          warm_start_family(prog.molecule, job.target, job.options));
    CHECK(compile_target(prog.molecule, job.target, o, job.name, cache.string())
              .summary.warm_start.empty());
  }
  SUBCASE("an entry that fails its checksum is no warm start") {
    for (const auto& f : std::filesystem::directory_iterator(cache)) {
      nlohmann::json entry = nlohmann::json::parse(read_file(f.path().string()));
      entry["pulse"]["channels"]["13C"]["ux_hz"][1] =
          entry["pulse"]["channels"]["13C"]["ux_hz"][1].get<double>() + 1.0;
      write_file_atomic(f.path().string(), entry.dump());
    }
    CompileOptions o = job.options;
    o.fidelity_target = 0.995;
    CHECK(compile_target(prog.molecule, job.target, o, job.name, cache.string())
              .summary.warm_start.empty());
  }
  SUBCASE("the same seed gives the same pulse file, byte for byte") {
    const CompileResult again =
        compile_target(prog.molecule, job.target, job.options, job.name, "");
    CHECK_FALSE(again.from_cache);
    CHECK(pulse_file_text(again.pulse) == pulse_file_text(r.pulse));
  }
  SUBCASE("a cache entry whose content does not match its checksum is recompiled, not trusted") {
    const std::string file = (cache / (r.cache_key + ".json")).string();
    nlohmann::json entry = nlohmann::json::parse(read_file(file));
    REQUIRE(entry.contains("checksum"));
    // Change one amplitude and keep the recorded checksum: a damaged or edited entry.
    const double u0 = entry["pulse"]["channels"]["13C"]["ux_hz"][1].get<double>();
    entry["pulse"]["channels"]["13C"]["ux_hz"][1] = u0 + 1.0;
    write_file_atomic(file, entry.dump());
    const CompileResult again =
        compile_target(prog.molecule, job.target, job.options, job.name, cache.string());
    CHECK_FALSE(again.from_cache);
    CHECK(again.pulse.channels[0].ux_hz[1] == r.pulse.channels[0].ux_hz[1]);
    // The entry was rewritten with a good checksum and is trusted again.
    CHECK(compile_target(prog.molecule, job.target, job.options, job.name, cache.string())
              .from_cache);
    // An entry without a checksum (or a wrong one) is not trusted either.
    entry = nlohmann::json::parse(read_file(file));
    entry.erase("checksum");
    write_file_atomic(file, entry.dump());
    CHECK_FALSE(compile_target(prog.molecule, job.target, job.options, job.name, cache.string())
                    .from_cache);
  }
  SUBCASE("validation of pulse files") {
    nlohmann::json j = nlohmann::json::parse(pulse_file_text(r.pulse));
    j["format"] = "nmrc-pulse/0";
    CHECK_THROWS_WITH_AS(parse_pulse_json(j.dump(), "f.json"),
                         doctest::Contains("format = \"nmrc-pulse/0\": must be \"nmrc-pulse/1\""),
                         InputError);
    j = nlohmann::json::parse(pulse_file_text(r.pulse));
    j["channels"]["13C"]["uy_hz"].erase(0);
    CHECK_THROWS_WITH_AS(parse_pulse_json(j.dump(), "f.json"), doctest::Contains("as many steps"),
                         InputError);
    j = nlohmann::json::parse(pulse_file_text(r.pulse));
    j["target"]["gate"] = "teleport";
    CHECK_THROWS_WITH_AS(validate_pulse(parse_pulse_json(j.dump(), "f.json"), prog.molecule),
                         doctest::Contains("unknown gate"), InputError);
  }
  std::filesystem::remove_all(cache);
}

// A gate up to diagonal phases (up_to: diagonal_phases) compiles against that measure: the pulse
// file says so, the spectrometer's validation and the slow reference agree on
// sum_j |(W^dag U)_jj| / d, and the cache keys it apart from the strict gate.
TEST_CASE("compile and validate a gate up to diagonal phases") {
  const std::string text = std::string(kCompileProgram)
                               .replace(std::string(kCompileProgram).find("axis: y}"), 8,
                                        "axis: y, up_to: diagonal_phases}");
  const Program prog = parse_program(text, "p.yaml", ref::source_path("molecules"));
  const Program strict = parse_program(kCompileProgram, "p.yaml", ref::source_path("molecules"));
  const GateJob& job = prog.gates.at(0);
  REQUIRE(job.target.diagonal_phases);
  CHECK(cache_key(prog.molecule, job.target, job.options) !=
        cache_key(strict.molecule, strict.gates[0].target, strict.gates[0].options));
  const CompileResult r = compile_target(prog.molecule, job.target, job.options, job.name, "");
  CHECK(r.summary.reached_target);
  const nlohmann::json j = nlohmann::json::parse(pulse_file_text(r.pulse));
  CHECK(j["fidelity"]["definition"] == "sum_j |(Ut^dag U)_jj|/d (up to diagonal phases)");
  CHECK(j["target"]["up_to"] == "diagonal_phases");
  const CompiledPulse back = parse_pulse_json(j.dump(), "mem");
  const ValidationResult v = validate_pulse(back, prog.molecule);
  CHECK(v.passed);
  const GateTarget t = target_from_json(back.target_json, prog.molecule, "mem");
  const Mat w = t.full(4);
  const ShapedPulseElement e = back.element(prog.molecule);
  size_t i = 0;
  for (double b1 : back.b1_scale)
    for (double off : back.offset_hz) {
      const Mat u = ref::pulse_propagator(prog.molecule, e, b1, off, 3);
      double s = 0;
      for (int k = 0; k < 16; ++k) s += std::abs((w.adjoint() * u)(k, k));
      CHECK(s / 16 == doctest::Approx(v.values[i]).epsilon(1e-10));
      CHECK(v.values[i] == doctest::Approx(r.pulse.ensemble_values[i]).epsilon(1e-9));
      // The strict fidelity of the same pulse is no higher.
      CHECK(std::abs((w.adjoint() * u).trace()) / 16 <= v.values[i] + 1e-12);
      ++i;
    }
  CHECK(i == v.values.size());
}

TEST_CASE("time-optimal bound of the paper's partial swaps") {
  CHECK(partial_swap_bound_s(0.2, 7.0) * 1e3 == doctest::Approx(18.19).epsilon(1e-3));
  CHECK(partial_swap_bound_s(0.2, 41.3) * 1e3 == doctest::Approx(3.083).epsilon(1e-3));
  CHECK(partial_swap_bound_s(0.2, 0.0) == 0.0);
}

TEST_CASE("dense GRAPE beyond its memory bound is refused before any operator is built") {
  // kMaxGrapeMemberBytes: three d x d complex matrices per step and member. The 12-spin register
  // at 200 steps would need 161 GB per member; the refusal names the field and the way out.
  const Molecule reg = nmrc::testing::iqc_register();
  CompileOptions o;
  o.duration_s = 0.002;
  o.steps = 200;
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(o.validate(reg), doctest::Contains("steps = 200: dense GRAPE on"),
                       InputError);
  CHECK_THROWS_WITH_AS(o.validate(reg), doctest::Contains("compiled on subsystems"), InputError);
  // Refused from sizes alone: no 4096 x 4096 operator was built (that takes tens of seconds).
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  // The 4-spin molecule at 100 000 steps: 1.2 GB per member; through the probe (8 substeps per
  // step) 9.8 GB, refused.
  const Molecule c = nmrc::testing::crotonic();
  o.steps = 100000;
  o.duration_s = 1.0;
  CHECK_NOTHROW(o.validate(c));
  o.probe_q = {{"13C", 300.0}};
  CHECK_THROWS_WITH_AS(o.validate(c), doctest::Contains("steps = 100000:"), InputError);
}
