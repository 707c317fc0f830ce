// Broadband heteronuclear decoupling simulated pulse by pulse (docs/console-physics.md): the
// composite-pulse decoupling (CPD) sequence the Bruker export plays on f2 (CPDPRG2 waltz16 or
// garp at PCPD2, O2; compiler/src/bruker_export.cpp) runs on the decoupled channel of a
// heteronuclear molecule while the other channels play their shaped pulses, delays and the
// acquisition. Every decoupler element is a rectangle of its real length (angle/90 x PCPD2) and
// amplitude 1 / (4 PCPD2); the 13C shape's steps and the decoupler's elements are merged into
// the pieces of constant Hamiltonian they define, each propagated exactly (Hermitian
// eigendecomposition). Where the observed channels are silent (delays, acquisition), one
// decoupler element's or one whole cycle's propagator is computed once and reused (cycles by
// repeated squaring), so a long delay costs a few matrix products.
//
// Sequences (one supercycle R R Rb Rb, Rb = R with every phase + 180 degrees):
//  - WALTZ-16: R = -3 4 -2 3 -1 2 -4 2 -3 in units of 90 degrees (-: phase 180) (Shaka, Keeler,
//  Frenkiel & Freeman,
//    J. Magn. Reson. 52, 335 (1983); evaluated in Shaka, Keeler & Freeman, J. Magn. Reson. 53,
//    313 (1983)); 96 x PCPD2 per supercycle;
//  - GARP-1: the 25 flip angles of Shaka, Barker & Freeman, J. Magn. Reson. 64, 547 (1985),
//    Table 1, alternating phase 0 / 180;
//  - MLEV-16 (Levitt, Freeman & Frenkiel, J. Magn. Reson. 47, 328 (1982)) and CW: candidates
//    measured against the others, not played by the export.
// The decoupler's carrier O2 is the frame of the decoupled spins (their offsets are shifted by
// -O2), which differs from the molecule's channel frame by a z rotation of those spins only:
// every measure of the other channels' spins (their reduced state, spectra, gate fidelity on
// their subspace) is unchanged by it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/types.hpp"
#include "nmrc/spectrometer/acquisition.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "nmrc/spectrometer/propagation.hpp"

namespace nmrc::spectrometer {

/// The export plays waltz16 or garp; mlev16 and cw (continuous wave, phase 0) are simulated as
/// candidates (docs/console-physics.md).
enum class CpdSequence { kWaltz16, kGarp, kMlev16, kCw };

/// "waltz16", "garp" (the export's --cpd names), "mlev16" or "cw"; throws InputError otherwise.
CpdSequence cpd_sequence(const std::string& name);
const char* cpd_name(CpdSequence s);

/// One element of a CPD sequence: a rectangle of flip angle angle_deg at phase phase_deg.
struct CpdPulse {
  double angle_deg = 0.0;
  double phase_deg = 0.0;
};

/// The full supercycle of `s` (R R Rb Rb for WALTZ-16 and GARP-1; MLEV-16's 16 composite
/// inversions; CW: one 360-degree element).
std::vector<CpdPulse> cpd_supercycle(CpdSequence s);

struct Decoupler {
  CpdSequence sequence = CpdSequence::kWaltz16;
  std::string channel = "1H";  ///< the molecule's channel the decoupler plays on
  double pcpd_s = 90e-6;       ///< PCPD2: the sequence's 90-degree pulse (the export's default)
  double o2_hz = 0.0;          ///< decoupler carrier O2 as an offset in the molecule's frame
  double b1_scale = 1.0;       ///< decoupler RF amplitude factor (miscalibration, B1 spread)
  bool on = true;              ///< false: the same timeline with the RF off (the J multiplets)
  double rf_hz() const { return 0.25 / pcpd_s; }
};

/// The decoupler running from time 0 (the export's `cpds2:f2`) on molecule `m`, and the
/// propagators of what the other channels play while it runs. Precondition checks (throw
/// InputError): the channel exists and another channel remains; 0 < pcpd_s <= 0.1 s; the
/// amplitude rf_hz * b1_scale is within the channel's max_rf_hz; b1_scale > 0.
class DecoupledEvolution {
 public:
  DecoupledEvolution(const Molecule& m, const Decoupler& dec, const DynamicsOptions& options = {});

  /// Propagator of `segments` (the decoupled channel silent in them; throws InputError
  /// otherwise) from the decoupler's current time, which it advances.
  Mat advance(const std::vector<Segment>& segments);
  Mat advance(const Element& e) { return advance(segments_of(e, dynamics_.channels())); }

  /// Noise-free FID of `channel` from state rho with the decoupler running (the convention of
  /// fid_signal: sum over the channel's spins k of <sigma_x^k + i sigma_y^k> exp(-t/T2*_k)),
  /// at dwell cycle_s() / points_per_cycle so that the cycle repeats every points_per_cycle
  /// points: the dwell propagators of one cycle are computed once and the cycle's
  /// propagator U_c = Q T Q^dag (Schur form, T diagonal for a unitary) gives every later
  /// point. Advances the decoupler by the acquisition time (td rounded up to whole cycles).
  Fid acquire(const Mat& rho, int channel, int points_per_cycle, int td);

  /// A switching decoupler (a schedule: sequence and power per interval): from the current
  /// time the decoupler plays `dec` instead, from its supercycle's first element, as a Bruker
  /// program's `do:f2`, `plN:f2` and then `cw:f2` or `cpds2:f2` restart it (dec.on = false: the
  /// RF off, e.g. for the console's switching delays). Same channel and O2 as the
  /// constructor's (the frame; InputError otherwise) and the constructor's checks on pcpd_s,
  /// b1_scale and the channel's max_rf_hz. Each setting's element and cycle propagators are
  /// kept, so switching back and forth costs nothing after the first time.
  void switch_to(const Decoupler& dec);
  const Decoupler& decoupler() const { return settings_[current_].dec; }

  const Dynamics& dynamics() const { return dynamics_; }
  double cycle_s() const { return settings_[current_].cycle_s; }
  double time_s() const { return time_s_; }
  /// Element i of the current supercycle as played: duration.
  int elements() const { return static_cast<int>(settings_[current_].length_s.size()); }
  double element_length_s(int i) const { return settings_[current_].length_s[i]; }

 private:
  // One decoupler setting: its elements (length, u_x, u_y in Hz with b1_scale) and the
  // propagators computed so far.
  struct Setting {
    Decoupler dec;
    std::vector<double> length_s, ux_hz, uy_hz;
    double cycle_s = 0.0;
    std::vector<std::optional<Mat>> free;
    std::optional<Mat> cycle;
  };
  Setting& setting() { return settings_[current_]; }
  void next_element();
  const Mat& free_element(int i);
  Mat cycle_power(long n);

  Dynamics dynamics_;
  int channel_ = 0;
  std::vector<int> spin_channel_;  ///< molecule channel of each spin
  std::vector<double> t2star_;     ///< T2* of each spin (acquisition)
  double max_rf_hz_ = 0.0;         ///< the decoupled channel's limit
  std::vector<Setting> settings_;  ///< every setting played so far
  size_t current_ = 0;
  double time_s_ = 0.0;
  int element_ = 0;    ///< current element of the supercycle
  double into_ = 0.0;  ///< time already spent in it
};

/// Propagator of a shaped pulse on `m` with the decoupler running from time 0 (a fresh
/// DecoupledEvolution; the pulse must not use the decoupled channel).
Mat decoupled_unitary(const Molecule& m, const Decoupler& dec, const ShapedPulseElement& pulse,
                      const DynamicsOptions& options = {});

/// One configuration of the decoupled spins in the first-order model of off-resonance CW
/// decoupling: its weight (sums to 1 over the configurations) and the static offset (Hz) it adds
/// to each spin of the other channels (in the molecule's spin order; 0 on the decoupled spins).
struct ResidualConfiguration {
  double weight = 0.0;
  std::vector<double> offset_hz;
};

/// The first-order residual couplings of CW decoupling (docs/console-physics.md, "The residual
/// couplings of CW decoupling"): a decoupled spin j at offset Delta_j = offset_j - O2 under CW of
/// amplitude B2 = dec.rf_hz() * dec.b1_scale is quantised along its effective field, and each
/// weak coupling 2 pi J_kj I_z^k I_z^j to a spin k of another channel keeps its secular part
/// 2 pi J_kj cos(theta_j) I_z^k I_z'^j, cos(theta_j) = Delta_j / sqrt(Delta_j^2 + B2^2) (the
/// residual splitting J Delta / B_eff of off-resonance decoupling: Ernst, J. Chem. Phys. 45,
/// 3845 (1966); Ernst, Bodenhausen & Wokaun, Principles of NMR in One and Two Dimensions
/// (1987), section 4.7). With the decoupled spins maximally mixed (each spin-1/2 up or down
/// along its effective field, 2^n configurations of equal weight), configuration c shifts spin k
/// by sum_j J_kj cos(theta_j) m_j, m_j = +/-1/2. Couplings among the decoupled spins and the
/// non-secular remainder (of order (J sin theta)^2 / B_eff) are left out. Needs
/// dec.sequence == kCw and dec.on (throws InputError otherwise); at most 12 decoupled spins.
std::vector<ResidualConfiguration> cw_residual_configurations(const Molecule& m,
                                                              const Decoupler& dec);

/// Gate fidelity on a subsystem: spins `kept` (ascending) of U (on all n spins) against
/// target (on the kept spins alone), with the other spins starting maximally mixed and traced
/// out: sqrt(F_pro) of the reduced channel, F_pro = sum_{a,b} |Tr(target^dag U_ab)|^2 /
/// (d_k^2 d_e), U_ab = <a|U|b> on the other spins (Kraus operators of the channel). Equals
/// the project's |Tr(target^dag V)|/d when U = V (x) W.
double subsystem_gate_fidelity(const Mat& u, int n, const std::vector<int>& kept,
                               const Mat& target);

}  // namespace nmrc::spectrometer
