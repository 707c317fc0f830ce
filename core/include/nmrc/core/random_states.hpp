// Random matrices from a seeded generator: Gaussian (Ginibre) matrices and random density
// matrices, for random test states and the `state: random` of tomography programs.
#pragma once

#include <random>

#include "nmrc/core/types.hpp"

namespace nmrc {

/// A rows x cols matrix of independent complex Gaussians (real and imaginary parts standard
/// normal), drawn row by row from `gen`: the Ginibre ensemble.
template <class Rng>
Mat gaussian_matrix(int rows, int cols, Rng& gen) {
  std::normal_distribution<double> nd;
  Mat g(rows, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) g(i, j) = cplx(nd(gen), nd(gen));
  return g;
}

/// A random density matrix of rank <= `rank`: G G^dag / Tr(G G^dag) with G a dim x rank
/// Gaussian matrix (the induced measure; Zyczkowski and Sommers, J. Phys. A 34, 7111 (2001)).
template <class Rng>
Mat random_density_matrix(int dim, int rank, Rng& gen) {
  const Mat g = gaussian_matrix(dim, rank, gen);
  const Mat r = g * g.adjoint();
  return r / r.trace().real();
}

}  // namespace nmrc
