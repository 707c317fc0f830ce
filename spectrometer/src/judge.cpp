#include "nmrc/spectrometer/judge.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "nmrc/core/error.hpp"
#include "nmrc/core/information.hpp"

namespace nmrc::spectrometer {

namespace {

// F = |Tr(W^dag U)| / norm of the pulse's propagator at RF scale b1 (the one fidelity of the
// judge and of ensemble_fidelity); up to diagonal phases sum_j |(W^dag U)_jj| / norm.
double member_fidelity(const Molecule& m, const ShapedPulseElement& pulse, const Mat& w,
                       double norm, double b1, const PropagationOptions& po,
                       bool diagonal_phases = false) {
  const Mat u = simulate_unitary(m, pulse, b1, po);
  if (diagonal_phases) return gate_fidelity_diagonal_phases(w, u) * w.rows() / norm;
  return std::abs((w.adjoint() * u).trace()) / norm;
}

}  // namespace

std::optional<OptionProblem> JudgeOptions::check() const {
  using R = OptionRule;
  OptionChecks c;
  c.check_not_empty("b1_scale", b1_scale, "value")
      .check_each("b1_scale", b1_scale, R::greater_than(0).and_finite())
      .check_not_empty("offset_hz", offset_hz, "value (0 for none)")
      .check_each("offset_hz", offset_hz, R::finite())
      .check("fidelity_target", fidelity_target, R::in_open_closed(0, 1));
  return c.problem();
}

void JudgeOptions::validate() const {
  if (const auto p = check()) throw InputError(p->message("judge options"));
}

Judgement judge_pulse(const Molecule& m, const ShapedPulseElement& pulse, const JudgeTarget& target,
                      const JudgeOptions& o) {
  o.validate();
  const int n = m.size();
  const int d = 1 << n;
  if (target.w.rows() != d || target.w.cols() != d)
    throw InputError("judge: target is " + std::to_string(target.w.rows()) + "x" +
                     std::to_string(target.w.cols()) + " but molecule " + m.name + " needs " +
                     std::to_string(d) + "x" + std::to_string(d));
  const double norm = target.norm > 0 ? target.norm : static_cast<double>(d);
  Judgement res;
  res.name = pulse.name;
  res.target = o.fidelity_target;
  res.engine = o.engine == Engine::kExact ? "spectrometer exact" : "spectrometer odeint";
  // F of one member: the pulse at RF scale b1 with every spin of its channels shifted by off.
  auto fidelity_at = [&](double b1, double off) {
    PropagationOptions po;
    po.engine = o.engine;
    po.probe = o.probe;
    if (off != 0.0) {
      po.offset_error_hz.assign(n, 0.0);
      for (int c : pulse.channels)
        for (int k : m.spins_on(c)) po.offset_error_hz[k] = off;
    }
    return member_fidelity(m, pulse, target.w, norm, b1, po, target.diagonal_phases);
  };
  const int total = 1 + static_cast<int>(o.b1_scale.size() * o.offset_hz.size()) +
                    (o.relaxation && target.unitary ? 1 : 0);
  int done = 0;
  auto report = [&](const std::string& what) {
    if (o.progress) o.progress(done++, total, what);
  };
  report("nominal B1");
  res.nominal = fidelity_at(1.0, 0.0);
  res.min = 1.0;
  bool all_finite = std::isfinite(res.nominal);
  for (double b1 : o.b1_scale)
    for (double off : o.offset_hz) {
      report(fmt::format("B1 x {:g}, offset {:g} Hz", b1, off));
      const double f = fidelity_at(b1, off);
      res.b1_scale.push_back(b1);
      res.offset_hz.push_back(off);
      res.values.push_back(f);
      all_finite = all_finite && std::isfinite(f);
      res.min = std::min(res.min, f);
    }
  if (!all_finite) res.min = std::nan("");
  res.passed = all_finite && res.min >= res.target;
  if (o.relaxation && target.unitary) {
    res.relaxation = true;
    res.engine += " + Lindblad relaxation";
    // Nominal B1 only: one 4^n superoperator per step is costly.
    PropagationOptions po;
    po.engine = o.engine;
    po.probe = o.probe;
    report(fmt::format("Lindblad relaxation ({} steps of a {}x{} superoperator)",
                       pulse.ux_hz.empty() ? 0 : pulse.ux_hz[0].size(), d * d, d * d));
    const Mat s = simulate_superoperator(m, pulse, 1.0, po);
    Mat w = target.w;
    if (target.diagonal_phases)
      w = target.w * diagonal_phase_fit(target.w, simulate_unitary(m, pulse, 1.0, po)).asDiagonal();
    res.process_relaxed = {process_fidelity(s, w)};
    res.process_relaxed_nominal = res.process_relaxed_min = res.process_relaxed[0];
  }
  return res;
}

EnsembleFidelity ensemble_fidelity(const Molecule& m, const ShapedPulseElement& pulse,
                                   const Mat& target, const std::vector<double>& b1,
                                   const std::vector<double>& weights, bool relaxation,
                                   const PropagationOptions& options) {
  if (b1.empty()) throw InputError("b1_scale: must list at least one value");
  if (weights.size() != b1.size())
    throw InputError("weights: must have one entry per b1_scale value");
  double wsum = 0.0;
  for (double w : weights) {
    if (!(w >= 0.0)) throw InputError("weights: must be >= 0");
    wsum += w;
  }
  if (!(wsum > 0.0)) throw InputError("weights: must not all be zero");
  EnsembleFidelity r;
  r.b1_scale = b1;
  const double dim = static_cast<double>(target.rows());
  for (size_t i = 0; i < b1.size(); ++i) {
    const double w = weights[i] / wsum;
    r.weights.push_back(w);
    const double g = member_fidelity(m, pulse, target, dim, b1[i], options);
    r.gate.push_back(g);
    r.weighted_gate += w * g;
    r.min_gate = std::min(r.min_gate, g);
    const double p =
        relaxation ? process_fidelity(simulate_superoperator(m, pulse, b1[i], options), target)
                   : g * g;
    r.process.push_back(p);
    r.weighted_process += w * p;
    r.min_process = std::min(r.min_process, p);
  }
  return r;
}

}  // namespace nmrc::spectrometer
