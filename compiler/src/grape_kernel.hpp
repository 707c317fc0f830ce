// FidelityEvaluator's kernel behind a virtual interface: grape_evaluator.cpp is compiled once per
// instruction set (nmrc/core/isa.hpp, cmake/IsaKernels.cmake), and fidelity_evaluator.cpp picks
// the copy for this CPU. Only these virtual calls cross between the copies, never an inline
// Eigen function (each copy's are its own).
#pragma once

#include <complex>
#include <memory>

#include "nmrc/compiler/grape.hpp"
#include "nmrc/core/isa.hpp"

namespace nmrc::compiler {

struct FidelityKernel {
  virtual ~FidelityKernel() = default;
  virtual std::complex<double> evaluate(const RMat& u_hz, const EnsembleMember& m, RMat* grad) = 0;
  virtual const Mat& forward(const RMat& u_hz, const EnsembleMember& m) = 0;
  virtual void backward(const RMat& u_hz, const EnsembleMember& m, const Mat& left,
                        std::complex<double> g, RMat& grad) = 0;
  virtual const Mat& propagator() const = 0;
};

namespace NMRC_ISA_NS {
// Step k's Hamiltonian of member m on the complex path, rad/s: H0 + offset diag(sum_c F_z^c)
// (fz_total: that diagonal) + the member's drift_diag + b1 sum_c (u_xck cx_c + u_yck cy_c)
// (GrapeProblem's model). Inline in each kernel file's own ISA namespace: the evaluator's
// generic path (grape_evaluator.cpp) and the Gauss-Newton Jacobian (gauss_newton.cpp).
template <class M>
void step_hamiltonian(const GrapeProblem& p, const RVec& fz_total, const EnsembleMember& m,
                      const RMat& u, int k, M& h) {
  h = p.drift;
  h.diagonal().array() += m.offset_hz * fz_total.array();
  if (m.drift_diag.size()) h.diagonal() += m.drift_diag.template cast<cplx>();
  for (size_t c = 0; c < p.channels.size(); ++c) {
    h.noalias() += (m.b1_scale * u(2 * c, k)) * p.channels[c].cx;
    h.noalias() += (m.b1_scale * u(2 * c + 1, k)) * p.channels[c].cy;
  }
}
}  // namespace NMRC_ISA_NS

// The evaluator of the steps [begin, end) of `problem` (one per per-ISA copy).
NMRC_ISA_DECLARE(std::unique_ptr<FidelityKernel> make_fidelity_kernel(const GrapeProblem& problem,
                                                                      int begin, int end);)

}  // namespace nmrc::compiler
