// The slow reference for whole pulses (tests of the judge and the compiler): nothing shared
// with the spectrometer's engines or GRAPE.
#pragma once

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/sequence.hpp"
#include "nmrc/core/types.hpp"

namespace nmrc::ref {

/// A shaped pulse's propagator on molecule m by the slow path, sharing nothing with the
/// spectrometer or GRAPE: the rotating-frame Hamiltonian of docs/conventions.md (weak
/// coupling) built here term by term from the molecule's parameters with ref::single, the
/// pulse's RF scaled by b1 and every spin of its channels shifted by offset_hz, each step
/// propagated by `substeps` exponentials exp(-i H dt/substeps) (expm_taylor).
/// A pulse on channel 0 with u_x, u_y uniform in [-amp, amp] per step (std::mt19937 seeded).
ShapedPulseElement random_pulse(int steps, double dt_s, double amp_hz, unsigned seed);

Mat pulse_propagator(const Molecule& m, const ShapedPulseElement& pulse, double b1,
                     double offset_hz, int substeps);

}  // namespace nmrc::ref
