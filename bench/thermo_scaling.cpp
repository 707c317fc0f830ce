// Time per collision of the cascade collision model for n = 3..12 subsystems (n + 1 spins with
// the bath particle), with 1 thread and with every core in apply_local, with and without the
// entropic observables. Writes a Markdown table to stdout and, given a path, to that file.
// Usage: thermo_scaling [RESULT.md] [NMAX]
#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "nmrc/thermo/collision.hpp"
#include "timer.hpp"

using namespace nmrc;
using namespace nmrc::thermo;

namespace {

ModelParams params(int n, int collisions, int threads, bool information,
                   Engine engine = Engine::kSectors) {
  ModelParams p;
  for (int k = 0; k < n; ++k) {
    // Appended, not "S" + std::to_string(..): GCC 12 warns falsely there (-Wrestrict, GCC PR
    // 105329).
    p.names.push_back(std::string("S").append(std::to_string(k + 1)));
    p.temperatures.push_back(1.0);
    p.order.push_back(k);
  }
  // Physical for every n: |c| <= 1 / max_m m(n - m) on all pairs (Johnson-graph bound).
  const double c = -0.9 / ((n / 2) * (n - n / 2));
  for (int a = 0; a < n; ++a)
    for (int b = a + 1; b < n; ++b) p.coherences.push_back({a, b, c});
  p.bath_temperature = 0.9;
  p.g = 20;
  p.tau = 0.01;
  p.collisions = collisions;
  p.threads = threads;
  p.information = information;
  p.engine = engine;
  return p;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec + ru.ru_stime.tv_sec +
         1e-6 * ru.ru_stime.tv_usec;
}

struct Timing {
  double wall_per_collision, cpu_per_collision;
};

Timing time_run(const ModelParams& p) {
  const bench::Stopwatch t0;
  const double c0 = cpu_seconds();
  const Trajectory t = run_collision_model(p);
  const double wall = t0.seconds();
  const double cpu = cpu_seconds() - c0;
  if (t.steps.size() != static_cast<size_t>(1 + p.collisions * p.n())) std::abort();
  return {wall / p.collisions, cpu / p.collisions};
}

std::string ms(double s) {
  char b[32];
  std::snprintf(b, sizeof b, s < 0.01 ? "%.3f" : "%.1f", 1e3 * s);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  const int nmax = argc > 2 ? std::atoi(argv[2]) : 12;
  const unsigned hw = std::thread::hardware_concurrency();
  std::ostringstream os;
  os << "# Collision-model scaling (cascade, fresh R every collision)\n\n"
     << "Command: `build/bench/thermo_scaling bench/results/thermo_scaling.md` (Release build). "
     << "Machine: " << hw
     << " hardware threads, shared with other jobs while measured (load "
        "average noted below), so wall time exceeds CPU time; CPU time (user + system, all "
        "threads) is the steadier number. Per collision: n two-spin partial SWAPs U_k on "
        "(S_k, R), R traced out and a fresh thermal R appended; energies, heat, C_k and AT_k "
        "recorded after every interaction.\n\n"
        "- local: the full 2^(n+1) x 2^(n+1) density matrix, U_k by core's in-place "
        "`apply_local` (threads over column blocks).\n"
        "- sectors (default): only the excitation-number blocks of rho_SR, U_k as row/column "
        "pair rotations inside each block (threads over blocks).\n"
        "- '+ information' (sectors, all threads) adds S(rho_S) by excitation sectors, C(rho_S), "
        "F, I(S:R), I(S_k:R) and the resource checks after every interaction.\n\n"
     << "| n | spins | collisions | local 1 thr wall | local " << hw << " thr wall | local " << hw
     << " thr CPU | sectors 1 thr wall | sectors " << hw << " thr wall | sectors " << hw
     << " thr CPU | + information wall |\n"
     << "|---|---|---|---|---|---|---|---|---|---|\n";
  std::fputs(os.str().c_str(), stdout);
  for (int n = 3; n <= nmax; ++n) {
    const int cols = n <= 7 ? 50 : (n <= 9 ? 10 : (n == 10 ? 4 : (n == 11 ? 2 : 1)));
    std::string l1 = "-", l2 = "-", l2c = "-";
    if (n <= 11) {
      const Timing one = time_run(params(n, cols, 1, false, Engine::kLocal));
      const Timing all = time_run(params(n, cols, 0, false, Engine::kLocal));
      l1 = ms(one.wall_per_collision);
      l2 = ms(all.wall_per_collision);
      l2c = ms(all.cpu_per_collision);
    }
    const Timing s1 = time_run(params(n, cols, 1, false));
    const Timing s2 = time_run(params(n, cols, 0, false));
    std::string info = "-";
    if (n <= 11) info = ms(time_run(params(n, std::max(1, cols / 2), 0, true)).wall_per_collision);
    std::ostringstream row;
    row << "| " << n << " | " << n + 1 << " | " << cols << " | " << l1 << " | " << l2 << " | "
        << l2c << " | " << ms(s1.wall_per_collision) << " | " << ms(s2.wall_per_collision) << " | "
        << ms(s2.cpu_per_collision) << " | " << info << " |\n";
    std::fputs(row.str().c_str(), stdout);
    std::fflush(stdout);
    os << row.str();
  }
  os << "\n(all times in ms per collision)\n";
  // The yardstick: 100 collisions at n = 10.
  if (nmax >= 10) {
    for (int variant = 0; variant < 3; ++variant) {
      const bool info = variant == 2;
      const Engine e = variant == 0 ? Engine::kLocal : Engine::kSectors;
      const bench::Stopwatch t0;
      const double c0 = cpu_seconds();
      run_collision_model(params(10, 100, 0, info, e));
      const double wall = t0.seconds();
      char buf[200];
      std::snprintf(buf, sizeof buf,
                    "\n100 collisions at n = 10, %s engine%s: %.1f s wall, %.1f s CPU\n",
                    e == Engine::kLocal ? "local" : "sectors", info ? " + information" : "", wall,
                    cpu_seconds() - c0);
      std::fputs(buf, stdout);
      os << buf;
    }
  }
  double load[3] = {0, 0, 0};
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
    std::fclose(f);
  }
  char buf[120];
  std::snprintf(buf, sizeof buf, "\nLoad average at the end of the run: %.2f %.2f %.2f\n", load[0],
                load[1], load[2]);
  os << buf;
  std::fputs(buf, stdout);
  if (argc > 1 && argv[1][0] != '\0') std::ofstream(argv[1]) << os.str();
  return 0;
}
