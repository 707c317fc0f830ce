// Slow, obvious reference for the heat-flow collision model: the initial state of Eq. (1)
// from Kronecker products of 2x2 matrices, and the cascade with full 2^(n+1) x 2^(n+1)
// unitaries exp(-i tau H_kR) from a Taylor series, partial traces by explicit sums.
#pragma once

#include <vector>

#include "nmrc/core/types.hpp"

namespace nmrc::ref {

struct PairCoherence {
  int p, q;
  cplx c;
};

/// Eq. (1)/(S4)-(S5) by Kronecker products (spin k leftmost factor k).
Mat heat_flow_initial_state(const std::vector<double>& temps, const std::vector<PairCoherence>& c);

/// System states rho_S after every interaction of a cascade (index 0: initial state), with a
/// fresh thermal bath particle (last spin) per collision; or, when `simultaneous`, one dense
/// exp(-i tau sum_k H_kR) per collision.
std::vector<Mat> dense_cascade(const Mat& rho_s0, double t_bath, double g, double tau,
                               const std::vector<int>& order, int collisions,
                               bool simultaneous = false);

}  // namespace nmrc::ref
