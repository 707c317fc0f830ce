// GRAPE optimal control (Khaneja et al., J. Magn. Reson. 172, 296 (2005)): the ensemble
// objective over the evaluation kernel (grape_evaluator.cpp: exact fidelity and gradient of one
// member), initial guesses, and the optimiser loop (LBFGS++ L-BFGS-B over parallel restarts,
// stall and time limits, the Summary).
#include "nmrc/compiler/grape.hpp"

#include <LBFGS.h>
#include <LBFGSB.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>

#include "gauss_newton.hpp"
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <random>
#include <sstream>
#include <stdexcept>

#include "nmrc/core/error.hpp"
#include "nmrc/core/parallel.hpp"
#include "nmrc/core/symmetric_eigen.hpp"
#include "wire.hpp"

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
  if (time_slices < 0 || time_slices > 1024)
    throw InputError("grape: time_slices = " + std::to_string(time_slices) +
                     ": must be between 0 and 1024 (0: chosen from the problem)");
  if (ensemble.empty()) throw InputError("grape: ensemble must not be empty");
  for (const auto& m : ensemble) {
    if (!(m.b1_scale > 0) || !(m.weight > 0))
      throw InputError("grape: ensemble b1_scale and weight must be > 0");
    if (m.drift_diag.size() != 0 && (m.drift_diag.size() != d || !m.drift_diag.allFinite()))
      throw InputError("grape: ensemble drift_diag must be empty or " + std::to_string(d) +
                       " finite values");
  }
}

std::optional<OptionProblem> GrapeOptions::check() const {
  using R = OptionRule;
  OptionChecks c;
  c.check("fidelity_target", fidelity_target, R::in_open_closed(0, 1))
      .check("starts", starts, R::at_least(1))
      .check("max_iterations", max_iterations, R::at_least(1))
      .check("stall_evaluations", stall_evaluations, R::at_least(0))
      .check("time_limit_s", time_limit_s, R::greater_than(0))
      .check("smoothness", smoothness, R::at_least(0))
      .check("initial_fraction", initial_fraction, R::in_open_closed(0, 1))
      .check("threads", threads, R::at_least(1))
      .check("b1_quadrature", b1_quadrature,
             R::between(0L, 20L).note("0: off; else Gauss-Legendre points"))
      .check("coarse_factor", coarse_factor, R::between(0L, 1000L).note("0: off"));
  return c.problem();
}

void GrapeOptions::validate() const {
  if (const auto p = check()) throw InputError(p->message("grape options"));
}

// ----------------------------------------------------------------------------------------------
// Ensemble objective. Each member's steps are cut into S time slices (slice_count: a function of
// the problem only): the slices' forward products run at once, their propagators X_s are
// combined (U = X_{S-1} ... X_0), then the slices' backward passes run at once, slice s with
// left_s = (X_{s-1} ... X_0) W^dag (X_{S-1} ... X_{s+1}) (the trace is cyclic: g = Tr(left_s X_s)).
// The slicing depends on the problem only, never on the thread or rank count, the combination's
// products are formed in one fixed order, and members are summed in member order: the objective
// is bit-identical for any number of threads and ranks. Slices rather than members: five B1
// members on two threads would split 3 + 2 (1.67x at best), two slices of each member split
// evenly. A team with more ranks than members deals the (member, slice) units to its ranks
// (EnsembleWorkspace::sliced).

namespace {

// Large problems get more slices so that more ranks can share a member and each holds less:
// from d = 64 (6 spins) on, the fewest of 2, 4, 8, 16 slices whose per-step storage (the
// estimate kGroupBytes uses, steps x 3 x 16 d^2 bytes) is at most kSliceBytes each (7 spins at
// 200 steps: 157 MB, 8 slices of 20 MB; at 1000 steps 16 of 49 MB). Powers of two so that 2, 4,
// 8 or 16 ranks per member get equal shares. Smaller problems keep two slices (the threads of
// one process): their evaluation is cheap against the combination's extra products, and their
// pulses stay those of the two-slice builds. Each further slice costs every rank about three
// d x d products per member per evaluation (the prefix and suffix products and a left factor),
// against about 30 per step of the slice's own work (grape_evaluator.cpp).
constexpr double kSliceBytes = 32.0 * 1024 * 1024;
constexpr int kMaxSlices = 16;
constexpr int kSliceMinDim = 64;

int slice_count(const GrapeProblem& p) {
  if (p.time_slices > 0) return std::min(p.time_slices, p.steps);
  if (p.steps < 2) return 1;
  const double d = static_cast<double>(p.drift.rows());
  if (d < kSliceMinDim) return 2;
  const double member_bytes = p.steps * d * d * 3.0 * 16.0;
  int s = 2;
  while (s < kMaxSlices && member_bytes / s > kSliceBytes) s *= 2;
  return std::min(s, p.steps);
}

// Members are evaluated in groups between two synchronisations of the threads (one for the
// forward products, one for the backward passes): the whole ensemble at once when its per-step
// storage fits kGroupBytes, else one member at a time (7 spins, long pulses). Fewer
// synchronisations matter most when the cores are shared: a thread that waits for the other
// loses its time slice.
constexpr double kGroupBytes = 256.0 * 1024 * 1024;

// The smallest infidelity the worst-member objective counts (EnsembleWorkspace::worst_objective):
// far below any target, far above the rounding of F.
constexpr double kInfidelityFloor = 1e-14;

// The problem on the probe's grid: steps x oversample of dt / oversample (an empty problem
// when no channel has a distortion).
GrapeProblem probed_problem(const GrapeProblem& prob, int& oversample) {
  oversample = 1;
  for (const auto& c : prob.channels)
    if (c.distortion) oversample = std::max(oversample, c.distortion->oversample());
  if (oversample == 1) return GrapeProblem{};
  for (const auto& c : prob.channels)
    if (c.distortion && oversample % c.distortion->oversample() != 0)
      throw InputError("probe: the channels' oversample factors must divide each other");
  GrapeProblem q = prob;
  q.steps = prob.steps * oversample;
  q.dt_s = prob.dt_s / oversample;
  return q;
}

struct EnsembleWorkspace {
  int oversample = 1;
  GrapeProblem probed;  // the problem on the probe's grid (when a channel has a distortion)
  const GrapeProblem& outer;
  const GrapeProblem& p;  // the problem the evaluators run: outer, or probed
  int slices, threads, group;
  std::vector<int> slice_begin;  // slice s is steps [slice_begin[s], slice_begin[s + 1])
  // The slices' threads, started once (two hand-offs per evaluation).
  PersistentFor pool;
  // With a team of processes (GrapeOptions::team): this one evaluates members [mine_begin,
  // mine_end) and exchange() gives it the others'. Without: every member. A team of more ranks
  // than members is `sliced`: the units (member i, slice s), unit i S + s, are dealt to its ranks
  // in contiguous nearly equal blocks (this one's [unit_begin, unit_end)); one collective gives
  // every rank every slice's propagator (gather_propagators), every rank combines every member
  // (the same operations in the same order), runs the backward passes of its units, and a
  // second collective with a gradient gives it the others' gradient columns (exchange_columns).
  Team* team = nullptr;
  bool sliced = false;
  int mine_begin = 0, mine_end = 0;
  int unit_begin = 0, unit_end = 0;
  // A vote carried by the next exchange (1: this process is past the time limit, 2: asked to
  // stop) and the highest vote of every process at the last exchange.
  double vote = 0, agreed_vote = 0;
  std::vector<double> send, received;
  std::vector<int> counts;
  // evaluators[i][s]: member i of a group (i < group), slice s.
  std::vector<std::vector<std::unique_ptr<FidelityEvaluator>>> evaluators;
  std::vector<std::unique_ptr<FidelityEvaluator>> unit_evaluators;  // sliced: unit_begin + k
  std::vector<RMat> grads;
  std::vector<cplx> g;
  Mat w_adj, total, wd_adj;            // wd_adj: (W D)^dag of the member (diagonal_phases)
  std::vector<std::vector<Mat>> left;  // [i][s]
  std::vector<Mat> unit_left;          // sliced: the left factor of unit unit_begin + k
  std::vector<std::vector<Mat>> xs;    // sliced: every member's slice propagators [i][s]
  std::vector<const Mat*> xp;          // combine(): the member's S slice propagators
  std::vector<Mat> prefix, suffix;     // combine(): X_{s-1} ... X_0 and X_{S-1} ... X_{s+1}
  Mat product;
  // 0: the weighted mean of F (run_grid); p >= 1: the worst-member objective (worst_objective).
  int worst_power = 0;

  EnsembleWorkspace(const GrapeProblem& prob, int nthreads, Team* team_of = nullptr)
      : probed(probed_problem(prob, oversample)),
        outer(prob),
        p(oversample > 1 ? probed : prob),
        slices(slice_count(p)),
        threads(std::max(1, std::min(nthreads, slices))),
        pool(threads),
        team(team_shared(team_of) ? team_of : nullptr) {
    const int m = static_cast<int>(p.ensemble.size());
    for (int s = 0; s <= slices; ++s)
      slice_begin.push_back(static_cast<int>(static_cast<long long>(p.steps) * s / slices));
    mine_end = m;
    // Slices across ranks only where they lighten the busiest rank: with N > M ranks it holds
    // one member's S slices, sliced ceil(M S / N) units, fewer only from N >= M S / (S - 1) on
    // (N >= 2 M for two slices); below that slicing would add a collective and save nothing.
    if (team && slices > 1 && team->size() > m) {
      const long long n = team->size(), units = static_cast<long long>(m) * slices;
      sliced = (units + n - 1) / n < slices;
    }
    if (sliced) {
      NMRC_CHECK(static_cast<long long>(m) * slices < (1LL << 30), "too many slice units");
      member_block(m * slices, team->rank(), team->size(), unit_begin, unit_end);
      for (int u = unit_begin; u < unit_end; ++u)
        unit_evaluators.push_back(std::make_unique<FidelityEvaluator>(p, slice_begin[u % slices],
                                                                      slice_begin[u % slices + 1]));
      unit_left.resize(unit_end - unit_begin);
      xs.assign(m, std::vector<Mat>(slices));
      group = 0;
    } else {
      if (team) member_block(m, team->rank(), team->size(), mine_begin, mine_end);
      const int own = mine_end - mine_begin;
      const double d = static_cast<double>(p.drift.rows());
      const double member_bytes = p.steps * d * d * 3.0 * 16.0;  // per-step matrices, generously
      group =
          std::max(1, std::min(own, static_cast<int>(kGroupBytes / std::max(1.0, member_bytes))));
      evaluators.resize(group);
      for (auto& per_member : evaluators)
        for (int s = 0; s < slices; ++s)
          per_member.push_back(
              std::make_unique<FidelityEvaluator>(p, slice_begin[s], slice_begin[s + 1]));
      left.assign(group, std::vector<Mat>(slices));
    }
    grads.assign(p.ensemble.size(), RMat());
    g.assign(p.ensemble.size(), cplx(0));
    w_adj = p.target.adjoint();
    xp.assign(slices, nullptr);
    prefix.resize(slices);
    suffix.resize(slices);
  }

  // Runs job(s) for every slice s, on the workspace's threads.
  template <class Job>
  void for_slices(const Job& job) {
    pool.run(static_cast<size_t>(slices), [&](size_t s) { job(static_cast<int>(s)); });
  }

  EnsembleWorkspace(const EnsembleWorkspace&) = delete;
  EnsembleWorkspace& operator=(const EnsembleWorkspace&) = delete;

  // The objective of the transmitter's waveform u (outer grid): through the channels'
  // distortions onto the probe's grid, the gradient back through their adjoints.
  double run(const RMat& u, RMat* grad, std::vector<double>* fid) {
    if (oversample == 1) return run_grid(u, grad, fid);
    const int nc = static_cast<int>(outer.channels.size());
    const Eigen::Index n = u.cols();
    RMat y(u.rows(), n * oversample);
    for (int c = 0; c < nc; ++c) {
      const auto& dist = outer.channels[c].distortion;
      const int r = dist ? oversample / dist->oversample() : oversample;
      Vec x(n);
      for (Eigen::Index k = 0; k < n; ++k) x(k) = cplx(u(2 * c, k), u(2 * c + 1, k));
      const Vec f = dist ? dist->forward(x, outer.dt_s) : x;
      for (Eigen::Index k = 0; k < f.size(); ++k)
        for (int s = 0; s < r; ++s) {
          y(2 * c, k * r + s) = f(k).real();
          y(2 * c + 1, k * r + s) = f(k).imag();
        }
    }
    RMat gy;
    const double j = run_grid(y, grad ? &gy : nullptr, fid);
    if (grad) {
      grad->setZero(u.rows(), n);
      for (int c = 0; c < nc; ++c) {
        const auto& dist = outer.channels[c].distortion;
        const int r = dist ? oversample / dist->oversample() : oversample;
        Vec g = Vec::Zero(y.cols() / r);
        for (Eigen::Index k = 0; k < g.size(); ++k)
          for (int s = 0; s < r; ++s) g(k) += cplx(gy(2 * c, k * r + s), gy(2 * c + 1, k * r + s));
        const Vec gx = dist ? dist->adjoint(g, outer.dt_s) : g;
        for (Eigen::Index k = 0; k < n; ++k) {
          (*grad)(2 * c, k) = gx(k).real();
          (*grad)(2 * c + 1, k) = gx(k).imag();
        }
      }
    }
    return j;
  }

  // f(r, b, e) for every rank r of the team in rank order and its block [b, e) of `items`
  // (member_block: members, or the sliced (member, slice) units).
  template <class F>
  void for_blocks(int items, F&& f) const {
    const int n = team->size();
    for (int r = 0; r < n; ++r) {
      int b = 0, e = 0;
      member_block(items, r, n, b, e);
      f(r, b, e);
    }
  }

  // One collective: every process sends its vote, then g and (with a gradient) d|g|^2/du of
  // each of its members; every process unpacks every member's, and the highest vote.
  void exchange(Eigen::Index rows, Eigen::Index cols, bool with_grad) {
    const int m = static_cast<int>(p.ensemble.size());
    const long per = 2 + (with_grad ? static_cast<long>(rows * cols) : 0);
    counts.assign(team->size(), 0);
    for_blocks(m, [&](int r, int b, int e) { counts[r] = static_cast<int>(1 + (e - b) * per); });
    send.clear();
    send.push_back(vote);
    for (int i = mine_begin; i < mine_end; ++i) {
      send.push_back(g[i].real());
      send.push_back(g[i].imag());
      if (with_grad) send.insert(send.end(), grads[i].data(), grads[i].data() + rows * cols);
    }
    team->allgather(send, counts, received);
    size_t at = 0;
    agreed_vote = 0;
    for_blocks(m, [&](int, int b, int e) {
      agreed_vote = std::max(agreed_vote, received[at++]);
      for (int i = b; i < e; ++i) {
        g[i] = cplx(received[at], received[at + 1]);
        at += 2;
        if (with_grad) {
          grads[i].resize(rows, cols);
          std::copy(received.begin() + at, received.begin() + at + rows * cols, grads[i].data());
          at += rows * cols;
        }
      }
    });
  }

  // The count of doubles each rank sends in a sliced collective: its vote (`head` = 1) or none,
  // and per unit (i, s) of its block `whole` doubles (a propagator) plus `per_step` doubles per
  // step of slice s (gradient columns).
  void sliced_counts(int head, long whole, long per_step) {
    counts.assign(team->size(), 0);
    for_blocks(static_cast<int>(p.ensemble.size()) * slices, [&](int r, int b, int e) {
      long c = head;
      for (int u = b; u < e; ++u)
        c += whole + per_step * (slice_begin[u % slices + 1] - slice_begin[u % slices]);
      NMRC_CHECK(c < (1L << 31), "a rank's share of a collective is out of range");
      counts[r] = static_cast<int>(c);
    });
  }

  // Sliced, the first collective: every rank sends its vote and its units' slice propagators
  // (2 d^2 doubles each, the complex entries' real and imaginary parts in Eigen's order) and
  // receives every unit's, in unit order, and the highest vote.
  void gather_propagators() {
    const Eigen::Index d = p.drift.rows();
    const long per = 2 * static_cast<long>(d * d);
    sliced_counts(1, per, 0);
    send.clear();
    send.push_back(vote);
    for (const auto& ev : unit_evaluators) {
      const double* x = reinterpret_cast<const double*>(ev->propagator().data());
      send.insert(send.end(), x, x + per);
    }
    team->allgather(send, counts, received);
    size_t at = 0;
    agreed_vote = 0;
    for_blocks(static_cast<int>(p.ensemble.size()) * slices, [&](int, int b, int e) {
      agreed_vote = std::max(agreed_vote, received[at++]);
      for (int u = b; u < e; ++u) {
        Mat& x = xs[u / slices][u % slices];
        x.resize(d, d);
        std::copy(received.begin() + at, received.begin() + at + per,
                  reinterpret_cast<double*>(x.data()));
        at += per;
      }
    });
  }

  // Sliced, the second collective (with a gradient): every rank sends the gradient columns of its
  // units (slice s of member i: grads[i]'s columns of the slice's steps, contiguous) and receives
  // every unit's into grads.
  void exchange_columns(Eigen::Index rows) {
    sliced_counts(0, 0, static_cast<long>(rows));
    send.clear();
    for (int u = unit_begin; u < unit_end; ++u) {
      const RMat& gr = grads[u / slices];
      const double* c = gr.data() + rows * slice_begin[u % slices];
      send.insert(send.end(), c,
                  c + rows * (slice_begin[u % slices + 1] - slice_begin[u % slices]));
    }
    team->allgather(send, counts, received);
    const int units = static_cast<int>(p.ensemble.size()) * slices;
    size_t at = 0;
    for (int u = 0; u < units; ++u) {
      RMat& gr = grads[u / slices];
      const long len = rows * (slice_begin[u % slices + 1] - slice_begin[u % slices]);
      std::copy(received.begin() + at, received.begin() + at + len,
                gr.data() + rows * slice_begin[u % slices]);
      at += len;
    }
  }

  // Member i from its slices' propagators xp[0 .. S-1]: total = X_{S-1} (X_{S-2} ... (X_1 X_0))
  // (the prefix products P_s = X_{s-1} ... X_0, each from the one before), the target factor W'^dag
  // (member_target_adjoint: W^dag, or (W D)^dag with diagonal_phases), g_i = Tr(W'^dag total),
  // and the left factor of each slice s in [s0, s1) into lefts[s - s0]: left_s = (P_s W'^dag) Q_s,
  // Q_s = X_{S-1} ... X_{s+1} (the suffix products, each from the one after, from the last slice
  // down), identity factors left out. The same products in the same order whoever calls it.
  void combine(int i, int s0, int s1, Mat* lefts) {
    const int ns = slices;
    // pre(s): P_s (null: the identity); suf(s): Q_s.
    auto pre = [&](int s) -> const Mat* { return s == 0 ? nullptr : s == 1 ? xp[0] : &prefix[s]; };
    auto suf = [&](int s) -> const Mat* {
      return s == ns - 1 ? nullptr : s == ns - 2 ? xp[ns - 1] : &suffix[s];
    };
    for (int s = 2; s < ns; ++s) prefix[s].noalias() = *xp[s - 1] * *pre(s - 1);
    if (ns == 1)
      total = *xp[0];
    else
      total.noalias() = *xp[ns - 1] * *pre(ns - 1);
    // Up to diagonal phases the member's target is W D with D fitted to its propagator; the
    // gradient at that D is the gradient of F (D maximises |Tr(D^dag W^dag U)|).
    const Mat& wa = member_target_adjoint(p, w_adj, total, wd_adj);
    g[i] = (wa * total).trace();
    if (s1 > s0)
      for (int s = ns - 3; s >= s0; --s) suffix[s].noalias() = *suf(s + 1) * *xp[s + 1];
    for (int s = s0; s < s1; ++s) {
      const Mat* a = pre(s);
      const Mat* b = suf(s);
      Mat& l = lefts[s - s0];
      if (!a && !b) {
        l = wa;
      } else if (!a) {
        l.noalias() = wa * *b;
      } else if (!b) {
        l.noalias() = *a * wa;
      } else {
        product.noalias() = *a * wa;
        l.noalias() = product * *b;
      }
    }
  }

  double run_grid(const RMat& u, RMat* grad, std::vector<double>* fid) {
    const int m = static_cast<int>(p.ensemble.size());
    if (sliced) {
      run_units(u, grad);
    } else {
      for (int g0 = mine_begin; g0 < mine_end; g0 += group) {
        const int g1 = std::min(mine_end, g0 + group);
        for_slices([&](int s) {
          for (int i = g0; i < g1; ++i) evaluators[i - g0][s]->forward(u, p.ensemble[i]);
        });
        for (int i = g0; i < g1; ++i) {
          auto& ev = evaluators[i - g0];
          for (int s = 0; s < slices; ++s) xp[s] = &ev[s]->propagator();
          combine(i, 0, slices, left[i - g0].data());
          if (grad) grads[i].setZero(u.rows(), u.cols());
        }
        if (grad)
          for_slices([&](int s) {
            for (int i = g0; i < g1; ++i)
              evaluators[i - g0][s]->backward(u, p.ensemble[i], left[i - g0][s], g[i], grads[i]);
          });
      }
      if (team) exchange(u.rows(), u.cols(), grad != nullptr);
    }
    double wsum = 0, j = 0;
    for (const auto& mem : p.ensemble) wsum += mem.weight;
    if (grad) grad->setZero(u.rows(), u.cols());
    if (fid) fid->assign(m, 0.0);
    if (worst_power > 0) return worst_objective(grad, fid, wsum);
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

  // A sliced team's evaluation (see `sliced`): this rank's units forward on its threads, every
  // slice propagator to every rank, every member combined here, this rank's units backward, and
  // with a gradient every unit's gradient columns to every rank.
  void run_units(const RMat& u, RMat* grad) {
    const int m = static_cast<int>(p.ensemble.size());
    const size_t nu = unit_evaluators.size();
    pool.run(nu, [&](size_t k) {
      const int unit = unit_begin + static_cast<int>(k);
      unit_evaluators[k]->forward(u, p.ensemble[unit / slices]);
    });
    gather_propagators();
    for (int i = 0; i < m; ++i) {
      for (int s = 0; s < slices; ++s) xp[s] = &xs[i][s];
      // This rank's slices of member i: [s0, s1) (empty: g_i only).
      const int s0 = std::clamp(unit_begin - i * slices, 0, slices);
      const int s1 = std::clamp(unit_end - i * slices, 0, slices);
      combine(i, s0, std::max(s0, s1),
              s1 > s0 ? &unit_left[i * slices + s0 - unit_begin] : nullptr);
      if (grad) grads[i].setZero(u.rows(), u.cols());
    }
    if (!grad) return;
    pool.run(nu, [&](size_t k) {
      const int unit = unit_begin + static_cast<int>(k);
      const int i = unit / slices;
      unit_evaluators[k]->backward(u, p.ensemble[i], unit_left[k], g[i], grads[i]);
    });
    exchange_columns(u.rows());
  }

  // The worst-member objective (worst_power = p >= 1): J = 1 - M with M = (sum_i w_i e_i^p)^(1/p)
  // the weighted p-norm of the members' infidelities e_i = 1 - F_i (weights summing to one), a
  // smooth maximum of the e_i (max e >= M >= w_min^(1/p) max e) whose gradient weights each
  // member by (e_i / M)^(p-1): dM/du = sum_i w_i (e_i / M)^(p-1) de_i/du. An infidelity below
  // kInfidelityFloor (rounding: F = |g|/norm can exceed 1 by an ulp) counts as the floor.
  double worst_objective(RMat* grad, std::vector<double>* fid, double wsum) {
    const int m = static_cast<int>(p.ensemble.size());
    const double pw = worst_power;
    double s = 0;
    for (int i = 0; i < m; ++i) {
      const double a = std::abs(g[i]);
      if (fid) (*fid)[i] = a / p.norm;
      s += p.ensemble[i].weight / wsum * std::pow(std::max(1.0 - a / p.norm, kInfidelityFloor), pw);
    }
    const double mnorm = std::pow(s, 1.0 / pw);
    if (grad)
      for (int i = 0; i < m; ++i) {
        const double a = std::abs(g[i]);
        const double e = std::max(1.0 - a / p.norm, kInfidelityFloor);
        const double c = p.ensemble[i].weight / wsum * std::pow(e / mnorm, pw - 1.0);
        // dJ/du = -dM/du = sum_i c_i dF_i/du, dF_i/du = d|g|^2/du / (2 |g| norm).
        if (a > 0) *grad += (c / (2.0 * a * p.norm)) * grads[i];
      }
    return 1.0 - mnorm;
  }
};

}  // namespace

int time_slice_count(const GrapeProblem& problem) { return slice_count(problem); }

double ensemble_objective(const GrapeProblem& problem, const RMat& u_hz, RMat* grad,
                          std::vector<double>* fidelity, int threads, int worst_power) {
  if (worst_power < 0)
    throw InputError("grape: worst_power = " + std::to_string(worst_power) + ": must be >= 0");
  EnsembleWorkspace ws(problem, threads);
  ws.worst_power = worst_power;
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

// The ensemble's B1 range and its distinct offsets (offset_hz and drift_diag of a member; its
// b1_scale and weight unused).
struct B1Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  std::vector<EnsembleMember> offsets;
};

B1Range b1_range(const GrapeProblem& p) {
  B1Range r;
  for (const auto& m : p.ensemble) {
    r.lo = std::min(r.lo, m.b1_scale);
    r.hi = std::max(r.hi, m.b1_scale);
    const bool seen = std::any_of(r.offsets.begin(), r.offsets.end(), [&](const auto& o) {
      return o.offset_hz == m.offset_hz && o.drift_diag.size() == m.drift_diag.size() &&
             o.drift_diag == m.drift_diag;
    });
    if (!seen) r.offsets.push_back(m);
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
    for (const auto& off : offsets)
      q.ensemble.push_back(
          {0.5 * (lo + hi) + 0.5 * (hi - lo) * x[i], off.offset_hz, w[i], off.drift_diag});
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
  for (const auto& off : offsets)
    c.ensemble.push_back({0.5 * (lo + hi), off.offset_hz, 1.0, off.drift_diag});
  return c;
}

// The B1 range's ends and centre, every offset, equal weights: the endgame's members
// (Plan::endgame_power), where a worst-member search bounds the whole range.
GrapeProblem ends_b1_problem(const GrapeProblem& p) {
  const auto [lo, hi, offsets] = b1_range(p);
  GrapeProblem e = p;
  e.ensemble.clear();
  for (double b : {lo, 0.5 * (lo + hi), hi})
    for (const auto& off : offsets) e.ensemble.push_back({b, off.offset_hz, 1.0, off.drift_diag});
  return e;
}

// The fine verification grid: 4 x the ensemble's B1 points over its range, every offset.
GrapeProblem fine_b1_problem(const GrapeProblem& p) {
  const auto [lo, hi, offsets] = b1_range(p);
  const int points = 4 * (distinct_b1(p) - 1) + 1;
  GrapeProblem f = p;
  f.ensemble.clear();
  for (int i = 0; i < points; ++i)
    for (const auto& off : offsets)
      f.ensemble.push_back({lo + (hi - lo) * i / (points - 1), off.offset_hz, 1.0, off.drift_diag});
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
// The optimiser: plan the stages (plan_stages), run the starts (run_starts: each a StartRun of
// L-BFGS-B legs), pick the best start (pick_best) and summarise it (summarise).

namespace {

// L-BFGS-B's variables are the amplitudes in kHz (kHzPerVariable Hz each): with RF limits of a
// few to tens of kHz the variables, gradients and first steps are of order one.
constexpr double kHzPerVariable = 1000.0;

// Penalties: smoothness weight * sum_k ((u_k+1 - u_k)/max)^2 / steps, and
// kAmpPenalty * sum_k max(0, |u_k|^2/max^2 - 1)^2 keeping the RF amplitude within max_rf.
constexpr double kAmpPenalty = 10.0;

// A stalled line search restarts L-BFGS-B (a new leg) at most this many times per start, and
// only while the previous leg lowered the objective by more than kLegProgress.
constexpr int kMaxLegs = 50;
constexpr double kLegProgress = 1e-7;

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

// LBFGS++'s More-Thuente line search, counted and contained. Each call is one L-BFGS-B
// iteration (LBFGSBSolver::minimize runs one line search per iteration), so the objective counts
// iterations here. A failed line search (LBFGS++ throws std::runtime_error, or std::logic_error
// for an uphill direction) is recorded on the objective instead of unwinding the solver; an
// exception from the objective itself (bad_alloc, an input error) passes through untouched.
// When the objective has asked to end the leg (a stop, a verified target, the next stage), the
// gradient is zeroed: LBFGS++ then returns at its convergence test.
template <class Objective, class Vector, class Search>
void contained_line_search(Objective& f, Vector& grad, Search&& search) {
  f.iteration_begins();
  try {
    search();
  } catch (const std::runtime_error& e) {
    if (f.evaluating()) throw;
    f.line_search_failed(e.what());
  } catch (const std::logic_error& e) {
    if (f.evaluating()) throw;
    f.line_search_failed(e.what());
  }
  if (f.leg_ends()) grad.setZero();
}

template <class Scalar>
class ContainedLineSearch {
 public:
  template <class Objective, class Vector, class Param>
  static void LineSearch(Objective& f, Scalar& fx, Vector& x, Vector& grad, Scalar& step,
                         const Scalar& step_max, const Vector& drt, const Vector& xp,
                         const Param& param) {
    contained_line_search(f, grad, [&] {
      LBFGSpp::LineSearchMoreThuente<Scalar>::LineSearch(f, fx, x, grad, step, step_max, drt, xp,
                                                         param);
    });
  }
};

// The same for the endgame's solver, LBFGS++'s unbounded L-BFGS (kEndgameMemory), around its
// strong-Wolfe line search (Nocedal & Wright, Numerical Optimization, 2nd ed., Alg. 3.5-3.6).
template <class Scalar>
class ContainedUnboundedLineSearch {
 public:
  template <class Objective, class Vector, class Param>
  static void LineSearch(Objective& f, Scalar& fx, Vector& x, Vector& grad, Scalar& step,
                         const Vector& drt, const Vector& xp, const Param& param) {
    contained_line_search(f, grad, [&] {
      LBFGSpp::LineSearchNocedalWright<Scalar>::LineSearch(f, fx, x, grad, step, drt, xp, param);
    });
  }
};

// The endgame's memory (Plan::endgame_memory): L-BFGS corrections kept past the handover.
// Measured on the cascade S3 S2 S1 (45 ms, 900 steps, B1 0.97-1.03, target 0.99997;
// bench/results/grape.md, "The endgame's memory"), seed 1 from the same handover: L-BFGS-B with
// 60 corrections 3084 endgame evaluations (122.8 s CPU in all), with 250 it climbed faster per
// evaluation but its own work grows as m^2 n (about 55 against 35 ms per iteration); the
// unbounded L-BFGS (two-loop recursion, 4 m n flops: a few ms at m = 1000, n = 1800) with 250
// corrections 1785 (82.0 s), with 1000 corrections 1525 (74.8 s); seed 1500: 1689 and 1479.
// Past the handover the pulse is well inside the RF limit (the cascade's peaks: 5.3 of 10 kHz),
// so the box is left to the amplitude penalty and the final clip (the target is verified on the
// clipped pulse, as before). Its storage: 16 m n bytes (29 MB for the cascade).
constexpr int kEndgameMemory = 1000;

// The Gauss-Newton endgame (StartRun::gauss_newton_endgame, gauss_newton.hpp): its Jacobian
// and Gram matrix at most kGaussNewtonBytes, at most kGaussNewtonJacobians Jacobians per stage.
// The damping follows Nielsen's rule (Madsen, Nielsen & Tingleff, Methods for Non-Linear Least
// Squares Problems, 2nd ed. (2004), sec. 3.2): it starts at kGaussNewtonTau times the Gram
// matrix's largest diagonal entry; after a step with gain ratio rho > 0 (actual over predicted
// reduction) it is multiplied by max(1/3, 1 - (2 rho - 1)^3), after a failed one by nu
// (2, doubling with each failure in a row); past kGaussNewtonLambdaMax times that entry the
// search has stalled and L-BFGS goes on. With it, the search hands over earlier
// (kGaussNewtonHandover instead of kEndgameHandover): measured on the cascade S3 S2 S1 to F_min
// 0.99997 (bench/results/grape.md, "The Gauss-Newton endgame").
constexpr double kGaussNewtonBytes = 512.0 * 1024 * 1024;
constexpr int kGaussNewtonJacobians = 300;
constexpr double kGaussNewtonTau = 1e-3;
constexpr double kGaussNewtonLambdaMax = 1e3;
constexpr double kGaussNewtonHandover = 100.0;

// What this process says at a team's next exchange: 2 when asked to stop, 1 when past the time
// limit, 0 to go on (EnsembleWorkspace::vote).
double local_vote(const GrapeOptions& o, Clock::time_point t0) {
  if (o.stop && o.stop->load()) return 2;
  return seconds_since(t0) > o.time_limit_s ? 1 : 0;
}

// The highest vote of a team's processes (one collective); this process's own without a team.
// `extra`: this process's further vote (3: a lower start reached the target on another group of
// ranks, run_starts).
double team_vote(const GrapeOptions& o, Clock::time_point t0, double extra = 0) {
  const double mine = std::max(local_vote(o, t0), extra);
  if (!team_shared(o.team)) return mine;
  std::vector<double> all;
  o.team->allgather({mine}, std::vector<int>(o.team->size(), 1), all);
  return *std::max_element(all.begin(), all.end());
}

// One search stage before the full grid: its members, its objective, and when it ends.
struct Stage {
  GrapeProblem problem;
  int worst_power = 0;    // EnsembleWorkspace::worst_power (0: the mean of F)
  double handover = 0.0;  // > 0: on to the next stage once the members' F_min reaches it
};

struct StartResult {
  StartSummary summary;
  RMat u;
  std::vector<double> fidelity;  // of u, per member of the problem's ensemble
  bool reached = false;
};

class StartRun {
 public:
  // `stages`: the problems to search on, in order, before the full grid (none: the grid only).
  StartRun(const GrapeProblem& p, const std::vector<Stage>& stages, int grid_worst_power,
           const GrapeOptions& o, int start, int eval_threads, Clock::time_point t0,
           const std::atomic<int>& cancel_above, const ProgressCallback& progress,
           std::mutex& progress_mutex, RMat initial = RMat(), bool end_at_handover = false)
      : p_(p),
        initial_(std::move(initial)),
        o_(o),
        start_(start),
        ws_(p, eval_threads, o.team),
        t0_(t0),
        cancel_above_(cancel_above),
        progress_(progress),
        progress_mutex_(progress_mutex),
        end_at_handover_(end_at_handover) {
    nc_ = static_cast<int>(p.channels.size());
    first_ = (o.zero_ends && p.steps >= 3) ? 1 : 0;
    last_ = (o.zero_ends && p.steps >= 3) ? p.steps - 1 : p.steps;  // exclusive
    u_ = RMat::Zero(2 * nc_, p.steps);
    gu_ = RMat::Zero(2 * nc_, p.steps);
    ws_.worst_power = grid_worst_power;
    for (const auto& s : stages) {
      stages_.push_back(std::make_unique<EnsembleWorkspace>(s.problem, eval_threads, o.team));
      stages_.back()->worst_power = s.worst_power;
      handovers_.push_back(s.handover);
    }
  }

  int size() const { return 2 * nc_ * (last_ - first_); }
  // Corrections of the endgame's unbounded L-BFGS (Plan::endgame_memory; 0: L-BFGS-B throughout).
  void use_endgame_memory(int m) { endgame_memory_ = m; }
  // Levenberg-Marquardt first on each endgame stage (Plan::gauss_newton).
  void use_gauss_newton(bool on) { gauss_newton_ = on; }
  // Called before each evaluation's vote: lowers cancel_above to the starts other groups of
  // ranks report as reached (run_starts, starts dealt to groups).
  void use_poll(std::function<void()> poll) { poll_ = std::move(poll); }
  // On a stage with the worst-member objective (the endgame's members, or the grid after them).
  bool in_endgame() const {
    return stage_ < stages_.size() ? stages_[stage_]->worst_power > 0 : ws_.worst_power > 0;
  }

  void to_u(const Eigen::VectorXd& x) {
    int i = 0;
    for (int k = first_; k < last_; ++k)
      for (int r = 0; r < 2 * nc_; ++r) u_(r, k) = kHzPerVariable * x(i++);
  }
  Eigen::VectorXd from_u(const RMat& u) const {
    Eigen::VectorXd x(size());
    int i = 0;
    for (int k = first_; k < last_; ++k)
      for (int r = 0; r < 2 * nc_; ++r) x(i++) = u(r, k) / kHzPerVariable;
    return x;
  }

  // ContainedLineSearch's hooks.
  void iteration_begins() { ++iterations_; }
  bool evaluating() const { return evaluating_; }
  void line_search_failed(const std::string& what) {
    line_search_failed_ = true;
    message_ = what;
  }
  bool leg_ends() const { return line_search_failed_ || ending_ != Ending::kNone; }

  // LBFGS++ functor: f = 1 - J + penalties, variables in kHz. Once the leg is to end it returns
  // the lowest value with a zero gradient, which LBFGS++ accepts and converges on.
  double operator()(const Eigen::VectorXd& x, Eigen::VectorXd& gx) {
    take_votes();
    if (ending_ != Ending::kNone) return leg_end(gx);
    evaluating_ = true;
    const double f = evaluate(x, gx);
    evaluating_ = false;
    return ending_ != Ending::kNone ? leg_end(gx) : f;
  }

  // Ends the run when asked to: another start reached the target, a stop, the time limit (a
  // team on the votes of its last evaluation).
  void take_votes() {
    if (ending_ == Ending::kNone) {
      if (!team_shared(o_.team) && cancel_above_.load() < start_)
        end_run(Termination::kConverged);
      else if (team_shared(o_.team)) {
        // A team ends together: on the votes its processes exchanged at the last evaluation
        // (3: a lower start reached the target on another group, run_starts).
        if (agreed_vote_ >= 3)
          end_run(Termination::kConverged);
        else if (agreed_vote_ >= 2)
          end_run(Termination::kInterrupted);
        else if (agreed_vote_ >= 1)
          end_run(Termination::kTimeLimit);
      } else if (o_.stop && o_.stop->load())
        end_run(Termination::kInterrupted);
      else if (seconds_since(t0_) > o_.time_limit_s)
        end_run(Termination::kTimeLimit);
    }
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
          const double mx = p_.channels[r / 2].max_rf_hz / kHzPerVariable;
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
    LBFGSpp::LBFGSBSolver<double, ContainedLineSearch> solver(param);
    // Past the endgame's handover: unbounded L-BFGS with a long memory (endgame_memory_).
    LBFGSpp::LBFGSParam<double> eparam;
    eparam.m = std::max(1, endgame_memory_);
    eparam.epsilon = param.epsilon;
    eparam.epsilon_rel = param.epsilon_rel;
    eparam.past = param.past;
    eparam.delta = param.delta;
    eparam.max_linesearch = param.max_linesearch;
    eparam.linesearch = LBFGSpp::LBFGS_LINESEARCH_BACKTRACKING_STRONG_WOLFE;
    LBFGSpp::LBFGSSolver<double, ContainedUnboundedLineSearch> endgame_solver(eparam);
    double fx = 0;
    Termination term = Termination::kConverged;
    // Legs of L-BFGS-B. A stalled line search (the landscape is far from quadratic) restarts it
    // from the best point so far with a fresh memory, as long as the previous leg made progress;
    // a stage that reached the target on its members but not on the full grid goes on on the
    // next stage (or the grid).
    double leg_start_f = std::numeric_limits<double>::infinity();
    for (int leg = 0; leg < kMaxLegs; ++leg) {
      line_search_failed_ = false;
      const int before = iterations_;
      if (endgame_memory_ > 0 && in_endgame()) {
        if (gauss_newton_ && gauss_newton_stage_ != stage_) {
          // Levenberg-Marquardt first on each endgame stage; on from its point by L-BFGS when it
          // stalls before the target.
          gauss_newton_stage_ = stage_;
          gauss_newton_endgame(x);
          if (ending_ == Ending::kNone && iterations_ >= o_.max_iterations)
            end_run(Termination::kIterationLimit);
          param.max_iterations = std::max(1, o_.max_iterations - iterations_);
        }
        if (ending_ == Ending::kNone) {
          eparam.max_iterations = param.max_iterations;
          endgame_solver.minimize(*this, x, fx);
        }
      } else {
        solver.minimize(*this, x, fx, lb, ub);
      }
      if (ending_ == Ending::kRun) {
        term = end_reason_;
        break;
      }
      if (ending_ == Ending::kNextStage && stage_ + 1 >= stages_.size() && end_at_handover_) {
        term = Termination::kConverged;  // the last stage handed over: this run's part is done
        break;
      }
      if (ending_ == Ending::kNextStage) {
        // Go on from the point this stage found, with a fresh memory (the objective changed)
        // and fresh stall and best-point records.
        ending_ = Ending::kNone;
        ++stage_;
        x = from_u(switch_u_);
        best_f_ = std::numeric_limits<double>::infinity();
        best_fmin_ = -1.0;
        stall_gap_ = std::numeric_limits<double>::infinity();
        leg_start_f = std::numeric_limits<double>::infinity();
        param.max_iterations = std::max(1, o_.max_iterations - iterations_);
        continue;
      }
      if (line_search_failed_) {
        term = Termination::kLineSearch;
        if (!(best_f_ < leg_start_f - kLegProgress) || best_x_.size() == 0) break;
        leg_start_f = best_f_;
        x = best_x_;
        param.max_iterations = std::max(1, o_.max_iterations - iterations_);
        continue;
      }
      term = iterations_ - before >= param.max_iterations ? Termination::kIterationLimit
                                                          : Termination::kConverged;
      break;
    }
    RMat u = best_u_;
    clip_amplitude(p_, u);
    std::vector<double> fid;
    ws_.run(u, nullptr, &fid);
    res.u = u;
    res.fidelity = fid;
    res.summary.termination = term;
    res.summary.iterations = iterations_;
    res.summary.evaluations = evaluations_;
    res.summary.fidelity_min = *std::min_element(fid.begin(), fid.end());
    res.summary.wall_s = seconds_since(ts);
    res.summary.message = message_;
    res.summary.full_grid_evaluations = full_grid_evaluations_;
    res.summary.endgame_evaluations = endgame_evaluations_;
    res.summary.gauss_newton_jacobians = gauss_newton_jacobians_;
    res.reached = res.summary.fidelity_min >= o_.fidelity_target;
    if (res.reached) res.summary.termination = Termination::kReachedTarget;
    return res;
  }

 private:
  // Why the current leg of L-BFGS-B is to end: not at all, the whole start, or on to the next
  // search stage.
  enum class Ending { kNone, kRun, kNextStage };

  void end_run(Termination why) {
    ending_ = Ending::kRun;
    end_reason_ = why;
  }
  double leg_end(Eigen::VectorXd& gx) const {
    gx.setZero();
    return std::numeric_limits<double>::lowest();
  }

  // Levenberg-Marquardt on the unitary residuals of the current stage's members
  // (gauss_newton.hpp) from x, when they apply: one Jacobian per accepted step, each trial point
  // judged by one fidelity evaluation (no gradient) of the stage's members on the weighted mean
  // infidelity plus the penalties, the damping by Nielsen's rule (kGaussNewtonTau). Ends like an
  // evaluation (evaluate()): at the target on the full grid, or on to the next stage when the
  // members reach it and the grid does not; returns with ending_ unchanged when it stalls (L-BFGS
  // goes on from x, its best point).
  void gauss_newton_endgame(Eigen::VectorXd& x) {
    EnsembleWorkspace& ws = stage_ < stages_.size() ? *stages_[stage_] : ws_;
    const GrapeProblem& q = ws.p;
    if (!gauss_newton_applies(q, first_, last_, kGaussNewtonBytes)) return;
    double wsum = 0;
    for (const auto& m : q.ensemble) wsum += m.weight;
    RMat pen_grad;
    auto merit_of = [&](const std::vector<double>& fid) {
      double m = 0;
      for (size_t i = 0; i < fid.size(); ++i) m += q.ensemble[i].weight / wsum * (1.0 - fid[i]);
      pen_grad.setZero(u_.rows(), u_.cols());
      return m + penalties(q, o_, u_, pen_grad);
    };
    UnitaryResiduals res;
    RMat k;
    Eigen::VectorXd delta;
    std::vector<double> fid;
    double merit = 0, scale = 0, lambda = 0, nu = 2;
    int jacobians = 0;
    auto linearise = [&] {
      to_u(x);
      unitary_residuals(q, u_, first_, last_, kHzPerVariable, ws.threads, res);
      ++jacobians;
      ++gauss_newton_jacobians_;
      ++iterations_;  // a Jacobian is one iteration of the search (max_iterations)
      merit = merit_of(res.fidelity);
      gram(res.jac, ws.threads, k);
    };
    linearise();
    scale = std::max(k.diagonal().maxCoeff(), std::numeric_limits<double>::min());
    lambda = kGaussNewtonTau * scale;
    while (jacobians < kGaussNewtonJacobians && iterations_ < o_.max_iterations &&
           lambda < kGaussNewtonLambdaMax * scale) {
      take_votes();
      if (ending_ != Ending::kNone) return;
      if (!levenberg_marquardt_step(res.jac, k, res.r, lambda, delta)) {
        lambda *= nu;
        nu *= 2;
        continue;
      }
      // The model's reduction |r|^2 - |r + J delta|^2 (the residual's square is the members'
      // mean infidelity to second order in the error).
      const double predicted = res.r.squaredNorm() - (res.r + res.jac * delta).squaredNorm();
      const Eigen::VectorXd xt = x + delta.head(res.controls);
      to_u(xt);
      run_stage(nullptr, fid);
      const double mt = merit_of(fid);
      const double fmin = *std::min_element(fid.begin(), fid.end());
      if (fmin > best_fmin_) {
        best_fmin_ = fmin;
        best_u_ = u_;
      }
      if (progress_) {
        std::lock_guard<std::mutex> lock(progress_mutex_);
        progress_({start_, evaluations_, fmin, best_fmin_, seconds_since(t0_)});
      }
      const double rho = predicted > 0 ? (merit - mt) / predicted : -1.0;
      if (!(rho > 0)) {  // a NaN is a failure too
        lambda *= nu;
        nu *= 2;
        continue;
      }
      x = xt;
      check_target(fmin);
      if (ending_ != Ending::kNone) return;
      lambda *= std::max(1.0 / 3.0, 1.0 - std::pow(2.0 * rho - 1.0, 3));
      nu = 2;
      linearise();
    }
  }

  // One evaluation on the current stage; may set ending_.
  double evaluate(const Eigen::VectorXd& x, Eigen::VectorXd& gx) {
    to_u(x);
    const double j = run_stage(&gu_, fid_);
    gu_ *= -1.0;
    const double pen = penalties(p_, o_, u_, gu_);
    const double f = 1.0 - j + pen;
    int i = 0;
    for (int k = first_; k < last_; ++k)
      for (int r = 0; r < 2 * nc_; ++r) gx(i++) = kHzPerVariable * gu_(r, k);
    const double fmin = *std::min_element(fid_.begin(), fid_.end());
    if (f < best_f_) {
      best_f_ = f;
      best_x_ = x;
    }
    if (fmin > best_fmin_) {
      best_fmin_ = fmin;
      best_u_ = u_;
    }
    if (o_.stall_evaluations > 0 && evaluations_ % o_.stall_evaluations == 0) {
      const double gap = o_.fidelity_target - best_fmin_;
      if (gap > 0.99 * stall_gap_) {
        end_run(Termination::kStalled);
        return f;
      }
      stall_gap_ = gap;
    }
    if (progress_) {
      std::lock_guard<std::mutex> lock(progress_mutex_);
      progress_({start_, evaluations_, fmin, best_fmin_, seconds_since(t0_)});
    }
    if (stage_ < stages_.size() && handovers_[stage_] > 0 && fmin >= handovers_[stage_] &&
        fmin < o_.fidelity_target) {
      // Far enough on this stage's members: on to the next stage (its own objective), unchecked.
      switch_u_ = u_;
      ending_ = Ending::kNextStage;
      return f;
    }
    check_target(fmin);
    return f;
  }

  // One run of the current stage's workspace at u_ (the full grid's past the stages): the other
  // groups' starts that reached the target taken first (run_starts), this process's vote carried
  // by the team's collective and the agreed vote kept; counted as an evaluation.
  double run_stage(RMat* grad, std::vector<double>& fid) {
    const bool on_full = stage_ >= stages_.size();
    EnsembleWorkspace& ws = on_full ? ws_ : *stages_[stage_];
    if (poll_) poll_();
    ws.vote = std::max(local_vote(o_, t0_), cancel_above_.load() < start_ ? 3.0 : 0.0);
    const double j = ws.run(u_, grad, &fid);
    agreed_vote_ = ws.agreed_vote;
    ++evaluations_;
    if (on_full) ++full_grid_evaluations_;
    if (in_endgame()) ++endgame_evaluations_;
    return j;
  }

  // The current stage's members at u_ reach the target (F_min = fmin): the clipped pulse on the
  // full grid ends the run where it holds there; otherwise a stage before the grid goes on on
  // the next one (the grid is checked whatever the stage's members say).
  void check_target(double fmin) {
    if (!(fmin >= o_.fidelity_target)) return;
    RMat clipped = u_;
    clip_amplitude(p_, clipped);
    std::vector<double> cf;
    ws_.run(clipped, nullptr, &cf);
    const double cmin = *std::min_element(cf.begin(), cf.end());
    if (cmin >= o_.fidelity_target) {
      best_u_ = clipped;
      best_fmin_ = cmin;
      end_run(Termination::kReachedTarget);
    } else if (stage_ < stages_.size()) {
      switch_u_ = u_;
      ending_ = Ending::kNextStage;
    }
  }

  const GrapeProblem& p_;
  RMat initial_;  // the start's initial guess (empty: initial_guess's)
  const GrapeOptions& o_;
  int start_;
  EnsembleWorkspace ws_;  // the problem's ensemble (the full grid)
  std::vector<std::unique_ptr<EnsembleWorkspace>> stages_;  // searched on first, in order
  std::vector<double> handovers_;                           // Stage::handover of each
  size_t stage_ = 0;                                        // stages_.size(): the full grid
  RMat switch_u_;
  int full_grid_evaluations_ = 0;
  int endgame_evaluations_ = 0;
  Clock::time_point t0_;
  const std::atomic<int>& cancel_above_;
  const ProgressCallback& progress_;
  std::mutex& progress_mutex_;
  // The last stage's handover ends the run (the coarse stage of an endgame) instead of going on
  // on the full grid.
  bool end_at_handover_ = false;
  int endgame_memory_ = 0;
  bool gauss_newton_ = false;
  size_t gauss_newton_stage_ = std::numeric_limits<size_t>::max();  // the stage it last ran on
  int gauss_newton_jacobians_ = 0;
  int nc_ = 0, first_ = 0, last_ = 0;
  RMat u_, gu_, best_u_;
  Eigen::VectorXd best_x_;
  std::vector<double> fid_;
  int evaluations_ = 0;
  int iterations_ = 0;  // L-BFGS-B iterations (line searches begun), over every leg and stage
  double stall_gap_ = std::numeric_limits<double>::infinity();  // gap at the last stall check
  double best_f_ = std::numeric_limits<double>::infinity();
  std::string message_;  // the optimiser's last complaint (LBFGS++ line search), for the summary
  double best_fmin_ = -1.0;
  double agreed_vote_ = 0;  // the team's votes at the last evaluation (EnsembleWorkspace::vote)
  std::function<void()> poll_;
  bool evaluating_ = false;  // inside evaluate(): an exception from there is not the line search's
  bool line_search_failed_ = false;  // in the current leg
  Ending ending_ = Ending::kNone;
  Termination end_reason_ = Termination::kConverged;
};

// glibc serves every block above 128 KiB with a fresh mmap and gives a freed heap top above
// 128 KiB back to the system (mallopt(3): M_MMAP_THRESHOLD, M_TRIM_THRESHOLD; the mmap threshold
// rises only to the largest block freed so far, the trim threshold to twice that). L-BFGS-B's
// iteration builds n x 2m temporaries (LBFGS++'s SubspaceMin: W rows of the free variables, 816
// KiB for 850 variables and 60 corrections) and Eigen's product blocks, so each iteration paid
// them in fresh pages: 58 000 page faults in 156 evaluations of C2-C4 (17 ms, 425 steps, 5 B1
// members; bench/results/grape.md, "Page faults and hand-offs"), 13 000 with the thresholds
// below, and about a fifth less CPU. The thresholds are glibc's own dynamic ceiling (32 MiB, and
// twice that for the trim), set once for the process: freed blocks stay in the heap for reuse.
void keep_freed_memory() {
#ifdef __GLIBC__
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
  });
#endif
}

void check_initial_u(const GrapeProblem& p, const GrapeOptions& o) {
  if (o.initial_u.size() == 0) return;
  const long rows = 2 * static_cast<long>(p.channels.size());
  if (o.initial_u.rows() != rows || o.initial_u.cols() != p.steps)
    throw InputError(fmt::format(
        "GrapeOptions.initial_u: {} x {} amplitudes, the problem needs {} x {} (u_x, u_y per "
        "channel; one column per step)",
        o.initial_u.rows(), o.initial_u.cols(), rows, p.steps));
  if (!o.initial_u.allFinite())
    throw InputError("GrapeOptions.initial_u: an amplitude is not a finite number");
}

// What every start does: the search stages before the full grid (the centre B1, then the
// quadrature rule), the coarse problem and its stages, and how the threads are shared.
struct Plan {
  bool auto_stages = false;  // the stages below are plan_stages' choice, not the options'
  bool quadrature = false;
  int quadrature_points = 0;
  bool nominal_first = false;
  std::vector<Stage> search;
  int coarse_factor = 0;  // 0: no coarse stage
  GrapeProblem coarse_problem;
  std::vector<Stage> coarse_search;
  // The endgame (choose_stages, high targets): the rule hands over at F_min >= handover to a
  // worst-member search (EnsembleWorkspace::worst_power = endgame_power) on the B1 range's ends
  // and centre, and the full grid is searched on with the same objective. 0: none.
  int endgame_power = 0;
  double handover = 0.0;
  int endgame_memory = 0;     // its unbounded L-BFGS's corrections (kEndgameMemory)
  bool gauss_newton = false;  // Levenberg-Marquardt first on each endgame stage (gauss_newton.hpp)
  int eval_threads = 1, start_threads = 1;
};

// The stages GRAPE chooses itself (GrapeOptions::auto_stages), each from what it measured on
// the shipped gates and the QuTiP benchmark (bench/results/grape.md):
// - a coarse stage of f steps per coarse step, the largest f <= kAutoCoarseMax dividing the
//   steps with at least kAutoCoarseMinSteps coarse steps and f dt max_rf <= kAutoCoarseTurns
//   (the coarse step nutates at most one turn at the RF limit): C1-C4 f = 2 (0.93 turn) and U_d
//   f = 2 (1.0 turn) reached the target on the coarse steps, the benchmark f = 4 (0.8 turn)
//   64x QuTiP where f = 2 gave 30x; f = 5 left one benchmark seed of six on a plateau;
// - without a coarse stage and with two or more B1 scales, the centre B1 first: the long climb
//   on one B1 member (C2-C4, 1.5-2.5x less wall time); with a coarse stage the climb is on the
//   cheap coarse steps already, and the centre first gained nothing there (C1-C4, U_d);
// - with three or more B1 scales and equal weights, the B1 range on a Gauss-Legendre rule:
//   2 points after a coarse stage (C1-C4, U_d: 1.2-1.3x over 3 points), 3 points otherwise
//   (C2-C4: 2 points needed more evaluations); always fewer points than the grid's scales.
constexpr int kAutoCoarseMax = 4;
constexpr int kAutoCoarseMinSteps = 3;
constexpr double kAutoCoarseTurns = 1.0;
// - an endgame for targets of F_min >= kEndgameTarget (a rule's mean bounds neither the grid's
//   edges nor its minimum there): the search on the rule (coarse steps first) hands over at
//   F_min = 1 - kEndgameHandover (1 - target) on the rule to the worst-member objective
//   (EnsembleWorkspace::worst_objective, p = kEndgamePower) on the full steps, over the B1
//   range's ends and centre, then the grid. To 0.99997 over B1 0.97-1.03 (seed 1,
//   bench/results/grape.md): the cascade S3 S2 S1 (45 ms, 900 steps) 246 -> 129 s CPU, C2-C4
//   142 -> 83 s, C1-C4 58 -> 32 s, C3-C4 17 -> 6 s. The endgame on the coarse steps stalled
//   below 0.99997 on C3-C4 for every p of 1, 2, 4, 8 (5000 iterations): it runs on the full
//   steps, and the coarse stage ends at the handover. Where the members' unitary residuals apply
//   (gauss_newton_applies: a unitary target, norm = d, no probe distortion) each endgame stage
//   first searches by Levenberg-Marquardt (StartRun::gauss_newton_endgame), which converges in
//   tens of Jacobians where L-BFGS took thousands of evaluations, so the handover comes earlier:
//   1 - kGaussNewtonHandover (1 - target).
constexpr double kEndgameTarget = 0.9999;
constexpr double kEndgameHandover = 3.0;
constexpr int kEndgamePower = 4;

void choose_stages(const GrapeProblem& p, double target, Plan& plan) {
  double max_rf = 0;
  for (const auto& c : p.channels) max_rf = std::max(max_rf, c.max_rf_hz);
  for (int f = kAutoCoarseMax; f >= 2; --f)
    if (p.steps % f == 0 && p.steps / f >= kAutoCoarseMinSteps &&
        f * p.dt_s * max_rf <= kAutoCoarseTurns * (1 + 1e-9)) {
      plan.coarse_factor = f;
      break;
    }
  const int b1 = distinct_b1(p);
  plan.nominal_first = b1 >= 2 && plan.coarse_factor == 0;
  bool equal_weights = true;
  for (const auto& m : p.ensemble) equal_weights &= m.weight == p.ensemble.front().weight;
  if (b1 >= 3 && equal_weights) {
    plan.quadrature = true;
    plan.quadrature_points = std::min(b1 - 1, plan.coarse_factor > 0 ? 2 : 3);
  }
  if (plan.quadrature && target >= kEndgameTarget) {
    plan.endgame_power = kEndgamePower;
    plan.endgame_memory = kEndgameMemory;
    plan.gauss_newton = gauss_newton_applies(p, 0, p.steps, kGaussNewtonBytes);
    plan.handover =
        1.0 - (plan.gauss_newton ? kGaussNewtonHandover : kEndgameHandover) * (1.0 - target);
  }
}

Plan plan_stages(const GrapeProblem& p, const GrapeOptions& o) {
  Plan plan;
  const bool hand_set = o.b1_quadrature != 0 || o.nominal_first || o.coarse_factor != 0;
  if (o.auto_stages && !hand_set) {
    plan.auto_stages = true;
    choose_stages(p, o.fidelity_target, plan);
  } else {
    plan.quadrature = o.b1_quadrature > 0 && distinct_b1(p) >= 2;
    plan.quadrature_points = plan.quadrature ? o.b1_quadrature : 0;
    plan.nominal_first = o.nominal_first && distinct_b1(p) >= 2;
    if (o.coarse_factor >= 2 && p.steps % o.coarse_factor == 0 && p.steps / o.coarse_factor >= 3)
      plan.coarse_factor = o.coarse_factor;
  }
  // The endgame (on the full steps only): the rule hands over to the worst-member search on the
  // B1 range's ends and centre (when the grid has more scales than that), then the grid; on the
  // coarse steps the rule's handover ends the coarse stage (StartRun's end_at_handover).
  auto stages_of = [&](const GrapeProblem& q, bool coarse) {
    std::vector<Stage> stages;
    if (plan.nominal_first) stages.push_back({centre_b1_problem(q)});
    if (plan.quadrature) stages.push_back({b1_quadrature_problem(q, plan.quadrature_points)});
    if (plan.endgame_power > 0) {
      stages.back().handover = plan.handover;
      if (!coarse && distinct_b1(q) > 3) stages.push_back({ends_b1_problem(q), plan.endgame_power});
    }
    return stages;
  };
  plan.search = stages_of(p, false);
  // Multi-resolution: the coarse problem (steps / f steps of f dt) and its stages.
  if (plan.coarse_factor > 0) {
    plan.coarse_problem = p;
    plan.coarse_problem.steps = p.steps / plan.coarse_factor;
    plan.coarse_problem.dt_s = p.dt_s * plan.coarse_factor;
    plan.coarse_search = stages_of(plan.coarse_problem, true);
  }
  // Up to S threads work on one start (the S time slices of every member, EnsembleWorkspace;
  // S = 2 below d = 64), so starts run one after the other and none is wasted; further threads
  // run starts in parallel.
  plan.eval_threads = std::min(o.threads, slice_count(p));
  plan.start_threads = std::max(1, std::min(o.threads / plan.eval_threads, o.starts));
  // A team's processes share each start's members (or time slices) instead, and run the starts
  // one after the other in the same order (their collectives come from one thread, in lock
  // step).
  if (team_shared(o.team)) plan.start_threads = 1;
  return plan;
}

struct Starts {
  std::vector<StartResult> results;
  std::vector<char> ran;  // not vector<bool>: written from several threads
};

// Groups of ranks the starts are dealt to (`mpirun -n N`, several starts). Starts come first:
// they need no communication inside an evaluation, where the finer units do. With N >= 2 M
// (M the problem's members) the ranks form min(starts, N / M) groups of at least M ranks, each
// running its own starts, as one process's threads beyond two run starts in parallel
// (Plan::start_threads); a group with more ranks than members shares their time slices
// (EnsembleWorkspace::sliced), and so does the whole team with N < 2 M or one start.
// 1: every rank on each start.
int start_groups(const GrapeProblem& p, const GrapeOptions& o) {
  if (!team_shared(o.team) || o.starts < 2) return 1;
  const int members = static_cast<int>(p.ensemble.size());
  return std::max(1, std::min(o.starts, o.team->size() / std::max(members, 1)));
}

// A group's finished starts as text for the other ranks (run_starts), and back into `st`.
std::string starts_text(const Starts& st) {
  nlohmann::json a = nlohmann::json::array();
  for (size_t s = 0; s < st.results.size(); ++s)
    if (st.ran[s]) {
      const StartResult& r = st.results[s];
      a.push_back({{"s", s},
                   {"summary", wire::start_json(r.summary)},
                   {"u", wire::bits(r.u)},
                   {"fidelity", wire::bits(r.fidelity)},
                   {"reached", r.reached}});
    }
  return a.dump();
}
void read_starts(const std::string& text, Starts& st) {
  for (const auto& j : nlohmann::json::parse(text)) {
    const size_t s = j.at("s").get<size_t>();
    NMRC_CHECK(s < st.results.size(), "a rank's start index is out of range");
    StartResult& r = st.results[s];
    r.summary = wire::start_from_json(j.at("summary"));
    r.u = wire::matrix_from_bits(j.at("u"));
    r.fidelity = wire::vector_from_bits(j.at("fidelity"));
    r.reached = j.at("reached").get<bool>();
    st.ran[s] = 1;
  }
}

// Runs the starts in order (in parallel when the plan has threads for it); once a start reaches
// the target, later starts are skipped or stopped. Under a team whose ranks one start cannot
// use (start_groups > 1), start s runs on group s % G (rank r in group r % G), each group's
// ranks sharing its members; a start that reaches the target is posted to every rank, and the
// groups end their later starts at their next evaluation (agreed within the group by its vote);
// then every rank receives every group's starts (one gather, one broadcast). The chosen start
// (pick_best: the lowest-index start that reached the target, else the best F_min, ties to the
// lower index) is one process's: every start below it ran to its own end on some group.
Starts run_starts(const GrapeProblem& p, const GrapeOptions& o_all, const Plan& plan,
                  Clock::time_point t0, const ProgressCallback& progress) {
  Starts out;
  out.results.resize(o_all.starts);
  out.ran.assign(o_all.starts, 0);
  const int groups = start_groups(p, o_all);
  Team* parent = groups > 1 ? o_all.team : nullptr;
  const int group = parent ? parent->rank() % groups : 0;
  std::unique_ptr<Team> own;
  if (parent) own = parent->split(group);
  GrapeOptions o_group = o_all;
  if (parent) o_group.team = team_shared(own.get()) ? own.get() : nullptr;
  const GrapeOptions& o = o_group;
  std::vector<int> mine;  // this rank's starts, in order
  for (int s = group; s < o.starts; s += groups) mine.push_back(s);
  std::atomic<int> next{0};
  std::atomic<int> cancel_above{std::numeric_limits<int>::max()};
  std::mutex progress_mutex;
  auto lower_cancel = [&cancel_above](int s) {
    int cur = cancel_above.load();
    while (s < cur && !cancel_above.compare_exchange_weak(cur, s)) {
    }
  };
  std::function<void()> poll;
  if (parent)
    poll = [&] {
      for (int s : parent->take_posts()) lower_cancel(s);
    };
  auto worker = [&] {
    for (;;) {
      const int k = next.fetch_add(1);
      if (k >= static_cast<int>(mine.size())) return;
      const int s = mine[k];
      if (poll) poll();
      // A team decides together (its vote), a process alone on its own counter.
      if (!team_shared(o.team) && s > cancel_above.load()) continue;
      if (team_vote(o, t0, s > cancel_above.load() ? 3 : 0) > 0) continue;
      RMat initial;
      int coarse_evaluations = 0;
      const bool warm = s == 0 && o.initial_u.size() > 0;
      if (warm) {
        initial = o.initial_u;
        clip_amplitude(p, initial);
      } else if (plan.coarse_factor > 0) {
        // The coarse stage; its pulse, each step repeated f times, starts the search.
        // With an endgame the coarse stage ends at its handover (Plan::handover).
        StartRun run_coarse(plan.coarse_problem, plan.coarse_search, plan.endgame_power, o, s,
                            plan.eval_threads, t0, cancel_above, progress, progress_mutex, RMat(),
                            plan.endgame_power > 0);
        run_coarse.use_poll(poll);
        const StartResult cr = run_coarse.run();
        coarse_evaluations = cr.summary.evaluations;
        initial.resize(cr.u.rows(), p.steps);
        for (int k2 = 0; k2 < p.steps; ++k2) initial.col(k2) = cr.u.col(k2 / plan.coarse_factor);
      }
      StartRun run(p, plan.search, plan.endgame_power, o, s, plan.eval_threads, t0, cancel_above,
                   progress, progress_mutex, initial);
      run.use_endgame_memory(plan.endgame_memory);
      run.use_gauss_newton(plan.gauss_newton);
      run.use_poll(poll);
      StartResult& r = out.results[s];
      r = run.run();
      r.summary.coarse_evaluations = coarse_evaluations;
      if (warm) r.summary.initial = "warm";
      out.ran[s] = 1;
      if (r.reached) {
        lower_cancel(s);
        if (parent && team_root(o.team)) parent->post(s);  // the group's first rank tells all
      }
    }
  };
  // Each thread takes the next start until none is left (the worker's own counter).
  parallel_for(static_cast<size_t>(std::max(plan.start_threads, 1)), plan.start_threads,
               [&](size_t) { worker(); });
  if (parent) {
    parent->end_posts();
    // Every group's starts to every rank: each group's first rank sends them, rank 0 joins them.
    std::vector<std::string> texts;
    parent->gather(team_root(o.team) ? starts_text(out) : std::string("[]"), texts);
    std::string joined;
    if (parent->rank() == 0) {
      Starts all;
      all.results.resize(o.starts);
      all.ran.assign(o.starts, 0);
      for (const auto& t : texts) read_starts(t, all);
      joined = starts_text(all);
    }
    parent->broadcast(joined);
    out.ran.assign(o.starts, 0);
    read_starts(joined, out);
  }
  return out;
}

// The lowest-index start that reached the target (independent of thread timing), otherwise the
// best ensemble minimum; -1 when no start ran.
int pick_best(const Starts& st) {
  const int n = static_cast<int>(st.results.size());
  for (int s = 0; s < n; ++s)
    if (st.ran[s] && st.results[s].reached) return s;
  int best = -1;
  for (int s = 0; s < n; ++s)
    if (st.ran[s] &&
        (best < 0 || st.results[s].summary.fidelity_min > st.results[best].summary.fidelity_min))
      best = s;
  return best;
}

GrapeResult summarise(const GrapeProblem& p, const GrapeOptions& o, const Plan& plan,
                      const Starts& st, int best, Clock::time_point t0) {
  GrapeResult out;
  Summary& sm = out.summary;
  const bool best_reached = best >= 0 && st.results[best].reached;
  for (int s = 0; s < o.starts; ++s)
    if (st.ran[s] && (s <= best || !best_reached)) {
      sm.starts.push_back(st.results[s].summary);
      sm.evaluations += st.results[s].summary.evaluations;
    }
  const bool stopped = o.stop && o.stop->load();
  if (best < 0) {  // time limit (or a stop) before any start ran
    out.u_hz = initial_guess(p, o, 0);
    sm.termination = stopped ? Termination::kInterrupted : Termination::kTimeLimit;
  } else {
    out.u_hz = st.results[best].u;
    sm.termination = st.results[best].summary.termination;
    sm.iterations = st.results[best].summary.iterations;
    sm.best_start = best;
  }
  // A stop that cut any start short makes the whole run interrupted, whatever the best start did.
  if (stopped && !best_reached) sm.termination = Termination::kInterrupted;
  if (best >= 0) {
    // Evaluated by its start on the full grid (bit-identical for any thread count).
    sm.fidelity = st.results[best].fidelity;
  } else {
    EnsembleWorkspace ws(p, 1, o.team);
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
  sm.quadrature_points = plan.quadrature_points;
  sm.nominal_first = plan.nominal_first;
  sm.coarse_factor = plan.coarse_factor;
  sm.auto_stages = plan.auto_stages;
  if (distinct_b1(p) >= 2) {  // the returned pulse between the grid's B1 points
    const GrapeProblem fine = fine_b1_problem(p);
    std::vector<double> ff;
    EnsembleWorkspace(fine, o.threads, o.team).run(out.u_hz, nullptr, &ff);
    sm.fine_points = static_cast<int>(fine.ensemble.size());
    sm.fine_fidelity_min = *std::min_element(ff.begin(), ff.end());
  }
  sm.wall_s = seconds_since(t0);
  if (team_shared(o.team)) sm.ranks = o.team->size();
  std::ostringstream msg;
  sm.endgame_power = plan.endgame_power;
  sm.endgame_handover = plan.handover;
  sm.endgame_memory = plan.endgame_memory;
  sm.endgame_gauss_newton = plan.gauss_newton;
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

}  // namespace

GrapeResult optimise(const GrapeProblem& p, const GrapeOptions& o,
                     const ProgressCallback& progress) {
  p.validate();
  o.validate();
  check_initial_u(p, o);
  keep_freed_memory();
  const auto t0 = Clock::now();
  const double bytes0 = o.team ? o.team->bytes_moved() : 0.0;
  const double seconds0 = o.team ? o.team->seconds_in_collectives() : 0.0;
  const Plan plan = plan_stages(p, o);
  const Starts starts = run_starts(p, o, plan, t0, progress);
  GrapeResult r = summarise(p, o, plan, starts, pick_best(starts), t0);
  if (team_shared(o.team)) {
    r.summary.team_bytes = o.team->bytes_moved() - bytes0;
    r.summary.team_seconds = o.team->seconds_in_collectives() - seconds0;
  }
  return r;
}

std::string Summary::brief_report() const {
  std::ostringstream os;
  int coarse = 0;
  for (const auto& s : starts) coarse += s.coarse_evaluations;
  os << termination_name(termination) << ": " << message << ", " << evaluations << " evaluations";
  if (coarse > 0) os << " (+ " << coarse << " on the coarse steps)";
  os << ", " << fmt::format("{:.1f}", wall_s) << " s";
  if (ranks > 1)
    os << fmt::format(" on {} processes ({:.3g} MB and {:.2f} s in collectives on this one)", ranks,
                      team_bytes / 1e6, team_seconds);
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
  if (coarse_factor > 0)
    os << "  a coarse stage first: each of its steps held for " << coarse_factor << " steps\n";
  if (endgame_power > 0)
    os << "  an endgame past F_min " << fmt::format("{:.5f}", endgame_handover)
       << " on the rule: the worst-member objective (p-norm of the infidelities, p = "
       << endgame_power << ") on the full steps, over the B1 range's ends and centre, then the grid"
       << (endgame_gauss_newton ? " (Levenberg-Marquardt on the members' unitary residuals, then"
                                : "")
       << (endgame_memory > 0 ? fmt::format("{}unbounded L-BFGS, {} corrections)",
                                            endgame_gauss_newton ? " " : " (", endgame_memory)
                              : std::string(endgame_gauss_newton ? ")" : ""))
       << "\n";
  if (auto_stages)
    os << "  search stages chosen by GRAPE from the problem (GrapeOptions::auto_stages)\n";
  for (const auto& s : starts) {
    os << "  start " << s.start << " (" << s.initial << "): " << termination_name(s.termination)
       << ", F_min " << fmt::format("{:.5f}", s.fidelity_min) << ", " << s.iterations
       << " iterations, " << s.evaluations << " evaluations";
    if (s.full_grid_evaluations > 0) os << " (" << s.full_grid_evaluations << " on the full grid)";
    if (s.endgame_evaluations > 0) {
      os << " (" << s.endgame_evaluations << " in the endgame";
      if (s.gauss_newton_jacobians > 0) os << ", " << s.gauss_newton_jacobians << " Jacobians";
      os << ")";
    }
    if (s.coarse_evaluations > 0) os << " after " << s.coarse_evaluations << " coarse ones";
    os << ", " << fmt::format("{:.1f}", s.wall_s) << " s\n";
  }
  return os.str();
}

}  // namespace nmrc::compiler
