// The pulse cache, private to the compiler (pulse_cache.cpp).
#pragma once

#include <optional>
#include <string>

#include "nmrc/compiler/compile.hpp"

namespace nmrc::compiler::detail {

/// The result cached under `key` in cache_dir, renamed `name`; nullopt when there is none, the
/// entry is damaged, or its content does not match its recorded checksum (content_hash64,
/// core/hash.hpp, of the pulse and summary): it is then recompiled and rewritten.
std::optional<CompileResult> read_cached(const std::string& cache_dir, const std::string& key,
                                         const std::string& name);
/// Stores a result under its cache key with its checksum (atomically; creates the directory).
void write_cached(const std::string& cache_dir, const CompileResult& result);

}  // namespace nmrc::compiler::detail
