// FidelityEvaluator (grape.hpp): the public face of GRAPE's kernel. The kernel itself is
// grape_evaluator.cpp, compiled once per instruction set in a portable build; this file, built
// for the baseline, picks the copy for the CPU it runs on (nmrc/core/isa.hpp).
#include <memory>

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

}  // namespace nmrc::compiler
