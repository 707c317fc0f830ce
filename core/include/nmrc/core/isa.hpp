// Run-time choice among the per-ISA builds of nmrc's hot kernels (cmake/IsaKernels.cmake;
// docs/building.md).
//
// Eigen picks its vector width from compile-time macros (__AVX2__, __AVX512F__, ...), so a
// function-level target attribute cannot widen it. A portable build (NMRC_NATIVE=OFF: the Debian
// package) therefore compiles each kernel file three times, for the x86-64 baseline, for AVX2 +
// FMA and for AVX-512, each copy in its own namespace (isa_baseline, isa_avx2, isa_avx512, set by
// CMake as NMRC_ISA_NS) with the template code it instantiates renamed to stay private to that
// copy (cmake/isa-private-symbols.sh). The caller picks one copy per CPU with NMRC_ISA_CALL. A
// native build (-march=native) compiles each kernel once, as isa_native.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>

#ifndef NMRC_ISA_NS
#define NMRC_ISA_NS isa_native  // the kernel file compiled once, with the build's own flags
#endif
#ifndef NMRC_ISA_DISPATCH
#define NMRC_ISA_DISPATCH 0
#endif

namespace nmrc {

enum class Isa { baseline = 0, avx2 = 1, avx512 = 2 };

inline const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512:
      return "avx512";
    case Isa::avx2:
      return "avx2";
    default:
      return "baseline";
  }
}

/// The widest kernel set this CPU runs: AVX-512 (F, DQ, BW, VL, with AVX2 and FMA), AVX2 + FMA,
/// or the x86-64 baseline (the CPU's and the operating system's support, as GCC's
/// __builtin_cpu_supports reports them). The environment variable NMRC_ISA (baseline, avx2 or
/// avx512) lowers it, never raises it: tests and benchmarks run each copy on one machine. Another
/// value is ignored with a warning on stderr.
inline Isa cpu_isa() {
  static const Isa isa = [] {
    Isa best = Isa::baseline;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::avx2;
    if (best == Isa::avx2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
      best = Isa::avx512;
#endif
    if (const char* want = std::getenv("NMRC_ISA"); want && *want) {
      Isa asked = best;
      if (std::strcmp(want, "baseline") == 0)
        asked = Isa::baseline;
      else if (std::strcmp(want, "avx2") == 0)
        asked = Isa::avx2;
      else if (std::strcmp(want, "avx512") == 0)
        asked = Isa::avx512;
      else
        std::fputs("nmrc: NMRC_ISA: not one of baseline, avx2, avx512; ignored\n", stderr);
      if (asked < best) best = asked;
    }
    return best;
  }();
  return isa;
}

}  // namespace nmrc

// NMRC_ISA_DECLARE(declaration;) declares a kernel entry point in every per-ISA namespace this
// build compiles (inside the kernel's own namespace); NMRC_ISA_CALL(f) names the copy of f for
// this CPU (a portable build) or the one copy (a native build).
#if NMRC_ISA_DISPATCH
#define NMRC_ISA_DECLARE(...) \
  namespace isa_baseline {    \
  __VA_ARGS__                 \
  }                           \
  namespace isa_avx2 {        \
  __VA_ARGS__                 \
  }                           \
  namespace isa_avx512 {      \
  __VA_ARGS__                 \
  }
#define NMRC_ISA_CALL(f)                                     \
  (::nmrc::cpu_isa() == ::nmrc::Isa::avx512 ? &isa_avx512::f \
   : ::nmrc::cpu_isa() == ::nmrc::Isa::avx2 ? &isa_avx2::f   \
                                            : &isa_baseline::f)
#else
#define NMRC_ISA_DECLARE(...) \
  namespace isa_native {      \
  __VA_ARGS__                 \
  }
#define NMRC_ISA_CALL(f) (&isa_native::f)
#endif
