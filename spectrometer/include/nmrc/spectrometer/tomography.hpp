// State tomography from line amplitudes: linear inversion (least squares over the Pauli
// coefficients), then the nearest physical state (positive, unit trace) by the eigenvalue
// projection of Smolin, Gambetta & Smith, PRL 108, 070502 (2012). Also the direct energy
// readout of Eqs. (S17)-(S18) (R_y(pi/2) on each spin, then the summed lines of that spin).
#pragma once

#include <vector>

#include "nmrc/core/types.hpp"
#include "nmrc/spectrometer/readout.hpp"

namespace nmrc::spectrometer {

struct Reconstruction {
  Mat linear;             ///< least-squares estimate, Hermitian, unit trace (may be non-positive)
  Mat physical;           ///< nearest density matrix (Frobenius norm) to `linear`
  double residual = 0.0;  ///< RMS of measured minus predicted line values
  double min_eigenvalue_linear = 0.0;
};

/// Reconstructs an n-spin density matrix from the measured line values of each setting
/// (values[s] laid out as ideal_line_values). Precondition: the set is complete (rank 4^n-1);
/// throws InputError otherwise, naming what it cannot see.
class Tomographer {
 public:
  Tomographer(std::vector<ReadoutSetting> settings, int n);
  Reconstruction reconstruct(const std::vector<RVec>& values) const;
  const CompletenessReport& completeness() const { return report_; }
  int spins() const { return n_; }
  const std::vector<ReadoutSetting>& settings() const { return settings_; }

 private:
  std::vector<ReadoutSetting> settings_;
  int n_ = 0;
  CompletenessReport report_;
  RMat a_;     ///< measurement_matrix / 2^n (built once: it is most of a reconstruction's cost)
  RMat pinv_;  ///< (4^n - 1) x rows pseudo-inverse of a_
  std::vector<Mat> paulis_;
};

/// Nearest density matrix in Frobenius norm to a Hermitian matrix of unit trace: keep the
/// eigenvectors, project the eigenvalues onto the probability simplex (Smolin et al. 2012).
Mat project_to_density_matrix(const Mat& h);

/// <sigma_z^k> for every spin from one acquisition after R_y(pi/2) on every spin (Eq. S18):
/// R_y(pi/2) maps sigma_z to sigma_x, so the sum over spin k's lines of <sigma_x^k P_b>
/// is <sigma_z^k> of the state before the readout. `values` laid out as ideal_line_values.
std::vector<double> z_expectations_from_y_readout(const RVec& values, int n);

}  // namespace nmrc::spectrometer
