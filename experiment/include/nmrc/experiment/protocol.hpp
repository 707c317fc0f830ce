// The pulses one run of the experiment plays, as a list (docs/experiment-format.md, "Protocol of
// one run"): the PPS steps (ideal operations and gradients, as the run models them, with the
// compiled pulse each operation would need on a console), the bath rotation and its gradient,
// the temporal-averaging experiments (weights, selective pi pulses), U_d, the contact pulses in
// the case's order, and the compiled readout pulses of every setting. The run (run.cpp) names
// its pulses through the same builders, so both agree on every pulse by construction.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/sequence.hpp"
#include "nmrc/core/types.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/pulses.hpp"
#include "nmrc/spectrometer/preparation.hpp"

namespace nmrc::experiment {

/// Selective rotation of one spin by angle_rad about the axis at phase_rad (0 = x, pi/2 = y).
PulseNeed rotation_need(const Molecule& m, const std::string& name, const std::string& kind,
                        int spin, double angle_rad, double phase_rad, const std::string& purpose);
/// The bath spin's R_y(theta), theta = 2 arccos sqrt(P0(T_R)) (spectrometer::bath_rotation_angle).
PulseNeed bath_need(const ExperimentProgram& p, const CaseSpec& c);
/// The temporal-averaging pi pulse (about x) on `spin`.
PulseNeed flip_need(const ExperimentProgram& p, int spin);
/// The inversion pairing's pi pulse (about x) on every spin of the molecule at once,
/// `rx180_all`: the run from inverted equilibrium starts with it (run.cpp plays it compiled
/// when the preparation's gates are, as the console does; docs/experiment-format.md).
PulseNeed inversion_need(const ExperimentProgram& p);
/// The readout pi/2 on `spin` about `axis` ('X' or 'Y').
PulseNeed readout_need(const ExperimentProgram& p, int spin, char axis);
/// U_d of the temporal-averaging plan (on the system spins), named `name`.
PulseNeed ud_need(const ExperimentProgram& p, const CaseSpec& c, const Mat& u_d,
                  const std::string& name);
/// The contact: partial SWAPs S_k-R, theta = g tau, in the case's order (cascade), or one joint
/// gate exp(-i tau g sum_k H_kR) (simultaneous).
std::vector<PulseNeed> contact_needs(const ExperimentProgram& p, const CaseSpec& c);
/// The PPS steps of Eq. (S15) on all spins of the molecule in order, with the program's
/// compensate_polarization (spectrometer::pps_steps) and the run's gradient areas
/// (kPpsGradientUnits turns over 1 cm in 1 ms; run_protocol plays them as the probe can).
std::vector<spectrometer::PpsStep> run_pps_steps(const ExperimentProgram& p);

/// The areas of the four PPS gradients and of the bath gradient, in units of the smallest
/// (docs/experiment-format.md, "Gradients"). A coherence that has order p_i during gradient i
/// keeps the phase 2 pi q z sum_i p_i A_i at height z, and survives a real sample only where
/// that sum is 0 (a gradient echo), which the virtual run's exact filters cannot show. The
/// orders Eq. (S15)'s operations and the bath rotation give, from thermal equilibrium
/// (|p_i| <= 1, 3, 3, 4, 4; 489 paths, bench/gradient_areas.py), never sum to 0 with these
/// areas: with integer areas every other path winds at least one unit (the run's gradients
/// make one unit 100/pi turns on the shortest sample: <= 1 % left). Powers of 3: no path with
/// every |p_i| <= 1 or 2 refocuses either, which keeps the small amplitudes the compiled
/// pulses' errors put on other paths away (measured on z slices with the shipped pulses: 3.0e-4
/// of the deviation comes back, against 0.0040 with 1 2 2 4 and 6, the smallest echo-free
/// integer set; docs/bruker.md, "Gradient areas and strengths for a real sample", says why this
/// set). The earlier 1 5 25 125 with the bath at 1 kept the stimulated echo of a step-1
/// coherence stored through steps 2-4 and brought back by the bath gradient
/// (tests/experiment/protocol_test.cpp plays all three on the spectrometer's slices).
inline constexpr double kPpsGradientUnits[4] = {1.0, 3.0, 9.0, 27.0};
inline constexpr double kBathGradientUnits = 81.0;

/// The probe's gradients (ExperimentProgram::gradient_max_g_per_cm, sample_cm) applied to the
/// protocol's: every PPS and bath gradient's area times one factor (>= 1), so that one unit
/// winds a single-quantum coherence of the molecule's weakest nucleus 100/pi turns across the
/// shortest sample (|sinc| <= 1/(pi T) <= 1 %), played in the protocol's 1 ms, or at the
/// probe's maximum (GPZ 100 %, times the area factor of the console's gradient shape,
/// compiler::bruker_gradient_shape_for) for longer, in whole microseconds, with the same area.
/// ONE plan: run_protocol's gradients are these, so the virtual run relaxes and evolves for
/// the durations a console plays, and the Bruker export writes them.
struct PlayedGradients {
  double scale = 1.0;                  ///< the factor on the protocol's areas
  std::vector<std::string> stretched;  ///< "what: G for t played as G' for t' (turns/cm)"
};
/// The contact-loss reference's state (calibration.reference): every subsystem thermal at T_R,
/// the product state of the case's system spins; the virtual run (run.cpp) prepares it by
/// temporal averaging and the export's thermal groups play the same plan (run_protocol).
Mat thermal_reference_state(const CaseSpec& c);
/// Name of the U_d of collision m under ideal re-preparation: ud_<case>_m<m-1>.
std::string ud_name(const CaseSpec& c, int collision);

/// One temporal-averaging experiment of a run.
struct ProtocolExperiment {
  int basis_state = 0;
  double weight = 0.0;
  std::vector<PulseNeed> flips;  ///< selective pi pulses, in spin order
};

/// One PPS step: the ideal operations the run applies, the compiled pulse each would need on a
/// console (pulses[i] plays operations[i]; "pps" kind for controlled gates, "rotation" for the
/// rotations), and its gradient.
struct ProtocolPpsStep {
  std::string name, description;
  std::vector<Element> operations;
  std::vector<PulseNeed> pulses;
  GradientElement gradient;  ///< as played (PlayedGradients)
};

/// Everything one run (collision m of a case, ideal re-preparation) plays, in order.
struct RunProtocol {
  int collision = 0;
  std::vector<ProtocolPpsStep> pps;
  PulseNeed bath;
  GradientElement bath_gradient;  ///< spectrometer::bath_sequence's gradient, as played
  PlayedGradients gradients;      ///< how the PPS and bath gradients are played
  std::vector<ProtocolExperiment> experiments;
  std::optional<PulseNeed> ud;  ///< absent when U_d = I (a diagonal state)
  std::vector<PulseNeed> contact;
  /// The calibration's runs (docs/experiment-format.md, "What is measured"): the inversion
  /// pairing's pulse (absent without `calibration.inversion`) and the temporal-averaging
  /// experiments of the contact-loss reference, every subsystem thermal at T_R (empty without
  /// `calibration.reference`; its U_d is I: the state is diagonal).
  std::optional<PulseNeed> inversion;
  std::vector<ProtocolExperiment> reference;
  /// Per readout setting (the program's readout set, in order): its name ("XXII") and its
  /// compiled pi/2 pulses, one after the other in spin order.
  std::vector<std::pair<std::string, std::vector<PulseNeed>>> readout;
};

/// The protocol of the run that measures collision `collision` of case `c` (the ideal state
/// before it from the theory engine, planned by spectrometer::plan_temporal_averaging, as
/// run_case does), its gradients as the program's probe plays them (PlayedGradients). Throws
/// InputError for a collision outside 1..the case's collisions.
RunProtocol run_protocol(const ExperimentProgram& p, const CaseSpec& c, int collision);

}  // namespace nmrc::experiment
