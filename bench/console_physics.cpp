// The console's physics on the virtual spectrometer (issue 25, docs/console-physics.md): 1H
// decoupling simulated pulse by pulse on the 7-spin crotonic acid against the decoupled 4-spin
// model, and shaped pulses through the probe's resonant circuit.
//
// Usage (from the source tree root, or with NMRC_SOURCE_DIR set):
//   console_physics spectrum [--cpd waltz16|garp] [--o2-ppm P] PCPD_US... (0 = decoupler off)
//   console_physics gates [--cpd waltz16|garp] [--pcpd-us P] [--o2-ppm P] [--threads N]
//                         [--q-c Q --q-h Q] PULSE.json...
//   console_physics grape-probe [--q-c Q] [--threads N] PULSE.json...
// spectrum: the 13C FID of the carbons' x magnetisation with the decoupler at each PCPD2, fitted
//   with the 32 lines of the decoupled 4-spin model (spectrometer::LineFitter); prints the
//   fitted amplitudes' largest and rms deviation from the 4-spin model's and the fit residual.
// gates: each pulse (deduplicated by content) on the 7-spin molecule with the decoupler running
//   from the start of its cycle, against the 4-spin model: F4 (the pulse's own definition on
//   crotonic_acid.yaml), F7|model (sqrt process fidelity of the 13C channel against the 4-spin
//   propagator: 1 = decoupling perfect), F7 (the same against the target, plain gates), and,
//   with --q-c, F4 through the probe (a tuned resonator of that Q on 13C).
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/grape.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/hash.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "nmrc/spectrometer/decoupling.hpp"
#include "nmrc/spectrometer/lines.hpp"
#include "nmrc/spectrometer/probe.hpp"
#include "nmrc/spectrometer/propagation.hpp"

using namespace nmrc;
using namespace nmrc::spectrometer;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string root() {
  const char* s = std::getenv("NMRC_SOURCE_DIR");
  return s ? s : ".";
}

struct Args {
  Decoupler dec;
  double o2_ppm =
      5.0;  // the export's default O2 (compiler/include/nmrc/compiler/bruker_export.hpp)
  int threads = 2;
  double q_c = 0.0, q_h = 0.0;
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
    const auto t0 = Clock::now();
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
                worst, std::sqrt(sum2 / got.lines.size()), got.residual_rms / frms, since(t0));
    std::fflush(stdout);
  }
  return 0;
}

struct Row {
  std::string names, kind;
  double duration_ms = 0, f4 = 0, f7_model = 0, f7 = -1, f4_probe = -1, seconds = 0;
};

int gates(const Args& a) {
  const Molecule m7 = load_molecule(root() + "/molecules/crotonic_acid_7.yaml");
  const Molecule m4 = load_molecule(root() + "/molecules/crotonic_acid.yaml");
  const int h = m7.channel_index("1H");
  Decoupler dec = a.dec;
  dec.o2_hz = m7.channels[h].offset_of_ppm(a.o2_ppm);
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
  const auto t_all = Clock::now();
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
      const auto t0 = Clock::now();
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
      r.seconds = since(t0);
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
  std::printf("\nwall %.1f s for %zu distinct pulses\n", since(t_all), order.size());
  return 0;
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
    const ShapedPulseElement e = p.element(m4);
    compiler::CompileOptions co;
    co.steps = static_cast<int>(p.channels[0].ux_hz.size());
    co.dt_s = p.dt_s;
    co.b1_scale = {1.0};
    co.fidelity_target = p.fidelity_target;
    co.threads = a.threads;
    co.probe_q["13C"] = q;
    const auto t0 = Clock::now();
    compiler::GrapeOptions go;
    go.fidelity_target = p.fidelity_target;
    go.time_limit_s = 600;
    const compiler::GrapeResult r = compiler::optimise(compiler::build_problem(m4, target, co), go);
    const double secs = since(t0);
    ShapedPulseElement ed = e;
    ed.ux_hz = {r.u_hz.row(0).transpose()};
    ed.uy_hz = {r.u_hz.row(1).transpose()};
    std::printf("| %s | %.6f | %.6f | %.6f | %.1f |\n", path.c_str(), fid(e, {}), fid(e, po),
                fid(ed, po), secs);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
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
    std::fprintf(stderr, "console_physics: unknown mode %s\n", mode.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "console_physics: %s\n", e.what());
    return 2;
  }
}
