// GRAPE with exact gradients. For step k with eigendecomposition H_k = V diag(w) V^dag,
// U_k = V diag(e) V^dag (e_j = exp(-i w_j dt)) and dU_k/du = V (G o (V^dag dH/du V)) V^dag with
// the divided differences G_jl = (e_j - e_l)/(w_j - w_l) = -i dt sinc((w_j - w_l) dt/2)
// exp(-i (w_j + w_l) dt/2) (Higham, Functions of Matrices, Thm 3.11; Goodwin & Kuprov,
// J. Chem. Phys. 143, 084113 (2015) for its use in GRAPE).
// With Y_k = V^dag X_{k-1} (forward), L_k = W^dag U_N ... U_{k+1} (backward):
//   dg/du_ck = Tr(L_k dU_k X_{k-1}) = b1 Tr(N C_c),  N = V M^T V^dag,  M_jl = (Y_k L_k V)_lj G_jl.
// When the drift is real and commutes with every channel's F_z (weak coupling), each step's
// H = D (H0 + sum_c A_c cx_c) D^dag with D = prod_c exp(-i phi_c F_z^c) diagonal, so the
// eigenproblem is real symmetric: V = D V_r.
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

struct SparseEntry {
  int row, col;
  cplx value;
};

std::vector<SparseEntry> sparse(const Mat& m) {
  std::vector<SparseEntry> out;
  for (int j = 0; j < m.cols(); ++j)
    for (int i = 0; i < m.rows(); ++i)
      if (std::abs(m(i, j)) > 1e-14) out.push_back({i, j, m(i, j)});
  return out;
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
}

// ----------------------------------------------------------------------------------------------
// Fidelity and exact gradient of one ensemble member.

namespace {

// Divided differences G_ij = (e_j - e_i) / (w_j - w_i) of f(x) = exp(-i x dt) at eigenvalues w
// (e = f(w) = c + i sn), symmetric, into gr + i gi. For close pairs (|dw dt| <= 1e-3) the limit
// -i dt exp(-i wbar dt) sinc(dw dt / 2) with exp(-i wbar dt) = (e_j + e_i) / (2 cos(dw dt / 2)),
// to second order: -i dt/2 (1 + half^2/3) (e_j + e_i). Written branch-free so that it vectorises.
template <class W, class G>
void divided_differences(const W& w, const W& c, const W& sn, double dt, G& gr, G& gi) {
  const int d = static_cast<int>(w.size());
  for (int j = 0; j < d; ++j)
    for (int i = 0; i < d; ++i) {
      const double dw = w(j) - w(i);
      const double half = 0.5 * dw * dt;
      const double inv = 1.0 / dw;
      const bool close = std::abs(half) <= 0.5e-3;
      const double series = 0.5 * dt * (1.0 + half * half / 3.0);
      gr(i, j) = close ? series * (sn(j) + sn(i)) : (c(j) - c(i)) * inv;
      gi(i, j) = close ? -series * (c(j) + c(i)) : (sn(j) - sn(i)) * inv;
    }
}

// What the real-path kernel needs from the problem (built once per evaluator).
struct RealPathData {
  int d = 0, nc = 0, n = 0;
  double dt = 0;
  RMat drift;                                // H0
  std::vector<RMat> cx;                      // cx_c
  std::vector<RVec> fz_diag;                 // diag(F_z^c) = diag(fz_c) / 2pi
  RVec fz_total;                             // diag of sum_c fz_c (rad/s per Hz)
  Mat w_adj;                                 // W^dag
  std::vector<std::pair<int, int>> pattern;  // (a, b) positions where N_ab is needed
  // Control c's entries as (index into pattern, value) for cx_c and cy_c.
  std::vector<std::vector<std::pair<int, cplx>>> cx_at, cy_at;
  // For each basis state, the first state with the same F_z value on every channel (their
  // phases in D are equal: 5 distinct values instead of 16 for four spins on one channel).
  std::vector<int> phase_class;
};

struct RealPathBase {
  virtual ~RealPathBase() = default;
  virtual cplx evaluate(const RMat& u, const EnsembleMember& m, RMat* grad, Mat& x_out) = 0;
};

// Real path with complex matrices split into real and imaginary parts (real products are several
// times faster than complex ones), V = D V_r. Templated on the dimension so that three and four
// spins (8, 16) run on fixed-size matrices that the compiler unrolls and vectorises.
template <int N>
struct RealPath final : RealPathBase {
  using M = Eigen::Matrix<double, N, N>;
  using V = Eigen::Matrix<double, N, 1>;
  const RealPathData& s;
  const int d;
  std::vector<M> vr, yr, yi;  // per step: eigenvectors of D^dag H D, y = V^dag X_{k-1}
  std::vector<V> w;           // per step: eigenvalues
  std::vector<V> er, ei;      // per step: exp(-i w dt), real and imaginary parts
  std::vector<V> dr, di;      // per step: diagonal of D, real and imaginary parts
  M xr, xi, ar, ai, br, bi, zr, zi, lr, li, p1, p2, p3, sr, si, tr, ti, gr, gi, nr, ni, vt;
  M h_pair[2];  // two steps' Hamiltonians, phases and decompositions (decompose_pair)
  V phase_pair[2];
  SymmetricEigen<N> es_pair[2];
  std::vector<cplx> npat;

  explicit RealPath(const RealPathData& data) : s(data), d(data.d) {
    for (auto* per_step : {&vr, &yr, &yi}) per_step->assign(s.n, M(d, d));
    for (auto* per_step : {&w, &er, &ei, &dr, &di}) per_step->assign(s.n, V(d));
    for (M* m : {&xr, &xi, &ar, &ai, &br, &bi, &zr, &zi, &lr, &li, &p1,
                 &p2, &p3, &sr, &si, &tr, &ti, &gr, &gi, &nr, &ni})
      m->resize(d, d);
    for (int j = 0; j < 2; ++j) {
      h_pair[j].resize(d, d);
      phase_pair[j].resize(d);
      es_pair[j] = SymmetricEigen<N>(d);
    }
    npat.assign(s.pattern.size(), cplx(0));
  }

  // dst = a * b. Fixed sizes use Eigen's coefficient-based (unrolled) product, which beats the
  // blocked GEMM kernel at 16 x 16 when AVX is available; otherwise the blocked kernel.
  template <class A, class B>
  static void mul(M& dst, const A& a, const B& b) {
#ifdef EIGEN_VECTORIZE_AVX
    if constexpr (N != Eigen::Dynamic) {
      dst.noalias() = a.lazyProduct(b);
      return;
    }
#endif
    dst.noalias() = a * b;
  }

  // Step k's Hamiltonian in the frame of D: h = H0 + offset fz + sum_c amp_c cx_c, with the RF
  // phases collected in phase (D = exp(-i phase)).
  void hamiltonian(int k, const RMat& u, const EnsembleMember& m, M& h, V& phase) const {
    h = s.drift;
    h.diagonal() += m.offset_hz * s.fz_total;
    phase.setZero();
    for (int c = 0; c < s.nc; ++c) {
      const double ux = u(2 * c, k), uy = u(2 * c + 1, k);
      const double amp = m.b1_scale * std::hypot(ux, uy);
      if (amp != 0.0) {
        h.noalias() += amp * s.cx[c];
        phase += std::atan2(uy, ux) * s.fz_diag[c];
      }
    }
  }

  void store(int k, const SymmetricEigen<N>& es, const V& phase) {
    w[k] = es.eigenvalues();
    vr[k] = es.eigenvectors();
    for (int i = 0; i < d; ++i) {
      const double t = w[k](i) * s.dt;
      er[k](i) = std::cos(t);  // e = exp(-i w dt)
      ei[k](i) = -std::sin(t);
      const int same = s.phase_class[i];  // states with equal F_z values share D's entry
      dr[k](i) = same < i ? dr[k](same) : std::cos(phase(i));  // D = exp(-i phase)
      di[k](i) = same < i ? di[k](same) : -std::sin(phase(i));
    }
  }

  // Decomposes steps k and k + 1 (if it exists) together: their QL iterations interleave
  // (compute_pair), which hides part of the latency of each.
  void decompose_pair(int k, const RMat& u, const EnsembleMember& m) {
    if (k + 1 < s.n) {
      hamiltonian(k, u, m, h_pair[0], phase_pair[0]);
      hamiltonian(k + 1, u, m, h_pair[1], phase_pair[1]);
      compute_pair<N>(es_pair[0], h_pair[0], es_pair[1], h_pair[1]);
      store(k, es_pair[0], phase_pair[0]);
      store(k + 1, es_pair[1], phase_pair[1]);
    } else {
      hamiltonian(k, u, m, h_pair[0], phase_pair[0]);
      es_pair[0].compute(h_pair[0]);
      store(k, es_pair[0], phase_pair[0]);
    }
  }

  cplx evaluate(const RMat& u, const EnsembleMember& m, RMat* grad, Mat& x_out) override {
    const int n = s.n;
    xr.setIdentity();
    xi.setZero();
    for (int k = 0; k < n; ++k) {
      if (k % 2 == 0) decompose_pair(k, u, m);
      const auto dre = dr[k].array(), dim = di[k].array();
      const auto ere = er[k].array(), eim = ei[k].array();
      // a = D^* x (rows scaled), y = V_r^T a.
      ar.array() = xr.array().colwise() * dre + xi.array().colwise() * dim;
      ai.array() = xi.array().colwise() * dre - xr.array().colwise() * dim;
      vt = vr[k].transpose();  // a materialised transpose keeps the products vectorised
      mul(yr[k], vt, ar);
      mul(yi[k], vt, ai);
      // b = e o y (rows), x = D (V_r b).
      br.array() = yr[k].array().colwise() * ere - yi[k].array().colwise() * eim;
      bi.array() = yi[k].array().colwise() * ere + yr[k].array().colwise() * eim;
      mul(ar, vr[k], br);
      mul(ai, vr[k], bi);
      xr.array() = ar.array().colwise() * dre - ai.array().colwise() * dim;
      xi.array() = ai.array().colwise() * dre + ar.array().colwise() * dim;
    }
    x_out.resize(d, d);
    x_out.real() = xr;
    x_out.imag() = xi;
    const cplx gval = (s.w_adj * x_out).trace();
    if (!grad) return gval;
    grad->setZero(u.rows(), u.cols());
    lr = s.w_adj.real();
    li = s.w_adj.imag();
    const cplx cg = std::conj(gval);
    for (int k = n - 1; k >= 0; --k) {
      const M& v = vr[k];
      const auto dre = dr[k].transpose().array(), dim = di[k].transpose().array();
      const auto ere = er[k].transpose().array(), eim = ei[k].transpose().array();
      // z = (L D) V_r (columns of L scaled).
      ar.array() = lr.array().rowwise() * dre - li.array().rowwise() * dim;
      ai.array() = lr.array().rowwise() * dim + li.array().rowwise() * dre;
      mul(zr, ar, v);
      mul(zi, ai, v);
      // Qt = Y Z by three real products (Gauss / 3M).
      mul(p1, yr[k], zr);
      mul(p2, yi[k], zi);
      sr = yr[k] + yi[k];
      si = zr + zi;
      mul(p3, sr, si);
      // M^T = Qt o G (G symmetric).
      divided_differences(w[k], er[k], ei[k], s.dt, gr, gi);
      sr.array() = p1.array() - p2.array();               // Re Qt
      si.array() = p3.array() - p1.array() - p2.array();  // Im Qt
      br.array() = sr.array() * gr.array() - si.array() * gi.array();
      bi.array() = sr.array() * gi.array() + si.array() * gr.array();
      // T = V_r M^T; N = D (T V_r^T) D^*, read at the control pattern.
      mul(tr, v, br);
      mul(ti, v, bi);
      mul(nr, tr, v.transpose());
      mul(ni, ti, v.transpose());
      for (size_t q = 0; q < s.pattern.size(); ++q) {
        const auto [a, b] = s.pattern[q];
        const cplx da(dr[k](a), di[k](a)), db(dr[k](b), -di[k](b));
        npat[q] = da * cplx(nr(a, b), ni(a, b)) * db;
      }
      for (int c = 0; c < s.nc; ++c) {
        cplx sx = 0, sy = 0;
        for (const auto& [q, val] : s.cx_at[c]) sx += npat[q] * val;
        for (const auto& [q, val] : s.cy_at[c]) sy += npat[q] * val;
        (*grad)(2 * c, k) = 2.0 * m.b1_scale * std::real(cg * sx);
        (*grad)(2 * c + 1, k) = 2.0 * m.b1_scale * std::real(cg * sy);
      }
      // L_{k-1} = (Z diag(e)) V^dag = ((Z diag(e)) V_r^T) D^*.
      ar.array() = zr.array().rowwise() * ere - zi.array().rowwise() * eim;
      ai.array() = zr.array().rowwise() * eim + zi.array().rowwise() * ere;
      mul(br, ar, v.transpose());
      mul(bi, ai, v.transpose());
      lr.array() = br.array().rowwise() * dre + bi.array().rowwise() * dim;
      li.array() = bi.array().rowwise() * dre - br.array().rowwise() * dim;
    }
    return gval;
  }
};

}  // namespace

struct FidelityEvaluator::Impl {
  const GrapeProblem& p;
  int d, nc, n;
  bool real_path = false;
  Mat w_adj;  // W^dag
  std::vector<std::vector<SparseEntry>> cx_sp, cy_sp;
  RealPathData real;
  std::unique_ptr<RealPathBase> real_kernel;
  // Generic path: per step v (complex eigenvectors), y = V^dag X_{k-1}, w (eigenvalues).
  std::vector<Mat> v, y;
  std::vector<RVec> w;
  Mat h, x, tmp, z, qt, mm, nn, l;
  Vec e;
  RVec ec, es;  // e split into real and imaginary parts
  RMat gr, gi;  // divided differences
  Eigen::SelfAdjointEigenSolver<Mat> es_c;

  explicit Impl(const GrapeProblem& prob) : p(prob) {
    d = static_cast<int>(p.drift.rows());
    nc = static_cast<int>(p.channels.size());
    n = p.steps;
    w_adj = p.target.adjoint();
    // Real path: real drift commuting with every F_z, real cx, and [fz, cx] = 2 pi i cy.
    real_path = p.drift.imag().cwiseAbs().maxCoeff() < 1e-12;
    RVec fz_total = RVec::Zero(d);
    for (const auto& c : p.channels) {
      const double scale =
          std::max(1.0, p.drift.cwiseAbs().maxCoeff() * c.fz.cwiseAbs().maxCoeff());
      if ((p.drift * c.fz - c.fz * p.drift).cwiseAbs().maxCoeff() > 1e-9 * scale) real_path = false;
      if (c.cx.imag().cwiseAbs().maxCoeff() > 1e-12) real_path = false;
      const Mat comm = c.fz * c.cx - c.cx * c.fz - cplx(0, kTwoPi) * c.cy;
      if (comm.cwiseAbs().maxCoeff() > 1e-9 * kTwoPi * kTwoPi) real_path = false;
      if ((c.fz - Mat(c.fz.diagonal().asDiagonal())).cwiseAbs().maxCoeff() > 1e-12)
        real_path = false;
      real.fz_diag.push_back(c.fz.diagonal().real() / kTwoPi);
      fz_total += c.fz.diagonal().real();
      real.cx.push_back(c.cx.real());
      cx_sp.push_back(sparse(c.cx));
      cy_sp.push_back(sparse(c.cy));
    }
    for (int a = 0; a < nc; ++a)
      for (int b = 0; b < nc; ++b)
        if (a != b) {
          const auto& ca = p.channels[a];
          const auto& cb = p.channels[b];
          if ((ca.fz * cb.cx - cb.cx * ca.fz).cwiseAbs().maxCoeff() > 1e-9) real_path = false;
        }
    // Positions (a, b) = (col, row) of control entries: N_ab is needed there only.
    auto pattern_index = [this](int a, int b) {
      auto& pattern = real.pattern;  // union of the (col, row) positions of every control
      const std::pair<int, int> pos{a, b};
      auto it = std::find(pattern.begin(), pattern.end(), pos);
      if (it != pattern.end()) return static_cast<int>(it - pattern.begin());
      pattern.push_back(pos);
      return static_cast<int>(pattern.size()) - 1;
    };
    real.cx_at.resize(nc);
    real.cy_at.resize(nc);
    for (int c = 0; c < nc; ++c) {
      for (const auto& s : cx_sp[c])
        real.cx_at[c].push_back({pattern_index(s.col, s.row), s.value});
      for (const auto& s : cy_sp[c])
        real.cy_at[c].push_back({pattern_index(s.col, s.row), s.value});
    }
    real.fz_total = fz_total;
    if (real_path) {
      real.d = d;
      real.nc = nc;
      real.n = n;
      real.dt = p.dt_s;
      real.drift = p.drift.real();
      real.w_adj = w_adj;
      for (int i = 0; i < d; ++i) {
        int same = i;
        for (int j = 0; j < i && same == i; ++j) {
          bool equal = true;
          for (const auto& f : real.fz_diag) equal = equal && f(j) == f(i);
          if (equal) same = j;
        }
        real.phase_class.push_back(same);
      }
      if (d == 16)
        real_kernel = std::make_unique<RealPath<16>>(real);
      else if (d == 8)
        real_kernel = std::make_unique<RealPath<8>>(real);
      else
        real_kernel = std::make_unique<RealPath<Eigen::Dynamic>>(real);
    } else {
      w.assign(n, RVec(d));
      v.assign(n, Mat(d, d));
      y.assign(n, Mat(d, d));
    }
    for (Mat* m : {&h, &x, &tmp, &z, &qt, &mm, &nn, &l}) m->resize(d, d);
    e.resize(d);
    gr.resize(d, d);
    gi.resize(d, d);
  }

  void decompose_complex(int k, const RMat& u, const EnsembleMember& m) {
    h = p.drift;
    h.diagonal().array() += m.offset_hz * real.fz_total.array();
    for (int c = 0; c < nc; ++c) {
      h.noalias() += (m.b1_scale * u(2 * c, k)) * p.channels[c].cx;
      h.noalias() += (m.b1_scale * u(2 * c + 1, k)) * p.channels[c].cy;
    }
    es_c.compute(h);
    w[k] = es_c.eigenvalues();
    v[k] = es_c.eigenvectors();
  }

  void exps(int k) {
    for (int j = 0; j < d; ++j) e(j) = std::polar(1.0, -w[k](j) * p.dt_s);
  }

  void accumulate_gradient(int k, const EnsembleMember& m, cplx gval, RMat* grad) {
    const cplx cg = std::conj(gval);
    for (int c = 0; c < nc; ++c) {
      cplx sx = 0, sy = 0;
      for (const auto& s : cx_sp[c]) sx += nn(s.col, s.row) * s.value;
      for (const auto& s : cy_sp[c]) sy += nn(s.col, s.row) * s.value;
      (*grad)(2 * c, k) = 2.0 * m.b1_scale * std::real(cg * sx);
      (*grad)(2 * c + 1, k) = 2.0 * m.b1_scale * std::real(cg * sy);
    }
  }

  cplx evaluate(const RMat& u, const EnsembleMember& m, RMat* grad) {
    return real_path ? real_kernel->evaluate(u, m, grad, x) : evaluate_complex(u, m, grad);
  }

  cplx evaluate_complex(const RMat& u, const EnsembleMember& m, RMat* grad) {
    const double dt = p.dt_s;
    x.setIdentity();
    for (int k = 0; k < n; ++k) {
      decompose_complex(k, u, m);
      exps(k);
      y[k].noalias() = v[k].adjoint() * x;
      tmp = e.asDiagonal() * y[k];
      x.noalias() = v[k] * tmp;
    }
    const cplx gval = (w_adj * x).trace();
    if (!grad) return gval;
    grad->setZero(u.rows(), u.cols());
    l = w_adj;
    for (int k = n - 1; k >= 0; --k) {
      const Mat& vk = v[k];
      exps(k);
      z.noalias() = l * vk;
      qt.noalias() = y[k] * z;
      ec = e.real();
      es = e.imag();
      divided_differences(w[k], ec, es, dt, gr, gi);
      mm.real() = qt.real().cwiseProduct(gr) - qt.imag().cwiseProduct(gi);
      mm.imag() = qt.real().cwiseProduct(gi) + qt.imag().cwiseProduct(gr);
      tmp.noalias() = vk * mm;
      nn.noalias() = tmp * vk.adjoint();
      accumulate_gradient(k, m, gval, grad);
      tmp = z * e.asDiagonal();
      l.noalias() = tmp * vk.adjoint();
    }
    return gval;
  }
};

FidelityEvaluator::FidelityEvaluator(const GrapeProblem& problem)
    : impl_(std::make_unique<Impl>(problem)) {}
FidelityEvaluator::~FidelityEvaluator() = default;
std::complex<double> FidelityEvaluator::evaluate(const RMat& u_hz, const EnsembleMember& m,
                                                 RMat* grad) {
  return impl_->evaluate(u_hz, m, grad);
}
const Mat& FidelityEvaluator::propagator() const { return impl_->x; }

// ----------------------------------------------------------------------------------------------
// Ensemble objective: members split over threads, summed in member order (deterministic).

namespace {

struct EnsembleWorkspace {
  const GrapeProblem& p;
  int threads;
  std::vector<std::unique_ptr<FidelityEvaluator>> evaluators;
  std::vector<RMat> grads;
  std::vector<cplx> g;

  EnsembleWorkspace(const GrapeProblem& prob, int nthreads)
      : p(prob),
        threads(std::max(1, std::min<int>(nthreads, static_cast<int>(prob.ensemble.size())))) {
    for (int t = 0; t < threads; ++t) evaluators.push_back(std::make_unique<FidelityEvaluator>(p));
    grads.assign(p.ensemble.size(), RMat());
    g.assign(p.ensemble.size(), cplx(0));
  }

  double run(const RMat& u, RMat* grad, std::vector<double>* fid) {
    const int m = static_cast<int>(p.ensemble.size());
    auto work = [&](int t) {
      for (int i = t; i < m; i += threads)
        g[i] = evaluators[t]->evaluate(u, p.ensemble[i], grad ? &grads[i] : nullptr);
    };
    if (threads == 1) {
      work(0);
    } else {
      std::vector<std::thread> pool;
      for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
      work(0);
      for (auto& th : pool) th.join();
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
  bool reached = false;
};

class StartRun {
 public:
  StartRun(const GrapeProblem& p, const GrapeOptions& o, int start, int eval_threads,
           Clock::time_point t0, const std::atomic<int>& cancel_above,
           const ProgressCallback& progress, std::mutex& progress_mutex)
      : p_(p),
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
    if (seconds_since(t0_) > o_.time_limit_s) throw StopRun{Termination::kTimeLimit};
    to_u(x);
    const double j = ws_.run(u_, &gu_, &fid_);
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
    }
    return f;
  }

  StartResult run() {
    StartResult res;
    res.summary.start = start_;
    res.summary.initial = start_ % 2 == 0 ? "random" : "smooth";
    const auto ts = Clock::now();
    const RMat u0 = initial_guess(p_, o_, start_);
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
    // 30 corrections: ~10 % fewer evaluations to F = 0.995 than 10 on the C1-C4 benchmark
    // (bench/results/grape.md), at a negligible cost per iteration next to an evaluation.
    param.m = 30;
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
      } catch (const std::exception& e) {
        term = Termination::kLineSearch;
        iterations = improvements_;
        if (std::getenv("NMRC_GRAPE_DEBUG"))
          std::fprintf(stderr, "start %d leg %d: %s (f = %g)\n", start_, leg, e.what(), best_f_);
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
    res.summary.termination = term;
    res.summary.iterations = iterations;
    res.summary.evaluations = evaluations_;
    res.summary.fidelity_min = *std::min_element(fid.begin(), fid.end());
    res.summary.wall_s = seconds_since(ts);
    res.reached = res.summary.fidelity_min >= o_.fidelity_target;
    if (res.reached) res.summary.termination = Termination::kReachedTarget;
    return res;
  }

 private:
  const GrapeProblem& p_;
  const GrapeOptions& o_;
  int start_;
  EnsembleWorkspace ws_;
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
  double best_fmin_ = -1.0;
};

}  // namespace

GrapeResult optimise(const GrapeProblem& p, const GrapeOptions& o,
                     const ProgressCallback& progress) {
  p.validate();
  o.validate();
  const auto t0 = Clock::now();
  const int start_threads = std::min(o.threads, o.starts);
  const int eval_threads = start_threads > 1 ? 1 : o.threads;
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
      StartRun run(p, o, s, eval_threads, t0, cancel_above, progress, progress_mutex);
      results[s] = run.run();
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
  if (best < 0) {  // time limit before any start ran
    out.u_hz = initial_guess(p, o, 0);
    sm.termination = Termination::kTimeLimit;
  } else {
    out.u_hz = results[best].u;
    sm.termination = results[best].summary.termination;
    sm.iterations = results[best].summary.iterations;
    sm.best_start = best;
  }
  EnsembleWorkspace ws(p, 1);
  ws.run(out.u_hz, nullptr, &sm.fidelity);
  double wsum = 0;
  for (size_t i = 0; i < p.ensemble.size(); ++i) {
    sm.fidelity_mean += p.ensemble[i].weight * sm.fidelity[i];
    wsum += p.ensemble[i].weight;
  }
  sm.fidelity_mean /= wsum;
  sm.fidelity_min = *std::min_element(sm.fidelity.begin(), sm.fidelity.end());
  sm.reached_target = sm.fidelity_min >= o.fidelity_target;
  sm.wall_s = seconds_since(t0);
  std::ostringstream msg;
  if (sm.reached_target)
    msg << "reached F_min = " << fmt::format("{:.5f}", sm.fidelity_min)
        << " >= " << fmt::format("{:.4f}", o.fidelity_target) << " (start " << best << ")";
  else
    msg << "best F_min = " << fmt::format("{:.5f}", sm.fidelity_min) << " < target "
        << fmt::format("{:.4f}", o.fidelity_target)
        << "; try a longer duration, more RF (max_rf_hz), or more starts";
  sm.message = msg.str();
  return out;
}

std::string Summary::brief_report() const {
  std::ostringstream os;
  os << termination_name(termination) << ": " << message << ", " << evaluations << " evaluations, "
     << fmt::format("{:.1f}", wall_s) << " s";
  return os.str();
}

std::string Summary::full_report() const {
  std::ostringstream os;
  os << brief_report() << "\n";
  os << "  fidelity per ensemble member (|Tr(W^dag U)|/norm):";
  for (double f : fidelity) os << " " << fmt::format("{:.5f}", f);
  os << "\n  min " << fmt::format("{:.5f}", fidelity_min) << ", weighted mean "
     << fmt::format("{:.5f}", fidelity_mean) << "\n";
  for (const auto& s : starts)
    os << "  start " << s.start << " (" << s.initial << "): " << termination_name(s.termination)
       << ", F_min " << fmt::format("{:.5f}", s.fidelity_min) << ", " << s.iterations
       << " iterations, " << s.evaluations << " evaluations, " << fmt::format("{:.1f}", s.wall_s)
       << " s\n";
  return os.str();
}

}  // namespace nmrc::compiler
