// FidelityEvaluator (grape.hpp): the public face of GRAPE's kernel. The kernel itself is
// grape_evaluator.cpp, compiled once per instruction set in a portable build; this file, built
// for the baseline, picks the copy for the CPU it runs on (nmrc/core/isa.hpp).
#include <algorithm>
#include <cmath>
#include <memory>

#include "gauss_newton.hpp"
#include "grape_kernel.hpp"
#include "nmrc/compiler/grape.hpp"
#include "nmrc/compiler/kernel_isa.hpp"
#include "nmrc/core/information.hpp"

namespace nmrc::compiler {

struct FidelityEvaluator::Impl {
  std::unique_ptr<FidelityKernel> kernel;
};

const char* kernel_isa() { return NMRC_ISA_DISPATCH ? isa_name(cpu_isa()) : "native"; }

const Mat& member_target_adjoint(const GrapeProblem& problem, const Mat& w_adj, const Mat& u,
                                 Mat& buffer) {
  if (!problem.diagonal_phases) return w_adj;
  // Row j of W^dag times conj(D_jj): (W D)^dag = D^dag W^dag.
  buffer = diagonal_phase_fit(problem.target, u).conjugate().asDiagonal() * w_adj;
  return buffer;
}

FidelityEvaluator::FidelityEvaluator(const GrapeProblem& problem)
    : FidelityEvaluator(problem, 0, problem.steps) {}
FidelityEvaluator::FidelityEvaluator(const GrapeProblem& problem, int begin, int end)
    : impl_(new Impl{NMRC_ISA_CALL(make_fidelity_kernel)(problem, begin, end)}) {}
FidelityEvaluator::~FidelityEvaluator() = default;
std::complex<double> FidelityEvaluator::evaluate(const RMat& u_hz, const EnsembleMember& m,
                                                 RMat* grad) {
  return impl_->kernel->evaluate(u_hz, m, grad);
}
const Mat& FidelityEvaluator::propagator() const { return impl_->kernel->propagator(); }
const Mat& FidelityEvaluator::forward(const RMat& u_hz, const EnsembleMember& m) {
  return impl_->kernel->forward(u_hz, m);
}
void FidelityEvaluator::backward(const RMat& u_hz, const EnsembleMember& m, const Mat& left,
                                 std::complex<double> g, RMat& grad) {
  impl_->kernel->backward(u_hz, m, left, g, grad);
}

// The Gauss-Newton endgame's kernels (gauss_newton.hpp), for this CPU.
bool gauss_newton_applies(const GrapeProblem& p, int first, int last, double max_bytes) {
  const auto d = p.drift.rows();
  if (p.target.rows() != d || p.target.cols() != d || std::abs(p.norm - double(d)) > 1e-12)
    return false;
  for (const auto& c : p.channels)
    if (c.distortion) return false;
  if (!(p.target.adjoint() * p.target).isIdentity(1e-9)) return false;
  const double members = double(p.ensemble.size());
  const double rows = double(d) * double(d) * members;
  const double cols = double(last - first) * 2.0 * double(p.channels.size()) +
                      members * (p.diagonal_phases ? double(d) : 1.0);
  const double gram = std::min(rows, cols);
  // the Jacobian, the smaller Gram matrix (twice: K and its factor), and each member's per-step
  // eigenvectors, U_k, prefix and suffix products (gauss_newton.cpp's MemberPass)
  const double per_step = 4.0 * 16.0 * double(d) * double(d) * double(p.steps) * members;
  return 8.0 * (rows * cols + 2.0 * gram * gram) + per_step <= max_bytes;
}
void unitary_residuals(const GrapeProblem& p, const RMat& u, int first, int last, double scale,
                       int threads, UnitaryResiduals& out) {
  NMRC_ISA_CALL(unitary_residuals_kernel)(p, u, first, last, scale, threads, out);
}
bool levenberg_marquardt_step(const RMat& jac, const RMat& gram, const Eigen::VectorXd& r,
                              double lambda, Eigen::VectorXd& delta) {
  return NMRC_ISA_CALL(levenberg_marquardt_step_kernel)(jac, gram, r, lambda, delta);
}
void gram(const RMat& jac, int threads, RMat& out) {
  NMRC_ISA_CALL(gram_kernel)(jac, threads, out);
}

}  // namespace nmrc::compiler
