// nmrc's one content hash, for cache keys, program hashes in pulse provenance, and the checksums
// that tell a damaged cache entry from a good one. It is the FNV-1a construction (Fowler, Noll,
// Vo; IETF draft-eastlake-fnv: xor a byte, multiply by the 64-bit FNV prime 1099511628211) but
// with the offset basis 1469598103934665603, one digit short of FNV's published
// 14695981039346656037: the three copies this replaces all had that value, and the shipped
// pulses' provenance and every user's caches are keyed by it, so it is kept (and is not
// interchangeable with other tools' FNV-1a). Not cryptographic: it guards against accidents.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nmrc {

inline constexpr std::uint64_t kContentHashBasis = 1469598103934665603ull;
inline constexpr std::uint64_t kContentHashPrime = 1099511628211ull;  // the FNV 64-bit prime

inline std::uint64_t content_hash64(std::string_view bytes) {
  std::uint64_t h = kContentHashBasis;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kContentHashPrime;
  }
  return h;
}

/// The hash as 16 lower-case hex digits.
inline std::string content_hash_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::uint64_t h = content_hash64(bytes);
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<size_t>(i)] = kDigits[h & 0xf];
  return out;
}

}  // namespace nmrc
