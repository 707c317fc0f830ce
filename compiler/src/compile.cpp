#include "nmrc/compiler/compile.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/propagators.hpp"
#include "nmrc/spectrometer/propagation.hpp"

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
      e.push_back({o.b1_scale[i], off, o.b1_weight.empty() ? 1.0 : o.b1_weight[i]});
  return e;
}

json matrix_json(const Mat& m) {
  json re = json::array(), im = json::array();
  for (int i = 0; i < m.rows(); ++i) {
    json r = json::array(), q = json::array();
    for (int j = 0; j < m.cols(); ++j) {
      r.push_back(m(i, j).real());
      q.push_back(m(i, j).imag());
    }
    re.push_back(r);
    im.push_back(q);
  }
  return json{{"real", re}, {"imag", im}};
}

[[noreturn]] void fail(const std::string& where, const std::string& field,
                       const std::string& rule) {
  throw InputError(where + ": " + field + ": " + rule);
}

Mat matrix_from_json(const json& j, const std::string& where, const std::string& field) {
  if (!j.is_object() || !j.contains("real") || !j.contains("imag") || !j["real"].is_array() ||
      !j["imag"].is_array())
    fail(where, field, "must be {\"real\": [[...]], \"imag\": [[...]]}");
  const auto& re = j["real"];
  const auto& im = j["imag"];
  const size_t n = re.size();
  if (n == 0 || im.size() != n)
    fail(where, field, "real and imag must be square lists of equal size");
  Mat m(n, n);
  for (size_t i = 0; i < n; ++i) {
    if (!re[i].is_array() || !im[i].is_array() || re[i].size() != n || im[i].size() != n)
      fail(where, field, "real and imag must be square lists of equal size");
    for (size_t k = 0; k < n; ++k) {
      if (!re[i][k].is_number() || !im[i][k].is_number())
        fail(where, field, "entries must be numbers");
      m(i, k) = cplx(re[i][k].get<double>(), im[i][k].get<double>());
    }
  }
  return m;
}

std::string hex64(unsigned long long h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", h);
  return buf;
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
    p.channels.push_back(cc);
  }
  p.target = target.full(n);
  p.norm = target.norm(n);
  p.steps = o.resolved_steps();
  p.dt_s = o.resolved_dt_s();
  p.ensemble = ensemble_of(o);
  return p;
}

GateTarget target_from_json(const std::string& text, const Molecule& m, const std::string& where) {
  GateTarget t;
  json d;
  if (!text.empty()) {
    try {
      d = json::parse(text);
    } catch (const json::exception& e) {
      fail(where, "target", std::string("invalid JSON: ") + e.what());
    }
  }
  if (!d.is_object() || !d.contains("gate") || !d["gate"].is_string())
    fail(where, "target.gate", "missing (the pulse file does not say what it implements)");
  t.gate = d["gate"].get<std::string>();
  t.description_json = d.dump();
  std::vector<std::string> labels;
  if (d.contains("spins")) {
    if (!d["spins"].is_array()) fail(where, "target.spins", "must be a list of spin labels");
    for (const auto& l : d["spins"]) {
      if (!l.is_string()) fail(where, "target.spins", "must be a list of spin labels");
      labels.push_back(l.get<std::string>());
    }
  }
  for (const auto& l : labels) {
    const int k = m.index_of(l);
    if (k < 0)
      fail(where, "target.spins", "unknown spin " + l + " (known: " + m.labels_text() + ")");
    t.spins.push_back(k);
    t.spin_labels.push_back(l);
  }
  auto num = [&](const char* key) {
    if (!d.contains(key) || !d[key].is_number())
      fail(where, std::string("target.") + key, "missing number");
    return d[key].get<double>();
  };
  auto need_spins = [&](size_t count) {
    if (count > 0 && t.spins.size() != count)
      fail(where, "target.spins", "gate " + t.gate + " needs " + std::to_string(count) + " spins");
  };
  if (t.gate == "partial_swap") {
    need_spins(2);
    t.local = partial_swap_unitary(num("theta_rad"));
  } else if (t.gate == "zz") {
    need_spins(2);
    t.local = zz_unitary(num("theta_rad"));
  } else if (t.gate == "cnot") {
    need_spins(2);
    t.local = cnot_unitary();
  } else if (t.gate == "cz") {
    need_spins(2);
    t.local = cz_unitary();
  } else if (t.gate == "rotation") {
    if (t.spins.empty()) fail(where, "target.spins", "rotation needs at least one spin");
    if (d.contains("axis") && !d["axis"].is_string())
      fail(where, "target.axis", "must be a string (z, or absent)");
    if (d.contains("phase_rad") && !d["phase_rad"].is_number())
      fail(where, "target.phase_rad", "must be a number");
    const std::string axis = d.value("axis", std::string("phase"));
    const Mat r =
        rotation_unitary(num("angle_rad"), d.value("phase_rad", 0.0), axis == "z" ? 'z' : 'p');
    t.local = Mat::Identity(1, 1);
    for (size_t i = 0; i < t.spins.size(); ++i) t.local = kron(t.local, r);
  } else if (t.gate == "unitary" || t.gate == "ud") {
    if (!d.contains("local_unitary")) fail(where, "target.local_unitary", "missing");
    t.local = matrix_from_json(d["local_unitary"], where, "target.local_unitary");
    if (t.local.rows() != (1 << t.spins.size()))
      fail(where, "target.local_unitary", "dimension must be 2^(number of spins)");
    if (!is_unitary(t.local, 1e-6))
      fail(where, "target.local_unitary", "is not unitary (U^dag U != 1)");
  } else if (t.gate == "state_transfer") {
    t.state_transfer = true;
    if (!d.contains("transfers") || !d["transfers"].is_array() || d["transfers"].empty())
      fail(where, "target.transfers", "must be a non-empty list of {from, to}");
    for (const auto& tr : d["transfers"]) {
      if (!tr.is_object() || !tr.contains("from") || !tr.contains("to") ||
          !tr["from"].is_string() || !tr["to"].is_string())
        fail(where, "target.transfers", "each entry must be {\"from\": \"...\", \"to\": \"...\"}");
      const std::string from = tr["from"].get<std::string>();
      const std::string to = tr["to"].get<std::string>();
      if (from.find_first_not_of("01+-") != std::string::npos ||
          to.find_first_not_of("01+-") != std::string::npos)
        fail(where, "target.transfers", "use the characters 0, 1, +, - (one per spin)");
      if (from.size() != t.spins.size() || to.size() != t.spins.size())
        fail(where, "target.transfers", "each from/to needs one character (0, 1, +, -) per spin");
      t.transfers.push_back({product_state(from), product_state(to)});
    }
  } else {
    fail(where, "target.gate",
         "unknown gate " + t.gate +
             " (known: partial_swap, rotation, zz, cnot, cz, unitary, ud, state_transfer)");
  }
  return t;
}

std::string cache_key(const Molecule& m, const GateTarget& t, const CompileOptions& o) {
  json j;
  j["version"] = 2;  // 2: GRAPE maximises F instead of F^2 (other pulses for the same seed)
  const Mat h = m.hamiltonian(o.strong_coupling);
  std::vector<double> hd;
  for (int i = 0; i < h.rows(); ++i)
    for (int k = 0; k < h.cols(); ++k) {
      hd.push_back(h(i, k).real());
      hd.push_back(h(i, k).imag());
    }
  j["hamiltonian"] = hd;
  json ch = json::array();
  for (const auto& c : m.channels)
    ch.push_back({c.name, c.carrier_hz, c.max_rf_hz, m.spins_on(m.channel_index(c.name))});
  j["channels"] = ch;
  j["target"] = json::parse(t.description_json);
  const Mat w = t.full(m.size());
  j["target_matrix"] = matrix_json(w);
  j["options"] = json::parse(o.to_json());
  const std::string s = j.dump();
  unsigned long long hsh = 1469598103934665603ull;  // FNV-1a 64
  for (unsigned char ch2 : s) {
    hsh ^= ch2;
    hsh *= 1099511628211ull;
  }
  return hex64(hsh);
}

CompileResult compile_target(const Molecule& m, const GateTarget& target, const CompileOptions& o,
                             const std::string& name, const std::string& cache_dir,
                             const ProgressCallback& progress) {
  CompileResult r;
  r.cache_key = cache_key(m, target, o);
  const std::string cache_file = cache_dir.empty() ? "" : cache_dir + "/" + r.cache_key + ".json";
  if (!cache_file.empty() && std::filesystem::exists(cache_file)) {
    try {
      const json j = json::parse(read_file(cache_file));
      r.pulse = parse_pulse_json(j.at("pulse").dump(), cache_file);
      r.pulse.name = name;
      r.pulse.source.clear();
      const json& s = j.at("summary");
      r.summary.termination = static_cast<Termination>(s.at("termination").get<int>());
      r.summary.message = s.at("message").get<std::string>();
      r.summary.iterations = s.at("iterations").get<int>();
      r.summary.evaluations = s.at("evaluations").get<int>();
      r.summary.fidelity = s.at("fidelity").get<std::vector<double>>();
      r.summary.fidelity_min = s.at("fidelity_min").get<double>();
      r.summary.fidelity_mean = s.at("fidelity_mean").get<double>();
      r.summary.wall_s = s.at("wall_s").get<double>();
      r.summary.reached_target = s.at("reached_target").get<bool>();
      r.summary.best_start = s.at("best_start").get<int>();
      r.from_cache = true;
      return r;
    } catch (const std::exception&) {
      // A damaged cache entry is ignored and rewritten.
    }
  }
  const GrapeProblem p = build_problem(m, target, o);
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
  GrapeResult g = optimise(p, go, progress);
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
    pc.ux_hz = g.u_hz.row(2 * c).transpose();
    pc.uy_hz = g.u_hz.row(2 * c + 1).transpose();
    pulse.channels.push_back(pc);
  }
  pulse.target_json = target.description_json;
  pulse.fidelity_definition = target.fidelity_definition();
  pulse.b1_scale = o.b1_scale;
  pulse.offset_hz = o.offset_hz;
  pulse.ensemble_values = g.summary.fidelity;
  pulse.ensemble_min = g.summary.fidelity_min;
  pulse.fidelity_target = o.fidelity_target;
  {
    GrapeProblem nominal = p;
    nominal.ensemble = {EnsembleMember{}};
    std::vector<double> f;
    ensemble_objective(nominal, g.u_hz, nullptr, &f, 1);
    pulse.fidelity_nominal = f[0];
  }
  if (!cache_file.empty()) {
    json s;
    s["termination"] = static_cast<int>(r.summary.termination);
    s["message"] = r.summary.message;
    s["iterations"] = r.summary.iterations;
    s["evaluations"] = r.summary.evaluations;
    s["fidelity"] = r.summary.fidelity;
    s["fidelity_min"] = r.summary.fidelity_min;
    s["fidelity_mean"] = r.summary.fidelity_mean;
    s["wall_s"] = r.summary.wall_s;
    s["reached_target"] = r.summary.reached_target;
    s["best_start"] = r.summary.best_start;
    make_directories(cache_dir);
    write_file_atomic(cache_file,
                      json{{"pulse", json::parse(pulse_file_text(pulse))}, {"summary", s}}.dump());
  }
  return r;
}

namespace {

// The pade engine: the Hamiltonian from the molecule's parameters (docs/conventions.md), built
// here term by term with Kronecker products rather than through Molecule::hamiltonian/control.
// Nominal fidelity, then every (B1 scale, offset) member of the pulse's ensemble, into res.
template <class Fidelity>
void evaluate_ensemble(ValidationResult& res, const CompiledPulse& pulse, Fidelity&& fidelity_at) {
  res.nominal = fidelity_at(1.0, 0.0);
  res.min = 1.0;
  for (double b1 : pulse.b1_scale)
    for (double off : pulse.offset_hz) {
      res.b1_scale.push_back(b1);
      res.values.push_back(fidelity_at(b1, off));
      res.min = std::min(res.min, res.values.back());
    }
  res.passed = res.min >= res.target;
}

ValidationResult validate_pade(const CompiledPulse& pulse, const Molecule& molecule, int substeps) {
  // The Hamiltonian from the molecule's parameters (docs/conventions.md), built here term by
  // term with Kronecker products rather than through Molecule::hamiltonian/control.
  const int n = molecule.size();
  const int d = 1 << n;
  const std::string where = pulse.name.empty() ? std::string("pulse") : pulse.name;
  auto ix = [&](char axis, int k) {
    std::vector<Mat> f(n, Mat::Identity(2, 2));
    f[k] = 0.5 * pauli(axis);
    return kron_all(f);
  };
  std::vector<double> carrier(n, 0.0);
  std::vector<int> chan_of_spin(n, -1);
  std::vector<const PulseChannel*> pc;
  for (const auto& c : pulse.channels) {
    const int ci = molecule.channel_index(c.name);
    if (ci < 0)
      throw InputError(where + ": channels." + c.name + ": not a channel of molecule " +
                       molecule.name);
    for (int k = 0; k < n; ++k)
      if (molecule.nuclei[k].channel == c.name) {
        carrier[k] = c.carrier_hz.value_or(molecule.channels[ci].carrier_hz);
        chan_of_spin[k] = static_cast<int>(pc.size());
      }
    pc.push_back(&c);
  }
  for (int k = 0; k < n; ++k)
    if (chan_of_spin[k] < 0) carrier[k] = molecule.channel_of(k).carrier_hz;
  Mat h0 = Mat::Zero(d, d);
  for (int k = 0; k < n; ++k)
    h0 += kTwoPi * (molecule.nuclei[k].offset_hz - carrier[k]) * ix('Z', k);
  for (const auto& cp : molecule.couplings) h0 += kTwoPi * cp.j_hz * ix('Z', cp.a) * ix('Z', cp.b);
  std::vector<Mat> opx(pc.size(), Mat::Zero(d, d)), opy(pc.size(), Mat::Zero(d, d));
  for (int k = 0; k < n; ++k)
    if (chan_of_spin[k] >= 0) {
      opx[chan_of_spin[k]] += kTwoPi * ix('X', k);
      opy[chan_of_spin[k]] += kTwoPi * ix('Y', k);
    }
  const GateTarget target = target_from_json(pulse.target_json, molecule, where);
  const Mat w = target.full(n);
  const double norm = target.norm(n);
  const int steps = static_cast<int>(pulse.channels[0].ux_hz.size());
  const double h = pulse.dt_s / substeps;
  ValidationResult res;
  res.name = pulse.name;
  res.target = pulse.fidelity_target;
  res.engine = "compiler fine-step Pade expm (" + std::to_string(substeps) + " substeps per step)";
  auto fidelity_at = [&](double b1, double off) {
    Mat u = Mat::Identity(d, d);
    Mat hz = h0;
    if (off != 0.0)
      for (int k = 0; k < n; ++k)
        if (chan_of_spin[k] >= 0) hz += kTwoPi * off * ix('Z', k);
    for (int s = 0; s < steps; ++s) {
      Mat hs = hz;
      for (size_t c = 0; c < pc.size(); ++c)
        hs += b1 * (pc[c]->ux_hz(s) * opx[c] + pc[c]->uy_hz(s) * opy[c]);
      const Mat step = expm(cplx(0.0, -h) * hs);
      for (int q = 0; q < substeps; ++q) u = step * u;
    }
    return std::abs((w.adjoint() * u).trace()) / norm;
  };
  evaluate_ensemble(res, pulse, fidelity_at);
  return res;
}

// The spectrometer engine (nmrc::spectrometer::simulate_unitary / simulate_superoperator).
ValidationResult validate_spectrometer(const CompiledPulse& pulse, const Molecule& molecule_in,
                                       bool relaxation) {
  Molecule molecule = molecule_in;
  const std::string where = pulse.name.empty() ? std::string("pulse") : pulse.name;
  for (const auto& c : pulse.channels) {
    const int ci = molecule.channel_index(c.name);
    if (ci < 0)
      throw InputError(where + ": channels." + c.name + ": not a channel of molecule " +
                       molecule.name);
    if (c.carrier_hz) molecule.channels[ci].carrier_hz = *c.carrier_hz;  // the pulse's frame
  }
  const int n = molecule.size();
  const GateTarget target = target_from_json(pulse.target_json, molecule, where);
  const Mat w = target.full(n);
  const double norm = target.norm(n);
  const ShapedPulseElement e = pulse.element(molecule);
  ValidationResult res;
  res.name = pulse.name;
  res.target = pulse.fidelity_target;
  res.engine = "spectrometer exact";
  auto fidelity_at = [&](double b1, double off) {
    spectrometer::PropagationOptions po;
    if (off != 0.0) {
      po.offset_error_hz.assign(n, 0.0);
      for (int k = 0; k < n; ++k)
        for (const auto& c : pulse.channels)
          if (molecule.nuclei[k].channel == c.name) po.offset_error_hz[k] = off;
    }
    const Mat u = spectrometer::simulate_unitary(molecule, e, b1, po);
    return std::abs((w.adjoint() * u).trace()) / norm;
  };
  evaluate_ensemble(res, pulse, fidelity_at);
  if (relaxation && !target.state_transfer) {
    res.relaxation = true;
    res.engine += " + Lindblad relaxation";
    // Nominal B1 only: one 4^n superoperator per step is costly.
    const Mat s = spectrometer::simulate_superoperator(molecule, e, 1.0);
    res.process_relaxed = {spectrometer::process_fidelity(s, w)};
    res.process_relaxed_nominal = res.process_relaxed_min = res.process_relaxed[0];
  }
  return res;
}

}  // namespace

ValidationResult validate_pulse(const CompiledPulse& pulse, const Molecule& molecule,
                                const ValidationOptions& options) {
  if (options.engine == "pade")
    return validate_pade(pulse, molecule, std::max(1, options.substeps));
  if (options.engine != "spectrometer")
    throw InputError("validation engine = " + options.engine + ": must be spectrometer or pade");
  return validate_spectrometer(pulse, molecule, options.relaxation);
}

double partial_swap_bound_s(double theta_rad, double j_hz) {
  if (j_hz == 0.0) return 0.0;
  return 2.0 * std::abs(theta_rad) / (kPi * std::abs(j_hz));
}

}  // namespace nmrc::compiler
