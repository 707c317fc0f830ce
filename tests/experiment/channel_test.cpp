// The experiment's pulse channels (first-order interaction-picture dissipator per step) against
// the spectrometer's exact engine (Taylor series of the full Liouvillian, no splitting), and the
// channel cache.
#include "nmrc/experiment/channel.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "nmrc/spectrometer/propagation.hpp"
#include "support/reference.hpp"
#include "support/test_molecules.hpp"

using namespace nmrc;
using namespace nmrc::experiment;
namespace sp = nmrc::spectrometer;

namespace {

using nmrc::testing::crotonic;  // tests/support/test_molecules.hpp

std::vector<sp::Segment> random_segments(int steps, double dt, double amp, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-amp, amp);
  std::vector<sp::Segment> segs(steps);
  for (auto& s : segs) {
    s.duration_s = dt;
    s.ux_hz = {u(rng)};
    s.uy_hz = {u(rng)};
  }
  return segs;
}

}  // namespace

TEST_CASE("channel: relaxing random pulse on crotonic acid agrees with the exact engine") {
  const Molecule m = crotonic();
  sp::DynamicsOptions o;
  o.relaxation = true;
  o.b1_scale = 1.03;
  const sp::Dynamics d(m, o);
  // 200 steps of 50 us at up to 3 kHz: GRAPE pulses' RF rotates ~1 rad per step.
  const auto segs = random_segments(200, 5e-5, 3000.0, 3);
  const Mat rho0 = ref::random_density(16, 5);
  const Mat id = Mat::Identity(16, 16) / 16.0;
  const Mat exact = sp::exact_state(d, segs, rho0);
  const Stepper st(d, segs);
  const Mat mine = st.propagate(rho0 - id) + id;
  const Mat u = sp::exact_unitary(d, segs);
  const Mat unitary_only = u * rho0 * u.adjoint();
  const double effect = (exact - unitary_only).norm();
  const double err = (mine - exact).norm();
  MESSAGE("relaxation effect " << effect << ", error " << err);
  CHECK(effect > 1e-3);        // the test sees relaxation at all
  CHECK(err < 1e-3 * effect);  // measured 8e-5 of the effect
  CHECK(err < 1e-5);
  // The channel built from the matrix units and the drift gives the same state.
  const AffineMap ch = st.channel();
  CHECK((ch.apply(rho0 - id) + id - mine).norm() < 1e-12);
}

TEST_CASE("channel: free evolution with T1 drift agrees with the exact deviation map") {
  const Molecule m = crotonic();
  sp::DynamicsOptions o;
  o.relaxation = true;
  const sp::Dynamics d(m, o);
  sp::Segment s;
  s.duration_s = 5e-5;
  s.ux_hz = {0.0};
  s.uy_hz = {0.0};
  const std::vector<sp::Segment> segs(100, s);  // 5 ms
  // The drift is constant, so the exact map of 100 steps is the exact map of one 5 ms step:
  // one exponential of the 257 x 257 generator instead of 100 (and 100 products), the same
  // reference at 1/50 of the cost (the suite also runs under the sanitizers).
  sp::Segment whole = s;
  whole.duration_s = 100 * s.duration_s;
  const auto exact = sp::exact_deviation_map(d, {whole});
  const AffineMap ch = Stepper(d, segs).channel();
  const Mat u = sp::exact_unitary(d, segs);
  const Mat su = AffineMap::unitary(u).s;
  const double effect = (exact.s - su).norm();
  MESSAGE("delay: relaxation effect " << effect << ", error " << (ch.s - exact.s).norm()
                                      << ", drift error "
                                      << (ch.drift - exact.drift).norm() / exact.drift.norm());
  CHECK((ch.s - exact.s).norm() < 1e-3 * effect);  // measured 5.7e-5 of the effect
  CHECK(exact.drift.norm() > 0);
  CHECK((ch.drift - exact.drift).norm() < 1e-3 * exact.drift.norm());
}

TEST_CASE("channel: composition, unitary channels and the on-disk cache") {
  const Mat u = ref::random_unitary(4, 2);
  const AffineMap a = AffineMap::unitary(u);
  const Mat x = ref::random_hermitian(4, 9);
  CHECK((a.apply(x) - u * x * u.adjoint()).norm() < 1e-12);
  const AffineMap aa = AffineMap::then(a, a);
  CHECK((aa.apply(x) - u * u * x * u.adjoint() * u.adjoint()).norm() < 1e-12);

  const auto dir = std::filesystem::temp_directory_path() / "nmrc_channel_cache_test";
  std::filesystem::remove_all(dir);
  const ChannelCache cache(dir.string());
  int builds = 0;
  auto build = [&] {
    ++builds;
    return a;
  };
  bool hit = true;
  const AffineMap c1 = cache.get("key-1", build, &hit);
  CHECK(!hit);
  const AffineMap c2 = cache.get("key-1", build, &hit);
  CHECK(hit);
  CHECK(builds == 1);
  CHECK((c2.s - a.s).norm() == 0.0);
  // A corrupted file is detected by its checksum and rebuilt.
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('x');
  }
  cache.get("key-1", build, &hit);
  CHECK(!hit);
  CHECK(builds == 2);
  std::filesystem::remove_all(dir);
}

TEST_CASE("channel: a contact phase cycle equals the pulses played with shifted RF phases") {
  // Reference: each member of the cycle simulated as its own pulse, every step's (ux, uy)
  // turned by phi (the RF phase shift a console applies), on the spectrometer's exact engine.
  const Molecule m = crotonic();
  sp::DynamicsOptions o;
  o.relaxation = true;
  o.b1_scale = 0.985;
  const sp::Dynamics d(m, o);
  const auto segs = random_segments(60, 5e-5, 3000.0, 11);
  const Mat rho0 = ref::random_density(16, 7);
  const Mat id = Mat::Identity(16, 16) / 16.0;
  const Stepper st(d, segs);
  const std::vector<int> all = {0, 1, 2, 3};
  for (int cycle : {1, 4}) {
    const Mat mine =
        phase_cycled([&](const Mat& x) { return st.propagate(x); }, rho0 - id, all, 4, cycle) + id;
    Mat expect = Mat::Zero(16, 16);
    for (int j = 0; j < cycle; ++j) {
      const double phi = 2.0 * kPi * j / cycle;
      auto shifted = segs;
      for (auto& s : shifted) {
        const double ux = s.ux_hz[0], uy = s.uy_hz[0];
        s.ux_hz[0] = ux * std::cos(phi) - uy * std::sin(phi);
        s.uy_hz[0] = ux * std::sin(phi) + uy * std::cos(phi);
      }
      expect += sp::exact_state(d, shifted, rho0) / double(cycle);
    }
    const Mat plain = sp::exact_state(d, segs, rho0);
    MESSAGE("cycle " << cycle << ": error " << (mine - expect).norm() << ", cycle's effect "
                     << (expect - plain).norm());
    CHECK((mine - expect).norm() < 1e-5);
    if (cycle == 4) CHECK((expect - plain).norm() > 1e-2);  // the cycle changes a random state
  }
  // An excitation-conserving gate (a partial swap) commutes with the collective z rotation:
  // the cycle leaves it unchanged.
  Mat sw = Mat::Identity(4, 4).cast<cplx>();
  sw(1, 1) = sw(2, 2) = std::cos(0.3);
  sw(1, 2) = sw(2, 1) = cplx(0, -std::sin(0.3));
  const Mat u = embed(sw, {0, 3}, 4);
  const auto gate = [&](const Mat& x) -> Mat { return u * x * u.adjoint(); };
  CHECK((phase_cycled(gate, rho0 - id, all, 4, 4) - gate(rho0 - id)).norm() < 1e-12);
}

TEST_CASE("z_phase_averaged: the bath's phase cycle, Rz(phi) x Rz(phi)^dag averaged") {
  // Reference: each Rz_R(phi) built as a 2x2 matrix and embedded on the bath spin (the run's
  // earlier dense form), against the diagonal collective_z_phases.
  const int n = 3, bath = 2;
  std::mt19937 rng(7);
  std::normal_distribution<double> g;
  Mat x(8, 8);
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) x(r, c) = cplx(g(rng), g(rng));
  x = (x + x.adjoint()).eval();
  for (int cycle : {1, 2, 3, 4}) {
    Mat expect = Mat::Zero(8, 8);
    for (int j = 0; j < cycle; ++j) {
      const double phi = 2.0 * kPi * j / cycle;
      Mat rz = Mat::Zero(2, 2);
      rz(0, 0) = std::exp(cplx(0, -phi / 2));
      rz(1, 1) = std::exp(cplx(0, phi / 2));
      const Mat u = embed(rz, {bath}, n);
      expect += u * x * u.adjoint();
    }
    expect /= double(cycle);
    const Mat mine = z_phase_averaged(x, {bath}, n, cycle);
    CHECK((mine - expect).norm() < 1e-12);
    if (cycle >= 2) {
      // the bath's single-quantum coherences cancel, populations and the rest stay
      for (int r = 0; r < 8; ++r)
        for (int c = 0; c < 8; ++c) {
          const bool bath_flip = ((r ^ c) & 1) != 0;  // spin 2 is the least significant bit
          CHECK(std::abs(mine(r, c) - (bath_flip ? cplx(0) : x(r, c))) < 1e-12);
        }
    }
  }
}
