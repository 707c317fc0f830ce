// The paper's Fig. 3 setting as ModelParams, shared by the thermo test files (paper, Fig. 3 and
// its caption: T_k = 1, T_R = 0.9, g = 20, tau = 0.01, order S1-S2-S3, every pair coherence c).
#pragma once

#include "nmrc/thermo/model.hpp"

namespace nmrc::thermo::testing {

inline ModelParams fig3(double c, int collisions = 100) {
  ModelParams p;
  p.names = {"S1", "S2", "S3"};
  p.temperatures = {1.0, 1.0, 1.0};
  p.bath_temperature = 0.9;
  p.g = 20.0;
  p.tau = 0.01;
  p.collisions = collisions;
  p.order = {0, 1, 2};
  if (c != 0.0) p.coherences = {{0, 1, c}, {0, 2, c}, {1, 2, c}};
  return p;
}

}  // namespace nmrc::thermo::testing
