// A local gate on a 12-spin register by the subsystem approach, verified on the full register
// (issue 30 item 4; results in bench/results/scaling.md, "12 spins").
//
// The gate: a rotation about x by --angle on one carbon (--target), the identity on the other
// spins of its channel, the other channel's spins (the protons) left to their own free evolution:
// W = R_x(angle) (x) 1_carbons (x) exp(-i H_H T), H_H the protons' Zeeman and H-H terms. The
// pulse is on the target's channel only.
//
// GRAPE on subsystems (the subsystem approach of Li et al., arXiv:1910.02061): every subsystem
// is the target carbon with two other carbons, one subsystem per pair of non-target carbons
// coupled by at least --pair-j Hz (and one for each carbon in no such pair, with its most strongly
// coupled partner), so that each strong carbon-carbon coupling is inside some subsystem and every
// carbon is in one. All subsystems contain the target, so the 3-spin target is the same on each
// (R_x (x) 1 (x) 1) and they are members of one GRAPE ensemble. Approximations of the model
// (what the full-register check measures):
//  - weak coupling inside a subsystem (carbon-carbon ZZ; the drift is then diagonal and each
//    member is its diagonal, EnsembleMember::drift_diag, on a zero drift);
//  - the protons are static Ising fields on the subsystem's carbons: one member per
//    configuration of the protons coupled to the subsystem by at least --j-cut Hz (exact for
//    heteronuclear ZZ with the protons undriven, but for the H-H flip-flops that change their
//    configuration), weighted by its multiplicity;
//  - couplings to carbons outside a subsystem are left out of it (each strong one is inside
//    another subsystem; the weak ones, below --pair-j, are in no subsystem unless both carbons
//    happen to share one).
// The full-register check propagates Haar-random states through the pulse with the exact
// Hamiltonian (homonuclear J I.I, heteronuclear ZZ; core/sparse_propagation.hpp, Lanczos):
// <psi|W^dag U|psi> has mean Tr(W^dag U)/d over Haar states, the gate fidelity's definition
// F = |Tr(W^dag U)|/d; its statistical error is the standard error of the sample mean.
//
// Usage: subsystem_gate MOLECULE.yaml [options]
//   --target C1 --angle 90 (degrees) --duration 0.002 --steps 200 --max-rf 10000 (Hz)
//   --pair-j 15 --j-cut 0 (Hz) --fidelity 0.999 --starts 2 --seed 1 --threads 2
//   --time-limit 1800 --states 16 --state-seed 7 --pulse-out FILE (nmrc-pulse/1)
//   --pulse FILE (verify this pulse instead of compiling one)
//   --hamiltonian exact|weak|model: the full register's Hamiltonian for the check: exact
//   (default), weak (Ising everywhere: no flip-flop terms) or model (weak, and only the
//   couplings the subsystem model has: within subsystems and carbon-proton), to tell apart
//   what the model leaves out (flip-flops, carbon pairs in no subsystem) from the errors of
//   the subsystems' pulse adding up over the register's carbons; carbon-flip-flops: weak but
//   for the carbons' flip-flop terms (the protons' flip-flops are then exact minus this)
// Prints the subsystems, GRAPE's summary, per-subsystem fidelities, the full-register estimate,
// times (wall and CPU) and the projected cost of full-space GRAPE (bench/results/scaling.md).
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "nmrc/compiler/grape.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/parallel.hpp"
#include "nmrc/core/propagators.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "nmrc/core/sparse_propagation.hpp"
#include "timer.hpp"

using namespace nmrc;
using namespace nmrc::compiler;

namespace {

double cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

struct Subsystem {
  std::vector<int> spins;       // the target first
  std::vector<int> protons;     // outside spins entering as configurations
  std::vector<size_t> members;  // its ensemble members
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: subsystem_gate MOLECULE.yaml [options]\n");
    return 2;
  }
  const Molecule m = load_molecule(argv[1]);
  std::string target_label = "C1", pulse_out, pulse_in;
  double angle_deg = 90, duration = 0.002, max_rf = 10000, pair_j = 15, j_cut = 0, fidelity = 0.999,
         time_limit = 1800;
  int steps = 200, starts = 2, threads = 2, states = 16;
  std::string hamiltonian = "exact";  // the full-register check's (--hamiltonian)
  unsigned long seed = 1, state_seed = 7;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--target")
      target_label = next();
    else if (a == "--angle")
      angle_deg = std::atof(next().c_str());
    else if (a == "--duration")
      duration = std::atof(next().c_str());
    else if (a == "--steps")
      steps = std::atoi(next().c_str());
    else if (a == "--max-rf")
      max_rf = std::atof(next().c_str());
    else if (a == "--pair-j")
      pair_j = std::atof(next().c_str());
    else if (a == "--j-cut")
      j_cut = std::atof(next().c_str());
    else if (a == "--fidelity")
      fidelity = std::atof(next().c_str());
    else if (a == "--starts")
      starts = std::atoi(next().c_str());
    else if (a == "--seed")
      seed = std::strtoul(next().c_str(), nullptr, 10);
    else if (a == "--threads")
      threads = std::atoi(next().c_str());
    else if (a == "--time-limit")
      time_limit = std::atof(next().c_str());
    else if (a == "--states")
      states = std::atoi(next().c_str());
    else if (a == "--state-seed")
      state_seed = std::strtoul(next().c_str(), nullptr, 10);
    else if (a == "--pulse-out")
      pulse_out = next();
    else if (a == "--pulse")
      pulse_in = next();
    else if (a == "--hamiltonian")
      hamiltonian = next();
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const int n = m.size();
  const int t = m.index_of(target_label);
  if (t < 0 || steps < 4 || steps > 100000 || states < 2 || states > 100000 || duration <= 0) {
    std::fprintf(stderr, "bad --target, --steps, --states or --duration\n");
    return 2;
  }
  const int channel = m.channel_index(m.nuclei[t].channel);
  const std::vector<int> carbons = m.spins_on(channel);
  std::vector<int> others;  // spins not on the target's channel (the protons)
  for (int k = 0; k < n; ++k)
    if (m.nuclei[k].channel != m.nuclei[t].channel) others.push_back(k);
  const double carrier = m.channels[channel].carrier_hz;
  const double dt = duration / steps;
  const double theta = angle_deg * kPi / 180.0;

  // Subsystems: the target and a strongly coupled pair of other carbons.
  std::vector<Subsystem> subs;
  std::vector<char> covered(n, 0);
  for (size_t a = 0; a < carbons.size(); ++a)
    for (size_t b = a + 1; b < carbons.size(); ++b) {
      const int ca = carbons[a], cb = carbons[b];
      if (ca == t || cb == t || std::abs(m.j_hz(ca, cb)) < pair_j) continue;
      subs.push_back({{t, ca, cb}, {}, {}});
      covered[ca] = covered[cb] = 1;
    }
  for (int c : carbons) {
    if (c == t || covered[c]) continue;
    int best = -1;
    for (int o : carbons)
      if (o != t && o != c && (best < 0 || std::abs(m.j_hz(c, o)) > std::abs(m.j_hz(c, best))))
        best = o;
    if (best < 0) {
      std::fprintf(stderr, "need at least three spins on the target's channel\n");
      return 2;
    }
    subs.push_back({{t, c, best}, {}, {}});
    covered[c] = 1;
  }

  // The GRAPE problem: 3 spins, zero drift, one member per (subsystem, proton configuration).
  const int ns = 3, ds = 8;
  GrapeProblem p;
  p.drift = Mat::Zero(ds, ds);
  ChannelControl cc;
  cc.name = m.channels[channel].name;
  cc.cx = Mat::Zero(ds, ds);
  cc.cy = Mat::Zero(ds, ds);
  cc.fz = Mat::Zero(ds, ds);
  for (int q = 0; q < ns; ++q) {
    cc.cx += kTwoPi * spin_op('x', q, ns);
    cc.cy += kTwoPi * spin_op('y', q, ns);
    cc.fz += kTwoPi * spin_op('z', q, ns);
  }
  for (int c : carbons) cc.line_offsets_hz.push_back(m.nuclei[c].offset_hz - carrier);
  cc.max_rf_hz = max_rf;
  p.channels.push_back(cc);
  p.target = expm_hermitian(spin_op('x', 0, ns), theta);
  p.norm = ds;
  p.steps = steps;
  p.dt_s = dt;
  p.ensemble.clear();
  std::vector<RVec> iz(ns);
  for (int q = 0; q < ns; ++q) iz[q] = spin_op('z', q, ns).diagonal().real();
  for (auto& s : subs) {
    RVec base = RVec::Zero(ds);
    for (int q = 0; q < ns; ++q) {
      base += kTwoPi * (m.nuclei[s.spins[q]].offset_hz - carrier) * iz[q];
      for (int r = q + 1; r < ns; ++r)
        base += kTwoPi * m.j_hz(s.spins[q], s.spins[r]) * iz[q].cwiseProduct(iz[r]);
    }
    for (int h : others) {
      double most = 0;
      for (int q : s.spins) most = std::max(most, std::abs(m.j_hz(q, h)));
      if (most > 0 && most >= j_cut) s.protons.push_back(h);
    }
    // Configurations of those protons (m = +1/2 or -1/2 each): the shift on each carbon,
    // identical shift vectors merged (weights: multiplicity / 2^protons).
    std::map<std::vector<long>, std::pair<RVec, int>> confs;
    const int np = static_cast<int>(s.protons.size());
    for (int c = 0; c < (1 << np); ++c) {
      RVec shift = RVec::Zero(ns);
      for (int j = 0; j < np; ++j) {
        const double mj = (c >> j & 1) ? -0.5 : 0.5;
        for (int q = 0; q < ns; ++q) shift[q] += m.j_hz(s.spins[q], s.protons[j]) * mj;
      }
      std::vector<long> key(ns);
      for (int q = 0; q < ns; ++q) key[q] = std::lround(shift[q] * 1000.0);
      auto& e = confs[key];
      e.first = shift;
      ++e.second;
    }
    for (const auto& [key, sc] : confs) {
      EnsembleMember em;
      em.weight = static_cast<double>(sc.second) / (1 << np);
      em.drift_diag = base;
      for (int q = 0; q < ns; ++q) em.drift_diag += kTwoPi * sc.first[q] * iz[q];
      s.members.push_back(p.ensemble.size());
      p.ensemble.push_back(em);
    }
  }
  std::printf(
      "register %s: %d spins (d = %d), target %s R_x(%g deg), %g ms in %d steps, max RF %g Hz\n",
      m.name.c_str(), n, 1 << n, target_label.c_str(), angle_deg, duration * 1e3, steps, max_rf);
  for (const auto& s : subs) {
    std::printf("  subsystem {");
    for (size_t q = 0; q < s.spins.size(); ++q)
      std::printf("%s%s", q ? ", " : "", m.nuclei[s.spins[q]].label.c_str());
    std::printf("}: %zu proton configurations of {", s.members.size());
    for (size_t q = 0; q < s.protons.size(); ++q)
      std::printf("%s%s", q ? ", " : "", m.nuclei[s.protons[q]].label.c_str());
    std::printf("}\n");
  }
  std::printf("GRAPE ensemble: %zu members of dimension %d\n", p.ensemble.size(), ds);
  std::fflush(stdout);

  RMat u;
  // Evaluations in full-step units: the coarse stage's count as 1/f of one (StartSummary).
  double evaluations = 0;
  double grape_wall = 0, grape_cpu = 0;
  if (pulse_in.empty()) {
    GrapeOptions go;
    go.fidelity_target = fidelity;
    go.starts = starts;
    go.seed = seed;
    go.threads = threads;
    go.time_limit_s = time_limit;
    const bench::Stopwatch sw;
    const double c0 = cpu_s();
    const GrapeResult r = optimise(p, go);
    grape_wall = sw.seconds();
    grape_cpu = cpu_s() - c0;
    u = r.u_hz;
    int coarse = 0;
    for (const auto& st : r.summary.starts) coarse += st.coarse_evaluations;
    evaluations = r.summary.evaluations +
                  (r.summary.coarse_factor > 1 ? double(coarse) / r.summary.coarse_factor : 0.0);
    std::printf("GRAPE: %s\n", r.summary.brief_report().c_str());
    std::printf(
        "GRAPE wall %.1f s, CPU %.1f s, %.0f evaluations of the full steps (coarse ones "
        "counted as 1/%d)\n",
        grape_wall, grape_cpu, evaluations, std::max(r.summary.coarse_factor, 1));
    if (!pulse_out.empty()) {
      PulseData pd;
      pd.name = "subsystem_rx_" + target_label;
      pd.molecule = m.name;
      pd.dt_s = dt;
      PulseChannel pc;
      pc.name = cc.name;
      pc.max_rf_hz = max_rf;
      pc.ux_hz = u.row(0).transpose();
      pc.uy_hz = u.row(1).transpose();
      pd.channels.push_back(pc);
      write_file_atomic(pulse_out, pulse_file_text(pd));
    }
  } else {
    const PulseData pd = read_pulse_file(pulse_in);
    if (pd.channels.size() != 1 || pd.channels[0].name != cc.name ||
        pd.channels[0].ux_hz.size() != steps || std::abs(pd.dt_s - dt) > 1e-12 * dt) {
      std::fprintf(stderr, "%s: not a %d-step pulse of %g s steps on channel %s\n",
                   pulse_in.c_str(), steps, dt, cc.name.c_str());
      return 2;
    }
    u.resize(2, steps);
    u.row(0) = pd.channels[0].ux_hz.transpose();
    u.row(1) = pd.channels[0].uy_hz.transpose();
  }

  // Fidelity on each subsystem: on its members of the model (j_cut), and with every proton
  // coupled to it (j_cut 0: exact for the ZZ model of static protons).
  std::vector<double> fid;
  ensemble_objective(p, u, nullptr, &fid, threads);
  double model_min = 1.0;
  for (const auto& s : subs) {
    double mean = 0, wsum = 0, lo = 1.0;
    for (size_t i : s.members) {
      mean += p.ensemble[i].weight * fid[i];
      wsum += p.ensemble[i].weight;
      lo = std::min(lo, fid[i]);
    }
    model_min = std::min(model_min, lo);
    std::printf("  subsystem {%s, %s, %s}: F mean %.6f, min %.6f over %zu configurations\n",
                m.nuclei[s.spins[0]].label.c_str(), m.nuclei[s.spins[1]].label.c_str(),
                m.nuclei[s.spins[2]].label.c_str(), mean / wsum, lo, s.members.size());
  }
  std::printf("subsystem model: F_min %.6f\n", model_min);

  // The full register: U psi with the exact Hamiltonian, W psi = R_x on the target and the
  // protons' own evolution, for Haar-random psi.
  const bench::Stopwatch sw;
  const double c0 = cpu_s();
  if (hamiltonian != "exact" && hamiltonian != "weak" && hamiltonian != "model" &&
      hamiltonian != "carbon-flip-flops") {
    std::fprintf(stderr, "--hamiltonian must be exact, weak, model or carbon-flip-flops\n");
    return 2;
  }
  Molecule checked = m;
  if (hamiltonian == "model") {  // the couplings some subsystem (or its proton fields) has
    std::vector<Coupling> kept;
    for (const auto& c : m.couplings) {
      bool in = m.nuclei[c.a].channel != m.nuclei[c.b].channel;
      for (const auto& s : subs)
        in = in || (std::count(s.spins.begin(), s.spins.end(), c.a) &&
                    std::count(s.spins.begin(), s.spins.end(), c.b));
      if (in) kept.push_back(c);
    }
    std::printf("model Hamiltonian: %zu of %zu couplings\n", kept.size(), m.couplings.size());
    checked.couplings = kept;
  }
  const bool strong = hamiltonian == "exact";
  SparseMat h = sparse_hamiltonian(checked, strong);
  const SparseMat hh = sparse_hamiltonian(checked, strong, others);
  if (hamiltonian == "carbon-flip-flops")  // weak, plus the flip-flops among the carbons
    h += SparseMat(sparse_hamiltonian(m, true, carbons) - sparse_hamiltonian(m, false, carbons));
  const std::vector<SparseMat> cx{sparse_control(m, channel, 'x')};
  const std::vector<SparseMat> cy{sparse_control(m, channel, 'y')};
  const Mat rx = expm_hermitian(spin_op('x', 0, 1), theta);
  // The states drawn in order from one seed (the same for any thread count), then shared over
  // the threads (core's parallel_chunks), one propagator per thread.
  std::mt19937_64 g(state_seed);
  std::normal_distribution<double> normal;
  const int d = 1 << n;
  std::vector<Vec> psis(states, Vec(d));
  for (auto& psi : psis) {
    for (int i = 0; i < d; ++i) psi[i] = cplx(normal(g), normal(g));
    psi.normalize();
  }
  std::vector<cplx> overlaps(states);
  std::vector<long> products_of(states);
  std::vector<double> u_seconds(states), norm_error(states);
  parallel_chunks(states, threads, [&](std::size_t begin, std::size_t end) {
    LanczosPropagator lp;
    for (std::size_t s = begin; s < end; ++s) {
      Vec up = psis[s];
      const bench::Stopwatch su;
      products_of[s] = lp.pulse(h, cx, cy, u, dt, up);
      u_seconds[s] = su.seconds();
      Vec wp = psis[s];
      apply_local(wp, rx, {t}, n);
      products_of[s] += lp.step(hh, duration, wp);
      norm_error[s] = std::abs(up.norm() - 1.0);
      overlaps[s] = wp.dot(up);  // <W psi | U psi>
    }
  });
  long products = 0;
  double norm_drift = 0, u_wall = 0;
  for (int s = 0; s < states; ++s) {
    products += products_of[s];
    norm_drift = std::max(norm_drift, norm_error[s]);
    u_wall += u_seconds[s];
  }
  const double verify_wall = sw.seconds(), verify_cpu = cpu_s() - c0;
  cplx mean = 0;
  for (const cplx& o : overlaps) mean += o;
  mean /= static_cast<double>(states);
  double var = 0;
  for (const cplx& o : overlaps) var += std::norm(o - mean);
  var /= (states - 1);
  const double se = std::sqrt(var / states);
  std::printf(
      "full register (d = %d, %s): F = |Tr(W^dag U)|/d = %.6f +- %.6f "
      "(statistical, 1 s.e., %d Haar-random states; spread of <psi|W^dag U|psi> %.2e)\n",
      d, (hamiltonian + " Hamiltonian").c_str(), std::abs(mean), se, states, std::sqrt(var));
  std::printf(
      "verification on %d threads: wall %.1f s, CPU %.1f s (U psi: %.2f s per state on one "
      "thread), %ld sparse products, max |norm - 1| %.1e\n",
      threads, verify_wall, verify_cpu, u_wall / states, products, norm_drift);

  // Full-space GRAPE's projected cost (bench/results/scaling.md's model: t_member(d) = 0.462 s
  // (d / 128)^3 n / 200 on one core, memory n x 3 x 16 d^2 bytes per member).
  const double t_member = 0.462 * std::pow(d / 128.0, 3) * steps / 200.0;
  const double mem = steps * 3.0 * 16.0 * double(d) * d;
  std::printf(
      "projected full-space GRAPE (scaling.md model, one member, %d steps): %.3g s per "
      "evaluation on one core, %.3g GB\n",
      steps, t_member, mem / 1e9);
  if (evaluations > 0)
    std::printf("projected full-space GRAPE for this compile's %.0f evaluations: %.3g s\n",
                evaluations, t_member * evaluations);
  std::printf(
      "one full-space evaluation by state vectors (2 x %d vectors through the pulse at "
      "this check's %.2f s of CPU per state, U psi and W psi): %.3g s of CPU\n",
      d, verify_cpu / states, 2.0 * d * verify_cpu / states);
  return 0;
}
