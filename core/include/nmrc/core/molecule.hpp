// The spin-system model: nuclei with offsets, relaxation times and channels, signed J
// couplings, RF limits, and the paper's roles. Loaded from YAML (docs/molecule-format.md),
// validated once at load. Provides the rotating-frame Hamiltonian of docs/conventions.md and
// the predicted line list.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "nmrc/core/types.hpp"

namespace nmrc {

/// Larmor frequency ratio to 1H (IUPAC 2001 Xi values, Harris et al., Pure Appl. Chem. 73,
/// 1795 (2001)) for a known isotope label ("1H", "13C", "15N", "19F", "31P", "2H");
/// returns 0 for an unknown one.
double isotope_xi(const std::string& isotope);

struct Nucleus {
  std::string label;       ///< e.g. "C1"
  std::string isotope;     ///< e.g. "13C"
  std::string channel;     ///< name of the channel that drives and observes it
  double offset_hz = 0.0;  ///< resonance offset in the molecule's frame (Hz)
  double shift_ppm = 0.0;  ///< chemical shift (ppm), for axes and display
  double t1_s = 0.0;
  double t2_s = 0.0;
  double t2star_s = 0.0;  ///< effective transverse decay for line widths (<= t2_s)
};

struct Coupling {
  int a = 0, b = 0;   ///< spin indices, a < b
  double j_hz = 0.0;  ///< signed scalar coupling
};

struct Channel {
  std::string name;  ///< e.g. "13C"
  std::string isotope;
  double larmor_mhz = 0.0;  ///< spectrometer frequency of this isotope
  double frame_ppm = 0.0;   ///< chemical shift at offset 0 of the molecule's frame
  double carrier_hz = 0.0;  ///< carrier as an offset in the molecule's frame
  double max_rf_hz = 0.0;   ///< hardware RF amplitude limit (nutation frequency)

  /// Chemical shift (ppm) of a frequency given as an offset in the molecule's frame (Hz):
  /// delta = frame_ppm + offset_hz / larmor_mhz: the IUPAC delta scale, delta = (nu - nu_ref) /
  /// nu_ref in ppm (Harris et al., Pure Appl. Chem. 73, 1795 (2001)), so Hz per MHz is ppm. A
  /// frequency f in the channel's rotating frame (offset - carrier) is at offset f + carrier_hz.
  double ppm_of_offset(double offset_hz) const { return frame_ppm + offset_hz / larmor_mhz; }
  /// The inverse: offset (Hz, molecule's frame) of chemical shift `shift_ppm`.
  double offset_of_ppm(double shift_ppm) const { return (shift_ppm - frame_ppm) * larmor_mhz; }
};

/// One line of the weak-coupling spectrum: spin `spin` flips while the others stay in
/// `other_bits` (bit of spin j at position j; entry for `spin` is -1).
struct SpectralLine {
  int spin = 0;
  int index = 0;                ///< 1-based within the spin, by ascending frequency
  double frequency_hz = 0.0;    ///< in the channel's rotating frame (offset - carrier)
  std::vector<int> other_bits;  ///< 0/1 per spin, -1 for the observed spin
};

struct Molecule {
  std::string name;
  std::string description;
  double proton_mhz = 0.0;  ///< 1H Larmor frequency of the spectrometer
  double temperature_k = 298.0;
  std::vector<Nucleus> nuclei;
  std::vector<Coupling> couplings;
  std::vector<Channel> channels;
  std::map<std::string, std::string> roles;  ///< e.g. S1 -> C1, R -> C4
  std::vector<std::string> sources;
  std::vector<std::string> assumptions;

  int size() const { return static_cast<int>(nuclei.size()); }
  /// Index of a spin by label or role (e.g. "C4" or "R"); -1 when unknown.
  int index_of(const std::string& label_or_role) const;
  /// Signed J between spins a and b (0 when not listed).
  double j_hz(int a, int b) const;
  const Channel& channel_of(int spin) const;
  int channel_index(const std::string& name) const;
  /// Indices of the spins driven and observed by channel `channel`.
  std::vector<int> spins_on(int channel) const;
  /// Control Hamiltonians of a channel in rad/s per Hz of amplitude:
  /// 2 pi sum_{k on channel} I_x^k (axis 'x') or I_y^k (axis 'y').
  Mat control(int channel, char axis) const;
  /// Gyromagnetic ratio of spin k in Hz/G (for gradients), from the isotope.
  double gamma_hz_per_gauss(int spin) const;
  /// "C1..C4" style list of labels for error messages.
  std::string labels_text() const;
  /// "1H, 13C" style list of channel names for error messages.
  std::string channels_text() const;

  /// Rotating-frame internal Hamiltonian in rad/s (docs/conventions.md):
  /// H = 2pi sum_k (nu_k - carrier_k) I_z^k + 2pi sum_{p<q} J_pq I_z^p I_z^q (weak coupling),
  /// or 2pi J_pq I_p.I_q for homonuclear pairs when strong_coupling is set.
  Mat hamiltonian(bool strong_coupling = false) const;
  /// Weak-coupling line list: spin k at (nu_k - carrier) + sum_j J_kj m_j with m_j = +1/2
  /// for |0> and -1/2 for |1>; 2^(n-1) lines per spin, ordered by spin then frequency.
  std::vector<SpectralLine> lines() const;
};

/// Loads and validates a molecule file; every violation throws InputError with file:line:col.
Molecule load_molecule(const std::string& path);
/// Same, from text; `name` stands for the file name in messages.
Molecule parse_molecule(const std::string& yaml_text, const std::string& name);

}  // namespace nmrc
