// GRAPE speed benchmark: the C1-C4 partial swap exp(-i 0.1 (XX+YY)) on crotonic acid, 20 ms in
// 1000 steps, +-10 kHz, nominal B1 only, one thread. Prints the time per fidelity+gradient
// evaluation and the wall time to F >= 0.995 for each seed, as one JSON line per seed
// (bench/run_grape_bench.sh combines them with bench/qutip_grape.py's).
// Usage: grape_bench MOLECULE.yaml [seeds...]
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/grape.hpp"
#include "nmrc/compiler/targets.hpp"
#include "nmrc/core/molecule.hpp"

using namespace nmrc;
using namespace nmrc::compiler;

namespace {
double cpu_s() {  // CPU time of this process (robust when other work shares the cores)
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: grape_bench MOLECULE.yaml [seeds...]\n");
    return 2;
  }
  const Molecule m = load_molecule(argv[1]);
  std::vector<unsigned long> seeds;
  for (int i = 2; i < argc; ++i) seeds.push_back(std::strtoul(argv[i], nullptr, 10));
  if (seeds.empty()) seeds = {1, 2, 3};
  GateTarget t = target_from_json(R"({"gate": "partial_swap", "spins": ["C1", "C4"], "theta_rad": 0.2})",
                                  m, "bench");
  CompileOptions o;
  o.duration_s = 0.02;
  o.steps = 1000;
  o.b1_scale = {1.0};
  o.max_rf_hz["13C"] = 10000.0;
  o.threads = 1;
  o.starts = 1;
  o.zero_ends = false;
  o.max_iterations = 5000;
  o.time_limit_s = 300;
  const GrapeProblem p = build_problem(m, t, o);
  for (unsigned long seed : seeds) {
    GrapeOptions go;
    go.seed = seed;
    go.starts = 1;
    go.threads = 1;
    go.zero_ends = false;
    go.max_iterations = 5000;
    go.time_limit_s = 300;
    // Per-evaluation time on the initial guess of this seed.
    FidelityEvaluator ev(p);
    const RMat u0 = initial_guess(p, go, 0);
    RMat grad;
    const int reps = 30;
    ev.evaluate(u0, p.ensemble[0], &grad);
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_s();
    for (int r = 0; r < reps; ++r) ev.evaluate(u0, p.ensemble[0], &grad);
    const double per_eval =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
    const double per_eval_cpu = (cpu_s() - c0) / reps;
    const double c1 = cpu_s();
    const GrapeResult res = optimise(p, go);
    const double cpu = cpu_s() - c1;
    std::printf(
        "{\"engine\": \"nmrc\", \"seed\": %lu, \"eval_s\": %.6f, \"eval_cpu_s\": %.6f, "
        "\"wall_s\": %.3f, \"cpu_s\": %.3f, \"fidelity\": %.6f, \"evaluations\": %d, "
        "\"reached\": %s}\n",
        seed, per_eval, per_eval_cpu, res.summary.wall_s, cpu, res.summary.fidelity_min,
        res.summary.evaluations, res.summary.reached_target ? "true" : "false");
    std::fflush(stdout);
  }
  return 0;
}
