#include "nmrc/compiler/gate_types.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/program_front_end.hpp"
#include "nmrc/core/states.hpp"
#include "nmrc/core/text.hpp"
#include "nmrc/core/yaml_choice.hpp"
#include "nmrc/spectrometer/preparation.hpp"

namespace nmrc::compiler {

using nlohmann::json;

void GateDescription::fail(const std::string& field, const std::string& rule) const {
  throw InputError(where + ": target." + field + ": " + rule);
}

double GateDescription::number(const char* key) const {
  if (!d.contains(key) || !d[key].is_number()) fail(key, "missing number");
  return d[key].get<double>();
}

// Each gate type's reader and builder (named gate_*: this file is one unit of a unity build).
namespace {

// The characters of a state-transfer product state (product_state in targets.cpp).
constexpr const char* kProductStateAlphabet = "01+-";

// ---- partial_swap and zz: theta_rad --------------------------------------------------------
void gate_read_theta(const GateYaml& y, json& d) {
  d["theta_rad"] = y.element.at("theta_rad").as_double();
}
void gate_build_partial_swap(const GateDescription& d, GateTarget& t) {
  t.local = partial_swap_unitary(d.number("theta_rad"));
}
void gate_build_zz(const GateDescription& d, GateTarget& t) {
  t.local = zz_unitary(d.number("theta_rad"));
}
// The quantum speed limit of a partial SWAP on its direct coupling (partial_swap_bound_s).
double gate_bound_partial_swap(const json& d, const Molecule& m, const std::vector<int>& spins) {
  return partial_swap_bound_s(d.value("theta_rad", 0.0), m.j_hz(spins[0], spins[1]));
}

// ---- cnot and cz: no parameters ------------------------------------------------------------
void gate_read_none(const GateYaml&, json&) {}
void gate_build_cnot(const GateDescription&, GateTarget& t) { t.local = cnot_unitary(); }
void gate_build_cz(const GateDescription&, GateTarget& t) { t.local = cz_unitary(); }

// ---- rotation: angle, phase or axis, the same rotation on every named spin ----------------
void gate_read_rotation(const GateYaml& y, json& d) {
  const YamlField& g = y.element;
  d["angle_rad"] = *ProgramFrontEnd::angle(g, "angle", true);
  std::string axis = "phase";
  if (auto a = g.find("axis")) {
    axis = yaml_choice<std::string>(*a, {{"x", "x"}, {"y", "y"}, {"z", "z"}});
    if (g.has("phase_rad") || g.has("phase_deg"))
      a->fail("conflicting options: give axis or phase, not both");
  }
  double phase = ProgramFrontEnd::angle(g, "phase", false).value_or(0.0);
  if (axis == "y") phase = kPi / 2;
  if (axis == "z") d["axis"] = "z";
  d["phase_rad"] = phase;
}
void gate_build_rotation(const GateDescription& d, GateTarget& t) {
  if (d.d.contains("axis") && !d.d["axis"].is_string())
    d.fail("axis", "must be a string (z, or absent)");
  if (d.d.contains("phase_rad") && !d.d["phase_rad"].is_number())
    d.fail("phase_rad", "must be a number");
  const std::string axis = d.d.value("axis", std::string("phase"));
  const Mat r =
      rotation_unitary(d.number("angle_rad"), d.d.value("phase_rad", 0.0), axis == "z" ? 'z' : 'p');
  t.local = Mat::Identity(1, 1);
  for (size_t i = 0; i < t.spins.size(); ++i) t.local = kron(t.local, r);
}

// ---- unitary (a file) and ud (U_d of Eq. (1)): a local_unitary in the description ---------
void gate_read_unitary(const GateYaml& y, json& d) {
  // A unitary file ({"real": [[...]], "imag": [[...]]}, core's matrix_from_json): its rules
  // name the place in that file; an unreadable file is placed at the program's `file:` field.
  const YamlField f = y.element.at("file");
  const std::string path = f.as_input_file(y.base_dir);
  std::string text;
  try {
    text = read_file(path);
  } catch (const InputError& e) {
    f.fail(std::string("unitary file: ") + e.what());
  }
  const Mat u = matrix_from_json(text, {0, /*imag_optional=*/false, path},
                                 [](const std::string& rule) { throw InputError(rule); });
  const size_t n = y.labels.size();
  if (u.rows() != (1 << n))
    f.fail("matrix is " + std::to_string(u.rows()) + "x" + std::to_string(u.cols()) + " but " +
           std::to_string(n) + " spins need " + std::to_string(1 << n));
  if (!is_unitary(u, 1e-6)) f.fail("matrix is not unitary (max |U^dag U - 1| > 1e-6)");
  d["file"] = f.as_string();
  d["local_unitary"] = json::parse(nmrc::matrix_json(u));
}
// U_d with rho_S^0 = U_d rho_d U_d^dag for the coherent thermal state of Eq. (1) (Huang et al.,
// Eqs. (S4)-(S5)), the same c for every pair (Fig. 3's setting).
void gate_read_ud(const GateYaml& y, json& d) {
  const YamlField& g = y.element;
  const YamlField cf = g.at("c");
  cplx c;
  if (cf.is_scalar()) {
    c = cf.as_double();
  } else {
    cf.expect_map();
    cf.allow_keys({"re", "im"});
    c = cplx(cf.at("re").as_double(), cf.has("im") ? cf.at("im").as_double() : 0.0);
  }
  std::vector<double> temps(y.labels.size(), 1.0);
  if (auto tf = g.find("temperatures")) {
    temps = tf->as_double_list();
    if (temps.size() != y.labels.size()) tf->fail("needs one temperature per spin");
    for (double x : temps)
      if (!(x > 0)) tf->fail("temperatures must be > 0");
  }
  std::vector<PairCoherence> pairs;
  for (int p = 0; p < static_cast<int>(temps.size()); ++p)
    for (int q = p + 1; q < static_cast<int>(temps.size()); ++q) pairs.push_back({p, q, c});
  const Mat rho = coherent_thermal_state(temps, pairs);
  if (hermitian_eigenvalues(rho).minCoeff() < -1e-12)
    cf.fail("the coherent state is not positive (|c| too large for these temperatures)");
  d["c"] = {{"re", c.real()}, {"im", c.imag()}};
  d["temperatures"] = temps;
  d["local_unitary"] =
      json::parse(nmrc::matrix_json(spectrometer::diagonalize_near_identity(rho).u_d));
}
void gate_build_unitary(const GateDescription& d, GateTarget& t) {
  if (!d.d.contains("local_unitary")) d.fail("local_unitary", "missing");
  // core's one reader of matrix JSON (its size limit included).
  t.local = nmrc::matrix_from_json(
      d.d["local_unitary"].dump(), {0, /*imag_optional=*/false, /*source=*/""},
      [&d](const std::string& rule) { d.fail("local_unitary", rule); });
  if (t.local.rows() != (1 << t.spins.size()))
    d.fail("local_unitary", "dimension must be 2^(number of spins)");
  if (!is_unitary(t.local, 1e-6)) d.fail("local_unitary", "is not unitary (U^dag U != 1)");
}

// ---- state_transfer: product states to product states --------------------------------------
void gate_read_state_transfer(const GateYaml& y, json& d) {
  const YamlField tr = y.element.at("transfers");
  const size_t n = y.labels.size();
  json list = json::array();
  for (const auto& item : tr.items()) {
    item.expect_map();
    item.allow_keys({"from", "to"});
    for (const char* key : {"from", "to"}) {
      const YamlField s = item.at(key);
      const std::string v = s.as_string();
      if (v.size() != n || v.find_first_not_of(kProductStateAlphabet) != std::string::npos)
        s.fail("needs one of 0, 1, +, - per spin (" + std::to_string(n) + ")");
    }
    list.push_back({{"from", item.at("from").as_string()}, {"to", item.at("to").as_string()}});
  }
  if (list.empty()) tr.fail("must list at least one {from, to}");
  d["transfers"] = list;
}
void gate_build_state_transfer(const GateDescription& d, GateTarget& t) {
  const json& tr_list = d.d.contains("transfers") ? d.d["transfers"] : json();
  if (!tr_list.is_array() || tr_list.empty())
    d.fail("transfers", "must be a non-empty list of {from, to}");
  for (const auto& tr : tr_list) {
    if (!tr.is_object() || !tr.contains("from") || !tr.contains("to") || !tr["from"].is_string() ||
        !tr["to"].is_string())
      d.fail("transfers", "each entry must be {\"from\": \"...\", \"to\": \"...\"}");
    const std::string from = tr["from"].get<std::string>();
    const std::string to = tr["to"].get<std::string>();
    if (from.find_first_not_of(kProductStateAlphabet) != std::string::npos ||
        to.find_first_not_of(kProductStateAlphabet) != std::string::npos)
      d.fail("transfers", "use the characters 0, 1, +, - (one per spin)");
    if (from.size() != t.spins.size() || to.size() != t.spins.size())
      d.fail("transfers", "each from/to needs one character (0, 1, +, -) per spin");
    t.transfers.push_back({product_state(from), product_state(to)});
  }
}

const GateParameter kTheta{"theta_rad", "rad", "any real (the partial SWAP's theta = g tau)"};

}  // namespace

const std::vector<GateDescriptor>& gate_descriptors() {
  // docs/program-format.md, "Gate targets", documents each for users.
  static const std::vector<GateDescriptor> table = {
      {"partial_swap",
       2,
       2,
       "exp(-i theta (sigma+ sigma- + sigma- sigma+)), Huang et al. Eq. (2)",
       {kTheta},
       GateMeasure::kUnitary,
       true,
       gate_read_theta,
       gate_build_partial_swap,
       gate_bound_partial_swap},
      {"rotation",
       1,
       0,
       "exp(-i angle/2 (cos(phase) X + sin(phase) Y)) or about z, on each named spin",
       {{"angle_rad", "rad", "any real (or angle_deg)"},
        {"angle_deg", "deg", "any real (or angle_rad)"},
        {"phase_rad", "rad", "any real (or phase_deg, or axis)"},
        {"phase_deg", "deg", "any real (or phase_rad, or axis)"},
        {"axis", "", "x, y or z (not with a phase)"}},
       GateMeasure::kUnitary,
       true,
       gate_read_rotation,
       gate_build_rotation,
       nullptr},
      {"zz",
       2,
       2,
       "exp(-i theta/2 Z (x) Z)",
       {kTheta},
       GateMeasure::kUnitary,
       true,
       gate_read_theta,
       gate_build_zz,
       nullptr},
      {"cnot",
       2,
       2,
       "CNOT, the first spin the control",
       {},
       GateMeasure::kUnitary,
       true,
       gate_read_none,
       gate_build_cnot,
       nullptr},
      {"cz",
       2,
       2,
       "controlled Z",
       {},
       GateMeasure::kUnitary,
       true,
       gate_read_none,
       gate_build_cz,
       nullptr},
      {"unitary",
       1,
       0,
       "a unitary read from a file (core's matrix layout)",
       {{"file", "", "a JSON file {real, imag}, 2^n x 2^n, unitary to 1e-6"}},
       GateMeasure::kUnitary,
       true,
       gate_read_unitary,
       gate_build_unitary,
       nullptr},
      {"ud",
       2,
       6,
       "U_d of the coherent thermal state, Huang et al. Eq. (1), (S4)-(S5)",
       {{"c", "", "a real or {re, im}: the coherence of every pair; the state must be positive"},
        {"temperatures", "", "one T_k > 0 per spin, in the paper's units (default 1)"}},
       GateMeasure::kUnitary,
       true,
       gate_read_ud,
       gate_build_unitary,
       nullptr},
      {"state_transfer",
       1,
       0,
       "product states to product states (0, 1, +, - per spin)",
       {{"transfers", "", "a non-empty list of {from, to}, one of 0, 1, +, - per spin"}},
       GateMeasure::kStateTransfer,
       false,
       gate_read_state_transfer,
       gate_build_state_transfer,
       nullptr},
  };
  return table;
}

const GateDescriptor* find_gate_descriptor(const std::string& name) {
  for (const auto& g : gate_descriptors())
    if (name == g.name) return &g;
  return nullptr;
}

const GateDescriptor& gate_descriptor(const std::string& name) {
  if (const GateDescriptor* g = find_gate_descriptor(name)) return *g;
  throw std::logic_error("gate_descriptor: no gate type " + name);
}

const char* GateTarget::type_name() const { return descriptor ? descriptor->name : "unknown"; }

std::string gate_type_names() {
  std::string s;
  for (const auto& g : gate_descriptors()) s += (s.empty() ? "" : ", ") + std::string(g.name);
  return s;
}

std::string arity_rule(const GateDescriptor& g) {
  const auto spins = [](int k) { return std::to_string(k) + (k == 1 ? " spin" : " spins"); };
  if (g.max_spins == g.min_spins) return "acts on exactly " + spins(g.min_spins);
  if (g.max_spins == 0) return "acts on at least " + spins(g.min_spins);
  return "acts on " + std::to_string(g.min_spins) + " to " + spins(g.max_spins);
}

bool arity_allows(const GateDescriptor& g, size_t count) {
  return count >= static_cast<size_t>(g.min_spins) &&
         (g.max_spins == 0 || count <= static_cast<size_t>(g.max_spins));
}

GateTarget target_from_description(const json& d, const Molecule& m, const std::string& where) {
  const GateDescription desc{d, where};
  if (!d.is_object() || !d.contains("gate") || !d["gate"].is_string())
    desc.fail("gate", "missing (the pulse file does not say what it implements)");
  const std::string gate = d["gate"].get<std::string>();
  const GateDescriptor* g = find_gate_descriptor(gate);
  if (!g)
    desc.fail("gate", "unknown gate " + escape_text(gate) + " (known: " + gate_type_names() + ")");
  GateTarget t;
  t.descriptor = g;
  t.state_transfer = g->measure == GateMeasure::kStateTransfer;
  t.description_json = d.dump();
  if (d.contains("up_to")) {
    if (!d["up_to"].is_string() || d["up_to"].get<std::string>() != "diagonal_phases")
      desc.fail("up_to", "must be \"diagonal_phases\" (or absent: the gate exactly)");
    if (!g->up_to_diagonal_phases)
      desc.fail("up_to", "a " + std::string(g->name) + " has no diagonal-phase freedom");
    t.diagonal_phases = true;
  }
  std::vector<std::string> labels;
  if (d.contains("spins")) {
    if (!d["spins"].is_array()) desc.fail("spins", "must be a list of spin labels");
    for (const auto& l : d["spins"]) {
      if (!l.is_string()) desc.fail("spins", "must be a list of spin labels");
      labels.push_back(l.get<std::string>());
    }
  }
  if (labels.size() > static_cast<size_t>(m.size()))
    desc.fail("spins", "names more spins than the molecule has");
  for (const auto& l : labels) {
    const int k = m.index_of(l);
    if (k < 0)
      desc.fail("spins", "unknown spin " + escape_text(l) + " (known: " + m.labels_text() + ")");
    if (std::find(t.spins.begin(), t.spins.end(), k) != t.spins.end())
      desc.fail("spins", "spin " + l + " named twice");
    t.spins.push_back(k);
    t.spin_labels.push_back(l);
  }
  if (!arity_allows(*g, t.spins.size())) desc.fail("spins", "gate " + gate + " " + arity_rule(*g));
  g->build(desc, t);
  return t;
}

json rotation_description(const std::vector<std::string>& spins, double angle_rad,
                          double phase_rad) {
  return {{"gate", gate_descriptor("rotation").name},
          {"spins", spins},
          {"angle_rad", angle_rad},
          {"phase_rad", phase_rad}};
}

json partial_swap_description(const std::vector<std::string>& spins, double theta_rad) {
  return {
      {"gate", gate_descriptor("partial_swap").name}, {"spins", spins}, {"theta_rad", theta_rad}};
}

json unitary_description(const std::vector<std::string>& spins, const Mat& local,
                         bool up_to_diagonal_phases) {
  // core's nmrc-unitary/1 object (with its "format" and empty "spins"): the layout the shipped
  // experiment pulses were compiled from, part of their cache keys (pulse_cache.hpp).
  json d = {{"gate", gate_descriptor("unitary").name},
            {"spins", spins},
            {"local_unitary", json::parse(nmrc::unitary_json(local, {}))}};
  if (up_to_diagonal_phases) d["up_to"] = "diagonal_phases";
  return d;
}

}  // namespace nmrc::compiler
