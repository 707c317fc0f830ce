// Timings of the virtual spectrometer on crotonic acid (issue 4, "Speed"): a 20 ms shaped pulse
// of 1000 steps with and without relaxation, exact and Odeint engines, a 5-point B1 ensemble,
// the relaxing superoperator, and a 32k-point spectrum. With --dump DIR it also writes the
// problem (Hamiltonians, pulse, jump operators, initial state) and its results as JSON for
// bench/qutip_spectrometer.py, which times QuTiP on the same pulse in the same run.
//
// Usage: spectrometer_bench [--dump DIR] [--superop-steps N] (from the source tree root or
// with NMRC_SOURCE_DIR set).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nmrc/core/operators.hpp"
#include "nmrc/spectrometer/acquisition.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "nmrc/spectrometer/propagation.hpp"
#include "nmrc/spectrometer/sample.hpp"
#include "timer.hpp"

using namespace nmrc;
using namespace nmrc::spectrometer;

namespace {

// Best of `reps` runs of f (seconds).
template <class F>
double best_of(int reps, F f) {
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const bench::Stopwatch t0;
    f();
    best = std::min(best, t0.seconds());
  }
  return best;
}

// The benchmark pulse: 1000 steps of 20 us, smooth multi-tone amplitudes up to ~6 kHz, the
// same formula as bench/qutip_spectrometer.py would use (the script reads it from the dump).
ShapedPulseElement bench_pulse(int steps) {
  ShapedPulseElement p;
  p.name = "bench";
  p.dt_s = 2e-5;
  p.channels = {0};
  p.ux_hz = {RVec(steps)};
  p.uy_hz = {RVec(steps)};
  for (int j = 0; j < steps; ++j) {
    const double x = (j + 0.5) / 1000.0;
    p.ux_hz[0](j) = 4000.0 * std::sin(kTwoPi * 7 * x) + 1500.0 * std::cos(kTwoPi * 23 * x);
    p.uy_hz[0](j) = 3000.0 * std::cos(kTwoPi * 5 * x) - 1000.0 * std::sin(kTwoPi * 31 * x);
  }
  return p;
}

nlohmann::json mat_json(const Mat& m) {
  nlohmann::json re = nlohmann::json::array(), im = nlohmann::json::array();
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    std::vector<double> r, c;
    for (Eigen::Index j = 0; j < m.cols(); ++j) {
      r.push_back(m(i, j).real());
      c.push_back(m(i, j).imag());
    }
    re.push_back(r);
    im.push_back(c);
  }
  return {{"re", re}, {"im", im}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string dump;
  int superop_steps = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--dump") dump = argv[i + 1];
    if (a == "--superop-steps") superop_steps = std::atoi(argv[i + 1]);
  }
  const char* src = std::getenv("NMRC_SOURCE_DIR");
  const std::string root = src ? src : ".";
  const Molecule m = load_molecule(root + "/molecules/crotonic_acid.yaml");
  const ShapedPulseElement pulse = bench_pulse(1000);
  const ThermalState th = thermal_equilibrium(m);
  nlohmann::json t;

  // Unitary path: exact (products of exp(-i H dt)) and Odeint.
  Mat u_exact, u_ode;
  t["unitary_exact_s"] = best_of(5, [&] { u_exact = simulate_unitary(m, pulse); });
  PropagationOptions ode;
  ode.engine = Engine::kOdeint;
  t["unitary_odeint_s"] = best_of(1, [&] { u_ode = simulate_unitary(m, pulse, 1.0, ode); });
  t["unitary_engine_gate_fidelity"] = std::abs((u_exact.adjoint() * u_ode).trace()) / 16.0;

  // Relaxing state from thermal equilibrium: exact (Taylor to rounding per step) and Odeint.
  const Dynamics relax(m, {.offset_error_hz = {}, .relaxation = true});
  const auto segs = segments_of(pulse, 1);
  Mat rho_exact, rho_ode;
  t["relaxing_state_exact_s"] = best_of(3, [&] { rho_exact = exact_state(relax, segs, th.rho); });
  t["relaxing_state_odeint_s"] = best_of(1, [&] { rho_ode = odeint_state(relax, segs, th.rho); });
  t["relaxing_engine_max_diff_over_epsilon"] =
      (rho_exact - rho_ode).cwiseAbs().maxCoeff() / th.epsilon;

  // 5-point B1 ensemble through the sequence executor, unitary and relaxing.
  Sample s;
  s.molecule = m;
  s.b1_scale = {0.95, 0.975, 1.0, 1.025, 1.05};
  s.b1_weight = {1, 2, 3, 2, 1};
  Sequence seq;
  seq.elements = {pulse};
  t["b1_ensemble5_unitary_s"] = best_of(3, [&] { run_sequence(s, seq, th.rho); });
  s.relaxation = true;
  t["b1_ensemble5_relaxing_s"] = best_of(1, [&] { run_sequence(s, seq, th.rho); });

  // Relaxing superoperator (256 x 256, dense expm per step) on the first superop_steps steps.
  ShapedPulseElement head = bench_pulse(superop_steps);
  t["superoperator_steps"] = superop_steps;
  t["superoperator_exact_s"] = best_of(1, [&] { simulate_superoperator(m, head); });

  // 32k-point spectrum: thermal state after an ideal 90-degree pulse, FID of 32768 points
  // and its FFT.
  Mat rho90 = th.rho;
  for (int k = 0; k < 4; ++k) {
    Mat ry(2, 2);
    ry << std::cos(kPi / 4), -std::sin(kPi / 4), std::sin(kPi / 4), std::cos(kPi / 4);
    apply_local(rho90, ry, {k}, 4);
  }
  Fid fid;
  fid.sw_hz = 15000.0;
  t["fid_32k_s"] =
      best_of(3, [&] { fid.points = fid_signal(m, m.hamiltonian(), rho90, 0, 15000.0, 32768); });
  t["fft_32k_s"] = best_of(3, [&] { process(m, fid); });

  std::printf("%s\n", t.dump(2).c_str());
  if (!dump.empty()) {
    nlohmann::json p;
    p["dt_s"] = pulse.dt_s;
    p["ux_hz"] = std::vector<double>(pulse.ux_hz[0].data(), pulse.ux_hz[0].data() + 1000);
    p["uy_hz"] = std::vector<double>(pulse.uy_hz[0].data(), pulse.uy_hz[0].data() + 1000);
    p["h0"] = mat_json(m.hamiltonian());
    p["cx"] = mat_json(m.control(0, 'x'));
    p["cy"] = mat_json(m.control(0, 'y'));
    p["rho0"] = mat_json(th.rho);
    p["epsilon"] = th.epsilon;
    // Jump operators sqrt(w_down)|0><1|_k, sqrt(w_up)|1><0|_k, sqrt(g/2) sigma_z^k.
    nlohmann::json jumps = nlohmann::json::array();
    Mat sm(2, 2), sp(2, 2);
    sm << 0, 1, 0, 0;
    sp << 0, 0, 1, 0;
    const auto& r = relax.rates();
    for (int k = 0; k < 4; ++k) {
      jumps.push_back(mat_json(std::sqrt(r.w_down[k]) * embed(sm, {k}, 4)));
      jumps.push_back(mat_json(std::sqrt(r.w_up[k]) * embed(sp, {k}, 4)));
      jumps.push_back(mat_json(std::sqrt(r.dephasing[k] / 2) * sigma('z', k, 4)));
    }
    p["jumps"] = jumps;
    p["u_exact"] = mat_json(u_exact);
    p["rho_exact"] = mat_json(rho_exact);
    p["timings"] = t;
    std::ofstream(dump + "/spectrometer_problem.json") << p.dump();
  }
  return 0;
}
