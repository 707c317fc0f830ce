#include "nmrc/compiler/program.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/gate_types.hpp"
#include "nmrc/compiler/targets.hpp"
#include "nmrc/core/bruker_shape.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::compiler;

namespace {

std::string molecules_dir() { return ref::source_path("molecules"); }

Program parse(const std::string& text) { return parse_program(text, "prog.yaml", molecules_dir()); }

const char* kGatesProgram = R"(
format: nmrc-program/1
name: demo
molecule: crotonic_acid.yaml
channels:
  13C: {carrier_hz: 100.0}
compile:
  duration_s: 0.004
  steps: 160
  ensemble: {b1_scale: [0.98, 1.0, 1.02], weights: [1, 2, 1]}
elements:
  - hard_pulse: {channel: 13C, angle_deg: 90, phase_deg: 90, rf_hz: 5000}
  - delay: {duration_s: 0.001}
  - gate: {name: u34, type: partial_swap, spins: [C3, R], theta_rad: 0.2}
  - loop:
      count: 2
      elements:
        - gate: {name: ry, type: rotation, spins: [C1], angle_deg: 90, axis: y, compile: {duration_s: 0.002, steps: 50}}
        - gradient: {duration_s: 0.001, strength_g_per_cm: 20, shape: sine}
  - rotation: {spins: [C1, C2], angle_rad: 1.5707963267948966}
  - gate: {name: ud, type: ud, spins: [S1, S2, S3], c: -0.5}
  - gate: {name: st, type: state_transfer, spins: [C1, C2], transfers: [{from: "00", to: "11"}]}
  - acquire: {channel: 13C, sw_hz: 20000, td: 1024}
)";

}  // namespace

TEST_CASE("pulse programs parse into the sequence IR with gate placeholders") {
  SUBCASE("correctness") {
    const Program p = parse(kGatesProgram);
    CHECK(p.name == "demo");
    CHECK(p.molecule.channels[0].carrier_hz == 100.0);
    REQUIRE(p.sequence.elements.size() == 11);
    CHECK(std::holds_alternative<HardPulseElement>(p.sequence.elements[0]));
    CHECK(std::get<HardPulseElement>(p.sequence.elements[0]).duration_s() == doctest::Approx(5e-5));
    CHECK(std::holds_alternative<UnitaryElement>(p.sequence.elements[2]));
    REQUIRE(p.gates.size() == 4);
    CHECK(p.gates[0].name == "u34");
    CHECK(p.gates[0].target.spins == std::vector<int>{2, 3});
    CHECK(p.gates[0].options.b1_weight == std::vector<double>{1, 2, 1});
    CHECK(p.gates[1].element_indices == std::vector<size_t>{3, 5});  // loop unrolled
    CHECK(p.gates[1].options.resolved_steps() == 50);
    CHECK(p.gates[1].options.b1_scale.size() == 3);  // program defaults kept
    CHECK(std::get<GradientElement>(p.sequence.elements[4]).shape_factor ==
          doctest::Approx(2 / kPi));
    const auto& ud = p.gates[2].target;
    CHECK(std::string(ud.type_name()) == "ud");
    CHECK(is_unitary(ud.local));
    CHECK_FALSE(ud.diagonal_phases);
    CHECK(ud.fidelity_definition() == "|Tr(Ut^dag U)|/d");
    CHECK(p.gates[3].target.state_transfer);
    CHECK(std::get<AcquireElement>(p.sequence.elements.back()).td == 1024);
  }
  SUBCASE("search options: nominal_first, coarse_factor") {
    std::string text = kGatesProgram;
    const std::string from = "  steps: 160\n";
    text.replace(text.find(from), from.size(),
                 from + "  nominal_first: true\n  coarse_factor: 2\n");
    const Program p = parse(text);
    const CompileOptions& o = p.gates[0].options;
    CHECK(o.nominal_first);
    CHECK(o.coarse_factor == 2);
    const auto j = nlohmann::json::parse(o.to_json());
    CHECK(j.at("nominal_first") == true);
    // Unset, the option stays out of the JSON (and of the cache keys of earlier pulses).
    CHECK_FALSE(nlohmann::json::parse(parse(kGatesProgram).gates[0].options.to_json())
                    .contains("nominal_first"));
    text.replace(text.find("nominal_first: true"), 19, "nominal_first: yes please");
    CHECK_THROWS_AS(parse(text), InputError);
  }
  SUBCASE("up_to: diagonal_phases") {
    std::string text = kGatesProgram;
    const std::string from = "c: -0.5}";
    text.replace(text.find(from), from.size(), "c: -0.5, up_to: diagonal_phases}");
    const Program p = parse(text);
    const GateTarget& ud = p.gates[2].target;
    CHECK(ud.diagonal_phases);
    CHECK_FALSE(p.gates[0].target.diagonal_phases);
    CHECK(ud.fidelity_definition() == "sum_j |(Ut^dag U)_jj|/d (up to diagonal phases)");
    // The description (pulse file target, cache key) says so, and reads back the same.
    CHECK(nlohmann::json::parse(ud.description_json).at("up_to") == "diagonal_phases");
    CHECK(target_from_json(ud.description_json, p.molecule, "x").diagonal_phases);
    CHECK_THROWS_WITH_AS(
        target_from_json(R"({"gate": "cnot", "spins": ["C1", "C2"], "up_to": "all"})", p.molecule,
                         "f.json"),
        doctest::Contains("f.json: target.up_to: must be \"diagonal_phases\""), InputError);
  }
  SUBCASE("validation: one located line per mistake") {
    auto bad = [](const std::string& from, const std::string& to, const char* msg) {
      std::string text = kGatesProgram;
      const auto pos = text.find(from);
      REQUIRE(pos != std::string::npos);
      text.replace(pos, from.size(), to);
      CAPTURE(to);
      CHECK_THROWS_WITH_AS(parse(text), doctest::Contains(msg), InputError);
    };
    bad("type: partial_swap", "type: partial_swop",
        "prog.yaml:14:29: elements[2].gate.type = partial_swop");
    bad("type: partial_swap", "type: partial_swop", "unknown gate");
    bad("spins: [C3, R]", "spins: [C3, C9]", "unknown spin C9");
    bad("channel: 13C, angle_deg", "channel: 15N, angle_deg", "unknown channel 15N");
    bad("steps: 160", "steps: 160\n  dt_s: 1e-6", "conflicting options");
    bad("duration_s: 0.004", "duration_s: 0.004\n  max_rf_hz: 50000",
        "exceeds channel 13C's max_rf_hz");
    bad("weights: [1, 2, 1]", "weights: [1, 2]", "needs one weight per b1_scale entry");
    bad("angle_deg: 90, axis: y", "angle_deg: 90, angle_rad: 1, axis: y", "not both");
    bad("spins: [C3, R], theta", "spins: [C3], theta", "acts on exactly 2 spins");
    bad("c: -0.5", "c: -5", "not positive");
    bad("to: \"11\"", "to: \"1x\"", "needs one of 0, 1, +, - per spin");
    bad("count: 2", "count: 0", "must be an integer between 1 and 100000");
    bad("c: -0.5}", "c: -0.5, up_to: phases}", "elements[5].gate.up_to = phases: must be");
    bad("transfers: [{from", "up_to: diagonal_phases, transfers: [{from",
        "elements[6].gate.up_to: unknown key");
    // Loops multiply: refused at the outer count after one pass of its body (100 elements),
    // not after unrolling a million.
    bad("count: 2\n      elements:\n        - gate: {name: ry",
        "count: 100000\n      elements:\n        - loop: {count: 100, elements: [{delay: "
        "{duration_s: 1e-6}}]}\n        - gate: {name: ry",
        "prog.yaml:16:14: elements[3].loop.count = 100000: the program would unroll to "
        "10200003 elements, more than 1000000 (loops multiply)");
  }
}

TEST_CASE("one descriptor per gate type: the YAML and JSON readers agree with it") {
  const Program p = parse(kGatesProgram);
  const Molecule& m = p.molecule;
  // Every type has exactly one descriptor, found by its name.
  std::set<std::string> names;
  for (const auto& g : gate_descriptors()) {
    CAPTURE(g.name);
    CHECK(names.insert(g.name).second);
    CHECK(find_gate_descriptor(g.name) == &g);
    CHECK(&gate_descriptor(g.name) == &g);
    GateTarget named;
    named.descriptor = &g;
    CHECK(std::string(named.type_name()) == g.name);
    CHECK(g.min_spins >= 1);
    CHECK((g.max_spins == 0 || g.max_spins >= g.min_spins));
    for (const auto& par : g.parameters) CHECK(std::string(par.rule).size() > 0);
  }
  CHECK(names.size() == 8);
  // A description read without text (the experiment's needs) builds the same target as the
  // same description read from text (a pulse file), and as the formula.
  const nlohmann::json rot = rotation_description({"C1", "C2"}, kPi / 2, kPi / 2);
  const GateTarget a = target_from_description(rot, m, "x");
  const GateTarget b = target_from_json(rot.dump(), m, "x");
  CHECK(a.description_json == b.description_json);
  CHECK_MAT_NEAR(a.local, b.local, 0.0);
  const Mat ry = rotation_unitary(kPi / 2, kPi / 2);
  CHECK_MAT_NEAR(a.local, kron(ry, ry), 1e-12);
  const GateTarget s = target_from_description(partial_swap_description({"C1", "C4"}, 0.2), m, "x");
  CHECK_MAT_NEAR(s.local, partial_swap_unitary(0.2), 1e-12);
  const GateTarget u =
      target_from_description(unitary_description({"C2", "C3"}, cnot_unitary(), true), m, "x");
  CHECK(u.diagonal_phases);
  CHECK_MAT_NEAR(u.local, cnot_unitary(), 1e-15);
  // The arity is the descriptor's in both readers: a JSON ud on one spin is refused as a YAML
  // one is, and the YAML gate's spin count with the same rule text.
  CHECK(arity_rule(gate_descriptor("ud")) == "acts on 2 to 6 spins");
  CHECK(arity_rule(gate_descriptor("cnot")) == "acts on exactly 2 spins");
  CHECK(arity_rule(gate_descriptor("rotation")) == "acts on at least 1 spin");
  nlohmann::json ud1 = unitary_description({"C1"}, Mat::Identity(2, 2));
  ud1["gate"] = "ud";
  CHECK_THROWS_WITH_AS(target_from_description(ud1, m, "f.json"),
                       "f.json: target.spins: gate ud acts on 2 to 6 spins", InputError);
  std::string text = kGatesProgram;
  text.replace(text.find("spins: [S1, S2, S3], c"), 22, "spins: [S1], c");
  CHECK_THROWS_WITH_AS(parse(text), doctest::Contains("gate ud acts on 2 to 6 spins"), InputError);
  // A state transfer has no diagonal-phase freedom (its descriptor says so): refused in both.
  CHECK_THROWS_WITH_AS(
      target_from_json(
          R"({"gate": "state_transfer", "spins": ["C1"], "transfers": [{"from": "0", "to": "1"}],
              "up_to": "diagonal_phases"})",
          m, "f.json"),
      doctest::Contains("no diagonal-phase freedom"), InputError);
  // The quantum speed limit of a partial SWAP comes from its descriptor, on its own coupling.
  const auto bound = gate_descriptor("partial_swap").bound_s;
  const bool has_bound = bound != nullptr;
  REQUIRE(has_bound);
  CHECK(bound(nlohmann::json::parse(s.description_json), m, s.spins) ==
        doctest::Approx(partial_swap_bound_s(0.2, m.j_hz(s.spins[0], s.spins[1]))));
  const bool cnot_has_bound = gate_descriptor("cnot").bound_s != nullptr;
  CHECK_FALSE(cnot_has_bound);
}

TEST_CASE("arbitrary unitary targets from a file, and non-unitary files are rejected") {
  const auto dir = std::filesystem::temp_directory_path() / "nmrc_program_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "u.json") << R"({"real": [[0, 1], [1, 0]], "imag": [[0, 0], [0, 0]]})";
  std::ofstream(dir / "bad.json") << R"({"real": [[1, 1], [0, 1]], "imag": [[0, 0], [0, 0]]})";
  const std::string prog =
      "molecule: " + molecules_dir() +
      "/crotonic_acid.yaml\ncompile: {duration_s: 0.001, steps: 10}\n"
      "elements:\n  - gate: {name: u, type: unitary, spins: [C2], file: FILE}\n";
  auto with = [&](const std::string& f) {
    std::string t = prog;
    t.replace(t.find("FILE"), 4, f);
    return parse_program(t, "u.yaml", dir.string());
  };
  const Program p = with("u.json");
  CHECK_MAT_NEAR(p.gates[0].target.local, pauli('X'), 1e-15);
  CHECK_MAT_NEAR(p.gates[0].target.full(4), embed(pauli('X'), {1}, 4), 1e-15);
  CHECK_THROWS_WITH_AS(with("bad.json"), doctest::Contains("not unitary"), InputError);
  CHECK_THROWS_WITH_AS(with("missing.json"), doctest::Contains("cannot read file"), InputError);
}

TEST_CASE("Bruker shape files as shaped pulses of a program") {
  const auto dir = std::filesystem::temp_directory_path() / "nmrc_shape_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "s.shp") << "##TITLE= test\n##NPOINTS=3\n##XYPOINTS= (XY..XY)\n"
                                  "100.0, 0.0\n50.0, 90.0\n0.0, 0.0\n##END=\n";
  const PulseData d = pulse_data_from_bruker_shape(read_bruker_shape_file((dir / "s.shp").string()),
                                                   "13C", 3e-6, 1000.0);
  const RVec& ux = d.channels.at(0).ux_hz;
  const RVec& uy = d.channels.at(0).uy_hz;
  REQUIRE(ux.size() == 3);
  CHECK(ux(0) == doctest::Approx(1000.0));
  CHECK(uy(1) == doctest::Approx(500.0));
  CHECK(std::abs(ux(1)) < 1e-9);
  std::ofstream(dir / "bad.shp") << "##NPOINTS=2\n##XYPOINTS= (XY..XY)\n100.0, 0.0\n##END=\n";
  CHECK_THROWS_WITH_AS(read_bruker_shape_file((dir / "bad.shp").string()),
                       doctest::Contains("##NPOINTS= 2: the file has 1 points"), InputError);
}
