// Which copy of the hot kernels this process runs (nmrc/core/isa.hpp, cmake/IsaKernels.cmake).
#pragma once

namespace nmrc::compiler {

/// "avx512", "avx2" or "baseline" in a portable build (the copy chosen for this CPU, as lowered
/// by NMRC_ISA), "native" in a build for its own machine's CPU (-march=native). `nmrc --version`
/// prints it.
const char* kernel_isa();

}  // namespace nmrc::compiler
