// nmrc tomography: reconstruct density matrices on the virtual spectrometer, and check what a
// readout set can see (rank, condition number, invisible parameters, fewest completing settings).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "matrix_plot.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/text.hpp"
#include "nmrc/spectrometer/bruker_dataset.hpp"
#include "nmrc/spectrometer/preparation.hpp"
#include "nmrc/spectrometer/readout.hpp"
#include "nmrc/spectrometer/tomography_run.hpp"
#include "plot.hpp"
#include "terminal.hpp"

namespace nmrc::cli {

namespace {

using nlohmann::json;
namespace sp = nmrc::spectrometer;

// The density-matrix file of nmrc prepare (nmrc-density/1), with a note on the estimate.
nlohmann::ordered_json density_with_note(const Mat& m, const std::vector<std::string>& spins,
                                         const std::string& estimate = "") {
  auto j = nlohmann::ordered_json::parse(density_json(m, spins));
  if (!estimate.empty()) j["estimate"] = estimate;
  return j;
}

std::vector<std::vector<double>> part(const Mat& m, bool real) {
  std::vector<std::vector<double>> v(m.rows(), std::vector<double>(m.cols()));
  for (Eigen::Index r = 0; r < m.rows(); ++r)
    for (Eigen::Index c = 0; c < m.cols(); ++c) v[r][c] = real ? m(r, c).real() : m(r, c).imag();
  return v;
}

void draw_matrices(const std::string& title, const Mat& truth, const Mat& rec, int n,
                   const std::string& base) {
  const auto labels = basis_labels(n);
  write_matrix_bars(title,
                    {{"true, real part", part(truth, true), labels},
                     {"true, imaginary part", part(truth, false), labels},
                     {"reconstructed, real part", part(rec, true), labels},
                     {"reconstructed, imaginary part", part(rec, false), labels}},
                    2, base);
}

std::string lines_csv(const std::vector<sp::SettingOutcome>& outcomes,
                      const std::vector<std::string>& spins) {
  std::ostringstream lines;
  lines << "setting,spin,other_bits,sx,sy\n";
  const auto obs = sp::line_observables(static_cast<int>(spins.size()));
  for (const auto& o : outcomes)
    for (size_t i = 0; i < obs.size(); ++i) {
      std::string bits;
      for (int b : obs[i].other_bits) bits += b < 0 ? 'x' : static_cast<char>('0' + b);
      lines << csv_field(o.setting.name) << "," << csv_field(spins[obs[i].spin]) << "," << bits
            << "," << o.values(2 * i) << "," << o.values(2 * i + 1) << "\n";
    }
  return lines.str();
}

// rho_reconstructed.json, rho_linear.json and, when the molecule names a bath spin (role R),
// rho_system.json with it traced out.
void write_states(const std::string& out, const sp::Reconstruction& rec, const Molecule& m) {
  const int n = m.size();
  std::vector<std::string> spins;
  for (const auto& nu : m.nuclei) spins.push_back(nu.label);
  write_file_atomic(
      out + "/rho_reconstructed.json",
      density_with_note(rec.physical, spins, "nearest density matrix to the least-squares estimate")
              .dump(1) +
          "\n");
  write_file_atomic(
      out + "/rho_linear.json",
      density_with_note(rec.linear, spins, "least-squares (linear inversion), may be non-positive")
              .dump(1) +
          "\n");
  const int bath = m.index_of("R");
  if (bath >= 0 && n > 1) {
    std::vector<int> keep;
    std::vector<std::string> sys;
    for (int k = 0; k < n; ++k)
      if (k != bath) {
        keep.push_back(k);
        sys.push_back(spins[k]);
      }
    const auto js =
        density_with_note(partial_trace(rec.physical, keep, n), sys,
                          "reconstructed state with the bath spin " + spins[bath] + " traced out");
    write_file_atomic(out + "/rho_system.json", js.dump(1) + "\n");
  }
}

// nmrc tomography --from-bruker DIR... --molecule M --readout R --out OUT: the state from
// recorded TopSpin folders, one per readout setting in the readout set's order.
int run_from_bruker(const std::vector<std::string>& dirs, const std::string& molecule,
                    const std::string& readout, double scale, const std::vector<double>& weights,
                    const std::string& out) {
  const Molecule m = load_molecule(molecule);
  const auto set = sp::load_readout(readout, m);
  const sp::FidTomography r = sp::tomography_from_bruker(m, set.settings, dirs, scale, weights);
  make_directories(out);
  std::vector<std::string> spins;
  for (const auto& nu : m.nuclei) spins.push_back(nu.label);
  write_states(out, r.reconstruction, m);
  write_file_atomic(out + "/lines.csv", lines_csv(r.outcomes, spins));
  json folders = json::array();
  for (const auto& d : dirs) folders.push_back(d);
  json sz = json::array();
  for (int k = 0; k < m.size(); ++k)
    sz.push_back({{"spin", spins[k]},
                  {"sigma_z_tomography",
                   (r.reconstruction.physical * sigma('Z', k, m.size())).trace().real()}});
  const json summary = {{"format", "nmrc-tomography/1"},
                        {"from_bruker", folders},
                        {"scale", scale},
                        {"weights", weights},
                        {"readout", {{"name", set.name}, {"settings", set.settings.size()}}},
                        {"min_eigenvalue_linear", r.reconstruction.min_eigenvalue_linear},
                        {"residual_rms", r.reconstruction.residual},
                        {"sigma_z", sz}};
  write_file_atomic(out + "/summary.json", summary.dump(1) + "\n");
  std::printf(
      "reconstructed %s from %zu TopSpin experiments (readout %s), line-fit residual %.3g\n",
      m.name.c_str(), r.outcomes.size(), set.name.c_str(), r.reconstruction.residual);
  for (int k = 0; k < m.size(); ++k)
    std::printf("  <sigma_z> %s: %+.6f\n", spins[k].c_str(),
                sz[k]["sigma_z_tomography"].get<double>());
  std::printf("wrote %s/\n", out.c_str());
  return 0;
}

int check_readout(const std::string& readout, const std::string& molecule) {
  const Molecule m = load_molecule(molecule);
  const auto set = sp::load_readout(readout, m);
  const auto rep = sp::analyze_completeness(set.settings, m.size());
  std::printf("readout %s: %zu settings on %s (%d spins)\n%s\n", set.name.c_str(),
              set.settings.size(), m.name.c_str(), m.size(), rep.summary().c_str());
  return rep.complete ? 0 : 1;
}

int run(const std::string& program, const std::string& out, const std::string& bruker, bool quiet) {
  const sp::TomographyProgram p = sp::load_tomography_program(program);
  if (!bruker.empty() && p.lines == sp::LineSource::kIdeal)
    throw InputError(program +
                     ": lines = ideal: no FIDs to write with --bruker (use lines: "
                     "spectrometer)");
  make_directories(out);
  Progress progress(quiet);
  const sp::TomographyResult r =
      sp::run_tomography(p, [&](int done, int total, const std::string& what) {
        progress.update("tomography " + std::to_string(done) + "/" + std::to_string(total) + " " +
                        what);
      });
  progress.done();
  const int n = p.molecule.size();
  std::vector<std::string> spins;
  for (const auto& nu : p.molecule.nuclei) spins.push_back(nu.label);

  write_file_atomic(out + "/rho_true.json", density_with_note(p.true_state, spins).dump(1) + "\n");
  write_states(out, r.reconstruction, p.molecule);
  write_file_atomic(out + "/lines.csv", lines_csv(r.outcomes, spins));
  if (!bruker.empty()) {  // every setting's FID as a TopSpin experiment (EXPNO k = setting k)
    std::vector<sp::BrukerSeriesEntry> entries;
    for (const auto& o : r.outcomes) {
      entries.push_back({o.fid, "nmrc_" + o.setting.name, "readout setting " + o.setting.name, ""});
    }
    sp::write_bruker_series(bruker, p.molecule, entries);
  }

  json summary = {{"format", "nmrc-tomography/1"},
                  {"program", p.name},
                  {"state", p.state_description},
                  {"lines", p.lines == sp::LineSource::kIdeal ? "ideal" : "spectrometer (FID fit)"},
                  {"sw_hz", p.sw_hz},
                  {"td", p.td},
                  {"snr", p.snr},
                  {"readout",
                   {{"name", p.readout.name},
                    {"settings_given", p.readout.settings.size()},
                    {"rank", r.completeness.rank},
                    {"parameters", r.completeness.parameters},
                    {"complete", r.completeness.complete},
                    {"invisible", r.completeness.invisible},
                    {"duplicates", r.completeness.duplicates},
                    {"added", json::array()},
                    {"report", r.completeness.summary()}}},
                  {"fidelity",
                   {{"definition", "Uhlmann (Tr sqrt(sqrt(rho) sigma sqrt(rho)))^2"},
                    {"physical_estimate", r.fidelity}}},
                  {"trace_distance_linear", r.fidelity_linear_trace_distance},
                  {"min_eigenvalue_linear", r.reconstruction.min_eigenvalue_linear},
                  {"residual_rms", r.reconstruction.residual}};
  for (size_t s = p.readout.settings.size(); s < r.settings_used.size(); ++s)
    summary["readout"]["added"].push_back(r.settings_used[s].name);
  json energies = json::array();
  for (int k = 0; k < n; ++k)
    energies.push_back({{"spin", spins[k]},
                        {"sigma_z_true", r.energy_true[k]},
                        {"sigma_z_tomography", r.energy_tomography[k]},
                        {"sigma_z_direct", r.energy_direct[k]}});
  summary["sigma_z"] = energies;
  if (!r.study.empty()) {
    json st = json::array();
    std::ostringstream csv;
    csv << "snr,mean_fidelity,min_fidelity\n";
    Figure fig;
    Panel panel;
    panel.title =
        "Tomography fidelity versus SNR (" + std::to_string(p.study_repeats) + " noise draws each)";
    panel.xlabel = "SNR (log scale)";
    panel.ylabel = "Uhlmann fidelity";
    panel.key = "bottom right";
    Series mean{"mean"}, mn{"minimum"};
    mean.style = mn.style = "linespoints";
    mn.dashed = true;
    for (const auto& pt : r.study) {
      st.push_back({{"snr", pt.snr},
                    {"mean_fidelity", pt.mean_fidelity},
                    {"min_fidelity", pt.min_fidelity}});
      csv << pt.snr << "," << pt.mean_fidelity << "," << pt.min_fidelity << "\n";
      mean.x.push_back(std::log10(pt.snr));
      mean.y.push_back(pt.mean_fidelity);
      mn.x.push_back(std::log10(pt.snr));
      mn.y.push_back(pt.min_fidelity);
    }
    panel.xlabel = "log10 SNR";
    panel.series = {mean, mn};
    fig.panels = {panel};
    fig.width_px = 800;
    fig.height_px = 500;
    summary["fidelity_vs_snr"] = st;
    write_file_atomic(out + "/fidelity_vs_snr.csv", csv.str());
    write_figure(fig, out + "/fidelity_vs_snr");
  }
  write_file_atomic(out + "/summary.json", summary.dump(1) + "\n");
  draw_matrices(p.name + ": density matrix, true and reconstructed", p.true_state,
                r.reconstruction.physical, n, out + "/density_matrix");
  std::printf("%s\nreadout %s: %s\nfidelity of the reconstructed state: %.6f (Uhlmann)\n",
              p.name.c_str(), p.readout.name.c_str(), r.completeness.summary().c_str(), r.fidelity);
  for (int k = 0; k < n; ++k)
    std::printf("  <sigma_z> %s: true %+.6f  tomography %+.6f  direct readout %+.6f\n",
                spins[k].c_str(), r.energy_true[k], r.energy_tomography[k], r.energy_direct[k]);
  for (const auto& pt : r.study)
    std::printf("  SNR %8.1f: mean fidelity %.6f, min %.6f\n", pt.snr, pt.mean_fidelity,
                pt.min_fidelity);
  std::printf("wrote %s/\n", out.c_str());
  return 0;
}

}  // namespace

void add_tomography_command(CLI::App& app, GlobalOptions& global, Action& action) {
  auto* cmd = app.add_subcommand("tomography", "State tomography on the virtual spectrometer");
  auto program = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto check = std::make_shared<std::string>();
  auto molecule = std::make_shared<std::string>();
  cmd->add_option("PROGRAM", *program, "Tomography program YAML (docs/tomography.md)");
  cmd->add_option("--out", *out, "Output directory");
  cmd->add_option("--check", *check, "Only analyse a readout file: rank, condition, completion");
  cmd->add_option("--molecule", *molecule, "Molecule for --check and --from-bruker");
  auto bruker = std::make_shared<std::string>();
  auto from_bruker = std::make_shared<std::vector<std::string>>();
  auto readout = std::make_shared<std::string>();
  auto scale = std::make_shared<double>(1.0);
  auto weights = std::make_shared<std::vector<double>>();
  cmd->add_option("--bruker", *bruker,
                  "Also write every setting's FID as TopSpin experiments DIR/1, DIR/2, ...");
  cmd->add_option("--from-bruker", *from_bruker,
                  "Reconstruct from TopSpin experiment folders (one per setting, in the readout "
                  "set's order; a dataset folder stands for its numbered EXPNOs)");
  cmd->add_option("--readout", *readout, "Readout set of the --from-bruker folders (YAML)");
  cmd->add_option("--scale", *scale,
                  "--from-bruker: factor from the folders' signal to nmrc's units (default 1)");
  cmd->add_option("--weights", *weights,
                  "--from-bruker: temporal-averaging weights w_0,...,w_{E-1}; E folders per "
                  "setting are added (nmrc export bruker's weights.csv)")
      ->delimiter(',');
  cmd->callback([&action, &global, program, out, check, molecule, cmd, bruker, from_bruker, readout,
                 scale, weights] {
    if (!from_bruker->empty()) {
      if (molecule->empty() || readout->empty() || out->empty() || !program->empty())
        throw CLI::ValidationError(
            "--from-bruker DIR... needs --molecule M --readout R --out DIR (and no PROGRAM)");
      action = [from_bruker, molecule, readout, scale, weights, out] {
        return run_from_bruker(*from_bruker, *molecule, *readout, *scale, *weights, *out);
      };
      return;
    }
    if (!check->empty()) {
      if (molecule->empty()) throw CLI::ValidationError("--check needs --molecule");
      action = [check, molecule] { return check_readout(*check, *molecule); };
      return;
    }
    if (program->empty() || out->empty())
      throw CLI::ValidationError(
          "tomography needs PROGRAM and --out DIR (or --check FILE --molecule M)");
    (void)cmd;
    action = [program, out, bruker, &global] { return run(*program, *out, *bruker, global.quiet); };
  });
}

}  // namespace nmrc::cli
