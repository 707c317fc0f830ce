// The bench programs' one wall-clock timer (std::chrono::steady_clock: monotonic, unaffected by
// clock changes). Timings go to bench/results/ and docs/, never into pass/fail tests.
#pragma once

#include <chrono>

namespace nmrc::bench {

/// Wall-clock seconds since it was made (or restarted).
class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  void restart() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace nmrc::bench
