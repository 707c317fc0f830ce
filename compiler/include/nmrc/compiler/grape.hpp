// GRAPE optimal control (Khaneja et al., J. Magn. Reson. 172, 296 (2005)) for piecewise-constant
// RF on one or more channels, with exact gradients from per-step Hermitian eigendecompositions,
// robustness ensembles (B1 scale, offset), L-BFGS-B through LBFGS++ with amplitude bounds,
// restarts in parallel, and a Summary instead of exceptions for non-convergence.
#pragma once

#include <atomic>
#include <complex>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/compiler/team.hpp"
#include "nmrc/core/options.hpp"
#include "nmrc/core/types.hpp"
#include "nmrc/spectrometer/probe.hpp"

namespace nmrc::compiler {

/// One RF channel's controls: H_rf = b1 (u_x cx + u_y cy), u in Hz, operators in rad/s per Hz
/// (2 pi sum_k I_x^k and 2 pi sum_k I_y^k over the channel's spins, docs/conventions.md).
struct ChannelControl {
  std::string name;
  Mat cx, cy;
  /// 2 pi sum_k I_z^k over the channel's spins (rad/s per Hz): used for offset errors, and
  /// (when the drift commutes with it) to reduce each step's eigenproblem to a real one.
  Mat fz;
  double max_rf_hz = 10000.0;           ///< bound on sqrt(u_x^2 + u_y^2)
  std::vector<double> line_offsets_hz;  ///< spin offsets from the carrier (for initial guesses)
  /// The probe of this channel (null: none): GRAPE optimises the transmitter's waveform as the
  /// spins see it through the distortion, its gradient through the adjoint
  /// (docs/console-physics.md; spectrometer/probe.hpp).
  std::shared_ptr<const spectrometer::Distortion> distortion;
};

/// One member of the robustness ensemble: every channel's RF is scaled by b1_scale and every
/// channel's spins are shifted by offset_hz; drift_diag (rad/s, the drift's dimension; empty:
/// none) is added to the drift's diagonal: static offsets of single spins, e.g. one
/// configuration of the decoupled protons' residual couplings (CompileOptions::decoupler).
struct EnsembleMember {
  double b1_scale = 1.0;
  double offset_hz = 0.0;
  double weight = 1.0;
  RVec drift_diag;
};

/// U(T) = U_N ... U_1, U_k = exp(-i dt (H0 + offset fz + b1 sum_c (u_xck cx_c + u_yck cy_c))).
/// The figure of merit is g = Tr(W^dag U) with fidelity F = |g| / norm: for a gate W = U_target
/// and norm = d gives F = |Tr(Ut^dag U)| / d (ARCHITECTURE.md); a state transfer uses
/// W = sum_i |psi1_i><psi0_i| and norm = the number of pairs. With diagonal_phases the target is
/// W up to a diagonal unitary D applied first: F = max_D |Tr(D^dag W^dag U)| / norm =
/// sum_j |(W^dag U)_jj| / norm, its gradient that of Re Tr(D*^dag W^dag U) at the best D*.
struct GrapeProblem {
  Mat drift;  ///< H0 in rad/s
  std::vector<ChannelControl> channels;
  Mat target;  ///< W
  double norm = 1.0;
  bool diagonal_phases = false;  ///< F up to diagonal phases (GateTarget::diagonal_phases)
  int steps = 0;
  double dt_s = 0.0;
  std::vector<EnsembleMember> ensemble{EnsembleMember{}};
  /// The time slices each member's steps are cut into (threads and ranks share them; grape.cpp,
  /// `slice_count`): 0 chooses them from the problem's size (2, or up to 16 from d = 64 on);
  /// n > 0 forces min(n, steps) (tests). Never a function of the thread or rank count.
  int time_slices = 0;
  /// Throws InputError (field named) when dimensions or values do not fit.
  void validate() const;
};

struct GrapeOptions {
  double fidelity_target = 0.995;  ///< stop when the ensemble minimum of F reaches this
  int starts = 4;                  ///< random starts (even: broadband random; odd: smooth)
  unsigned long seed = 1;
  int max_iterations = 3000;  ///< L-BFGS-B iterations per start
  /// A start stops as stalled when its distance to the fidelity target shrank by less than 1 %
  /// over this many evaluations (0: never). A start trapped on a plateau then gives way to the
  /// next instead of running to max_iterations (bench/results/grape.md, seed 5).
  int stall_evaluations = 500;
  double time_limit_s = 600.0;    ///< wall-time limit for the whole optimisation
  double smoothness = 0.0;        ///< weight of sum_k ((u_k+1 - u_k)/max_rf)^2 / steps
  bool zero_ends = true;          ///< first and last step fixed at zero amplitude
  double initial_fraction = 0.2;  ///< random start amplitude as a fraction of max_rf
  /// B1 robustness by quadrature (0: off). With n >= 1 and at least two B1 scales in the
  /// ensemble, the search averages F over an n-point Gauss-Legendre rule spanning the ensemble's
  /// B1 range (every offset at each node) instead of the ensemble itself; a start reaches the
  /// target only when the problem's own ensemble (its full grid) verifies, and when that check
  /// fails the start goes on on the full grid. Needs equal ensemble weights.
  int b1_quadrature = 0;
  /// Nominal first: with at least two B1 scales, each start first searches on the B1 range's
  /// centre alone (every offset), then goes on to the quadrature rule (b1_quadrature) or the
  /// ensemble itself from the pulse that reached the target there. Every stage that reaches the
  /// target is checked on the full grid first; a verified grid ends the start. The cheap
  /// one-member stage does the long climb (bench/results/grape.md, C2-C4).
  bool nominal_first = false;
  /// Multi-resolution (0 or 1: off). With f >= 2 dividing the step count (and at least three
  /// coarse steps), each start first optimises a pulse of steps/f steps of f dt each; that pulse,
  /// every step repeated f times (the same propagator), starts the search on the full steps.
  int coarse_factor = 0;
  /// Fast by default: when b1_quadrature, nominal_first and coarse_factor are all left at their
  /// defaults (0, false, 0), GRAPE chooses the stages itself from the problem (plan_stages in
  /// grape.cpp, measured in bench/results/grape.md): a coarse stage of f = 2..4 steps per coarse
  /// step when f divides the steps and the coarse step stays within one nutation turn at the
  /// highest RF limit (f dt max_rf <= 1); with no coarse stage and two or more B1 scales the
  /// centre B1 first; with three or more B1 scales and equal weights a Gauss-Legendre rule of
  /// 2 points after a coarse stage, 3 otherwise (fewer than the grid's); for a target of 0.9999
  /// or more an endgame past F_min = 1 - 3 (1 - target) on the rule (it ends the coarse stage):
  /// the worst-member objective on the full steps by unbounded L-BFGS with a long memory
  /// (Summary::endgame_power, endgame_memory), for a unitary target first by Levenberg-Marquardt
  /// on the members' unitary residuals, past 1 - 100 (1 - target) (Summary::endgame_gauss_newton).
  /// Any of the three set
  /// by hand is used as set, and nothing is added. false: the options' stages only.
  bool auto_stages = true;
  /// A warm start (empty: none): amplitudes in Hz, 2 rows per channel (u_x, u_y) and one column
  /// per step, as GrapeResult::u_hz. Start 0 begins from them (clipped to each channel's RF
  /// limit; no coarse stage) instead of its own guess; the other starts are unchanged. A pulse
  /// solved for the same target and duration under other options (another B1 range, a higher
  /// target) is usually close to the new optimum (bench/results/grape.md, warm starts).
  RMat initial_u;
  /// Up to S threads share one start (the S time slices of each ensemble member,
  /// time_slice_count: 2 below d = 64); more run starts in parallel, S threads each. Results do
  /// not depend on it (time limits aside).
  int threads = 2;
  /// When set and it reads true, GRAPE stops at its next evaluation (Termination::kInterrupted)
  /// and returns the best pulse found so far; starts not yet begun are skipped. A caller sets it
  /// from another thread (an interrupted Python session, nmrc.compile). Not part of the result's
  /// identity: never in a cache key.
  const std::atomic<bool>* stop = nullptr;
  /// The processes sharing this problem (null: this one alone; `mpirun -n N nmrc compile`,
  /// compiler/team.hpp): each evaluates a block of the ensemble members, one allgather per
  /// evaluation, or with more processes than members a block of the (member, time slice) units,
  /// two allgathers per gradient evaluation; starts then run one after the other, or, with at
  /// least twice as many processes as members, on groups of processes side by side
  /// (docs/mpi.md). Results are bit-identical
  /// for any number of processes (time limits and stops are agreed at the next evaluation). Not
  /// part of the result's identity: never in a cache key.
  Team* team = nullptr;
  /// The first rule the options violate (core's OptionChecks), or nullopt.
  std::optional<OptionProblem> check() const;
  /// Throws check()'s problem as InputError "grape options: field = value: rule".
  void validate() const;
};

enum class Termination {
  kReachedTarget,
  kConverged,
  kIterationLimit,
  kTimeLimit,
  kLineSearch,
  kStalled,
  kInterrupted  ///< GrapeOptions::stop was set
};
const char* termination_name(Termination t);

struct GrapeProgress {
  int start = 0;
  int evaluations = 0;
  double fidelity_min = 0.0;  ///< ensemble minimum of F at this evaluation
  double best_fidelity_min = 0.0;
  double elapsed_s = 0.0;
};
using ProgressCallback = std::function<void(const GrapeProgress&)>;

struct StartSummary {
  int start = 0;
  std::string initial;  ///< "random" or "smooth"
  Termination termination = Termination::kConverged;
  int iterations = 0;
  int evaluations = 0;
  double fidelity_min = 0.0;
  double wall_s = 0.0;
  std::string message;  ///< why a leg of L-BFGS-B stopped early (its line search), when it did
  /// Evaluations on the full grid after the quadrature's verification failed (b1_quadrature).
  int full_grid_evaluations = 0;
  int coarse_evaluations = 0;  ///< of the coarse stage (coarse_factor), each ~1/f of a full one
  /// Evaluations past the endgame's handover, on the full steps (Summary::endgame_memory).
  int endgame_evaluations = 0;
  /// Jacobians of the endgame's Levenberg-Marquardt search (Summary::endgame_gauss_newton),
  /// each about as costly as ten evaluations of the endgame's members.
  int gauss_newton_jacobians = 0;
};

struct Summary {
  Termination termination = Termination::kConverged;
  std::string message;
  int best_start = -1;
  int iterations = 0;            ///< of the best start
  int evaluations = 0;           ///< over every start
  std::vector<double> fidelity;  ///< F per ensemble member (of the returned pulse)
  double fidelity_min = 0.0;
  double fidelity_mean = 0.0;  ///< weighted
  double wall_s = 0.0;
  std::vector<StartSummary> starts;
  bool reached_target = false;
  int quadrature_points = 0;   ///< B1 quadrature nodes of the search (0: the ensemble itself)
  bool nominal_first = false;  ///< the search began on the centre B1 (GrapeOptions::nominal_first)
  int coarse_factor = 0;       ///< steps per step of the coarse stage (0: none)
  bool auto_stages = false;    ///< the stages were GRAPE's own choice (GrapeOptions::auto_stages)
  /// The endgame GRAPE chose for a high target (auto_stages, target >= 0.9999; 0: none): past
  /// F_min = endgame_handover on the B1 rule, the search minimises the p-norm (p =
  /// endgame_power) of the members' infidelities on the full steps (ensemble_objective's
  /// worst_power) over the B1 range's ends and centre, then on the grid.
  int endgame_power = 0;
  double endgame_handover = 0.0;
  /// Past the handover the endgame searches by unbounded L-BFGS with this many corrections
  /// (the RF limit kept by the amplitude penalty and the final clip); 0: L-BFGS-B throughout.
  int endgame_memory = 0;
  /// The endgame first searches by Levenberg-Marquardt on the members' unitary residuals
  /// (a unitary target, norm = d, no probe distortion; compiler/src/gauss_newton.hpp), then by
  /// L-BFGS from its point if it stalls; the handover is then at 1 - 100 (1 - target).
  bool endgame_gauss_newton = false;
  /// The returned pulse on a fine B1 grid (4 x the ensemble's B1 spacing, every offset), when
  /// the ensemble has two or more B1 scales: its point count and minimum F.
  int fine_points = 0;
  double fine_fidelity_min = 0.0;
  /// Where start 0 began when it was a warm start (GrapeOptions::initial_u), e.g. "cache entry
  /// KEY (F_min ...)"; empty otherwise. Set by the caller that chose it (compile_target).
  std::string warm_start;
  /// Processes that shared the work (GrapeOptions::team; 1: this one alone), and this
  /// process's traffic and time in their collectives during the run.
  int ranks = 1;
  double team_bytes = 0.0;
  double team_seconds = 0.0;
  std::string brief_report() const;
  std::string full_report() const;
};

struct GrapeResult {
  /// Amplitudes in Hz: row 2c is u_x and row 2c+1 is u_y of channel c; one column per step.
  RMat u_hz;
  Summary summary;
};

/// Exact fidelity and gradient of one ensemble member, reusing its buffers between calls
/// (no allocation in the step loop). Not thread-safe: one per thread.
class FidelityEvaluator {
 public:
  explicit FidelityEvaluator(const GrapeProblem& problem);
  /// An evaluator of the time slice [begin, end) of the steps only (forward/backward): slices
  /// of one member run on different threads (ensemble_objective).
  FidelityEvaluator(const GrapeProblem& problem, int begin, int end);
  ~FidelityEvaluator();
  FidelityEvaluator(const FidelityEvaluator&) = delete;
  FidelityEvaluator& operator=(const FidelityEvaluator&) = delete;
  /// Returns g = Tr(W^dag U(T)) for member `m` (W D with D fitted to U(T) when the problem has
  /// diagonal_phases); when grad is given, fills it (same shape as u_hz) with d|g|^2/du in 1/Hz.
  std::complex<double> evaluate(const RMat& u_hz, const EnsembleMember& m, RMat* grad);
  /// The final propagator of the last evaluate() call (or the slice's, after forward()).
  const Mat& propagator() const;
  /// The slice's propagator X = U_{end-1} ... U_{begin} (from the identity), keeping what
  /// backward() needs.
  const Mat& forward(const RMat& u_hz, const EnsembleMember& m);
  /// After forward(): writes grad's columns begin .. end-1 (others untouched) with d|g|^2/du of
  /// g = Tr(left X), left = (propagator before the slice) W^dag (propagator after it).
  void backward(const RMat& u_hz, const EnsembleMember& m, const Mat& left, std::complex<double> g,
                RMat& grad);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The time slices S each member's steps [0, steps) are cut into, slice s the steps
/// [s steps / S, (s + 1) steps / S): a function of the problem only (never of threads or ranks),
/// so that the combination of the slices, and hence every bit of the result, is too.
/// time_slices > 0 forces min(time_slices, steps); else 1 for one step, 2 below d = 64, and from
/// d = 64 on the fewest of 2, 4, 8, 16 whose per-step storage (steps x 48 d^2 bytes / S) is at
/// most 32 MB (grape.cpp, `slice_count`; docs/mpi.md).
int time_slice_count(const GrapeProblem& problem);

/// Weighted ensemble objective J = sum_m w_m F_m / sum w with F_m = |g_m| / norm (to maximise;
/// the fidelity itself, as QuTiP's PSU figure of merit, which L-BFGS-B reaches a target of in
/// ~10 % fewer evaluations than |g|^2 on the benchmark of bench/results/grape.md) and its
/// gradient in 1/Hz; fidelities per member in `fidelity` when given. Uses up to S threads
/// (the time slices of each member, time_slice_count); the result is bit-identical for any
/// `threads`.
/// The left factor of g = Tr(W^dag U) for a member whose propagator is u: W^dag (`w_adj`), or
/// with diagonal_phases (W D)^dag, D fitted to u by core's diagonal_phase_fit (written into
/// `buffer`, which the result then refers to).
const Mat& member_target_adjoint(const GrapeProblem& problem, const Mat& w_adj, const Mat& u,
                                 Mat& buffer);

/// With worst_power = p >= 1 the objective is instead the worst-member one that GRAPE's endgame
/// searches on (GrapeOptions::auto_stages, high targets): J = 1 - (sum_m w_m (1 - F_m)^p /
/// sum w)^(1/p), one minus a smooth maximum of the members' infidelities.
double ensemble_objective(const GrapeProblem& problem, const RMat& u_hz, RMat* grad,
                          std::vector<double>* fidelity, int threads = 1, int worst_power = 0);

/// Runs GRAPE. Never throws for non-convergence: the Summary says what happened. Deterministic
/// for a given seed (independent of thread count unless a time limit cuts a run short).
/// Throws InputError when the problem or the options are invalid.
GrapeResult optimise(const GrapeProblem& problem, const GrapeOptions& options,
                     const ProgressCallback& progress = {});

/// Gauss-Legendre nodes and weights on [-1, 1], ascending (n >= 1).
void gauss_legendre(int n, std::vector<double>& nodes, std::vector<double>& weights);

/// The problem with its ensemble replaced by an n-point Gauss-Legendre B1 rule over the
/// ensemble's B1 range, each node with every distinct offset (GrapeOptions::b1_quadrature).
/// Throws InputError when the ensemble weights differ.
GrapeProblem b1_quadrature_problem(const GrapeProblem& problem, int n);

/// The initial guess of start `start` (seeded): even starts uniform random in
/// +-initial_fraction*max_rf per step and quadrature (broadband), odd starts a sum of
/// sinusoids at the channel's spin offsets with smooth random envelopes.
RMat initial_guess(const GrapeProblem& problem, const GrapeOptions& options, int start);

}  // namespace nmrc::compiler
