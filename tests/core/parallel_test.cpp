// The one parallel loop (core/parallel.hpp): every index once, the thread count honoured, and a
// body's exception rethrown in the caller after every thread has joined (a joinable std::thread
// destroyed by an exception would call std::terminate and end the test process).
#include "nmrc/core/parallel.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace nmrc;

TEST_CASE("parallel_for runs every index exactly once") {
  for (int threads : {0, 1, 2, 3, 8}) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{5}, std::size_t{1000}}) {
      std::vector<std::atomic<int>> hits(n);
      parallel_for(n, threads, [&](std::size_t i) { hits[i]++; });
      for (std::size_t i = 0; i < n; ++i) CHECK(hits[i].load() == 1);
    }
  }
}

TEST_CASE("parallel_for uses at most the threads it is given") {
  for (int threads : {1, 2, 3}) {
    std::mutex mu;
    std::set<std::thread::id> ids;
    parallel_for(64, threads, [&](std::size_t) {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    });
    CHECK(ids.size() >= 1);
    CHECK(ids.size() <= static_cast<std::size_t>(threads));
    if (threads == 1) CHECK(*ids.begin() == std::this_thread::get_id());
  }
}

TEST_CASE("a body's exception reaches the caller after the threads joined") {
  for (int threads : {1, 2, 4}) {
    std::atomic<int> finished{0};
    CHECK_THROWS_WITH_AS(parallel_for(100, threads,
                                      [&](std::size_t i) {
                                        if (i == 3) throw std::runtime_error("item 3 failed");
                                        std::this_thread::sleep_for(std::chrono::microseconds(50));
                                        finished++;
                                      }),
                         "item 3 failed", std::runtime_error);
  }
  // The first index throws on every thread: still one exception, no terminate.
  CHECK_THROWS_AS(parallel_for(8, 4, [](std::size_t) { throw std::logic_error("all"); }),
                  std::logic_error);
}

TEST_CASE("parallel_chunks covers [0, n) with contiguous ranges") {
  for (int chunks : {1, 2, 3, 7}) {
    for (std::size_t n : {std::size_t{0}, std::size_t{2}, std::size_t{10}, std::size_t{101}}) {
      std::vector<std::atomic<int>> hits(n);
      std::atomic<int> calls{0};
      parallel_chunks(n, chunks, [&](std::size_t b, std::size_t e) {
        CHECK(b <= e);
        calls++;
        for (std::size_t i = b; i < e; ++i) hits[i]++;
      });
      for (std::size_t i = 0; i < n; ++i) CHECK(hits[i].load() == 1);
      CHECK(calls.load() <= std::max(1, chunks));
    }
  }
}

TEST_CASE("SequentialFor and ThreadFor are interchangeable loop types") {
  auto sum_with = [](const auto& loop) {
    std::vector<long> v(50);
    loop.run(v.size(), [&](std::size_t i) { v[i] = static_cast<long>(i * i); });
    long s = 0;
    for (long x : v) s += x;
    return s;
  };
  CHECK(sum_with(SequentialFor{}) == sum_with(ThreadFor{3}));
  CHECK(SequentialFor{}.thread_count() == 1);
  CHECK(ThreadFor{0}.thread_count() == 1);
  CHECK(ThreadFor{4}.thread_count() == 4);
}

TEST_CASE("PersistentFor runs every index once per run, run after run, on its own threads") {
  for (int threads : {0, 1, 2, 3}) {
    PersistentFor loop(threads);
    CHECK(loop.thread_count() <= std::max(1, threads));
    std::mutex mu;
    std::set<std::thread::id> ids;
    // Thousands of short runs: the hand-off (spin, then sleep) must lose no run and no index.
    for (int run = 0; run < 3000; ++run) {
      const std::size_t n = static_cast<std::size_t>(run % 7);
      std::vector<std::atomic<int>> hits(n);
      loop.run(n, [&](std::size_t i) {
        hits[i]++;
        if (run % 500 == 0) {
          std::lock_guard<std::mutex> lock(mu);
          ids.insert(std::this_thread::get_id());
          std::this_thread::sleep_for(std::chrono::microseconds(300));
        }
      });
      for (std::size_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);
      // Now and then a pause longer than the spin: the helpers sleep and must wake again.
      if (run % 1000 == 999) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK(ids.size() <= static_cast<std::size_t>(std::max(1, threads)));
    if (threads <= 1) CHECK(ids.size() == 1);
  }
}

TEST_CASE("PersistentFor rethrows a body's exception and stays usable") {
  PersistentFor loop(2);
  for (int round = 0; round < 3; ++round) {
    CHECK_THROWS_WITH_AS(loop.run(50,
                                  [&](std::size_t i) {
                                    if (i == 3) throw std::runtime_error("item 3 failed");
                                  }),
                         "item 3 failed", std::runtime_error);
    std::atomic<int> sum{0};
    loop.run(10, [&](std::size_t i) { sum += static_cast<int>(i); });
    CHECK(sum.load() == 45);
  }
  // Every index throws: one exception reaches the caller.
  CHECK_THROWS_AS(loop.run(8, [](std::size_t) { throw std::logic_error("all"); }),
                  std::logic_error);
  // A loop destroyed without a run joins its threads.
  { PersistentFor unused(3); }
}
