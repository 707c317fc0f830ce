#include "nmrc/compiler/targets.hpp"

#include <algorithm>
#include <cmath>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/operators.hpp"

namespace nmrc::compiler {

namespace {
Mat expi_hermitian(const Mat& h, double scale) {
  // exp(-i scale H) for Hermitian H by its eigendecomposition.
  const HermitianEigen es = hermitian_eigen(h);
  Vec ph(h.rows());
  for (int j = 0; j < h.rows(); ++j) ph(j) = std::polar(1.0, -scale * es.values(j));
  return es.vectors * ph.asDiagonal() * es.vectors.adjoint();
}
}  // namespace

// The gate types and GateTarget::type_name: the descriptor table (gate_types.cpp).

Mat partial_swap_unitary(double theta_rad) {
  // sigma_+ sigma_- + sigma_- sigma_+ on two spins (first factor p, second R) = (XX + YY)/2.
  const Mat sp = sigma_plus(), sm = sigma_minus();
  const Mat h = kron(sp, sm) + kron(sm, sp);
  return expi_hermitian(h, theta_rad);
}

Mat rotation_unitary(double angle_rad, double phase_rad, char axis) {
  Mat gen;
  if (axis == 'z' || axis == 'Z') {
    gen = pauli('Z');
  } else {
    if (axis == 'x' || axis == 'X') phase_rad = 0.0;
    if (axis == 'y' || axis == 'Y') phase_rad = kPi / 2;
    gen = std::cos(phase_rad) * pauli('X') + std::sin(phase_rad) * pauli('Y');
  }
  return expi_hermitian(gen, angle_rad / 2);
}

Mat zz_unitary(double theta_rad) {
  return expi_hermitian(kron(pauli('Z'), pauli('Z')), theta_rad / 2);
}

Mat cnot_unitary() {
  Mat u = Mat::Zero(4, 4);
  u(0, 0) = u(1, 1) = 1;
  u(2, 3) = u(3, 2) = 1;
  return u;
}

Mat cz_unitary() {
  Mat u = Mat::Identity(4, 4);
  u(3, 3) = -1;
  return u;
}

bool is_unitary(const Mat& u, double tol) {
  if (u.rows() != u.cols() || u.rows() == 0) return false;
  return (u.adjoint() * u - Mat::Identity(u.rows(), u.cols())).cwiseAbs().maxCoeff() <= tol;
}

Vec product_state(const std::string& spec) {
  Vec psi = Vec::Ones(1);
  for (char ch : spec) {
    Vec s(2);
    const double r = 1.0 / std::sqrt(2.0);
    switch (ch) {
      case '0':
        s << 1, 0;
        break;
      case '1':
        s << 0, 1;
        break;
      case '+':
        s << r, r;
        break;
      case '-':
        s << r, -r;
        break;
      default:
        throw InputError("product_state: '" + spec + "': use the characters 0, 1, +, -");
    }
    Vec next(psi.size() * 2);
    for (int i = 0; i < psi.size(); ++i) next.segment(2 * i, 2) = psi(i) * s;
    psi = next;
  }
  return psi;
}

Mat GateTarget::full(int n) const {
  const int m = static_cast<int>(spins.size());
  if (!state_transfer) return embed(local, spins, n);
  Mat w = Mat::Zero(1 << m, 1 << m);
  for (const auto& [from, to] : transfers) w += to * from.adjoint();
  return embed(w, spins, n);
}

double GateTarget::norm(int n) const {
  if (!state_transfer) return static_cast<double>(1 << n);
  return static_cast<double>(transfers.size()) *
         static_cast<double>(1 << (n - static_cast<int>(spins.size())));
}

std::string GateTarget::fidelity_definition() const {
  if (diagonal_phases) return "sum_j |(Ut^dag U)_jj|/d (up to diagonal phases)";
  if (!state_transfer) return "|Tr(Ut^dag U)|/d";
  return "|Tr(W^dag U)|/norm, W = sum_i |to_i><from_i| (x) 1, norm = pairs * 2^(n-m)";
}

}  // namespace nmrc::compiler
