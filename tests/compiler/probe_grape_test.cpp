// GRAPE through the probe (docs/console-physics.md): the objective's gradient through the
// resonator's adjoint against finite differences, and a pulse optimised through the distortion
// keeps its fidelity when the spectrometer plays it through the same probe.
#include <cmath>
#include <memory>
#include <random>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/gate_types.hpp"
#include "nmrc/compiler/grape.hpp"
#include "nmrc/compiler/program.hpp"
#include "nmrc/compiler/targets.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "nmrc/spectrometer/probe.hpp"
#include "nmrc/spectrometer/propagation.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::compiler;

namespace {

Molecule probe_grape_molecule() {
  return parse_molecule(
      "name: pg\nspectrometer: {proton_mhz: 300.13}\n"
      "channels: [{name: 13C, isotope: 13C, max_rf_hz: 10000}]\n"
      "nuclei:\n  - {label: A, isotope: 13C, offset_hz: 700.0, t1_s: 5, t2_s: 1, t2star_s: 0.5}\n"
      "  - {label: B, isotope: 13C, offset_hz: -1500.0, t1_s: 5, t2_s: 1, t2star_s: 0.5}\n"
      "couplings: [{spins: [A, B], j_hz: 60.0}]\nsources: [test]\n",
      "pg.yaml");
}

GateTarget probe_grape_target() {
  GateTarget t;
  t.descriptor = &gate_descriptor("rotation");
  t.spins = {0};
  t.spin_labels = {"A"};
  t.local = rotation_unitary(kPi / 2, 0.0);
  return t;
}

CompileOptions probe_grape_options(bool probe) {
  CompileOptions o;
  o.steps = 50;
  o.dt_s = 20e-6;
  o.b1_scale = {1.0};
  o.fidelity_target = 0.999;
  o.starts = 2;
  o.time_limit_s = 120;
  o.threads = 1;
  if (probe) o.probe_q["13C"] = 3000.0;  // tau = 12.6 us against 20 us steps
  return o;
}

}  // namespace

TEST_CASE("GRAPE through the probe: the gradient through the resonator's adjoint is the FD one") {
  const Molecule m = probe_grape_molecule();
  const GrapeProblem p = build_problem(m, probe_grape_target(), probe_grape_options(true));
  REQUIRE(p.channels[0].distortion);
  std::mt19937 rng(7);
  std::normal_distribution<double> g(0.0, 2000.0);
  RMat u(2, p.steps);
  for (Eigen::Index k = 0; k < u.cols(); ++k) u(0, k) = g(rng), u(1, k) = g(rng);
  RMat grad;
  const double j0 = ensemble_objective(p, u, &grad, nullptr, 1);
  CHECK(std::isfinite(j0));
  for (int k : {0, 13, 30, 49})
    for (int r = 0; r < 2; ++r) {
      RMat up = u, um = u;
      up(r, k) += 0.01;
      um(r, k) -= 0.01;
      const double fd = (ensemble_objective(p, up, nullptr, nullptr, 1) -
                         ensemble_objective(p, um, nullptr, nullptr, 1)) /
                        0.02;
      CHECK(grad(r, k) == doctest::Approx(fd).epsilon(1e-5).scale(1e-9));
    }
  // Without the probe the objective differs (the distortion is really applied).
  const GrapeProblem plain = build_problem(m, probe_grape_target(), probe_grape_options(false));
  CHECK(std::abs(ensemble_objective(plain, u, nullptr, nullptr, 1) - j0) > 1e-4);
}

TEST_CASE("GRAPE through the probe: the pulse keeps its fidelity through the same probe") {
  const Molecule m = probe_grape_molecule();
  const GateTarget t = probe_grape_target();
  const Mat w = t.full(2);
  spectrometer::PropagationOptions po;
  po.probe = {
      std::make_shared<spectrometer::ResonatorDistortion>(3000.0, m.channels[0].larmor_mhz)};
  auto through_probe = [&](const GrapeResult& r) {
    ShapedPulseElement e;
    e.dt_s = 20e-6;
    e.channels = {0};
    e.ux_hz = {r.u_hz.row(0).transpose()};
    e.uy_hz = {r.u_hz.row(1).transpose()};
    const Mat u = spectrometer::simulate_unitary(m, e, 1.0, po);
    return std::abs((w.adjoint() * u).trace()) / 4.0;
  };
  const CompileOptions with = probe_grape_options(true);
  GrapeOptions go;
  go.fidelity_target = 0.999;
  go.starts = 2;
  const GrapeResult r = optimise(build_problem(m, t, with), go);
  CHECK(through_probe(r) >= 0.999);
  // The same target optimised without the probe does not survive it.
  const GrapeResult plain = optimise(build_problem(m, t, probe_grape_options(false)), go);
  CHECK(through_probe(plain) < 0.999);
  // The judge (nmrc validate, compile_program) plays it through the probe it was compiled for.
  PulseData pd;
  pd.name = "probed";
  pd.dt_s = 20e-6;
  pd.channels.push_back(PulseChannel{"13C", std::nullopt, 10000.0, r.u_hz.row(0).transpose(),
                                     r.u_hz.row(1).transpose(), "", 0.0});
  pd.target_json = R"({"gate": "rotation", "spins": ["A"], "angle_rad": 1.5707963267948966})";
  pd.fidelity_target = 0.999;
  ValidationOptions vo;
  vo.probe_q = with.probe_q;
  const ValidationResult v = validate_pulse(pd, m, vo);
  CHECK(v.passed);
  CHECK(v.nominal == doctest::Approx(through_probe(r)).epsilon(1e-9));
  // Without the probe the judge sees the undistorted pulse (another figure).
  const ValidationResult bare = validate_pulse(pd, m);
  CHECK(std::abs(bare.nominal - v.nominal) > 1e-6);
  // The pulse file records the probe (channels.13C.probe_q): `nmrc validate` on the file alone
  // judges it through the same probe, with no option.
  pd.channels[0].probe_q = 3000.0;
  const PulseData back = parse_pulse_json(pulse_file_text(pd), "probed.json");
  CHECK(back.channels[0].probe_q == 3000.0);
  const ValidationResult from_file = validate_pulse(back, m);
  CHECK(from_file.passed);
  CHECK(from_file.nominal == doctest::Approx(v.nominal).epsilon(1e-12));
  // An option names another probe for the channel: it replaces the recorded one.
  ValidationOptions other;
  other.probe_q["13C"] = 30.0;  // tau 0.13 us: nearly no distortion
  const double fast = validate_pulse(back, m, other).nominal;
  CHECK(std::abs(fast - from_file.nominal) > 1e-6);
  CHECK(std::abs(fast - bare.nominal) < std::abs(from_file.nominal - bare.nominal));
  // A file without probe_q plays undistorted; a bad one is refused with the field.
  pd.channels[0].probe_q = 0.0;
  CHECK(pulse_file_text(pd).find("probe_q") == std::string::npos);
  std::string text = pulse_file_text(back);
  const std::string recorded = "\"probe_q\": 3000.0";
  const auto at = text.find(recorded);
  REQUIRE(at != std::string::npos);
  text.replace(at, recorded.size(), "\"probe_q\": -3.0");
  CHECK_THROWS_WITH_AS(parse_pulse_json(text, "bad.json"),
                       doctest::Contains("channels.13C.probe_q"), InputError);
}

TEST_CASE("GRAPE through the probe: compile_target records the probe in the pulse") {
  const Molecule m = probe_grape_molecule();
  CompileOptions o = probe_grape_options(true);
  o.fidelity_target = 0.99;
  GateTarget t = probe_grape_target();
  t.description_json = R"({"gate": "rotation", "spins": ["A"], "angle_rad": 1.5707963267948966})";
  const CompileResult r = compile_target(m, t, o, "probed", "");
  REQUIRE(r.pulse.channels.size() == 1);
  CHECK(r.pulse.channels[0].probe_q == 3000.0);
  CHECK(pulse_file_text(r.pulse).find("\"probe_q\": 3000.0") != std::string::npos);
  const CompileResult plain = compile_target(m, t, probe_grape_options(false), "plain", "");
  CHECK(plain.pulse.channels[0].probe_q == 0.0);
}

TEST_CASE("GRAPE through the probe: the program option probe_q and its rules") {
  const std::string head =
      "format: nmrc-program/1\nname: pq\nmolecule: crotonic_acid.yaml\n"
      "compile: {duration_s: 0.002, steps: 50, probe_q: ";
  const std::string tail =
      "}\nelements:\n  - gate: {name: r, type: rotation, spins: [C1], angle_deg: 90}\n";
  const std::string dir = ref::source_path("molecules");
  const Program p = parse_program(head + "{13C: 300}" + tail, "pq.yaml", dir);
  REQUIRE(p.gates.size() == 1u);
  CHECK(p.gates[0].options.probe_q.at("13C") == 300.0);
  CHECK(p.gates[0].options.to_json().find("probe_q") != std::string::npos);
  CHECK_THROWS_AS(parse_program(head + "{1H: 300}" + tail, "pq.yaml", dir), InputError);
  CHECK_THROWS_AS(parse_program(head + "{13C: -1}" + tail, "pq.yaml", dir), InputError);
  CHECK_THROWS_AS(parse_program(head + "{13C: 1e9}" + tail, "pq.yaml", dir), InputError);
  CHECK_THROWS_AS(parse_program(head + "300" + tail, "pq.yaml", dir), InputError);
}
