// The pulse cache: DIR/<key>.json holds a compiled pulse (nmrc-pulse/1) and its GRAPE summary,
// keyed by a hash of everything that changes the result (cache_key, compile.hpp).
#include "pulse_cache.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "nmrc/core/hash.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/json_input.hpp"
#include "nmrc/core/matrix_json.hpp"

namespace nmrc::compiler {

using nlohmann::json;

namespace {

// The object form of core's one matrix layout (matrix_json.hpp).
json matrix_json(const Mat& m) { return json::parse(nmrc::matrix_json(m)); }

// The checksum of an entry: over the compact text of its pulse and its summary.
std::string entry_checksum(const json& pulse, const json& summary) {
  return content_hash_hex(pulse.dump() + "\n" + summary.dump());
}

}  // namespace

namespace {

// What a cache key and a warm-start family share: the GRAPE Hamiltonian, the channels and the
// target.
json problem_identity(const Molecule& m, const GateTarget& t, const CompileOptions& o) {
  json j;
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
  return j;
}

}  // namespace

std::string cache_key(const Molecule& m, const GateTarget& t, const CompileOptions& o) {
  json j = problem_identity(m, t, o);
  j["version"] = 2;  // 2: GRAPE maximises F instead of F^2 (other pulses for the same seed)
  j["options"] = json::parse(o.to_json());
  return content_hash_hex(j.dump());
}

std::string warm_start_family(const Molecule& m, const GateTarget& t, const CompileOptions& o) {
  json j = problem_identity(m, t, o);
  j["family"] = 1;
  j["steps"] = o.resolved_steps();
  j["dt_s"] = o.resolved_dt_s();
  return content_hash_hex(j.dump());
}

namespace detail {

namespace {

// A cache entry's JSON when its content matches its recorded checksum; nullopt otherwise (an
// entry damaged, truncated by a crash of an older version or edited by hand is not trusted).
// The folder itself must be trusted (read_cache_file: this user's, writable by nobody else), so
// an entry cannot be planted; the checksum catches damage, not forgery.
std::optional<json> read_verified(const std::string& cache_dir, const std::string& name) {
  const std::string cache_file = cache_dir + "/" + name;
  try {
    const auto bytes = read_cache_file(cache_dir, name);
    if (!bytes) return std::nullopt;
    const std::string& text = *bytes;
    check_json_depth(text, cache_file);
    json j = json::parse(text);
    if (!j.is_object() || !j.contains("checksum") || !j["checksum"].is_string() ||
        !j.contains("pulse") || !j.contains("summary") ||
        j["checksum"].get<std::string>() != entry_checksum(j.at("pulse"), j.at("summary")))
      return std::nullopt;
    return j;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<WarmStart> find_warm_start(const std::string& cache_dir, const std::string& family,
                                         const std::string& exclude_key) {
  // Candidates in name order (the choice must not depend on the directory's listing order), at
  // most kMaxWarmStartEntries of them read (docs/limits.md).
  std::vector<std::string> names = cache_file_names(cache_dir, ".json", kMaxWarmStartEntries + 1);
  names.erase(std::remove(names.begin(), names.end(), exclude_key + ".json"), names.end());
  if (names.size() > kMaxWarmStartEntries) names.resize(kMaxWarmStartEntries);
  std::optional<WarmStart> best;
  for (const auto& name : names) {
    const auto j = read_verified(cache_dir, name);
    const std::string file = cache_dir + "/" + name;
    if (!j || !j->contains("family") || !(*j)["family"].is_string() ||
        (*j)["family"].get<std::string>() != family)
      continue;
    try {
      const double fmin = j->at("summary").at("fidelity_min").get<double>();
      if (!std::isfinite(fmin) || (best && fmin <= best->fidelity_min)) continue;
      best = WarmStart{name.substr(0, name.size() - 5), fmin,
                       parse_pulse_json(j->at("pulse").dump(), file)};
    } catch (const std::exception&) {
      continue;  // an entry of another layout: not a candidate
    }
  }
  return best;
}

std::optional<CompileResult> read_cached(const std::string& cache_dir, const std::string& key,
                                         const std::string& name) {
  const std::string cache_file = cache_dir + "/" + key + ".json";
  CompileResult r;
  r.cache_key = key;
  try {
    const auto verified = read_verified(cache_dir, key + ".json");
    if (!verified) return std::nullopt;
    const json& j = *verified;
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
    return std::nullopt;  // a damaged cache entry is ignored and rewritten
  }
}

void write_cached(const std::string& cache_dir, const CompileResult& r, const std::string& family) {
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
  const json pulse = json::parse(pulse_file_text(r.pulse));
  json entry{{"pulse", pulse}, {"summary", s}, {"checksum", entry_checksum(pulse, s)}};
  if (!family.empty()) entry["family"] = family;
  // A cache that cannot take the entry (full, read-only, not trusted) is warned about once by
  // core and skipped: the result itself is the caller's to write.
  write_cache_file(cache_dir, r.cache_key + ".json", entry.dump());
}

}  // namespace detail

}  // namespace nmrc::compiler
