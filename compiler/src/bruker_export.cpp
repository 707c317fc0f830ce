#include "nmrc/compiler/bruker_export.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "nmrc/core/bruker_shape.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/jcamp.hpp"
#include "nmrc/core/text.hpp"
#include "nmrc/core/yaml_input.hpp"
#include "nmrc/spectrometer/bruker_dataset.hpp"

namespace nmrc::compiler {

namespace {

constexpr double kDeg = 180.0 / kPi;
// TopSpin 3/4 array sizes: P, D, PLW, SPW, SPOFFS, SPNAM (0..63); GPZ, GPNAM (0..31).
constexpr int kArray = 64;
constexpr int kGradArray = 32;

// Index allocator for one TopSpin array: distinct keys get the next free index of `order`.
struct Indexer {
  Indexer(std::string what_, std::vector<int> order_)
      : what(std::move(what_)), order(std::move(order_)) {}
  std::string what;  // "p", "d", ...
  std::vector<int> order;
  std::map<std::string, int> by_key;
  int take(const std::string& key, const std::string& where) {
    if (auto it = by_key.find(key); it != by_key.end()) return it->second;
    if (by_key.size() >= order.size())
      throw InputError(where + ": needs more than " + std::to_string(order.size()) + " distinct " +
                       what + " values (TopSpin's array holds " + std::to_string(order.size()) +
                       "); split the program");
    const int i = order[by_key.size()];
    by_key[key] = i;
    return i;
  }
};

std::vector<int> range(int a, int b, std::set<int> skip = {}) {
  std::vector<int> v;
  for (int i = a; i <= b; ++i)
    if (!skip.count(i)) v.push_back(i);
  return v;
}

// A name written into a pulse program, a parameter file and a file name (lists/wave, lists/pp).
const std::string& checked_name(const std::string& name, const std::string& field) {
  return console_text(name, ConsoleText::kName, field);
}

// Free text after ";" in a pulse program.
const std::string& comment_text(const std::string& text, const std::string& field) {
  return console_text(text, ConsoleText::kPulseProgramComment, field);
}

}  // namespace

BrukerGradientShape bruker_gradient_shape(bool sine) {
  BrukerGradientShape g;
  g.name = sine ? "nmrc_sine.100" : "nmrc_smsq10.100";
  constexpr int kPoints = 100, kEdge = 10;
  for (int k = 0; k < kPoints; ++k) {
    double a = 100.0;
    if (sine) {
      a = 100.0 * std::sin(kPi * (k + 0.5) / kPoints);
    } else {
      const int from_edge = std::min(k, kPoints - 1 - k);
      if (from_edge < kEdge) a = 100.0 * std::sin(0.5 * kPi * (from_edge + 0.5) / kEdge);
    }
    g.shape.amplitude_percent.push_back(a);
    g.shape.phase_deg.push_back(0.0);
  }
  g.shape.title = g.name;
  g.shape.shape_parameters =
      sine ? "Type: nmrc gradient, half sine" : "Type: nmrc gradient, smoothed square, 10 % edges";
  g.shape.type = "Gradient";
  g.area_factor = shape_integfac(g.shape.amplitude_percent, g.shape.phase_deg);
  return g;
}

BrukerGradientShape bruker_gradient_shape_for(double shape_factor) {
  return bruker_gradient_shape(std::abs(shape_factor - 2.0 / kPi) < 1e-9);
}

namespace {

// Exact binary key of a double (distinct values get distinct indices).
std::string key_of(double v) { return fmt::format("{:.17g}", v); }

struct ShapeEntry {
  std::string file;  // lists/wave name
  BrukerShape shape;
  double nu_hz = 0.0;  // nutation at 100 %
  double duration_s = 0.0;
  int channel = 0;
  int sp = 0, p = 0;
};

}  // namespace

std::vector<std::string> program_element_locations(const std::string& program_path) {
  const YamlField root = YamlField::load_file(program_path);
  std::vector<std::string> out;
  std::function<void(const YamlField&)> walk = [&](const YamlField& list) {
    for (const auto& item : list.items()) {
      const auto e = item.entries();
      if (e.empty()) continue;
      if (e[0].first == "loop") {
        const long count = e[0].second.at("count").as_int();
        for (long r = 0; r < count && out.size() < (1u << 24); ++r)
          walk(e[0].second.at("elements"));
      } else {
        out.push_back(e[0].second.location());
      }
    }
  };
  walk(root.at("elements"));
  return out;
}

namespace {

// Options that hold for every experiment: checked once, with the calibrations they imply.
struct Calibration {
  double d1_s = 0.0;
  double nu1_hz = 0.0;  // nutation of the hard 90 on f1 (0: not calibrated)
  bool decouple = false;
  double plw12_w = 0.0;  // 1H decoupling power (0: not calibrated)
  bool cw = false;       // CW at PLW13 around the long shaped pulses
  double plw13_w = 0.0;  // its power (0: not calibrated)
  double bf2_mhz = 0.0, o2_hz = 0.0;
};

Calibration check_options(const Molecule& m, const BrukerExportOptions& o) {
  if (o.p90_us.has_value() != o.plw_w.has_value())
    throw InputError(
        "--p90 and --plw: give both (the calibrated hard 90 and its power) or neither");
  if (o.p90_us && !(*o.p90_us > 0))
    throw InputError("--p90 = " + fmt::format("{:.6g}", *o.p90_us) + ": must be > 0 us");
  if (o.plw_w && !(*o.plw_w > 0))
    throw InputError("--plw = " + fmt::format("{:.6g}", *o.plw_w) + ": must be > 0 W");
  if (o.phase_sense != 1 && o.phase_sense != -1)
    throw InputError("--phase-sense = " + std::to_string(o.phase_sense) + ": must be 1 or -1");
  if (!(o.gpz_max_g_per_cm > 0))
    throw InputError("--gpz-max = " + fmt::format("{:.6g}", o.gpz_max_g_per_cm) +
                     ": must be > 0 G/cm");
  if (o.cyclops && o.ns % 4 != 0)
    throw InputError("--ns = " + std::to_string(o.ns) + ": CYCLOPS needs a multiple of 4 scans");
  for (const auto& [name, v] :
       {std::pair<const char*, double>{"--probe-max-w-f1", o.probe.peak_w_f1},
        {"--probe-max-w-f2", o.probe.peak_w_f2},
        {"--probe-avg-w-f1", o.probe.average_w_f1},
        {"--probe-avg-w-f2", o.probe.average_w_f2}})
    if (!(v > 0) || !std::isfinite(v))
      throw InputError(std::string(name) + " = " + fmt::format("{:.6g}", v) + ": must be > 0 W");
  Calibration c;
  double t1_max = 0.0;
  for (const auto& n : m.nuclei) t1_max = std::max(t1_max, n.t1_s);
  c.d1_s = o.d1_s >= 0 ? o.d1_s : 5.0 * t1_max;
  // nu1 = 1 / (4 p90) on the observe channel at PLW (power ~ nu^2).
  c.nu1_hz = o.p90_us ? 1.0 / (4.0 * *o.p90_us * 1e-6) : 0.0;
  bool has_1h = false;
  for (const auto& ch : m.channels) has_1h = has_1h || ch.isotope == "1H";
  c.decouple = o.decouple.has_value() && !has_1h;
  if (c.decouple) {
    const BrukerDecoupling& d = *o.decouple;
    if (d.program != "waltz16" && d.program != "garp")
      throw InputError("--cpd = " + escape_text(d.program) + ": must be waltz16 or garp");
    if (!(d.pcpd_us > 0) || !std::isfinite(d.pcpd_us))
      throw InputError("--pcpd2 = " + fmt::format("{:.6g}", d.pcpd_us) + ": must be > 0 us");
    if (d.p90_us.has_value() != d.plw_w.has_value())
      throw InputError(
          "--p90-h and --plw-h: give both (the calibrated 1H hard 90 and its "
          "power) or neither");
    if (d.p90_us && !(*d.p90_us > 0 && *d.plw_w > 0))
      throw InputError("--p90-h = " + fmt::format("{:.6g}", *d.p90_us) +
                       ", --plw-h = " + fmt::format("{:.6g}", *d.plw_w) + ": must be > 0");
    if (d.pulses != "cw" && d.pulses != "cpd")
      throw InputError("--decoupler-pulses = " + escape_text(d.pulses) + ": must be cw or cpd");
    // Bounds: a decoupler amplitude above 100 kHz or a threshold above 1 s is no setting of a
    // liquids console; the probe's limits below judge the power itself.
    if (!(d.cw_b2_hz > 0 && d.cw_b2_hz <= 1e5))
      throw InputError("--cw-b2-hz = " + fmt::format("{:.6g}", d.cw_b2_hz) +
                       ": must be in (0, 100000] Hz");
    if (!(d.cw_min_s >= 0 && d.cw_min_s <= 1.0))
      throw InputError("--cw-min-us = " + fmt::format("{:.6g}", d.cw_min_s * 1e6) +
                       ": must be in [0, 1e6] us");
    if (m.channels.size() != 1)
      throw InputError("1H decoupling: the molecule has " + std::to_string(m.channels.size()) +
                       " channels; f2 must be free for the decoupler (--no-decouple)");
    if (!(m.proton_mhz > 0))
      throw InputError("1H decoupling: the molecule file gives no spectrometer.proton_mhz");
    // Power ~ nu^2: PCPD2 at PLW12 turns as far as p90 at PLW.
    if (d.p90_us) c.plw12_w = *d.plw_w * std::pow(*d.p90_us / d.pcpd_us, 2);
    // CW at B2: the hard 90 nutates at 1 / (4 p90), so PLW13 = PLW_H (4 p90 B2)^2.
    c.cw = d.pulses == "cw";
    if (c.cw && d.p90_us) c.plw13_w = *d.plw_w * std::pow(4.0 * *d.p90_us * 1e-6 * d.cw_b2_hz, 2);
    c.bf2_mhz = m.proton_mhz;
    c.o2_hz = d.o2_ppm * m.proton_mhz;
  }
  return c;
}

// The channel numbers of one experiment: the observed channel is f1 (NUC1), the others follow
// in molecule order, the decoupler after them.
std::vector<int> channel_numbers(const Molecule& m, int observed) {
  std::vector<int> f(m.channels.size());
  f[observed] = 1;
  int next = 2;
  for (size_t c = 0; c < m.channels.size(); ++c)
    if (static_cast<int>(c) != observed) f[c] = next++;
  return f;
}

// One experiment's pulse program body and parameter arrays, element by element.
class ExperimentBuilder {
 public:
  ExperimentBuilder(const Molecule& m, const BrukerExportOptions& o, const Calibration& cal,
                    std::vector<ShapeEntry>& shapes, std::set<std::string>& shape_files,
                    int observed)
      : m_(m),
        o_(o),
        cal_(cal),
        shapes_(shapes),
        shape_files_(shape_files),
        fnum_(channel_numbers(m, observed)) {
    for (int i = 2; i <= 10; ++i) P_.order.push_back(i);
    d_s[1] = cal.d1_s;
    d_s[11] = 0.03;
    d_s[16] = o.d16_s;
    if (o.p90_us) {
      p_us[1] = *o.p90_us;
      plw[1] = *o.plw_w;
    }
    if (cal.decouple) plw[12] = cal.plw12_w;
  }

  // Whether f2 plays CW during e outside the readout: a shaped pulse of at least cw_min_s.
  bool cw_pulse(const Element& e) const {
    const auto* s = std::get_if<ShapedPulseElement>(&e);
    return cal_.cw && s && s->duration_s() >= o_.decouple->cw_min_s * (1 - 1e-12);
  }

  // The text of element e (not the acquisition) at location where. `readout`: an element of
  // the readout, which plays under one setting throughout (no switching statement between
  // its elements): CW when `readout_cw` (BrukerDecoupling::pulses), the CPD program otherwise.
  void add(const Element& e, const std::string& where, int index, bool readout, bool readout_cw) {
    if (cal_.decouple) {
      const bool cw = readout ? readout_cw : cw_pulse(e);
      f2_switch_ = f2_to(cw ? F2::kCw : F2::kCpd);
      element_ = index;
    }
    if (const auto* r = std::get_if<RotationElement>(&e)) {
      (void)r;
      throw InputError(where +
                       " = rotation: an ideal, instantaneous rotation cannot be played "
                       "by a TopSpin pulse program; write it as a pulse (hard) or a gate "
                       "(compiled)");
    } else if (const auto* u = std::get_if<UnitaryElement>(&e)) {
      throw InputError(where + " = " + (u->name.empty() ? std::string("unitary") : u->name) +
                       ": an instantaneous unitary (an uncompiled gate) cannot be played by a "
                       "TopSpin pulse program; compile it first (nmrc compile, then --pulses DIR)");
    } else if (std::holds_alternative<AcquireElement>(e)) {
      throw InputError(where + " = acquire: only the last element may acquire (go=2 ph31)");
    } else if (const auto* dl = std::get_if<DelayElement>(&e)) {
      delay(*dl, where);
    } else if (const auto* g = std::get_if<GradientElement>(&e)) {
      gradient(*g, where);
    } else if (const auto* h = std::get_if<HardPulseElement>(&e)) {
      hard_pulse(*h, where);
    } else if (const auto* s = std::get_if<ShapedPulseElement>(&e)) {
      shaped_pulse(*s, where);
    }
  }

  // Before go=2: the decoupler on its CPD program (from CW, or from off for an empty sequence).
  void finish() {
    if (!cal_.decouple || f2_ == F2::kCpd) return;
    body_.push_back(f2_to(F2::kCpd));
    body_.back().pop_back();  // one block per body entry, without the final line break
  }

  const std::vector<std::string>& body() const { return body_; }
  const std::vector<BrukerDecouplerStep>& decoupler_steps() const { return steps_; }
  const std::vector<std::string>& comments() const { return comments_; }
  const std::map<std::string, std::string>& phases() const { return phases_; }
  const Indexer& gradients() const { return GP_; }
  /// The gradient shape files this experiment plays (name -> area factor).
  const std::map<std::string, double>& gradient_files() const { return gp_files_; }
  int f_of(int channel) const { return fnum_[channel]; }

  std::vector<double> p_us = std::vector<double>(kArray, 0.0);
  std::vector<double> d_s = std::vector<double>(kArray, 0.0);
  std::vector<double> plw = std::vector<double>(kArray, 0.0);
  std::vector<double> spw = std::vector<double>(kArray, 0.0);
  std::vector<double> spoffs = std::vector<double>(kArray, 0.0);
  std::vector<double> gpz = std::vector<double>(kGradArray, 0.0);
  std::vector<std::string> spnam = std::vector<std::string>(kArray, "gauss");
  std::vector<std::string> gpnam = std::vector<std::string>(kGradArray, "SINE.100");
  // Per scan: seconds of the sequence (with the console's gradient delays and power switches),
  // energy on f1 (J; only with --p90/--plw) and the largest f1 level (W).
  double sequence_s = 0.0, energy_f1_j = 0.0, peak_f1_w = 0.0;
  // Per scan: seconds f2 plays its CPD program (from cpds2 to go=2, without the acquisition)
  // and CW.
  double cpd_s = 0.0, cw_s = 0.0;
  double cw_longest_s = 0.0;  // the longest uninterrupted CW interval (a probe's duty limit)

 private:
  using F2 = BrukerDecouplerStep::F2;

  // f2's switching statements from the current setting to `to` (Bruker's zgpr switches a
  // CW channel the same way: "plN:fF" on a delay of its own, "cw:fF", "do:fF"), each 4 us
  // (Bruker's programs give a power switch at least 4 us), counted in the sequence's time.
  std::string f2_to(F2 to) {
    std::string t;
    if (to == f2_) return t;
    auto statement = [&](const char* s, F2 during) {
      t += std::string("  4u ") + s + "\n";
      interval(4e-6, during, -1);
    };
    if (f2_ != F2::kOff) statement("do:f2", F2::kOff);
    if (to == F2::kCw) {
      plw[13] = cal_.plw13_w;  // set (acqus, setup.mac) where it is played
      statement("pl13:f2", F2::kOff);
      statement("cw:f2", F2::kCw);
    } else {
      if (f2_ == F2::kCw) statement("pl12:f2", F2::kOff);
      statement("cpds2:f2", F2::kCpd);
    }
    f2_ = to;
    return t;
  }

  // t seconds of the sequence with f2 playing `during`, element k (-1: a switching statement).
  void interval(double t, F2 during, int k) {
    sequence_s += t;
    if (!cal_.decouple) return;
    (during == F2::kCw ? cw_s : during == F2::kCpd ? cpd_s : off_s_) += t;
    cw_run_s_ = during == F2::kCw ? cw_run_s_ + t : 0.0;
    cw_longest_s = std::max(cw_longest_s, cw_run_s_);
    if (!steps_.empty() && steps_.back().f2 == during && steps_.back().element == k && k >= 0)
      steps_.back().duration_s += t;
    else
      steps_.push_back({during, t, k});
  }
  // An element's time: under the setting f2_to chose for it.
  void element_time(double t) { interval(t, f2_, element_); }
  // The element's text after the switching statements f2_to wrote for it.
  void push(std::string text) { body_.push_back(std::exchange(f2_switch_, {}) + text); }
  void delay(const DelayElement& dl, const std::string& where) {
    const int i = D_.take(key_of(dl.duration_s), where);
    if (d_s[i] == 0.0) {
      d_s[i] = dl.duration_s;
      comments_.push_back(";d" + std::to_string(i) + ": delay of the nmrc sequence [" +
                          fmt::format("{:.6g}", dl.duration_s * 1e3) + " msec]");
    }
    element_time(dl.duration_s);
    push("  d" + std::to_string(i));
  }

  void gradient(const GradientElement& g, const std::string& where) {
    // The console plays GPZ/100 G(100 %) area_factor t: the model's area G shape_factor t.
    const BrukerGradientShape file = bruker_gradient_shape_for(g.shape_factor);
    const double pct =
        100.0 * g.strength_g_per_cm * g.shape_factor / (o_.gpz_max_g_per_cm * file.area_factor);
    if (std::abs(pct) > 100.0)
      throw InputError(
          where + ".strength_g_per_cm = " + fmt::format("{:.6g}", g.strength_g_per_cm) +
          ": needs GPZ " + fmt::format("{:.6g}", pct) + " % of " +
          fmt::format("{:.6g}", o_.gpz_max_g_per_cm) + " G/cm (--gpz-max) with " + file.name +
          " (area factor " + fmt::format("{:.6g}", file.area_factor) + "): above 100 %");
    const int gi = GP_.take(key_of(pct) + file.name, where);
    int pi = 16;
    if (auto it = gradient_p_.find(key_of(g.duration_s)); it != gradient_p_.end())
      pi = it->second;
    else if (!gradient_p_.empty())
      pi = P_.take("gradient" + key_of(g.duration_s), where);
    gradient_p_[key_of(g.duration_s)] = pi;
    if (p_us[pi] == 0.0) {
      p_us[pi] = g.duration_s * 1e6;
      comments_.push_back(";p" + std::to_string(pi) + ": homospoil/gradient pulse [" +
                          fmt::format("{:.6g}", g.duration_s * 1e6) + " usec]");
    }
    if (!gp_used_[gi]) {
      gp_used_[gi] = true;
      gpz[gi] = pct;
      gpnam[gi] = file.name;
      gp_files_[file.name] = file.area_factor;
    }
    element_time(8e-6 + g.duration_s + o_.d16_s);
    push("  4u UNBLKGRAD\n  p" + std::to_string(pi) + ":gp" + std::to_string(gi) +
         "\n  d16\n  4u BLKGRAD");
  }

  void hard_pulse(const HardPulseElement& h, const std::string& where) {
    const int f = fnum_[h.channel];
    const int pi =
        P_.take("hard" + std::to_string(h.channel) + key_of(h.angle_rad) + key_of(h.rf_hz), where);
    const double len_us = h.duration_s() * 1e6;
    if (p_us[pi] == 0.0) {
      p_us[pi] = len_us;
      comments_.push_back(";p" + std::to_string(pi) + ": f" + std::to_string(f) + " channel - " +
                          fmt::format("{:.6g}", h.angle_rad * kDeg) + " degree hard pulse at " +
                          fmt::format("{:.6g}", h.rf_hz) + " Hz nutation [" +
                          fmt::format("{:.6g}", len_us) + " usec]");
    }
    // Power: pl1 when the pulse uses the calibrated nutation, else its own level.
    int pl = 1;
    const bool calibrated = f == 1 && o_.p90_us;
    if (!(calibrated && std::abs(h.rf_hz - cal_.nu1_hz) <= 1e-9 * cal_.nu1_hz)) {
      pl = PL_.take(std::to_string(f) + key_of(h.rf_hz), where);
      if (calibrated) plw[pl] = *o_.plw_w * std::pow(h.rf_hz / cal_.nu1_hz, 2);
      comments_.push_back(
          ";pl" + std::to_string(pl) + ": f" + std::to_string(f) + " channel - power level for " +
          fmt::format("{:.6g}", h.rf_hz) + " Hz nutation" +
          (calibrated ? " (PLW = PLW1 (nu/nu1)^2 = " + fmt::format("{:.6g}", plw[pl]) + " W)"
                      : " (calibrate)"));
    }
    const double ph = std::fmod(o_.phase_sense * h.phase_rad * kDeg + 3600.0, 360.0);
    const int phi = PH_.take("p" + key_of(ph), where);
    // With CYCLOPS every pulse and the receiver turn by 90 degrees per scan (see pulse_program).
    std::string list = "(360) " + fmt::format("{:.10g}", ph);
    if (o_.cyclops)
      for (int q = 1; q < 4; ++q)
        list += " " + fmt::format("{:.10g}", std::fmod(ph + 90.0 * q, 360.0));
    phases_["ph" + std::to_string(phi)] = list;
    std::string t;
    // Bruker's programs give a power switch at least 4 us (e.g. "4u pl2:f1").
    if (pl != current_pl_ || f != 1) {
      t += "  4u pl" + std::to_string(pl) + ":f" + std::to_string(f) + "\n";
      element_time(4e-6);
    }
    if (f == 1) current_pl_ = pl;
    t += "  (p" + std::to_string(pi) + " ph" + std::to_string(phi) + "):f" + std::to_string(f);
    element_time(h.duration_s());
    if (calibrated) {
      energy_f1_j += plw[pl] * h.duration_s();
      peak_f1_w = std::max(peak_f1_w, plw[pl]);
    }
    push(t);
  }

  // The shape of channel c of s: an existing entry when the same waveform was exported before.
  int shape_entry(const ShapedPulseElement& s, size_t c) {
    double nu = 0;
    BrukerShape sh = bruker_shape_from_waveform(s.ux_hz[c], s.uy_hz[c], s.dt_s, nu,
                                                ShapeFrame{o_.phase_sense, 0.0});
    for (size_t i = 0; i < shapes_.size(); ++i)
      if (shapes_[i].shape.amplitude_percent == sh.amplitude_percent &&
          shapes_[i].shape.phase_deg == sh.phase_deg && shapes_[i].nu_hz == nu &&
          shapes_[i].duration_s == s.duration_s() && shapes_[i].channel == s.channels[c])
        return static_cast<int>(i);
    std::string base = s.name.empty() ? "nmrc_shape" : checked_name(s.name, "shaped pulse name");
    if (s.channels.size() > 1)
      base += "_" + checked_name(m_.channels[s.channels[c]].name, "channel name");
    std::string file = base;
    for (int n = 2; shape_files_.count(file); ++n) file = base + "_" + std::to_string(n);
    shape_files_.insert(file);
    ShapeEntry se;
    se.file = file;
    sh.title = file;
    sh.date = o_.date;
    sh.time = o_.time;
    sh.shape_parameters = "Type: nmrc " + (s.name.empty() ? std::string("shaped pulse") : file);
    sh.exmode = "None";
    sh.type = "Universal";
    se.shape = sh;
    se.nu_hz = nu;
    se.duration_s = s.duration_s();
    se.channel = s.channels[c];
    shapes_.push_back(se);
    return static_cast<int>(shapes_.size()) - 1;
  }

  void shaped_pulse(const ShapedPulseElement& s, const std::string& where) {
    std::string par;
    for (size_t c = 0; c < s.channels.size(); ++c) {
      const int found = shape_entry(s, c);
      const ShapeEntry& se = shapes_[found];
      const int f = fnum_[se.channel];
      const int sp = 1 + found;
      if (sp > kArray - 1)
        throw InputError(where + ": more than 63 distinct shapes (TopSpin's SPNAM array)");
      const int pi = P_.take("shape" + se.file, where);
      const bool calibrated = f == 1 && o_.p90_us;
      if (p_us[pi] == 0.0) {
        p_us[pi] = se.duration_s * 1e6;
        spnam[sp] = se.file;
        spoffs[sp] = 0.0;
        if (calibrated) spw[sp] = *o_.plw_w * std::pow(se.nu_hz / cal_.nu1_hz, 2);
        comments_.push_back(";p" + std::to_string(pi) + ": f" + std::to_string(f) +
                            " channel - shaped pulse " + se.file + " [" +
                            fmt::format("{:.6g}", se.duration_s * 1e6) + " usec, " +
                            std::to_string(se.shape.amplitude_percent.size()) + " points]");
        std::string pw = " (calibrate: SPW = PLW1 (nu/nu1)^2)";
        if (calibrated)
          pw = ": SPW = PLW1 (nu/nu1)^2 = " + fmt::format("{:.6g}", spw[sp]) +
               " W, SPdB = " + fmt::format("{:.2f}", -10.0 * std::log10(spw[sp]));
        comments_.push_back(";sp" + std::to_string(sp) + ": f" + std::to_string(f) +
                            " channel - shaped pulse power, 100 % = " +
                            fmt::format("{:.6g}", se.nu_hz) + " Hz nutation" + pw);
        comments_.push_back(";spnam" + std::to_string(sp) + ": " + se.file);
        comments_.push_back(";spoffs" + std::to_string(sp) + ": 0 Hz (the carrier is O" +
                            std::to_string(f) + ")");
      }
      if (calibrated) {  // the shape's power follows its amplitude: SPW <(A/100)^2> t
        double a2 = 0.0;
        for (double a : se.shape.amplitude_percent) a2 += a * a / 1e4;
        energy_f1_j += spw[sp] * a2 / se.shape.amplitude_percent.size() * se.duration_s;
        peak_f1_w = std::max(peak_f1_w, spw[sp]);
      }
      if (c > 0) par += " ";
      par += "(p" + std::to_string(pi) + ":sp" + std::to_string(sp) +
             (o_.cyclops ? " ph30):f" : " ph0):f") + std::to_string(f);
    }
    element_time(s.duration_s());
    push("  " + par);
  }

  const Molecule& m_;
  const BrukerExportOptions& o_;
  const Calibration& cal_;
  std::vector<ShapeEntry>& shapes_;  // shared by all experiments (one lists/wave file each)
  std::set<std::string>& shape_files_;
  std::vector<int> fnum_;
  // P: p1 is the calibrated hard 90, p16 the first gradient length (Bruker's habits); pl12 the
  // decoupler's power on its CPD program, pl13 its CW power.
  Indexer P_{"pulse length (P)", range(11, 63, {16})};
  Indexer D_{"delay (D)", range(2, 63, {11, 12, 16})};
  Indexer PL_{"power level (PLW)", range(2, 63, {12, 13})};
  Indexer PH_{"phase list", range(1, 30)};
  Indexer GP_{"gradient (GPZ)", range(1, 31)};
  std::vector<bool> gp_used_ = std::vector<bool>(kGradArray, false);
  std::map<std::string, double> gp_files_;
  std::map<std::string, int> gradient_p_;
  std::vector<std::string> comments_;          // ";p11: ..." lines, in order of first use
  std::map<std::string, std::string> phases_;  // "ph1" -> "(360) 90"
  std::vector<std::string> body_;              // one text block per element
  int current_pl_ = -1;                        // power level last set on f1 by a hard pulse
  F2 f2_ = F2::kOff;                           // what f2 plays now (off before cpds2)
  std::string f2_switch_;                      // switching statements for the next element
  int element_ = -1;                           // the element being written
  double off_s_ = 0.0;                         // f2 off between its settings (switching)
  double cw_run_s_ = 0.0;                      // the current CW interval so far
  std::vector<BrukerDecouplerStep> steps_;     // f2's timeline
};

// Repeated blocks as loops: at each position take the period (<= 32 elements) whose
// repetition covers the most elements, emit "label ... lo to label times n".
std::string with_loops(const std::vector<std::string>& body) {
  std::ostringstream out;
  int label = 3;
  for (size_t i = 0; i < body.size();) {
    size_t best_p = 0, best_n = 1;
    for (size_t per = 1; per <= 32 && i + 2 * per <= body.size(); ++per) {
      size_t n = 1;
      while (i + (n + 1) * per <= body.size() &&
             std::equal(body.begin() + i, body.begin() + i + per, body.begin() + i + n * per))
        ++n;
      if (n >= 2 && per * (n - 1) > best_p * (best_n - 1)) {
        best_p = per;
        best_n = n;
      }
    }
    if (best_n >= 2) {
      const int lab = label++;
      for (size_t j = 0; j < best_p; ++j) {
        std::string b = body[i + j];
        if (j == 0) b = std::to_string(lab) + b.substr(std::min<size_t>(1, b.size()));
        out << b << "\n";
      }
      out << "  lo to " << lab << " times " << best_n << "\n";
      i += best_p * best_n;
    } else {
      out << body[i] << "\n";
      ++i;
    }
  }
  return out.str();
}

// The pulse program of one experiment, in the layout of Bruker's own (zgdc, zgpg30, noesygpph).
std::string pulse_program(const std::string& name, const ExperimentBuilder& b,
                          const AcquireElement& acq, const Molecule& m,
                          const BrukerExportOptions& o, const Calibration& cal) {
  const double rph = std::fmod(o.phase_sense * acq.receiver_phase_rad * kDeg + 3600.0, 360.0);
  // The receiver takes phases in 90-degree steps (ph31 = 0 1 2 3 in Bruker's programs).
  const double quarter = std::round(rph / 90.0);
  if (std::abs(rph - 90.0 * quarter) > 1e-6)
    throw InputError(name + ": receiver phase " + fmt::format("{:.6g}", rph) +
                     " degrees: the receiver (ph31) takes multiples of 90 degrees; give the "
                     "acquisition such a phase and turn the rest in processing (PHC0)");
  std::ostringstream pp;
  pp << ";" << name << "\n";
  pp << ";" << name << ": exported by nmrc 0.1.0 from "
     << comment_text(o.source, "source of the export") << " for molecule "
     << comment_text(m.name, "molecule name") << "\n"
     << ";played as written: shaped pulses, hard pulses, delays, gradients, acquisition"
     << (cal.decouple ? ", with 1H decoupling on f2 throughout" : "")
     << (b.cw_s > 0 ? " (CW during the long shaped pulses)" : "") << "\n";
  pp << ";$CLASS=HighRes\n;$DIM=1D\n;$TYPE=\n;$SUBTYPE=\n;$COMMENT=\n\n";
  pp << "#include <Avance.incl>\n#include <Grad.incl>\n#include <Delay.incl>\n\n";
  pp << "\"d11=30m\"\n\n";
  if (cal.decouple)  // the decoupler off during d1, on from before the first pulse to the end
    pp << "1 ze\n  d11 pl12:f2\n2 d11 do:f2\n  d1\n"
       << with_loops(b.body()) << "  go=2 ph31\n  d11 do:f2 mc #0 to 2 F0(zd)\nexit\n\n";
  else
    pp << "1 ze\n2 d11\n  d1\n"
       << with_loops(b.body()) << "  go=2 ph31\n  d11 mc #0 to 2 F0(zd)\nexit\n\n";
  pp << "ph0=0\n";
  // CYCLOPS over the whole sequence: every pulse and the receiver turn by 90 degrees per scan.
  // That is a z rotation of all the RF; the prepared states start diagonal and gradients and the
  // couplings commute with it, so each scan gives the same signal and the receiver's quadrature
  // errors cancel over 4 scans.
  if (o.cyclops) pp << "ph30=0 1 2 3\n";
  for (const auto& [k, v] : b.phases()) pp << k << "=" << v << "\n";
  const int r = static_cast<int>(quarter) % 4;
  pp << "ph31=" << r;
  if (o.cyclops) pp << " " << (r + 1) % 4 << " " << (r + 2) % 4 << " " << (r + 3) % 4;
  pp << "\n\n\n";
  if (o.p90_us)
    pp << ";pl1 : f1 channel - power level for the hard 90 [" << fmt::format("{:.6g}", *o.plw_w)
       << " W]\n"
       << ";p1 : f1 channel - 90 degree hard pulse [" << fmt::format("{:.6g}", *o.p90_us)
       << " usec] (nu1 = " << fmt::format("{:.6g}", cal.nu1_hz) << " Hz)\n";
  if (cal.decouple) {
    const BrukerDecoupling& d = *o.decouple;
    pp << ";pl12: f2 channel - power level for CPD/BB decoupling ["
       << (d.p90_us ? fmt::format("{:.6g}", cal.plw12_w) + " W = PLW_H (p90_H/pcpd2)^2"
                    : std::string("calibrate"))
       << "]\n"
       << ";pcpd2: f2 channel - 90 degree pulse for decoupling sequence ["
       << fmt::format("{:.6g}", d.pcpd_us) << " usec]\n"
       << ";cpd2: decoupling according to sequence defined by cpdprg2 [" << d.program << "]\n"
       << ";o2: 1H carrier [" << fmt::format("{:.6g}", d.o2_ppm) << " ppm]\n";
    if (b.cw_s > 0)
      pp << ";pl13: f2 channel - power level for CW decoupling during the shaped pulses of at "
            "least "
         << fmt::format("{:.6g}", d.cw_min_s * 1e6) << " usec ["
         << (d.p90_us ? fmt::format("{:.6g}", cal.plw13_w) + " W = PLW_H (4 p90_H B2)^2"
                      : std::string("calibrate"))
         << ", B2 " << fmt::format("{:.6g}", d.cw_b2_hz) << " Hz]\n"
         << ";cw : f2 switched from cpd2 to CW around those shapes (4u do:f2, 4u pl13:f2, 4u "
            "cw:f2; back: 4u do:f2, 4u pl12:f2, 4u cpds2:f2); CW through all the readout "
            "pulses, back to cpd2 before go=2 (12 us of free evolution before the first point, "
            "which nmrc's line fit evolves back)\n";
  }
  for (const auto& c : b.comments()) pp << c << "\n";
  pp << ";d1 : relaxation delay [" << fmt::format("{:.6g}", cal.d1_s)
     << " sec] (5 x the longest T1)\n";
  pp << ";d11: delay for disk I/O                             [30 msec]\n";
  pp << ";d16: delay for homospoil/gradient recovery          ["
     << fmt::format("{:.6g}", o.d16_s * 1e6) << " usec]\n";
  pp << ";ns: " << o.ns << " * n\n;ds: " << o.ds << "\n";
  pp << ";td: " << 2 * acq.td << " (" << acq.td
     << " complex points), sw_h: " << fmt::format("{:.6g}", acq.sw_hz) << " Hz\n";
  if (!b.gradients().by_key.empty()) {
    pp << "\n\n;for z-only gradients (GPZ 100 % = " << fmt::format("{:.6g}", o.gpz_max_g_per_cm)
       << " G/cm):\n";
    for (const auto& [k, i] : b.gradients().by_key)
      pp << ";gpz" << i << ": " << fmt::format("{:.6g}", b.gpz[i]) << "%\n";
    pp << "\n;use gradient files:\n";
    for (const auto& [k, i] : b.gradients().by_key)
      pp << ";gpnam" << i << ": " << b.gpnam[i] << " (area factor "
         << fmt::format("{:.10g}", b.gradient_files().at(b.gpnam[i])) << ", lists/gp)\n";
  }
  pp << "\n\n\n;$Id: " << name << ", nmrc export $\n";
  return pp.str();
}

// The lines of setup.mac for one experiment: open it, load the console's standard parameter
// set (rpar), then set every value nmrc chose, as TopSpin sets a parameter typed with its
// value (P in us, D in s, PLW/SPW in W, GPZ in %, O1 and SW_h in Hz).
std::string setup_macro(const std::string& dir, const std::string& name, const ExperimentBuilder& b,
                        const AcquireElement& acq, const Molecule& m, const BrukerExportOptions& o,
                        const Calibration& cal) {
  auto v = [](double x) { return fmt::format("{:.10g}", x); };
  const Channel& ch = m.channels[acq.channel];
  std::ostringstream mac;
  mac << "re " << dir << "\n"
      << "rpar " << checked_name(o.rpar, "--rpar") << " all\n"
      << "pulprog " << name << "\n"
      << "td " << 2L * acq.td << "\n"
      << "swh " << v(acq.sw_hz) << "\n"
      << "o1 " << v(ch.frame_ppm * ch.larmor_mhz + ch.carrier_hz) << "\n"
      << "ns " << o.ns << "\n"
      << "ds " << o.ds << "\n";
  for (int i = 0; i < kArray; ++i)
    if (b.d_s[i] != 0.0) mac << "d" << i << " " << v(b.d_s[i]) << "\n";
  for (int i = 0; i < kArray; ++i)
    if (b.p_us[i] != 0.0) mac << "p" << i << " " << v(b.p_us[i]) << "\n";
  for (int i = 0; i < kArray; ++i)
    if (b.plw[i] != 0.0) mac << "plw" << i << " " << v(b.plw[i]) << "\n";
  for (int i = 0; i < kArray; ++i)
    if (b.spw[i] != 0.0 || b.spnam[i] != "gauss") {
      mac << "spnam" << i << " " << b.spnam[i] << "\n"
          << "spoffs" << i << " " << v(b.spoffs[i]) << "\n";
      if (b.spw[i] != 0.0) mac << "spw" << i << " " << v(b.spw[i]) << "\n";  // with --p90/--plw
    }
  for (const auto& [k, i] : b.gradients().by_key)
    mac << "gpz" << i << " " << v(b.gpz[i]) << "\n"
        << "gpnam" << i << " " << b.gpnam[i] << "\n";
  if (cal.decouple)
    mac << "o2 " << v(cal.o2_hz) << "\n"
        << "cpdprg2 " << o.decouple->program << "\n"
        << "pcpd2 " << v(o.decouple->pcpd_us) << "\n";  // plw12 with the plwN above, when set
  return mac.str();
}

// The experiment's acqus (TopSpin's layout, spectrometer::format_acqus).
std::string acqus_text(const std::string& name, const ExperimentBuilder& b,
                       const AcquireElement& acq, const Molecule& m, const BrukerExportOptions& o,
                       const Calibration& cal) {
  spectrometer::AcqusParameters a;
  a.title = "Parameter file, nmrc 0.1.0";
  a.td = 2L * acq.td;
  a.sw_h = acq.sw_hz;
  const Channel& ch = m.channels[acq.channel];
  a.bf1_mhz = ch.larmor_mhz;
  a.o1_hz = ch.frame_ppm * ch.larmor_mhz + ch.carrier_hz;
  a.nuc1 = ch.isotope;
  a.ns = o.ns;
  a.ds = o.ds;
  a.pulprog = name;
  a.te_k = m.temperature_k;
  a.d_s = b.d_s;
  a.p_us = b.p_us;
  a.plw_w = b.plw;
  a.spw_w = b.spw;
  a.spoffs_hz = b.spoffs;
  a.spnam = b.spnam;
  a.gpz_percent = b.gpz;
  a.gpnam = b.gpnam;
  auto channel = [&](const std::string& f, const std::string& isotope, double bf_mhz, double o_hz) {
    a.extra.push_back({"$NUC" + f, "<" + isotope + ">"});
    a.extra.push_back({"$BF" + f, fmt::format("{:.15g}", bf_mhz)});
    a.extra.push_back({"$O" + f, fmt::format("{:.15g}", o_hz)});
    a.extra.push_back({"$SFO" + f, fmt::format("{:.15g}", bf_mhz + 1e-6 * o_hz)});
  };
  for (size_t c = 0; c < m.channels.size(); ++c) {
    if (static_cast<int>(c) == acq.channel) continue;
    const Channel& oc = m.channels[c];
    channel(std::to_string(b.f_of(static_cast<int>(c))), oc.isotope, oc.larmor_mhz,
            oc.frame_ppm * oc.larmor_mhz + oc.carrier_hz);
  }
  if (cal.decouple) {
    channel("2", "1H", cal.bf2_mhz, cal.o2_hz);
    a.cpdprg.assign(9, "");
    a.cpdprg[2] = o.decouple->program;
    a.pcpd_us.assign(10, 100.0);
    a.pcpd_us[2] = o.decouple->pcpd_us;
  }
  return spectrometer::format_acqus(a);
}

// One channel's power over a scan against the probe's limits: the summary's part (peak and
// average) or an InputError naming the level, the energy and the limit's option.
std::string channel_power(const std::string& name, const char* channel, const std::string& level,
                          double peak_w, double energy_j, const std::string& energy_text,
                          double scan_s, double peak_limit_w, double average_limit_w) {
  const double avg = energy_j / scan_s;
  if (peak_w > peak_limit_w)
    throw InputError(name + ": " + channel + " " + level + " " + fmt::format("{:.6g}", peak_w) +
                     " W exceeds the probe's " + fmt::format("{:.6g}", peak_limit_w) +
                     " W (--probe-max-w-" + channel + ")");
  if (avg > average_limit_w)
    throw InputError(name + ": " + channel + " average power " + fmt::format("{:.6g}", avg) +
                     " W (" + energy_text + " of a " + fmt::format("{:.6g}", scan_s) +
                     " s scan) exceeds the probe's " + fmt::format("{:.6g}", average_limit_w) +
                     " W (--probe-avg-w-" + channel + ")");
  return " peak " + fmt::format("{:.6g}", peak_w) + " W, average " + fmt::format("{:.6g}", avg) +
         " W";
}

// Power per channel over one scan; refused above the probe's limits.
std::string power_check(const std::string& name, const ExperimentBuilder& b,
                        const AcquireElement& acq, const BrukerExportOptions& o,
                        const Calibration& cal) {
  const double aq_s = acq.td / acq.sw_hz;
  // d11, d1, the sequence (with the decoupler's switching statements), the acquisition, d11.
  const double scan_s = 0.03 + cal.d1_s + b.sequence_s + aq_s + 0.03;
  std::string line = "power " + name + ": scan " + fmt::format("{:.6g}", scan_s) + " s";
  if (o.p90_us) {
    line += ", f1" + channel_power(name, "f1", "peak power", b.peak_f1_w, b.energy_f1_j,
                                   fmt::format("{:.6g}", b.energy_f1_j) + " J", scan_s,
                                   o.probe.peak_w_f1, o.probe.average_w_f1);
  } else {
    line += ", f1 not checked (no --p90/--plw)";
  }
  auto g = [](double x) { return fmt::format("{:.6g}", x); };
  if (cal.decouple && o.decouple->p90_us) {
    // The CPD program from cpds2 to the end of the acquisition, CW around the long shapes.
    const double cpd_s = b.cpd_s + aq_s;
    const bool cw = b.cw_s > 0;
    const bool cw_peak = cw && cal.plw13_w > cal.plw12_w;
    std::string energy = "PLW12 " + g(cal.plw12_w) + " W for " + g(cpd_s) + " s";
    if (cw) energy += " + PLW13 " + g(cal.plw13_w) + " W for " + g(b.cw_s) + " s";
    line += ", f2 (1H decoupling " + g(cpd_s + b.cw_s) + " s" +
            (cw ? ", of which CW " + g(b.cw_s) + " s, the longest CW interval " +
                      g(b.cw_longest_s) + " s"
                : std::string()) +
            ")" +
            channel_power(
                name, "f2", cw_peak ? "CW decoupling power PLW13" : "decoupling power PLW12",
                cw_peak ? cal.plw13_w : cal.plw12_w, cal.plw12_w * cpd_s + cal.plw13_w * b.cw_s,
                energy, scan_s, o.probe.peak_w_f2, o.probe.average_w_f2);
  } else if (cal.decouple) {
    line += ", f2 not checked (no --p90-h/--plw-h)";
  }
  return line;
}

std::string readme_text(const Molecule& m, const BrukerExportOptions& o, const Calibration& cal,
                        bool cw, const std::vector<std::string>& summary) {
  std::ostringstream rd;
  rd << "nmrc export for a Bruker TopSpin console (molecule "
     << console_text(m.name, ConsoleText::kTextLine, "molecule name") << ")\n\n"
     << "Where the files go (TopSpin 3/4; <ts> is the TopSpin installation, e.g. "
        "/opt/topspin4.1.4):\n"
     << "  lists/wave/*   -> <ts>/exp/stan/nmr/lists/wave/user/   (shape files, JCAMP-DX)\n"
     << "  lists/pp/*     -> <ts>/exp/stan/nmr/lists/pp/user/     (pulse programs)\n"
     << "  lists/gp/*     -> <ts>/exp/stan/nmr/lists/gp/user/     (gradient shapes: GPZ is "
        "computed\n"
     << "                    from their own area factors; keep nmrc's files, not Bruker's\n"
     << "                    SINE.100/SMSQ10.100, whose areas differ)\n"
     << "  1/, 2/, ...    -> <data>/<user>/nmr/<NAME>/1, 2, ...    (one experiment each: acqu,\n"
     << "                    acqus, pulseprogram; open with re, check with ased)\n"
     << "  setup.mac      -> <ts>/exp/stan/nmr/lists/mac/user/    (run once, before queue.mac: in\n"
     << "                    every experiment, rpar " << checked_name(o.rpar, "--rpar")
     << " all (your standard parameter set: the\n"
     << "                    probe, receiver and digitiser settings), then nmrc's values)\n"
     << "  queue.mac      -> <ts>/exp/stan/nmr/lists/mac/user/    (runs the experiments: re k, "
        "zg)\n\n"
     << "What to calibrate first, in this order:\n"
     << "  1. Tune and match, lock, shim. O1 is set so that the carrier is nmrc's carrier.\n"
     << "  2. The hard 90 on f1 ("
     << console_text(m.channels[0].isotope, ConsoleText::kTextLine, "isotope")
     << "): p1 at PLW1 (e.g. with pulsecal or a nutation array).\n"
     << "     Re-run `nmrc export bruker ... --p90 P1_US --plw PLW1_W` so that every shape power\n"
     << "     follows from it: nu1 = 1/(4 p1), SPW = PLW1 (nu_shape/nu1)^2, SPdB = -10 "
        "log10(SPW).\n"
     << "     Each shape's 100 % nutation frequency is in its pulse program's ;sp comment.\n"
     << "  3. Gradients: GPZ 100 % is taken as " << fmt::format("{:.6g}", o.gpz_max_g_per_cm)
     << " G/cm (--gpz-max); check your probe's calibration.\n"
     << "  4. The sense of phase: export sequences/console/phase_sense_c2.yaml (one selective\n"
     << "     90 on C2, then acquire) and run it: C2's lines carry most of the signal on a\n"
     << "     console of nmrc's sense; on the other, C3's lines are the strongest (then\n"
     << "     export everything again with --phase-sense -1).\n"
     << "     docs/bruker.md, \"The sense of phase\".\n"
     << "  Receiver gain: RG = 1 here and no rga in any experiment. Choose RG once (rga on\n"
     << "     the experiment with the largest signal) and set that same RG in every\n"
     << "     experiment: experiments that are added with weights must share RG. NC may\n"
     << "     differ per FID: nmrc's readers multiply by 2^NC; a sum in TopSpin must scale\n"
     << "     each FID by w_i 2^NC_i.\n";
  if (cal.decouple)
    rd << "  5. 1H decoupling (f2, " << o.decouple->program << ", PCPD2 "
       << fmt::format("{:.6g}", o.decouple->pcpd_us)
       << " us): calibrate the 1H hard 90 and re-run with\n"
       << "     --p90-h P90_US --plw-h W so that PLW12 = W (p90/PCPD2)^2"
       << (o.decouple->p90_us ? " (now " + fmt::format("{:.6g}", cal.plw12_w) + " W)"
                              : std::string(" (not set)"))
       << "; O2 = " << fmt::format("{:.6g}", o.decouple->o2_ppm) << " ppm (--o2-ppm):\n"
       << "     put it in the middle of the protons.\n";
  if (cw)
    rd << "     During every shaped pulse of at least "
       << fmt::format("{:.6g}", o.decouple->cw_min_s * 1e6)
       << " us (and through all the readout pulses) f2 plays CW\n"
       << "     at B2 " << fmt::format("{:.6g}", o.decouple->cw_b2_hz)
       << " Hz on pl13 (PLW13 = W (4 p90 B2)^2"
       << (o.decouple->p90_us ? ", now " + fmt::format("{:.6g}", cal.plw13_w) + " W"
                              : std::string(", not set"))
       << "; --cw-b2-hz, --cw-min-us;\n"
       << "     --decoupler-pulses cpd: the CPD program throughout). Check that your probe "
          "takes\n"
       << "     PLW13 for the longest CW interval the power lines below give.\n";
  rd << "\nTiming added by the console and not in nmrc's model: d11 (30 ms) and d1 before each "
        "scan;\n"
     << "4 us UNBLKGRAD, d16 (" << fmt::format("{:.6g}", o.d16_s * 1e6)
     << " us) and 4 us BLKGRAD around each gradient;\n"
     << "4 us to switch the power before a hard pulse of another power level"
     << (cal.decouple ? "; 4 us to start the decoupler" : "")
     << (cw ? ";\n12 us to switch f2 to CW before a long shaped pulse and 12 us back after it "
              "(after the\nreadout: 12 us of free evolution before go=2, read from the "
              "pulseprogram and evolved\nback by nmrc's line fit)"
            : "")
     << ".\n\n";
  for (const auto& s : summary) rd << s << "\n";
  return rd.str();
}

}  // namespace

BrukerExportResult export_bruker(const std::vector<BrukerExperimentInput>& experiments,
                                 const Molecule& m, const BrukerExportOptions& o) {
  if (experiments.empty()) throw InputError("export: no experiment to export");
  const Calibration cal = check_options(m, o);
  BrukerExportResult res;
  std::vector<ShapeEntry> shapes;
  std::set<std::string> shape_files, pp_names, gradient_files;
  std::string queue, setup;
  int expno = 0;
  bool cw_played = false;
  for (const auto& ex : experiments) {
    ++expno;
    const auto& els = ex.sequence.elements;
    // The acquisition: the last element, and only there.
    if (els.empty() || !std::holds_alternative<AcquireElement>(els.back()))
      throw InputError((ex.locate && !els.empty() ? ex.locate(els.size() - 1) : ex.name) +
                       ": the sequence must end with an acquire element (TopSpin's go=2 ph31)");
    const AcquireElement acq = std::get<AcquireElement>(els.back());
    ExperimentBuilder b(m, o, cal, shapes, shape_files, acq.channel);
    // The readout: from readout_from (default: the element before the acquisition) to go=2.
    // It plays under CW when one of its elements would (BrukerDecoupling::pulses): one switch
    // into CW before it, none between its pulses, one back to the CPD program before go=2.
    const size_t readout_from = ex.readout_from == static_cast<size_t>(-1)
                                    ? (els.size() >= 2 ? els.size() - 2 : 0)
                                    : ex.readout_from;
    bool readout_cw = false;
    for (size_t k = readout_from; k + 1 < els.size(); ++k)
      readout_cw = readout_cw || b.cw_pulse(els[k]);
    for (size_t k = 0; k + 1 < els.size(); ++k) {
      const std::string w = ex.locate ? ex.locate(k) : std::string();
      b.add(els[k], (w.empty() ? ex.name : w) + ": elements[" + std::to_string(k) + "]",
            static_cast<int>(k), k >= readout_from, readout_cw);
    }
    b.finish();
    cw_played = cw_played || b.cw_s > 0;
    if (cal.decouple) res.decoupler.push_back(b.decoupler_steps());
    for (const auto& [file, factor] : b.gradient_files()) gradient_files.insert(file);
    std::string name = checked_name(ex.name, "pulse program name");
    for (int n = 2; pp_names.count(name); ++n) name = ex.name + "_" + std::to_string(n);
    pp_names.insert(name);
    const std::string pp = pulse_program(name, b, acq, m, o, cal);
    const std::string dir = std::to_string(expno);
    res.files.push_back({"lists/pp/" + name, pp});
    res.files.push_back({dir + "/pulseprogram", pp});
    const std::string acqus = acqus_text(name, b, acq, m, o, cal);
    res.files.push_back({dir + "/acqus", acqus});
    res.files.push_back({dir + "/acqu", acqus});
    queue += "re " + dir + "\nzg\n";
    setup += setup_macro(dir, name, b, acq, m, o, cal);
    const Channel& ch = m.channels[acq.channel];
    res.summary.push_back("experiment " + dir + ": pulse program " + name + ", " +
                          std::to_string(els.size()) + " elements, TD " +
                          std::to_string(2L * acq.td) + ", SW_h " +
                          fmt::format("{:.6g}", acq.sw_hz) + " Hz, O1 " +
                          fmt::format("{:.2f}", ch.frame_ppm * ch.larmor_mhz + ch.carrier_hz) +
                          " Hz on " + ch.isotope + (cal.decouple ? ", 1H decoupled on f2" : ""));
    res.summary.push_back(power_check(name, b, acq, o, cal));
  }
  for (const auto& file : gradient_files) {
    BrukerGradientShape g = bruker_gradient_shape(file == bruker_gradient_shape(true).name);
    g.shape.date = o.date;
    g.shape.time = o.time;
    res.files.push_back({"lists/gp/" + file, format_bruker_shape(g.shape)});
  }
  for (const auto& se : shapes) {
    res.files.push_back({"lists/wave/" + se.file, format_bruker_shape(se.shape)});
    res.summary.push_back(
        "shape " + se.file + ": " + std::to_string(se.shape.amplitude_percent.size()) +
        " points, " + fmt::format("{:.6g}", se.duration_s * 1e6) +
        " us, 100 % = " + fmt::format("{:.6g}", se.nu_hz) + " Hz nutation" +
        (o.p90_us && se.channel == 0
             ? ", SPW " + fmt::format("{:.6g}", *o.plw_w * std::pow(se.nu_hz / cal.nu1_hz, 2)) +
                   " W"
             : std::string()));
  }
  res.files.push_back({"queue.mac", queue});
  res.files.push_back({"setup.mac", setup});
  res.files.push_back({"README.txt", readme_text(m, o, cal, cw_played, res.summary)});
  return res;
}

}  // namespace nmrc::compiler
