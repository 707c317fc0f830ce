// The experiment's protocol; see run.hpp for the steps and docs/experiment-format.md for the
// calibration and the error budget.
#include "nmrc/experiment/run.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "nmrc/compiler/wire.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/hash.hpp"
#include "nmrc/core/information.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/parallel.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "nmrc/core/states.hpp"
#include "nmrc/experiment/channel.hpp"
#include "nmrc/experiment/protocol.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "nmrc/spectrometer/preparation.hpp"
#include "nmrc/spectrometer/propagation.hpp"
#include "nmrc/spectrometer/sample.hpp"
#include "nmrc/spectrometer/tomography.hpp"
#include "nmrc/spectrometer/tomography_run.hpp"
#include "nmrc/thermo/observables.hpp"

#ifndef NMRC_EXPERIMENT_VERSION
#define NMRC_EXPERIMENT_VERSION "unknown"
#endif

namespace nmrc::experiment {

namespace sp = nmrc::spectrometer;
using nlohmann::json;

int direction(double delta_energy, double tol) {
  if (delta_energy > tol) return 1;
  if (delta_energy < -tol) return -1;
  return 0;
}

std::string recorded_program_path(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path given(path);
  if (!given.is_absolute()) return given.lexically_normal().generic_string();
  std::error_code ec;
  const fs::path rel = given.lexically_normal().lexically_relative(fs::current_path(ec));
  if (!ec && !rel.empty() && *rel.begin() != "..") return rel.generic_string();
  return given.filename().generic_string();
}

PulseLibrary make_pulse_library(const ExperimentProgram& p, const RunSettings& s) {
  json prov = {{"program", recorded_program_path(p.path)},
               {"program_hash", p.text_hash},
               {"nmrc_version", NMRC_EXPERIMENT_VERSION},
               {"robust_over_b1", p.b1_scale}};
  return PulseLibrary(p.molecule, p.compiled_dir,
                      s.cache_dir.empty() ? "" : s.cache_dir + "/compile", s.compile_mode, prov);
}

namespace {

std::uint64_t mix(std::uint64_t x) {  // splitmix64 (Steele, Lea, Flood, OOPSLA 2014)
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// The noise draws' seeds: every stream is mix(seed_a + stride * index) with an odd stride per
/// level, so no two (collision, draw, acquisition, setting) share a seed (the strides are
/// primes, arbitrary but fixed: changing one changes every shipped run's noise).
constexpr std::uint64_t kCollisionSeedStride = 7777;      // program seed -> collision m's seed
constexpr std::uint64_t kDrawSeedStride = 1000003;        // collision's seed -> draw dr's seed
constexpr std::uint64_t kAcquisitionSeedStride = 104729;  // draw's seed -> acquisition's seed
constexpr std::uint64_t kSettingSeedStride = 7919;        // acquisition's seed -> setting s's seed

/// Memo of a pure function for the whole process: what engines need identically (the played
/// PPS, the bath gradient's channel: see the named memos below for what each depends on) is
/// computed once, not once per case and error-budget row (each is a handful of 256 x 256
/// superoperator exponentials or exact propagations).
template <class T>
class ProcessMemo {
 public:
  template <class F>
  T get(const std::string& key, const F& make) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = map_.find(key); it != map_.end()) return it->second;
    }
    T value = make();
    std::lock_guard<std::mutex> lock(mu_);
    return map_.emplace(key, std::move(value)).first->second;
  }

 private:
  std::mutex mu_;
  std::map<std::string, T> map_;
};

/// A memo key: the parts that determine the memoised value, joined by '|'.
std::string memo_key(std::initializer_list<std::string> parts) {
  std::string k;
  for (const auto& p : parts) k += (k.empty() ? "" : "|") + p;
  return k;
}

struct PpsStates {
  Mat deviation[2];  ///< from equilibrium and from inverted equilibrium
};

/// The process-wide memos, each named by what it keeps; its key must hold everything the
/// value depends on (built with memo_key):
/// - nominal PPS polarisation (the run's unit): molecule file hash, compensate_polarization;
/// - the bath gradient's channel: molecule file hash, relaxation switch, its played duration;
/// - the played PPS per B1 member: molecule file hash, relaxation switch, each PPS step's
///   pulses (content hash of a compiled pulse, or "exact <name>") and gradient, B1 scale.
ProcessMemo<double>& nominal_epsilon_memo() {
  static ProcessMemo<double> memo;
  return memo;
}
ProcessMemo<AffineMap>& bath_gradient_memo() {
  static ProcessMemo<AffineMap> memo;
  return memo;
}
ProcessMemo<PpsStates>& played_pps_memo() {
  static ProcessMemo<PpsStates> memo;
  return memo;
}

/// The tomography of a program, shared by every engine of a case: the reconstruction's
/// inverse and the line fits' factorisations (their construction outweighs many runs).
struct Meters {
  explicit Meters(const ExperimentProgram& p)
      : tomo(p.readout.settings, p.molecule.size()),
        fitted(p.molecule, sp::LineSource::kSpectrometer, p.sw_hz, p.td),
        ideal(p.molecule, sp::LineSource::kIdeal, p.sw_hz, p.td) {}
  sp::Tomographer tomo;
  sp::SettingMeasurer fitted, ideal;
};

/// Everything one (case, imperfection set) needs, built once.
class Engine {
 public:
  Engine(const ExperimentProgram& p, const CaseSpec& c, PulseLibrary& lib, const RunSettings& s,
         const Imperfections& imp, const Meters& meters, const ProgressText& progress)
      : p_(p),
        c_(c),
        lib_(lib),
        imp_(imp),
        progress_(progress),
        m_(p.molecule),
        n_(m_.size()),
        d_(1 << n_),
        tomo_(meters.tomo),
        meter_(imp.readout ? meters.fitted : meters.ideal),
        cache_(s.cache_dir.empty() ? "" : s.cache_dir + "/channels"),
        threads_(s.threads) {
    for (int k = 0; k < n_; ++k)
      if (m_.nuclei[k].channel == m_.nuclei[c.bath_spin].channel) bath_channel_spins_.push_back(k);
    if (imp.b1_ensemble) {
      for (size_t i = 0; i < p.b1_scale.size(); ++i)
        members_.push_back({p.b1_scale[i], p.b1_weight[i]});
    } else {
      members_.push_back({1.0, 1.0});
    }
    double wsum = 0;
    for (auto& mb : members_) wsum += mb.second;
    for (auto& mb : members_) mb.second /= wsum;
    for (const auto& mb : members_) {
      sp::DynamicsOptions o;
      o.b1_scale = mb.first;
      o.relaxation = imp.relaxation;
      dyn_.push_back(std::make_unique<sp::Dynamics>(m_, o));
    }
    molecule_key_ = content_hash_hex(read_file(p.molecule_path));
    {
      // The nominal PPS polarisation, the run's unit (an ideal PPS from equilibrium fitted to
      // |0...0>, spectrometer::fit_pps): it defines the SNR's unit, never a calibration.
      eps_ = nominal_epsilon_memo().get(
          memo_key({molecule_key_, p.compensate_polarization ? "compensated" : "plain"}),
          [&] { return nominal_epsilon(); });
    }
    // The PPS and the bath gradient as collision 1's protocol plays them (the same for every
    // collision).
    const RunProtocol first = run_protocol(p_, c_, 1);
    prepare_pps(first.pps);
    ref_state_ = thermal_reference_state(c);
    ref_plan_ = sp::plan_temporal_averaging(ref_state_, c.system_spins, n_);
    {
      // for as long as the console plays it (protocol.hpp's PlayedGradients)
      const double t = first.bath_gradient.duration_s;
      gradient_ = bath_gradient_memo().get(
          memo_key({molecule_key_, imp.relaxation ? "relaxation" : "closed", std::to_string(t)}),
          [&] { return delay_channel(t); });
    }
    // exact coherence-order filter of the gradient (spectrometer::coherence_filter), as a mask
    const Mat mask = sp::coherence_filter(m_, Mat::Ones(d_, d_));
    for (int a = 0; a < d_ * d_; ++a) gradient_.s.row(a) *= mask(a % d_, a / d_).real();
    gradient_.drift =
        gradient_.drift.cwiseProduct(Eigen::Map<const Vec>(Mat(mask).data(), d_ * d_));
    for (int k = 0; k < n_; ++k) {
      readout_x_.push_back(readout_need(p_, k, 'X'));
      readout_y_.push_back(readout_need(p_, k, 'Y'));
    }
  }

  double epsilon() const { return eps_; }
  double noise_sigma(double weight_norm) const {
    if (!imp_.noise || p_.snr <= 0) return 0.0;
    return sp::tomography_noise_sigma(n_, p_.snr) * weight_norm;
  }

  /// The inversion-paired acquisitions of one collision's pair of runs (per sign: from
  /// equilibrium, from inverted equilibrium), averaged over the B1 members: per readout setting
  /// the deviation read out. `prepared` is the state before the collision without contact,
  /// `contact` the same state through the contact pulses; the two share everything else.
  struct Acquired {
    std::vector<Mat> contact[2], prepared[2];
    double weight_norm = 1.0;  // sqrt(sum w_i^2) of the temporal average
  };

  Acquired acquire(const Mat& rho_before, const std::string& ud_name) {
    Acquired a;
    const auto plan = sp::plan_temporal_averaging(rho_before, c_.system_spins, n_);
    double w2 = 0;
    for (const auto& e : plan.experiments) w2 += e.weight * e.weight;
    a.weight_norm = std::sqrt(w2);
    const bool need_ud =
        (plan.u_d - Mat::Identity(plan.u_d.rows(), plan.u_d.cols())).norm() > 1e-12;
    const PulseNeed ud = ud_need(p_, c_, plan.u_d, ud_name);
    const std::vector<PulseNeed> contact = contact_needs(p_, c_);
    for (int sg = 0; sg < signs(); ++sg) {
      a.contact[sg].assign(p_.readout.settings.size(), Mat::Zero(d_, d_));
      a.prepared[sg].assign(p_.readout.settings.size(), Mat::Zero(d_, d_));
    }
    for (size_t b = 0; b < members_.size(); ++b) {
      const double wb = members_[b].second;
      std::unique_ptr<Stepper> ud_stepper;
      AffineMap ud_ideal;
      if (need_ud) {
        if (compiled(ud)) {
          const auto& rec = get_pulse(ud);
          const auto segs = sp::segments_of(rec.pulse.element(m_), dyn_[b]->channels());
          ud_stepper = std::make_unique<Stepper>(*dyn_[b], segs);
        } else {
          ud_ideal = exact_gate(ud);
        }
      }
      for (int sg = 0; sg < signs(); ++sg) {
        Mat avg = temporal_average(plan, b, sg);
        if (need_ud) avg = ud_stepper ? ud_stepper->propagate(avg, true) : ud_ideal.apply(avg);
        const Mat xc = played_contact(contact, b, bath_cycled(avg));
        for (size_t s = 0; s < p_.readout.settings.size(); ++s) {
          a.contact[sg][s] += wb * readout(s, b, xc);
          a.prepared[sg][s] += wb * readout(s, b, avg);
        }
      }
    }
    return a;
  }

  /// The reference acquisitions every run of the case shares (state-independent, so measured
  /// once per engine; each draw of each run adds its own noise): the PPS itself (the signal
  /// scale), and every subsystem thermal at T_R without and with the contact pulses (identical
  /// thermal spins are invariant under any excitation-conserving contact, so the ratio is the
  /// populations' loss during these very pulses). Clean line values per sign.
  struct References {
    std::vector<RVec> pps[2], thermal[2], thermal_contact[2];
    double thermal_weight_norm = 1.0;
  };
  const References& references() {
    if (refs_) return *refs_;
    References r;
    double w2 = 0;
    for (const auto& e : ref_plan_.experiments) w2 += e.weight * e.weight;
    r.thermal_weight_norm = std::sqrt(w2);
    const std::vector<PulseNeed> contact = contact_needs(p_, c_);
    const size_t ns = p_.readout.settings.size();
    for (int sg = 0; sg < signs(); ++sg) {
      std::vector<Mat> pps(ns, Mat::Zero(d_, d_)), th(ns, Mat::Zero(d_, d_)),
          thc(ns, Mat::Zero(d_, d_));
      for (size_t b = 0; b < members_.size(); ++b) {
        const double wb = members_[b].second;
        const Mat x0 = temporal_average(ref_plan_, b, sg);
        const Mat xc = played_contact(contact, b, x0);
        for (size_t s = 0; s < ns; ++s) {
          pps[s] += wb * readout(s, b, pps_[sg][b]);
          if (p_.reference) {
            th[s] += wb * readout(s, b, x0);
            thc[s] += wb * readout(s, b, xc);
          }
        }
      }
      r.pps[sg] = clean_lines(pps);
      if (p_.reference) {
        r.thermal[sg] = clean_lines(th);
        r.thermal_contact[sg] = clean_lines(thc);
      }
    }
    refs_ = std::move(r);
    return *refs_;
  }

  int signs() const { return p_.inversion ? 2 : 1; }

  /// The contact pulses on B1 member b as the program plays them: in order, averaged over the
  /// program's contact phase cycle (every RF phase on the bath's channel shifted by 2 pi j / N).
  Mat played_contact(const std::vector<PulseNeed>& contact, size_t b, const Mat& x) {
    return phase_cycled(
        [&](const Mat& y) {
          Mat r = y;
          for (const auto& nd : contact) r = apply(nd, b, r);
          return r;
        },
        x, bath_channel_spins_, n_, p_.contact_phase_cycle);
  }

  /// The average over the program's bath phase cycle of Rz_R(phi) x Rz_R(phi)^dag,
  /// phi = 2 pi j / N (the console adds the N acquisitions; everything after is linear).
  Mat bath_cycled(const Mat& x) const {
    return z_phase_averaged(x, {c_.bath_spin}, n_, std::max(1, p_.bath_phase_cycle));
  }

  /// Noise-free line values of every setting of a set of averaged deviations (the FID
  /// simulation and line fit: the costly part of a run, done once per acquisition; the fit is
  /// linear, so noise draws are added to these values by noisy()).
  std::vector<RVec> clean_lines(const std::vector<Mat>& dev) const {
    std::vector<RVec> out(dev.size());
    const sp::ReadoutSetting none = sp::setting_from_letters(std::string(n_, 'I'));
    for_settings(dev.size(), [&](size_t s) {
      const Mat state = dev[s] / eps_ + Mat::Identity(d_, d_) / double(d_);
      out[s] = meter_.clean_values(state, imp_.readout ? none : p_.readout.settings[s]);
    });
    return out;
  }

  /// One noise draw on clean line values: per setting s the fit of a noise-only FID of
  /// sigma, seeded by setting_seed(seed, s).
  std::vector<RVec> noisy(const std::vector<RVec>& clean, double sigma, std::uint64_t seed) const {
    if (!(sigma > 0.0)) return clean;
    std::vector<RVec> out(clean.size());
    for_settings(clean.size(), [&](size_t s) {
      out[s] = clean[s] + meter_.noise_values(sigma, setting_seed(seed, s));
    });
    return out;
  }

  /// The FIDs behind noisy(clean_lines(dev), sigma, seed): per setting the simulated FID plus
  /// the same seeded noise (the fit is linear, so their line values are that draw's), kept to
  /// be written as TopSpin datasets. Empty FIDs for ideal readout (no FID is simulated).
  std::vector<sp::Fid> fids(const std::vector<Mat>& dev, double sigma, std::uint64_t seed) const {
    std::vector<sp::Fid> out(dev.size());
    if (!imp_.readout) return out;
    const sp::ReadoutSetting none = sp::setting_from_letters(std::string(n_, 'I'));
    for_settings(dev.size(), [&](size_t s) {
      const Mat state = dev[s] / eps_ + Mat::Identity(d_, d_) / double(d_);
      out[s] = meter_.measure(state, none, sigma, setting_seed(seed, s)).fid;
    });
    return out;
  }

  Mat reconstruct(const std::vector<RVec>& values) const {
    return tomo_.reconstruct(values).physical;
  }

 private:
  using Member = std::pair<double, double>;

  static std::uint64_t setting_seed(std::uint64_t seed, size_t s) {
    return mix(seed + kSettingSeedStride * s);
  }

  /// f(s) for every setting s, the settings shared by the run's threads.
  template <class F>
  void for_settings(size_t count, const F& f) const {
    parallel_for(count, threads_, f);
  }

  double nominal_epsilon() const {
    sp::Sample ideal;
    ideal.molecule = m_;
    const Sequence seq = sp::pps_sequence(run_pps_steps(p_));
    return sp::fit_pps(sp::run_deviation(ideal, seq, sp::thermal_equilibrium(m_).rho)).epsilon;
  }

  /// The PPS (Eq. (S15)) as the run plays it, per B1 member: each step's operations as their
  /// compiled pulses when the preparation's gates are compiled (what a console plays and what
  /// `nmrc export bruker` writes: protocol.hpp's pulses), else as exact operations, then the
  /// step's gradient; on the spectrometer's exact engine (spectrometer::run_deviation, as the
  /// virtual console plays an export), from equilibrium and from inverted equilibrium.
  /// Memoised for the process: every case and budget row with the same pulses, relaxation
  /// switch and B1 member shares it.
  void prepare_pps(const std::vector<ProtocolPpsStep>& pps) {
    Sequence seq;
    std::string key = memo_key({molecule_key_, imp_.relaxation ? "relaxation" : "closed",
                                p_.compensate_polarization ? "compensated" : "plain"});
    bool any_compiled = false;
    for (const auto& st : pps) {
      for (size_t i = 0; i < st.pulses.size(); ++i) {
        if (compiled(st.pulses[i])) {
          const auto& rec = get_pulse(st.pulses[i]);
          seq.elements.push_back(rec.pulse.element(m_));
          key += "|" + content_hash_hex(pulse_file_text(rec.pulse));
          any_compiled = true;
        } else {
          if (imp_.relaxation) {  // as exact_gate(): the pulse's time of relaxation, then U
            const double t = pulse_shape(p_, st.pulses[i].kind).duration_s;
            sp::Segment seg;
            seg.duration_s = t;
            seg.ux_hz.assign(dyn_[0]->channels(), 0.0);
            seg.uy_hz.assign(dyn_[0]->channels(), 0.0);
            std::vector<int> all(n_);
            for (int k = 0; k < n_; ++k) all[k] = k;
            seq.elements.push_back(DelayElement{t});
            seq.elements.push_back(UnitaryElement{"free precession undone", all,
                                                  sp::exact_unitary(*dyn_[0], {seg}).adjoint()});
            key += "|relaxing " + std::to_string(t);
          }
          seq.elements.push_back(st.operations[i]);
          key += "|exact " + st.pulses[i].name;
        }
      }
      seq.elements.push_back(st.gradient);
      key += "|gradient " + std::to_string(st.gradient.duration_s) + " " +
             std::to_string(st.gradient.strength_g_per_cm);
    }
    // Inverted equilibrium (inversion pairing): the compiled pi pulse on every spin first
    // (protocol.hpp's inversion_need, as the console plays it), else the ideal inversion.
    Sequence inverted = seq;
    const PulseNeed inv = inversion_need(p_);
    const bool inv_compiled = p_.inversion && compiled(inv);
    if (inv_compiled) {
      const auto& rec = get_pulse(inv);
      inverted.elements.insert(inverted.elements.begin(), rec.pulse.element(m_));
      key += "|inversion " + content_hash_hex(pulse_file_text(rec.pulse));
      any_compiled = true;
    }
    const auto th = sp::thermal_equilibrium(m_);
    const Mat id = Mat::Identity(d_, d_) / double(d_);
    for (size_t b = 0; b < members_.size(); ++b) {
      // exact operations do not see B1: one state for every member
      const double b1 = any_compiled ? members_[b].first : 1.0;
      const PpsStates st = played_pps_memo().get(memo_key({key, "b1=" + std::to_string(b1)}), [&] {
        sp::Sample sample;
        sample.molecule = m_;
        sample.relaxation = imp_.relaxation;
        sample.b1_scale = {b1};
        PpsStates out;
        out.deviation[0] = sp::run_deviation(sample, seq, th.rho) - id;
        out.deviation[1] = inv_compiled ? sp::run_deviation(sample, inverted, th.rho) - id
                                        : sp::run_deviation(sample, seq, id - (th.rho - id)) - id;
        return out;
      });
      pps_[0].push_back(st.deviation[0]);
      pps_[1].push_back(st.deviation[1]);
    }
  }

  AffineMap delay_channel(double t) const {
    sp::Segment seg;
    seg.duration_s = t;
    seg.ux_hz.assign(dyn_[0]->channels(), 0.0);
    seg.uy_hz.assign(dyn_[0]->channels(), 0.0);
    if (!imp_.relaxation) return AffineMap::unitary(sp::exact_unitary(*dyn_[0], {seg}));
    const auto dm = sp::exact_deviation_map(*dyn_[0], {seg});
    return AffineMap{dm.s, dm.drift};
  }
  const AffineMap& delay(double t) {
    auto it = delays_.find(t);
    if (it == delays_.end()) it = delays_.emplace(t, delay_channel(t)).first;
    return it->second;
  }

  /// The PPS (from equilibrium or inverted, sg), the bath particle at T_R and its gradient, then
  /// the weighted sum of the plan's computational-basis experiments (their selective pi pulses),
  /// on B1 member b: the prepared diagonal state before U_d.
  Mat temporal_average(const sp::TemporalAveragingPlan& plan, size_t b, int sg) {
    Mat x = apply(bath_need(), b, pps_[sg][b]);
    x = gradient_.apply(x);
    Mat avg = Mat::Zero(d_, d_);
    for (const auto& e : plan.experiments) {
      Mat y = x;
      for (int k : e.flip_spins) y = apply(flip_need(k), b, y);
      avg += e.weight * y;
    }
    return avg;
  }

  // The run's pulses, named by protocol.hpp's builders (the export plays the same ones).
  PulseNeed bath_need() const { return experiment::bath_need(p_, c_); }
  PulseNeed flip_need(int spin) const { return experiment::flip_need(p_, spin); }

  const PulseRecord& get_pulse(const PulseNeed& nd) {
    used_.insert(nd.name);
    const compiler::CompileOptions o = pulse_compile_options(p_, nd.kind);
    if (progress_ && !lib_.used().count(nd.name)) progress_("pulse " + nd.name);
    return lib_.get(
        nd, o,
        [&](const std::string& name, int ev, double f) {
          if (progress_)
            progress_("compiling " + name + " (" + nd.purpose + "): " + std::to_string(ev) +
                      " evaluations, best min F " + std::to_string(f).substr(0, 6));
        },
        pulse_shape(p_, nd.kind).fidelity_target);
  }

  /// Whether `nd` is played as its compiled pulse (else as the exact unitary). The readout
  /// pulses belong to the readout's switch alone (readout(): without it no pulse is played),
  /// so the error budget's "ideal gates" row does not count their error a second time.
  bool compiled(const PulseNeed& nd) const {
    if (nd.kind == "readout") return true;
    if (!imp_.compiled_gates) return false;
    const bool contact =
        nd.kind == "cascade" || nd.kind == "joint" || nd.kind.rfind("swap", 0) == 0;
    return contact ? imp_.compiled_contact : imp_.compiled_preparation;
  }

  /// A pulse played as its exact gate. With relaxation the gate still takes the program's
  /// pulse length t and the sample relaxes meanwhile: U_ideal after the free-evolution channel
  /// of t with its coherent part undone (U_0(t)^dag; the T1/T2 dissipators commute with the
  /// Zeeman part of H_0), so that the error budget's "ideal gates" row removes the pulses'
  /// control error only, not the relaxation during them, which the "no relaxation" row holds
  /// (counted twice before; bench/results/experiment.md measures the difference).
  AffineMap exact_gate(const PulseNeed& nd) {
    const AffineMap u = AffineMap::unitary(lib_.ideal_unitary(nd));
    if (!imp_.relaxation) return u;
    const double t = pulse_shape(p_, nd.kind).duration_s;
    sp::Segment seg;
    seg.duration_s = t;
    seg.ux_hz.assign(dyn_[0]->channels(), 0.0);
    seg.uy_hz.assign(dyn_[0]->channels(), 0.0);
    const Mat u0 = sp::exact_unitary(*dyn_[0], {seg});
    return AffineMap::then(AffineMap::then(delay(t), AffineMap::unitary(u0.adjoint())), u);
  }

  /// The per-member channel of a pulse (compiled) or its exact gate.
  const AffineMap& channel(const PulseNeed& nd, size_t b) {
    const std::string key = nd.name + "|" + std::to_string(b);
    if (auto it = channels_.find(key); it != channels_.end()) return it->second;
    AffineMap ch;
    if (!compiled(nd)) {
      ch = exact_gate(nd);
    } else {
      const auto& rec = get_pulse(nd);
      const auto segs = sp::segments_of(rec.pulse.element(m_), dyn_[b]->channels());
      if (!imp_.relaxation) {
        ch = AffineMap::unitary(sp::exact_unitary(*dyn_[b], segs));
      } else {
        const std::string ckey = "channel/1|" + content_hash_hex(pulse_file_text(rec.pulse)) + "|" +
                                 molecule_key_ + "|b1=" + std::to_string(members_[b].first) +
                                 "|relaxation";
        ch = cache_.get(ckey, [&] {
          if (progress_)
            progress_("channel of " + nd.name + " at B1 " +
                      std::to_string(members_[b].first).substr(0, 5));
          return Stepper(*dyn_[b], segs).channel(threads_);
        });
      }
    }
    return channels_.emplace(key, std::move(ch)).first->second;
  }

  Mat apply(const PulseNeed& nd, size_t b, const Mat& x) { return channel(nd, b).apply(x); }

  Mat readout(size_t s, size_t b, const Mat& x) {
    if (!imp_.readout) return x;  // ideal rotation applied by measure_setting
    Mat y = x;
    const auto& axes = p_.readout.settings[s].axes;
    for (int k = 0; k < n_; ++k) {
      if (axes[k] == 'X') y = apply(readout_x_[k], b, y);
      if (axes[k] == 'Y') y = apply(readout_y_[k], b, y);
    }
    return y;
  }

 public:
  // The pulses this case played (the library is shared by the cases of one process).
  const std::set<std::string>& used_names() const { return used_; }

 private:
  std::set<std::string> used_;
  const ExperimentProgram& p_;
  const CaseSpec& c_;
  PulseLibrary& lib_;
  Imperfections imp_;
  ProgressText progress_;
  const Molecule& m_;
  int n_, d_;
  // The spins on the bath's RF channel (the contact phase cycle's collective rotation).
  std::vector<int> bath_channel_spins_;
  const sp::Tomographer& tomo_;
  const sp::SettingMeasurer& meter_;
  ChannelCache cache_;
  int threads_ = 2;
  std::vector<Member> members_;
  std::vector<std::unique_ptr<sp::Dynamics>> dyn_;
  std::string molecule_key_;
  double eps_ = 0.0;
  std::vector<Mat> pps_[2];  // per sign, per B1 member
  Mat ref_state_;
  sp::TemporalAveragingPlan ref_plan_;
  AffineMap gradient_;
  std::map<double, AffineMap> delays_;
  std::map<std::string, AffineMap> channels_;
  std::vector<PulseNeed> readout_x_, readout_y_;
  std::optional<References> refs_;
};

/// What one pair of runs gives, for one noise draw (or noise-free, for the error budget). NaN
/// marks an undefined AT.
struct PairObs {
  std::vector<double> ea, eb, eb_unc;  // system E_k: without contact, with (corrected, not)
  double ra = 0.0, rb = 0.0;           // the bath spin's E_R without / with contact
  double fa = 0.0, fb = 0.0;           // free energies, Eq. (S19)
  double ca = 0.0, cb = 0.0;           // relative entropy of coherence of rho_S
  std::vector<double> at_a, at_b;      // AT_k
  double fid_a = 0.0, fid_b = 0.0;     // Uhlmann fidelity to the ideal states
  double pps = 1.0;                    // measured PPS amplitude / nominal
  std::vector<double> loss;            // contact-loss factor per system spin
  std::vector<double> raw_a, raw_b;    // runs from equilibrium alone: no pairing, no scale
};

/// A pair of runs over every draw, its noise-free value and its noise-free values with each
/// systematic source off (and with every imperfection off, last).
struct PairRuns {
  std::vector<PairObs> draws;
  PairObs clean;
  std::vector<PairObs> rows;               // one per Budget::rows
  Mat rho_b, rho_sys_b, rho_a, rho_sys_a;  // calibrated states of draw 0
  std::vector<sp::Fid> fids[2];            // draw 0, when recorded
};

double energy_of_spin(const Mat& rho, int spin, int n) {
  // E = -<Z>/2 in units of delta (thermo::subsystem_energy's convention, Eq. (S17))
  return -0.5 * (rho * nmrc::sigma('Z', spin, n)).trace().real();
}

/// The calibrated state: deviation divided by the measured PPS scale, then each listed spin's z
/// polarisation set to its calibrated energy (the Z_k are orthogonal, so each correction moves
/// only its own E_k), nearest density matrix.
Mat calibrated_state(const Mat& rho, double pps, const std::vector<int>& spins,
                     const std::vector<double>& energies, int n) {
  const int d = 1 << n;
  const Mat id = Mat::Identity(d, d) / double(d);
  Mat lin = id + (rho - id) / pps;
  for (size_t k = 0; k < spins.size(); ++k) {
    const double dk = energies[k] - energy_of_spin(lin, spins[k], n);
    lin -= (2.0 * dk / double(d)) * nmrc::sigma('Z', spins[k], n);
  }
  return sp::project_to_density_matrix(lin);
}

std::vector<double> at_values(const Mat& sys, const thermo::ModelParams& params) {
  std::vector<double> out;
  const auto at = thermo::apparent_temperatures(sys, thermo::coherence_weights(params));
  for (const auto& a : at.subsystem) out.push_back(a.value ? *a.value : thermo::kNaN);
  return out;
}

}  // namespace

const char* pair_acquisition_name(PairAcquisition a) {
  switch (a) {
    case PairAcquisition::kPrepared:
      return "prepared";
    case PairAcquisition::kContact:
      return "contact";
    case PairAcquisition::kPps:
      return "pps";
    case PairAcquisition::kThermal:
      return "thermal";
    case PairAcquisition::kThermalContact:
      return "thermal_contact";
  }
  return "?";
}

PairCalibration calibrate_pair(const ExperimentProgram& p, const CaseSpec& c,
                               const Reconstructor& reconstruct,
                               const std::vector<std::vector<RVec>> lines[2]) {
  const int n = p.molecule.size(), d = 1 << n, ns = c.params.n();
  auto paired = [&](int what) {
    std::vector<RVec> v = lines[0][what];
    if (p.inversion)
      for (size_t s = 0; s < v.size(); ++s) v[s] = 0.5 * (v[s] - lines[1][what][s]);
    return reconstruct(v);
  };
  PairCalibration o;
  // The signal scale: Eq. (S13)'s PPS is I (1 - eps)/16 + eps |0000><0000|, so its deviation
  // is eps D with D = |0000><0000| - I/16; the measured deviation's least-squares amplitude
  // along D, <D, dev> / <D, D> (Hilbert-Schmidt), in units of the nominal eps (the meter's
  // unit), is the scale that every energy E_k = -Tr(rho Z_k)/2 (Eq. (S17), delta = 1) is divided
  // by. The contact-loss factor (below) is the ratio E_k(thermal at T_R) / E_k(same through the
  // contact) of the reference pair (docs/experiment-format.md, "What is measured").
  {
    const Mat id = Mat::Identity(d, d) / double(d);
    Mat pps_design = -id;
    pps_design(0, 0) += 1.0;
    const Mat dev = paired(2) - id;
    o.pps = (pps_design.adjoint() * dev).trace().real() / pps_design.squaredNorm();
  }
  std::vector<int> spins = c.system_spins;
  spins.push_back(c.bath_spin);
  o.loss.assign(ns + 1, 1.0);
  if (p.reference) {
    const Mat th = paired(3), thc = paired(4);
    for (int k = 0; k <= ns; ++k) {
      const double e0 = energy_of_spin(th, spins[k], n), ec = energy_of_spin(thc, spins[k], n);
      if (std::abs(ec) > 1e-6) o.loss[k] = e0 / ec;
    }
  }
  o.rho_before = paired(0);
  o.rho_after = paired(1);
  const Mat &rho_a = o.rho_before, &rho_b = o.rho_after;
  {
    const Mat raw_a = reconstruct(lines[0][0]), raw_b = reconstruct(lines[0][1]);
    for (int k = 0; k < ns; ++k) {
      o.raw_before.push_back(energy_of_spin(raw_a, spins[k], n));
      o.raw_after.push_back(energy_of_spin(raw_b, spins[k], n));
    }
  }
  std::vector<double> ea(ns + 1), eb(ns + 1), eb_unc(ns + 1);
  for (int k = 0; k <= ns; ++k) {
    ea[k] = energy_of_spin(rho_a, spins[k], n) / o.pps;
    eb_unc[k] = energy_of_spin(rho_b, spins[k], n) / o.pps;
    eb[k] = o.loss[k] * eb_unc[k];
  }
  o.before.assign(ea.begin(), ea.begin() + ns);
  o.after.assign(eb.begin(), eb.begin() + ns);
  o.after_uncorrected.assign(eb_unc.begin(), eb_unc.begin() + ns);
  o.bath_before = ea[ns];
  o.bath_after = eb[ns];
  o.loss.resize(ns);
  return o;
}

namespace {

/// Line values of one draw -> the pair's observables. `lines` holds, per sign, the line values
/// of: 0 prepared, 1 contact, 2 PPS, 3 thermal reference, 4 thermal reference through the
/// contact.
PairObs observe_pair(const Engine& eng, const ExperimentProgram& p, const CaseSpec& c,
                     const std::vector<std::vector<RVec>> lines[2], const Mat& ideal_before,
                     const Mat& ideal_after, Mat* states) {
  const int n = p.molecule.size(), ns = c.params.n();
  PairObs o;
  const PairCalibration cal = calibrate_pair(
      p, c, [&](const std::vector<RVec>& v) { return eng.reconstruct(v); }, lines);
  o.pps = cal.pps;
  o.loss = cal.loss;
  o.raw_a = cal.raw_before;
  o.raw_b = cal.raw_after;
  o.ea = cal.before;
  o.eb = cal.after;
  o.eb_unc = cal.after_uncorrected;
  o.ra = cal.bath_before;
  o.rb = cal.bath_after;
  std::vector<int> spins = c.system_spins;
  spins.push_back(c.bath_spin);
  const Mat &rho_a = cal.rho_before, &rho_b = cal.rho_after;
  std::vector<double> ea = cal.before, eb = cal.after;  // system spins, then the bath
  ea.push_back(cal.bath_before);
  eb.push_back(cal.bath_after);
  const Mat cal_a = calibrated_state(rho_a, o.pps, spins, ea, n);
  const Mat cal_b = calibrated_state(rho_b, o.pps, spins, eb, n);
  const Mat sys_a = partial_trace(cal_a, c.system_spins, n);
  const Mat sys_b = partial_trace(cal_b, c.system_spins, n);
  double esa = 0, esb = 0;
  for (int k = 0; k < ns; ++k) {
    esa += o.ea[k];
    esb += o.eb[k];
  }
  const double t_r = c.params.bath_temperature;
  o.fa = esa - t_r * von_neumann_entropy(sys_a);  // Eq. (S19)
  o.fb = esb - t_r * von_neumann_entropy(sys_b);
  o.ca = coherence_relative_entropy(sys_a);
  o.cb = coherence_relative_entropy(sys_b);
  o.at_a = at_values(sys_a, c.params);
  o.at_b = at_values(sys_b, c.params);
  o.fid_a = uhlmann_fidelity(sys_a, ideal_before);
  o.fid_b = uhlmann_fidelity(sys_b, ideal_after);
  if (states) {
    states[0] = cal_a;
    states[1] = sys_a;
    states[2] = cal_b;
    states[3] = sys_b;
  }
  return o;
}

/// Noise-free observables of one pair of runs on engine `eng` (the budget's rows).
PairObs clean_pair(Engine& eng, const ExperimentProgram& p, const CaseSpec& c,
                   const Mat& rho_before, const Mat& ideal_after, const std::string& ud_name) {
  const auto acq = eng.acquire(rho_before, ud_name);
  const auto& ref = eng.references();
  std::vector<std::vector<RVec>> lines[2];
  for (int sg = 0; sg < eng.signs(); ++sg)
    lines[sg] = {eng.clean_lines(acq.prepared[sg]), eng.clean_lines(acq.contact[sg]), ref.pps[sg],
                 ref.thermal[sg], ref.thermal_contact[sg]};
  return observe_pair(eng, p, c, lines, rho_before, ideal_after, nullptr);
}

PairRuns measure_pair(Engine& eng, const ExperimentProgram& p, const CaseSpec& c,
                      const Mat& rho_before, const Mat& ideal_before, const Mat& ideal_after,
                      const std::string& ud_name, int draws, std::uint64_t seed,
                      bool record = false) {
  const auto acq = eng.acquire(rho_before, ud_name);
  const auto& ref = eng.references();
  const double sigma = eng.noise_sigma(acq.weight_norm);
  const double sigma_pps = eng.noise_sigma(1.0);
  const double sigma_ref = eng.noise_sigma(ref.thermal_weight_norm);
  using Lines = std::vector<RVec>;
  const int signs = eng.signs();
  // clean line values of every acquisition, once; the draws add noise to them
  std::vector<Lines> clean[2];
  for (int sg = 0; sg < signs; ++sg)
    clean[sg] = {eng.clean_lines(acq.prepared[sg]), eng.clean_lines(acq.contact[sg]), ref.pps[sg],
                 ref.thermal[sg], ref.thermal_contact[sg]};
  const double sigmas[5] = {sigma, sigma, sigma_pps, sigma_ref, sigma_ref};
  PairRuns r;
  r.clean = observe_pair(eng, p, c, clean, ideal_before, ideal_after, nullptr);
  for (int dr = 0; dr < draws; ++dr) {
    const std::uint64_t sd = mix(seed * kDrawSeedStride + std::uint64_t(dr));
    auto draw_seed = [&](std::uint64_t which) { return mix(sd + kAcquisitionSeedStride * which); };
    if (record && dr == 0) {  // the FIDs of the contact run of this draw, for TopSpin datasets
      r.fids[0] = eng.fids(acq.contact[0], sigma, draw_seed(1));
      if (p.inversion) r.fids[1] = eng.fids(acq.contact[1], sigma, draw_seed(6));
    }
    std::vector<Lines> noisy[2];
    for (int sg = 0; sg < signs; ++sg)
      for (int what = 0; what < 5; ++what)
        noisy[sg].push_back((what >= 3 && !p.reference) ? clean[sg][what]
                                                        : eng.noisy(clean[sg][what], sigmas[what],
                                                                    draw_seed(5 * sg + what)));
    Mat states[4];
    r.draws.push_back(
        observe_pair(eng, p, c, noisy, ideal_before, ideal_after, dr == 0 ? states : nullptr));
    if (dr == 0) {
      r.rho_a = states[0];
      r.rho_sys_a = states[1];
      r.rho_b = states[2];
      r.rho_sys_b = states[3];
    }
  }
  return r;
}

/// The statistical and systematic parts of f over a pair (or of f(pair, zero) for quantities
/// relative to the collision-0 row): mean and spread over the draws (paired by index: the draws
/// of different runs are independent), systematic = quadrature sum over the budget's sources
/// of f(clean) - f(row).
using Of1 = std::function<double(const PairObs&)>;
using Of2 = std::function<double(const PairObs&, const PairObs&)>;

Stat stat_of2(const PairRuns& a, const PairRuns* z, const Of2& f, size_t systematic_rows) {
  static const PairObs kNone;
  auto g = [&](const PairObs& x, size_t i, int which) {
    const PairObs& zz = !z           ? kNone
                        : which == 0 ? z->draws[i % z->draws.size()]
                        : which == 1 ? z->clean
                                     : z->rows[i];
    return f(x, zz);
  };
  std::vector<double> v;
  for (size_t i = 0; i < a.draws.size(); ++i) v.push_back(g(a.draws[i], i, 0));
  Stat s;
  for (double x : v) s.mean += x;
  s.mean /= double(v.size());
  if (v.size() > 1) {
    double q = 0;
    for (double x : v) q += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(q / double(v.size() - 1));
  }
  const double c0 = g(a.clean, 0, 1);
  double q = 0;
  for (size_t j = 0; j < systematic_rows && j < a.rows.size(); ++j) {
    const double dj = c0 - g(a.rows[j], j, 2);
    q += dj * dj;
  }
  s.sys = std::sqrt(q);
  return s;
}

Stat stat_of1(const PairRuns& a, const Of1& f, size_t systematic_rows) {
  return stat_of2(
      a, nullptr, [&](const PairObs& x, const PairObs&) { return f(x); }, systematic_rows);
}

/// AT_k over the draws: empty when undefined in any draw.
std::optional<Stat> at_stat(const PairRuns& a, int k, bool after, size_t systematic_rows) {
  auto f = [&](const PairObs& o) { return after ? o.at_b[k] : o.at_a[k]; };
  for (const auto& d : a.draws)
    if (!std::isfinite(f(d))) return std::nullopt;
  Stat s = stat_of1(a, f, systematic_rows);
  if (!std::isfinite(s.sys)) s.sys = 0.0;  // a budget row where AT is undefined adds nothing
  return s;
}

/// The rows of the error budget: the program's imperfections with each systematic source
/// switched off in turn (noise off: these rows are noise-free), then with every one off. Empty
/// when the budget does not run.
struct BudgetPlan {
  std::vector<std::pair<std::string, Imperfections>> rows;
  size_t systematic = 0;  // the first `systematic` rows are the sources; the last is "none"
};

BudgetPlan budget_plan(const ExperimentProgram& p, const RunSettings& settings) {
  BudgetPlan plan;
  if (!(settings.error_budget && p.error_budget)) return plan;
  // the summed sources first (stat_of2 sums rows [0, systematic)), then the breakdown rows
  for (const bool summed : {true, false})
    for (const auto& f : Imperfections::flags()) {
      if (!f.budget_row || f.systematic != summed || !(p.imperfections.*(f.member))) continue;
      Imperfections im = p.imperfections;
      im.*(f.member) = false;
      im.noise = false;
      plan.rows.push_back({f.off_label, im});
      if (summed) plan.systematic = plan.rows.size();
    }
  plan.rows.push_back({"none", Imperfections::none()});
  return plan;
}

/// The engines of the error budget's rows, in BudgetPlan order.
struct Budget {
  std::vector<std::unique_ptr<ExperimentProgram>> programs;
  std::vector<std::unique_ptr<Engine>> engines;
};

/// The collisions whose pairs of runs a case measures, in the order one process runs them:
/// collision 1 first when it is not measured (its run without contact is collision 0).
std::vector<int> pair_collisions(const CaseSpec& c) {
  std::vector<int> runs = c.measure;
  if (runs.front() != 1) runs.insert(runs.begin(), 1);
  return runs;
}

/// The ideal model of a case (thermo engine) and its system state at the end of every
/// collision: the states the runs prepare (ideal re-preparation) and the comparison, never a
/// calibration.
struct CaseModel {
  thermo::Trajectory theory;
  std::vector<Mat> state_after;  // per collision, 0 .. max(collisions, last measured)
};

CaseModel case_model(const CaseSpec& c) {
  thermo::ModelParams params = c.params;
  params.collisions = std::max(params.collisions, c.measure.back());
  CaseModel model;
  model.state_after.resize(params.collisions + 1);
  model.theory = thermo::run_collision_model(
      params, {}, [&](const thermo::StepRecord& r, const Mat& rho_s, const Mat*) {
        model.state_after[r.collision] = rho_s;
      });
  return model;
}

// A unit's pairs of runs on the wire (CaseRunner::run_unit, assemble_case): every number as
// its bits (compiler/wire.hpp), so that a pair computed on another process is this one's.
namespace wire = compiler::wire;

json obs_json(const PairObs& o) {
  return {{"ea", wire::bits(o.ea)},         {"eb", wire::bits(o.eb)},
          {"eb_unc", wire::bits(o.eb_unc)}, {"ra", wire::bits(o.ra)},
          {"rb", wire::bits(o.rb)},         {"fa", wire::bits(o.fa)},
          {"fb", wire::bits(o.fb)},         {"ca", wire::bits(o.ca)},
          {"cb", wire::bits(o.cb)},         {"at_a", wire::bits(o.at_a)},
          {"at_b", wire::bits(o.at_b)},     {"fid_a", wire::bits(o.fid_a)},
          {"fid_b", wire::bits(o.fid_b)},   {"pps", wire::bits(o.pps)},
          {"loss", wire::bits(o.loss)},     {"raw_a", wire::bits(o.raw_a)},
          {"raw_b", wire::bits(o.raw_b)}};
}

PairObs obs_from_json(const json& j) {
  PairObs o;
  o.ea = wire::vector_from_bits(j.at("ea"));
  o.eb = wire::vector_from_bits(j.at("eb"));
  o.eb_unc = wire::vector_from_bits(j.at("eb_unc"));
  o.ra = wire::from_bits(j.at("ra"));
  o.rb = wire::from_bits(j.at("rb"));
  o.fa = wire::from_bits(j.at("fa"));
  o.fb = wire::from_bits(j.at("fb"));
  o.ca = wire::from_bits(j.at("ca"));
  o.cb = wire::from_bits(j.at("cb"));
  o.at_a = wire::vector_from_bits(j.at("at_a"));
  o.at_b = wire::vector_from_bits(j.at("at_b"));
  o.fid_a = wire::from_bits(j.at("fid_a"));
  o.fid_b = wire::from_bits(j.at("fid_b"));
  o.pps = wire::from_bits(j.at("pps"));
  o.loss = wire::vector_from_bits(j.at("loss"));
  o.raw_a = wire::vector_from_bits(j.at("raw_a"));
  o.raw_b = wire::vector_from_bits(j.at("raw_b"));
  return o;
}

json fid_json(const sp::Fid& f) {
  return {{"channel", f.channel},
          {"sw_hz", wire::bits(f.sw_hz)},
          {"receiver_phase_rad", wire::bits(f.receiver_phase_rad)},
          {"scans", f.scans},
          {"noise_sigma", wire::bits(f.noise_sigma)},
          {"start_s", wire::bits(f.start_s)},
          {"points", wire::bits(f.points)}};
}

sp::Fid fid_from_json(const json& j) {
  sp::Fid f;
  f.channel = j.at("channel").get<int>();
  f.sw_hz = wire::from_bits(j.at("sw_hz"));
  f.receiver_phase_rad = wire::from_bits(j.at("receiver_phase_rad"));
  f.scans = j.at("scans").get<int>();
  f.noise_sigma = wire::from_bits(j.at("noise_sigma"));
  f.start_s = wire::from_bits(j.at("start_s"));
  f.points = wire::complex_vector_from_bits(j.at("points"));
  return f;
}

json pair_json(int collision, const PairRuns& r) {
  json j = {{"collision", collision}, {"clean", obs_json(r.clean)}};
  j["draws"] = json::array();
  for (const auto& o : r.draws) j["draws"].push_back(obs_json(o));
  j["rows"] = json::array();
  for (const auto& o : r.rows) j["rows"].push_back(obs_json(o));
  j["rho_a"] = wire::bits(r.rho_a);
  j["rho_sys_a"] = wire::bits(r.rho_sys_a);
  j["rho_b"] = wire::bits(r.rho_b);
  j["rho_sys_b"] = wire::bits(r.rho_sys_b);
  j["fids"] = json::array();
  for (const auto& sign : r.fids) {
    json a = json::array();
    for (const auto& f : sign) a.push_back(fid_json(f));
    j["fids"].push_back(std::move(a));
  }
  return j;
}

PairRuns pair_from_json(const json& j) {
  PairRuns r;
  r.clean = obs_from_json(j.at("clean"));
  for (const auto& o : j.at("draws")) r.draws.push_back(obs_from_json(o));
  for (const auto& o : j.at("rows")) r.rows.push_back(obs_from_json(o));
  r.rho_a = wire::complex_matrix_from_bits(j.at("rho_a"));
  r.rho_sys_a = wire::complex_matrix_from_bits(j.at("rho_sys_a"));
  r.rho_b = wire::complex_matrix_from_bits(j.at("rho_b"));
  r.rho_sys_b = wire::complex_matrix_from_bits(j.at("rho_sys_b"));
  const json& fids = j.at("fids");
  NMRC_CHECK(fids.size() == 2, "a pair of runs on the wire: two signs of FIDs");
  for (int sg = 0; sg < 2; ++sg)
    for (const auto& f : fids[sg]) r.fids[sg].push_back(fid_from_json(f));
  return r;
}

}  // namespace

double Stat::total() const { return std::sqrt(std * std + sys * sys); }

Verdict judge_direction(double ideal, const Stat& m) {
  if (!(std::abs(ideal) > kJudgedIncrement)) return Verdict::kNotJudged;
  if (!(std::abs(m.mean) > kVerdictSigmas * m.total())) return Verdict::kUnresolved;
  return (m.mean > 0) == (ideal > 0) ? Verdict::kResolvedRight : Verdict::kResolvedWrong;
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kNotJudged:
      return "not judged";
    case Verdict::kResolvedRight:
      return "resolved right";
    case Verdict::kResolvedWrong:
      return "resolved wrong";
    case Verdict::kUnresolved:
      return "unresolved";
  }
  return "?";
}

void VerdictCount::add(Verdict v) {
  switch (v) {
    case Verdict::kNotJudged:
      ++not_judged;
      break;
    case Verdict::kResolvedRight:
      ++right;
      break;
    case Verdict::kResolvedWrong:
      ++wrong;
      break;
    case Verdict::kUnresolved:
      ++unresolved;
      break;
  }
}

size_t case_units(const ExperimentProgram& p, const CaseSpec& c) {
  return p.repreparation == Repreparation::kMeasured ? 1 : pair_collisions(c).size();
}

size_t unit_pairs(const ExperimentProgram& p, const CaseSpec& c, size_t unit) {
  NMRC_CHECK(unit < case_units(p, c), "unit_pairs: unit out of range");
  return p.repreparation == Repreparation::kMeasured ? pair_collisions(c).size() : 1;
}

namespace {

/// What computing a case's units needs: the ideal model at once, the engines at the first unit.
struct CaseRunnerImpl final : CaseRunner::Impl {
  CaseRunnerImpl(const ExperimentProgram& p_, const CaseSpec& c_, PulseLibrary& lib_,
                 const RunSettings& settings_, const ProgressText& progress_)
      : p(p_),
        c(c_),
        lib(lib_),
        settings(settings_),
        progress(progress_),
        model(case_model(c_)),
        runs(pair_collisions(c_)),
        plan(budget_plan(p_, settings_)) {}

  // The tomography, the case's engine and the error budget's (one per row), built once.
  void build_engines() {
    if (eng) return;
    meters = std::make_unique<Meters>(p);
    eng = std::make_unique<Engine>(p, c, lib, settings, p.imperfections, *meters, progress);
    for (const auto& [name, im] : plan.rows) {
      auto pv = std::make_unique<ExperimentProgram>(p);
      pv->imperfections = im;
      budget.engines.push_back(
          std::make_unique<Engine>(*pv, c, lib, settings, im, *meters, progress));
      budget.programs.push_back(std::move(pv));
    }
  }

  // The pair of runs of runs[i], starting from `before` (the ideal state after collision m - 1,
  // or the chain's measured state), with its error budget's rows.
  PairRuns run_pair(size_t i, const Mat& before, bool measured_mode) {
    const int m = runs[i];
    if (progress)
      progress("case " + c.name + ": collision " + std::to_string(m) + " (" +
               std::to_string(i + 1) + "/" + std::to_string(runs.size()) + ")");
    const std::string ud_name =
        "ud_" + c.name + (measured_mode ? "_measured_m" : "_m") + std::to_string(m - 1);
    const bool record =
        std::find(settings.record_collisions.begin(), settings.record_collisions.end(), m) !=
        settings.record_collisions.end();
    const int draws = (p.imperfections.noise && p.snr > 0) ? p.repeats : 1;
    PairRuns pr =
        measure_pair(*eng, p, c, before, model.state_after[m - 1], model.state_after[m], ud_name,
                     draws, p.seed * kCollisionSeedStride + std::uint64_t(m), record);
    for (size_t j = 0; j < plan.rows.size(); ++j) {
      if (progress)
        progress("case " + c.name + ": collision " + std::to_string(m) + ", error budget (" +
                 plan.rows[j].first + ")");
      pr.rows.push_back(clean_pair(*budget.engines[j], *budget.programs[j], c, before,
                                   model.state_after[m], ud_name));
    }
    return pr;
  }

  std::string run_unit(size_t unit) override {
    const auto t0 = std::chrono::steady_clock::now();
    build_engines();
    json pairs = json::array();
    if (p.repreparation == Repreparation::kMeasured) {
      // A chain: collision m > 1 starts from collision m - 1's measured state.
      Mat measured_state;
      for (size_t i = 0; i < runs.size(); ++i) {
        const int m = runs[i];
        const bool measured_mode = m > 1;
        const PairRuns pr =
            run_pair(i, measured_mode ? measured_state : model.state_after[m - 1], measured_mode);
        measured_state = pr.rho_sys_b;
        pairs.push_back(pair_json(m, pr));
      }
    } else {
      const int m = runs[unit];
      pairs.push_back(pair_json(m, run_pair(unit, model.state_after[m - 1], false)));
    }
    json j;
    j["pairs"] = std::move(pairs);
    j["pps_epsilon"] = wire::bits(eng->epsilon());
    j["noise_sigma"] = wire::bits(eng->noise_sigma(1.0));
    // The pulses this process's engine played so far for the case: their union over the units
    // is the case's (each rank's engine plays the state-independent ones, every unit its own).
    j["pulses"] = eng->used_names();
    j["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return j.dump();
  }

  const ExperimentProgram& p;
  const CaseSpec& c;
  PulseLibrary& lib;
  RunSettings settings;
  ProgressText progress;
  CaseModel model;
  std::vector<int> runs;
  BudgetPlan plan;
  std::unique_ptr<Meters> meters;
  std::unique_ptr<Engine> eng;
  Budget budget;
};

}  // namespace

CaseRunner::CaseRunner(const ExperimentProgram& p, const CaseSpec& c, PulseLibrary& pulses,
                       const RunSettings& settings, const ProgressText& progress)
    : impl_(std::make_unique<CaseRunnerImpl>(p, c, pulses, settings, progress)),
      units_(case_units(p, c)) {}

CaseRunner::~CaseRunner() = default;

size_t CaseRunner::units() const { return units_; }

std::string CaseRunner::run_unit(size_t unit) {
  NMRC_CHECK(unit < units_, "CaseRunner::run_unit: unit out of range");
  return impl_->run_unit(unit);
}

CaseResult assemble_case(const ExperimentProgram& p, const CaseSpec& c, const RunSettings& settings,
                         const std::vector<std::string>& units) {
  NMRC_CHECK(units.size() == case_units(p, c), "assemble_case: not every unit of the case");
  CaseResult res;
  res.spec = c;
  const int ns = c.params.n();
  const int last = c.measure.back();
  const CaseModel model = case_model(c);
  res.theory = model.theory;
  const int spc = c.params.interaction == thermo::Interaction::kCascade ? ns : 1;
  const double bath_e0 = thermo::subsystem_energy(thermal_qubit(c.params.bath_temperature), 0, 1);
  const BudgetPlan budget = budget_plan(p, settings);
  res.systematics = budget.systematic > 0;
  const size_t nsys = budget.systematic;

  std::map<int, PairRuns> pairs;
  std::set<std::string> pulses;
  for (size_t u = 0; u < units.size(); ++u) {
    const json j = json::parse(units[u]);
    const double eps = wire::from_bits(j.at("pps_epsilon"));
    const double sigma = wire::from_bits(j.at("noise_sigma"));
    // every engine of the case computes the same nominal polarisation and noise
    NMRC_CHECK(
        u == 0 ||
            (std::bit_cast<std::uint64_t>(eps) == std::bit_cast<std::uint64_t>(res.pps_epsilon) &&
             std::bit_cast<std::uint64_t>(sigma) == std::bit_cast<std::uint64_t>(res.noise_sigma)),
        "assemble_case: the units' engines differ");
    res.pps_epsilon = eps;
    res.noise_sigma = sigma;
    for (const auto& name : j.at("pulses")) pulses.insert(name.get<std::string>());
    res.seconds += j.at("seconds").get<double>();
    for (const auto& pj : j.at("pairs")) {
      const int m = pj.at("collision").get<int>();
      NMRC_CHECK(pairs.emplace(m, pair_from_json(pj)).second, "assemble_case: a pair twice");
    }
  }
  // the recorded FIDs (RunSettings::record_collisions) in the order the pairs ran
  for (int m : pair_collisions(c)) {
    NMRC_CHECK(pairs.count(m), "assemble_case: a pair is missing");
    PairRuns& pr = pairs.at(m);
    for (int sg = 0; sg < 2; ++sg)
      if (!pr.fids[sg].empty() && !pr.fids[sg].front().points.empty())
        res.recorded.push_back({m, sg == 0 ? "equilibrium" : "inverted", std::move(pr.fids[sg])});
  }
  const PairRuns& zero = pairs.at(1);
  // collision 0: the prepared initial state (the "without contact" run of collision 1)
  {
    MeasuredPoint pt;
    const auto& rec = res.theory.steps.front();
    pt.energy_ideal = rec.energy;
    for (int k = 0; k < ns; ++k) {
      pt.energy.push_back(stat_of1(
          zero, [k](const PairObs& o) { return o.ea[k]; }, nsys));
      pt.energy_before.push_back(pt.energy.back());
      pt.energy_raw.push_back(stat_of1(
          zero, [k](const PairObs& o) { return o.raw_a[k]; }, 0));
      pt.scale.push_back(1.0);
      pt.at_ideal.push_back(rec.at.subsystem[k].value);
      pt.at.push_back(at_stat(zero, k, false, nsys));
    }
    pt.pps_scale = stat_of1(
        zero, [](const PairObs& o) { return o.pps; }, nsys);
    pt.free_energy_ideal = rec.free_energy;
    pt.free_energy = stat_of1(
        zero, [](const PairObs& o) { return o.fa; }, nsys);
    pt.coherence_ideal = rec.coherence;
    pt.coherence = stat_of1(
        zero, [](const PairObs& o) { return o.ca; }, nsys);
    pt.fidelity = stat_of1(
        zero, [](const PairObs& o) { return o.fid_a; }, nsys);
    pt.rho_measured = zero.rho_a;
    pt.rho_system = zero.rho_sys_a;
    res.points.push_back(std::move(pt));
  }
  for (int m : c.measure) {
    const PairRuns& pr = pairs.at(m);
    MeasuredPoint pt;
    pt.collision = m;
    pt.step = m * spc;
    const auto& rec = res.theory.steps[pt.step];
    const auto& prev = res.theory.steps[(m - 1) * spc];
    pt.energy_ideal = rec.energy;
    for (int k = 0; k < ns; ++k) {
      pt.de_ideal.push_back(rec.energy[k] - prev.energy[k]);
      pt.de.push_back(stat_of1(
          pr, [k](const PairObs& o) { return o.eb[k] - o.ea[k]; }, nsys));
      pt.de_uncorrected.push_back(stat_of1(
          pr, [k](const PairObs& o) { return o.eb_unc[k] - o.ea[k]; }, nsys));
      pt.verdict.push_back(judge_direction(pt.de_ideal[k], pt.de[k]));
      res.verdicts.add(pt.verdict.back());
      if (pt.verdict.back() != Verdict::kNotJudged &&
          std::abs(pt.de[k].mean - pt.de_ideal[k]) <=
              std::max(0.3 * std::abs(pt.de_ideal[k]), 3e-4))
        ++res.verdicts.magnitude_ok;
      if (pt.verdict.back() != Verdict::kNotJudged && (pt.de[k].mean > 0) != (pt.de_ideal[k] > 0))
        ++res.verdicts.sign_wrong;
      if (pt.verdict.back() != Verdict::kNotJudged) {
        const double err = std::abs(pt.de[k].mean - pt.de_ideal[k]);
        res.verdicts.within_bar += err <= pt.de[k].total();
        res.verdicts.within_two_bars += err <= 2.0 * pt.de[k].total();
      }
      pt.energy.push_back(stat_of1(
          pr, [k](const PairObs& o) { return o.eb[k]; }, nsys));
      pt.energy_before.push_back(stat_of1(
          pr, [k](const PairObs& o) { return o.ea[k]; }, nsys));
      pt.energy_raw.push_back(stat_of1(
          pr, [k](const PairObs& o) { return o.raw_b[k]; }, 0));
      pt.scale.push_back(stat_of1(
                             pr, [k](const PairObs& o) { return o.loss[k]; }, 0)
                             .mean);
      pt.at_ideal.push_back(rec.at.subsystem[k].value);
      pt.at.push_back(at_stat(pr, k, true, nsys));
    }
    pt.de_bath_ideal = rec.bath_energy - bath_e0;
    pt.de_bath = stat_of1(
        pr, [](const PairObs& o) { return o.rb - o.ra; }, nsys);
    pt.pps_scale = stat_of1(
        pr, [](const PairObs& o) { return o.pps; }, nsys);
    pt.heat_ideal = rec.heat_to_bath;
    pt.heat = stat_of2(
        pr, &zero,
        [ns](const PairObs& o, const PairObs& z) {
          double h = 0;
          for (int k = 0; k < ns; ++k) h += z.ea[k] - o.eb[k];
          return h;
        },
        nsys);
    pt.free_energy_ideal = rec.free_energy;
    pt.free_energy = stat_of1(
        pr, [](const PairObs& o) { return o.fb; }, nsys);
    pt.coherence_ideal = rec.coherence;
    pt.coherence = stat_of1(
        pr, [](const PairObs& o) { return o.cb; }, nsys);
    pt.fidelity = stat_of1(
        pr, [](const PairObs& o) { return o.fid_b; }, nsys);
    pt.rho_measured = pr.rho_b;
    pt.rho_system = pr.rho_sys_b;
    res.points.push_back(std::move(pt));
  }
  const PairRuns& lastp = pairs.at(last);
  const auto& rec_last = res.theory.steps[last * spc];
  for (int k = 0; k < ns; ++k) {
    res.delta_ideal.push_back(rec_last.energy[k] - res.theory.steps.front().energy[k]);
    res.delta_measured.push_back(stat_of2(
        lastp, &zero, [k](const PairObs& o, const PairObs& z) { return o.eb[k] - z.ea[k]; }, nsys));
    res.delta_raw.push_back(stat_of2(
        lastp, &zero, [k](const PairObs& o, const PairObs& z) { return o.raw_b[k] - z.raw_a[k]; },
        0));
  }
  if (!budget.rows.empty()) {
    // the last collision's budget table: noise-free values, all imperfections, then each row
    auto row_of = [&](const std::string& name, const Imperfections& im, const PairObs& o,
                      const PairObs& z) {
      BudgetRow b;
      b.name = name;
      b.imperfections = im;
      for (int k = 0; k < ns; ++k) {
        b.delta.push_back(o.eb[k] - z.ea[k]);
        b.increment.push_back(o.eb[k] - o.ea[k]);
      }
      return b;
    };
    Imperfections clean_im = p.imperfections;
    clean_im.noise = false;
    res.budget.push_back(
        row_of("all imperfections (noise-free)", clean_im, lastp.clean, zero.clean));
    for (size_t j = 0; j < budget.rows.size(); ++j)
      res.budget.push_back(
          row_of(budget.rows[j].first, budget.rows[j].second, lastp.rows[j], zero.rows[j]));
  }
  // This case's pulses only: the library is shared by the cases of one process, so its used()
  // list would make a case's summary depend on the cases run before it (a resumed run differed
  // from an uninterrupted one, issue 27).
  res.pulses.assign(pulses.begin(), pulses.end());
  return res;
}

CaseResult run_case(const ExperimentProgram& p, const CaseSpec& c, PulseLibrary& lib,
                    const RunSettings& settings, const ProgressText& progress) {
  CaseRunner runner(p, c, lib, settings, progress);
  std::vector<std::string> units;
  for (size_t u = 0; u < runner.units(); ++u) units.push_back(runner.run_unit(u));
  return assemble_case(p, c, settings, units);
}

}  // namespace nmrc::experiment
