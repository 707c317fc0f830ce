// Line analysis: every line of a channel assigned from the molecule's (weak-coupling)
// Hamiltonian, and its complex amplitude measured. Line l of spin k with the other spins in
// the z-basis state b has amplitude a_l = 2 rho_{1_k b, 0_k b} = <sigma_x^k P_b> + i
// <sigma_y^k P_b> (P_b the projector of the other spins onto b), the quantities tomography
// (issue 5) inverts. Measured by a linear least-squares fit of known-frequency damped complex
// exponentials to the FID in the time domain: lines closer than their width (C2 of crotonic
// acid has two 0.5 Hz apart at 1.5 Hz width) are separated without peak picking.
#pragma once

#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/types.hpp"
#include "nmrc/spectrometer/acquisition.hpp"

namespace nmrc::spectrometer {

struct LineValue {
  int spin = 0;
  int index = 0;                ///< 1-based within the spin, ascending frequency (Molecule::lines)
  std::vector<int> other_bits;  ///< 0/1 per spin, -1 for the observed spin
  double frequency_hz = 0.0;    ///< rotating frame of the channel
  cplx amplitude;               ///< <sigma_x^k P_b> + i <sigma_y^k P_b>
  double sx() const { return amplitude.real(); }
  double sy() const { return amplitude.imag(); }
  double std_error = 0.0;  ///< one-sigma error of each of sx, sy from the fit (0 without noise)
};

struct LineReadout {
  int channel = 0;
  std::vector<LineValue> lines;  ///< 2^(n-1) per spin of the channel, in Molecule::lines order
  double residual_rms = 0.0;     ///< rms of FID minus fitted model, per point (fit only)
  /// The line of spin k whose other spins are in `other_bits`; nullptr when absent.
  const LineValue* find(int spin, const std::vector<int>& other_bits) const;
};

/// Exact readout of a density matrix: a_l = 2 rho_{1_k b, 0_k b} for every line of `channel`.
LineReadout measure_lines(const Molecule& m, const Mat& rho, int channel);

/// The observables behind each line of `channel`, in measure_lines order: for line l of spin k
/// with the others in b, {sigma_x^k P_b, sigma_y^k P_b} (so sx = Tr(rho first), sy = Tr(rho
/// second)). The rows of tomography's linear map from rho to the readout.
std::vector<std::pair<Mat, Mat>> line_operators(const Molecule& m, int channel);

struct LineFitOptions {
  std::vector<double> offset_error_hz;  ///< known static offsets to add to the line list
  int skip_points = 0;                  ///< leading FID points left out of the fit
  /// Time of FID point 0 after the end of the readout (Fid::start_s), in [0, 1] s: the model's
  /// lines are a_l exp(2 pi i f_l start_s) exp((2 pi i f_l - 1/T2*_k) t_j), so a_l is the
  /// amplitude at the end of the readout: the phase each line gains over the pre-acquisition
  /// delay (a console's first-order phase, here exact for every line: offsets and couplings
  /// alike) is undone. The T2* decay over it is not (the virtual spectrometer starts T2* at the
  /// first point, fid_signal): on a console it leaves every line of spin k smaller by
  /// exp(-start_s / T2*_k), 1 - 5.7e-5 for 12 us at crotonic acid's 0.21 s, a common factor the
  /// PPS reference, read through the same readout, divides out.
  double start_s = 0.0;
};

/// Fits sum_l a_l exp(2 pi i f_l fid.start_s) exp((2 pi i f_l - 1/T2*_k) t) to the FID (divided by
/// its number of scans, receiver phase removed) by linear least squares (column-pivoting
/// Householder QR), with f_l from Molecule::lines (options.start_s is replaced by fid.start_s).
/// Lines are the weak-coupling ones: with strong_coupling samples the second-order shifts (~J^2/(2
/// dnu)) are not modelled. Errors from the FID's noise_sigma.
LineReadout measure_lines(const Molecule& m, const Fid& fid, const LineFitOptions& options = {});

/// measure_lines for many FIDs of one channel, spectral width and TD: the design matrix of
/// the fit and its QR factorisation are built once (they cost more than the fit itself), so
/// a tomography run or an experiment fits each FID with one matrix-vector product (the QR
/// solution applied to the identity, once). fit() throws InputError for a FID of another shape.
class LineFitter {
 public:
  LineFitter(const Molecule& m, int channel, double sw_hz, int td,
             const LineFitOptions& options = {});
  /// Throws InputError for a FID of another shape or another start_s than the options'.
  LineReadout fit(const Fid& fid) const;
  /// The fitted amplitudes alone (lines() order) of FID points already divided by the scans
  /// and with the receiver phase removed: one product with the precomputed solution operator.
  Vec amplitudes(const Vec& y) const;
  const std::vector<LineValue>& lines() const { return lines_; }
  int td() const { return td_; }
  double sw_hz() const { return sw_hz_; }

 private:
  int channel_ = 0, td_ = 0, skip_ = 0;
  double sw_hz_ = 0.0, start_s_ = 0.0;
  std::vector<LineValue> lines_;
  Mat a_;
  Mat solve_;      ///< lines x rows: least-squares solution operator, from the QR of a_
  RVec inv_diag_;  ///< diagonal of (A^H A)^-1, for the amplitude errors
};

}  // namespace nmrc::spectrometer
