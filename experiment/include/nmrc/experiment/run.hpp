// The paper's heat-flow experiment on the virtual spectrometer (issue 11; paper Fig. 2(b), Fig. 8
// and the supplement). One run measures the state after collision m of a case:
//  1. thermal equilibrium -> pseudo-pure state (Eq. (S15), spectrometer::pps_steps: ideal
//     rotations and controlled gates, 1 ms gradients with relaxation);
//  2. the bath spin thermal at T_R: compiled R_y(theta) + 1 ms gradient (spectrometer::
//     bath_rotation_angle, exact coherence-order filter);
//  3. the system in the state before collision m by temporal averaging
//     (spectrometer::plan_temporal_averaging): weighted computational-basis experiments (compiled
//     selective pi pulses) and a compiled U_d; the experiments are linear, so their weighted
//     states are added before the contact (the console adds their FIDs);
//  4. the contact: compiled partial SWAPs S_k-R in the case's order, or one compiled joint gate
//     for the simultaneous interaction;
//  5. tomography: every setting of the readout set played with the compiled selective pi/2
//     pulses, FIDs with noise, line fits (spectrometer::measure_setting), reconstruction
//     (spectrometer::Tomographer); the bath and unused spins traced out; energies (Eq. S17),
//     free energy (Eq. S19), AT (Eq. 49), fidelity to the ideal state.
// Measurement (docs/experiment-format.md, "What is measured"): each measured collision m is a
// pair of runs sharing preparation and readout, the prepared state without contact and with it;
// their difference is the heat S_k exchanged in collision m. Calibration uses measured reference
// runs only (inversion pairing, the PPS reference for the signal scale, the T_R-thermal
// reference with and without the contact pulses for their population loss), never a model
// prediction of a state the run prepares. Every value has a statistical part (noise draws) and a
// systematic part (the error budget at that collision: each imperfection off in turn).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/types.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/pulses.hpp"
#include "nmrc/spectrometer/acquisition.hpp"
#include "nmrc/thermo/collision.hpp"

namespace nmrc::experiment {

struct RunSettings {
  std::string cache_dir;  ///< channel and compile caches; empty = none
  CompileMode compile_mode = CompileMode::kAuto;
  /// And the program's error_budget: the systematic parts (each imperfection off in turn, at
  /// every measured collision) and the budget table.
  bool error_budget = true;
  /// Measured collisions whose readout FIDs are kept (CaseResult::recorded): the first noise
  /// draw of the run from equilibrium and, with inversion pairing, from inverted equilibrium.
  std::vector<int> record_collisions;
  /// Threads for the relaxing channels' builds and the tomography settings (`nmrc experiment
  /// --threads`); results do not depend on it (each item is computed alone, seeded by itself).
  int threads = 2;
};

/// Progress text: "case c_0: collision 5 (3/7)", "compiling ud_c_0_m5: 120 evaluations ...".
using ProgressText = std::function<void(const std::string&)>;

/// A measured value: mean over the noise draws, `std` its statistical one-sigma spread over the
/// draws, `sys` its systematic part: the quadrature sum over the error budget's sources
/// (relaxation, B1 spread, gate error, readout) of the shift each causes in the noise-free value.
struct Stat {
  double mean = 0.0, std = 0.0, sys = 0.0;
  double total() const;  ///< sqrt(std^2 + sys^2)
};

/// Direction of the heat S_k exchanged in one collision against the ideal model's.
enum class Verdict {
  kNotJudged,      ///< |ideal increment| <= kJudgedIncrement
  kResolvedRight,  ///< |measured| > kVerdictSigmas x total error bar, same sign as the ideal
  kResolvedWrong,  ///< |measured| > kVerdictSigmas x total error bar, opposite sign
  kUnresolved      ///< |measured| <= kVerdictSigmas x total error bar
};
/// Ideal increments at most this large are not judged (issue 23's goal: 2e-4, in delta).
inline constexpr double kJudgedIncrement = 2e-4;
/// A direction is resolved when the measured increment exceeds this many total sigmas.
inline constexpr double kVerdictSigmas = 2.0;
Verdict judge_direction(double ideal, const Stat& measured);
const char* verdict_name(Verdict v);  ///< "resolved right", "resolved wrong", ...

/// One measured collision (collision 0: the prepared initial state, no contact).
struct MeasuredPoint {
  int collision = 0;
  int step = 0;  ///< interaction index of the theory (x-axis of the paper's figures)
  // The pair of runs of this collision (empty for collision 0).
  std::vector<double> de_ideal;      ///< E_k(m) - E_k(m-1), theory
  std::vector<Stat> de;              ///< with contact - without, calibrated
  std::vector<Stat> de_uncorrected;  ///< the same without the contact-loss correction
  double de_bath_ideal = 0.0;        ///< the bath particle's energy change in collision m
  Stat de_bath;
  std::vector<Verdict> verdict;  ///< per subsystem, from de
  // The measured state after collision m (the run with contact; collision 0: the prepared state)
  std::vector<double> energy_ideal;
  std::vector<Stat> energy;         ///< calibrated E_k
  std::vector<Stat> energy_before;  ///< calibrated E_k of the prepared state (no contact)
  std::vector<Stat> energy_raw;     ///< single run from equilibrium, no pairing, no scale
  std::vector<double> scale;        ///< contact-loss factor per subsystem (mean; 1 = none)
  Stat pps_scale;                   ///< measured PPS amplitude / nominal (the signal scale)
  double heat_ideal = 0.0;          ///< cumulative heat released by the system E_S(0) - E_S
  Stat heat;                        ///< measured: E_S(0) - E_S(m), both measured
  double free_energy_ideal = 0.0;
  Stat free_energy;  ///< F(m), Eq. (S19), of the calibrated state
  double coherence_ideal = 0.0;
  Stat coherence;                               ///< C(rho_S), relative entropy of coherence
  std::vector<std::optional<double>> at_ideal;  ///< AT_k (undefined: empty)
  std::vector<std::optional<Stat>> at;          ///< undefined in any draw: empty
  Stat fidelity;                                ///< Uhlmann, calibrated state vs ideal
  Mat rho_measured;                             ///< calibrated state, all spins (draw 0)
  Mat rho_system;                               ///< its system part
};

/// The error budget at the last measured collision: the noise-free measurement with one
/// imperfection switched off (and all of them: "none", which must equal the ideal model).
struct BudgetRow {
  std::string name;  ///< "all imperfections", "no relaxation", ...
  Imperfections imperfections;
  std::vector<double> delta;      ///< measured cumulative E_k(last) - E_k(0)
  std::vector<double> increment;  ///< measured E_k(last) - E_k(last - 1) (the pair)
};

/// Counts of the per-collision direction verdicts.
struct VerdictCount {
  int right = 0, wrong = 0, unresolved = 0, not_judged = 0;
  int magnitude_ok = 0;  ///< judged increments within 30 % or 3e-4 of the ideal
  /// Judged increments whose measured mean has the wrong sign, whatever the error bars (the
  /// count issue 23's probe reports).
  int sign_wrong = 0;
  /// Judged increments whose |measured mean - ideal| lies within one (two) combined error bars
  /// sqrt(stat^2 + sys^2): the bars' coverage of the actual error, nominally 68 % (95 %) of the
  /// judged ones for a bar that is one standard deviation (docs/experiment-format.md).
  int within_bar = 0, within_two_bars = 0;
  void add(Verdict v);
};

/// The readout FIDs of one acquisition of a run, one per setting of the program's readout set
/// (in its order), in the run's units: the signal of the state deviation / epsilon + I/d, i.e.
/// of the pseudo-pure-state scale the reconstruction uses; the temporal-averaging experiments
/// already added with their weights (what the console's weighted sum gives).
struct RecordedAcquisition {
  int collision = 0;
  std::string acquisition;  ///< "equilibrium" or "inverted" (inversion pairing)
  std::vector<spectrometer::Fid> fids;
};

struct CaseResult {
  CaseSpec spec;
  thermo::Trajectory theory;          ///< the ideal model, every interaction
  std::vector<MeasuredPoint> points;  ///< collision 0 first, then every measured collision
  std::vector<double> delta_ideal;    ///< E_k(last) - E_k(0), theory
  std::vector<Stat> delta_measured;   ///< measured E_k(last) - measured E_k(0)
  std::vector<Stat> delta_raw;        ///< raw (single run, no scale) E_k(last) - E_k(0)
  std::vector<BudgetRow> budget;
  VerdictCount verdicts;
  std::vector<std::string> pulses;  ///< names of the compiled pulses used
  double pps_epsilon = 0.0;  ///< nominal PPS polarisation of the simulated sample (SNR's unit)
  double noise_sigma = 0.0;  ///< per FID point, pseudo-state units
  bool systematics = false;  ///< the error budget ran at every point (sys parts are set)
  double seconds = 0.0;
  std::vector<RecordedAcquisition> recorded;  ///< RunSettings::record_collisions
};

/// Runs one case (every measured collision, then the error budget at the last one):
/// CaseRunner's units in order, then assemble_case. Throws InputError for a missing pulse under
/// CompileMode::kNever.
CaseResult run_case(const ExperimentProgram& program, const CaseSpec& spec, PulseLibrary& pulses,
                    const RunSettings& settings, const ProgressText& progress = {});

/// The units of work of a case (`mpirun -n N nmrc experiment` deals them to its ranks,
/// docs/mpi.md). With ideal re-preparation (the paper's Fig. 8) each measured collision m is a
/// pair of runs of its own, which depends only on the ideal model's states after collisions
/// m - 1 and m and on its own seed: a unit per pair (collision 1's first: it holds collision
/// 0), each with its error budget's rows. With `repreparation: measured` collision m starts
/// from collision m - 1's measured state: the pairs are a chain, and the case is one unit.
size_t case_units(const ExperimentProgram& program, const CaseSpec& spec);
/// The pairs of runs unit `unit` of a case holds (1, or every pair of a measured chain).
size_t unit_pairs(const ExperimentProgram& program, const CaseSpec& spec, size_t unit);

/// Computes a case's units on this process. The case's engines (the tomography, the played
/// PPS, the pulses' channels, the error budget's engines) are built at the first unit run and
/// kept for the next ones. A unit's result does not depend on the process that computes it nor
/// on the units it computed before (each pair is computed from its own states and seed).
class CaseRunner {
 public:
  CaseRunner(const ExperimentProgram& program, const CaseSpec& spec, PulseLibrary& pulses,
             const RunSettings& settings, const ProgressText& progress = {});
  ~CaseRunner();
  CaseRunner(const CaseRunner&) = delete;
  CaseRunner& operator=(const CaseRunner&) = delete;
  size_t units() const;  ///< case_units
  /// Unit `unit`'s pairs of runs (0 <= unit < units()), as text for the trip to the process
  /// that assembles the case: every number as its bits (compiler/wire.hpp), with the pulses
  /// played and the unit's seconds. Throws as run_case.
  std::string run_unit(size_t unit);

  struct Impl {  ///< the case's model and engines (run.cpp)
    virtual ~Impl() = default;
    virtual std::string run_unit(size_t unit) = 0;
  };

 private:
  std::unique_ptr<Impl> impl_;
  size_t units_ = 0;
};

/// The case from the texts of all its units (CaseRunner::run_unit, in unit order, computed on
/// any processes): bit-identical to one process's run_case but for `seconds` (here the sum of
/// the units' seconds, each on its own process, including its engines' build).
CaseResult assemble_case(const ExperimentProgram& program, const CaseSpec& spec,
                         const RunSettings& settings, const std::vector<std::string>& units);

/// A program's path as a compiled pulse's provenance records it, never a path of this machine:
/// a relative path as given (normalised); an absolute one relative to the working folder when
/// it lies inside it, else its file name alone.
std::string recorded_program_path(const std::string& path);

/// The pulse library of a program with its provenance.
PulseLibrary make_pulse_library(const ExperimentProgram& program, const RunSettings& settings);

/// The acquisitions of one pair of runs the calibration combines, per sign (from equilibrium,
/// from inverted equilibrium when `calibration.inversion`), in this order.
enum class PairAcquisition {
  kPrepared = 0,        ///< the state before the collision, no contact
  kContact = 1,         ///< the same through the contact pulses
  kPps = 2,             ///< the pseudo-pure state itself (the signal scale)
  kThermal = 3,         ///< every subsystem thermal at T_R (contact-loss reference)
  kThermalContact = 4,  ///< the same through the contact pulses
};
constexpr int kPairAcquisitions = 5;
/// Its name in files (weights.csv): prepared, contact, pps, thermal, thermal_contact.
const char* pair_acquisition_name(PairAcquisition a);

/// The calibrated energies (Eq. S17, delta = 1) of one pair of runs from the line values of its
/// acquisitions, lines[sign][acquisition][setting] (sign 1 only with `calibration.inversion`,
/// acquisitions 3 and 4 only with `calibration.reference`), reconstructed by `reconstruct`:
/// inversion pairing, the PPS reference's scale, the contact-loss factors. The one calibration
/// of the experiment: run_case and the reader of recorded data (bruker_run.hpp) both use it.
struct PairCalibration {
  double pps = 1.0;                            ///< measured PPS amplitude / nominal
  std::vector<double> loss;                    ///< contact-loss factor per system spin
  std::vector<double> before, after;           ///< system E_k without / with contact (calibrated)
  std::vector<double> after_uncorrected;       ///< with contact, without the loss factor
  double bath_before = 0.0, bath_after = 0.0;  ///< the bath spin's E_R
  std::vector<double> raw_before, raw_after;   ///< from equilibrium alone: no pairing, no scale
  Mat rho_before, rho_after;                   ///< the paired reconstructions (all spins)
};
using Reconstructor = std::function<Mat(const std::vector<RVec>&)>;
PairCalibration calibrate_pair(const ExperimentProgram& p, const CaseSpec& c,
                               const Reconstructor& reconstruct,
                               const std::vector<std::vector<RVec>> lines[2]);

/// Direction of a heat flow: +1 into the subsystem (energy rises), -1 out, 0 below tol.
int direction(double delta_energy, double tol = 0.0);

}  // namespace nmrc::experiment
