#include "nmrc/compiler/program.hpp"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/states.hpp"
#include "nmrc/core/yaml_input.hpp"
#include "nmrc/spectrometer/preparation.hpp"

namespace nmrc::compiler {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kDeg = kPi / 180.0;

std::string resolve(const std::string& base_dir, const std::string& rel) {
  if (rel.empty() || fs::path(rel).is_absolute()) return rel;
  return (fs::path(base_dir) / rel).lexically_normal().string();
}

// An angle given as <key>_rad or <key>_deg (exactly one); `required` when neither may be absent.
std::optional<double> angle(const YamlField& f, const std::string& key, bool required) {
  const auto r = f.find(key + "_rad");
  const auto d = f.find(key + "_deg");
  if (r && d) d->fail("give either " + key + "_rad or " + key + "_deg, not both");
  if (r) return r->as_double();
  if (d) return d->as_double() * kDeg;
  if (required) f.fail("missing " + key + "_rad (or " + key + "_deg)");
  return std::nullopt;
}

struct Parser {
  std::string base_dir;
  Program prog;

  int spin(const YamlField& f) const {
    const std::string label = f.as_string();
    const int k = prog.molecule.index_of(label);
    if (k < 0) f.fail("unknown spin " + label + " (known: " + prog.molecule.labels_text() + ")");
    return k;
  }

  int channel(const YamlField& f) const {
    const std::string nm = f.as_string();
    const int c = prog.molecule.channel_index(nm);
    if (c < 0) {
      std::string known;
      for (const auto& ch : prog.molecule.channels) known += (known.empty() ? "" : ", ") + ch.name;
      f.fail("unknown channel " + nm + " (known: " + known + ")");
    }
    return c;
  }

  CompileOptions options(const YamlField& f, CompileOptions o) const {
    f.expect_map();
    f.allow_keys({"duration_s", "steps", "dt_s", "max_rf_hz", "channels", "fidelity_target",
                  "ensemble", "smoothness", "zero_ends", "starts", "seed", "max_iterations",
                  "stall_evaluations", "time_limit_s", "threads", "strong_coupling"});
    if (auto v = f.find("duration_s")) o.duration_s = v->as_positive();
    if (auto v = f.find("steps")) {
      const long s = v->as_int();
      if (s < 1 || s > 1000000) v->fail("must be between 1 and 1000000");
      o.steps = static_cast<int>(s);
    }
    if (auto v = f.find("dt_s")) o.dt_s = v->as_positive();
    if (auto v = f.find("channels")) {
      o.channels.clear();
      for (const auto& c : v->items()) {
        channel(c);
        o.channels.push_back(c.as_string());
      }
      if (o.channels.empty()) v->fail("must name at least one channel");
    }
    if (auto v = f.find("max_rf_hz")) {
      if (v->is_scalar()) {
        const double a = v->as_positive();
        for (const auto& ch : prog.molecule.channels) {
          if (a > ch.max_rf_hz)
            v->fail("exceeds channel " + ch.name + "'s max_rf_hz " + std::to_string(ch.max_rf_hz) +
                    " (molecule file)");
          o.max_rf_hz[ch.name] = a;
        }
      } else {
        v->expect_map();
        for (const auto& [nm, val] : v->entries()) {
          const int c = prog.molecule.channel_index(nm);
          if (c < 0) val.fail("unknown channel " + nm);
          const double a = val.as_positive();
          if (a > prog.molecule.channels[c].max_rf_hz)
            val.fail("exceeds channel " + nm + "'s max_rf_hz " +
                     std::to_string(prog.molecule.channels[c].max_rf_hz) + " (molecule file)");
          o.max_rf_hz[nm] = a;
        }
      }
    }
    if (auto v = f.find("fidelity_target")) {
      const double t = v->as_double();
      if (!(t > 0 && t <= 1)) v->fail("must be in (0, 1]");
      o.fidelity_target = t;
    }
    if (auto e = f.find("ensemble")) {
      e->expect_map();
      e->allow_keys({"b1_scale", "weights", "offset_hz"});
      if (auto b = e->find("b1_scale")) {
        o.b1_scale = b->as_double_list();
        if (o.b1_scale.empty()) b->fail("must list at least one B1 scale");
        for (double s : o.b1_scale)
          if (!(s > 0)) b->fail("every B1 scale must be > 0");
        o.b1_weight.clear();
      }
      if (auto w = e->find("weights")) {
        o.b1_weight = w->as_double_list();
        if (o.b1_weight.size() != o.b1_scale.size())
          w->fail("needs one weight per b1_scale entry (" + std::to_string(o.b1_scale.size()) +
                  ")");
        for (double s : o.b1_weight)
          if (!(s > 0)) w->fail("every weight must be > 0");
      }
      if (auto off = e->find("offset_hz")) {
        o.offset_hz = off->as_double_list();
        if (o.offset_hz.empty()) off->fail("must list at least one offset (0 for none)");
      }
    }
    if (auto v = f.find("smoothness")) o.smoothness = v->as_nonnegative();
    if (auto v = f.find("zero_ends")) o.zero_ends = v->as_bool();
    if (auto v = f.find("starts")) {
      const long s = v->as_int();
      if (s < 1 || s > 1000) v->fail("must be between 1 and 1000");
      o.starts = static_cast<int>(s);
    }
    if (auto v = f.find("seed")) {
      const long s = v->as_int();
      if (s < 0) v->fail("must be >= 0");
      o.seed = static_cast<unsigned long>(s);
    }
    if (auto v = f.find("max_iterations")) {
      const long s = v->as_int();
      if (s < 1) v->fail("must be >= 1");
      o.max_iterations = static_cast<int>(s);
    }
    if (auto v = f.find("stall_evaluations")) {
      const long s = v->as_int();
      if (s < 0) v->fail("must be >= 0 (0: never stop a start as stalled)");
      o.stall_evaluations = static_cast<int>(s);
    }
    if (auto v = f.find("time_limit_s")) o.time_limit_s = v->as_positive();
    if (auto v = f.find("threads")) {
      const long s = v->as_int();
      if (s < 1 || s > 256) v->fail("must be between 1 and 256");
      o.threads = static_cast<int>(s);
    }
    if (auto v = f.find("strong_coupling")) o.strong_coupling = v->as_bool();
    return o;
  }

  // Checks that duration/steps/dt_s determine the steps consistently.
  void check_timing(const CompileOptions& o, const YamlField& where) const {
    const int given = (o.duration_s > 0) + (o.steps > 0) + (o.dt_s > 0);
    if (given < 2)
      where.fail("compile options need two of duration_s, steps, dt_s (got " +
                 std::to_string(given) + ")");
    if (given == 3 && std::abs(o.steps * o.dt_s - o.duration_s) > 1e-9 * o.duration_s)
      where.fail("conflicting options: steps * dt_s = " + std::to_string(o.steps * o.dt_s) +
                 " s but duration_s = " + std::to_string(o.duration_s) + " s");
    if (o.steps == 0 && o.duration_s > 0 && o.dt_s > 0) {
      const double r = o.duration_s / o.dt_s;
      if (std::abs(r - std::round(r)) > 1e-6)
        where.fail("conflicting options: duration_s is not a whole number of dt_s steps");
    }
    if (o.b1_weight.size() && o.b1_weight.size() != o.b1_scale.size())
      where.fail("ensemble: weights must match b1_scale in length");
  }

  Mat unitary_file(const YamlField& f) const {
    const std::string path = resolve(base_dir, f.as_string());
    json j;
    try {
      j = json::parse(read_file(path));
    } catch (const json::parse_error& e) {
      f.fail(std::string("invalid JSON: ") + e.what());
    } catch (const InputError&) {
      f.fail("cannot read file " + path);
    }
    if (!j.is_object() || !j.contains("real") || !j.contains("imag"))
      f.fail("unitary file must hold {\"real\": [[...]], \"imag\": [[...]]}");
    const auto re = j["real"], im = j["imag"];
    const size_t n = re.size();
    if (n == 0 || im.size() != n) f.fail("real and imag must be square matrices of the same size");
    Mat u(n, n);
    for (size_t r = 0; r < n; ++r) {
      if (!re[r].is_array() || re[r].size() != n || !im[r].is_array() || im[r].size() != n)
        f.fail("real and imag must be square matrices of the same size");
      for (size_t c = 0; c < n; ++c) {
        if (!re[r][c].is_number() || !im[r][c].is_number()) f.fail("entries must be numbers");
        u(r, c) = cplx(re[r][c].get<double>(), im[r][c].get<double>());
      }
    }
    return u;
  }

  static json matrix_json(const Mat& m) {
    json re = json::array(), im = json::array();
    for (int i = 0; i < m.rows(); ++i) {
      json a = json::array(), b = json::array();
      for (int j = 0; j < m.cols(); ++j) {
        a.push_back(m(i, j).real());
        b.push_back(m(i, j).imag());
      }
      re.push_back(a);
      im.push_back(b);
    }
    return {{"real", re}, {"imag", im}};
  }

  // A gate element -> its target description (then built by target_from_json).
  GateJob gate(const YamlField& g, const CompileOptions& defaults, int index) const {
    g.expect_map();
    GateJob job;
    job.location = g.location();
    const YamlField type = g.at("type");
    const std::string t = type.as_string();
    static const std::set<std::string> known = {"partial_swap", "rotation", "zz", "cnot",
                                                "cz",           "unitary",  "ud", "state_transfer"};
    if (!known.count(t))
      type.fail(
          "unknown gate (known: partial_swap, rotation, zz, cnot, cz, unitary, ud, "
          "state_transfer)");
    std::vector<std::string> keys = {"type", "name", "spins", "compile"};
    if (t == "partial_swap" || t == "zz") keys.push_back("theta_rad");
    if (t == "rotation")
      for (const char* k : {"angle_rad", "angle_deg", "phase_rad", "phase_deg", "axis"})
        keys.push_back(k);
    if (t == "unitary") keys.push_back("file");
    if (t == "ud")
      for (const char* k : {"c", "temperatures"}) keys.push_back(k);
    if (t == "state_transfer") keys.push_back("transfers");
    g.allow_keys(keys);
    job.name = g.has("name") ? g.at("name").as_string() : t + "_" + std::to_string(index);
    if (job.name.empty() || job.name.find_first_of("/\\ ") != std::string::npos)
      g.at("name").fail("must be a non-empty file-name-safe word");
    const YamlField sp = g.at("spins");
    std::vector<std::string> labels;
    std::set<int> seen;
    for (const auto& s : sp.items()) {
      const int k = spin(s);
      if (!seen.insert(k).second) s.fail("spin named twice");
      labels.push_back(prog.molecule.nuclei[k].label);
    }
    if (labels.empty()) sp.fail("must name at least one spin");
    auto need = [&](size_t count) {
      if (labels.size() != count)
        sp.fail("gate " + t + " acts on exactly " + std::to_string(count) + " spins");
    };
    json d = {{"gate", t}, {"spins", labels}};
    if (t == "partial_swap" || t == "zz") {
      need(2);
      d["theta_rad"] = g.at("theta_rad").as_double();
    } else if (t == "cnot" || t == "cz") {
      need(2);
    } else if (t == "rotation") {
      d["angle_rad"] = *angle(g, "angle", true);
      std::string axis = "phase";
      if (auto a = g.find("axis")) {
        axis = a->as_string();
        if (axis != "x" && axis != "y" && axis != "z") a->fail("must be x, y or z");
        if (g.has("phase_rad") || g.has("phase_deg"))
          a->fail("conflicting options: give axis or phase, not both");
      }
      double phase = angle(g, "phase", false).value_or(0.0);
      if (axis == "y") phase = kPi / 2;
      if (axis == "z") d["axis"] = "z";
      d["phase_rad"] = phase;
    } else if (t == "unitary") {
      const YamlField f = g.at("file");
      const Mat u = unitary_file(f);
      if (u.rows() != (1 << labels.size()))
        f.fail("matrix is " + std::to_string(u.rows()) + "x" + std::to_string(u.cols()) + " but " +
               std::to_string(labels.size()) + " spins need " + std::to_string(1 << labels.size()));
      if (!is_unitary(u, 1e-6)) f.fail("matrix is not unitary (max |U^dag U - 1| > 1e-6)");
      d["file"] = f.as_string();
      d["local_unitary"] = matrix_json(u);
    } else if (t == "ud") {
      const YamlField cf = g.at("c");
      cplx c;
      if (cf.is_scalar()) {
        c = cf.as_double();
      } else {
        cf.expect_map();
        cf.allow_keys({"re", "im"});
        c = cplx(cf.at("re").as_double(), cf.has("im") ? cf.at("im").as_double() : 0.0);
      }
      std::vector<double> temps(labels.size(), 1.0);
      if (auto tf = g.find("temperatures")) {
        temps = tf->as_double_list();
        if (temps.size() != labels.size()) tf->fail("needs one temperature per spin");
        for (double x : temps)
          if (!(x > 0)) tf->fail("temperatures must be > 0");
      }
      if (labels.size() < 2 || labels.size() > 6) sp.fail("ud needs 2 to 6 system spins");
      std::vector<PairCoherence> pairs;  // the same c for every pair (Fig. 3's setting)
      for (int p = 0; p < static_cast<int>(temps.size()); ++p)
        for (int q = p + 1; q < static_cast<int>(temps.size()); ++q) pairs.push_back({p, q, c});
      const Mat rho = coherent_thermal_state(temps, pairs);
      if (Eigen::SelfAdjointEigenSolver<Mat>(rho).eigenvalues().minCoeff() < -1e-12)
        cf.fail("the coherent state is not positive (|c| too large for these temperatures)");
      d["c"] = {{"re", c.real()}, {"im", c.imag()}};
      d["temperatures"] = temps;
      d["local_unitary"] = matrix_json(spectrometer::diagonalize_near_identity(rho).u_d);
    } else if (t == "state_transfer") {
      const YamlField tr = g.at("transfers");
      json list = json::array();
      for (const auto& item : tr.items()) {
        item.expect_map();
        item.allow_keys({"from", "to"});
        for (const char* key : {"from", "to"}) {
          const YamlField s = item.at(key);
          const std::string v = s.as_string();
          if (v.size() != labels.size() || v.find_first_not_of("01+-") != std::string::npos)
            s.fail("needs one of 0, 1, +, - per spin (" + std::to_string(labels.size()) + ")");
        }
        list.push_back({{"from", item.at("from").as_string()}, {"to", item.at("to").as_string()}});
      }
      if (list.empty()) tr.fail("must list at least one {from, to}");
      d["transfers"] = list;
    }
    job.target = target_from_json(d.dump(), prog.molecule, g.location());
    job.options = g.has("compile") ? options(g.at("compile"), defaults) : defaults;
    check_timing(job.options, g.has("compile") ? g.at("compile") : g);
    for (const auto& nm : job.options.channels) (void)nm;
    return job;
  }

  void elements(const YamlField& list, const CompileOptions& defaults, int depth) {
    if (depth > 8) list.fail("loops nested too deeply (more than 8)");
    for (const auto& item : list.items()) {
      item.expect_map();
      const auto entries = item.entries();
      if (entries.size() != 1)
        item.fail(
            "each element is one of gate, pulse, rotation, delay, gradient, shaped, loop, acquire");
      const auto& [kind, f] = entries.front();
      Sequence& seq = prog.sequence;
      if (kind == "gate") {
        const GateJob job = gate(f, defaults, static_cast<int>(prog.gates.size()));
        auto it = std::find_if(prog.gates.begin(), prog.gates.end(),
                               [&](const GateJob& g) { return g.name == job.name; });
        if (it != prog.gates.end() && it->location != job.location)
          f.at("name").fail("another gate already has this name");
        UnitaryElement u;
        u.name = job.name;
        u.spins = job.target.spins;
        if (!job.target.state_transfer) u.unitary = job.target.local;
        if (it == prog.gates.end()) {
          prog.gates.push_back(job);
          it = prog.gates.end() - 1;
        }
        it->element_indices.push_back(seq.elements.size());
        seq.elements.push_back(u);
      } else if (kind == "pulse") {
        f.expect_map();
        f.allow_keys({"channel", "angle_rad", "angle_deg", "phase_rad", "phase_deg", "rf_hz"});
        HardPulseElement h;
        h.channel = channel(f.at("channel"));
        h.angle_rad = *angle(f, "angle", true);
        h.phase_rad = angle(f, "phase", false).value_or(0.0);
        const double mx = prog.molecule.channels[h.channel].max_rf_hz;
        h.rf_hz = f.has("rf_hz") ? f.at("rf_hz").as_positive() : mx;
        if (h.rf_hz > mx)
          f.at("rf_hz").fail("exceeds the channel's max_rf_hz " + std::to_string(mx));
        if (!(h.angle_rad > 0)) f.fail("angle must be > 0");
        seq.elements.push_back(h);
      } else if (kind == "rotation") {
        f.expect_map();
        f.allow_keys({"spins", "angle_rad", "angle_deg", "phase_rad", "phase_deg"});
        RotationElement r;
        for (const auto& s : f.at("spins").items()) r.spins.push_back(spin(s));
        if (r.spins.empty()) f.at("spins").fail("must name at least one spin");
        r.angle_rad = *angle(f, "angle", true);
        r.phase_rad = angle(f, "phase", false).value_or(0.0);
        seq.elements.push_back(r);
      } else if (kind == "delay") {
        f.expect_map();
        f.allow_keys({"duration_s"});
        seq.elements.push_back(DelayElement{f.at("duration_s").as_positive()});
      } else if (kind == "gradient") {
        f.expect_map();
        f.allow_keys({"duration_s", "strength_g_per_cm", "shape"});
        GradientElement gr;
        gr.duration_s = f.at("duration_s").as_positive();
        gr.strength_g_per_cm = f.at("strength_g_per_cm").as_double();
        if (auto sh = f.find("shape")) {
          const std::string s = sh->as_string();
          if (s == "rectangle")
            gr.shape_factor = 1.0;
          else if (s == "sine")
            gr.shape_factor = 2.0 / kPi;  // integral of sin over half a period
          else
            sh->fail("must be rectangle or sine");
        }
        seq.elements.push_back(gr);
      } else if (kind == "shaped") {
        f.expect_map();
        f.allow_keys({"name", "file", "bruker", "channel", "duration_s", "max_rf_hz"});
        if (f.has("file") == f.has("bruker"))
          f.fail("give exactly one of file (nmrc-pulse/1) or bruker (shape file)");
        if (auto pf = f.find("file")) {
          f.allow_keys({"name", "file"});
          const std::string path = resolve(base_dir, pf->as_string());
          ShapedPulseElement e;
          try {
            e = read_pulse_file(path).element(prog.molecule);
          } catch (const InputError& err) {
            pf->fail(err.what());
          }
          if (f.has("name")) e.name = f.at("name").as_string();
          seq.elements.push_back(e);
        } else {
          const YamlField bf = f.at("bruker");
          ShapedPulseElement e;
          e.name =
              f.has("name") ? f.at("name").as_string() : fs::path(bf.as_string()).stem().string();
          const int c = channel(f.at("channel"));
          const double mx = f.at("max_rf_hz").as_positive();
          if (mx > prog.molecule.channels[c].max_rf_hz)
            f.at("max_rf_hz")
                .fail("exceeds the channel's max_rf_hz " +
                      std::to_string(prog.molecule.channels[c].max_rf_hz));
          RVec ux, uy;
          try {
            read_bruker_shape(resolve(base_dir, bf.as_string()), mx, ux, uy);
          } catch (const InputError& err) {
            bf.fail(err.what());
          }
          e.dt_s = f.at("duration_s").as_positive() / static_cast<double>(ux.size());
          e.channels = {c};
          e.ux_hz = {ux};
          e.uy_hz = {uy};
          seq.elements.push_back(e);
        }
      } else if (kind == "loop") {
        f.expect_map();
        f.allow_keys({"count", "elements"});
        const long count = f.at("count").as_int();
        if (count < 1 || count > 100000) f.at("count").fail("must be between 1 and 100000");
        for (long r = 0; r < count; ++r)
          elements(f.at("elements").expect_sequence(), defaults, depth + 1);
      } else if (kind == "acquire") {
        f.expect_map();
        f.allow_keys({"channel", "sw_hz", "td", "receiver_phase_deg", "receiver_phase_rad"});
        AcquireElement a;
        a.channel = channel(f.at("channel"));
        a.sw_hz = f.at("sw_hz").as_positive();
        const long td = f.at("td").as_int();
        if (td < 1 || td > (1 << 24)) f.at("td").fail("must be between 1 and 16777216");
        a.td = static_cast<int>(td);
        a.receiver_phase_rad = angle(f, "receiver_phase", false).value_or(0.0);
        seq.elements.push_back(a);
      } else {
        item.fail("unknown element " + kind +
                  " (known: gate, pulse, rotation, delay, gradient, shaped, loop, acquire)");
      }
    }
  }
};

}  // namespace

Program parse_program(const std::string& text, const std::string& name,
                      const std::string& base_dir) {
  const YamlField root = YamlField::load_string(text, name);
  root.expect_map();
  root.allow_keys({"format", "name", "description", "molecule", "channels", "compile", "elements"});
  if (auto f = root.find("format"))
    if (f->as_string() != "nmrc-program/1") f->fail("must be nmrc-program/1");
  Parser p;
  p.base_dir = base_dir;
  p.prog.path = name;
  p.prog.name = root.has("name") ? root.at("name").as_string() : fs::path(name).stem().string();
  const YamlField mf = root.at("molecule");
  p.prog.molecule_path = resolve(base_dir, mf.as_string());
  if (!fs::exists(p.prog.molecule_path))
    mf.fail("cannot read molecule file " + p.prog.molecule_path);
  p.prog.molecule = load_molecule(p.prog.molecule_path);
  if (auto ch = root.find("channels")) {
    ch->expect_map();
    for (const auto& [nm, cf] : ch->entries()) {
      const int c = p.prog.molecule.channel_index(nm);
      if (c < 0) cf.fail("unknown channel " + nm);
      cf.expect_map();
      cf.allow_keys({"carrier_hz"});
      if (auto cr = cf.find("carrier_hz")) p.prog.molecule.channels[c].carrier_hz = cr->as_double();
    }
  }
  p.prog.sequence.name = p.prog.name;
  CompileOptions defaults;
  if (auto c = root.find("compile")) defaults = p.options(*c, defaults);
  p.elements(root.at("elements").expect_sequence(), defaults, 0);
  if (p.prog.sequence.elements.empty()) root.at("elements").fail("must list at least one element");
  return p.prog;
}

Program load_program(const std::string& path) {
  const std::string text = read_file(path);
  const std::string dir = fs::path(path).parent_path().string();
  return parse_program(text, path, dir.empty() ? "." : dir);
}

void install_pulse(Program& program, const GateJob& job, const CompiledPulse& pulse) {
  const ShapedPulseElement e = pulse.element(program.molecule);
  for (size_t i : job.element_indices) program.sequence.elements.at(i) = e;
}

void read_bruker_shape(const std::string& path, double max_rf_hz, RVec& ux_hz, RVec& uy_hz) {
  std::istringstream in(read_file(path));
  std::string line;
  std::vector<double> amp, ph;
  long npoints = -1;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.rfind("##NPOINTS=", 0) == 0) npoints = std::strtol(line.c_str() + 10, nullptr, 10);
    if (line.empty() || line[0] == '#' || line.rfind("$$", 0) == 0) continue;
    double a = 0, p = 0;
    char comma = 0;
    std::istringstream ls(line);
    if (!(ls >> a >> comma >> p) || comma != ',')
      throw InputError(path + ":" + std::to_string(lineno) +
                       ": shape point: expected \"amplitude, phase\"");
    if (a < 0 || a > 100)
      throw InputError(path + ":" + std::to_string(lineno) + ": amplitude = " + std::to_string(a) +
                       ": must be in [0, 100] %");
    amp.push_back(a);
    ph.push_back(p);
  }
  if (amp.empty()) throw InputError(path + ": no shape points");
  if (npoints >= 0 && npoints != static_cast<long>(amp.size()))
    throw InputError(path + ": ##NPOINTS=" + std::to_string(npoints) + " but the file has " +
                     std::to_string(amp.size()) + " points");
  ux_hz.resize(amp.size());
  uy_hz.resize(amp.size());
  for (size_t k = 0; k < amp.size(); ++k) {
    ux_hz(k) = max_rf_hz * amp[k] / 100.0 * std::cos(ph[k] * kDeg);
    uy_hz(k) = max_rf_hz * amp[k] / 100.0 * std::sin(ph[k] * kDeg);
  }
}

}  // namespace nmrc::compiler
