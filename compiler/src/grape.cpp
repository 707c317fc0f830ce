// GRAPE optimal control (Khaneja et al., J. Magn. Reson. 172, 296 (2005)): the ensemble
// objective over the evaluation kernel (grape_evaluator.cpp: exact fidelity and gradient of one
// member), initial guesses, and the optimiser loop (LBFGS++ L-BFGS-B over parallel restarts,
// stall and time limits, the Summary).
#include "nmrc/compiler/grape.hpp"

#include <LBFGSB.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "nmrc/core/error.hpp"
#include "nmrc/core/symmetric_eigen.hpp"

namespace nmrc::compiler {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

const char* termination_name(Termination t) {
  switch (t) {
    case Termination::kReachedTarget:
      return "reached_target";
    case Termination::kConverged:
      return "converged";
    case Termination::kIterationLimit:
      return "iteration_limit";
    case Termination::kTimeLimit:
      return "time_limit";
    case Termination::kLineSearch:
      return "line_search_stalled";
    case Termination::kStalled:
      return "stalled";
    case Termination::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

void GrapeProblem::validate() const {
  const auto d = drift.rows();
  if (d == 0 || drift.cols() != d)
    throw InputError("grape: drift must be a non-empty square matrix");
  if (channels.empty()) throw InputError("grape: channels: at least one channel is required");
  for (const auto& c : channels) {
    if (c.cx.rows() != d || c.cy.rows() != d || c.fz.rows() != d)
      throw InputError("grape: channel " + c.name + ": control dimension differs from the drift");
    if (!(c.max_rf_hz > 0))
      throw InputError("grape: channel " + c.name + ": max_rf_hz must be > 0");
  }
  if (target.rows() != d || target.cols() != d)
    throw InputError("grape: target dimension differs from the drift");
  if (!(norm > 0)) throw InputError("grape: norm must be > 0");
  if (steps < 1) throw InputError("grape: steps must be >= 1");
  if (!(dt_s > 0)) throw InputError("grape: dt_s must be > 0");
  if (ensemble.empty()) throw InputError("grape: ensemble must not be empty");
  for (const auto& m : ensemble)
    if (!(m.b1_scale > 0) || !(m.weight > 0))
      throw InputError("grape: ensemble b1_scale and weight must be > 0");
}

void GrapeOptions::validate() const {
  auto bad = [](const std::string& field, double v, const std::string& rule) {
    throw InputError("grape options: " + field + " = " + fmt::format("{:g}", v) + ": " + rule);
  };
  if (!(fidelity_target > 0 && fidelity_target <= 1))
    bad("fidelity_target", fidelity_target, "must be in (0, 1]");
  if (starts < 1) bad("starts", starts, "must be >= 1");
  if (max_iterations < 1) bad("max_iterations", max_iterations, "must be >= 1");
  if (stall_evaluations < 0) bad("stall_evaluations", stall_evaluations, "must be >= 0");
  if (!(time_limit_s > 0)) bad("time_limit_s", time_limit_s, "must be > 0");
  if (!(smoothness >= 0)) bad("smoothness", smoothness, "must be >= 0");
  if (!(initial_fraction > 0 && initial_fraction <= 1))
    bad("initial_fraction", initial_fraction, "must be in (0, 1]");
  if (threads < 1) bad("threads", threads, "must be >= 1");
  if (b1_quadrature < 0 || b1_quadrature > 20)
    bad("b1_quadrature", b1_quadrature, "must be between 0 (off) and 20");
  if (coarse_factor < 0 || coarse_factor > 1000)
    bad("coarse_factor", coarse_factor, "must be between 0 (off) and 1000");
}

// ----------------------------------------------------------------------------------------------
// Ensemble objective. Each member's steps are cut into two time slices: both slices' forward
// products run at once, their propagators are combined (U = X_1 X_0), then both backward passes
// run at once (slice 0 with left = W^dag X_1, slice 1 with left = X_0 W^dag: the trace is
// cyclic). The slicing depends on the problem only, never on the thread count, and members are
// summed in member order: the objective is bit-identical for one or two threads. Slices rather
// than members: five B1 members on two threads would split 3 + 2 (1.67x at best), two slices of
// each member split evenly.

namespace {

int slice_count(const GrapeProblem& p) { return p.steps >= 2 ? 2 : 1; }

// Members are evaluated in groups between two synchronisations of the threads (one for the
// forward products, one for the backward passes): the whole ensemble at once when its per-step
// storage fits kGroupBytes, else one member at a time (7 spins, long pulses). Fewer
// synchronisations matter most when the cores are shared: a thread that waits for the other
// loses its time slice.
constexpr double kGroupBytes = 256.0 * 1024 * 1024;

struct EnsembleWorkspace {
  const GrapeProblem& p;
  int slices, threads, group;
  // evaluators[i][s]: member i of a group (i < group), slice s.
  std::vector<std::vector<std::unique_ptr<FidelityEvaluator>>> evaluators;
  std::vector<RMat> grads;
  std::vector<cplx> g;
  Mat w_adj, total, wd_adj;            // wd_adj: (W D)^dag of the member (diagonal_phases)
  std::vector<std::vector<Mat>> left;  // [i][s]

  EnsembleWorkspace(const GrapeProblem& prob, int nthreads)
      : p(prob), slices(slice_count(prob)), threads(std::max(1, std::min(nthreads, slices))) {
    const int m = static_cast<int>(p.ensemble.size());
    const double d = static_cast<double>(p.drift.rows());
    const double member_bytes = p.steps * d * d * 3.0 * 16.0;  // per-step matrices, generously
    group = std::max(1, std::min(m, static_cast<int>(kGroupBytes / std::max(1.0, member_bytes))));
    const int half = p.steps / 2;
    evaluators.resize(group);
    for (auto& per_member : evaluators) {
      if (slices == 1) {
        per_member.push_back(std::make_unique<FidelityEvaluator>(p, 0, p.steps));
      } else {
        per_member.push_back(std::make_unique<FidelityEvaluator>(p, 0, half));
        per_member.push_back(std::make_unique<FidelityEvaluator>(p, half, p.steps));
      }
    }
    grads.assign(p.ensemble.size(), RMat());
    g.assign(p.ensemble.size(), cplx(0));
    w_adj = p.target.adjoint();
    left.assign(group, std::vector<Mat>(slices));
  }

  // Runs job(s) for every slice s, on two threads when there are two.
  template <class Job>
  void for_slices(const Job& job) {
    if (threads == 1) {
      for (int s = 0; s < slices; ++s) job(s);
    } else {
      std::thread other(job, 1);
      job(0);
      other.join();
    }
  }

  double run(const RMat& u, RMat* grad, std::vector<double>* fid) {
    const int m = static_cast<int>(p.ensemble.size());
    for (int g0 = 0; g0 < m; g0 += group) {
      const int g1 = std::min(m, g0 + group);
      for_slices([&](int s) {
        for (int i = g0; i < g1; ++i) evaluators[i - g0][s]->forward(u, p.ensemble[i]);
      });
      for (int i = g0; i < g1; ++i) {
        auto& ev = evaluators[i - g0];
        if (slices == 1) {
          total = ev[0]->propagator();
        } else {
          total.noalias() = ev[1]->propagator() * ev[0]->propagator();
        }
        // Up to diagonal phases the member's target is W D with D fitted to its propagator; the
        // gradient at that D is the gradient of F (D maximises |Tr(D^dag W^dag U)|).
        const Mat& wa = member_target_adjoint(p, w_adj, total, wd_adj);
        if (slices == 1) {
          left[i - g0][0] = wa;
        } else {
          left[i - g0][0].noalias() = wa * ev[1]->propagator();
          left[i - g0][1].noalias() = ev[0]->propagator() * wa;
        }
        g[i] = (wa * total).trace();
        if (grad) grads[i].setZero(u.rows(), u.cols());
      }
      if (grad)
        for_slices([&](int s) {
          for (int i = g0; i < g1; ++i)
            evaluators[i - g0][s]->backward(u, p.ensemble[i], left[i - g0][s], g[i], grads[i]);
        });
    }
    double wsum = 0, j = 0;
    for (const auto& mem : p.ensemble) wsum += mem.weight;
    if (grad) grad->setZero(u.rows(), u.cols());
    if (fid) fid->assign(m, 0.0);
    for (int i = 0; i < m; ++i) {
      const double wi = p.ensemble[i].weight / wsum;
      const double a = std::abs(g[i]);
      j += wi * a / p.norm;
      // grads[i] is d|g|^2/du; d|g|/du = d|g|^2/du / (2 |g|) (|g| = 0 only at a saddle).
      if (grad && a > 0) *grad += (wi / (2.0 * a * p.norm)) * grads[i];
      if (fid) (*fid)[i] = a / p.norm;
    }
    return j;
  }
};

}  // namespace

double ensemble_objective(const GrapeProblem& problem, const RMat& u_hz, RMat* grad,
                          std::vector<double>* fidelity, int threads) {
  EnsembleWorkspace ws(problem, threads);
  return ws.run(u_hz, grad, fidelity);
}

// ----------------------------------------------------------------------------------------------
// B1 quadrature.

// The roots of the Legendre polynomial P_n by Newton's method from x ~ cos(pi (i + 3/4) /
// (n + 1/2)), P_n by its three-term recurrence (k+1) P_{k+1} = (2k+1) x P_k - k P_{k-1}, and
// the weights 2 / ((1 - x^2) P_n'(x)^2) (Abramowitz & Stegun 22.7.10, 22.16.6, 25.4.29).
void gauss_legendre(int n, std::vector<double>& nodes, std::vector<double>& weights) {
  nodes.assign(n, 0.0);
  weights.assign(n, 0.0);
  for (int i = 0; i < n; ++i) {
    double x = std::cos(kPi * (i + 0.75) / (n + 0.5));
    double dp = 1.0;
    for (int it = 0; it < 100; ++it) {
      double p = 1.0, p_prev = 0.0;
      for (int k = 0; k < n; ++k) {
        const double next = ((2 * k + 1) * x * p - k * p_prev) / (k + 1);
        p_prev = p;
        p = next;
      }
      dp = n * (x * p - p_prev) / (x * x - 1.0);  // P_n'(x)
      const double dx = p / dp;
      x -= dx;
      if (std::abs(dx) < 1e-16) break;
    }
    nodes[n - 1 - i] = x;
    weights[n - 1 - i] = 2.0 / ((1.0 - x * x) * dp * dp);
  }
}

namespace {

// The ensemble's B1 range and its distinct offsets.
struct B1Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  std::vector<double> offsets;
};

B1Range b1_range(const GrapeProblem& p) {
  B1Range r;
  for (const auto& m : p.ensemble) {
    r.lo = std::min(r.lo, m.b1_scale);
    r.hi = std::max(r.hi, m.b1_scale);
    if (std::find(r.offsets.begin(), r.offsets.end(), m.offset_hz) == r.offsets.end())
      r.offsets.push_back(m.offset_hz);
  }
  return r;
}

}  // namespace

GrapeProblem b1_quadrature_problem(const GrapeProblem& p, int n) {
  for (const auto& m : p.ensemble)
    if (m.weight != p.ensemble.front().weight)
      throw InputError("grape options: b1_quadrature = " + std::to_string(n) +
                       ": needs equal ensemble weights (the rule weights the B1 range itself)");
  const auto [lo, hi, offsets] = b1_range(p);
  std::vector<double> x, w;
  gauss_legendre(n, x, w);
  GrapeProblem q = p;
  q.ensemble.clear();
  for (int i = 0; i < n; ++i)
    for (double off : offsets)
      q.ensemble.push_back({0.5 * (lo + hi) + 0.5 * (hi - lo) * x[i], off, w[i]});
  return q;
}

namespace {

// Distinct B1 scales of an ensemble.
int distinct_b1(const GrapeProblem& p) {
  std::vector<double> b;
  for (const auto& m : p.ensemble)
    if (std::find(b.begin(), b.end(), m.b1_scale) == b.end()) b.push_back(m.b1_scale);
  return static_cast<int>(b.size());
}

// The centre of the ensemble's B1 range alone, every offset (GrapeOptions::nominal_first).
GrapeProblem centre_b1_problem(const GrapeProblem& p) {
  const auto [lo, hi, offsets] = b1_range(p);
  GrapeProblem c = p;
  c.ensemble.clear();
  for (double off : offsets) c.ensemble.push_back({0.5 * (lo + hi), off, 1.0});
  return c;
}

// The fine verification grid: 4 x the ensemble's B1 points over its range, every offset.
GrapeProblem fine_b1_problem(const GrapeProblem& p) {
  const auto [lo, hi, offsets] = b1_range(p);
  const int points = 4 * (distinct_b1(p) - 1) + 1;
  GrapeProblem f = p;
  f.ensemble.clear();
  for (int i = 0; i < points; ++i)
    for (double off : offsets) f.ensemble.push_back({lo + (hi - lo) * i / (points - 1), off, 1.0});
  return f;
}

}  // namespace

// ----------------------------------------------------------------------------------------------
// Initial guesses.

RMat initial_guess(const GrapeProblem& p, const GrapeOptions& o, int start) {
  const int nc = static_cast<int>(p.channels.size());
  RMat u = RMat::Zero(2 * nc, p.steps);
  std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ull + static_cast<unsigned long>(start) * 7919ull +
                      1);
  auto uniform = [&rng] { return (static_cast<double>(rng() >> 11) * 0x1.0p-53) * 2.0 - 1.0; };
  const double t_total = p.steps * p.dt_s;
  for (int c = 0; c < nc; ++c) {
    const double amp = o.initial_fraction * p.channels[c].max_rf_hz;
    if (start % 2 == 0) {
      for (int k = 0; k < p.steps; ++k) {
        u(2 * c, k) = amp * uniform();
        u(2 * c + 1, k) = amp * uniform();
      }
    } else {
      const auto& lines = p.channels[c].line_offsets_hz;
      const double per = amp / std::max<size_t>(1, lines.size());
      for (double nu : lines) {
        const double phi = kPi * uniform();
        double r[3] = {uniform(), uniform(), uniform()};
        for (int k = 0; k < p.steps; ++k) {
          const double t = (k + 0.5) * p.dt_s;
          double env = 0;
          for (int q = 0; q < 3; ++q) env += r[q] * std::sin(kPi * (q + 1) * t / t_total);
          env *= per / 1.5;
          u(2 * c, k) += env * std::cos(kTwoPi * nu * t + phi);
          u(2 * c + 1, k) += env * std::sin(kTwoPi * nu * t + phi);
        }
      }
    }
  }
  if (o.zero_ends && p.steps >= 3) {
    u.col(0).setZero();
    u.col(p.steps - 1).setZero();
  }
  return u;
}

// ----------------------------------------------------------------------------------------------
// The optimiser.

namespace {

struct StopRun {
  Termination reason;
};
// A search stage (the centre B1, the quadrature) reached the target on its members but the full
// grid did not verify: the start goes on on the next stage.
struct NextStage {};

// Penalties: smoothness weight * sum_k ((u_k+1 - u_k)/max)^2 / steps, and
// kAmpPenalty * sum_k max(0, |u_k|^2/max^2 - 1)^2 keeping the RF amplitude within max_rf.
constexpr double kAmpPenalty = 10.0;

double penalties(const GrapeProblem& p, const GrapeOptions& o, const RMat& u, RMat& grad) {
  double f = 0;
  const int nc = static_cast<int>(p.channels.size());
  for (int c = 0; c < nc; ++c) {
    const double mx = p.channels[c].max_rf_hz;
    const double inv2 = 1.0 / (mx * mx);
    if (o.smoothness > 0) {
      const double s = o.smoothness / p.steps;
      for (int r = 2 * c; r < 2 * c + 2; ++r)
        for (int k = 0; k + 1 < p.steps; ++k) {
          const double du = u(r, k + 1) - u(r, k);
          f += s * du * du * inv2;
          grad(r, k + 1) += 2 * s * du * inv2;
          grad(r, k) -= 2 * s * du * inv2;
        }
    }
    for (int k = 0; k < p.steps; ++k) {
      const double a2 = (u(2 * c, k) * u(2 * c, k) + u(2 * c + 1, k) * u(2 * c + 1, k)) * inv2;
      if (a2 > 1) {
        f += kAmpPenalty * (a2 - 1) * (a2 - 1);
        grad(2 * c, k) += kAmpPenalty * 2 * (a2 - 1) * 2 * u(2 * c, k) * inv2;
        grad(2 * c + 1, k) += kAmpPenalty * 2 * (a2 - 1) * 2 * u(2 * c + 1, k) * inv2;
      }
    }
  }
  return f;
}

void clip_amplitude(const GrapeProblem& p, RMat& u) {
  for (size_t c = 0; c < p.channels.size(); ++c)
    for (int k = 0; k < p.steps; ++k) {
      const double a = std::hypot(u(2 * c, k), u(2 * c + 1, k));
      if (a > p.channels[c].max_rf_hz) {
        u(2 * c, k) *= p.channels[c].max_rf_hz / a;
        u(2 * c + 1, k) *= p.channels[c].max_rf_hz / a;
      }
    }
}

struct StartResult {
  StartSummary summary;
  RMat u;
  std::vector<double> fidelity;  // of u, per member of the problem's ensemble
  bool reached = false;
};

class StartRun {
 public:
  // `stages`: the problems to search on, in order, before the full grid (none: the grid only).
  StartRun(const GrapeProblem& p, const std::vector<GrapeProblem>& stages, const GrapeOptions& o,
           int start, int eval_threads, Clock::time_point t0, const std::atomic<int>& cancel_above,
           const ProgressCallback& progress, std::mutex& progress_mutex, RMat initial = RMat())
      : p_(p),
        initial_(std::move(initial)),
        o_(o),
        start_(start),
        ws_(p, eval_threads),
        t0_(t0),
        cancel_above_(cancel_above),
        progress_(progress),
        progress_mutex_(progress_mutex) {
    nc_ = static_cast<int>(p.channels.size());
    first_ = (o.zero_ends && p.steps >= 3) ? 1 : 0;
    last_ = (o.zero_ends && p.steps >= 3) ? p.steps - 1 : p.steps;  // exclusive
    u_ = RMat::Zero(2 * nc_, p.steps);
    gu_ = RMat::Zero(2 * nc_, p.steps);
    for (const auto& s : stages)
      stages_.push_back(std::make_unique<EnsembleWorkspace>(s, eval_threads));
  }

  int size() const { return 2 * nc_ * (last_ - first_); }

  void to_u(const Eigen::VectorXd& x) {
    int i = 0;
    for (int k = first_; k < last_; ++k)
      for (int r = 0; r < 2 * nc_; ++r) u_(r, k) = 1000.0 * x(i++);
  }
  Eigen::VectorXd from_u(const RMat& u) const {
    Eigen::VectorXd x(size());
    int i = 0;
    for (int k = first_; k < last_; ++k)
      for (int r = 0; r < 2 * nc_; ++r) x(i++) = u(r, k) / 1000.0;
    return x;
  }

  // LBFGS++ functor: f = 1 - J + penalties, variables in kHz.
  double operator()(const Eigen::VectorXd& x, Eigen::VectorXd& gx) {
    if (cancel_above_.load() < start_) throw StopRun{Termination::kConverged};
    if (o_.stop && o_.stop->load()) throw StopRun{Termination::kInterrupted};
    if (seconds_since(t0_) > o_.time_limit_s) throw StopRun{Termination::kTimeLimit};
    to_u(x);
    const bool on_full = stage_ >= stages_.size();
    EnsembleWorkspace& ws = on_full ? ws_ : *stages_[stage_];
    const double j = ws.run(u_, &gu_, &fid_);
    if (on_full) ++full_grid_evaluations_;
    gu_ *= -1.0;
    const double pen = penalties(p_, o_, u_, gu_);
    const double f = 1.0 - j + pen;
    int i = 0;
    for (int k = first_; k < last_; ++k)
      for (int r = 0; r < 2 * nc_; ++r) gx(i++) = 1000.0 * gu_(r, k);
    ++evaluations_;
    const double fmin = *std::min_element(fid_.begin(), fid_.end());
    if (f < best_f_) {
      best_f_ = f;
      best_x_ = x;
      ++improvements_;
    }
    if (fmin > best_fmin_) {
      best_fmin_ = fmin;
      best_u_ = u_;
    }
    if (o_.stall_evaluations > 0 && evaluations_ % o_.stall_evaluations == 0) {
      const double gap = o_.fidelity_target - best_fmin_;
      if (gap > 0.99 * stall_gap_) throw StopRun{Termination::kStalled};
      stall_gap_ = gap;
    }
    if (progress_) {
      std::lock_guard<std::mutex> lock(progress_mutex_);
      progress_({start_, evaluations_, fmin, best_fmin_, seconds_since(t0_)});
    }
    if (fmin >= o_.fidelity_target) {
      RMat clipped = u_;
      clip_amplitude(p_, clipped);
      std::vector<double> cf;
      ws_.run(clipped, nullptr, &cf);
      if (*std::min_element(cf.begin(), cf.end()) >= o_.fidelity_target) {
        best_u_ = clipped;
        best_fmin_ = *std::min_element(cf.begin(), cf.end());
        throw StopRun{Termination::kReachedTarget};
      }
      if (!on_full) {  // the full grid (cf) is checked whatever the stage's members say
        switch_u_ = u_;
        throw NextStage{};
      }
    }
    return f;
  }

  StartResult run() {
    StartResult res;
    res.summary.start = start_;
    res.summary.initial = start_ % 2 == 0 ? "random" : "smooth";
    const auto ts = Clock::now();
    const RMat u0 = initial_.size() ? initial_ : initial_guess(p_, o_, start_);
    best_u_ = u0;
    Eigen::VectorXd x = from_u(u0);
    Eigen::VectorXd lb(size()), ub(size());
    {
      int i = 0;
      for (int k = first_; k < last_; ++k)
        for (int r = 0; r < 2 * nc_; ++r) {
          const double mx = p_.channels[r / 2].max_rf_hz / 1000.0;
          lb(i) = -mx;
          ub(i) = mx;
          ++i;
        }
    }
    LBFGSpp::LBFGSBParam<double> param;
    // 60 corrections (bench/results/grape.md, "L-BFGS-B memory"): on the hard C2-C4 gate 1814
    // and 1770 evaluations to the target where 30 took 2898 and 2202 (seeds 3 and 1), U_d 504
    // against 551, the benchmark 7 % less CPU; 120 gained nothing more and cost more per
    // iteration (about 1 ms per iteration at 60 with 850 variables, next to ~20 ms per evaluation).
    param.m = 60;
    param.epsilon = 1e-9;
    param.epsilon_rel = 0.0;
    param.past = 20;
    param.delta = 1e-12;
    param.max_iterations = o_.max_iterations;
    param.max_linesearch = 50;
    LBFGSpp::LBFGSBSolver<double> solver(param);
    double fx = 0;
    Termination term = Termination::kConverged;
    int iterations = 0;
    // A stalled line search (the landscape is far from quadratic) restarts L-BFGS-B from the
    // best point so far with a fresh memory, as long as the previous leg made progress.
    double leg_start_f = std::numeric_limits<double>::infinity();
    for (int leg = 0; leg < 50; ++leg) {
      try {
        const int it = solver.minimize(*this, x, fx, lb, ub);
        iterations += it;
        term = it >= param.max_iterations ? Termination::kIterationLimit : Termination::kConverged;
        break;
      } catch (const StopRun& s) {
        term = s.reason;
        iterations = improvements_;
        break;
      } catch (const NextStage&) {
        // Go on from the point this stage found, on the next stage (or the full grid), with a
        // fresh memory (the objective changed) and fresh stall and best-point records.
        ++stage_;
        x = from_u(switch_u_);
        best_f_ = std::numeric_limits<double>::infinity();
        best_fmin_ = -1.0;
        stall_gap_ = std::numeric_limits<double>::infinity();
        leg_start_f = std::numeric_limits<double>::infinity();
        param.max_iterations = std::max(1, o_.max_iterations - improvements_);
      } catch (const std::exception& e) {
        term = Termination::kLineSearch;
        iterations = improvements_;
        message_ = e.what();
        if (!(best_f_ < leg_start_f - 1e-7) || best_x_.size() == 0) break;
        leg_start_f = best_f_;
        x = best_x_;
        param.max_iterations = std::max(1, o_.max_iterations - improvements_);
      }
    }
    RMat u = best_u_;
    clip_amplitude(p_, u);
    std::vector<double> fid;
    ws_.run(u, nullptr, &fid);
    res.u = u;
    res.fidelity = fid;
    res.summary.termination = term;
    res.summary.iterations = iterations;
    res.summary.evaluations = evaluations_;
    res.summary.fidelity_min = *std::min_element(fid.begin(), fid.end());
    res.summary.wall_s = seconds_since(ts);
    res.summary.message = message_;
    res.summary.full_grid_evaluations = full_grid_evaluations_;
    res.reached = res.summary.fidelity_min >= o_.fidelity_target;
    if (res.reached) res.summary.termination = Termination::kReachedTarget;
    return res;
  }

 private:
  const GrapeProblem& p_;
  RMat initial_;  // the start's initial guess (empty: initial_guess's)
  const GrapeOptions& o_;
  int start_;
  EnsembleWorkspace ws_;  // the problem's ensemble (the full grid)
  std::vector<std::unique_ptr<EnsembleWorkspace>> stages_;  // searched on first, in order
  size_t stage_ = 0;                                        // stages_.size(): the full grid
  RMat switch_u_;
  int full_grid_evaluations_ = 0;
  Clock::time_point t0_;
  const std::atomic<int>& cancel_above_;
  const ProgressCallback& progress_;
  std::mutex& progress_mutex_;
  int nc_ = 0, first_ = 0, last_ = 0;
  RMat u_, gu_, best_u_;
  Eigen::VectorXd best_x_;
  std::vector<double> fid_;
  int evaluations_ = 0, improvements_ = 0;
  double stall_gap_ = std::numeric_limits<double>::infinity();  // gap at the last stall check
  double best_f_ = std::numeric_limits<double>::infinity();
  std::string message_;  // the optimiser's last complaint (LBFGS++ line search), for the summary
  double best_fmin_ = -1.0;
};

}  // namespace

GrapeResult optimise(const GrapeProblem& p, const GrapeOptions& o,
                     const ProgressCallback& progress) {
  p.validate();
  o.validate();
  if (o.initial_u.size() > 0) {
    const long rows = 2 * static_cast<long>(p.channels.size());
    if (o.initial_u.rows() != rows || o.initial_u.cols() != p.steps)
      throw InputError(fmt::format(
          "GrapeOptions.initial_u: {} x {} amplitudes, the problem needs {} x {} (u_x, u_y per "
          "channel; one column per step)",
          o.initial_u.rows(), o.initial_u.cols(), rows, p.steps));
    if (!o.initial_u.allFinite())
      throw InputError("GrapeOptions.initial_u: an amplitude is not a finite number");
  }
  const auto t0 = Clock::now();
  const bool quadrature = o.b1_quadrature > 0 && distinct_b1(p) >= 2;
  const bool nominal_first = o.nominal_first && distinct_b1(p) >= 2;
  // The search stages before the full grid: the centre B1, then the quadrature rule.
  auto stages_of = [&](const GrapeProblem& q) {
    std::vector<GrapeProblem> stages;
    if (nominal_first) stages.push_back(centre_b1_problem(q));
    if (quadrature) stages.push_back(b1_quadrature_problem(q, o.b1_quadrature));
    return stages;
  };
  const std::vector<GrapeProblem> search = stages_of(p);
  // Multi-resolution: the coarse problem (steps / f steps of f dt) and its quadrature.
  const bool coarse =
      o.coarse_factor >= 2 && p.steps % o.coarse_factor == 0 && p.steps / o.coarse_factor >= 3;
  GrapeProblem coarse_p = p;
  if (coarse) {
    coarse_p.steps = p.steps / o.coarse_factor;
    coarse_p.dt_s = p.dt_s * o.coarse_factor;
  }
  const std::vector<GrapeProblem> coarse_search =
      coarse ? stages_of(coarse_p) : std::vector<GrapeProblem>{};
  // Two threads work on one start (the two time slices of every member, EnsembleWorkspace), so
  // starts run one after the other and none is wasted; further threads run starts in parallel.
  const int eval_threads = std::min(o.threads, slice_count(p));
  const int start_threads = std::max(1, std::min(o.threads / eval_threads, o.starts));
  std::vector<StartResult> results(o.starts);
  std::vector<char> ran(o.starts, 0);  // not vector<bool>: written from several threads
  std::atomic<int> next{0};
  std::atomic<int> cancel_above{std::numeric_limits<int>::max()};
  std::mutex progress_mutex;
  auto worker = [&] {
    for (;;) {
      const int s = next.fetch_add(1);
      if (s >= o.starts) return;
      if (s > cancel_above.load()) continue;
      if (seconds_since(t0) > o.time_limit_s) continue;
      if (o.stop && o.stop->load()) continue;
      RMat initial;
      int coarse_evaluations = 0;
      const bool warm = s == 0 && o.initial_u.size() > 0;
      if (warm) {
        initial = o.initial_u;
        clip_amplitude(p, initial);
      } else if (coarse) {
        // The coarse stage; its pulse, each step repeated f times, starts the search.
        StartRun run_coarse(coarse_p, coarse_search, o, s, eval_threads, t0, cancel_above, progress,
                            progress_mutex);
        const StartResult cr = run_coarse.run();
        coarse_evaluations = cr.summary.evaluations;
        initial.resize(cr.u.rows(), p.steps);
        for (int k = 0; k < p.steps; ++k) initial.col(k) = cr.u.col(k / o.coarse_factor);
      }
      StartRun run(p, search, o, s, eval_threads, t0, cancel_above, progress, progress_mutex,
                   initial);
      results[s] = run.run();
      results[s].summary.coarse_evaluations = coarse_evaluations;
      if (warm) results[s].summary.initial = "warm";
      ran[s] = 1;
      if (results[s].reached) {
        int cur = cancel_above.load();
        while (s < cur && !cancel_above.compare_exchange_weak(cur, s)) {
        }
      }
    }
  };
  if (start_threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < start_threads; ++t) pool.emplace_back(worker);
    for (auto& th : pool) th.join();
  }
  // Choice: the lowest-index start that reached the target (independent of thread timing),
  // otherwise the best ensemble minimum.
  int best = -1;
  for (int s = 0; s < o.starts; ++s)
    if (ran[s] && results[s].reached) {
      best = s;
      break;
    }
  if (best < 0)
    for (int s = 0; s < o.starts; ++s)
      if (ran[s] &&
          (best < 0 || results[s].summary.fidelity_min > results[best].summary.fidelity_min))
        best = s;
  GrapeResult out;
  Summary& sm = out.summary;
  for (int s = 0; s < o.starts; ++s)
    if (ran[s] && (best < 0 || s <= best || !results[best].reached)) {
      sm.starts.push_back(results[s].summary);
      sm.evaluations += results[s].summary.evaluations;
    }
  const bool stopped = o.stop && o.stop->load();
  if (best < 0) {  // time limit (or a stop) before any start ran
    out.u_hz = initial_guess(p, o, 0);
    sm.termination = stopped ? Termination::kInterrupted : Termination::kTimeLimit;
  } else {
    out.u_hz = results[best].u;
    sm.termination = results[best].summary.termination;
    sm.iterations = results[best].summary.iterations;
    sm.best_start = best;
  }
  // A stop that cut any start short makes the whole run interrupted, whatever the best start did.
  if (stopped && !(best >= 0 && results[best].reached)) sm.termination = Termination::kInterrupted;
  if (best >= 0) {
    // Evaluated by its start on the full grid (bit-identical for any thread count).
    sm.fidelity = results[best].fidelity;
  } else {
    EnsembleWorkspace ws(p, 1);
    ws.run(out.u_hz, nullptr, &sm.fidelity);
  }
  double wsum = 0;
  for (size_t i = 0; i < p.ensemble.size(); ++i) {
    sm.fidelity_mean += p.ensemble[i].weight * sm.fidelity[i];
    wsum += p.ensemble[i].weight;
  }
  sm.fidelity_mean /= wsum;
  sm.fidelity_min = *std::min_element(sm.fidelity.begin(), sm.fidelity.end());
  sm.reached_target = sm.fidelity_min >= o.fidelity_target;
  sm.quadrature_points = quadrature ? o.b1_quadrature : 0;
  sm.nominal_first = nominal_first;
  if (distinct_b1(p) >= 2) {  // the returned pulse between the grid's B1 points
    const GrapeProblem fine = fine_b1_problem(p);
    std::vector<double> ff;
    EnsembleWorkspace(fine, o.threads).run(out.u_hz, nullptr, &ff);
    sm.fine_points = static_cast<int>(fine.ensemble.size());
    sm.fine_fidelity_min = *std::min_element(ff.begin(), ff.end());
  }
  sm.wall_s = seconds_since(t0);
  std::ostringstream msg;
  if (sm.reached_target)
    msg << "reached F_min = " << fmt::format("{:.5f}", sm.fidelity_min)
        << " >= " << fmt::format("{:.4f}", o.fidelity_target) << " (start " << best << ")";
  else if (sm.termination == Termination::kInterrupted)
    msg << "stopped on request: best F_min so far = " << fmt::format("{:.5f}", sm.fidelity_min)
        << " < target " << fmt::format("{:.4f}", o.fidelity_target);
  else
    msg << "best F_min = " << fmt::format("{:.5f}", sm.fidelity_min) << " < target "
        << fmt::format("{:.4f}", o.fidelity_target)
        << "; try a longer duration, more RF (max_rf_hz), or more starts";
  sm.message = msg.str();
  return out;
}

std::string Summary::brief_report() const {
  std::ostringstream os;
  int coarse = 0;
  for (const auto& s : starts) coarse += s.coarse_evaluations;
  os << termination_name(termination) << ": " << message << ", " << evaluations << " evaluations";
  if (coarse > 0) os << " (+ " << coarse << " on the coarse steps)";
  os << ", " << fmt::format("{:.1f}", wall_s) << " s";
  if (!warm_start.empty()) os << "; start 0 warm from " << warm_start;
  return os.str();
}

std::string Summary::full_report() const {
  std::ostringstream os;
  os << brief_report() << "\n";
  os << "  fidelity per ensemble member (|Tr(W^dag U)|/norm):";
  for (double f : fidelity) os << " " << fmt::format("{:.5f}", f);
  os << "\n  min " << fmt::format("{:.5f}", fidelity_min) << ", weighted mean "
     << fmt::format("{:.5f}", fidelity_mean) << "\n";
  if (fine_points > 0)
    os << "  fine B1 grid (" << fine_points << " members): min "
       << fmt::format("{:.5f}", fine_fidelity_min) << "\n";
  if (nominal_first || quadrature_points > 0) {
    os << "  searched on ";
    if (nominal_first) os << "the centre B1 first" << (quadrature_points > 0 ? ", then on " : "");
    if (quadrature_points > 0)
      os << "a " << quadrature_points << "-point Gauss-Legendre B1 quadrature";
    os << ", verified on the full grid\n";
  }
  for (const auto& s : starts) {
    os << "  start " << s.start << " (" << s.initial << "): " << termination_name(s.termination)
       << ", F_min " << fmt::format("{:.5f}", s.fidelity_min) << ", " << s.iterations
       << " iterations, " << s.evaluations << " evaluations";
    if (s.full_grid_evaluations > 0) os << " (" << s.full_grid_evaluations << " on the full grid)";
    if (s.coarse_evaluations > 0) os << " after " << s.coarse_evaluations << " coarse ones";
    os << ", " << fmt::format("{:.1f}", s.wall_s) << " s\n";
  }
  return os.str();
}

}  // namespace nmrc::compiler
