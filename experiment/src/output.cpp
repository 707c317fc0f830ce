// The experiment's result files (output.hpp; columns and keys: docs/experiment-format.md).
#include "nmrc/experiment/output.hpp"

#include <fmt/format.h>

#include <cmath>
#include <sstream>

#include "nmrc/core/io.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/text.hpp"

namespace nmrc::experiment {

namespace {

using nlohmann::ordered_json;

ordered_json opt(const std::optional<double>& v) { return v ? ordered_json(*v) : ordered_json(); }

/// A measured value: mean, statistical part (noise draws), systematic part (error budget).
ordered_json stat(const Stat& s) {
  return {{"mean", s.mean}, {"statistical", s.std}, {"systematic", s.sys}};
}
ordered_json opt_stat(const std::optional<Stat>& s) { return s ? stat(*s) : ordered_json(); }

ordered_json imperfections_json(const Imperfections& i) {
  ordered_json j = ordered_json::object();
  for (const auto& f : Imperfections::flags()) j[f.key] = i.*(f.member);
  return j;
}

ordered_json verdicts_json(const VerdictCount& v) {
  return {{"resolved_right", v.right},
          {"resolved_wrong", v.wrong},
          {"unresolved", v.unresolved},
          {"not_judged", v.not_judged},
          {"magnitude_within_goal", v.magnitude_ok},
          {"mean_of_wrong_sign", v.sign_wrong},
          {"within_one_bar", v.within_bar},
          {"within_two_bars", v.within_two_bars}};
}

}  // namespace

std::string settings_key(const ExperimentProgram& p, bool budget) {
  return p.text_hash + (budget ? "+budget" : "") + "+pairs/2+played-gradients";
}

ordered_json case_summary(const ExperimentProgram& p, const CaseResult& r, bool budget) {
  const auto& c = r.spec;
  const auto& names = c.params.names;
  const int ns = c.params.n();
  ordered_json j;
  j["format"] = "nmrc-experiment-case/2";
  j["program"] = p.path;
  j["settings_key"] = settings_key(p, budget);
  j["case"] = c.name;
  j["title"] = c.title;
  j["theory"] = c.theory_file;
  ordered_json spins = ordered_json::object();
  for (int k = 0; k < ns; ++k) spins[names[k]] = p.molecule.nuclei[c.system_spins[k]].label;
  spins["R"] = p.molecule.nuclei[c.bath_spin].label;
  j["spins"] = spins;
  j["bath_temperature"] = c.params.bath_temperature;
  j["repreparation"] = p.repreparation == Repreparation::kIdeal ? "ideal" : "measured";
  j["contact"] = p.contact == ContactPulses::kPerSwap ? "per_swap" : "whole_collision";
  j["bath_phase_cycle"] = p.bath_phase_cycle;
  j["contact_phase_cycle"] = p.contact_phase_cycle;
  j["pps_pulses"] = p.pps_pulses == PpsPulses::kPerGate ? "per_gate" : "per_step";
  j["imperfections"] = imperfections_json(p.imperfections);
  j["calibration"] = {
      {"inversion", p.inversion}, {"pps_reference", true}, {"contact_loss_reference", p.reference}};
  j["error_bars"] =
      r.systematics
          ? "statistical: spread of the noise draws; systematic: quadrature sum of each "
            "imperfection's shift of the noise-free value at that collision (error budget)"
          : "statistical only (no error budget: systematic parts are 0, not estimated)";
  j["snr"] = p.snr;
  j["noise_draws"] = p.repeats;
  j["noise_sigma"] = r.noise_sigma;
  j["pps_epsilon_nominal"] = r.pps_epsilon;
  j["last_collision"] = c.measure.back();
  j["verdict_rule"] = "per collision and subsystem, ideal |dE| > " +
                      std::to_string(kJudgedIncrement).substr(0, 6) + ": resolved when " +
                      "|measured dE| > " + std::to_string(int(kVerdictSigmas)) +
                      " x sqrt(statistical^2 + systematic^2)";
  j["verdicts"] = verdicts_json(r.verdicts);
  ordered_json de = ordered_json::object(), me = ordered_json::object(),
               ms = ordered_json::object(), msys = ordered_json::object(),
               rd = ordered_json::object(), dir = ordered_json::object(),
               rel = ordered_json::object();
  for (int k = 0; k < ns; ++k) {
    de[names[k]] = r.delta_ideal[k];
    me[names[k]] = r.delta_measured[k].mean;
    ms[names[k]] = r.delta_measured[k].std;
    msys[names[k]] = r.delta_measured[k].sys;
    rd[names[k]] = r.delta_raw[k].mean;
    const Verdict v = judge_direction(r.delta_ideal[k], r.delta_measured[k]);
    dir[names[k]] = {{"ideal", r.delta_ideal[k] > 0 ? "into" : "out of"},
                     {"measured", r.delta_measured[k].mean > 0 ? "into" : "out of"},
                     {"verdict", verdict_name(v)}};
    rel[names[k]] =
        r.delta_ideal[k] != 0.0
            ? std::abs(r.delta_measured[k].mean - r.delta_ideal[k]) / std::abs(r.delta_ideal[k])
            : 0.0;
  }
  j["delta_energy"] = de;
  j["measured_delta_energy"] = me;
  j["measured_delta_energy_statistical"] = ms;
  j["measured_delta_energy_systematic"] = msys;
  j["raw_delta_energy"] = rd;
  j["relative_error"] = rel;
  j["direction"] = dir;
  ordered_json budget_rows = ordered_json::array();
  for (const auto& b : r.budget) {
    ordered_json d = ordered_json::object(), e = ordered_json::object(),
                 inc = ordered_json::object();
    for (int k = 0; k < ns; ++k) {
      d[names[k]] = b.delta[k];
      e[names[k]] = b.delta[k] - r.delta_ideal[k];
      inc[names[k]] = b.increment[k];
    }
    budget_rows.push_back({{"name", b.name},
                           {"imperfections", imperfections_json(b.imperfections)},
                           {"measured_delta_energy", d},
                           {"error", e},
                           {"measured_collision_increment", inc}});
  }
  j["error_budget"] = budget_rows;
  j["pulses"] = r.pulses;
  // theory curves (every interaction) and measured points, for pictures and tables
  ordered_json th = {
      {"step", ordered_json::array()},        {"collision", ordered_json::array()},
      {"energy", ordered_json::array()},      {"heat_to_bath", ordered_json::array()},
      {"free_energy", ordered_json::array()}, {"at", ordered_json::array()}};
  for (const auto& s : r.theory.steps) {
    th["step"].push_back(s.step);
    th["collision"].push_back(s.collision);
    th["energy"].push_back(s.energy);
    th["heat_to_bath"].push_back(s.heat_to_bath);
    th["free_energy"].push_back(s.free_energy);
    ordered_json at = ordered_json::array();
    for (const auto& a : s.at.subsystem) at.push_back(opt(a.value));
    th["at"].push_back(at);
  }
  j["theory_curves"] = th;
  ordered_json pts = ordered_json::array();
  for (const auto& pt : r.points) {
    ordered_json q;
    q["collision"] = pt.collision;
    q["step"] = pt.step;
    q["energy_ideal"] = pt.energy_ideal;
    ordered_json e = ordered_json::array(), eb = ordered_json::array(), er = ordered_json::array(),
                 at = ordered_json::array(), ati = ordered_json::array(), d = ordered_json::array(),
                 du = ordered_json::array(), v = ordered_json::array();
    for (int k = 0; k < ns; ++k) {
      e.push_back(stat(pt.energy[k]));
      eb.push_back(stat(pt.energy_before[k]));
      er.push_back(stat(pt.energy_raw[k]));
      at.push_back(opt_stat(pt.at[k]));
      ati.push_back(opt(pt.at_ideal[k]));
      if (pt.collision > 0) {
        d.push_back(stat(pt.de[k]));
        du.push_back(stat(pt.de_uncorrected[k]));
        v.push_back(verdict_name(pt.verdict[k]));
      }
    }
    if (pt.collision > 0) {
      q["collision_increment_ideal"] = pt.de_ideal;
      q["collision_increment"] = d;
      q["collision_increment_uncorrected"] = du;
      q["verdict"] = v;
      q["bath_increment_ideal"] = pt.de_bath_ideal;
      q["bath_increment"] = stat(pt.de_bath);
    }
    q["energy"] = e;
    q["energy_without_contact"] = eb;
    q["energy_raw"] = er;
    q["contact_loss"] = pt.scale;
    q["pps_scale"] = stat(pt.pps_scale);
    q["heat_ideal"] = pt.heat_ideal;
    q["heat"] = stat(pt.heat);
    q["free_energy_ideal"] = pt.free_energy_ideal;
    q["free_energy"] = stat(pt.free_energy);
    q["coherence_ideal"] = pt.coherence_ideal;
    q["coherence"] = stat(pt.coherence);
    q["at_ideal"] = ati;
    q["at"] = at;
    q["fidelity"] = stat(pt.fidelity);
    pts.push_back(q);
  }
  j["points"] = pts;
  j["seconds"] = r.seconds;
  j["complete"] = true;
  return j;
}

std::string measurements_csv(const CaseResult& r) {
  const int ns = r.spec.params.n();
  const auto& names = r.spec.params.names;
  std::ostringstream os;
  os.precision(9);
  // header cells carry the subsystem names of the theory program: text cells (csv_field)
  auto h = [&](const std::string& a, int k, const std::string& b) {
    os << "," << csv_field(a + names[k] + b);
  };
  auto h3 = [&](const std::string& a, int k, const std::string& b) {  // value, stat, sys
    h(a, k, b);
    h(a, k, b + "_std");
    h(a, k, b + "_sys");
  };
  os << "collision,step";
  for (int k = 0; k < ns; ++k) {
    h("dE_", k, "_collision_ideal");
    h3("dE_", k, "_collision");
    h("dE_", k, "_collision_uncorrected");
    h("direction_", k, "");
    h("E_", k, "_ideal");
    h3("E_", k, "");
    h3("E_", k, "_without_contact");
    h("E_", k, "_raw");
    h("E_", k, "_raw_std");
    h("contact_loss_", k, "");
  }
  os << ",dE_R_collision_ideal,dE_R_collision,dE_R_collision_std,dE_R_collision_sys"
     << ",pps_scale,pps_scale_std,pps_scale_sys"
     << ",heat_ideal,heat,heat_std,heat_sys,free_energy_ideal,free_energy,free_energy_std,"
        "free_energy_sys,coherence_ideal,coherence,coherence_std,coherence_sys";
  for (int k = 0; k < ns; ++k) {
    h("AT_", k, "_ideal");
    h3("AT_", k, "");
  }
  os << ",fidelity,fidelity_std,fidelity_sys\n";
  auto o = [](const std::optional<double>& v) {
    return v ? fmt::format("{:.9g}", *v) : std::string();
  };
  auto s3 = [&](const Stat& s) { os << "," << s.mean << "," << s.std << "," << s.sys; };
  for (const auto& pt : r.points) {
    const bool pair = pt.collision > 0;
    os << pt.collision << "," << pt.step;
    for (int k = 0; k < ns; ++k) {
      if (pair) {
        os << "," << pt.de_ideal[k];
        s3(pt.de[k]);
        os << "," << pt.de_uncorrected[k].mean << "," << csv_field(verdict_name(pt.verdict[k]));
      } else {
        os << ",,,,,,";
      }
      os << "," << pt.energy_ideal[k];
      s3(pt.energy[k]);
      s3(pt.energy_before[k]);
      os << "," << pt.energy_raw[k].mean << "," << pt.energy_raw[k].std << ",";
      if (pair) os << pt.scale[k];
    }
    if (pair) {
      os << "," << pt.de_bath_ideal;
      s3(pt.de_bath);
    } else {
      os << ",,,,";
    }
    s3(pt.pps_scale);
    os << "," << pt.heat_ideal;
    s3(pt.heat);
    os << "," << pt.free_energy_ideal;
    s3(pt.free_energy);
    os << "," << pt.coherence_ideal;
    s3(pt.coherence);
    for (int k = 0; k < ns; ++k) {
      os << "," << o(pt.at_ideal[k]);
      if (pt.at[k])
        s3(*pt.at[k]);
      else
        os << ",,,";
    }
    s3(pt.fidelity);
    os << "\n";
  }
  return os.str();
}

std::vector<std::pair<std::string, std::string>> case_data_files(const ExperimentProgram& p,
                                                                 const CaseResult& r) {
  std::vector<std::pair<std::string, std::string>> files;
  std::vector<std::string> spins;
  for (const auto& nu : p.molecule.nuclei) spins.push_back(nu.label);
  std::vector<std::string> sys;
  for (int k : r.spec.system_spins) sys.push_back(p.molecule.nuclei[k].label);
  for (const auto& pt : r.points) {
    const std::string m = std::to_string(pt.collision);
    files.emplace_back("rho_m" + m + ".json", nmrc::density_json(pt.rho_measured, spins));
    files.emplace_back("rho_system_m" + m + ".json", nmrc::density_json(pt.rho_system, sys));
  }
  files.emplace_back("measurements.csv", measurements_csv(r));
  return files;
}

void write_case_data(const std::string& dir, const ExperimentProgram& p, const CaseResult& r) {
  make_directories(dir);
  for (const auto& [name, text] : case_data_files(p, r)) write_file_atomic(dir + "/" + name, text);
}

void write_case_summary(const std::string& dir, const ordered_json& summary) {
  write_file_atomic(dir + "/summary.json", summary.dump(1) + "\n");
}

ordered_json program_summary(const ExperimentProgram& p, const std::vector<ordered_json>& cases,
                             const std::string& figure) {
  ordered_json top;
  top["format"] = "nmrc-experiment/2";
  top["program"] = p.path;
  top["name"] = p.name;
  if (!figure.empty()) top["figure"] = figure;
  top["cases"] = ordered_json::array();
  int right = 0, wrong = 0, unresolved = 0, magnitude = 0, sign_wrong = 0, bar1 = 0, bar2 = 0;
  for (const auto& j : cases) {
    ordered_json cj;
    for (const char* k :
         {"case", "title", "spins", "last_collision", "delta_energy", "measured_delta_energy",
          "measured_delta_energy_statistical", "measured_delta_energy_systematic",
          "raw_delta_energy", "relative_error", "direction", "verdicts", "error_budget"})
      cj[k] = j[k];
    top["cases"].push_back(cj);
    right += j["verdicts"]["resolved_right"].get<int>();
    wrong += j["verdicts"]["resolved_wrong"].get<int>();
    unresolved += j["verdicts"]["unresolved"].get<int>();
    magnitude += j["verdicts"]["magnitude_within_goal"].get<int>();
    sign_wrong += j["verdicts"]["mean_of_wrong_sign"].get<int>();
    bar1 += j["verdicts"].value("within_one_bar", 0);
    bar2 += j["verdicts"].value("within_two_bars", 0);
  }
  top["verdicts"] = {{"judged", right + wrong + unresolved},
                     {"resolved_right", right},
                     {"resolved_wrong", wrong},
                     {"unresolved", unresolved},
                     {"magnitude_within_goal", magnitude},
                     {"mean_of_wrong_sign", sign_wrong},
                     {"within_one_bar", bar1},
                     {"within_two_bars", bar2}};
  return top;
}

void write_experiment_files(const std::string& out_dir, const ExperimentProgram& p,
                            const std::vector<CaseResult>& results, bool error_budget) {
  std::vector<ordered_json> summaries;
  for (const auto& r : results) {
    const std::string dir = out_dir + "/" + r.spec.name;
    write_case_data(dir, p, r);
    summaries.push_back(case_summary(p, r, error_budget));
    write_case_summary(dir, summaries.back());
  }
  make_directories(out_dir);
  write_file_atomic(out_dir + "/summary.json", program_summary(p, summaries, "").dump(1) + "\n");
}

}  // namespace nmrc::experiment
