// nmrc prepare PROGRAM.yaml --out DIR: state preparation on the virtual spectrometer (the
// pseudo-pure state by spatial averaging, the bath particle, temporal averaging). The program
// format is documented in docs/preparation.md.
#ifdef NMRC_SPECTROMETER_AVAILABLE
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "matrix_plot.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "nmrc/spectrometer/preparation_run.hpp"

namespace nmrc::cli {

namespace {

namespace sp = nmrc::spectrometer;

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

Output write_up(const sp::PreparationProgram& p, const sp::PreparationResult& r) {
  const Molecule& m = p.molecule;
  const int n = m.size();
  std::vector<std::string> labels;
  for (const auto& nu : m.nuclei) labels.push_back(nu.label);
  Output out;
  nlohmann::ordered_json summary;
  summary["format"] = "nmrc-preparation/1";
  summary["molecule"] = m.name;
  summary["target"] = sp::target_name(p.target);
  summary["relaxation"] = p.sample.relaxation;
  summary["gradient_mode"] =
      p.sample.gradient.mode == sp::GradientMode::kExact ? "exact" : "slices";
  if (p.sample.gradient.mode == sp::GradientMode::kSlices)
    summary["gradient_slices"] = p.sample.gradient.slices;

  // Spatial averaging, Eqs. (S13)-(S15).
  const auto& steps = r.pps_steps;
  const sp::PpsResult& pps = r.pps;
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
      << "  thermal epsilon (Eq. S14)  " << fmt::format("{:.6e}", pps.thermal_epsilon) << "\n"
      << "  PPS epsilon (Eq. S13)      " << fmt::format("{:.6e}", eps) << "\n"
      << "  error ||dev - eps(|0><0| - I/d)|| / ||dev|| = " << fmt::format("{:.3e}", pps.fit.error)
      << "\n";
  for (size_t s = 0; s < steps.size(); ++s)
    rep << "  step " << s + 1 << " (" << steps[s].name << "): max term deviation from Eq. (S15) "
        << fmt::format("{:.2e}", pps.step_deviation[s + 1]) << "\n";

  const auto blabels = basis_labels(n);
  if (p.target == sp::PreparationTarget::kPps) {
    const double th = pps.thermal_epsilon;
    out.pictures.push_back(
        {"density_before",
         sp::deviation(r.before) / th,
         {"thermal equilibrium: deviation / eps_{th} (Eq. S14)", blabels, "units of eps_{th}"}});
    out.pictures.push_back(
        {"density_after",
         sp::deviation(r.after) / th,
         {"pseudo-pure state: deviation / eps_{th} (Eq. S13)", blabels, "units of eps_{th}"}});
  }

  if (r.bath) {
    const auto& b = *r.bath;
    const int spin = p.bath->spin;
    const double t_r = p.bath->temperature;
    nlohmann::ordered_json bj;
    bj["spin"] = labels[spin];
    bj["temperature"] = t_r;
    bj["rotation_rad"] = b.rotation_rad;
    bj["gradient_duration_s"] = p.pps.gradient.duration_s;
    bj["p0_requested"] = b.p0_requested;
    bj["p0_obtained"] = b.p0_obtained;
    bj["pseudo_state_error"] = b.pseudo_state_error;
    summary["bath"] = bj;
    rep << "bath spin " << labels[spin] << " at T_R = " << t_r << ": R_y("
        << fmt::format("{:.6f}", b.rotation_rad) << " rad) + gradient; P0 requested "
        << fmt::format("{:.12f}", b.p0_requested) << ", obtained "
        << fmt::format("{:.12f}", b.p0_obtained) << "\n";
    if (p.target == sp::PreparationTarget::kBath) {
      out.pictures.push_back({"density_before",
                              sp::pseudo_state(b.start, eps),
                              {"pseudo-pure state (pseudo-state sigma, Eq. S13)", blabels, ""}});
      out.pictures.push_back({"density_after",
                              b.sigma,
                              {"after the bath preparation (pseudo-state sigma)", blabels, ""}});
      out.files.push_back(
          {"pseudo_before.json", density_json(sp::pseudo_state(b.start, eps), labels)});
      out.files.push_back({"pseudo_after.json", density_json(b.sigma, labels)});
    }
  }

  if (r.temporal) {
    const auto& ta = *r.temporal;
    const auto& plan = ta.plan;
    nlohmann::ordered_json ej = nlohmann::ordered_json::array();
    std::vector<std::string> sys_labels;
    for (int k : p.system_spins) sys_labels.push_back(labels[k]);
    const int ns = static_cast<int>(p.system_spins.size());
    for (const auto& e : plan.experiments) {
      nlohmann::ordered_json x;
      std::string bits;
      for (int k = 0; k < ns; ++k) bits += spin_bit(e.basis_state, k, ns) ? '1' : '0';
      x["state"] = bits;
      x["flip"] = nlohmann::json::array();
      for (int k : e.flip_spins) x["flip"].push_back(labels[k]);
      x["weight"] = e.weight;
      ej.push_back(x);
    }
    nlohmann::ordered_json tj;
    tj["spins"] = sys_labels;
    tj["experiments"] = plan.experiments.size();
    tj["max_abs_error"] = ta.max_abs_error;
    tj["uhlmann_fidelity"] = ta.uhlmann_fidelity;
    tj["u_d_distance_from_identity"] = ta.u_d_distance_from_identity;
    summary["temporal_averaging"] = tj;
    nlohmann::ordered_json ejson;
    ejson["format"] = "nmrc-experiments/1";
    ejson["spins"] = sys_labels;
    ejson["start"] = "pseudo-pure |0...0> from the PPS sequence; X gates on flip; then U_d";
    ejson["experiments"] = ej;
    out.files.push_back({"experiments.json", ejson.dump(1) + "\n"});
    out.files.push_back({"ud.json", unitary_json(plan.u_d, sys_labels)});
    out.files.push_back({"rho_requested.json", density_json(p.requested, sys_labels)});
    out.files.push_back({"rho_system.json", density_json(ta.reduced, sys_labels)});
    out.files.push_back(
        {"pseudo_before.json", density_json(sp::pseudo_state(ta.start, eps), labels)});
    out.files.push_back({"pseudo_after.json", density_json(ta.sigma, labels)});
    const auto slabels = basis_labels(ns);
    out.pictures.push_back({"density_before",
                            partial_trace(sp::pseudo_state(ta.start, eps), p.system_spins, n),
                            {"system before temporal averaging (pseudo-state)", slabels, ""}});
    out.pictures.push_back({"density_after",
                            ta.reduced,
                            {"system after temporal averaging (pseudo-state)", slabels, ""}});
    out.pictures.push_back(
        {"density_requested", p.requested, {"requested system state", slabels, ""}});
    rep << "temporal averaging: " << plan.experiments.size()
        << " experiments; max |rho_obtained - rho_requested| = "
        << fmt::format("{:.3e}", ta.max_abs_error) << ", Uhlmann fidelity "
        << fmt::format("{:.15f}", ta.uhlmann_fidelity) << "\n";
  }
  out.files.push_back({"rho_before.json", density_json(r.before, labels)});
  out.files.push_back({"rho_after.json", density_json(r.after, labels)});
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
      const auto p = sp::load_preparation_program(*file);  // every input check happens here
      const Output o = write_up(p, sp::run_preparation(p));
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
