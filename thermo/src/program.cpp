#include "nmrc/thermo/program.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "nmrc/core/error.hpp"
#include "nmrc/core/limits.hpp"
#include "nmrc/core/program_header.hpp"
#include "nmrc/core/yaml_choice.hpp"
#include "nmrc/core/yaml_input.hpp"

namespace nmrc::thermo {

namespace {

const std::vector<std::string> kRunKeys = {
    "name",        "title",      "subsystems",  "bath_temperature",
    "g",           "tau",        "collisions",  "interaction",
    "order",       "coherences", "information", "master_equation",
    "convergence", "sweep",      "engine"};

// A run's field, from the run itself or else from the program's `defaults`.
struct RunFields {
  YamlField run;
  std::optional<YamlField> defaults;
  std::optional<YamlField> find(const std::string& key) const {
    if (auto f = run.find(key)) return f;
    if (defaults) return defaults->find(key);
    return std::nullopt;
  }
  YamlField at(const std::string& key) const {
    if (auto f = find(key)) return *f;
    return run.at(key);  // throws "missing required key" at the run
  }
};

int subsystem_index(const YamlField& f, const std::vector<std::string>& names) {
  const std::string s = f.as_string();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == s) return static_cast<int>(i);
  std::string known;
  for (const auto& nm : names) known += (known.empty() ? "" : ", ") + nm;
  f.fail("unknown subsystem " + s + " (known: " + known + ")");
}

cplx coherence_value(const YamlField& e) {
  const bool has_c = e.has("c"), has_l = e.has("lambda") || e.has("alpha");
  if (has_c == has_l) e.fail("give either c or lambda and alpha");
  if (has_c) {
    const YamlField c = e.at("c");
    if (c.is_sequence()) {
      const auto v = c.as_double_list();
      if (v.size() != 2) c.fail("must be a number or [re, im]");
      return {v[0], v[1]};
    }
    return c.as_double();
  }
  const double lambda = e.at("lambda").as_nonnegative();
  const double alpha = e.at("alpha").as_double();
  return std::polar(lambda, alpha);  // c_pq = lambda e^{i alpha}, Eq. (1)
}

std::string pair_name(const std::vector<std::string>& names, int p, int q) {
  return names[p] + "-" + names[q];
}

RunSpec parse_run(const RunFields& rf, std::set<std::string>& run_names) {
  rf.run.expect_map();
  rf.run.allow_keys(kRunKeys);
  if (rf.defaults) rf.defaults->allow_keys(kRunKeys);
  RunSpec spec;
  const YamlField name = rf.run.at("name");
  spec.name = name.as_name();  // it names a directory
  if (!run_names.insert(spec.name).second) name.fail("duplicate run name");
  spec.title = rf.find("title") ? rf.find("title")->as_string() : spec.name;
  ModelParams& p = spec.params;

  const YamlField subs = rf.at("subsystems");
  subs.expect_sequence();
  for (const auto& s : subs.items()) {
    s.expect_map();
    s.allow_keys({"name", "temperature"});
    const YamlField nm = s.at("name");
    const std::string n = nm.as_name();
    if (n == "all") nm.fail("must be a non-empty name other than 'all'");
    for (const auto& prev : p.names)
      if (prev == n) nm.fail("duplicate subsystem name");
    p.names.push_back(n);
    p.temperatures.push_back(s.at("temperature").as_positive(limits::kMaxModelParameter));
  }
  if (p.names.empty()) subs.fail("at least one subsystem is needed");

  const std::optional<YamlField> inter = rf.find("interaction");
  if (inter)
    p.interaction = yaml_choice<Interaction>(
        *inter, {{"cascade", Interaction::kCascade}, {"simultaneous", Interaction::kSimultaneous}});
  const int n = p.n();
  const int nmax =
      p.interaction == Interaction::kCascade ? kMaxCascadeSubsystems : kMaxSimultaneousSubsystems;
  if (n > nmax) subs.fail("at most " + std::to_string(nmax) + " subsystems for this interaction");

  p.bath_temperature = rf.at("bath_temperature").as_positive(limits::kMaxModelParameter);
  p.g = rf.at("g").as_positive(limits::kMaxModelParameter);
  p.tau = rf.at("tau").as_positive(limits::kMaxModelParameter);
  const YamlField col = rf.at("collisions");
  const long c = col.as_int();
  if (c < 1 || c > 1000000) col.fail("must be an integer in [1, 1000000]");
  p.collisions = static_cast<int>(c);

  if (auto ord = rf.find("order")) {
    ord->expect_sequence();
    std::vector<int> seen(n, 0);
    for (const auto& it : ord->items()) {
      const int k = subsystem_index(it, p.names);
      if (seen[k]++) it.fail("appears twice; order must name every subsystem exactly once");
      p.order.push_back(k);
    }
    for (int k = 0; k < n; ++k)
      if (!seen[k])
        ord->fail("missing " + p.names[k] + "; order must name every subsystem exactly once");
  } else {
    for (int k = 0; k < n; ++k) p.order.push_back(k);
  }

  std::optional<YamlField> coh = rf.find("coherences");
  if (coh) {
    coh->expect_sequence();
    std::map<std::pair<int, int>, std::string> given;
    for (const auto& e : coh->items()) {
      e.expect_map();
      e.allow_keys({"pair", "c", "lambda", "alpha"});
      const YamlField pair = e.at("pair");
      std::vector<std::pair<int, int>> pairs;
      if (pair.is_scalar()) {
        if (pair.as_string() != "all") pair.fail("must be [A, B] or all");
        for (int a = 0; a < n; ++a)
          for (int b = a + 1; b < n; ++b) pairs.emplace_back(a, b);
        if (pairs.empty()) pair.fail("'all' needs at least two subsystems");
      } else {
        const auto items = pair.expect_sequence().items();
        if (items.size() != 2) pair.fail("must name exactly two subsystems");
        const int a = subsystem_index(items[0], p.names);
        const int b = subsystem_index(items[1], p.names);
        if (a == b) pair.fail("a coherence pair needs two different subsystems");
        pairs.emplace_back(a, b);
      }
      const cplx v = coherence_value(e);
      for (auto [a, b] : pairs) {
        const auto key = std::minmax(a, b);
        if (given.count(key))
          pair.fail("pair " + pair_name(p.names, key.first, key.second) + " given twice");
        given[key] = "";
        p.coherences.push_back({a, b, v});
      }
    }
  }

  if (auto f = rf.find("information")) p.information = f->as_bool();
  if (auto f = rf.find("engine"))
    p.engine = yaml_choice<Engine>(*f, {{"sectors", Engine::kSectors}, {"local", Engine::kLocal}});
  if (auto f = rf.find("master_equation")) {
    spec.master_equation = f->as_bool();
    if (spec.master_equation && n > kMaxMasterEquationSubsystems)
      f->fail("the master equation is limited to " + std::to_string(kMaxMasterEquationSubsystems) +
              " subsystems");
  }
  if (auto f = rf.find("convergence")) {
    f->expect_map();
    f->allow_keys({"halvings"});
    const YamlField h = f->at("halvings");
    const long v = h.as_int();
    if (v < 1 || v > 8) h.fail("must be an integer in [1, 8]");
    if (n > kMaxMasterEquationSubsystems)
      f->fail("the master equation is limited to " + std::to_string(kMaxMasterEquationSubsystems) +
              " subsystems");
    spec.convergence_halvings = static_cast<int>(v);
  }

  // Positivity of Eq. (1)'s state, with the largest physical lambda when it fails.
  auto require_physical = [&](const std::vector<Coherence>& cs, const YamlField& where,
                              const std::string& what) {
    const PositivityReport r = check_positivity(p.temperatures, cs);
    if (!r.ok)
      where.fail(what + "the initial state is not a density matrix (smallest eigenvalue " +
                 fmt::format("{:.3g}", r.min_eigenvalue) +
                 "); the largest physical lambda for these phases is " +
                 fmt::format("{:.6g}", r.max_lambda) + " (all c_pq scaled by " +
                 fmt::format("{:.6g}", r.max_scale) + ")");
  };
  if (coh) require_physical(p.coherences, *coh, "");

  if (auto sw = rf.find("sweep")) {
    sw->expect_map();
    sw->allow_keys({"pair", "from", "to", "count"});
    const auto items = sw->at("pair").expect_sequence().items();
    if (items.size() != 2) sw->at("pair").fail("must name exactly two subsystems");
    SweepSpec s;
    s.p = subsystem_index(items[0], p.names);
    s.q = subsystem_index(items[1], p.names);
    if (s.p == s.q) sw->at("pair").fail("a coherence pair needs two different subsystems");
    const double from = sw->at("from").as_double(), to = sw->at("to").as_double();
    const YamlField cnt = sw->at("count");
    const long count = cnt.as_int();
    if (count < 2 || count > 10001) cnt.fail("must be an integer in [2, 10001]");
    for (long i = 0; i < count; ++i)
      s.values.push_back(from + (to - from) * static_cast<double>(i) / (count - 1));
    for (double v : s.values) {
      std::vector<Coherence> cs;
      for (const auto& c0 : p.coherences)
        if (std::minmax(c0.p, c0.q) != std::minmax(s.p, s.q)) cs.push_back(c0);
      cs.push_back({s.p, s.q, v});
      require_physical(cs, *sw, "at c = " + fmt::format("{:.6g}", v) + " ");
    }
    spec.sweep = s;
  }
  p.validate();
  return spec;
}

TheoryProgram parse(const YamlField& root) {
  // The header: format (required), name (required) and description; no molecule.
  const ProgramHeader header = read_program_header(root, "",
                                                   {.format = "nmrc-theory/1",
                                                    .format_required = true,
                                                    .name = HeaderRules::Name::kRequired,
                                                    .molecule = false},
                                                   {"defaults", "runs"});
  TheoryProgram prog;
  prog.name = header.name;
  prog.description = header.description;
  std::optional<YamlField> defaults = root.find("defaults");
  if (defaults) defaults->expect_map();
  const YamlField runs = root.at("runs");
  runs.expect_sequence();
  if (runs.items().empty()) runs.fail("at least one run is needed");
  std::set<std::string> names;
  for (const auto& r : runs.items()) prog.runs.push_back(parse_run({r, defaults}, names));
  return prog;
}

}  // namespace

TheoryProgram load_theory_program(const std::string& path) {
  TheoryProgram p = parse(YamlField::load_file(path));
  p.source = path;
  return p;
}

TheoryProgram parse_theory_program(const std::string& text, const std::string& file_name) {
  TheoryProgram p = parse(YamlField::load_string(text, file_name));
  p.source = file_name;
  return p;
}

}  // namespace nmrc::thermo
