// The one program header reader (core/program_header.hpp, docs/program-format.md "Header"):
// each field read the same way whatever the kind, each kind with only the fields it has.
#include "nmrc/core/program_header.hpp"

#include "nmrc/core/error.hpp"
#include "support/reference.hpp"

using namespace nmrc;

namespace {
using Name = HeaderRules::Name;

ProgramHeader read(const std::string& yaml, const std::string& file, const HeaderRules& rules,
                   const std::vector<std::string>& kind_keys = {}) {
  return read_program_header(YamlField::load_string(yaml, file), ref::source_path("molecules"),
                             rules, kind_keys);
}
}  // namespace

TEST_CASE("program header: the fields a kind has, read the same way") {
  SUBCASE("name or the file's stem, description, molecule relative to base_dir, channels") {
    const ProgramHeader h = read(
        "description: a test\nmolecule: crotonic_acid.yaml\nchannels: {13C: {carrier_hz: 250}}\n",
        "dir/my_prog.yaml", {.format = "nmrc-test/1", .channels = true});
    CHECK(h.name == "my_prog");
    CHECK(h.description == "a test");
    CHECK(h.path == "dir/my_prog.yaml");
    CHECK(h.molecule_path == ref::source_path("molecules/crotonic_acid.yaml"));
    REQUIRE(h.molecule.size() == 4);
    CHECK(h.molecule.channels[0].carrier_hz == 250.0);
    CHECK(read("name: given\nmolecule: crotonic_acid.yaml\n", "dir/stem.yaml", {}).name == "given");
  }
  SUBCASE("no molecule, name required") {
    const ProgramHeader h = read("format: nmrc-test/1\nname: t\nruns: []\n", "t.yaml",
                                 {.format = "nmrc-test/1",
                                  .format_required = true,
                                  .name = Name::kRequired,
                                  .molecule = false},
                                 {"runs"});
    CHECK(h.name == "t");
    CHECK(h.molecule.size() == 0);
    CHECK(h.molecule_path.empty());
  }
  SUBCASE("violations, one located line each") {
    const HeaderRules theory{.format = "nmrc-test/1",
                             .format_required = true,
                             .name = Name::kRequired,
                             .molecule = false};
    CHECK_THROWS_WITH_AS(read("name: t\n", "t.yaml", theory),
                         doctest::Contains("format: missing required key"), InputError);
    CHECK_THROWS_WITH_AS(read("format: nmrc-other/1\nname: t\n", "t.yaml", theory),
                         doctest::Contains("t.yaml:1:"), InputError);
    CHECK_THROWS_WITH_AS(read("format: nmrc-other/1\nname: t\n", "t.yaml", theory),
                         doctest::Contains("format = nmrc-other/1: must be nmrc-test/1"),
                         InputError);
    CHECK_THROWS_WITH_AS(read("format: nmrc-test/1\n", "t.yaml", theory),
                         doctest::Contains("name: missing required key"), InputError);
    // A field the kind does not have is an unknown key; the allowed list is in header order.
    CHECK_THROWS_WITH_AS(
        read("molecule: crotonic_acid.yaml\nname: p\n", "p.yaml",
             {.format = {}, .name = Name::kNone, .description = false}, {"target"}),
        "p.yaml:2:1: name: unknown key (allowed: molecule, target)", InputError);
    // Without name:, the file's stem must itself be a name.
    CHECK_THROWS_WITH_AS(read("molecule: crotonic_acid.yaml\n", "dir/two words.yaml", {}),
                         doctest::Contains("name: the program has no name and its file name"),
                         InputError);
    CHECK_THROWS_WITH_AS(read("molecule: crotonic_acid.yaml\nchannels: {1H: {carrier_hz: 0}}\n",
                              "c.yaml", {.format = {}, .channels = true}),
                         doctest::Contains("unknown channel 1H (known: 13C)"), InputError);
    CHECK_THROWS_WITH_AS(read("molecule: crotonic_acid.yaml\nchannels: {}\n", "c.yaml", {}),
                         doctest::Contains("channels: unknown key"), InputError);
  }
}
