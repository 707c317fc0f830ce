#include "nmrc/spectrometer/probe.hpp"

#include <cmath>
#include <memory>
#include <random>

#include "nmrc/core/error.hpp"
#include "nmrc/spectrometer/propagation.hpp"
#include "support/reference.hpp"
#include "support/test_molecules.hpp"

using namespace nmrc;
using namespace nmrc::spectrometer;

namespace {

Vec probe_random_envelope(int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0.0, 1000.0);
  Vec x(n);
  for (int j = 0; j < n; ++j) x(j) = cplx(g(rng), g(rng));
  return x;
}

// Real inner product of complex vectors as (Re, Im) pairs.
double probe_dot(const Vec& a, const Vec& b) {
  return (a.conjugate().cwiseProduct(b)).sum().real();
}

}  // namespace

TEST_CASE("probe: the resonator's step response is 1 - exp(-t/tau), tau = Q/(pi f0)") {
  const ResonatorDistortion r(200.0, 75.47, 4);
  const double tau = 200.0 / (kPi * 75.47e6);
  CHECK(r.time_constant_s() == doctest::Approx(tau).epsilon(1e-14));
  const double dt = 1e-6;
  const Vec y = r.forward(Vec::Constant(6, cplx(1000.0, -500.0)), dt);
  REQUIRE(y.size() == 24);
  const double h = dt / 4;
  for (int s = 0; s < 24; ++s) {
    // Mean of 1 - exp(-t/tau) over [s h, (s+1) h].
    const double mean = 1.0 - tau / h * (std::exp(-s * h / tau) - std::exp(-(s + 1) * h / tau));
    CHECK(std::abs(y(s) - cplx(1000.0, -500.0) * mean) < 1e-9);
  }
  CHECK_THROWS_AS(ResonatorDistortion(0.0, 75.0), InputError);
  CHECK_THROWS_AS(ResonatorDistortion(100.0, 75.0, 0), InputError);
}

TEST_CASE("probe: the adjoint is the transpose (dot-product test) and gives the FD gradient") {
  const ResonatorDistortion r(1000.0, 75.47, 8);  // tau 4.2 us against 5 us steps
  const double dt = 5e-6;
  const Vec x = probe_random_envelope(40, 1), g = probe_random_envelope(320, 2);
  CHECK(probe_dot(r.forward(x, dt), g) ==
        doctest::Approx(probe_dot(x, r.adjoint(g, dt))).epsilon(1e-12));
  // f(y) = sum |y|^4 / 1e12 + Re(w . y): gradient (df/dRe y + i df/dIm y) = 4 |y|^2 y / 1e12 +
  // conj(w).
  const Vec w = probe_random_envelope(320, 3) / 1000.0;
  auto f = [&](const Vec& in) {
    const Vec y = r.forward(in, dt);
    double s = 0.0;
    for (Eigen::Index j = 0; j < y.size(); ++j)
      s += std::pow(std::norm(y(j)), 2) / 1e12 + (w(j) * y(j)).real();
    return s;
  };
  const Vec y = r.forward(x, dt);
  Vec gy(y.size());
  for (Eigen::Index j = 0; j < y.size(); ++j)
    gy(j) = 4.0 * std::norm(y(j)) * y(j) / 1e12 + std::conj(w(j));
  const Vec gx = r.adjoint(gy, dt);
  for (int j : {0, 7, 21, 39}) {
    for (int part = 0; part < 2; ++part) {
      const cplx e = part == 0 ? cplx(1e-3, 0) : cplx(0, 1e-3);
      Vec xp = x, xm = x;
      xp(j) += e;
      xm(j) -= e;
      const double fd = (f(xp) - f(xm)) / 2e-3;
      const double an = part == 0 ? gx(j).real() : gx(j).imag();
      CHECK(fd == doctest::Approx(an).epsilon(1e-6));
    }
  }
}

TEST_CASE("probe: a fast circuit leaves a pulse unchanged; distort keeps one dt on every channel") {
  const Molecule m = nmrc::testing::crotonic();
  ShapedPulseElement p;
  p.dt_s = 20e-6;
  p.channels = {0};
  const Vec x = probe_random_envelope(50, 4);
  p.ux_hz = {x.real()};
  p.uy_hz = {x.imag()};
  const ResonatorDistortion fast(0.01, 75.47, 2);  // tau 42 ps
  const ShapedPulseElement d = distort(p, {&fast});
  CHECK(d.dt_s == doctest::Approx(10e-6));
  CHECK(d.ux_hz[0].size() == 100);
  const Mat u = simulate_unitary(m, p), v = simulate_unitary(m, d);
  CHECK(std::abs((u.adjoint() * v).trace()) / 16.0 > 1.0 - 1e-9);
  // A slow circuit (Q 3000, tau 12.7 us against 20 us steps) costs fidelity.
  const ResonatorDistortion slow(3000.0, 75.47, 8);
  const Mat s = simulate_unitary(m, distort(p, {&slow}));
  CHECK(std::abs((u.adjoint() * s).trace()) / 16.0 < 0.999);
  CHECK_THROWS_AS(distort(p, {}), InputError);
  // The spectrometer applies the probe when asked: options.probe per molecule channel.
  PropagationOptions o;
  o.probe = {std::make_shared<ResonatorDistortion>(3000.0, 75.47, 8)};
  CHECK((simulate_unitary(m, p, 1.0, o) - s).norm() < 1e-12);
  o.probe = {nullptr};
  CHECK((simulate_unitary(m, p, 1.0, o) - u).norm() < 1e-12);
}
