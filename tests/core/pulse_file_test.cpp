#include "nmrc/core/pulse_file.hpp"

#include "nmrc/core/error.hpp"
#include "support/reference.hpp"

using namespace nmrc;

namespace {

// GCC 12 at -O3 reports the string assignments here as overlapping copies (-Wrestrict, a false
// positive: GCC PR 105329); silenced for this one function.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
// A small compiled-looking pulse for crotonic acid (channel 13C, limit 10 kHz in the molecule).
PulseData sample_pulse() {
  PulseData p;
  p.name = "p";
  p.molecule = "crotonic_acid";
  p.dt_s = 1e-5;
  PulseChannel c;
  c.name = "13C";
  c.carrier_hz = 0.0;
  c.max_rf_hz = 5000.0;
  c.ux_hz = RVec::LinSpaced(7, -3000.0, 3000.0 / 7.0);
  c.uy_hz = RVec::LinSpaced(7, 1.0 / 3.0, 2000.0);
  p.channels = {c};
  p.target_json = R"({"gate":"rotation","spins":["C1"]})";
  p.fidelity_definition = "|Tr(Ut^dag U)|/d";
  p.fidelity_nominal = 0.9991;
  p.fidelity_target = 0.99;
  p.b1_scale = {0.98, 1.0, 1.02};
  p.offset_hz = {0.0};
  p.ensemble_values = {0.995, 0.9991, 0.994};
  p.ensemble_min = 0.994;
  return p;
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic pop
#endif

// The pulse file text with one substring replaced.
std::string edited(const std::string& from, const std::string& to) {
  std::string t = pulse_file_text(sample_pulse());
  const auto pos = t.find(from);
  REQUIRE(pos != std::string::npos);
  t.replace(pos, from.size(), to);
  return t;
}

// The pulse file text with the value of `"key": ` (up to the next comma) replaced.
std::string with_value(const std::string& key, const std::string& value) {
  std::string t = pulse_file_text(sample_pulse());
  const std::string k = "\"" + key + "\": ";
  const auto pos = t.find(k);
  REQUIRE(pos != std::string::npos);
  const auto end = t.find(',', pos);
  t.replace(pos + k.size(), end - pos - k.size(), value);
  return t;
}

}  // namespace

TEST_CASE("nmrc-pulse/1: one reader and writer") {
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  SUBCASE("correctness: the writer's text reads back exactly, and runs on its molecule") {
    const PulseData p = sample_pulse();
    const PulseData back = parse_pulse_json(pulse_file_text(p), "dir/p.json");
    CHECK(back.name == "p");
    CHECK(back.molecule == "crotonic_acid");
    CHECK(back.dt_s == p.dt_s);
    REQUIRE(back.channels.size() == 1);
    CHECK(*back.channels[0].carrier_hz == 0.0);
    CHECK(back.channels[0].max_rf_hz == 5000.0);
    CHECK((back.channels[0].ux_hz - p.channels[0].ux_hz).cwiseAbs().maxCoeff() == 0.0);
    CHECK((back.channels[0].uy_hz - p.channels[0].uy_hz).cwiseAbs().maxCoeff() == 0.0);
    CHECK(back.target_json == p.target_json);
    CHECK(back.ensemble_values == p.ensemble_values);
    CHECK(back.b1_scale == p.b1_scale);
    CHECK(back.fidelity_target == 0.99);
    CHECK(pulse_file_text(back) == pulse_file_text(p));
    const ShapedPulseElement e = back.element(m);
    CHECK(e.channels == std::vector<int>{0});
    CHECK(e.duration_s() == doctest::Approx(7e-5));
    // A minimal file (no molecule, carrier, limit or fidelity) is a pulse for any molecule
    // with the channel; its name is the file's stem.
    const PulseData minimal = parse_pulse_json(
        R"({"format": "nmrc-pulse/1", "dt_s": 1e-5,
            "channels": {"13C": {"ux_hz": [0, 2500, 0], "uy_hz": [0, 0, 0]}}})",
        "a/b/minimal.json");
    CHECK(minimal.name == "minimal");
    CHECK(!minimal.channels[0].carrier_hz);
    CHECK(minimal.element(m).ux_hz[0](1) == 2500.0);
  }
  SUBCASE("validation: every type error is an InputError naming the file, line:column and field") {
    auto bad = [](const std::string& text, const char* msg) {
      CAPTURE(text);
      CHECK_THROWS_WITH_AS(parse_pulse_json(text, "f.json"), doctest::Contains(msg), InputError);
    };
    bad(edited("\"nmrc-pulse/1\"", "\"nmrc-pulse/0\""),
        "f.json:49:12: format = \"nmrc-pulse/0\": must be \"nmrc-pulse/1\"");
    bad(edited("\"nominal\": 0.9991", "\"nominal\": \"high\""),
        "f.json:46:14: fidelity.nominal = \"high\": must be a number");
    bad(edited("\"name\": \"p\"", "\"name\": 5"), "f.json:51:10: name = 5: must be a string");
    bad(edited("\"target\": 0.99", "\"target\": 0"), "fidelity.target = 0: must be in (0, 1]");
    bad(edited("\"max_rf_hz\": 5000.0", "\"max_rf_hz\": -1"),
        "channels.13C.max_rf_hz = -1: must be > 0");
    bad(edited("\"min\": 0.994", "\"min\": null"),
        "fidelity.ensemble.min = null: must be a number");
    bad(with_value("dt_s", "1e400"),
        "f.json:26:10: invalid JSON: [json.exception.out_of_range.406] number overflow");
    bad(with_value("dt_s", "0"), "dt_s = 0: must be > 0");
    bad(with_value("duration_s", "1"), "duration_s = 1: differs from steps * dt_s");
    bad(R"({"format": "nmrc-pulse/1", "dt_s": 1e-5, "fidelity": 5,
            "channels": {"13C": {"ux_hz": [0], "uy_hz": [0]}}})",
        "fidelity = 5: must be an object");
    bad(R"({"format": "nmrc-pulse/1", "dt_s": 1e-5,
            "channels": {"13C": {"ux_hz": [0, "x"], "uy_hz": [0, 0]}}})",
        "channels.13C.ux_hz[1] = \"x\": must be a number");
    bad(R"({"format": "nmrc-pulse/1", "dt_s": 1e-5,
            "channels": {"13C": {"ux_hz": [0, 1], "uy_hz": [0]}}})",
        "must have as many steps as ux_hz");
    bad("{\"format\": \"nmrc-pulse/1\",\n \"dt_s\": 1e-5,,}", "f.json:2:");
  }
  SUBCASE("validation: the one set of rules for running a pulse on a molecule") {
    auto bad = [&m](const std::string& text, const char* msg) {
      CAPTURE(text);
      CHECK_THROWS_WITH_AS(parse_pulse_json(text, "f.json").element(m), doctest::Contains(msg),
                           InputError);
    };
    bad(edited("\"crotonic_acid\"", "\"alanine\""),
        "f.json:50:14: molecule = alanine: pulse was compiled for another molecule than "
        "crotonic_acid");
    bad(edited("\"13C\"", "\"1H\""), "f.json:3:9: channels.1H: unknown channel (known: 13C)");
    bad(edited("\"carrier_hz\": 0.0", "\"carrier_hz\": 100.0"),
        "channels.13C.carrier_hz = 100: differs from the molecule's carrier 0 Hz");
    bad(edited("\"max_rf_hz\": 5000.0", "\"max_rf_hz\": 50000.0"),
        "channels.13C.max_rf_hz = 50000: exceeds the channel's max_rf_hz 10000");
    bad(edited("\"max_rf_hz\": 5000.0", "\"max_rf_hz\": 1000.0"),
        "channels.13C: amplitude 3000 Hz at step 0 exceeds max_rf_hz 1000");
  }
}
