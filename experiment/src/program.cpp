// The experiment-program loader (docs/experiment-format.md).
#include "nmrc/experiment/program.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "nmrc/compiler/program.hpp"
#include "nmrc/core/hash.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/limits.hpp"
#include "nmrc/core/program_header.hpp"
#include "nmrc/core/text.hpp"
#include "nmrc/core/yaml_choice.hpp"
#include "nmrc/core/yaml_input.hpp"
#include "nmrc/experiment/channel.hpp"
#include "nmrc/thermo/program.hpp"

namespace nmrc::experiment {

namespace fs = std::filesystem;

namespace {

std::vector<int> measured_list(const YamlField& f) {
  std::vector<int> out;
  for (const auto& it : f.expect_sequence().items()) {
    const long v = it.as_int();
    if (v < 1 || v > 100000) it.fail("must be a collision number in [1, 100000]");
    if (!out.empty() && v <= out.back()) it.fail("measured collisions must be ascending");
    out.push_back(static_cast<int>(v));
  }
  if (out.empty()) f.fail("must name at least one collision");
  return out;
}

}  // namespace

PulseShape pulse_shape(const ExperimentProgram& p, const std::string& kind) {
  if (auto it = p.pulses.find(kind); it != p.pulses.end()) return it->second;
  // Defaults: the lengths the committed gates reached (docs/results.md's gate table):
  // C1-C4 18.5 ms, C2-C4 17 ms (routed through C3), C3-C4 4 ms; U_d 30 ms (paper: <= 50 ms);
  // selective rotations 2 ms.
  static const std::map<std::string, PulseShape> defaults = {
      {"ud", {0.03, 600}},
      {"rotation", {0.002, 100}},
      {"readout", {0.002, 100}},
      {"swap C1-C4", {0.0185, 400}},
      {"swap C2-C4", {0.017, 425}},
      {"swap C3-C4", {0.004, 160}},
      {"swap", {0.02, 500}},
      {"joint", {0.03, 600}},
      {"pps", {0.03, 600}},
      {"pps_step", {0.03, 600}},
      // The whole collision as one pulse (contact: whole_collision): issue 23's probe reached
      // F_min 0.99997 over the B1 grid in 45 ms for Fig. 3's cascade.
      {"cascade", {0.045, 900, 0.99997}}};
  if (auto it = defaults.find(kind); it != defaults.end()) return it->second;
  if (kind.rfind("swap", 0) == 0) return defaults.at("swap");
  return defaults.at("rotation");
}

// The folder of the program's compiled pulses (`compiled:`, default "compiled"): nmrc writes
// pulses there and reads every *.json in it, so a program file may only name a folder inside
// its own folder (docs/security.md): a path that leads out of it (absolute elsewhere, "../")
// is refused. A symlink there is the user's own choice and is followed (the tests link the
// shipped library that way).
std::string compiled_folder(const YamlField& root, const std::string& path) {
  const auto f = root.find("compiled");
  const std::string given = f ? f->as_string() : std::string("compiled");
  const std::string dir = resolve_path(path, given);
  const fs::path base = fs::absolute(fs::path(path)).parent_path().lexically_normal();
  const fs::path rel = fs::absolute(fs::path(dir)).lexically_normal().lexically_relative(base);
  if (rel.empty() || rel == "." || *rel.begin() == "..") {
    const std::string rule = "must be a folder inside the program's own folder " +
                             escape_text(base.string()) + " (no ../ out of it)";
    if (f) f->fail(rule);
    throw InputError(root.location() + ": compiled: " + rule);
  }
  return dir;
}

const std::vector<Imperfections::Flag>& Imperfections::flags() {
  static const std::vector<Flag> table = {
      {"relaxation", &Imperfections::relaxation, "no relaxation", true, true},
      {"b1_ensemble", &Imperfections::b1_ensemble, "no B1 ensemble", true, true},
      {"compiled_gates", &Imperfections::compiled_gates, "ideal gates", true, true},
      {"compiled_contact", &Imperfections::compiled_contact, "ideal contact", true, false},
      {"compiled_preparation", &Imperfections::compiled_preparation, "ideal preparation", true,
       false},
      {"noise", &Imperfections::noise, "no noise", false, false},
      {"readout", &Imperfections::readout, "ideal readout", true, true}};
  return table;
}

Imperfections Imperfections::none() {
  Imperfections im;
  for (const auto& f : flags()) im.*(f.member) = false;
  return im;
}

Imperfections Imperfections::all() {
  Imperfections im;
  for (const auto& f : flags()) im.*(f.member) = true;
  return im;
}

compiler::CompileOptions pulse_compile_options(const ExperimentProgram& p,
                                               const std::string& kind) {
  compiler::CompileOptions o = p.compile;
  const PulseShape sh = pulse_shape(p, kind);
  o.duration_s = sh.duration_s;
  o.steps = sh.steps;
  if (sh.fidelity_target > 0) o.fidelity_target = sh.fidelity_target;
  return o;
}

ExperimentProgram load_experiment_program(const std::string& path) {
  return parse_experiment_program(read_file(path, kMaxYamlFileBytes), path);
}

ExperimentProgram parse_experiment_program(const std::string& text, const std::string& path) {
  const YamlField root = YamlField::load_string(text, path);
  ProgramHeader header = read_program_header(
      root, fs::path(path).parent_path().string(), {.format = "nmrc-experiment/1"},
      {"theory", "readout", "compiled", "repreparation", "contact", "bath_phase_cycle",
       "contact_phase_cycle", "pps_pulses", "measure", "acquisition", "spectrometer",
       "imperfections", "calibration", "error_budget", "compile", "pulses", "cases"});
  ExperimentProgram p;
  p.path = path;
  p.text_hash = content_hash_hex(text);
  p.name = header.name;
  p.description = header.description;
  p.molecule_path = header.molecule_path;
  p.molecule = std::move(header.molecule);
  const YamlField mol = root.at("molecule");
  const std::string& base_dir = header.base_dir;
  const int n = p.molecule.size();
  if (n > 6) mol.fail("the experiment layer handles at most 6 spins (4^n superoperators)");

  const YamlField ro = root.at("readout");
  const std::string readout_path = ro.as_input_file(base_dir);
  p.readout = spectrometer::load_readout(readout_path, p.molecule);
  {
    const auto rep = spectrometer::analyze_completeness(p.readout.settings, n);
    if (!rep.complete) {
      std::string inv;
      for (size_t i = 0; i < rep.invisible.size() && i < 4; ++i) inv += " " + rep.invisible[i];
      ro.fail("readout set is incomplete (rank " + std::to_string(rep.rank) + " of " +
              std::to_string(rep.parameters) + "; cannot see" + inv +
              (rep.invisible.size() > 4 ? " ..." : "") + ")");
    }
  }
  p.compiled_dir = compiled_folder(root, path);
  if (auto f = root.find("repreparation"))
    p.repreparation = yaml_choice<Repreparation>(
        *f, {{"ideal", Repreparation::kIdeal}, {"measured", Repreparation::kMeasured}});
  if (auto f = root.find("contact"))
    p.contact =
        yaml_choice<ContactPulses>(*f, {{"per_swap", ContactPulses::kPerSwap},
                                        {"whole_collision", ContactPulses::kWholeCollision}});
  if (auto f = root.find("bath_phase_cycle"))
    p.bath_phase_cycle = static_cast<int>(f->as_int(1, 64));
  if (auto f = root.find("pps_pulses"))
    p.pps_pulses = yaml_choice<PpsPulses>(
        *f, {{"per_gate", PpsPulses::kPerGate}, {"per_step", PpsPulses::kPerStep}});
  if (auto f = root.find("contact_phase_cycle"))
    p.contact_phase_cycle = static_cast<int>(f->as_int(1, 64));
  std::vector<int> default_measure;
  if (auto f = root.find("measure")) default_measure = measured_list(*f);

  if (auto a = root.find("acquisition")) {
    a->expect_map();
    a->allow_keys({"snr", "repeats", "seed", "td", "sw_hz"});
    if (auto f = a->find("snr")) p.snr = f->as_nonnegative();
    if (auto f = a->find("repeats")) {
      p.repeats = static_cast<int>(f->as_int(1, 1000));
    }
    if (auto f = a->find("seed"))
      p.seed = static_cast<std::uint64_t>(f->as_int(0, limits::kMaxSeed));
    if (auto f = a->find("td")) {
      const long v = f->as_int(64, 1L << 20);
      if ((v & (v - 1)) != 0) f->fail("must be a power of two >= 64");
      p.td = static_cast<int>(v);
    }
    if (auto f = a->find("sw_hz")) p.sw_hz = f->as_double(0, limits::kMaxSpectralWidthHz);
  }
  if (p.sw_hz == 0.0) p.sw_hz = spectrometer::default_sw_hz(p.molecule);
  if (auto s = root.find("spectrometer")) {
    s->expect_map();
    s->allow_keys(
        {"b1_scale", "b1_weight", "compensate_polarization", "gradient_max_g_per_cm", "sample_cm"});
    if (auto f = s->find("b1_scale")) {
      p.b1_scale = f->as_double_list();
      if (p.b1_scale.empty() || p.b1_scale.size() > 21) f->fail("needs 1 to 21 values");
      for (double b : p.b1_scale)
        if (!(b > 0.5 && b < 1.5)) f->fail("B1 scales must lie in (0.5, 1.5)");
      p.b1_weight.assign(p.b1_scale.size(), 1.0);
    }
    if (auto f = s->find("b1_weight")) {
      p.b1_weight = f->as_double_list();
      if (p.b1_weight.size() != p.b1_scale.size()) f->fail("needs one weight per b1_scale");
      double sum = 0;
      for (double w : p.b1_weight) {
        if (!(w >= 0)) f->fail("weights must be >= 0");
        sum += w;
      }
      if (!(sum > 0)) f->fail("weights must not all be zero");
    }
    if (auto f = s->find("compensate_polarization")) p.compensate_polarization = f->as_bool();
    if (auto f = s->find("gradient_max_g_per_cm")) p.gradient_max_g_per_cm = f->as_positive(1e4);
    if (auto f = s->find("sample_cm")) p.sample_cm = f->as_positive(100.0);
  }
  if (auto im = root.find("imperfections")) {
    im->expect_map();
    std::vector<std::string> keys;
    for (const auto& f : Imperfections::flags()) keys.push_back(f.key);
    im->allow_keys(keys);
    for (const auto& f : Imperfections::flags())
      if (auto v = im->find(f.key)) p.imperfections.*(f.member) = v->as_bool();
  }
  if (auto c = root.find("calibration")) {
    c->expect_map();
    c->allow_keys({"inversion", "reference"});
    if (auto f = c->find("inversion")) p.inversion = f->as_bool();
    if (auto f = c->find("reference")) p.reference = f->as_bool();
  }
  if (auto f = root.find("error_budget")) p.error_budget = f->as_bool();
  if (auto c = root.find("compile")) {
    c->expect_map();
    c->allow_keys({"fidelity_target", "starts", "seed", "max_iterations", "threads", "time_limit_s",
                   "max_rf_hz", "b1_quadrature", "coarse_factor", "decoupler"});
    if (auto f = c->find("fidelity_target")) {
      p.compile.fidelity_target = f->as_double();
      if (!(p.compile.fidelity_target > 0 && p.compile.fidelity_target < 1))
        f->fail("must lie in (0, 1)");
    }
    if (auto f = c->find("starts")) p.compile.starts = static_cast<int>(f->as_int(1, 1000));
    if (auto f = c->find("seed"))
      p.compile.seed = static_cast<unsigned long>(f->as_int(0, limits::kMaxSeed));
    if (auto f = c->find("max_iterations"))
      p.compile.max_iterations = static_cast<int>(f->as_int(1, 10000000));
    if (auto f = c->find("threads")) p.compile.threads = static_cast<int>(f->as_int(1, 256));
    if (auto f = c->find("time_limit_s")) p.compile.time_limit_s = f->as_positive();
    if (auto f = c->find("max_rf_hz"))
      p.compile.max_rf_hz[p.molecule.channels[0].name] = f->as_positive(limits::kMaxRfHz);
    if (auto f = c->find("b1_quadrature"))
      p.compile.b1_quadrature = static_cast<int>(f->as_int(0, 20));
    if (auto f = c->find("coarse_factor"))
      p.compile.coarse_factor = static_cast<int>(f->as_int(0, 1000));
    if (p.compile.starts < 1 || p.compile.threads < 1 || p.compile.max_iterations < 1)
      c->fail("starts, threads and max_iterations must be >= 1");
    // GRAPE with the decoupler in its model: the compile program's own reader.
    if (auto f = c->find("decoupler")) {
      p.compile.decoupler = compiler::read_decoupler_model(*c, *f, p.molecule, header.base_dir);
      const size_t members =
          p.b1_scale.size() *
          (p.compile.decoupler ? p.compile.decoupler->configurations().size() : 1);
      if (members > compiler::kMaxEnsembleMembers)
        f->fail(std::to_string(members) +
                " ensemble members (the B1 scales x the decoupler's residual configurations): "
                "must be at most " +
                std::to_string(compiler::kMaxEnsembleMembers) + " (docs/limits.md)");
    }
  }
  p.compile.b1_scale = p.b1_scale;
  // equal weights are GRAPE's default (empty), which its B1 quadrature rule requires
  const bool uniform = std::all_of(p.b1_weight.begin(), p.b1_weight.end(),
                                   [&](double w) { return w == p.b1_weight.front(); });
  p.compile.b1_weight = uniform ? std::vector<double>{} : p.b1_weight;
  if (auto ps = root.find("pulses")) {
    ps->expect_map();
    for (const auto& [kind, f] : ps->entries()) {
      f.expect_map();
      f.allow_keys({"duration_s", "steps", "fidelity_target"});
      PulseShape s{f.at("duration_s").as_positive(),
                   static_cast<int>(f.at("steps").as_int(2, 20000))};
      if (s.duration_s > 0.2) f.at("duration_s").fail("must be <= 0.2 s");
      if (auto t = f.find("fidelity_target")) {
        s.fidelity_target = t->as_double();
        if (!(s.fidelity_target > 0 && s.fidelity_target < 1)) t->fail("must lie in (0, 1)");
      }
      p.pulses[kind] = s;
    }
  }

  const std::string default_theory =
      root.has("theory") ? root.at("theory").as_input_file(base_dir) : std::string();
  const YamlField cases = root.at("cases");
  std::set<std::string> names;
  for (const auto& c : cases.expect_sequence().items()) {
    c.expect_map();
    c.allow_keys({"run", "theory", "name", "measure", "spins"});
    CaseSpec cs;
    cs.location = c.location();
    cs.theory_file = c.has("theory") ? c.at("theory").as_input_file(base_dir) : default_theory;
    if (cs.theory_file.empty()) c.fail("needs theory: (here or at the top level)");
    const thermo::TheoryProgram th = thermo::load_theory_program(cs.theory_file);
    const YamlField run = c.at("run");
    const thermo::RunSpec* spec = nullptr;
    for (const auto& r : th.runs)
      if (r.name == run.as_string()) spec = &r;
    if (!spec) {
      std::string known;
      for (const auto& r : th.runs) known += (known.empty() ? "" : ", ") + r.name;
      run.fail("no such run in " + cs.theory_file + " (runs: " + known + ")");
    }
    cs.name = c.has("name") ? c.at("name").as_name() : spec->name;  // names a folder of --out
    if (!names.insert(cs.name).second) c.fail("duplicate case name " + cs.name);
    cs.title = spec->title;
    cs.params = spec->params;
    cs.params.information = true;
    cs.params.threads = 1;
    const int ns = cs.params.n();
    // Subsystem -> molecule spin: by the subsystem's name as a spin label or role, or `spins`.
    std::map<std::string, std::string> mapping;
    std::optional<YamlField> spins_field = c.find("spins");
    if (spins_field) {
      spins_field->expect_map();
      for (const auto& [k, v] : spins_field->entries()) mapping[k] = v.as_string();
    }
    std::set<int> used;
    for (int k = 0; k < ns; ++k) {
      const std::string& sub = cs.params.names[k];
      const std::string label = mapping.count(sub) ? mapping[sub] : sub;
      const int idx = p.molecule.index_of(label);
      const YamlField& where = spins_field ? *spins_field : run;
      if (idx < 0)
        where.fail("subsystem " + sub + " -> " + label + ": unknown spin or role (known: " +
                   p.molecule.labels_text() + ", roles S1.., R)");
      if (!used.insert(idx).second) where.fail("two subsystems on spin " + label);
      cs.system_spins.push_back(idx);
    }
    const std::string bath_label = mapping.count("R") ? mapping["R"] : "R";
    cs.bath_spin = p.molecule.index_of(bath_label);
    if (cs.bath_spin < 0)
      (spins_field ? *spins_field : run)
          .fail("no bath spin: the molecule has no role R and spins: gives no R");
    if (used.count(cs.bath_spin)) run.fail("the bath spin is also a subsystem");
    if (auto f = c.find("measure"))
      cs.measure = measured_list(*f);
    else
      cs.measure = default_measure;
    if (cs.measure.empty()) c.fail("no measured collisions (measure: here or at the top level)");
    if (cs.measure.back() > spec->params.collisions)
      c.fail("measures collision " + std::to_string(cs.measure.back()) +
             " but the theory run has " + std::to_string(spec->params.collisions));
    if (p.repreparation == Repreparation::kMeasured) {
      // every collision up to the last measured one is a run of its own
      const int last = cs.measure.back();
      cs.measure.clear();
      for (int m = 1; m <= last; ++m) cs.measure.push_back(m);
    }
    cs.params.collisions = spec->params.collisions;
    p.cases.push_back(std::move(cs));
  }
  if (p.cases.empty()) cases.fail("needs at least one case");
  // The resume key (text_hash) covers every file the program names, not its own text alone:
  // a finished case is reused only when its molecule, readout set, theory and the compiled
  // pulses in its compiled: folder are unchanged too (issue 27: an edited T2 came back with the
  // old numbers). A run that compiles a missing pulse thus makes the next run redo its cases
  // once.
  std::string inputs = text;
  std::set<std::string> named = {p.molecule_path, readout_path};
  for (const auto& c : p.cases) named.insert(c.theory_file);
  std::error_code ec;
  std::set<std::string> pulses;
  for (const auto& e : fs::directory_iterator(p.compiled_dir, ec))
    if (e.path().extension() == ".json" && pulses.size() < 4096) pulses.insert(e.path().string());
  named.insert(pulses.begin(), pulses.end());
  for (const auto& f : named) inputs += std::string(1, '\0') + f + '\0' + read_file(f);
  p.text_hash = content_hash_hex(inputs);
  return p;
}

}  // namespace nmrc::experiment
