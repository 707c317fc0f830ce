#include "nmrc/spectrometer/dynamics.hpp"

#include <cmath>
#include <string>

#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"

// Dynamics::lindblad_rhs and the exact engine's series run in lindblad_kernel.cpp, one copy per
// instruction set in a portable build.
#include "lindblad_kernel.hpp"

namespace nmrc::spectrometer {

namespace {
// CODATA 2018 exact SI values.
constexpr double kPlanck = 6.62607015e-34;   // J s
constexpr double kBoltzmann = 1.380649e-23;  // J / K
}  // namespace

ThermalState thermal_equilibrium(const Molecule& m) {
  const int n = m.size();
  const int d = 1 << n;
  ThermalState t;
  t.polarization.resize(n);
  for (int k = 0; k < n; ++k) {
    // Larmor frequency of spin k in the lab (Hz): channel frequency at its shift.
    const double nu_hz = m.channel_of(k).larmor_mhz * 1e6 * (1.0 + 1e-6 * m.nuclei[k].shift_ppm);
    // High-temperature polarisation P0 - P1 = tanh(h nu / 2 k_B T) ~ h nu / (2 k_B T).
    t.polarization[k] = kPlanck * nu_hz / (2.0 * kBoltzmann * m.temperature_k);
  }
  // Eq. (S14): rho = I/2^n + epsilon sum_k (gamma_k/gamma_ref) sigma_z^k, i.e. the first-order
  // expansion of exp(-H_lab / k_B T) / Z with H_lab = -sum_k (h nu_k / 2) sigma_z^k.
  t.epsilon = t.polarization[0] / d;
  t.rho = Mat::Identity(d, d) / static_cast<double>(d);
  for (int k = 0; k < n; ++k) {
    const double c = t.polarization[k] / d;
    for (int a = 0; a < d; ++a) t.rho(a, a) += spin_bit(a, k, n) == 0 ? c : -c;
  }
  return t;
}

Mat deviation(const Mat& rho) {
  const Eigen::Index d = rho.rows();
  return rho - (rho.trace() / static_cast<double>(d)) * Mat::Identity(d, d);
}

double RelaxationRates::total() const {
  double s = 0.0;
  for (size_t k = 0; k < w_down.size(); ++k) s += w_down[k] + w_up[k] + dephasing[k];
  return s;
}

RelaxationRates relaxation_rates(const Molecule& m, const ThermalState& thermal) {
  RelaxationRates r;
  for (int k = 0; k < m.size(); ++k) {
    const Nucleus& nu = m.nuclei[k];
    const double p0 = 0.5 * (1.0 + thermal.polarization[k]);
    const double p1 = 1.0 - p0;
    // Detailed balance: w_up / w_down = P1 / P0, w_up + w_down = 1 / T1.
    r.w_down.push_back(p0 / nu.t1_s);
    r.w_up.push_back(p1 / nu.t1_s);
    // Coherence decay rate (w_down + w_up)/2 + dephasing = 1 / T2 (molecule loader ensures
    // T2 <= 2 T1, so dephasing >= 0).
    r.dephasing.push_back(std::max(0.0, 1.0 / nu.t2_s - 0.5 / nu.t1_s));
  }
  return r;
}

void add_dissipator(const RelaxationRates& rates, int n, const Mat& rho, Mat& out) {
  const int d = 1 << n;
  for (int k = 0; k < n; ++k) {
    const int mk = 1 << (n - 1 - k);
    const double wd = rates.w_down[k], wu = rates.w_up[k], g = rates.dephasing[k];
    for (int b = 0; b < d; ++b) {
      const int bk = (b & mk) ? 1 : 0;
      for (int a = 0; a < d; ++a) {
        const int ak = (a & mk) ? 1 : 0;
        const cplx r = rho(a, b);
        cplx v = -0.5 * (wd * (ak + bk) + wu * (2 - ak - bk)) * r;
        if (ak == 0 && bk == 0) v += wd * rho(a | mk, b | mk);    // s- rho s+ (|1> -> |0>)
        if (ak == 1 && bk == 1) v += wu * rho(a & ~mk, b & ~mk);  // s+ rho s- (|0> -> |1>)
        if (ak != bk) v -= g * r;                                 // (g/2)(sz rho sz - rho)
        out(a, b) += v;
      }
    }
  }
}

namespace {
// Diagonal coefficients of add_dissipator: D(rho)_ab = decay_ab rho_ab + transfers.
Mat decay_coefficients(const RelaxationRates& r, int n) {
  const int d = 1 << n;
  Mat decay = Mat::Zero(d, d);
  for (int k = 0; k < n; ++k) {
    const int mk = 1 << (n - 1 - k);
    for (int b = 0; b < d; ++b)
      for (int a = 0; a < d; ++a) {
        const int ak = (a & mk) ? 1 : 0, bk = (b & mk) ? 1 : 0;
        decay(a, b) -= 0.5 * (r.w_down[k] * (ak + bk) + r.w_up[k] * (2 - ak - bk));
        if (ak != bk) decay(a, b) -= r.dephasing[k];
      }
  }
  return decay;
}
}  // namespace

Dynamics::Dynamics(const Molecule& m, const DynamicsOptions& options)
    : n_(m.size()), options_(options) {
  if (!(options.b1_scale > 0.0))
    throw InputError("b1_scale = " + std::to_string(options.b1_scale) + ": must be > 0");
  if (!options.offset_error_hz.empty() && static_cast<int>(options.offset_error_hz.size()) != n_)
    throw InputError("offset_error_hz: must give one value per spin (" + std::to_string(n_) +
                     "), got " + std::to_string(options.offset_error_hz.size()));
  h0_ = m.hamiltonian(options.strong_coupling);
  for (size_t k = 0; k < options.offset_error_hz.size(); ++k)
    h0_ += kTwoPi * options.offset_error_hz[k] * spin_op('z', static_cast<int>(k), n_);
  for (int c = 0; c < static_cast<int>(m.channels.size()); ++c) {
    cx_.push_back(options.b1_scale * m.control(c, 'x'));
    cy_.push_back(options.b1_scale * m.control(c, 'y'));
  }
  if (options.relaxation) {
    rates_ = relaxation_rates(m, thermal_equilibrium(m));
    decay_ = decay_coefficients(rates_, n_);
  }
}

Mat Dynamics::hamiltonian(const double* ux_hz, const double* uy_hz) const {
  Mat h = h0_;
  for (int c = 0; c < channels(); ++c) {
    if (ux_hz[c] != 0.0) h += ux_hz[c] * cx_[c];
    if (uy_hz[c] != 0.0) h += uy_hz[c] * cy_[c];
  }
  return h;
}

namespace {
LindbladParts parts_of(const Dynamics& d, const Mat* decay) {
  LindbladParts p;
  p.n = d.spins();
  if (d.relaxing()) {
    p.decay = decay;
    p.w_down = d.rates().w_down.data();
    p.w_up = d.rates().w_up.data();
  }
  return p;
}
}  // namespace

void Dynamics::lindblad_rhs(const Mat& h, const Mat& rho, Mat& out) const {
  NMRC_ISA_CALL(lindblad_rhs_kernel)(parts_of(*this, &decay_), h, rho, out);
}

void taylor_steps(const Dynamics& d, const Mat& hs, const Mat& drift, double hstep, int substeps,
                  Mat& x) {
  // The decay coefficients once per call (Dynamics keeps its own private): O(n d^2), against
  // the series' O(d^3) products per term.
  const Mat decay = d.relaxing() ? decay_coefficients(d.rates(), d.spins()) : Mat();
  NMRC_ISA_CALL(taylor_steps_kernel)(parts_of(d, &decay), hs, drift, hstep, substeps, x);
}

void deviation_map_step(const Mat& e, Mat& s, Vec& drift) {
  NMRC_ISA_CALL(deviation_map_step_kernel)(e, s, drift);
}

Mat Dynamics::liouvillian(const Mat& h) const {
  const int d = dim();
  const Mat id = Mat::Identity(d, d);
  Mat l = cplx(0.0, -1.0) * (kron(id, h) - kron(h.transpose(), id));
  if (relaxing()) {
    Mat unit = Mat::Zero(d, d), col = Mat::Zero(d, d);
    for (int j = 0; j < d; ++j)
      for (int i = 0; i < d; ++i) {
        unit(i, j) = 1.0;
        col.setZero();
        add_dissipator(rates_, n_, unit, col);
        l.col(i + j * d) += Eigen::Map<const Vec>(col.data(), d * d);
        unit(i, j) = 0.0;
      }
  }
  return l;
}

}  // namespace nmrc::spectrometer
