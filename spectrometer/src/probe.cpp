#include "nmrc/spectrometer/probe.hpp"

#include <cmath>
#include <string>

#include "nmrc/core/error.hpp"

namespace nmrc::spectrometer {

namespace {

// One sub-step of length h of dy/dt = (x - y)/tau: the mean of y over it is
// x + (y0 - x) c1 and the end value x + (y0 - x) e, with e = exp(-h/tau),
// c1 = (tau/h)(1 - e) (the exact integral of the exponential approach).
struct SubStep {
  double e = 0.0, c1 = 0.0;
  SubStep(double h, double tau) {
    const double r = h / tau;
    e = std::exp(-r);
    // (1 - e)/r without cancellation for small r.
    c1 = r < 1e-5 ? 1.0 - 0.5 * r + r * r / 6.0 : -std::expm1(-r) / r;
  }
};

}  // namespace

ResonatorDistortion::ResonatorDistortion(double q, double larmor_mhz, int oversample)
    : m_(oversample) {
  if (!(q > 0.0 && std::isfinite(q)))
    throw InputError("probe q = " + std::to_string(q) + ": must be > 0");
  if (!(larmor_mhz > 0.0 && std::isfinite(larmor_mhz)))
    throw InputError("probe larmor_mhz = " + std::to_string(larmor_mhz) + ": must be > 0");
  if (oversample < 1 || oversample > 64)
    throw InputError("probe oversample = " + std::to_string(oversample) + ": must be 1..64");
  tau_ = q / (kPi * larmor_mhz * 1e6);
}

Vec ResonatorDistortion::forward(const Vec& in, double dt_s) const {
  const SubStep s(dt_s / m_, tau_);
  Vec out(in.size() * m_);
  cplx y = 0.0;
  for (Eigen::Index j = 0; j < in.size(); ++j)
    for (int k = 0; k < m_; ++k) {
      const cplx x = in(j);
      out(j * m_ + k) = x + (y - x) * s.c1;
      y = x + (y - x) * s.e;
    }
  return out;
}

Vec ResonatorDistortion::adjoint(const Vec& g, double dt_s) const {
  // Reverse pass of forward: mean = (1 - c1) x + c1 y_in, y_out = (1 - e) x + e y_in.
  const SubStep s(dt_s / m_, tau_);
  const Eigen::Index n = g.size() / m_;
  Vec out = Vec::Zero(n);
  cplx lambda = 0.0;  // gradient with respect to y leaving the current sub-step
  for (Eigen::Index j = n - 1; j >= 0; --j)
    for (int k = m_ - 1; k >= 0; --k) {
      const cplx ga = g(j * m_ + k);
      out(j) += (1.0 - s.c1) * ga + (1.0 - s.e) * lambda;
      lambda = s.c1 * ga + s.e * lambda;
    }
  return out;
}

ShapedPulseElement distort(const ShapedPulseElement& pulse,
                           const std::vector<const Distortion*>& per_channel) {
  if (per_channel.size() != pulse.channels.size())
    throw InputError("distort: one entry per channel of the pulse needed");
  int m = 1;
  for (const auto* d : per_channel)
    if (d) m = std::max(m, d->oversample());
  ShapedPulseElement out = pulse;
  out.dt_s = pulse.dt_s / m;
  for (size_t c = 0; c < pulse.channels.size(); ++c) {
    const Eigen::Index n = pulse.ux_hz[c].size();
    Vec x(n);
    for (Eigen::Index j = 0; j < n; ++j) x(j) = cplx(pulse.ux_hz[c](j), pulse.uy_hz[c](j));
    Vec y(n * m);
    if (per_channel[c]) {
      const Vec f = per_channel[c]->forward(x, pulse.dt_s);
      const int r = m / per_channel[c]->oversample();
      if (r * per_channel[c]->oversample() != m)
        throw InputError("distort: oversample factors of the channels must divide each other");
      for (Eigen::Index j = 0; j < f.size(); ++j)
        for (int k = 0; k < r; ++k) y(j * r + k) = f(j);
    } else {
      for (Eigen::Index j = 0; j < n; ++j)
        for (int k = 0; k < m; ++k) y(j * m + k) = x(j);
    }
    out.ux_hz[c] = y.real();
    out.uy_hz[c] = y.imag();
  }
  return out;
}

}  // namespace nmrc::spectrometer
