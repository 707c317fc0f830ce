#include "nmrc/compiler/program.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "nmrc/compiler/gate_types.hpp"
#include "nmrc/core/bruker_shape.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/program_front_end.hpp"
#include "nmrc/core/yaml_choice.hpp"
#include "nmrc/core/yaml_input.hpp"
#include "pulse_cache.hpp"

namespace nmrc::compiler {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The compiler's extension of the front end: compile options and `gate` elements.
struct Parser {
  const ProgramFrontEnd& fe;
  Program& prog;
  std::optional<YamlField> root_compile;  ///< the program's `compile:` map, if any

  // An integer field saturated to int's range (CompileOptions::check judges the range).
  static int as_int(const YamlField& f) {
    return static_cast<int>(std::clamp<long>(f.as_int(), std::numeric_limits<int>::min(),
                                             std::numeric_limits<int>::max()));
  }

  // Places the first rule the resolved options violate (CompileOptions::check) at the YAML
  // field that gave the value: the gate's compile map, then the program's; else the gate.
  void check_options(const CompileOptions& o, const YamlField& gate) const {
    auto pr = o.check();
    if (!pr && o.decoupler) {  // the ensemble crossed with the decoupler's configurations
      const size_t members =
          o.b1_scale.size() * o.offset_hz.size() * o.decoupler->configurations().size();
      if (members > kMaxEnsembleMembers)
        pr = OptionProblem{"decoupler", "(" + std::to_string(members) + " members)",
                           "B1 scales x offsets x the decoupler's residual configurations must "
                           "be at most " +
                               std::to_string(kMaxEnsembleMembers) + " (docs/limits.md)"};
    }
    if (!pr) return;
    std::vector<YamlField> maps;
    if (auto c = gate.find("compile")) maps.push_back(*c);
    if (root_compile) maps.push_back(*root_compile);
    ProgramFrontEnd::fail_at(*pr, maps, gate.has("compile") ? gate.at("compile") : gate);
  }

  int spin(const YamlField& f) const { return fe.spin(f); }
  int channel(const YamlField& f) const { return fe.channel(f); }

  CompileOptions options(const YamlField& f, CompileOptions o) const {
    f.expect_map();
    f.allow_keys({"duration_s",        "steps",           "dt_s",          "max_rf_hz",
                  "channels",          "fidelity_target", "ensemble",      "smoothness",
                  "zero_ends",         "starts",          "seed",          "max_iterations",
                  "stall_evaluations", "time_limit_s",    "threads",       "strong_coupling",
                  "b1_quadrature",     "coarse_factor",   "nominal_first", "warm_start",
                  "probe_q",           "decoupler"});
    if (auto v = f.find("duration_s")) o.duration_s = v->as_positive();
    if (auto v = f.find("steps")) {
      o.steps = as_int(*v);
      if (o.steps < 1) v->fail("must be between 1 and 1000000");
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
        for (const auto& ch : fe.molecule().channels) {
          if (a > ch.max_rf_hz)
            v->fail("exceeds channel " + ch.name + "'s max_rf_hz " + std::to_string(ch.max_rf_hz) +
                    " (molecule file)");
          o.max_rf_hz[ch.name] = a;
        }
      } else {
        v->expect_map();
        for (const auto& [nm, val] : v->entries()) {
          const int c = fe.molecule().channel_index(nm);
          if (c < 0) val.fail("unknown channel " + nm);
          const double a = val.as_positive();
          if (a > fe.molecule().channels[c].max_rf_hz)
            val.fail("exceeds channel " + nm + "'s max_rf_hz " +
                     std::to_string(fe.molecule().channels[c].max_rf_hz) + " (molecule file)");
          o.max_rf_hz[nm] = a;
        }
      }
    }
    if (auto v = f.find("probe_q")) {
      v->expect_map();
      o.probe_q.clear();
      for (const auto& [nm, val] : v->entries()) {
        if (fe.molecule().channel_index(nm) < 0) val.fail("unknown channel " + nm);
        const double q = val.as_positive();
        if (q > 1e5) val.fail("must be at most 100000");
        o.probe_q[nm] = q;
      }
    }
    if (auto v = f.find("decoupler")) o.decoupler = decoupler(f, *v);
    if (auto v = f.find("fidelity_target")) o.fidelity_target = v->as_double();
    if (auto e = f.find("ensemble")) {
      e->expect_map();
      e->allow_keys({"b1_scale", "weights", "offset_hz"});
      if (auto b = e->find("b1_scale")) {
        o.b1_scale = b->as_double_list();
        o.b1_weight.clear();
      }
      if (auto w = e->find("weights")) {
        o.b1_weight = w->as_double_list();
      }
      if (auto off = e->find("offset_hz")) {
        o.offset_hz = off->as_double_list();
      }
    }
    if (auto v = f.find("smoothness")) o.smoothness = v->as_nonnegative();
    if (auto v = f.find("zero_ends")) o.zero_ends = v->as_bool();
    if (auto v = f.find("starts")) o.starts = as_int(*v);
    if (auto v = f.find("seed")) {
      const long s = v->as_int();
      if (s < 0) v->fail("must be >= 0");
      o.seed = static_cast<unsigned long>(s);
    }
    if (auto v = f.find("max_iterations")) o.max_iterations = as_int(*v);
    if (auto v = f.find("stall_evaluations")) o.stall_evaluations = as_int(*v);
    if (auto v = f.find("time_limit_s")) o.time_limit_s = v->as_positive();
    if (auto v = f.find("threads")) o.threads = as_int(*v);
    if (auto v = f.find("strong_coupling")) o.strong_coupling = v->as_bool();
    if (auto v = f.find("b1_quadrature")) o.b1_quadrature = as_int(*v);
    if (auto v = f.find("coarse_factor")) o.coarse_factor = as_int(*v);
    if (auto v = f.find("nominal_first")) o.nominal_first = v->as_bool();
    if (auto v = f.find("warm_start")) o.warm_start = v->as_bool();
    return o;
  }

  std::optional<DecouplerModel> decoupler(const YamlField& options, const YamlField& v) const {
    return read_decoupler_model(options, v, fe.molecule(), fe.header().base_dir);
  }

  // A gate element -> its description (gate_types.hpp: the type's descriptor names its keys,
  // arity and reader) -> its target, built by the one reader of descriptions.
  GateJob gate(const YamlField& g, const CompileOptions& defaults, int index) const {
    g.expect_map();
    GateJob job;
    job.location = g.location();
    const YamlField type = g.at("type");
    const std::string t = type.as_string();
    const GateDescriptor* desc = find_gate_descriptor(t);
    if (!desc) type.fail("unknown gate (known: " + gate_type_names() + ")");
    std::vector<std::string> keys = {"type", "name", "spins", "compile"};
    for (const auto& p : desc->parameters) keys.push_back(p.key);
    if (desc->up_to_diagonal_phases) keys.push_back("up_to");
    g.allow_keys(keys);
    job.name = g.has("name") ? g.at("name").as_name() : t + "_" + std::to_string(index);
    const YamlField sp = g.at("spins");
    std::vector<std::string> labels;
    std::set<int> seen;
    for (const auto& s : sp.items()) {
      const int k = spin(s);
      if (!seen.insert(k).second) s.fail("spin named twice");
      labels.push_back(fe.molecule().nuclei[k].label);
    }
    if (labels.empty()) sp.fail("must name at least one spin");
    if (!arity_allows(*desc, labels.size())) sp.fail("gate " + t + " " + arity_rule(*desc));
    json d = {{"gate", t}, {"spins", labels}};
    desc->read_yaml(GateYaml{g, sp, labels, fe.header().base_dir}, d);
    // The gate up to diagonal phases applied first: for a gate whose input state is diagonal.
    if (auto f = g.find("up_to"))
      d["up_to"] = yaml_choice<std::string>(*f, {{"diagonal_phases", "diagonal_phases"}});
    job.target = target_from_description(d, prog.molecule, g.location());
    job.options = g.has("compile") ? options(g.at("compile"), defaults) : defaults;
    check_options(job.options, g);
    return job;
  }

  // A `gate` element: its target becomes a placeholder UnitaryElement (once per repetition).
  void gate_element(const YamlField& f, Sequence& seq, const CompileOptions& defaults) {
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
  }
};

// A Bruker shape file as a pulse on one channel: core's one shape reader (bruker_shape.hpp)
// and its one conversion to PulseData.
PulseData bruker_shape_pulse(const std::string& path, const std::string& channel, double duration_s,
                             double max_rf_hz) {
  return pulse_data_from_bruker_shape(read_bruker_shape_file(path), channel, duration_s, max_rf_hz);
}

}  // namespace

// compile: {decoupler: {sequence, channel, b2_hz, o2_ppm, molecule}} (or `none`: off), the
// heteronuclear molecule read relative to the program and checked against the program's.
std::optional<DecouplerModel> read_decoupler_model(const YamlField& options, const YamlField& v,
                                                   const Molecule& m, const std::string& base_dir) {
  if (v.is_scalar() && v.as_string() == "none") return std::nullopt;
  if (!v.is_map()) v.fail("must be a mapping {sequence, b2_hz, o2_ppm, molecule} or none");
  v.allow_keys({"sequence", "channel", "b2_hz", "o2_ppm", "molecule"});
  DecouplerModel d;
  if (auto q = v.find("sequence")) d.sequence = q->as_name();
  if (auto c = v.find("channel")) d.channel = c->as_name();
  d.b2_hz = v.at("b2_hz").as_positive(kMaxDecouplerB2Hz);
  d.o2_ppm = v.at("o2_ppm").as_double(-kMaxDecouplerO2Ppm, kMaxDecouplerO2Ppm);
  d.molecule =
      std::make_shared<const Molecule>(load_molecule(v.at("molecule").as_input_file(base_dir)));
  if (const auto pr = d.problem(m)) ProgramFrontEnd::fail_at(*pr, {options}, v);
  return d;
}

Program parse_program(const std::string& text, const std::string& name,
                      const std::string& base_dir) {
  const YamlField root = YamlField::load_string(text, name);
  ProgramFrontEnd fe(root, base_dir, "nmrc-program/1", {"compile"});
  Program prog;
  prog.path = name;
  prog.name = fe.header().name;
  prog.molecule_path = fe.header().molecule_path;
  prog.molecule = fe.molecule();
  prog.sequence.name = prog.name;
  Parser p{fe, prog, root.find("compile")};
  CompileOptions defaults;
  if (p.root_compile) defaults = p.options(*p.root_compile, defaults);
  fe.add_element("gate", [&p, &defaults](const YamlField& f, Sequence& seq) {
    p.gate_element(f, seq, defaults);
  });
  fe.set_shape_reader(bruker_shape_pulse);
  fe.parse_elements(root.at("elements"), prog.sequence);
  if (prog.sequence.elements.empty()) root.at("elements").fail("must list at least one element");
  return prog;
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

namespace {

// The outcome of a compiled gate: installed in the program's sequence, validated (rank 0's
// work under a team, and not for a gate that was stopped), with its time-optimal bound.
GateOutcome finish_gate(Program& program, GateJob& job, CompileResult result, bool root) {
  GateOutcome o;
  o.job = &job;
  o.result = std::move(result);
  install_pulse(program, job, o.result.pulse);
  if (o.result.summary.termination != Termination::kInterrupted && root) {
    ValidationOptions vo;
    vo.probe_q = job.options.probe_q;  // as the pulse records it; a cached pulse too
    o.validation = validate_pulse(o.result.pulse, program.molecule, vo);
  }
  if (const auto bound = job.target.descriptor->bound_s)
    o.bound_s = bound(nlohmann::json::parse(job.target.description_json), program.molecule,
                      job.target.spins);
  return o;
}

// `mpirun -n N nmrc compile` of two or more gates (docs/mpi.md): the gates are independent
// problems, dealt to groups of ranks (share_items_in_groups: min(gates, N) groups, gate k of a
// wave on group k % groups, each gate's GRAPE shared by its group's ranks). Rank 0 alone reads
// the cache (every gate of a wave, before the wave; one broadcast tells the others), writes it,
// validates, and hands the outcomes to on_gate in the program's order. A gate whose warm-start
// family (hence also its cache key) is an earlier gate's waits for a later wave: one process
// compiles it after that gate's pulse is in the cache, which may be its hit or its warm start.
// Returns rank 0's outcomes (the other ranks': none).
std::vector<GateOutcome> compile_shared(Program& program, const std::vector<GateJob*>& jobs,
                                        const ProgramCompileOptions& options) {
  Team* team = options.team;
  const bool root = team_root(team);
  const int total = static_cast<int>(jobs.size());
  std::vector<std::string> family(total);
  if (!options.cache_dir.empty())
    for (int j = 0; j < total; ++j)
      family[j] = warm_start_family(program.molecule, jobs[j]->target, jobs[j]->options);
  std::vector<char> done(total, 0);
  std::vector<std::optional<CompileResult>> results(total);
  std::vector<GateOutcome> out;
  int emitted = 0;
  bool stopped = false;
  // Rank 0: the outcomes in the program's order, each as soon as it and every gate before it
  // are compiled (a failure later in a wave leaves the gates before it written, as alone).
  auto emit = [&] {
    for (; emitted < total && results[emitted] && !stopped; ++emitted) {
      out.push_back(finish_gate(program, *jobs[emitted], std::move(*results[emitted]), true));
      if (options.on_gate) options.on_gate(out.back(), emitted + 1, total);
      // As one process: a stopped gate is the last one.
      stopped = out.back().result.summary.termination == Termination::kInterrupted;
    }
  };
  while (std::find(done.begin(), done.end(), 0) != done.end()) {  // every rank alike
    std::vector<int> wave;  // the first gate not done of each family
    for (int j = 0; j < total; ++j) {
      bool waits = false;
      for (int i = 0; i < j && !waits; ++i)
        waits = !done[i] && !family[j].empty() && family[i] == family[j];
      if (!done[j] && !waits) wave.push_back(j);
    }
    std::vector<detail::CacheLookup> lookups(wave.size());
    nlohmann::json texts = nlohmann::json::array();
    if (root)
      for (size_t k = 0; k < wave.size(); ++k) {
        const GateJob& job = *jobs[wave[k]];
        lookups[k] = detail::look_up_cache(program.molecule, job.target, job.options, job.name,
                                           options.cache_dir);
        texts.push_back(detail::lookup_text(lookups[k]));
      }
    std::string text = root ? texts.dump() : std::string();
    team->broadcast(text);
    if (!root) {
      texts = nlohmann::json::parse(text);
      NMRC_CHECK(texts.size() == wave.size(), "rank 0's cache lookups of another wave");
      for (size_t k = 0; k < wave.size(); ++k) {
        const GateJob& job = *jobs[wave[k]];
        lookups[k] = detail::parse_lookup(texts[k].get<std::string>(), job.name,
                                          cache_key(program.molecule, job.target, job.options));
      }
    }
    std::vector<int> fresh;  // the wave's gates to compile
    for (size_t k = 0; k < wave.size(); ++k) {
      if (lookups[k].cached)
        results[wave[k]] = std::move(*lookups[k].cached);
      else
        fresh.push_back(static_cast<int>(k));
    }
    const int groups = static_cast<int>(std::min<size_t>(fresh.size(), team->size()));
    share_items_in_groups(
        team, fresh.size(), std::max(groups, 1),
        [&](size_t f, Team* group) {
          const int j = wave[fresh[f]];
          const GateJob& job = *jobs[j];
          ProgressCallback cb;
          if (options.progress)
            cb = [&options, &job, j, total](const GrapeProgress& g) {
              options.progress(job, j + 1, total, g);
            };
          CompileOptions o = job.options;
          o.team = group;
          return detail::result_text(detail::compile_fresh(program.molecule, job.target, o,
                                                           job.name, lookups[fresh[f]], cb));
        },
        [&](size_t f, const std::string& result) {  // rank 0
          const int j = wave[fresh[f]];
          CompileResult r = detail::parse_result(result);
          if (!options.cache_dir.empty() && r.summary.termination != Termination::kInterrupted)
            detail::write_cached(
                options.cache_dir, r,
                warm_start_family(program.molecule, jobs[j]->target, jobs[j]->options));
          results[j] = std::move(r);
          emit();
        });
    for (int j : wave) done[j] = 1;
    if (root) emit();
  }
  return out;
}

}  // namespace

std::vector<GateOutcome> compile_program(Program& program, const ProgramCompileOptions& options) {
  for (const auto& name : options.only)
    if (std::none_of(program.gates.begin(), program.gates.end(),
                     [&name](const GateJob& g) { return g.name == name; })) {
      std::string known;
      for (const auto& g : program.gates) known += (known.empty() ? "" : ", ") + g.name;
      throw InputError(program.path + ": only = " + name +
                       ": no gate of that name in the program (gates: " + known + ")");
    }
  if (options.threads < 0 || options.threads > 256)
    throw InputError("threads = " + std::to_string(options.threads) + ": must be 1 to 256");
  std::vector<GateJob*> jobs;
  for (auto& g : program.gates)
    if (options.only.empty() ||
        std::find(options.only.begin(), options.only.end(), g.name) != options.only.end()) {
      if (options.threads > 0) g.options.threads = options.threads;
      g.options.stop = options.stop;
      g.options.team = options.team;
      g.options.validate(program.molecule);
      jobs.push_back(&g);
    }
  if (options.before_work) options.before_work();
  // Before any GRAPE work: a cache that cannot be made, trusted or written is said now (a
  // warning: the run goes on without it), not after minutes of optimisation.
  const bool root = team_root(options.team);
  if (!options.cache_dir.empty() && root) cache_usable(options.cache_dir);
  if (team_shared(options.team) && jobs.size() >= 2) return compile_shared(program, jobs, options);
  std::vector<GateOutcome> out;
  const int total = static_cast<int>(jobs.size());
  for (int index = 1; index <= total; ++index) {
    if (options.stop && options.stop->load()) break;
    GateJob& job = *jobs[index - 1];
    ProgressCallback cb;
    if (options.progress)
      cb = [&options, &job, index, total](const GrapeProgress& g) {
        options.progress(job, index, total, g);
      };
    out.push_back(finish_gate(
        program, job,
        compile_target(program.molecule, job.target, job.options, job.name, options.cache_dir, cb),
        root));
    if (options.on_gate) options.on_gate(out.back(), index, total);
  }
  return out;
}

}  // namespace nmrc::compiler
