#include "nmrc/spectrometer/propagation.hpp"

#include <boost/numeric/odeint.hpp>
#include <cmath>
#include <string>
#include <type_traits>

#include "lindblad_kernel.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/propagators.hpp"

namespace nmrc::spectrometer {

namespace {
// False for every type, but only once instantiated: a visit chain's last branch fails to
// compile for an Element type no earlier branch names, instead of silently doing nothing.
template <class>
constexpr bool kUnhandledElement = false;
}  // namespace

std::vector<Segment> segments_of(const Element& e, int channels) {
  std::vector<Segment> out;
  auto blank = [channels](double dt) {
    Segment s;
    s.duration_s = dt;
    s.ux_hz.assign(channels, 0.0);
    s.uy_hz.assign(channels, 0.0);
    return s;
  };
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, HardPulseElement>) {
          // A negative angle is the same rectangle at phase + pi.
          const double phase = x.angle_rad < 0 ? x.phase_rad + kPi : x.phase_rad;
          Segment s = blank(std::abs(x.angle_rad) / (kTwoPi * x.rf_hz));
          s.ux_hz[x.channel] = x.rf_hz * std::cos(phase);
          s.uy_hz[x.channel] = x.rf_hz * std::sin(phase);
          if (s.duration_s > 0) out.push_back(s);
        } else if constexpr (std::is_same_v<T, ShapedPulseElement>) {
          const Eigen::Index steps = x.ux_hz.empty() ? 0 : x.ux_hz.front().size();
          for (Eigen::Index j = 0; j < steps; ++j) {
            Segment s = blank(x.dt_s);
            for (size_t c = 0; c < x.channels.size(); ++c) {
              s.ux_hz[x.channels[c]] = x.ux_hz[c](j);
              s.uy_hz[x.channels[c]] = x.uy_hz[c](j);
            }
            out.push_back(std::move(s));
          }
        } else if constexpr (std::is_same_v<T, DelayElement> ||
                             std::is_same_v<T, GradientElement>) {
          if (x.duration_s > 0) out.push_back(blank(x.duration_s));
        } else if constexpr (std::is_same_v<T, RotationElement> ||
                             std::is_same_v<T, UnitaryElement> ||
                             std::is_same_v<T, AcquireElement>) {
          // Instantaneous (ideal rotations and unitaries) or not an evolution (the acquisition
          // records the FID elsewhere): no segments.
        } else {
          static_assert(kUnhandledElement<T>, "segments_of: say how a new Element type evolves");
        }
      },
      e);
  return out;
}

// ---- exact engine -------------------------------------------------------------------------

Mat exact_unitary(const Dynamics& d, const Sequence& seq) {
  std::vector<Segment> pieces;
  for (const auto& e : seq.elements) {
    const auto p = segments_of(e, d.channels());
    pieces.insert(pieces.end(), p.begin(), p.end());
  }
  return exact_unitary(d, pieces);
}

Mat exact_unitary(const Dynamics& d, const std::vector<Segment>& segments) {
  Mat u = Mat::Identity(d.dim(), d.dim());
  for (const auto& s : segments) {
    const HermitianExp he(d.hamiltonian(s.ux_hz.data(), s.uy_hz.data()));
    u = he.propagator(s.duration_s) * u;
  }
  return u;
}

Mat exact_superoperator(const Dynamics& d, const std::vector<Segment>& segments) {
  const int d2 = d.dim() * d.dim();
  Mat s = Mat::Identity(d2, d2);
  for (const auto& seg : segments) {
    const Mat l = d.liouvillian(d.hamiltonian(seg.ux_hz.data(), seg.uy_hz.data()));
    s = expm(l * seg.duration_s) * s;
  }
  return s;
}

Mat DeviationMap::apply(const Mat& rho) const {
  const Eigen::Index dim = rho.rows();
  const cplx tr = rho.trace();
  const Mat ident = (tr / static_cast<double>(dim)) * Mat::Identity(dim, dim);
  const Mat dev = rho - ident;
  const Vec out = s * Eigen::Map<const Vec>(dev.data(), dim * dim) + tr * drift;
  return Eigen::Map<const Mat>(out.data(), dim, dim) + ident;
}

DeviationMap exact_deviation_map(const Dynamics& d, const std::vector<Segment>& segments) {
  const int dim = d.dim(), d2 = dim * dim;
  Mat c = Mat::Zero(dim, dim);
  if (d.relaxing())
    add_dissipator(d.rates(), d.spins(), Mat::Identity(dim, dim) / static_cast<double>(dim), c);
  DeviationMap m{Mat::Identity(d2, d2), Vec::Zero(d2)};
  for (const auto& seg : segments) {
    Mat g = Mat::Zero(d2 + 1, d2 + 1);
    g.topLeftCorner(d2, d2) = d.liouvillian(d.hamiltonian(seg.ux_hz.data(), seg.uy_hz.data()));
    g.topRightCorner(d2, 1) = Eigen::Map<const Vec>(c.data(), d2);
    deviation_map_step(expm(g * seg.duration_s), m.s, m.drift);  // lindblad_kernel.cpp
  }
  return m;
}

Mat exact_step(const Dynamics& d, const Mat& h, double dt_s, const Mat& rho) {
  // Deviation arithmetic: rho = (tr/dim) I + Delta. The identity part only feeds the constant
  // drift c = D((tr/dim) I) (non-zero for T1 towards unequal populations), so
  // exp(hL) rho - (tr/dim) I = exp(hL) Delta + sum_{j>=1} h^j/j! L^(j-1) c. Propagating Delta
  // keeps its relative precision when it is ~1e-7 of the identity part (thermal states).
  const Eigen::Index dim = rho.rows();
  const cplx tr = rho.trace();
  const Mat ident = (tr / static_cast<double>(dim)) * Mat::Identity(dim, dim);
  Mat drift = Mat::Zero(dim, dim);
  if (d.relaxing()) add_dissipator(d.rates(), d.spins(), ident, drift);
  // Bound on ||L||: ||-i[H, .]|| <= 2 ||H||_1 and the dissipator's coefficients sum to at most
  // 2 sum(rates). Sub-steps keep each Taylor argument's norm <= 1, so terms fall like 1/j!.
  // ad_H = ad_(H - cI): shifting H by the middle of its diagonal halves the norm bound (and
  // the number of sub-steps) for offset-dominated Hamiltonians without changing the result.
  const double c = 0.5 * (h.diagonal().real().maxCoeff() + h.diagonal().real().minCoeff());
  const Mat hs = h - c * Mat::Identity(dim, dim);
  const double h_norm = hs.cwiseAbs().colwise().sum().maxCoeff();
  const double theta = dt_s * (2.0 * h_norm + 2.0 * d.rates().total());
  const int substeps = std::max(1, static_cast<int>(std::ceil(theta)));
  const double hstep = dt_s / substeps;
  Mat x = rho - ident;
  taylor_steps(d, hs, drift, hstep, substeps, x);  // lindblad_kernel.cpp
  return x + ident;
}

Mat exact_state(const Dynamics& d, const std::vector<Segment>& segments, const Mat& rho) {
  if (!d.relaxing()) {
    const Mat u = exact_unitary(d, segments);
    return u * rho * u.adjoint();
  }
  Mat x = rho;
  for (const auto& s : segments)
    x = exact_step(d, d.hamiltonian(s.ux_hz.data(), s.uy_hz.data()), s.duration_s, x);
  return x;
}

// ---- Odeint engine ------------------------------------------------------------------------

namespace {

using State = std::vector<double>;
namespace ode = boost::numeric::odeint;

Eigen::Map<const Mat> as_mat(const State& x, int d) {
  return Eigen::Map<const Mat>(reinterpret_cast<const cplx*>(x.data()), d, d);
}
Eigen::Map<Mat> as_mat(State& x, int d) {
  return Eigen::Map<Mat>(reinterpret_cast<cplx*>(x.data()), d, d);
}

// Integrates over each interval [b_i, b_{i+1}] with a fresh controlled RKF78 stepper;
// hamiltonian(i, t) gives H on interval i. `lindblad` selects rho' = L(rho), else U' = -iHU.
// States are integrated as deviations: rho = (tr/dim) I + Delta with
// dDelta/dt = -i[H, Delta] + D(Delta) + D((tr/dim) I), so the tolerances apply to Delta.
template <class HamiltonianAt>
Mat integrate(const Dynamics& d, HamiltonianAt hamiltonian, const std::vector<double>& bp,
              const Mat& x0, bool lindblad, const OdeintTolerances& tol) {
  const int dim = d.dim();
  State x(2 * static_cast<size_t>(dim) * dim);
  Mat ident = Mat::Zero(dim, dim), drift = Mat::Zero(dim, dim);
  if (lindblad) {
    ident = (x0.trace() / static_cast<double>(dim)) * Mat::Identity(dim, dim);
    if (d.relaxing()) add_dissipator(d.rates(), d.spins(), ident, drift);
  }
  as_mat(x, dim) = x0 - ident;
  // The absolute tolerance is relative to the initial deviation's largest element, so that a
  // thermal deviation of ~1e-7 is integrated as accurately as an O(1) state.
  const double scale = lindblad ? std::max(1e-300, (x0 - ident).cwiseAbs().maxCoeff()) : 1.0;
  Mat h(dim, dim), out(dim, dim);
  for (size_t i = 0; i + 1 < bp.size(); ++i) {
    const double t0 = bp[i], t1 = bp[i + 1];
    if (!(t1 > t0)) continue;
    auto system = [&](const State& s, State& ds, double t) {
      h = hamiltonian(i, t);
      auto sm = as_mat(s, dim);
      auto dm = as_mat(ds, dim);
      if (lindblad) {
        d.lindblad_rhs(h, sm, out);
        dm = out + drift;
      } else {
        dm.noalias() = cplx(0.0, -1.0) * (h * sm);
      }
    };
    auto stepper = ode::make_controlled(tol.abs_tol * scale, tol.rel_tol,
                                        ode::runge_kutta_fehlberg78<State>());
    ode::integrate_adaptive(stepper, system, x, t0, t1, (t1 - t0) / 8.0);
  }
  return as_mat(x, dim) + ident;
}

std::vector<double> edges(const std::vector<Segment>& segments) {
  std::vector<double> bp{0.0};
  for (const auto& s : segments) bp.push_back(bp.back() + s.duration_s);
  return bp;
}

std::vector<Mat> segment_hamiltonians(const Dynamics& d, const std::vector<Segment>& segments) {
  std::vector<Mat> hs;
  hs.reserve(segments.size());
  for (const auto& s : segments) hs.push_back(d.hamiltonian(s.ux_hz.data(), s.uy_hz.data()));
  return hs;
}

auto waveform_hamiltonian(const Dynamics& d, const Waveform& w) {
  return [&d, &w, ux = std::vector<double>(d.channels()), uy = std::vector<double>(d.channels())](
             size_t, double t) mutable {
    w(t, ux.data(), uy.data());
    return d.hamiltonian(ux.data(), uy.data());
  };
}

}  // namespace

Mat odeint_unitary(const Dynamics& d, const Waveform& w, const std::vector<double>& breakpoints,
                   const OdeintTolerances& tol) {
  return integrate(d, waveform_hamiltonian(d, w), breakpoints, Mat::Identity(d.dim(), d.dim()),
                   false, tol);
}

Mat odeint_state(const Dynamics& d, const Waveform& w, const std::vector<double>& breakpoints,
                 const Mat& rho0, const OdeintTolerances& tol) {
  return integrate(d, waveform_hamiltonian(d, w), breakpoints, rho0, true, tol);
}

Mat odeint_unitary(const Dynamics& d, const std::vector<Segment>& segments,
                   const OdeintTolerances& tol) {
  const auto hs = segment_hamiltonians(d, segments);
  return integrate(
      d, [&hs](size_t i, double) -> const Mat& { return hs[i]; }, edges(segments),
      Mat::Identity(d.dim(), d.dim()), false, tol);
}

Mat odeint_state(const Dynamics& d, const std::vector<Segment>& segments, const Mat& rho0,
                 const OdeintTolerances& tol) {
  const auto hs = segment_hamiltonians(d, segments);
  return integrate(
      d, [&hs](size_t i, double) -> const Mat& { return hs[i]; }, edges(segments), rho0, true, tol);
}

Mat odeint_superoperator(const Dynamics& d, const std::vector<Segment>& segments,
                         const OdeintTolerances& tol) {
  const int dim = d.dim();
  Mat s(dim * dim, dim * dim);
  Mat unit = Mat::Zero(dim, dim);
  for (int j = 0; j < dim; ++j)
    for (int i = 0; i < dim; ++i) {
      unit(i, j) = 1.0;
      const Mat out = odeint_state(d, segments, unit, tol);
      s.col(i + j * dim) = Eigen::Map<const Vec>(out.data(), dim * dim);
      unit(i, j) = 0.0;
    }
  return s;
}

// ---- API for the compiler -----------------------------------------------------------------

namespace {

void check_pulse(const Molecule& m, const ShapedPulseElement& p) {
  const std::string where = "shaped pulse " + (p.name.empty() ? std::string("(unnamed)") : p.name);
  if (!(p.dt_s > 0.0))
    throw InputError(where + ": dt_s = " + std::to_string(p.dt_s) + ": must be > 0");
  if (p.channels.size() != p.ux_hz.size() || p.channels.size() != p.uy_hz.size())
    throw InputError(where + ": channels, ux_hz and uy_hz must have the same number of entries");
  for (size_t c = 0; c < p.channels.size(); ++c) {
    if (p.channels[c] < 0 || p.channels[c] >= static_cast<int>(m.channels.size()))
      throw InputError(where + ": channel index " + std::to_string(p.channels[c]) +
                       ": not a channel of molecule " + m.name);
    if (p.ux_hz[c].size() != p.ux_hz.front().size() || p.uy_hz[c].size() != p.ux_hz.front().size())
      throw InputError(where + ": every ux_hz/uy_hz array must have the same length");
  }
}

// The dynamics options of one B1 scale, for a pulse checked against its molecule first.
DynamicsOptions checked_options(const Molecule& m, const ShapedPulseElement& pulse,
                                const PropagationOptions& o, double b1, bool relax) {
  check_pulse(m, pulse);
  DynamicsOptions d;
  d.strong_coupling = o.strong_coupling;
  d.b1_scale = b1;
  d.offset_error_hz = o.offset_error_hz;
  d.relaxation = relax;
  return d;
}

}  // namespace

ShapedPulseElement through_probe(const ShapedPulseElement& pulse,
                                 const PropagationOptions& options) {
  std::vector<const Distortion*> per;
  bool any = false;
  for (int c : pulse.channels) {
    per.push_back(c >= 0 && c < static_cast<int>(options.probe.size()) ? options.probe[c].get()
                                                                       : nullptr);
    any = any || per.back();
  }
  return any ? distort(pulse, per) : pulse;
}

Mat simulate_unitary(const Molecule& m, const ShapedPulseElement& pulse, double b1_scale,
                     const PropagationOptions& options) {
  const Dynamics d(m, checked_options(m, pulse, options, b1_scale, false));
  const auto segs = segments_of(through_probe(pulse, options), d.channels());
  if (options.engine == Engine::kExact) return exact_unitary(d, segs);
  return odeint_unitary(d, segs, options.tolerances);
}

Mat simulate_superoperator(const Molecule& m, const ShapedPulseElement& pulse, double b1_scale,
                           const PropagationOptions& options) {
  const Dynamics d(m, checked_options(m, pulse, options, b1_scale, true));
  const auto segs = segments_of(through_probe(pulse, options), d.channels());
  if (options.engine == Engine::kExact) return exact_superoperator(d, segs);
  return odeint_superoperator(d, segs, options.tolerances);
}

Mat simulate_state(const Molecule& m, const ShapedPulseElement& pulse, const Mat& rho0,
                   double b1_scale, bool relaxation, const PropagationOptions& options) {
  const Dynamics d(m, checked_options(m, pulse, options, b1_scale, relaxation));
  if (rho0.rows() != d.dim() || rho0.cols() != d.dim())
    throw InputError("rho0: must be " + std::to_string(d.dim()) + " x " + std::to_string(d.dim()) +
                     " for molecule " + m.name);
  const auto segs = segments_of(through_probe(pulse, options), d.channels());
  if (options.engine == Engine::kExact) return exact_state(d, segs, rho0);
  return odeint_state(d, segs, rho0, options.tolerances);
}

Mat unitary_superoperator(const Mat& u) { return kron(u.conjugate(), u); }

double process_fidelity(const Mat& superop, const Mat& target_unitary) {
  const double d = static_cast<double>(target_unitary.rows());
  const Mat st = unitary_superoperator(target_unitary);
  return (st.adjoint() * superop).trace().real() / (d * d);
}

double average_fidelity_from_process(double f, int dim) { return (dim * f + 1.0) / (dim + 1.0); }

}  // namespace nmrc::spectrometer
