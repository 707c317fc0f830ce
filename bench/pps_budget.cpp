// Where the played pseudo-pure state's error comes from (issue 23): the PPS of Eq. (S15) as
// `nmrc experiment` plays it (experiment/src/run.cpp, prepare_pps: each step's operations as
// their compiled pulses, else as exact operations that still take their pulse's time, then the
// step's gradient; the spectrometer's exact engine, B1 ensemble of the program), with chosen
// pulses compiled and the relaxation switched on or off.
//
// Usage (from the source tree root): pps_budget [--pulse NAME=FILE.json]... PROGRAM.yaml
//   --pulse replaces the shipped pulse the protocol names NAME (e.g. pps2_cnot_c2_c1) by FILE.
// Prints, per variant, the PPS scale (the fitted epsilon of Eq. (S13)'s form over the nominal
// one: what the run's calibration divides by) and the shape error |dev - eps u| / |dev|
// (spectrometer::fit_pps: the part of the deviation that is not the designed |0000><0000|,
// which the temporal averaging carries into every prepared state), B1-weighted.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "nmrc/core/error.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/protocol.hpp"
#include "nmrc/experiment/pulses.hpp"
#include "nmrc/spectrometer/preparation.hpp"
#include "nmrc/spectrometer/propagation.hpp"

using namespace nmrc;
namespace sp = nmrc::spectrometer;
namespace ex = nmrc::experiment;

namespace {

enum class Which { kNone, kRotations, kGates, kAll, kOne };

struct Variant {
  std::string label;
  Which which;
  bool relaxation;
  std::string one;  // kOne: only this pulse compiled
};

}  // namespace

int main(int argc, char** argv) {
  try {
    std::map<std::string, std::string> replace;
    std::string path;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--pulse" && i + 1 < argc) {
        const std::string v = argv[++i];
        const auto eq = v.find('=');
        if (eq == std::string::npos) throw InputError("--pulse " + v + ": must be NAME=FILE");
        replace[v.substr(0, eq)] = v.substr(eq + 1);
      } else {
        path = a;
      }
    }
    if (path.empty()) {
      std::fprintf(stderr, "usage: pps_budget [--pulse NAME=FILE.json]... PROGRAM.yaml\n");
      return 2;
    }
    const ex::ExperimentProgram p = ex::load_experiment_program(path);
    const Molecule& m = p.molecule;
    const int n = m.size();
    const long d = 1L << n;
    ex::PulseLibrary lib(m, p.compiled_dir, "", ex::CompileMode::kNever, {});
    const auto proto = ex::run_protocol(p, p.cases.front(), 1);
    std::map<std::string, PulseData> pulses;
    for (const auto& st : proto.pps)
      for (const auto& nd : st.pulses) {
        if (auto it = replace.find(nd.name); it != replace.end()) {
          pulses[nd.name] = read_pulse_file(it->second);
        } else {
          pulses[nd.name] = lib.get(nd, ex::pulse_compile_options(p, nd.kind), {},
                                    ex::pulse_shape(p, nd.kind).fidelity_target)
                                .pulse;
        }
        std::printf("%-22s %s %.1f ms, F_min %.6f\n", nd.name.c_str(), nd.kind.c_str(),
                    pulses[nd.name].duration_s() * 1e3, pulses[nd.name].ensemble_min);
      }

    std::vector<Variant> vars = {
        {"exact operations, closed", Which::kNone, false, ""},
        {"exact operations, relaxing for the pulses' time", Which::kNone, true, ""},
        {"compiled rotations only, closed", Which::kRotations, false, ""},
        {"compiled gates only, closed", Which::kGates, false, ""},
        {"all compiled, closed", Which::kAll, false, ""},
        {"compiled rotations only, relaxation", Which::kRotations, true, ""},
        {"compiled gates only, relaxation", Which::kGates, true, ""},
        {"all compiled, relaxation (as played)", Which::kAll, true, ""},
    };
    for (const auto& st : proto.pps)
      for (const auto& nd : st.pulses)
        if (nd.kind.rfind("pps", 0) == 0)
          vars.push_back({"only " + nd.name + ", relaxation", Which::kOne, true, nd.name});

    const auto th = sp::thermal_equilibrium(m);
    const Mat id = Mat::Identity(d, d) / double(d);
    double eps_nominal = 0;
    {
      sp::Sample ideal;
      ideal.molecule = m;
      eps_nominal =
          sp::fit_pps(sp::run_deviation(ideal, sp::pps_sequence(ex::run_pps_steps(p)), th.rho))
              .epsilon;
    }
    double wsum = 0;
    for (double w : p.b1_weight) wsum += w;
    std::printf("nominal epsilon %.6e; B1 members %zu\n", eps_nominal, p.b1_scale.size());
    std::printf("%-52s %10s %12s\n", "variant", "PPS scale", "shape error");
    for (const auto& v : vars) {
      Mat avg = Mat::Zero(d, d);
      for (size_t b = 0; b < p.b1_scale.size(); ++b) {
        sp::DynamicsOptions o;
        o.b1_scale = p.b1_scale[b];
        o.relaxation = v.relaxation;
        sp::Dynamics dyn(m, o);
        Sequence seq;
        for (const auto& st : proto.pps) {
          for (size_t i = 0; i < st.pulses.size(); ++i) {
            const auto& nd = st.pulses[i];
            const bool rot = nd.kind.rfind("pps", 0) != 0;
            const bool comp = v.which == Which::kAll || (v.which == Which::kRotations && rot) ||
                              (v.which == Which::kGates && !rot) ||
                              (v.which == Which::kOne && nd.name == v.one);
            if (comp) {
              seq.elements.push_back(pulses[nd.name].element(m));
            } else {
              if (v.relaxation) {  // as run.cpp's exact_gate: the pulse's time relaxing
                const double t = ex::pulse_shape(p, nd.kind).duration_s;
                sp::Segment seg;
                seg.duration_s = t;
                seg.ux_hz.assign(dyn.channels(), 0.0);
                seg.uy_hz.assign(dyn.channels(), 0.0);
                std::vector<int> all(n);
                for (int k = 0; k < n; ++k) all[k] = k;
                seq.elements.push_back(DelayElement{t});
                seq.elements.push_back(UnitaryElement{"free precession undone", all,
                                                      sp::exact_unitary(dyn, {seg}).adjoint()});
              }
              seq.elements.push_back(st.operations[i]);
            }
          }
          seq.elements.push_back(st.gradient);
        }
        sp::Sample sample;
        sample.molecule = m;
        sample.relaxation = v.relaxation;
        sample.b1_scale = {p.b1_scale[b]};
        avg += p.b1_weight[b] / wsum * sp::run_deviation(sample, seq, th.rho);
      }
      const sp::PpsFit f = sp::fit_pps(avg);
      std::printf("%-52s %10.4f %12.4f\n", v.label.c_str(), f.epsilon / eps_nominal, f.error);
      std::fflush(stdout);
    }
    return 0;
  } catch (const InputError& e) {
    std::fprintf(stderr, "pps_budget: %s\n", e.what());
    return 2;
  }
}
