// From a gate target and a molecule to a shaped pulse: compile options, the GRAPE problem in
// the molecule's rotating frame, the pulse cache, and validation by the spectrometer's judge
// (an independent re-simulation).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/compiler/grape.hpp"
#include "nmrc/compiler/targets.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/options.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "nmrc/core/sequence.hpp"
#include "nmrc/spectrometer/decoupling.hpp"
#include "nmrc/spectrometer/judge.hpp"

namespace nmrc::compiler {

/// Bounds of compile options (docs/limits.md): a pulse of at most 100 s, B1 scales in (0, 10],
/// at most 1000 ensemble members (B1 scales x offsets).
inline constexpr double kMaxCompileDurationS = 100.0;
inline constexpr double kMaxB1Scale = 10.0;
inline constexpr std::size_t kMaxEnsembleMembers = 1000;
static_assert(kMaxEnsembleMembers == kMaxPulseEnsembleMembers,
              "a compiled pulse's recorded ensemble must be readable (core/pulse_file.hpp)");
/// Dense GRAPE keeps three d x d complex matrices per step (steps x the probe's oversampling)
/// for each ensemble member it evaluates (grape.cpp, EnsembleWorkspace): at most 8 GiB per
/// member (7 spins at 1000 steps: 0.8 GB; 12 spins at 200 steps: 161 GB). Registers beyond it
/// are compiled on subsystems (bench/subsystem_gate, bench/results/scaling.md, "12 spins").
inline constexpr double kMaxGrapeMemberBytes = 8.0 * 1024 * 1024 * 1024;

/// GRAPE with the decoupler in its model (docs/program-format.md, `compile: {decoupler: ...}`;
/// docs/console-physics.md): the 1H decoupler the pulse will play under, on the decoupled
/// channel of the heteronuclear molecule `molecule` (the program's molecule's spins with the
/// protons whose couplings J_CH it gives). GRAPE's ensemble is crossed with the decoupler's
/// residual configurations (spectrometer::cw_residual_configurations, with_residual_
/// configurations). Only CW has a residual model: sequence "cw".
struct DecouplerModel {
  std::string sequence = "cw";
  std::string channel = "1H";  ///< the heteronuclear molecule's decoupled channel
  double b2_hz = 0.0;          ///< nutation frequency, in (0, the channel's max_rf_hz]
  double o2_ppm = 0.0;         ///< carrier, ppm on the decoupled channel
  std::shared_ptr<const Molecule> molecule;  ///< the heteronuclear molecule (its J_CH)
  /// The decoupler as the spectrometer plays it (pcpd_s = 1 / (4 b2_hz), O2 in the molecule's
  /// frame of the decoupled channel).
  spectrometer::Decoupler decoupler() const;
  /// Its residual configurations (spectrometer::cw_residual_configurations).
  std::vector<spectrometer::ResidualConfiguration> configurations() const;
  /// The first rule this model breaks for `m` (the program's molecule), else empty: sequence
  /// cw; the molecule given, the channel one of its channels, on which none of m's spins lie;
  /// b2_hz within the channel's max_rf_hz; |o2_ppm| <= kMaxDecouplerO2Ppm; every spin of m is
  /// a spin of the molecule with the same label, isotope and offset_hz (1e-6 Hz), and every
  /// coupling among them the same (1e-6 Hz): the same carbons. The field is "decoupler.KEY".
  std::optional<OptionProblem> problem(const Molecule& m) const;
  /// Whether a pulse file's decoupler record says it was compiled with this model (the same
  /// sequence, channel, molecule name, B2 and O2): how a library of compiled pulses keys them.
  bool recorded_in(const std::optional<PulseDecoupler>& recorded) const;
  /// "cw at B2 25000 Hz, O2 5 ppm on 1H of molecule crotonic_acid_7", for messages.
  std::string describe() const;
};

/// Whether a pulse whose file records `recorded` serves a compile with `model` (both absent, or
/// DecouplerModel::recorded_in): a pulse compiled without the decoupler is no pulse for a
/// program with it, nor the reverse.
bool same_decoupler(const std::optional<DecouplerModel>& model,
                    const std::optional<PulseDecoupler>& recorded);

/// Compile options of one target (docs/program-format.md, `compile:`). Validate before use:
/// validate() throws InputError "compile options: field = value: rule" (check() returns the
/// first violated rule instead, so that a program loader can point at the YAML field).
struct CompileOptions {
  double duration_s = 0.0;  ///< total pulse length; with steps or dt_s
  int steps = 0;
  double dt_s = 0.0;
  std::map<std::string, double> max_rf_hz;  ///< per channel; default min(10 kHz, channel limit)
  /// GRAPE through the probe: per channel, the loaded Q of a tuned resonator at the channel's
  /// Larmor frequency (spectrometer::ResonatorDistortion; docs/console-physics.md); absent:
  /// the channel's pulse reaches the spins undistorted. Q in (0, 100000].
  std::map<std::string, double> probe_q;
  /// GRAPE with the decoupler in its model (absent: decoupling taken as perfect).
  std::optional<DecouplerModel> decoupler;
  std::vector<std::string> channels;  ///< driven channels (default: every channel)
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
  int b1_quadrature = 0;  ///< see GrapeOptions::b1_quadrature (0: search on the B1 grid itself)
  int coarse_factor = 0;  ///< see GrapeOptions::coarse_factor (0: off)
  bool nominal_first = false;  ///< see GrapeOptions::nominal_first
  /// With a pulse cache: on a miss, start 0 begins from the best cached pulse of the same
  /// molecule, target, duration and steps (compiled under other options: another B1 range,
  /// target fidelity, seed...; GrapeOptions::initial_u) instead of its own guess.
  bool warm_start = true;
  /// GrapeOptions::stop: set from another thread to stop GRAPE with the best pulse so far
  /// (Termination::kInterrupted; such a result is never cached). Not in to_json().
  const std::atomic<bool>* stop = nullptr;
  /// GrapeOptions::team: the processes sharing the GRAPE work (`mpirun -n N nmrc compile`). With
  /// more than one, only rank 0 reads and writes the pulse cache and tells the others what it
  /// found (a cached pulse, a warm start). Not in to_json().
  Team* team = nullptr;
  /// Rules that need no molecule: two of duration_s, steps (1 to 10^6), dt_s, consistent;
  /// max_rf_hz > 0; fidelity_target in (0, 1]; b1_scale non-empty and > 0, b1_weight empty or
  /// one > 0 per scale; offset_hz non-empty and finite; smoothness >= 0; starts 1 to 1000;
  /// max_iterations >= 1; stall_evaluations >= 0; time_limit_s > 0; threads 1 to 256;
  /// b1_quadrature 0 to 20, and > 0 only with uniform weights; coarse_factor 0 to 1000.
  std::optional<OptionProblem> check() const;
  void validate() const;
  /// validate(), and every named channel is one of m's, max_rf_hz at most its limit, the
  /// decoupler fits m (DecouplerModel::problem) and the ensemble times its configurations is
  /// at most kMaxEnsembleMembers.
  void validate(const Molecule& m) const;
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
/// Options must be valid (CompileOptions::validate(molecule)).
GrapeProblem build_problem(const Molecule& molecule, const GateTarget& target,
                           const CompileOptions& options);

/// GRAPE with the decoupler in its model (docs/console-physics.md, "GRAPE with the decoupler in
/// its model"): `problem`'s ensemble crossed with the configurations of the decoupled spins of
/// `heteronuclear` (spectrometer::cw_residual_configurations): each member once per
/// configuration, weight times the configuration's, with the configuration's static offsets of
/// the spins of `molecule` (matched to `heteronuclear`'s by label; spins it lacks get none) as
/// the member's drift_diag (2 pi sum_k delta_k I_z^k, rad/s). Throws InputError when no spin of
/// `molecule` is found in `heteronuclear` or the product exceeds kMaxEnsembleMembers.
GrapeProblem with_residual_configurations(
    const GrapeProblem& problem, const Molecule& molecule, const Molecule& heteronuclear,
    const std::vector<spectrometer::ResidualConfiguration>& configurations);

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

/// Hash key of (molecule Hamiltonian and channels, target description, options): content_hash64
/// (core/hash.hpp) of their canonical JSON, as 16 hex digits.
std::string cache_key(const Molecule& molecule, const GateTarget& target,
                      const CompileOptions& options);

/// Hash of what a warm start must share with the pulse it starts from (the cache key without
/// the options, but with the steps and step length): pulses of one family are interchangeable
/// starting points (CompileOptions::warm_start).
std::string warm_start_family(const Molecule& molecule, const GateTarget& target,
                              const CompileOptions& options);

/// Compiles one target with GRAPE (options validated first: InputError). When cache_dir is
/// non-empty, a cached pulse with the same key is returned without optimising, and a new result is
/// stored there; on a miss with options.warm_start, start 0 begins from the family's best cached
/// pulse (Summary::warm_start names it).
CompileResult compile_target(const Molecule& molecule, const GateTarget& target,
                             const CompileOptions& options, const std::string& name,
                             const std::string& cache_dir, const ProgressCallback& progress = {});

/// Validation: the spectrometer's judge (spectrometer/judge.hpp) re-simulates the pulse with its
/// own engines and Hamiltonian, which share no code with GRAPE, over the pulse's ensemble
/// (fidelity.ensemble b1_scale x offset_hz) against the target its description names, and
/// passes when the minimum reaches fidelity.target. With `relaxation`, also the process fidelity
/// Tr(S_t^dag S)/d^2 of the relaxing pulse at nominal B1 (gates only; costly).
struct ValidationOptions {
  spectrometer::Engine engine = spectrometer::Engine::kExact;
  bool relaxation = false;
  /// A probe per channel to judge through (a tuned resonator of that Q), in place of the one
  /// the pulse file records for that channel (PulseChannel::probe_q, which is used otherwise).
  std::map<std::string, double> probe_q;
  /// Progress of the judgement (spectrometer::JudgeOptions::progress).
  std::function<void(int, int, const std::string&)> progress;
};
using ValidationResult = spectrometer::Judgement;
/// Judges `pulse` on `molecule` (PulseData::element's rules, then the judge). Throws InputError
/// for a pulse that does not fit the molecule or a target description it cannot rebuild.
ValidationResult validate_pulse(const CompiledPulse& pulse, const Molecule& molecule,
                                const ValidationOptions& options = {});

/// Time-optimal bound for exp(-i theta/2 (XX + YY)) on an Ising-coupled pair: 2 theta / (pi |J|)
/// (Khaneja, Brockett & Glaser, Phys. Rev. A 63, 032308 (2001)); 0 when J = 0.
double partial_swap_bound_s(double theta_rad, double j_hz);

}  // namespace nmrc::compiler
