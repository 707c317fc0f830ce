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
// Calibration (docs/experiment-format.md): every run is paired with the same run from inverted
// equilibrium and the two are subtracted (T1 recovery is the only part not linear in the
// deviation and drops out exactly), and a reference run (every subsystem thermal at T_R, the same
// contact pulses: invariant under the ideal contact) gives a per-spin scale factor against its
// known energy. Raw values are always reported beside calibrated ones.
#pragma once

#include <functional>
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
  bool error_budget = true;  ///< and the program's error_budget
  /// Measured collisions whose readout FIDs are kept (CaseResult::recorded): the first noise
  /// draw of the run from equilibrium and, with inversion pairing, from inverted equilibrium.
  std::vector<int> record_collisions;
};

/// Progress text: "case c_0: collision 5 (3/7)", "compiling ud_c_0_m5: 120 evaluations ...".
using ProgressText = std::function<void(const std::string&)>;

struct Stat {
  double mean = 0.0, std = 0.0;
};

/// One measured collision.
struct MeasuredPoint {
  int collision = 0;
  int step = 0;  ///< interaction index of the theory (x-axis of the paper's figures)
  std::vector<double> energy_ideal;
  std::vector<Stat> energy_raw;     ///< single run from equilibrium, no scale
  std::vector<Stat> energy_paired;  ///< inversion-paired, no scale
  std::vector<Stat> energy;         ///< calibrated (paired and scaled)
  std::vector<double> scale;        ///< reference scale factor per subsystem (mean)
  double heat_ideal = 0.0;          ///< cumulative heat released by the system E_S(0) - E_S
  Stat heat;
  double free_energy_ideal = 0.0;
  Stat free_energy;
  std::vector<std::optional<double>> at_ideal, at;  ///< AT_k (undefined: empty)
  Stat fidelity;                                    ///< Uhlmann, calibrated state vs ideal
  Mat rho_measured;                                 ///< calibrated state, all spins (draw 0)
  Mat rho_system;                                   ///< its system part
};

struct BudgetRow {
  std::string name;  ///< "all imperfections", "no relaxation", ...
  Imperfections imperfections;
  std::vector<double> delta;  ///< measured cumulative delta energy at the last collision
  std::vector<double> raw_delta;
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
  thermo::Trajectory theory;  ///< the ideal model, every interaction
  std::vector<MeasuredPoint> points;
  std::vector<double> delta_ideal;   ///< E_k(last) - E_k(0), theory
  std::vector<Stat> delta_measured;  ///< calibrated
  std::vector<Stat> delta_raw;       ///< raw
  std::vector<BudgetRow> budget;
  std::vector<std::string> pulses;  ///< names of the compiled pulses used
  double pps_epsilon = 0.0;
  double noise_sigma = 0.0;  ///< per FID point, pseudo-state units
  double seconds = 0.0;
  std::vector<RecordedAcquisition> recorded;  ///< RunSettings::record_collisions
};

/// Runs one case (every measured collision, then the error budget at the last one).
/// Throws InputError for a missing pulse under CompileMode::kNever.
CaseResult run_case(const ExperimentProgram& program, const CaseSpec& spec, PulseLibrary& pulses,
                    const RunSettings& settings, const ProgressText& progress = {});

/// The pulse library of a program with its provenance.
PulseLibrary make_pulse_library(const ExperimentProgram& program, const RunSettings& settings);

/// Direction of a heat flow: +1 into the subsystem (energy rises), -1 out, 0 below tol.
int direction(double delta_energy, double tol = 0.0);

}  // namespace nmrc::experiment
