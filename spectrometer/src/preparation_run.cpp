// Preparation programs: the loader (docs/preparation.md) and the runner behind nmrc prepare.
#include "nmrc/spectrometer/preparation_run.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "nmrc/core/error.hpp"
#include "nmrc/core/information.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/limits.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/program_header.hpp"
#include "nmrc/core/states.hpp"
#include "nmrc/core/yaml_choice.hpp"
#include "nmrc/core/yaml_input.hpp"
#include "nmrc/spectrometer/gradient_input.hpp"

namespace nmrc::spectrometer {

namespace {

int spin_of(const Molecule& m, const YamlField& f) {
  const std::string label = f.as_string();
  const int k = m.index_of(label);
  if (k < 0) f.fail("unknown spin " + label + " (known: " + m.labels_text() + ")");
  return k;
}

std::vector<int> spin_list(const Molecule& m, const YamlField& f) {
  f.expect_sequence();
  std::vector<int> out;
  for (const auto& item : f.items()) {
    const int k = spin_of(m, item);
    for (int j : out)
      if (j == k) item.fail("spin listed twice");
    out.push_back(k);
  }
  if (out.empty()) f.fail("must name at least one spin");
  return out;
}

// c_pq: a number (real) or {lambda, alpha}: lambda exp(i alpha), Eq. (1).
cplx coherence_value(const YamlField& f) {
  if (f.is_map()) {
    f.allow_keys({"lambda", "alpha"});
    const double lambda = f.at("lambda").as_nonnegative();
    const double alpha = f.at("alpha").as_double();
    return std::polar(lambda, alpha);
  }
  return f.as_double();
}

void parse_system(const YamlField& sys, PreparationProgram& p) {
  sys.expect_map();
  sys.allow_keys({"spins", "temperatures", "coherence", "coherences", "populations"});
  const Molecule& m = p.molecule;
  const YamlField spins_f = sys.at("spins");
  p.system_spins = spin_list(m, spins_f);
  const int ns = static_cast<int>(p.system_spins.size());
  if (p.bath)
    for (size_t i = 0; i < p.system_spins.size(); ++i)
      if (p.system_spins[i] == p.bath->spin)
        spins_f.items()[i].fail("is the bath spin: system and bath must be different spins");
  if (ns > 6) spins_f.fail("at most 6 system spins");

  if (const auto pops = sys.find("populations")) {
    for (const char* k : {"temperatures", "coherence", "coherences"})
      if (sys.has(k)) sys.at(k).fail("give either populations or temperatures/coherences");
    pops->expect_sequence();
    RVec w = RVec::Zero(1 << ns);
    std::vector<bool> seen(1 << ns, false);
    double sum = 0.0;
    for (const auto& item : pops->items()) {
      item.expect_map();
      item.allow_keys({"state", "weight"});
      const YamlField sf = item.at("state");
      const std::string s = sf.as_string();
      if (static_cast<int>(s.size()) != ns || s.find_first_not_of("01") != std::string::npos)
        sf.fail("must be " + std::to_string(ns) + " characters 0/1, one per system spin");
      int idx = 0;
      for (char c : s) idx = 2 * idx + (c - '0');
      if (seen[idx]) sf.fail("state listed twice");
      seen[idx] = true;
      const YamlField wf = item.at("weight");
      const double v = wf.as_double();
      if (!(v >= 0.0)) wf.fail("must be >= 0 (a temporal-averaging weight is a probability)");
      w(idx) = v;
      sum += v;
    }
    if (!(std::abs(sum - 1.0) <= 1e-9)) {
      pops->fail(fmt::format("weights sum to {:.12g}: must sum to 1", sum));
    }
    p.requested = w.cast<cplx>().asDiagonal();
    return;
  }

  const YamlField tf = sys.at("temperatures");
  tf.expect_sequence();
  const auto titems = tf.items();
  if (static_cast<int>(titems.size()) != ns)
    tf.fail("must give one temperature per system spin (" + std::to_string(ns) + ")");
  std::vector<double> temps;
  for (const auto& t : titems) temps.push_back(t.as_positive(limits::kMaxModelParameter));

  std::vector<PairCoherence> coh;
  std::optional<YamlField> coh_field;
  if (const auto c = sys.find("coherence")) {
    if (sys.has("coherences")) sys.at("coherences").fail("give either coherence or coherences");
    const cplx v = coherence_value(*c);
    for (int a = 0; a < ns; ++a)
      for (int b = a + 1; b < ns; ++b) coh.push_back({a, b, v});
    coh_field = *c;
  } else if (const auto cs = sys.find("coherences")) {
    cs->expect_sequence();
    for (const auto& item : cs->items()) {
      item.expect_map();
      item.allow_keys({"spins", "c"});
      const YamlField pf = item.at("spins");
      const auto pair = spin_list(m, pf);
      if (pair.size() != 2) pf.fail("must name two spins");
      int a = -1, b = -1;
      for (int i = 0; i < ns; ++i) {
        if (p.system_spins[i] == pair[0]) a = i;
        if (p.system_spins[i] == pair[1]) b = i;
      }
      if (a < 0 || b < 0) pf.fail("both spins must be system spins");
      if (a > b) pf.fail("list the pair in system order (p before q, Eq. (1)'s p < q)");
      coh.push_back({a, b, coherence_value(item.at("c"))});
    }
    coh_field = *cs;
  }
  p.requested = coherent_thermal_state(temps, coh);
  try {
    validate_state(p.requested, "state");
  } catch (const InputError& e) {
    (coh_field ? *coh_field : tf).fail(std::string(e.what()) + " (reduce |c|)");
  }
}

}  // namespace

const char* target_name(PreparationTarget target) {
  switch (target) {
    case PreparationTarget::kPps:
      return "pps";
    case PreparationTarget::kBath:
      return "bath";
    case PreparationTarget::kTemporalAveraging:
      return "temporal_averaging";
  }
  return "?";
}

namespace {
// A program from its YAML root: `source` names it, relative paths resolve against base_dir.
PreparationProgram parse_preparation(const YamlField& root, const std::string& source,
                                     const std::string& base_dir);
}  // namespace

PreparationProgram load_preparation_program(const std::string& path) {
  return parse_preparation(YamlField::load_file(path), path,
                           std::filesystem::path(path).parent_path().string());
}

PreparationProgram parse_preparation_program(const std::string& text, const std::string& name,
                                             const std::string& base_dir) {
  return parse_preparation(YamlField::load_string(text, name), name, base_dir);
}

namespace {
PreparationProgram parse_preparation(const YamlField& root, const std::string& source,
                                     const std::string& base_dir) {
  // The header: a molecule only (no format, name or description).
  ProgramHeader header = read_program_header(
      root, base_dir, {.format = {}, .name = HeaderRules::Name::kNone, .description = false},
      {"target", "spins", "compensate_polarization", "relaxation", "gradient", "bath", "system"});
  PreparationProgram p;
  p.source_file = source;
  const YamlField mf = root.at("molecule");
  p.molecule = std::move(header.molecule);
  const Molecule& m = p.molecule;

  const YamlField tf = root.at("target");
  p.target = yaml_choice<PreparationTarget>(
      tf, {{"pps", PreparationTarget::kPps},
           {"bath", PreparationTarget::kBath},
           {"temporal_averaging", PreparationTarget::kTemporalAveraging}});

  if (const auto sf = root.find("spins")) {
    p.pps_spins = spin_list(m, *sf);
    if (p.pps_spins.size() != 4) sf->fail("the PPS sequence (Eq. (S15)) needs 4 spins");
  } else {
    if (m.size() != 4)
      mf.fail("has " + std::to_string(m.size()) + " spins: name the 4 PPS spins under spins:");
    p.pps_spins = {0, 1, 2, 3};
  }
  if (const auto c = root.find("compensate_polarization"))
    p.pps.compensate_polarization = c->as_bool();

  p.sample.molecule = m;
  if (const auto r = root.find("relaxation")) p.sample.relaxation = r->as_bool();
  if (const auto g = root.find("gradient")) {
    g->expect_map();
    g->allow_keys({"mode", "duration_s", "length_cm", "slices", "twists"});
    read_gradient_options(*g, p.sample.gradient);
    if (const auto d = g->find("duration_s"))
      p.pps.gradient.duration_s = d->as_positive(limits::kMaxDurationS);
    if (const auto t = g->find("twists")) {
      t->expect_sequence();
      const auto items = t->items();
      if (items.size() != 4) t->fail("must give 4 values, one per PPS step");
      p.pps.twists.clear();
      for (const auto& i : items) p.pps.twists.push_back(i.as_positive());
    }
  }
  p.pps.gradient.length_cm = p.sample.gradient.length_cm;  // the PPS gradients act on this sample

  if (const auto b = root.find("bath")) {
    b->expect_map();
    b->allow_keys({"spin", "temperature"});
    PreparationProgram::Bath bath;
    bath.spin = spin_of(m, b->at("spin"));
    bath.temperature = b->at("temperature").as_positive(limits::kMaxModelParameter);
    p.bath = bath;
  } else if (p.target == PreparationTarget::kBath) {
    root.at("bath");  // throws "missing required key"
  }
  if (p.target == PreparationTarget::kTemporalAveraging) {
    parse_system(root.at("system"), p);
  } else if (const auto s = root.find("system")) {
    s->fail("only used with target: temporal_averaging");
  }
  return p;
}
}  // namespace

PreparationResult run_preparation(const PreparationProgram& p,
                                  const PreparationProgress& progress) {
  const Molecule& m = p.molecule;
  const int n = m.size();
  p.sample.validate();
  const int stages =
      1 + (p.bath ? 1 : 0) + (p.target == PreparationTarget::kTemporalAveraging ? 1 : 0);
  int stage = 0;
  auto report = [&](const std::string& what) {
    if (progress) progress(++stage, stages, what);
  };
  PreparationResult out;

  // Spatial averaging, Eqs. (S13)-(S15).
  out.pps_steps = pps_steps(m, p.pps_spins, p.pps);
  out.pps = run_pps(p.sample, p.pps_spins, out.pps_steps);
  const double eps = out.pps.fit.epsilon;
  out.before = out.pps.rho_before;
  out.after = out.pps.rho_after;
  report("pseudo-pure state");

  Mat start = out.pps.rho_after;  // physical state before the next preparation stage
  if (p.bath) {
    const int spin = p.bath->spin;
    const double t_r = p.bath->temperature;
    PreparationResult::Bath b;
    const Sequence bs = bath_sequence(m, spin, t_r, p.pps.gradient);
    b.start = start;
    b.after = run_deviation(p.sample, bs, start);
    b.sigma = pseudo_state(b.after, eps);
    std::vector<Mat> factors;
    Mat zero = Mat::Zero(2, 2);
    zero(0, 0) = 1.0;
    for (int k = 0; k < n; ++k) factors.push_back(k == spin ? thermal_qubit(t_r) : zero);
    const Mat want = product_state(factors);
    b.rotation_rad = bath_rotation_angle(t_r);
    b.p0_requested = thermal_populations(t_r).first;
    b.p0_obtained = partial_trace(b.sigma, {spin}, n)(0, 0).real();
    b.pseudo_state_error = (b.sigma - want).norm() / want.norm();
    if (p.target == PreparationTarget::kBath) {
      out.before = b.start;
      out.after = b.after;
    }
    start = b.after;
    out.bath = std::move(b);
    report("bath particle");
  }

  if (p.target == PreparationTarget::kTemporalAveraging) {
    PreparationResult::TemporalAveraging ta;
    ta.plan = plan_temporal_averaging(p.requested, p.system_spins, n);
    ta.start = start;
    std::vector<WeightedOutcome> outcomes, physical;
    int done = 0;
    const int total = static_cast<int>(ta.plan.experiments.size());
    for (const auto& e : ta.plan.experiments) {
      const Mat r = run_deviation(p.sample, experiment_sequence(ta.plan, e), start);
      physical.push_back({e.weight, r});
      outcomes.push_back({e.weight, pseudo_state(r, eps)});
      if (progress) progress(++done, total, "temporal averaging experiment");
    }
    ta.sigma = temporal_average(outcomes);
    ta.reduced = partial_trace(ta.sigma, p.system_spins, n);
    ta.after = temporal_average(physical);
    ta.max_abs_error = (ta.reduced - p.requested).cwiseAbs().maxCoeff();
    ta.uhlmann_fidelity = uhlmann_fidelity(ta.reduced, p.requested);
    const int ns = static_cast<int>(p.system_spins.size());
    ta.u_d_distance_from_identity = (ta.plan.u_d - Mat::Identity(1 << ns, 1 << ns)).norm();
    out.before = start;
    out.after = ta.after;
    out.temporal = std::move(ta);
    report("temporal averaging");
  }
  return out;
}

}  // namespace nmrc::spectrometer
