// Runs one cascade (T_k = 1, T_R = 0.9, g = 20, tau = 0.01, c_pq = C on every pair, order
// S1..Sn) and prints the seconds it took, then every interaction's subsystem energies as CSV.
// Used by bench/qutip_thermo.py. Usage: thermo_cascade_dump N COLLISIONS C [THREADS]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "nmrc/thermo/collision.hpp"
#include "timer.hpp"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: thermo_cascade_dump N COLLISIONS C [THREADS]\n");
    return 2;
  }
  using namespace nmrc::thermo;
  const int n = std::atoi(argv[1]);
  ModelParams p;
  for (int k = 0; k < n; ++k) {
    // Appended, not "S" + std::to_string(..): GCC 12 warns falsely there (-Wrestrict, GCC PR
    // 105329).
    p.names.push_back(std::string("S").append(std::to_string(k + 1)));
    p.temperatures.push_back(1.0);
    p.order.push_back(k);
  }
  for (int a = 0; a < n; ++a)
    for (int b = a + 1; b < n; ++b) p.coherences.push_back({a, b, std::atof(argv[3])});
  p.bath_temperature = 0.9;
  p.g = 20;
  p.tau = 0.01;
  p.collisions = std::atoi(argv[2]);
  p.information = false;
  p.threads = argc > 4 ? std::atoi(argv[4]) : 0;
  const nmrc::bench::Stopwatch t0;
  const Trajectory t = run_collision_model(p);
  const double s = t0.seconds();
  std::printf("seconds %.6f\n", s);
  for (const auto& st : t.steps) {
    std::printf("%d", st.step);
    for (double e : st.energy) std::printf(",%.15e", e);
    std::printf("\n");
  }
  return 0;
}
