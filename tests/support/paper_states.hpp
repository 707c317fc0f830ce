// Test shorthands for the paper's Fig. 3 setting: the Eq. (1) state with the same c on every
// pair (core's coherent_thermal_state) and its U_d (spectrometer's diagonalize_near_identity).
#pragma once

#include <vector>

#include "nmrc/core/states.hpp"
#include "nmrc/spectrometer/preparation.hpp"

namespace nmrc::ref {

inline Mat equal_pair_state(const std::vector<double>& temperatures, cplx c) {
  std::vector<PairCoherence> pairs;
  const int n = static_cast<int>(temperatures.size());
  for (int p = 0; p < n; ++p)
    for (int q = p + 1; q < n; ++q) pairs.push_back({p, q, c});
  return coherent_thermal_state(temperatures, pairs);
}

inline Mat near_identity_ud(const Mat& rho) {
  return spectrometer::diagonalize_near_identity(rho).u_d;
}

}  // namespace nmrc::ref
