#include "nmrc/thermo/collision.hpp"

#include <Eigen/Eigenvalues>
#include <atomic>
#include <bit>
#include <cmath>
#include <memory>
#include <mutex>
#include <thread>

#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"
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
  Eigen::SelfAdjointEigenSolver<Mat> es(rho, Eigen::EigenvaluesOnly);
  double s = 0.0;
  for (Eigen::Index i = 0; i < es.eigenvalues().size(); ++i) {
    const double l = es.eigenvalues()(i);
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

}  // namespace

Trajectory run_collision_model(const ModelParams& params,
                               const std::function<void(int, int)>& progress,
                               const StateObserver& observer) {
  const int n = params.n();
  const int ns = n + 1;
  const double tr = params.bath_temperature;
  const auto [pr0, pr1] = populations(tr);
  const double bath_thermal_energy = 0.5 * (pr1 - pr0);
  Mat gamma_r = Mat::Zero(2, 2);
  gamma_r(0, 0) = pr0;
  gamma_r(1, 1) = pr1;
  const double bath_entropy = small_entropy(gamma_r);
  const auto weights = coherence_weights(params);
  const Mat u_pair = partial_swap(params.g * params.tau);  // U_k, theta = g tau
  std::unique_ptr<SimultaneousUnitary> u_sim;
  if (params.interaction == Interaction::kSimultaneous)
    u_sim = std::make_unique<SimultaneousUnitary>(n, params.g, params.tau);

  Trajectory traj;
  Mat rho_s = initial_state(params.temperatures, params.coherences);
  std::vector<double> e0(n);
  for (int k = 0; k < n; ++k) e0[k] = subsystem_energy(rho_s, k, n);
  double es0 = 0.0;
  for (double e : e0) es0 += e;

  std::vector<double> prev_energy = e0;
  CollisionStart start;
  // Records the state after an interaction; rho_sr null for the initial state. Without the
  // entropic observables rho_now may be rho_SR itself (energies and AT need no partial trace).
  auto record = [&](int step, int collision, int acting, const Mat& rho_now, const Mat* rho_sr) {
    const int nn = std::countr_zero(static_cast<unsigned>(rho_now.rows()));
    StepRecord rec;
    rec.step = step;
    rec.collision = collision;
    rec.acting = acting;
    rec.energy.resize(n);
    rec.heat_released.resize(n);
    rec.step_heat.resize(n);
    rec.system_energy = 0.0;
    for (int k = 0; k < n; ++k) {
      rec.energy[k] = subsystem_energy(rho_now, k, nn);
      rec.heat_released[k] = e0[k] - rec.energy[k];
      rec.step_heat[k] = prev_energy[k] - rec.energy[k];
      rec.system_energy += rec.energy[k];
    }
    prev_energy = rec.energy;
    rec.heat_to_bath = es0 - rec.system_energy;
    rec.at = apparent_temperatures(rho_now, weights);
    Mat rho_r = gamma_r;
    if (rho_sr) rho_r = reduced_bath(*rho_sr);
    rec.bath_energy = 0.5 * (rho_r(1, 1).real() - rho_r(0, 0).real());
    for (int k = 0; k < n; ++k)
      if (!rec.at.subsystem[k].value) ++traj.at_undefined;
    if (params.information) {
      const double s_s = entropy(rho_now, n);
      rec.free_energy = rec.system_energy - tr * s_s;  // Eq. (S19)
      rec.coherence = diagonal_entropy(rho_now) - s_s;
      rec.mi_kr.assign(n, 0.0);
      if (!rho_sr) {
        rec.mi_sr = 0.0;  // the system starts uncorrelated with every bath particle
      } else {
        // S(SR) is invariant under the collision's unitaries: S(rho_S^start) + S(rho_R^th).
        const double s_r = small_entropy(rho_r);
        rec.mi_sr = s_s + s_r - (start.entropy + bath_entropy);
        for (int k = 0; k < n; ++k) {
          const Mat rkr = reduced_k_bath(*rho_sr, k, n);
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
    if (observer) observer(traj.steps.back(), rho_now, rho_sr);  // rho_now is rho_S here
  };

  const bool need_rho_s = params.information || static_cast<bool>(observer);
  record(0, 0, -1, rho_s, nullptr);
  int step = 0;
  for (int col = 1; col <= params.collisions; ++col) {
    start.rho_s = rho_s;
    start.energy.assign(n, 0.0);
    for (int k = 0; k < n; ++k) start.energy[k] = subsystem_energy(rho_s, k, n);
    start.at = apparent_temperatures(rho_s, weights);
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
    Mat rho_sr = append_thermal_bath(rho_s, tr);
    std::vector<int> acted_at(n, 0);
    if (params.interaction == Interaction::kCascade) {
      for (int k : params.order) {
        apply_local(rho_sr, u_pair, {k, n}, ns, params.threads);
        if (need_rho_s)
          record(++step, col, k, trace_out_bath(rho_sr), &rho_sr);
        else
          record(++step, col, k, rho_sr, &rho_sr);
        acted_at[k] = step;
      }
    } else {
      u_sim->apply(rho_sr);
      if (need_rho_s)
        record(++step, col, n, trace_out_bath(rho_sr), &rho_sr);
      else
        record(++step, col, n, rho_sr, &rho_sr);
      for (int k = 0; k < n; ++k) acted_at[k] = step;
    }
    rho_s = trace_out_bath(rho_sr);
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
  std::atomic<size_t> next{0};
  std::mutex mu;
  int done = 0;
  auto worker = [&] {
    for (size_t i = next++; i < items.size(); i = next++) {
      ModelParams p = items[i];
      p.threads = 1;
      out[i] = run_collision_model(p);
      if (progress) {
        std::lock_guard<std::mutex> lock(mu);
        progress(++done, static_cast<int>(items.size()));
      }
    }
  };
  int nt =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  nt = static_cast<int>(std::min<size_t>(static_cast<size_t>(nt), items.size()));
  if (nt <= 1) {
    worker();
    return out;
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < nt; ++i) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  return out;
}

}  // namespace nmrc::thermo
