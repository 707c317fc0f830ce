// State preparation on the virtual spectrometer (the paper's supplement, "State Preparation",
// Eqs. (S13)-(S15), Fig. 6; main text Fig. 2(b)): the pseudo-pure state by spatial averaging
// (rotations, ideal controlled gates and z-gradients from thermal equilibrium), the bath
// particle's thermal populations (rotation + 1 ms gradient), and temporal averaging (Knill,
// Chuang, Laflamme, PRA 57, 3348 (1998)): rho = U_d rho_d U_d^dag with rho_d the weighted sum of
// computational-basis pseudo-pure experiments. docs/preparation.md states the derivation.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/options.hpp"
#include "nmrc/core/sequence.hpp"
#include "nmrc/core/states.hpp"
#include "nmrc/core/types.hpp"
#include "nmrc/spectrometer/sample.hpp"

namespace nmrc::spectrometer {

// ---- product-operator analysis: pauli_coefficients (nmrc/core/operators.hpp) -----------------

/// Relative distance of a deviation to a PPS deviation: with u = |0..0><0..0| - I/d,
/// epsilon = <u, dev> / <u, u> (least squares; = dev_00 d/(d-1) for traceless dev) and
/// error = ||dev - epsilon u||_F / ||dev||_F.
struct PpsFit {
  double epsilon = 0.0;
  double error = 0.0;
};
PpsFit fit_pps(const Mat& rho);

/// The pseudo-state sigma of rho = (1 - epsilon) I/d + epsilon sigma (Eq. (S13) generalised):
/// sigma = (rho - (1 - epsilon) I/d) / epsilon. Precondition: epsilon != 0.
Mat pseudo_state(const Mat& rho, double epsilon);
/// Inverse of pseudo_state: (1 - epsilon) I/d + epsilon sigma.
Mat from_pseudo_state(const Mat& sigma, double epsilon);

// ---- pseudo-pure state by spatial averaging ---------------------------------------------------

/// Gradients of the preparation: each is duration_s long; its strength is chosen so that the
/// phase of a single-quantum coherence of the gradient's spins winds `twists` full turns over
/// the sample length (G = twists / (gamma shape duration length)). Integer twists make the
/// spectrometer's slice average exact; the PPS steps use 1, 5, 25, 125 so that no combination
/// of coherence orders |p| <= 4 refocuses (sum_s p_s 5^s != 0).
struct GradientPlan {
  double duration_s = 1e-3;
  double length_cm = 1.0;  ///< must match Sample::gradient.length_cm for an exact slice average
  /// The first rule violated (core's OptionChecks): duration_s > 0, length_cm > 0.
  std::optional<OptionProblem> check() const;
  /// Throws check()'s problem as InputError "gradient.field = value: rule".
  void validate() const;
  /// Gradient element winding `twists` turns for spins of gyromagnetic ratio gamma_hz_per_g.
  GradientElement element(double twists, double gamma_hz_per_g) const;
};

struct PpsOptions {
  GradientPlan gradient;
  std::vector<double> twists{1.0, 5.0, 25.0, 125.0};  ///< per step, see GradientPlan
  /// false: the paper's angles arccos(1/2), arccos(1/4), arccos(1/8) (Eq. (S15), exact only
  /// when the four spins have equal polarisation). true: arccos(p_1 / (2^(k-1) p_k)) from the
  /// molecule's per-spin thermal polarisations p_k (chemical shifts make them differ ~1e-4).
  bool compensate_polarization = false;
  /// The first rule violated: gradient valid (field gradient.*), four positive twists.
  std::optional<OptionProblem> check() const;
  /// Throws check()'s problem as InputError "pps.field = value: rule" (a gradient problem as
  /// GradientPlan::validate says it: "gradient.field = value: rule").
  void validate() const;
};

/// One step of Eq. (S15): the operations U_{p,s} then the gradient G_z.
struct PpsStep {
  std::string name;         ///< "U_p1 G_z", ...
  std::string description;  ///< the operations in words
  std::vector<Element> elements;
};

/// The spatial-averaging sequence taking sum_k sigma_z^k (Eq. (S14)) to the PPS (Eq. (S13)),
/// on spins {s1, s2, s3, s4} = `spins` (the paper's spins 1..4 in that order):
///  1. R_y(arccos 1/2) on s2, R_y(arccos 1/4) on s3, R_y(arccos 1/8) on s4; G_z
///     -> Z1 + Z2/2 + Z3/4 + Z4/8;
///  2. CNOT(s2 -> s1), CNOT(s3 -> s2), controlled-R_y(pi/2) on s3 if s4 = |1>; G_z
///     -> (Z1Z2Z3 + Z1Z2Z3Z4)/2 + (Z2Z3 + Z2Z3Z4)/4 + (Z3 + Z3Z4 + Z4)/8 (the printed
///     Eq. (S15) omits Z3 here: as printed the step is impossible, docs/preparation.md);
///  3. controlled-R_y(pi/2) on s2 if s3 = |1>; G_z;
///  4. controlled-R_y(pi/2) on s1 if s2 = |1>; G_z  -> ((I+Z1)(I+Z2)(I+Z3)(I+Z4) - I)/8.
/// Every unitary acts on a diagonal state and creates only single-quantum coherence, so no
/// homonuclear zero-quantum term (which survives a gradient) is ever needed to vanish.
/// Throws InputError when spins are not 4 distinct spins of m or options are invalid.
std::vector<PpsStep> pps_steps(const Molecule& m, const std::vector<int>& spins,
                               const PpsOptions& options = {});
/// All steps flattened into one sequence named "pps".
Sequence pps_sequence(const std::vector<PpsStep>& steps);

/// Eq. (S15)'s product-operator terms after step s = 0..4 (s = 0: Eq. (S14)), keyed by Pauli
/// string on the four spins ("ZZZI" = sigma_z^1 sigma_z^2 sigma_z^3), in units of the thermal
/// coefficient. Step 2 is the corrected line (with sigma_z^3 / 8); eq_s15_printed_step2() is
/// the line as printed.
std::map<std::string, double> eq_s15_terms(int step);
std::map<std::string, double> eq_s15_printed_step2();

/// run_sequence for states near I/d: without relaxation it propagates the deviation
/// rho - Tr(rho) I/d alone and adds Tr(rho) I/d back (every element is then linear and unital),
/// so a 1e-7 deviation keeps ~1e-16 relative precision; with relaxation it runs rho itself.
Mat run_deviation(const Sample& sample, const Sequence& seq, const Mat& rho,
                  const RunOptions& options = {});

struct PpsResult {
  double thermal_epsilon = 0.0;  ///< Eq. (S14)'s epsilon of the molecule (spin s1's)
  Mat rho_before;                ///< thermal equilibrium
  Mat rho_after;                 ///< after the whole sequence (one run)
  std::vector<Mat> after_step;   ///< state after each step
  /// max_P |a_P(after step s) / thermal_epsilon - Eq. (S15) term P| per step (corrected S2).
  std::vector<double> step_deviation;
  PpsFit fit;  ///< epsilon of the PPS and the error, fit_pps(rho_after)
};

/// Runs the steps on `sample` from its thermal equilibrium: after_step by running step after
/// step (slices merged at each step's gradient), rho_after by one run of the whole sequence
/// (slices kept from the first gradient to the last, so gradient echoes would show). Without
/// relaxation the deviation sum_k (p_k/2^n) sigma_z^k is propagated on its own and
/// step_deviation and fit come from it at full precision; the returned matrices add I/2^n back
/// (in them a 1e-7 deviation has ~1e-11 relative rounding).
/// Preconditions: sample.validate() passed, steps = pps_steps(sample.molecule, spins, ..).
PpsResult run_pps(const Sample& sample, const std::vector<int>& spins,
                  const std::vector<PpsStep>& steps, const RunOptions& options = {});

// ---- bath particle ---------------------------------------------------------------------------

/// Rotation angle of the bath spin: from the pseudo-pure |0>, R_y(theta) then a gradient gives
/// populations (cos^2(theta/2), sin^2(theta/2)) = (P0, P1), P0 = 1/(1 + exp(-1/T_R)) in the
/// paper's units (delta = k_B = 1): theta = 2 arccos(sqrt(P0)).
/// Throws InputError unless temperature > 0 (finite).
double bath_rotation_angle(double temperature);

/// R_y(theta) on `spin` then a gradient of plan.duration_s (1 ms in the paper, main text (i))
/// winding `twists` turns. Throws InputError for a bad spin or temperature.
Sequence bath_sequence(const Molecule& m, int spin, double temperature,
                       const GradientPlan& plan = {}, double twists = 1.0);

// ---- the paper's initial state, Eq. (1) ----------------------------------------------------

/// The paper's Eq. (1)/(S4)-(S5) state lives in core (states.hpp) for every layer.
using nmrc::coherent_thermal_state;
using nmrc::PairCoherence;

// ---- temporal averaging --------------------------------------------------------------------

/// Throws InputError "`what`: ..." unless rho is square of size 2^n, Hermitian, unit trace and
/// positive semidefinite (each within tol).
void validate_state(const Mat& rho, const std::string& what, double tol = 1e-10);

/// rho = U_d diag(rho_d) U_d^dag with U_d close to the identity (the one U_d of nmrc: the
/// compiler's `ud` target uses it too). Rule: when rho conserves the excitation number (the
/// paper's states do: chi_pq couples |0_p 1_q> with |1_p 0_q>) each excitation block is
/// diagonalised on its own, else the whole matrix. Within a block, eigenvalues equal within
/// degeneracy_tol (relative) form one eigenspace; in ascending eigenvalue order each eigenspace
/// takes the unused basis states of largest weight <i|P|i> (ties: lowest index), and its columns
/// are the orthonormal eigenspace basis closest to those states (Loewdin: E U V^dag from the SVD
/// of E^dag S); every column is phased so its assigned diagonal entry is real positive. For a
/// non-degenerate eigenvector this is "match the basis state of largest overlap, make that
/// overlap real positive"; a diagonal rho gives U_d = I.
struct Diagonalization {
  Mat u_d;
  RVec rho_d;  ///< diagonal of rho_d in the computational basis
};
Diagonalization diagonalize_near_identity(const Mat& rho, double degeneracy_tol = 1e-10);

/// One experiment of temporal averaging: from the PPS |0..0>, X gates (R_x(pi)) on flip_spins
/// give |basis_state>, then U_d; weight w = rho_d(basis_state).
struct TemporalExperiment {
  int basis_state = 0;
  std::vector<int> flip_spins;  ///< molecule spin indices
  double weight = 0.0;
};

struct TemporalAveragingPlan {
  std::vector<int> spins;  ///< molecule spins carrying the system state (spin 0 of rho first)
  Mat rho;                 ///< requested state
  Mat rho_d;               ///< diagonal
  Mat u_d;
  std::vector<TemporalExperiment> experiments;  ///< weight > zero_weight only
};

/// Validates rho (validate_state, what = "state") and builds the plan; experiments with weight
/// <= zero_weight are left out (their weights are still counted in rho_d).
/// Throws InputError for invalid states or spins (distinct, in [0, molecule spins)).
TemporalAveragingPlan plan_temporal_averaging(const Mat& rho, const std::vector<int>& spins,
                                              int molecule_spins, double zero_weight = 1e-15);

/// The experiment's sequence: RotationElement(pi, phase 0) on the flip spins, then U_d as a
/// UnitaryElement on plan.spins (omitted when U_d = I exactly).
Sequence experiment_sequence(const TemporalAveragingPlan& plan, const TemporalExperiment& e);

/// Throws InputError "weights[i] = w: must be >= 0" or "weights: sum = s: must be 1" (within
/// tol).
void validate_weights(const std::vector<double>& weights, double tol = 1e-9);

struct WeightedOutcome {
  double weight = 0.0;
  Mat state;
};
/// sum_i w_i state_i after validate_weights. Throws InputError for an empty list or
/// mismatched dimensions.
Mat temporal_average(const std::vector<WeightedOutcome>& outcomes);

// Files: unitary_json, density_json (nmrc/core/matrix_json.hpp).

}  // namespace nmrc::spectrometer
