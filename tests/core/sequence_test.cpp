#include "nmrc/core/sequence.hpp"

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/operators.hpp"
#include "support/reference.hpp"

using namespace nmrc;

TEST_CASE("sequence durations and time points") {
  Sequence s;
  HardPulseElement p90{0, kPi / 2, 0.0, 25000.0};
  s.elements.push_back(p90);
  s.elements.push_back(DelayElement{1e-3});
  s.elements.push_back(RotationElement{{0}, kPi, 0.0});
  ShapedPulseElement sp;
  sp.dt_s = 1e-5;
  sp.channels = {0};
  sp.ux_hz = {RVec::Zero(100)};
  sp.uy_hz = {RVec::Zero(100)};
  s.elements.push_back(sp);
  CHECK(p90.duration_s() == doctest::Approx(1e-5));
  CHECK(s.duration_s() == doctest::Approx(1e-5 + 1e-3 + 1e-3));
  const auto tp = s.time_points();
  REQUIRE(tp.size() == 4);
  CHECK(tp[2] == doctest::Approx(1.01e-3));
}

TEST_CASE("channel controls and gyromagnetic ratios") {
  const Molecule m = load_molecule(ref::source_path("molecules/chloroform.yaml"));
  CHECK(m.spins_on(0) == std::vector<int>{0});
  CHECK(m.spins_on(1) == std::vector<int>{1});
  CHECK_MAT_NEAR(m.control(1, 'x'), kTwoPi * spin_op('x', 1, 2), 1e-12);
  CHECK(m.gamma_hz_per_gauss(0) == doctest::Approx(4257.7478));
  CHECK(m.gamma_hz_per_gauss(1) == doctest::Approx(1070.8).epsilon(1e-3));
}
