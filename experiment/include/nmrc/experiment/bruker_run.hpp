// One run of the experiment exported for a Bruker console (docs/bruker.md, "An experiment
// run"): the protocol of run_protocol (protocol.hpp) with every operation played by its compiled
// pulse, one TopSpin experiment (EXPNO) per readout setting and temporal-averaging experiment,
// through compiler::export_bruker (shapes, pulse programs, acqus, queue.mac, README), plus
// weights.csv saying how the FIDs combine.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "nmrc/compiler/bruker_export.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/protocol.hpp"
#include "nmrc/experiment/pulses.hpp"
#include "nmrc/experiment/run.hpp"
#include "nmrc/spectrometer/acquisition.hpp"

namespace nmrc::experiment {

/// The export of the run that measures collision `collision` of case `c`. Every pulse comes from
/// `pulses` (shipped, cached, or compiled now under its mode, with the program's compile
/// settings and pulse lengths). EXPNO k = s E + i + 1 plays temporal-averaging experiment i
/// (0..E-1) and readout setting s (0..S-1): PPS steps (each operation's compiled pulse, then
/// its gradient), the bath rotation and its gradient, the experiment's pi pulses, U_d, the
/// contact pulses in the case's order, the setting's readout pulses, acquisition (the
/// program's TD and SW). The PPS and bath gradients are run_protocol's, as the program's probe
/// plays them (protocol.hpp's PlayedGradients; options.gpz_max_g_per_cm is replaced by the
/// program's spectrometer.gradient_max_g_per_cm, which that plan used).
/// Throws InputError as run_protocol and export_bruker do, and for a missing pulse under
/// CompileMode::kNever.
/// A case name as TopSpin names (pulse programs, datasets) carry it: '.' -> 'p', '-' -> 'm'
/// (c_minus_0.5 -> c_minus_0p5).
std::string topspin_case_name(const std::string& case_name);

/// The run as the sequences the console plays, before any file is written: one per EXPNO
/// (k = s E + i + 1, the order of `experiments`), the weight of each temporal-averaging
/// experiment, and the gradients played longer than the protocol's (a note per gradient).
/// One acquisition of the calibration (run.hpp's PairAcquisition) from one sign: its EXPNOs
/// are first + s E + i + 1 (readout setting s, temporal-averaging experiment i of E).
struct RunGroup {
  PairAcquisition acquisition = PairAcquisition::kContact;
  int sign = 0;  ///< 0 from equilibrium, 1 from inverted equilibrium (the inversion pulse first)
  size_t first = 0;
  std::vector<double> weights;  ///< w_i, i = 0..E-1 (sum 1)
  std::vector<ProtocolExperiment> experiments;
};

struct RunSequences {
  RunProtocol protocol;
  std::vector<compiler::BrukerExperimentInput> experiments;
  std::vector<std::string> settings;  ///< readout setting of each EXPNO
  /// The groups in EXPNO order: per sign (equilibrium, then inverted with
  /// `calibration.inversion`) contact, prepared, pps, then with `calibration.reference`
  /// thermal and thermal_contact. The first group (contact from equilibrium) is the measurement.
  std::vector<RunGroup> groups;
  std::vector<size_t> group_of;        ///< group of each EXPNO
  std::vector<double> weights;         ///< the first group's w_i, i = 0..E-1
  std::vector<std::string> stretched;  ///< every gradient played otherwise than the protocol's
  /// The factor on every PPS and bath gradient's area (PlayedGradients::scale), >= 1.
  double gradient_scale = 1.0;
  /// The largest fraction of a single-quantum coherence any PPS or bath gradient (as played)
  /// leaves on a uniform sample of the program's sample_cm to max(sample_cm, 1.8) cm (9
  /// lengths), simulated by spectrometer::gradient_residual; one note per gradient.
  double gradient_residual = 0.0;
  std::vector<std::string> residuals;
  size_t pulses = 0;  ///< distinct compiled pulses
};
/// The sequences of the run that measures collision `collision` of case `c` (see
/// export_run_bruker). `ideal_pps`: the PPS steps as the ideal operations the virtual run plays
/// (spectrometer::pps_steps) instead of their compiled pulses: not for a console, for comparing
/// the console's run with the virtual one step by step.
RunSequences run_sequences(const ExperimentProgram& p, const CaseSpec& c, int collision,
                           PulseLibrary& pulses, const CompileProgress& progress = {},
                           bool ideal_pps = false);

compiler::BrukerExportResult export_run_bruker(const ExperimentProgram& p, const CaseSpec& c,
                                               int collision, PulseLibrary& pulses,
                                               const compiler::BrukerExportOptions& options,
                                               const CompileProgress& progress = {});

/// The virtual console: every EXPNO's sequence run on the virtual spectrometer from thermal
/// equilibrium (the program's relaxation and B1 ensemble as `imperfections` switch them,
/// gradients as exact coherence filters, as the virtual run models them), its noise-free FID
/// (spectrometer::fid_signal at the acquisition's SW, TD and receiver phase) divided by the
/// nominal PPS polarisation (the virtual run's unit, Engine::epsilon): the FIDs the run's
/// reconstruction expects. EXPNOs that share their first elements share their propagation.
std::vector<spectrometer::Fid> virtual_console_fids(
    const ExperimentProgram& p, const std::vector<Sequence>& sequences,
    const Imperfections& imperfections, const std::function<void(size_t, size_t)>& progress = {});

/// A run on the virtual console, measured as the console's data would be: the FIDs of
/// virtual_console_fids written as TopSpin datasets into `data_dir` (EXPNO k, int32 as a
/// console writes them, PULPROG the sequence's name), then read back: the first group (the
/// contact run from equilibrium) reconstructed by spectrometer::tomography_from_bruker with its
/// weights, as `nmrc tomography --from-bruker` reconstructs console data (raw energies
/// E_k = -<Z_k>/2, Eq. S17), and every group through calibrate_run_bruker (the calibrated ones).
/// `pulseprograms` (one per EXPNO, or empty): the pulse program each EXPNO played (an export's,
/// read back), written as its dataset's `pulseprogram` as TopSpin keeps it, so that the reader
/// takes its pre-acquisition delay from there (spectrometer::preacquisition_delay_s) as from a
/// console's data; empty: the simulated datasets' comment (no delay).
struct RunPlayback {
  size_t expnos = 0;
  std::vector<double> weights;  ///< the first group's
  Mat rho;                      ///< the contact run reconstructed, all spins (the run's units)
  std::vector<double> energy;   ///< E_k of the case's system spins: raw (no pairing, no scale)
  double bath_energy = 0.0;     ///< the bath spin's
  PairCalibration calibrated;   ///< the calibrated energies, as the virtual run's
};
RunPlayback console_run(const ExperimentProgram& p, const CaseSpec& c,
                        const std::vector<Sequence>& sequences, const std::vector<RunGroup>& groups,
                        const Imperfections& imperfections, const std::string& data_dir,
                        const std::function<void(size_t, size_t)>& progress = {},
                        const std::vector<std::string>& pulseprograms = {});

/// The EXPNO groups of a run export, from `dir`/weights.csv (and the EXPNO count into
/// `expnos`). Throws InputError for a file that is not a run export's weights.csv of this
/// program: another header, EXPNOs out of order, an unknown acquisition or sign, a group twice,
/// a group not in the first + s E + i + 1 layout of the program's readout set, weights that
/// differ between settings, the first group not the contact run from equilibrium, and, with a
/// `run_tag` (topspin_case_name(case) + "_m" + collision), a pulse program of another run.
std::vector<RunGroup> read_run_groups(const std::string& dir, const ExperimentProgram& p,
                                      size_t* expnos = nullptr, const std::string& run_tag = "");

/// The calibrated energies of a run from its recorded data (docs/bruker.md, "Calibration from
/// the console's data"): every group's EXPNOs `data_dir`/k read by
/// spectrometer::tomography_from_bruker (group delay, molecule frame, `scale`, the group's
/// weighted sum per setting, line fit), their line values combined by calibrate_pair, the
/// virtual run's own calibration (inversion pairing, PPS scale, contact-loss factors). Throws
/// InputError for a group the program's calibration needs and `groups` lacks, and what
/// tomography_from_bruker refuses.
PairCalibration calibrate_run_bruker(const ExperimentProgram& p, const CaseSpec& c,
                                     const std::vector<RunGroup>& groups,
                                     const std::string& data_dir, double scale = 1.0);

/// A run export played back (docs/bruker.md, "Play back"): the sequences read from the folder
/// `dir` alone (weights.csv through read_run_groups; every EXPNO's pulseprogram and acqus,
/// lists/wave, through compiler::read_bruker_experiment), then console_run with every EXPNO's
/// pulseprogram (its pre-acquisition delay played and read back); weights.csv is
/// copied into `data_dir`, which then reads as a console's folder after the run (`nmrc
/// experiment --from-bruker`). Throws InputError for what read_run_groups and
/// read_bruker_experiment refuse.
RunPlayback play_back_run_bruker(const std::string& dir, const ExperimentProgram& p,
                                 const CaseSpec& c, const std::string& data_dir,
                                 const Imperfections& imperfections, int phase_sense = 1,
                                 const std::function<void(size_t, size_t)>& progress = {});

}  // namespace nmrc::experiment
