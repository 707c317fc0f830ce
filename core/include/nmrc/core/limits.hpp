// Bounds on what nmrc accepts as input: physical ranges (a value outside them is refused at
// load with "must be between ...") and sizes (checked before anything is allocated). One table
// of all of them, with the reasons, is docs/limits.md; keep the two in step.
#pragma once

namespace nmrc::limits {

/// |offset| or |carrier| of a spin or channel in the molecule frame, Hz. The widest chemical
/// shift ranges (195Pt, about 13000 ppm) at the highest fields (1.3 GHz 1H) span under 20 MHz.
inline constexpr double kMaxOffsetHz = 1e8;
/// Spectrometer (1H) or channel Larmor frequency, MHz: the highest-field magnets are near
/// 1.3 GHz.
inline constexpr double kMaxLarmorMHz = 1e4;
/// |chemical shift| or |frame_ppm|, ppm.
inline constexpr double kMaxShiftPpm = 1e5;
/// RF nutation frequency (max_rf_hz, rf_hz), Hz: hardware reaches a few hundred kHz.
inline constexpr double kMaxRfHz = 1e7;
/// |J| of a scalar coupling, Hz (the largest known one-bond couplings are a few hundred kHz).
inline constexpr double kMaxCouplingHz = 1e6;
/// T1, T2, T2* of a spin, s (hyperpolarised long-lived states last hours).
inline constexpr double kMaxRelaxationS = 1e6;
/// Sample temperature, K.
inline constexpr double kMaxTemperatureK = 1e4;
/// Spectral width of an acquisition, Hz: digitisers sample at a few MHz.
inline constexpr double kMaxSpectralWidthHz = 1e8;

/// Durations of elements (delays, gradients, pulses), s.
inline constexpr double kMaxDurationS = 1e5;
/// |gradient strength|, G/cm (high-gradient diffusion probes reach a few thousand).
inline constexpr double kMaxGradientGPerCm = 1e5;
/// |angle| of a rotation or phase, rad.
inline constexpr double kMaxAngleRad = 1e6;
/// The paper's dimensionless model parameters (temperatures, g, tau; delta = k_B = 1).
inline constexpr double kMaxModelParameter = 1e6;

/// Random seeds: any integer 0 .. 2^63 - 1.
inline constexpr long kMaxSeed = 0x7fffffffffffffffL;

}  // namespace nmrc::limits
