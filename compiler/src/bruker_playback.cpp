#include "nmrc/compiler/bruker_playback.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <vector>

#include "nmrc/core/bruker_shape.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/jcamp.hpp"
#include "nmrc/core/text.hpp"
#include "nmrc/spectrometer/bruker_dataset.hpp"
#include "nmrc/spectrometer/decoupling.hpp"

namespace nmrc::compiler {

namespace {

namespace fs = std::filesystem;

// "p12" -> 12 for a token that is `prefix` followed by digits only; -1 otherwise.
int index_of(const std::string& token, const std::string& prefix) {
  if (token.size() <= prefix.size() || token.rfind(prefix, 0) != 0) return -1;
  int v = 0;
  for (size_t i = prefix.size(); i < token.size(); ++i) {
    if (token[i] < '0' || token[i] > '9' || v > 100000) return -1;
    v = 10 * v + (token[i] - '0');
  }
  return v;
}

double entry(const std::vector<double>& a, int i, const std::string& what,
             const std::string& where) {
  if (i < 0 || static_cast<size_t>(i) >= a.size())
    throw InputError(where + ": " + what + "[" + std::to_string(i) + "] is not in acqus");
  return a[static_cast<size_t>(i)];
}

}  // namespace

Sequence read_bruker_experiment(const std::string& dir, int expno, const Molecule& m,
                                int phase_sense) {
  const std::string ex = (fs::path(dir) / std::to_string(expno)).string();
  const std::string pp_path = ex + "/pulseprogram";
  const std::string pp = read_file(pp_path);
  const JcampFile a = read_jcamp(ex + "/acqus");
  const std::vector<double> P = a.numbers("$P"), D = a.numbers("$D"), PLW = a.numbers("$PLW");
  const std::vector<double> SPW = a.find("$SPW") ? a.numbers("$SPW") : std::vector<double>{};
  const std::vector<double> GPZ = a.find("$GPZ") ? a.numbers("$GPZ") : std::vector<double>{};
  if (!(P.size() > 1 && PLW.size() > 1 && P[1] > 0 && PLW[1] > 0))
    a.fail(a.at("$P"),
           "P[1] and PLW[1] (the calibrated hard 90) are needed to play the export "
           "back (export with --p90 and --plw)");
  const double nu1 = 1.0 / (4.0 * P[1] * 1e-6);
  // Channels: f1 observes NUC1; the others follow in molecule order (as the export numbers them).
  const std::string iso = spectrometer::topspin_isotope(a.text("$NUC1"));
  int observed = -1;
  for (size_t c = 0; c < m.channels.size() && observed < 0; ++c)
    if (spectrometer::topspin_isotope(m.channels[c].isotope) == iso) observed = static_cast<int>(c);
  if (observed < 0) a.fail(a.at("$NUC1"), "no channel of molecule " + escape_text(m.name));
  std::map<int, int> channel_of_f{{1, observed}};
  int next = 2;
  for (size_t c = 0; c < m.channels.size(); ++c)
    if (static_cast<int>(c) != observed) channel_of_f[next++] = static_cast<int>(c);
  // Phase lists "phN=(360) X" and the gradient calibration comment.
  std::map<int, double> phase_deg;
  double gpz_max = 0.0;
  std::vector<std::string> lines;
  {
    std::istringstream in(pp);
    std::string l;
    while (std::getline(in, l)) lines.push_back(l);
  }
  for (const auto& l : lines) {
    const int ph = l.rfind("ph", 0) == 0 ? index_of(l.substr(0, l.find('=')), "ph") : -1;
    if (ph > 0 && ph != 31 && l.find("=(360) ") != std::string::npos)
      phase_deg[ph] = std::strtod(l.c_str() + l.find("=(360) ") + 7, nullptr);
    const std::string tag = ";for z-only gradients (GPZ 100 % = ";
    if (l.rfind(tag, 0) == 0) gpz_max = std::strtod(l.c_str() + tag.size(), nullptr);
  }
  Sequence seq;
  seq.name = a.text("$PULPROG");
  std::map<int, double> level_w;  // power level last set on each f channel
  std::map<int, size_t> label_at;
  bool in_body = false;
  for (size_t n = 0; n < lines.size(); ++n) {
    const std::string where = pp_path + ":" + std::to_string(n + 1) + ": " + escape_text(lines[n]);
    std::istringstream in(lines[n]);
    std::vector<std::string> tok;
    for (std::string t; in >> t;) tok.push_back(t);
    if (tok.empty() || tok[0][0] == ';' || tok[0][0] == '#' || tok[0][0] == '"') continue;
    if (tok[0] == "1" && tok.size() == 2 && tok[1] == "ze") {
      in_body = true;
      continue;
    }
    if (!in_body) continue;
    if (tok[0] == "exit") break;
    // A label: the loop back to it repeats what follows it.
    if (index_of("L" + tok[0], "L") >= 0) {  // digits only: a label, not "4u"
      label_at[std::atoi(tok[0].c_str())] = seq.elements.size();
      tok.erase(tok.begin());
      if (tok.empty()) continue;
    }
    const std::string& t = tok[0];
    if (t == "lo" && tok.size() == 5 && tok[1] == "to" && tok[3] == "times") {
      const auto it = label_at.find(std::atoi(tok[2].c_str()));
      const long times = std::atol(tok[4].c_str());
      if (it == label_at.end() || times < 1 || times > 100000)
        throw InputError(where + ": a loop to an unknown label or with a bad count");
      const std::vector<Element> block(seq.elements.begin() + static_cast<long>(it->second),
                                       seq.elements.end());
      for (long r = 1; r < times; ++r)
        seq.elements.insert(seq.elements.end(), block.begin(), block.end());
      continue;
    }
    if (t == "go=2") {  // the acquisition
      AcquireElement acq;
      acq.channel = observed;
      acq.sw_hz = a.number("$SW_h");
      acq.td = static_cast<int>(a.integer("$TD") / 2);
      const std::string ph31 = "ph31=";
      for (const auto& l : lines)
        if (l.rfind(ph31, 0) == 0)
          acq.receiver_phase_rad = phase_sense * std::atoi(l.c_str() + ph31.size()) * kPi / 2;
      // The statements between the last pulse and go=2 (the decoupler's switch back after a
      // readout under CW): free evolution before the first point, played.
      if (const double pre = spectrometer::preacquisition_delay_s(pp, pp_path); pre > 0)
        seq.elements.push_back(DelayElement{pre});
      seq.elements.push_back(acq);
      continue;
    }
    // The console's own timing and the decoupler: not in nmrc's model.
    if (t == "d1" || t == "d11" || t == "d16" || t == "4u" || t == "ze") {
      if (t == "4u" && tok.size() == 2 && tok[1].rfind("pl", 0) == 0) {  // "4u pl2:f1"
        const size_t colon = tok[1].find(":f");
        const int pl = index_of(tok[1].substr(0, colon), "pl");
        if (colon == std::string::npos || pl < 0)
          throw InputError(where + ": not a power switch plN:fF");
        level_w[std::atoi(tok[1].c_str() + colon + 2)] = entry(PLW, pl, "PLW", where);
      }
      continue;
    }
    if (const int di = index_of(t, "d"); di > 0 && tok.size() == 1) {
      seq.elements.push_back(DelayElement{entry(D, di, "D", where)});
      continue;
    }
    if (t.rfind("p", 0) == 0 && t.find(":gp") != std::string::npos) {  // "p16:gp1"
      const size_t c = t.find(":gp");
      const int pi = index_of(t.substr(0, c), "p"), gi = index_of(t.substr(c + 1), "gp");
      if (pi < 0 || gi < 0 || !(gpz_max > 0))
        throw InputError(where + ": a gradient needs pN:gpM and the GPZ 100 % comment");
      const std::string nam = [&] {
        const JcampRecord* r = a.find("$GPNAM");
        if (!r) return std::string();
        std::string all;
        for (const auto& cl : r->continuation) all += cl + " ";
        std::istringstream names(all);
        std::string x;
        for (int k = 0; names >> x; ++k)
          if (k == gi) return x;
        return std::string();
      }();
      GradientElement g;
      g.duration_s = entry(P, pi, "P", where) * 1e-6;
      g.strength_g_per_cm = entry(GPZ, gi, "GPZ", where) / 100.0 * gpz_max;
      // The area the console plays: the gradient shape file's own integral (lists/gp).
      const std::string file = nam.size() > 2 ? nam.substr(1, nam.size() - 2) : std::string();
      if (file.empty() || !is_safe_name(file))
        throw InputError(where + ": GPNAM" + std::to_string(gi) + " = " + escape_text(nam) +
                         ": must name a gradient shape file in lists/gp");
      const fs::path gp = fs::path(dir) / "lists/gp" / file;
      if (!fs::exists(gp))
        throw InputError(where + ": GPNAM" + std::to_string(gi) + " = " + file + ": no file " +
                         gp.string() + " (the gradient's area comes from its shape file)");
      const BrukerShape shape = read_bruker_shape_file(gp.string());
      g.shape_factor = shape_integfac(shape.amplitude_percent, shape.phase_deg);
      seq.elements.push_back(g);
      continue;
    }
    if (t.rfind("(p", 0) == 0) {  // "(p12 ph1):f1" or "(p11:sp1 ph0):f1 (p13:sp2 ph0):f2"
      ShapedPulseElement shaped;
      for (size_t k = 0; k + 1 < tok.size(); k += 2) {
        const std::string& pt = tok[k];
        const std::string& ph = tok[k + 1];  // "phM):fF"
        const size_t close = ph.find("):f");
        if (pt.size() < 3 || pt[0] != '(' || close == std::string::npos)
          throw InputError(where + ": not a pulse (pN phM):fF or (pN:spM ph0):fF");
        const int f = std::atoi(ph.c_str() + close + 3);
        if (!channel_of_f.count(f)) throw InputError(where + ": no channel f" + std::to_string(f));
        const int channel = channel_of_f[f];
        const size_t sp = pt.find(":sp");
        if (sp == std::string::npos) {  // a hard pulse
          const int pi = index_of(pt.substr(1), "p"), phi = index_of(ph.substr(0, close), "ph");
          if (pi < 0 || phi < 0 || !phase_deg.count(phi) || !level_w.count(f))
            throw InputError(where + ": a hard pulse needs pN, a phase list and a power level");
          HardPulseElement h;
          h.channel = channel;
          h.rf_hz = nu1 * std::sqrt(level_w[f] / PLW[1]);
          h.angle_rad = kTwoPi * h.rf_hz * entry(P, pi, "P", where) * 1e-6;
          h.phase_rad = phase_sense * phase_deg[phi] * kPi / 180.0;
          seq.elements.push_back(h);
          continue;
        }
        const int pi = index_of(pt.substr(1, sp - 1), "p"), si = index_of(pt.substr(sp + 1), "sp");
        if (pi < 0 || si < 0) throw InputError(where + ": not a shaped pulse (pN:spM ph0):fF");
        const JcampRecord* names = a.find("$SPNAM");
        std::string file;
        if (names) {
          std::string all;
          for (const auto& cl : names->continuation) all += cl + " ";
          std::istringstream ns(all);
          std::string x;
          for (int i = 0; ns >> x; ++i)
            if (i == si) file = x.size() >= 2 ? x.substr(1, x.size() - 2) : x;
        }
        if (!is_safe_name(file)) throw InputError(where + ": SPNAM[" + std::to_string(si) + "]");
        const BrukerShape shape =
            read_bruker_shape_file((fs::path(dir) / "lists/wave" / file).string());
        const double nu = nu1 * std::sqrt(entry(SPW, si, "SPW", where) / PLW[1]);
        const ShapedPulseElement e = shaped_pulse_from_bruker_shape(
            shape, entry(P, pi, "P", where) * 1e-6, nu, channel, ShapeFrame{phase_sense, 0.0});
        if (shaped.channels.empty()) {
          shaped = e;
          shaped.name = file;
        } else {
          shaped.channels.push_back(channel);
          shaped.ux_hz.push_back(e.ux_hz[0]);
          shaped.uy_hz.push_back(e.uy_hz[0]);
        }
      }
      if (!shaped.channels.empty()) seq.elements.push_back(shaped);
      continue;
    }
    throw InputError(where + ": a statement nmrc does not play back");
  }
  if (seq.elements.empty() || !std::holds_alternative<AcquireElement>(seq.elements.back()))
    throw InputError(pp_path + ": no go=2 ph31 at the end of the sequence");
  return seq;
}

namespace {

// The elements of the timeline, in order: element k of seq, or a switching delay.
template <class F>
void walk_timeline(const Sequence& seq, const std::vector<BrukerDecouplerStep>& steps, F&& f) {
  size_t next = 0;  // the next element of seq the timeline must reach
  for (size_t i = 0; i < steps.size(); ++i) {
    const BrukerDecouplerStep& st = steps[i];
    if (st.element < 0) {
      f(st, nullptr, DelayElement{st.duration_s});
      continue;
    }
    const size_t k = static_cast<size_t>(st.element);
    if (k != next || k >= seq.elements.size())
      throw InputError("exported timeline: step " + std::to_string(i) + " plays element " +
                       std::to_string(k) + " where element " + std::to_string(next) + " is due");
    const double t = element_duration(seq.elements[k]);
    // the element and, in the same step, the console's own 4 us before it (a power switch)
    if (!(st.duration_s >= t - 1e-12))
      throw InputError("exported timeline: step " + std::to_string(i) +
                       " is shorter than element " + std::to_string(k));
    if (st.duration_s - t > 1e-12) f(st, nullptr, DelayElement{st.duration_s - t});
    f(st, &seq.elements[k], DelayElement{});
    ++next;
  }
  if (next + 1 < seq.elements.size() ||
      (next < seq.elements.size() && !std::holds_alternative<AcquireElement>(seq.elements[next])))
    throw InputError("exported timeline: element " + std::to_string(next) + " is not played");
}

}  // namespace

Sequence exported_timeline(const Sequence& seq, const std::vector<BrukerDecouplerStep>& steps) {
  Sequence out;
  out.name = seq.name;
  walk_timeline(seq, steps,
                [&](const BrukerDecouplerStep&, const Element* e, const DelayElement& d) {
                  out.elements.push_back(e ? *e : Element{d});
                });
  return out;
}

Mat decoupled_unitary_as_exported(const Molecule& mh, const Sequence& seq,
                                  const std::vector<BrukerDecouplerStep>& steps,
                                  const BrukerDecoupling& d) {
  const int h = mh.channel_index("1H");
  if (h < 0) throw InputError("molecule " + escape_text(mh.name) + ": no channel 1H to decouple");
  using F2 = BrukerDecouplerStep::F2;
  auto setting = [&](F2 f2) {
    spectrometer::Decoupler dec;
    dec.channel = "1H";
    dec.o2_hz = mh.channels[h].offset_of_ppm(d.o2_ppm);
    dec.sequence = spectrometer::cpd_sequence(f2 == F2::kCw ? "cw" : d.program);
    dec.pcpd_s = f2 == F2::kCw ? 0.25 / d.cw_b2_hz : d.pcpd_us * 1e-6;
    dec.on = f2 != F2::kOff;
    return dec;
  };
  if (steps.empty()) throw InputError("exported timeline: no decoupler steps");
  spectrometer::DecoupledEvolution ev(mh, setting(steps.front().f2));
  F2 current = steps.front().f2;
  Mat u = Mat::Identity(1 << mh.size(), 1 << mh.size());
  walk_timeline(seq, steps,
                [&](const BrukerDecouplerStep& st, const Element* e, const DelayElement& dl) {
                  if (st.f2 != current) {
                    ev.switch_to(setting(st.f2));
                    current = st.f2;
                  }
                  u = (e ? ev.advance(*e) : ev.advance(Element{dl})) * u;
                });
  return u;
}

}  // namespace nmrc::compiler
