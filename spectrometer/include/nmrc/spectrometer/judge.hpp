// The judge of compiled pulses: re-simulates a shaped pulse with the spectrometer's own engines
// (propagation.hpp: exact eigendecomposition or Boost.Odeint; the Hamiltonian built by
// spectrometer::Dynamics from the molecule) and compares the propagator with the target. It
// shares no code with GRAPE (compiler/): what judge and optimiser share is only the molecule
// (its Hamiltonian, core) and the target W with its norm (docs/architecture.md). judge.cpp also
// implements ensemble_fidelity (declared in propagation.hpp) with the same member fidelity.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/options.hpp"
#include "nmrc/core/sequence.hpp"
#include "nmrc/core/types.hpp"
#include "nmrc/spectrometer/propagation.hpp"

namespace nmrc::spectrometer {

/// What a pulse must implement, as the figure of merit F = |Tr(W^dag U)| / norm: for a gate,
/// W = U_target on every spin and norm = d (F = |Tr(Ut^dag U)|/d, docs/conventions.md); for a
/// state transfer, W = sum_i |to_i><from_i| (x) 1 and norm = pairs * 2^(n-m) (not unitary).
struct JudgeTarget {
  Mat w;
  double norm = 0.0;    ///< 0: the dimension d
  bool unitary = true;  ///< W is a unitary gate (process fidelity with relaxation applies)
  /// W up to diagonal phases applied first (a gate whose input is diagonal, e.g. U_d):
  /// F = sum_j |(W^dag U)_jj| / norm; the relaxed process fidelity is taken against W D with D
  /// fitted to the nominal unitary (core's diagonal_phase_fit).
  bool diagonal_phases = false;
};

/// How to judge. `validate()` throws InputError "field = value: rule".
struct JudgeOptions {
  std::vector<double> b1_scale{1.0};   ///< RF scale of each ensemble member (> 0)
  std::vector<double> offset_hz{0.0};  ///< offset error on every spin of the pulse's channels
  double fidelity_target = 0.995;      ///< pass when the ensemble minimum reaches it, (0, 1]
  Engine engine = Engine::kExact;
  /// Also the process fidelity Tr(S_t^dag S)/d^2 of the relaxing pulse at nominal B1 (Lindblad
  /// T1/T2 of the molecule file; one 4^n superoperator per step: costly). Gates only.
  bool relaxation = false;
  /// The probe the pulse is played through (PropagationOptions::probe; empty: none).
  std::vector<std::shared_ptr<const Distortion>> probe;
  /// Progress (done, total, what): called before each ensemble member and before the relaxing
  /// simulation, so that a long judgement is not silent (cli/terminal.hpp shows it).
  std::function<void(int, int, const std::string&)> progress;
  /// The first rule the options violate (core's OptionChecks), or nullopt.
  std::optional<OptionProblem> check() const;
  /// Throws check()'s problem as InputError "judge options: field = value: rule".
  void validate() const;
};

/// The verdict: F at nominal B1 and per member (b1_scale x offset_hz, b1 outer), the minimum,
/// and whether every member reached the target (a NaN never passes).
struct Judgement {
  std::string name;
  double nominal = 0.0;
  std::vector<double> b1_scale, offset_hz, values;  ///< one entry per member
  double min = 0.0;
  double target = 0.995;
  bool passed = false;
  std::string engine;  ///< "spectrometer exact" / "spectrometer odeint" (+ relaxation)
  bool relaxation = false;
  std::vector<double> process_relaxed;  ///< nominal B1, with relaxation
  double process_relaxed_nominal = 0.0;
  double process_relaxed_min = 0.0;
};

/// Judges `pulse` (channel indices into m; as made by PulseData::element) against `target` on
/// molecule m in the molecule's rotating frame. Throws InputError for invalid options, a target
/// of the wrong size, or a malformed pulse.
Judgement judge_pulse(const Molecule& m, const ShapedPulseElement& pulse, const JudgeTarget& target,
                      const JudgeOptions& options = {});

}  // namespace nmrc::spectrometer
