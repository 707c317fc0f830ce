// Propagation engines of the virtual spectrometer, and the API the compiler calls to judge a
// pulse. Two independent engines that tests hold to each other and to analytic cases:
//  - exact: piecewise-constant propagators exp(-i H dt) by Hermitian eigendecomposition
//    (unitary path), exp(L dt) by a dense matrix exponential (superoperators) or by its action
//    on a state (a Taylor series run to rounding, with sub-steps; relaxing states);
//  - odeint: Boost.Odeint's adaptive Runge-Kutta-Fehlberg 7(8) on the Schroedinger or
//    Lindblad equation for any waveform, restarted at every time point of the sequence.
// Nothing here shares code with GRAPE (compiler/): it is the judge of compiled pulses.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/sequence.hpp"
#include "nmrc/core/types.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "nmrc/spectrometer/probe.hpp"

namespace nmrc::spectrometer {

/// One piece of constant Hamiltonian: RF amplitudes (Hz, one per molecule channel) held for
/// duration_s.
struct Segment {
  double duration_s = 0.0;
  std::vector<double> ux_hz, uy_hz;
};

/// The segments of a timed element (hard pulse, shaped pulse, delay, gradient's free
/// evolution) for a molecule with `channels` channels; empty for instantaneous elements.
std::vector<Segment> segments_of(const Element& e, int channels);

enum class Engine { kExact, kOdeint };

/// Tolerances of the Odeint engine (controlled Runge-Kutta-Fehlberg 7(8), per component of
/// the real state vector: err <= abs_tol + rel_tol |x|). States are integrated as deviations
/// from (tr/dim) I, and for them abs_tol is multiplied by the largest |element| of the initial
/// deviation (a thermal deviation of ~1e-7 is then integrated like an O(1) one).
struct OdeintTolerances {
  double abs_tol = 1e-12;
  double rel_tol = 1e-10;
};

// ---- exact engine -------------------------------------------------------------------------

/// prod_j exp(-i H_j dt_j) (later segments on the left). Ignores relaxation.
Mat exact_unitary(const Dynamics& d, const std::vector<Segment>& segments);
/// exact_unitary of every element's segments in turn (segments_of: pulses, delays; gradients
/// as delays; rotations, unitaries and the acquisition take no time here).
Mat exact_unitary(const Dynamics& d, const Sequence& seq);
/// prod_j exp(L_j dt_j) on column-major vec(rho) (4^n x 4^n; dense, costly for many steps).
Mat exact_superoperator(const Dynamics& d, const std::vector<Segment>& segments);
/// The exact map of a (relaxing) element in deviation form: rho = (tr/dim) I + Delta goes to
/// (tr/dim) I + unvec(S vec(Delta) + tr drift), S = prod_j exp(L_j dt_j). The drift (response
/// to the identity part, non-zero for T1 towards unequal populations) comes from one
/// exponential of the augmented generator [[L, vec(D(I/dim))], [0, 0]], so a ~1e-7 thermal
/// deviation keeps its relative precision.
struct DeviationMap {
  Mat s;
  Vec drift;
  Mat apply(const Mat& rho) const;
};
DeviationMap exact_deviation_map(const Dynamics& d, const std::vector<Segment>& segments);
/// exp(L dt) rho for one constant Liouvillian, by Taylor series to rounding with sub-steps of
/// norm <= 1 (exact to ~1e-15 relative; no splitting between H and D).
Mat exact_step(const Dynamics& d, const Mat& h, double dt_s, const Mat& rho);
/// The state after `segments` (relaxing: exact_step per segment; else U rho U^dag).
Mat exact_state(const Dynamics& d, const std::vector<Segment>& segments, const Mat& rho);

// ---- Odeint engine ------------------------------------------------------------------------

/// RF waveform for the Odeint engine: fills ux_hz, uy_hz (one per channel) at time t.
using Waveform = std::function<void(double t_s, double* ux_hz, double* uy_hz)>;

/// Integrates dU/dt = -i H(t) U from U = I over [0, breakpoints.back()], restarting the
/// adaptive stepper at every breakpoint (breakpoints sorted, starting at 0).
Mat odeint_unitary(const Dynamics& d, const Waveform& w, const std::vector<double>& breakpoints,
                   const OdeintTolerances& tol = {});
/// Integrates the Lindblad equation d rho/dt = -i[H(t), rho] + D(rho) likewise.
Mat odeint_state(const Dynamics& d, const Waveform& w, const std::vector<double>& breakpoints,
                 const Mat& rho0, const OdeintTolerances& tol = {});
/// Piecewise-constant segments as a waveform with their edges as breakpoints.
Mat odeint_unitary(const Dynamics& d, const std::vector<Segment>& segments,
                   const OdeintTolerances& tol = {});
Mat odeint_state(const Dynamics& d, const std::vector<Segment>& segments, const Mat& rho0,
                 const OdeintTolerances& tol = {});
/// Superoperator by integrating every matrix unit |i><j| (4^n integrations; slow).
Mat odeint_superoperator(const Dynamics& d, const std::vector<Segment>& segments,
                         const OdeintTolerances& tol = {});

// ---- API for the compiler (nmrc validate) ----------------------------------------------------

struct PropagationOptions {
  Engine engine = Engine::kExact;
  bool strong_coupling = false;
  std::vector<double> offset_error_hz;  ///< per spin; empty = none
  OdeintTolerances tolerances;
  /// The probe (spectrometer/probe.hpp): one distortion per molecule channel (empty, or
  /// nullptr for a channel: none), applied to the shaped pulse by the simulate_* functions
  /// (and so by ensemble_fidelity and the judge) before it is propagated.
  std::vector<std::shared_ptr<const Distortion>> probe;
};

/// The pulse through options.probe (the pulse itself when no channel of it has a distortion).
ShapedPulseElement through_probe(const ShapedPulseElement& pulse,
                                 const PropagationOptions& options);

/// Propagator of a shaped pulse on molecule `m` at RF scale b1_scale, no relaxation.
/// Precondition: the pulse's channels index m.channels and its arrays have equal lengths
/// (throws InputError otherwise).
Mat simulate_unitary(const Molecule& m, const ShapedPulseElement& pulse, double b1_scale = 1.0,
                     const PropagationOptions& options = {});
/// Superoperator (4^n x 4^n, column-major vec) of the pulse with Lindblad relaxation.
Mat simulate_superoperator(const Molecule& m, const ShapedPulseElement& pulse,
                           double b1_scale = 1.0, const PropagationOptions& options = {});

/// The state after the pulse from rho0, with relaxation when `relaxation` is set (exact:
/// about 1.5 ms per step for 4 spins, against ~0.3 s per step for the superoperator); for
/// fidelities on the states an experiment actually uses.
Mat simulate_state(const Molecule& m, const ShapedPulseElement& pulse, const Mat& rho0,
                   double b1_scale = 1.0, bool relaxation = true,
                   const PropagationOptions& options = {});

/// Superoperator of rho -> U rho U^dag on column-major vec: conj(U) (x) U.
Mat unitary_superoperator(const Mat& u);
/// Process (entanglement) fidelity of a channel S to a unitary target: Tr(S_U^dag S) / d^2;
/// equals |Tr(U^dag V)|^2 / d^2 (the square of the project's gate fidelity) for a unitary V.
double process_fidelity(const Mat& superop, const Mat& target_unitary);
/// Average gate fidelity (d F_pro + 1) / (d + 1) (Horodecki, Nielsen 2002).
double average_fidelity_from_process(double process_fidelity, int dim);

/// Fidelities of one pulse over a weighted B1 ensemble.
struct EnsembleFidelity {
  std::vector<double> b1_scale, weights;
  std::vector<double> gate;     ///< |Tr(U_t^dag U)|/d per member (unitary path)
  std::vector<double> process;  ///< Tr(S_t^dag S)/d^2 per member (with relaxation if asked)
  double weighted_gate = 0.0, weighted_process = 0.0, min_gate = 1.0, min_process = 1.0;
};

/// Gate fidelity without relaxation for every B1 member and, when `relaxation` is set, the
/// process fidelity of the relaxing channel (costly: one 4^n superoperator per member).
/// Weights are normalised; throws InputError on empty/mismatched/negative weights.
EnsembleFidelity ensemble_fidelity(const Molecule& m, const ShapedPulseElement& pulse,
                                   const Mat& target_unitary, const std::vector<double>& b1_scale,
                                   const std::vector<double>& weights, bool relaxation,
                                   const PropagationOptions& options = {});

}  // namespace nmrc::spectrometer
