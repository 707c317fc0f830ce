// Tomography readout settings: each setting is a pi/2 rotation (about x or y) or nothing on each
// spin, followed by acquisition of every line of every spin. Line (k, b) of a setting measures
// <sigma_x^k P_b> and <sigma_y^k P_b> of the rotated state, P_b the z-basis projector of the
// other spins in configuration b (docs/tomography.md). This header also answers whether a set
// of settings is informationally complete for the 4^n - 1 parameters of an n-spin state.
#pragma once

#include <string>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/types.hpp"

namespace nmrc::spectrometer {

/// One readout setting: axes[k] in {'I', 'X', 'Y'} for spin k (pi/2 about +x, +y, or none).
struct ReadoutSetting {
  std::string name;        ///< e.g. "XXXX" or "IIYY"
  std::vector<char> axes;  ///< one per spin of the molecule, in molecule order
};

struct ReadoutSet {
  std::string name;
  std::string description;
  std::vector<ReadoutSetting> settings;
};

/// Loads a readout file (docs/tomography.md, sequences/readout/*.yaml). Every setting must
/// name one axis per spin listed under `spins:` (all spins of the molecule, any order).
/// Throws InputError "file:line:col: field = value: rule" for unknown spins or axes, a wrong
/// number of letters, or an empty list.
ReadoutSet load_readout(const std::string& path, const Molecule& m);
ReadoutSet parse_readout(const std::string& yaml_text, const std::string& name, const Molecule& m);

/// Setting from letters like "XIYI" (one per spin); throws std::invalid_argument otherwise.
ReadoutSetting setting_from_letters(const std::string& letters);

/// prod_k exp(-i (pi/2) I_axis^k) on n spins.
Mat readout_unitary(const ReadoutSetting& s, int n);

/// The observables of one acquisition: for each spin k and each configuration b of the other
/// spins (2^(n-1), bit order as Molecule::lines' other_bits), O_x = sigma_x^k P_b and
/// O_y = sigma_y^k P_b. Ordered by spin, then configuration index, matching `line_configs`.
struct LineObservable {
  int spin = 0;
  std::vector<int> other_bits;  ///< 0/1 per spin, -1 for `spin`
  Mat ox, oy;
};
std::vector<LineObservable> line_observables(int n);

/// Ideal measurement of one setting: for each line observable, Re then Im of
/// Tr(R rho R^dag (O_x + i O_y)), i.e. <O_x> then <O_y>: 2 n 2^(n-1) numbers.
RVec ideal_line_values(const Mat& rho, const ReadoutSetting& s, int n);

/// Linear map from the Pauli coefficients r_p = Tr(rho P_p) (p = 1..4^n-1) to the measured
/// line values of every setting (rows: setting-major, then ideal_line_values order):
/// values = A r / 2^n (the identity part contributes nothing: every O is traceless).
RMat measurement_matrix(const std::vector<ReadoutSetting>& settings, int n);

/// What a readout set can see.
struct CompletenessReport {
  int parameters = 0;  ///< 4^n - 1
  int rank = 0;
  double condition_number = 0.0;   ///< sigma_max / sigma_min over all parameters (inf if
                                   ///< incomplete)
  double condition_visible = 0.0;  ///< sigma_max / smallest nonzero sigma
  bool complete = false;
  std::vector<std::string> invisible;    ///< Pauli strings no setting sees
  std::vector<std::string> duplicates;   ///< settings listed more than once
  std::vector<ReadoutSetting> proposed;  ///< fewest extra settings that complete the set
  std::string summary() const;           ///< one paragraph a person can read
};

/// Rank and condition number of measurement_matrix, the Pauli strings it cannot see, and the
/// fewest additional settings (searched over all 3^n settings: exhaustive up to 3 additions,
/// greedy beyond) that make it complete.
CompletenessReport analyze_completeness(const std::vector<ReadoutSetting>& settings, int n);

}  // namespace nmrc::spectrometer
