// State preparation: spatial averaging (PPS), bath particle, temporal averaging.
// Derivations and the correction to the printed Eq. (S15): docs/preparation.md.
#include "nmrc/spectrometer/preparation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <tuple>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/states.hpp"
#include "nmrc/spectrometer/dynamics.hpp"

namespace nmrc::spectrometer {

namespace {

int spins_of_dim(Eigen::Index d) {
  int n = 0;
  while ((Eigen::Index{1} << n) < d) ++n;
  return (Eigen::Index{1} << n) == d ? n : -1;
}

// R_y(theta) = exp(-i theta sigma_y / 2).
Mat ry(double theta) {
  Mat r(2, 2);
  r << std::cos(theta / 2), -std::sin(theta / 2), std::sin(theta / 2), std::cos(theta / 2);
  return r;
}

// |0><0| (x) I + |1><1| (x) u on (control, target).
Mat controlled(const Mat& u) {
  Mat c = Mat::Identity(4, 4);
  c.block(2, 2, 2, 2) = u;
  return c;
}

UnitaryElement cnot(int control, int target) {
  Mat x(2, 2);
  x << 0, 1, 1, 0;
  return UnitaryElement{"CNOT", {control, target}, controlled(x)};
}

UnitaryElement crot(int control, int target) {
  return UnitaryElement{"C-Ry(pi/2)", {control, target}, controlled(ry(kPi / 2))};
}

void check_spins(const std::vector<int>& spins, int n, const std::string& what) {
  for (size_t i = 0; i < spins.size(); ++i) {
    if (spins[i] < 0 || spins[i] >= n)
      throw InputError(what + "[" + std::to_string(i) + "] = " + std::to_string(spins[i]) +
                       ": not a spin of the molecule (0.." + std::to_string(n - 1) + ")");
    for (size_t j = 0; j < i; ++j)
      if (spins[j] == spins[i])
        throw InputError(what + "[" + std::to_string(i) + "] = " + std::to_string(spins[i]) +
                         ": spin listed twice");
  }
}

}  // namespace

PpsFit fit_pps(const Mat& rho) {
  const Eigen::Index d = rho.rows();
  const Mat dev = deviation(rho);
  Mat u = -Mat::Identity(d, d) / static_cast<double>(d);
  u(0, 0) += 1.0;
  PpsFit f;
  // <u, dev> / <u, u> with <u, u> = (d - 1)/d (Frobenius inner product).
  f.epsilon = (u.adjoint() * dev).trace().real() / (u.squaredNorm());
  const double nd = dev.norm();
  f.error = nd > 0.0 ? (dev - f.epsilon * u).norm() / nd : 0.0;
  return f;
}

Mat pseudo_state(const Mat& rho, double epsilon) {
  NMRC_CHECK(epsilon != 0.0, "pseudo_state: epsilon must be non-zero");
  const Eigen::Index d = rho.rows();
  return (rho - (1.0 - epsilon) / static_cast<double>(d) * Mat::Identity(d, d)) / epsilon;
}

Mat from_pseudo_state(const Mat& sigma, double epsilon) {
  const Eigen::Index d = sigma.rows();
  return (1.0 - epsilon) / static_cast<double>(d) * Mat::Identity(d, d) + epsilon * sigma;
}

// ---- pseudo-pure state ----------------------------------------------------------------------

std::optional<OptionProblem> GradientPlan::check() const {
  using R = OptionRule;
  OptionChecks c;
  c.check("duration_s", duration_s, R::greater_than(0).and_finite())
      .check("length_cm", length_cm, R::greater_than(0).and_finite());
  return c.problem();
}

void GradientPlan::validate() const {
  if (const auto p = check())
    throw InputError("gradient." + p->field + " = " + p->value + ": " + p->rule);
}

GradientElement GradientPlan::element(double twists, double gamma_hz_per_g) const {
  GradientElement g;
  g.duration_s = duration_s;
  g.shape_factor = 1.0;
  // Phase difference of a Delta m = 1 coherence across the sample: 2 pi gamma G s tau L
  // (GradientElement's definition) = 2 pi twists.
  g.strength_g_per_cm =
      twists / (std::abs(gamma_hz_per_g) * g.shape_factor * duration_s * length_cm);
  return g;
}

std::optional<OptionProblem> PpsOptions::check() const {
  if (auto p = gradient.check()) {
    p->field = "gradient." + p->field;
    return p;
  }
  using R = OptionRule;
  OptionChecks c;
  c.require(twists.size() == 4, "twists", std::to_string(twists.size()) + " values",
            "must be 4 (one per step)");
  for (size_t i = 0; i < twists.size(); ++i)
    c.check("twists[" + std::to_string(i) + "]", twists[i], R::greater_than(0).and_finite());
  return c.problem();
}

void PpsOptions::validate() const {
  // A gradient problem reads as GradientPlan::validate says it ("gradient.duration_s = ...").
  if (const auto p = check())
    throw InputError((p->field.rfind("gradient.", 0) == 0 ? "" : "pps.") + p->field + " = " +
                     p->value + ": " + p->rule);
}

std::vector<PpsStep> pps_steps(const Molecule& m, const std::vector<int>& spins,
                               const PpsOptions& options) {
  options.validate();
  if (spins.size() != 4)
    throw InputError("pps.spins: " + std::to_string(spins.size()) +
                     " spins: the spatial-averaging sequence (Eq. (S15)) needs 4");
  check_spins(spins, m.size(), "pps.spins");
  const int s1 = spins[0], s2 = spins[1], s3 = spins[2], s4 = spins[3];
  const double gamma = m.gamma_hz_per_gauss(s1);

  // Step 1 angles: Z_k -> cos(theta_k) Z_k + sin(theta_k) X_k, the X part dephased; Eq. (S15)
  // needs coefficients 1, 1/2, 1/4, 1/8 (relative to spin 1's).
  std::vector<double> angle(4, 0.0);
  std::vector<double> pol(4, 1.0);
  if (options.compensate_polarization) {
    const ThermalState th = thermal_equilibrium(m);
    for (int k = 0; k < 4; ++k) pol[k] = th.polarization[spins[k]];
  }
  for (int k = 1; k < 4; ++k) {
    const double c = pol[0] / (std::ldexp(1.0, k) * pol[k]);
    if (!(std::abs(c) <= 1.0))
      throw InputError("pps.compensate_polarization: spin " + m.nuclei[spins[k]].label +
                       " is too weakly polarised for the ratio 1/" + std::to_string(1 << k) +
                       " (cos theta = " + fmt::format("{:.12g}", c) + ")");
    angle[k] = std::acos(c);
  }

  std::vector<PpsStep> steps(4);
  steps[0].name = "U_p1 G_z";
  steps[0].description =
      "R_y(arccos 1/2) on spin 2, R_y(arccos 1/4) on spin 3, R_y(arccos 1/8) "
      "on spin 4; gradient";
  for (int k = 1; k < 4; ++k)
    steps[0].elements.push_back(RotationElement{{spins[k]}, angle[k], kPi / 2});
  steps[0].elements.push_back(options.gradient.element(options.twists[0], gamma));

  steps[1].name = "U_p2 G_z";
  steps[1].description =
      "CNOT(2 -> 1), CNOT(3 -> 2), C-R_y(pi/2) on spin 3 if spin 4 = |1>; "
      "gradient";
  steps[1].elements.push_back(cnot(s2, s1));
  steps[1].elements.push_back(cnot(s3, s2));
  steps[1].elements.push_back(crot(s4, s3));
  steps[1].elements.push_back(options.gradient.element(options.twists[1], gamma));

  steps[2].name = "U_p3 G_z";
  steps[2].description = "C-R_y(pi/2) on spin 2 if spin 3 = |1>; gradient";
  steps[2].elements.push_back(crot(s3, s2));
  steps[2].elements.push_back(options.gradient.element(options.twists[2], gamma));

  steps[3].name = "U_p4 G_z";
  steps[3].description = "C-R_y(pi/2) on spin 1 if spin 2 = |1>; gradient";
  steps[3].elements.push_back(crot(s2, s1));
  steps[3].elements.push_back(options.gradient.element(options.twists[3], gamma));
  return steps;
}

Sequence pps_sequence(const std::vector<PpsStep>& steps) {
  Sequence s;
  s.name = "pps";
  for (const auto& st : steps)
    s.elements.insert(s.elements.end(), st.elements.begin(), st.elements.end());
  return s;
}

namespace {

// Pauli string over spins 1..4 with Z on the listed (1-based) spins.
std::string zs(std::initializer_list<int> on) {
  std::string p = "IIII";
  for (int k : on) p[k - 1] = 'Z';
  return p;
}

}  // namespace

std::map<std::string, double> eq_s15_terms(int step) {
  std::map<std::string, double> t;
  switch (step) {
    case 0:  // Eq. (S14): sum_k sigma_z^k
      for (int k = 1; k <= 4; ++k) t[zs({k})] = 1.0;
      break;
    case 1:
      t[zs({1})] = 1.0, t[zs({2})] = 0.5, t[zs({3})] = 0.25, t[zs({4})] = 0.125;
      break;
    case 2:  // corrected: + sigma_z^3 / 8 (see eq_s15_printed_step2)
      t = eq_s15_printed_step2();
      t[zs({3})] = 0.125;
      break;
    case 3:
      for (auto p : {zs({1, 2, 3}), zs({1, 2}), zs({1, 2, 3, 4}), zs({1, 2, 4})}) t[p] = 0.25;
      for (auto p : {zs({2}), zs({2, 3}), zs({2, 3, 4}), zs({2, 4}), zs({3}), zs({3, 4}), zs({4})})
        t[p] = 0.125;
      break;
    case 4:  // ((I + Z1)(I + Z2)(I + Z3)(I + Z4) - I) / 8: every non-empty product of Z's.
      for (int mask = 1; mask < 16; ++mask) {
        std::string p = "IIII";
        for (int k = 0; k < 4; ++k)
          if (mask >> k & 1) p[k] = 'Z';
        t[p] = 0.125;
      }
      break;
    default:
      NMRC_CHECK(false, "eq_s15_terms: step must be 0..4");
  }
  return t;
}

std::map<std::string, double> eq_s15_printed_step2() {
  return {{zs({1, 2, 3}), 0.5},  {zs({1, 2, 3, 4}), 0.5}, {zs({2, 3}), 0.25},
          {zs({2, 3, 4}), 0.25}, {zs({3, 4}), 0.125},     {zs({4}), 0.125}};
}

Mat run_deviation(const Sample& sample, const Sequence& seq, const Mat& rho,
                  const RunOptions& options) {
  if (sample.relaxation) return run_sequence(sample, seq, rho, options);
  const Eigen::Index d = rho.rows();
  const cplx share = rho.trace() / static_cast<double>(d);
  // Without relaxation every element is linear and unital (U I U^dag = I, the gradient keeps
  // the diagonal): run the deviation alone so that its ~1e-7 scale keeps full precision.
  return share * Mat::Identity(d, d) + run_sequence(sample, seq, deviation(rho), options);
}

PpsResult run_pps(const Sample& sample, const std::vector<int>& spins,
                  const std::vector<PpsStep>& steps, const RunOptions& options) {
  NMRC_CHECK(spins.size() == 4 && steps.size() == 4, "run_pps: 4 spins and 4 steps");
  const Molecule& m = sample.molecule;
  const int n = m.size();
  const ThermalState th = thermal_equilibrium(m);
  PpsResult r;
  // Eq. (S14)'s coefficient of sigma_z^1 (spin 1's polarisation / 2^n).
  r.thermal_epsilon = th.polarization[spins[0]] / static_cast<double>(1 << n);
  r.rho_before = th.rho;
  const Eigen::Index d = th.rho.rows();
  const Mat id = Mat::Identity(d, d) / static_cast<double>(d);
  // Without relaxation the deviation is propagated on its own (every element is linear and
  // unital), built exactly as Eq. (S14)'s sum_k (p_k / 2^n) sigma_z^k: stored on top of I/16, a
  // 1e-7 deviation keeps only ~1e-11 relative precision.
  const bool split = !sample.relaxation;
  Mat state = split ? Mat(th.rho - id) : th.rho;
  if (split)
    for (Eigen::Index a = 0; a < d; ++a) {
      double v = 0.0;
      for (int k = 0; k < n; ++k)
        v += (spin_bit(static_cast<int>(a), k, n) == 0 ? 1.0 : -1.0) * th.polarization[k] /
             static_cast<double>(d);
      state(a, a) = v;
    }
  const Mat start = state;
  auto deviation_from_s15 = [&](const Mat& x, int step) {
    const auto expected = eq_s15_terms(step);
    double worst = 0.0;
    for (const auto& [p, a] : pauli_coefficients(deviation(x), 0.0)) {
      // Paper string: character j is molecule spin spins[j]; other spins must be I.
      std::string q(4, 'I');
      bool outside = false;
      for (int k = 0; k < n; ++k) {
        const auto it = std::find(spins.begin(), spins.end(), k);
        if (it == spins.end()) {
          outside = outside || p[k] != 'I';
        } else {
          q[it - spins.begin()] = p[k];
        }
      }
      double want = 0.0;
      if (!outside) {
        const auto e = expected.find(q);
        if (e != expected.end()) want = e->second;
      }
      worst = std::max(worst, std::abs(a / r.thermal_epsilon - want));
    }
    return worst;
  };
  r.step_deviation.push_back(deviation_from_s15(state, 0));
  for (size_t s = 0; s < steps.size(); ++s) {
    Sequence seq;
    seq.name = steps[s].name;
    seq.elements = steps[s].elements;
    state = run_sequence(sample, seq, state, options);
    r.after_step.push_back(split ? Mat(id + state) : state);
    r.step_deviation.push_back(deviation_from_s15(state, static_cast<int>(s) + 1));
  }
  // The final state from one run of the whole sequence: in the slice model the slices then
  // persist from the first gradient to the last, so any gradient echo would show here.
  const Mat last = run_sequence(sample, pps_sequence(steps), start, options);
  r.rho_after = split ? Mat(id + last) : last;
  r.fit = fit_pps(last);  // fit_pps works on the traceless part
  return r;
}

// ---- bath particle -------------------------------------------------------------------------

double bath_rotation_angle(double temperature) {
  if (!(temperature > 0.0) || !std::isfinite(temperature))
    throw InputError("bath.temperature = " + fmt::format("{:.12g}", temperature) + ": must be > 0");
  const double p0 = thermal_populations(temperature).first;  // 1 / (1 + exp(-1/T))
  return 2.0 * std::acos(std::sqrt(p0));
}

Sequence bath_sequence(const Molecule& m, int spin, double temperature, const GradientPlan& plan,
                       double twists) {
  check_spins({spin}, m.size(), "bath.spin");
  plan.validate();
  Sequence s;
  s.name = "bath";
  s.elements.push_back(RotationElement{{spin}, bath_rotation_angle(temperature), kPi / 2});
  s.elements.push_back(plan.element(twists, m.gamma_hz_per_gauss(spin)));
  return s;
}

// ---- Eq. (1) ---------------------------------------------------------------------------------

// ---- temporal averaging --------------------------------------------------------------------

void validate_state(const Mat& rho, const std::string& what, double tol) {
  if (rho.rows() != rho.cols() || spins_of_dim(rho.rows()) < 1)
    throw InputError(what + ": " + std::to_string(rho.rows()) + "x" + std::to_string(rho.cols()) +
                     " matrix: must be 2^n x 2^n");
  const StateCheck c = validate_density_matrix(rho, tol);
  if (!c.ok) throw InputError(what + ": " + c.message + ": not a density matrix");
}

Diagonalization diagonalize_near_identity(const Mat& rho, double degeneracy_tol) {
  const int d = static_cast<int>(rho.rows());
  // Blocks of a conserved excitation number (popcount of the basis index) when rho commutes with
  // it, as the paper's states do (chi_pq couples |0_p 1_q> with |1_p 0_q>); else one block.
  bool conserves = true;
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j)
      if (__builtin_popcount(i) != __builtin_popcount(j) && std::abs(rho(i, j)) > 1e-15)
        conserves = false;
  std::vector<std::vector<int>> blocks;
  if (conserves) {
    for (int nexc = 0; (1 << nexc) <= d; ++nexc) {
      std::vector<int> idx;
      for (int i = 0; i < d; ++i)
        if (__builtin_popcount(i) == nexc) idx.push_back(i);
      if (!idx.empty()) blocks.push_back(idx);
    }
  } else {
    blocks.emplace_back();
    for (int i = 0; i < d; ++i) blocks.back().push_back(i);
  }
  Mat ud = Mat::Zero(d, d);
  for (const auto& idx : blocks) {
    const int m = static_cast<int>(idx.size());
    Mat sub(m, m);
    for (int a = 0; a < m; ++a)
      for (int b = 0; b < m; ++b)
        sub(a, b) = 0.5 * (rho(idx[a], idx[b]) + std::conj(rho(idx[b], idx[a])));
    const HermitianEigen es = hermitian_eigen(sub);
    const RVec& w = es.values;
    const Mat& v = es.vectors;
    const double scale = std::max(1.0, w.cwiseAbs().maxCoeff());
    std::vector<bool> used(m, false);
    int a = 0;
    while (a < m) {  // clusters of (numerically) degenerate eigenvalues
      int b = a + 1;
      while (b < m && std::abs(w(b) - w(a)) < degeneracy_tol * scale) ++b;
      const Mat e = v.middleCols(a, b - a);
      const Mat proj = e * e.adjoint();
      // The (b - a) unused basis states with the largest weight in this eigenspace (ties: lowest
      // index), then Loewdin: the orthonormal eigenspace basis closest to them,
      // E U V^dag from the SVD E^dag S = U Sigma V^dag.
      std::vector<int> chosen;
      for (int t = 0; t < b - a; ++t) {
        int best = -1;
        for (int i = 0; i < m; ++i)
          if (!used[i] && std::find(chosen.begin(), chosen.end(), i) == chosen.end() &&
              (best < 0 || proj(i, i).real() > proj(best, best).real() + 1e-12))
            best = i;
        chosen.push_back(best);
      }
      std::sort(chosen.begin(), chosen.end());
      Mat s = Mat::Zero(m, b - a);
      for (int t = 0; t < b - a; ++t) s(chosen[t], t) = 1.0;
      Eigen::JacobiSVD<Mat> svd(e.adjoint() * s, Eigen::ComputeFullU | Eigen::ComputeFullV);
      const Mat cols = e * (svd.matrixU() * svd.matrixV().adjoint());
      for (int t = 0; t < b - a; ++t) {
        Vec col = cols.col(t);
        const cplx diag = col(chosen[t]);
        if (std::abs(diag) > 1e-14) col *= std::conj(diag) / std::abs(diag);
        for (int r = 0; r < m; ++r) ud(idx[r], idx[chosen[t]]) = col(r);
        used[chosen[t]] = true;
      }
      a = b;
    }
  }
  Diagonalization out;
  out.u_d = ud;
  out.rho_d = (ud.adjoint() * rho * ud).diagonal().real();
  return out;
}

TemporalAveragingPlan plan_temporal_averaging(const Mat& rho, const std::vector<int>& spins,
                                              int molecule_spins, double zero_weight) {
  validate_state(rho, "state");
  const int ns = spins_of_dim(rho.rows());
  if (static_cast<int>(spins.size()) != ns)
    throw InputError("spins: " + std::to_string(spins.size()) + " spins for a " +
                     std::to_string(ns) + "-spin state");
  check_spins(spins, molecule_spins, "spins");
  TemporalAveragingPlan p;
  p.spins = spins;
  p.rho = rho;
  const Diagonalization dz = diagonalize_near_identity(rho, 1e-12);
  p.u_d = dz.u_d;
  RVec w = dz.rho_d;
  // A valid state's eigenvalues are >= -1e-10; rounding below zero is set to zero.
  for (Eigen::Index i = 0; i < w.size(); ++i) w(i) = std::max(w(i), 0.0);
  p.rho_d = w.cast<cplx>().asDiagonal();
  for (int i = 0; i < (1 << ns); ++i) {
    if (!(w(i) > zero_weight)) continue;
    TemporalExperiment e;
    e.basis_state = i;
    e.weight = w(i);
    for (int k = 0; k < ns; ++k)
      if (spin_bit(i, k, ns)) e.flip_spins.push_back(spins[k]);
    p.experiments.push_back(e);
  }
  return p;
}

Sequence experiment_sequence(const TemporalAveragingPlan& plan, const TemporalExperiment& e) {
  Sequence s;
  std::string bits;
  const int ns = static_cast<int>(plan.spins.size());
  for (int k = 0; k < ns; ++k) bits += spin_bit(e.basis_state, k, ns) ? '1' : '0';
  s.name = "temporal_" + bits;
  if (!e.flip_spins.empty()) s.elements.push_back(RotationElement{e.flip_spins, kPi, 0.0});
  if (!plan.u_d.isIdentity(0.0)) s.elements.push_back(UnitaryElement{"U_d", plan.spins, plan.u_d});
  return s;
}

void validate_weights(const std::vector<double>& weights, double tol) {
  double sum = 0.0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!(weights[i] >= 0.0) || !std::isfinite(weights[i]))
      throw InputError("weights[" + std::to_string(i) +
                       "] = " + fmt::format("{:.12g}", weights[i]) + ": must be >= 0");
    sum += weights[i];
  }
  if (!(std::abs(sum - 1.0) <= tol))
    throw InputError("weights: sum = " + fmt::format("{:.12g}", sum) + ": must be 1");
}

Mat temporal_average(const std::vector<WeightedOutcome>& outcomes) {
  if (outcomes.empty()) throw InputError("temporal_average: no experiments");
  std::vector<double> w;
  for (const auto& o : outcomes) w.push_back(o.weight);
  validate_weights(w);
  Mat sum = Mat::Zero(outcomes.front().state.rows(), outcomes.front().state.cols());
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i].state.rows() != sum.rows() || outcomes[i].state.cols() != sum.cols())
      throw InputError("temporal_average: outcomes[" + std::to_string(i) +
                       "] has a different dimension");
    sum += outcomes[i].weight * outcomes[i].state;
  }
  return sum;
}

}  // namespace nmrc::spectrometer
