// The experiment's protocol; see run.hpp for the steps and docs/experiment-format.md for the
// calibration and the error budget.
#include "nmrc/experiment/run.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hash.hpp"
#include "nmrc/core/information.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/operators.hpp"
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

PulseLibrary make_pulse_library(const ExperimentProgram& p, const RunSettings& s) {
  json prov = {{"program", p.path},
               {"program_hash", p.text_hash},
               {"nmrc_version", NMRC_EXPERIMENT_VERSION},
               {"robust_over_b1", p.b1_scale}};
  return PulseLibrary(p.molecule, p.compiled_dir,
                      s.cache_dir.empty() ? "" : s.cache_dir + "/compile", s.compile_mode, prov);
}

namespace {

std::uint64_t mix(std::uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

Stat stat_of(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= double(v.size());
  if (v.size() > 1) {
    double q = 0;
    for (double x : v) q += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(q / double(v.size() - 1));
  }
  return s;
}

/// Memo of a pure function for the whole process: what every engine needs identically (the
/// PPS states and the gradient's channel depend on the molecule and the relaxation switch only)
/// is computed once, not once per case and error-budget row (each is a handful of 256 x 256
/// superoperator exponentials).
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
        cache_(s.cache_dir.empty() ? "" : s.cache_dir + "/channels") {
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
      static ProcessMemo<PpsStates> pps_memo;
      const PpsStates pps =
          pps_memo.get(molecule_key_ + (imp.relaxation ? "|relaxation" : "|closed") +
                           (p.compensate_polarization ? "|compensated" : "|plain"),
                       [&] { return prepare_pps(); });
      pps_[0] = pps.deviation[0];
      pps_[1] = pps.deviation[1];
      eps_ = pps.epsilon;
    }
    {
      std::vector<Mat> f(c.params.n(), thermal_qubit(c.params.bath_temperature));
      ref_state_ = product_state(f);
      ref_plan_ = sp::plan_temporal_averaging(ref_state_, c.system_spins, n_);
    }
    {
      static ProcessMemo<AffineMap> gradient_memo;
      gradient_ = gradient_memo.get(molecule_key_ + (imp.relaxation ? "|relaxation" : "|closed"),
                                    [&] { return delay_channel(1e-3); });
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
  /// The reference run's system state: every subsystem thermal at T_R.
  const Mat& reference_state() const { return ref_state_; }
  double reference_weight_norm() const {
    double w2 = 0;
    for (const auto& e : ref_plan_.experiments) w2 += e.weight * e.weight;
    return std::sqrt(w2);
  }
  double noise_sigma(double weight_norm) const {
    if (!imp_.noise || p_.snr <= 0) return 0.0;
    return sp::tomography_noise_sigma(n_, p_.snr) * weight_norm;
  }

  /// One run: state before collision m (system spins), returns per draw the line values of
  /// every setting for contact (+, -) and reference (+, -).
  struct Acquired {
    std::vector<Mat> contact[2], reference[2];    // per setting, averaged deviation
    std::vector<Mat> prepared[2], reference0[2];  // no contact: the run's state, the T_R state
    double weight_norm = 1.0;                     // sqrt(sum w_i^2) of the temporal average
    double contact_duration_s = 0.0;
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
    // contact
    std::vector<PulseNeed> contact = contact_needs(p_, c_);
    const int signs = p_.inversion ? 2 : 1;
    for (int sg = 0; sg < signs; ++sg) {
      a.contact[sg].assign(p_.readout.settings.size(), Mat::Zero(d_, d_));
      a.reference[sg].assign(p_.readout.settings.size(), Mat::Zero(d_, d_));
      a.prepared[sg].assign(p_.readout.settings.size(), Mat::Zero(d_, d_));
      a.reference0[sg].assign(p_.readout.settings.size(), Mat::Zero(d_, d_));
    }
    for (size_t b = 0; b < members_.size(); ++b) {
      const double wb = members_[b].second;
      std::unique_ptr<Stepper> ud_stepper;
      AffineMap ud_ideal;
      if (need_ud) {
        if (imp_.compiled_gates) {
          const auto& rec = get_pulse(ud);
          const auto segs = sp::segments_of(rec.pulse.element(m_), dyn_[b]->channels());
          ud_stepper = std::make_unique<Stepper>(*dyn_[b], segs);
        } else {
          ud_ideal = AffineMap::unitary(lib_.ideal_unitary(ud));
        }
      }
      double t_contact = 0;
      for (int sg = 0; sg < signs; ++sg) {
        Mat x = pps_[sg];
        x = apply(bath_need(), b, x);
        x = gradient_.apply(x);
        Mat avg = Mat::Zero(d_, d_);
        for (const auto& e : plan.experiments) {
          Mat y = x;
          for (int k : e.flip_spins) y = apply(flip_need(k), b, y);
          avg += e.weight * y;
        }
        if (need_ud) avg = ud_stepper ? ud_stepper->propagate(avg, true) : ud_ideal.apply(avg);
        Mat xc = avg;
        t_contact = 0;
        for (const auto& nd : contact) {
          xc = apply(nd, b, xc);
          if (imp_.compiled_gates) t_contact += get_pulse(nd).pulse.duration_s();
        }
        a.contact_duration_s = t_contact;
        // Reference: every spin thermal at T_R (a diagonal state, U_d = I), through the same
        // contact pulses. Identical thermal spins are invariant under any excitation-conserving
        // contact, so its ideal outcome is known: what the measurement returns instead is the
        // shrink of the populations by relaxation during these very pulses (and the readout).
        Mat xr = Mat::Zero(d_, d_);
        if (p_.reference) {
          for (const auto& e : ref_plan_.experiments) {
            Mat y = x;
            for (int k : e.flip_spins) y = apply(flip_need(k), b, y);
            xr += e.weight * y;
          }
        }
        const Mat xr0 = xr;
        if (p_.reference)
          for (const auto& nd : contact) xr = apply(nd, b, xr);
        for (size_t s = 0; s < p_.readout.settings.size(); ++s) {
          a.contact[sg][s] += wb * readout(s, b, xc);
          if (p_.reference) {
            a.reference[sg][s] += wb * readout(s, b, xr);
            a.reference0[sg][s] += wb * readout(s, b, xr0);
            a.prepared[sg][s] += wb * readout(s, b, avg);
          }
        }
      }
    }
    return a;
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

  static std::uint64_t setting_seed(std::uint64_t seed, size_t s) { return mix(seed + 7919 * s); }

  /// f(s) for every setting s, the settings shared by two threads.
  template <class F>
  static void for_settings(size_t count, const F& f) {
    auto work = [&](size_t first) {
      for (size_t s = first; s < count; s += 2) f(s);
    };
    std::thread other(work, 1);
    work(0);
    other.join();
  }

  struct PpsStates {
    Mat deviation[2];  ///< from equilibrium and from inverted equilibrium
    double epsilon = 0.0;
  };
  PpsStates prepare_pps() const {
    PpsStates out;
    const auto steps = run_pps_steps(p_);
    const Sequence seq = sp::pps_sequence(steps);
    const auto th = sp::thermal_equilibrium(m_);
    const Mat id = Mat::Identity(d_, d_) / double(d_);
    sp::Sample ideal;
    ideal.molecule = m_;
    out.epsilon = sp::fit_pps(sp::run_deviation(ideal, seq, th.rho)).epsilon;
    sp::Sample sample = ideal;
    sample.relaxation = imp_.relaxation;
    out.deviation[0] = sp::run_deviation(sample, seq, th.rho) - id;
    // inverted equilibrium: a pi pulse on every spin before the preparation (ideal rotation)
    out.deviation[1] = sp::run_deviation(sample, seq, id - (th.rho - id)) - id;
    return out;
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

  // The run's pulses, named by protocol.hpp's builders (the export plays the same ones).
  PulseNeed bath_need() const { return experiment::bath_need(p_, c_); }
  PulseNeed flip_need(int spin) const { return experiment::flip_need(p_, spin); }

  const PulseRecord& get_pulse(const PulseNeed& nd) {
    compiler::CompileOptions o = p_.compile;
    const PulseShape sh = pulse_shape(p_, nd.kind);
    o.duration_s = sh.duration_s;
    o.steps = sh.steps;
    if (progress_ && !lib_.used().count(nd.name)) progress_("pulse " + nd.name);
    return lib_.get(nd, o, [&](const std::string& name, int ev, double f) {
      if (progress_)
        progress_("compiling " + name + " (" + nd.purpose + "): " + std::to_string(ev) +
                  " evaluations, best min F " + std::to_string(f).substr(0, 6));
    });
  }

  /// The per-member channel of a pulse (compiled) or the ideal unitary.
  const AffineMap& channel(const PulseNeed& nd, size_t b) {
    const std::string key = nd.name + "|" + std::to_string(b);
    if (auto it = channels_.find(key); it != channels_.end()) return it->second;
    AffineMap ch;
    if (!imp_.compiled_gates) {
      ch = AffineMap::unitary(lib_.ideal_unitary(nd));
    } else {
      const auto& rec = get_pulse(nd);
      const auto segs = sp::segments_of(rec.pulse.element(m_), dyn_[b]->channels());
      if (!imp_.relaxation) {
        ch = AffineMap::unitary(sp::exact_unitary(*dyn_[b], segs));
      } else {
        const std::string ckey = "channel/1|" + content_hash_hex(pulse_file_text(rec.pulse)) + "|" +
                                 molecule_key_ + "|b1=" + std::to_string(members_[b].first) +
                                 "|relaxation";
        bool hit = false;
        ch = cache_.get(
            ckey,
            [&] {
              if (progress_)
                progress_("channel of " + nd.name + " at B1 " +
                          std::to_string(members_[b].first).substr(0, 5));
              return Stepper(*dyn_[b], segs).channel();
            },
            &hit);
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

  const ExperimentProgram& p_;
  const CaseSpec& c_;
  PulseLibrary& lib_;
  Imperfections imp_;
  ProgressText progress_;
  const Molecule& m_;
  int n_, d_;
  const sp::Tomographer& tomo_;
  const sp::SettingMeasurer& meter_;
  ChannelCache cache_;
  std::vector<Member> members_;
  std::vector<std::unique_ptr<sp::Dynamics>> dyn_;
  std::string molecule_key_;
  double eps_ = 0.0;
  Mat pps_[2];
  Mat ref_state_;
  sp::TemporalAveragingPlan ref_plan_;
  AffineMap gradient_;
  std::map<double, AffineMap> delays_;
  std::map<std::string, AffineMap> channels_;
  std::vector<PulseNeed> readout_x_, readout_y_;
};

struct Observed {
  std::vector<double> e;
  double free_energy = 0.0;
  std::vector<std::optional<double>> at;
};

Observed observe(const Mat& rho_sys, const thermo::ModelParams& params) {
  Observed o;
  const int ns = params.n();
  double es = 0;
  for (int k = 0; k < ns; ++k) {
    o.e.push_back(thermo::subsystem_energy(rho_sys, k, ns));
    es += o.e.back();
  }
  o.free_energy = es - params.bath_temperature * von_neumann_entropy(rho_sys);  // Eq. (S19)
  const auto at = thermo::apparent_temperatures(rho_sys, thermo::coherence_weights(params));
  for (const auto& a : at.subsystem) o.at.push_back(a.value);
  return o;
}

/// Result of one run (collision m) over all noise draws.
struct RunResult {
  std::vector<std::vector<double>> e_raw, e_paired, e_cal, scale;  // [draw][k]
  std::vector<double> free_energy, fidelity, heat;
  std::vector<std::vector<std::optional<double>>> at;
  Mat rho_cal, rho_sys_cal;      // draw 0
  std::vector<sp::Fid> fids[2];  // draw 0, when recorded: from equilibrium, from inverted
};

RunResult measure_run(Engine& eng, const ExperimentProgram& p, const CaseSpec& c,
                      const Mat& rho_before, const Mat& rho_after_ideal, const std::string& ud_name,
                      int draws, std::uint64_t seed, const std::vector<double>& e0,
                      bool record = false) {
  const auto acq = eng.acquire(rho_before, ud_name);
  const int n = p.molecule.size(), d = 1 << n, ns = c.params.n();
  const double sigma = eng.noise_sigma(acq.weight_norm);
  const double sigma_ref = eng.noise_sigma(eng.reference_weight_norm());
  const Observed prep_before = observe(rho_before, c.params);
  using Lines = std::vector<RVec>;
  // clean line values of every acquisition, once; the draws add noise to them
  const Lines c_clean[2] = {eng.clean_lines(acq.contact[0]),
                            p.inversion ? eng.clean_lines(acq.contact[1]) : Lines{}};
  Lines r_clean[2], r0_clean[2], p_clean[2];
  if (p.reference) {
    for (int sg = 0; sg < (p.inversion ? 2 : 1); ++sg) {
      r_clean[sg] = eng.clean_lines(acq.reference[sg]);
      r0_clean[sg] = eng.clean_lines(acq.reference0[sg]);
      p_clean[sg] = eng.clean_lines(acq.prepared[sg]);
    }
  }
  RunResult r;
  for (int dr = 0; dr < draws; ++dr) {
    const std::uint64_t sd = mix(seed * 1000003ull + std::uint64_t(dr));
    auto draw_seed = [&](std::uint64_t which) { return mix(sd + 104729ull * which); };
    auto vals = [&](const Lines& clean, double sg, std::uint64_t which) {
      return eng.noisy(clean, sg, draw_seed(which));
    };
    if (record && dr == 0) {  // the FIDs of this draw, for TopSpin datasets
      r.fids[0] = eng.fids(acq.contact[0], sigma, draw_seed(0));
      if (p.inversion) r.fids[1] = eng.fids(acq.contact[1], sigma, draw_seed(1));
    }
    const auto cp = vals(c_clean[0], sigma, 0);
    std::vector<RVec> cpair = cp, rpair;
    if (p.inversion) {
      const auto cm = vals(c_clean[1], sigma, 1);
      for (size_t s = 0; s < cp.size(); ++s) cpair[s] = 0.5 * (cp[s] - cm[s]);
    }
    // inversion-paired line values of one kind of acquisition
    auto paired = [&](const Lines* clean, double sg, std::uint64_t which) {
      auto v = vals(clean[0], sg, which);
      if (p.inversion) {
        const auto vm = vals(clean[1], sg, which + 1);
        for (size_t s = 0; s < v.size(); ++s) v[s] = 0.5 * (v[s] - vm[s]);
      }
      return v;
    };
    std::vector<RVec> ppair, r0pair;
    if (p.reference) {
      rpair = paired(r_clean, sigma_ref, 2);
      r0pair = paired(r0_clean, sigma_ref, 4);
      ppair = paired(p_clean, sigma, 6);
    }
    const Mat rho_raw = eng.reconstruct(cp);
    const Mat rho_c = eng.reconstruct(cpair);
    const Mat sys_raw = partial_trace(rho_raw, c.system_spins, n);
    const Mat sys_c = partial_trace(rho_c, c.system_spins, n);
    std::vector<double> er(ns), ep(ns), ec(ns), sc(ns, 1.0);
    double s_mean = 0;
    if (p.reference) {
      // s_k = [E_prep,k / E_meas(prepared state, no contact)] x [E_meas(T_R state, no contact) /
      //        E_meas(T_R state through the contact pulses)]: the first factor is the shrink of
      // the preparation (U_d) and readout, the second the extra shrink of the contact pulses.
      const Mat sys_r = partial_trace(eng.reconstruct(rpair), c.system_spins, n);
      const Mat sys_r0 = partial_trace(eng.reconstruct(r0pair), c.system_spins, n);
      const Mat sys_p = partial_trace(eng.reconstruct(ppair), c.system_spins, n);
      for (int k = 0; k < ns; ++k) {
        const double er_c = thermo::subsystem_energy(sys_r, k, ns);
        const double er_0 = thermo::subsystem_energy(sys_r0, k, ns);
        const double ep_m = thermo::subsystem_energy(sys_p, k, ns);
        if (std::abs(er_c) > 1e-6 && std::abs(ep_m) > 1e-6)
          sc[k] = (prep_before.e[k] / ep_m) * (er_0 / er_c);
      }
    }
    for (int k = 0; k < ns; ++k) {
      er[k] = thermo::subsystem_energy(sys_raw, k, ns);
      ep[k] = thermo::subsystem_energy(sys_c, k, ns);
      ec[k] = sc[k] * ep[k];
      s_mean += sc[k] / ns;
    }
    // calibrated state: the paired deviation scaled by the mean factor, each system spin's z
    // polarisation set to its calibrated energy (E_k = -<Z_k>/2, thermo::subsystem_energy; the
    // Z_k are orthogonal, so each correction moves only its own E_k), nearest density matrix.
    // Without the second step the state passed on by measured re-preparation, and the entropy
    // and AT computed from it, would disagree with the per-spin calibrated energies.
    const Mat id = Mat::Identity(d, d) / double(d);
    Mat rho_lin = id + s_mean * (rho_c - id);
    {
      const Mat sys_lin = partial_trace(rho_lin, c.system_spins, n);
      for (int k = 0; k < ns; ++k) {
        const double dk = ec[k] - thermo::subsystem_energy(sys_lin, k, ns);
        rho_lin -= (2.0 * dk / double(d)) * nmrc::sigma('Z', c.system_spins[k], n);
      }
    }
    const Mat rho_cal = sp::project_to_density_matrix(rho_lin);
    const Mat sys_cal = partial_trace(rho_cal, c.system_spins, n);
    Observed o = observe(sys_cal, c.params);
    double heat = 0, es_cal = 0;
    for (int k = 0; k < ns; ++k) {
      heat += e0[k] - ec[k];
      es_cal += ec[k];
    }
    r.e_raw.push_back(er);
    r.e_paired.push_back(ep);
    r.e_cal.push_back(ec);
    r.scale.push_back(sc);
    r.heat.push_back(heat);
    // free energy with the calibrated energies and the entropy of the calibrated state
    r.free_energy.push_back(es_cal - c.params.bath_temperature * von_neumann_entropy(sys_cal));
    r.fidelity.push_back(uhlmann_fidelity(sys_cal, rho_after_ideal));
    r.at.push_back(o.at);
    if (dr == 0) {
      r.rho_cal = rho_cal;
      r.rho_sys_cal = sys_cal;
    }
  }
  return r;
}

std::vector<Stat> stats_k(const std::vector<std::vector<double>>& v, int ns) {
  std::vector<Stat> out;
  for (int k = 0; k < ns; ++k) {
    std::vector<double> col;
    for (const auto& row : v) col.push_back(row[k]);
    out.push_back(stat_of(col));
  }
  return out;
}

}  // namespace

CaseResult run_case(const ExperimentProgram& p, const CaseSpec& c, PulseLibrary& lib,
                    const RunSettings& settings, const ProgressText& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  CaseResult res;
  res.spec = c;
  const int ns = c.params.n();
  const int last = c.measure.back();
  // The ideal model (thermo engine) and its system state at the end of every collision.
  thermo::ModelParams params = c.params;
  params.collisions = std::max(params.collisions, last);
  std::vector<Mat> state_after(params.collisions + 1);
  res.theory = thermo::run_collision_model(
      params, {}, [&](const thermo::StepRecord& r, const Mat& rho_s, const Mat*) {
        state_after[r.collision] = rho_s;
      });
  const int spc = params.interaction == thermo::Interaction::kCascade ? ns : 1;
  const auto& rec0 = res.theory.steps.front();
  const std::vector<double> e0 = rec0.energy;

  const Meters meters(p);
  Engine eng(p, c, lib, settings, p.imperfections, meters, progress);
  res.pps_epsilon = eng.epsilon();
  res.noise_sigma = eng.noise_sigma(1.0);
  const int draws = (p.imperfections.noise && p.snr > 0) ? p.repeats : 1;
  Mat measured_state;  // repreparation: measured
  for (size_t i = 0; i < c.measure.size(); ++i) {
    const int m = c.measure[i];
    if (progress)
      progress("case " + c.name + ": collision " + std::to_string(m) + " (" +
               std::to_string(i + 1) + "/" + std::to_string(c.measure.size()) + ")");
    const bool measured_mode = p.repreparation == Repreparation::kMeasured && m > 1;
    const Mat& before = measured_mode ? measured_state : state_after[m - 1];
    const std::string ud_name =
        "ud_" + c.name + (measured_mode ? "_measured_m" : "_m") + std::to_string(m - 1);
    const bool record =
        std::find(settings.record_collisions.begin(), settings.record_collisions.end(), m) !=
        settings.record_collisions.end();
    RunResult rr = measure_run(eng, p, c, before, state_after[m], ud_name, draws,
                               p.seed * 7777ull + std::uint64_t(m), e0, record);
    for (int sg = 0; record && sg < 2; ++sg)
      if (!rr.fids[sg].empty() && !rr.fids[sg].front().points.empty())
        res.recorded.push_back({m, sg == 0 ? "equilibrium" : "inverted", std::move(rr.fids[sg])});
    measured_state = rr.rho_sys_cal;
    MeasuredPoint pt;
    pt.collision = m;
    pt.step = m * spc;
    const auto& rec = res.theory.steps[pt.step];
    pt.energy_ideal = rec.energy;
    pt.energy_raw = stats_k(rr.e_raw, ns);
    pt.energy_paired = stats_k(rr.e_paired, ns);
    pt.energy = stats_k(rr.e_cal, ns);
    for (const auto& st : stats_k(rr.scale, ns)) pt.scale.push_back(st.mean);
    pt.heat_ideal = rec.heat_to_bath;
    pt.heat = stat_of(rr.heat);
    pt.free_energy_ideal = rec.free_energy;
    pt.free_energy = stat_of(rr.free_energy);
    for (const auto& a : rec.at.subsystem) pt.at_ideal.push_back(a.value);
    pt.at = rr.at.front();
    pt.fidelity = stat_of(rr.fidelity);
    pt.rho_measured = rr.rho_cal;
    pt.rho_system = rr.rho_sys_cal;
    res.points.push_back(std::move(pt));
  }
  const auto& lastp = res.points.back();
  for (int k = 0; k < ns; ++k) {
    res.delta_ideal.push_back(lastp.energy_ideal[k] - e0[k]);
    res.delta_measured.push_back({lastp.energy[k].mean - e0[k], lastp.energy[k].std});
    res.delta_raw.push_back({lastp.energy_raw[k].mean - e0[k], lastp.energy_raw[k].std});
  }
  if (settings.error_budget && p.error_budget) {
    // The last collision again with each imperfection switched off in turn (ideal
    // re-preparation), then with all of them off.
    struct V {
      const char* name;
      bool Imperfections::*flag;
    };
    const V vs[] = {{"no relaxation", &Imperfections::relaxation},
                    {"no B1 ensemble", &Imperfections::b1_ensemble},
                    {"ideal gates", &Imperfections::compiled_gates},
                    {"no noise", &Imperfections::noise},
                    {"ideal readout", &Imperfections::readout}};
    std::vector<std::pair<std::string, Imperfections>> rows = {
        {"all imperfections", p.imperfections}};
    for (const auto& v : vs) {
      Imperfections im = p.imperfections;
      if (!(im.*(v.flag))) continue;
      im.*(v.flag) = false;
      rows.push_back({v.name, im});
    }
    rows.push_back({"none", Imperfections{false, false, false, false, false}});
    for (const auto& [name, im] : rows) {
      if (progress) progress("case " + c.name + ": error budget, " + name);
      BudgetRow row;
      row.name = name;
      row.imperfections = im;
      if (im == p.imperfections && p.repreparation == Repreparation::kIdeal) {
        for (int k = 0; k < ns; ++k) {
          row.delta.push_back(res.delta_measured[k].mean);
          row.raw_delta.push_back(res.delta_raw[k].mean);
        }
      } else {
        ExperimentProgram pv = p;
        pv.imperfections = im;
        Engine ev(pv, c, lib, settings, im, meters, progress);
        const int dv = (im.noise && p.snr > 0) ? p.repeats : 1;
        const RunResult rr = measure_run(ev, pv, c, state_after[last - 1], state_after[last],
                                         "ud_" + c.name + "_m" + std::to_string(last - 1), dv,
                                         p.seed * 7777ull + std::uint64_t(last), e0);
        const auto ec = stats_k(rr.e_cal, ns), er = stats_k(rr.e_raw, ns);
        for (int k = 0; k < ns; ++k) {
          row.delta.push_back(ec[k].mean - e0[k]);
          row.raw_delta.push_back(er[k].mean - e0[k]);
        }
      }
      res.budget.push_back(std::move(row));
    }
  }
  for (const auto& [name, rec] : lib.used()) res.pulses.push_back(name);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace nmrc::experiment
