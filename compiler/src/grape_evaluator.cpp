// The GRAPE evaluation kernel: exact fidelity and gradient of one ensemble member
// (FidelityEvaluator, grape.hpp). The optimiser loop that calls it is grape.cpp.
//
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
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "grape_kernel.hpp"
#include "nmrc/compiler/grape.hpp"
#include "nmrc/core/information.hpp"
#include "nmrc/core/symmetric_eigen.hpp"

namespace nmrc::compiler {
// One copy of the kernel per instruction set (nmrc/core/isa.hpp); FidelityEvaluator's public
// members and member_target_adjoint are fidelity_evaluator.cpp.
namespace NMRC_ISA_NS {

namespace {

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
  int d = 0, nc = 0;
  int k0 = 0, n = 0;  // the slice's first step and its number of steps
  double dt = 0;
  RMat drift;                                // H0
  std::vector<RMat> cx;                      // cx_c
  std::vector<RVec> fz_diag;                 // diag(F_z^c) = diag(fz_c) / 2pi
  RVec fz_total;                             // diag of sum_c fz_c (rad/s per Hz)
  std::vector<std::pair<int, int>> pattern;  // (a, b) positions where N_ab is needed
  // Control c's entries as (index into pattern, value) for cx_c and cy_c.
  std::vector<std::vector<std::pair<int, cplx>>> cx_at, cy_at;
  // For each basis state, the first state with the same F_z value on every channel (their
  // phases in D are equal: 5 distinct values instead of 16 for four spins on one channel).
  std::vector<int> phase_class;
};

// Both kernels work on the steps [k0, k1) of the pulse (a time slice; the whole pulse by
// default): forward() gives the slice's propagator X = U_{k1-1} ... U_{k0} and keeps what
// backward() needs; backward() fills the gradient columns k0 .. k1-1 of
// g = Tr(left X) (left = U_before W^dag U_after, the rest of the pulse moved cyclically).
struct RealPathBase {
  virtual ~RealPathBase() = default;
  virtual void forward(const RMat& u, const EnsembleMember& m, Mat& x_out) = 0;
  virtual void backward(const RMat& u, const EnsembleMember& m, const Mat& left, cplx g,
                        RMat& grad) = 0;
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

  // The two decompositions are constructed in place at their size (moving one in would copy
  // a fixed-size object whose workspace is not yet written).
  explicit RealPath(const RealPathData& data)
      : s(data), d(data.d), es_pair{SymmetricEigen<N>(data.d), SymmetricEigen<N>(data.d)} {
    // Zero-filled copies: copying an unwritten fixed-size matrix would read uninitialised
    // memory (every entry is written per step before it is used).
    for (auto* per_step : {&vr, &yr, &yi}) per_step->assign(s.n, M::Zero(d, d));
    for (auto* per_step : {&w, &er, &ei, &dr, &di}) per_step->assign(s.n, V::Zero(d));
    for (M* m : {&xr, &xi, &ar, &ai, &br, &bi, &zr, &zi, &lr, &li, &p1,
                 &p2, &p3, &sr, &si, &tr, &ti, &gr, &gi, &nr, &ni})
      m->resize(d, d);
    for (int j = 0; j < 2; ++j) {
      h_pair[j].resize(d, d);
      phase_pair[j].resize(d);
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
    if (m.drift_diag.size()) h.diagonal() += m.drift_diag;
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

  // Decomposes the slice's steps k and k + 1 (if it exists) together: their QL iterations
  // interleave (compute_pair), which hides part of the latency of each. k is the index in the
  // slice; the pulse's step is s.k0 + k.
  void decompose_pair(int k, const RMat& u, const EnsembleMember& m) {
    if (k + 1 < s.n) {
      hamiltonian(s.k0 + k, u, m, h_pair[0], phase_pair[0]);
      hamiltonian(s.k0 + k + 1, u, m, h_pair[1], phase_pair[1]);
      compute_pair<N>(es_pair[0], h_pair[0], es_pair[1], h_pair[1]);
      store(k, es_pair[0], phase_pair[0]);
      store(k + 1, es_pair[1], phase_pair[1]);
    } else {
      hamiltonian(s.k0 + k, u, m, h_pair[0], phase_pair[0]);
      es_pair[0].compute(h_pair[0]);
      store(k, es_pair[0], phase_pair[0]);
    }
  }

  void forward(const RMat& u, const EnsembleMember& m, Mat& x_out) override {
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
  }

  void backward(const RMat& u, const EnsembleMember& m, const Mat& left, cplx gval,
                RMat& grad) override {
    (void)u;
    lr = left.real();
    li = left.imag();
    const cplx cg = std::conj(gval);
    for (int k = s.n - 1; k >= 0; --k) {
      const int step = s.k0 + k;
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
        grad(2 * c, step) = 2.0 * m.b1_scale * std::real(cg * sx);
        grad(2 * c + 1, step) = 2.0 * m.b1_scale * std::real(cg * sy);
      }
      // L_{k-1} = (Z diag(e)) V^dag = ((Z diag(e)) V_r^T) D^*.
      ar.array() = zr.array().rowwise() * ere - zi.array().rowwise() * eim;
      ai.array() = zr.array().rowwise() * eim + zi.array().rowwise() * ere;
      mul(br, ar, v.transpose());
      mul(bi, ai, v.transpose());
      lr.array() = br.array().rowwise() * dre + bi.array().rowwise() * dim;
      li.array() = bi.array().rowwise() * dre - br.array().rowwise() * dim;
    }
  }
};

}  // namespace

struct Kernel final : FidelityKernel {
  const GrapeProblem& p;
  int d, nc, n;
  bool real_path = false;
  Mat w_adj;   // W^dag
  Mat wd_adj;  // (W D)^dag of the last evaluate() (diagonal_phases)
  std::vector<std::vector<SparseEntry>> cx_sp, cy_sp;
  RealPathData real;
  int k0 = 0, k1 = 0;  // the time slice [k0, k1) this evaluator works on
  std::unique_ptr<RealPathBase> real_kernel;
  // Generic path: per step v (complex eigenvectors), y = V^dag X_{k-1}, w (eigenvalues).
  std::vector<Mat> v, y;
  std::vector<RVec> w;
  Mat h, x, tmp, z, qt, mm, nn, l;
  Vec e;
  RVec ec, es;  // e split into real and imaginary parts
  RMat gr, gi;  // divided differences
  Eigen::SelfAdjointEigenSolver<Mat> es_c;

  Kernel(const GrapeProblem& prob, int begin, int end) : p(prob), k0(begin), k1(end) {
    d = static_cast<int>(p.drift.rows());
    nc = static_cast<int>(p.channels.size());
    n = k1 - k0;  // steps of this slice
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
      real.k0 = k0;
      real.n = n;
      real.dt = p.dt_s;
      real.drift = p.drift.real();
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

  // Generic path, k the index in the slice (the pulse's step k0 + k).
  void decompose_complex(int k, const RMat& u, const EnsembleMember& m) {
    step_hamiltonian(p, real.fz_total, m, u, k0 + k, h);
    es_c.compute(h);
    w[k] = es_c.eigenvalues();
    v[k] = es_c.eigenvectors();
  }

  void exps(int k) {
    for (int j = 0; j < d; ++j) e(j) = std::polar(1.0, -w[k](j) * p.dt_s);
  }

  void accumulate_gradient(int step, const EnsembleMember& m, cplx gval, RMat& grad) {
    const cplx cg = std::conj(gval);
    for (int c = 0; c < nc; ++c) {
      cplx sx = 0, sy = 0;
      for (const auto& s : cx_sp[c]) sx += nn(s.col, s.row) * s.value;
      for (const auto& s : cy_sp[c]) sy += nn(s.col, s.row) * s.value;
      grad(2 * c, step) = 2.0 * m.b1_scale * std::real(cg * sx);
      grad(2 * c + 1, step) = 2.0 * m.b1_scale * std::real(cg * sy);
    }
  }

  const Mat& forward(const RMat& u, const EnsembleMember& m) {
    if (real_path) {
      real_kernel->forward(u, m, x);
      return x;
    }
    x.setIdentity();
    for (int k = 0; k < n; ++k) {
      decompose_complex(k, u, m);
      exps(k);
      y[k].noalias() = v[k].adjoint() * x;
      tmp = e.asDiagonal() * y[k];
      x.noalias() = v[k] * tmp;
    }
    return x;
  }

  void backward(const RMat& u, const EnsembleMember& m, const Mat& left, cplx gval, RMat& grad) {
    if (real_path) {
      real_kernel->backward(u, m, left, gval, grad);
      return;
    }
    l = left;
    for (int k = n - 1; k >= 0; --k) {
      const Mat& vk = v[k];
      exps(k);
      z.noalias() = l * vk;
      qt.noalias() = y[k] * z;
      ec = e.real();
      es = e.imag();
      divided_differences(w[k], ec, es, p.dt_s, gr, gi);
      mm.real() = qt.real().cwiseProduct(gr) - qt.imag().cwiseProduct(gi);
      mm.imag() = qt.real().cwiseProduct(gi) + qt.imag().cwiseProduct(gr);
      tmp.noalias() = vk * mm;
      nn.noalias() = tmp * vk.adjoint();
      accumulate_gradient(k0 + k, m, gval, grad);
      tmp = z * e.asDiagonal();
      l.noalias() = tmp * vk.adjoint();
    }
  }

  const Mat& propagator() const { return x; }

  cplx evaluate(const RMat& u, const EnsembleMember& m, RMat* grad) {
    forward(u, m);
    const Mat& wa = member_target_adjoint(p, w_adj, x, wd_adj);
    const cplx gval = (wa * x).trace();
    if (!grad) return gval;
    grad->setZero(u.rows(), u.cols());
    backward(u, m, wa, gval, *grad);
    return gval;
  }
};

std::unique_ptr<FidelityKernel> make_fidelity_kernel(const GrapeProblem& problem, int begin,
                                                     int end) {
  return std::make_unique<Kernel>(problem, begin, end);
}

}  // namespace NMRC_ISA_NS
}  // namespace nmrc::compiler
