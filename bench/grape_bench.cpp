// GRAPE speed benchmark. Default problem (bench/results/grape.md): the C1-C4 partial swap
// exp(-i 0.1 (XX+YY)) on crotonic acid, 20 ms in 1000 steps, +-10 kHz, nominal B1 only, one
// thread. Options choose another molecule, target, duration, ensemble and thread count (the
// scaling runs of bench/results/grape_scaling.md). Prints, per seed, one JSON line: the time of
// one ensemble objective+gradient evaluation (CPU and wall) and the time to the fidelity target
// from that seed's random start; --dump-problem writes the GRAPE problem (drift, controls,
// target) as JSON for bench/qutip_grape.py, so that both engines solve the same matrices.
// Usage: grape_bench MOLECULE.yaml [options] [seeds...]
//   --target JSON     gate description (default the C1-C4 partial swap, theta 0.2)
//   --duration S --steps N --max-rf HZ (every driven channel) --b1 a,b,c --threads T
//   --fidelity F --quadrature N (GrapeOptions::b1_quadrature) --coarse F (coarse_factor)
//   --trace a,b,...   print (stderr) the evaluations and wall time at which the search's best
//                     F_min first reached each level (on the members searched on: the stage's
//                     rule, coarse steps included; the final F_min is the full grid's)
//   --manual (GrapeOptions::auto_stages off: only the stages the options set; without it and
//   without --quadrature and --coarse, GRAPE chooses its stages itself, as `nmrc compile` does)
//   --zero-ends (the compiler's default; off in the QuTiP comparison) --reps R --eval-only
//   --time-limit S (wall seconds per optimisation, default 600: raise it on a loaded machine)
//   --dump-problem FILE
//   --slices S        GrapeProblem::time_slices (0, the default: the rule's, time_slice_count)
//   --member-split    also time the schedule before time slicing: whole members split over two
//                     threads (i = t, t + 2, ...), one FidelityEvaluator per thread
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/grape.hpp"
#include "nmrc/compiler/targets.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/molecule.hpp"

using namespace nmrc;
using namespace nmrc::compiler;

namespace {
double cpu_s() {  // CPU time of this process, every thread (robust when other work shares cores)
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

std::vector<double> parse_list(const std::string& s) {
  std::vector<double> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::strtod(item.c_str(), nullptr));
  return out;
}

std::string problem_json(const GrapeProblem& p) {
  nlohmann::json j;
  j["drift"] = nlohmann::json::parse(matrix_json(p.drift));
  j["target"] = nlohmann::json::parse(matrix_json(p.target));
  j["norm"] = p.norm;
  j["steps"] = p.steps;
  j["dt_s"] = p.dt_s;
  for (const auto& c : p.channels)
    j["channels"].push_back({{"name", c.name},
                             {"max_rf_hz", c.max_rf_hz},
                             {"cx", nlohmann::json::parse(matrix_json(c.cx))},
                             {"cy", nlohmann::json::parse(matrix_json(c.cy))}});
  for (const auto& m : p.ensemble) j["b1_scale"].push_back(m.b1_scale);
  return j.dump();
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: grape_bench MOLECULE.yaml [options] [seeds...]\n");
    return 2;
  }
  const Molecule m = load_molecule(argv[1]);
  std::string target = R"({"gate": "partial_swap", "spins": ["C1", "C4"], "theta_rad": 0.2})";
  CompileOptions o;
  o.duration_s = 0.02;
  o.steps = 1000;
  o.b1_scale = {1.0};
  double max_rf = 10000.0;
  double time_limit = 600.0;  // wall seconds per optimisation (GrapeOptions::time_limit_s)
  int threads = 1, reps = 30, quadrature = 0, coarse = 0;
  double fidelity = 0.995;
  bool eval_only = false, member_split = false, zero_ends = false, manual = false;
  int slices = 0;
  std::string dump;
  std::vector<double> trace;
  std::vector<unsigned long> seeds;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "grape_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--target")
      target = next();
    else if (a == "--duration")
      o.duration_s = std::strtod(next().c_str(), nullptr);
    else if (a == "--steps")
      o.steps = std::atoi(next().c_str());
    else if (a == "--max-rf")
      max_rf = std::strtod(next().c_str(), nullptr);
    else if (a == "--b1")
      o.b1_scale = parse_list(next());
    else if (a == "--threads")
      threads = std::atoi(next().c_str());
    else if (a == "--reps")
      reps = std::atoi(next().c_str());
    else if (a == "--fidelity")
      fidelity = std::strtod(next().c_str(), nullptr);
    else if (a == "--quadrature")
      quadrature = std::atoi(next().c_str());
    else if (a == "--coarse")
      coarse = std::atoi(next().c_str());
    else if (a == "--time-limit")
      time_limit = std::strtod(next().c_str(), nullptr);
    else if (a == "--zero-ends")
      zero_ends = true;
    else if (a == "--manual")
      manual = true;
    else if (a == "--trace")
      trace = parse_list(next());
    else if (a == "--eval-only")
      eval_only = true;
    else if (a == "--slices")
      slices = std::atoi(next().c_str());
    else if (a == "--member-split")
      member_split = true;
    else if (a == "--dump-problem")
      dump = next();
    else
      seeds.push_back(std::strtoul(a.c_str(), nullptr, 10));
  }
  if (seeds.empty()) seeds = {1, 2, 3};
  const GateTarget t = target_from_json(target, m, "bench");
  for (const auto& c : m.channels) o.max_rf_hz[c.name] = std::min(max_rf, c.max_rf_hz);
  GrapeProblem p = build_problem(m, t, o);
  p.time_slices = slices;
  p.validate();
  std::fprintf(stderr, "grape_bench: %d time slices\n", time_slice_count(p));
  if (!dump.empty()) write_file_atomic(dump, problem_json(p));
  for (unsigned long seed : seeds) {
    GrapeOptions go;
    go.seed = seed;
    go.starts = 1;
    go.threads = threads;
    go.zero_ends = zero_ends;
    go.max_iterations = 5000;
    go.time_limit_s = time_limit;
    go.fidelity_target = fidelity;
    go.b1_quadrature = quadrature;
    go.coarse_factor = coarse;
    go.auto_stages = !manual;
    // Per-evaluation time: a short optimisation from this seed's start (`reps` iterations,
    // target out of reach, no stall stop), its CPU and wall time over its evaluations, as QuTiP's
    // figure is its time over its fidelity calls. (ensemble_objective() itself builds its
    // workspace on every call; the optimiser keeps one.)
    const RMat u0 = initial_guess(p, go, 0);
    GrapeOptions short_run = go;
    short_run.max_iterations = reps;
    short_run.fidelity_target = 1.0;
    short_run.stall_evaluations = 0;
    short_run.b1_quadrature = 0;
    short_run.coarse_factor = 0;
    short_run.auto_stages = false;
    const double c0 = cpu_s();
    const GrapeResult timing = optimise(p, short_run);
    const int timed = std::max(1, timing.summary.evaluations);
    const double per_eval = timing.summary.wall_s / timed;
    const double per_eval_cpu = (cpu_s() - c0) / timed;
    double split_s = 0, split_cpu_s = 0;
    if (member_split) {
      FidelityEvaluator e0(p), e1(p);
      std::vector<RMat> grads(p.ensemble.size());
      const int nm = static_cast<int>(p.ensemble.size());
      auto work = [&](FidelityEvaluator& e, int t) {
        for (int i = t; i < nm; i += 2) e.evaluate(u0, p.ensemble[i], &grads[i]);
      };
      const auto t1 = std::chrono::steady_clock::now();
      const double c1 = cpu_s();
      for (int r = 0; r < reps; ++r) {
        std::thread other(work, std::ref(e1), 1);
        work(e0, 0);
        other.join();
      }
      split_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count() / reps;
      split_cpu_s = (cpu_s() - c1) / reps;
    }
    GrapeResult res;
    double cpu = 0;
    int coarse_evals = 0, full_evals = 0, endgame_evals = 0, jacobians = 0;
    if (!eval_only) {
      const double c1 = cpu_s();
      size_t reached = 0;
      int calls = 0;
      const ProgressCallback cb = [&](const GrapeProgress& g) {
        ++calls;
        while (reached < trace.size() && g.best_fidelity_min >= trace[reached]) {
          std::fprintf(stderr,
                       "{\"seed\": %lu, \"trace\": %.6f, \"evaluations\": %d, \"elapsed_s\": "
                       "%.3f}\n",
                       seed, trace[reached], calls, g.elapsed_s);
          ++reached;
        }
      };
      res = optimise(p, go, trace.empty() ? ProgressCallback() : cb);
      cpu = cpu_s() - c1;
      for (const auto& s : res.summary.starts) {
        coarse_evals += s.coarse_evaluations;
        full_evals += s.full_grid_evaluations;
        endgame_evals += s.endgame_evaluations;
        jacobians += s.gauss_newton_jacobians;
      }
    }
    std::printf(
        "{\"engine\": \"nmrc\", \"seed\": %lu, \"dim\": %ld, \"members\": %zu, \"threads\": %d, "
        "\"eval_s\": %.6f, \"eval_cpu_s\": %.6f, \"wall_s\": %.3f, \"cpu_s\": %.3f, "
        "\"fidelity\": %.6f, \"evaluations\": %d, \"reached\": %s, "
        "\"member_split_eval_s\": %.6f, \"member_split_eval_cpu_s\": %.6f, "
        "\"coarse_evaluations\": %d, \"full_grid_evaluations\": %d, \"endgame_evaluations\": %d, "
        "\"gauss_newton_jacobians\": %d, \"coarse_factor\": %d, "
        "\"quadrature_points\": %d, \"nominal_first\": %s}\n",
        seed, static_cast<long>(p.drift.rows()), p.ensemble.size(), threads, per_eval, per_eval_cpu,
        res.summary.wall_s, cpu, res.summary.fidelity_min, res.summary.evaluations,
        res.summary.reached_target ? "true" : "false", split_s, split_cpu_s, coarse_evals,
        full_evals, endgame_evals, jacobians, res.summary.coarse_factor,
        res.summary.quadrature_points, res.summary.nominal_first ? "true" : "false");
    std::fflush(stdout);
  }
  return 0;
}
