// Theory programs (docs/theory-format.md): parsing and one-line located errors.
#include "nmrc/thermo/program.hpp"

#include <doctest/doctest.h>

#include <string>

#include "nmrc/core/error.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::thermo;

namespace {
const std::string kGood = R"(format: nmrc-theory/1
name: t
defaults:
  subsystems:
    - {name: A, temperature: 1.0}
    - {name: B, temperature: 1.2}
    - {name: C, temperature: 0.8}
  bath_temperature: 0.9
  g: 20
  tau: 0.01
  collisions: 10
runs:
  - name: r1
    order: [C, A, B]
    coherences:
      - {pair: [A, B], c: -0.3}
      - {pair: [B, C], lambda: 0.2, alpha: 1.5}
      - {pair: [A, C], c: [0.1, -0.2]}
  - name: r2
    interaction: simultaneous
    engine: local
    coherences:
      - {pair: all, c: 0.25}
)";

std::string replaced(const std::string& from, const std::string& to) {
  std::string s = kGood;
  const auto pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  return s.replace(pos, from.size(), to);
}
}  // namespace

TEST_CASE("theory programs") {
  SUBCASE("correctness") {
    const TheoryProgram p = parse_theory_program(kGood, "t.yaml");
    REQUIRE(p.runs.size() == 2);
    const ModelParams& a = p.runs[0].params;
    CHECK(a.order == std::vector<int>{2, 0, 1});
    REQUIRE(a.coherences.size() == 3);
    CHECK(a.coherences[0].c == cplx(-0.3, 0));
    CHECK(std::abs(a.coherences[1].c - std::polar(0.2, 1.5)) < 1e-15);
    CHECK(a.coherences[2].c == cplx(0.1, -0.2));
    CHECK(a.temperatures == std::vector<double>{1.0, 1.2, 0.8});
    const ModelParams& b = p.runs[1].params;
    CHECK(b.interaction == Interaction::kSimultaneous);
    CHECK(b.engine == Engine::kLocal);
    CHECK(a.engine == Engine::kSectors);
    CHECK(b.order == std::vector<int>{0, 1, 2});
    CHECK(b.coherences.size() == 3);
    // Every shipped program loads.
    for (const char* f : {"fig3", "fig4a", "fig4b", "fig4c", "fig10_11", "fig12", "fig13"})
      CHECK_NOTHROW(
          load_theory_program(ref::source_path(std::string("sequences/heat_flow/") + f + ".yaml")));
  }
  SUBCASE("validation") {
    auto bad = [](const std::string& text, const std::string& msg) {
      CHECK_THROWS_WITH_AS(parse_theory_program(text, "t.yaml"), doctest::Contains(msg.c_str()),
                           InputError);
    };
    bad(replaced("order: [C, A, B]", "order: [C, A, D]"),
        "t.yaml:14:19: runs[0].order[2] = D: unknown subsystem D (known: A, B, C)");
    bad(replaced("order: [C, A, B]", "order: [C, A, C]"),
        "runs[0].order[2] = C: appears twice; order must name every subsystem exactly once");
    bad(replaced("order: [C, A, B]", "order: [C, A]"),
        "runs[0].order = [C, A]: missing B; order must name every subsystem exactly once");
    bad(replaced("temperature: 1.2", "temperature: 0"),
        "defaults.subsystems[1].temperature = 0: must be > 0");
    bad(replaced("temperature: 1.2", "temperature: -1"), "must be > 0");
    bad(replaced("tau: 0.01", "tau: 0"), "t.yaml:10:8: defaults.tau = 0: must be > 0");
    bad(replaced("tau: 0.01", "tau: -0.5"), "defaults.tau = -0.5: must be > 0");
    bad(replaced("{pair: [A, B], c: -0.3}", "{pair: [A, A], c: -0.3}"),
        "runs[0].coherences[0].pair = [A, A]: a coherence pair needs two different subsystems");
    bad(replaced("{pair: [A, B], c: -0.3}", "{pair: [A, E], c: -0.3}"), "unknown subsystem E");
    bad(replaced("{pair: [A, C], c: [0.1, -0.2]}", "{pair: [B, A], c: 0.1}"),
        "pair A-B given twice");
    bad(replaced("{pair: all, c: 0.25}", "{pair: all, c: -0.75}"),
        "runs[1].coherences = [{pair: all, c: -0.75}]: the initial state is not a density "
        "matrix (smallest eigenvalue");
    bad(replaced("{pair: all, c: 0.25}", "{pair: all, c: -0.75}"),
        "the largest physical lambda for these phases is 0.5 (all c_pq scaled by 0.666667)");
    bad(replaced("engine: local", "engine: gpu"), "runs[1].engine = gpu: must be sectors or local");
    bad(replaced("interaction: simultaneous", "interaction: parallel"),
        "must be cascade or simultaneous");
    bad(replaced("collisions: 10", "collisions: 0"), "must be an integer in [1, 1000000]");
    bad(replaced("format: nmrc-theory/1", "format: nmrc-theory/2"), "must be nmrc-theory/1");
    bad(replaced("  - name: r2", "  - name: r1"), "duplicate run name");
    bad(replaced("{pair: all, c: 0.25}", "{pair: all, c: 0.25, lambda: 1}"),
        "give either c or lambda and alpha");
  }
}
