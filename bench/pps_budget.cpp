// Where the played pseudo-pure state's error comes from (issue 23): the PPS of Eq. (S15) as
// `nmrc experiment` plays it (experiment/src/run.cpp, prepare_pps: each step's operations as
// their compiled pulses, else as exact operations that still take their pulse's time, then the
// step's gradient; the spectrometer's exact engine, B1 ensemble of the program), with chosen
// pulses compiled and the relaxation switched on or off.
//
// Usage (from the source tree root): pps_budget [--pulse NAME=FILE.json]... [--design] PROGRAM.yaml
//   --pulse replaces the shipped pulse the protocol names NAME (e.g. pps2_cnot_c2_c1) by FILE.
//   --design adds step 1's rotation angles designed for the relaxation of the PPS's known
//   timing (issue 23, lever 1): the molecule file's T1 and T2 (measured constants, its
//   sources), each operation relaxing for its pulse's length as below; the final deviation is
//   affine in c_k = cos(theta_k) of the three step-1 rotations (each rotation acts on spin k
//   alone and its gradient keeps c_k Z_k; everything after is linear), so four runs give it
//   exactly and the angles minimise |dev - <u, dev> u / <u, u>| by linear least squares. Prints
//   the angles and the PPS with them, with exact and with compiled gates (rotations exact:
//   the compiled rotations are for the nominal angles).
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
  std::string one;             // kOne: only this pulse compiled
  std::vector<double> angles;  // step 1's rotation angles (rad) instead of the protocol's
};

}  // namespace

int main(int argc, char** argv) {
  try {
    std::map<std::string, std::string> replace;
    std::string path;
    bool design = false;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--pulse" && i + 1 < argc) {
        const std::string v = argv[++i];
        const auto eq = v.find('=');
        if (eq == std::string::npos) throw InputError("--pulse " + v + ": must be NAME=FILE");
        replace[v.substr(0, eq)] = v.substr(eq + 1);
      } else if (a == "--design") {
        design = true;
      } else {
        path = a;
      }
    }
    if (path.empty()) {
      std::fprintf(stderr,
                   "usage: pps_budget [--pulse NAME=FILE.json]... [--design] PROGRAM.yaml\n");
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
        {"exact operations, closed", Which::kNone, false, "", {}},
        {"exact operations, relaxing for the pulses' time", Which::kNone, true, "", {}},
        {"compiled rotations only, closed", Which::kRotations, false, "", {}},
        {"compiled gates only, closed", Which::kGates, false, "", {}},
        {"all compiled, closed", Which::kAll, false, "", {}},
        {"compiled rotations only, relaxation", Which::kRotations, true, "", {}},
        {"compiled gates only, relaxation", Which::kGates, true, "", {}},
        {"all compiled, relaxation (as played)", Which::kAll, true, "", {}},
    };
    for (const auto& st : proto.pps)
      for (const auto& nd : st.pulses)
        if (nd.kind.rfind("pps", 0) == 0)
          vars.push_back({"only " + nd.name + ", relaxation", Which::kOne, true, nd.name, {}});

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
    auto played = [&](const Variant& v) {
      Mat avg = Mat::Zero(d, d);
      for (size_t b = 0; b < p.b1_scale.size(); ++b) {
        sp::DynamicsOptions o;
        o.b1_scale = p.b1_scale[b];
        o.relaxation = v.relaxation;
        sp::Dynamics dyn(m, o);
        Sequence seq;
        size_t s = 0;
        for (const auto& st : proto.pps) {
          for (size_t i = 0; i < st.pulses.size(); ++i) {
            const auto& nd = st.pulses[i];
            const bool rot = nd.kind.rfind("pps", 0) != 0;
            const bool comp = (v.which == Which::kAll || (v.which == Which::kRotations && rot) ||
                               (v.which == Which::kGates && !rot) ||
                               (v.which == Which::kOne && nd.name == v.one)) &&
                              !(rot && s == 0 && !v.angles.empty());
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
              Element e = st.operations[i];
              if (auto* r = std::get_if<RotationElement>(&e); r && s == 0 && !v.angles.empty())
                r->angle_rad = v.angles.at(i);
              seq.elements.push_back(e);
            }
          }
          seq.elements.push_back(st.gradient);
          ++s;
        }
        sp::Sample sample;
        sample.molecule = m;
        sample.relaxation = v.relaxation;
        sample.b1_scale = {p.b1_scale[b]};
        avg += p.b1_weight[b] / wsum * sp::run_deviation(sample, seq, th.rho);
        // exact operations do not see B1 (nor the relaxation's channels): one member is all
        if (v.which == Which::kNone) {
          avg /= p.b1_weight[b] / wsum;
          break;
        }
      }
      return avg;
    };
    auto print = [&](const std::string& label, const Mat& avg) {
      const sp::PpsFit f = sp::fit_pps(avg);
      std::printf("%-52s %10.4f %12.4f\n", label.c_str(), f.epsilon / eps_nominal, f.error);
      std::fflush(stdout);
    };
    for (const auto& v : vars) print(v.label, played(v));
    if (design) {
      std::vector<double> c0;
      for (const auto& e : proto.pps.front().operations)
        if (const auto* r = std::get_if<RotationElement>(&e)) c0.push_back(std::cos(r->angle_rad));
      Mat u = -Mat::Identity(d, d) / double(d);
      u(0, 0) += 1.0;
      auto perp = [&](const Mat& x) {
        const Mat r = x - ((u.adjoint() * x).trace().real() / u.squaredNorm()) * u;
        Eigen::VectorXd v(2 * d * d);
        for (long a = 0; a < d * d; ++a) {
          v(a) = r.data()[a].real();
          v(d * d + a) = r.data()[a].imag();
        }
        return v;
      };
      auto angles_of = [](const std::vector<double>& c) {
        std::vector<double> a;
        for (double x : c) a.push_back(std::acos(x));
        return a;
      };
      const Eigen::VectorXd b0 = perp(played({"", Which::kNone, true, "", angles_of(c0)}));
      Eigen::MatrixXd a(b0.size(), static_cast<long>(c0.size()));
      const double h = 0.05;  // the map is affine: any step gives the same columns
      for (size_t k = 0; k < c0.size(); ++k) {
        std::vector<double> c = c0;
        c[k] += h;
        a.col(static_cast<long>(k)) =
            (perp(played({"", Which::kNone, true, "", angles_of(c)})) - b0) / h;
      }
      const Eigen::VectorXd x = a.colPivHouseholderQr().solve(-b0);
      std::vector<double> c = c0;
      for (size_t k = 0; k < c.size(); ++k) c[k] += x(static_cast<long>(k));
      const std::vector<double> designed = angles_of(c);
      std::printf("step 1 angles for the relaxation (degrees; protocol's in brackets):");
      for (size_t k = 0; k < c.size(); ++k)
        std::printf(" %.3f (%.3f)", designed[k] * 180 / kPi, std::acos(c0[k]) * 180 / kPi);
      std::printf("\n");
      print("designed angles, exact operations, relaxing",
            played({"", Which::kNone, true, "", designed}));
      print("designed angles, compiled gates, relaxation",
            played({"", Which::kGates, true, "", designed}));
    }
    return 0;
  } catch (const InputError& e) {
    std::fprintf(stderr, "pps_budget: %s\n", e.what());
    return 2;
  }
}
