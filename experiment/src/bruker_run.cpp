#include "nmrc/experiment/bruker_run.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>

#include "nmrc/core/error.hpp"
#include "nmrc/core/jcamp.hpp"
#include "nmrc/core/text.hpp"

namespace nmrc::experiment {

namespace {

// A line of the README from input text (names, titles, paths).
std::string line_text(const std::string& s, const char* field) {
  return console_text(s, ConsoleText::kTextLine, field);
}

std::string num(double v, const char* f = "%.6g") {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

std::string topspin_case_name(const std::string& case_name) {
  std::string o;
  for (char ch : case_name) o += ch == '.' ? 'p' : (ch == '-' ? 'm' : ch);
  return o;
}

compiler::BrukerExportResult export_run_bruker(const ExperimentProgram& p, const CaseSpec& c,
                                               int collision, PulseLibrary& lib,
                                               const compiler::BrukerExportOptions& o,
                                               const CompileProgress& progress) {
  const Molecule& m = p.molecule;
  if (!(o.gpz_max_g_per_cm > 0))
    throw InputError("--gpz-max = " + num(o.gpz_max_g_per_cm) + ": must be > 0 G/cm");
  const RunProtocol proto = run_protocol(p, c, collision);
  // Every pulse of the run, compiled (or found) once.
  std::map<std::string, ShapedPulseElement> shaped;
  auto pulse = [&](const PulseNeed& nd) -> const ShapedPulseElement& {
    if (auto it = shaped.find(nd.name); it != shaped.end()) return it->second;
    compiler::CompileOptions co = p.compile;
    const PulseShape sh = pulse_shape(p, nd.kind);
    co.duration_s = sh.duration_s;
    co.steps = sh.steps;
    ShapedPulseElement e = lib.get(nd, co, progress).pulse.element(m);
    e.name = nd.name;
    return shaped.emplace(nd.name, std::move(e)).first->second;
  };
  // A gradient beyond the probe's maximum: the same area at the maximum, longer (whole us).
  std::vector<std::string> stretched;
  auto gradient = [&](GradientElement g, const std::string& what) {
    if (std::abs(g.strength_g_per_cm) > o.gpz_max_g_per_cm) {
      const double area = g.strength_g_per_cm * g.duration_s;
      const double t = std::ceil(std::abs(area) / o.gpz_max_g_per_cm * 1e6 - 1e-6) * 1e-6;
      stretched.push_back(what + ": " + num(g.strength_g_per_cm) + " G/cm for " +
                          num(g.duration_s * 1e3) + " ms played as " + num(area / t) +
                          " G/cm for " + num(t * 1e3) + " ms (same area)");
      g.duration_s = t;
      g.strength_g_per_cm = area / t;
    }
    return g;
  };
  // The part every EXPNO shares up to the temporal-averaging pulses, with a label per element.
  std::vector<Element> head;
  std::vector<std::string> head_where;
  const std::string where0 =
      p.path + ": case " + c.name + ", collision " + std::to_string(collision) + ", ";
  for (const auto& st : proto.pps) {
    for (const auto& nd : st.pulses) {
      head.push_back(pulse(nd));
      head_where.push_back(where0 + st.name + " pulse " + nd.name);
    }
    head.push_back(gradient(st.gradient, st.name + " gradient"));
    head_where.push_back(where0 + st.name + " gradient");
  }
  head.push_back(pulse(proto.bath));
  head_where.push_back(where0 + "bath pulse " + proto.bath.name);
  head.push_back(gradient(proto.bath_gradient, "bath gradient"));
  head_where.push_back(where0 + "bath gradient");
  std::vector<Element> tail;  // U_d and contact
  std::vector<std::string> tail_where;
  if (proto.ud) {
    tail.push_back(pulse(*proto.ud));
    tail_where.push_back(where0 + "U_d pulse " + proto.ud->name);
  }
  for (const auto& nd : proto.contact) {
    tail.push_back(pulse(nd));
    tail_where.push_back(where0 + "contact pulse " + nd.name);
  }
  AcquireElement acq;
  acq.channel = 0;
  acq.sw_hz = p.sw_hz;
  acq.td = p.td;
  const std::string tag = topspin_case_name(c.name) + "_m" + std::to_string(collision);
  const size_t ne = proto.experiments.size(), ns = proto.readout.size();
  std::vector<compiler::BrukerExperimentInput> inputs;
  std::ostringstream weights;
  weights << "expno,readout_setting,experiment,basis_state,flipped,weight,pulprog\n";
  for (size_t s = 0; s < ns; ++s) {
    for (size_t i = 0; i < ne; ++i) {
      const auto& ex = proto.experiments[i];
      auto where = std::make_shared<std::vector<std::string>>(head_where);
      Sequence seq;
      seq.name = tag + "_e" + std::to_string(i + 1) + "_" + proto.readout[s].first;
      seq.elements = head;
      std::string flipped;
      for (const auto& nd : ex.flips) {
        seq.elements.push_back(pulse(nd));
        where->push_back(where0 + "temporal-averaging pulse " + nd.name);
        flipped += (flipped.empty() ? "" : " ") + nd.name;
      }
      seq.elements.insert(seq.elements.end(), tail.begin(), tail.end());
      where->insert(where->end(), tail_where.begin(), tail_where.end());
      for (const auto& nd : proto.readout[s].second) {
        seq.elements.push_back(pulse(nd));
        where->push_back(where0 + "readout " + proto.readout[s].first + " pulse " + nd.name);
      }
      seq.elements.push_back(acq);
      where->push_back(where0 + "acquisition");
      inputs.push_back({seq.name, seq, [where](size_t k) {
                          return k < where->size() ? (*where)[k] : std::string();
                        }});
      weights << s * ne + i + 1 << "," << csv_field(proto.readout[s].first) << "," << i + 1 << ","
              << ex.basis_state << "," << csv_field(flipped.empty() ? "none" : flipped) << ","
              << num(ex.weight, "%.17g") << "," << csv_field(seq.name) << "\n";
    }
  }
  std::string wlist;  // the weights for nmrc tomography --weights
  for (const auto& ex : proto.experiments) {
    // appended piecewise: `"," + std::string&&` trips GCC 12's -Wrestrict (PR 105329)
    if (!wlist.empty()) wlist += ',';
    wlist += num(ex.weight, "%.17g");
  }
  compiler::BrukerExportOptions eo = o;
  eo.source = p.path + " (case " + c.name + ", collision " + std::to_string(collision) + ")";
  compiler::BrukerExportResult r = compiler::export_bruker(inputs, m, eo);
  // The experiment's own part of the README: what the EXPNOs are and how they combine.
  std::ostringstream rd;
  rd << "\nThe run exported: experiment " << line_text(p.name, "experiment name") << ", case "
     << line_text(c.name, "case name") << " (" << line_text(c.title, "case title")
     << "), collision " << collision << " (docs/experiment-format.md, protocol of one run)\n"
     << "Every EXPNO plays, in order:\n"
     << "  1. pseudo-pure state (Eq. (S15)): 4 steps, each its compiled pulses then a gradient:\n";
  for (const auto& st : proto.pps) {
    rd << "     " << st.name << ":";
    for (const auto& nd : st.pulses) rd << " " << nd.name;
    rd << " + gradient " << num(st.gradient.strength_g_per_cm) << " G/cm, "
       << num(st.gradient.duration_s * 1e3) << " ms\n";
  }
  rd << "  2. bath spin " << line_text(m.nuclei[c.bath_spin].label, "spin label")
     << " at T_R = " << num(c.params.bath_temperature) << ": " << proto.bath.name << " + gradient\n"
     << "  3. temporal averaging: experiment i's pi pulses (weights.csv)"
     << (proto.ud ? ", then U_d " + proto.ud->name : std::string(" (U_d = I)")) << "\n"
     << "  4. contact:";
  for (const auto& nd : proto.contact) rd << " " << nd.name;
  rd << "\n  5. readout setting s (pi/2 pulses rx90_*/ry90_*), acquisition (go=2 ph31)\n\n"
     << "EXPNO k = s x " << ne << " + i + 1: readout setting s = 0.." << ns - 1
     << " (the readout set " << line_text(p.readout.name, "readout set name")
     << "), temporal-averaging experiment i = 0.." << ne - 1 << ".\n"
     << "Run them in EXPNO order (queue.mac). How they combine: for each readout setting, the\n"
     << "FID of the prepared state is the weighted sum sum_i w_i FID_i of its " << ne << " EXPNOs\n"
     << "(weights.csv; the weights sum to 1), e.g. in TopSpin with `add` after scaling each\n"
     << "EXPNO by w_i. The " << ns << " sums are the tomography's readout set; nmrc adds\n"
     << "them and reconstructs the state from this folder once the EXPNOs hold data:\n"
     << "  nmrc tomography --from-bruker DIR --molecule "
     << line_text(p.molecule_path, "molecule path") << " \\\n"
     << "      --readout READOUT.yaml --weights " << wlist << " --out OUT\n"
     << "(READOUT.yaml: the program's readout set " << line_text(p.readout.name, "readout set name")
     << "; a console's FIDs need the factor to nmrc's units, --scale).\n"
     << "Not exported (the virtual experiment's calibration): the inversion-paired run from\n"
     << "inverted equilibrium and the reference runs; repeat the export with other cases.\n";
  if (!stretched.empty()) {
    rd << "\nGradients above GPZ 100 % (--gpz-max " << num(o.gpz_max_g_per_cm)
       << " G/cm) are played at 100 % for longer, with the same area:\n";
    for (const auto& s : stretched) rd << "  " << s << "\n";
  }
  for (auto& f : r.files)
    if (f.path == "README.txt") f.content += rd.str();
  // One summary line per EXPNO is too many here: keep the first and the last.
  std::vector<std::string> summary;
  size_t first = r.summary.size(), last = 0;
  for (size_t i = 0; i < r.summary.size(); ++i)
    if (r.summary[i].rfind("experiment ", 0) == 0) {
      first = std::min(first, i);
      last = i;
    }
  // Of the power lines (one per EXPNO, each within the probe's limits or the export would have
  // been refused) the first and the last are kept, as for the experiments.
  size_t first_power = r.summary.size(), last_power = 0;
  for (size_t i = 0; i < r.summary.size(); ++i)
    if (r.summary[i].rfind("power ", 0) == 0) {
      first_power = std::min(first_power, i);
      last_power = i;
    }
  for (size_t i = 0; i < r.summary.size(); ++i) {
    const bool expno = r.summary[i].rfind("experiment ", 0) == 0;
    const bool power = r.summary[i].rfind("power ", 0) == 0;
    if (power && i != first_power && i != last_power) continue;
    if (!expno || i == first || i == last) summary.push_back(r.summary[i]);
    if (expno && i == first && last > first + 1) summary.push_back("...");
  }
  r.summary = std::move(summary);
  r.files.push_back({"weights.csv", weights.str()});
  r.summary.push_back("run " + tag + ": " + std::to_string(ns) + " readout settings x " +
                      std::to_string(ne) +
                      " temporal-averaging experiments = " + std::to_string(ns * ne) + " EXPNOs, " +
                      std::to_string(shaped.size()) + " compiled pulses (weights.csv)");
  return r;
}

}  // namespace nmrc::experiment
