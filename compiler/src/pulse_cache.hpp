// The pulse cache, private to the compiler (pulse_cache.cpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "nmrc/compiler/compile.hpp"

namespace nmrc::compiler::detail {

/// The result cached under `key` in cache_dir, renamed `name`; nullopt when there is none, the
/// folder is not trusted (core/io.hpp: not this user's, or writable by others), the entry is
/// damaged, or its content does not match its recorded checksum (content_hash64, core/hash.hpp,
/// of the pulse and summary): it is then recompiled and rewritten.
std::optional<CompileResult> read_cached(const std::string& cache_dir, const std::string& key,
                                         const std::string& name);
/// Stores a result under its cache key with its checksum (atomically; creates the directory),
/// and its warm-start family (warm_start_family) when given. A cache that cannot be trusted or
/// written (core's write_cache_file) is warned about once and skipped: never an error.
void write_cached(const std::string& cache_dir, const CompileResult& result,
                  const std::string& family = {});

/// Most cache entries find_warm_start reads (docs/limits.md): a larger cache is searched in the
/// name order of its first 4096 entries.
inline constexpr std::size_t kMaxWarmStartEntries = 4096;

/// A cached pulse to start GRAPE from (CompileOptions::warm_start).
struct WarmStart {
  std::string key;            ///< its cache entry
  double fidelity_min = 0.0;  ///< under the options it was compiled for
  CompiledPulse pulse;
};

/// The entry of cache_dir with this warm-start family and the highest ensemble minimum (ties:
/// the first in name order), its checksum verified; `exclude_key` is skipped. nullopt when none.
std::optional<WarmStart> find_warm_start(const std::string& cache_dir, const std::string& family,
                                         const std::string& exclude_key);

/// What the pulse cache holds for one target before it is compiled (compile_target's first
/// step, rank 0's alone under a team): a hit, or a warm start (its description and amplitudes,
/// GrapeOptions::initial_u), or neither.
struct CacheLookup {
  std::optional<CompileResult> cached;
  std::string warm_from;
  RMat initial_u;
};
/// Reads `cache_dir` for (m, target, o) named `name` (nothing when cache_dir is empty).
CacheLookup look_up_cache(const Molecule& m, const GateTarget& target, const CompileOptions& o,
                          const std::string& name, const std::string& cache_dir);
/// A lookup as text for the trip to other ranks, and back (bit-exact amplitudes).
std::string lookup_text(const CacheLookup& lookup);
CacheLookup parse_lookup(const std::string& text, const std::string& name, const std::string& key);
/// GRAPE from the lookup's warm start (o.team shares the work), the pulse and its records: a
/// fresh compile without the cache (compile_target's middle step).
CompileResult compile_fresh(const Molecule& m, const GateTarget& target, const CompileOptions& o,
                            const std::string& name, const CacheLookup& lookup,
                            const ProgressCallback& progress);
/// A compile result as text for the trip from the ranks that made it to rank 0, and back: the
/// pulse (its channels in their order), every field of its summary, bit-exact.
std::string result_text(const CompileResult& r);
CompileResult parse_result(const std::string& text);

}  // namespace nmrc::compiler::detail
