// GRAPE's Gauss-Newton endgame (grape.cpp, StartRun::gauss_newton_endgame): the members'
// unitary residuals, their Jacobian in the optimiser's variables, and the Levenberg-Marquardt
// step. The kernels are compiled once per instruction set (gauss_newton.cpp, as
// grape_evaluator.cpp; fidelity_evaluator.cpp dispatches), since their dense products and the
// Gram matrix are the endgame's whole cost.
//
// Near a gate that the pulse can reach exactly, 1 - F is a zero-residual least-squares problem:
// for a unitary target W (norm = d) and a member's propagator U,
//   |U - W D|_F^2 = 2 d - 2 sum_j |(W^dag U)_jj| = 2 d (1 - F)
// at the best diagonal phases D = diag(e^{i theta_j}) (diagonal_phases), and with D = e^{i phi}
// (a global phase) |U - e^{i phi} W|_F^2 = 2 d (1 - F) for the plain target. The residual
// r_m = sqrt(w_m / 2 d) vec(U_m - W D_m) over the members m thus has |r|^2 = sum_m w_m (1 - F_m),
// and Gauss-Newton / Levenberg-Marquardt on it (Nocedal & Wright, Numerical Optimization, 2nd
// ed., ch. 10) converges superlinearly where the residual can be driven to zero, while
// first-order GRAPE (L-BFGS) crawls there (bench/results/grape.md, "The endgame"). The use of
// second-order information in GRAPE: de Fouquieres et al., J. Magn. Reson. 212, 412 (2011).
#pragma once

#include <vector>

#include "nmrc/compiler/grape.hpp"
#include "nmrc/core/isa.hpp"

namespace nmrc::compiler {

/// The residuals of a problem's members at u and their Jacobian.
/// Rows: member m's block of 2 d^2 (real parts of vec(U_m - W D_m), column-major, then the
/// imaginary parts), scaled by sqrt(w_m / (2 d)) (weights normalised to sum 1).
/// Columns: the controls u(r, k) for k in [first, last) and r in [0, 2 nc), in that order, each
/// per `scale` Hz (the optimiser's variable), then the phases of each member in turn (one, the
/// global phase, or d with diagonal_phases), in radians from the fitted D_m.
struct UnitaryResiduals {
  Eigen::VectorXd r;
  RMat jac;
  std::vector<double> fidelity;  ///< F_m of each member at u
  int controls = 0;              ///< the control columns (the rest are phases)
};

/// Whether the residual form holds for `p`: a square unitary target with norm = d and no probe
/// distortion, with the Jacobian within `max_bytes`.
bool gauss_newton_applies(const GrapeProblem& p, int first, int last, double max_bytes);

/// The residuals and Jacobian of every member of `p` at u (members shared by `threads`).
void unitary_residuals(const GrapeProblem& p, const RMat& u, int first, int last, double scale,
                       int threads, UnitaryResiduals& out);

/// The Levenberg-Marquardt step of a Gram matrix: with K = J J^T (gram(), computed once per
/// Jacobian), delta = -J^T (K + lambda I)^{-1} r, the minimum-norm solution of
/// min |r + J delta|^2 + lambda |delta|^2 (fewer residuals than variables: the R x R system).
/// Returns false when K + lambda I is not positive definite to working precision.
bool levenberg_marquardt_step(const RMat& jac, const RMat& gram, const Eigen::VectorXd& r,
                              double lambda, Eigen::VectorXd& delta);
/// K = J J^T, its rows shared by `threads`.
void gram(const RMat& jac, int threads, RMat& out);

// The per-ISA copies (gauss_newton.cpp) the functions above dispatch to.
NMRC_ISA_DECLARE(void unitary_residuals_kernel(const GrapeProblem& p, const RMat& u, int first,
                                               int last, double scale, int threads,
                                               UnitaryResiduals& out);
                 bool levenberg_marquardt_step_kernel(const RMat& jac, const RMat& gram,
                                                      const Eigen::VectorXd& r, double lambda,
                                                      Eigen::VectorXd& delta);
                 void gram_kernel(const RMat& jac, int threads, RMat& out);)

}  // namespace nmrc::compiler
