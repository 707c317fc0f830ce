#include "nmrc/core/pulse_file.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/json_input.hpp"
#include "nmrc/core/text.hpp"

namespace nmrc {

namespace {

using nlohmann::json;

std::string fmt_g6(double v) { return fmt::format("{:.6g}", v); }

// The value as it appears in the file, shortened for a message.
std::string value_text(const json& v) {
  std::string s = v.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return escape_text(s);
}

// Reads one pulse document; every rule of parse_pulse_json lives here.
class Reader {
 public:
  Reader(std::string where, const std::string& text) : where_(std::move(where)), text_(text) {}

  // "file:line:col" of a field (json_input.hpp).
  std::string at(const std::string& field) const {
    return escape_text(where_) + ":" + json_location(text_, field);
  }
  [[noreturn]] void fail(const std::string& field, const std::string& rule) const {
    throw InputError(at(field) + ": " + field + ": " + rule);
  }
  [[noreturn]] void fail(const std::string& field, const json& v, const std::string& rule) const {
    throw InputError(at(field) + ": " + field + " = " + value_text(v) + ": " + rule);
  }

  double number(const json& v, const std::string& field) const {
    if (!v.is_number()) fail(field, v, "must be a number");
    const double x = v.get<double>();
    if (!std::isfinite(x)) fail(field, v, "must be finite");
    return x;
  }
  std::string text(const json& v, const std::string& field) const {
    if (!v.is_string()) fail(field, v, "must be a string");
    if (auto problem = text_problem(v.get<std::string>())) fail(field, v, *problem);
    return v.get<std::string>();
  }
  // A name: it becomes a file name, a TopSpin shape name and a label (core/text.hpp). Empty
  // means unnamed (what the writer writes for a pulse without a name).
  std::string name(const json& v, const std::string& field) const {
    std::string s = text(v, field);
    if (!s.empty() && !is_safe_name(s)) fail(field, v, kNameRule);
    return s;
  }
  std::vector<double> numbers(const json& v, const std::string& field) const {
    if (!v.is_array()) fail(field, v, "must be a list of numbers");
    if (v.size() > static_cast<size_t>(kMaxPulseSteps))
      fail(field, "has " + std::to_string(v.size()) + " entries, more than the limit of " +
                      std::to_string(kMaxPulseSteps) + " steps (docs/limits.md)");
    std::vector<double> out;
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      out.push_back(number(v[i], field + "[" + std::to_string(i) + "]"));
    return out;
  }
  static RVec to_rvec(const std::vector<double>& v) {
    return Eigen::Map<const RVec>(v.data(), static_cast<Eigen::Index>(v.size()));
  }

  PulseData read(const json& j) const {
    if (!j.is_object()) fail("(document)", "must be a JSON object");
    if (!j.contains("format")) fail("format", "missing required key (\"nmrc-pulse/1\")");
    if (!j["format"].is_string() || j["format"].get<std::string>() != "nmrc-pulse/1")
      fail("format", j["format"], "must be \"nmrc-pulse/1\"");
    PulseData p;
    p.source = where_;
    p.name = j.contains("name") ? name(j["name"], "name")
                                : safe_name_from(std::filesystem::path(where_).stem().string());
    if (j.contains("molecule")) {
      p.molecule = text(j["molecule"], "molecule");
      p.molecule_location = at("molecule");
    }
    if (!j.contains("dt_s")) fail("dt_s", "missing required key");
    p.dt_s = number(j["dt_s"], "dt_s");
    if (!(p.dt_s > 0)) fail("dt_s", j["dt_s"], "must be > 0");
    if (!j.contains("channels")) fail("channels", "missing required key");
    const json& chs = j["channels"];
    if (!chs.is_object() || chs.empty())
      fail("channels", "must map channel names to {ux_hz, uy_hz}");
    size_t steps = 0;
    for (auto it = chs.begin(); it != chs.end(); ++it) {
      if (!is_safe_name(it.key()))
        fail("channels", "channel name \"" + escape_text(it.key()) + "\" " + kNameRule);
      const std::string base = "channels." + it.key();
      const json& c = it.value();
      if (!c.is_object()) fail(base, "must be an object with ux_hz and uy_hz");
      PulseChannel pc;
      pc.name = it.key();
      pc.location = at(base);
      if (c.contains("carrier_hz")) pc.carrier_hz = number(c["carrier_hz"], base + ".carrier_hz");
      if (c.contains("max_rf_hz")) {
        pc.max_rf_hz = number(c["max_rf_hz"], base + ".max_rf_hz");
        if (!(pc.max_rf_hz > 0)) fail(base + ".max_rf_hz", c["max_rf_hz"], "must be > 0");
      }
      if (c.contains("probe_q")) {
        pc.probe_q = number(c["probe_q"], base + ".probe_q");
        if (!(pc.probe_q > 0 && pc.probe_q <= kMaxProbeQ))
          fail(base + ".probe_q", c["probe_q"], "must be in (0, 100000]");
      }
      for (const char* axis : {"ux_hz", "uy_hz"})
        if (!c.contains(axis)) fail(base + "." + axis, "missing required key");
      pc.ux_hz = to_rvec(numbers(c["ux_hz"], base + ".ux_hz"));
      pc.uy_hz = to_rvec(numbers(c["uy_hz"], base + ".uy_hz"));
      if (pc.ux_hz.size() == 0) fail(base + ".ux_hz", "must be a non-empty list of numbers");
      if (pc.uy_hz.size() != pc.ux_hz.size())
        fail(base + ".uy_hz",
             "must have as many steps as ux_hz (" + std::to_string(pc.ux_hz.size()) + ")");
      if (steps == 0) steps = static_cast<size_t>(pc.ux_hz.size());
      if (static_cast<size_t>(pc.ux_hz.size()) != steps)
        fail(base + ".ux_hz",
             "every channel must have the same number of steps (" + std::to_string(steps) + ")");
      p.channels.push_back(std::move(pc));
    }
    if (j.contains("duration_s")) {
      const double d = number(j["duration_s"], "duration_s");
      if (std::abs(d - p.duration_s()) > 1e-9 * p.duration_s())
        fail("duration_s", j["duration_s"],
             "differs from steps * dt_s = " + fmt_g6(p.duration_s()) + " s");
    }
    if (j.contains("target")) {
      if (!j["target"].is_object()) fail("target", j["target"], "must be an object");
      p.target_json = j["target"].dump();
      p.target_location = at("target");
    }
    if (j.contains("fidelity")) read_fidelity(j["fidelity"], p);
    if (j.contains("decoupler")) p.decoupler = read_decoupler(j["decoupler"]);
    return p;
  }

 private:
  PulseDecoupler read_decoupler(const json& d) const {
    if (!d.is_object()) fail("decoupler", d, "must be an object");
    for (const char* key :
         {"sequence", "channel", "molecule", "b2_hz", "o2_ppm", "configurations", "fidelity_min"})
      if (!d.contains(key)) fail(std::string("decoupler.") + key, "missing required key");
    PulseDecoupler r;
    r.sequence = name(d["sequence"], "decoupler.sequence");
    r.channel = name(d["channel"], "decoupler.channel");
    r.molecule = name(d["molecule"], "decoupler.molecule");
    r.b2_hz = number(d["b2_hz"], "decoupler.b2_hz");
    if (!(r.b2_hz > 0 && r.b2_hz <= kMaxDecouplerB2Hz))
      fail("decoupler.b2_hz", d["b2_hz"], "must be in (0, 1000000] Hz");
    r.o2_ppm = number(d["o2_ppm"], "decoupler.o2_ppm");
    if (!(std::abs(r.o2_ppm) <= kMaxDecouplerO2Ppm))
      fail("decoupler.o2_ppm", d["o2_ppm"], "must be within -1000 to 1000 ppm");
    const double c = number(d["configurations"], "decoupler.configurations");
    if (!(c >= 1 && c <= kMaxDecouplerConfigurations && c == std::floor(c)))
      fail("decoupler.configurations", d["configurations"], "must be an integer 1 to 4096");
    r.configurations = static_cast<int>(c);
    r.fidelity_min = number(d["fidelity_min"], "decoupler.fidelity_min");
    if (!(r.fidelity_min >= 0 && r.fidelity_min <= 1))
      fail("decoupler.fidelity_min", d["fidelity_min"], "must be in [0, 1]");
    return r;
  }

  void read_fidelity(const json& f, PulseData& p) const {
    if (!f.is_object()) fail("fidelity", f, "must be an object");
    if (f.contains("definition"))
      p.fidelity_definition = text(f["definition"], "fidelity.definition");
    if (f.contains("nominal")) p.fidelity_nominal = number(f["nominal"], "fidelity.nominal");
    if (f.contains("target")) {
      p.fidelity_target = number(f["target"], "fidelity.target");
      if (!(p.fidelity_target > 0 && p.fidelity_target <= 1))
        fail("fidelity.target", f["target"], "must be in (0, 1]");
    }
    if (!f.contains("ensemble")) return;
    const json& e = f["ensemble"];
    if (!e.is_object()) fail("fidelity.ensemble", e, "must be an object");
    if (e.contains("b1_scale")) {
      p.b1_scale = numbers(e["b1_scale"], "fidelity.ensemble.b1_scale");
      for (double s : p.b1_scale)
        if (!(s > 0)) fail("fidelity.ensemble.b1_scale", e["b1_scale"], "every entry must be > 0");
    }
    if (e.contains("offset_hz"))
      p.offset_hz = numbers(e["offset_hz"], "fidelity.ensemble.offset_hz");
    if (e.contains("values")) p.ensemble_values = numbers(e["values"], "fidelity.ensemble.values");
    if (e.contains("min")) p.ensemble_min = number(e["min"], "fidelity.ensemble.min");
    if (p.b1_scale.empty()) p.b1_scale = {1.0};
    if (p.offset_hz.empty()) p.offset_hz = {0.0};
    if (p.b1_scale.size() * p.offset_hz.size() > kMaxPulseEnsembleMembers)
      fail("fidelity.ensemble", std::to_string(p.b1_scale.size()) + " B1 scales x " +
                                    std::to_string(p.offset_hz.size()) + " offsets: more than " +
                                    std::to_string(kMaxPulseEnsembleMembers) +
                                    " members (docs/limits.md)");
  }

  std::string where_;
  const std::string& text_;
};

std::vector<double> as_vector(const RVec& v) {
  return std::vector<double>(v.data(), v.data() + v.size());
}

}  // namespace

ShapedPulseElement PulseData::element(const Molecule& m) const {
  const std::string where = source.empty() ? (name.empty() ? std::string("pulse") : name) : source;
  auto fail = [&where](const std::string& field, const std::string& rule) {
    throw InputError(where + ": " + field + ": " + rule);
  };
  auto fail_channel = [&where](const PulseChannel& c, const std::string& field,
                               const std::string& rule) {
    throw InputError((c.location.empty() ? where : c.location) + ": " + field + ": " + rule);
  };
  if (!molecule.empty() && molecule != m.name)
    throw InputError((molecule_location.empty() ? where : molecule_location) + ": molecule = " +
                     molecule + ": pulse was compiled for another molecule than " + m.name);
  if (channels.empty()) fail("channels", "must name at least one channel");
  ShapedPulseElement e;
  e.name = name;
  e.dt_s = dt_s;
  for (const auto& c : channels) {
    const std::string field = "channels." + c.name;
    const int idx = m.channel_index(c.name);
    if (idx < 0) {
      std::string known;
      for (const auto& ch : m.channels) known += (known.empty() ? "" : ", ") + ch.name;
      fail_channel(c, field, "unknown channel (known: " + known + ")");
    }
    const Channel& mc = m.channels[idx];
    if (c.carrier_hz && std::abs(*c.carrier_hz - mc.carrier_hz) > 1e-9)
      fail_channel(c, field + ".carrier_hz = " + fmt_g6(*c.carrier_hz),
                   "differs from the molecule's carrier " + fmt_g6(mc.carrier_hz) +
                       " Hz: the pulse was made in another rotating frame (compile it for this "
                       "molecule's carrier)");
    if (c.max_rf_hz > mc.max_rf_hz * (1 + 1e-9))
      fail_channel(c, field + ".max_rf_hz = " + fmt_g6(c.max_rf_hz),
                   "exceeds the channel's max_rf_hz " + fmt_g6(mc.max_rf_hz) + " (molecule file)");
    const double limit = c.max_rf_hz > 0 ? c.max_rf_hz : mc.max_rf_hz;
    if (c.ux_hz.size() != c.uy_hz.size() || c.ux_hz.size() == 0)
      fail_channel(c, field, "ux_hz and uy_hz must have the same, non-zero length");
    for (Eigen::Index k = 0; k < c.ux_hz.size(); ++k) {
      const double a = std::hypot(c.ux_hz[k], c.uy_hz[k]);  // no overflow for |u| near 1e308
      if (!(a <= limit * (1 + 1e-9)))
        fail_channel(c, field,
                     "amplitude " + fmt_g6(a) + " Hz at step " + std::to_string(k) +
                         " exceeds max_rf_hz " + fmt_g6(limit));
    }
    e.channels.push_back(idx);
    e.ux_hz.push_back(c.ux_hz);
    e.uy_hz.push_back(c.uy_hz);
  }
  return e;
}

PulseData parse_pulse_json(const std::string& text, const std::string& where) {
  json j;
  check_json_depth(text, where);
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw InputError(where + ":" + text_line_col(text, e.byte == 0 ? 0 : e.byte - 1) +
                     ": invalid JSON: " + e.what());
  } catch (const json::exception& e) {
    throw InputError(where + ":" + json_error_location(text, e.what()) +
                     ": invalid JSON: " + e.what());
  }
  return Reader(where, text).read(j);
}

PulseData read_pulse_file(const std::string& path) {
  return parse_pulse_json(read_file(path), path);
}

std::string pulse_file_text(const PulseData& p) {
  json j;
  j["format"] = "nmrc-pulse/1";
  j["name"] = p.name;
  if (!p.molecule.empty()) j["molecule"] = p.molecule;
  j["duration_s"] = p.duration_s();
  j["dt_s"] = p.dt_s;
  json ch = json::object();
  for (const auto& c : p.channels) {
    json o = {{"ux_hz", as_vector(c.ux_hz)}, {"uy_hz", as_vector(c.uy_hz)}};
    if (c.carrier_hz) o["carrier_hz"] = *c.carrier_hz;
    if (c.max_rf_hz > 0) o["max_rf_hz"] = c.max_rf_hz;
    if (c.probe_q > 0) o["probe_q"] = c.probe_q;
    ch[c.name] = o;
  }
  j["channels"] = ch;
  if (!p.target_json.empty()) j["target"] = json::parse(p.target_json);
  if (!p.fidelity_definition.empty() || !p.ensemble_values.empty())
    j["fidelity"] = {{"definition", p.fidelity_definition},
                     {"nominal", p.fidelity_nominal},
                     {"target", p.fidelity_target},
                     {"ensemble",
                      {{"b1_scale", p.b1_scale},
                       {"offset_hz", p.offset_hz},
                       {"values", p.ensemble_values},
                       {"min", p.ensemble_min}}}};
  if (p.decoupler)
    j["decoupler"] = {{"sequence", p.decoupler->sequence},
                      {"channel", p.decoupler->channel},
                      {"molecule", p.decoupler->molecule},
                      {"b2_hz", p.decoupler->b2_hz},
                      {"o2_ppm", p.decoupler->o2_ppm},
                      {"configurations", p.decoupler->configurations},
                      {"fidelity_min", p.decoupler->fidelity_min}};
  return j.dump(1) + "\n";
}

}  // namespace nmrc
