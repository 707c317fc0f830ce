// yaml_choice: one rule and one message for a YAML name from a fixed set.
#include "nmrc/core/yaml_choice.hpp"

#include <doctest/doctest.h>

#include "nmrc/core/error.hpp"

using namespace nmrc;

namespace {
enum class Kind { kA, kB, kC };
}  // namespace

TEST_CASE("yaml_choice: a name from a fixed set") {
  const YamlField doc = YamlField::load_string("kind: b\nbad: d\nlist: [a]\n", "k.yaml");
  SUBCASE("correctness") {
    CHECK(yaml_choice<Kind>(doc.at("kind"), {{"a", Kind::kA}, {"b", Kind::kB}}) == Kind::kB);
    CHECK(one_of_text({"a"}) == "a");
    CHECK(one_of_text({"a", "b"}) == "a or b");
    CHECK(one_of_text({"a", "b", "c"}) == "a, b or c");
  }
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(
        yaml_choice<Kind>(doc.at("bad"), {{"a", Kind::kA}, {"b", Kind::kB}, {"c", Kind::kC}}),
        "k.yaml:2:6: bad = d: must be a, b or c", InputError);
    CHECK_THROWS_WITH_AS(yaml_choice<Kind>(doc.at("list"), {{"a", Kind::kA}}),
                         doctest::Contains("list = [a]: must be a text value"), InputError);
  }
}
