#include "nmrc/compiler/compile.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "nmrc/compiler/gate_types.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/json_input.hpp"
#include "nmrc/core/limits.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/text.hpp"
#include "pulse_cache.hpp"
#include "wire.hpp"

namespace nmrc::compiler {

using nlohmann::json;

int CompileOptions::resolved_steps() const {
  if (steps > 0) return steps;
  if (duration_s > 0 && dt_s > 0)
    return std::max(1, static_cast<int>(std::lround(duration_s / dt_s)));
  return 0;
}

double CompileOptions::resolved_dt_s() const {
  if (dt_s > 0) return dt_s;
  const int n = resolved_steps();
  return n > 0 ? duration_s / n : 0.0;
}

spectrometer::Decoupler DecouplerModel::decoupler() const {
  spectrometer::Decoupler d;
  d.sequence = spectrometer::cpd_sequence(sequence);
  d.channel = channel;
  d.pcpd_s = 0.25 / b2_hz;  // Decoupler::rf_hz() = 1 / (4 PCPD2)
  if (molecule)
    if (const int c = molecule->channel_index(channel); c >= 0)
      d.o2_hz = molecule->channels[c].offset_of_ppm(o2_ppm);
  return d;
}

std::vector<spectrometer::ResidualConfiguration> DecouplerModel::configurations() const {
  if (!molecule) throw InputError("decoupler: no heteronuclear molecule");
  return spectrometer::cw_residual_configurations(*molecule, decoupler());
}

bool DecouplerModel::recorded_in(const std::optional<PulseDecoupler>& r) const {
  return r && r->sequence == sequence && r->channel == channel && molecule &&
         r->molecule == molecule->name && r->b2_hz == b2_hz && r->o2_ppm == o2_ppm;
}

std::string DecouplerModel::describe() const {
  return fmt::format("{} at B2 {:g} Hz, O2 {:g} ppm on {} of molecule {}", sequence, b2_hz, o2_ppm,
                     channel, molecule ? molecule->name : std::string("(none)"));
}

bool same_decoupler(const std::optional<DecouplerModel>& model,
                    const std::optional<PulseDecoupler>& recorded) {
  return model ? model->recorded_in(recorded) : !recorded;
}

std::optional<OptionProblem> DecouplerModel::problem(const Molecule& m) const {
  auto bad = [](const std::string& field, const std::string& value, const std::string& rule) {
    return std::optional<OptionProblem>(OptionProblem{"decoupler." + field, value, rule});
  };
  if (sequence != "cw")
    return bad("sequence", sequence,
               "must be cw (the residual model is CW's; waltz16 and garp have none)");
  if (!molecule) return bad("molecule", "", "missing (the heteronuclear molecule file)");
  const Molecule& h = *molecule;
  const int ch = h.channel_index(channel);
  if (ch < 0)
    return bad("channel", channel,
               "decoupled channel " + channel + " is not a channel of molecule " + h.name +
                   " (known: " + h.channels_text() + ")");
  const double limit = h.channels[ch].max_rf_hz;
  if (!(b2_hz > 0 && b2_hz <= limit))
    return bad("b2_hz", fmt::format("{:g}", b2_hz),
               fmt::format("must be in (0, {:g}] Hz (channel {}'s max_rf_hz in molecule {})", limit,
                           channel, h.name));
  if (!(std::abs(o2_ppm) <= kMaxDecouplerO2Ppm))
    return bad("o2_ppm", fmt::format("{:g}", o2_ppm), "must be between -1000 and 1000 ppm");
  std::vector<int> at(m.size(), -1);
  for (int k = 0; k < m.size(); ++k) {
    const Nucleus& a = m.nuclei[k];
    at[k] = h.index_of(a.label);
    if (at[k] < 0)
      return bad("molecule", h.name,
                 "has no spin " + a.label + " of molecule " + m.name +
                     " (it must hold the program molecule's spins and the decoupled ones)");
    const Nucleus& b = h.nuclei[at[k]];
    if (b.channel == channel)
      return bad("molecule", h.name, "spin " + a.label + " is on the decoupled channel " + channel);
    if (b.isotope != a.isotope || std::abs(b.offset_hz - a.offset_hz) > 1e-6)
      return bad("molecule", h.name,
                 fmt::format("spin {} is {} at {:g} Hz there but {} at {:g} Hz in molecule {} "
                             "(must be the same spins in the same frame)",
                             a.label, b.isotope, b.offset_hz, a.isotope, a.offset_hz, m.name));
  }
  auto j_of = [](const Molecule& mol, int x, int y) {
    for (const auto& c : mol.couplings)
      if ((c.a == x && c.b == y) || (c.a == y && c.b == x)) return c.j_hz;
    return 0.0;
  };
  for (int x = 0; x < m.size(); ++x)
    for (int y = x + 1; y < m.size(); ++y)
      if (std::abs(j_of(m, x, y) - j_of(h, at[x], at[y])) > 1e-6)
        return bad("molecule", h.name,
                   fmt::format("J({}, {}) = {:g} Hz there but {:g} Hz in molecule {} (must be "
                               "the same couplings)",
                               m.nuclei[x].label, m.nuclei[y].label, j_of(h, at[x], at[y]),
                               j_of(m, x, y), m.name));
  return std::nullopt;
}

std::optional<OptionProblem> CompileOptions::check() const {
  using R = OptionRule;
  const auto num = OptionChecks::number_text;
  const auto list = OptionChecks::list_text;
  OptionChecks c;
  // Two of duration_s, steps, dt_s are given (0: not given), and they agree.
  if (duration_s != 0)
    c.check("duration_s", duration_s, R::greater_than(0).and_finite())
        .check("duration_s", duration_s,
               R::at_most(kMaxCompileDurationS).unit("s").note("docs/limits.md"));
  if (steps != 0) c.check("steps", steps, R::between(1L, 1000000L));
  if (dt_s != 0) c.check("dt_s", dt_s, R::greater_than(0).and_finite());
  const int given = (duration_s > 0) + (steps > 0) + (dt_s > 0);
  c.require(
      given >= 2, "duration_s", num(duration_s),
      "compile options need two of duration_s, steps, dt_s (got " + std::to_string(given) + ")");
  c.require(given < 3 || std::abs(steps * dt_s - duration_s) <= 1e-9 * duration_s, "duration_s",
            num(duration_s),
            "conflicting options: steps * dt_s = " + num(steps * dt_s) +
                " s but duration_s = " + num(duration_s) + " s");
  if (steps == 0 && given >= 2) {
    const double r = duration_s / dt_s;
    c.require(std::abs(r - std::round(r)) <= 1e-6, "duration_s", num(duration_s),
              "conflicting options: duration_s is not a whole number of dt_s steps");
    c.check("steps", r, R::between(1L, 1000000L));
  }
  for (const auto& [name, v] : max_rf_hz)
    c.check("max_rf_hz." + name, v, R::greater_than(0).and_finite());
  c.check("fidelity_target", fidelity_target, R::in_open_closed(0, 1))
      .check_not_empty("ensemble.b1_scale", b1_scale, "B1 scale")
      .check_each("ensemble.b1_scale", b1_scale, R::greater_than(0).and_at_most(kMaxB1Scale),
                  "B1 scale");
  const size_t members = b1_scale.size() * offset_hz.size();
  c.require(members <= kMaxEnsembleMembers, "ensemble.b1_scale", list(b1_scale),
            std::to_string(b1_scale.size()) + " B1 scales x " + std::to_string(offset_hz.size()) +
                " offsets = " + std::to_string(members) +
                " ensemble members, more than the limit of " + std::to_string(kMaxEnsembleMembers) +
                " (docs/limits.md)");
  if (!b1_weight.empty())
    c.require(b1_weight.size() == b1_scale.size(), "ensemble.weights", list(b1_weight),
              "needs one weight per b1_scale entry (" + std::to_string(b1_scale.size()) + ")")
        .check_each("ensemble.weights", b1_weight, R::greater_than(0).and_finite(), "weight");
  c.check_not_empty("ensemble.offset_hz", offset_hz, "offset (0 for none)")
      .check_each("ensemble.offset_hz", offset_hz,
                  R::between(-limits::kMaxOffsetHz, limits::kMaxOffsetHz).unit("Hz"), "offset")
      .check("smoothness", smoothness, R::at_least(0).and_finite())
      .check("starts", starts, R::between(1L, 1000L))
      .check("max_iterations", max_iterations, R::between(1L, 10000000L))
      .check("stall_evaluations", stall_evaluations,
             R::at_least(0).note("0: never stop a start as stalled"))
      .check("time_limit_s", time_limit_s, R::greater_than(0))
      .check("threads", threads, R::between(1L, 256L))
      .check("b1_quadrature", b1_quadrature,
             R::between(0L, 20L).note("0: off; else Gauss-Legendre points"))
      .require(b1_quadrature == 0 || b1_weight.empty(), "b1_quadrature",
               std::to_string(b1_quadrature),
               "needs uniform ensemble weights (the rule weights the B1 range itself)");
  for (const auto& [name, q] : probe_q)
    c.check("probe_q." + name, q, R::in_open_closed(0, kMaxProbeQ));
  c.check("coarse_factor", coarse_factor, R::between(0L, 1000L).note("0: off"));
  if (decoupler)
    c.check("decoupler.b2_hz", decoupler->b2_hz,
            R::greater_than(0).and_at_most(kMaxDecouplerB2Hz).unit("Hz"))
        .check("decoupler.o2_ppm", decoupler->o2_ppm,
               R::between(-kMaxDecouplerO2Ppm, kMaxDecouplerO2Ppm).unit("ppm"))
        .require(decoupler->sequence == "cw", "decoupler.sequence", decoupler->sequence,
                 "must be cw (the residual model is CW's; waltz16 and garp have none)");
  return c.problem();
}

void CompileOptions::validate() const {
  if (const auto p = check()) throw InputError(p->message("compile options"));
}

void CompileOptions::validate(const Molecule& m) const {
  validate();
  for (const auto& name : channels)
    if (m.channel_index(name) < 0)
      throw InputError("compile options: channels = " + name + ": unknown channel of molecule " +
                       m.name);
  for (const auto& [name, q] : probe_q)
    if (m.channel_index(name) < 0)
      throw InputError("compile options: probe_q." + name + ": unknown channel of molecule " +
                       m.name);
  for (const auto& [name, v] : max_rf_hz) {
    const int c = m.channel_index(name);
    if (c < 0)
      throw InputError("compile options: max_rf_hz." + name + ": unknown channel of molecule " +
                       m.name);
    if (v > m.channels[c].max_rf_hz)
      throw InputError("compile options: max_rf_hz." + name + " = " + std::to_string(v) +
                       ": exceeds channel " + name + "'s max_rf_hz " +
                       std::to_string(m.channels[c].max_rf_hz) + " (molecule file)");
  }
  // Refused here, before the molecule's dense operators are built (12 spins: 256 MiB each).
  int oversample = 1;
  for (const auto& [name, q] : probe_q)
    oversample = std::max(oversample, spectrometer::ResonatorDistortion(
                                          q, m.channels[m.channel_index(name)].larmor_mhz)
                                          .oversample());
  const double d = std::ldexp(1.0, m.size());
  const double member_bytes = static_cast<double>(resolved_steps()) * oversample * d * d * 3 * 16;
  if (member_bytes > kMaxGrapeMemberBytes)
    throw InputError(fmt::format(
        "compile options: steps = {}: dense GRAPE on {} ({} spins, dimension {:g}) stores {:.3g} "
        "GB of propagators per ensemble member, more than the limit of {:g} GiB (docs/limits.md); "
        "a 10-12 spin register is compiled on subsystems (bench/subsystem_gate, "
        "bench/results/scaling.md)",
        resolved_steps(), m.name, m.size(), d, member_bytes / 1e9,
        kMaxGrapeMemberBytes / (1024.0 * 1024 * 1024)));
  if (decoupler) {
    if (const auto p = decoupler->problem(m)) throw InputError(p->message("compile options"));
    const size_t members = b1_scale.size() * offset_hz.size() * decoupler->configurations().size();
    if (members > kMaxEnsembleMembers)
      throw InputError("compile options: decoupler: " + std::to_string(members) +
                       " ensemble members (B1 scales x offsets x the decoupler's residual "
                       "configurations), more than the limit of " +
                       std::to_string(kMaxEnsembleMembers) + " (docs/limits.md)");
  }
}

std::string CompileOptions::to_json() const {
  json j;
  j["steps"] = resolved_steps();
  j["dt_s"] = resolved_dt_s();
  j["max_rf_hz"] = max_rf_hz;
  j["channels"] = channels;
  j["fidelity_target"] = fidelity_target;
  j["b1_scale"] = b1_scale;
  j["b1_weight"] = b1_weight;
  j["offset_hz"] = offset_hz;
  j["smoothness"] = smoothness;
  j["zero_ends"] = zero_ends;
  j["starts"] = starts;
  j["seed"] = seed;
  j["max_iterations"] = max_iterations;
  j["stall_evaluations"] = stall_evaluations;
  j["time_limit_s"] = time_limit_s;
  j["strong_coupling"] = strong_coupling;
  // Only when set, so that the keys of pulses compiled before the option existed still hold.
  if (b1_quadrature > 0) j["b1_quadrature"] = b1_quadrature;
  if (coarse_factor > 1) j["coarse_factor"] = coarse_factor;
  if (!probe_q.empty()) j["probe_q"] = probe_q;
  if (decoupler) {  // what GRAPE sees of it: its residual configurations, and what made them
    json conf = json::array();
    if (decoupler->molecule)
      for (const auto& rc : decoupler->configurations()) conf.push_back({rc.weight, rc.offset_hz});
    j["decoupler"] = {{"sequence", decoupler->sequence},
                      {"channel", decoupler->channel},
                      {"b2_hz", decoupler->b2_hz},
                      {"o2_ppm", decoupler->o2_ppm},
                      {"molecule", decoupler->molecule ? decoupler->molecule->name : ""},
                      {"configurations", conf}};
  }
  if (nominal_first) j["nominal_first"] = true;
  if (!warm_start) j["warm_start"] = false;
  return j.dump();
}

namespace {

std::vector<int> driven_channels(const Molecule& m, const CompileOptions& o) {
  std::vector<int> out;
  if (o.channels.empty()) {
    for (int c = 0; c < static_cast<int>(m.channels.size()); ++c) out.push_back(c);
  } else {
    for (const auto& name : o.channels) out.push_back(m.channel_index(name));
  }
  return out;
}

double max_rf_of(const Molecule& m, int c, const CompileOptions& o) {
  const auto it = o.max_rf_hz.find(m.channels[c].name);
  if (it != o.max_rf_hz.end()) return it->second;
  return std::min(kDefaultMaxRfHz, m.channels[c].max_rf_hz);
}

std::vector<EnsembleMember> ensemble_of(const CompileOptions& o) {
  std::vector<EnsembleMember> e;
  for (size_t i = 0; i < o.b1_scale.size(); ++i)
    for (double off : o.offset_hz)
      e.push_back({o.b1_scale[i], off, o.b1_weight.empty() ? 1.0 : o.b1_weight[i], {}});
  return e;
}

[[noreturn]] void fail(const std::string& where, const std::string& field,
                       const std::string& rule) {
  throw InputError(where + ": " + field + ": " + rule);
}

}  // namespace

GrapeProblem build_problem(const Molecule& m, const GateTarget& target, const CompileOptions& o) {
  const int n = m.size();
  GrapeProblem p;
  p.drift = m.hamiltonian(o.strong_coupling);
  for (int c : driven_channels(m, o)) {
    ChannelControl cc;
    cc.name = m.channels[c].name;
    cc.cx = m.control(c, 'x');
    cc.cy = m.control(c, 'y');
    cc.fz = Mat::Zero(1 << n, 1 << n);
    for (int k : m.spins_on(c)) {
      cc.fz += kTwoPi * spin_op('Z', k, n);
      cc.line_offsets_hz.push_back(m.nuclei[k].offset_hz - m.channels[c].carrier_hz);
    }
    cc.max_rf_hz = max_rf_of(m, c, o);
    if (const auto q = o.probe_q.find(cc.name); q != o.probe_q.end())
      cc.distortion =
          std::make_shared<spectrometer::ResonatorDistortion>(q->second, m.channels[c].larmor_mhz);
    p.channels.push_back(cc);
  }
  p.target = target.full(n);
  p.norm = target.norm(n);
  p.diagonal_phases = target.diagonal_phases;
  p.steps = o.resolved_steps();
  p.dt_s = o.resolved_dt_s();
  p.ensemble = ensemble_of(o);
  return p;
}

GrapeProblem with_residual_configurations(
    const GrapeProblem& p, const Molecule& m, const Molecule& hetero,
    const std::vector<spectrometer::ResidualConfiguration>& confs) {
  const int n = m.size();
  std::vector<int> in_hetero(n, -1);
  bool any = false;
  for (int k = 0; k < n; ++k)
    for (int j = 0; j < hetero.size(); ++j)
      if (hetero.nuclei[j].label == m.nuclei[k].label) {
        in_hetero[k] = j;
        any = true;
      }
  if (!any)
    throw InputError("residual configurations: no spin of " + m.name + " is a spin of " +
                     hetero.name);
  if (confs.empty() || p.ensemble.size() * confs.size() > kMaxEnsembleMembers)
    throw InputError("residual configurations: " + std::to_string(p.ensemble.size()) +
                     " members x " + std::to_string(confs.size()) +
                     " configurations: must be 1 to " + std::to_string(kMaxEnsembleMembers));
  std::vector<RVec> iz(n);
  for (int k = 0; k < n; ++k) iz[k] = spin_op('Z', k, n).diagonal().real();
  GrapeProblem q = p;
  q.ensemble.clear();
  for (const auto& mem : p.ensemble)
    for (const auto& c : confs) {
      EnsembleMember e = mem;
      e.weight = mem.weight * c.weight;
      if (e.drift_diag.size() == 0) e.drift_diag = RVec::Zero(1 << n);
      for (int k = 0; k < n; ++k)
        if (in_hetero[k] >= 0 && static_cast<size_t>(in_hetero[k]) < c.offset_hz.size())
          e.drift_diag += kTwoPi * c.offset_hz[in_hetero[k]] * iz[k];
      q.ensemble.push_back(std::move(e));
    }
  return q;
}

GateTarget target_from_json(const std::string& text, const Molecule& m, const std::string& where) {
  json d;
  if (!text.empty()) {
    check_json_depth(text, where);
    try {
      d = json::parse(text);
    } catch (const json::exception& e) {
      fail(where, "target", std::string("invalid JSON: ") + e.what());
    }
  }
  return target_from_description(d, m, where);
}

namespace detail {

using namespace wire;

CacheLookup look_up_cache(const Molecule& m, const GateTarget& target, const CompileOptions& o,
                          const std::string& name, const std::string& cache_dir) {
  CacheLookup l;
  if (cache_dir.empty()) return l;
  const std::string key = cache_key(m, target, o);
  l.cached = read_cached(cache_dir, key, name);
  if (l.cached) return l;
  if (!o.warm_start) return l;
  const std::string family = warm_start_family(m, target, o);
  if (auto w = find_warm_start(cache_dir, family, key)) {
    // The cached pulse's channels in this problem's order; one it lacks: no warm start.
    const GrapeProblem p = build_problem(m, target, o);
    RMat u(2 * static_cast<long>(p.channels.size()), p.steps);
    bool usable = true;
    for (size_t c = 0; c < p.channels.size() && usable; ++c) {
      const auto& have = w->pulse.channels;
      const auto it = std::find_if(have.begin(), have.end(), [&](const PulseChannel& pc) {
        return pc.name == p.channels[c].name;
      });
      usable = it != have.end() && it->ux_hz.size() == p.steps;
      if (usable) {
        u.row(2 * c) = it->ux_hz.transpose();
        u.row(2 * c + 1) = it->uy_hz.transpose();
      }
    }
    if (usable) {
      l.initial_u = std::move(u);
      l.warm_from = fmt::format("cache entry {} (F_min {:.5f} under its own options)", w->key,
                                w->fidelity_min);
    }
  }
  return l;
}

namespace {

json pulse_bits(const CompiledPulse& p) {
  // The file's text (its channels in name order) and, exactly, each channel's amplitudes and
  // the numbers of the fidelity record in this pulse's own channel order.
  json ch = json::array();
  for (const auto& c : p.channels)
    ch.push_back({{"name", c.name},
                  {"ux", bits(std::vector<double>(c.ux_hz.begin(), c.ux_hz.end()))},
                  {"uy", bits(std::vector<double>(c.uy_hz.begin(), c.uy_hz.end()))}});
  return {{"text", pulse_file_text(p)},
          {"channels", ch},
          {"nominal", bits(p.fidelity_nominal)},
          {"values", bits(p.ensemble_values)},
          {"min", bits(p.ensemble_min)}};
}

CompiledPulse pulse_from_bits(const json& j, const std::string& name) {
  CompiledPulse p = parse_pulse_json(j.at("text").get<std::string>(), "a rank's pulse");
  std::vector<PulseChannel> ordered;
  for (const auto& c : j.at("channels")) {
    const std::string n = c.at("name").get<std::string>();
    auto it = std::find_if(p.channels.begin(), p.channels.end(),
                           [&](const PulseChannel& pc) { return pc.name == n; });
    NMRC_CHECK(it != p.channels.end(), "a rank's pulse lacks a channel");
    PulseChannel pc = *it;
    const std::vector<double> ux = vector_from_bits(c.at("ux")), uy = vector_from_bits(c.at("uy"));
    pc.ux_hz = Eigen::Map<const Eigen::VectorXd>(ux.data(), static_cast<long>(ux.size()));
    pc.uy_hz = Eigen::Map<const Eigen::VectorXd>(uy.data(), static_cast<long>(uy.size()));
    ordered.push_back(pc);
  }
  p.channels = ordered;
  p.fidelity_nominal = from_bits(j.at("nominal"));
  p.ensemble_values = vector_from_bits(j.at("values"));
  p.ensemble_min = from_bits(j.at("min"));
  p.name = name;
  p.source.clear();
  return p;
}

json summary_json(const Summary& s) {
  json starts = json::array();
  for (const auto& st : s.starts) starts.push_back(start_json(st));
  return {{"termination", static_cast<int>(s.termination)},
          {"message", s.message},
          {"best_start", s.best_start},
          {"iterations", s.iterations},
          {"evaluations", s.evaluations},
          {"fidelity", bits(s.fidelity)},
          {"fidelity_min", bits(s.fidelity_min)},
          {"fidelity_mean", bits(s.fidelity_mean)},
          {"wall_s", bits(s.wall_s)},
          {"starts", starts},
          {"reached_target", s.reached_target},
          {"quadrature_points", s.quadrature_points},
          {"nominal_first", s.nominal_first},
          {"coarse_factor", s.coarse_factor},
          {"auto_stages", s.auto_stages},
          {"endgame_power", s.endgame_power},
          {"endgame_handover", bits(s.endgame_handover)},
          {"endgame_memory", s.endgame_memory},
          {"endgame_gauss_newton", s.endgame_gauss_newton},
          {"fine_points", s.fine_points},
          {"fine_fidelity_min", bits(s.fine_fidelity_min)},
          {"warm_start", s.warm_start},
          {"ranks", s.ranks},
          {"team_bytes", bits(s.team_bytes)},
          {"team_seconds", bits(s.team_seconds)}};
}

Summary summary_from_json(const json& j) {
  Summary s;
  s.termination = static_cast<Termination>(j.at("termination").get<int>());
  s.message = j.at("message").get<std::string>();
  s.best_start = j.at("best_start").get<int>();
  s.iterations = j.at("iterations").get<int>();
  s.evaluations = j.at("evaluations").get<int>();
  s.fidelity = vector_from_bits(j.at("fidelity"));
  s.fidelity_min = from_bits(j.at("fidelity_min"));
  s.fidelity_mean = from_bits(j.at("fidelity_mean"));
  s.wall_s = from_bits(j.at("wall_s"));
  for (const auto& st : j.at("starts")) s.starts.push_back(start_from_json(st));
  s.reached_target = j.at("reached_target").get<bool>();
  s.quadrature_points = j.at("quadrature_points").get<int>();
  s.nominal_first = j.at("nominal_first").get<bool>();
  s.coarse_factor = j.at("coarse_factor").get<int>();
  s.auto_stages = j.at("auto_stages").get<bool>();
  s.endgame_power = j.at("endgame_power").get<int>();
  s.endgame_handover = from_bits(j.at("endgame_handover"));
  s.endgame_memory = j.at("endgame_memory").get<int>();
  s.endgame_gauss_newton = j.at("endgame_gauss_newton").get<bool>();
  s.fine_points = j.at("fine_points").get<int>();
  s.fine_fidelity_min = from_bits(j.at("fine_fidelity_min"));
  s.warm_start = j.at("warm_start").get<std::string>();
  s.ranks = j.at("ranks").get<int>();
  s.team_bytes = from_bits(j.at("team_bytes"));
  s.team_seconds = from_bits(j.at("team_seconds"));
  return s;
}

}  // namespace

std::string lookup_text(const CacheLookup& l) {
  json j = json::object();
  if (l.cached) j["cached"] = pulse_bits(l.cached->pulse);
  if (!l.warm_from.empty()) {
    j["warm_from"] = l.warm_from;
    j["initial_u"] = bits(l.initial_u);
  }
  return j.dump();
}

CacheLookup parse_lookup(const std::string& text, const std::string& name, const std::string& key) {
  const json j = json::parse(text);
  CacheLookup l;
  if (j.contains("cached")) {  // rank 0's cached pulse (the others only install it)
    l.cached.emplace();
    l.cached->pulse = pulse_from_bits(j.at("cached"), name);
    l.cached->from_cache = true;
    l.cached->cache_key = key;
  }
  if (j.contains("warm_from")) {
    l.warm_from = j.at("warm_from").get<std::string>();
    l.initial_u = matrix_from_bits(j.at("initial_u"));
  }
  return l;
}

std::string result_text(const CompileResult& r) {
  return json{{"pulse", pulse_bits(r.pulse)},
              {"summary", summary_json(r.summary)},
              {"from_cache", r.from_cache},
              {"cache_key", r.cache_key},
              {"name", r.pulse.name}}
      .dump();
}

CompileResult parse_result(const std::string& text) {
  const json j = json::parse(text);
  CompileResult r;
  r.summary = summary_from_json(j.at("summary"));
  r.from_cache = j.at("from_cache").get<bool>();
  r.cache_key = j.at("cache_key").get<std::string>();
  r.pulse = pulse_from_bits(j.at("pulse"), j.at("name").get<std::string>());
  return r;
}

CompileResult compile_fresh(const Molecule& m, const GateTarget& target, const CompileOptions& o,
                            const std::string& name, const CacheLookup& lookup,
                            const ProgressCallback& progress) {
  CompileResult r;
  r.cache_key = cache_key(m, target, o);
  const GrapeProblem p = build_problem(m, target, o);
  // With the decoupler in the model, GRAPE searches on the ensemble crossed with its residual
  // configurations; the file's fidelity record stays the molecule's own (decoupling perfect).
  const GrapeProblem searched = o.decoupler
                                    ? with_residual_configurations(p, m, *o.decoupler->molecule,
                                                                   o.decoupler->configurations())
                                    : p;
  GrapeOptions go;
  go.fidelity_target = o.fidelity_target;
  go.starts = o.starts;
  go.seed = o.seed;
  go.max_iterations = o.max_iterations;
  go.stall_evaluations = o.stall_evaluations;
  go.time_limit_s = o.time_limit_s;
  go.smoothness = o.smoothness;
  go.zero_ends = o.zero_ends;
  go.threads = o.threads;
  go.b1_quadrature = o.b1_quadrature;
  go.coarse_factor = o.coarse_factor;
  go.nominal_first = o.nominal_first;
  go.stop = o.stop;
  go.team = o.team;
  if (!lookup.warm_from.empty()) {
    if (lookup.initial_u.rows() != 2 * static_cast<long>(p.channels.size()) ||
        lookup.initial_u.cols() != p.steps)
      throw ResourceError("mpi: rank 0's warm start has another size than this rank's problem");
    go.initial_u = lookup.initial_u;
  }
  GrapeResult g = optimise(searched, go, progress);
  g.summary.warm_start = lookup.warm_from;
  r.summary = g.summary;
  CompiledPulse& pulse = r.pulse;
  pulse.name = name;
  pulse.molecule = m.name;
  pulse.dt_s = p.dt_s;
  for (size_t c = 0; c < p.channels.size(); ++c) {
    PulseChannel pc;
    pc.name = p.channels[c].name;
    pc.carrier_hz = m.channels[m.channel_index(pc.name)].carrier_hz;
    pc.max_rf_hz = p.channels[c].max_rf_hz;
    if (const auto q = o.probe_q.find(pc.name); q != o.probe_q.end()) pc.probe_q = q->second;
    pc.ux_hz = g.u_hz.row(2 * c).transpose();
    pc.uy_hz = g.u_hz.row(2 * c + 1).transpose();
    pulse.channels.push_back(pc);
  }
  pulse.target_json = target.description_json;
  pulse.fidelity_definition = target.fidelity_definition();
  pulse.b1_scale = o.b1_scale;
  pulse.offset_hz = o.offset_hz;
  if (o.decoupler) {
    ensemble_objective(p, g.u_hz, nullptr, &pulse.ensemble_values, o.threads);
    pulse.ensemble_min =
        *std::min_element(pulse.ensemble_values.begin(), pulse.ensemble_values.end());
    const DecouplerModel& d = *o.decoupler;
    pulse.decoupler = PulseDecoupler{d.sequence,
                                     d.channel,
                                     d.molecule->name,
                                     d.b2_hz,
                                     d.o2_ppm,
                                     static_cast<int>(searched.ensemble.size() / p.ensemble.size()),
                                     g.summary.fidelity_min};
  } else {
    pulse.ensemble_values = g.summary.fidelity;
    pulse.ensemble_min = g.summary.fidelity_min;
  }
  pulse.fidelity_target = o.fidelity_target;
  {
    GrapeProblem nominal = p;
    nominal.ensemble = {EnsembleMember{}};
    std::vector<double> f;
    ensemble_objective(nominal, g.u_hz, nullptr, &f, 1);
    pulse.fidelity_nominal = f[0];
  }
  // A NaN or Inf never becomes a pulse file (it would be written as null, and compared as a
  // pass or a miss by accident): it is reported with what produced it, and nothing is cached.
  bool finite = std::isfinite(pulse.fidelity_nominal) && std::isfinite(pulse.ensemble_min) &&
                g.u_hz.allFinite();
  for (double v : pulse.ensemble_values) finite = finite && std::isfinite(v);
  if (pulse.decoupler) finite = finite && std::isfinite(pulse.decoupler->fidelity_min);
  if (!finite)
    throw InputError(name + ": GRAPE produced a non-finite fidelity or amplitude (NaN or Inf) " +
                     "for duration_s = " + fmt::format("{:g}", p.dt_s * p.steps) +
                     ", steps = " + std::to_string(p.steps) +
                     ": the compile options are outside what can be simulated");
  return r;
}

}  // namespace detail

CompileResult compile_target(const Molecule& m, const GateTarget& target, const CompileOptions& o,
                             const std::string& name, const std::string& cache_dir,
                             const ProgressCallback& progress) {
  o.validate(m);
  // A team's rank 0 alone reads and writes the cache (the others may run on machines that do
  // not see it) and tells the others what it found: every rank then runs the same GRAPE.
  const bool root = team_root(o.team);
  detail::CacheLookup lookup;
  if (root) lookup = detail::look_up_cache(m, target, o, name, cache_dir);
  if (team_shared(o.team)) {
    std::string text = root ? detail::lookup_text(lookup) : std::string();
    o.team->broadcast(text);
    if (!root) lookup = detail::parse_lookup(text, name, cache_key(m, target, o));
  }
  if (lookup.cached) return *lookup.cached;
  CompileResult r = detail::compile_fresh(m, target, o, name, lookup, progress);
  // An interrupted run is what the caller stopped, not what these options give: never cached.
  if (!cache_dir.empty() && root && r.summary.termination != Termination::kInterrupted)
    detail::write_cached(cache_dir, r, warm_start_family(m, target, o));
  return r;
}

double partial_swap_bound_s(double theta_rad, double j_hz) {
  if (j_hz == 0.0) return 0.0;
  return 2.0 * std::abs(theta_rad) / (kPi * std::abs(j_hz));
}

}  // namespace nmrc::compiler
