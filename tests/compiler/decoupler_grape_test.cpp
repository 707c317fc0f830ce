// GRAPE with the decoupler in its model, asked for by a program (`compile: {decoupler: ...}`,
// docs/program-format.md; docs/console-physics.md): the field's rules at their YAML line, its
// place in the pulse cache's key, its record in the pulse file, and the pulse it gives against
// the plain compile, both played by the spectrometer on the heteronuclear molecule with CW
// decoupling running (spectrometer::decoupled_unitary, which shares no code with GRAPE).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/program.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "nmrc/spectrometer/decoupling.hpp"
#include "nmrc/spectrometer/propagation.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::compiler;
namespace fs = std::filesystem;

namespace {

// Two carbons (the program's molecule) and the same two with a proton H coupled to A by
// J_AH = 150 Hz (the heteronuclear one). CW at B2 = 4 kHz, O2 2000.7 Hz off H: cos(theta) =
// -0.447, A's residual splitting 67 Hz (+-33.5 Hz in the two configurations).
constexpr const char* kCarbons =
    "name: dg\nspectrometer: {proton_mhz: 300.13}\n"
    "channels: [{name: 13C, isotope: 13C, max_rf_hz: 10000}]\n"
    "nuclei:\n  - {label: A, isotope: 13C, offset_hz: 700.0, t1_s: 5, t2_s: 1, t2star_s: 0.5}\n"
    "  - {label: B, isotope: 13C, offset_hz: -1500.0, t1_s: 5, t2_s: 1, t2star_s: 0.5}\n"
    "couplings: [{spins: [A, B], j_hz: JAB}]\nsources: [test]\n";
constexpr const char* kHetero =
    "name: dgh\nspectrometer: {proton_mhz: 300.13}\n"
    "channels: [{name: 13C, isotope: 13C, max_rf_hz: 10000},\n"
    "           {name: 1H, isotope: 1H, max_rf_hz: 5000}]\n"
    "nuclei:\n  - {label: A, isotope: 13C, offset_hz: 700.0, t1_s: 5, t2_s: 1, t2star_s: 0.5}\n"
    "  - {label: B, isotope: 13C, offset_hz: -1500.0, t1_s: 5, t2_s: 1, t2star_s: 0.5}\n"
    "  - {label: H, isotope: 1H, offset_hz: 0.0, t1_s: 5, t2_s: 1, t2star_s: 0.5}\n"
    "couplings: [{spins: [A, B], j_hz: 60.0}, {spins: [A, H], j_hz: 150.0}]\nsources: [test]\n";

std::string with_j(std::string text, const std::string& j) {
  text.replace(text.find("JAB"), 3, j);
  return text;
}

// A folder with the molecule files (the program names them relative to itself).
struct Folder {
  fs::path dir = fs::temp_directory_path() / ("nmrc_decoupler_grape_" + std::to_string(::getpid()));
  Folder() {
    fs::create_directories(dir);
    std::ofstream(dir / "dg.yaml") << with_j(kCarbons, "60.0");
    std::string other = kHetero;  // J(A, B) 61 Hz instead of the carbons' 60
    other.replace(other.find("j_hz: 60.0"), 10, "j_hz: 61.0");
    std::ofstream(dir / "dg_other_j.yaml") << other;
    std::ofstream(dir / "dgh.yaml") << kHetero;
  }
  ~Folder() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  Program parse(const std::string& decoupler) const {
    return parse_program(
        "format: nmrc-program/1\nname: dp\nmolecule: dg.yaml\n"
        "compile: {duration_s: 0.004, steps: 100, fidelity_target: 0.999, starts: 2, threads: 1,\n"
        "          max_rf_hz: 1000,\n"
        "          time_limit_s: 120, ensemble: {b1_scale: [1.0]}" +
            (decoupler.empty() ? std::string() : ",\n          decoupler: " + decoupler) +
            "}\nelements:\n  - gate: {name: r, type: rotation, spins: [A], angle_deg: 90}\n",
        (dir / "dp.yaml").string(), dir.string());
  }
};

constexpr const char* kCw = "{b2_hz: 4000, o2_ppm: 6.666, molecule: dgh.yaml}";

// The gate fidelity on the carbons of the pulse played on the heteronuclear molecule with the
// program's CW decoupler running (the proton maximally mixed and traced out).
double decoupled_fidelity(const Program& p, const CompiledPulse& pulse) {
  const DecouplerModel& d = *p.gates[0].options.decoupler;
  const Molecule& h = *d.molecule;
  ShapedPulseElement on_h = pulse.element(p.molecule);
  on_h.channels = {h.channel_index("13C")};
  const Mat u = spectrometer::decoupled_unitary(h, d.decoupler(), on_h);
  return spectrometer::subsystem_gate_fidelity(u, 3, {0, 1}, p.gates[0].target.full(2));
}

}  // namespace

TEST_CASE("decoupler field: key, record, and a pulse that beats the plain compile under CW") {
  const Folder f;
  Program plain = f.parse("");
  Program with = f.parse(kCw);
  REQUIRE(with.gates[0].options.decoupler.has_value());
  const DecouplerModel& d = *with.gates[0].options.decoupler;
  CHECK(d.sequence == "cw");
  CHECK(d.channel == "1H");
  CHECK(d.b2_hz == 4000.0);
  CHECK(d.molecule->name == "dgh");
  CHECK(d.decoupler().o2_hz == doctest::Approx(6.666 * 300.13 * 1.0).epsilon(1e-3));
  // The pulse cache's key: with and without the decoupler, and another B2, are three keys.
  const std::string k_plain =
      cache_key(plain.molecule, plain.gates[0].target, plain.gates[0].options);
  const std::string k_with = cache_key(with.molecule, with.gates[0].target, with.gates[0].options);
  const Program other_b2 = f.parse("{b2_hz: 4500, o2_ppm: 6.666, molecule: dgh.yaml}");
  CHECK(k_plain != k_with);
  CHECK(k_with !=
        cache_key(other_b2.molecule, other_b2.gates[0].target, other_b2.gates[0].options));
  // `decoupler: none` (e.g. in a gate's map, over the program's): none.
  CHECK(f.parse("none").gates[0].options.decoupler == std::nullopt);

  // A cache written by the plain compile is not reused by the program with the decoupler.
  const std::string cache = (f.dir / "cache").string();
  ProgramCompileOptions po;
  po.cache_dir = cache;
  const auto out_plain = compile_program(plain, po);
  const auto out_with = compile_program(with, po);
  REQUIRE(out_plain.size() == 1u);
  REQUIRE(out_with.size() == 1u);
  CHECK_FALSE(out_with[0].result.from_cache);
  CHECK(out_with[0].result.cache_key == k_with);
  CHECK(compile_program(with, po)[0].result.from_cache);

  // The pulse file records the decoupler and reads it back.
  const CompiledPulse& pw = out_with[0].result.pulse;
  REQUIRE(pw.decoupler.has_value());
  CHECK(pw.decoupler->sequence == "cw");
  CHECK(pw.decoupler->molecule == "dgh");
  CHECK(pw.decoupler->configurations == 2);
  CHECK(pw.decoupler->b2_hz == 4000.0);
  const CompiledPulse back = parse_pulse_json(pulse_file_text(pw), "back.json");
  REQUIRE(back.decoupler.has_value());
  CHECK(back.decoupler->fidelity_min == pw.decoupler->fidelity_min);
  CHECK(back.decoupler->o2_ppm == 6.666);
  CHECK_FALSE(out_plain[0].result.pulse.decoupler.has_value());
  CHECK(pulse_file_text(out_plain[0].result.pulse).find("decoupler") == std::string::npos);

  // GRAPE's recorded minimum is the pulse's fidelity on the carbons' molecule with A shifted by
  // each configuration's residual coupling (+-J_AH cos(theta) / 2), simulated by the
  // spectrometer; the file's own fidelity record is the unshifted molecule's (the judge's).
  const ShapedPulseElement e = pw.element(with.molecule);
  const Mat w = with.gates[0].target.full(2);
  auto model_min = [&](const ShapedPulseElement& pulse) {
    double fmin = 1.0;
    for (const auto& c : d.configurations()) {
      Molecule mc = with.molecule;
      mc.nuclei[0].offset_hz += c.offset_hz[0];
      CHECK(std::abs(c.offset_hz[0]) ==
            doctest::Approx(0.5 * 150.0 * 2000.6 / std::hypot(2000.6, 4000.0)).epsilon(1e-3));
      fmin = std::min(
          fmin, std::abs((w.adjoint() * spectrometer::simulate_unitary(mc, pulse)).trace()) / 4);
    }
    return fmin;
  };
  const double fmin = model_min(e);
  CHECK(pw.decoupler->fidelity_min == doctest::Approx(fmin).epsilon(1e-9));
  CHECK(pw.decoupler->fidelity_min >= 0.999);
  CHECK(pw.ensemble_min ==
        doctest::Approx(
            std::abs((w.adjoint() * spectrometer::simulate_unitary(with.molecule, e)).trace()) / 4)
            .epsilon(1e-9));
  CHECK(out_with[0].passed());

  // Played on the 3-spin molecule with CW running, the decoupler-aware pulse beats the plain one.
  const double f_with = decoupled_fidelity(with, pw);
  const double f_plain = decoupled_fidelity(with, out_plain[0].result.pulse);
  MESSAGE("F under CW: with the decoupler in GRAPE's model "
          << f_with << ", plain " << f_plain << " (the plain pulse's minimum in the model: "
          << model_min(out_plain[0].result.pulse.element(with.molecule)) << ")");
  CHECK(f_with > 0.998);
  CHECK(f_with > f_plain + 0.002);
}

TEST_CASE("decoupler field: bad values name their file, line and field") {
  const Folder f;
  auto message = [&](const std::string& decoupler) {
    try {
      f.parse(decoupler);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::string file = (f.dir / "dp.yaml").string();
  const auto has = [&](const std::string& m, const std::string& what) {
    INFO(m);
    CHECK(m.find(file + ":") == 0);
    CHECK(m.find(what) != std::string::npos);
  };
  has(message("{b2_hz: 6000, o2_ppm: 3.3, molecule: dgh.yaml}"), "b2_hz");
  has(message("{b2_hz: 6000, o2_ppm: 3.3, molecule: dgh.yaml}"), "max_rf_hz");
  has(message("{b2_hz: -1, o2_ppm: 3.3, molecule: dgh.yaml}"), "b2_hz");
  has(message("{sequence: waltz16, b2_hz: 2000, o2_ppm: 3.3, molecule: dgh.yaml}"), "must be cw");
  has(message("{b2_hz: 2000, o2_ppm: 3.3, molecule: dg_other_j.yaml}"), "J(A, B)");
  has(message("{b2_hz: 2000, o2_ppm: 3.3, molecule: dg.yaml}"), "channel");
  has(message("{b2_hz: 2000, o2_ppm: 3.3, molecule: missing.yaml}"), "missing.yaml");
  has(message("{b2_hz: 2000, molecule: dgh.yaml}"), "o2_ppm");
  has(message("{b2_hz: 2000, o2_ppm: 1e9, molecule: dgh.yaml}"), "o2_ppm");
  has(message("{b2_hz: 2000, o2_ppm: 3.3, molecule: dgh.yaml, power: 3}"), "power");
  has(message("cw"), "decoupler");
  // A pulse file's decoupler record is checked too.
  std::string text = R"({"format": "nmrc-pulse/1", "dt_s": 1e-5, "channels": {"13C":
    {"ux_hz": [1], "uy_hz": [0]}}, "decoupler": {"sequence": "cw", "channel": "1H", "molecule":
    "dgh", "b2_hz": -5, "o2_ppm": 3, "configurations": 2, "fidelity_min": 0.99}})";
  CHECK_THROWS_WITH_AS(parse_pulse_json(text, "p.json"), doctest::Contains("decoupler.b2_hz"),
                       InputError);
}
