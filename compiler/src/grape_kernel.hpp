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

// The evaluator of the steps [begin, end) of `problem` (one per per-ISA copy).
NMRC_ISA_DECLARE(std::unique_ptr<FidelityKernel> make_fidelity_kernel(const GrapeProblem& problem,
                                                                      int begin, int end);)

}  // namespace nmrc::compiler
