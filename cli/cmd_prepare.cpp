// nmrc prepare PROGRAM.yaml --out DIR: state preparation on the virtual spectrometer (the
// pseudo-pure state by spatial averaging, the bath particle, temporal averaging). The program
// format is documented in docs/preparation.md.
#ifdef NMRC_SPECTROMETER_AVAILABLE
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "matrix_plot.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/information.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/states.hpp"
#include "nmrc/core/yaml_input.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "nmrc/spectrometer/preparation.hpp"
#include "nmrc/spectrometer/sample.hpp"

namespace nmrc::cli {

namespace {

namespace sp = nmrc::spectrometer;

struct Program {
  Molecule molecule;
  std::string target;  // pps | bath | temporal_averaging
  std::vector<int> pps_spins;
  sp::PpsOptions pps;
  sp::Sample sample;
  bool bath = false;
  int bath_spin = -1;
  double bath_temperature = 0.0;
  std::vector<int> system_spins;
  Mat requested;  // system state for temporal averaging
};

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

void parse_system(const YamlField& sys, Program& p) {
  sys.expect_map();
  sys.allow_keys({"spins", "temperatures", "coherence", "coherences", "populations"});
  const Molecule& m = p.molecule;
  const YamlField spins_f = sys.at("spins");
  p.system_spins = spin_list(m, spins_f);
  const int ns = static_cast<int>(p.system_spins.size());
  if (p.bath)
    for (size_t i = 0; i < p.system_spins.size(); ++i)
      if (p.system_spins[i] == p.bath_spin)
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
      std::ostringstream os;
      os.precision(12);
      os << "weights sum to " << sum << ": must sum to 1";
      pops->fail(os.str());
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
  for (const auto& t : titems) temps.push_back(t.as_positive());

  std::vector<sp::PairCoherence> coh;
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
  p.requested = sp::coherent_thermal_state(temps, coh);
  try {
    sp::validate_state(p.requested, "state");
  } catch (const InputError& e) {
    (coh_field ? *coh_field : tf).fail(std::string(e.what()) + " (reduce |c|)");
  }
}

Program parse_program(const std::string& path) {
  const YamlField root = YamlField::load_file(path);
  root.expect_map();
  root.allow_keys({"molecule", "target", "spins", "compensate_polarization", "relaxation",
                   "gradient", "bath", "system"});
  Program p;
  const YamlField mf = root.at("molecule");
  std::filesystem::path mpath = mf.as_string();
  if (mpath.is_relative()) mpath = std::filesystem::path(path).parent_path() / mpath;
  if (!std::filesystem::is_regular_file(mpath))
    mf.fail("cannot read molecule file " + mpath.string());
  p.molecule = load_molecule(mpath.string());
  const Molecule& m = p.molecule;

  const YamlField tf = root.at("target");
  p.target = tf.as_string();
  if (p.target != "pps" && p.target != "bath" && p.target != "temporal_averaging")
    tf.fail("must be pps, bath or temporal_averaging");

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
    if (const auto mode = g->find("mode")) {
      const std::string s = mode->as_string();
      if (s == "exact")
        p.sample.gradient.mode = sp::GradientMode::kExact;
      else if (s == "slices")
        p.sample.gradient.mode = sp::GradientMode::kSlices;
      else
        mode->fail("must be exact or slices");
    }
    if (const auto d = g->find("duration_s")) p.pps.gradient.duration_s = d->as_positive();
    if (const auto l = g->find("length_cm")) p.pps.gradient.length_cm = l->as_positive();
    if (const auto s = g->find("slices")) {
      const long v = s->as_int();
      if (v < 1 || v > 1 << 16) s->fail("must be 1..65536");
      p.sample.gradient.slices = static_cast<int>(v);
    }
    if (const auto t = g->find("twists")) {
      t->expect_sequence();
      const auto items = t->items();
      if (items.size() != 4) t->fail("must give 4 values, one per PPS step");
      p.pps.twists.clear();
      for (const auto& i : items) p.pps.twists.push_back(i.as_positive());
    }
  }
  p.sample.gradient.length_cm = p.pps.gradient.length_cm;

  if (const auto b = root.find("bath")) {
    b->expect_map();
    b->allow_keys({"spin", "temperature"});
    p.bath = true;
    p.bath_spin = spin_of(m, b->at("spin"));
    p.bath_temperature = b->at("temperature").as_positive();
  } else if (p.target == "bath") {
    root.at("bath");  // throws "missing required key"
  }
  if (p.target == "temporal_averaging") {
    parse_system(root.at("system"), p);
  } else if (const auto s = root.find("system")) {
    s->fail("only used with target: temporal_averaging");
  }
  return p;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

struct Output {
  std::vector<std::pair<std::string, std::string>> files;  // name, content
  struct Picture {
    std::string name;
    Mat m;
    MatrixFigure fig;
  };
  std::vector<Picture> pictures;
  std::string report;
};

Output run_program(const Program& p) {
  const Molecule& m = p.molecule;
  const int n = m.size();
  std::vector<std::string> labels;
  for (const auto& nu : m.nuclei) labels.push_back(nu.label);
  p.sample.validate();
  Output out;
  nlohmann::ordered_json summary;
  summary["format"] = "nmrc-preparation/1";
  summary["molecule"] = m.name;
  summary["target"] = p.target;
  summary["relaxation"] = p.sample.relaxation;
  summary["gradient_mode"] =
      p.sample.gradient.mode == sp::GradientMode::kExact ? "exact" : "slices";
  if (p.sample.gradient.mode == sp::GradientMode::kSlices)
    summary["gradient_slices"] = p.sample.gradient.slices;

  // Spatial averaging, Eqs. (S13)-(S15).
  const auto steps = sp::pps_steps(m, p.pps_spins, p.pps);
  const sp::PpsResult pps = sp::run_pps(p.sample, p.pps_spins, steps);
  const double eps = pps.fit.epsilon;
  nlohmann::ordered_json pj;
  pj["spins"] = nlohmann::json::array();
  for (int k : p.pps_spins) pj["spins"].push_back(labels[k]);
  pj["compensate_polarization"] = p.pps.compensate_polarization;
  pj["thermal_epsilon"] = pps.thermal_epsilon;
  pj["epsilon"] = eps;
  pj["error"] = pps.fit.error;
  pj["error_definition"] = "||dev - eps (|0..0><0..0| - I/d)||_F / ||dev||_F";
  pj["eq_s15_deviation_step0"] = pps.step_deviation[0];
  nlohmann::ordered_json sj = nlohmann::ordered_json::array();
  for (size_t s = 0; s < steps.size(); ++s) {
    nlohmann::ordered_json e;
    e["name"] = steps[s].name;
    e["operations"] = steps[s].description;
    const auto& g = std::get<GradientElement>(steps[s].elements.back());
    e["gradient_g_per_cm"] = g.strength_g_per_cm;
    e["gradient_duration_s"] = g.duration_s;
    e["max_term_deviation_from_eq_s15"] = pps.step_deviation[s + 1];
    sj.push_back(e);
  }
  pj["steps"] = sj;
  summary["pps"] = pj;
  std::ostringstream rep;
  rep << "pseudo-pure state (spatial averaging, Eq. (S15)) on " << m.name << ":\n"
      << "  thermal epsilon (Eq. S14)  " << fmt("%.6e", pps.thermal_epsilon) << "\n"
      << "  PPS epsilon (Eq. S13)      " << fmt("%.6e", eps) << "\n"
      << "  error ||dev - eps(|0><0| - I/d)|| / ||dev|| = " << fmt("%.3e", pps.fit.error) << "\n";
  for (size_t s = 0; s < steps.size(); ++s)
    rep << "  step " << s + 1 << " (" << steps[s].name << "): max term deviation from Eq. (S15) "
        << fmt("%.2e", pps.step_deviation[s + 1]) << "\n";

  const auto blabels = basis_labels(n);
  Mat before = pps.rho_before, after = pps.rho_after;
  if (p.target == "pps") {
    const double th = pps.thermal_epsilon;
    out.pictures.push_back(
        {"density_before",
         sp::deviation(before) / th,
         {"thermal equilibrium: deviation / eps_{th} (Eq. S14)", blabels, "units of eps_{th}"}});
    out.pictures.push_back(
        {"density_after",
         sp::deviation(after) / th,
         {"pseudo-pure state: deviation / eps_{th} (Eq. S13)", blabels, "units of eps_{th}"}});
  }

  Mat start = pps.rho_after;  // physical state before the next preparation stage
  if (p.bath) {
    const Sequence bs = sp::bath_sequence(m, p.bath_spin, p.bath_temperature, p.pps.gradient);
    const Mat rb = sp::run_deviation(p.sample, bs, start);
    const Mat sigma = sp::pseudo_state(rb, eps);
    std::vector<Mat> factors;
    Mat zero = Mat::Zero(2, 2);
    zero(0, 0) = 1.0;
    for (int k = 0; k < n; ++k)
      factors.push_back(k == p.bath_spin ? thermal_qubit(p.bath_temperature) : zero);
    const Mat want = product_state(factors);
    const double p0_want = thermal_populations(p.bath_temperature).first;
    const double p0_got = partial_trace(sigma, {p.bath_spin}, n)(0, 0).real();
    nlohmann::ordered_json bj;
    bj["spin"] = labels[p.bath_spin];
    bj["temperature"] = p.bath_temperature;
    bj["rotation_rad"] = sp::bath_rotation_angle(p.bath_temperature);
    bj["gradient_duration_s"] = p.pps.gradient.duration_s;
    bj["p0_requested"] = p0_want;
    bj["p0_obtained"] = p0_got;
    bj["pseudo_state_error"] = (sigma - want).norm() / want.norm();
    summary["bath"] = bj;
    rep << "bath spin " << labels[p.bath_spin] << " at T_R = " << p.bath_temperature << ": R_y("
        << fmt("%.6f", sp::bath_rotation_angle(p.bath_temperature))
        << " rad) + gradient; P0 requested " << fmt("%.12f", p0_want) << ", obtained "
        << fmt("%.12f", p0_got) << "\n";
    if (p.target == "bath") {
      before = start;
      after = rb;
      out.pictures.push_back({"density_before",
                              sp::pseudo_state(start, eps),
                              {"pseudo-pure state (pseudo-state sigma, Eq. S13)", blabels, ""}});
      out.pictures.push_back({"density_after",
                              sigma,
                              {"after the bath preparation (pseudo-state sigma)", blabels, ""}});
      out.files.push_back(
          {"pseudo_before.json", sp::density_json(sp::pseudo_state(start, eps), labels)});
      out.files.push_back({"pseudo_after.json", sp::density_json(sigma, labels)});
    }
    start = rb;
  }

  if (p.target == "temporal_averaging") {
    const auto plan = sp::plan_temporal_averaging(p.requested, p.system_spins, n);
    std::vector<sp::WeightedOutcome> outcomes, physical;
    nlohmann::ordered_json ej = nlohmann::ordered_json::array();
    std::vector<std::string> sys_labels;
    for (int k : p.system_spins) sys_labels.push_back(labels[k]);
    const int ns = static_cast<int>(p.system_spins.size());
    for (const auto& e : plan.experiments) {
      const Mat r = sp::run_deviation(p.sample, sp::experiment_sequence(plan, e), start);
      physical.push_back({e.weight, r});
      outcomes.push_back({e.weight, sp::pseudo_state(r, eps)});
      nlohmann::ordered_json x;
      std::string bits;
      for (int k = 0; k < ns; ++k) bits += spin_bit(e.basis_state, k, ns) ? '1' : '0';
      x["state"] = bits;
      x["flip"] = nlohmann::json::array();
      for (int k : e.flip_spins) x["flip"].push_back(labels[k]);
      x["weight"] = e.weight;
      ej.push_back(x);
    }
    const Mat sigma = sp::temporal_average(outcomes);
    const Mat reduced = partial_trace(sigma, p.system_spins, n);
    after = sp::temporal_average(physical);
    before = start;
    const double err = (reduced - p.requested).cwiseAbs().maxCoeff();
    const double fid = uhlmann_fidelity(reduced, p.requested);
    nlohmann::ordered_json tj;
    tj["spins"] = sys_labels;
    tj["experiments"] = plan.experiments.size();
    tj["max_abs_error"] = err;
    tj["uhlmann_fidelity"] = fid;
    tj["u_d_distance_from_identity"] = (plan.u_d - Mat::Identity(1 << ns, 1 << ns)).norm();
    summary["temporal_averaging"] = tj;
    nlohmann::ordered_json ejson;
    ejson["format"] = "nmrc-experiments/1";
    ejson["spins"] = sys_labels;
    ejson["start"] = "pseudo-pure |0...0> from the PPS sequence; X gates on flip; then U_d";
    ejson["experiments"] = ej;
    out.files.push_back({"experiments.json", ejson.dump(1) + "\n"});
    out.files.push_back({"ud.json", sp::unitary_json(plan.u_d, sys_labels)});
    out.files.push_back({"rho_requested.json", sp::density_json(p.requested, sys_labels)});
    out.files.push_back({"rho_system.json", sp::density_json(reduced, sys_labels)});
    out.files.push_back(
        {"pseudo_before.json", sp::density_json(sp::pseudo_state(start, eps), labels)});
    out.files.push_back({"pseudo_after.json", sp::density_json(sigma, labels)});
    const auto slabels = basis_labels(ns);
    out.pictures.push_back({"density_before",
                            partial_trace(sp::pseudo_state(start, eps), p.system_spins, n),
                            {"system before temporal averaging (pseudo-state)", slabels, ""}});
    out.pictures.push_back({"density_after",
                            reduced,
                            {"system after temporal averaging (pseudo-state)", slabels, ""}});
    out.pictures.push_back(
        {"density_requested", p.requested, {"requested system state", slabels, ""}});
    rep << "temporal averaging: " << plan.experiments.size()
        << " experiments; max |rho_obtained - rho_requested| = " << fmt("%.3e", err)
        << ", Uhlmann fidelity " << fmt("%.15f", fid) << "\n";
  }
  out.files.push_back({"rho_before.json", sp::density_json(before, labels)});
  out.files.push_back({"rho_after.json", sp::density_json(after, labels)});
  out.files.push_back({"summary.json", summary.dump(1) + "\n"});
  out.report = rep.str();
  return out;
}

}  // namespace

void add_prepare_command(CLI::App& app, GlobalOptions& /*global*/, Action& run) {
  auto* cmd = app.add_subcommand(
      "prepare", "State preparation: pseudo-pure state, bath particle, temporal averaging");
  auto file = std::make_shared<std::string>();
  auto dir = std::make_shared<std::string>();
  cmd->add_option("PROGRAM", *file, "Preparation program (YAML, docs/preparation.md)")->required();
  cmd->add_option("--out", *dir, "Output directory")->required();
  cmd->callback([&run, file, dir] {
    run = [file, dir] {
      if (!std::filesystem::is_regular_file(*file)) throw InputError(*file + ": cannot read file");
      const Program p = parse_program(*file);  // every input check happens here
      const Output o = run_program(p);
      make_directories(*dir);
      for (const auto& [name, content] : o.files) write_file_atomic(*dir + "/" + name, content);
      for (const auto& pic : o.pictures) write_matrix_figure(pic.m, pic.fig, *dir + "/" + pic.name);
      std::fputs(o.report.c_str(), stdout);
      return 0;
    };
  });
}

}  // namespace nmrc::cli
#endif  // NMRC_SPECTROMETER_AVAILABLE
