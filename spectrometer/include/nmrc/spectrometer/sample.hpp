// A sample on the virtual spectrometer and the execution of a sequence (core's IR) on it:
// the molecule with relaxation, a weighted B1-scale ensemble, static offset errors, and pulsed
// field gradients either as explicit averaging over z-slices or as the exact coherence-order
// filter. Every ensemble member runs the whole sequence; the results are weight-averaged.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/options.hpp"
#include "nmrc/core/sequence.hpp"
#include "nmrc/core/types.hpp"
#include "nmrc/spectrometer/propagation.hpp"

namespace nmrc::spectrometer {

enum class GradientMode {
  /// Each gradient removes every element rho_ab whose gamma-weighted coherence order
  /// sum_k gamma_k (m_k(a) - m_k(b)) is non-zero (homonuclear zero-quantum coherence
  /// survives). The limit of strong gradients whose areas never refocus one another.
  kExact,
  /// Explicit average over `slices` equally spaced z positions across length_cm: a spin at
  /// height z gains phase 2 pi gamma_k G shape_factor duration z. Handles gradient echoes.
  kSlices,
};

/// The mode a program names: "exact" or "slices"; nullopt for any other name (the loaders
/// report "must be exact or slices" at the field).
std::optional<GradientMode> gradient_mode_from_name(const std::string& name);

struct GradientOptions {
  GradientMode mode = GradientMode::kExact;
  int slices = 64;
  double length_cm = 1.0;
};

struct Sample {
  Molecule molecule;
  bool strong_coupling = false;
  bool relaxation = false;
  std::vector<double> b1_scale{1.0};
  std::vector<double> b1_weight{1.0};   ///< normalised when used
  std::vector<double> offset_error_hz;  ///< per spin; empty = none
  GradientOptions gradient;
  /// The first rule violated (core's OptionChecks): b1 lists of equal non-zero length, weights
  /// >= 0 and not all zero, b1_scale > 0, offset errors one per spin, slices 1 to
  /// kMaxGradientSlices, length_cm > 0.
  std::optional<OptionProblem> check() const;
  /// Throws check()'s problem as InputError "sample.field = value: rule".
  void validate() const;
};

struct RunOptions {
  Engine engine = Engine::kExact;
  OdeintTolerances tolerances;
  /// Phase added to every RF element of each channel (phase cycling); empty = none.
  /// Rotations and ideal unitaries on a channel's spins are conjugated by its z-rotation.
  std::vector<double> channel_phase_rad;
};

/// Runs the elements of `seq` up to (not including) its first AcquireElement on every
/// ensemble member from rho0 and returns the weight-averaged state.
/// Preconditions: sample.validate() passed; element indices refer to sample.molecule.
Mat run_sequence(const Sample& sample, const Sequence& seq, const Mat& rho0,
                 const RunOptions& options = {});

/// Exact gradient filter: keeps rho_ab only where sum_k gamma_k (m_k(a) - m_k(b)) == 0.
Mat coherence_filter(const Molecule& m, const Mat& rho);
/// rho_ab * exp(-i sum_k phi_k (m_k(a) - m_k(b))) with phi_k = 2 pi gamma_k G s tau z: the
/// gradient phase of one slice at height z_cm (m_k = +1/2 for |0>, -1/2 for |1>).
Mat gradient_phase(const Molecule& m, const GradientElement& g, double z_cm, const Mat& rho);

/// The fraction of single-quantum coherence of each spin k that gradient g leaves on the
/// sample: |(1/N) sum_j exp(-i 2 pi gamma_k G s tau z_j)| over the slice positions
/// z_j = -L/2 + (j + 1/2) L/N of GradientMode::kSlices (N = sample.gradient.slices, L =
/// length_cm: a uniform sample), i.e. gradient_phase averaged over the sample, one gradient
/// alone. For N much larger than the turns T = gamma_k G s tau L it tends to the uniform
/// sample's |sinc(pi T)| = |sin(pi T)/(pi T)| <= 1/(pi T) (the slice sum is the Dirichlet kernel
/// |sin(pi T)/(N sin(pi T/N))|). Preconditions: sample.validate() passed.
std::vector<double> gradient_residual(const Sample& sample, const GradientElement& g);

}  // namespace nmrc::spectrometer
