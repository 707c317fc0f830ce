#include "nmrc/compiler/grape.hpp"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <utility>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/program.hpp"
#include "nmrc/compiler/targets.hpp"
#include "nmrc/compiler/team.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/information.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/operators.hpp"
#include "support/paper_states.hpp"
#include "support/reference.hpp"
#include "support/test_molecules.hpp"

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

GateTarget make(const Molecule& m, const nlohmann::json& d) {
  return target_from_json(d.dump(), m, "test");
}

// Central finite differences of J(u) = sum_m w_m |g_m|/norm / sum w against the exact gradient at
// a handful of random entries.
// With worst_power p >= 1, the worst-member objective J = 1 - (sum_m w_m (1 - F_m)^p / sum
// w)^(1/p).
void check_gradient(const GrapeProblem& p, unsigned seed, int worst_power = 0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uni(-3000.0, 3000.0);
  RMat u(2 * p.channels.size(), p.steps);
  for (int i = 0; i < u.size(); ++i) u.data()[i] = uni(rng);
  RMat grad;
  ensemble_objective(p, u, &grad, nullptr, 2, worst_power);
  const double h = 1e-2;  // Hz
  double worst = 0, scale = grad.cwiseAbs().maxCoeff();
  for (int t = 0; t < 8; ++t) {
    const int r = static_cast<int>(rng() % u.rows()), k = static_cast<int>(rng() % u.cols());
    RMat up = u, um = u;
    up(r, k) += h;
    um(r, k) -= h;
    const double fd = (ensemble_objective(p, up, nullptr, nullptr, 1, worst_power) -
                       ensemble_objective(p, um, nullptr, nullptr, 1, worst_power)) /
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

// The three-spin selective 90-degree rotation of spin A over B1 0.98-1.02, by default 2 ms in 40
// steps: the optimiser tests' common problem.
GrapeProblem selective_rotation_problem(double duration_s = 2e-3, int steps = 40) {
  const Molecule m = parse_molecule(kThreeSpin, "three_spin.yaml");
  const GateTarget t = make(
      m, {{"gate", "rotation"}, {"spins", {"A"}}, {"angle_rad", kPi / 2}, {"phase_rad", kPi / 2}});
  CompileOptions o;
  o.duration_s = duration_s;
  o.steps = steps;
  o.b1_scale = {0.98, 1.0, 1.02};
  return build_problem(m, t, o);
}

// The optimiser tests' options: `starts` starts from seed 3, target 0.99.
GrapeOptions seed3_options(int starts) {
  GrapeOptions go;
  go.starts = starts;
  go.seed = 3;
  go.fidelity_target = 0.99;
  return go;
}

// The same rotation in 40 steps over B1 0.9-1.1 (5 points) and offsets +-10 Hz: the tests of
// the search stages (quadrature, nominal first).
CompileOptions wide_b1_options() {
  CompileOptions o;
  o.duration_s = 2e-3;
  o.steps = 40;
  o.b1_scale = {0.9, 0.95, 1.0, 1.05, 1.1};
  o.offset_hz = {-10.0, 10.0};
  return o;
}

GrapeProblem wide_b1_problem() {
  const Molecule m = parse_molecule(kThreeSpin, "three_spin.yaml");
  const GateTarget t = make(
      m, {{"gate", "rotation"}, {"spins", {"A"}}, {"angle_rad", kPi / 2}, {"phase_rad", kPi / 2}});
  return build_problem(m, t, wide_b1_options());
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
  SUBCASE("up to diagonal phases") {
    nlohmann::json swap = targets[0];
    swap["up_to"] = "diagonal_phases";
    check_gradient(build_problem(m, make(m, swap), small_options()), 33);
    const Mat ud = ref::near_identity_ud(ref::equal_pair_state({1.0, 1.0, 1.0}, -0.5));
    const nlohmann::json dud = {{"gate", "ud"},
                                {"spins", {"A", "B", "C"}},
                                {"local_unitary", nlohmann::json::parse(matrix_json(ud))},
                                {"up_to", "diagonal_phases"}};
    CompileOptions o = small_options();
    o.b1_scale = {0.97, 1.0, 1.03};
    check_gradient(build_problem(m, make(m, dud), o), 34);
  }
}

// Up to diagonal phases, W and W D are one target (D diagonal unitary): the objective, the
// fidelities and the gradient agree; F is sum_j |(W^dag U)_jj| / d of the propagator (core's
// gate_fidelity_diagonal_phases), at least the strict F; one and two threads and the unsliced
// evaluator agree as for strict targets.
TEST_CASE("GRAPE objective up to diagonal phases") {
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  const Mat local = ref::random_unitary(4, 11);
  Vec phases(16);
  for (int j = 0; j < 16; ++j) phases(j) = std::polar(1.0, 0.9 * j - 0.05 * j * j);
  auto target = [&](const Mat& u, bool free) {
    nlohmann::json d = {{"gate", "unitary"},
                        {"spins", {"C2", "C4"}},
                        {"local_unitary", nlohmann::json::parse(matrix_json(u))}};
    if (free) d["up_to"] = "diagonal_phases";
    return make(m, d);
  };
  CompileOptions o = small_options();
  o.steps = 15;
  o.duration_s = 1.5e-3;
  o.b1_scale = {0.97, 1.0, 1.03};
  const GrapeProblem strict = build_problem(m, target(local, false), o);
  const GrapeProblem free = build_problem(m, target(local, true), o);
  GrapeProblem free_wd = free;  // W D on every spin
  free_wd.target = free.target * phases.asDiagonal();
  REQUIRE(free.diagonal_phases);
  REQUIRE_FALSE(strict.diagonal_phases);
  std::mt19937 rng(6);
  std::uniform_real_distribution<double> uni(-5000.0, 5000.0);
  RMat u(2, o.steps);
  for (int i = 0; i < u.size(); ++i) u.data()[i] = uni(rng);
  RMat g1, g2, gwd;
  std::vector<double> f1, f2, fwd, fs;
  const double j1 = ensemble_objective(free, u, &g1, &f1, 1);
  const double j2 = ensemble_objective(free, u, &g2, &f2, 2);
  const double jwd = ensemble_objective(free_wd, u, &gwd, &fwd, 2);
  ensemble_objective(strict, u, nullptr, &fs, 1);
  CHECK(j1 == j2);
  CHECK(f1 == f2);
  CHECK((g1 - g2).cwiseAbs().maxCoeff() == 0.0);
  CHECK(jwd == doctest::Approx(j1).epsilon(1e-12));
  CHECK((gwd - g1).cwiseAbs().maxCoeff() <= 1e-10 * g1.cwiseAbs().maxCoeff());
  FidelityEvaluator strict_ev(strict), free_ev(free);
  for (size_t i = 0; i < free.ensemble.size(); ++i) {
    CAPTURE(i);
    strict_ev.evaluate(u, strict.ensemble[i], nullptr);
    const double expected = gate_fidelity_diagonal_phases(strict.target, strict_ev.propagator());
    CHECK(f1[i] == doctest::Approx(expected).epsilon(1e-12));
    CHECK(fwd[i] == doctest::Approx(expected).epsilon(1e-12));
    CHECK(f1[i] >= fs[i]);
    CHECK(std::abs(free_ev.evaluate(u, free.ensemble[i], nullptr)) / free.norm ==
          doctest::Approx(expected).epsilon(1e-12));
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

  const Molecule h = testing::hetero_pair();
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

// GRAPE with the decoupler in its model (compiler::with_residual_configurations): each
// configuration of the decoupled spins is a member whose drift_diag shifts single spins; its
// fidelity equals the plain problem on the molecule with those spins' offsets shifted, and the
// gradient over the weighted configurations matches finite differences (real and generic path).
TEST_CASE("GRAPE over residual-coupling configurations: shifted molecules, gradient") {
  const Molecule m = parse_molecule(kThreeSpin, "three_spin.yaml");
  const GateTarget t =
      make(m, {{"gate", "rotation"}, {"spins", {"A"}}, {"angle_rad", kPi / 2}, {"phase_rad", 0.0}});
  CompileOptions o = small_options();
  o.b1_scale = {0.98, 1.02};
  std::vector<spectrometer::ResidualConfiguration> confs(2);
  confs[0] = {0.25, {70.0, -30.0, 0.0}};
  confs[1] = {0.75, {-70.0, 30.0, 0.0}};
  const GrapeProblem q = with_residual_configurations(build_problem(m, t, o), m, m, confs);
  REQUIRE(q.ensemble.size() == 4);
  CHECK(q.ensemble[1].weight == doctest::Approx(0.75));
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> uni(-3000.0, 3000.0);
  RMat u(2, q.steps);
  for (int i = 0; i < u.size(); ++i) u.data()[i] = uni(rng);
  double expect = 0.0;
  for (const auto& c : confs) {
    Molecule mc = m;
    for (int k = 0; k < 3; ++k) mc.nuclei[k].offset_hz += c.offset_hz[k];
    expect += c.weight * ensemble_objective(build_problem(mc, t, o), u, nullptr, nullptr);
  }
  CHECK(ensemble_objective(q, u, nullptr, nullptr) == doctest::Approx(expect).epsilon(1e-10));
  check_gradient(q, 21);
  SUBCASE("generic complex path (strong coupling)") {
    CompileOptions s = o;
    s.strong_coupling = true;
    check_gradient(with_residual_configurations(build_problem(m, t, s), m, m, confs), 22);
  }
  Molecule other = m;
  for (auto& nu : other.nuclei) nu.label += "x";
  CHECK_THROWS_AS(with_residual_configurations(build_problem(m, t, o), m, other, confs),
                  InputError);
}

// The endgame's worst-member objective (EnsembleWorkspace::worst_objective): its gradient
// against finite differences, and the p-norm it is, from the members' fidelities.
TEST_CASE("GRAPE worst-member objective: exact gradient, a smooth maximum of the infidelities") {
  const Molecule m = parse_molecule(kThreeSpin, "three_spin.yaml");
  CompileOptions o = small_options();
  o.b1_scale = {0.9, 1.0, 1.1};
  o.b1_weight = {1.0, 2.0, 1.0};
  o.offset_hz = {-50.0, 50.0};
  const GateTarget t =
      make(m, {{"gate", "partial_swap"}, {"spins", {"A", "B"}}, {"theta_rad", 0.5}});
  const GrapeProblem p = build_problem(m, t, o);
  for (int pw : {1, 2, 4, 8}) {
    CAPTURE(pw);
    check_gradient(p, 11, pw);
  }
  // A pulse where the members differ: the rotation of the wide-B1 problem, half solved.
  const GrapeProblem w = wide_b1_problem();
  GrapeOptions go = seed3_options(1);
  go.fidelity_target = 0.9;
  go.auto_stages = false;
  const RMat u = optimise(w, go).u_hz;
  std::vector<double> f, f8;
  const double mean = ensemble_objective(w, u, nullptr, &f, 1);
  CHECK(ensemble_objective(w, u, nullptr, nullptr, 1, 1) == doctest::Approx(mean).epsilon(1e-12));
  double worst = 0, sum8 = 0;
  for (double v : f) {
    worst = std::max(worst, 1 - v);
    sum8 += std::pow(1 - v, 8) / static_cast<double>(f.size());  // equal weights
  }
  REQUIRE(worst > 1e-3);
  const double j8 = ensemble_objective(w, u, nullptr, &f8, 2, 8);
  CHECK(f8 == f);
  CHECK(1 - j8 == doctest::Approx(std::pow(sum8, 1.0 / 8)).epsilon(1e-9));
  CHECK(1 - j8 <= worst * (1 + 1e-12));  // a p-norm of weights summing to 1 is at most the max
  CHECK(1 - j8 >= std::pow(1.0 / f.size(), 1.0 / 8) * worst * (1 - 1e-12));
  CHECK(1 - ensemble_objective(w, u, nullptr, nullptr, 1, 64) > 0.95 * worst);
  CHECK_THROWS_AS(ensemble_objective(w, u, nullptr, nullptr, 1, -1), InputError);
}

// The propagator of every kernel (fixed 8 and 16, dynamic, generic complex), with odd and even
// step counts (steps are decomposed in pairs), against Taylor-series step exponentials.
TEST_CASE("GRAPE propagator equals the product of exact step exponentials") {
  const Molecule three = parse_molecule(kThreeSpin, "three_spin.yaml");
  const Molecule hetero = testing::hetero_pair();
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
    EnsembleMember mem{1.02, 30.0, 1.0, {}};
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
  const GrapeProblem p = selective_rotation_problem();
  GrapeOptions go = seed3_options(2);
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
  auto short_problem = [](double duration_s, int steps) {  // too short to reach the target
    return selective_rotation_problem(duration_s, steps);
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
  SUBCASE("a stop request ends every start with the best pulse so far (interrupted)") {
    const GrapeProblem ps = short_problem(2e-4, 8);  // cannot reach the target: runs until told
    go.starts = 4;
    go.threads = 2;
    go.stall_evaluations = 0;
    std::atomic<bool> stop{false};
    go.stop = &stop;
    std::atomic<int> seen{0};
    const GrapeResult cut = optimise(ps, go, [&](const GrapeProgress&) {
      if (++seen >= 30) stop = true;
    });
    CHECK(cut.summary.termination == Termination::kInterrupted);
    CHECK(cut.summary.message.find("stopped on request") != std::string::npos);
    CHECK(cut.summary.evaluations < 40);  // each running start stops at its next evaluation
    CHECK(cut.summary.best_start >= 0);
    // The pulse returned is the best one evaluated, with its fidelity recomputed.
    std::vector<double> f;
    ensemble_objective(ps, cut.u_hz, nullptr, &f, 1);
    CHECK(*std::min_element(f.begin(), f.end()) == doctest::Approx(cut.summary.fidelity_min));
    CHECK(cut.summary.fidelity_min > 0.0);
    // Set before the call: no start runs.
    const GrapeResult none = optimise(ps, go);
    CHECK(none.summary.termination == Termination::kInterrupted);
    CHECK(none.summary.evaluations == 0);
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
  const Molecule hetero = testing::hetero_pair();
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

// The model crotonic-acid molecules of 5, 6 and 7 spins (two channels, 13C and 1H): the
// dynamic-size kernel at dimensions 32, 64 and 128 gives the exact propagator and gradient.
TEST_CASE("GRAPE on 5 to 7 spins and two channels (dimensions 32 to 128)") {
  for (int spins : {5, 6, 7}) {
    CAPTURE(spins);
    const Molecule m = load_molecule(
        ref::source_path("molecules/crotonic_acid_" + std::to_string(spins) + ".yaml"));
    REQUIRE(m.size() == spins);
    REQUIRE(m.channels.size() == 2);
    const GateTarget t =
        make(m, {{"gate", "partial_swap"}, {"spins", {"C2", "H2"}}, {"theta_rad", 0.3}});
    CompileOptions o = small_options();
    o.steps = 3;
    o.duration_s = 3e-4;
    o.b1_scale = {0.98, 1.02};
    o.max_rf_hz = {{"13C", 8000.0}, {"1H", 15000.0}};  // per-channel limits
    const GrapeProblem p = build_problem(m, t, o);
    REQUIRE(p.drift.rows() == (1 << spins));
    CHECK(p.channels[0].max_rf_hz == 8000.0);
    CHECK(p.channels[1].max_rf_hz == 15000.0);
    check_gradient(p, 50 + static_cast<unsigned>(spins));
    RMat u = RMat::Random(4, p.steps) * 5000.0;
    FidelityEvaluator ev(p);
    ev.evaluate(u, p.ensemble[0], nullptr);
    const int d = static_cast<int>(p.drift.rows());
    Mat ref_u = Mat::Identity(d, d);
    for (int k = 0; k < p.steps; ++k) {
      Mat h = p.drift;
      for (int ch = 0; ch < 2; ++ch)
        h += 0.98 * (u(2 * ch, k) * p.channels[ch].cx + u(2 * ch + 1, k) * p.channels[ch].cy);
      ref_u = ref::expm_taylor(cplx(0, -p.dt_s) * h) * ref_u;
    }
    CHECK_MAT_NEAR(ev.propagator(), ref_u, 1e-9);
  }
}

TEST_CASE("Gauss-Legendre rule: exact to degree 2n - 1, the 3-point nodes and weights") {
  for (int n = 1; n <= 8; ++n) {
    CAPTURE(n);
    std::vector<double> x, w;
    gauss_legendre(n, x, w);
    REQUIRE(x.size() == static_cast<size_t>(n));
    for (int i = 1; i < n; ++i) CHECK(x[i] > x[i - 1]);
    for (int k = 0; k <= 2 * n - 1; ++k) {
      double sum = 0;
      for (int i = 0; i < n; ++i) sum += w[i] * std::pow(x[i], k);
      const double exact = k % 2 == 0 ? 2.0 / (k + 1) : 0.0;  // int_-1^1 x^k dx
      CHECK(sum == doctest::Approx(exact).epsilon(1e-13));
    }
  }
  std::vector<double> x, w;
  gauss_legendre(3, x, w);  // Abramowitz & Stegun Table 25.4: +-sqrt(3/5), 0; 5/9, 8/9
  CHECK(x[0] == doctest::Approx(-std::sqrt(0.6)).epsilon(1e-15));
  CHECK(x[1] == doctest::Approx(0.0));
  CHECK(w[0] == doctest::Approx(5.0 / 9.0).epsilon(1e-15));
  CHECK(w[1] == doctest::Approx(8.0 / 9.0).epsilon(1e-15));
}

TEST_CASE("GRAPE B1 quadrature: search on the rule, result verified on the full grid") {
  const CompileOptions o = wide_b1_options();
  const GrapeProblem p = wide_b1_problem();
  const GrapeProblem q = b1_quadrature_problem(p, 3);
  REQUIRE(q.ensemble.size() == 6);  // 3 nodes x 2 offsets
  CHECK(q.ensemble[0].b1_scale == doctest::Approx(1.0 - 0.1 * std::sqrt(0.6)));
  CHECK(q.ensemble[1].offset_hz == 10.0);
  CHECK(q.ensemble[2].b1_scale == doctest::Approx(1.0));
  check_gradient(q, 41);  // the quadrature objective's gradient (weighted members)
  GrapeOptions go = seed3_options(2);
  go.b1_quadrature = 3;
  const GrapeResult r = optimise(p, go);
  CHECK(r.summary.reached_target);
  CHECK(r.summary.quadrature_points == 3);
  // Verified on the full grid, independently of the summary's numbers.
  std::vector<double> f;
  ensemble_objective(p, r.u_hz, nullptr, &f, 1);
  REQUIRE(f.size() == 10);
  for (double v : f) CHECK(v >= 0.99);
  CHECK(r.summary.fine_points == 2 * (4 * 4 + 1));
  CHECK(r.summary.fine_fidelity_min <= r.summary.fidelity_min + 1e-12);  // the grid is inside
  CHECK(r.summary.fine_fidelity_min > 0.98);
  SUBCASE("a one-point rule (nominal B1 only) fails the verification and goes on on the grid") {
    go.b1_quadrature = 1;
    go.starts = 1;
    const GrapeResult r1 = optimise(p, go);
    CHECK(r1.summary.starts.at(0).full_grid_evaluations > 0);
    CHECK(r1.summary.reached_target);
    ensemble_objective(p, r1.u_hz, nullptr, &f, 1);
    for (double v : f) CHECK(v >= 0.99);
  }
  SUBCASE("unequal weights and out-of-range counts are refused") {
    GrapeProblem w = p;
    w.ensemble[0].weight = 2.0;
    CHECK_THROWS_WITH_AS(b1_quadrature_problem(w, 3), doctest::Contains("equal ensemble weights"),
                         InputError);
    go.b1_quadrature = 21;
    CHECK_THROWS_WITH_AS(optimise(p, go), doctest::Contains("b1_quadrature = 21"), InputError);
    CompileOptions co = o;
    co.b1_quadrature = 3;
    co.b1_weight = {1, 2, 1, 1, 1};
    CHECK_THROWS_WITH_AS(co.validate(), doctest::Contains("b1_quadrature = 3: needs uniform"),
                         InputError);
  }
}

// Nominal first: the search starts on the B1 range's centre alone (every offset), then goes on
// on the quadrature rule (or the grid); the returned pulse is verified on the full grid.
TEST_CASE("GRAPE nominal first: the centre B1, then the rule, verified on the full grid") {
  const GrapeProblem p = wide_b1_problem();
  GrapeOptions go = seed3_options(1);
  go.nominal_first = true;
  // The first evaluation is of the centre B1's two members only.
  GrapeProblem centre = p;
  centre.ensemble = {{1.0, -10.0, 1.0, {}}, {1.0, 10.0, 1.0, {}}};
  std::vector<double> f0;
  ensemble_objective(centre, initial_guess(p, go, 0), nullptr, &f0, 1);
  std::vector<double> first_seen;
  const ProgressCallback record = [&](const GrapeProgress& g) {
    if (g.evaluations == 1) first_seen.push_back(g.fidelity_min);
  };
  for (int quadrature : {3, 0}) {
    CAPTURE(quadrature);
    go.b1_quadrature = quadrature;
    first_seen.clear();
    const GrapeResult r = optimise(p, go, record);
    REQUIRE(first_seen.size() == 1);
    CHECK(first_seen[0] == doctest::Approx(std::min(f0[0], f0[1])).epsilon(1e-12));
    CHECK(r.summary.reached_target);
    CHECK(r.summary.nominal_first);
    CHECK(r.summary.quadrature_points == quadrature);
    CHECK(r.summary.full_report().find("searched on the centre B1 first") != std::string::npos);
    std::vector<double> f;
    ensemble_objective(p, r.u_hz, nullptr, &f, 1);
    REQUIRE(f.size() == 10);
    for (double v : f) CHECK(v >= 0.99);
  }
  SUBCASE("unequal weights are fine (no rule), a single B1 scale has no centre stage") {
    GrapeProblem w = p;
    w.ensemble[0].weight = 2.0;
    go.b1_quadrature = 0;
    CHECK(optimise(w, go).summary.reached_target);
    const GrapeResult one = optimise(centre, go);
    CHECK_FALSE(one.summary.nominal_first);
    CHECK(one.summary.reached_target);
  }
}

TEST_CASE("GRAPE multi-resolution: a coarse stage, then the full steps") {
  const GrapeProblem p = selective_rotation_problem();
  GrapeOptions go = seed3_options(1);
  go.coarse_factor = 4;  // 10 steps of 200 us first
  const GrapeResult r = optimise(p, go);
  CHECK(r.summary.reached_target);
  REQUIRE(r.summary.starts.size() == 1);
  CHECK(r.summary.starts[0].coarse_evaluations > 0);
  std::vector<double> f;
  ensemble_objective(p, r.u_hz, nullptr, &f, 1);
  for (double v : f) CHECK(v >= 0.99);
  CHECK(r.u_hz.cols() == 40);
  SUBCASE("a factor that does not divide the steps is ignored") {
    go.coarse_factor = 7;
    const GrapeResult r7 = optimise(p, go);
    CHECK(r7.summary.starts.at(0).coarse_evaluations == 0);
  }
  SUBCASE("validation") {
    go.coarse_factor = -1;
    CHECK_THROWS_WITH_AS(optimise(p, go), doctest::Contains("coarse_factor = -1"), InputError);
    CompileOptions co;
    co.duration_s = 2e-3;
    co.steps = 40;
    co.coarse_factor = 1001;
    CHECK_THROWS_WITH_AS(co.validate(), doctest::Contains("coarse_factor = 1001"), InputError);
  }
}

// Fast by default (GrapeOptions::auto_stages): with no stage set by hand GRAPE chooses its
// own from the problem; every pulse is still verified on the full grid.
TEST_CASE("GRAPE chooses its search stages when none is set, and keeps hand-set ones") {
  GrapeProblem p = wide_b1_problem();  // 40 steps of 50 us, 5 B1 scales x 2 offsets, 10 kHz
  REQUIRE(p.channels.size() == 1);
  REQUIRE(p.channels[0].max_rf_hz == 10000.0);
  GrapeOptions go = seed3_options(1);
  auto verified = [&p](const GrapeResult& r) {
    std::vector<double> f;
    ensemble_objective(p, r.u_hz, nullptr, &f, 1);
    REQUIRE(f.size() == 10);
    for (double v : f) CHECK(v >= 0.99);
  };
  SUBCASE("a coarse step within one nutation turn: coarse 2 (100 us x 10 kHz), a 2-point rule") {
    const GrapeResult r = optimise(p, go);
    CHECK(r.summary.auto_stages);
    CHECK(r.summary.coarse_factor == 2);  // 4 would be 200 us, two turns
    CHECK(r.summary.quadrature_points == 2);
    CHECK_FALSE(r.summary.nominal_first);
    CHECK(r.summary.starts.at(0).coarse_evaluations > 0);
    CHECK(r.summary.full_report().find("chosen by GRAPE") != std::string::npos);
    CHECK(r.summary.reached_target);
    verified(r);
  }
  SUBCASE("no coarse step fits (20 kHz): the centre B1 first, then a 3-point rule") {
    p.channels[0].max_rf_hz = 20000.0;
    const GrapeResult r = optimise(p, go);
    CHECK(r.summary.auto_stages);
    CHECK(r.summary.coarse_factor == 0);
    CHECK(r.summary.nominal_first);
    CHECK(r.summary.quadrature_points == 3);
    CHECK(r.summary.starts.at(0).coarse_evaluations == 0);
    CHECK(r.summary.reached_target);
    verified(r);
  }
  SUBCASE("unequal weights: no rule; one B1 scale: neither rule nor centre stage") {
    p.channels[0].max_rf_hz = 20000.0;
    p.ensemble[0].weight = 2.0;
    const GrapeResult w = optimise(p, go);
    CHECK(w.summary.nominal_first);
    CHECK(w.summary.quadrature_points == 0);
    GrapeProblem one = p;
    one.ensemble = {{1.0, -10.0, 1.0, {}}, {1.0, 10.0, 1.0, {}}};
    const GrapeResult r1 = optimise(one, go);
    CHECK(r1.summary.auto_stages);
    CHECK_FALSE(r1.summary.nominal_first);
    CHECK(r1.summary.quadrature_points == 0);
  }
  SUBCASE("a stage set by hand is used alone; auto_stages off searches on the grid itself") {
    go.coarse_factor = 4;
    const GrapeResult hand = optimise(p, go);
    CHECK_FALSE(hand.summary.auto_stages);
    CHECK(hand.summary.coarse_factor == 4);
    CHECK(hand.summary.quadrature_points == 0);
    CHECK_FALSE(hand.summary.nominal_first);
    go.coarse_factor = 0;
    go.auto_stages = false;
    const GrapeResult plain = optimise(p, go);
    CHECK_FALSE(plain.summary.auto_stages);
    CHECK(plain.summary.coarse_factor == 0);
    CHECK(plain.summary.quadrature_points == 0);
    CHECK(plain.summary.starts.at(0).coarse_evaluations == 0);
    CHECK(plain.summary.reached_target);
    verified(plain);
  }
}

// A high target adds the endgame (Plan::endgame_power): past the handover on the B1 rule, the
// worst-member objective on the range's ends and centre, then the grid; the pulse verified there.
TEST_CASE("GRAPE chooses a worst-member endgame for a target of 0.9999 or more") {
  const Molecule m = parse_molecule(kThreeSpin, "three_spin.yaml");
  const GateTarget t = make(
      m, {{"gate", "rotation"}, {"spins", {"A"}}, {"angle_rad", kPi / 2}, {"phase_rad", kPi / 2}});
  CompileOptions o;
  o.duration_s = 2e-3;
  o.steps = 40;
  o.b1_scale = {0.98, 0.99, 1.0, 1.01, 1.02};
  const GrapeProblem p = build_problem(m, t, o);
  GrapeOptions go = seed3_options(1);
  go.fidelity_target = 0.9999;
  const GrapeResult r = optimise(p, go);
  CHECK(r.summary.auto_stages);
  CHECK(r.summary.coarse_factor == 2);
  CHECK(r.summary.quadrature_points == 2);
  CHECK(r.summary.endgame_power == 4);
  // A unitary target: Levenberg-Marquardt on the members' unitary residuals past an earlier
  // handover (1 - 100 (1 - target)), then, should it stall, unbounded L-BFGS with a long memory;
  // the RF limit kept by the penalty and the final clip.
  CHECK(r.summary.endgame_gauss_newton);
  CHECK(r.summary.endgame_handover == doctest::Approx(0.99));
  CHECK(r.summary.full_report().find("an endgame past F_min 0.99000") != std::string::npos);
  CHECK(r.summary.endgame_memory == 1000);
  REQUIRE(r.summary.best_start >= 0);
  const StartSummary& best = r.summary.starts.at(r.summary.best_start);
  CHECK(best.endgame_evaluations > 0);
  CHECK(best.gauss_newton_jacobians > 0);
  CHECK(best.iterations >= best.gauss_newton_jacobians);
  CHECK(r.summary.full_report().find("(Levenberg-Marquardt on the members' unitary residuals, "
                                     "then unbounded L-BFGS, 1000 corrections)") !=
        std::string::npos);
  CHECK(r.summary.reached_target);
  std::vector<double> f;
  ensemble_objective(p, r.u_hz, nullptr, &f, 1);
  REQUIRE(f.size() == 5);
  for (double v : f) CHECK(v >= 0.9999);
  for (Eigen::Index k = 0; k < r.u_hz.cols(); ++k)
    CHECK(std::hypot(r.u_hz(0, k), r.u_hz(1, k)) <= p.channels[0].max_rf_hz * (1 + 1e-12));
  go.fidelity_target = 0.999;  // below the endgame's range: the stages of before
  const GrapeResult low = optimise(p, go);
  CHECK(low.summary.endgame_power == 0);
  CHECK(low.summary.endgame_memory == 0);
  CHECK(low.summary.full_report().find("endgame") == std::string::npos);
  go.fidelity_target = 0.9999;
  go.coarse_factor = 2;  // hand-set stages: no endgame
  CHECK(optimise(p, go).summary.endgame_power == 0);
  // A state transfer (norm = the pairs, not d): no unitary residual; the L-BFGS endgame past
  // 1 - 3 (1 - target) as before.
  const GateTarget st = make(m, {{"gate", "state_transfer"},
                                 {"spins", {"A"}},
                                 {"transfers", {{{"from", "0"}, {"to", "+"}}}}});
  GrapeOptions so = seed3_options(1);
  so.fidelity_target = 0.9999;
  so.max_iterations = 5;
  const GrapeResult sr = optimise(build_problem(m, st, o), so);
  CHECK(sr.summary.endgame_power == 4);
  CHECK_FALSE(sr.summary.endgame_gauss_newton);
  CHECK(sr.summary.endgame_handover == doctest::Approx(0.9997));
  CHECK(sr.summary.full_report().find("(unbounded L-BFGS, 1000 corrections)") != std::string::npos);
}

// The summary's iterations are L-BFGS-B's (one line search each), and only LBFGS++'s line-search
// failure is caught: anything thrown from inside an evaluation reaches the caller.
TEST_CASE("GRAPE iterations are counted honestly; an evaluation's exception is not a line search") {
  const GrapeProblem ps = selective_rotation_problem(2e-4, 8);  // cannot reach the target
  GrapeOptions go = seed3_options(1);
  go.threads = 1;
  go.stall_evaluations = 0;
  go.max_iterations = 7;
  go.auto_stages = false;
  const GrapeResult r = optimise(ps, go);
  CHECK(r.summary.termination == Termination::kIterationLimit);
  CHECK(r.summary.iterations == 7);
  CHECK(r.summary.starts.at(0).iterations == 7);
  CHECK(r.summary.evaluations >= 8);  // the start point and at least one per line search
  const ProgressCallback fails = [](const GrapeProgress& g) {
    if (g.evaluations == 3) throw std::runtime_error("callback failed");
  };
  CHECK_THROWS_WITH_AS(optimise(ps, go, fails), "callback failed", std::runtime_error);
  const ProgressCallback no_memory = [](const GrapeProgress& g) {
    if (g.evaluations == 3) throw std::bad_alloc();
  };
  CHECK_THROWS_AS(optimise(ps, go, no_memory), std::bad_alloc);
}

TEST_CASE("GRAPE warm start: start 0 begins from given amplitudes") {
  const GrapeProblem p = selective_rotation_problem();
  GrapeOptions go = seed3_options(1);
  const GrapeResult solved = optimise(p, go);
  REQUIRE(solved.summary.reached_target);
  SUBCASE("from a solved pulse: the target at the first evaluation") {
    go.initial_u = solved.u_hz;
    const GrapeResult again = optimise(p, go);
    CHECK(again.summary.reached_target);
    CHECK(again.summary.evaluations == 1);
    CHECK(again.summary.starts.at(0).initial == "warm");
    CHECK((again.u_hz - solved.u_hz).cwiseAbs().maxCoeff() <= 1e-9);  // via kHz and back
  }
  SUBCASE("amplitudes beyond the RF limit are clipped before the search") {
    go.initial_u = 3.0 * solved.u_hz;
    go.initial_u(0, 5) = 1e6;
    const GrapeResult r = optimise(p, go);
    for (int k = 0; k < p.steps; ++k)
      CHECK(std::hypot(r.u_hz(0, k), r.u_hz(1, k)) <= p.channels[0].max_rf_hz * (1 + 1e-12));
  }
  SUBCASE("the wrong shape or a non-finite amplitude is refused") {
    go.initial_u = RMat::Zero(2, p.steps - 1);
    CHECK_THROWS_WITH_AS(
        optimise(p, go),
        doctest::Contains("initial_u: 2 x 39 amplitudes, the problem needs 2 x 40"), InputError);
    go.initial_u = solved.u_hz;
    go.initial_u(1, 3) = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH_AS(optimise(p, go), doctest::Contains("not a finite number"), InputError);
  }
}

namespace {

// A team of threads standing in for MPI ranks (compiler/team.hpp; the CLI's is MPI's, cli/
// mpi_team.cpp): allgather and broadcast through shared slots between two barriers.
struct ThreadTeamState {
  explicit ThreadTeamState(int n)
      : sync(n), slots(n), counts(n), texts(n), colors(n), children(n) {}
  std::barrier<> sync;
  std::vector<std::vector<double>> slots;
  std::vector<int> counts;
  std::string text;
  std::vector<std::string> texts;
  std::mutex post_mutex;  // post: each rank's inbox
  std::vector<std::vector<int>> inbox = std::vector<std::vector<int>>(slots.size());
  std::vector<int> colors;  // split: each rank's color, and the state of its new team
  std::vector<std::shared_ptr<ThreadTeamState>> children;
};

class ThreadTeam final : public Team {
 public:
  ThreadTeam(ThreadTeamState& s, int rank, std::shared_ptr<ThreadTeamState> own = nullptr)
      : s_(s), rank_(rank), own_(std::move(own)) {}
  void post(int value) override {
    std::lock_guard<std::mutex> lock(s_.post_mutex);
    for (int r = 0; r < size(); ++r)
      if (r != rank_) s_.inbox[r].push_back(value);
  }
  std::vector<int> take_posts() override {
    std::lock_guard<std::mutex> lock(s_.post_mutex);
    return std::exchange(s_.inbox[rank_], {});
  }
  void end_posts() override {
    s_.sync.arrive_and_wait();
    {
      std::lock_guard<std::mutex> lock(s_.post_mutex);
      s_.inbox[rank_].clear();
    }
    s_.sync.arrive_and_wait();
  }
  std::unique_ptr<Team> split(int color) override {
    s_.colors[rank_] = color;
    s_.sync.arrive_and_wait();
    if (rank_ == 0) {  // one state per color, shared by its ranks
      std::map<int, std::shared_ptr<ThreadTeamState>> made;
      for (int r = 0; r < size(); ++r) {
        auto& st = made[s_.colors[r]];
        if (!st)
          st = std::make_shared<ThreadTeamState>(
              static_cast<int>(std::count(s_.colors.begin(), s_.colors.end(), s_.colors[r])));
        s_.children[r] = st;
      }
    }
    s_.sync.arrive_and_wait();
    const int sub =
        static_cast<int>(std::count(s_.colors.begin(), s_.colors.begin() + rank_, color));
    auto team = std::make_unique<ThreadTeam>(*s_.children[rank_], sub, s_.children[rank_]);
    s_.sync.arrive_and_wait();
    return team;
  }
  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(s_.slots.size()); }
  void allgather(const std::vector<double>& mine, const std::vector<int>& counts,
                 std::vector<double>& all) override {
    s_.slots[rank_] = mine;
    s_.counts[rank_] = counts[rank_];
    s_.sync.arrive_and_wait();
    all.clear();
    for (int r = 0; r < size(); ++r) {
      CHECK(static_cast<int>(s_.slots[r].size()) == counts[r]);  // every rank agrees on counts
      all.insert(all.end(), s_.slots[r].begin(), s_.slots[r].end());
    }
    ++collectives;
    s_.sync.arrive_and_wait();
  }
  void broadcast(std::string& text) override {
    if (rank_ == 0) s_.text = text;
    s_.sync.arrive_and_wait();
    text = s_.text;
    s_.sync.arrive_and_wait();
  }
  void gather(const std::string& mine, std::vector<std::string>& all) override {
    s_.texts[rank_] = mine;
    s_.sync.arrive_and_wait();
    all.clear();
    if (rank_ == 0) all = s_.texts;
    s_.sync.arrive_and_wait();
  }
  double bytes_moved() const override { return 0; }
  double seconds_in_collectives() const override { return 0; }
  int collectives = 0;

 private:
  ThreadTeamState& s_;
  int rank_;
  std::shared_ptr<ThreadTeamState> own_;  // a split's state, kept alive by its ranks
};

// optimise() on `n` ranks of a thread team; each rank's result. `stop_rank_after`: that rank
// (index 0) asks to stop after this many evaluations (0: never).
std::vector<GrapeResult> optimise_on_team(const GrapeProblem& p, const GrapeOptions& o, int n,
                                          int stop_after = 0, int* collectives = nullptr) {
  ThreadTeamState state(n);
  std::vector<std::unique_ptr<ThreadTeam>> teams;
  for (int r = 0; r < n; ++r) teams.push_back(std::make_unique<ThreadTeam>(state, r));
  std::vector<GrapeResult> out(n);
  std::atomic<bool> stop{false};
  {
    std::vector<std::jthread> ranks;
    for (int r = 0; r < n; ++r)
      ranks.emplace_back([&, r] {
        GrapeOptions mine = o;
        mine.team = teams[r].get();
        mine.threads = 1;
        if (r == n - 1 && stop_after > 0) mine.stop = &stop;  // this rank alone is asked to stop
        ProgressCallback cb;
        if (r == n - 1 && stop_after > 0)
          cb = [&](const GrapeProgress& g) {
            if (g.evaluations >= stop_after) stop = true;
          };
        out[r] = optimise(p, mine, cb);
      });
  }
  if (collectives) *collectives = teams[0]->collectives;
  return out;
}

// Every rank's result is one process's, bit for bit: the pulse, the fidelities, the evaluations,
// the chosen start and each start's.
void check_as_alone(const std::vector<GrapeResult>& team, const GrapeResult& alone) {
  for (const auto& r : team) {
    CHECK((r.u_hz - alone.u_hz).cwiseAbs().maxCoeff() == 0.0);
    CHECK(r.summary.fidelity == alone.summary.fidelity);
    CHECK(r.summary.fidelity_min == alone.summary.fidelity_min);
    CHECK(r.summary.fine_fidelity_min == alone.summary.fine_fidelity_min);
    CHECK(r.summary.evaluations == alone.summary.evaluations);
    CHECK(r.summary.best_start == alone.summary.best_start);
    CHECK(r.summary.reached_target == alone.summary.reached_target);
    REQUIRE(r.summary.starts.size() == alone.summary.starts.size());
    for (size_t s = 0; s < r.summary.starts.size(); ++s) {
      CHECK(r.summary.starts[s].start == alone.summary.starts[s].start);
      CHECK(r.summary.starts[s].evaluations == alone.summary.starts[s].evaluations);
      CHECK(r.summary.starts[s].fidelity_min == alone.summary.starts[s].fidelity_min);
    }
  }
}

}  // namespace

namespace {

// share_items on `n` ranks of a thread team (n = 0: no team). Item i's text names i; `fail_at`:
// the item whose produce throws `what` ('i' InputError, 'x' runtime_error), or whose consume
// throws a ResourceError ('c'). Returns what rank 0 consumed and, per rank, what it threw
// ("" none, else kind letter + message).
struct ShareOutcome {
  std::vector<std::string> consumed;
  std::vector<int> produced_by;
  std::vector<std::string> thrown;
};
ShareOutcome share_on_team(int n, std::size_t items, std::size_t fail_at = 1000, char what = 'i') {
  ShareOutcome o;
  o.produced_by.assign(items, -1);
  const int ranks = std::max(n, 1);
  o.thrown.assign(ranks, "");
  std::mutex mu;
  auto body = [&](Team* team, int r) {
    try {
      share_items(
          team, items,
          [&](std::size_t i) {
            {
              std::lock_guard<std::mutex> lock(mu);
              o.produced_by[i] = r;
            }
            if (i == fail_at && what == 'i') throw InputError("item " + std::to_string(i));
            if (i == fail_at && what == 'x') throw std::runtime_error("item " + std::to_string(i));
            return "text of " + std::to_string(i);
          },
          [&](std::size_t i, const std::string& text) {
            if (i == fail_at && what == 'c') throw ResourceError("disk " + std::to_string(i));
            std::lock_guard<std::mutex> lock(mu);
            o.consumed.push_back(std::to_string(i) + ": " + text + " on " + std::to_string(r));
          });
    } catch (const InputError& e) {
      o.thrown[r] = std::string("i") + e.what();
    } catch (const ResourceError& e) {
      o.thrown[r] = std::string("r") + e.what();
    } catch (const std::runtime_error& e) {
      o.thrown[r] = std::string("x") + e.what();
    }
  };
  if (n == 0) {
    body(nullptr, 0);
    return o;
  }
  ThreadTeamState state(n);
  std::vector<std::unique_ptr<ThreadTeam>> teams;
  for (int r = 0; r < n; ++r) teams.push_back(std::make_unique<ThreadTeam>(state, r));
  {
    std::vector<std::jthread> threads;
    for (int r = 0; r < n; ++r) threads.emplace_back([&, r] { body(teams[r].get(), r); });
  }  // joined here
  return o;
}

}  // namespace

TEST_CASE(
    "share_items: items across ranks, consumed by rank 0 in order, failures as in one process") {
  std::vector<std::string> order;
  for (std::size_t i = 0; i < 7; ++i)
    order.push_back(std::to_string(i) + ": text of " + std::to_string(i) + " on 0");
  for (int n : {0, 1, 2, 3, 4, 9}) {  // 9: more ranks than items
    CAPTURE(n);
    const ShareOutcome o = share_on_team(n, 7);
    CHECK(o.consumed == order);
    for (std::size_t i = 0; i < 7; ++i) CHECK(o.produced_by[i] == (n > 1 ? int(i) % n : 0));
    for (const auto& t : o.thrown) CHECK(t.empty());
  }
  const std::vector<std::string> first_four(order.begin(), order.begin() + 4);
  for (int n : {0, 2, 3}) {
    CAPTURE(n);
    // bad input in item 4 on whichever rank: items 0-3 written, every rank reports item 4's
    ShareOutcome o = share_on_team(n, 7, 4, 'i');
    CHECK(o.consumed == first_four);
    for (const auto& t : o.thrown) CHECK(t == "iitem 4");
    // an internal error: rank 0 throws it as one (the others stop quietly, as for bad input)
    o = share_on_team(n, 7, 4, 'x');
    CHECK(o.consumed == first_four);
    CHECK(o.thrown[0] == "xitem 4");
    for (std::size_t r = 1; r < o.thrown.size(); ++r) CHECK(o.thrown[r] == "iitem 4");
    // rank 0 cannot write item 4: the same stop
    o = share_on_team(n, 7, 4, 'c');
    CHECK(o.consumed == first_four);
    CHECK(o.thrown[0] == "rdisk 4");
    for (std::size_t r = 1; r < o.thrown.size(); ++r) CHECK(o.thrown[r] == "idisk 4");
  }
}

TEST_CASE("GRAPE shared by a team of ranks is bit-identical to one process for any size") {
  const GrapeProblem p = wide_b1_problem();  // 10 members (5 B1 x 2 offsets)
  GrapeOptions o = seed3_options(2);
  o.fidelity_target = 0.9999;  // out of reach: both starts run to their iteration limit
  o.max_iterations = 25;
  o.threads = 2;
  const GrapeResult alone = optimise(p, o);
  REQUIRE(alone.summary.starts.size() == 2);
  for (int n : {2, 3, 4, 11}) {  // 11: more ranks than members (one rank has none)
    CAPTURE(n);
    int collectives = 0;
    const auto team = optimise_on_team(p, o, n, 0, &collectives);
    check_as_alone(team, alone);
    for (const auto& r : team) CHECK(r.summary.ranks == n);
    // One collective per evaluation, plus a few per start (its vote, its final evaluations)
    // and the summary's: never two per evaluation while every rank has members. With more
    // ranks than members (11) the members' time slices are dealt to the ranks: two per
    // gradient evaluation (the slices' propagators, then the gradient columns).
    int evaluations = 0;
    for (const auto& s : alone.summary.starts) evaluations += s.evaluations + s.coarse_evaluations;
    CHECK(collectives >= evaluations);
    CHECK(collectives <= (n > 10 ? 2 : 1) * evaluations + 20);
    if (n > 10) CHECK(collectives > evaluations + 20);
  }
}

TEST_CASE("GRAPE time slices dealt to ranks are bit-identical to one process for any size") {
  // One and two B1 members, two slices (the rule's, d = 8) and five (forced), one start shared
  // by every rank and two starts dealt to groups of ranks (a group of more ranks than members
  // shares slices): every rank's pulse, fidelities and evaluation counts are one process's.
  for (int members : {1, 2})
    for (int slices : {0, 5})
      for (int starts : {1, 2}) {
        CAPTURE(members);
        CAPTURE(slices);
        CAPTURE(starts);
        const Molecule m = parse_molecule(kThreeSpin, "three_spin.yaml");
        const GateTarget t = make(m, {{"gate", "rotation"},
                                      {"spins", {"A"}},
                                      {"angle_rad", kPi / 2},
                                      {"phase_rad", kPi / 2}});
        CompileOptions co = wide_b1_options();
        co.offset_hz = {0.0};
        co.b1_scale = members == 1 ? std::vector<double>{1.0} : std::vector<double>{0.95, 1.05};
        GrapeProblem p = build_problem(m, t, co);
        p.time_slices = slices;
        REQUIRE(time_slice_count(p) == (slices == 0 ? 2 : 5));
        GrapeOptions o = seed3_options(starts);
        o.fidelity_target = 0.99999;  // out of reach: every start runs to its iteration limit
        o.max_iterations = 12;
        o.threads = 2;
        const GrapeResult alone = optimise(p, o);
        REQUIRE(!alone.summary.reached_target);
        int evaluations = 0;
        for (const auto& s : alone.summary.starts)
          evaluations += s.evaluations + s.coarse_evaluations;
        for (int n : {2, 3, 4, 5}) {
          CAPTURE(n);
          int collectives = 0;
          check_as_alone(optimise_on_team(p, o, n, 0, &collectives), alone);
          // A team of one start whose ranks slicing lightens (n > members and
          // ceil(members S / n) < S): two collectives per gradient evaluation (the
          // propagators, the gradient columns), never more; otherwise one.
          const int s_count = time_slice_count(p);
          const bool sliced = n > members && (members * s_count + n - 1) / n < s_count;
          if (starts == 1 && !sliced) CHECK(collectives <= evaluations + 20);
          if (starts == 1 && sliced) {
            CHECK(collectives > evaluations + 20);
            CHECK(collectives <= 2 * evaluations + 20);
          }
        }
      }
}

TEST_CASE("GRAPE time slices of a 6-spin member (d = 64, four slices by the rule) on ranks") {
  // The rule's own S > 2: crotonic acid's 6 spins, 400 steps (79 MB of per-step storage: four
  // slices of 100 steps), one member on 2 and 3 ranks against one process, two iterations.
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid_6.yaml"));
  const GateTarget t =
      make(m, {{"gate", "partial_swap"}, {"spins", {"C1", "C4"}}, {"theta_rad", 0.2}});
  CompileOptions co;
  co.duration_s = 4e-3;
  co.steps = 400;
  co.b1_scale = {1.0};
  const GrapeProblem p = build_problem(m, t, co);
  REQUIRE(p.drift.rows() == 64);
  REQUIRE(time_slice_count(p) == 4);
  GrapeOptions o = seed3_options(1);
  o.fidelity_target = 0.99999;
  o.max_iterations = 2;
  o.auto_stages = false;  // every evaluation on the 400 steps
  o.threads = 2;
  const GrapeResult alone = optimise(p, o);
  for (int n : {2, 3}) {
    CAPTURE(n);
    check_as_alone(optimise_on_team(p, o, n), alone);
  }
}

TEST_CASE("GRAPE time slices: the combination of S slices and its gradient") {
  const Molecule m = parse_molecule(kThreeSpin, "three_spin.yaml");
  SUBCASE("correctness") {
    // The gradient of the S-slice combination against finite differences, strict and up to
    // diagonal phases (W' = (W D)^dag), three B1 members; the objective and gradient agree with
    // one slice (the evaluator's plain product) to rounding.
    const GateTarget swap = make(m, {{"gate", "partial_swap"},
                                     {"spins", {"A", "C"}},
                                     {"theta_rad", 0.2},
                                     {"up_to", "diagonal_phases"}});
    const GateTarget rot = make(
        m,
        {{"gate", "rotation"}, {"spins", {"B"}}, {"angle_rad", kPi / 2}, {"phase_rad", kPi / 2}});
    CompileOptions o = small_options();
    o.b1_scale = {0.97, 1.0, 1.03};
    for (const GateTarget* t : {&swap, &rot})
      for (int slices : {3, 5, 12}) {
        CAPTURE(slices);
        GrapeProblem p = build_problem(m, *t, o);
        p.time_slices = slices;
        REQUIRE(time_slice_count(p) == slices);
        check_gradient(p, 40 + static_cast<unsigned>(slices));
        std::mt19937 rng(7);
        std::uniform_real_distribution<double> uni(-3000.0, 3000.0);
        RMat u(2, p.steps);
        for (int i = 0; i < u.size(); ++i) u.data()[i] = uni(rng);
        RMat g_s, g_1, g_s1;
        std::vector<double> f_s, f_1;
        const double j_s = ensemble_objective(p, u, &g_s, &f_s, 2);
        CHECK(ensemble_objective(p, u, &g_s1, nullptr, 1) == j_s);  // threads: the same bits
        CHECK((g_s1 - g_s).cwiseAbs().maxCoeff() == 0.0);
        GrapeProblem one = p;
        one.time_slices = 1;
        const double j_1 = ensemble_objective(one, u, &g_1, &f_1, 1);
        CHECK(std::abs(j_s - j_1) <= 1e-13);
        CHECK((g_s - g_1).cwiseAbs().maxCoeff() <= 1e-12 * g_1.cwiseAbs().maxCoeff());
        for (size_t i = 0; i < f_1.size(); ++i) CHECK(std::abs(f_s[i] - f_1[i]) <= 1e-13);
      }
    // The rule: two slices below d = 64 whatever the steps (the shipped programs' pulses), more
    // from d = 64 on by the per-step storage, one for one step.
    GrapeProblem p = build_problem(m, rot, o);
    CHECK(time_slice_count(p) == 2);
    p.steps = 100000;
    CHECK(time_slice_count(p) == 2);
    p.steps = 1;
    CHECK(time_slice_count(p) == 1);
    p.drift = Mat::Zero(64, 64);
    p.steps = 200;  // 39 MB: two of 20 MB
    CHECK(time_slice_count(p) == 2);
    p.steps = 400;  // 79 MB: four of 20 MB
    CHECK(time_slice_count(p) == 4);
    p.drift = Mat::Zero(128, 128);
    p.steps = 200;  // 7 spins, 157 MB: eight
    CHECK(time_slice_count(p) == 8);
    p.steps = 100000;
    CHECK(time_slice_count(p) == 16);
    p.drift = Mat::Zero(1024, 1024);
    p.steps = 10;  // 503 MB: sixteen, but no more than the steps
    CHECK(time_slice_count(p) == 10);
  }
  SUBCASE("validation") {
    GrapeProblem p = build_problem(
        m, make(m, {{"gate", "zz"}, {"spins", {"A", "B"}}, {"theta_rad", 0.7}}), small_options());
    p.time_slices = -1;
    CHECK_THROWS_WITH_AS(p.validate(), doctest::Contains("time_slices = -1: must be between 0"),
                         InputError);
  }
}

TEST_CASE("GRAPE on a team: a stop asked of one rank ends every rank together") {
  const GrapeProblem p = wide_b1_problem();
  GrapeOptions o = seed3_options(2);
  o.fidelity_target = 0.9999;
  o.max_iterations = 200;
  const auto team = optimise_on_team(p, o, 3, 12);
  for (const auto& r : team) {
    CHECK((r.u_hz - team[0].u_hz).cwiseAbs().maxCoeff() == 0.0);
    CHECK(r.summary.evaluations == team[0].summary.evaluations);
    CHECK(r.summary.evaluations <= 14);  // the vote is acted on at the next evaluation
  }
  CHECK(team[2].summary.termination == Termination::kInterrupted);
}

namespace {

// Runs body(team, rank) on `n` ranks of a thread team.
void on_thread_team(int n, const std::function<void(Team*, int)>& body) {
  ThreadTeamState state(n);
  std::vector<std::unique_ptr<ThreadTeam>> teams;
  for (int r = 0; r < n; ++r) teams.push_back(std::make_unique<ThreadTeam>(state, r));
  std::vector<std::jthread> threads;
  for (int r = 0; r < n; ++r) threads.emplace_back([&, r] { body(teams[r].get(), r); });
}

}  // namespace

TEST_CASE("share_items_in_groups: each item on one group of ranks, consumed by rank 0 in order") {
  for (int n : {2, 3, 5}) {
    for (int groups = 1; groups <= n; ++groups) {
      CAPTURE(n);
      CAPTURE(groups);
      for (std::size_t fail_at : {std::size_t{100}, std::size_t{4}}) {
        std::mutex mu;
        std::vector<std::string> consumed;
        std::vector<std::string> thrown(n);
        std::vector<std::vector<int>> producers(7);  // the ranks that produced each item
        on_thread_team(n, [&](Team* team, int r) {
          try {
            share_items_in_groups(
                team, 7, groups,
                [&](std::size_t i, Team* group) {
                  // The group's own collective: its leader's word reaches its ranks only.
                  std::string word = "group of " + std::to_string(r);
                  if (group) group->broadcast(word);
                  {
                    std::lock_guard<std::mutex> lock(mu);
                    producers[i].push_back(r);
                  }
                  if (i == fail_at) throw InputError("item " + std::to_string(i));
                  return std::to_string(i) + " by " + word + " of " +
                         std::to_string(group ? group->size() : 1);
                },
                [&](std::size_t i, const std::string& text) {
                  std::lock_guard<std::mutex> lock(mu);
                  consumed.push_back(std::to_string(i) + ": " + text + " on " + std::to_string(r));
                });
          } catch (const InputError& e) {
            thrown[r] = e.what();
          }
        });
        const std::size_t expect = fail_at < 7 ? fail_at : 7;
        REQUIRE(consumed.size() == expect);
        for (std::size_t i = 0; i < expect; ++i) {
          const int g = static_cast<int>(i) % groups;  // its group: ranks g, g + groups, ...
          const int size = (n - g + groups - 1) / groups;
          CHECK(consumed[i] == std::to_string(i) + ": " + std::to_string(i) + " by group of " +
                                   std::to_string(g) + " of " + std::to_string(size) + " on 0");
          std::vector<int> ranks;
          for (int r = g; r < n; r += groups) ranks.push_back(r);
          std::sort(producers[i].begin(), producers[i].end());
          CHECK(producers[i] == ranks);
        }
        for (const auto& t : thrown) CHECK(t == (fail_at < 7 ? "item 4" : ""));
      }
    }
  }
}

TEST_CASE("compile_program on a team: gates dealt to groups of ranks, bit-identical pulses") {
  // Three gates (the second misses its target: both its starts run to their end), so 2 ranks
  // take gates 0, 2 and 1; 3 ranks one each; 4 ranks: gate 0 on ranks 0 and 3 (sharing its
  // members), the others alone.
  const char* text = R"(
molecule: crotonic_acid.yaml
compile: {duration_s: 0.002, steps: 60, starts: 2, seed: 3, fidelity_target: 0.995,
          ensemble: {b1_scale: [0.97, 1.0, 1.03]}}
elements:
  - gate: {name: ry_c4, type: rotation, spins: [C4], angle_deg: 90, axis: y}
  - gate: {name: rx_c1, type: rotation, spins: [C1], angle_deg: 180, axis: x,
           compile: {fidelity_target: 0.99999, max_iterations: 20}}
  - gate: {name: ry_c2, type: rotation, spins: [C2], angle_deg: 90, axis: y}
)";
  Program alone_prog = parse_program(text, "p.yaml", ref::source_path("molecules"));
  ProgramCompileOptions po;
  po.threads = 1;
  const std::vector<GateOutcome> alone = compile_program(alone_prog, po);
  REQUIRE(alone.size() == 3);
  for (int n : {2, 3, 4}) {
    CAPTURE(n);
    std::vector<std::vector<GateOutcome>> outs(n);
    std::vector<Program> progs(n, parse_program(text, "p.yaml", ref::source_path("molecules")));
    std::vector<std::vector<int>> called(n);
    on_thread_team(n, [&](Team* team, int r) {
      ProgramCompileOptions mine = po;
      mine.team = team;
      mine.on_gate = [&called, r](const GateOutcome&, int index, int) {
        called[r].push_back(index);
      };
      outs[r] = compile_program(progs[r], mine);
    });
    REQUIRE(outs[0].size() == 3);
    CHECK(called[0] == std::vector<int>{1, 2, 3});  // rank 0, in the program's order
    for (int r = 1; r < n; ++r) CHECK(outs[r].empty());
    for (int g = 0; g < 3; ++g) {
      const GateOutcome& a = alone[g];
      const GateOutcome& b = outs[0][g];
      CHECK(b.job->name == a.job->name);
      CHECK(pulse_file_text(b.result.pulse) == pulse_file_text(a.result.pulse));
      CHECK(b.result.summary.evaluations == a.result.summary.evaluations);
      CHECK(b.result.summary.best_start == a.result.summary.best_start);
      CHECK(b.result.summary.fine_fidelity_min == a.result.summary.fine_fidelity_min);
      REQUIRE(b.validation);
      CHECK(b.validation->values == a.validation->values);
      CHECK(b.passed() == a.passed());
    }
    CHECK_FALSE(outs[0][1].passed());
  }
}

TEST_CASE("GRAPE starts dealt to groups of ranks: one process's start and pulse, bit-identical") {
  // One member: N ranks form min(starts, N) groups (start_groups), start s on group s % G.
  GrapeProblem p = wide_b1_problem();
  p.ensemble = {p.ensemble[4]};  // B1 1.0, offset -10 Hz
  // Cases: every start misses (the best F_min chosen), start 0 reaches, and a later start
  // reaches after the ones before it missed (found by a scan of seeds: the lower starts must run
  // to their end on their groups while the later one's group stops its further starts).
  auto options = [](double target, int iterations, unsigned long seed) {
    GrapeOptions o = seed3_options(4);
    o.seed = seed;
    o.fidelity_target = target;
    o.max_iterations = iterations;
    o.threads = 1;
    o.coarse_factor = 0;
    o.auto_stages = false;
    return o;
  };
  std::vector<GrapeOptions> cases = {options(0.99999, 12, 3), options(0.99, 200, 3)};
  bool later = false;
  for (unsigned long seed = 1; seed <= 40 && !later; ++seed)
    for (double target : {0.999, 0.9999, 0.99999})
      for (int iterations : {8, 15, 30, 60}) {
        const GrapeOptions o = options(target, iterations, seed);
        const Summary sm = optimise(p, o).summary;
        if (!later && sm.reached_target && sm.best_start > 0) {
          cases.push_back(o);
          later = true;
        }
      }
  REQUIRE(later);
  bool saw_miss = false, saw_first = false;
  for (const GrapeOptions& o : cases) {
    CAPTURE(o.fidelity_target);
    CAPTURE(o.max_iterations);
    CAPTURE(o.seed);
    const GrapeResult alone = optimise(p, o);
    saw_miss = saw_miss || !alone.summary.reached_target;
    saw_first = saw_first || (alone.summary.reached_target && alone.summary.best_start == 0);
    for (int n : {2, 3, 4, 5}) {
      CAPTURE(n);
      check_as_alone(optimise_on_team(p, o, n), alone);
    }
  }
  CHECK(saw_miss);
  CHECK(saw_first);
}
