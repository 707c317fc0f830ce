// The gradient block of a program (acquisition and preparation programs share it): mode,
// slices, length_cm, and the bound on slices.
#pragma once

#include "nmrc/core/yaml_input.hpp"
#include "nmrc/spectrometer/sample.hpp"

namespace nmrc::spectrometer {

/// The most z-slices a gradient may be averaged over. In slice mode every slice carries its own
/// density matrix from the first gradient on (4^n complex numbers: 16 KiB for 5 spins, so
/// 1 GiB at this bound), so programs are held to it before anything is allocated.
inline constexpr int kMaxGradientSlices = 1 << 16;

/// Reads the keys every program's gradient block shares, `mode` (exact | slices), `slices`
/// (1 to kMaxGradientSlices) and `length_cm` (> 0), into `out`; keys absent keep their value.
/// The caller says which keys its block allows (YamlField::allow_keys). Errors at the field.
void read_gradient_options(const YamlField& gradient, GradientOptions& out);

}  // namespace nmrc::spectrometer
