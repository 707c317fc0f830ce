// The console's physics on the virtual spectrometer (issue 25, docs/console-physics.md): 1H
// decoupling simulated pulse by pulse on the 7-spin crotonic acid against the decoupled 4-spin
// model, and shaped pulses through the probe's resonant circuit.
//
// Usage (from the source tree root, or with NMRC_SOURCE_DIR set):
//   console_physics spectrum [--cpd waltz16|garp] [--o2-ppm P] PCPD_US... (0 = decoupler off)
//   console_physics gates [--cpd waltz16|garp] [--pcpd-us P] [--o2-ppm P] [--threads N]
//                         [--q-c Q --q-h Q] PULSE.json...
//   console_physics grape-probe [--q-c Q] [--threads N] PULSE.json...
//   console_physics fig3 [--case NAME]... [--collision M]... [--cpd ...] [--pcpd-us P]
//                        [--threads N] [--grape-decoupler [--goal F]] [PROGRAM.yaml]
//   console_physics grape-cap --max-rf-c HZ [--cpd ...] [--pcpd-us P] [--threads N] PULSE.json...
//   console_physics residual --cpd cw [--pcpd-us P] [--o2-ppm P] PULSE.json...
//   console_physics grape-decoupler --cpd cw [--pcpd-us P] [--o2-ppm P] [--threads N]
//                                   [--time-limit-s S] [--goal F] [--max-rf-c HZ] PULSE.json...
//   console_physics export-gates [--o2-ppm P] [--readout] [--methyl-sqrt3] PULSE.json...
// spectrum: the 13C FID of the carbons' x magnetisation with the decoupler at each PCPD2, fitted
//   with the 32 lines of the decoupled 4-spin model (spectrometer::LineFitter); prints the
//   fitted amplitudes' largest and rms deviation from the 4-spin model's and the fit residual.
// gates: each pulse (deduplicated by content) on the 7-spin molecule with the decoupler running
//   from the start of its cycle, against the 4-spin model: F4 (the pulse's own definition on
//   crotonic_acid.yaml), F7|model (sqrt process fidelity of the 13C channel against the 4-spin
//   propagator: 1 = decoupling perfect), F7 (the same against the target, plain gates), and,
//   with --q-c, F4 through the probe (a tuned resonator of that Q on 13C).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nmrc/compiler/bruker_export.hpp"
#include "nmrc/compiler/bruker_playback.hpp"
#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/grape.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/hash.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "nmrc/core/states.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/protocol.hpp"
#include "nmrc/experiment/pulses.hpp"
#include "nmrc/spectrometer/decoupling.hpp"
#include "nmrc/spectrometer/lines.hpp"
#include "nmrc/spectrometer/preparation.hpp"
#include "nmrc/spectrometer/probe.hpp"
#include "nmrc/spectrometer/propagation.hpp"
#include "nmrc/thermo/collision.hpp"
#include "nmrc/thermo/observables.hpp"
#include "timer.hpp"

using namespace nmrc;
using namespace nmrc::spectrometer;

namespace {

std::string root() {
  const char* s = std::getenv("NMRC_SOURCE_DIR");
  return s ? s : ".";
}

struct Args {
  Decoupler dec;
  double o2_ppm =
      5.0;  // the export's default O2 (compiler/include/nmrc/compiler/bruker_export.hpp)
  int threads = 2;
  double q_c = 0.0, q_h = 0.0, max_rf_c = 0.0;
  double time_limit_s = 900.0;     ///< grape-decoupler: GRAPE's wall-time limit per pulse
  double goal = 0.0;               ///< grape-decoupler: GRAPE's goal (0: the file's)
  bool grape_decoupler = false;    ///< fig3: pulses recompiled with the decoupler in the model
  bool readout = false;            ///< export-gates: each pulse as the readout before go=2
  bool methyl3 = false;            ///< every C-M coupling x sqrt(3) (the methyl's 3 protons)
  std::vector<std::string> cases;  ///< fig3: --case NAME (repeatable)
  std::vector<int> collisions;     ///< fig3: --collision M (repeatable)
  std::vector<std::string> rest;
};

Args parse(int argc, char** argv, int first) {
  Args a;
  for (int i = first; i < argc; ++i) {
    const std::string s = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw InputError(s + ": needs a value");
      return argv[++i];
    };
    if (s == "--cpd")
      a.dec.sequence = cpd_sequence(next());
    else if (s == "--pcpd-us")
      a.dec.pcpd_s = std::stod(next()) * 1e-6;
    else if (s == "--o2-ppm")
      a.o2_ppm = std::stod(next());
    else if (s == "--threads")
      a.threads = std::stoi(next());
    else if (s == "--q-c")
      a.q_c = std::stod(next());
    else if (s == "--case")
      a.cases.push_back(next());
    else if (s == "--collision")
      a.collisions.push_back(std::stoi(next()));
    else if (s == "--max-rf-c")
      a.max_rf_c = std::stod(next());
    else if (s == "--grape-decoupler")
      a.grape_decoupler = true;
    else if (s == "--readout")
      a.readout = true;
    else if (s == "--methyl-sqrt3")
      a.methyl3 = true;
    else if (s == "--goal")
      a.goal = std::stod(next());
    else if (s == "--time-limit-s")
      a.time_limit_s = std::stod(next());
    else if (s == "--q-h")
      a.q_h = std::stod(next());
    else
      a.rest.push_back(s);
  }
  return a;
}

// The carbons' x magnetisation: sum_k sigma_x^k on the first four spins, times I on the rest.
Mat carbon_x(int n) {
  Mat r = Mat::Zero(1 << n, 1 << n);
  for (int k = 0; k < 4; ++k) r += spin_op('x', k, n);
  return r;
}

int spectrum(const Args& a) {
  const Molecule m7 = load_molecule(root() + "/molecules/crotonic_acid_7.yaml");
  const Molecule m4 = load_molecule(root() + "/molecules/crotonic_acid.yaml");
  const int h = m7.channel_index("1H");
  const double o2 = m7.channels[h].offset_of_ppm(a.o2_ppm);
  // rho7 = rho4 (x) I/8 so that the 7-spin FID is the 4-spin one when decoupling is perfect.
  const Mat rho4 = carbon_x(4);
  const Mat rho7 = carbon_x(7) / 8.0;
  const LineReadout ideal = measure_lines(m4, rho4, 0);
  std::printf(
      "| PCPD2 (us) | B2 (kHz) | sw (Hz) | max abs(a-a4)/max abs(a4) | rms | fit residual / "
      "FID rms | time (s) |\n|---|---|---|---|---|---|---|\n");
  for (const auto& p : a.rest) {
    const double pcpd_us = std::stod(p);
    Decoupler dec = a.dec;
    dec.o2_hz = o2;
    dec.on = pcpd_us > 0;
    dec.pcpd_s = pcpd_us > 0 ? pcpd_us * 1e-6 : 90e-6;
    const bench::Stopwatch t0;
    DecoupledEvolution ev(m7, dec);
    // Dwell: the cycle over K points, K the least with sw >= 12 kHz (C1..C4 span +/- 5.9 kHz).
    const int k = static_cast<int>(std::ceil(ev.cycle_s() * 12000.0));
    const int td = 16384;
    const Fid fid = ev.acquire(rho7, 0, k, td);
    const LineFitter fitter(m4, 0, fid.sw_hz, td);
    const LineReadout got = fitter.fit(fid);
    double worst = 0.0, sum2 = 0.0, amax = 0.0, frms = 0.0;
    for (const auto& l : ideal.lines) amax = std::max(amax, std::abs(l.amplitude));
    for (size_t i = 0; i < got.lines.size(); ++i) {
      const double e = std::abs(got.lines[i].amplitude - ideal.lines[i].amplitude) / amax;
      worst = std::max(worst, e);
      sum2 += e * e;
    }
    for (const auto& z : fid.points) frms += std::norm(z);
    frms = std::sqrt(frms / td);
    std::printf("| %s | %.3g | %.6g | %.3g | %.3g | %.3g | %.1f |\n",
                pcpd_us > 0 ? p.c_str() : "off", pcpd_us > 0 ? dec.rf_hz() / 1e3 : 0.0, fid.sw_hz,
                worst, std::sqrt(sum2 / got.lines.size()), got.residual_rms / frms, t0.seconds());
    std::fflush(stdout);
  }
  return 0;
}

struct Row {
  std::string names, kind;
  double duration_ms = 0, f4 = 0, f7_model = 0, f7 = -1, f4_probe = -1, seconds = 0;
};

// The 7-spin molecule, the decoupled 4-carbon model and the decoupler with its O2 at --o2-ppm:
// what every subcommand comparing the two molecules starts from.
struct SevenSpins {
  Molecule m7, m4;
  Decoupler dec;
};

SevenSpins seven_spins(const Args& a) {
  SevenSpins s{load_molecule(root() + "/molecules/crotonic_acid_7.yaml"),
               load_molecule(root() + "/molecules/crotonic_acid.yaml"), a.dec};
  s.dec.o2_hz = s.m7.channels[s.m7.channel_index("1H")].offset_of_ppm(a.o2_ppm);
  // --methyl-sqrt3: the methyl as its three protons rather than one spin-1/2 M, to second order
  // in the residual couplings: under a decoupler that turns the three equivalent protons
  // alike, the carbon's phase error is J phi (m_1 + m_2 + m_3), of variance 3 (J phi)^2 / 4,
  // that of one spin-1/2 coupled with sqrt(3) J (the infidelity is that variance, to second
  // order). Every carbon's coupling to M is scaled so.
  if (a.methyl3) {
    const int mi = s.m7.index_of("M");
    for (auto& c : s.m7.couplings)
      if ((c.a == mi || c.b == mi) && s.m7.nuclei[c.a == mi ? c.b : c.a].isotope == "13C")
        c.j_hz *= std::sqrt(3.0);
  }
  return s;
}

int gates(const Args& a) {
  const SevenSpins s = seven_spins(a);
  const Molecule &m7 = s.m7, &m4 = s.m4;
  const Decoupler& dec = s.dec;
  // Deduplicate by content: the same pulse shipped in two folders is simulated once.
  std::map<std::string, std::vector<std::string>> by_hash;
  std::vector<std::string> order;
  for (const auto& path : a.rest) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string key = content_hash_hex(ss.str());
    if (!by_hash.count(key)) order.push_back(key);
    by_hash[key].push_back(path);
  }
  std::vector<Row> rows(order.size());
  std::atomic<size_t> next{0};
  std::mutex io;
  const bench::Stopwatch t_all;
  auto work = [&] {
    for (size_t i = next++; i < order.size(); i = next++) {
      const auto& paths = by_hash[order[i]];
      const PulseData p = read_pulse_file(paths.front());
      const ShapedPulseElement e = p.element(m4);
      const auto target = compiler::target_from_json(p.target_json, m4, p.source);
      Row r;
      for (const auto& s : paths) {
        const auto slash = s.find("sequences/");
        r.names +=
            (r.names.empty() ? "" : ", ") + (slash == std::string::npos ? s : s.substr(slash + 10));
      }
      r.duration_ms = 1e3 * p.duration_s();
      const bench::Stopwatch t0;
      const Mat v4 = simulate_unitary(m4, e);
      const Mat w = target.full(4);
      if (target.state_transfer) {
        r.kind = "transfer";
      } else if (target.diagonal_phases) {
        r.kind = "up to diagonal";
      } else {
        r.kind = "gate";
      }
      r.f4 = p.fidelity_nominal;
      const Mat u7 = decoupled_unitary(m7, dec, e);
      r.f7_model = subsystem_gate_fidelity(u7, 7, {0, 1, 2, 3}, v4);
      if (r.kind == "gate") r.f7 = subsystem_gate_fidelity(u7, 7, {0, 1, 2, 3}, w);
      if (a.q_c > 0) {
        PropagationOptions po;
        po.probe = {std::make_shared<ResonatorDistortion>(a.q_c, m4.channels[0].larmor_mhz)};
        const Mat vd = simulate_unitary(m4, e, 1.0, po);
        r.f4_probe = r.kind == "gate" ? std::abs((w.adjoint() * vd).trace()) / 16.0
                                      : subsystem_gate_fidelity(vd, 4, {0, 1, 2, 3}, v4);
      }
      r.seconds = t0.seconds();
      rows[i] = r;
      std::lock_guard<std::mutex> lock(io);
      std::fprintf(stderr, "%zu/%zu %s %.1f s\n", i + 1, order.size(), r.names.c_str(), r.seconds);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < a.threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  std::printf(
      "| pulse | kind | ms | F4 (recorded) | F7 vs 4-spin propagator | F7 vs target |%s "
      "s |\n|---|---|---|---|---|---|%s---|\n",
      a.q_c > 0 ? " F4 through probe |" : "", a.q_c > 0 ? "---|" : "");
  for (const auto& r : rows) {
    std::printf("| %s | %s | %.3g | %.6f | %.6f | %s |", r.names.c_str(), r.kind.c_str(),
                r.duration_ms, r.f4, r.f7_model, r.f7 >= 0 ? std::to_string(r.f7).c_str() : "-");
    if (a.q_c > 0) std::printf(" %.6f |", r.f4_probe);
    std::printf(" %.1f |\n", r.seconds);
  }
  std::printf("\nwall %.1f s for %zu distinct pulses\n", t_all.seconds(), order.size());
  return 0;
}

// export-gates: each pulse as `nmrc export bruker` plays it, between two 10 us delays (the
// second the readout; short, since a delay that is a fraction of a WALTZ-16 cycle is not
// decoupled: the table is about the pulse), f2 as the export writes it
// (compiler::BrukerDecoupling's defaults: the switching decoupler, CW at 25 kHz around a shape of 1
// ms or more, WALTZ-16 at 90 us elsewhere; and --decoupler-pulses cpd: WALTZ-16 throughout), played
// on the 7-spin molecule (compiler::decoupled_unitary_as_exported) against the 4-spin model of the
// same timeline (its switching statements as delays: compiler::exported_timeline). --readout:
// each pulse as the readout, after a 10 us delay and right before go=2 (the switching decoupler
// plays CW through it and switches back to WALTZ-16 before go=2: the 12 us of that switch, the
// pre-acquisition delay the line fit evolves back, are in both timelines).
int export_gates(const Args& a) {
  const SevenSpins s = seven_spins(a);
  const Molecule &m7 = s.m7, &m4 = s.m4;
  const Dynamics dyn4(m4);  // the 4-spin propagator of a timeline: exact_unitary
  std::printf(
      "| pulse | ms | F7 vs 4-spin timeline, switching (CW %g kHz) | F7, CPD throughout (%s %g us) "
      "| s |\n|---|---|---|---|---|\n",
      compiler::BrukerDecoupling{}.cw_b2_hz / 1e3, compiler::BrukerDecoupling{}.program.c_str(),
      compiler::BrukerDecoupling{}.pcpd_us);
  const bench::Stopwatch t_all;
  for (const auto& path : a.rest) {
    const PulseData p = read_pulse_file(path);
    Sequence seq;
    seq.elements = {DelayElement{10e-6}, p.element(m4)};
    if (!a.readout) seq.elements.push_back(DelayElement{10e-6});
    AcquireElement acq;
    acq.sw_hz = 15000;
    acq.td = 1024;
    seq.elements.push_back(acq);
    double f[2] = {0, 0};
    const bench::Stopwatch t0;
    for (int mode = 0; mode < 2; ++mode) {
      compiler::BrukerExportOptions o;
      o.decouple->pulses = mode == 0 ? "cw" : "cpd";
      o.decouple->o2_ppm = a.o2_ppm;
      const auto r = compiler::export_bruker({{"gate", seq, {}}}, m4, o);
      const Mat u7 = compiler::decoupled_unitary_as_exported(m7, seq, r.decoupler[0], *o.decouple);
      f[mode] = subsystem_gate_fidelity(
          u7, 7, {0, 1, 2, 3},
          exact_unitary(dyn4, compiler::exported_timeline(seq, r.decoupler[0])));
    }
    const auto slash = path.find("sequences/");
    std::printf("| %s | %.3g | %.6f | %.6f | %.1f |\n",
                (slash == std::string::npos ? path : path.substr(slash + 10)).c_str(),
                1e3 * p.duration_s(), f[0], f[1], t0.seconds());
    std::fflush(stdout);
  }
  std::printf("\nwall %.1f s for %zu pulses\n", t_all.seconds(), a.rest.size());
  return 0;
}

// One pulse file's target recompiled on the 4-spin model `m4` with the file's duration, steps
// and goal, nominal B1 (the set-up shared by grape-probe, grape-cap and grape-decoupler):
// `options` adjusts the compile options (a probe, an amplitude cap), `problem` the GRAPE
// problem (the decoupler's residual configurations); with `warm`, start 0 begins from the
// file's own pulse.
struct Recompiled {
  ShapedPulseElement pulse;
  compiler::GrapeResult result;
  double seconds = 0;
};

Recompiled recompile(
    const Molecule& m4, const PulseData& p, const compiler::GateTarget& target, const Args& a,
    double time_limit_s, const std::function<void(compiler::CompileOptions&)>& options,
    const std::function<compiler::GrapeProblem(compiler::GrapeProblem)>& problem = nullptr,
    bool warm = false) {
  compiler::CompileOptions co;
  co.steps = static_cast<int>(p.channels[0].ux_hz.size());
  co.dt_s = p.dt_s;
  co.b1_scale = {1.0};
  co.fidelity_target = p.fidelity_target;
  co.threads = a.threads;
  if (options) options(co);
  compiler::GrapeProblem gp = compiler::build_problem(m4, target, co);
  if (problem) gp = problem(std::move(gp));
  if (a.goal > 0) co.fidelity_target = a.goal;
  compiler::GrapeOptions go;
  go.fidelity_target = co.fidelity_target;
  go.time_limit_s = time_limit_s;
  go.threads = a.threads;
  Recompiled out;
  out.pulse = p.element(m4);
  if (warm) {
    go.initial_u = RMat::Zero(2, co.steps);
    go.initial_u.row(0) = out.pulse.ux_hz[0].transpose();
    go.initial_u.row(1) = out.pulse.uy_hz[0].transpose();
  }
  const bench::Stopwatch t0;
  out.result = compiler::optimise(gp, go);
  out.seconds = t0.seconds();
  out.pulse.ux_hz = {out.result.u_hz.row(0).transpose()};
  out.pulse.uy_hz = {out.result.u_hz.row(1).transpose()};
  return out;
}

// GRAPE through the probe: the target of each pulse file recompiled on crotonic_acid.yaml with
// probe_q on 13C (same duration and steps, nominal B1), against the shipped pulse, both played
// through the same probe by the spectrometer.
int grape_probe(const Args& a) {
  const Molecule m4 = load_molecule(root() + "/molecules/crotonic_acid.yaml");
  const double q = a.q_c > 0 ? a.q_c : 300.0;
  PropagationOptions po;
  po.probe = {std::make_shared<ResonatorDistortion>(q, m4.channels[0].larmor_mhz)};
  std::printf(
      "| pulse | F (shipped, no probe) | shipped through Q = %g | recompiled through the "
      "probe | GRAPE s |\n|---|---|---|---|---|\n",
      q);
  for (const auto& path : a.rest) {
    const PulseData p = read_pulse_file(path);
    const auto target = compiler::target_from_json(p.target_json, m4, p.source);
    if (target.state_transfer || target.diagonal_phases) continue;
    const Mat w = target.full(4);
    auto fid = [&](const ShapedPulseElement& e, const PropagationOptions& o) {
      return std::abs((w.adjoint() * simulate_unitary(m4, e, 1.0, o)).trace()) / 16.0;
    };
    const Recompiled r = recompile(m4, p, target, a, 600,
                                   [&](compiler::CompileOptions& co) { co.probe_q["13C"] = q; });
    std::printf("| %s | %.6f | %.6f | %.6f | %.1f |\n", path.c_str(), fid(p.element(m4), {}),
                fid(p.element(m4), po), fid(r.pulse, po), r.seconds);
    std::fflush(stdout);
  }
  return 0;
}

// F7 of pulse e against its own 4-spin propagator under decoupler `dec` (1 = decoupling
// perfect), and the same predicted by the first-order residual configurations `confs`.
double f7_vs_model(const Molecule& m7, const Molecule& m4, const Decoupler& dec,
                   const ShapedPulseElement& e) {
  return subsystem_gate_fidelity(decoupled_unitary(m7, dec, e), 7, {0, 1, 2, 3},
                                 simulate_unitary(m4, e));
}

// Pulse e's propagator on the 4-spin model m4 in each residual configuration (m4's spins
// shifted by the configuration's offsets of the same-labelled spins of m7).
std::vector<Mat> configuration_unitaries(const Molecule& m7, const Molecule& m4,
                                         const std::vector<ResidualConfiguration>& confs,
                                         const ShapedPulseElement& e) {
  std::vector<Mat> out;
  for (const auto& c : confs) {
    Molecule mc = m4;
    for (int k = 0; k < m4.size(); ++k)
      for (int j = 0; j < m7.size(); ++j)
        if (m7.nuclei[j].label == m4.nuclei[k].label) mc.nuclei[k].offset_hz += c.offset_hz[j];
    out.push_back(simulate_unitary(mc, e));
  }
  return out;
}

double first_order_vs_model(const Molecule& m7, const Molecule& m4,
                            const std::vector<ResidualConfiguration>& confs,
                            const ShapedPulseElement& e) {
  const Mat v4 = simulate_unitary(m4, e);
  const std::vector<Mat> uc = configuration_unitaries(m7, m4, confs, e);
  double fpro = 0.0;
  for (size_t i = 0; i < confs.size(); ++i)
    fpro += confs[i].weight * std::norm((v4.adjoint() * uc[i]).trace() / 16.0);
  return std::sqrt(fpro);
}

// GRAPE with a 13C amplitude cap (the Hartmann-Hahn candidate of the fix): the target of each
// pulse file recompiled on crotonic_acid.yaml with max_rf_hz 13C = --max-rf-c (same duration
// and steps, nominal B1), both pulses played on the 7-spin molecule under the decoupler.
int grape_cap(const Args& a) {
  const SevenSpins s = seven_spins(a);
  const Molecule &m7 = s.m7, &m4 = s.m4;
  const Decoupler& dec = s.dec;
  if (!(a.max_rf_c > 0)) throw InputError("grape-cap: --max-rf-c HZ needed");
  std::printf(
      "| pulse | cap (kHz) | F4 shipped | F7 vs 4-spin, shipped | F4 recompiled | F7 vs 4-spin, "
      "recompiled | GRAPE s |\n|---|---|---|---|---|---|---|\n");
  for (const auto& path : a.rest) {
    const PulseData p = read_pulse_file(path);
    const auto target = compiler::target_from_json(p.target_json, m4, p.source);
    const Recompiled r = recompile(m4, p, target, a, 900, [&](compiler::CompileOptions& co) {
      co.max_rf_hz["13C"] = a.max_rf_c;
    });
    std::printf("| %s | %.3g | %.6f | %.6f | %.6f | %.6f | %.1f |\n", path.c_str(),
                a.max_rf_c / 1e3, p.fidelity_nominal, f7_vs_model(m7, m4, dec, p.element(m4)),
                r.result.summary.fidelity_min, f7_vs_model(m7, m4, dec, r.pulse), r.seconds);
    std::fflush(stdout);
  }
  return 0;
}

// The first-order residual couplings of CW decoupling (issue 25; spectrometer::
// cw_residual_configurations) against the 7-spin simulation: for each pulse, F7 against its
// own 4-spin propagator simulated (7 spins, CW running) and predicted by the 8 static proton
// configurations (H2, H3, M up or down along their effective fields).
int residual(const Args& a) {
  const SevenSpins s = seven_spins(a);
  const Molecule &m7 = s.m7, &m4 = s.m4;
  const Decoupler& dec = s.dec;
  const auto confs = cw_residual_configurations(m7, dec);
  std::printf(
      "CW B2 %.4g kHz, O2 %.4g ppm\n\n| pulse | ms | F7 vs 4-spin (simulated) | first-order "
      "model | share of the loss explained |\n|---|---|---|---|---|\n",
      dec.rf_hz() / 1e3, a.o2_ppm);
  for (const auto& path : a.rest) {
    const PulseData p = read_pulse_file(path);
    const ShapedPulseElement e = p.element(m4);
    const double f7 = f7_vs_model(m7, m4, dec, e), f1 = first_order_vs_model(m7, m4, confs, e);
    std::printf("| %s | %.3g | %.6f | %.6f | %.2f |\n", path.c_str(), 1e3 * p.duration_s(), f7, f1,
                (1 - f1) / (1 - f7));
    std::fflush(stdout);
  }
  return 0;
}

// GRAPE with the decoupler in its model (issue 25): each pulse file's target recompiled on
// crotonic_acid.yaml over the CW decoupler's residual configurations
// (compiler::with_residual_configurations; nominal B1, the file's duration, steps and goal,
// start 0 warm from the file's pulse), both pulses played on the 7-spin molecule with CW running.
int grape_decoupler(const Args& a) {
  const SevenSpins s = seven_spins(a);
  const Molecule &m7 = s.m7, &m4 = s.m4;
  const Decoupler& dec = s.dec;
  const auto confs = cw_residual_configurations(m7, dec);
  std::printf(
      "CW B2 %.4g kHz, O2 %.4g ppm\n\n| pulse | goal | pulse | F4 | first-order min | F7 vs 4-spin "
      "propagator | F7 vs target | GRAPE s |\n|---|---|---|---|---|---|---|---|\n",
      dec.rf_hz() / 1e3, a.o2_ppm);
  for (const auto& path : a.rest) {
    const PulseData p = read_pulse_file(path);
    const auto target = compiler::target_from_json(p.target_json, m4, p.source);
    const Mat w = target.full(4);
    const bool gate = !target.state_transfer && !target.diagonal_phases;
    const double goal = a.goal > 0 ? a.goal : p.fidelity_target;
    auto row = [&](const char* what, const ShapedPulseElement& e, double secs) {
      const Mat v4 = simulate_unitary(m4, e);
      const Mat u7 = decoupled_unitary(m7, dec, e);
      double fmin = 1.0;
      for (const Mat& uc : configuration_unitaries(m7, m4, confs, e)) {
        fmin = std::min(fmin, gate ? std::abs((w.adjoint() * uc).trace()) / 16.0
                                   : std::abs((v4.adjoint() * uc).trace()) / 16.0);
      }
      std::printf(
          "| %s | %.6g | %s | %s | %.6f | %.6f | %s | %.1f |\n", path.c_str(), goal, what,
          gate ? std::to_string(std::abs((w.adjoint() * v4).trace()) / 16.0).c_str() : "-", fmin,
          subsystem_gate_fidelity(u7, 7, {0, 1, 2, 3}, v4),
          gate ? std::to_string(subsystem_gate_fidelity(u7, 7, {0, 1, 2, 3}, w)).c_str() : "-",
          secs);
      std::fflush(stdout);
    };
    row("shipped", p.element(m4), 0.0);
    // --max-rf-c caps the recompiled pulses' 13C amplitude (away from Hartmann-Hahn matching).
    const auto cap = [&](compiler::CompileOptions& co) {
      if (a.max_rf_c > 0) co.max_rf_hz["13C"] = a.max_rf_c;
    };
    const Recompiled plain = recompile(m4, p, target, a, a.time_limit_s, cap, nullptr, true);
    row("recompiled, 4-spin model", plain.pulse, plain.seconds);
    const Recompiled r = recompile(
        m4, p, target, a, a.time_limit_s, cap,
        [&](compiler::GrapeProblem gp) {
          return compiler::with_residual_configurations(gp, m4, m7, confs);
        },
        true);
    row("recompiled with the decoupler", r.pulse, r.seconds);
  }
  return 0;
}

// Fig. 3 collisions with decoupling simulated: for each case and collision m of the experiment
// program (default sequences/experiment/fig3.yaml), the run's own protocol
// (experiment::run_protocol) and its shipped pulses (experiment::PulseLibrary, never compiling):
// the state before U_d (the temporal-averaging plan's diagonal rho_d on the system spins, the
// bath spin thermal at T_R, any other spin |0>: the PPS, bath rotation, gradient and pi pulses
// taken as exact), then U_d and the contact pulses played (a) exactly (the ideal unitaries),
// (b) on the 4-spin model as compiled, (c) on the 7-spin molecule with the decoupler running
// through U_d and the contact without a break (protons maximally mixed). The heat of collision
// m per subsystem: E_k after the contact minus E_k before it (E_k = Tr(rho H_k), Eq. (S17) in
// units of delta; the experiment's "with contact minus without contact" pair), noise-free,
// without relaxation, at nominal B1.
int fig3(const Args& a) {
  namespace ex = nmrc::experiment;
  const std::string path =
      a.rest.empty() ? root() + "/sequences/experiment/fig3.yaml" : a.rest.front();
  const ex::ExperimentProgram prog = ex::load_experiment_program(path);
  const Molecule& m4 = prog.molecule;
  const Molecule m7 = load_molecule(root() + "/molecules/crotonic_acid_7.yaml");
  const int n4 = m4.size(), n7 = m7.size();
  if (n4 != 4 || m7.channels.empty() || m7.spins_on(0).size() != 4)
    throw InputError("fig3: the program's molecule must be the 4 carbons of crotonic_acid_7");
  Decoupler dec = a.dec;
  dec.o2_hz = m7.channels[m7.channel_index("1H")].offset_of_ppm(a.o2_ppm);
  ex::PulseLibrary lib(m4, prog.compiled_dir, "", ex::CompileMode::kNever,
                       nlohmann::json::object());
  const std::vector<std::string> names =
      a.cases.empty() ? std::vector<std::string>{"c_minus_0.5", "c_0"} : a.cases;
  const std::vector<int> ms = a.collisions.empty() ? std::vector<int>{1, 2, 5} : a.collisions;
  struct Job {
    const ex::CaseSpec* c = nullptr;
    int m = 0;
    Mat rho0;                                     // 4-spin state before U_d
    std::vector<ShapedPulseElement> ud, contact;  // compiled
    Mat ud_ideal, contact_ideal;                  // 16 x 16
    std::vector<std::string> pulse_names;
    std::vector<double> q_ideal, q4, q7;  // per subsystem, bath last
    double seconds = 0;
  };
  std::vector<Job> jobs;
  std::map<std::string, PulseData> shipped;  // by file name
  for (const auto& name : names) {
    const ex::CaseSpec* c = nullptr;
    for (const auto& cs : prog.cases)
      if (cs.name == name) c = &cs;
    if (!c) throw InputError("fig3: --case " + name + ": not a case of " + path);
    for (int m : ms) {
      Job j;
      j.c = c;
      j.m = m;
      const ex::RunProtocol proto = ex::run_protocol(prog, *c, m);
      // The state before collision m and its plan, as run_protocol computes them.
      thermo::ModelParams params = c->params;
      params.collisions = m;
      Mat before;
      thermo::run_collision_model(params, {},
                                  [&](const thermo::StepRecord& rec, const Mat& rho_s, const Mat*) {
                                    if (rec.collision == m - 1) before = rho_s;
                                  });
      const auto plan = plan_temporal_averaging(before, c->system_spins, n4);
      std::vector<int> order = c->system_spins;
      order.push_back(c->bath_spin);
      Mat prod = plan.rho_d;
      prod = kron(prod, thermal_qubit(c->params.bath_temperature));
      for (int k = 0; k < n4; ++k)
        if (std::find(order.begin(), order.end(), k) == order.end()) {
          order.push_back(k);
          Mat zero = Mat::Zero(2, 2);
          zero(0, 0) = 1.0;
          prod = kron(prod, zero);
        }
      j.rho0 = embed(prod, order, n4);
      auto play = [&](const ex::PulseNeed& nd, std::vector<ShapedPulseElement>& into, Mat& ideal) {
        const ex::PulseRecord& r = lib.get(nd, ex::pulse_compile_options(prog, nd.kind), {},
                                           ex::pulse_shape(prog, nd.kind).fidelity_target);
        into.push_back(r.pulse.element(m4));
        ideal = lib.ideal_unitary(nd) * ideal;
        j.pulse_names.push_back(r.file.substr(r.file.find_last_of('/') + 1));
        shipped.emplace(j.pulse_names.back(), r.pulse);
      };
      j.ud_ideal = j.contact_ideal = Mat::Identity(16, 16);
      if (proto.ud) play(*proto.ud, j.ud, j.ud_ideal);
      for (const auto& nd : proto.contact) play(nd, j.contact, j.contact_ideal);
      jobs.push_back(std::move(j));
    }
  }
  // --grape-decoupler: every pulse recompiled over the CW decoupler's residual configurations
  // (as grape-decoupler: nominal B1, the file's steps, goal --goal or the file's, warm start),
  // then played in (b) and (c) in place of the shipped one.
  if (a.grape_decoupler) {
    const auto confs = cw_residual_configurations(m7, dec);
    std::map<std::string, ShapedPulseElement> fixed;
    for (const auto& [name, p] : shipped) {
      const auto target = compiler::target_from_json(p.target_json, m4, p.source);
      const Recompiled r = recompile(
          m4, p, target, a, a.time_limit_s, nullptr,
          [&](compiler::GrapeProblem gp) {
            return compiler::with_residual_configurations(gp, m4, m7, confs);
          },
          true);
      std::fprintf(stderr, "recompiled %s: ensemble min %.6f, %.1f s\n", name.c_str(),
                   r.result.summary.fidelity_min, r.seconds);
      fixed.emplace(name, r.pulse);
    }
    for (auto& j : jobs) {
      size_t i = 0;
      for (auto& e : j.ud) e = fixed.at(j.pulse_names[i++]);
      for (auto& e : j.contact) e = fixed.at(j.pulse_names[i++]);
    }
  }
  std::atomic<size_t> next{0};
  std::mutex io;
  const bench::Stopwatch t_all;
  auto heat = [&](const Mat& pre, const Mat& post, const Job& j) {
    std::vector<double> q;
    std::vector<int> spins = j.c->system_spins;
    spins.push_back(j.c->bath_spin);
    for (int k : spins)
      q.push_back(thermo::subsystem_energy(post, k, n4) - thermo::subsystem_energy(pre, k, n4));
    return q;
  };
  auto work = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      Job& j = jobs[i];
      const bench::Stopwatch t0;
      // (a) exact
      const Mat pre_i = j.ud_ideal * j.rho0 * j.ud_ideal.adjoint();
      j.q_ideal = heat(pre_i, j.contact_ideal * pre_i * j.contact_ideal.adjoint(), j);
      // (b) the 4-spin model
      Mat u = Mat::Identity(16, 16);
      for (const auto& e : j.ud) u = simulate_unitary(m4, e) * u;
      const Mat pre4 = u * j.rho0 * u.adjoint();
      Mat v = Mat::Identity(16, 16);
      for (const auto& e : j.contact) v = simulate_unitary(m4, e) * v;
      j.q4 = heat(pre4, v * pre4 * v.adjoint(), j);
      // (c) the 7-spin molecule under the decoupler (one evolution through U_d and contact)
      DecoupledEvolution ev(m7, dec);
      const int d7 = 1 << n7;
      Mat u7 = Mat::Identity(d7, d7);
      for (const auto& e : j.ud) u7 = ev.advance(e) * u7;
      Mat v7 = Mat::Identity(d7, d7);
      for (const auto& e : j.contact) v7 = ev.advance(e) * v7;
      const Mat rho7 = kron(j.rho0, Mat::Identity(8, 8) / 8.0);
      const Mat pre7 = u7 * rho7 * u7.adjoint();
      const Mat post7 = v7 * pre7 * v7.adjoint();
      j.q7 = heat(partial_trace(pre7, {0, 1, 2, 3}, n7), partial_trace(post7, {0, 1, 2, 3}, n7), j);
      j.seconds = t0.seconds();
      std::lock_guard<std::mutex> lock(io);
      std::fprintf(stderr, "%s m=%d %.1f s\n", j.c->name.c_str(), j.m, j.seconds);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < a.threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  std::printf("pulses: %s\n",
              a.grape_decoupler ? "recompiled with the decoupler in the model" : "shipped");
  std::printf("decoupler: %s, PCPD2 %.4g us (B2 %.3g kHz), O2 %.3g ppm\n\n", cpd_name(dec.sequence),
              dec.pcpd_s * 1e6, dec.rf_hz() / 1e3, a.o2_ppm);
  std::printf(
      "| case | m | subsystem | heat, exact | 4-spin, compiled | 7-spin, decoupled | pulses |\n"
      "|---|---|---|---|---|---|---|\n");
  for (const auto& j : jobs) {
    std::string pulses;
    for (const auto& n : j.pulse_names) pulses += (pulses.empty() ? "" : ", ") + n;
    for (size_t k = 0; k < j.q_ideal.size(); ++k) {
      const std::string sub =
          k + 1 < j.q_ideal.size()
              ? "S" + std::to_string(k + 1) + " (" + m4.nuclei[j.c->system_spins[k]].label + ")"
              : "R (" + m4.nuclei[j.c->bath_spin].label + ")";
      std::printf("| %s | %d | %s | %+.5f | %+.5f | %+.5f | %s |\n", j.c->name.c_str(), j.m,
                  sub.c_str(), j.q_ideal[k], j.q4[k], j.q7[k], k == 0 ? pulses.c_str() : "");
    }
  }
  std::printf("\nwall %.1f s for %zu runs\n", t_all.seconds(), jobs.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef __GLIBC__
  // glibc serves every block above 128 KiB with a fresh mmap (a 128 x 128 complex matrix is
  // 256 KiB), so each temporary of the 7-spin propagation costs page faults: measured on one 30
  // ms pulse, 2.6 s user + 1.0 s system CPU by default, 1.5 s + 0.01 s with these thresholds
  // (docs/console-physics.md, "Run time").
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
  try {
    if (argc < 2) {
      std::fprintf(stderr, "usage: console_physics spectrum|gates ...\n");
      return 2;
    }
    const std::string mode = argv[1];
    const Args a = parse(argc, argv, 2);
    if (mode == "spectrum") return spectrum(a);
    if (mode == "gates") return gates(a);
    if (mode == "grape-probe") return grape_probe(a);
    if (mode == "grape-cap") return grape_cap(a);
    if (mode == "fig3") return fig3(a);
    if (mode == "residual") return residual(a);
    if (mode == "grape-decoupler") return grape_decoupler(a);
    if (mode == "export-gates") return export_gates(a);
    std::fprintf(stderr, "console_physics: unknown mode %s\n", mode.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "console_physics: %s\n", e.what());
    return 2;
  }
}
