// The one parallel loop of nmrc. Every fan-out over independent work (sectors of a block-diagonal
// matrix, column blocks of a local gate, ensemble members, sweep points, runs of an experiment)
// goes through `parallel_for`, so that each of them is exception-safe and honours the caller's
// thread count in the same way; a loop run thousands of times a second keeps its threads
// (`PersistentFor`, GRAPE's time slices), with the same index queue (`detail::IndexQueue`).
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
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace nmrc {

/// Runs body(i) for i = 0, 1, ..., n-1 in order on the calling thread.
struct SequentialFor {
  template <typename Body>
  void run(std::size_t n, Body&& body) const {
    for (std::size_t i = 0; i < n; ++i) body(i);
  }
  int thread_count() const { return 1; }
};

namespace detail {
/// The indices of one parallel loop, handed out one at a time to every thread that calls work;
/// after a body throws no further index is started and the first exception is kept.
struct IndexQueue {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first;
  std::mutex mu;

  template <typename Body>
  void work(std::size_t n, Body& body) {
    try {
      for (std::size_t i = next++; i < n && !failed.load(); i = next++) body(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!first) first = std::current_exception();
      failed = true;
    }
  }
};
}  // namespace detail

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
    detail::IndexQueue queue;
    auto worker = [&] { queue.work(n, body); };
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
    if (queue.first) std::rethrow_exception(queue.first);
  }
  int thread_count() const { return threads > 1 ? threads : 1; }
};

/// ThreadFor's loop on threads started once and kept: for a loop run thousands of times a second
/// (GRAPE's time slices: two hand-offs per evaluation of ~15 ms), where starting a thread per
/// run costs more than the run's imbalance. The helpers wait for the next run spinning for
/// kSpin, then asleep (std::atomic::wait); the caller waits for the helpers the same way. The
/// rules are ThreadFor's: indices handed out one at a time, every index run once unless a body
/// throws, the first exception rethrown in the caller after every helper finished the run. One
/// run at a time (the caller's thread only); not reentrant.
class PersistentFor {
 public:
  // How long a thread spins before sleeping: longer than a hand-off inside one GRAPE evaluation
  // (the propagator combination between its forward and backward runs, tens of us), shorter
  // than the optimiser's step between evaluations (ms), so that an idle helper gives its core
  // back to the machine.
  static constexpr std::chrono::microseconds kSpin{100};

  explicit PersistentFor(int threads) : threads_(threads > 1 ? threads : 1) {
    try {
      for (int t = 1; t < threads_; ++t) helpers_.emplace_back([this] { helper(); });
    } catch (...) {
      // No thread could be started (resources): the ones started and the caller do the work.
    }
  }
  PersistentFor(const PersistentFor&) = delete;
  PersistentFor& operator=(const PersistentFor&) = delete;
  ~PersistentFor() {
    stop_.store(true);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
  }  // jthreads join here

  template <typename Body>
  void run(std::size_t n, Body&& body) {
    if (helpers_.empty() || n <= 1) {
      SequentialFor{}.run(n, body);
      return;
    }
    using B = std::remove_reference_t<Body>;
    body_ = const_cast<void*>(static_cast<const void*>(&body));
    call_ = [](void* b, std::size_t i) { (*static_cast<B*>(b))(i); };
    n_ = n;
    queue_.next.store(0, std::memory_order_relaxed);
    queue_.failed.store(false, std::memory_order_relaxed);
    queue_.first = nullptr;
    busy_.store(static_cast<std::uint32_t>(helpers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    work();
    // Wait for every helper to finish this run.
    spin_while([&] { return busy_.load(std::memory_order_acquire) != 0; });
    for (std::uint32_t b = busy_.load(std::memory_order_acquire); b != 0;
         b = busy_.load(std::memory_order_acquire))
      busy_.wait(b, std::memory_order_acquire);
    if (queue_.first) std::rethrow_exception(queue_.first);
  }
  int thread_count() const { return static_cast<int>(helpers_.size()) + 1; }

 private:
  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  }
  // Spins while pred() holds, for at most kSpin.
  template <class Pred>
  static void spin_while(Pred&& pred) {
    const auto end = std::chrono::steady_clock::now() + kSpin;
    for (int i = 0; pred(); ++i) {
      pause();
      if (i % 64 == 63 && std::chrono::steady_clock::now() > end) return;
    }
  }

  void work() {
    auto call = [this](std::size_t i) { call_(body_, i); };
    queue_.work(n_, call);
  }

  void helper() {
    std::uint32_t seen = 0;  // runs counted from construction (a run may precede this thread)
    for (;;) {
      spin_while([&] { return generation_.load(std::memory_order_acquire) == seen; });
      std::uint32_t g = generation_.load(std::memory_order_acquire) - seen;
      while (g == 0) {
        generation_.wait(seen, std::memory_order_acquire);
        g = generation_.load(std::memory_order_acquire) - seen;
      }
      seen += g;
      if (stop_.load()) return;
      work();
      if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) busy_.notify_one();
    }
  }

  int threads_;
  void* body_ = nullptr;
  void (*call_)(void*, std::size_t) = nullptr;
  std::size_t n_ = 0;
  detail::IndexQueue queue_;
  std::atomic<bool> stop_{false};
  alignas(64) std::atomic<std::uint32_t> generation_{0};
  alignas(64) std::atomic<std::uint32_t> busy_{0};
  std::vector<std::jthread> helpers_;  // last: joined (destroyed) first
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
