#include "nmrc/spectrometer/bruker_dataset.hpp"

#include <fftw3.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/jcamp.hpp"
#include "nmrc/core/limits.hpp"
#include "nmrc/core/text.hpp"

namespace nmrc::spectrometer {

namespace {

namespace fs = std::filesystem;

// One FID starts on a 1024-byte boundary (Bruker acquisition manual, NBL; nmrglue's
// guess_shape): 256 int32 values or 128 float64 values.
constexpr size_t kBlockBytes = 1024;
constexpr long kMaxTd = 1L << 26;

void put_bytes(std::string& out, const unsigned char* bytes, size_t n, bool big_endian) {
  // The host is little endian on every platform nmrc builds for; NMRC_CHECK guards it.
  if (big_endian)
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(bytes[n - 1 - i]));
  else
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(bytes[i]));
}

bool host_little_endian() {
  const std::uint16_t one = 1;
  unsigned char b[2];
  std::memcpy(b, &one, 2);
  return b[0] == 1;
}

std::string encode_int32(const std::vector<std::int32_t>& v, bool big_endian) {
  std::string out;
  out.reserve(v.size() * 4 + kBlockBytes);
  for (std::int32_t x : v) {
    unsigned char b[4];
    std::memcpy(b, &x, 4);
    put_bytes(out, b, 4, big_endian);
  }
  return out;
}

std::string encode_float64(const std::vector<double>& v, bool big_endian) {
  std::string out;
  out.reserve(v.size() * 8 + kBlockBytes);
  for (double x : v) {
    unsigned char b[8];
    std::memcpy(b, &x, 8);
    put_bytes(out, b, 8, big_endian);
  }
  return out;
}

void pad_to_block(std::string& bytes) {
  const size_t rem = bytes.size() % kBlockBytes;
  if (rem) bytes.append(kBlockBytes - rem, '\0');
}

// Scale exponent so that max |value| / 2^nc < 2^29 (headroom below int32's 2^31).
int scale_exponent(double max_abs) {
  if (!(max_abs > 0.0)) return 0;
  return static_cast<int>(std::ceil(std::log2(max_abs))) - 29;
}

std::vector<std::int32_t> to_int32(const std::vector<double>& v, int nc) {
  std::vector<std::int32_t> out(v.size());
  const double scale = std::ldexp(1.0, -nc);
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = static_cast<std::int32_t>(std::lround(v[i] * scale));
  return out;
}

std::string join(const fs::path& a, const std::string& b) { return (a / b).string(); }

std::string pdata_procs(const Molecule& m, const Fid& fid, const Spectrum& sp, int nc_proc,
                        const BrukerWriteOptions& o) {
  const Channel& ch = m.channels.at(fid.channel);
  JcampWriter w;
  w.add("TITLE", "Parameter file, nmrc 0.1.0");
  w.add("JCAMPDX", "5.0");
  w.add("DATATYPE", "Parameter Values");
  w.add_commented("NPOINTS", "1", "modification sequence number");
  w.add("ORIGIN", "nmrc");
  w.add("OWNER", "nmrc");
  if (!o.date_comment.empty()) w.comment(o.date_comment);
  // Private records in TopSpin's (ASCII) order.
  std::map<std::string, std::string> rec;
  const double deg = 180.0 / kPi;
  rec["$AXNUC"] = "<" + console_text(ch.isotope, ConsoleText::kJcampString, "##$AXNUC") + ">";
  rec["$BYTORDP"] = "0";
  rec["$DATMOD"] = "1";
  rec["$DTYPP"] = "0";
  rec["$FTSIZE"] = std::to_string(sp.values.size());
  rec["$GB"] = jcamp_parameter_number(o.processing.gb_hz);
  rec["$LB"] = jcamp_parameter_number(o.processing.lb_hz);
  rec["$NC_proc"] = std::to_string(nc_proc);
  // 1r runs from the highest frequency down (TopSpin's display order) and starts, as TopSpin's
  // and nmrglue's (its unit conversion puts point 0 at O1 + SW/2) do, at +SW/2: the Nyquist
  // bin, which nmrc's ascending grid holds at -SW/2. OFFSET is the shift of that first point,
  // SF the frequency of 0 ppm, SW_p the width in Hz.
  const size_t n = sp.ppm.size();
  const double step_ppm = n > 1 ? (sp.ppm.back() - sp.ppm.front()) / double(n - 1) : 0.0;
  rec["$OFFSET"] = jcamp_parameter_number(sp.ppm.back() + step_ppm);
  rec["$PHC0"] = jcamp_parameter_number(o.processing.phase0_rad * deg);
  rec["$PHC1"] = jcamp_parameter_number(o.processing.phase1_rad * deg);
  rec["$SF"] = jcamp_parameter_number(ch.larmor_mhz);
  rec["$SI"] = std::to_string(sp.values.size());
  rec["$SW_p"] = jcamp_parameter_number(fid.sw_hz);
  rec["$TDeff"] = std::to_string(2 * fid.points.size());
  rec["$WDW"] = o.processing.gb_hz != 0.0 ? "2" : (o.processing.lb_hz != 0.0 ? "1" : "0");
  for (const auto& [k, v] : rec) w.add(k, v);
  return w.str();
}

}  // namespace

std::string format_acqus(const AcqusParameters& p) {
  JcampWriter w;
  w.add("TITLE", p.title);
  w.add("JCAMPDX", "5.0");
  w.add("DATATYPE", "Parameter Values");
  w.add_commented("NPOINTS", "1", "modification sequence number");
  w.add("ORIGIN", "nmrc");
  w.add("OWNER", p.owner);
  if (!p.date_comment.empty()) w.comment(p.date_comment);
  if (!p.path_comment.empty()) w.comment(p.path_comment);
  console_text(p.pulprog, ConsoleText::kName, "##$PULPROG");
  const double sfo1 = p.bf1_mhz + p.o1_hz * 1e-6;
  // Scalars and arrays, emitted in ASCII order of their names as TopSpin does.
  std::map<std::string, std::pair<std::string, const void*>> rec;
  auto scalar = [&](const std::string& k, const std::string& v) { rec[k] = {v, nullptr}; };
  auto num = [&](const std::string& k, double v) { scalar(k, jcamp_parameter_number(v)); };
  scalar("$AQ_mod", std::to_string(p.aq_mod));
  num("$BF1", p.bf1_mhz);
  scalar("$BYTORDA", std::to_string(p.bytorda));
  scalar("$DECIM", std::to_string(p.decim));
  scalar("$DIGMOD", std::to_string(p.digmod));
  scalar("$DS", std::to_string(p.ds));
  scalar("$DSPFVS", std::to_string(p.dspfvs));
  scalar("$DTYPA", std::to_string(p.dtypa));
  num("$GRPDLY", p.grpdly);
  scalar("$NC", std::to_string(p.nc));
  scalar("$NS", std::to_string(p.ns));
  scalar("$NUC1", "<" + console_text(p.nuc1, ConsoleText::kJcampString, "##$NUC1") + ">");
  num("$O1", p.o1_hz);
  scalar("$PULPROG", "<" + p.pulprog + ">");
  num("$RECPH", p.recph_deg);
  num("$RG", p.rg);
  num("$SFO1", sfo1);
  num("$SW", p.sw_h / sfo1);
  num("$SW_h", p.sw_h);
  scalar("$TD", std::to_string(p.td));
  num("$TE", p.te_k);
  for (const auto& [k, v] : p.extra) scalar(k, v);
  std::map<std::string, const std::vector<double>*> arrays;
  std::map<std::string, const std::vector<std::string>*> texts;
  if (!p.cnst.empty()) arrays["$CNST"] = &p.cnst;
  if (!p.d_s.empty()) arrays["$D"] = &p.d_s;
  if (!p.gpz_percent.empty()) arrays["$GPZ"] = &p.gpz_percent;
  if (!p.p_us.empty()) arrays["$P"] = &p.p_us;
  if (!p.plw_w.empty()) arrays["$PLW"] = &p.plw_w;
  if (!p.spoffs_hz.empty()) arrays["$SPOFFS"] = &p.spoffs_hz;
  if (!p.spw_w.empty()) arrays["$SPW"] = &p.spw_w;
  if (!p.pcpd_us.empty()) arrays["$PCPD"] = &p.pcpd_us;
  if (!p.cpdprg.empty()) texts["$CPDPRG"] = &p.cpdprg;
  if (!p.gpnam.empty()) texts["$GPNAM"] = &p.gpnam;
  if (!p.spnam.empty()) texts["$SPNAM"] = &p.spnam;
  std::vector<std::string> names;
  for (const auto& [k, v] : rec) names.push_back(k);
  for (const auto& [k, v] : arrays) names.push_back(k);
  for (const auto& [k, v] : texts) names.push_back(k);
  std::sort(names.begin(), names.end());
  for (const auto& k : names) {
    if (auto a = arrays.find(k); a != arrays.end())
      w.add_numbers(k, *a->second);
    else if (auto t = texts.find(k); t != texts.end())
      w.add_texts(k, *t->second);
    else
      w.add(k, rec[k].first);
  }
  return w.str();
}

void write_bruker_dataset(const std::string& dir, const Molecule& m, const Fid& fid,
                          const BrukerWriteOptions& o) {
  NMRC_CHECK(host_little_endian(), "nmrc's Bruker writer assumes a little-endian host");
  if (o.dtypa != 0 && o.dtypa != 2)
    throw InputError("DTYPA = " + std::to_string(o.dtypa) + ": must be 0 (int32) or 2 (float64)");
  if (o.bytorda != 0 && o.bytorda != 1)
    throw InputError("BYTORDA = " + std::to_string(o.bytorda) +
                     ": must be 0 (little endian) or 1 (big endian)");
  if (fid.points.empty()) throw InputError(dir + ": the FID has no points");
  const Channel& ch = m.channels.at(fid.channel);
  // Raw data: interleaved real, imaginary.
  std::vector<double> values;
  values.reserve(2 * fid.points.size());
  double max_abs = 0.0;
  for (const cplx& z : fid.points) {
    values.push_back(z.real());
    values.push_back(z.imag());
    max_abs = std::max({max_abs, std::abs(z.real()), std::abs(z.imag())});
  }
  const bool big = o.bytorda == 1;
  int nc = 0;
  std::string fid_bytes;
  if (o.dtypa == 0) {
    nc = o.nc ? *o.nc : scale_exponent(max_abs);
    if (!(max_abs < std::ldexp(1.0, 31 + nc)))
      throw InputError(dir + ": NC = " + std::to_string(nc) + ": the FID's largest value " +
                       std::to_string(max_abs) + " does not fit int32 x 2^NC");
    fid_bytes = encode_int32(to_int32(values, nc), big);
  } else {
    fid_bytes = encode_float64(values, big);
  }
  pad_to_block(fid_bytes);
  AcqusParameters p;
  p.date_comment = o.date_comment;
  fs::path named(dir);
  if (!named.has_filename()) named = named.parent_path();
  p.path_comment = (named.filename() / "acqus").string();  // EXPNO/acqus
  p.td = 2 * static_cast<long>(fid.points.size());
  p.sw_h = fid.sw_hz;
  p.bf1_mhz = ch.larmor_mhz;
  p.o1_hz = ch.frame_ppm * ch.larmor_mhz + ch.carrier_hz;
  p.nuc1 = ch.isotope;
  p.dtypa = o.dtypa;
  p.bytorda = o.bytorda;
  p.ns = fid.scans;
  p.recph_deg = fid.receiver_phase_rad * 180.0 / kPi;
  p.ds = o.ds;
  p.nc = nc;
  p.te_k = m.temperature_k;
  p.pulprog = o.pulprog;
  p.d_s.assign(64, 0.0);
  p.d_s[1] = o.d1_s;
  const std::string acqus = format_acqus(p);
  // The `pulseprogram` of a simulated dataset records what was played, as comment lines only.
  for (size_t a = 0; a < o.pulseprogram.size();) {
    const size_t b = std::min(o.pulseprogram.find('\n', a), o.pulseprogram.size());
    const std::string line = o.pulseprogram.substr(a, b - a);
    if (!line.empty() && line[0] != ';')
      throw InputError("pulseprogram = \"" + escape_text(line) +
                       "\": a simulated dataset's pulse program holds comment lines only");
    console_text(line, ConsoleText::kPulseProgramComment, "pulseprogram");
    a = b + 1;
  }
  const std::string pp = o.pulseprogram.empty()
                             ? std::string("; ") + o.pulprog +
                                   ": simulated on nmrc's virtual spectrometer (no pulse program)\n"
                             : o.pulseprogram;
  std::string procs, r1, i1;
  if (o.processed) {
    const Spectrum sp = process(m, fid, o.processing);
    std::vector<double> re(sp.values.size()), im(sp.values.size());
    double smax = 0.0;
    const size_t n = sp.values.size();
    for (size_t i = 0; i < n; ++i) {  // from +SW/2 (the Nyquist bin) down, as pdata_procs says
      const cplx v = sp.values[(n - i) % n];
      re[i] = v.real();
      im[i] = v.imag();
      smax = std::max({smax, std::abs(v.real()), std::abs(v.imag())});
    }
    const int nc_proc = scale_exponent(smax);
    procs = pdata_procs(m, fid, sp, nc_proc, o);
    r1 = encode_int32(to_int32(re, nc_proc), false);
    i1 = encode_int32(to_int32(im, nc_proc), false);
  }
  // Everything is computed: now write.
  make_directories(dir);
  write_file_atomic(join(dir, "fid"), fid_bytes);
  write_file_atomic(join(dir, "acqus"), acqus);
  write_file_atomic(join(dir, "acqu"), acqus);
  write_file_atomic(join(dir, "pulseprogram"), pp);
  if (o.processed) {
    const std::string pd = join(dir, "pdata/1");
    make_directories(pd);
    write_file_atomic(join(pd, "procs"), procs);
    write_file_atomic(join(pd, "proc"), procs);
    write_file_atomic(join(pd, "1r"), r1);
    write_file_atomic(join(pd, "1i"), i1);
  }
}

double bruker_group_delay_table(int dspfvs, int decim) {
  // Westler & Abildgaard's table of the group delay (in points) of Bruker's digital filters,
  // with the un-rounded fractions k / (2 DECIM) as tabulated in nmrglue's bruker.py.
  static const std::map<int, std::map<int, double>> table = {
      {10,
       {{2, 44.75},
        {3, 33.5},
        {4, 66.625},
        {6, 59.083333333333333},
        {8, 68.5625},
        {12, 60.375},
        {16, 69.53125},
        {24, 61.020833333333333},
        {32, 70.015625},
        {48, 61.34375},
        {64, 70.2578125},
        {96, 61.505208333333333},
        {128, 70.37890625},
        {192, 61.5859375},
        {256, 70.439453125},
        {384, 61.626302083333333},
        {512, 70.4697265625},
        {768, 61.646484375},
        {1024, 70.48486328125},
        {1536, 61.656575520833333},
        {2048, 70.492431640625}}},
      {11, {{2, 46.0},       {3, 36.5},
            {4, 48.0},       {6, 50.166666666666667},
            {8, 53.25},      {12, 69.5},
            {16, 72.25},     {24, 70.166666666666667},
            {32, 72.75},     {48, 70.5},
            {64, 73.0},      {96, 70.666666666666667},
            {128, 72.5},     {192, 71.333333333333333},
            {256, 72.25},    {384, 71.666666666666667},
            {512, 72.125},   {768, 71.833333333333333},
            {1024, 72.0625}, {1536, 71.916666666666667},
            {2048, 72.03125}}},
      {12, {{2, 46.0},       {3, 36.5},
            {4, 48.0},       {6, 50.166666666666667},
            {8, 53.25},      {12, 69.5},
            {16, 71.625},    {24, 70.166666666666667},
            {32, 72.125},    {48, 70.5},
            {64, 72.375},    {96, 70.666666666666667},
            {128, 72.5},     {192, 71.333333333333333},
            {256, 72.25},    {384, 71.666666666666667},
            {512, 72.125},   {768, 71.833333333333333},
            {1024, 72.0625}, {1536, 71.916666666666667},
            {2048, 72.03125}}},
      {13,
       {{2, 2.75},
        {3, 2.8333333333333333},
        {4, 2.875},
        {6, 2.9166666666666667},
        {8, 2.9375},
        {12, 2.9583333333333333},
        {16, 2.96875},
        {24, 2.9791666666666667},
        {32, 2.984375},
        {48, 2.9895833333333333},
        {64, 2.9921875},
        {96, 2.9947916666666667}}}};
  const auto a = table.find(dspfvs);
  if (a == table.end()) return -1.0;
  const auto b = a->second.find(decim);
  return b == a->second.end() ? -1.0 : b->second;
}

std::vector<cplx> remove_group_delay(const std::vector<cplx>& x, double g) {
  const int n = static_cast<int>(x.size());
  if (!(g > 0.0) || n == 0) return x;
  fftw_complex* buf = fftw_alloc_complex(n);
  for (int j = 0; j < n; ++j) {
    buf[j][0] = x[j].real();
    buf[j][1] = x[j].imag();
  }
  fftw_plan fwd = fftw_plan_dft_1d(n, buf, buf, FFTW_FORWARD, FFTW_ESTIMATE);
  fftw_execute(fwd);
  fftw_destroy_plan(fwd);
  // x_{j+g} = (1/N) sum_k X_k exp(2 pi i k (j + g) / N): multiply X_k by exp(2 pi i k g / N)
  // with k the signed frequency index (-N/2 .. N/2-1), so a fractional g interpolates.
  for (int k = 0; k < n; ++k) {
    const int ks = k < (n + 1) / 2 ? k : k - n;
    const cplx v = cplx(buf[k][0], buf[k][1]) * std::polar(1.0, kTwoPi * ks * g / n);
    buf[k][0] = v.real();
    buf[k][1] = v.imag();
  }
  fftw_plan inv = fftw_plan_dft_1d(n, buf, buf, FFTW_BACKWARD, FFTW_ESTIMATE);
  fftw_execute(inv);
  fftw_destroy_plan(inv);
  std::vector<cplx> y(n);
  for (int j = 0; j < n; ++j) y[j] = cplx(buf[j][0], buf[j][1]) / double(n);
  fftw_free(buf);
  // nmrglue's rm_dig_filter (fileio/bruker.py): the last floor(g) + 2 points now hold the
  // filter's start (the recorded points before t = 0) and are dropped. (nmrglue also adds all
  // but 6 of them, mirrored, onto the first points, to look like NMRPipe; on the filtered FID
  // of tests/data/bruker/make_topspin_files.py that moves point 0 from 1.39 to 1.70 away from
  // the signal, 3.10, and point 5 from 0.039 to 0.117: nmrc does not.)
  const int skip = group_delay_skip(g, n);
  y.resize(n - skip);
  return y;
}

int group_delay_skip(double g_points, size_t n) {
  if (!(g_points > 0.0)) return 0;
  return static_cast<int>(std::min<double>(std::floor(g_points) + 2.0, static_cast<double>(n)));
}

std::string topspin_isotope(std::string_view name) {
  std::string s(name);
  while (!s.empty() && (s.front() == ' ' || s.front() == '<')) s.erase(s.begin());
  while (!s.empty() && (s.back() == ' ' || s.back() == '>')) s.pop_back();
  if (s == "D" || s == "d") return "2H";  // TopSpin's name of deuterium (its lock nucleus)
  if (s == "T" || s == "t") return "3H";
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  const auto letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  size_t i = 0;
  std::string mass, symbol;
  if (!s.empty() && digit(s[0])) {  // "13C" (TopSpin's form)
    while (i < s.size() && digit(s[i])) mass += s[i++];
    while (i < s.size() && letter(s[i])) symbol += s[i++];
  } else {  // "C13" (some older parameter sets)
    while (i < s.size() && letter(s[i])) symbol += s[i++];
    while (i < s.size() && digit(s[i])) mass += s[i++];
  }
  if (i != s.size() || mass.empty() || mass.size() > 3 || symbol.empty() || symbol.size() > 2)
    return "";  // "off", "", or not an isotope
  for (char& c : symbol) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  symbol[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(symbol[0])));
  return mass + symbol;
}

void write_bruker_series(const std::string& dir, const Molecule& m,
                         const std::vector<BrukerSeriesEntry>& entries,
                         const BrukerWriteOptions& options) {
  if (entries.empty()) throw InputError(dir + ": no experiment to write");
  if (entries.size() > kMaxBrukerSeries)
    throw InputError(dir + ": " + std::to_string(entries.size()) + " experiments: at most " +
                     std::to_string(kMaxBrukerSeries) + " in one series");
  if (options.dtypa != 0 && options.dtypa != 2)
    throw InputError("DTYPA = " + std::to_string(options.dtypa) +
                     ": must be 0 (int32) or 2 (float64)");
  for (size_t k = 0; k < entries.size(); ++k)  // checked first: nothing half-written
    if (entries[k].fid.points.empty())
      throw InputError(dir + "/" + std::to_string(k + 1) + ": the FID has no points");
  // One NC for the series: the largest value of every FID below 2^29 x 2^NC.
  BrukerWriteOptions shared = options;
  if (shared.dtypa == 0 && !shared.nc) {
    double max_abs = 0.0;
    for (const auto& e : entries)
      for (const cplx& z : e.fid.points)
        max_abs = std::max({max_abs, std::abs(z.real()), std::abs(z.imag())});
    shared.nc = scale_exponent(max_abs);
  }
  std::string listing = "expno,pulprog,description\n";
  for (size_t k = 0; k < entries.size(); ++k) {
    BrukerWriteOptions o = shared;
    o.pulprog = entries[k].pulprog;
    o.pulseprogram = entries[k].pulseprogram;
    write_bruker_dataset(join(dir, std::to_string(k + 1)), m, entries[k].fid, o);
    listing +=
        std::to_string(k + 1) + "," + csv_field(entries[k].pulprog) + "," +
        csv_field(console_text(entries[k].description, ConsoleText::kTextLine, "description")) +
        "\n";
  }
  write_file_atomic(join(dir, "expnos.csv"), listing);
}

std::vector<std::string> bruker_experiment_folders(const std::string& path) {
  if (fs::is_regular_file(join(path, "acqus"))) return {path};
  std::vector<std::pair<long, std::string>> found;
  if (fs::is_directory(path))
    for (const auto& e : fs::directory_iterator(path)) {
      const std::string name = e.path().filename().string();
      if (name.empty() || name.size() > 9 ||
          !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }))
        continue;
      if (e.is_directory() && fs::is_regular_file(e.path() / "acqus"))
        found.push_back({std::stol(name), e.path().string()});
    }
  if (found.empty())
    throw InputError(path +
                     ": neither a TopSpin experiment folder (no acqus) nor a dataset with "
                     "numbered experiment folders (1/acqus, 2/acqus, ...)");
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

BrukerDataset read_bruker_dataset(const std::string& dir) {
  NMRC_CHECK(host_little_endian(), "nmrc's Bruker reader assumes a little-endian host");
  const std::string acqus_path = join(dir, "acqus");
  if (!fs::exists(acqus_path))
    throw InputError(acqus_path + ": cannot read file (is " + dir +
                     " a TopSpin experiment folder with acqus and fid?)");
  const JcampFile a = read_jcamp(acqus_path);
  BrukerDataset d;
  d.path = dir;
  d.td = a.integer("$TD");
  if (d.td < 2 || d.td > kMaxTd || d.td % 2 != 0)
    a.fail(a.at("$TD"), "must be an even number of values between 2 and " + std::to_string(kMaxTd) +
                            " (real and imaginary parts)");
  if (a.find("$DTYPA")) {
    d.dtypa = static_cast<int>(a.integer("$DTYPA"));
    if (d.dtypa != 0 && d.dtypa != 2)
      a.fail(a.at("$DTYPA"), "unknown data type: must be 0 (int32) or 2 (float64)");
  }
  d.bytorda = static_cast<int>(a.integer("$BYTORDA"));
  if (d.bytorda != 0 && d.bytorda != 1)
    a.fail(a.at("$BYTORDA"), "must be 0 (little endian) or 1 (big endian)");
  if (a.find("$AQ_mod")) {
    d.aq_mod = static_cast<int>(a.integer("$AQ_mod"));
    if (d.aq_mod != 1 && d.aq_mod != 3)
      a.fail(a.at("$AQ_mod"),
             "only complex acquisition is read: 1 (qsim) or 3 (DQD); 0 and 2 are real-only");
  }
  d.sw_hz = a.number("$SW_h");
  if (!(d.sw_hz > 0 && d.sw_hz <= limits::kMaxSpectralWidthHz))
    a.fail(a.at("$SW_h"), fmt::format("must be > 0 and at most {:g} Hz (docs/limits.md)",
                                      limits::kMaxSpectralWidthHz));
  d.bf1_mhz = a.number("$BF1");
  if (!(d.bf1_mhz > 0)) a.fail(a.at("$BF1"), "must be > 0");
  d.o1_hz = a.number("$O1");
  d.sfo1_mhz = d.bf1_mhz + d.o1_hz * 1e-6;
  d.nuc1 = a.text("$NUC1");
  d.isotope = topspin_isotope(d.nuc1);
  if (d.isotope.empty())
    a.fail(a.at("$NUC1"), d.nuc1 == "off" ? "the observe channel is switched off"
                                          : "not a nucleus name (TopSpin writes <13C>, <1H>, "
                                            "<2H> or <D>, ...)");
  if (a.find("$PULPROG")) d.pulprog = a.text("$PULPROG");
  if (a.find("$RECPH")) d.recph_deg = a.number("$RECPH");
  if (a.find("$NS")) d.ns = static_cast<int>(a.integer("$NS"));
  if (a.find("$NC")) d.nc = static_cast<int>(a.integer("$NC"));
  if (std::abs(d.nc) > 200) a.fail(a.at("$NC"), "must be between -200 and 200");
  if (a.find("$DECIM")) d.decim = static_cast<int>(a.integer("$DECIM"));
  if (a.find("$DSPFVS")) d.dspfvs = static_cast<int>(a.integer("$DSPFVS"));
  const int digmod = a.find("$DIGMOD") ? static_cast<int>(a.integer("$DIGMOD")) : 1;
  const double grpdly = a.find("$GRPDLY") ? a.number("$GRPDLY") : -1.0;
  if (digmod == 0) {
    d.grpdly_source = "none (DIGMOD = 0, analog filter)";
  } else if (grpdly > 0.0) {
    // The delay is removed from the FID's TD/2 complex points: it must be shorter.
    if (!(grpdly < static_cast<double>(d.td / 2)))
      a.fail(a.at("$GRPDLY"), "a group delay of " + fmt::format("{:g}", grpdly) +
                                  " points is not shorter than the FID (TD/2 = " +
                                  std::to_string(d.td / 2) + " complex points)");
    d.grpdly_points = grpdly;
    d.grpdly_source = "GRPDLY";
    if (group_delay_skip(grpdly, d.td / 2) >= d.td / 2)
      a.fail(a.at("$GRPDLY"),
             "removing the group delay (floor(GRPDLY) + 2 points, as nmrglue "
             "does) leaves no point of the FID's " +
                 std::to_string(d.td / 2));
  } else if (d.dspfvs >= 10 && d.dspfvs <= 13) {
    d.grpdly_points = bruker_group_delay_table(d.dspfvs, d.decim);
    if (d.grpdly_points < 0)
      a.fail(a.at("$DECIM"),
             "not in the DSPFVS " + std::to_string(d.dspfvs) + " group-delay table (give GRPDLY)");
    d.grpdly_source = "DSPFVS/DECIM table";
    if (group_delay_skip(d.grpdly_points, d.td / 2) >= d.td / 2)
      a.fail(a.at("$TD"), "removing the digital filter's group delay (" +
                              fmt::format("{:g}", d.grpdly_points) +
                              " points) leaves no point of the FID");
  } else {
    d.grpdly_source = "none";
  }
  // The raw data.
  const std::string fid_path = join(dir, "fid");
  const size_t width = d.dtypa == 0 ? 4 : 8;
  const size_t need = static_cast<size_t>(d.td) * width;
  // Only the first FID (TD values) is read: a larger file (padding, or the FIDs of a ser
  // file) never makes nmrc allocate more than TD values.
  std::string bytes;
  {
    std::ifstream in(fid_path, std::ios::binary);
    if (!in) throw InputError(fid_path + ": cannot read file (does it exist?)");
    bytes.resize(need);
    in.read(bytes.data(), static_cast<std::streamsize>(need));
    bytes.resize(static_cast<size_t>(in.gcount()));
  }
  if (bytes.size() < need)
    throw InputError(fid_path + ": truncated: " + std::to_string(bytes.size()) +
                     " bytes, but TD = " + std::to_string(d.td) + " values of " +
                     std::to_string(width) + " bytes (DTYPA = " + std::to_string(d.dtypa) +
                     ") need " + std::to_string(need) + " (" + a.where(a.at("$TD")) + ")");
  const bool big = d.bytorda == 1;
  const double scale = std::ldexp(1.0, d.nc);
  std::vector<double> v(d.td);
  for (long i = 0; i < d.td; ++i) {
    unsigned char b[8];
    for (size_t k = 0; k < width; ++k)
      b[k] = static_cast<unsigned char>(bytes[i * width + (big ? width - 1 - k : k)]);
    if (width == 4) {
      std::int32_t x;
      std::memcpy(&x, b, 4);
      v[i] = x * scale;
    } else {
      double x;
      std::memcpy(&x, b, 8);
      if (!std::isfinite(x))
        throw InputError(fid_path + ": value " + std::to_string(i) + " is not finite");
      v[i] = x * scale;
    }
  }
  std::vector<cplx> z(d.td / 2);
  for (long j = 0; j < d.td / 2; ++j) z[j] = cplx(v[2 * j], v[2 * j + 1]);
  d.points = remove_group_delay(z, d.grpdly_points);
  d.dropped_points = static_cast<int>(z.size() - d.points.size());
  const std::string pp_path = join(dir, "pulseprogram");
  if (fs::exists(pp_path)) d.preacquisition_s = preacquisition_delay_s(read_file(pp_path), pp_path);
  return d;
}

double preacquisition_delay_s(const std::string& pp, const std::string& name) {
  double us = 0.0;
  size_t line_no = 0;
  for (size_t a = 0; a <= pp.size();) {
    const size_t b = std::min(pp.find('\n', a), pp.size());
    const std::string line = pp.substr(a, b - a);
    a = b + 1;
    ++line_no;
    std::vector<std::string> tok;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      const size_t j = i;
      while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      if (i > j) tok.push_back(line.substr(j, i - j));
    }
    if (tok.empty() || tok[0][0] == ';' || tok[0][0] == '#' || tok[0][0] == '"') continue;
    if (std::all_of(tok[0].begin(), tok[0].end(), [](char c) { return c >= '0' && c <= '9'; }))
      tok.erase(tok.begin());  // a label ("2 d11 do:f2")
    if (tok.empty()) continue;
    if (tok[0].rfind("go=", 0) == 0) return us * 1e-6;
    const std::string& t = tok[0];
    char* end = nullptr;
    const double v = t.size() >= 2 && t.back() == 'u' && (std::isdigit(t[0]) || t[0] == '.')
                         ? std::strtod(t.c_str(), &end)
                         : -1.0;
    // the delay's other statements switch a channel ("do:f2", "pl12:f2"); "4u BLKGRAD"
    // belongs to a gradient's block
    bool channel_only = true;
    for (size_t i = 1; i < tok.size(); ++i)
      channel_only = channel_only && tok[i].find(":f") != std::string::npos;
    if (end == t.c_str() + t.size() - 1 && channel_only) {
      if (!(std::isfinite(v) && v >= 0.0 && us + v <= 1e6))
        throw InputError(name + ":" + std::to_string(line_no) + ": " + escape_text(line) +
                         ": a delay before go=2 must be finite and the sum at most 1 s");
      us += v;
    } else {
      us = 0.0;
    }
  }
  return 0.0;
}

Fid fid_from_bruker(const BrukerDataset& d, const Molecule& m) {
  int c = -1;
  const std::string iso = d.isotope.empty() ? topspin_isotope(d.nuc1) : d.isotope;
  for (size_t i = 0; i < m.channels.size() && c < 0; ++i) {
    const std::string ci = topspin_isotope(m.channels[i].isotope);
    if ((!iso.empty() && ci == iso) || m.channels[i].isotope == d.nuc1 ||
        m.channels[i].name == d.nuc1)
      c = static_cast<int>(i);
  }
  if (c < 0)
    throw InputError(d.path + "/acqus: ##$NUC1= <" + escape_text(d.nuc1) + ">: molecule " +
                     escape_text(m.name) + " has no channel for this nucleus" +
                     (iso.empty() || iso == d.nuc1 ? std::string() : " (" + iso + ")"));
  const Channel& ch = m.channels[c];
  if (std::abs(d.bf1_mhz - ch.larmor_mhz) > 1e-4 * ch.larmor_mhz)
    throw InputError(d.path + "/acqus: ##$BF1= " + jcamp_parameter_number(d.bf1_mhz) +
                     ": differs from the molecule's " + ch.name + " frequency " +
                     jcamp_parameter_number(ch.larmor_mhz) +
                     " MHz (another field? set larmor_mhz in the molecule file)");
  Fid f;
  f.channel = c;
  f.sw_hz = d.sw_hz;
  f.scans = std::max(1, d.ns);
  f.receiver_phase_rad = d.recph_deg * kPi / 180.0;
  f.start_s = d.preacquisition_s;
  const double o1_molecule = ch.frame_ppm * ch.larmor_mhz + ch.carrier_hz;
  // O1 equal to the 15 digits the file keeps: the same carrier (no shift at all).
  const double shift_hz = jcamp_parameter_number(d.o1_hz) == jcamp_parameter_number(o1_molecule)
                              ? 0.0
                              : d.o1_hz - o1_molecule;
  f.points.resize(d.points.size());
  for (size_t j = 0; j < d.points.size(); ++j)
    f.points[j] = d.points[j] * std::polar(1.0, kTwoPi * shift_hz * j / d.sw_hz);
  return f;
}

}  // namespace nmrc::spectrometer
