#include "nmrc/experiment/bruker_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <type_traits>

#include "nmrc/compiler/bruker_playback.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/hash.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/jcamp.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/text.hpp"
#include "nmrc/spectrometer/bruker_dataset.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "nmrc/spectrometer/gradient_input.hpp"
#include "nmrc/spectrometer/preparation.hpp"
#include "nmrc/spectrometer/sample.hpp"
#include "nmrc/spectrometer/tomography_run.hpp"
#include "nmrc/thermo/observables.hpp"

namespace nmrc::experiment {

namespace {

// A line of the README from input text (names, titles, paths).
std::string line_text(const std::string& s, const char* field) {
  return console_text(s, ConsoleText::kTextLine, field);
}

}  // namespace

std::string topspin_case_name(const std::string& case_name) {
  std::string o;
  for (char ch : case_name) o += ch == '.' ? 'p' : (ch == '-' ? 'm' : ch);
  return o;
}

RunSequences run_sequences(const ExperimentProgram& p, const CaseSpec& c, int collision,
                           PulseLibrary& lib, const CompileProgress& progress, bool ideal_pps) {
  const Molecule& m = p.molecule;
  // The phase cycles are summed acquisitions the export does not write yet (issue 23's report):
  // refused, not exported as another experiment than the virtual run measures.
  if (p.bath_phase_cycle > 1 || p.contact_phase_cycle > 1)
    throw InputError(p.path + ": " +
                     (p.contact_phase_cycle > 1
                          ? "contact_phase_cycle = " + std::to_string(p.contact_phase_cycle)
                          : "bath_phase_cycle = " + std::to_string(p.bath_phase_cycle)) +
                     ": the Bruker export plays no phase cycle (use 1)");
  RunSequences r;
  r.protocol = run_protocol(p, c, collision);
  const RunProtocol& proto = r.protocol;
  // Every pulse of the run, compiled (or found) once.
  std::map<std::string, ShapedPulseElement> shaped;
  auto pulse = [&](const PulseNeed& nd) -> const ShapedPulseElement& {
    if (auto it = shaped.find(nd.name); it != shaped.end()) return it->second;
    // the run's choice (run.cpp's get_pulse): the kind's length and fidelity goal
    ShapedPulseElement e = lib.get(nd, pulse_compile_options(p, nd.kind), progress,
                                   pulse_shape(p, nd.kind).fidelity_target)
                               .pulse.element(m);
    e.name = nd.name;
    return shaped.emplace(nd.name, std::move(e)).first->second;
  };
  // The PPS and bath gradients as the run plays them (run_protocol's plan).
  r.gradient_scale = proto.gradients.scale;
  r.stretched = proto.gradients.stretched;
  // The part every EXPNO shares up to the temporal-averaging pulses, with a label per element.
  std::vector<Element> head;
  std::vector<std::string> head_where;
  const std::string where0 =
      p.path + ": case " + c.name + ", collision " + std::to_string(collision) + ", ";
  for (const auto& st : proto.pps) {
    if (ideal_pps) {
      for (const auto& op : st.operations) {
        head.push_back(op);
        head_where.push_back(where0 + st.name + " operation");
      }
    } else {
      for (const auto& nd : st.pulses) {
        head.push_back(pulse(nd));
        head_where.push_back(where0 + st.name + " pulse " + nd.name);
      }
    }
    head.push_back(st.gradient);
    head_where.push_back(where0 + st.name + " gradient");
  }
  const size_t pps_len = head.size();  // the PPS alone (the PPS reference plays no more)
  head.push_back(pulse(proto.bath));
  head_where.push_back(where0 + "bath pulse " + proto.bath.name);
  head.push_back(proto.bath_gradient);
  head_where.push_back(where0 + "bath gradient");
  // What each gradient as played leaves of a single-quantum coherence on a uniform sample of
  // 9 lengths from sample_cm to max(sample_cm, 1.8 cm), simulated on the virtual
  // spectrometer's slices (spectrometer::gradient_residual; enough slices for 16 per turn).
  {
    const double l0 = p.sample_cm, l1 = std::max(p.sample_cm, 1.8);
    for (size_t e = 0; e < head.size(); ++e) {
      const auto* g = std::get_if<GradientElement>(&head[e]);
      if (!g) continue;
      double worst = 0.0;
      for (int li = 0; li < 9; ++li) {
        spectrometer::Sample smp;
        smp.molecule = m;
        smp.gradient.mode = spectrometer::GradientMode::kSlices;
        smp.gradient.length_cm = l0 + (l1 - l0) * li / 8.0;
        double turns = 0.0;
        for (int k = 0; k < m.size(); ++k)
          turns = std::max(turns, std::abs(m.gamma_hz_per_gauss(k) * g->strength_g_per_cm *
                                           g->shape_factor * g->duration_s) *
                                      smp.gradient.length_cm);
        smp.gradient.slices = static_cast<int>(std::min<double>(
            spectrometer::kMaxGradientSlices, std::max(1024.0, std::ceil(16.0 * turns))));
        for (double x : spectrometer::gradient_residual(smp, *g)) worst = std::max(worst, x);
      }
      r.gradient_residual = std::max(r.gradient_residual, worst);
      r.residuals.push_back(head_where[e].substr(where0.size()) + ": " +
                            fmt::format("{:.6g}", g->strength_g_per_cm) + " G/cm for " +
                            fmt::format("{:.6g}", g->duration_s * 1e3) + " ms, at most " +
                            fmt::format("{:.3g}", worst) + " of a single-quantum coherence left");
    }
  }
  AcquireElement acq;
  acq.channel = 0;
  acq.sw_hz = p.sw_hz;
  acq.td = p.td;
  const std::string tag = topspin_case_name(c.name) + "_m" + std::to_string(collision);
  const size_t ns = proto.readout.size();
  // One group of EXPNOs per acquisition the calibration combines (run.hpp's PairAcquisition),
  // per sign: EXPNO first + s E + i + 1 plays setting s after experiment i of the group.
  auto add_group = [&](PairAcquisition what, int sign,
                       const std::vector<ProtocolExperiment>& experiments, bool with_head,
                       bool with_ud, bool with_contact) {
    RunGroup g;
    g.acquisition = what;
    g.sign = sign;
    g.first = r.experiments.size();
    const std::string name = pair_acquisition_name(what);
    std::string gtag = tag;
    if (what != PairAcquisition::kContact || sign != 0) gtag += "_" + name + (sign ? "_inv" : "");
    // sign 1: from inverted equilibrium, the inversion pulse first
    std::vector<Element> start;
    std::vector<std::string> start_where;
    if (sign == 1) {
      std::vector<int> all(m.size());
      for (int k = 0; k < m.size(); ++k) all[k] = k;
      if (ideal_pps)
        start.push_back(RotationElement{all, kPi, 0.0});
      else
        start.push_back(pulse(*proto.inversion));
      start_where.push_back(where0 + "inversion pulse " + proto.inversion->name);
    }
    const size_t head_len = with_head ? head.size() : pps_len;
    for (size_t s = 0; s < ns; ++s) {
      for (size_t i = 0; i < experiments.size(); ++i) {
        const auto& ex = experiments[i];
        auto where = std::make_shared<std::vector<std::string>>(start_where);
        Sequence seq;
        seq.name = gtag + "_e" + std::to_string(i + 1) + "_" + proto.readout[s].first;
        seq.elements = start;
        seq.elements.insert(seq.elements.end(), head.begin(), head.begin() + head_len);
        where->insert(where->end(), head_where.begin(), head_where.begin() + head_len);
        for (const auto& nd : ex.flips) {
          seq.elements.push_back(pulse(nd));
          where->push_back(where0 + "temporal-averaging pulse " + nd.name);
        }
        if (with_ud && proto.ud) {
          seq.elements.push_back(pulse(*proto.ud));
          where->push_back(where0 + "U_d pulse " + proto.ud->name);
        }
        for (const auto& nd : with_contact ? proto.contact : std::vector<PulseNeed>{}) {
          seq.elements.push_back(pulse(nd));
          where->push_back(where0 + "contact pulse " + nd.name);
        }
        const size_t readout_from = seq.elements.size();  // f2 not switched from here
        for (const auto& nd : proto.readout[s].second) {
          seq.elements.push_back(pulse(nd));
          where->push_back(where0 + "readout " + proto.readout[s].first + " pulse " + nd.name);
        }
        seq.elements.push_back(acq);
        where->push_back(where0 + "acquisition");
        r.experiments.push_back(
            {seq.name, seq,
             [where](size_t k) { return k < where->size() ? (*where)[k] : std::string(); },
             readout_from});
        r.settings.push_back(proto.readout[s].first);
        r.group_of.push_back(r.groups.size());
      }
    }
    for (const auto& ex : experiments) {
      g.weights.push_back(ex.weight);
      g.experiments.push_back(ex);
    }
    r.groups.push_back(std::move(g));
  };
  ProtocolExperiment pps_only;  // the PPS reference: one experiment, no pi pulses
  pps_only.weight = 1.0;
  for (int sign = 0; sign < (proto.inversion ? 2 : 1); ++sign) {
    add_group(PairAcquisition::kContact, sign, proto.experiments, true, true, true);
    add_group(PairAcquisition::kPrepared, sign, proto.experiments, true, true, false);
    add_group(PairAcquisition::kPps, sign, {pps_only}, false, false, false);
    if (!proto.reference.empty()) {
      add_group(PairAcquisition::kThermal, sign, proto.reference, true, false, false);
      add_group(PairAcquisition::kThermalContact, sign, proto.reference, true, false, true);
    }
  }
  r.weights = r.groups.front().weights;
  r.pulses = shaped.size();
  return r;
}

namespace {

// weights.csv: one row per EXPNO (expno, acquisition, sign, readout_setting, experiment,
// basis_state, flipped, weight, pulprog), the groups of RunSequences in EXPNO order.
constexpr const char* kWeightsHeader =
    "expno,acquisition,sign,readout_setting,experiment,basis_state,flipped,weight,pulprog";
const char* sign_name(int sign) { return sign == 0 ? "equilibrium" : "inverted"; }

std::string weights_csv(const RunSequences& r) {
  std::ostringstream w;
  w << kWeightsHeader << "\n";
  for (size_t k = 0; k < r.experiments.size(); ++k) {
    const RunGroup& g = r.groups[r.group_of[k]];
    const size_t ne = g.weights.size(), i = (k - g.first) % ne;
    const auto& ex = g.experiments[i];
    std::string flipped;
    for (const auto& nd : ex.flips) flipped += (flipped.empty() ? "" : " ") + nd.name;
    w << k + 1 << "," << pair_acquisition_name(g.acquisition) << "," << sign_name(g.sign) << ","
      << csv_field(r.settings[k]) << "," << i + 1 << "," << ex.basis_state << ","
      << csv_field(flipped.empty() ? "none" : flipped) << "," << fmt::format("{:.17g}", ex.weight)
      << "," << csv_field(r.experiments[k].name) << "\n";
  }
  return w.str();
}

// The experiment's own part of the README: what the EXPNOs are and how they combine.
std::string run_readme(const ExperimentProgram& p, const CaseSpec& c, int collision,
                       const RunSequences& r) {
  const Molecule& m = p.molecule;
  const RunProtocol& proto = r.protocol;
  const size_t ns = proto.readout.size();
  std::ostringstream rd;
  rd << "\nThe run exported: experiment " << line_text(p.name, "experiment name") << ", case "
     << line_text(c.name, "case name") << " (" << line_text(c.title, "case title")
     << "), collision " << collision << " (docs/experiment-format.md, protocol of one run)\n"
     << "The measurement's EXPNOs play, in order (the calibration's groups, below, parts of it):\n"
     << "  1. pseudo-pure state (Eq. (S15)): 4 steps, each its compiled pulses then a gradient:\n";
  for (const auto& st : proto.pps) {
    rd << "     " << st.name << ":";
    for (const auto& nd : st.pulses) rd << " " << nd.name;
    rd << " + gradient " << fmt::format("{:.6g}", st.gradient.strength_g_per_cm) << " G/cm, "
       << fmt::format("{:.6g}", st.gradient.duration_s * 1e3) << " ms\n";
  }
  rd << "  2. bath spin " << line_text(m.nuclei[c.bath_spin].label, "spin label")
     << " at T_R = " << fmt::format("{:.6g}", c.params.bath_temperature) << ": " << proto.bath.name
     << " + gradient\n"
     << "  3. temporal averaging: experiment i's pi pulses (weights.csv)"
     << (proto.ud ? ", then U_d " + proto.ud->name : std::string(" (U_d = I)")) << "\n"
     << "  4. contact:";
  for (const auto& nd : proto.contact) rd << " " << nd.name;
  rd << "\n  5. readout setting s (pi/2 pulses rx90_*/ry90_*), acquisition (go=2 ph31)\n\n"
     << "The EXPNOs come in groups, one per acquisition the calibration combines\n"
     << "(docs/experiment-format.md, \"What is measured\"); in group g, EXPNO first_g + s x E_g +\n"
     << "i + 1 plays readout setting s = 0.." << ns - 1 << " (the readout set "
     << line_text(p.readout.name, "readout set name") << ") after its experiment i:\n";
  for (const auto& g : r.groups) {
    const size_t ne = g.weights.size();
    rd << "  EXPNO " << g.first + 1 << ".." << g.first + ns * ne << ": "
       << pair_acquisition_name(g.acquisition) << " from " << sign_name(g.sign) << ", " << ne
       << " experiment" << (ne == 1 ? "" : "s") << " per setting: ";
    switch (g.acquisition) {
      case PairAcquisition::kContact:
        rd << "the measurement (steps 1-5)";
        break;
      case PairAcquisition::kPrepared:
        rd << "the same without the contact (step 4)";
        break;
      case PairAcquisition::kPps:
        rd << "the pseudo-pure state alone (step 1, then 5): the signal scale";
        break;
      case PairAcquisition::kThermal:
        rd << "every subsystem thermal at T_R (steps 1-3 with the reference's pi pulses), "
              "no contact";
        break;
      case PairAcquisition::kThermalContact:
        rd << "the same through the contact: the contact's population loss";
        break;
    }
    rd << (g.sign ? "; first " + proto.inversion->name + ", a pi pulse on every spin" : "") << "\n";
  }
  rd << "Run them in EXPNO order (queue.mac), all with one RG. How they combine: in each group,\n"
     << "for each readout setting, the FID of the prepared state is the weighted sum\n"
     << "sum_i w_i FID_i of its E_g EXPNOs (weights.csv; the weights sum to 1); the groups'\n"
     << "reconstructions are paired (equilibrium minus inverted, halved), divided by the PPS\n"
     << "reference's scale and corrected by the contact-loss factors, as the virtual run\n"
     << "calibrates. Once the EXPNOs hold their data, nmrc does all of it from this folder:\n"
     << "  nmrc experiment " << line_text(p.path, "program path") << " --from-bruker DIR --case "
     << line_text(topspin_case_name(c.name), "case name") << " --collision " << collision
     << " --out OUT [--scale S]\n"
     << "(a console's FIDs need the factor to nmrc's units, --scale, as for\n"
     << "`nmrc tomography --from-bruker`).\n";
  if (!r.stretched.empty()) {
    rd << "\nGradients as played: the PPS and bath gradients' areas times "
       << fmt::format("{:.6g}", r.gradient_scale)
       << ", so that the weakest winds a single-quantum coherence\n"
       << "at least 100/pi turns across a sample of " << fmt::format("{:.6g}", p.sample_cm)
       << " cm or longer (spectrometer.sample_cm, --sample-cm; at most 1 % left on a\n"
       << "uniform sample); above GPZ 100 % (" << fmt::format("{:.6g}", p.gradient_max_g_per_cm)
       << " G/cm: spectrometer.gradient_max_g_per_cm, --gpz-max) at the maximum for longer,\n"
       << "with the same area (the virtual run plays the same durations):\n";
    for (const auto& s : r.stretched) rd << "  " << s << "\n";
  }
  rd << "\nWhat the PPS and bath gradients leave of a single-quantum coherence on a uniform\n"
     << "sample of " << fmt::format("{:.6g}", p.sample_cm) << " to "
     << fmt::format("{:.6g}", std::max(p.sample_cm, 1.8))
     << " cm (simulated over z slices, the largest over 9 lengths):\n";
  for (const auto& s : r.residuals) rd << "  " << s << "\n";
  return rd.str();
}

// One summary line per EXPNO (and one power line each) is too many for a run: the first and
// the last of each are kept (every power line was within the probe's limits, or the export
// would have been refused).
std::vector<std::string> run_summary(const std::vector<std::string>& all) {
  auto first_last = [&](const char* prefix) {
    size_t first = all.size(), last = 0;
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i].rfind(prefix, 0) == 0) {
        first = std::min(first, i);
        last = i;
      }
    return std::pair<size_t, size_t>{first, last};
  };
  const auto [first, last] = first_last("experiment ");
  const auto [first_power, last_power] = first_last("power ");
  std::vector<std::string> summary;
  for (size_t i = 0; i < all.size(); ++i) {
    const bool expno = all[i].rfind("experiment ", 0) == 0;
    const bool power = all[i].rfind("power ", 0) == 0;
    if (power && i != first_power && i != last_power) continue;
    if (!expno || i == first || i == last) summary.push_back(all[i]);
    if (expno && i == first && last > first + 1) summary.push_back("...");
  }
  return summary;
}

}  // namespace

compiler::BrukerExportResult export_run_bruker(const ExperimentProgram& p, const CaseSpec& c,
                                               int collision, PulseLibrary& lib,
                                               const compiler::BrukerExportOptions& o,
                                               const CompileProgress& progress) {
  const RunSequences rs = run_sequences(p, c, collision, lib, progress);
  compiler::BrukerExportOptions eo = o;
  eo.gpz_max_g_per_cm = p.gradient_max_g_per_cm;  // the probe the run's gradients were planned for
  eo.source = p.path + " (case " + c.name + ", collision " + std::to_string(collision) + ")";
  compiler::BrukerExportResult r = compiler::export_bruker(rs.experiments, p.molecule, eo);
  const std::string readme = run_readme(p, c, collision, rs);
  for (auto& f : r.files)
    if (f.path == "README.txt") f.content += readme;
  r.summary = run_summary(r.summary);
  r.files.push_back({"weights.csv", weights_csv(rs)});
  const size_t ne = rs.weights.size(), ns = rs.protocol.readout.size();
  r.summary.push_back("run " + topspin_case_name(c.name) + "_m" + std::to_string(collision) + ": " +
                      std::to_string(ns) + " readout settings x " + std::to_string(ne) +
                      " temporal-averaging experiments = " + std::to_string(ns * ne) +
                      " EXPNOs measured, " + std::to_string(rs.experiments.size() - ns * ne) +
                      " more for the calibration (" + std::to_string(rs.groups.size()) +
                      " groups in all), " + std::to_string(rs.pulses) +
                      " compiled pulses (weights.csv)");
  r.summary.push_back(
      "gradients: PPS and bath areas x " + fmt::format("{:.6g}", rs.gradient_scale) + "; at most " +
      fmt::format("{:.3g}", rs.gradient_residual) +
      " of a single-quantum coherence left on a uniform " + fmt::format("{:.6g}", p.sample_cm) +
      "-" + fmt::format("{:.6g}", std::max(p.sample_cm, 1.8)) +
      " cm sample (simulated, README.txt)");
  return r;
}

namespace {

namespace sp = nmrc::spectrometer;

// Every number of an element, as bytes: EXPNOs whose first elements have equal keys share
// their propagation (virtual_console_fids).
std::string element_bytes(const Element& e) {
  std::string k(1, static_cast<char>('A' + e.index()));
  auto add = [&](const auto& v) { k.append(reinterpret_cast<const char*>(&v), sizeof v); };
  auto add_all = [&](const auto& vec) {
    add(vec.size());
    for (const auto& v : vec) add(v);
  };
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, RotationElement>) {
          add_all(x.spins);
          add(x.angle_rad);
          add(x.phase_rad);
        } else if constexpr (std::is_same_v<T, HardPulseElement>) {
          add(x.channel);
          add(x.angle_rad);
          add(x.phase_rad);
          add(x.rf_hz);
        } else if constexpr (std::is_same_v<T, ShapedPulseElement>) {
          add(x.dt_s);
          add_all(x.channels);
          for (const auto& u : x.ux_hz) add_all(u);
          for (const auto& u : x.uy_hz) add_all(u);
        } else if constexpr (std::is_same_v<T, DelayElement>) {
          add(x.duration_s);
        } else if constexpr (std::is_same_v<T, GradientElement>) {
          add(x.duration_s);
          add(x.strength_g_per_cm);
          add(x.shape_factor);
        } else if constexpr (std::is_same_v<T, UnitaryElement>) {
          add_all(x.spins);
          for (Eigen::Index i = 0; i < x.unitary.size(); ++i) add(x.unitary.data()[i]);
        }
      },
      e);
  return k;
}

// One CSV line (RFC 4180 as csv_field writes it: quoted cells, quotes doubled) into cells.
std::vector<std::string> csv_cells(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quoted && ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      out.back() += '"';
      ++i;
    } else if (ch == '"') {
      quoted = !quoted;
    } else if (ch == ',' && !quoted) {
      out.emplace_back();
    } else if (ch != '\r') {
      out.back() += ch;
    }
  }
  return out;
}

}  // namespace

std::vector<spectrometer::Fid> virtual_console_fids(
    const ExperimentProgram& p, const std::vector<Sequence>& sequences, const Imperfections& imp,
    const std::function<void(size_t, size_t)>& progress) {
  const Molecule& m = p.molecule;
  const int d = 1 << m.size();
  std::vector<std::pair<double, double>> members{{1.0, 1.0}};
  if (imp.b1_ensemble) {
    members.clear();
    double wsum = 0;
    for (double w : p.b1_weight) wsum += w;
    for (size_t i = 0; i < p.b1_scale.size(); ++i)
      members.push_back({p.b1_scale[i], p.b1_weight[i] / wsum});
  }
  const sp::ThermalState th = sp::thermal_equilibrium(m);
  // The run's unit (its Engine's epsilon): the nominal PPS polarisation, the ideal PPS from
  // thermal equilibrium fitted to |0...0> (spectrometer::fit_pps).
  sp::Sample ideal;
  ideal.molecule = m;
  const double eps =
      sp::fit_pps(sp::run_deviation(ideal, sp::pps_sequence(run_pps_steps(p)), th.rho)).epsilon;
  std::vector<Mat> acquired(sequences.size(), Mat::Zero(d, d));
  const size_t total = members.size() * sequences.size();
  for (size_t b = 0; b < members.size(); ++b) {
    sp::Sample sample = ideal;
    sample.relaxation = imp.relaxation;
    sample.b1_scale = {members[b].first};
    sample.b1_weight = {1.0};
    std::map<std::string, Mat> after;  // the state after each prefix played so far
    for (size_t k = 0; k < sequences.size(); ++k) {
      if (progress) progress(b * sequences.size() + k, total);
      const auto& el = sequences[k].elements;
      Mat rho = th.rho;
      std::string key;
      for (const Element& e : el) {
        if (std::holds_alternative<AcquireElement>(e)) break;
        key = content_hash_hex(key + element_bytes(e));
        if (auto it = after.find(key); it != after.end()) {
          rho = it->second;
          continue;
        }
        Sequence one;
        one.elements = {e};
        rho = sp::run_deviation(sample, one, rho);
        after.emplace(key, rho);
      }
      acquired[k] += members[b].second * rho;
    }
  }
  if (progress) progress(total, total);
  const Mat h0 = sp::Dynamics(m).h0();
  std::vector<sp::Fid> fids(sequences.size());
  for (size_t k = 0; k < sequences.size(); ++k) {
    const auto& el = sequences[k].elements;
    const AcquireElement* a = nullptr;
    for (const auto& e : el)
      if ((a = std::get_if<AcquireElement>(&e))) break;
    if (!a) throw InputError(sequences[k].name + ": no acquisition");
    sp::Fid& f = fids[k];
    f.channel = a->channel;
    f.sw_hz = a->sw_hz;
    f.receiver_phase_rad = a->receiver_phase_rad;
    f.points = sp::fid_signal(m, h0, sp::deviation(acquired[k]) / eps, a->channel, a->sw_hz, a->td,
                              a->receiver_phase_rad);
  }
  return fids;
}

namespace {

// The data folders of one group: DATA/k for its EXPNOs.
std::vector<std::string> group_folders(const RunGroup& g, size_t settings,
                                       const std::string& data_dir) {
  std::vector<std::string> out;
  for (size_t k = 0; k < settings * g.weights.size(); ++k)
    out.push_back(data_dir + "/" + std::to_string(g.first + k + 1));
  return out;
}

}  // namespace

PairCalibration calibrate_run_bruker(const ExperimentProgram& p, const CaseSpec& c,
                                     const std::vector<RunGroup>& groups,
                                     const std::string& data_dir, double scale) {
  const Molecule& m = p.molecule;
  const size_t ns = p.readout.settings.size();
  std::vector<std::vector<RVec>> lines[2];
  for (auto& l : lines) l.assign(kPairAcquisitions, {});
  for (const auto& g : groups) {
    const auto t = sp::tomography_from_bruker(m, p.readout.settings, group_folders(g, ns, data_dir),
                                              scale, g.weights);
    auto& v = lines[g.sign][static_cast<int>(g.acquisition)];
    for (const auto& o : t.outcomes) v.push_back(o.values);
  }
  // What the program's calibration needs, present (read_run_groups checked the layout; a
  // group list built otherwise is checked here).
  for (int sg = 0; sg < (p.inversion ? 2 : 1); ++sg)
    for (int a = 0; a < (p.reference ? kPairAcquisitions : 3); ++a)
      if (lines[sg][a].size() != ns)
        throw InputError(data_dir + ": no " + pair_acquisition_name(PairAcquisition(a)) +
                         " acquisition from " + sign_name(sg) +
                         " (the program's calibration needs it)");
  const sp::Tomographer tomo(p.readout.settings, m.size());
  return calibrate_pair(
      p, c, [&](const std::vector<RVec>& v) { return tomo.reconstruct(v).physical; }, lines);
}

RunPlayback console_run(const ExperimentProgram& p, const CaseSpec& c,
                        const std::vector<Sequence>& sequences, const std::vector<RunGroup>& groups,
                        const Imperfections& imp, const std::string& data_dir,
                        const std::function<void(size_t, size_t)>& progress,
                        const std::vector<std::string>& pulseprograms) {
  const Molecule& m = p.molecule;
  NMRC_CHECK(pulseprograms.empty() || pulseprograms.size() == sequences.size(),
             "one pulse program per EXPNO");
  const std::vector<sp::Fid> fids = virtual_console_fids(p, sequences, imp, progress);
  std::vector<sp::BrukerSeriesEntry> entries;
  for (size_t k = 0; k < fids.size(); ++k)
    entries.push_back({fids[k], sequences[k].name, "virtual console: " + sequences[k].name, ""});
  sp::write_bruker_series(data_dir, m, entries);
  // the pulse program each EXPNO played, where TopSpin keeps it (the reader's pre-acquisition
  // delay); write_bruker_series writes simulated datasets' comments only
  for (size_t k = 0; k < pulseprograms.size(); ++k)
    write_file_atomic(data_dir + "/" + std::to_string(k + 1) + "/pulseprogram", pulseprograms[k]);
  const RunGroup& measured = groups.front();
  const auto t = sp::tomography_from_bruker(
      m, p.readout.settings, group_folders(measured, p.readout.settings.size(), data_dir), 1.0,
      measured.weights);
  RunPlayback r;
  r.expnos = sequences.size();
  r.weights = measured.weights;
  r.rho = t.reconstruction.physical;
  const int n = m.size(), ns = static_cast<int>(c.system_spins.size());
  const Mat sys = partial_trace(r.rho, c.system_spins, n);
  for (int k = 0; k < ns; ++k) r.energy.push_back(thermo::subsystem_energy(sys, k, ns));
  r.bath_energy = thermo::subsystem_energy(partial_trace(r.rho, {c.bath_spin}, n), 0, 1);
  r.calibrated = calibrate_run_bruker(p, c, groups, data_dir);
  return r;
}

std::vector<RunGroup> read_run_groups(const std::string& dir, const ExperimentProgram& p,
                                      size_t* expnos, const std::string& run_tag) {
  const std::string wpath = dir + "/weights.csv";
  std::istringstream in(read_file(wpath));
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line != kWeightsHeader)
    throw InputError(wpath + ":1: " + escape_text(line) +
                     ": not the weights.csv of a run export (" + kWeightsHeader + ")");
  struct Row {
    std::string acquisition, sign, setting;
    long experiment;
    double weight;
  };
  std::vector<Row> rows;
  for (int row = 2; std::getline(in, line); ++row) {
    if (line.empty() || line == "\r") continue;
    const auto cells = csv_cells(line);
    const std::string where = wpath + ":" + std::to_string(row) + ": " + escape_text(line);
    if (rows.size() >= sp::kMaxBrukerSeries)
      throw InputError(where + ": more than " + std::to_string(sp::kMaxBrukerSeries) + " EXPNOs");
    char* end = nullptr;
    const long expno = cells.size() == 9 ? std::strtol(cells[0].c_str(), &end, 10) : -1;
    if (expno != static_cast<long>(rows.size()) + 1)
      throw InputError(where + ": expno: must be " + std::to_string(rows.size() + 1) +
                       " (one row per EXPNO, in order, 9 cells)");
    const long ex = std::strtol(cells[4].c_str(), &end, 10);
    const double w = std::strtod(cells[7].c_str(), &end);
    if (ex < 1 || ex > 4096 || !std::isfinite(w) || *end != '\0')
      throw InputError(where + ": experiment, weight: a number in 1..4096 and a finite weight");
    if (!run_tag.empty() && cells[8].rfind(run_tag + "_", 0) != 0)
      throw InputError(wpath + ":" + std::to_string(row) + ": pulprog = " + escape_text(cells[8]) +
                       ": not a pulse program of the run " + run_tag);
    rows.push_back({cells[1], cells[2], cells[3], ex, w});
  }
  // Groups: consecutive rows of one (acquisition, sign), laid out k = first + s E + i + 1 with
  // the settings in the program's readout-set order.
  const size_t ns = p.readout.settings.size();
  std::vector<RunGroup> groups;
  for (size_t k = 0; k < rows.size();) {
    RunGroup g;
    g.first = k;
    int a = -1;
    for (int j = 0; j < kPairAcquisitions; ++j)
      if (rows[k].acquisition == pair_acquisition_name(PairAcquisition(j))) a = j;
    const int sign = rows[k].sign == "equilibrium" ? 0 : rows[k].sign == "inverted" ? 1 : -1;
    if (a < 0 || sign < 0)
      throw InputError(wpath + ":" + std::to_string(k + 2) + ": acquisition = " +
                       escape_text(rows[k].acquisition) + ", sign = " + escape_text(rows[k].sign) +
                       ": must be prepared, contact, pps, thermal or thermal_contact, from "
                       "equilibrium or inverted");
    for (const auto& og : groups)
      if (og.acquisition == PairAcquisition(a) && og.sign == sign)
        throw InputError(wpath + ":" + std::to_string(k + 2) + ": " + rows[k].acquisition +
                         " from " + rows[k].sign + " again (one group each)");
    g.acquisition = PairAcquisition(a);
    g.sign = sign;
    size_t end = k;
    long ne = 0;
    while (end < rows.size() && rows[end].acquisition == rows[k].acquisition &&
           rows[end].sign == rows[k].sign) {
      ne = std::max(ne, rows[end].experiment);
      ++end;
    }
    if (end - k != ns * static_cast<size_t>(ne))
      throw InputError(wpath + ": " + rows[k].acquisition + " from " + rows[k].sign + ": " +
                       std::to_string(end - k) + " EXPNOs: need " + std::to_string(ns) +
                       " readout settings x " + std::to_string(ne) +
                       " experiments (the readout set " + p.readout.name + ")");
    g.weights.assign(ne, 0.0);
    for (size_t j = k; j < end; ++j) {
      const size_t s = (j - k) / ne, i = (j - k) % ne;
      if (rows[j].setting != p.readout.settings[s].name ||
          rows[j].experiment != static_cast<long>(i) + 1)
        throw InputError(wpath + ":" + std::to_string(j + 2) +
                         ": readout_setting = " + escape_text(rows[j].setting) +
                         ", experiment = " + std::to_string(rows[j].experiment) + ": EXPNO " +
                         std::to_string(j + 1) + " must be setting " + p.readout.settings[s].name +
                         ", experiment " + std::to_string(i + 1));
      if (s == 0) g.weights[i] = rows[j].weight;
      if (rows[j].weight != g.weights[i])
        throw InputError(wpath + ":" + std::to_string(j + 2) + ": weight: experiment " +
                         std::to_string(i + 1) + " has another weight in setting 0");
    }
    groups.push_back(std::move(g));
    k = end;
  }
  if (groups.empty() || groups.front().acquisition != PairAcquisition::kContact ||
      groups.front().sign != 0)
    throw InputError(wpath + ": the first EXPNOs must be the contact run from equilibrium");
  if (expnos) *expnos = rows.size();
  return groups;
}

RunPlayback play_back_run_bruker(const std::string& dir, const ExperimentProgram& p,
                                 const CaseSpec& c, const std::string& data_dir,
                                 const Imperfections& imp, int phase_sense,
                                 const std::function<void(size_t, size_t)>& progress) {
  size_t expnos = 0;
  const std::vector<RunGroup> groups = read_run_groups(dir, p, &expnos);
  std::vector<Sequence> seqs;
  std::vector<std::string> pps;
  for (size_t k = 0; k < expnos; ++k) {
    seqs.push_back(
        compiler::read_bruker_experiment(dir, static_cast<int>(k) + 1, p.molecule, phase_sense));
    pps.push_back(read_file(dir + "/" + std::to_string(k + 1) + "/pulseprogram"));
  }
  RunPlayback r = console_run(p, c, seqs, groups, imp, data_dir, progress, pps);
  // the data folder as a console's after the run: the export's EXPNOs and weights.csv, so that
  // `nmrc experiment --from-bruker DATA` reads it as it reads a console's
  write_file_atomic(data_dir + "/weights.csv", read_file(dir + "/weights.csv"));
  return r;
}

}  // namespace nmrc::experiment
