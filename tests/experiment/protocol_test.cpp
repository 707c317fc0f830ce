// The protocol of one run (protocol.hpp): the pulses it lists play the operations the run
// models (each compiled pulse's target equals the ideal operation), the temporal-averaging
// weights form a distribution, and the names are the run's (shipped pulses are found by them).
#include "nmrc/experiment/protocol.hpp"

#include <doctest/doctest.h>

#include <cmath>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::experiment;

namespace {

// |Tr(A^dag B)| / d: 1 for equal unitaries up to a global phase.
double overlap(const Mat& a, const Mat& b) {
  return std::abs((a.adjoint() * b).trace()) / double(a.rows());
}

Mat target_of(const PulseNeed& nd, const Molecule& m) {
  return compiler::target_from_json(nd.target.dump(), m, nd.name).full(m.size());
}

// The run's ideal operation on all n spins: a rotation exp(-i a (cos p X + sin p Y)/2) of one
// spin, or a UnitaryElement embedded on its spins.
Mat full_operation(const Element& e, int n) {
  if (const auto* r = std::get_if<RotationElement>(&e)) {
    const Mat axis = std::cos(r->phase_rad) * pauli('X') + std::sin(r->phase_rad) * pauli('Y');
    const Mat u = std::cos(r->angle_rad / 2) * Mat::Identity(2, 2) -
                  cplx(0, 1) * std::sin(r->angle_rad / 2) * axis;
    return embed(u, r->spins, n);
  }
  const auto& u = std::get<UnitaryElement>(e);
  return embed(u.unitary, u.spins, n);
}

const CaseSpec& case_named(const ExperimentProgram& p, const std::string& name) {
  for (const auto& c : p.cases)
    if (c.name == name) return c;
  FAIL("no case " << name);
  return p.cases.front();
}

}  // namespace

TEST_CASE("protocol: the pulses of Fig. 3's c = -0.5 run at collision 10") {
  ExperimentProgram p = load_experiment_program(ref::source_path("sequences/experiment/fig3.yaml"));
  p.contact = ContactPulses::kPerSwap;  // the paper's gates, one pulse per swap
  const Molecule& m = p.molecule;
  const CaseSpec& c = case_named(p, "c_minus_0.5");
  SUBCASE("correctness") {
    const RunProtocol r = run_protocol(p, c, 10);
    REQUIRE(r.pps.size() == 4);
    const size_t ops[] = {3, 3, 1, 1};
    for (size_t s = 0; s < 4; ++s) {
      REQUIRE(r.pps[s].operations.size() == ops[s]);
      REQUIRE(r.pps[s].pulses.size() == ops[s]);
      CHECK(r.pps[s].gradient.duration_s == doctest::Approx(1e-3));
      for (size_t i = 0; i < ops[s]; ++i) {
        const double f =
            overlap(target_of(r.pps[s].pulses[i], m), full_operation(r.pps[s].operations[i], 4));
        INFO(r.pps[s].pulses[i].name);
        CHECK(f == doctest::Approx(1.0).epsilon(1e-12));
      }
    }
    CHECK(r.pps[1].pulses[0].name == "pps2_cnot_c2_c1");
    CHECK(r.bath.name == "bath_c4_t0p9");
    CHECK(r.bath_gradient.duration_s == doctest::Approx(1e-3));
    double wsum = 0;
    for (const auto& e : r.experiments) {
      CHECK(e.weight > 0.0);
      wsum += e.weight;
      for (const auto& f : e.flips) CHECK(f.name.rfind("rx180_c", 0) == 0);
    }
    CHECK(wsum == doctest::Approx(1.0).epsilon(1e-12));
    REQUIRE(r.ud.has_value());
    CHECK(r.ud->name == "ud_c_minus_0.5_m9");
    REQUIRE(r.contact.size() == 3);
    CHECK(r.contact[0].name == "swap_c1_c4");
    CHECK(r.contact[1].name == "swap_c2_c4");
    CHECK(r.contact[2].name == "swap_c3_c4");
    REQUIRE(r.readout.size() == p.readout.settings.size());
    for (size_t s = 0; s < r.readout.size(); ++s) {
      size_t pulses = 0;
      for (char a : p.readout.settings[s].axes) pulses += (a == 'X' || a == 'Y');
      CHECK(r.readout[s].second.size() == pulses);
    }
    // The first collision of c = 0 starts from a diagonal state: no U_d.
    CHECK_FALSE(run_protocol(p, case_named(p, "c_0"), 1).ud.has_value());
  }
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(run_protocol(p, c, 0), doctest::Contains("collision = 0: must be in 1.."),
                         InputError);
  }
}

// contact: whole_collision: one pulse whose target is the product of the case's partial SWAPs
// in its order (the first swap acts first), for Fig. 4(c)'s reverse order and SI Fig. 12's
// two-subsystem cascade (C3 idle); the per-swap targets multiplied here are the run's own.
TEST_CASE("protocol: the whole collision as one pulse") {
  SUBCASE("correctness") {
    for (const auto& [file, name] : std::vector<std::pair<std::string, std::string>>{
             {"fig4.yaml", "fig4c_reverse"}, {"fig4.yaml", "fig4a"}, {"fig12.yaml", "cascade"}}) {
      ExperimentProgram p =
          load_experiment_program(ref::source_path("sequences/experiment/" + file));
      const Molecule& m = p.molecule;
      const CaseSpec& c = case_named(p, name);
      p.contact = ContactPulses::kPerSwap;
      const std::vector<PulseNeed> swaps = contact_needs(p, c);
      REQUIRE(swaps.size() == c.params.order.size());
      Mat product = Mat::Identity(16, 16);
      for (const auto& nd : swaps) product = target_of(nd, m) * product;
      p.contact = ContactPulses::kWholeCollision;
      const std::vector<PulseNeed> one = contact_needs(p, c);
      REQUIRE(one.size() == 1);
      CHECK(one[0].kind == "cascade");
      INFO(one[0].name);
      CHECK(overlap(target_of(one[0], m), product) == doctest::Approx(1.0).epsilon(1e-12));
      // and not the product in another order (the order matters: Fig. 4(c))
      if (swaps.size() == 3) {
        const Mat other = target_of(swaps[0], m) * target_of(swaps[1], m) * target_of(swaps[2], m);
        CHECK(overlap(target_of(one[0], m), other) < 1.0 - 1e-6);
      }
    }
    const ExperimentProgram p4 =
        load_experiment_program(ref::source_path("sequences/experiment/fig4.yaml"));
    ExperimentProgram w = p4;
    w.contact = ContactPulses::kWholeCollision;
    CHECK(contact_needs(w, case_named(w, "fig4c_reverse"))[0].name == "cascade_c3_c2_c1_c4");
    CHECK(contact_needs(w, case_named(w, "fig4a"))[0].name == "cascade_c1_c2_c3_c4");
  }
}
