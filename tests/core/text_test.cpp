// Checked text (core/text.hpp) and the loaders that use it: names, free text, escaping for a
// terminal, CSV cells, JSON nesting, loops with empty bodies (docs/security.md).
#include "nmrc/core/text.hpp"

#include <doctest/doctest.h>

#include <string>

#include "nmrc/core/error.hpp"
#include "nmrc/core/json_input.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "nmrc/core/yaml_input.hpp"

using namespace nmrc;

TEST_CASE("text: names") {
  SUBCASE("correctness") {
    for (const char* ok : {"C1", "13C", "crotonic_acid", "c_minus_0.5", "+S1", "a-b.c"})
      CHECK_MESSAGE(is_safe_name(ok), ok);
    CHECK(is_safe_name(std::string(64, 'a')));
  }
  SUBCASE("validation") {
    for (const char* bad : {"", ".", "..", "a b", "a/b", "a\\b", "x`touch M`", "a\nb", "a'b",
                            "a\"b", "r$x", "\xc3\xa9"})
      CHECK_MESSAGE(!is_safe_name(bad), bad);
    CHECK(!is_safe_name(std::string(65, 'a')));
  }
  SUBCASE("derived names") {
    CHECK(safe_name_from("Gaus1_90 copy") == "Gaus1_90_copy");
    CHECK(safe_name_from("..") == "unnamed");
    CHECK(safe_name_from("a/../b\n") == "a_.._b_");
    CHECK(safe_name_from(std::string(100, 'x')).size() == kMaxNameBytes);
  }
}

TEST_CASE("text: free text") {
  CHECK_FALSE(text_problem("c = -0.5 `backquotes` and 'quotes' are text"));
  CHECK_FALSE(text_problem("\xce\xb8 = 0.2 (UTF-8 theta)"));
  for (const std::string& bad :
       {std::string("a\nb"), std::string("a\tb"), std::string("a\rb"), std::string("a\x1b[0m"),
        std::string("a\x7f"), std::string("a\xc2\x85"), std::string("\xff"),
        std::string("\xc0\xaf"), std::string("\xed\xa0\x80"), std::string(1, '\0')})
    CHECK_MESSAGE(text_problem(bad).has_value(), escape_text(bad));
  CHECK(text_problem(std::string(4097, 'a')).has_value());
  CHECK(text_problem("abcd", 3).has_value());
}

TEST_CASE("text: escaping for a terminal") {
  CHECK(escape_text("plain \xce\xb8") == "plain \xce\xb8");
  CHECK(escape_text("ok\r\x1b[32m") == "ok\\x0D\\x1B[32m");
  CHECK(escape_text("a\xc2\x9b") == "a\\xC2\\x9B");
  CHECK(escape_text("\xff") == "\\xFF");
  // Idempotent: an escaped message passes through the final printer unchanged.
  const std::string once = escape_text("x\ny\x1b");
  CHECK(escape_text(once) == once);
}

TEST_CASE("text: CSV fields") {
  CHECK(csv_field("S1") == "S1");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("=1+1") == "'=1+1");
  CHECK(csv_field("+S1") == "'+S1");
  CHECK(csv_field("@SUM(A1)") == "'@SUM(A1)");
  CHECK(csv_field("-x,y") == "\"'-x,y\"");
  CHECK(csv_field(" lead") == "\" lead\"");
}

TEST_CASE("text: the YAML loader refuses control characters and unsafe names") {
  const auto root =
      YamlField::load_string("name: \"a\\nb\"\ntitle: \"x\\ty\"\nok: \"t `q`\"\n", "t.yaml");
  // A key with a line break is refused when the document is read.
  CHECK_THROWS_WITH_AS(YamlField::load_string("\"k\\ny\": 1\n", "k.yaml"),
                       doctest::Contains("must not contain control characters"), InputError);
  CHECK_THROWS_WITH_AS(root.at("name").as_name(), doctest::Contains("t.yaml:1:7: name = "),
                       InputError);
  CHECK_THROWS_WITH_AS(root.at("title").as_string(),
                       doctest::Contains("must not contain control characters"), InputError);
  CHECK(root.at("ok").as_string() == "t `q`");
  CHECK_THROWS_WITH_AS(root.at("ok").as_name(), doctest::Contains("must be 1-64 characters"),
                       InputError);
  // The value in the message shows the control byte escaped, never raw.
  try {
    (void)root.at("name").as_name();
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
    CHECK(std::string(e.what()).find("\\x0A") != std::string::npos);
  }
}

TEST_CASE("text: molecules refuse hostile names and isotopes") {
  const std::string base = R"(name: NAME
spectrometer: {proton_mhz: 500}
sources: [test]
channels:
  - {name: 13C, isotope: ISO, larmor_mhz: 125.7, max_rf_hz: 20000}
nuclei:
  - {label: LABEL, isotope: 13C, offset_hz: 0, t1_s: 1, t2_s: 1, t2star_s: 0.5}
)";
  auto with = [&](const std::string& name, const std::string& iso, const std::string& label) {
    std::string s = base;
    s.replace(s.find("NAME"), 4, name);
    s.replace(s.find("ISO"), 3, iso);
    s.replace(s.find("LABEL"), 5, label);
    return s;
  };
  CHECK(parse_molecule(with("m", "13C", "A"), "m.yaml").nuclei.size() == 1);
  CHECK_THROWS_WITH_AS(parse_molecule(with("\"x`touch M`\"", "13C", "A"), "m.yaml"),
                       doctest::Contains("m.yaml:1:7: name = "), InputError);
  CHECK_THROWS_WITH_AS(parse_molecule(with("m", "\"13C\\n##$PLW= 1\"", "A"), "m.yaml"),
                       doctest::Contains("channels[0].isotope = \"13C\\x0A##"), InputError);
  CHECK_THROWS_WITH_AS(parse_molecule(with("m", "C13", "A"), "m.yaml"),
                       doctest::Contains("must be an isotope"), InputError);
  CHECK_THROWS_WITH_AS(parse_molecule(with("m", "13C", "\"../x\""), "m.yaml"),
                       doctest::Contains("nuclei[0].label = "), InputError);
}

TEST_CASE("text: JSON nesting is bounded before parsing") {
  CHECK_NOTHROW(check_json_depth("{\"a\": [[1], {\"b\": \"[[[[\"}]}", "x.json"));
  std::string deep = std::string(65, '[') + std::string(65, ']');
  CHECK_THROWS_WITH_AS(check_json_depth(deep, "x.json"),
                       doctest::Contains("x.json:1:65: JSON nested deeper than 64"), InputError);
  CHECK_NOTHROW(check_json_depth(std::string(64, '[') + std::string(64, ']'), "x.json"));
  // A pulse file nested 100,000 deep is refused, not parsed (the stack would overflow).
  const std::string huge = "{\"format\": \"nmrc-pulse/1\", \"x\": " + std::string(100000, '[') +
                           std::string(100000, ']') + "}";
  CHECK_THROWS_WITH_AS(parse_pulse_json(huge, "p.json"), doctest::Contains("nested deeper"),
                       InputError);
  // Pulse names and channel names follow the name rule.
  const std::string pulse = R"({"format": "nmrc-pulse/1", "name": "x\n##END=", "dt_s": 1e-6,
    "channels": {"13C": {"ux_hz": [0], "uy_hz": [0]}}})";
  CHECK_THROWS_WITH_AS(parse_pulse_json(pulse, "p.json"), doctest::Contains("p.json:1:"),
                       InputError);
  const std::string chan = R"({"format": "nmrc-pulse/1", "dt_s": 1e-6,
    "channels": {"13C\n##$NUC1": {"ux_hz": [0], "uy_hz": [0]}}})";
  CHECK_THROWS_WITH_AS(parse_pulse_json(chan, "p.json"), doctest::Contains("channel name"),
                       InputError);
  // Without a name, the file's stem becomes one, made safe.
  const std::string unnamed = R"({"format": "nmrc-pulse/1", "dt_s": 1e-6,
    "channels": {"13C": {"ux_hz": [0], "uy_hz": [0]}}})";
  CHECK(parse_pulse_json(unnamed, "dir/my pulse.json").name == "my_pulse");
  // An empty name is what the writer writes for an unnamed pulse: it stays unnamed.
  const std::string empty = R"({"format": "nmrc-pulse/1", "name": "", "dt_s": 1e-6,
    "channels": {"13C": {"ux_hz": [0], "uy_hz": [0]}}})";
  CHECK(parse_pulse_json(empty, "p.json").name.empty());
}

TEST_CASE("pulse files: a recorded ensemble is bounded (issue 27)") {
  std::string b1 = "[";
  for (int i = 0; i < 200000; ++i) b1 += (i ? ",1" : "1");
  b1 += "]";
  const std::string text = R"({"format": "nmrc-pulse/1", "dt_s": 1e-6,
    "channels": {"13C": {"ux_hz": [0], "uy_hz": [0]}},
    "fidelity": {"ensemble": {"b1_scale": )" +
                           b1 + "}}}";
  CHECK_THROWS_WITH_AS(parse_pulse_json(text, "p.json"),
                       doctest::Contains("200000 B1 scales x 1 offsets: more than 1000 members"),
                       InputError);
}
