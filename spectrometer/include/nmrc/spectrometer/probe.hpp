// The probe between the pulse and the spins (docs/console-physics.md): linear distortions of a
// channel's complex RF envelope u_x + i u_y, pluggable in the way of Spinach's
// kernel/optimcon/distortions (one small interface: the forward map on the control waveform and
// its adjoint on a gradient, so that GRAPE can optimise through it). The one model shipped is
// the tuned resonant circuit: a resonator of loaded quality factor Q at the carrier f0 responds
// to a step of the transmitter's envelope as 1 - exp(-t/tau) with tau = 2Q/omega0 = Q/(pi f0)
// (the envelope of a driven RLC circuit at resonance; e.g. Mispelter, Lupu & Briguet, NMR
// Probeheads (Imperial College Press, 2006), ch. 2, and the transient analysis of Borneman &
// Cory, J. Magn. Reson. 225, 120 (2012)), its steady-state gain absorbed in the calibration.
#pragma once

#include <vector>

#include "nmrc/core/sequence.hpp"
#include "nmrc/core/types.hpp"

namespace nmrc::spectrometer {

/// A linear map of one channel's piecewise-constant envelope (n steps of dt) to a finer one
/// (n * oversample() steps of dt / oversample()), and its adjoint.
class Distortion {
 public:
  virtual ~Distortion() = default;
  virtual int oversample() const = 0;
  /// The distorted envelope (complex: u_x + i u_y).
  virtual Vec forward(const Vec& in, double dt_s) const = 0;
  /// The adjoint (transpose of the real-linear map on (Re, Im) pairs): the gradient of a real
  /// function of the output (d f/d Re y + i d f/d Im y per output step) to the same on the input.
  virtual Vec adjoint(const Vec& grad_out, double dt_s) const = 0;
};

/// The tuned resonator: dy/dt = (x - y) / tau from y = 0, x piecewise constant; each output
/// step is the exact mean of y over its sub-step (so the RF area is kept step by step). The
/// ring-down after the last step is not played (the transmitter is blanked; its area is at
/// most tau times the last amplitude). Throws InputError unless q > 0, larmor_mhz > 0 and
/// 1 <= oversample <= 64.
class ResonatorDistortion final : public Distortion {
 public:
  ResonatorDistortion(double q, double larmor_mhz, int oversample = 8);
  int oversample() const override { return m_; }
  double time_constant_s() const { return tau_; }
  Vec forward(const Vec& in, double dt_s) const override;
  Vec adjoint(const Vec& grad_out, double dt_s) const override;

 private:
  double tau_ = 0.0;
  int m_ = 8;
};

/// The pulse as the spins see it: channel c of `pulse` (its index in pulse.channels) through
/// per_channel[c] (nullptr: undistorted); every channel is resampled at the finest oversample
/// (undistorted ones held constant), so all keep one dt.
ShapedPulseElement distort(const ShapedPulseElement& pulse,
                           const std::vector<const Distortion*>& per_channel);

}  // namespace nmrc::spectrometer
