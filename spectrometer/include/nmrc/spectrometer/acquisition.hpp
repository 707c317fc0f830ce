// What the console records and how it is processed: the FID of Eq. (S16) in nmrc's convention
// (docs/conventions.md: s(t) = sum_k Tr(rho(t) (sigma_x^k + i sigma_y^k)) over a channel's
// spins, free evolution under the internal Hamiltonian, T2* decay per spin), receiver phase,
// scans with phase cycling and seeded white noise; FFTW processing (zero filling,
// apodisation, zero- and first-order phase, Hz and ppm axes); and the aliasing check.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/options.hpp"
#include "nmrc/core/sequence.hpp"
#include "nmrc/core/types.hpp"
#include "nmrc/spectrometer/sample.hpp"

namespace nmrc::spectrometer {

/// A recorded FID: the sum over scans of the complex signal at t_j = j / sw_hz.
struct Fid {
  int channel = 0;
  double sw_hz = 0.0;
  double receiver_phase_rad = 0.0;
  int scans = 1;
  double noise_sigma = 0.0;  ///< per real/imaginary part of one point of one scan
  std::vector<cplx> points;
  /// Time of the first point after the end of the sequence's last pulse: a pre-acquisition
  /// delay of free evolution the console plays before go=2 (nmrc's Bruker export: the 12 us
  /// switch of the 1H decoupler back to its CPD program after a readout under CW; read from a
  /// dataset's pulseprogram, BrukerDataset::preacquisition_s). The line fit evolves its lines
  /// back by it, so that the line amplitudes are those at the end of the readout.
  double start_s = 0.0;
  double dwell_s() const { return 1.0 / sw_hz; }
};

/// Noise-free signal of state rho on `channel` (Eq. (S16), nmrc convention), TD points at
/// dwell 1/sw_hz, multiplied by exp(-i receiver_phase): free evolution under the internal
/// Hamiltonian H0 (exact, by its eigendecomposition) and exp(-t/T2*_k) per observed spin k.
std::vector<cplx> fid_signal(const Molecule& m, const Mat& h0, const Mat& rho, int channel,
                             double sw_hz, int td, double receiver_phase_rad = 0.0);

enum class PhaseCycle {
  kNone,
  /// CYCLOPS: scan j shifts every RF phase of the acquired channel and the receiver by j*90 deg.
  kCyclops,
};

struct AcquisitionOptions {
  int scans = 1;
  PhaseCycle phase_cycle = PhaseCycle::kNone;
  /// Signal-to-noise ratio: the first point of the one-scan thermal-equilibrium FID after an
  /// ideal 90-degree pulse (sum over the channel's spins of P0 - P1) divided by the noise
  /// standard deviation of each real/imaginary part of one point. 0 = no noise.
  double snr = 0.0;
  std::uint64_t seed = 1;
  /// scans 1 to 10^6 (a multiple of 4 with CYCLOPS); snr finite and >= 0. validate() throws
  /// InputError "acquisition: field = value: rule"; check() returns the first violation.
  std::optional<OptionProblem> check() const;
  void validate() const;
};

struct ExperimentResult {
  Mat rho_acquired;  ///< ensemble state at the start of acquisition (scan 0 of the cycle)
  Fid fid;
};

/// Runs `seq` (its first AcquireElement says what is recorded) from rho0 for every scan:
/// distinct phase-cycle steps are simulated once each, noise is drawn per scan from a
/// std::mt19937_64 seeded with `seed`. Throws InputError when seq has no AcquireElement.
ExperimentResult run_experiment(const Sample& sample, const Sequence& seq, const Mat& rho0,
                                const AcquisitionOptions& acq = {}, const RunOptions& run = {});

/// Noise standard deviation for a given SNR (AcquisitionOptions::snr) on `channel`.
double noise_sigma_for_snr(const Molecule& m, int channel, double snr);

struct ProcessingOptions {
  int zero_fill = 0;   ///< total points after zero filling (>= td); 0 = none
  double lb_hz = 0.0;  ///< exponential line broadening exp(-pi lb t)
  double gb_hz = 0.0;  ///< Gaussian broadening of FWHM gb: exp(-(pi gb t)^2 / (4 ln 2))
  double phase0_rad = 0.0;
  /// First-order phase across the spectral width, pivot at the carrier (0 Hz):
  /// phase(f) = phase0 + phase1 * f / sw.
  double phase1_rad = 0.0;
  bool halve_first_point = true;  ///< the usual first-point correction of a DFT
  /// For a FID of td points: zero_fill 0 (then td must be a power of two) or a power of two
  /// from td to 2^24; lb_hz, gb_hz finite and >= 0; phases finite. validate() throws InputError
  /// "processing: field = value: rule"; check() returns the first violation.
  std::optional<OptionProblem> check(int td) const;
  void validate(int td) const;
};

struct Spectrum {
  std::vector<double> hz;   ///< offset from the channel's carrier (rotating frame), ascending
  std::vector<double> ppm;  ///< chemical shift of each point
  std::vector<cplx> values;
};

/// FFTW forward transform S(f) = sum_j w_j s_j exp(-2 pi i f t_j), reordered to ascending
/// frequency from -sw/2 to sw/2 - sw/N; a line exp(+2 pi i f t) appears at +f.
/// Throws InputError when zero_fill < td or not a power of two.
Spectrum process(const Molecule& m, const Fid& fid, const ProcessingOptions& options = {});

/// Lines of `channel` outside [-sw/2, sw/2) in the rotating frame, each as
/// "C1 #3 at 5820.1 Hz folds to -2179.9 Hz"; empty when nothing aliases.
std::vector<std::string> folded_lines(const Molecule& m, int channel, double sw_hz);

}  // namespace nmrc::spectrometer
