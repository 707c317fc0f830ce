#include "nmrc/spectrometer/sample.hpp"

#include <cmath>
#include <map>
#include <string>
#include <type_traits>

#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/propagators.hpp"
#include "nmrc/spectrometer/gradient_input.hpp"

namespace nmrc::spectrometer {

std::optional<GradientMode> gradient_mode_from_name(const std::string& name) {
  if (name == "exact") return GradientMode::kExact;
  if (name == "slices") return GradientMode::kSlices;
  return std::nullopt;
}

void read_gradient_options(const YamlField& gradient, GradientOptions& out) {
  if (const auto mode = gradient.find("mode")) {
    const auto named = gradient_mode_from_name(mode->as_string());
    if (!named) mode->fail("must be exact or slices");
    out.mode = *named;
  }
  if (const auto slices = gradient.find("slices"))
    out.slices = static_cast<int>(slices->as_int(1, kMaxGradientSlices));
  if (const auto length = gradient.find("length_cm")) out.length_cm = length->as_positive(1e3);
}

std::optional<OptionProblem> Sample::check() const {
  using R = OptionRule;
  const auto list = OptionChecks::list_text;
  double sum = 0.0;
  for (double w : b1_weight) sum += w;
  OptionChecks c;
  c.check_not_empty("b1.scale", b1_scale, "value")
      .require(b1_weight.size() == b1_scale.size(), "b1.weights", list(b1_weight),
               "must have one entry per b1 scale value (" + std::to_string(b1_scale.size()) + ")")
      .check_each("b1.weights", b1_weight, R::at_least(0))
      .require(sum > 0.0, "b1.weights", list(b1_weight), "must not all be zero")
      .check_each("b1.scale", b1_scale, R::greater_than(0))
      .require(
          offset_error_hz.empty() || static_cast<int>(offset_error_hz.size()) == molecule.size(),
          "offset_error_hz", list(offset_error_hz), "must give one value per spin")
      .check("gradient.slices", gradient.slices, R::between(1L, long{kMaxGradientSlices}))
      .check("gradient.length_cm", gradient.length_cm, R::greater_than(0));
  return c.problem();
}

void Sample::validate() const {
  if (const auto p = check())
    throw InputError("sample." + p->field + " = " + p->value + ": " + p->rule);
}

namespace {

// Magnetic quantum number of spin k in basis state a: +1/2 for |0>, -1/2 for |1>.
double m_of(int a, int k, int n) { return spin_bit(a, k, n) == 0 ? 0.5 : -0.5; }

}  // namespace

Mat coherence_filter(const Molecule& m, const Mat& rho) {
  const int n = m.size(), d = 1 << n;
  std::vector<double> gamma(n);
  double gmax = 0.0;
  for (int k = 0; k < n; ++k) {
    gamma[k] = m.gamma_hz_per_gauss(k);
    gmax = std::max(gmax, std::abs(gamma[k]));
  }
  Mat out = rho;
  for (int b = 0; b < d; ++b)
    for (int a = 0; a < d; ++a) {
      double p = 0.0;
      for (int k = 0; k < n; ++k) p += gamma[k] * (m_of(a, k, n) - m_of(b, k, n));
      if (std::abs(p) > 1e-9 * gmax) out(a, b) = 0.0;
    }
  return out;
}

Mat gradient_phase(const Molecule& m, const GradientElement& g, double z_cm, const Mat& rho) {
  const int n = m.size(), d = 1 << n;
  std::vector<double> phi(n);
  for (int k = 0; k < n; ++k)
    phi[k] = kTwoPi * m.gamma_hz_per_gauss(k) * g.strength_g_per_cm * g.shape_factor *
             g.duration_s * z_cm;
  std::vector<double> e(d, 0.0);  // sum_k phi_k m_k(a)
  for (int a = 0; a < d; ++a)
    for (int k = 0; k < n; ++k) e[a] += phi[k] * m_of(a, k, n);
  Mat out = rho;
  for (int b = 0; b < d; ++b)
    for (int a = 0; a < d; ++a) out(a, b) *= std::polar(1.0, -(e[a] - e[b]));
  return out;
}

std::vector<double> gradient_residual(const Sample& sample, const GradientElement& g) {
  const Molecule& m = sample.molecule;
  const int n = m.size(), slices = sample.gradient.slices;
  const double length = sample.gradient.length_cm;
  std::vector<double> out(n);
  for (int k = 0; k < n; ++k) {
    // a single-quantum element of spin k: m_k(a) - m_k(b) = 1, as gradient_phase turns it
    const double per_cm =
        kTwoPi * m.gamma_hz_per_gauss(k) * g.strength_g_per_cm * g.shape_factor * g.duration_s;
    cplx sum = 0.0;
    for (int j = 0; j < slices; ++j)
      sum += std::polar(1.0, -per_cm * (-0.5 * length + (j + 0.5) * length / slices));
    out[k] = std::abs(sum) / slices;
  }
  return out;
}

namespace {

// z-rotation exp(-i phi sum_{k in spins} I_z^k) restricted to `spins` (a 2^m diagonal).
Mat z_rotation(const std::vector<double>& phi_per_spin) {
  const int m = static_cast<int>(phi_per_spin.size());
  Mat r = Mat::Zero(1 << m, 1 << m);
  for (int a = 0; a < (1 << m); ++a) {
    double e = 0.0;
    for (int k = 0; k < m; ++k) e += phi_per_spin[k] * m_of(a, k, m);
    r(a, a) = std::polar(1.0, -e);
  }
  return r;
}

// Executes a sequence on one ensemble member. States: one per z-slice once a slice-mode
// gradient has split the sample, merged again after the last gradient.
class Member {
 public:
  Member(const Sample& s, double b1, const RunOptions& o)
      : sample_(s), m_(s.molecule), opt_(o), dyn_(s.molecule, [&] {
          DynamicsOptions d;
          d.strong_coupling = s.strong_coupling;
          d.b1_scale = b1;
          d.offset_error_hz = s.offset_error_hz;
          d.relaxation = s.relaxation;
          return d;
        }()) {}

  Mat run(const Sequence& seq, const Mat& rho0) {
    int last_gradient = -1;
    for (size_t i = 0; i < seq.elements.size(); ++i) {
      if (std::holds_alternative<AcquireElement>(seq.elements[i])) break;
      if (std::holds_alternative<GradientElement>(seq.elements[i]))
        last_gradient = static_cast<int>(i);
    }
    states_ = {rho0};
    for (size_t i = 0; i < seq.elements.size(); ++i) {
      const Element& e = seq.elements[i];
      if (std::holds_alternative<AcquireElement>(e)) break;
      apply(e);
      if (static_cast<int>(i) == last_gradient && states_.size() > 1) {
        Mat avg = Mat::Zero(rho0.rows(), rho0.cols());
        for (const Mat& r : states_) avg += r;
        states_ = {avg / static_cast<double>(states_.size())};
      }
    }
    return states_.front();
  }

 private:
  double channel_phase(int c) const {
    return c < static_cast<int>(opt_.channel_phase_rad.size()) ? opt_.channel_phase_rad[c] : 0.0;
  }
  double spin_phase(int k) const { return channel_phase(m_.channel_index(m_.nuclei[k].channel)); }

  template <class F>
  void each(F f) {
    for (Mat& r : states_) f(r);
  }

  void apply(const Element& e) {
    const int n = m_.size();
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, RotationElement>) {
            for (int k : x.spins) {
              const double ph = x.phase_rad + spin_phase(k);
              // exp(-i angle (cos ph I_x + sin ph I_y)) on spin k.
              Mat u(2, 2);
              const double c = std::cos(x.angle_rad / 2), s = std::sin(x.angle_rad / 2);
              u << c, cplx(0, -1) * s * std::polar(1.0, -ph), cplx(0, -1) * s * std::polar(1.0, ph),
                  c;
              each([&](Mat& r) { apply_local(r, u, {k}, n); });
            }
          } else if constexpr (std::is_same_v<T, UnitaryElement>) {
            std::vector<double> phi;
            bool any = false;
            for (int k : x.spins) {
              phi.push_back(spin_phase(k));
              any = any || phi.back() != 0.0;
            }
            Mat u = x.unitary;
            if (any) {
              const Mat rz = z_rotation(phi);
              u = rz * u * rz.adjoint();
            }
            each([&](Mat& r) { apply_local(r, u, x.spins, n); });
          } else if constexpr (std::is_same_v<T, GradientElement>) {
            evolve(segments_of(x, dyn_.channels()));
            if (sample_.gradient.mode == GradientMode::kExact) {
              each([&](Mat& r) { r = coherence_filter(m_, r); });
            } else {
              const int ns = sample_.gradient.slices;
              if (states_.size() == 1) states_.assign(ns, states_.front());
              const double len = sample_.gradient.length_cm;
              for (int j = 0; j < ns; ++j) {
                const double z = -0.5 * len + (j + 0.5) * len / ns;
                states_[j] = gradient_phase(m_, x, z, states_[j]);
              }
            }
          } else if constexpr (std::is_same_v<T, AcquireElement>) {
          } else {
            evolve(phase_shifted(segments_of(x, dyn_.channels())));
          }
        },
        e);
  }

  std::vector<Segment> phase_shifted(std::vector<Segment> segs) const {
    for (int c = 0; c < dyn_.channels(); ++c) {
      const double ph = channel_phase(c);
      if (ph == 0.0) continue;
      const double co = std::cos(ph), si = std::sin(ph);
      for (auto& s : segs) {
        const double x = s.ux_hz[c], y = s.uy_hz[c];
        s.ux_hz[c] = co * x - si * y;
        s.uy_hz[c] = si * x + co * y;
      }
    }
    return segs;
  }

  void evolve(const std::vector<Segment>& segs) {
    if (segs.empty()) return;
    if (!dyn_.relaxing()) {
      // Whole-element propagator, computed once per element and applied to every slice.
      const Mat u = opt_.engine == Engine::kExact ? exact_unitary(dyn_, segs)
                                                  : odeint_unitary(dyn_, segs, opt_.tolerances);
      // Deviation arithmetic: the identity part is invariant, so an engine's tiny departure
      // from unitarity cannot leak from it into a ~1e-7 thermal deviation.
      each([&](Mat& r) {
        const Mat ident =
            (r.trace() / static_cast<double>(r.rows())) * Mat::Identity(r.rows(), r.cols());
        r = u * (r - ident) * u.adjoint() + ident;
      });
      return;
    }
    if (opt_.engine == Engine::kOdeint) {
      each([&](Mat& r) { r = odeint_state(dyn_, segs, r, opt_.tolerances); });
      return;
    }
    if (segs.size() == 1 || states_.size() > 200) {
      // Constant Liouvillian (delays, hard pulses; possibly long, where a Taylor series would
      // need many sub-steps), or so many slices that one superoperator per step (~0.3 s for
      // 4 spins) beats propagating each slice (~1.5 ms per step each): the element's map,
      // once, then one matrix-vector product per state.
      const DeviationMap map = exact_deviation_map(dyn_, segs);
      each([&](Mat& r) { r = map.apply(r); });
      return;
    }
    each([&](Mat& r) { r = exact_state(dyn_, segs, r); });
  }

  const Sample& sample_;
  const Molecule& m_;
  const RunOptions& opt_;
  Dynamics dyn_;
  std::vector<Mat> states_;
};

}  // namespace

Mat run_sequence(const Sample& sample, const Sequence& seq, const Mat& rho0,
                 const RunOptions& options) {
  double wsum = 0.0;
  for (double w : sample.b1_weight) wsum += w;
  Mat out = Mat::Zero(rho0.rows(), rho0.cols());
  for (size_t i = 0; i < sample.b1_scale.size(); ++i) {
    if (sample.b1_weight[i] == 0.0) continue;
    Member member(sample, sample.b1_scale[i], options);
    out += (sample.b1_weight[i] / wsum) * member.run(seq, rho0);
  }
  return out;
}

}  // namespace nmrc::spectrometer
