// Sample dynamics of the virtual spectrometer: the rotating-frame Hamiltonian of a molecule with
// RF on its channels (docs/conventions.md, the paper's Eqs. (S11)-(S12)), Lindblad relaxation
// (T1 towards thermal populations, T2 dephasing, per spin), and the high-temperature thermal
// equilibrium state (Eq. (S14)). docs/spectrometer.md states the model and its limits.
#pragma once

#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/types.hpp"

namespace nmrc::spectrometer {

/// Thermal equilibrium in the high-temperature form (Eq. (S14) with the normalisation made
/// explicit and one polarisation per spin): rho = I/2^n + sum_k (p_k / 2^n) sigma_z^k with
/// p_k = polarization[k] = h nu_k / (2 k_B T), spin k's own P0 - P1 (first order in
/// h nu / k_B T), nu_k its Larmor frequency including its chemical shift. epsilon = p_0 / 2^n
/// (spin 0's) is the unit nmrc prints; the other spins' coefficients differ from it.
struct ThermalState {
  double epsilon = 0.0;
  std::vector<double> polarization;  ///< per spin, P0 - P1 = 2^n epsilon gamma_k/gamma_ref
  Mat rho;
};

/// Thermal equilibrium of `m` at m.temperature_k, Larmor frequencies from the channels'
/// larmor_mhz times (1 + shift_ppm 1e-6). Constants: CODATA 2018 h and k_B.
ThermalState thermal_equilibrium(const Molecule& m);

/// Traceless part rho - Tr(rho)/d I (the deviation matrix).
Mat deviation(const Mat& rho);

/// Lindblad relaxation per spin k (rates in 1/s): amplitude damping |1> -> |0> at w_down and
/// |0> -> |1> at w_up with w_down + w_up = 1/T1 and w_up / w_down = P1/P0 (thermal populations
/// of the spin, so its steady state is thermal), and pure dephasing sigma_z^k at
/// dephasing = 1/T2 - 1/(2 T1) >= 0, so that single-spin coherences decay at exactly 1/T2.
struct RelaxationRates {
  std::vector<double> w_down, w_up, dephasing;
  bool empty() const { return w_down.empty(); }
  /// Sum of all rates (a bound on the dissipator's norm up to a factor 2).
  double total() const;
};

RelaxationRates relaxation_rates(const Molecule& m, const ThermalState& thermal);

/// out += D(rho) for the Lindblad dissipator of `rates` on n spins, element by element:
/// D = sum_k W_down (s- rho s+ - {|1><1|_k, rho}/2) + W_up (s+ rho s- - {|0><0|_k, rho}/2)
///     + (dephasing/2) (sigma_z^k rho sigma_z^k - rho),  s- = |0><1|_k (paper's sigma_-).
void add_dissipator(const RelaxationRates& rates, int n, const Mat& rho, Mat& out);

/// Everything a propagation engine needs for one member of a sample ensemble.
struct DynamicsOptions {
  bool strong_coupling = false;         ///< full J I_p.I_q for homonuclear pairs
  double b1_scale = 1.0;                ///< RF amplitude factor of this ensemble member
  std::vector<double> offset_error_hz;  ///< static offset error per spin (empty = none)
  bool relaxation = false;              ///< Lindblad relaxation on/off
};

/// Internal Hamiltonian, control operators and dissipator of one ensemble member.
class Dynamics {
 public:
  /// Throws InputError when offset_error_hz has the wrong size or b1_scale <= 0.
  Dynamics(const Molecule& m, const DynamicsOptions& options = {});

  int spins() const { return n_; }
  int dim() const { return 1 << n_; }
  int channels() const { return static_cast<int>(cx_.size()); }
  /// Internal Hamiltonian in rad/s (with offset errors).
  const Mat& h0() const { return h0_; }
  /// 2 pi b1_scale sum_{k on channel} I_axis^k (rad/s per Hz of nominal amplitude).
  const Mat& control_x(int channel) const { return cx_[channel]; }
  const Mat& control_y(int channel) const { return cy_[channel]; }
  /// H = H0 + sum_c ux[c] Cx_c + uy[c] Cy_c; ux, uy hold one amplitude (Hz) per channel.
  Mat hamiltonian(const double* ux_hz, const double* uy_hz) const;
  bool relaxing() const { return !rates_.empty(); }
  const RelaxationRates& rates() const { return rates_; }
  /// out = -i [H, rho] + D(rho) (Lindblad equation; D = 0 without relaxation). The same D as
  /// add_dissipator, with its element-wise decay coefficients precomputed.
  void lindblad_rhs(const Mat& h, const Mat& rho, Mat& out) const;
  /// Liouvillian superoperator on column-major vec(rho): -i (I (x) H - H^T (x) I) + D.
  Mat liouvillian(const Mat& h) const;
  const DynamicsOptions& options() const { return options_; }

 private:
  int n_ = 0;
  Mat h0_;
  std::vector<Mat> cx_, cy_;
  RelaxationRates rates_;
  Mat decay_;  ///< diagonal part of the dissipator, element-wise coefficients
  DynamicsOptions options_;
};

}  // namespace nmrc::spectrometer
