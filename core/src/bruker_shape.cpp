#include "nmrc/core/bruker_shape.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <complex>
#include <cstdlib>
#include <filesystem>

#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/jcamp.hpp"
#include "nmrc/core/text.hpp"

namespace nmrc {

namespace {

constexpr double kDegPerRad = 180.0 / kPi;
constexpr size_t kMaxShapePoints = 1u << 20;

std::string loc(const std::string& path, int line) {
  return path + ":" + std::to_string(line) + ":1: ";
}

bool to_double(const std::string& t, double& out) {
  if (t.empty()) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return end == t.c_str() + t.size() && errno != ERANGE && std::isfinite(out);
}

std::optional<double> optional_number(const JcampFile& f, const char* label) {
  const JcampRecord* r = f.find(label);
  if (!r || r->value.empty()) return std::nullopt;
  double v = 0;
  if (!to_double(r->value, v)) f.fail(*r, "must be a number or empty");
  return v;
}

std::string optional_text(const JcampFile& f, const char* label) {
  const JcampRecord* r = f.find(label);
  return r ? r->value : std::string();
}

double wrap_360(double deg) {
  double p = std::fmod(deg, 360.0);
  if (p < 0) p += 360.0;
  if (p >= 360.0) p -= 360.0;  // fmod of -1e-17 + 360 rounds to 360
  return p;
}

std::string opt_number(const std::optional<double>& v) {
  return v ? jcamp_shape_number(*v) : std::string();
}

}  // namespace

double shape_integfac(const std::vector<double>& amplitude_percent,
                      const std::vector<double>& phase_deg) {
  if (amplitude_percent.empty()) return 0.0;
  std::complex<double> sum = 0.0;
  for (size_t k = 0; k < amplitude_percent.size(); ++k)
    sum += std::polar(amplitude_percent[k] / 100.0, phase_deg[k] / kDegPerRad);
  return std::abs(sum) / static_cast<double>(amplitude_percent.size());
}

BrukerShape parse_bruker_shape(const std::string& text, const std::string& path) {
  const JcampFile f = parse_jcamp(text, path);
  if (!f.has_end)
    throw InputError(loc(path, std::max(1, f.line_count)) +
                     "##END=: missing: the file ends early (truncated?)");
  const JcampRecord& xy =
      f.at("XYPOINTS", "a shape file lists its points after ##XYPOINTS= (XY..XY)");
  if (xy.value.rfind("(XY..XY", 0) != 0) f.fail(xy, "must be (XY..XY): amplitude, phase pairs");
  const JcampRecord& np = f.at("NPOINTS", "a shape file gives its number of points");
  const long npoints = f.integer("NPOINTS");
  if (npoints < 1 || static_cast<size_t>(npoints) > kMaxShapePoints)
    f.fail(np, "must be between 1 and " + std::to_string(kMaxShapePoints));
  BrukerShape s;
  s.path = path;
  s.title = optional_text(f, "TITLE");
  s.origin = optional_text(f, "ORIGIN");
  s.owner = optional_text(f, "OWNER");
  s.date = optional_text(f, "DATE");
  s.time = optional_text(f, "TIME");
  s.shape_parameters = optional_text(f, "$SHAPE_PARAMETERS");
  s.exmode = optional_text(f, "$SHAPE_EXMODE");
  s.totrot_deg = optional_number(f, "$SHAPE_TOTROT");
  s.type = optional_text(f, "$SHAPE_TYPE");
  s.user_def = optional_text(f, "$SHAPE_USER_DEF");
  s.rephfac = optional_number(f, "$SHAPE_REPHFAC");
  s.bwfac = optional_number(f, "$SHAPE_BWFAC");
  s.bwfac50 = optional_number(f, "$SHAPE_BWFAC50");
  s.integfac_read = optional_number(f, "$SHAPE_INTEGFAC");
  if (f.find("$SHAPE_MODE") && !f.find("$SHAPE_MODE")->value.empty())
    s.mode = static_cast<int>(f.integer("$SHAPE_MODE"));
  // Points: "amplitude, phase" (TopSpin writes a comma and a space; a space or tab alone is
  // accepted as in the XWIN-NMR text format).
  for (size_t i = 0; i < xy.continuation.size(); ++i) {
    const int line = xy.continuation_lines[i];
    if (s.amplitude_percent.size() >= kMaxShapePoints)
      throw InputError(loc(path, line) + "##XYPOINTS: more than " +
                       std::to_string(kMaxShapePoints) + " points");
    std::string l = xy.continuation[i];
    std::replace(l.begin(), l.end(), ',', ' ');
    std::replace(l.begin(), l.end(), '\t', ' ');
    std::vector<std::string> tok;
    size_t p = 0;
    while (p < l.size()) {
      while (p < l.size() && l[p] == ' ') ++p;
      size_t q = p;
      while (q < l.size() && l[q] != ' ') ++q;
      if (q > p) tok.push_back(l.substr(p, q - p));
      p = q;
    }
    const std::string point = "point " + std::to_string(s.amplitude_percent.size() + 1);
    double a = 0, ph = 0;
    if (tok.size() != 2 || !to_double(tok[0], a) || !to_double(tok[1], ph))
      throw InputError(loc(path, line) + point + " = " + escape_text(xy.continuation[i]) +
                       ": must be \"amplitude, phase\" (two finite numbers)");
    if (a < 0.0 || a > 100.0)
      throw InputError(loc(path, line) + point + ": amplitude = " + escape_text(tok[0]) +
                       ": must be in 0..100 (per cent of the shape's maximum)");
    s.amplitude_percent.push_back(a);
    s.phase_deg.push_back(ph);
  }
  if (static_cast<long>(s.amplitude_percent.size()) != npoints)
    f.fail(np, "the file has " + std::to_string(s.amplitude_percent.size()) +
                   " points after ##XYPOINTS");
  return s;
}

BrukerShape read_bruker_shape_file(const std::string& path) {
  return parse_bruker_shape(read_file(path), path);
}

std::string format_bruker_shape(const BrukerShape& s) {
  NMRC_CHECK(s.amplitude_percent.size() == s.phase_deg.size() && !s.amplitude_percent.empty(),
             "a shape needs equal, non-empty amplitude and phase lists");
  std::vector<double> ph(s.phase_deg.size());
  for (size_t k = 0; k < ph.size(); ++k) ph[k] = wrap_360(s.phase_deg[k]);
  const auto [amin, amax] =
      std::minmax_element(s.amplitude_percent.begin(), s.amplitude_percent.end());
  const auto [pmin, pmax] = std::minmax_element(ph.begin(), ph.end());
  JcampWriter w;
  w.add("TITLE", s.title);
  w.add("JCAMP-DX", "5.00 Bruker JCAMP library");
  w.add("DATA TYPE", "Shape Data");
  w.add("ORIGIN", s.origin);
  w.add("OWNER", s.owner);
  w.add("DATE", s.date);
  w.add("TIME", s.time);
  w.add("$SHAPE_PARAMETERS", s.shape_parameters);
  w.add("MINX", jcamp_shape_number(*amin));
  w.add("MAXX", jcamp_shape_number(*amax));
  w.add("MINY", jcamp_shape_number(*pmin));
  w.add("MAXY", jcamp_shape_number(*pmax));
  w.add("$SHAPE_EXMODE", s.exmode);
  w.add("$SHAPE_TOTROT", opt_number(s.totrot_deg));
  w.add("$SHAPE_TYPE", s.type);
  w.add("$SHAPE_USER_DEF", s.user_def);
  w.add("$SHAPE_REPHFAC", opt_number(s.rephfac));
  w.add("$SHAPE_BWFAC", opt_number(s.bwfac));
  w.add("$SHAPE_BWFAC50", opt_number(s.bwfac50));
  w.add("$SHAPE_INTEGFAC", jcamp_shape_number(shape_integfac(s.amplitude_percent, ph)));
  w.add("$SHAPE_MODE", std::to_string(s.mode));
  w.add("NPOINTS", std::to_string(s.amplitude_percent.size()));
  w.add("XYPOINTS", "(XY..XY)");
  for (size_t k = 0; k < ph.size(); ++k)
    w.line(jcamp_shape_number(s.amplitude_percent[k]) + ", " + jcamp_shape_number(ph[k]));
  return w.str();
}

ShapedPulseElement shaped_pulse_from_bruker_shape(const BrukerShape& shape, double duration_s,
                                                  double max_rf_hz, int channel,
                                                  const ShapeFrame& frame) {
  const std::string where = shape.path.empty() ? std::string("shape") : shape.path;
  if (!(duration_s > 0.0) || !std::isfinite(duration_s))
    throw InputError(where + ": duration_s = " + std::to_string(duration_s) + ": must be > 0");
  if (!(max_rf_hz > 0.0) || !std::isfinite(max_rf_hz))
    throw InputError(where + ": max_rf_hz = " + std::to_string(max_rf_hz) + ": must be > 0");
  if (frame.phase_sense != 1 && frame.phase_sense != -1)
    throw InputError(where + ": phase_sense = " + std::to_string(frame.phase_sense) +
                     ": must be +1 or -1");
  if (shape.amplitude_percent.empty()) throw InputError(where + ": the shape has no points");
  const size_t n = shape.amplitude_percent.size();
  ShapedPulseElement e;
  e.name = shape.title;
  e.dt_s = duration_s / static_cast<double>(n);
  e.channels = {channel};
  RVec ux(n), uy(n);
  for (size_t k = 0; k < n; ++k) {
    const double ramp_deg = 360.0 * frame.spoffs_hz * e.dt_s * (static_cast<double>(k) + 0.5);
    const double phi = frame.phase_sense * (shape.phase_deg[k] + ramp_deg) / kDegPerRad;
    const double a = max_rf_hz * shape.amplitude_percent[k] / 100.0;
    ux(k) = a * std::cos(phi);
    uy(k) = a * std::sin(phi);
  }
  e.ux_hz = {ux};
  e.uy_hz = {uy};
  return e;
}

PulseData pulse_data_from_bruker_shape(const BrukerShape& shape, const std::string& channel,
                                       double duration_s, double max_rf_hz,
                                       const ShapeFrame& frame) {
  const ShapedPulseElement e =
      shaped_pulse_from_bruker_shape(shape, duration_s, max_rf_hz, 0, frame);
  PulseData p;
  p.name = shape.path.empty() ? shape.title : std::filesystem::path(shape.path).stem().string();
  p.dt_s = e.dt_s;
  PulseChannel c;
  c.name = channel;
  c.max_rf_hz = max_rf_hz;
  c.ux_hz = e.ux_hz[0];
  c.uy_hz = e.uy_hz[0];
  p.channels = {c};
  p.source = shape.path;
  return p;
}

BrukerShape bruker_shape_from_waveform(const RVec& ux_hz, const RVec& uy_hz, double dt_s,
                                       double& max_rf_hz, const ShapeFrame& frame) {
  NMRC_CHECK(ux_hz.size() == uy_hz.size() && ux_hz.size() > 0, "waveform sizes");
  NMRC_CHECK(frame.phase_sense == 1 || frame.phase_sense == -1, "phase sense must be +-1");
  const Eigen::Index n = ux_hz.size();
  max_rf_hz = 0.0;
  for (Eigen::Index k = 0; k < n; ++k)
    max_rf_hz = std::max(max_rf_hz, std::hypot(ux_hz(k), uy_hz(k)));
  BrukerShape s;
  s.amplitude_percent.resize(n);
  s.phase_deg.resize(n);
  for (Eigen::Index k = 0; k < n; ++k) {
    const double a = std::hypot(ux_hz(k), uy_hz(k));
    s.amplitude_percent[k] = max_rf_hz > 0 ? std::min(100.0, 100.0 * a / max_rf_hz) : 0.0;
    const double phi = a > 0 ? std::atan2(uy_hz(k), ux_hz(k)) * kDegPerRad : 0.0;
    const double ramp_deg = 360.0 * frame.spoffs_hz * dt_s * (static_cast<double>(k) + 0.5);
    s.phase_deg[k] = wrap_360(frame.phase_sense * phi - ramp_deg);
  }
  return s;
}

}  // namespace nmrc
