#include "support/pulse_reference.hpp"

#include <random>
#include <vector>

#include "support/reference.hpp"

namespace nmrc::ref {

ShapedPulseElement random_pulse(int steps, double dt, double amp, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-amp, amp);
  ShapedPulseElement p;
  p.name = "random";
  p.dt_s = dt;
  p.channels = {0};
  p.ux_hz = {RVec(steps)};
  p.uy_hz = {RVec(steps)};
  for (int j = 0; j < steps; ++j) {
    p.ux_hz[0](j) = u(rng);
    p.uy_hz[0](j) = u(rng);
  }
  return p;
}

Mat pulse_propagator(const Molecule& m, const ShapedPulseElement& pulse, double b1,
                     double offset_hz, int substeps) {
  const int n = m.size();
  const int d = 1 << n;
  const double two_pi = 2.0 * 3.14159265358979323846;
  auto half_pauli = [](char axis) {
    Mat s = Mat::Zero(2, 2);
    if (axis == 'X') s << 0, 0.5, 0.5, 0;
    if (axis == 'Y') s << 0, cplx(0, -0.5), cplx(0, 0.5), 0;
    if (axis == 'Z') s << 0.5, 0, 0, -0.5;
    return s;
  };
  std::vector<int> driven(n, -1);  // index into pulse.channels of each spin's channel
  for (size_t c = 0; c < pulse.channels.size(); ++c)
    for (int k = 0; k < n; ++k)
      if (m.nuclei[k].channel == m.channels[pulse.channels[c]].name)
        driven[k] = static_cast<int>(c);
  Mat h0 = Mat::Zero(d, d);
  for (int k = 0; k < n; ++k) {
    const double carrier = m.channel_of(k).carrier_hz;
    const double off = m.nuclei[k].offset_hz - carrier + (driven[k] >= 0 ? offset_hz : 0.0);
    h0 += two_pi * off * single(half_pauli('Z'), k, n);
  }
  for (const auto& cp : m.couplings)
    h0 += two_pi * cp.j_hz * single(half_pauli('Z'), cp.a, n) * single(half_pauli('Z'), cp.b, n);
  std::vector<Mat> opx(pulse.channels.size(), Mat::Zero(d, d)), opy = opx;
  for (int k = 0; k < n; ++k)
    if (driven[k] >= 0) {
      opx[driven[k]] += two_pi * single(half_pauli('X'), k, n);
      opy[driven[k]] += two_pi * single(half_pauli('Y'), k, n);
    }
  const double h = pulse.dt_s / substeps;
  Mat u = Mat::Identity(d, d);
  for (Eigen::Index s = 0; s < pulse.ux_hz.front().size(); ++s) {
    Mat hs = h0;
    for (size_t c = 0; c < pulse.channels.size(); ++c)
      hs += b1 * (pulse.ux_hz[c](s) * opx[c] + pulse.uy_hz[c](s) * opy[c]);
    const Mat step = expm_taylor(cplx(0.0, -h) * hs);
    for (int q = 0; q < substeps; ++q) u = step * u;
  }
  return u;
}

}  // namespace nmrc::ref
