#include "nmrc/core/program_front_end.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "nmrc/core/error.hpp"
#include "nmrc/core/limits.hpp"
#include "nmrc/core/text.hpp"
#include "nmrc/core/yaml_choice.hpp"

namespace nmrc {

namespace {

constexpr double kDeg = kPi / 180.0;
// An acquisition's own keys (`acquire:` elements and the acquisition programs' settings).
const std::vector<std::string> kAcquireKeys = {"channel", "sw_hz", "td", "receiver_phase_deg",
                                               "receiver_phase_rad"};

// The program kind's top-level keys with `elements`, which every program kind has, first.
std::vector<std::string> with_elements(std::vector<std::string> keys) {
  keys.insert(keys.begin(), "elements");
  return keys;
}

}  // namespace

ProgramFrontEnd::ProgramFrontEnd(const YamlField& root, const std::string& base_dir,
                                 const std::string& format,
                                 const std::vector<std::string>& kind_keys)
    : header_(read_program_header(root, base_dir, {.format = format, .channels = true},
                                  with_elements(kind_keys))) {}

void ProgramFrontEnd::add_element(const std::string& kind, ElementHandler handler) {
  extensions_[kind] = std::move(handler);
}

int ProgramFrontEnd::spin(const YamlField& f) const {
  const std::string label = f.as_string();
  const int k = molecule().index_of(label);
  if (k < 0) f.fail("unknown spin " + label + " (known: " + molecule().labels_text() + ")");
  return k;
}

std::vector<int> ProgramFrontEnd::spins(const YamlField& f) const {
  if (f.is_scalar()) return {spin(f)};
  std::vector<int> out;
  for (const auto& s : f.items()) out.push_back(spin(s));
  if (out.empty()) f.fail("must name at least one spin");
  return out;
}

int ProgramFrontEnd::channel(const YamlField& f) const {
  const std::string name = f.as_string();
  const int c = molecule().channel_index(name);
  if (c < 0) f.fail("unknown channel " + name + " (known: " + molecule().channels_text() + ")");
  return c;
}

std::optional<double> ProgramFrontEnd::angle(const YamlField& f, const std::string& key,
                                             bool required) {
  const auto r = f.find(key + "_rad");
  const auto d = f.find(key + "_deg");
  if (r && d) d->fail("give either " + key + "_rad or " + key + "_deg, not both");
  if (r) return r->as_double(-limits::kMaxAngleRad, limits::kMaxAngleRad);
  if (d) return d->as_double(-limits::kMaxAngleRad / kDeg, limits::kMaxAngleRad / kDeg) * kDeg;
  if (required) f.fail("missing " + key + "_rad (or " + key + "_deg)");
  return std::nullopt;
}

AcquireElement ProgramFrontEnd::acquisition(const YamlField& f,
                                            const std::vector<std::string>& kind_keys) const {
  f.expect_map();
  std::vector<std::string> keys = kAcquireKeys;
  keys.insert(keys.end(), kind_keys.begin(), kind_keys.end());
  f.allow_keys(keys);
  AcquireElement a;
  a.channel = channel(f.at("channel"));
  a.sw_hz = f.at("sw_hz").as_positive(limits::kMaxSpectralWidthHz);
  const YamlField td = f.at("td");
  a.td = static_cast<int>(td.as_int(16, 1L << 22));
  a.receiver_phase_rad = angle(f, "receiver_phase", false).value_or(0.0);
  return a;
}

void ProgramFrontEnd::fail_at(const OptionProblem& problem, const std::vector<YamlField>& maps,
                              const YamlField& fallback) {
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t dot = problem.field.find('.', start);
    parts.push_back(problem.field.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& m : maps) {
    std::optional<YamlField> f = m;
    size_t depth = 0;
    for (; depth < parts.size() && f->is_map(); ++depth) {
      auto next = f->find(parts[depth]);
      if (!next) break;
      f = next;
    }
    if (depth > 0) f->fail(problem.rule);
  }
  fallback.fail(problem.rule);
}

void ProgramFrontEnd::check_long(const YamlField& where, const std::vector<int>& channels,
                                 double duration_s, bool acknowledged) const {
  // A pulse longer than the shortest T1 of the spins it drives is almost surely a mistake.
  double t1 = 1e300;
  std::string who;
  for (int c : channels)
    for (int k : molecule().spins_on(c))
      if (molecule().nuclei[k].t1_s < t1) {
        t1 = molecule().nuclei[k].t1_s;
        who = molecule().nuclei[k].label;
      }
  if (duration_s > t1 && !acknowledged)
    where.fail("pulse lasts " + fmt::format("{:.4g}", duration_s) +
               " s, longer than T1 = " + fmt::format("{:.4g}", t1) + " s of " + who +
               "; set acknowledge_long: true if intended");
}

// The built-in element kinds (docs/program-format.md, "Elements (every kind)"): one row per
// kind, its name, the keys it allows (in the order messages list them) and its reader. The
// dispatch (element()) and the list of known kinds in messages both read this table; a program
// kind's extension (add_element) of the same name takes precedence.
struct ProgramFrontEnd::BuiltinKind {
  const char* name;
  std::vector<std::string> keys;
  void (ProgramFrontEnd::*read)(const YamlField& f, Sequence& seq, int depth) const;
};

const std::vector<ProgramFrontEnd::BuiltinKind>& ProgramFrontEnd::builtin_kinds() {
  static const std::vector<BuiltinKind> table = {
      {"hard_pulse",
       {"channel", "angle_deg", "angle_rad", "phase_deg", "phase_rad", "rf_hz", "acknowledge_long"},
       &ProgramFrontEnd::read_hard_pulse},
      {"rotation",
       {"spins", "angle_rad", "angle_deg", "phase_rad", "phase_deg"},
       &ProgramFrontEnd::read_rotation},
      {"delay", {"duration_s"}, &ProgramFrontEnd::read_delay},
      {"gradient", {"duration_s", "strength_g_per_cm", "shape"}, &ProgramFrontEnd::read_gradient},
      {"shaped_pulse",
       {"name", "file", "bruker", "channel", "duration_s", "max_rf_hz", "acknowledge_long"},
       &ProgramFrontEnd::read_shaped_pulse},
      {"loop", {"count", "elements"}, &ProgramFrontEnd::read_loop},
      {"acquire", kAcquireKeys, &ProgramFrontEnd::read_acquire},
  };
  return table;
}

std::string ProgramFrontEnd::known_kinds() const {
  std::string s;
  for (const auto& b : builtin_kinds()) s += (s.empty() ? "" : ", ") + std::string(b.name);
  for (const auto& ext : extensions_) {  // a kind's own, after the built-in ones
    bool builtin = false;
    for (const auto& b : builtin_kinds()) builtin = builtin || ext.first == b.name;
    if (!builtin) s += ", " + ext.first;
  }
  return s;
}

void ProgramFrontEnd::parse_elements(const YamlField& list, Sequence& sequence) const {
  list.expect_sequence();
  work_ = 0;
  pulse_steps_ = 0;
  pulse_files_.clear();
  for (const auto& item : list.items()) element(item, sequence, 0);
  pulse_files_.clear();
}

void ProgramFrontEnd::element(const YamlField& item, Sequence& seq, int depth) const {
  if (++work_ > kMaxProgramWork)
    item.fail("the program unrolls to more than " + std::to_string(kMaxProgramWork) +
              " elements and loop repetitions (loops multiply, also with empty bodies)");
  item.expect_map();
  const auto entries = item.entries();
  if (entries.size() != 1)
    item.fail("each element is a mapping with one key, one of: " + known_kinds());
  const auto& [kind, f] = entries.front();
  const BuiltinKind* builtin = nullptr;
  for (const auto& b : builtin_kinds())
    if (kind == b.name) builtin = &b;
  if (const auto ext = extensions_.find(kind); ext != extensions_.end()) {
    ext->second(f, seq);
  } else if (builtin) {
    f.allow_keys(builtin->keys);  // a mapping with these keys at most
    (this->*builtin->read)(f, seq, depth);
  } else {
    item.fail("unknown element " + kind + " (known: " + known_kinds() + ")");
  }
  if (seq.elements.size() > kMaxProgramElements)
    item.fail("the program unrolls to more than " + std::to_string(kMaxProgramElements) +
              " elements (loops multiply)");
}

// ---- the built-in kinds' readers (f: the element's mapping, its keys already checked) --------

void ProgramFrontEnd::read_hard_pulse(const YamlField& f, Sequence& seq, int) const {
  const Molecule& m = molecule();
  HardPulseElement h;
  h.channel = channel(f.at("channel"));
  h.angle_rad = *angle(f, "angle", true);
  if (!(h.angle_rad > 0))
    (f.has("angle_deg") ? f.at("angle_deg") : f.at("angle_rad"))
        .fail("must be > 0 (the opposite sense is phase + 180 degrees)");
  h.phase_rad = angle(f, "phase", false).value_or(0.0);
  const double mx = m.channels[h.channel].max_rf_hz;
  h.rf_hz = mx;
  if (auto rf = f.find("rf_hz")) {
    h.rf_hz = rf->as_positive(limits::kMaxRfHz);
    if (h.rf_hz > mx)
      rf->fail("exceeds the channel's max_rf_hz (" + fmt::format("{:.0f}", mx) + " Hz)");
  }
  const bool ack = f.has("acknowledge_long") && f.at("acknowledge_long").as_bool();
  check_long(f, {h.channel}, h.duration_s(), ack);
  seq.elements.push_back(h);
}

void ProgramFrontEnd::read_rotation(const YamlField& f, Sequence& seq, int) const {
  RotationElement r;
  r.spins = spins(f.at("spins"));
  r.angle_rad = *angle(f, "angle", true);
  r.phase_rad = angle(f, "phase", false).value_or(0.0);
  seq.elements.push_back(r);
}

void ProgramFrontEnd::read_delay(const YamlField& f, Sequence& seq, int) const {
  seq.elements.push_back(DelayElement{f.at("duration_s").as_positive(limits::kMaxDurationS)});
}

void ProgramFrontEnd::read_gradient(const YamlField& f, Sequence& seq, int) const {
  GradientElement g;
  g.duration_s = f.at("duration_s").as_positive(limits::kMaxDurationS);
  g.strength_g_per_cm =
      f.at("strength_g_per_cm").as_double(-limits::kMaxGradientGPerCm, limits::kMaxGradientGPerCm);
  if (auto sh = f.find("shape"))  // sine: the integral of sin over half a period, normalised
    g.shape_factor = yaml_choice<double>(*sh, {{"rectangle", 1.0}, {"sine", 2.0 / kPi}});
  seq.elements.push_back(g);
}

void ProgramFrontEnd::read_shaped_pulse(const YamlField& f, Sequence& seq, int) const {
  const Molecule& m = molecule();
  if (f.has("file") == f.has("bruker"))
    f.fail("give exactly one of file (nmrc-pulse/1) or bruker (a shape file)");
  ShapedPulseElement e;
  if (auto pf = f.find("file")) {
    f.allow_keys({"name", "file", "acknowledge_long"});
    const std::string pulse_path = pf->as_input_file(header_.base_dir);
    auto it = pulse_files_.find(pulse_path);
    if (it == pulse_files_.end()) {
      try {
        it = pulse_files_.emplace(pulse_path, read_pulse_file(pulse_path).element(m)).first;
      } catch (const InputError& err) {
        pf->fail(err.what());
      }
    }
    e = it->second;
  } else {
    const YamlField bf = f.at("bruker");
    const YamlField cf = f.at("channel");
    const int c = channel(cf);
    const YamlField mf = f.at("max_rf_hz");
    const double mx = mf.as_positive(limits::kMaxRfHz);
    if (mx > m.channels[c].max_rf_hz)
      mf.fail("exceeds the channel's max_rf_hz (" + fmt::format("{:.0f}", m.channels[c].max_rf_hz) +
              " Hz)");
    const double duration_s = f.at("duration_s").as_positive(limits::kMaxDurationS);
    if (!shape_reader_) bf.fail("shape files cannot be read in this kind of program yet");
    const std::string shape_path = bf.as_input_file(header_.base_dir);
    // One read per (file, channel, duration, amplitude), however often a loop repeats it.
    const std::string key = fmt::format("{}\n{}\n{:.17g}\n{:.17g}", shape_path, c, duration_s, mx);
    auto it = pulse_files_.find(key);
    if (it == pulse_files_.end()) {
      try {
        PulseData d = shape_reader_(shape_path, m.channels[c].name, duration_s, mx);
        it = pulse_files_.emplace(key, d.element(m)).first;
      } catch (const InputError& err) {
        bf.fail(err.what());
      }
    }
    e = it->second;
  }
  if (auto nf = f.find("name")) e.name = nf->as_name();
  const bool ack = f.has("acknowledge_long") && f.at("acknowledge_long").as_bool();
  check_long(f, e.channels, e.duration_s(), ack);
  for (const auto& u : e.ux_hz) pulse_steps_ += static_cast<size_t>(u.size());
  if (pulse_steps_ > kMaxProgramPulseSteps)
    f.fail("the program unrolls to more than " + std::to_string(kMaxProgramPulseSteps) +
           " shaped-pulse steps (loops multiply; docs/limits.md)");
  seq.elements.push_back(e);
}

void ProgramFrontEnd::read_loop(const YamlField& f, Sequence& seq, int depth) const {
  if (depth >= 8) f.fail("loops nested too deeply (more than 8)");
  const YamlField count_field = f.at("count");
  const long count = count_field.as_int(1, 100000);
  const YamlField body = f.at("elements");
  body.expect_sequence();
  // The body is parsed once per repetition (extensions record where each of their elements
  // lands). After the first, the unrolled size is known: a loop that would pass the bound
  // fails here, before it repeats the work count times.
  const size_t before = seq.elements.size();
  for (const auto& sub : body.items()) element(sub, seq, depth + 1);
  const size_t per_pass = seq.elements.size() - before;
  const size_t total = before + static_cast<size_t>(count) * per_pass;
  if (total > kMaxProgramElements)
    count_field.fail("the program would unroll to " + std::to_string(total) +
                     " elements, more than " + std::to_string(kMaxProgramElements) +
                     " (loops multiply)");
  // Every repetition is work, also with an empty body (three nested empty loops of 100,000
  // would otherwise spin 10^15 times).
  if (work_ + static_cast<size_t>(count) > kMaxProgramWork)
    count_field.fail("the program unrolls to more than " + std::to_string(kMaxProgramWork) +
                     " elements and loop repetitions (loops multiply, also with empty bodies)");
  work_ += static_cast<size_t>(count);
  for (long r = 1; r < count; ++r)
    for (const auto& sub : body.items()) element(sub, seq, depth + 1);
}

void ProgramFrontEnd::read_acquire(const YamlField& f, Sequence& seq, int) const {
  seq.elements.push_back(acquisition(f, {}));
}

}  // namespace nmrc
