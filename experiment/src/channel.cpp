// Channels of pulses on deviations; see channel.hpp for the method and its error terms.
#include "nmrc/experiment/channel.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hash.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/parallel.hpp"
#include "nmrc/core/propagators.hpp"

// The products below run in channel_kernel.cpp, one copy per instruction set in a portable build.
#include "channel_kernel.hpp"

namespace nmrc::experiment {

namespace sp = nmrc::spectrometer;
using Vec4 = Eigen::Matrix<cplx, 4, 1>;

int AffineMap::dim() const { return static_cast<int>(std::lround(std::sqrt(double(s.rows())))); }

Mat AffineMap::apply(const Mat& delta) const {
  const int d = dim();
  NMRC_CHECK(delta.rows() == d && delta.cols() == d, "channel applied to a matrix of wrong size");
  Mat out;
  NMRC_ISA_CALL(affine_apply)(s, drift, delta, out);
  return out;
}

AffineMap AffineMap::identity(int d) {
  AffineMap c;
  c.s = Mat::Identity(d * d, d * d);
  c.drift = Vec::Zero(d * d);
  return c;
}

AffineMap AffineMap::unitary(const Mat& u) {
  AffineMap c;
  c.s = kron(u.conjugate(), u);  // vec(U X U^dag) = (conj(U) (x) U) vec(X)
  c.drift = Vec::Zero(u.rows() * u.rows());
  return c;
}

AffineMap AffineMap::then(const AffineMap& first, const AffineMap& second) {
  AffineMap c;
  NMRC_ISA_CALL(affine_then)(first.s, first.drift, second.s, second.drift, c.s, c.drift);
  return c;
}

AffineMap AffineMap::average(const std::vector<AffineMap>& cs, const std::vector<double>& w) {
  NMRC_CHECK(!cs.empty() && cs.size() == w.size(), "channel average needs one weight each");
  double total = 0.0;
  for (double x : w) total += x;
  AffineMap c;
  c.s = Mat::Zero(cs[0].s.rows(), cs[0].s.cols());
  c.drift = Vec::Zero(cs[0].drift.size());
  for (size_t i = 0; i < cs.size(); ++i) {
    c.s += (w[i] / total) * cs[i].s;
    c.drift += (w[i] / total) * cs[i].drift;
  }
  return c;
}

namespace {

// Single-spin Lindblad dissipator as a 4x4 superoperator on column-major vec of a 2x2 matrix
// (index row + 2 col), the same D as spectrometer::add_dissipator:
// W_down (s- rho s+ - {|1><1|, rho}/2) + W_up (s+ rho s- - {|0><0|, rho}/2)
// + (dephasing/2)(Z rho Z - rho). Superoperator of A rho B is B^T (x) A.
Mat4 spin_dissipator(double w_down, double w_up, double dephasing) {
  Mat4 d = Mat4::Zero();
  auto add_jump = [&](const Eigen::Matrix2cd& l) {
    const Eigen::Matrix2cd ll = l.adjoint() * l;
    const Eigen::Matrix2cd id = Eigen::Matrix2cd::Identity();
    Mat4 k;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)
        for (int p = 0; p < 2; ++p)
          for (int q = 0; q < 2; ++q) {
            // kron(A, B)(2i + p, 2j + q) = A(i, j) B(p, q)
            k(2 * i + p, 2 * j + q) = std::conj(l(i, j)) * l(p, q) - 0.5 * id(i, j) * ll(p, q) -
                                      0.5 * ll(j, i) * id(p, q);
          }
    d += k;
  };
  Eigen::Matrix2cd sm = Eigen::Matrix2cd::Zero(), spl = Eigen::Matrix2cd::Zero(),
                   z = Eigen::Matrix2cd::Zero();
  sm(0, 1) = std::sqrt(w_down);  // |0><1|
  spl(1, 0) = std::sqrt(w_up);   // |1><0|
  z(0, 0) = std::sqrt(dephasing / 2);
  z(1, 1) = -std::sqrt(dephasing / 2);
  add_jump(sm);
  add_jump(spl);
  add_jump(z);
  return d;
}

// int_0^dt exp(i x s) ds.
cplx phase_integral(double x, double dt) {
  if (std::abs(x * dt) < 1e-8) return cplx(dt, 0.5 * x * dt * dt);
  return (std::exp(cplx(0.0, x * dt)) - 1.0) / cplx(0.0, x);
}

// exp(M) - I by its Taylor series (M is ~1e-4 or smaller: no cancellation).
Mat4 expm1_small(const Mat4& m) {
  Mat4 term = m, sum = m;
  for (int k = 2; k < 30 && term.norm() > 1e-18 * (1.0 + sum.norm()); ++k) {
    term = term * m / double(k);
    sum += term;
  }
  return sum;
}

}  // namespace

Stepper::Stepper(const sp::Dynamics& d, const std::vector<sp::Segment>& segments)
    : n_(d.spins()), dim_(d.dim()), relaxing_(d.relaxing()) {
  std::vector<Mat4> dk;
  if (relaxing_) {
    const auto& r = d.rates();
    for (int k = 0; k < n_; ++k)
      dk.push_back(spin_dissipator(r.w_down[k], r.w_up[k], r.dephasing[k]));
  }
  const double scale = 1.0 / double(1 << (n_ - 1));
  for (const auto& seg : segments) {
    const Mat h = d.hamiltonian(seg.ux_hz.data(), seg.uy_hz.data());
    u_.push_back(expm_hermitian(h, seg.duration_s));
    if (!relaxing_) continue;
    std::vector<Mat4> ek(n_);
    Mat drift = Mat::Zero(dim_, dim_);
    // E(I/d) - I/d = sum_k (x)_{j<k} (I/2 + delta_j) (x) delta_k (x)_{j>k} I/2, no cancellation.
    Mat prefix = Mat::Identity(1, 1);
    for (int k = 0; k < n_; ++k) {
      const Mat hk = partial_trace(h, {k}, n_) * scale;
      Eigen::SelfAdjointEigenSolver<Eigen::Matrix2cd> es(Eigen::Matrix2cd(hk.topLeftCorner(2, 2)));
      const Eigen::Matrix2cd v = es.eigenvectors();
      const Eigen::Vector2d lam = es.eigenvalues();
      Mat4 w;
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j)
          for (int p = 0; p < 2; ++p)
            for (int q = 0; q < 2; ++q) w(2 * i + p, 2 * j + q) = std::conj(v(i, j)) * v(p, q);
      Mat4 dp = w.adjoint() * dk[k] * w;
      double omega[4];
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) omega[a + 2 * b] = lam(a) - lam(b);
      for (int al = 0; al < 4; ++al)
        for (int be = 0; be < 4; ++be)
          dp(al, be) *= phase_integral(omega[al] - omega[be], seg.duration_s);
      const Mat4 m = w * dp * w.adjoint();
      const Mat4 em1 = expm1_small(m);
      ek[k] = Mat4::Identity() + em1;
      Vec4 half;
      half << 0.5, 0.0, 0.0, 0.5;
      const Vec4 dv = em1 * half;
      Mat delta_k(2, 2);
      delta_k << dv(0), dv(2), dv(1), dv(3);
      Mat suffix = Mat::Identity(1 << (n_ - 1 - k), 1 << (n_ - 1 - k)) / double(1 << (n_ - 1 - k));
      drift += kron(kron(prefix, delta_k), suffix);
      prefix = kron(prefix, Mat(Mat::Identity(2, 2) * 0.5 + delta_k));
    }
    e_.push_back(std::move(ek));
    drift_.push_back(std::move(drift));
  }
}

Mat Stepper::propagate(const Mat& delta, bool with_drift) const {
  Mat x = delta;
  NMRC_ISA_CALL(propagate_steps)(u_, e_, drift_, n_, with_drift, x);
  return x;
}

AffineMap Stepper::channel(int threads) const {
  const int d2 = dim_ * dim_;
  AffineMap c;
  c.s.resize(d2, d2);
  if (!relaxing_) {
    Mat u = Mat::Identity(dim_, dim_);
    for (const auto& uj : u_) u = uj * u;
    return AffineMap::unitary(u);
  }
  // The d^2 matrix units are independent: the threads share them.
  parallel_for(static_cast<size_t>(d2), threads, [&](size_t a) {
    Mat x = Mat::Zero(dim_, dim_);
    x(a % dim_, a / dim_) = 1.0;
    x = propagate(x, false);
    c.s.col(static_cast<Eigen::Index>(a)) = Eigen::Map<const Vec>(x.data(), d2);
  });
  const Mat z = propagate(Mat::Zero(dim_, dim_), true);
  c.drift = Eigen::Map<const Vec>(z.data(), d2);
  return c;
}

namespace {
constexpr char kMagic[8] = {'N', 'M', 'R', 'C', 'C', 'H', '1', '\n'};

std::string serialize(const std::string& key, const AffineMap& c) {
  std::string out(kMagic, 8);
  auto put = [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  const long long klen = static_cast<long long>(key.size());
  put(&klen, sizeof klen);
  out += key;
  const long long rows = c.s.rows();
  put(&rows, sizeof rows);
  put(c.s.data(), sizeof(cplx) * c.s.size());
  put(c.drift.data(), sizeof(cplx) * c.drift.size());
  const unsigned long long h = content_hash64(out);
  put(&h, sizeof h);
  return out;
}

// A channel read back is used only when it is one: finite, on a 2^n-dimensional space, and
// trace-preserving (Tr E(X) = Tr X for every matrix unit X, Tr of the drift E(I/d) - I/d = 0)
// to 1e-8. The checksum catches damage; this catches an entry of another layout or version
// whose checksum still matches (the folder's trust, core/io.hpp, keeps others from planting).
bool plausible(const AffineMap& c) {
  const Eigen::Index d2 = c.s.rows();
  const auto d = static_cast<Eigen::Index>(std::lround(std::sqrt(double(d2))));
  if (d < 2 || d * d != d2 || (d & (d - 1)) != 0 || c.drift.size() != d2) return false;
  if (!c.s.allFinite() || !c.drift.allFinite()) return false;
  const double tol = 1e-8 * (1.0 + c.s.cwiseAbs().maxCoeff());
  for (Eigen::Index a = 0; a < d2; ++a) {
    cplx tr = 0.0;
    for (Eigen::Index i = 0; i < d; ++i) tr += c.s(i + d * i, a);
    const bool diagonal = a % d == a / d;
    if (std::abs(tr - (diagonal ? 1.0 : 0.0)) > tol) return false;
  }
  cplx tr = 0.0;
  for (Eigen::Index i = 0; i < d; ++i) tr += c.drift(i + d * i);
  return std::abs(tr) <= tol;
}

bool deserialize(const std::string& bytes, const std::string& key, AffineMap& c) {
  if (bytes.size() < 8 + 8 + 8 + 8 || std::memcmp(bytes.data(), kMagic, 8) != 0) return false;
  unsigned long long h = 0;
  std::memcpy(&h, bytes.data() + bytes.size() - 8, 8);
  if (content_hash64(bytes.substr(0, bytes.size() - 8)) != h) return false;
  size_t pos = 8;
  long long klen = 0;
  std::memcpy(&klen, bytes.data() + pos, 8);
  pos += 8;
  if (klen < 0 || pos + size_t(klen) > bytes.size() || bytes.compare(pos, klen, key) != 0)
    return false;
  pos += klen;
  long long rows = 0;
  std::memcpy(&rows, bytes.data() + pos, 8);
  pos += 8;
  if (rows <= 0 || rows > 4096) return false;
  const size_t need = sizeof(cplx) * size_t(rows) * (size_t(rows) + 1);
  if (pos + need + 8 != bytes.size()) return false;
  c.s.resize(rows, rows);
  c.drift.resize(rows);
  std::memcpy(c.s.data(), bytes.data() + pos, sizeof(cplx) * rows * rows);
  pos += sizeof(cplx) * rows * rows;
  std::memcpy(c.drift.data(), bytes.data() + pos, sizeof(cplx) * rows);
  return plausible(c);
}

// Largest .chan entry read back: a 64 x 64 space (6 spins, the bound deserialize takes),
// 16 bytes per entry of S (4096^2) and of the drift, with its header and key.
constexpr std::size_t kMaxChannelFileBytes = (std::size_t{16} << 20) * 17;
}  // namespace

AffineMap ChannelCache::get(const std::string& key, const std::function<AffineMap()>& build,
                            bool* hit) const {
  if (hit) *hit = false;
  if (dir_.empty()) return build();
  // A cache folder that is not this user's, or that others can write, is not used (core/io.hpp:
  // warned once); a failed write is warned once and the run goes on.
  const std::string name = content_hash_hex(key) + ".chan";
  if (const auto bytes = read_cache_file(dir_, name, kMaxChannelFileBytes)) {
    AffineMap c;
    if (deserialize(*bytes, key, c)) {
      if (hit) *hit = true;
      return c;
    }
  }
  AffineMap c = build();
  write_cache_file(dir_, name, serialize(key, c));
  return c;
}

Vec collective_z_phases(const std::vector<int>& spins, int n, double phi) {
  const Eigen::Index d = Eigen::Index(1) << n;
  // exp(-i phi m): m = sum over the spins of +1/2 (bit 0, up) or -1/2 (bit 1, down)
  Vec z(d);
  for (Eigen::Index s = 0; s < d; ++s) {
    double m = 0;
    for (int k : spins) m += ((s >> (n - 1 - k)) & 1) ? -0.5 : 0.5;
    z(s) = std::exp(cplx(0, -phi * m));
  }
  return z;
}

Mat z_phase_averaged(const Mat& x, const std::vector<int>& spins, int n, int cycle) {
  NMRC_CHECK(cycle >= 1, "z_phase_averaged: cycle must be >= 1");
  if (cycle == 1) return x;
  Mat out = Mat::Zero(x.rows(), x.cols());
  for (int j = 0; j < cycle; ++j) {
    const Vec z = collective_z_phases(spins, n, 2.0 * kPi * j / cycle);
    out += z.asDiagonal() * x * z.conjugate().asDiagonal();
  }
  return out / double(cycle);
}

Mat phase_cycled(const std::function<Mat(const Mat&)>& channel, const Mat& x,
                 const std::vector<int>& spins, int n, int cycle) {
  NMRC_CHECK(cycle >= 1, "phase_cycled: cycle must be >= 1");
  if (cycle == 1) return channel(x);
  const Eigen::Index d = Eigen::Index(1) << n;
  Mat out = Mat::Zero(d, d);
  for (int j = 0; j < cycle; ++j) {
    const Vec z = collective_z_phases(spins, n, 2.0 * kPi * j / cycle);
    const Mat in = z.conjugate().asDiagonal() * x * z.asDiagonal();
    out += z.asDiagonal() * channel(in) * z.conjugate().asDiagonal();
  }
  return out / double(cycle);
}

}  // namespace nmrc::experiment
