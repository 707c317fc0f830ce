#include "nmrc/spectrometer/acquisition.hpp"

#include <fftw3.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/spectrometer/dynamics.hpp"

namespace nmrc::spectrometer {

std::vector<cplx> fid_signal(const Molecule& m, const Mat& h0, const Mat& rho, int channel,
                             double sw_hz, int td, double receiver_phase_rad) {
  const int n = m.size(), d = 1 << n;
  // H0 = V diag(w) V^dag; in the eigenbasis rho_ab(t) = rho_ab exp(-i (w_a - w_b) t).
  const HermitianEigen es = hermitian_eigen(0.5 * (h0 + h0.adjoint()));
  const Mat& v = es.vectors;
  const RVec& w = es.values;
  const Mat r = v.adjoint() * rho * v;
  struct Component {
    cplx amp;
    cplx rate;  // exp(rate t)
  };
  std::vector<Component> comps;
  const cplx rx = std::polar(1.0, -receiver_phase_rad);
  for (int k : m.spins_on(channel)) {
    // sigma_x^k + i sigma_y^k = 2 |0><1|_k (docs/conventions.md).
    Mat op = Mat::Zero(d, d);
    const int mk = 1 << (n - 1 - k);
    for (int a = 0; a < d; ++a)
      if (!(a & mk)) op(a, a | mk) = 2.0;
    const Mat o = v.adjoint() * op * v;
    const double lambda = 1.0 / m.nuclei[k].t2star_s;
    for (int a = 0; a < d; ++a)
      for (int b = 0; b < d; ++b) {
        const cplx amp = r(a, b) * o(b, a);
        if (std::abs(amp) < 1e-300 || std::abs(o(b, a)) < 1e-13) continue;
        comps.push_back({amp * rx, cplx(-lambda, -(w(a) - w(b)))});
      }
  }
  std::vector<cplx> s(td, 0.0);
  const double dt = 1.0 / sw_hz;
  for (const auto& c : comps) {
    // Recurrence z_j = z_{j-1} q, re-anchored every 256 points against rounding drift.
    const cplx q = std::exp(c.rate * dt);
    cplx z = c.amp;
    for (int j = 0; j < td; ++j) {
      if (j % 256 == 0) z = c.amp * std::exp(c.rate * (j * dt));
      s[j] += z;
      z *= q;
    }
  }
  return s;
}

double noise_sigma_for_snr(const Molecule& m, int channel, double snr) {
  if (!(snr > 0.0)) return 0.0;
  const ThermalState t = thermal_equilibrium(m);
  double ref = 0.0;
  for (int k : m.spins_on(channel)) ref += t.polarization[k];
  return ref / snr;
}

std::optional<OptionProblem> AcquisitionOptions::check() const {
  using R = OptionRule;
  OptionChecks c;
  c.check("scans", scans, R::between(1L, 1000000L))
      .require(phase_cycle != PhaseCycle::kCyclops || scans % 4 == 0, "phase_cycle", "cyclops",
               "CYCLOPS needs a multiple of 4 scans (scans = " + std::to_string(scans) + ")")
      .check("snr", snr, R::at_least(0).and_finite());
  return c.problem();
}

void AcquisitionOptions::validate() const {
  if (const auto p = check()) throw InputError(p->message("acquisition"));
}

std::optional<OptionProblem> ProcessingOptions::check(int td) const {
  using R = OptionRule;
  OptionChecks c;
  const auto power_of_two = [](long v) { return v > 0 && (v & (v - 1)) == 0; };
  if (zero_fill != 0)
    c.require(zero_fill >= td, "zero_fill", std::to_string(zero_fill),
              "must be >= td (" + std::to_string(td) + ")")
        .require(zero_fill <= (1 << 24) && power_of_two(zero_fill), "zero_fill",
                 std::to_string(zero_fill), "must be a power of two (at most 2^24)");
  else
    c.require(
        power_of_two(td), "zero_fill", "0",
        "td = " + std::to_string(td) + " is not a power of two: give a zero_fill that is one");
  c.check("lb_hz", lb_hz, R::at_least(0).and_finite())
      .check("gb_hz", gb_hz, R::at_least(0).and_finite())
      .check("phase0_rad", phase0_rad, R::finite())
      .check("phase1_rad", phase1_rad, R::finite());
  return c.problem();
}

void ProcessingOptions::validate(int td) const {
  if (const auto p = check(td)) throw InputError(p->message("processing"));
}

ExperimentResult run_experiment(const Sample& sample, const Sequence& seq, const Mat& rho0,
                                const AcquisitionOptions& acq, const RunOptions& run) {
  const AcquireElement* a = nullptr;
  for (const auto& e : seq.elements)
    if ((a = std::get_if<AcquireElement>(&e))) break;
  if (!a) throw InputError("sequence " + seq.name + ": has no acquisition element");
  acq.validate();
  const Molecule& m = sample.molecule;
  DynamicsOptions dopt;
  dopt.strong_coupling = sample.strong_coupling;
  dopt.offset_error_hz = sample.offset_error_hz;
  const Mat h0 = Dynamics(m, dopt).h0();

  const int cycle = acq.phase_cycle == PhaseCycle::kCyclops ? 4 : 1;
  const int distinct = std::min(cycle, acq.scans);
  ExperimentResult out;
  std::vector<std::vector<cplx>> clean(distinct);
  for (int j = 0; j < distinct; ++j) {
    RunOptions r = run;
    const double ph = j * kPi / 2;
    r.channel_phase_rad.assign(m.channels.size(), 0.0);
    if (!run.channel_phase_rad.empty()) r.channel_phase_rad = run.channel_phase_rad;
    r.channel_phase_rad[a->channel] += ph;
    const Mat rho = run_sequence(sample, seq, rho0, r);
    if (j == 0) out.rho_acquired = rho;
    clean[j] = fid_signal(m, h0, rho, a->channel, a->sw_hz, a->td, a->receiver_phase_rad + ph);
  }
  Fid& f = out.fid;
  f.channel = a->channel;
  f.sw_hz = a->sw_hz;
  f.receiver_phase_rad = a->receiver_phase_rad;
  f.scans = acq.scans;
  f.noise_sigma = noise_sigma_for_snr(m, a->channel, acq.snr);
  f.points.assign(a->td, 0.0);
  std::mt19937_64 rng(acq.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int s = 0; s < acq.scans; ++s) {
    const auto& c = clean[s % distinct];
    for (int j = 0; j < a->td; ++j) {
      f.points[j] += c[j];
      if (f.noise_sigma > 0.0) {
        const double re = normal(rng), im = normal(rng);
        f.points[j] += f.noise_sigma * cplx(re, im);
      }
    }
  }
  return out;
}

Spectrum process(const Molecule& m, const Fid& fid, const ProcessingOptions& o) {
  const int td = static_cast<int>(fid.points.size());
  o.validate(td);
  const int n = o.zero_fill > 0 ? o.zero_fill : td;
  fftw_complex* buf = fftw_alloc_complex(n);
  const double dt = fid.dwell_s();
  for (int j = 0; j < n; ++j) {
    cplx v = 0.0;
    if (j < td) {
      const double t = j * dt;
      double w = 1.0;
      if (o.lb_hz != 0.0) w *= std::exp(-kPi * o.lb_hz * t);
      if (o.gb_hz != 0.0) w *= std::exp(-std::pow(kPi * o.gb_hz * t, 2) / (4.0 * std::log(2.0)));
      if (j == 0 && o.halve_first_point) w *= 0.5;
      v = w * fid.points[j];
    }
    buf[j][0] = v.real();
    buf[j][1] = v.imag();
  }
  // FFTW_ESTIMATE: no planning time, and the plan does not touch the data before execution.
  fftw_plan plan = fftw_plan_dft_1d(n, buf, buf, FFTW_FORWARD, FFTW_ESTIMATE);
  fftw_execute(plan);
  fftw_destroy_plan(plan);
  Spectrum s;
  s.hz.resize(n);
  s.ppm.resize(n);
  s.values.resize(n);
  const Channel& ch = m.channels.at(fid.channel);
  for (int i = 0; i < n; ++i) {
    const int bin = (i + n / 2) % n;  // ascending: -n/2 .. n/2-1
    const int signed_bin = bin < n / 2 ? bin : bin - n;
    const double f = signed_bin * fid.sw_hz / n;
    const double phase = o.phase0_rad + o.phase1_rad * f / fid.sw_hz;
    s.hz[i] = f;
    s.ppm[i] = ch.ppm_of_offset(f + ch.carrier_hz);
    s.values[i] = cplx(buf[bin][0], buf[bin][1]) * std::polar(1.0, phase);
  }
  fftw_free(buf);
  return s;
}

std::vector<std::string> folded_lines(const Molecule& m, int channel, double sw_hz) {
  std::vector<std::string> out;
  const auto spins = m.spins_on(channel);
  for (const auto& l : m.lines()) {
    if (std::find(spins.begin(), spins.end(), l.spin) == spins.end()) continue;
    const double f = l.frequency_hz;
    if (f >= -0.5 * sw_hz && f < 0.5 * sw_hz) continue;
    const double folded = f - sw_hz * std::floor((f + 0.5 * sw_hz) / sw_hz);
    out.push_back(fmt::format("{} #{} at {:.1f} Hz folds to {:.1f} Hz", m.nuclei[l.spin].label,
                              l.index, f, folded));
  }
  return out;
}

}  // namespace nmrc::spectrometer
