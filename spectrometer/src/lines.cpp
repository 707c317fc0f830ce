#include "nmrc/spectrometer/lines.hpp"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>

#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/spectrometer/readout.hpp"

namespace nmrc::spectrometer {

const LineValue* LineReadout::find(int spin, const std::vector<int>& other_bits) const {
  for (const auto& l : lines)
    if (l.spin == spin && l.other_bits == other_bits) return &l;
  return nullptr;
}

namespace {

// The channel's lines in Molecule::lines order, with their 1-based indices per spin.
std::vector<LineValue> assigned_lines(const Molecule& m, int channel) {
  const auto spins = m.spins_on(channel);
  std::vector<LineValue> out;
  for (const auto& l : m.lines()) {
    if (std::find(spins.begin(), spins.end(), l.spin) == spins.end()) continue;
    LineValue v;
    v.spin = l.spin;
    v.index = l.index;
    v.other_bits = l.other_bits;
    v.frequency_hz = l.frequency_hz;
    out.push_back(v);
  }
  return out;
}

// Basis index with spin k set to bit and the others to other_bits.
int index_with(const std::vector<int>& other_bits, int k, int bit) {
  std::vector<int> bits = other_bits;
  bits[k] = bit;
  return basis_index(bits);
}

}  // namespace

LineReadout measure_lines(const Molecule& m, const Mat& rho, int channel) {
  LineReadout r;
  r.channel = channel;
  r.lines = assigned_lines(m, channel);
  for (auto& l : r.lines)
    l.amplitude =
        2.0 * rho(index_with(l.other_bits, l.spin, 1), index_with(l.other_bits, l.spin, 0));
  return r;
}

std::vector<std::pair<Mat, Mat>> line_operators(const Molecule& m, int channel) {
  // The operators are tomography's (readout.hpp), reordered to this channel's line order.
  const auto obs = line_observables(m.size());
  std::vector<std::pair<Mat, Mat>> out;
  for (const auto& l : assigned_lines(m, channel))
    for (const auto& o : obs)
      if (o.spin == l.spin && o.other_bits == l.other_bits) out.emplace_back(o.ox, o.oy);
  return out;
}

LineReadout measure_lines(const Molecule& m, const Fid& fid, const LineFitOptions& o) {
  LineFitOptions at_start = o;
  at_start.start_s = fid.start_s;
  return LineFitter(m, fid.channel, fid.sw_hz, static_cast<int>(fid.points.size()), at_start)
      .fit(fid);
}

LineFitter::LineFitter(const Molecule& m, int channel, double sw_hz, int td,
                       const LineFitOptions& o)
    : channel_(channel), td_(td), skip_(o.skip_points), sw_hz_(sw_hz), start_s_(o.start_s) {
  lines_ = assigned_lines(m, channel);
  const int rows = td - o.skip_points;
  const int cols = static_cast<int>(lines_.size());
  if (rows < cols)
    throw InputError("line fit: " + std::to_string(rows) + " FID points cannot determine " +
                     std::to_string(cols) + " line amplitudes");
  if (!o.offset_error_hz.empty() && static_cast<int>(o.offset_error_hz.size()) != m.size())
    throw InputError("line fit: offset_error_hz must give one value per spin");
  if (!(sw_hz > 0.0) || !std::isfinite(sw_hz))
    throw InputError("line fit: spectral width " + std::to_string(sw_hz) + " Hz must be > 0");
  if (!(o.start_s >= 0.0 && o.start_s <= 1.0))
    throw InputError("line fit: pre-acquisition delay " + std::to_string(o.start_s) +
                     " s: must be in [0, 1] s");
  a_.resize(rows, cols);
  const double dt = 1.0 / sw_hz;
  for (int c = 0; c < cols; ++c) {
    const auto& l = lines_[c];
    const double f = l.frequency_hz + (o.offset_error_hz.empty() ? 0.0 : o.offset_error_hz[l.spin]);
    const cplx rate(-1.0 / m.nuclei[l.spin].t2star_s, kTwoPi * f);
    // the line's own phase over the pre-acquisition delay (no T2* decay there: see lines.hpp)
    const cplx back = std::polar(1.0, kTwoPi * f * o.start_s);
    for (int j = 0; j < rows; ++j) a_(j, c) = back * std::exp(rate * ((j + o.skip_points) * dt));
  }
  // Column-pivoting Householder QR (rank-revealing: C2's lines 0.5 Hz apart at 1.5 Hz width
  // are nearly parallel columns), applied once to the identity.
  // The solution operator P R^-1 Q^H of A P = Q R restricted to the numerical rank, as
  // ColPivHouseholderQR::solve computes it (components beyond the rank are zero).
  const Eigen::ColPivHouseholderQR<Mat> qr(a_);
  const Eigen::Index rank = qr.rank();
  const Mat q = qr.householderQ() * Mat::Identity(rows, rank);
  Mat z = Mat::Zero(cols, rows);
  z.topRows(rank) =
      qr.matrixR().topLeftCorner(rank, rank).triangularView<Eigen::Upper>().solve(Mat(q.adjoint()));
  solve_ = qr.colsPermutation() * z;
  const Mat inv = (a_.adjoint() * a_).inverse();
  inv_diag_ = inv.diagonal().real();
}

Vec LineFitter::amplitudes(const Vec& y) const {
  NMRC_CHECK(y.size() == solve_.cols(), "FID points of the fit's length");
  return solve_ * y;
}

LineReadout LineFitter::fit(const Fid& fid) const {
  if (static_cast<int>(fid.points.size()) != td_ || fid.channel != channel_ || fid.sw_hz != sw_hz_)
    throw InputError("line fit: a FID of " + std::to_string(fid.points.size()) +
                     " points on channel " + std::to_string(fid.channel) + " at SW " +
                     std::to_string(fid.sw_hz) + " Hz given to a fit for " + std::to_string(td_) +
                     " points on channel " + std::to_string(channel_) + " at " +
                     std::to_string(sw_hz_) + " Hz");
  if (fid.start_s != start_s_)
    throw InputError("line fit: a FID starting " + std::to_string(fid.start_s * 1e6) +
                     " us after the readout given to a fit for " + std::to_string(start_s_ * 1e6) +
                     " us");
  LineReadout r;
  r.channel = channel_;
  r.lines = lines_;
  const int rows = td_ - skip_;
  const int cols = static_cast<int>(lines_.size());
  Vec y(rows);
  const cplx undo = std::polar(1.0, fid.receiver_phase_rad) / static_cast<double>(fid.scans);
  for (int j = 0; j < rows; ++j) y(j) = fid.points[j + skip_] * undo;
  const Vec x = amplitudes(y);
  const Vec res = y - a_ * x;
  r.residual_rms = std::sqrt(res.squaredNorm() / rows);
  // Covariance of x for white noise of sigma per real/imaginary part (per scan, so sigma /
  // sqrt(scans) on the averaged FID): sigma^2 (A^H A)^-1 for each part.
  const double s2 = fid.noise_sigma > 0.0 ? fid.noise_sigma * fid.noise_sigma / fid.scans : 0.0;
  for (int c = 0; c < cols; ++c) {
    r.lines[c].amplitude = x(c);
    r.lines[c].std_error = s2 > 0.0 ? std::sqrt(std::max(0.0, s2 * inv_diag_(c))) : 0.0;
  }
  return r;
}

}  // namespace nmrc::spectrometer
