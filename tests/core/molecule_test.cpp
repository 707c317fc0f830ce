#include "nmrc/core/molecule.hpp"

#include <cmath>
#include <set>

#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"
#include "support/reference.hpp"

using namespace nmrc;

namespace {
const char* kTwoSpin = R"(name: pair
spectrometer: {proton_mhz: 300.0}
channels:
  - {name: 13C, max_rf_hz: 10000}
nuclei:
  - {label: A, isotope: 13C, offset_hz: 1000, t1_s: 5, t2_s: 1, t2star_s: 0.5}
  - {label: B, isotope: 13C, offset_hz: -500, t1_s: 5, t2_s: 1, t2star_s: 0.5}
couplings:
  - {spins: [A, B], j_hz: 50}
sources: [test]
)";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  return s.replace(pos, from.size(), to);
}
}  // namespace

TEST_CASE("crotonic acid loads with the values of MOLECULES.md") {
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  REQUIRE(m.size() == 4);
  CHECK(m.index_of("C4") == 3);
  CHECK(m.index_of("R") == 3);
  CHECK(m.index_of("S2") == 1);
  CHECK(m.j_hz(0, 3) == doctest::Approx(7.0));
  CHECK(m.j_hz(3, 1) == doctest::Approx(-1.6));
  CHECK(m.channels[0].larmor_mhz == doctest::Approx(75.4675).epsilon(1e-4));
  // 32 lines, 8 per carbon, each within 2 * sum|J| of its spin's offset.
  const auto lines = m.lines();
  CHECK(lines.size() == 32);
  std::set<double> distinct;
  for (const auto& l : lines) distinct.insert(std::round(l.frequency_hz * 100) / 100);
  CHECK(distinct.size() == 32);
  // C1 (J12 72.4, J13 -1.3, J14 7.0): highest line with C2, C4 up and C3 down.
  double hi = -1e9;
  for (const auto& l : lines)
    if (l.spin == 0) hi = std::max(hi, l.frequency_hz);
  CHECK(hi == doctest::Approx(5783.6 + 0.5 * (72.4 + 1.3 + 7.0)));
  // Each line's number within its spin: 1..8 in ascending frequency (what molecule show,
  // lines.csv, the line fits and the folding warning print).
  for (size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i].index == static_cast<int>(i % 8) + 1);
    if (lines[i].index > 1) CHECK(lines[i].frequency_hz > lines[i - 1].frequency_hz);
    if (lines[i].index > 1) CHECK(lines[i].spin == lines[i - 1].spin);
  }
  for (const char* f : {"molecules/chloroform.yaml", "molecules/alanine.yaml"})
    CHECK_NOTHROW(load_molecule(ref::source_path(f)));
}

TEST_CASE("Hamiltonian and line list agree") {
  SUBCASE("correctness") {
    const Molecule m = parse_molecule(kTwoSpin, "pair.yaml");
    const Mat h = m.hamiltonian();
    // Line of spin A with B in |0>: E(A=1,B=0) - E(A=0,B=0) = -2 pi (nu_A + J/2).
    const double e00 = h(0, 0).real(), e10 = h(2, 2).real();
    CHECK((e00 - e10) / kTwoPi == doctest::Approx(1000 + 25));
    const auto lines = m.lines();
    REQUIRE(lines.size() == 4);
    CHECK(lines[0].spin == 0);
    CHECK(lines[0].frequency_hz == doctest::Approx(975));
    CHECK(lines[0].other_bits[1] == 1);
    CHECK(lines[1].frequency_hz == doctest::Approx(1025));
    // Strong coupling adds the flip-flop term 2 pi J (IxIx + IyIy).
    const Mat hs = m.hamiltonian(true);
    CHECK(std::abs(hs(1, 2) - cplx(kTwoPi * 50 * 0.5)) < 1e-9);
  }
  SUBCASE("validation") {
    struct Case {
      std::string from, to, message;
    };
    const std::vector<Case> cases = {
        {"name: pair\n", "", "name: missing required key"},
        {"t1_s: 5, t2_s: 1,", "t1_s: 5, t2_s: -1,", "nuclei[0].t2_s = -1: must be > 0"},
        {"t1_s: 5, t2_s: 1,", "t1_s: 0.4, t2_s: 1,", "nuclei[0].t2_s = 1: T2 must be <= 2 T1"},
        {"[A, B]", "[A, C9]", "couplings[0].spins = [A, C9]: unknown spin C9 (known: A, B)"},
        {"{label: B,", "{label: A,", "nuclei[1].label = A: duplicate spin label"},
        {"offset_hz: 1000", "offset_hz: fast", "nuclei[0].offset_hz = fast: must be a number"},
        {"max_rf_hz: 10000", "max_rf_hz: 10000, colour: red", "channels[0].colour: unknown key"},
        {"sources: [test]", "sources: [test]\n  bad: [", "invalid YAML"},
        {"isotope: 13C, offset_hz: -500", "isotope: 15N, offset_hz: -500",
         "nuclei[1].isotope = 15N: no channel observes this isotope"},
        {"j_hz: 50", "j_hz: [50]", "couplings[0].j_hz = [50]: must be a number"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.message);
      CHECK_THROWS_WITH_AS(parse_molecule(replace(kTwoSpin, c.from, c.to), "pair.yaml"),
                           doctest::Contains(c.message.c_str()), InputError);
    }
    // Location is file:line:col of the offending node.
    CHECK_THROWS_WITH_AS(parse_molecule(replace(kTwoSpin, "[A, B]", "[A, C9]"), "pair.yaml"),
                         doctest::Contains("pair.yaml:9:13:"), InputError);
    CHECK_THROWS_WITH_AS(load_molecule("/nonexistent/x.yaml"), doctest::Contains("cannot read"),
                         InputError);
  }
}
