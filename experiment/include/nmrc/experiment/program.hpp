// Experiment programs (`nmrc experiment PROGRAM.yaml`, docs/experiment-format.md): which cases
// of the paper's heat-flow model to run as a virtual experiment, on which molecule, with which
// readout set, noise, imperfections, calibration and pulse lengths. The ideal model of each case
// is a run of a theory program (docs/theory-format.md), so the experiment and the theory it is
// compared with are one description. Every error is one located line
// "file:line:col: field = value: rule" (nmrc::InputError), found before anything is computed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/spectrometer/readout.hpp"
#include "nmrc/spectrometer/tomography_run.hpp"
#include "nmrc/thermo/model.hpp"

namespace nmrc::experiment {

/// Each imperfection of the virtual spectrometer, on by default; the error budget switches them
/// off one at a time. Every flag is one row of flags() (its program key, its member and the
/// budget's label for the run without it): the loader, the JSON writers and the budget all walk
/// that one table, so a new flag is one new member and one new row.
struct Imperfections {
  bool relaxation = true;      ///< Lindblad T1/T2 during every pulse, delay and gradient
  bool b1_ensemble = true;     ///< the B1 ensemble (else the nominal member only)
  bool compiled_gates = true;  ///< compiled shaped pulses (else exact instantaneous unitaries)
  /// With compiled_gates: the contact pulses compiled (else exact), the preparation's (bath
  /// rotation, temporal-averaging pi pulses, U_d) compiled (else exact). The budget's split of
  /// the gates' error into the contact's and the preparation's.
  bool compiled_contact = true;
  bool compiled_preparation = true;
  bool noise = true;    ///< FID noise at the program's SNR
  bool readout = true;  ///< compiled readout pulses + FID line fit (else ideal lines)
  bool operator==(const Imperfections&) const = default;

  struct Flag {
    const char* key;              ///< program key and JSON name: "relaxation"
    bool Imperfections::*member;  ///< &Imperfections::relaxation
    const char* off_label;        ///< the error budget's row without it: "no relaxation"
    bool budget_row;  ///< the error budget measures without it (noise: statistical, no row)
    /// Its row's shift is a part of the systematic error. The contact's and the preparation's
    /// rows are a breakdown of the gates' row, shown, not summed: their errors do not add (the
    /// contact-loss reference plays both), the gates' row holds them together.
    bool systematic;
  };
  static const std::vector<Flag>& flags();
  /// Every imperfection off (the ideal instrument) / on.
  static Imperfections none();
  static Imperfections all();
};

/// The contact as compiled pulses: one pulse per partial SWAP (the paper's gates), or the whole
/// cascade of a collision (S1-R, S2-R, ... in the case's order) as ONE compiled pulse against
/// the product of the swaps (one gate error instead of one per swap; issue 23's probe).
enum class ContactPulses { kPerSwap, kWholeCollision };
/// How the PPS's controlled gates are played (Eq. (S15) step 2 has three): one compiled pulse
/// per gate (kind `pps`), or one pulse per step of several gates against their product (kind
/// `pps_step`; a step of one gate keeps its `pps` pulse), compiled up to diagonal phases on
/// its input: each step starts from a diagonal
/// state (thermal equilibrium after step 1's gradient, and every gradient after a step leaves
/// the ideal state diagonal), which any diagonal unitary applied first leaves unchanged.
enum class PpsPulses { kPerGate, kPerStep };

enum class Repreparation { kIdeal, kMeasured };

struct CaseSpec {
  std::string name;  ///< output sub-directory (the theory run's name)
  std::string title;
  std::string theory_file;
  thermo::ModelParams params;     ///< the ideal model (collisions = the last one measured)
  std::vector<int> system_spins;  ///< molecule index of each subsystem, in subsystem order
  int bath_spin = -1;
  std::vector<int> measure;  ///< measured collisions, ascending, within 1..collisions
  std::string location;      ///< file:line:col of the case
};

/// Compile settings of one kind of pulse (duration and steps; the rest from the defaults).
struct PulseShape {
  double duration_s = 0.0;
  int steps = 0;
  double fidelity_target = 0.0;  ///< ensemble-minimum target; 0 = the program's compile: value
};

struct ExperimentProgram {
  std::string name, description, path,
      text_hash;  ///< content_hash_hex of the program text and every file it names (resume key)
  Molecule molecule;
  std::string molecule_path;
  spectrometer::ReadoutSet readout;
  std::string compiled_dir;  ///< shipped pulses (nmrc-pulse/1), new ones are written here
  Repreparation repreparation = Repreparation::kIdeal;
  ContactPulses contact = ContactPulses::kPerSwap;
  PpsPulses pps_pulses = PpsPulses::kPerGate;
  /// Phase cycle of the bath spin before the contact: the "with contact" acquisition is the sum
  /// of `bath_phase_cycle` acquisitions with the bath spin turned about z by 2 pi j / N first
  /// (exact z rotations). A bath prepared diagonal is unchanged; a coherence between the bath
  /// and the system, which imperfect preparation pulses leave and which the contact turns into
  /// heat at first order in theta, averages out. 1 = off.
  int bath_phase_cycle = 1;
  /// Phase cycle of the contact (issue 23, item 2's error averaging): the "with contact"
  /// acquisition (and the contact-loss reference through the contact) is the sum of
  /// `contact_phase_cycle` acquisitions with every RF phase of the contact pulses on the bath's
  /// channel shifted by 2 pi j / N (experiment::phase_cycled). The ideal contact conserves the
  /// excitation number, so it commutes with the collective z rotation and is unchanged; the
  /// compiled pulses' errors that do not are averaged. 1 = off.
  int contact_phase_cycle = 1;
  // acquisition
  double snr = 300.0;
  int repeats = 5;  ///< noise draws per measured point
  std::uint64_t seed = 1;
  int td = 4096;
  double sw_hz = 0.0;
  // spectrometer
  std::vector<double> b1_scale{0.97, 0.985, 1.0, 1.015, 1.03};
  std::vector<double> b1_weight{1, 1, 1, 1, 1};
  bool compensate_polarization = true;
  /// The probe's gradients, which set how long the PPS and bath gradients play (protocol.hpp's
  /// PlayedGradients; the Bruker export writes the same): the gradient at GPZ 100 % (G/cm;
  /// the default is nmrc's, calibrate your probe's) and the shortest sample length they must
  /// dephase (cm; the short end of the 1-1.8 cm of a 5 mm tube a probe's coil sees).
  double gradient_max_g_per_cm = 53.5;
  double sample_cm = 1.0;
  Imperfections imperfections;
  bool inversion = true;  ///< pair every run with one from inverted equilibrium
  /// The contact-loss reference: every subsystem thermal at T_R with and without the contact
  /// pulses (invariant under any excitation-conserving contact), its ratio corrects the
  /// populations' relaxation during the contact pulses.
  bool reference = true;
  bool error_budget = true;
  compiler::CompileOptions compile;          ///< defaults for every compiled pulse
  std::map<std::string, PulseShape> pulses;  ///< "ud", "rotation", "readout", "swap C1-C4", ...
  std::vector<CaseSpec> cases;
};

/// Loads and validates a program. Throws InputError (file:line:col) for unknown keys, unknown
/// spins or roles, a non-positive Eq. (1) state (from the theory loader), an incomplete readout
/// set, measured collisions out of range, bad acquisition or B1 settings.
ExperimentProgram load_experiment_program(const std::string& path);
/// Same from text (nmrc.experiment with a dict): `path` is where the program stands (messages
/// name it; relative paths and the compiled: folder are taken from its folder); it need not exist.
ExperimentProgram parse_experiment_program(const std::string& text, const std::string& path);

/// Pulse length for a kind, falling back to the built-in defaults (docs/experiment-format.md).
PulseShape pulse_shape(const ExperimentProgram& p, const std::string& kind);

/// The compile options of a pulse of `kind`: the program's compile: block with the kind's
/// duration, steps and (when given) fidelity target.
compiler::CompileOptions pulse_compile_options(const ExperimentProgram& p, const std::string& kind);

}  // namespace nmrc::experiment
