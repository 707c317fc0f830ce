// From a gate target and a molecule to a shaped pulse: compile options, the GRAPE problem in
// the molecule's rotating frame, the nmrc-pulse/1 file (shared/ARCHITECTURE.md), the pulse
// cache, and validation by an independent re-simulation.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/compiler/grape.hpp"
#include "nmrc/compiler/targets.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "nmrc/core/sequence.hpp"

namespace nmrc::compiler {

/// Compile options of one target (docs/program-format.md, `compile:`).
struct CompileOptions {
  double duration_s = 0.0;  ///< total pulse length; with steps or dt_s
  int steps = 0;
  double dt_s = 0.0;
  std::map<std::string, double> max_rf_hz;  ///< per channel; default min(10 kHz, channel limit)
  std::vector<std::string> channels;        ///< driven channels (default: every channel)
  double fidelity_target = 0.995;
  std::vector<double> b1_scale{0.97, 0.985, 1.0, 1.015, 1.03};
  std::vector<double> b1_weight;  ///< default uniform
  std::vector<double> offset_hz{0.0};
  double smoothness = 0.0;
  bool zero_ends = true;
  int starts = 4;
  unsigned long seed = 1;
  int max_iterations = 3000;
  int stall_evaluations = 500;  ///< see GrapeOptions::stall_evaluations
  double time_limit_s = 600.0;
  int threads = 2;
  bool strong_coupling = false;
  /// Number of steps implied by duration/steps/dt (duration_s / dt_s rounded).
  int resolved_steps() const;
  double resolved_dt_s() const;
  /// Canonical JSON text of everything that changes the result (threads excluded).
  std::string to_json() const;
};

/// Default RF limit on a channel when the program gives none: 10 kHz, or the channel's
/// max_rf_hz when that is lower.
inline constexpr double kDefaultMaxRfHz = 10000.0;

/// The GRAPE problem for `target` on `molecule` (rotating frame of docs/conventions.md).
/// Options must be valid (see check_options).
GrapeProblem build_problem(const Molecule& molecule, const GateTarget& target,
                           const CompileOptions& options);

/// One compiled pulse, as written to an nmrc-pulse/1 file: core's PulseData (one reader and
/// writer for every layer: nmrc::read_pulse_file, nmrc::pulse_file_text in core/pulse_file.hpp).
using CompiledPulse = PulseData;
using nmrc::PulseChannel;
using nmrc::read_pulse_file;

/// Rebuilds a GateTarget from its description (a pulse file's "target", JSON text). Spins by
/// label. Throws InputError prefixed with `where`.
GateTarget target_from_json(const std::string& description_json, const Molecule& molecule,
                            const std::string& where);

/// Result of compiling one target.
struct CompileResult {
  CompiledPulse pulse;
  Summary summary;
  bool from_cache = false;
  std::string cache_key;
};

/// Hash key of (molecule Hamiltonian and channels, target description, options): FNV-1a 64 of
/// their canonical JSON, as 16 hex digits.
std::string cache_key(const Molecule& molecule, const GateTarget& target,
                      const CompileOptions& options);

/// Compiles one target with GRAPE. When cache_dir is non-empty, a cached pulse with the same key
/// is returned without optimising, and a new result is stored there.
CompileResult compile_target(const Molecule& molecule, const GateTarget& target,
                             const CompileOptions& options, const std::string& name,
                             const std::string& cache_dir, const ProgressCallback& progress = {});

/// Validation by re-simulation with an engine that shares no code with GRAPE: by default the
/// virtual spectrometer's exact engine (nmrc::spectrometer, Hermitian eigendecomposition of each
/// step's Hamiltonian built from the molecule by the spectrometer), or "pade": the molecule's
/// Hamiltonian rebuilt here term by term, each step propagated by `substeps` Pade exponentials
/// (core expm). With `relaxation`, also the process fidelity Tr(S_t^dag S)/d^2 of the relaxing
/// pulse at nominal B1 (Lindblad T1/T2 of the molecule file, spectrometer superoperator; gates
/// only; costly).
struct ValidationOptions {
  std::string engine = "spectrometer";  ///< "spectrometer" or "pade"
  int substeps = 4;                     ///< pade only
  bool relaxation = false;
};
struct ValidationResult {
  std::string name;
  double nominal = 0.0;
  std::vector<double> b1_scale, values;  ///< F = |Tr(W^dag U)|/norm per (b1, offset) member
  double min = 0.0;
  double target = 0.995;
  bool passed = false;
  std::string engine;
  bool relaxation = false;
  std::vector<double> process_relaxed;  ///< nominal B1, with relaxation
  double process_relaxed_nominal = 0.0;
  double process_relaxed_min = 0.0;
};
ValidationResult validate_pulse(const CompiledPulse& pulse, const Molecule& molecule,
                                const ValidationOptions& options = {});

/// Time-optimal bound for exp(-i theta/2 (XX + YY)) on an Ising-coupled pair: 2 theta / (pi |J|)
/// (Khaneja, Brockett & Glaser, Phys. Rev. A 63, 032308 (2001)); 0 when J = 0.
double partial_swap_bound_s(double theta_rad, double j_hz);

}  // namespace nmrc::compiler
