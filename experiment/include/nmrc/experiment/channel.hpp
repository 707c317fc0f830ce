// Linear (affine, with T1 towards thermal equilibrium) channels of pulses on the deviation
// rho - (tr/d) I, computed once and reused: everything in a run of the experiment is linear in
// the deviation, so a run is a few matrix-vector products once each pulse's channel is known.
//
// Stepping method (measured against the spectrometer's exact engine in
// tests/experiment/channel_test.cpp): per piecewise-constant step of length dt the propagator
// U = exp(-i H dt) from the Hermitian eigendecomposition (the whole 2^n Hamiltonian, J
// included), and the Lindblad dissipator D (independent spins, spectrometer/dynamics.hpp) to
// first order in D dt in the interaction picture of each spin's own Hamiltonian h_k (offset and
// RF; the J terms are left out of this frame only):
//     rho(dt) = U [ (x)_k exp(M_k) ] rho U^dag,  M_k = int_0^dt u_k(s)^-1 D_k u_k(s) ds,
// with u_k(s) = exp(-i h_k s) as a superoperator; M_k is exact in the eigenbasis of h_k (a 4x4
// matrix per spin and step). Errors: second order in D dt (~1e-9 per step) and the J frame
// (D dt J dt ~ 1e-6 of the relaxation effect per step). A symmetric splitting
// exp(D dt/2) U exp(D dt/2) is not used: with RF rotations of ~1 rad per step its trapezoidal
// error is tens of per cent of the relaxation effect.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "nmrc/core/types.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "nmrc/spectrometer/propagation.hpp"

namespace nmrc::experiment {

/// Affine map of deviations Delta (traceless, d x d): Delta -> unvec(S vec(Delta)) + unvec(drift)
/// (column-major vec). The drift is the response to the identity part (T1 recovery towards the
/// thermal populations); it is zero for unitary channels.
struct AffineMap {
  Mat s;      ///< d^2 x d^2
  Vec drift;  ///< d^2
  int dim() const;
  Mat apply(const Mat& delta) const;
  /// The identity channel on d x d matrices.
  static AffineMap identity(int d);
  /// rho -> U rho U^dag (no drift).
  static AffineMap unitary(const Mat& u);
  /// `second` after `first`.
  static AffineMap then(const AffineMap& first, const AffineMap& second);
  /// Weighted average of channels (weights normalised).
  static AffineMap average(const std::vector<AffineMap>& c, const std::vector<double>& w);
};

/// Per-step data of the stepping method for one ensemble member.
class Stepper {
 public:
  /// Precomputes U and the dissipator map of every segment. Without relaxation only U.
  Stepper(const spectrometer::Dynamics& d, const std::vector<spectrometer::Segment>& segments);
  /// Deviation after the segments from `delta` (with the drift when `with_drift`).
  Mat propagate(const Mat& delta, bool with_drift = true) const;
  /// The whole map as a AffineMap (the stepper applied to the d^2 matrix units; costs d^2
  /// propagations, done in one pass over the steps).
  AffineMap channel(int threads = 2) const;
  size_t steps() const { return u_.size(); }

 private:
  int n_ = 0, dim_ = 0;
  bool relaxing_ = false;
  std::vector<Mat> u_;
  std::vector<std::vector<Eigen::Matrix<cplx, 4, 4>>> e_;  ///< per step, per spin exp(M_k)
  std::vector<Mat> drift_;                                 ///< per step: E(I/d) - I/d
};

/// A phase cycle of a pulse block (issue 23's contact phase cycle): the average over
/// phi = 2 pi j / N (j = 0..N-1) of `channel` played with every RF phase on the listed spins'
/// channel shifted by phi, which is Rz(phi) C(Rz(phi)^dag x Rz(phi)) Rz(phi)^dag with
/// Rz(phi) = exp(-i phi sum_k Iz_k) over `spins` (of n): the shifted RF Hamiltonian is
/// Rz H_rf Rz^dag, and the offsets, weak couplings and the T1/T2 dissipators commute with Rz.
/// A console sums the N acquisitions with one receiver phase; everything after is linear, so
/// the sum is this average of the states. N = 1 is the channel itself.
Mat phase_cycled(const std::function<Mat(const Mat&)>& channel, const Mat& x,
                 const std::vector<int>& spins, int n, int cycle);

/// The diagonal of Rz(phi) = exp(-i phi sum_k Iz_k) over `spins` (of n; spin 0 the most
/// significant bit, bit 0 = up, Iz = +1/2): the collective z rotation of phase_cycled and of the
/// bath's phase cycle (run.cpp).
Vec collective_z_phases(const std::vector<int>& spins, int n, double phi);

/// The average over phi = 2 pi j / N (j = 0..N-1) of Rz(phi) x Rz(phi)^dag over `spins`
/// (collective_z_phases): what N acquisitions with the listed spins' RF phase stepped by 2 pi / N
/// before an excitation-conserving block sum to (the bath's phase cycle). N = 1 is x itself.
Mat z_phase_averaged(const Mat& x, const std::vector<int>& spins, int n, int cycle);

/// On-disk cache of channels: one binary file per key (magic, key, dimensions, data, content_hash64
/// (core/hash.hpp) of everything before it). Written atomically; a file whose checksum or key does
/// not match, or whose content is not a trace-preserving channel of finite numbers on 2^n
/// levels, is ignored (and rebuilt). Only a folder of this user that nobody else can write is
/// used (core/io.hpp's cache rules); a cache that cannot be used or written is warned about
/// once and the run goes on without it.
class ChannelCache {
 public:
  explicit ChannelCache(std::string dir) : dir_(std::move(dir)) {}
  /// Returns the cached channel or builds it with `build` and stores it (dir empty: no cache).
  AffineMap get(const std::string& key, const std::function<AffineMap()>& build,
                bool* hit = nullptr) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace nmrc::experiment
