// The one parallel loop of nmrc. Every fan-out over independent work (sectors of a block-diagonal
// matrix, column blocks of a local gate, ensemble members, sweep points, runs of an experiment)
// goes through `parallel_for`, so that each of them is exception-safe and honours the caller's
// thread count in the same way.
//
// Shape after qsim's `For` (lib/parfor.h, lib/seqfor.h): the loop is a small object with a
// `run` member, so code written against a loop type can be given the sequential one (tests,
// nested use) or the threaded one. `ThreadFor` starts its threads as std::jthread, hands out
// indices one at a time (dynamic scheduling: uneven items such as the largest sector first do
// not leave a thread idle), and, when a body throws, stops handing out new indices, joins every
// thread and rethrows the first exception in the caller. A std::thread left joinable by an
// exception would call std::terminate.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace nmrc {

/// Runs body(i) for i = 0, 1, ..., n-1 in order on the calling thread.
struct SequentialFor {
  template <typename Body>
  void run(std::size_t n, Body&& body) const {
    for (std::size_t i = 0; i < n; ++i) body(i);
  }
  int thread_count() const { return 1; }
};

/// Runs body(i) for every i in [0, n) on up to `threads` threads (the calling thread is one of
/// them); threads <= 1 or n <= 1 runs inline. Every index is run exactly once unless a body
/// throws: then no further index is started, all threads are joined, and the first exception
/// is rethrown.
struct ThreadFor {
  int threads = 1;

  template <typename Body>
  void run(std::size_t n, Body&& body) const {
    const std::size_t nt = std::min<std::size_t>(threads > 1 ? threads : 1, n);
    if (nt <= 1) {
      SequentialFor{}.run(n, body);
      return;
    }
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr first;
    std::mutex mu;
    auto worker = [&] {
      try {
        for (std::size_t i = next++; i < n && !failed.load(); i = next++) body(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!first) first = std::current_exception();
        failed = true;
      }
    };
    {
      std::vector<std::jthread> pool;
      pool.reserve(nt - 1);
      try {
        for (std::size_t t = 1; t < nt; ++t) pool.emplace_back(worker);
      } catch (...) {
        // No thread could be started (resources): the ones started and this one finish the
        // work; a failure to start is not a failure of the loop.
      }
      worker();
    }  // jthreads join here
    if (first) std::rethrow_exception(first);
  }
  int thread_count() const { return threads > 1 ? threads : 1; }
};

/// The threads a machine offers (at least 1).
inline int hardware_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

/// body(i) for every i in [0, n) on up to `threads` threads (ThreadFor's rules).
template <typename Body>
void parallel_for(std::size_t n, int threads, Body&& body) {
  ThreadFor{threads}.run(n, body);
}

/// body(begin, end) on `chunks` contiguous, nearly equal ranges covering [0, n) (at most n of
/// them), each range on its own thread: for work whose cost is even across indices and which
/// gains from contiguous ranges (column blocks, time slices).
template <typename Body>
void parallel_chunks(std::size_t n, int chunks, Body&& body) {
  const std::size_t nc = std::min<std::size_t>(chunks > 1 ? chunks : 1, n);
  if (nc <= 1) {
    body(std::size_t{0}, n);
    return;
  }
  parallel_for(nc, static_cast<int>(nc),
               [&](std::size_t c) { body(n * c / nc, n * (c + 1) / nc); });
}

}  // namespace nmrc
