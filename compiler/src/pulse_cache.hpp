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

}  // namespace nmrc::compiler::detail
