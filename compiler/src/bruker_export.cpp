#include "nmrc/compiler/bruker_export.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "nmrc/core/bruker_shape.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/yaml_input.hpp"
#include "nmrc/spectrometer/bruker_dataset.hpp"

namespace nmrc::compiler {

namespace {

constexpr double kDeg = 180.0 / kPi;
// TopSpin 3/4 array sizes: P, D, PLW, SPW, SPOFFS, SPNAM (0..63); GPZ, GPNAM (0..31).
constexpr int kArray = 64;
constexpr int kGradArray = 32;

std::string num(double v, const char* f = "%.6g") {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

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

std::string safe_name(const std::string& s) {
  std::string o;
  for (char c : s)
    o +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-') ? c : '_';
  return o.empty() ? std::string("shape") : o;
}

// Exact binary key of a double (distinct values get distinct indices).
std::string key_of(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

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

BrukerExportResult export_bruker(const std::vector<BrukerExperimentInput>& experiments,
                                 const Molecule& m, const BrukerExportOptions& o) {
  if (experiments.empty()) throw InputError("export: no experiment to export");
  if (o.p90_us.has_value() != o.plw_w.has_value())
    throw InputError(
        "--p90 and --plw: give both (the calibrated hard 90 and its power) or neither");
  if (o.p90_us && !(*o.p90_us > 0))
    throw InputError("--p90 = " + num(*o.p90_us) + ": must be > 0 us");
  if (o.plw_w && !(*o.plw_w > 0)) throw InputError("--plw = " + num(*o.plw_w) + ": must be > 0 W");
  if (o.phase_sense != 1 && o.phase_sense != -1)
    throw InputError("--phase-sense = " + std::to_string(o.phase_sense) + ": must be 1 or -1");
  if (!(o.gpz_max_g_per_cm > 0))
    throw InputError("--gpz-max = " + num(o.gpz_max_g_per_cm) + ": must be > 0 G/cm");
  double t1_max = 0.0;
  for (const auto& n : m.nuclei) t1_max = std::max(t1_max, n.t1_s);
  const double d1_s = o.d1_s >= 0 ? o.d1_s : 5.0 * t1_max;
  // Calibration: nu1 = 1 / (4 p90) on the observe channel at PLW (power ~ nu^2).
  const double nu1_hz = o.p90_us ? 1.0 / (4.0 * *o.p90_us * 1e-6) : 0.0;

  BrukerExportResult res;
  std::vector<ShapeEntry> shapes;  // shared by all experiments (one lists/wave file each)
  std::set<std::string> shape_files;
  std::set<std::string> pp_names;
  std::ostringstream queue;
  int expno = 0;
  for (const auto& ex : experiments) {
    ++expno;
    const auto where = [&](size_t k) {
      std::string w = ex.locate ? ex.locate(k) : std::string();
      return (w.empty() ? ex.name : w) + ": elements[" + std::to_string(k) + "]";
    };
    const auto& els = ex.sequence.elements;
    // The acquisition: the last element, and only there.
    if (els.empty() || !std::holds_alternative<AcquireElement>(els.back()))
      throw InputError((ex.locate && !els.empty() ? ex.locate(els.size() - 1) : ex.name) +
                       ": the sequence must end with an acquire element (TopSpin's go=2 ph31)");
    const AcquireElement acq = std::get<AcquireElement>(els.back());
    // f-numbers: the observed channel is f1 (NUC1), the others follow in molecule order.
    std::vector<int> fnum(m.channels.size());
    fnum[acq.channel] = 1;
    int nextf = 2;
    for (size_t c = 0; c < m.channels.size(); ++c)
      if (static_cast<int>(c) != acq.channel) fnum[c] = nextf++;
    // P: p1 is the calibrated hard 90, p16 the first gradient length (Bruker's habits).
    Indexer P{"pulse length (P)", range(11, 63, {16})}, D{"delay (D)", range(2, 63, {11, 12, 16})},
        PL{"power level (PLW)", range(2, 63)}, PH{"phase list", range(1, 30)},
        GP{"gradient (GPZ)", range(1, 31)};
    for (int i = 2; i <= 10; ++i) P.order.push_back(i);
    std::map<std::string, int> gradient_p;
    std::vector<double> p_us(kArray, 0.0), d_s(kArray, 0.0), plw(kArray, 0.0), spw(kArray, 0.0),
        spoffs(kArray, 0.0), gpz(kGradArray, 0.0);
    std::vector<std::string> spnam(kArray, "gauss"), gpnam(kGradArray, "SMSQ10.100");
    std::vector<std::string> comments;          // ";p11: ..." lines, in order of first use
    std::map<std::string, std::string> phases;  // "ph1" -> "(360) 90"
    d_s[1] = d1_s;
    d_s[11] = 0.03;
    d_s[16] = o.d16_s;
    if (o.p90_us) {
      p_us[1] = *o.p90_us;
      plw[1] = *o.plw_w;
    }
    int current_pl = -1;            // power level last set on f1 by a hard pulse
    std::vector<std::string> body;  // one text block per element
    for (size_t k = 0; k + 1 < els.size(); ++k) {
      const Element& e = els[k];
      std::ostringstream t;
      if (const auto* r = std::get_if<RotationElement>(&e)) {
        (void)r;
        throw InputError(
            where(k) +
            " = rotation: an ideal, instantaneous rotation cannot be played "
            "by a TopSpin pulse program; write it as a pulse (hard) or a gate (compiled)");
      } else if (const auto* u = std::get_if<UnitaryElement>(&e)) {
        throw InputError(
            where(k) + " = " + (u->name.empty() ? std::string("unitary") : u->name) +
            ": an instantaneous unitary (an uncompiled gate) cannot be played by a "
            "TopSpin pulse program; compile it first (nmrc compile, then --pulses DIR)");
      } else if (std::holds_alternative<AcquireElement>(e)) {
        throw InputError(where(k) + " = acquire: only the last element may acquire (go=2 ph31)");
      } else if (const auto* dl = std::get_if<DelayElement>(&e)) {
        const int i = D.take(key_of(dl->duration_s), where(k));
        if (d_s[i] == 0.0) {
          d_s[i] = dl->duration_s;
          comments.push_back(";d" + std::to_string(i) + ": delay of the nmrc sequence [" +
                             num(dl->duration_s * 1e3) + " msec]");
        }
        t << "  d" << i;
      } else if (const auto* g = std::get_if<GradientElement>(&e)) {
        const double pct = 100.0 * g->strength_g_per_cm / o.gpz_max_g_per_cm;
        if (std::abs(pct) > 100.0)
          throw InputError(where(k) + ".strength_g_per_cm = " + num(g->strength_g_per_cm) +
                           ": exceeds the gradient at GPZ 100 % (" + num(o.gpz_max_g_per_cm) +
                           " G/cm, --gpz-max)");
        const bool sine = std::abs(g->shape_factor - 2.0 / kPi) < 1e-9;
        const int gi = GP.take(key_of(pct) + (sine ? "s" : "r"), where(k));
        int pi = 16;
        if (auto it = gradient_p.find(key_of(g->duration_s)); it != gradient_p.end())
          pi = it->second;
        else if (!gradient_p.empty())
          pi = P.take("gradient" + key_of(g->duration_s), where(k));
        gradient_p[key_of(g->duration_s)] = pi;
        if (p_us[pi] == 0.0) {
          p_us[pi] = g->duration_s * 1e6;
          comments.push_back(";p" + std::to_string(pi) + ": homospoil/gradient pulse [" +
                             num(g->duration_s * 1e6) + " usec]");
        }
        if (gpz[gi] == 0.0 && gpnam[gi] == "SMSQ10.100") {
          gpz[gi] = pct;
          gpnam[gi] = sine ? "SINE.100" : "SMSQ10.100";
        }
        t << "  4u UNBLKGRAD\n  p" << pi << ":gp" << gi << "\n  d16\n  4u BLKGRAD";
      } else if (const auto* h = std::get_if<HardPulseElement>(&e)) {
        const int f = fnum[h->channel];
        const int pi =
            P.take("hard" + std::to_string(h->channel) + key_of(h->angle_rad) + key_of(h->rf_hz),
                   where(k));
        const double len_us = h->duration_s() * 1e6;
        if (p_us[pi] == 0.0) {
          p_us[pi] = len_us;
          comments.push_back(";p" + std::to_string(pi) + ": f" + std::to_string(f) + " channel - " +
                             num(h->angle_rad * kDeg) + " degree hard pulse at " + num(h->rf_hz) +
                             " Hz nutation [" + num(len_us) + " usec]");
        }
        // Power: pl1 when the pulse uses the calibrated nutation, else its own level.
        int pl = 1;
        if (!(f == 1 && o.p90_us && std::abs(h->rf_hz - nu1_hz) <= 1e-9 * nu1_hz)) {
          pl = PL.take(std::to_string(f) + key_of(h->rf_hz), where(k));
          if (f == 1 && o.p90_us) plw[pl] = *o.plw_w * std::pow(h->rf_hz / nu1_hz, 2);
          comments.push_back(";pl" + std::to_string(pl) + ": f" + std::to_string(f) +
                             " channel - power level for " + num(h->rf_hz) + " Hz nutation" +
                             (f == 1 && o.p90_us
                                  ? " (PLW = PLW1 (nu/nu1)^2 = " + num(plw[pl]) + " W)"
                                  : " (calibrate)"));
        }
        const double ph = std::fmod(o.phase_sense * h->phase_rad * kDeg + 3600.0, 360.0);
        const int phi = PH.take("p" + key_of(ph), where(k));
        phases["ph" + std::to_string(phi)] = "(360) " + num(ph, "%.10g");
        if (pl != current_pl || f != 1) t << "  1u pl" << pl << ":f" << f << "\n";
        if (f == 1) current_pl = pl;
        t << "  (p" << pi << " ph" << phi << "):f" << f;
      } else if (const auto* s = std::get_if<ShapedPulseElement>(&e)) {
        std::ostringstream par;
        for (size_t c = 0; c < s->channels.size(); ++c) {
          double nu = 0;
          BrukerShape sh = bruker_shape_from_waveform(s->ux_hz[c], s->uy_hz[c], s->dt_s, nu,
                                                      ShapeFrame{o.phase_sense, 0.0});
          // The same waveform (and length) is one shape file, reused.
          int found = -1;
          for (size_t i = 0; i < shapes.size(); ++i)
            if (shapes[i].shape.amplitude_percent == sh.amplitude_percent &&
                shapes[i].shape.phase_deg == sh.phase_deg && shapes[i].nu_hz == nu &&
                shapes[i].duration_s == s->duration_s() && shapes[i].channel == s->channels[c])
              found = static_cast<int>(i);
          if (found < 0) {
            ShapeEntry se;
            std::string base = safe_name(s->name.empty() ? "nmrc_shape" : s->name);
            if (s->channels.size() > 1) base += "_" + safe_name(m.channels[s->channels[c]].name);
            std::string file = base;
            for (int n = 2; shape_files.count(file); ++n) file = base + "_" + std::to_string(n);
            shape_files.insert(file);
            se.file = file;
            sh.title = file;
            sh.date = o.date;
            sh.time = o.time;
            sh.shape_parameters =
                "Type: nmrc " + (s->name.empty() ? std::string("shaped pulse") : s->name);
            sh.exmode = "None";
            sh.type = "Universal";
            se.shape = sh;
            se.nu_hz = nu;
            se.duration_s = s->duration_s();
            se.channel = s->channels[c];
            shapes.push_back(se);
            found = static_cast<int>(shapes.size()) - 1;
          }
          ShapeEntry& se = shapes[found];
          const int f = fnum[se.channel];
          // Per experiment: sp and p indices (the arrays belong to the experiment's parameters).
          const int sp =
              1 + static_cast<int>(std::distance(shapes.begin(), shapes.begin() + found));
          if (sp > kArray - 1)
            throw InputError(where(k) + ": more than 63 distinct shapes (TopSpin's SPNAM array)");
          const int pi = P.take("shape" + se.file, where(k));
          if (p_us[pi] == 0.0) {
            p_us[pi] = se.duration_s * 1e6;
            spnam[sp] = se.file;
            spoffs[sp] = 0.0;
            if (f == 1 && o.p90_us) spw[sp] = *o.plw_w * std::pow(se.nu_hz / nu1_hz, 2);
            comments.push_back(";p" + std::to_string(pi) + ": f" + std::to_string(f) +
                               " channel - shaped pulse " + se.file + " [" +
                               num(se.duration_s * 1e6) + " usec, " +
                               std::to_string(se.shape.amplitude_percent.size()) + " points]");
            std::string pw = " (calibrate: SPW = PLW1 (nu/nu1)^2)";
            if (f == 1 && o.p90_us)
              pw = ": SPW = PLW1 (nu/nu1)^2 = " + num(spw[sp]) +
                   " W, SPdB = " + num(-10.0 * std::log10(spw[sp]), "%.2f");
            comments.push_back(";sp" + std::to_string(sp) + ": f" + std::to_string(f) +
                               " channel - shaped pulse power, 100 % = " + num(se.nu_hz) +
                               " Hz nutation" + pw);
            comments.push_back(";spnam" + std::to_string(sp) + ": " + se.file);
            comments.push_back(";spoffs" + std::to_string(sp) + ": 0 Hz (the carrier is O" +
                               std::to_string(f) + ")");
          }
          if (c > 0) par << " ";
          par << "(p" << pi << ":sp" << sp << " ph0):f" << f;
        }
        t << "  " << par.str();
      }
      body.push_back(t.str());
    }
    // Repeated blocks as loops: at each position take the period (<= 32 elements) whose
    // repetition covers the most elements, emit "label ... lo to label times n".
    std::ostringstream pp_body;
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
          pp_body << b << "\n";
        }
        pp_body << "  lo to " << lab << " times " << best_n << "\n";
        i += best_p * best_n;
      } else {
        pp_body << body[i] << "\n";
        ++i;
      }
    }
    // Receiver phase.
    const double rph = std::fmod(o.phase_sense * acq.receiver_phase_rad * kDeg + 3600.0, 360.0);
    std::string name = safe_name(ex.name);
    for (int n = 2; pp_names.count(name); ++n) name = safe_name(ex.name) + "_" + std::to_string(n);
    pp_names.insert(name);
    std::ostringstream pp;
    pp << ";" << name << "\n";
    pp << ";" << name << ": exported by nmrc 0.1.0 from " << o.source << " for molecule " << m.name
       << "\n;played as written: shaped pulses, hard pulses, delays, gradients, acquisition\n";
    pp << ";$CLASS=HighRes\n;$DIM=1D\n;$TYPE=\n;$SUBTYPE=\n;$COMMENT=\n\n";
    pp << "#include <Avance.incl>\n#include <Grad.incl>\n#include <Delay.incl>\n\n";
    pp << "\"d11=30m\"\n\n";
    pp << "1 ze\n2 d11\n  d1\n" << pp_body.str();
    pp << "  go=2 ph31\n  d11 mc #0 to 2 F0(zd)\nexit\n\n";
    pp << "ph0=0\n";
    for (const auto& [k, v] : phases) pp << k << "=" << v << "\n";
    pp << "ph31=(360) " << num(rph, "%.10g") << "\n\n\n";
    if (o.p90_us)
      pp << ";pl1 : f1 channel - power level for the hard 90 [" << num(*o.plw_w) << " W]\n"
         << ";p1 : f1 channel - 90 degree hard pulse [" << num(*o.p90_us)
         << " usec] (nu1 = " << num(nu1_hz) << " Hz)\n";
    for (const auto& c : comments) pp << c << "\n";
    pp << ";d1 : relaxation delay [" << num(d1_s) << " sec] (5 x the longest T1)\n";
    pp << ";d11: delay for disk I/O                             [30 msec]\n";
    pp << ";d16: delay for homospoil/gradient recovery          [" << num(o.d16_s * 1e6)
       << " usec]\n";
    pp << ";ns: " << o.ns << " * n\n;ds: " << o.ds << "\n";
    pp << ";td: " << 2 * acq.td << " (" << acq.td << " complex points), sw_h: " << num(acq.sw_hz)
       << " Hz\n";
    bool any_grad = !GP.by_key.empty();
    if (any_grad) {
      pp << "\n\n;for z-only gradients (GPZ 100 % = " << num(o.gpz_max_g_per_cm) << " G/cm):\n";
      for (const auto& [k, i] : GP.by_key) pp << ";gpz" << i << ": " << num(gpz[i]) << "%\n";
      pp << "\n;use gradient files:\n";
      for (const auto& [k, i] : GP.by_key) pp << ";gpnam" << i << ": " << gpnam[i] << "\n";
    }
    pp << "\n\n\n;$Id: " << name << ", nmrc export $\n";
    // Parameters (acqus in TopSpin's layout).
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
    a.d_s = d_s;
    a.p_us = p_us;
    a.plw_w = plw;
    a.spw_w = spw;
    a.spoffs_hz = spoffs;
    a.spnam = spnam;
    a.gpz_percent = gpz;
    a.gpnam = gpnam;
    for (size_t c = 0; c < m.channels.size(); ++c) {
      if (static_cast<int>(c) == acq.channel) continue;
      const std::string f = std::to_string(fnum[c]);
      const Channel& oc = m.channels[c];
      a.extra.push_back({"$NUC" + f, "<" + oc.isotope + ">"});
      a.extra.push_back({"$BF" + f, num(oc.larmor_mhz, "%.15g")});
      a.extra.push_back({"$O" + f, num(oc.frame_ppm * oc.larmor_mhz + oc.carrier_hz, "%.15g")});
      a.extra.push_back(
          {"$SFO" + f,
           num(oc.larmor_mhz + 1e-6 * (oc.frame_ppm * oc.larmor_mhz + oc.carrier_hz), "%.15g")});
    }
    const std::string acqus = spectrometer::format_acqus(a);
    const std::string dir = std::to_string(expno);
    res.files.push_back({"lists/pp/" + name, pp.str()});
    res.files.push_back({dir + "/pulseprogram", pp.str()});
    res.files.push_back({dir + "/acqus", acqus});
    res.files.push_back({dir + "/acqu", acqus});
    queue << "re " << expno << "\nzg\n";
    res.summary.push_back("experiment " + dir + ": pulse program " + name + ", " +
                          std::to_string(els.size()) + " elements, TD " + std::to_string(a.td) +
                          ", SW_h " + num(acq.sw_hz) + " Hz, O1 " + num(a.o1_hz, "%.2f") +
                          " Hz on " + ch.isotope);
  }
  for (const auto& se : shapes) {
    res.files.push_back({"lists/wave/" + se.file, format_bruker_shape(se.shape)});
    res.summary.push_back(
        "shape " + se.file + ": " + std::to_string(se.shape.amplitude_percent.size()) +
        " points, " + num(se.duration_s * 1e6) + " us, 100 % = " + num(se.nu_hz) + " Hz nutation" +
        (o.p90_us && se.channel == 0
             ? ", SPW " + num(*o.plw_w * std::pow(se.nu_hz / nu1_hz, 2)) + " W"
             : std::string()));
  }
  res.files.push_back({"queue.mac", queue.str()});
  std::ostringstream rd;
  rd << "nmrc export for a Bruker TopSpin console (molecule " << m.name << ")\n\n"
     << "Where the files go (TopSpin 3/4; <ts> is the TopSpin installation, e.g. "
        "/opt/topspin4.1.4):\n"
     << "  lists/wave/*   -> <ts>/exp/stan/nmr/lists/wave/user/   (shape files, JCAMP-DX)\n"
     << "  lists/pp/*     -> <ts>/exp/stan/nmr/lists/pp/user/     (pulse programs)\n"
     << "  lists/gp       -> nothing to copy: the gradients use Bruker's SINE.100 and SMSQ10.100\n"
     << "  1/, 2/, ...    -> <data>/<user>/nmr/<NAME>/1, 2, ...    (one experiment each: acqu,\n"
     << "                    acqus, pulseprogram; open with re, check with ased)\n"
     << "  queue.mac      -> <ts>/exp/stan/nmr/lists/mac/user/    (runs the experiments: re k, "
        "zg)\n\n"
     << "What to calibrate first, in this order:\n"
     << "  1. Tune and match, lock, shim. O1 is set so that the carrier is nmrc's carrier.\n"
     << "  2. The hard 90 on f1 (" << m.channels[0].isotope
     << "): p1 at PLW1 (e.g. with pulsecal or a nutation array).\n"
     << "     Re-run `nmrc export bruker ... --p90 P1_US --plw PLW1_W` so that every shape power\n"
     << "     follows from it: nu1 = 1/(4 p1), SPW = PLW1 (nu_shape/nu1)^2, SPdB = -10 "
        "log10(SPW).\n"
     << "     Each shape's 100 % nutation frequency is in its pulse program's ;sp comment.\n"
     << "  3. Gradients: GPZ 100 % is taken as " << num(o.gpz_max_g_per_cm)
     << " G/cm (--gpz-max); check your probe's calibration.\n"
     << "  4. The sense of phase: consoles turn phases one way or the other (Levitt, J. Magn.\n"
     << "     Reson. 126, 164 (1997)). Run experiment 1 and compare with `nmrc acquire` of the "
        "same\n"
     << "     sequence; if the lines come out mirrored, export again with --phase-sense -1.\n\n"
     << "Timing added by the console and not in nmrc's model: d11 (30 ms) and d1 before each "
        "scan;\n"
     << "4 us UNBLKGRAD, d16 (" << num(o.d16_s * 1e6)
     << " us) and 4 us BLKGRAD around each gradient;\n"
     << "1 us to switch the power before a hard pulse of another power level.\n\n";
  for (const auto& s : res.summary) rd << s << "\n";
  res.files.push_back({"README.txt", rd.str()});
  return res;
}

}  // namespace nmrc::compiler
