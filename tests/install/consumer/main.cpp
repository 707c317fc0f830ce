// A downstream project: builds a two-spin Hamiltonian with nmrc::core and checks a rotation.
#include <cmath>
#include <cstdio>
#include <nmrc/core/information.hpp>
#include <nmrc/core/operators.hpp>
#include <nmrc/core/propagators.hpp>

int main() {
  const nmrc::Mat u = nmrc::expm_hermitian(nmrc::spin_op('x', 0, 2), nmrc::kPi);
  const nmrc::Mat x = nmrc::embed(nmrc::pauli('X'), {0}, 2);
  const double f = nmrc::gate_fidelity(u, x);
  std::printf("consumer: gate fidelity of a pi pulse to X = %.12f\n", f);
  return std::abs(f - 1.0) < 1e-12 ? 0 : 1;
}
