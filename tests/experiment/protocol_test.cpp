// The protocol of one run (protocol.hpp): the pulses it lists play the operations the run
// models (each compiled pulse's target equals the ideal operation), the temporal-averaging
// weights form a distribution, and the names are the run's (shipped pulses are found by them).
#include "nmrc/experiment/protocol.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <iterator>

#include "nmrc/compiler/bruker_export.hpp"
#include "nmrc/compiler/compile.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/experiment/run.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "nmrc/spectrometer/preparation.hpp"
#include "nmrc/spectrometer/sample.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::experiment;
namespace sp = nmrc::spectrometer;

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

// Largest element of (z slices - exact filters) after `s` from thermal equilibrium, relative to
// the exact state's deviation: the pathways that wind back to zero (gradient echoes).
double gradient_echo(const Molecule& m, const Sequence& s, int slices) {
  const Mat th = sp::thermal_equilibrium(m).rho;
  sp::Sample exact, sliced;
  exact.molecule = sliced.molecule = m;
  sliced.gradient.mode = sp::GradientMode::kSlices;
  sliced.gradient.slices = slices;
  sliced.gradient.length_cm = 1.0;
  const Mat a = sp::run_deviation(exact, s, th), b = sp::run_deviation(sliced, s, th);
  const Mat id = Mat::Identity(a.rows(), a.cols()) / double(a.rows());
  return (b - a).cwiseAbs().maxCoeff() / (a - id).cwiseAbs().maxCoeff();
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
      for (size_t i = 0; i < ops[s]; ++i) {
        const double f =
            overlap(target_of(r.pps[s].pulses[i], m), full_operation(r.pps[s].operations[i], 4));
        INFO(r.pps[s].pulses[i].name);
        CHECK(f == doctest::Approx(1.0).epsilon(1e-12));
      }
    }
    CHECK(r.pps[1].pulses[0].name == "pps2_cnot_c2_c1");
    CHECK(r.bath.name == "bath_c4_t0p9");
    // The gradients as the program's probe plays them (PlayedGradients): the areas in the run's
    // ratios, the smallest 100/pi turns of 13C across the 1 cm sample, each in 1 ms or at the
    // probe's maximum (53.5 G/cm x SMSQ10.100's area factor) for longer, in whole us.
    auto area = [](const GradientElement& g) {
      return g.strength_g_per_cm * g.shape_factor * g.duration_s;
    };
    const double unit = area(r.pps[0].gradient);
    CHECK(unit * std::abs(m.gamma_hz_per_gauss(0)) * p.sample_cm ==
          doctest::Approx(100.0 / kPi).epsilon(1e-12));
    const double g_max =
        p.gradient_max_g_per_cm * compiler::bruker_gradient_shape_for(1.0).area_factor;
    for (size_t s = 0; s <= 4; ++s) {
      const GradientElement& g = s < 4 ? r.pps[s].gradient : r.bath_gradient;
      const double units = s < 4 ? kPpsGradientUnits[s] : kBathGradientUnits;
      INFO("gradient " << s);
      CHECK(area(g) / unit == doctest::Approx(units).epsilon(1e-12));
      CHECK(g.strength_g_per_cm <= g_max * (1 + 1e-12));
      if (g.duration_s > 1e-3) {
        const double us = g.duration_s * 1e6;
        CHECK(std::abs(us - std::round(us)) < 1e-6);
        CHECK(g.strength_g_per_cm > g_max * (1 - 1e-3));
      } else {
        CHECK(g.duration_s == doctest::Approx(1e-3));
      }
    }
    CHECK(r.pps[0].gradient.duration_s == doctest::Approx(1e-3));
    CHECK(r.bath_gradient.duration_s == doctest::Approx(48.536e-3).epsilon(1e-9));
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

// The run's gradient areas (kPpsGradientUnits, kBathGradientUnits) leave no gradient echo: a
// coherence of order p_i during gradient i keeps exp(2 pi i z sum_i p_i A_i) on a real sample,
// and survives the sample's average only where that sum is 0, which the run's exact filters
// cannot show. Played on the spectrometer's z slices with the areas as whole turns over the
// 1 cm sample (more slices than 4 x the sum of the turns: the slice average is then an exact
// sum over the paths whose winding is 0), the PPS and the bath from thermal equilibrium, with the
// ideal operations, reach the exact filters' state: no path of theirs refocuses. The earlier areas
// (1, 5, 25, 125 with the bath at step 1's area) do not: a coherence of step 1 stored through
// steps 2-4 comes back with the bath gradient (a stimulated echo).
TEST_CASE("protocol: the PPS and bath gradients' areas refocus no coherence path") {
  const ExperimentProgram p =
      load_experiment_program(ref::source_path("sequences/experiment/fig3.yaml"));
  const Molecule& m = p.molecule;
  const CaseSpec& c = case_named(p, "c_minus_0.5");
  // The PPS's operations with gradients of the given whole turns over 1 cm (1 ms each), then
  // (bath_units > 0) the bath rotation and its gradient.
  auto sequence = [&](const std::vector<double>& units, double bath_units) {
    sp::PpsOptions po;
    po.compensate_polarization = p.compensate_polarization;
    po.twists = units;
    std::vector<int> spins{0, 1, 2, 3};
    Sequence s = sp::pps_sequence(sp::pps_steps(m, spins, po));
    if (bath_units > 0)
      for (const auto& e :
           sp::bath_sequence(m, c.bath_spin, c.params.bath_temperature, {}, bath_units).elements)
        s.elements.push_back(e);
    return s;
  };
  auto echo = [&](const Sequence& s, int slices) { return gradient_echo(m, s, slices); };
  const std::vector<double> run(std::begin(kPpsGradientUnits), std::end(kPpsGradientUnits));
  {  // the run's PPS gradients are these areas (1 ms each: strengths in the same ratios)
    const auto steps = run_pps_steps(p);
    for (size_t s = 0; s < 4; ++s) {
      const auto& g = std::get<GradientElement>(steps[s].elements.back());
      CHECK(g.strength_g_per_cm /
                std::get<GradientElement>(steps[0].elements.back()).strength_g_per_cm ==
            doctest::Approx(run[s] / run[0]).epsilon(1e-12));
    }
  }
  // 512 slices: more than 4 x the 121 turns of 1 3 9 27 81 (and than any winding of the paths)
  const double pps = echo(sequence(run, 0.0), 512),
               with_bath = echo(sequence(run, kBathGradientUnits), 512);
  MESSAGE("run's areas: PPS alone " << pps << ", PPS and bath " << with_bath);
  CHECK(pps < 1e-9);
  CHECK(with_bath < 1e-9);
  // The earlier areas: the bath gradient at step 1's area brings step 1's coherence back.
  const double earlier = echo(sequence({1, 5, 25, 125}, 1.0), 1024);
  MESSAGE("earlier areas 1 5 25 125, bath 1: " << earlier);
  CHECK(earlier > 1e-2);
  // The bath at 1, 9 or 40 units instead of 81 refocuses paths the protocol has (1: step 1's
  // coherence, orders (-1, 0, 0, 0, 1); 9: step 3's, (0, 0, -1, 0, 1); 40: (-1, -1, -1, -1, 1),
  // bench/gradient_areas.py): the slices show them.
  for (double b : {1.0, 9.0, 40.0}) CHECK(echo(sequence(run, b), 512) > 1e-3);
}

// The same with the shipped compiled pulses on the nominal B1 (relaxation off): their errors put
// small amplitudes on paths the ideal operations do not have, which an area set may refocus.
// Measured (docs/bruker.md, "Gradient areas and strengths for a real sample"): the run's areas
// (powers of 3: no path with every |p_i| <= 2 refocuses) against the smallest echo-free integer
// set of the ideal paths, 1 2 2 4 6 (which the run's choice rests on), and the earlier one.
TEST_CASE("protocol: the gradient echoes of the compiled PPS and bath pulses") {
  const ExperimentProgram p =
      load_experiment_program(ref::source_path("sequences/experiment/fig3.yaml"));
  const Molecule& m = p.molecule;
  const CaseSpec& c = case_named(p, "c_minus_0.5");
  RunSettings settings;
  settings.compile_mode = CompileMode::kNever;
  PulseLibrary lib = make_pulse_library(p, settings);
  const RunProtocol r = run_protocol(p, c, 1);
  auto pulse = [&](const PulseNeed& nd) {
    return lib
        .get(nd, pulse_compile_options(p, nd.kind), {}, pulse_shape(p, nd.kind).fidelity_target)
        .pulse.element(m);
  };
  auto sequence = [&](const std::vector<double>& units) {
    Sequence s;
    const sp::GradientPlan plan;
    for (size_t k = 0; k < 4; ++k) {
      for (const auto& nd : r.pps[k].pulses) s.elements.push_back(pulse(nd));
      s.elements.push_back(plan.element(units[k], m.gamma_hz_per_gauss(0)));
    }
    s.elements.push_back(pulse(r.bath));
    s.elements.push_back(plan.element(units[4], m.gamma_hz_per_gauss(c.bath_spin)));
    return s;
  };
  const double run =
      gradient_echo(m,
                    sequence({kPpsGradientUnits[0], kPpsGradientUnits[1], kPpsGradientUnits[2],
                              kPpsGradientUnits[3], kBathGradientUnits}),
                    512);
  const double smallest = gradient_echo(m, sequence({1, 2, 2, 4, 6}), 64);
  const double earlier = gradient_echo(m, sequence({1, 5, 25, 125, 1}), 1024);
  MESSAGE("compiled pulses: run's areas " << run << ", 1 2 2 4 6 " << smallest << ", earlier "
                                          << earlier);
  CHECK(run < 1e-3);
  CHECK(smallest > 3 * run);
  CHECK(earlier > 1e-2);
}
