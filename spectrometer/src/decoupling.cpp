#include "nmrc/spectrometer/decoupling.hpp"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <string>

#include "nmrc/core/error.hpp"
#include "nmrc/core/propagators.hpp"
#include "nmrc/core/text.hpp"

namespace nmrc::spectrometer {

namespace {

// Pieces shorter than this (1 ps: a phase of 2e-7 rad at 30 kHz) are rounding, not time.
constexpr double kTimeTol = 1e-12;

// R of each sequence: flip angles (degrees) with phase 0 or 180.
std::vector<CpdPulse> cpd_r(CpdSequence s) {
  std::vector<CpdPulse> r;
  if (s == CpdSequence::kWaltz16) {
    // Shaka, Keeler, Frenkiel & Freeman, J. Magn. Reson. 52, 335 (1983): R = -3 4 -2 3 -1 2
    // -4 2 -3 (units of 90 degrees, - = phase 180).
    for (int q : {-3, 4, -2, 3, -1, 2, -4, 2, -3})
      r.push_back({90.0 * std::abs(q), q < 0 ? 180.0 : 0.0});
  } else {
    // GARP-1: Shaka, Barker & Freeman, J. Magn. Reson. 64, 547 (1985), Table 1; the phase
    // alternates 0, 180, 0, ...
    const double a[] = {30.5,  55.2, 257.8, 268.3, 69.3,  62.2,  85.0,  91.8,  134.5,
                        256.1, 66.4, 45.9,  25.5,  72.7,  119.5, 138.2, 258.4, 64.9,
                        70.9,  77.2, 98.2,  133.6, 255.9, 65.5,  53.4};
    for (size_t i = 0; i < std::size(a); ++i) r.push_back({a[i], i % 2 ? 180.0 : 0.0});
  }
  return r;
}

}  // namespace

CpdSequence cpd_sequence(const std::string& name) {
  if (name == "waltz16") return CpdSequence::kWaltz16;
  if (name == "garp") return CpdSequence::kGarp;
  if (name == "mlev16") return CpdSequence::kMlev16;
  if (name == "cw") return CpdSequence::kCw;
  throw InputError("cpd = " + escape_text(name) + ": must be waltz16, garp, mlev16 or cw");
}

const char* cpd_name(CpdSequence s) {
  switch (s) {
    case CpdSequence::kWaltz16:
      return "waltz16";
    case CpdSequence::kGarp:
      return "garp";
    case CpdSequence::kMlev16:
      return "mlev16";
    case CpdSequence::kCw:
      return "cw";
  }
  return "?";
}

std::vector<CpdPulse> cpd_supercycle(CpdSequence s) {
  std::vector<CpdPulse> out;
  if (s == CpdSequence::kCw) return {{360.0, 0.0}};
  if (s == CpdSequence::kMlev16) {
    // MLEV-16: Levitt, Freeman & Frenkiel, J. Magn. Reson. 47, 328 (1982): R = 90x 180y 90x
    // (a composite inversion), Rb = R with every phase + 180, cycle RRRbRb RbRRRb RbRbRR RRbRbR.
    const char* cycle = "RRBBBRRBBBRRRBBR";
    for (const char* c = cycle; *c; ++c)
      for (const auto& p : {CpdPulse{90.0, 0.0}, CpdPulse{180.0, 90.0}, CpdPulse{90.0, 0.0}})
        out.push_back(
            {p.angle_deg, *c == 'R' ? p.phase_deg : std::fmod(p.phase_deg + 180.0, 360.0)});
    return out;
  }
  const auto r = cpd_r(s);
  for (int block = 0; block < 4; ++block)
    for (const auto& p : r)
      out.push_back({p.angle_deg, block < 2 ? p.phase_deg : std::fmod(p.phase_deg + 180.0, 360.0)});
  return out;
}

DecoupledEvolution::DecoupledEvolution(const Molecule& m, const Decoupler& dec,
                                       const DynamicsOptions& options)
    : dynamics_(m, [&] {
        // The decoupled spins in the frame of O2: their offsets shifted by -(O2 - carrier).
        const int c = m.channel_index(dec.channel);
        if (c < 0)
          throw InputError("decoupler channel = " + escape_text(dec.channel) +
                           ": not a channel of molecule " + m.name);
        DynamicsOptions o = options;
        if (o.offset_error_hz.empty()) o.offset_error_hz.assign(m.size(), 0.0);
        for (int k : m.spins_on(c)) o.offset_error_hz[k] -= dec.o2_hz - m.channels[c].carrier_hz;
        return o;
      }()) {
  channel_ = m.channel_index(dec.channel);
  for (int k = 0; k < m.size(); ++k) {
    spin_channel_.push_back(m.channel_index(m.channel_of(k).name));
    t2star_.push_back(m.nuclei[k].t2star_s);
  }
  if (m.channels.size() < 2)
    throw InputError("decoupler: molecule " + m.name + " has one channel; nothing to observe");
  max_rf_hz_ = m.channels[channel_].max_rf_hz;
  settings_.push_back({dec, {}, {}, {}, 0.0, {}, {}});
  switch_to(dec);
}

void DecoupledEvolution::switch_to(const Decoupler& dec) {
  if (!std::isfinite(dec.o2_hz))
    throw InputError("decoupler o2_hz = " + fmt::format("{:.9g}", dec.o2_hz) + ": must be finite");
  const Decoupler& first = settings_.front().dec;
  if (dec.channel != first.channel || dec.o2_hz != first.o2_hz)
    throw InputError("decoupler switch: channel " + escape_text(dec.channel) + ", O2 " +
                     fmt::format("{:.9g}", dec.o2_hz) + " Hz: must stay " +
                     escape_text(first.channel) + ", " + fmt::format("{:.9g}", first.o2_hz) +
                     " Hz (the decoupled spins' frame)");
  if (!(dec.pcpd_s > 0.0 && dec.pcpd_s <= 0.1))
    throw InputError("decoupler pcpd_s = " + fmt::format("{:.9g}", dec.pcpd_s) +
                     ": must be in (0, 0.1] s");
  if (!(dec.b1_scale > 0.0 && std::isfinite(dec.b1_scale)))
    throw InputError("decoupler b1_scale = " + fmt::format("{:.9g}", dec.b1_scale) +
                     ": must be > 0");
  const double rf = dec.rf_hz();
  if (dec.on && rf * dec.b1_scale > max_rf_hz_ * (1.0 + 1e-9))
    throw InputError("decoupler rf = " + fmt::format("{:.9g}", rf * dec.b1_scale) + " Hz (pcpd_s " +
                     fmt::format("{:.9g}", dec.pcpd_s) + "): above channel " +
                     escape_text(dec.channel) + "'s max_rf_hz " +
                     fmt::format("{:.9g}", max_rf_hz_));
  element_ = 0;
  into_ = 0.0;
  for (size_t i = 0; i < settings_.size(); ++i) {
    const Decoupler& d = settings_[i].dec;
    if (!settings_[i].length_s.empty() && d.sequence == dec.sequence && d.pcpd_s == dec.pcpd_s &&
        d.b1_scale == dec.b1_scale && d.on == dec.on) {
      current_ = i;
      return;
    }
  }
  // The first setting's slot is empty until the constructor's call fills it.
  if (!settings_.back().length_s.empty()) settings_.push_back({});
  current_ = settings_.size() - 1;
  Setting& s = setting();
  s.dec = dec;
  // Dynamics scales every channel by options.b1_scale; the decoupler's own factor on top.
  for (const auto& p : cpd_supercycle(dec.sequence)) {
    s.length_s.push_back(p.angle_deg / 90.0 * dec.pcpd_s);
    const double ph = p.phase_deg * kPi / 180.0;
    const double a = dec.on ? dec.b1_scale * rf : 0.0;
    s.ux_hz.push_back(a * std::cos(ph));
    s.uy_hz.push_back(a * std::sin(ph));
    s.cycle_s += s.length_s.back();
  }
  s.free.resize(s.length_s.size());
}

void DecoupledEvolution::next_element() {
  element_ = (element_ + 1) % elements();
  into_ = 0.0;
}

const Mat& DecoupledEvolution::free_element(int i) {
  Setting& s = setting();
  if (!s.free[i]) {
    std::vector<double> ux(dynamics_.channels(), 0.0), uy(dynamics_.channels(), 0.0);
    ux[channel_] = s.ux_hz[i];
    uy[channel_] = s.uy_hz[i];
    s.free[i] = HermitianExp(dynamics_.hamiltonian(ux.data(), uy.data())).propagator(s.length_s[i]);
  }
  return *s.free[i];
}

Mat DecoupledEvolution::cycle_power(long n) {
  Setting& s = setting();
  if (!s.cycle) {
    const int d = dynamics_.dim();
    Mat c = Mat::Identity(d, d);
    for (int i = 0; i < elements(); ++i) c = free_element(i) * c;
    s.cycle = c;
  }
  Mat out = Mat::Identity(dynamics_.dim(), dynamics_.dim()), base = *s.cycle;
  for (; n > 0; n >>= 1) {
    if (n & 1) out = base * out;
    if (n > 1) base = base * base;
  }
  return out;
}

Mat DecoupledEvolution::advance(const std::vector<Segment>& segments) {
  const int d = dynamics_.dim(), nc = dynamics_.channels();
  Mat u = Mat::Identity(d, d);
  std::vector<double> ux(nc), uy(nc);
  for (const auto& s : segments) {
    if (static_cast<int>(s.ux_hz.size()) != nc || static_cast<int>(s.uy_hz.size()) != nc)
      throw InputError("decoupled segment: one amplitude per channel needed");
    if (s.ux_hz[channel_] != 0.0 || s.uy_hz[channel_] != 0.0)
      throw InputError("decoupled segment: RF on the decoupler's channel");
    bool silent = true;
    for (int c = 0; c < nc; ++c) silent = silent && s.ux_hz[c] == 0.0 && s.uy_hz[c] == 0.0;
    double left = s.duration_s;
    time_s_ += left;
    const Setting& dec = setting();
    while (left > kTimeTol) {
      const double len = dec.length_s[element_];
      if (silent && into_ <= kTimeTol) {
        if (element_ == 0 && left >= dec.cycle_s - kTimeTol) {
          const long n = static_cast<long>(std::floor((left + kTimeTol) / dec.cycle_s));
          u = cycle_power(n) * u;
          left -= n * dec.cycle_s;
          continue;
        }
        if (left >= len - kTimeTol) {
          u = free_element(element_) * u;
          left -= len;
          next_element();
          continue;
        }
      }
      const double piece = std::min(left, len - into_);
      for (int c = 0; c < nc; ++c) {
        ux[c] = s.ux_hz[c];
        uy[c] = s.uy_hz[c];
      }
      ux[channel_] = dec.ux_hz[element_];
      uy[channel_] = dec.uy_hz[element_];
      u = HermitianExp(dynamics_.hamiltonian(ux.data(), uy.data())).propagator(piece) * u;
      left -= piece;
      into_ += piece;
      if (into_ >= len - kTimeTol) next_element();
    }
  }
  return u;
}

Fid DecoupledEvolution::acquire(const Mat& rho, int channel, int points_per_cycle, int td) {
  const int d = dynamics_.dim(), n = dynamics_.spins(), nc = dynamics_.channels();
  if (channel < 0 || channel >= nc || channel == channel_)
    throw InputError("decoupled acquisition: channel " + std::to_string(channel) +
                     ": not an observed channel");
  if (points_per_cycle < 1 || points_per_cycle > 100000 || td < 1 || td > (1 << 24))
    throw InputError("decoupled acquisition: points_per_cycle " + std::to_string(points_per_cycle) +
                     ", td " + std::to_string(td) + ": out of range");
  if (rho.rows() != d || rho.cols() != d)
    throw InputError("decoupled acquisition: rho must be " + std::to_string(d) + " x " +
                     std::to_string(d));
  const int k_max = points_per_cycle;
  const double dwell = cycle_s() / k_max;
  // W_k: propagator from the start of acquisition to point k of the first cycle.
  std::vector<Mat> w(k_max);
  Mat acc = Mat::Identity(d, d);
  Segment free;
  free.duration_s = dwell;
  free.ux_hz.assign(nc, 0.0);
  free.uy_hz.assign(nc, 0.0);
  for (int k = 0; k < k_max; ++k) {
    w[k] = acc;
    acc = advance({free}) * acc;
  }
  const long cycles = (td + k_max - 1) / k_max;
  // The first cycle was played above; the rest in one step.
  if (cycles > 1) {
    Segment rest = free;
    rest.duration_s = (cycles - 1) * cycle_s();
    advance({rest});
  }
  // U_c = Q T Q^dag with T diagonal (U_c is normal); rho(m cycles) = Q T^m Q^dag rho ... .
  const Eigen::ComplexSchur<Mat> schur(acc);
  const Mat& q = schur.matrixU();
  Vec t = schur.matrixT().diagonal();
  for (Eigen::Index a = 0; a < t.size(); ++a) t(a) /= std::abs(t(a));
  const Mat rq = q.adjoint() * rho * q;
  Fid f;
  f.channel = channel;
  f.sw_hz = 1.0 / dwell;
  f.points.assign(td, 0.0);
  std::vector<Mat> c(k_max);
  for (int spin = 0; spin < n; ++spin) {
    if (spin_channel_[spin] != channel) continue;
    // sigma_x + i sigma_y = 2 |0><1| on this spin (docs/conventions.md).
    const int mk = 1 << (n - 1 - spin);
    Mat op = Mat::Zero(d, d);
    for (int a = 0; a < d; ++a)
      if (!(a & mk)) op(a, a | mk) = 2.0;
    // s(m K + k) = Tr(O W_k U_c^m rho U_c^-m W_k^dag) = sum_ab C_k(a, b) (t_a conj(t_b))^m
    // with C_k(a, b) = (Q^dag W_k^dag O W_k Q)(b, a) (Q^dag rho Q)(a, b).
    for (int k = 0; k < k_max; ++k) {
      const Mat ok = q.adjoint() * w[k].adjoint() * op * w[k] * q;
      c[k] = ok.transpose().cwiseProduct(rq);
    }
    const double rate = 1.0 / t2star_[spin];
    std::vector<cplx> s(td, 0.0);
    for (int b = 0; b < d; ++b)
      for (int a = 0; a < d; ++a) {
        double mag = 0.0;
        for (int k = 0; k < k_max; ++k) mag = std::max(mag, std::abs(c[k](a, b)));
        if (mag < 1e-300) continue;
        const cplx z = t(a) * std::conj(t(b));
        cplx zm = 1.0;
        for (long m = 0; m < cycles; ++m) {
          // Re-anchored every 256 cycles against rounding drift of the recurrence.
          if (m % 256 == 0) zm = std::pow(z, static_cast<double>(m));
          const long base = m * k_max;
          const int kk = static_cast<int>(std::min<long>(k_max, td - base));
          for (int k = 0; k < kk; ++k) s[base + k] += c[k](a, b) * zm;
          zm *= z;
        }
      }
    for (int j = 0; j < td; ++j) f.points[j] += s[j] * std::exp(-rate * j * dwell);
  }
  return f;
}

Mat decoupled_unitary(const Molecule& m, const Decoupler& dec, const ShapedPulseElement& pulse,
                      const DynamicsOptions& options) {
  DecoupledEvolution ev(m, dec, options);
  return ev.advance(pulse);
}

std::vector<ResidualConfiguration> cw_residual_configurations(const Molecule& m,
                                                              const Decoupler& dec) {
  if (dec.sequence != CpdSequence::kCw || !dec.on)
    throw InputError(
        "cw_residual_configurations: the first-order residual couplings are those of CW "
        "decoupling (sequence cw, decoupler on)");
  const int ch = m.channel_index(dec.channel);
  if (ch < 0) throw InputError("cw_residual_configurations: no channel " + dec.channel);
  const double b2 = dec.rf_hz() * dec.b1_scale;
  if (!(b2 > 0) || !std::isfinite(b2) || !std::isfinite(dec.o2_hz))
    throw InputError("cw_residual_configurations: B2 must be > 0 and O2 finite");
  std::vector<int> decoupled;
  for (int i = 0; i < m.size(); ++i)
    if (m.nuclei[i].channel == dec.channel) decoupled.push_back(i);
  if (decoupled.size() > 12)
    throw InputError("cw_residual_configurations: " + std::to_string(decoupled.size()) +
                     " decoupled spins; at most 12 (2^12 configurations)");
  std::vector<double> cos_theta(m.size(), 0.0);
  for (int j : decoupled) {
    const double delta = m.nuclei[j].offset_hz - dec.o2_hz;
    cos_theta[j] = delta / std::hypot(delta, b2);
  }
  const int nconf = 1 << decoupled.size();
  std::vector<ResidualConfiguration> out(nconf);
  for (int c = 0; c < nconf; ++c) {
    out[c].weight = 1.0 / nconf;
    out[c].offset_hz.assign(m.size(), 0.0);
    for (size_t jj = 0; jj < decoupled.size(); ++jj) {
      const int j = decoupled[jj];
      const double mj = (c >> jj & 1) ? -0.5 : 0.5;
      for (const auto& cp : m.couplings) {
        const int k = cp.a == j ? cp.b : cp.b == j ? cp.a : -1;
        if (k < 0 || m.nuclei[k].channel == dec.channel) continue;
        out[c].offset_hz[k] += cp.j_hz * cos_theta[j] * mj;
      }
    }
  }
  return out;
}

double subsystem_gate_fidelity(const Mat& u, int n, const std::vector<int>& kept,
                               const Mat& target) {
  const int nk = static_cast<int>(kept.size()), ne = n - nk;
  const int dk = 1 << nk, de = 1 << ne, d = 1 << n;
  if (u.rows() != d || u.cols() != d || target.rows() != dk || target.cols() != dk || nk < 1)
    throw InputError("subsystem_gate_fidelity: sizes do not match " + std::to_string(n) +
                     " spins with " + std::to_string(nk) + " kept");
  std::vector<int> env;
  for (int k = 0; k < n; ++k) {
    bool in = false;
    for (int q : kept) in = in || q == k;
    if (!in) env.push_back(k);
  }
  if (static_cast<int>(env.size()) != ne)
    throw InputError("subsystem_gate_fidelity: kept spins must be distinct spins of the system");
  // Full index of (kept bits i, environment bits a); spin k is bit n-1-k of an index.
  auto full = [&](int i, int a) {
    int x = 0;
    for (int j = 0; j < nk; ++j)
      if (i & (1 << (nk - 1 - j))) x |= 1 << (n - 1 - kept[j]);
    for (int j = 0; j < ne; ++j)
      if (a & (1 << (ne - 1 - j))) x |= 1 << (n - 1 - env[j]);
    return x;
  };
  std::vector<int> idx(static_cast<size_t>(dk) * de);
  for (int i = 0; i < dk; ++i)
    for (int a = 0; a < de; ++a) idx[static_cast<size_t>(i) * de + a] = full(i, a);
  double sum = 0.0;
  for (int a = 0; a < de; ++a)
    for (int b = 0; b < de; ++b) {
      cplx tr = 0.0;
      for (int i = 0; i < dk; ++i)
        for (int j = 0; j < dk; ++j)
          tr += std::conj(target(i, j)) *
                u(idx[static_cast<size_t>(i) * de + a], idx[static_cast<size_t>(j) * de + b]);
      sum += std::norm(tr);
    }
  return std::sqrt(sum / (static_cast<double>(dk) * dk * de));
}

}  // namespace nmrc::spectrometer
