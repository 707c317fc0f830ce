#include "nmrc/spectrometer/acquire_program.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/yaml_input.hpp"

namespace nmrc::spectrometer {

namespace {

constexpr double kDeg = kPi / 180.0;

std::string resolve(const std::string& base_dir, const std::string& p) {
  const std::filesystem::path path(p);
  if (path.is_absolute() || base_dir.empty()) return p;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

std::string channel_names(const Molecule& m) {
  std::string s;
  for (const auto& c : m.channels) s += (s.empty() ? "" : ", ") + c.name;
  return s;
}

int channel_of(const YamlField& f, const Molecule& m) {
  const int c = m.channel_index(f.as_string());
  if (c < 0) f.fail("unknown channel (known: " + channel_names(m) + ")");
  return c;
}

int spin_of(const YamlField& f, const Molecule& m) {
  const std::string name = f.as_string();
  const int k = m.index_of(name);
  if (k < 0) f.fail("unknown spin " + name + " (known: " + m.labels_text() + ")");
  return k;
}

// Shortest T1 among the spins on `channels` (a pulse longer than it needs acknowledging).
std::pair<double, std::string> shortest_t1(const Molecule& m, const std::vector<int>& channels) {
  double t1 = 1e300;
  std::string who;
  for (int c : channels)
    for (int k : m.spins_on(c))
      if (m.nuclei[k].t1_s < t1) {
        t1 = m.nuclei[k].t1_s;
        who = m.nuclei[k].label;
      }
  return {t1, who};
}

void check_long(const YamlField& where, const Molecule& m, const std::vector<int>& channels,
                double duration_s, bool acknowledged) {
  const auto [t1, who] = shortest_t1(m, channels);
  if (duration_s > t1 && !acknowledged)
    where.fail("pulse lasts " + fmt::format("{:.4g}", duration_s) +
               " s, longer than T1 = " + fmt::format("{:.4g}", t1) + " s of " + who +
               "; set acknowledge_long: true if intended");
}

Element parse_element(const YamlField& item, const Molecule& m, const std::string& base_dir) {
  item.expect_map();
  const auto entries = item.entries();
  if (entries.size() != 1)
    item.fail(
        "each sequence entry must be one of hard_pulse, rotation, delay, gradient, "
        "shaped_pulse (a mapping with one key)");
  const std::string& kind = entries.front().first;
  const YamlField& f = entries.front().second;
  f.expect_map();
  if (kind == "hard_pulse") {
    f.allow_keys({"channel", "angle_deg", "phase_deg", "rf_hz", "acknowledge_long"});
    HardPulseElement p;
    p.channel = channel_of(f.at("channel"), m);
    p.angle_rad = f.at("angle_deg").as_double() * kDeg;
    if (auto ph = f.find("phase_deg")) p.phase_rad = ph->as_double() * kDeg;
    p.rf_hz = m.channels[p.channel].max_rf_hz;
    if (auto rf = f.find("rf_hz")) {
      p.rf_hz = rf->as_positive();
      if (p.rf_hz > m.channels[p.channel].max_rf_hz)
        rf->fail("exceeds the channel's max_rf_hz (" +
                 fmt::format("{:.0f}", m.channels[p.channel].max_rf_hz) + " Hz)");
    }
    if (p.angle_rad == 0.0) f.at("angle_deg").fail("must not be 0");
    const bool ack = f.has("acknowledge_long") && f.at("acknowledge_long").as_bool();
    check_long(f, m, {p.channel}, std::abs(p.duration_s()), ack);
    return p;
  }
  if (kind == "rotation") {
    f.allow_keys({"spins", "angle_deg", "phase_deg"});
    RotationElement r;
    const YamlField spins = f.at("spins");
    if (spins.is_scalar()) {
      r.spins.push_back(spin_of(spins, m));
    } else {
      for (const auto& s : spins.items()) r.spins.push_back(spin_of(s, m));
      if (r.spins.empty()) spins.fail("must name at least one spin");
    }
    r.angle_rad = f.at("angle_deg").as_double() * kDeg;
    if (auto ph = f.find("phase_deg")) r.phase_rad = ph->as_double() * kDeg;
    return r;
  }
  if (kind == "delay") {
    f.allow_keys({"duration_s"});
    return DelayElement{f.at("duration_s").as_positive()};
  }
  if (kind == "gradient") {
    f.allow_keys({"duration_s", "strength_g_per_cm", "shape_factor"});
    GradientElement g;
    g.duration_s = f.at("duration_s").as_positive();
    g.strength_g_per_cm = f.at("strength_g_per_cm").as_double();
    if (auto s = f.find("shape_factor")) g.shape_factor = s->as_positive();
    return g;
  }
  if (kind == "shaped_pulse") {
    f.allow_keys({"file", "acknowledge_long"});
    const YamlField file = f.at("file");
    ShapedPulseElement p;
    try {
      p = load_pulse_json(resolve(base_dir, file.as_string()), m);
    } catch (const InputError& e) {
      file.fail(e.what());
    }
    const bool ack = f.has("acknowledge_long") && f.at("acknowledge_long").as_bool();
    check_long(f, m, p.channels, p.duration_s(), ack);
    return p;
  }
  item.fail("unknown element " + kind +
            " (known: hard_pulse, rotation, delay, gradient, shaped_pulse)");
}

AcquireProgram parse(const YamlField& root, const std::string& base_dir) {
  root.expect_map();
  root.allow_keys({"format", "molecule", "sample", "sequence", "acquisition"});
  if (auto fm = root.find("format"))
    if (fm->as_string() != "nmrc-acquire/1")
      fm->fail("unsupported format (expected nmrc-acquire/1)");
  AcquireProgram p;
  p.path = root.file();
  const YamlField mol = root.at("molecule");
  p.molecule_path = resolve(base_dir, mol.as_string());
  if (!std::filesystem::exists(p.molecule_path))
    mol.fail("file not found (" + p.molecule_path + "; paths are relative to the program file)");
  p.sample.molecule = load_molecule(p.molecule_path);
  const Molecule& m = p.sample.molecule;

  if (auto s = root.find("sample")) {
    s->expect_map();
    s->allow_keys({"relaxation", "strong_coupling", "engine", "b1", "offset_error_hz", "gradient"});
    if (auto r = s->find("relaxation")) p.sample.relaxation = r->as_bool();
    if (auto r = s->find("strong_coupling")) p.sample.strong_coupling = r->as_bool();
    if (auto e = s->find("engine")) {
      const std::string v = e->as_string();
      if (v == "exact")
        p.run.engine = Engine::kExact;
      else if (v == "odeint")
        p.run.engine = Engine::kOdeint;
      else
        e->fail("must be exact or odeint");
    }
    if (auto b = s->find("b1")) {
      b->expect_map();
      b->allow_keys({"scale", "weights"});
      const YamlField sc = b->at("scale");
      p.sample.b1_scale = sc.as_double_list();
      if (p.sample.b1_scale.empty()) sc.fail("must list at least one value");
      for (double v : p.sample.b1_scale)
        if (!(v > 0.0)) sc.fail("every B1 scale must be > 0");
      p.sample.b1_weight.assign(p.sample.b1_scale.size(), 1.0);
      if (auto w = b->find("weights")) {
        p.sample.b1_weight = w->as_double_list();
        if (p.sample.b1_weight.size() != p.sample.b1_scale.size())
          w->fail("must have one weight per scale value (" +
                  std::to_string(p.sample.b1_scale.size()) + ")");
        double sum = 0.0;
        for (double v : p.sample.b1_weight) {
          if (!(v >= 0.0)) w->fail("weights must be >= 0");
          sum += v;
        }
        if (!(sum > 0.0)) w->fail("weights must not all be zero");
      }
    }
    if (auto o = s->find("offset_error_hz")) {
      o->expect_map();
      p.sample.offset_error_hz.assign(m.size(), 0.0);
      for (const auto& [name, v] : o->entries()) {
        const int k = m.index_of(name);
        if (k < 0) v.fail("unknown spin " + name + " (known: " + m.labels_text() + ")");
        p.sample.offset_error_hz[k] = v.as_double();
      }
    }
    if (auto g = s->find("gradient")) {
      g->expect_map();
      g->allow_keys({"mode", "slices", "length_cm"});
      if (auto md = g->find("mode")) {
        const std::string v = md->as_string();
        if (v == "exact")
          p.sample.gradient.mode = GradientMode::kExact;
        else if (v == "slices")
          p.sample.gradient.mode = GradientMode::kSlices;
        else
          md->fail("must be exact or slices");
      }
      if (auto sl = g->find("slices")) {
        const long v = sl->as_int();
        if (v < 1 || v > 100000) sl->fail("must be between 1 and 100000");
        p.sample.gradient.slices = static_cast<int>(v);
      }
      if (auto l = g->find("length_cm")) p.sample.gradient.length_cm = l->as_positive();
    }
  }

  const YamlField seq = root.at("sequence");
  seq.expect_sequence();
  for (const auto& item : seq.items())
    p.sequence.elements.push_back(parse_element(item, m, base_dir));
  p.sequence.name = std::filesystem::path(root.file()).stem().string();

  const YamlField acq = root.at("acquisition");
  acq.expect_map();
  acq.allow_keys({"channel", "sw_hz", "td", "receiver_phase_deg", "scans", "phase_cycle", "snr",
                  "seed", "processing"});
  AcquireElement a;
  a.channel = channel_of(acq.at("channel"), m);
  const YamlField sw = acq.at("sw_hz");
  a.sw_hz = sw.as_positive();
  const YamlField td = acq.at("td");
  const long tdv = td.as_int();
  if (tdv < 16 || tdv > (1L << 22)) td.fail("must be between 16 and 4194304");
  a.td = static_cast<int>(tdv);
  if (auto r = acq.find("receiver_phase_deg")) a.receiver_phase_rad = r->as_double() * kDeg;
  if (auto s = acq.find("scans")) {
    const long v = s->as_int();
    if (v < 1 || v > 1000000) s->fail("must be between 1 and 1000000");
    p.acquisition.scans = static_cast<int>(v);
  }
  if (auto c = acq.find("phase_cycle")) {
    const std::string v = c->as_string();
    if (v == "none")
      p.acquisition.phase_cycle = PhaseCycle::kNone;
    else if (v == "cyclops")
      p.acquisition.phase_cycle = PhaseCycle::kCyclops;
    else
      c->fail("must be none or cyclops");
    if (p.acquisition.phase_cycle == PhaseCycle::kCyclops && p.acquisition.scans % 4 != 0)
      c->fail("CYCLOPS needs a multiple of 4 scans (scans = " +
              std::to_string(p.acquisition.scans) + ")");
  }
  if (auto s = acq.find("snr")) p.acquisition.snr = s->as_nonnegative();
  if (auto s = acq.find("seed")) {
    const long v = s->as_int();
    if (v < 0) s->fail("must be >= 0");
    p.acquisition.seed = static_cast<std::uint64_t>(v);
  }
  bool zero_fill_requested = false;
  if (auto pr = acq.find("processing")) {
    pr->expect_map();
    pr->allow_keys({"zero_fill", "lb_hz", "gb_hz", "phase0_deg", "phase1_deg"});
    if (auto z = pr->find("zero_fill")) {
      const long v = z->as_int();
      if (v < a.td) z->fail("must be >= td (" + std::to_string(a.td) + ")");
      if (v > (1L << 24) || (v & (v - 1)) != 0) z->fail("must be a power of two (at most 2^24)");
      p.processing.zero_fill = static_cast<int>(v);
      zero_fill_requested = true;
    }
    if (auto v = pr->find("lb_hz")) p.processing.lb_hz = v->as_nonnegative();
    if (auto v = pr->find("gb_hz")) p.processing.gb_hz = v->as_nonnegative();
    if (auto v = pr->find("phase0_deg")) p.processing.phase0_rad = v->as_double() * kDeg;
    if (auto v = pr->find("phase1_deg")) p.processing.phase1_rad = v->as_double() * kDeg;
  }
  if (!zero_fill_requested && (a.td & (a.td - 1)) != 0)
    td.fail("must be a power of two for the FFT unless processing.zero_fill is set");
  const auto folds = folded_lines(m, a.channel, a.sw_hz);
  if (!folds.empty()) {
    // Say which lines fold, grouped by spin: "C1 lines 1-8 (5743.3..5823.9 Hz -> -4256.7..)".
    std::string list;
    double fmax = 0.0;
    for (const int k : m.spins_on(a.channel)) {
      int first = 0, last = 0, idx = 0;
      double lo = 0, hi = 0, flo = 0, fhi = 0;
      for (const auto& l : m.lines()) {
        if (l.spin != k) continue;
        ++idx;
        const double f = l.frequency_hz;
        fmax = std::max(fmax, std::abs(f));
        if (f >= -0.5 * a.sw_hz && f < 0.5 * a.sw_hz) continue;
        const double folded = f - a.sw_hz * std::floor((f + 0.5 * a.sw_hz) / a.sw_hz);
        if (first == 0) {
          first = idx;
          lo = f;
          flo = folded;
        }
        last = idx;
        hi = f;
        fhi = folded;
      }
      if (first == 0) continue;
      list += (list.empty() ? "" : "; ") + m.nuclei[k].label + " lines " + std::to_string(first) +
              "-" + std::to_string(last) + " at " + fmt::format("{:.1f}", lo) + ".." +
              fmt::format("{:.1f}", hi) + " Hz fold to " + fmt::format("{:.1f}", flo) + ".." +
              fmt::format("{:.1f}", fhi) + " Hz";
    }
    sw.fail("too small: " + std::to_string(folds.size()) + " lines fold (" + list +
            "); use sw_hz > " + fmt::format("{:.0f}", 2.0 * fmax + 200.0));
  }
  p.sequence.elements.push_back(a);
  p.sample.validate();
  return p;
}

}  // namespace

AcquireProgram load_acquire_program(const std::string& path) {
  const std::string base = std::filesystem::path(path).parent_path().string();
  return parse(YamlField::load_file(path), base);
}

AcquireProgram parse_acquire_program(const std::string& text, const std::string& name,
                                     const std::string& base_dir) {
  return parse(YamlField::load_string(text, name), base_dir);
}

ShapedPulseElement load_pulse_json(const std::string& path, const Molecule& m) {
  const std::string text = read_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw InputError(path + ": invalid JSON: " + e.what());
  }
  auto bad = [&path](const std::string& field, const std::string& rule) {
    throw InputError(path + ": " + field + ": " + rule);
  };
  if (!j.is_object()) bad("(root)", "must be a JSON object");
  if (!j.contains("format") || j["format"] != "nmrc-pulse/1")
    bad("format", "must be \"nmrc-pulse/1\"");
  if (!j.contains("dt_s") || !j["dt_s"].is_number() || !(j["dt_s"].get<double>() > 0))
    bad("dt_s", "must be a number > 0");
  if (!j.contains("channels") || !j["channels"].is_object() || j["channels"].empty())
    bad("channels", "must map channel names to waveforms");
  ShapedPulseElement p;
  p.name = std::filesystem::path(path).stem().string();
  p.dt_s = j["dt_s"].get<double>();
  size_t steps = 0;
  for (const auto& [name, ch] : j["channels"].items()) {
    const int c = m.channel_index(name);
    const std::string field = "channels." + name;
    if (c < 0) bad(field, "unknown channel (known: " + channel_names(m) + ")");
    if (!ch.is_object()) bad(field, "must be an object with ux_hz and uy_hz");
    const double carrier = ch.value("carrier_hz", m.channels[c].carrier_hz);
    if (std::abs(carrier - m.channels[c].carrier_hz) > 1e-9)
      bad(field + ".carrier_hz", fmt::format("{:.6g}", carrier) +
                                     " differs from the molecule's carrier " +
                                     fmt::format("{:.6g}", m.channels[c].carrier_hz) +
                                     " Hz: compile the pulse for this molecule's frame");
    RVec arr[2];
    const char* keys[2] = {"ux_hz", "uy_hz"};
    for (int a = 0; a < 2; ++a) {
      if (!ch.contains(keys[a]) || !ch[keys[a]].is_array())
        bad(field + "." + keys[a], "must be a list of numbers");
      const auto& v = ch[keys[a]];
      arr[a].resize(static_cast<Eigen::Index>(v.size()));
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_number())
          bad(field + "." + keys[a] + "[" + std::to_string(i) + "]", "must be a number");
        arr[a](static_cast<Eigen::Index>(i)) = v[i].get<double>();
      }
    }
    if (arr[0].size() != arr[1].size() || arr[0].size() == 0)
      bad(field, "ux_hz and uy_hz must have the same, non-zero length");
    if (steps != 0 && static_cast<size_t>(arr[0].size()) != steps)
      bad(field, "every channel must have the same number of steps");
    steps = arr[0].size();
    const double amax = (arr[0].array().square() + arr[1].array().square()).sqrt().maxCoeff();
    if (amax > m.channels[c].max_rf_hz * (1 + 1e-9))
      bad(field, "amplitude " + fmt::format("{:.1f}", amax) + " Hz exceeds max_rf_hz " +
                     fmt::format("{:.1f}", m.channels[c].max_rf_hz));
    p.channels.push_back(c);
    p.ux_hz.push_back(arr[0]);
    p.uy_hz.push_back(arr[1]);
  }
  return p;
}

}  // namespace nmrc::spectrometer
