// The units of work `mpirun -n N nmrc experiment` deals to its ranks (docs/mpi.md): per case of
// a program, each unit's compute time and the size of its text (what travels to rank 0), and the
// cost of a rank's first unit of a case (its engines' build) against a unit on a warm runner.
// Feeds bench/results/scaling.md's experiment section.
//
// Usage (from the source tree root): experiment_units PROGRAM.yaml CACHE_DIR [THREADS]
//   Pulses as --no-compile (a missing one is an error); CACHE_DIR the channel cache (warm it
//   with one `nmrc experiment` run first, as the measured runs are).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nmrc/core/error.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/pulses.hpp"
#include "nmrc/experiment/run.hpp"

using namespace nmrc;
namespace ex = nmrc::experiment;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: experiment_units PROGRAM.yaml CACHE_DIR [THREADS]\n");
    return 2;
  }
  try {
    const ex::ExperimentProgram p = ex::load_experiment_program(argv[1]);
    ex::RunSettings s;
    s.cache_dir = argv[2];
    s.compile_mode = ex::CompileMode::kNever;
    s.threads = argc > 3 ? std::atoi(argv[3]) : 1;
    ex::PulseLibrary lib = ex::make_pulse_library(p, s);
    std::printf("case,unit,collisions,seconds,bytes\n");
    double total_s = 0, total_bytes = 0;
    for (const auto& c : p.cases) {
      ex::CaseRunner runner(p, c, lib, s);
      for (size_t u = 0; u < runner.units(); ++u) {
        const std::string text = runner.run_unit(u);
        const auto j = nlohmann::json::parse(text);
        std::string ms;
        for (const auto& pr : j["pairs"]) {
          if (!ms.empty()) ms += ' ';
          ms += std::to_string(pr["collision"].get<int>());
        }
        const double sec = j["seconds"].get<double>();
        total_s += sec;
        total_bytes += static_cast<double>(text.size());
        std::printf("%s,%zu,%s,%.3f,%zu\n", c.name.c_str(), u, ms.c_str(), sec, text.size());
      }
      // a rank's first unit of this case: the last unit on a fresh runner (engines built again;
      // the process's memos of the played PPS and the bath gradient stay warm, as on a rank
      // that ran an earlier case)
      ex::CaseRunner fresh(p, c, lib, s);
      const auto j = nlohmann::json::parse(fresh.run_unit(fresh.units() - 1));
      std::printf("%s,last unit on a fresh runner,,%.3f,\n", c.name.c_str(),
                  j["seconds"].get<double>());
    }
    std::printf("total,,,%.3f,%.0f\n", total_s, total_bytes);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "experiment_units: %s\n", e.what());
    return 2;
  }
  return 0;
}
