#include "nmrc/compiler/grape.hpp"

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/targets.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/operators.hpp"
#include "support/paper_states.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::compiler;

namespace {

// A small 3-spin homonuclear system (alanine-like offsets scaled down) for fast tests.
const char* kThreeSpin = R"(
name: three_spin
spectrometer: {proton_mhz: 500.0}
sources: ["test system"]
channels:
  - {name: 13C, isotope: 13C, frame_ppm: 0.0, carrier_hz: 0.0, max_rf_hz: 20000.0}
nuclei:
  - {label: A, isotope: 13C, offset_hz: 1500.0, t1_s: 5, t2_s: 1, t2star_s: 0.5, shift_ppm: 0}
  - {label: B, isotope: 13C, offset_hz: -400.0, t1_s: 5, t2_s: 1, t2star_s: 0.5, shift_ppm: 0}
  - {label: C, isotope: 13C, offset_hz: -2100.0, t1_s: 5, t2_s: 1, t2star_s: 0.5, shift_ppm: 0}
couplings:
  - {spins: [A, B], j_hz: 60.0}
  - {spins: [B, C], j_hz: 45.0}
  - {spins: [A, C], j_hz: 5.0}
)";

// Two channels (heteronuclear pair), so the multi-channel path is tested.
const char* kTwoChannel = R"(
name: hetero
spectrometer: {proton_mhz: 500.0}
sources: ["test system"]
channels:
  - {name: 1H, isotope: 1H, frame_ppm: 0.0, carrier_hz: 0.0, max_rf_hz: 20000.0}
  - {name: 13C, isotope: 13C, frame_ppm: 0.0, carrier_hz: 0.0, max_rf_hz: 20000.0}
nuclei:
  - {label: H, isotope: 1H, offset_hz: 300.0, t1_s: 5, t2_s: 1, t2star_s: 0.5, shift_ppm: 0}
  - {label: C, isotope: 13C, offset_hz: -200.0, t1_s: 5, t2_s: 1, t2star_s: 0.5, shift_ppm: 0}
couplings:
  - {spins: [H, C], j_hz: 215.0}
)";

GateTarget make(const Molecule& m, const nlohmann::json& d) {
  return target_from_json(d.dump(), m, "test");
}

// Central finite differences of J(u) = sum_m w_m |g_m|/norm / sum w against the exact gradient at
// a handful of random entries.
void check_gradient(const GrapeProblem& p, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uni(-3000.0, 3000.0);
  RMat u(2 * p.channels.size(), p.steps);
  for (int i = 0; i < u.size(); ++i) u.data()[i] = uni(rng);
  RMat grad;
  ensemble_objective(p, u, &grad, nullptr, 2);
  const double h = 1e-2;  // Hz
  double worst = 0, scale = grad.cwiseAbs().maxCoeff();
  for (int t = 0; t < 8; ++t) {
    const int r = static_cast<int>(rng() % u.rows()), k = static_cast<int>(rng() % u.cols());
    RMat up = u, um = u;
    up(r, k) += h;
    um(r, k) -= h;
    const double fd = (ensemble_objective(p, up, nullptr, nullptr) -
                       ensemble_objective(p, um, nullptr, nullptr)) /
                      (2 * h);
    worst = std::max(worst, std::abs(fd - grad(r, k)));
  }
  CHECK(scale > 0);
  CHECK(worst <= 1e-6 * scale + 1e-12);
}

CompileOptions small_options() {
  CompileOptions o;
  o.steps = 12;
  o.duration_s = 1.2e-3;
  o.b1_scale = {1.0};
  return o;
}

}  // namespace

TEST_CASE("GRAPE gradient matches finite differences for every target type") {
  const Molecule m = parse_molecule(kThreeSpin, "three_spin.yaml");
  const std::vector<nlohmann::json> targets = {
      {{"gate", "partial_swap"}, {"spins", {"A", "C"}}, {"theta_rad", 0.2}},
      {{"gate", "rotation"}, {"spins", {"B"}}, {"angle_rad", kPi / 2}, {"phase_rad", kPi / 2}},
      {{"gate", "rotation"}, {"spins", {"A", "C"}}, {"angle_rad", kPi}, {"phase_rad", 0.0}},
      {{"gate", "zz"}, {"spins", {"A", "B"}}, {"theta_rad", 0.7}},
      {{"gate", "cnot"}, {"spins", {"B", "A"}}},
      {{"gate", "cz"}, {"spins", {"A", "B"}}},
      {{"gate", "state_transfer"}, {"spins", {"A"}}, {"transfers", {{{"from", "0"}, {"to", "+"}}}}},
  };
  for (size_t i = 0; i < targets.size(); ++i) {
    CAPTURE(i);
    const GateTarget t = make(m, targets[i]);
    GrapeProblem p = build_problem(m, t, small_options());
    check_gradient(p, 10 + static_cast<unsigned>(i));
  }
  SUBCASE("arbitrary unitary and the U_d target") {
    nlohmann::json d = {{"gate", "unitary"}, {"spins", {"A", "B"}}};
    const Mat u = ref::random_unitary(4, 3);
    d["local_unitary"] = nlohmann::json::parse(matrix_json(u));  // exact: round-trip digits
    check_gradient(build_problem(m, make(m, d), small_options()), 31);
    // U_d of the paper's c = -0.5 state on all three spins.
    const Mat ud = ref::near_identity_ud(ref::equal_pair_state({1.0, 1.0, 1.0}, -0.5));
    const nlohmann::json dud = {{"gate", "ud"},
                                {"spins", {"A", "B", "C"}},
                                {"local_unitary", nlohmann::json::parse(matrix_json(ud))}};
    check_gradient(build_problem(m, make(m, dud), small_options()), 32);
  }
}

TEST_CASE("GRAPE gradient over a B1 and offset ensemble, and with two channels") {
  const Molecule m = parse_molecule(kThreeSpin, "three_spin.yaml");
  CompileOptions o = small_options();
  o.b1_scale = {0.95, 1.0, 1.05};
  o.b1_weight = {1.0, 2.0, 1.0};
  o.offset_hz = {-50.0, 0.0, 50.0};
  const GateTarget t =
      make(m, {{"gate", "partial_swap"}, {"spins", {"A", "B"}}, {"theta_rad", 0.5}});
  check_gradient(build_problem(m, t, o), 5);

  const Molecule h = parse_molecule(kTwoChannel, "hetero.yaml");
  const GateTarget c = make(h, {{"gate", "cnot"}, {"spins", {"H", "C"}}});
  GrapeProblem p = build_problem(h, c, small_options());
  CHECK(p.channels.size() == 2);
  check_gradient(p, 6);
  SUBCASE("complex (generic) eigen path: strong coupling") {
    CompileOptions s = small_options();
    s.strong_coupling = true;
    const GateTarget t2 = make(m, {{"gate", "zz"}, {"spins", {"A", "B"}}, {"theta_rad", 0.3}});
    check_gradient(build_problem(m, t2, s), 7);
  }
}

// The propagator of every kernel (fixed 8 and 16, dynamic, generic complex), with odd and even
// step counts (steps are decomposed in pairs), against Taylor-series step exponentials.
TEST_CASE("GRAPE propagator equals the product of exact step exponentials") {
  const Molecule three = parse_molecule(kThreeSpin, "three_spin.yaml");
  const Molecule hetero = parse_molecule(kTwoChannel, "hetero.yaml");
  const Molecule crotonic = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  struct Case {
    const Molecule* m;
    std::string spin;
    int steps;
    bool strong;
  };
  for (const Case& c :
       {Case{&three, "A", 12, false}, Case{&three, "B", 7, false}, Case{&crotonic, "C2", 9, false},
        Case{&hetero, "C", 5, false}, Case{&three, "A", 5, true}}) {
    CAPTURE(c.m->name);
    CAPTURE(c.steps);
    const GateTarget t =
        make(*c.m, {{"gate", "rotation"}, {"spins", {c.spin}}, {"angle_rad", 1.0}});
    CompileOptions o = small_options();
    o.steps = c.steps;
    o.duration_s = c.steps * 1e-4;
    o.strong_coupling = c.strong;
    GrapeProblem p = build_problem(*c.m, t, o);
    const int nc = static_cast<int>(p.channels.size());
    RMat u = RMat::Random(2 * nc, p.steps) * 5000.0;
    FidelityEvaluator ev(p);
    EnsembleMember mem{1.02, 30.0, 1.0};
    ev.evaluate(u, mem, nullptr);
    const int d = static_cast<int>(p.drift.rows());
    Mat ref_u = Mat::Identity(d, d);
    Mat fz = Mat::Zero(d, d);
    for (const auto& ch : p.channels) fz += ch.fz;
    for (int k = 0; k < p.steps; ++k) {
      Mat h = p.drift + 30.0 * fz;
      for (int ch = 0; ch < nc; ++ch)
        h += 1.02 * (u(2 * ch, k) * p.channels[ch].cx + u(2 * ch + 1, k) * p.channels[ch].cy);
      ref_u = ref::expm_taylor(cplx(0, -p.dt_s) * h) * ref_u;
    }
    CHECK_MAT_NEAR(ev.propagator(), ref_u, 1e-9);
  }
}

TEST_CASE("GRAPE reaches a selective rotation; Summary instead of exceptions") {
  const Molecule m = parse_molecule(kThreeSpin, "three_spin.yaml");
  const GateTarget t = make(
      m, {{"gate", "rotation"}, {"spins", {"A"}}, {"angle_rad", kPi / 2}, {"phase_rad", kPi / 2}});
  CompileOptions o;
  o.duration_s = 2e-3;
  o.steps = 40;
  o.b1_scale = {0.98, 1.0, 1.02};
  const GrapeProblem p = build_problem(m, t, o);
  GrapeOptions go;
  go.starts = 2;
  go.seed = 3;
  go.fidelity_target = 0.99;
  int calls = 0;
  const GrapeResult r = optimise(p, go, [&](const GrapeProgress&) { ++calls; });
  CHECK(r.summary.reached_target);
  CHECK(r.summary.fidelity_min >= 0.99);
  CHECK(calls > 0);
  CHECK(r.u_hz.col(0).norm() == 0.0);  // zero ends
  CHECK(r.u_hz.col(p.steps - 1).norm() == 0.0);
  for (int k = 0; k < p.steps; ++k) CHECK(std::hypot(r.u_hz(0, k), r.u_hz(1, k)) <= 10000.0 + 1e-9);
  SUBCASE("deterministic for a seed, independent of threads") {
    go.threads = 1;
    const GrapeResult r1 = optimise(p, go);
    CHECK(r1.summary.best_start == r.summary.best_start);
    CHECK((r1.u_hz - r.u_hz).cwiseAbs().maxCoeff() == 0.0);
  }
  auto short_problem = [&](double duration_s, int steps) {  // too short to reach the target
    CompileOptions shorto = o;
    shorto.duration_s = duration_s;
    shorto.steps = steps;
    return build_problem(m, t, shorto);
  };
  SUBCASE("an unreachable target is a result, not an exception") {
    const GrapeProblem ps = short_problem(1e-4, 4);
    go.starts = 1;
    go.max_iterations = 30;
    GrapeResult bad;
    CHECK_NOTHROW(bad = optimise(ps, go));
    CHECK_FALSE(bad.summary.reached_target);
    CHECK(bad.summary.message.find("longer duration") != std::string::npos);
  }
  SUBCASE("a start that stops improving gives way (stalled), without the limit it runs on") {
    const GrapeProblem ps = short_problem(2e-4, 8);
    go.starts = 1;
    go.threads = 1;
    go.max_iterations = 3000;
    go.stall_evaluations = 40;
    const GrapeResult stalled = optimise(ps, go);
    CHECK(stalled.summary.termination == Termination::kStalled);
    CHECK(stalled.summary.evaluations % 40 == 0);
    go.stall_evaluations = 0;
    const GrapeResult on = optimise(ps, go);
    CHECK(on.summary.termination != Termination::kStalled);
    CHECK(on.summary.evaluations > stalled.summary.evaluations);
  }
  SUBCASE("validation") {
    go.stall_evaluations = -1;
    CHECK_THROWS_WITH_AS(optimise(p, go), doctest::Contains("stall_evaluations = -1: must be >= 0"),
                         InputError);
    go.stall_evaluations = 500;
    go.starts = 0;
    CHECK_THROWS_WITH_AS(optimise(p, go), doctest::Contains("starts = 0: must be >= 1"),
                         InputError);
  }
}

TEST_CASE("GRAPE gradient on crotonic acid (4 spins, one channel)") {
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  CompileOptions o = small_options();
  o.b1_scale = {0.99, 1.0, 1.01};
  const GateTarget t = make(
      m, {{"gate", "rotation"}, {"spins", {"C4"}}, {"angle_rad", kPi / 2}, {"phase_rad", kPi / 2}});
  check_gradient(build_problem(m, t, o), 8);
  const GateTarget s =
      make(m, {{"gate", "partial_swap"}, {"spins", {"C1", "C4"}}, {"theta_rad", 0.2}});
  check_gradient(build_problem(m, s, o), 9);
}

// The ensemble objective cuts each member into two time slices evaluated on two threads: its
// value and gradient equal one thread's (to the last bit: fixed slicing, fixed summation order)
// and the whole-pulse evaluator's (to rounding), on every kernel (fixed 8 and 16, generic
// complex, two channels) with odd and even step counts.
TEST_CASE("GRAPE objective on two threads equals one thread and the unsliced evaluator") {
  const Molecule three = parse_molecule(kThreeSpin, "three_spin.yaml");
  const Molecule hetero = parse_molecule(kTwoChannel, "hetero.yaml");
  const Molecule crotonic = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  struct Case {
    const Molecule* m;
    std::vector<std::string> spins;
    int steps;
    bool strong;
  };
  for (const Case& c :
       {Case{&three, {"A", "C"}, 13, false}, Case{&crotonic, {"C1", "C4"}, 20, false},
        Case{&hetero, {"H", "C"}, 9, false}, Case{&three, {"A", "B"}, 6, true},
        Case{&three, {"B", "C"}, 1, false}}) {
    CAPTURE(c.m->name);
    CAPTURE(c.steps);
    const GateTarget t =
        make(*c.m, {{"gate", "partial_swap"}, {"spins", c.spins}, {"theta_rad", 0.4}});
    CompileOptions o = small_options();
    o.steps = c.steps;
    o.duration_s = c.steps * 1e-4;
    o.strong_coupling = c.strong;
    o.b1_scale = {0.97, 1.0, 1.03};
    o.offset_hz = {-20.0, 20.0};
    const GrapeProblem p = build_problem(*c.m, t, o);
    std::mt19937 rng(4);
    std::uniform_real_distribution<double> uni(-5000.0, 5000.0);
    RMat u(2 * p.channels.size(), p.steps);
    for (int i = 0; i < u.size(); ++i) u.data()[i] = uni(rng);
    RMat g1, g2;
    std::vector<double> f1, f2;
    const double j1 = ensemble_objective(p, u, &g1, &f1, 1);
    const double j2 = ensemble_objective(p, u, &g2, &f2, 2);
    CHECK(j1 == j2);
    CHECK(f1 == f2);
    CHECK((g1 - g2).cwiseAbs().maxCoeff() == 0.0);
    // Against the whole-pulse evaluator, member by member.
    FidelityEvaluator ev(p);
    double wsum = 0, j = 0;
    RMat grad = RMat::Zero(u.rows(), u.cols()), gm;
    for (const auto& mem : p.ensemble) wsum += mem.weight;
    for (size_t i = 0; i < p.ensemble.size(); ++i) {
      const double a = std::abs(ev.evaluate(u, p.ensemble[i], &gm));
      CHECK(f1[i] == doctest::Approx(a / p.norm).epsilon(1e-12));
      j += p.ensemble[i].weight / wsum * a / p.norm;
      grad += (p.ensemble[i].weight / wsum / (2 * a * p.norm)) * gm;
    }
    CHECK(j1 == doctest::Approx(j).epsilon(1e-12));
    CHECK((grad - g1).cwiseAbs().maxCoeff() <= 1e-12 * grad.cwiseAbs().maxCoeff());
  }
}
