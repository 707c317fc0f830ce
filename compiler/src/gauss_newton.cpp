// The Gauss-Newton endgame's kernels (gauss_newton.hpp): the members' unitary residuals and
// their exact Jacobian, the Gram matrix J J^T and the Levenberg-Marquardt step. Compiled once per
// instruction set (cmake/IsaKernels.cmake); fidelity_evaluator.cpp dispatches.
//
// Jacobian: U = U_{N-1} ... U_0, U_k = exp(-i H_k dt), H_k = V diag(w) V^dag. For a control
// u(r, k) with dH_k/du = b1 C_r (C = cx or cy of the channel),
//   dU/du = S_k dU_k P_k,  dU_k = V (G o (V^dag b1 C_r V)) V^dag,
// S_k = U_{N-1} ... U_{k+1}, P_k = U_{k-1} ... U_0 and the divided differences of
// f(x) = exp(-i x dt), G_jl = (f(w_j) - f(w_l)) / (w_j - w_l)
//      = -i dt exp(-i (w_j + w_l) dt / 2) sinc((w_j - w_l) dt / 2)
// (Daleckii-Krein; Higham, Functions of Matrices, Thm 3.11), exact for equal eigenvalues too.
// So dU/du = (S_k V) (G o (V^dag b1 C_r V)) (V^dag P_k): two products per step for S_k V and
// V^dag P_k, four per control.
#include "gauss_newton.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "grape_kernel.hpp"
#include "nmrc/core/parallel.hpp"

namespace nmrc::compiler {
namespace NMRC_ISA_NS {

namespace {

// The tangent residual's rows of X: H = (X - X^dag) / 2i (Hermitian), its diagonal, then the
// real and imaginary parts of its upper triangle times sqrt(2) (so that |rows|^2 = |H|_F^2).
template <class Col>
void put_tangent(const Mat& x, double s, Col&& col) {
  const Eigen::Index d = x.rows();
  Eigen::Index at = 0;
  for (Eigen::Index j = 0; j < d; ++j) col(at++) = s * x(j, j).imag();
  const double s2 = s * std::sqrt(2.0);
  for (Eigen::Index j = 0; j < d; ++j)
    for (Eigen::Index i = 0; i < j; ++i) {
      const cplx h = (x(i, j) - std::conj(x(j, i))) * cplx(0, -0.5);
      col(at++) = s2 * h.real();
      col(at++) = s2 * h.imag();
    }
}

// Member m's forward pass (phase A): each step's eigendecomposition, U_k, the prefix products
// P_k and the suffix products S_k, the fitted phases, and the member's residual rows and phase
// columns. N: the dimension at compile time (16, 8) or Eigen::Dynamic.
template <int N>
struct MemberPass {
  using M = Eigen::Matrix<cplx, N, N>;
  using V = Eigen::Matrix<double, N, 1>;
  std::vector<M> vecs, uk, prefix, suffix;
  std::vector<V> vals;
  M wda;  // (W D)^dag

  // dst = a * b: the coefficient-based product for fixed sizes (unrolled, vectorised), the
  // blocked one otherwise (as grape_evaluator.cpp's RealPath::mul).
  template <class A, class B>
  static void mul(M& dst, const A& a, const B& b) {
    if constexpr (N != Eigen::Dynamic)
      dst.noalias() = a.lazyProduct(b);
    else
      dst.noalias() = a * b;
  }

  // Sizes the per-step storage for n steps of dimension d.
  void resize(int n, int d) {
    vecs.assign(n, M::Zero(d, d));
    vals.assign(n, V::Zero(d));
    uk.assign(n, M::Zero(d, d));
    prefix.assign(n + 1, M::Zero(d, d));
    suffix.assign(n, M::Zero(d, d));
  }

  // Steps [k0, k1): their eigendecompositions and U_k (independent of each other).
  // fz_total: the diagonal of sum_c F_z^c (step_hamiltonian).
  void decompose(const GrapeProblem& p, const RVec& fz_total, const EnsembleMember& m,
                 const RMat& u, int k0, int k1) {
    const int d = static_cast<int>(p.drift.rows());
    Eigen::SelfAdjointEigenSolver<M> es(d);
    M h(d, d), tmp(d, d);
    Eigen::Matrix<cplx, N, 1> e(d);
    for (int k = k0; k < k1; ++k) {
      step_hamiltonian(p, fz_total, m, u, k, h);
      es.compute(h);
      vals[k] = es.eigenvalues();
      vecs[k] = es.eigenvectors();
      for (int j = 0; j < d; ++j) e(j) = std::polar(1.0, -vals[k](j) * p.dt_s);
      tmp = vecs[k] * e.asDiagonal();
      mul(uk[k], tmp, vecs[k].adjoint());
    }
  }

  // After decompose() of every step: the prefix and suffix products, the fitted phases, and the
  // member's residual rows and phase columns; returns F_m.
  double products(const GrapeProblem& p, double s, int phase_col, Eigen::Ref<Eigen::VectorXd> r,
                  Eigen::Ref<RMat> jac) {
    const int d = static_cast<int>(p.drift.rows());
    const int n = p.steps;
    prefix[0].setIdentity();
    for (int k = 0; k < n; ++k) mul(prefix[k + 1], uk[k], prefix[k]);
    suffix[n - 1].setIdentity();  // S_k = U_{n-1} ... U_{k+1}
    for (int k = n - 1; k > 0; --k) mul(suffix[k - 1], suffix[k], uk[k]);
    const M& total = prefix[n];
    const M a = p.target.adjoint() * total;  // W^dag U
    Eigen::Matrix<cplx, N, 1> phase(d);      // the diagonal of D
    double f = 0;
    if (p.diagonal_phases) {
      for (int j = 0; j < d; ++j) {
        const double mag = std::abs(a(j, j));
        phase(j) = mag > 0 ? a(j, j) / mag : cplx(1.0);
        f += mag;
      }
    } else {
      const cplx g = a.trace();
      const double mag = std::abs(g);
      phase.setConstant(mag > 0 ? g / mag : cplx(1.0));
      f = mag;
    }
    // V = (W D)^dag U and its phases' columns: d V / d theta_j = -i E_jj V.
    wda = (p.target * phase.asDiagonal()).adjoint();
    const Mat v = wda * total;
    put_tangent(v, s, r);
    if (p.diagonal_phases) {
      for (int j = 0; j < d; ++j) {
        Mat z = Mat::Zero(d, d);
        z.row(j) = cplx(0, -1) * v.row(j);
        put_tangent(z, s, jac.col(phase_col + j));
      }
    } else {
      put_tangent(Mat(cplx(0, -1) * v), s, jac.col(phase_col));
    }
    return f / p.norm;
  }

  // The control columns of steps [k0, k1) (phase B; steps within [first, last)).
  void columns(const GrapeProblem& p, const EnsembleMember& m, double s, double scale, int first,
               int k0, int k1, Eigen::Ref<RMat> jac) const {
    const int d = static_cast<int>(p.drift.rows());
    const int nc = static_cast<int>(p.channels.size());
    const double dt = p.dt_s;
    M sv(d, d), vp(d, d), g(d, d), mq(d, d), tmp(d, d), z(d, d), ctl(d, d);
    V ca(d), sa(d);
    for (int k = k0; k < k1; ++k) {
      const M& v = vecs[k];
      mul(tmp, suffix[k], v);
      mul(sv, wda, tmp);  // (W D)^dag S_k V
      mul(vp, v.adjoint(), prefix[k]);
      // With a_i = w_i dt / 2: exp(-i (a_i + a_j)) = h_i h_j (h = exp(-i a)) and
      // sin(a_i - a_j) = sin a_i cos a_j - cos a_i sin a_j, so d sin/cos pairs per step.
      for (int i = 0; i < d; ++i) {
        const double ai = 0.5 * vals[k](i) * dt;
        ca(i) = std::cos(ai);
        sa(i) = std::sin(ai);
      }
      for (int j = 0; j < d; ++j)
        for (int i = 0; i < d; ++i) {
          const double half = 0.5 * (vals[k](i) - vals[k](j)) * dt;
          const double sn = sa(i) * ca(j) - ca(i) * sa(j);
          const double sinc = std::abs(half) < 1e-4 ? 1.0 - half * half / 6.0 : sn / half;
          const cplx hij(ca(i) * ca(j) - sa(i) * sa(j), -(sa(i) * ca(j) + ca(i) * sa(j)));
          g(i, j) = cplx(0, -dt * m.b1_scale) * sinc * hij;
        }
      for (int c = 0; c < nc; ++c)
        for (int q = 0; q < 2; ++q) {
          ctl = q == 0 ? p.channels[c].cx : p.channels[c].cy;
          mul(tmp, ctl, v);
          mul(mq, v.adjoint(), tmp);
          mq = mq.cwiseProduct(g);
          mul(tmp, sv, mq);
          mul(z, tmp, vp);
          const int col = (k - first) * 2 * nc + 2 * c + q;
          put_tangent(z, s * scale, jac.col(col));
        }
    }
  }
};

template <int N>
void residuals_of(const GrapeProblem& p, const RMat& u, int first, int last, double scale,
                  int threads, UnitaryResiduals& out) {
  const int d = static_cast<int>(p.drift.rows());
  const int members = static_cast<int>(p.ensemble.size());
  const int nc = static_cast<int>(p.channels.size());
  const int per_member = p.diagonal_phases ? d : 1;
  const Eigen::Index rows = static_cast<Eigen::Index>(d) * d;
  out.controls = (last - first) * 2 * nc;
  out.r.resize(rows * members);
  out.jac.setZero(rows * members, out.controls + per_member * members);
  out.fidelity.assign(members, 0.0);
  double wsum = 0;
  for (const auto& m : p.ensemble) wsum += m.weight;
  std::vector<double> s(members);
  for (int i = 0; i < members; ++i) s[i] = std::sqrt(p.ensemble[i].weight / wsum / (2.0 * p.norm));
  RVec fz_total = RVec::Zero(d);
  for (const auto& c : p.channels) fz_total += c.fz.diagonal().real();
  std::vector<MemberPass<N>> pass(members);
  for (auto& m : pass) m.resize(p.steps, d);
  // The steps' eigendecompositions of every member, shared evenly by the threads (most of the
  // forward work), then each member's products in step order.
  const size_t all = static_cast<size_t>(members) * static_cast<size_t>(p.steps);
  parallel_chunks(all, threads, [&](size_t b, size_t e) {
    for (size_t at = b; at < e;) {
      const size_t i = at / static_cast<size_t>(p.steps);
      const size_t end = std::min(e, (i + 1) * static_cast<size_t>(p.steps));
      const int k0 = static_cast<int>(at % static_cast<size_t>(p.steps));
      pass[i].decompose(p, fz_total, p.ensemble[i], u, k0, k0 + static_cast<int>(end - at));
      at = end;
    }
  });
  parallel_for(static_cast<size_t>(members), threads, [&](size_t i) {
    const auto ii = static_cast<Eigen::Index>(i);
    out.fidelity[i] =
        pass[i].products(p, s[i], out.controls + per_member * static_cast<int>(i),
                         out.r.segment(rows * ii, rows), out.jac.middleRows(rows * ii, rows));
  });
  // The columns of every (member, step), shared evenly by the threads.
  const size_t steps = static_cast<size_t>(last - first);
  parallel_chunks(static_cast<size_t>(members) * steps, threads, [&](size_t b, size_t e) {
    for (size_t at = b; at < e;) {
      const size_t i = at / steps;
      const size_t end = std::min(e, (i + 1) * steps);
      const auto ii = static_cast<Eigen::Index>(i);
      pass[i].columns(p, p.ensemble[i], s[i], scale, first, first + static_cast<int>(at % steps),
                      first + static_cast<int>(at % steps + (end - at)),
                      out.jac.middleRows(rows * ii, rows));
      at = end;
    }
  });
}

}  // namespace

void unitary_residuals_kernel(const GrapeProblem& p, const RMat& u, int first, int last,
                              double scale, int threads, UnitaryResiduals& out) {
  switch (p.drift.rows()) {
    case 16:
      residuals_of<16>(p, u, first, last, scale, threads, out);
      break;
    case 8:
      residuals_of<8>(p, u, first, last, scale, threads, out);
      break;
    default:
      residuals_of<Eigen::Dynamic>(p, u, first, last, scale, threads, out);
  }
}

void gram_kernel(const RMat& jac, int threads, RMat& out) {
  // The smaller Gram matrix: J J^T with fewer residuals than variables, else J^T J; its lower
  // triangle only (what the Cholesky factorisation reads), as the sum of the rank updates of
  // blocks of kGramBlock along the inner dimension, added in block order: the same bits for
  // any number of threads (which share the blocks).
  constexpr Eigen::Index kGramBlock = 256;
  const bool dual = jac.rows() <= jac.cols();
  const Eigen::Index n = dual ? jac.rows() : jac.cols();
  const Eigen::Index inner = dual ? jac.cols() : jac.rows();
  const Eigen::Index blocks = std::max<Eigen::Index>(1, (inner + kGramBlock - 1) / kGramBlock);
  std::vector<RMat> part(static_cast<size_t>(blocks));
  parallel_for(static_cast<size_t>(blocks), threads, [&](size_t t) {
    const Eigen::Index b = static_cast<Eigen::Index>(t) * kGramBlock;
    const Eigen::Index len = std::min(kGramBlock, inner - b);
    RMat& k = part[t];
    k.setZero(n, n);
    if (len <= 0) return;
    if (dual)
      k.selfadjointView<Eigen::Lower>().rankUpdate(jac.middleCols(b, len));
    else
      k.selfadjointView<Eigen::Lower>().rankUpdate(jac.middleRows(b, len).transpose());
  });
  out = std::move(part[0]);
  for (size_t t = 1; t < part.size(); ++t) out.triangularView<Eigen::Lower>() += part[t];
}

bool levenberg_marquardt_step_kernel(const RMat& jac, const RMat& gram, const Eigen::VectorXd& r,
                                     double lambda, Eigen::VectorXd& delta) {
  RMat k = gram;
  k.diagonal().array() += lambda;
  Eigen::LLT<RMat, Eigen::Lower> llt(k);
  if (llt.info() != Eigen::Success) return false;
  if (gram.rows() == jac.rows()) {  // J J^T: delta = -J^T (K + lambda I)^-1 r
    const Eigen::VectorXd y = llt.solve(r);
    delta.noalias() = -(jac.transpose() * y);
  } else {  // J^T J: delta = -(K + lambda I)^-1 J^T r
    const Eigen::VectorXd jr = jac.transpose() * r;
    delta = -llt.solve(jr);
  }
  return delta.allFinite();
}

}  // namespace NMRC_ISA_NS
}  // namespace nmrc::compiler
