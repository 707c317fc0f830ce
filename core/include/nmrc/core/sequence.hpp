// The sequence IR: what the program front end (compiler/) produces and the virtual
// spectrometer (spectrometer/) executes. Plain structs; loops are unrolled by the front end.
// Units: seconds, Hz, radians (docs/conventions.md). Spin and channel fields are indices into
// the Molecule the sequence was built for.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "nmrc/core/types.hpp"

namespace nmrc {

/// Ideal, instantaneous rotation of the named spins by angle_rad about the axis at phase_rad
/// in the xy-plane (0 = +x, pi/2 = +y): prod_k exp(-i angle (cos phase I_x^k + sin phase I_y^k)).
/// Used for idealised readout and for gates not yet compiled.
struct RotationElement {
  std::vector<int> spins;
  double angle_rad = 0.0;
  double phase_rad = 0.0;
};

/// Rectangular (hard) pulse on every spin of a channel, with the internal Hamiltonian active:
/// nutation frequency rf_hz, duration angle_rad / (2 pi rf_hz).
struct HardPulseElement {
  int channel = 0;
  double angle_rad = 0.0;
  double phase_rad = 0.0;
  double rf_hz = 0.0;
  double duration_s() const { return angle_rad / (kTwoPi * rf_hz); }
};

/// Piecewise-constant shaped pulse: for each listed channel, u_x and u_y in Hz over steps of
/// dt_s (H_rf = 2 pi sum_k (u_x I_x^k + u_y I_y^k) on that channel's spins).
struct ShapedPulseElement {
  std::string name;
  double dt_s = 0.0;
  std::vector<int> channels;
  std::vector<RVec> ux_hz;  ///< one vector per entry of channels, all of the same length
  std::vector<RVec> uy_hz;
  double duration_s() const { return ux_hz.empty() ? 0.0 : dt_s * ux_hz.front().size(); }
};

/// Free evolution under the internal Hamiltonian (with relaxation).
struct DelayElement {
  double duration_s = 0.0;
};

/// Pulsed field gradient along z: a spin with gyromagnetic ratio gamma at height z gains phase
/// gamma * strength * shape_factor * duration * z. The spectrometer either averages over slices
/// of the sample or applies the exact coherence-order filter.
struct GradientElement {
  double duration_s = 0.0;
  double strength_g_per_cm = 0.0;
  double shape_factor = 1.0;  ///< integral of the normalised shape: 1 rectangle, 2/pi sine
};

/// An ideal gate applied instantaneously: a 2^m x 2^m unitary on `spins` (a target the compiler
/// has not replaced by a pulse yet, or an idealised operation).
struct UnitaryElement {
  std::string name;
  std::vector<int> spins;
  Mat unitary;
};

/// Acquisition of the FID on a channel: TD complex points at dwell 1/sw_hz.
struct AcquireElement {
  int channel = 0;
  double sw_hz = 0.0;
  int td = 0;
  double receiver_phase_rad = 0.0;
};

using Element = std::variant<RotationElement, HardPulseElement, ShapedPulseElement, DelayElement,
                             GradientElement, UnitaryElement, AcquireElement>;

/// The time an element takes: pulses, delays and gradients (rotations, unitaries and the
/// acquisition count none).
double element_duration(const Element& e);

/// A flattened pulse sequence for one molecule.
struct Sequence {
  std::string name;
  std::vector<Element> elements;
  /// Total duration of the elements that take time (rotations and unitaries take none).
  double duration_s() const;
  /// Times at which the Hamiltonian changes (element edges): integrators restart there.
  std::vector<double> time_points() const;
};

}  // namespace nmrc
