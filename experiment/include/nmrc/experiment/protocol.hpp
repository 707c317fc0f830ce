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
/// compensate_polarization (spectrometer::pps_steps).
std::vector<spectrometer::PpsStep> run_pps_steps(const ExperimentProgram& p);
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
  GradientElement gradient;
};

/// Everything one run (collision m of a case, ideal re-preparation) plays, in order.
struct RunProtocol {
  int collision = 0;
  std::vector<ProtocolPpsStep> pps;
  PulseNeed bath;
  GradientElement bath_gradient;  ///< spectrometer::bath_sequence's gradient (1 ms)
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
/// run_case does). Throws InputError for a collision outside 1..the case's collisions.
RunProtocol run_protocol(const ExperimentProgram& p, const CaseSpec& c, int collision);

}  // namespace nmrc::experiment
