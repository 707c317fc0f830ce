// Gate targets: the unitaries (or state transfers) that the compiler turns into shaped pulses.
// Each target names the spins it acts on and is the identity on every other spin, up to a
// global phase. Formulas with their sources are at each function.
#pragma once

#include <string>
#include <vector>

#include "nmrc/core/types.hpp"

namespace nmrc::compiler {

/// The paper's partial SWAP U_k = exp(-i theta (sigma_+ sigma_- + sigma_- sigma_+)) on two
/// spins (Huang et al., Eq. (2) with theta = g tau), equal to exp(-i theta/2 (XX + YY)).
Mat partial_swap_unitary(double theta_rad);
/// exp(-i angle/2 (cos(phase) X + sin(phase) Y)) on one spin (axis 'x'/'y' via phase), or
/// exp(-i angle/2 Z) when axis == 'z'.
Mat rotation_unitary(double angle_rad, double phase_rad, char axis = 'p');
/// exp(-i theta/2 Z (x) Z): the evolution under 2 pi J I_z I_z for theta = pi J t.
Mat zz_unitary(double theta_rad);
/// CNOT with spins[0] as control (|1> = excited flips the target) and CZ.
Mat cnot_unitary();
Mat cz_unitary();

/// A gate type (docs/program-format.md, "Gate targets"): its one descriptor in
/// gate_types.cpp's table, the only place a type is named (no enumerator).
struct GateDescriptor;

/// A compiled target: the figure of merit g = Tr(W^dag U) with F = |g| / norm.
struct GateTarget {
  /// Its gate type (target_from_description sets it; null for a target built by hand).
  const GateDescriptor* descriptor = nullptr;
  /// The type's name as programs and pulse files spell it ("partial_swap", ...; "unknown"
  /// without a descriptor).
  const char* type_name() const;
  std::vector<int> spins;  ///< spins it names (indices into the molecule)
  std::vector<std::string> spin_labels;
  Mat local;  ///< 2^m unitary on `spins` (gates)
  bool state_transfer = false;
  /// "up_to: diagonal_phases": F = sum_j |(W^dag U)_jj| / d, the gate up to a diagonal unitary
  /// applied first (W D). Exact for a gate whose input state is diagonal in the product basis
  /// (U_d after the temporal-averaging preparation: a gradient, then pi flips): D commutes with it.
  bool diagonal_phases = false;
  std::vector<std::pair<Vec, Vec>> transfers;  ///< (from, to) local states for state_transfer
  std::string description_json;  ///< the pulse file's "target" entry (compact JSON text)
  /// W on n spins: local (x) identity on the others (or the transfer operator).
  Mat full(int n) const;
  /// Normalisation: 2^n for gates, (number of transfers) * 2^(n-m) for state transfers.
  double norm(int n) const;
  /// "|Tr(Ut^dag U)|/d", the diagonal-phase one or the state-transfer definition.
  std::string fidelity_definition() const;
};

/// Unitarity check: max |U^dag U - I| <= tol.
bool is_unitary(const Mat& u, double tol = 1e-8);
/// Product state of m spins from a string of 0, 1, +, - (e.g. "0+"), spin 0 leftmost.
Vec product_state(const std::string& spec);

}  // namespace nmrc::compiler
