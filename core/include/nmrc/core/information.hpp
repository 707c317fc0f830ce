// Information measures (natural logarithms, nats): von Neumann entropy, relative entropy,
// mutual information between spin groups, relative entropy of coherence
// C(rho) = S(D(rho)) - S(rho) (Baumgratz, Cramer, Plenio, PRL 113, 140401 (2014)), Uhlmann
// fidelity, and gate fidelities.
#pragma once

#include <vector>

#include "nmrc/core/types.hpp"

namespace nmrc {

/// S(rho) = -Tr rho ln rho, eigenvalues below 1e-15 taken as zero. rho Hermitian.
double von_neumann_entropy(const Mat& rho);
/// S(rho || sigma) = Tr rho (ln rho - ln sigma); +infinity when supp rho is not in supp sigma.
double relative_entropy(const Mat& rho, const Mat& sigma);
/// I(A:B) = S(rho_A) + S(rho_B) - S(rho_AB) for disjoint spin groups a, b of an n-spin rho.
double mutual_information(const Mat& rho, const std::vector<int>& a, const std::vector<int>& b,
                          int n);
/// rho with every off-diagonal element in the computational basis removed.
Mat dephase(const Mat& rho);
/// Relative entropy of coherence in the computational basis: S(dephase(rho)) - S(rho).
double coherence_relative_entropy(const Mat& rho);
/// l1-norm of coherence in the computational basis, sum_{i != j} |rho_ij| (Baumgratz, Cramer,
/// Plenio, PRL 113, 140401 (2014), Eq. (6)).
double l1_coherence(const Mat& rho);
/// Uhlmann fidelity F = (Tr sqrt(sqrt(rho) sigma sqrt(rho)))^2 of two density matrices, in
/// [0, 1] (a result above 1 by rounding is returned as 1).
double uhlmann_fidelity(const Mat& rho, const Mat& sigma);
/// Gate fidelity |Tr(U^dag V)| / d (global phase ignored).
double gate_fidelity(const Mat& u, const Mat& v);
/// The diagonal unitary D closest to W^dag V (D_jj = (W^dag V)_jj / |(W^dag V)_jj|, 1 where that
/// entry is 0), which maximises |Tr(D^dag W^dag V)| = sum_j |(W^dag V)_jj|: W D is the target W
/// up to diagonal phases applied first, the freedom of a gate whose input is a diagonal state.
/// Returned as its diagonal.
Vec diagonal_phase_fit(const Mat& w, const Mat& v);
/// Gate fidelity up to diagonal phases: sum_j |(W^dag V)_jj| / d = |Tr((W D)^dag V)| / d with D
/// from diagonal_phase_fit; >= gate_fidelity(w, v), equal when W^dag V is diagonal up to phase.
double gate_fidelity_diagonal_phases(const Mat& w, const Mat& v);
/// Average gate fidelity (d F^2 + 1) / (d + 1) from the gate fidelity F above.
double average_gate_fidelity(const Mat& u, const Mat& v);

}  // namespace nmrc
