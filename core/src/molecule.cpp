#include "nmrc/core/molecule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "nmrc/core/error.hpp"
#include "nmrc/core/limits.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/yaml_input.hpp"

namespace nmrc {

double isotope_xi(const std::string& isotope) {
  // IUPAC 2001 recommendations (Harris et al., Pure Appl. Chem. 73, 1795), Xi in percent / 100.
  if (isotope == "1H") return 1.0;
  if (isotope == "2H") return 0.15350609;
  if (isotope == "13C") return 0.25145020;
  if (isotope == "15N") return 0.10136767;
  if (isotope == "19F") return 0.94094011;
  if (isotope == "31P") return 0.40480742;
  return 0.0;
}

int Molecule::index_of(const std::string& label_or_role) const {
  for (int k = 0; k < size(); ++k)
    if (nuclei[k].label == label_or_role) return k;
  auto it = roles.find(label_or_role);
  if (it != roles.end()) {
    for (int k = 0; k < size(); ++k)
      if (nuclei[k].label == it->second) return k;
  }
  return -1;
}

double Molecule::j_hz(int a, int b) const {
  for (const auto& c : couplings)
    if ((c.a == a && c.b == b) || (c.a == b && c.b == a)) return c.j_hz;
  return 0.0;
}

int Molecule::channel_index(const std::string& nm) const {
  for (size_t i = 0; i < channels.size(); ++i)
    if (channels[i].name == nm) return static_cast<int>(i);
  return -1;
}

const Channel& Molecule::channel_of(int spin) const {
  const int c = channel_index(nuclei.at(spin).channel);
  NMRC_CHECK(c >= 0, "nucleus refers to an unknown channel");
  return channels[c];
}

std::string Molecule::channels_text() const {
  std::string s;
  for (const auto& c : channels) s += (s.empty() ? "" : ", ") + c.name;
  return s;
}

std::string Molecule::labels_text() const {
  if (nuclei.empty()) return "none";
  // "C1..C4" when the labels are a common prefix followed by 1..n, else a list.
  const std::string& first = nuclei.front().label;
  const size_t p = first.find_first_of("0123456789");
  bool run = p != std::string::npos && p > 0;
  for (int k = 0; run && k < size(); ++k)
    run = nuclei[k].label == first.substr(0, p) + std::to_string(k + 1);
  if (run && size() > 2) return first + ".." + nuclei.back().label;
  std::string s;
  for (const auto& n : nuclei) s += (s.empty() ? "" : ", ") + n.label;
  return s;
}

std::vector<int> Molecule::spins_on(int channel) const {
  std::vector<int> out;
  for (int k = 0; k < size(); ++k)
    if (nuclei[k].channel == channels.at(channel).name) out.push_back(k);
  return out;
}

Mat Molecule::control(int channel, char axis) const {
  const int n = size();
  Mat h = Mat::Zero(1 << n, 1 << n);
  for (int k : spins_on(channel)) h += kTwoPi * spin_op(axis, k, n);
  return h;
}

double Molecule::gamma_hz_per_gauss(int spin) const {
  // gamma/2pi of 1H is 4257.7478 Hz/G (CODATA 2018); other nuclei scale with their Larmor
  // frequency relative to 1H at the same field.
  return 4257.7478 * channel_of(spin).larmor_mhz / proton_mhz;
}

Mat Molecule::hamiltonian(bool strong_coupling) const {
  const int n = size();
  const int dim = 1 << n;
  Mat h = Mat::Zero(dim, dim);
  for (int k = 0; k < n; ++k)
    h += kTwoPi * (nuclei[k].offset_hz - channel_of(k).carrier_hz) * spin_op('z', k, n);
  for (const auto& c : couplings) {
    const bool homonuclear = nuclei[c.a].isotope == nuclei[c.b].isotope;
    Mat coupling = spin_op('z', c.a, n) * spin_op('z', c.b, n);
    if (strong_coupling && homonuclear)
      coupling +=
          spin_op('x', c.a, n) * spin_op('x', c.b, n) + spin_op('y', c.a, n) * spin_op('y', c.b, n);
    h += kTwoPi * c.j_hz * coupling;
  }
  return h;
}

std::vector<SpectralLine> Molecule::lines() const {
  const int n = size();
  std::vector<SpectralLine> out;
  for (int k = 0; k < n; ++k) {
    std::vector<SpectralLine> mine;
    for (int cfg = 0; cfg < (1 << (n - 1)); ++cfg) {
      SpectralLine line;
      line.spin = k;
      line.other_bits.assign(n, -1);
      double f = nuclei[k].offset_hz - channel_of(k).carrier_hz;
      int bit_pos = n - 2;
      for (int j = 0; j < n; ++j) {
        if (j == k) continue;
        const int b = (cfg >> bit_pos) & 1;
        --bit_pos;
        line.other_bits[j] = b;
        f += j_hz(k, j) * (b == 0 ? 0.5 : -0.5);
      }
      line.frequency_hz = f;
      mine.push_back(line);
    }
    std::stable_sort(mine.begin(), mine.end(), [](const SpectralLine& a, const SpectralLine& b) {
      return a.frequency_hz < b.frequency_hz;
    });
    for (size_t i = 0; i < mine.size(); ++i) mine[i].index = static_cast<int>(i) + 1;
    out.insert(out.end(), mine.begin(), mine.end());
  }
  return out;
}

namespace {

// An isotope as NMR writes it: the mass number, then the element symbol ("13C", "1H", "2H").
// It reaches TopSpin's NUC1 and every label, so nothing else is accepted.
std::string isotope_text(const YamlField& f) {
  const std::string s = f.as_string();
  size_t i = 0;
  while (i < s.size() && i < 3 && s[i] >= '0' && s[i] <= '9') ++i;
  const bool digits = i > 0 && s[0] != '0';
  const bool symbol = i < s.size() && s[i] >= 'A' && s[i] <= 'Z' && s.size() - i <= 3 &&
                      std::all_of(s.begin() + static_cast<long>(i) + 1, s.end(),
                                  [](char c) { return c >= 'a' && c <= 'z'; });
  if (!digits || !symbol)
    f.fail("must be an isotope: mass number then element symbol, e.g. 13C, 1H, 2H");
  return s;
}

Molecule parse(const YamlField& root) {
  root.expect_map();
  root.allow_keys({"name", "description", "spectrometer", "channels", "nuclei", "couplings",
                   "roles", "sources", "assumptions"});
  Molecule m;
  m.name = root.at("name").as_name();
  if (auto d = root.find("description")) m.description = d->as_string();

  const YamlField spec = root.at("spectrometer");
  spec.expect_map();
  spec.allow_keys({"proton_mhz", "temperature_k"});
  m.proton_mhz = spec.at("proton_mhz").as_positive(limits::kMaxLarmorMHz);
  if (auto t = spec.find("temperature_k"))
    m.temperature_k = t->as_positive(limits::kMaxTemperatureK);

  // Channels.
  const YamlField chans = root.at("channels");
  if (chans.items().empty()) chans.fail("must list at least one channel");
  for (const auto& cf : chans.items()) {
    cf.expect_map();
    cf.allow_keys({"name", "isotope", "larmor_mhz", "frame_ppm", "carrier_hz", "max_rf_hz"});
    Channel c;
    c.name = cf.at("name").as_name();
    c.isotope = cf.has("isotope") ? isotope_text(cf.at("isotope")) : isotope_text(cf.at("name"));
    if (auto l = cf.find("larmor_mhz")) {
      c.larmor_mhz = l->as_positive(limits::kMaxLarmorMHz);
    } else {
      const double xi = isotope_xi(c.isotope);
      if (xi == 0.0)
        cf.at(cf.has("isotope") ? "isotope" : "name")
            .fail(
                "unknown isotope: give larmor_mhz for this channel, or one of 1H, 2H, 13C, "
                "15N, 19F, 31P");
      c.larmor_mhz = m.proton_mhz * xi;
    }
    if (auto f = cf.find("frame_ppm"))
      c.frame_ppm = f->as_double(-limits::kMaxShiftPpm, limits::kMaxShiftPpm);
    if (auto f = cf.find("carrier_hz"))
      c.carrier_hz = f->as_double(-limits::kMaxOffsetHz, limits::kMaxOffsetHz);
    c.max_rf_hz = cf.at("max_rf_hz").as_positive(limits::kMaxRfHz);
    if (m.channel_index(c.name) >= 0) cf.at("name").fail("duplicate channel name");
    m.channels.push_back(c);
  }

  // Nuclei.
  const YamlField nucs = root.at("nuclei");
  if (nucs.items().empty()) nucs.fail("must list at least one nucleus");
  if (nucs.items().size() > 12) nucs.fail("at most 12 spins are supported (dense 2^n matrices)");
  for (const auto& nf : nucs.items()) {
    nf.expect_map();
    nf.allow_keys(
        {"label", "isotope", "channel", "offset_hz", "shift_ppm", "t1_s", "t2_s", "t2star_s"});
    Nucleus nu;
    nu.label = nf.at("label").as_name();
    for (const auto& other : m.nuclei)
      if (other.label == nu.label) nf.at("label").fail("duplicate spin label");
    nu.isotope = isotope_text(nf.at("isotope"));
    if (auto c = nf.find("channel")) {
      nu.channel = c->as_name();
      if (m.channel_index(nu.channel) < 0) c->fail("unknown channel");
      if (m.channels[m.channel_index(nu.channel)].isotope != nu.isotope)
        c->fail("channel observes isotope " + m.channels[m.channel_index(nu.channel)].isotope +
                ", not " + nu.isotope);
    } else {
      for (const auto& c : m.channels)
        if (c.isotope == nu.isotope) {
          nu.channel = c.name;
          break;
        }
      if (nu.channel.empty()) nf.at("isotope").fail("no channel observes this isotope");
    }
    const Channel& ch = m.channels[m.channel_index(nu.channel)];
    const auto off = nf.find("offset_hz");
    const auto ppm = nf.find("shift_ppm");
    if (!off && !ppm)
      throw InputError(nf.location() + ": " + nf.path() +
                       ": missing required key offset_hz (or shift_ppm)");
    if (ppm) nu.shift_ppm = ppm->as_double(-limits::kMaxShiftPpm, limits::kMaxShiftPpm);
    if (off) {
      nu.offset_hz = off->as_double(-limits::kMaxOffsetHz, limits::kMaxOffsetHz);
      if (!ppm) nu.shift_ppm = ch.ppm_of_offset(nu.offset_hz);
    } else {
      nu.offset_hz = ch.offset_of_ppm(nu.shift_ppm);
      if (std::abs(nu.offset_hz) > limits::kMaxOffsetHz)
        ppm->fail(fmt::format("gives an offset of {:g} Hz from the channel's frame, beyond {:g} Hz",
                              nu.offset_hz, limits::kMaxOffsetHz));
    }
    const YamlField t1 = nf.at("t1_s"), t2 = nf.at("t2_s"), t2s = nf.at("t2star_s");
    nu.t1_s = t1.as_positive(limits::kMaxRelaxationS);
    nu.t2_s = t2.as_positive(limits::kMaxRelaxationS);
    nu.t2star_s = t2s.as_positive(limits::kMaxRelaxationS);
    if (nu.t2_s > 2.0 * nu.t1_s) t2.fail("T2 must be <= 2 T1 (t1_s = " + t1.value_text() + ")");
    if (nu.t2star_s > nu.t2_s) t2s.fail("T2* must be <= T2 (t2_s = " + t2.value_text() + ")");
    m.nuclei.push_back(nu);
  }

  // Couplings.
  if (auto cs = root.find("couplings")) {
    std::set<std::pair<int, int>> seen;
    for (const auto& cf : cs->items()) {
      cf.expect_map();
      cf.allow_keys({"spins", "j_hz"});
      const YamlField sp = cf.at("spins");
      const auto names = sp.as_string_list();
      if (names.size() != 2) sp.fail("must name exactly two spins");
      Coupling c;
      int idx[2];
      for (int i = 0; i < 2; ++i) {
        idx[i] = -1;
        for (int k = 0; k < m.size(); ++k)
          if (m.nuclei[k].label == names[i]) idx[i] = k;
        if (idx[i] < 0) sp.fail("unknown spin " + names[i] + " (known: " + m.labels_text() + ")");
      }
      if (idx[0] == idx[1]) sp.fail("a spin cannot couple to itself");
      c.a = std::min(idx[0], idx[1]);
      c.b = std::max(idx[0], idx[1]);
      if (!seen.insert({c.a, c.b}).second) sp.fail("coupling listed twice");
      c.j_hz = cf.at("j_hz").as_double(-limits::kMaxCouplingHz, limits::kMaxCouplingHz);
      m.couplings.push_back(c);
    }
  }

  if (auto rs = root.find("roles")) {
    for (const auto& [role, f] : rs->entries()) {
      const std::string target = f.as_string();
      bool known = false;
      for (const auto& nu : m.nuclei) known = known || nu.label == target;
      if (!known) f.fail("unknown spin " + target + " (known: " + m.labels_text() + ")");
      m.roles[role] = target;
    }
  }
  const YamlField src = root.at("sources");
  m.sources = src.as_string_list();
  if (m.sources.empty()) src.fail("must name at least one source for the parameters");
  if (auto a = root.find("assumptions")) m.assumptions = a->as_string_list();
  return m;
}

}  // namespace

Molecule load_molecule(const std::string& path) { return parse(YamlField::load_file(path)); }

Molecule parse_molecule(const std::string& yaml_text, const std::string& name) {
  return parse(YamlField::load_string(yaml_text, name));
}

}  // namespace nmrc
