#include "nmrc/thermo/collision.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <bit>
#include <cmath>
#include <memory>
#include <mutex>
#include <tuple>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/parallel.hpp"
#include "nmrc/core/propagators.hpp"

namespace nmrc::thermo {

Mat append_thermal_bath(const Mat& rho_s, double bath_temperature) {
  const auto [p0, p1] = populations(bath_temperature);
  const Eigen::Index d = rho_s.rows();
  Mat out = Mat::Zero(2 * d, 2 * d);
  // R is the last spin: joint index 2 s + r. The thermal R is diagonal.
  for (Eigen::Index c = 0; c < d; ++c)
    for (Eigen::Index r = 0; r < d; ++r) {
      out(2 * r, 2 * c) = rho_s(r, c) * p0;
      out(2 * r + 1, 2 * c + 1) = rho_s(r, c) * p1;
    }
  return out;
}

Mat trace_out_bath(const Mat& rho_sr) {
  const Eigen::Index d = rho_sr.rows() / 2;
  Mat out(d, d);
  for (Eigen::Index c = 0; c < d; ++c)
    for (Eigen::Index r = 0; r < d; ++r)
      out(r, c) = rho_sr(2 * r, 2 * c) + rho_sr(2 * r + 1, 2 * c + 1);
  return out;
}

SimultaneousUnitary::SimultaneousUnitary(int n, double g, double tau)
    : n_(n), sectors_(excitation_sectors(n + 1)) {
  const int ns = n + 1;
  const int br = 1;  // bath R = spin n = bit 0
  for (const auto& idx : sectors_) {
    const int d = static_cast<int>(idx.size());
    std::vector<int> pos(1 << ns, -1);
    for (int i = 0; i < d; ++i) pos[idx[i]] = i;
    Mat h = Mat::Zero(d, d);
    // H = g sum_k (s+^k s-^R + s-^k s+^R): swaps the excitation of S_k and R when they differ.
    for (int i = 0; i < d; ++i)
      for (int k = 0; k < n; ++k) {
        const int bk = 1 << (ns - 1 - k);
        if (((idx[i] & bk) != 0) != ((idx[i] & br) != 0)) h(pos[idx[i] ^ (bk | br)], i) += g;
      }
    u_.push_back(expm_hermitian(h, tau));
  }
}

void SimultaneousUnitary::apply(Mat& rho) const {
  const size_t ns = sectors_.size();
  for (size_t a = 0; a < ns; ++a)
    for (size_t b = 0; b < ns; ++b) {
      const auto& ia = sectors_[a];
      const auto& ib = sectors_[b];
      Mat blk(ia.size(), ib.size());
      bool zero = true;
      for (size_t c = 0; c < ib.size(); ++c)
        for (size_t r = 0; r < ia.size(); ++r) {
          blk(r, c) = rho(ia[r], ib[c]);
          zero = zero && blk(r, c) == cplx(0.0);
        }
      if (zero) continue;  // excitation-number coherences stay zero in this model
      const Mat out = u_[a] * blk * u_[b].adjoint();
      for (size_t c = 0; c < ib.size(); ++c)
        for (size_t r = 0; r < ia.size(); ++r) rho(ia[r], ib[c]) = out(r, c);
    }
}

void SimultaneousUnitary::apply_sector(Mat& block, size_t m) const {
  block = u_[m] * block * u_[m].adjoint();
}

Mat SimultaneousUnitary::dense() const {
  const int dim = 1 << (n_ + 1);
  Mat u = Mat::Zero(dim, dim);
  for (size_t a = 0; a < sectors_.size(); ++a)
    for (size_t c = 0; c < sectors_[a].size(); ++c)
      for (size_t r = 0; r < sectors_[a].size(); ++r)
        u(sectors_[a][r], sectors_[a][c]) = u_[a](r, c);
  return u;
}

namespace {

// Reduced state of (spin k, R) from an (n+1)-spin matrix with R last; local index 2 s_k + r.
Mat reduced_k_bath(const Mat& rho_sr, int k, int n) {
  const int ns = n + 1;
  const int bk = 1 << (ns - 1 - k);
  Mat out = Mat::Zero(4, 4);
  for (int base = 0; base < (1 << ns); ++base) {
    if (base & (bk | 1)) continue;
    const int off[4] = {0, 1, bk, bk | 1};
    for (int c = 0; c < 4; ++c)
      for (int r = 0; r < 4; ++r) out(r, c) += rho_sr(base + off[r], base + off[c]);
  }
  return out;
}

Mat reduced_bath(const Mat& rho_sr) {
  Mat out = Mat::Zero(2, 2);
  for (Eigen::Index s = 0; s < rho_sr.rows() / 2; ++s)
    for (int c = 0; c < 2; ++c)
      for (int r = 0; r < 2; ++r) out(r, c) += rho_sr(2 * s + r, 2 * s + c);
  return out;
}

double small_entropy(const Mat& rho) {
  const RVec w = hermitian_eigenvalues(rho);
  double s = 0.0;
  for (Eigen::Index i = 0; i < w.size(); ++i) {
    const double l = w(i);
    if (l > 1e-15) s -= l * std::log(l);
  }
  return s;
}

double diagonal_entropy(const Mat& rho) {
  double s = 0.0;
  for (Eigen::Index i = 0; i < rho.rows(); ++i) {
    const double l = rho(i, i).real();
    if (l > 1e-15) s -= l * std::log(l);
  }
  return s;
}

// S(rho' || sigma) for a 2x2 state against a diagonal full-rank sigma.
double relative_entropy_to_diagonal(const Mat& rho, const Mat& sigma_diag) {
  double s = -small_entropy(rho);
  for (Eigen::Index i = 0; i < rho.rows(); ++i)
    s -= rho(i, i).real() * std::log(sigma_diag(i, i).real());
  return s;
}

// State at the start of a collision, for the within-collision checks.
struct CollisionStart {
  Mat rho_s;
  std::vector<double> energy;
  ApparentTemperatures at;
  double entropy = 0.0, coherence = 0.0, free_energy = 0.0;
  std::vector<double> k_diag;  // K = -ln D(rho_S^start); empty when D has a zero
};

// The (n+1)-spin state during a collision, R as the last spin; two storages (Engine).
class Joint {
 public:
  virtual ~Joint() = default;
  virtual void reset(const Mat& rho_s, double p0, double p1) = 0;
  virtual void apply_pair(int k, const Mat& u, double theta, int threads) = 0;
  virtual void apply_simultaneous(const SimultaneousUnitary& u) = 0;
  virtual Mat system_state() const = 0;
  virtual std::pair<double, double> populations(int k) const = 0;
  virtual double pair_coherence(int p, int k) const = 0;
  virtual Mat bath_state() const = 0;
  virtual Mat k_bath_state(int k) const = 0;
  virtual Mat dense() const = 0;
};

class LocalJoint final : public Joint {
 public:
  explicit LocalJoint(int n) : n_(n) {}
  void reset(const Mat& rho_s, double p0, double p1) override {
    const Eigen::Index d = rho_s.rows();
    rho_ = Mat::Zero(2 * d, 2 * d);
    for (Eigen::Index c = 0; c < d; ++c)
      for (Eigen::Index r = 0; r < d; ++r) {
        rho_(2 * r, 2 * c) = rho_s(r, c) * p0;
        rho_(2 * r + 1, 2 * c + 1) = rho_s(r, c) * p1;
      }
  }
  void apply_pair(int k, const Mat& u, double, int threads) override {
    apply_local(rho_, u, {k, n_}, n_ + 1, threads);  // U_k as a two-spin gate on (S_k, R)
  }
  void apply_simultaneous(const SimultaneousUnitary& u) override { u.apply(rho_); }
  Mat system_state() const override { return trace_out_bath(rho_); }
  std::pair<double, double> populations(int k) const override {
    return subsystem_populations(rho_, k, n_ + 1);
  }
  double pair_coherence(int p, int k) const override {
    return thermo::pair_coherence(rho_, p, k, n_ + 1);
  }
  Mat bath_state() const override { return reduced_bath(rho_); }
  Mat k_bath_state(int k) const override { return reduced_k_bath(rho_, k, n_); }
  Mat dense() const override { return rho_; }

 private:
  int n_;
  Mat rho_;
};

// Excitation-number blocks of rho_SR. Basis index i of n+1 spins sits in sector popcount(i)
// at position pos_[i]; elements between different sectors are zero and stay zero.
class SectorJoint final : public Joint {
 public:
  explicit SectorJoint(int n)
      : n_(n), sectors_(excitation_sectors(n + 1)), pos_(2 << n), sec_(2 << n) {
    for (size_t m = 0; m < sectors_.size(); ++m)
      for (size_t a = 0; a < sectors_[m].size(); ++a) {
        pos_[sectors_[m][a]] = static_cast<int>(a);
        sec_[sectors_[m][a]] = static_cast<int>(m);
      }
    // pairs_[k][m]: (a, b) in sector m with a = |.. 0_k .. 1_R>, b = |.. 1_k .. 0_R>.
    pairs_.resize(n);
    for (int k = 0; k < n; ++k) {
      const int bk = 1 << (n - k);  // spin k of n+1 spins
      pairs_[k].resize(sectors_.size());
      for (size_t m = 0; m < sectors_.size(); ++m)
        for (int i : sectors_[m])
          if (!(i & bk) && (i & 1)) pairs_[k][m].emplace_back(pos_[i], pos_[i ^ (bk | 1)]);
    }
    blocks_.resize(sectors_.size());
  }
  void reset(const Mat& rho_s, double p0, double p1) override {
    for (size_t m = 0; m < sectors_.size(); ++m) {
      const auto& idx = sectors_[m];
      const int d = static_cast<int>(idx.size());
      Mat& b = blocks_[m];
      b.resize(d, d);
      for (int c = 0; c < d; ++c)
        for (int r = 0; r < d; ++r) {
          const int i = idx[r], j = idx[c];
          b(r, c) = (i & 1) != (j & 1) ? cplx(0.0) : rho_s(i >> 1, j >> 1) * ((i & 1) ? p1 : p0);
        }
    }
  }
  void apply_pair(int k, const Mat&, double theta, int threads) override {
    const double c = std::cos(theta), s = std::sin(theta);
    const cplx mis(0.0, -s), pis(0.0, s);
    // U = [[c, -i s], [-i s, c]] on (a, b): rows mix with U, columns with U^dagger.
    auto work = [&](size_t m) {
      Mat& b = blocks_[m];
      for (const auto& [a, bb] : pairs_[k][m]) {
        const Eigen::RowVectorXcd ra = b.row(a), rb = b.row(bb);
        b.row(a) = c * ra + mis * rb;
        b.row(bb) = mis * ra + c * rb;
      }
      for (const auto& [a, bb] : pairs_[k][m]) {
        const Eigen::VectorXcd ca = b.col(a), cb = b.col(bb);
        b.col(a) = c * ca + pis * cb;
        b.col(bb) = pis * ca + c * cb;
      }
    };
    for_sectors(work, threads);
  }
  void apply_simultaneous(const SimultaneousUnitary& u) override {
    for (size_t m = 0; m < sectors_.size(); ++m) u.apply_sector(blocks_[m], m);
  }
  Mat system_state() const override {
    Mat out = Mat::Zero(1 << n_, 1 << n_);
    for (size_t m = 0; m < sectors_.size(); ++m) {
      const auto& idx = sectors_[m];
      for (size_t c = 0; c < idx.size(); ++c)
        for (size_t r = 0; r < idx.size(); ++r)
          if ((idx[r] & 1) == (idx[c] & 1)) out(idx[r] >> 1, idx[c] >> 1) += blocks_[m](r, c);
    }
    return out;
  }
  cplx at(int i, int j) const {
    const int m = sec_[i];
    if (m != sec_[j]) return 0.0;
    return blocks_[m](pos_[i], pos_[j]);
  }
  std::pair<double, double> populations(int k) const override {
    const int bk = 1 << (n_ - k);
    double p0 = 0.0, p1 = 0.0;
    for (int i = 0; i < (2 << n_); ++i) ((i & bk) ? p1 : p0) += at(i, i).real();
    return {p0, p1};
  }
  double pair_coherence(int p, int k) const override {
    const int bp = 1 << (n_ - p), bk = 1 << (n_ - k);
    cplx s = 0.0;
    for (int i = 0; i < (2 << n_); ++i)
      if ((i & bp) && !(i & bk)) s += at(i, (i & ~bp) | bk);
    return 2.0 * s.real();
  }
  Mat bath_state() const override {
    Mat out = Mat::Zero(2, 2);
    for (int i = 0; i < (2 << n_); ++i) out(i & 1, i & 1) += at(i, i);
    return out;  // off-diagonals join different excitation numbers: zero
  }
  Mat k_bath_state(int k) const override {
    const int bk = 1 << (n_ - k);
    Mat out = Mat::Zero(4, 4);
    const int off[4] = {0, 1, bk, bk | 1};
    for (int base = 0; base < (2 << n_); ++base) {
      if (base & (bk | 1)) continue;
      for (int c = 0; c < 4; ++c)
        for (int r = 0; r < 4; ++r) out(r, c) += at(base + off[r], base + off[c]);
    }
    return out;
  }
  Mat dense() const override {
    Mat out = Mat::Zero(2 << n_, 2 << n_);
    for (size_t m = 0; m < sectors_.size(); ++m)
      for (size_t c = 0; c < sectors_[m].size(); ++c)
        for (size_t r = 0; r < sectors_[m].size(); ++r)
          out(sectors_[m][r], sectors_[m][c]) = blocks_[m](r, c);
    return out;
  }

 private:
  // Runs work(m) for every sector, largest first, on up to `threads` threads.
  template <typename F>
  void for_sectors(F& work, int threads) const {
    const size_t ns = sectors_.size();
    const int nt = (2 << n_) < 512 ? 1 : threads > 0 ? threads : default_thread_count(2 << n_);
    std::vector<size_t> order(ns);
    for (size_t m = 0; m < ns; ++m) order[m] = m;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return sectors_[a].size() > sectors_[b].size(); });
    parallel_for(ns, nt, [&](size_t i) { work(order[i]); });
  }

  int n_;
  std::vector<std::vector<int>> sectors_;
  std::vector<int> pos_, sec_;  // position in, and index of, each basis state's sector
  std::vector<std::vector<std::vector<std::pair<int, int>>>> pairs_;
  std::vector<Mat> blocks_;
};

}  // namespace

Trajectory run_collision_model(const ModelParams& params,
                               const std::function<void(int, int)>& progress,
                               const StateObserver& observer) {
  const int n = params.n();
  const double tr = params.bath_temperature;
  const auto [pr0, pr1] = populations(tr);
  const double bath_thermal_energy = 0.5 * (pr1 - pr0);
  Mat gamma_r = Mat::Zero(2, 2);
  gamma_r(0, 0) = pr0;
  gamma_r(1, 1) = pr1;
  const double bath_entropy = small_entropy(gamma_r);
  const auto weights = coherence_weights(params);
  const double theta = params.g * params.tau;
  const Mat u_pair = partial_swap(theta);  // U_k, theta = g tau
  std::unique_ptr<SimultaneousUnitary> u_sim;
  if (params.interaction == Interaction::kSimultaneous)
    u_sim = std::make_unique<SimultaneousUnitary>(n, params.g, params.tau);
  std::unique_ptr<Joint> joint;
  if (params.engine == Engine::kLocal)
    joint = std::make_unique<LocalJoint>(n);
  else
    joint = std::make_unique<SectorJoint>(n);

  Trajectory traj;
  Mat rho_s = initial_state(params.temperatures, params.coherences);
  std::vector<double> e0(n);
  for (int k = 0; k < n; ++k) e0[k] = subsystem_energy(rho_s, k, n);
  double es0 = 0.0;
  for (double e : e0) es0 += e;

  std::vector<double> prev_energy = e0;
  CollisionStart start;
  const bool need_rho_s = params.information || static_cast<bool>(observer);
  // Records the state after an interaction (j: the joint state; null for the initial state,
  // whose rho_S is `rho_now`). Energies and AT come from the joint state without a partial
  // trace; rho_S is formed only for the entropic observables.
  auto record = [&](int step, int collision, int acting, const Joint* j) {
    StepRecord rec;
    rec.step = step;
    rec.collision = collision;
    rec.acting = acting;
    rec.energy.resize(n);
    rec.heat_released.resize(n);
    rec.step_heat.resize(n);
    rec.system_energy = 0.0;
    std::vector<double> p0(n), p1(n), one_way(n, 0.0);
    for (int k = 0; k < n; ++k) {
      std::tie(p0[k], p1[k]) = j ? j->populations(k) : subsystem_populations(rho_s, k, n);
      rec.energy[k] = 0.5 * (p1[k] - p0[k]);
      rec.heat_released[k] = e0[k] - rec.energy[k];
      rec.step_heat[k] = prev_energy[k] - rec.energy[k];
      rec.system_energy += rec.energy[k];
    }
    for (int k = 0; k < n; ++k)
      for (int p = 0; p < n; ++p)
        if (weights[p][k] != 0.0)
          one_way[k] += weights[p][k] *
                        (j ? j->pair_coherence(p, k) : thermo::pair_coherence(rho_s, p, k, n));
    prev_energy = rec.energy;
    rec.heat_to_bath = es0 - rec.system_energy;
    rec.at = apparent_temperatures(p0, p1, one_way);
    const Mat rho_r = j ? j->bath_state() : gamma_r;
    rec.bath_energy = 0.5 * (rho_r(1, 1).real() - rho_r(0, 0).real());
    for (int k = 0; k < n; ++k)
      if (!rec.at.subsystem[k].value) ++traj.at_undefined;
    Mat rho_now;
    if (need_rho_s) rho_now = j ? j->system_state() : rho_s;
    if (params.information) {
      const double s_s = entropy(rho_now, n);
      rec.free_energy = rec.system_energy - tr * s_s;  // Eq. (S19)
      rec.coherence = diagonal_entropy(rho_now) - s_s;
      rec.mi_kr.assign(n, 0.0);
      if (!j) {
        rec.mi_sr = 0.0;  // the system starts uncorrelated with every bath particle
      } else {
        // S(SR) is invariant under the collision's unitaries: S(rho_S^start) + S(rho_R^th).
        const double s_r = small_entropy(rho_r);
        rec.mi_sr = s_s + s_r - (start.entropy + bath_entropy);
        for (int k = 0; k < n; ++k) {
          const Mat rkr = j->k_bath_state(k);
          rec.mi_kr[k] = small_entropy(partial_trace(rkr, {0}, 2)) + s_r - small_entropy(rkr);
        }
        if (!start.k_diag.empty()) {
          double tr_k = 0.0;
          for (Eigen::Index i = 0; i < rho_now.rows(); ++i)
            tr_k += start.k_diag[i] * (rho_now(i, i).real() - start.rho_s(i, i).real());
          rec.resource_lhs = (rec.bath_energy - bath_thermal_energy) / tr + tr_k;
          rec.resource_rhs = rec.mi_sr + rec.coherence - start.coherence;
          // S(D rho' || D rho) + S(rho_R' || rho_R): the terms Eq. (35) drops.
          double d_rel = 0.0;
          for (Eigen::Index i = 0; i < rho_now.rows(); ++i) {
            const double l = rho_now(i, i).real();
            if (l > 1e-300) d_rel += l * (std::log(l) + start.k_diag[i]);
          }
          rec.resource_slack = d_rel + relative_entropy_to_diagonal(rho_r, gamma_r);
          if (rec.resource_lhs < rec.resource_rhs - 1e-10) ++traj.resource_violations;
        }
        rec.free_energy_bound = rec.free_energy - start.free_energy + tr * rec.mi_sr;
        if (rec.free_energy_bound > 1e-10) ++traj.free_energy_violations;
        for (int k = 0; k < n; ++k)
          if (rec.mi_kr[k] > rec.mi_sr + 1e-10) ++traj.mi_order_violations;
      }
    }
    traj.steps.push_back(std::move(rec));
    if (observer) {
      if (j) {
        const Mat d = j->dense();
        observer(traj.steps.back(), rho_now, &d);
      } else {
        observer(traj.steps.back(), rho_now, nullptr);
      }
    }
  };

  record(0, 0, -1, nullptr);
  int step = 0;
  for (int col = 1; col <= params.collisions; ++col) {
    start.rho_s = rho_s;
    start.energy.assign(n, 0.0);
    for (int k = 0; k < n; ++k) start.energy[k] = subsystem_energy(rho_s, k, n);
    start.at = traj.steps.back().at;  // rho_S at the start of this collision
    if (params.information) {
      const StepRecord& last = traj.steps.back();
      start.entropy = entropy(rho_s, n);
      start.coherence = last.coherence;
      start.free_energy = last.free_energy;
      start.k_diag.assign(rho_s.rows(), 0.0);
      for (Eigen::Index i = 0; i < rho_s.rows(); ++i) {
        const double l = rho_s(i, i).real();
        if (!(l > 1e-300)) {
          start.k_diag.clear();
          break;
        }
        start.k_diag[i] = -std::log(l);
      }
    }
    joint->reset(rho_s, pr0, pr1);  // fresh thermal bath particle (x) rho_S
    std::vector<int> acted_at(n, 0);
    if (params.interaction == Interaction::kCascade) {
      for (int k : params.order) {
        joint->apply_pair(k, u_pair, theta, params.threads);
        record(++step, col, k, joint.get());
        acted_at[k] = step;
      }
    } else {
      joint->apply_simultaneous(*u_sim);
      record(++step, col, n, joint.get());
      for (int k = 0; k < n; ++k) acted_at[k] = step;
    }
    rho_s = joint->system_state();  // trace out R
    for (int k = 0; k < n; ++k) {
      DirectionCheck d;
      d.collision = col;
      d.subsystem = k;
      d.step = acted_at[k];
      d.at_defined = start.at.subsystem[k].value.has_value();
      d.predicted = start.at.subsystem[k].current_sign(tr);
      const double de = subsystem_energy(rho_s, k, n) - start.energy[k];
      d.actual = std::abs(de) < 1e-14 ? 0 : (de > 0 ? 1 : -1);
      if (d.violated()) ++traj.direction_violations;
      traj.directions.push_back(d);
    }
    if (progress) progress(col, params.collisions);
  }
  traj.final_state = rho_s;
  return traj;
}

std::vector<Trajectory> run_batch(const std::vector<ModelParams>& items, int threads,
                                  const std::function<void(int, int)>& progress) {
  std::vector<Trajectory> out(items.size());
  std::mutex mu;
  int done = 0;
  parallel_for(items.size(), threads > 0 ? threads : hardware_threads(), [&](size_t i) {
    ModelParams p = items[i];
    p.threads = 1;
    out[i] = run_collision_model(p);
    if (progress) {
      std::lock_guard<std::mutex> lock(mu);
      progress(++done, static_cast<int>(items.size()));
    }
  });
  return out;
}

}  // namespace nmrc::thermo
