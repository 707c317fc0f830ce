// nmrc._nmrc: the pybind11 bindings behind `import nmrc` (docs/python.md). Thin like the CLI:
// each function checks what Python hands it (shapes, dtypes, finiteness: nmrc.InputError with
// the library's one-line message), calls the library entry point that does the job, and returns
// owned copies (numpy arrays, dicts, lists) that the pure-Python layer (nmrc/__init__.py) turns
// into dataclasses. No physics, no loaders: those are the library's. Long calls run on a worker
// thread without the GIL while the calling thread delivers progress to Python and watches for
// Ctrl-C (GRAPE stops through CompileOptions::stop and keeps its best pulse).
#include <fmt/format.h>
#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "nmrc/compiler/bruker_inputs.hpp"
#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/program.hpp"
#include "nmrc/core/bruker_shape.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/limits.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "nmrc/experiment/output.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/run.hpp"
#include "nmrc/spectrometer/acquire_program.hpp"
#include "nmrc/spectrometer/acquisition.hpp"
#include "nmrc/spectrometer/bruker_dataset.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "nmrc/spectrometer/lines.hpp"
#include "nmrc/spectrometer/preparation_run.hpp"
#include "nmrc/spectrometer/propagation.hpp"
#include "nmrc/spectrometer/readout.hpp"
#include "nmrc/spectrometer/tomography.hpp"
#include "nmrc/spectrometer/tomography_run.hpp"
#include "nmrc/thermo/analysis.hpp"
#include "nmrc/thermo/output.hpp"
#include "nmrc/thermo/program.hpp"

namespace py = pybind11;
using namespace py::literals;

namespace nmrc::python {
namespace {

using CArray = py::array_t<cplx, py::array::c_style | py::array::forcecast>;
using RArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

// Largest FID (points) the bindings simulate: TopSpin's TD limit used by the pulse files, 2^20.
constexpr long kMaxFidPoints = 1L << 20;

[[noreturn]] void bad(const std::string& where, const std::string& value, const std::string& rule) {
  throw InputError(where + " = " + value + ": " + rule);
}

std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// ---- numpy <-> Eigen: always copies --------------------------------------------------------

py::array_t<cplx> to_numpy(const Mat& m) {
  py::array_t<cplx> a({m.rows(), m.cols()});
  auto v = a.mutable_unchecked<2>();
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) v(i, j) = m(i, j);
  return a;
}
py::array_t<double> to_numpy(const std::vector<double>& x) {
  py::array_t<double> a(static_cast<py::ssize_t>(x.size()));
  std::copy(x.begin(), x.end(), a.mutable_data());
  return a;
}
py::array_t<cplx> to_numpy(const std::vector<cplx>& x) {
  py::array_t<cplx> a(static_cast<py::ssize_t>(x.size()));
  std::copy(x.begin(), x.end(), a.mutable_data());
  return a;
}

// A numeric array of `ndim` dimensions from any array-like (lists, numpy arrays of any numeric
// dtype); strings, objects, ragged lists, wrong dimensions and non-finite entries are InputError.
template <class Array>
Array numeric_array(py::handle obj, const std::string& where, int ndim) {
  if (obj.is_none()) bad(where, "None", "must be an array");
  py::array raw;
  try {
    raw = py::array::ensure(obj);
  } catch (const py::error_already_set&) {
  }
  if (!raw || raw.dtype().kind() == 'O' || raw.dtype().kind() == 'U' || raw.dtype().kind() == 'S' ||
      raw.dtype().kind() == 'b')
    bad(where,
        std::string(py::str(py::type::handle_of(obj).attr("__name__"))) +
            (raw ? " of dtype " + std::string(py::str(raw.dtype())) : std::string()),
        "must be a numeric array");
  if (raw.ndim() != ndim)
    bad(where + ".shape", shape_text(raw), "must have " + std::to_string(ndim) + " dimension(s)");
  if (raw.dtype().kind() == 'c' && std::is_same_v<Array, RArray>)
    bad(where, "complex array", "must be real");
  Array a = Array::ensure(raw);
  if (!a) bad(where, "array of dtype " + std::string(py::str(raw.dtype())), "must be numeric");
  const auto* d = a.data();
  for (py::ssize_t i = 0; i < a.size(); ++i) {
    if constexpr (std::is_same_v<Array, CArray>) {
      if (!std::isfinite(d[i].real()) || !std::isfinite(d[i].imag()))
        bad(where + "[" + std::to_string(i) + "]", fmt::format("{}{:+}j", d[i].real(), d[i].imag()),
            "must be finite");
    } else if (!std::isfinite(d[i])) {
      bad(where + "[" + std::to_string(i) + "]", fmt::format("{}", d[i]), "must be finite");
    }
  }
  return a;
}

Mat square_matrix(py::handle obj, const std::string& where, py::ssize_t dim) {
  const CArray a = numeric_array<CArray>(obj, where, 2);
  if (a.shape(0) != dim || a.shape(1) != dim)
    bad(where + ".shape", shape_text(a),
        "must be (" + std::to_string(dim) + ", " + std::to_string(dim) + ") for this molecule");
  Mat m(dim, dim);
  auto v = a.unchecked<2>();
  for (py::ssize_t i = 0; i < dim; ++i)
    for (py::ssize_t j = 0; j < dim; ++j) m(i, j) = v(i, j);
  return m;
}

// Tolerance of the density-matrix checks: entries are probabilities of order 1, so 1e-8 absolute
// covers rounding of any computation in double precision (1e-16 relative, a few thousand
// operations) and still catches a matrix that is not a state (docs/python.md).
constexpr double kDensityTolerance = 1e-8;

// A density matrix: square of `dim`, Hermitian, trace 1 and positive, each within
// kDensityTolerance (largest |rho - rho^dag| entry, |Tr rho - 1|, smallest eigenvalue).
Mat density_matrix(py::handle obj, const std::string& where, py::ssize_t dim) {
  Mat m = square_matrix(obj, where, dim);
  const double asym = (m - m.adjoint()).cwiseAbs().maxCoeff();
  if (asym > kDensityTolerance)
    bad(where, fmt::format("matrix with max |rho - rho^dag| = {:.3g}", asym),
        "must be Hermitian (a density matrix, tolerance 1e-8)");
  const cplx tr = m.trace();
  if (std::abs(tr - cplx(1.0, 0.0)) > kDensityTolerance)
    bad(where, fmt::format("matrix with trace {:.10g}{:+.3g}j", tr.real(), tr.imag()),
        "must have trace 1 (a density matrix, tolerance 1e-8; a deviation matrix is not one)");
  const double lowest = hermitian_eigenvalues(0.5 * (m + m.adjoint()))(0);
  if (lowest < -kDensityTolerance)
    bad(where, fmt::format("matrix with smallest eigenvalue {:.3g}", lowest),
        "must be positive semidefinite (a density matrix, tolerance 1e-8)");
  return m;
}

RVec real_vector(py::handle obj, const std::string& where) {
  const RArray a = numeric_array<RArray>(obj, where, 1);
  if (a.size() == 0) bad(where, "[]", "must not be empty");
  if (a.size() > (1L << 24)) bad(where + ".shape", shape_text(a), "at most 2^24 entries");
  RVec v(a.size());
  std::copy(a.data(), a.data() + a.size(), v.data());
  return v;
}

std::vector<double> real_list(py::handle obj, const std::string& where) {
  const RVec v = real_vector(obj, where);
  return {v.data(), v.data() + v.size()};
}

// A Python number as a double (int, float, numpy scalars); anything else is InputError.
double number(py::handle obj, const std::string& where) {
  if (obj.is_none() || py::isinstance<py::str>(obj) || py::isinstance<py::bool_>(obj) ||
      !PyNumber_Check(obj.ptr()) || PyComplex_Check(obj.ptr()))
    bad(where, std::string(py::repr(obj)), "must be a real number");
  return py::cast<double>(py::float_(py::reinterpret_borrow<py::object>(obj)));
}

long integer(py::handle obj, const std::string& where, long min, long max) {
  if (obj.is_none() || py::isinstance<py::bool_>(obj) || !PyIndex_Check(obj.ptr()))
    bad(where, std::string(py::repr(obj)), "must be an integer");
  const py::int_ i = py::reinterpret_steal<py::int_>(PyNumber_Index(obj.ptr()));
  int overflow = 0;
  const long v = PyLong_AsLongAndOverflow(i.ptr(), &overflow);
  if (overflow || v < min || v > max)
    bad(where, std::string(py::repr(obj)),
        "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return v;
}

bool boolean(py::handle obj, const std::string& where) {
  if (!py::isinstance<py::bool_>(obj) &&
      std::string(py::str(py::type::handle_of(obj).attr("__name__"))) != "bool_")
    bad(where, std::string(py::repr(obj)), "must be True or False");
  return PyObject_IsTrue(obj.ptr()) == 1;
}

int spin_index(const Molecule& m, py::handle obj, const std::string& where) {
  if (py::isinstance<py::str>(obj)) {
    const std::string label = py::cast<std::string>(obj);
    const int k = m.index_of(label);
    if (k < 0) bad(where, label, "unknown spin (known: " + m.labels_text() + ")");
    return k;
  }
  return static_cast<int>(integer(obj, where, 0, m.size() - 1));
}

int channel_index(const Molecule& m, py::handle obj, const std::string& where) {
  if (py::isinstance<py::str>(obj)) {
    const std::string name = py::cast<std::string>(obj);
    const int c = m.channel_index(name);
    if (c < 0) {
      std::string known;
      for (const auto& ch : m.channels) known += (known.empty() ? "" : ", ") + ch.name;
      bad(where, name, "unknown channel (known: " + known + ")");
    }
    return c;
  }
  return static_cast<int>(integer(obj, where, 0, static_cast<long>(m.channels.size()) - 1));
}

spectrometer::Engine engine_of(const std::string& name) {
  if (name == "exact") return spectrometer::Engine::kExact;
  if (name == "odeint") return spectrometer::Engine::kOdeint;
  bad("engine", name, "must be exact or odeint");
}

// ---- long calls: a worker thread without the GIL; progress and Ctrl-C on the caller's --------

// Events posted by the worker (progress), run on the calling thread with the GIL held.
class EventPump {
 public:
  void post(std::function<void()> f) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(f));
    }
    cv_.notify_one();
  }
  void finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
  }
  // Waits (GIL released) up to `wait` for events or the end; returns whether the work ended.
  bool take(std::vector<std::function<void()>>& out, std::chrono::milliseconds wait) {
    py::gil_scoped_release nogil;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [this] { return done_ || !queue_.empty(); });
    out.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    return done_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool done_ = false;
};

// Runs work(pump) on a worker thread. The caller's thread runs posted events (Python progress
// callbacks) and checks for signals every 0.1 s. The first Python exception (KeyboardInterrupt,
// or one raised by a callback) sets *stop (when given) so the library winds down, and is
// returned with the result: the caller decides whether to raise it with the partial result.
template <class R>
std::pair<R, std::optional<py::error_already_set>> run_interruptible(
    const std::function<R(EventPump&)>& work, std::atomic<bool>* stop) {
  EventPump pump;
  std::optional<R> result;
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      result.emplace(work(pump));
    } catch (...) {
      failure = std::current_exception();
    }
    pump.finish();
  });
  std::optional<py::error_already_set> py_error;
  std::vector<std::function<void()>> batch;
  for (bool finished = false; !finished;) {
    finished = pump.take(batch, std::chrono::milliseconds(100));
    if (py_error) continue;  // after the first error: only wait for the worker
    try {
      for (auto& f : batch) f();
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    } catch (py::error_already_set& e) {
      py_error.emplace(std::move(e));
      if (stop) stop->store(true);
    }
  }
  worker.join();
  if (failure) std::rethrow_exception(failure);
  return {std::move(*result), std::move(py_error)};
}

// Work with no stop mechanism and no progress: run here with the GIL released (no thread to start:
// a small propagation costs microseconds). Ctrl-C is raised by Python when the call returns.
template <class R>
R run_without_gil(const std::function<R()>& work) {
  py::gil_scoped_release nogil;
  return work();
}

// With progress but no stop mechanism: the result, or the Python error once the work has ended.
template <class R>
R run_unstoppable(const std::function<R(EventPump&)>& work) {
  auto [r, err] = run_interruptible<R>(work, nullptr);
  if (err) throw std::move(*err);
  return std::move(r);
}

// ---- results as dicts ----------------------------------------------------------------------

py::dict summary_dict(const compiler::Summary& s) {
  py::list starts;
  for (const auto& st : s.starts)
    starts.append(py::dict("start"_a = st.start, "initial"_a = st.initial,
                           "termination"_a = compiler::termination_name(st.termination),
                           "iterations"_a = st.iterations, "evaluations"_a = st.evaluations,
                           "fidelity_min"_a = st.fidelity_min, "wall_s"_a = st.wall_s,
                           "message"_a = st.message));
  return py::dict("termination"_a = compiler::termination_name(s.termination),
                  "message"_a = s.message, "best_start"_a = s.best_start,
                  "iterations"_a = s.iterations, "evaluations"_a = s.evaluations,
                  "fidelity"_a = to_numpy(s.fidelity), "fidelity_min"_a = s.fidelity_min,
                  "fidelity_mean"_a = s.fidelity_mean, "wall_s"_a = s.wall_s,
                  "reached_target"_a = s.reached_target, "starts"_a = starts,
                  "report"_a = s.full_report(), "warm_start"_a = s.warm_start);
}

py::dict judgement_dict(const spectrometer::Judgement& v) {
  py::dict d("name"_a = v.name, "nominal"_a = v.nominal, "b1_scale"_a = to_numpy(v.b1_scale),
             "offset_hz"_a = to_numpy(v.offset_hz), "values"_a = to_numpy(v.values),
             "min"_a = v.min, "target"_a = v.target, "passed"_a = v.passed, "engine"_a = v.engine,
             "relaxation"_a = v.relaxation);
  d["process_relaxed"] = to_numpy(v.process_relaxed);
  d["process_relaxed_nominal"] = v.process_relaxed_nominal;
  d["process_relaxed_min"] = v.process_relaxed_min;
  return d;
}

py::dict fid_dict(const spectrometer::Fid& f) {
  return py::dict("points"_a = to_numpy(f.points), "sw_hz"_a = f.sw_hz, "channel"_a = f.channel,
                  "scans"_a = f.scans, "noise_sigma"_a = f.noise_sigma,
                  "receiver_phase_rad"_a = f.receiver_phase_rad);
}

spectrometer::Fid fid_from(const Molecule& m, py::handle points, double sw_hz, py::handle channel,
                           int scans, double noise_sigma, double receiver_phase_rad) {
  spectrometer::Fid f;
  f.channel = channel_index(m, channel, "fid.channel");
  if (!(sw_hz > 0) || sw_hz > limits::kMaxSpectralWidthHz)
    bad("fid.sw_hz", fmt::format("{}", sw_hz), "must be in (0, 1e8]");
  f.sw_hz = sw_hz;
  if (scans < 1) bad("fid.scans", std::to_string(scans), "must be >= 1");
  f.scans = scans;
  if (!(noise_sigma >= 0) || !std::isfinite(noise_sigma))
    bad("fid.noise_sigma", fmt::format("{}", noise_sigma), "must be finite and >= 0");
  f.noise_sigma = noise_sigma;
  if (!std::isfinite(receiver_phase_rad))
    bad("fid.receiver_phase_rad", fmt::format("{}", receiver_phase_rad), "must be finite");
  f.receiver_phase_rad = receiver_phase_rad;
  const CArray a = numeric_array<CArray>(points, "fid.points", 1);
  if (a.size() == 0 || a.size() > kMaxFidPoints)
    bad("fid.points.shape", shape_text(a), "must hold 1 to 2^20 points");
  f.points.assign(a.data(), a.data() + a.size());
  return f;
}

py::dict spectrum_dict(const spectrometer::Spectrum& s) {
  return py::dict("hz"_a = to_numpy(s.hz), "ppm"_a = to_numpy(s.ppm),
                  "values"_a = to_numpy(s.values));
}

py::list lines_list(const Molecule& m, const spectrometer::LineReadout& r) {
  py::list out;
  for (const auto& l : r.lines)
    out.append(py::dict("spin"_a = m.nuclei[l.spin].label, "index"_a = l.index,
                        "other_bits"_a = l.other_bits, "frequency_hz"_a = l.frequency_hz,
                        "amplitude"_a = l.amplitude, "std_error"_a = l.std_error));
  return out;
}

// ---- molecules -----------------------------------------------------------------------------

py::list nuclei_list(const Molecule& m) {
  py::list out;
  for (const auto& n : m.nuclei)
    out.append(py::dict("label"_a = n.label, "isotope"_a = n.isotope, "channel"_a = n.channel,
                        "offset_hz"_a = n.offset_hz, "shift_ppm"_a = n.shift_ppm, "t1_s"_a = n.t1_s,
                        "t2_s"_a = n.t2_s, "t2star_s"_a = n.t2star_s));
  return out;
}

// Pickling a molecule: every field, as plain tuples, and back (a pickle is trusted code anyway;
// the spins, channels and couplings are checked for consistency on the way back).
py::tuple molecule_state(const Molecule& m) {
  py::list nuclei, couplings, channels;
  for (const auto& n : m.nuclei)
    nuclei.append(py::make_tuple(n.label, n.isotope, n.channel, n.offset_hz, n.shift_ppm, n.t1_s,
                                 n.t2_s, n.t2star_s));
  for (const auto& c : m.couplings) couplings.append(py::make_tuple(c.a, c.b, c.j_hz));
  for (const auto& c : m.channels)
    channels.append(
        py::make_tuple(c.name, c.isotope, c.larmor_mhz, c.frame_ppm, c.carrier_hz, c.max_rf_hz));
  return py::make_tuple("nmrc-molecule/1", m.name, m.description, m.proton_mhz, m.temperature_k,
                        nuclei, couplings, channels, m.roles, m.sources, m.assumptions);
}

Molecule molecule_from_state(const py::tuple& t) {
  if (t.size() != 11 || py::cast<std::string>(t[0]) != "nmrc-molecule/1")
    bad("pickle", "molecule", "not an nmrc-molecule/1 state");
  Molecule m;
  m.name = py::cast<std::string>(t[1]);
  m.description = py::cast<std::string>(t[2]);
  m.proton_mhz = py::cast<double>(t[3]);
  m.temperature_k = py::cast<double>(t[4]);
  for (auto h : py::cast<py::list>(t[5])) {
    const auto n = py::cast<py::tuple>(h);
    m.nuclei.push_back(Nucleus{py::cast<std::string>(n[0]), py::cast<std::string>(n[1]),
                               py::cast<std::string>(n[2]), py::cast<double>(n[3]),
                               py::cast<double>(n[4]), py::cast<double>(n[5]),
                               py::cast<double>(n[6]), py::cast<double>(n[7])});
  }
  for (auto h : py::cast<py::list>(t[7])) {
    const auto c = py::cast<py::tuple>(h);
    m.channels.push_back(Channel{py::cast<std::string>(c[0]), py::cast<std::string>(c[1]),
                                 py::cast<double>(c[2]), py::cast<double>(c[3]),
                                 py::cast<double>(c[4]), py::cast<double>(c[5])});
  }
  for (auto h : py::cast<py::list>(t[6])) {
    const auto c = py::cast<py::tuple>(h);
    Coupling k{py::cast<int>(c[0]), py::cast<int>(c[1]), py::cast<double>(c[2])};
    if (k.a < 0 || k.b <= k.a || k.b >= m.size()) bad("pickle", "coupling", "spins out of range");
    m.couplings.push_back(k);
  }
  for (const auto& n : m.nuclei)
    if (m.channel_index(n.channel) < 0) bad("pickle", n.channel, "unknown channel");
  m.roles = py::cast<std::map<std::string, std::string>>(t[8]);
  m.sources = py::cast<std::vector<std::string>>(t[9]);
  m.assumptions = py::cast<std::vector<std::string>>(t[10]);
  return m;
}

// ---- pulses --------------------------------------------------------------------------------

py::array_t<double> channel_rows(const PulseData& p, bool y) {
  const py::ssize_t steps = p.channels.empty() ? 0 : p.channels[0].ux_hz.size();
  py::array_t<double> a({static_cast<py::ssize_t>(p.channels.size()), steps});
  auto v = a.mutable_unchecked<2>();
  for (size_t c = 0; c < p.channels.size(); ++c)
    for (py::ssize_t k = 0; k < steps; ++k)
      v(c, k) = y ? p.channels[c].uy_hz(k) : p.channels[c].ux_hz(k);
  // Read-only: writing into this copy would change nothing; assigning the attribute does.
  a.attr("setflags")("write"_a = false);
  return a;
}

// A copy of `p` with its x (or y) rows replaced by `v` of the same shape, through the one set of
// nmrc-pulse/1 rules (written and parsed again: finiteness, the RF limit).
PulseData with_rows(const PulseData& p, py::handle v, bool y) {
  const char* what = y ? "uy_hz" : "ux_hz";
  const RArray a = numeric_array<RArray>(v, what, 2);
  const py::ssize_t steps = p.channels.empty() ? 0 : p.channels[0].ux_hz.size();
  if (a.shape(0) != static_cast<py::ssize_t>(p.channels.size()) || a.shape(1) != steps)
    bad(std::string(what) + ".shape", shape_text(a),
        "must be (" + std::to_string(p.channels.size()) + ", " + std::to_string(steps) +
            "), the pulse's (channels, steps)");
  PulseData q = p;
  for (size_t c = 0; c < q.channels.size(); ++c)
    (y ? q.channels[c].uy_hz : q.channels[c].ux_hz) =
        Eigen::Map<const RVec>(a.data() + c * steps, steps);
  return parse_pulse_json(pulse_file_text(q), "<python>");
}

// A pulse from arrays, through the one set of nmrc-pulse/1 rules (written and parsed again).
PulseData pulse_from_arrays(const std::string& name, const std::vector<std::string>& channels,
                            py::handle ux, py::handle uy, double dt_s, const std::string& molecule,
                            py::handle max_rf_hz, py::handle carrier_hz) {
  const RArray x = numeric_array<RArray>(ux, "ux_hz", 2), y = numeric_array<RArray>(uy, "uy_hz", 2);
  if (x.shape(0) != static_cast<py::ssize_t>(channels.size()))
    bad("ux_hz.shape", shape_text(x),
        "must have one row per channel (" + std::to_string(channels.size()) + ")");
  if (y.shape(0) != x.shape(0) || y.shape(1) != x.shape(1))
    bad("uy_hz.shape", shape_text(y), "must equal ux_hz.shape " + shape_text(x));
  if (x.shape(1) == 0 || x.shape(1) > kMaxPulseSteps)
    bad("ux_hz.shape", shape_text(x), "must have 1 to 1048576 steps");
  const auto per_channel = [&](py::handle v, const char* what) {
    std::vector<double> out;
    if (v.is_none()) return out;
    out = real_list(v, what);
    if (out.size() != channels.size())
      bad(what, std::to_string(out.size()) + " values", "must give one per channel");
    return out;
  };
  const std::vector<double> rf = per_channel(max_rf_hz, "max_rf_hz"),
                            carrier = per_channel(carrier_hz, "carrier_hz");
  PulseData p;
  p.name = name;
  p.molecule = molecule;
  p.dt_s = dt_s;
  for (size_t c = 0; c < channels.size(); ++c) {
    PulseChannel pc;
    pc.name = channels[c];
    pc.ux_hz = Eigen::Map<const RVec>(x.data() + c * x.shape(1), x.shape(1));
    pc.uy_hz = Eigen::Map<const RVec>(y.data() + c * y.shape(1), y.shape(1));
    if (!rf.empty()) pc.max_rf_hz = rf[c];
    if (!carrier.empty()) pc.carrier_hz = carrier[c];
    p.channels.push_back(pc);
  }
  if (!(dt_s > 0) || !std::isfinite(dt_s)) bad("dt_s", fmt::format("{}", dt_s), "must be > 0");
  return parse_pulse_json(pulse_file_text(p), "<python>");
}

// ---- compile options from keyword arguments ------------------------------------------------

compiler::CompileOptions compile_options(const py::dict& kw) {
  compiler::CompileOptions o;
  for (auto [key_obj, value] : kw) {
    const std::string key = py::cast<std::string>(key_obj);
    const std::string where = "compile options: " + key;
    if (key == "duration_s") {
      o.duration_s = number(value, where);
    } else if (key == "steps") {
      o.steps = static_cast<int>(integer(value, where, 0, 1000000));
    } else if (key == "dt_s") {
      o.dt_s = number(value, where);
    } else if (key == "max_rf_hz") {
      if (!py::isinstance<py::dict>(value))
        bad(where, std::string(py::repr(value)), "must be a dict {channel: Hz}");
      for (auto [c, v] : py::reinterpret_borrow<py::dict>(value))
        o.max_rf_hz[py::cast<std::string>(py::str(c))] =
            number(v, where + "." + std::string(py::str(c)));
    } else if (key == "channels") {
      o.channels.clear();
      for (auto c : py::reinterpret_borrow<py::iterable>(value))
        o.channels.push_back(py::cast<std::string>(py::str(c)));
    } else if (key == "fidelity_target") {
      o.fidelity_target = number(value, where);
    } else if (key == "b1_scale") {
      o.b1_scale = real_list(value, where);
    } else if (key == "b1_weight") {
      o.b1_weight = real_list(value, where);
    } else if (key == "offset_hz") {
      o.offset_hz = real_list(value, where);
    } else if (key == "smoothness") {
      o.smoothness = number(value, where);
    } else if (key == "zero_ends") {
      o.zero_ends = boolean(value, where);
    } else if (key == "starts") {
      o.starts = static_cast<int>(integer(value, where, 1, 1000));
    } else if (key == "seed") {
      o.seed = static_cast<unsigned long>(integer(value, where, 0, limits::kMaxSeed));
    } else if (key == "max_iterations") {
      o.max_iterations = static_cast<int>(integer(value, where, 1, 1L << 30));
    } else if (key == "stall_evaluations") {
      o.stall_evaluations = static_cast<int>(integer(value, where, 0, 1L << 30));
    } else if (key == "time_limit_s") {
      o.time_limit_s = number(value, where);
    } else if (key == "threads") {
      o.threads = static_cast<int>(integer(value, where, 1, 256));
    } else if (key == "strong_coupling") {
      o.strong_coupling = boolean(value, where);
    } else if (key == "warm_start") {
      o.warm_start = boolean(value, where);
    } else if (key == "b1_quadrature") {
      o.b1_quadrature = static_cast<int>(integer(value, where, 0, 20));
    } else if (key == "coarse_factor") {
      o.coarse_factor = static_cast<int>(integer(value, where, 0, 1000));
    } else if (key == "nominal_first") {
      o.nominal_first = boolean(value, where);
    } else {
      bad("compile options", key, "unknown option");
    }
  }
  return o;
}

py::dict compile_result_dict(const compiler::CompileResult& r) {
  return py::dict("pulse"_a = r.pulse, "summary"_a = summary_dict(r.summary),
                  "from_cache"_a = r.from_cache, "cache_key"_a = r.cache_key);
}

// GRAPE progress -> a Python callable with a dict, on the calling thread.
compiler::ProgressCallback grape_progress(EventPump& pump, const py::object* callback,
                                          const std::string& gate) {
  if (callback->is_none()) return {};
  return [&pump, callback, gate](const compiler::GrapeProgress& g) {
    pump.post([callback, gate, g] {
      (*callback)(py::dict("job"_a = "compile", "gate"_a = gate, "start"_a = g.start,
                           "evaluations"_a = g.evaluations, "fidelity_min"_a = g.fidelity_min,
                           "best_fidelity_min"_a = g.best_fidelity_min,
                           "elapsed_s"_a = g.elapsed_s));
    });
  };
}

// The result dict, with the Python error that stopped it (if any) under "interrupted_by".
py::dict with_interruption(py::dict d, std::optional<py::error_already_set>& err) {
  if (err) {
    d["interrupted_by"] = err->value();
    // A KeyboardInterrupt raised by PyErr_CheckSignals has no traceback (a null handle).
    d["interrupted_traceback"] = err->trace() ? err->trace() : py::object(py::none());
  }
  return d;
}

py::dict compile_target(const Molecule& m, const std::string& target_json, const py::dict& kw,
                        const std::string& name, const std::string& cache_dir,
                        const py::object& progress) {
  compiler::CompileOptions o = compile_options(kw);
  const compiler::GateTarget t = compiler::target_from_json(target_json, m, "target");
  o.validate(m);
  std::atomic<bool> stop{false};
  o.stop = &stop;
  auto [r, err] = run_interruptible<compiler::CompileResult>(
      [&](EventPump& pump) {
        return compiler::compile_target(m, t, o, name, cache_dir,
                                        grape_progress(pump, &progress, name));
      },
      &stop);
  return with_interruption(compile_result_dict(r), err);
}

// `nmrc compile` minus files: the library's compile_program (each gate compiled, installed in
// the program's sequence and validated), as cli/cmd_compile.cpp.
py::dict compile_program(compiler::Program prog, const std::vector<std::string>& only, int threads,
                         const std::string& cache_dir, const py::object& progress) {
  std::atomic<bool> stop{false};
  compiler::ProgramCompileOptions po;
  po.only = only;
  po.threads = threads;
  po.cache_dir = cache_dir;
  po.stop = &stop;
  auto [outcomes, err] = run_interruptible<std::vector<compiler::GateOutcome>>(
      [&](EventPump& pump) {
        if (!progress.is_none())
          po.progress = [&pump, &progress](const compiler::GateJob& job, int, int,
                                           const compiler::GrapeProgress& g) {
            grape_progress(pump, &progress, job.name)(g);
          };
        return compiler::compile_program(prog, po);
      },
      &stop);
  py::dict gates;
  for (const auto& o : outcomes) {
    py::dict d = compile_result_dict(o.result);
    d["validation"] = o.validation ? py::object(judgement_dict(*o.validation)) : py::none();
    d["bound_s"] = o.bound_s;
    gates[py::str(o.job->name)] = d;
  }
  return with_interruption(py::dict("molecule"_a = prog.molecule, "gates"_a = gates), err);
}

// ---- theory --------------------------------------------------------------------------------

py::dict theory_run_dict(const thermo::RunResult& r) {
  const thermo::RunSpec& spec = *r.spec;
  py::dict d("name"_a = spec.name, "title"_a = spec.title, "subsystems"_a = spec.params.names,
             "temperatures"_a = spec.params.temperatures,
             "bath_temperature"_a = spec.params.bath_temperature, "g"_a = spec.params.g,
             "tau"_a = spec.params.tau, "collisions"_a = spec.params.collisions,
             "initial_min_eigenvalue"_a = r.initial_min_eigenvalue,
             "eq36_min_slack"_a = r.eq36_min_slack);
  if (r.trajectory) {
    const thermo::Trajectory& t = *r.trajectory;
    const auto steps = static_cast<py::ssize_t>(t.steps.size());
    const auto n = static_cast<py::ssize_t>(spec.params.n());
    py::array_t<double> energy({steps, n}), heat({steps, n}), step_heat({steps, n}), at({steps, n});
    py::array_t<int> step(steps), collision(steps), acting(steps);
    auto e = energy.mutable_unchecked<2>(), q = heat.mutable_unchecked<2>(),
         dq = step_heat.mutable_unchecked<2>(), a = at.mutable_unchecked<2>();
    std::vector<double> bath, system, to_bath, free_energy, coherence, mi_sr, at_system;
    for (py::ssize_t s = 0; s < steps; ++s) {
      const thermo::StepRecord& rec = t.steps[s];
      step.mutable_at(s) = rec.step;
      collision.mutable_at(s) = rec.collision;
      acting.mutable_at(s) = rec.acting;
      for (py::ssize_t k = 0; k < n; ++k) {
        e(s, k) = rec.energy[k];
        q(s, k) = rec.heat_released[k];
        dq(s, k) = rec.step_heat[k];
        a(s, k) = rec.at.subsystem[k].value.value_or(std::nan(""));
      }
      bath.push_back(rec.bath_energy);
      system.push_back(rec.system_energy);
      to_bath.push_back(rec.heat_to_bath);
      free_energy.push_back(rec.free_energy);
      coherence.push_back(rec.coherence);
      mi_sr.push_back(rec.mi_sr);
      at_system.push_back(rec.at.system.value.value_or(std::nan("")));
    }
    d["steps"] = py::dict(
        "step"_a = step, "collision"_a = collision, "acting"_a = acting, "energy"_a = energy,
        "heat_released"_a = heat, "step_heat"_a = step_heat, "apparent_temperature"_a = at,
        "bath_energy"_a = to_numpy(bath), "system_energy"_a = to_numpy(system),
        "heat_to_bath"_a = to_numpy(to_bath), "free_energy"_a = to_numpy(free_energy),
        "coherence"_a = to_numpy(coherence), "mutual_information_sr"_a = to_numpy(mi_sr),
        "apparent_temperature_system"_a = to_numpy(at_system));
    d["final_state"] = to_numpy(t.final_state);
    d["direction_violations"] = t.direction_violations;
  }
  if (!r.sweep.empty()) {
    std::vector<double> c, de_s, q;
    for (const auto& p : r.sweep) {
      c.push_back(p.c);
      de_s.push_back(p.delta_system_energy);
      q.push_back(p.heat_to_bath);
    }
    d["sweep"] = py::dict("c"_a = to_numpy(c), "delta_system_energy"_a = to_numpy(de_s),
                          "heat_to_bath"_a = to_numpy(q));
  }
  if (r.master_equation) {
    const auto& me = *r.master_equation;
    const auto points = static_cast<py::ssize_t>(me.points.size());
    const auto n = static_cast<py::ssize_t>(spec.params.n());
    py::array_t<double> t({points}), e_me({points, n}), e_cm({points, n});
    for (py::ssize_t i = 0; i < points; ++i) {
      t.mutable_at(i) = me.points[i].t;
      for (py::ssize_t k = 0; k < n; ++k) {
        e_me.mutable_at(i, k) = me.points[i].energy_me[k];
        e_cm.mutable_at(i, k) = me.points[i].energy_cm[k];
      }
    }
    d["master_equation"] = py::dict("t"_a = t, "energy_me"_a = e_me, "energy_cm"_a = e_cm,
                                    "max_energy_difference"_a = me.max_energy_difference);
  }
  return d;
}

// Thrown by the theory's progress callback once Ctrl-C (or a callback's exception) set `stop`:
// the library has no stop flag, and its loops report progress every collision or sweep point.
struct TheoryStopped {};

// `nmrc theory` minus files, run by run so that a stop keeps the runs already finished (the
// KeyboardInterrupt's .result). Each run's spec points into its own one-run program (kept in
// `programs`, which outlives the dicts made from it here).
// With `out`, a run that was not interrupted writes the files of `nmrc theory --out` minus
// its figures (thermo/output.hpp).
py::dict run_theory(const thermo::TheoryProgram& program, const std::string& out,
                    const py::object& progress) {
  std::atomic<bool> stop{false};
  std::deque<thermo::TheoryProgram> programs;
  for (const auto& r : program.runs) {
    programs.push_back(program);
    programs.back().runs = {r};
  }
  auto [results, err] = run_interruptible<std::vector<thermo::RunResult>>(
      [&](EventPump& pump) {
        thermo::TheoryProgress cb = [&pump, &progress, &stop](const std::string& run,
                                                              const std::string& stage, int done,
                                                              int total) {
          if (stop.load()) throw TheoryStopped{};
          if (!progress.is_none())
            pump.post([&progress, run, stage, done, total] {
              progress(py::dict("job"_a = "theory", "run"_a = run, "stage"_a = stage,
                                "done"_a = done, "total"_a = total));
            });
        };
        std::vector<thermo::RunResult> out;
        for (const auto& one : programs) {
          if (stop.load()) break;
          try {
            auto r = thermo::run_theory_program(one, cb);
            out.push_back(std::move(r.at(0)));
          } catch (const TheoryStopped&) {
            break;
          }
        }
        return out;
      },
      &stop);
  if (!out.empty() && !err) thermo::write_theory_files(program, results, output_path(out));
  py::list runs;
  for (const auto& r : results) runs.append(theory_run_dict(r));
  return with_interruption(py::dict("runs"_a = runs), err);
}

// ---- the experiment ------------------------------------------------------------------------

py::dict stats(const std::vector<experiment::Stat>& v) {
  std::vector<double> mean, std;
  for (const auto& x : v) {
    mean.push_back(x.mean);
    std.push_back(x.std);
  }
  return py::dict("mean"_a = to_numpy(mean), "std"_a = to_numpy(std));
}

// `nmrc experiment`: make_pulse_library, then run_case for every case; with `out`, the files of
// `nmrc experiment --out` minus its figures (experiment/output.hpp).
py::list run_experiment(const std::string& path, const std::string& text,
                        const std::string& cache_dir, const std::string& compile, bool error_budget,
                        const std::string& out, const py::object& progress) {
  // A file, or (text given) a program's text standing at `path` (nmrc.experiment with a dict).
  const experiment::ExperimentProgram p = text.empty()
                                              ? experiment::load_experiment_program(path)
                                              : experiment::parse_experiment_program(text, path);
  experiment::RunSettings settings;
  settings.cache_dir = cache_dir;
  if (compile == "auto")
    settings.compile_mode = experiment::CompileMode::kAuto;
  else if (compile == "never")
    settings.compile_mode = experiment::CompileMode::kNever;
  else if (compile == "recompile")
    settings.compile_mode = experiment::CompileMode::kRecompile;
  else
    bad("compile", compile, "must be auto, never or recompile");
  settings.error_budget = error_budget;
  const auto results = run_unstoppable<std::vector<experiment::CaseResult>>([&](EventPump& pump) {
    experiment::ProgressText cb;
    if (!progress.is_none())
      cb = [&pump, &progress](const std::string& text) {
        pump.post(
            [&progress, text] { progress(py::dict("job"_a = "experiment", "text"_a = text)); });
      };
    experiment::PulseLibrary lib = experiment::make_pulse_library(p, settings);
    std::vector<experiment::CaseResult> done;
    for (const auto& c : p.cases) done.push_back(experiment::run_case(p, c, lib, settings, cb));
    return done;
  });
  if (!out.empty())
    experiment::write_experiment_files(output_path(out), p, results,
                                       settings.error_budget && p.error_budget);
  py::list cases;
  for (const auto& r : results) {
    py::list points;
    for (const auto& m : r.points)
      points.append(py::dict("collision"_a = m.collision, "step"_a = m.step,
                             "energy_ideal"_a = to_numpy(m.energy_ideal),
                             "energy"_a = stats(m.energy), "energy_raw"_a = stats(m.energy_raw),
                             "heat_ideal"_a = m.heat_ideal, "heat"_a = stats({m.heat}),
                             "fidelity"_a = m.fidelity.mean,
                             "rho_system"_a = to_numpy(m.rho_system)));
    cases.append(py::dict(
        "name"_a = r.spec.name, "title"_a = r.spec.title, "subsystems"_a = r.spec.params.names,
        "delta_ideal"_a = to_numpy(r.delta_ideal), "delta_measured"_a = stats(r.delta_measured),
        "delta_raw"_a = stats(r.delta_raw), "points"_a = points, "pulses"_a = r.pulses,
        "pps_epsilon"_a = r.pps_epsilon, "noise_sigma"_a = r.noise_sigma, "seconds"_a = r.seconds));
  }
  return cases;
}

}  // namespace
}  // namespace nmrc::python

PYBIND11_MODULE(_nmrc, mod) {
  using namespace nmrc;
  using namespace nmrc::python;
  mod.doc() = "nmrc's C++ library (bindings; use the nmrc package, docs/python.md)";
  py::register_exception<InputError>(mod, "InputError", PyExc_ValueError);
  // The machine refused (disk full, permission, read-only, gnuplot): OSError, as the CLI's exit 4.
  py::register_exception<ResourceError>(mod, "ResourceError", PyExc_OSError);

  // Molecules ----------------------------------------------------------------------------------
  py::class_<Molecule>(mod, "Molecule",
                       "A spin system from a molecule file (docs/molecule-format.md): nuclei with "
                       "offsets (Hz) and relaxation times (s), J couplings (Hz), RF channels. "
                       "Made by nmrc.load_molecule or nmrc.molecule_from_dict; pickles.")
      .def_readonly("name", &Molecule::name, "The molecule's name (text)")
      .def_readonly("description", &Molecule::description, "Free text from the file")
      .def_readonly("proton_mhz", &Molecule::proton_mhz,
                    "1H Larmor frequency of the spectrometer, MHz")
      .def_readonly("temperature_k", &Molecule::temperature_k, "Sample temperature, K")
      .def_readonly("roles", &Molecule::roles,
                    "Role -> spin label (e.g. S1 -> C1, R -> C4), the paper's names")
      .def_property_readonly("size", &Molecule::size, "Number of spins n (matrices are 2^n)")
      .def_property_readonly(
          "labels",
          [](const Molecule& m) {
            std::vector<std::string> l;
            for (const auto& n : m.nuclei) l.push_back(n.label);
            return l;
          },
          "Spin labels in basis order (spin 0 the leftmost tensor factor)")
      .def_property_readonly("nuclei", &nuclei_list,
                             "Per spin a dict: label, isotope, channel, offset_hz (Hz, the "
                             "molecule's frame), shift_ppm (ppm), t1_s, t2_s, t2star_s (s)")
      .def_property_readonly(
          "couplings",
          [](const Molecule& m) {
            py::list out;
            for (const auto& c : m.couplings)
              out.append(
                  py::dict("spins"_a = py::make_tuple(m.nuclei[c.a].label, m.nuclei[c.b].label),
                           "j_hz"_a = c.j_hz));
            return out;
          },
          "Scalar couplings: dicts of spins (two labels) and j_hz (signed, Hz)")
      .def_property_readonly(
          "channels",
          [](const Molecule& m) {
            py::list out;
            for (const auto& c : m.channels)
              out.append(py::dict("name"_a = c.name, "isotope"_a = c.isotope,
                                  "larmor_mhz"_a = c.larmor_mhz, "frame_ppm"_a = c.frame_ppm,
                                  "carrier_hz"_a = c.carrier_hz, "max_rf_hz"_a = c.max_rf_hz));
            return out;
          },
          "RF channels: dicts of name, isotope, larmor_mhz (MHz), frame_ppm (ppm at offset 0), "
          "carrier_hz (Hz, the molecule's frame), max_rf_hz (hardware limit, Hz of nutation)")
      .def(
          "index_of",
          [](const Molecule& m, py::handle spin) { return spin_index(m, spin, "spin"); }, "spin"_a,
          "Index (0-based, basis order) of a spin by label or role; an unknown one is an "
          "InputError, as for j_hz")
      .def(
          "j_hz",
          [](const Molecule& m, py::handle a, py::handle b) {
            return m.j_hz(spin_index(m, a, "spin a"), spin_index(m, b, "spin b"));
          },
          "a"_a, "b"_a,
          "Signed scalar coupling J (Hz) between spins a and b, each a label, role or index "
          "(0 when not listed)")
      .def(
          "hamiltonian",
          [](const Molecule& m, py::handle strong) {
            return to_numpy(m.hamiltonian(boolean(strong, "hamiltonian: strong_coupling")));
          },
          "strong_coupling"_a = false,
          "Rotating-frame internal Hamiltonian in rad/s (2^n x 2^n, docs/conventions.md): "
          "2 pi sum_k (nu_k - carrier_k) I_z^k + 2 pi sum J_pq I_z^p I_z^q (weak coupling), or "
          "2 pi J I_p.I_q for homonuclear pairs with strong_coupling")
      .def(py::pickle(&molecule_state, &molecule_from_state))
      .def("lines", [](const Molecule& m) {
        py::list out;
        for (const auto& l : m.lines())
          out.append(py::dict("spin"_a = m.nuclei[l.spin].label, "frequency_hz"_a = l.frequency_hz,
                              "other_bits"_a = l.other_bits));
        return out;
      });
  mod.def("load_molecule", &load_molecule, "path"_a);
  mod.def("parse_molecule", &parse_molecule, "text"_a, "name"_a);

  // Pulses -------------------------------------------------------------------------------------
  py::class_<PulseData>(mod, "Pulse",
                        "A shaped pulse (an nmrc-pulse/1 file, docs/program-format.md): per "
                        "channel x and y amplitudes in Hz of nutation over equal steps of dt_s "
                        "seconds. Pulse(ux_hz, uy_hz, dt_s, channels='13C', ...) as "
                        "nmrc.make_pulse; ux_hz and uy_hz may be assigned (checked by the pulse "
                        "file's rules); pickles.")
      .def(py::init([](py::args args, py::kwargs kwargs) {
             return py::module_::import("nmrc")
                 .attr("make_pulse")(*args, **kwargs)
                 .cast<PulseData>();
           }),
           "Pulse(ux_hz, uy_hz, dt_s, channels='13C', *, name='', molecule='', max_rf_hz=None, "
           "carrier_hz=None, target=None, target_molecule=None, fidelity_target=0.995): see "
           "nmrc.make_pulse")
      .def_readonly("name", &PulseData::name, "The pulse's name (text)")
      .def_readonly("molecule", &PulseData::molecule, "Name of the molecule it was made for")
      .def_readonly("dt_s", &PulseData::dt_s, "Step length, s")
      .def_readonly("target_json", &PulseData::target_json,
                    "The target description as JSON text (\"\" when none)")
      .def_readonly("fidelity_definition", &PulseData::fidelity_definition,
                    "How the recorded fidelities were computed, e.g. |Tr(Ut^dag U)|/d")
      .def_readonly("fidelity_nominal", &PulseData::fidelity_nominal,
                    "Recorded fidelity at nominal B1 and offset (dimensionless, 0 to 1)")
      .def_readonly("fidelity_target", &PulseData::fidelity_target,
                    "Fidelity the ensemble minimum must reach (dimensionless)")
      .def_readonly("ensemble_min", &PulseData::ensemble_min,
                    "Recorded minimum fidelity over the robustness ensemble")
      .def_readonly("source", &PulseData::source, "Where the pulse came from (text)")
      .def_property_readonly(
          "b1_scale", [](const PulseData& p) { return to_numpy(p.b1_scale); },
          "B1 scales of the recorded ensemble (dimensionless, 1 = nominal)")
      .def_property_readonly(
          "offset_hz", [](const PulseData& p) { return to_numpy(p.offset_hz); },
          "Offset errors of the recorded ensemble, Hz")
      .def_property_readonly(
          "ensemble_values", [](const PulseData& p) { return to_numpy(p.ensemble_values); },
          "Recorded fidelity of each ensemble member (b1_scale x offset_hz)")
      .def_property_readonly("duration_s", &PulseData::duration_s, "steps x dt_s, s")
      .def_property_readonly(
          "steps",
          [](const PulseData& p) { return p.channels.empty() ? 0 : p.channels[0].ux_hz.size(); },
          "Number of steps")
      .def_property_readonly(
          "channels",
          [](const PulseData& p) {
            std::vector<std::string> c;
            for (const auto& ch : p.channels) c.push_back(ch.name);
            return c;
          },
          "Driven channel names, one row of ux_hz and uy_hz each")
      .def_property_readonly(
          "max_rf_hz",
          [](const PulseData& p) {
            std::vector<double> v;
            for (const auto& ch : p.channels) v.push_back(ch.max_rf_hz);
            return to_numpy(v);
          },
          "RF limit per channel, Hz of nutation")
      .def_property_readonly(
          "carrier_hz",
          [](const PulseData& p) {
            py::list v;
            for (const auto& ch : p.channels)
              v.append(ch.carrier_hz ? py::object(py::float_(*ch.carrier_hz))
                                     : py::object(py::none()));
            return v;
          },
          "Carrier per channel (Hz, the molecule's frame) or None: the "
          "molecule's")
      .def_property(
          "ux_hz", [](const PulseData& p) { return channel_rows(p, false); },
          [](PulseData& p, py::handle v) { p = with_rows(p, v, false); },
          "x amplitude, Hz of nutation, shape (channels, steps) (a read-only copy; assign a new "
          "array of the same shape to change it)")
      .def_property(
          "uy_hz", [](const PulseData& p) { return channel_rows(p, true); },
          [](PulseData& p, py::handle v) { p = with_rows(p, v, true); },
          "y amplitude, Hz of nutation, shape (channels, steps) (a read-only copy; assign a new "
          "array of the same shape to change it)")
      .def(py::pickle([](const PulseData& p) { return pulse_file_text(p); },
                      [](const std::string& text) { return parse_pulse_json(text, "<pickle>"); }))
      .def("to_json", &pulse_file_text, "The nmrc-pulse/1 file text")
      .def("write", [](const PulseData& p, const std::string& path) {
        // The caller's path, its links followed once as the CLI does for --json (core/io.hpp).
        write_file_atomic(output_path(path), pulse_file_text(p));
      });
  mod.def("read_pulse", &read_pulse_file, "path"_a);
  mod.def("parse_pulse", &parse_pulse_json, "text"_a, "where"_a);
  mod.def("pulse_from_arrays", &pulse_from_arrays, "name"_a, "channels"_a, "ux_hz"_a, "uy_hz"_a,
          "dt_s"_a, "molecule"_a, "max_rf_hz"_a, "carrier_hz"_a);
  mod.def(
      "with_target",
      [](PulseData p, const Molecule& m, const std::string& target_json, double fidelity_target) {
        compiler::target_from_json(target_json, m, "target");  // the compiler's rules first
        p.target_json = target_json;
        if (p.fidelity_definition.empty()) p.fidelity_definition = "|Tr(Ut^dag U)|/d";
        p.fidelity_target = fidelity_target;
        return parse_pulse_json(pulse_file_text(p), "<python>");
      },
      "pulse"_a, "molecule"_a, "target_json"_a, "fidelity_target"_a);
  mod.def(
      "read_bruker_shape",
      [](const std::string& path, const std::string& channel, double duration_s, double max_rf_hz,
         int phase_sense, double spoffs_hz) {
        return pulse_data_from_bruker_shape(read_bruker_shape_file(path), channel, duration_s,
                                            max_rf_hz, ShapeFrame{phase_sense, spoffs_hz});
      },
      "path"_a, "channel"_a, "duration_s"_a, "max_rf_hz"_a, "phase_sense"_a, "spoffs_hz"_a);
  mod.def(
      "write_bruker_shape",
      [](const PulseData& p, const std::string& path, int channel, int phase_sense,
         double spoffs_hz) {
        if (channel < 0 || channel >= static_cast<int>(p.channels.size()))
          bad("channel", std::to_string(channel),
              "must be 0 to " + std::to_string(p.channels.size() - 1));
        if (phase_sense != 1 && phase_sense != -1)
          bad("phase_sense", std::to_string(phase_sense), "must be +1 or -1");
        if (!std::isfinite(spoffs_hz))
          bad("spoffs_hz", fmt::format("{}", spoffs_hz), "must be finite");
        double max_rf_hz = 0.0;
        BrukerShape s =
            bruker_shape_from_waveform(p.channels[channel].ux_hz, p.channels[channel].uy_hz, p.dt_s,
                                       max_rf_hz, ShapeFrame{phase_sense, spoffs_hz});
        s.title = p.name;
        write_file_atomic(output_path(path), format_bruker_shape(s));
        return max_rf_hz;
      },
      "pulse"_a, "path"_a, "channel"_a, "phase_sense"_a, "spoffs_hz"_a);
  mod.def(
      "validate_pulse",
      [](PulseData p, const Molecule& m, py::object b1, py::object offsets,
         const std::string& engine, bool relaxation) {
        if (!b1.is_none()) p.b1_scale = real_list(b1, "b1_scale");
        if (!offsets.is_none()) p.offset_hz = real_list(offsets, "offset_hz");
        compiler::ValidationOptions o;
        o.engine = engine_of(engine);
        o.relaxation = relaxation;
        return judgement_dict(run_without_gil<spectrometer::Judgement>(
            [&] { return compiler::validate_pulse(p, m, o); }));
      },
      "pulse"_a, "molecule"_a, "b1_scale"_a, "offset_hz"_a, "engine"_a, "relaxation"_a);

  // Compilation --------------------------------------------------------------------------------
  mod.def("compile_target", &compile_target, "molecule"_a, "target_json"_a, "options"_a, "name"_a,
          "cache_dir"_a, "progress"_a);
  mod.def(
      "compile_program",
      [](const std::string& path, const std::vector<std::string>& only, int threads,
         const std::string& cache_dir, const py::object& progress) {
        return compile_program(compiler::load_program(path), only, threads, cache_dir, progress);
      },
      "path"_a, "only"_a, "threads"_a, "cache_dir"_a, "progress"_a);
  mod.def(
      "compile_program_text",
      [](const std::string& text, const std::string& name, const std::string& base_dir,
         const std::vector<std::string>& only, int threads, const std::string& cache_dir,
         const py::object& progress) {
        return compile_program(compiler::parse_program(text, name, base_dir), only, threads,
                               cache_dir, progress);
      },
      "text"_a, "name"_a, "base_dir"_a, "only"_a, "threads"_a, "cache_dir"_a, "progress"_a);
  mod.def(
      "target_unitary",
      [](const Molecule& m, const std::string& target_json) {
        const compiler::GateTarget t = compiler::target_from_json(target_json, m, "target");
        if (t.state_transfer) bad("target", "state_transfer", "has no unitary");
        return to_numpy(t.full(m.size()));
      },
      "molecule"_a, "target_json"_a);

  // Spectrometer -------------------------------------------------------------------------------
  mod.def(
      "thermal_state",
      [](const Molecule& m) {
        const spectrometer::ThermalState th = spectrometer::thermal_equilibrium(m);
        return py::dict("epsilon"_a = th.epsilon, "polarization"_a = to_numpy(th.polarization),
                        "rho"_a = to_numpy(th.rho));
      },
      "molecule"_a);
  mod.def(
      "propagate",
      [](const Molecule& m, const PulseData& p, py::object rho, double b1_scale, bool relaxation,
         const std::string& engine) {
        const ShapedPulseElement e = p.element(m);
        if (!(b1_scale > 0) || !std::isfinite(b1_scale))
          bad("b1_scale", fmt::format("{}", b1_scale), "must be > 0");
        spectrometer::PropagationOptions o;
        o.engine = engine_of(engine);
        const Mat rho0 = rho.is_none() ? Mat() : density_matrix(rho, "rho", 1 << m.size());
        return to_numpy(run_without_gil<Mat>([&] {
          if (rho0.size() > 0)
            return spectrometer::simulate_state(m, e, rho0, b1_scale, relaxation, o);
          return relaxation ? spectrometer::simulate_superoperator(m, e, b1_scale, o)
                            : spectrometer::simulate_unitary(m, e, b1_scale, o);
        }));
      },
      "molecule"_a, "pulse"_a, "rho"_a, "b1_scale"_a, "relaxation"_a, "engine"_a);
  // Expectation values over time: the pulse played step by step from rho (each step by the same
  // simulate_state as propagate: a piecewise-constant pulse, so the last state is propagate's).
  mod.def(
      "trajectory",
      [](const Molecule& m, const PulseData& p, py::object rho, const py::list& observables,
         double b1_scale, bool relaxation, const std::string& engine, bool keep_states) {
        const ShapedPulseElement e = p.element(m);
        if (!(b1_scale > 0) || !std::isfinite(b1_scale))
          bad("b1_scale", fmt::format("{}", b1_scale), "must be > 0");
        spectrometer::PropagationOptions o;
        o.engine = engine_of(engine);
        const py::ssize_t dim = 1 << m.size();
        const Mat rho0 = density_matrix(rho, "rho", dim);
        std::vector<Mat> ops;
        for (size_t i = 0; i < observables.size(); ++i)
          ops.push_back(
              square_matrix(observables[i], "observables[" + std::to_string(i) + "]", dim));
        const auto steps = static_cast<py::ssize_t>(e.ux_hz.empty() ? 0 : e.ux_hz[0].size());
        if (keep_states && steps * dim * dim > (1L << 27))
          bad("states", "True",
              "at most 2^27 matrix entries (" + std::to_string(steps) + " steps of " +
                  std::to_string(dim) + " x " + std::to_string(dim) + ")");
        py::array_t<cplx> values({steps + 1, static_cast<py::ssize_t>(ops.size())});
        py::array_t<cplx> states(keep_states ? std::vector<py::ssize_t>{steps + 1, dim, dim}
                                             : std::vector<py::ssize_t>{0, dim, dim});
        auto v = values.mutable_unchecked<2>();
        auto st = states.mutable_unchecked<3>();
        Mat r = rho0;
        const auto record = [&](py::ssize_t k) {
          for (size_t i = 0; i < ops.size(); ++i) v(k, i) = (r * ops[i]).trace();
          if (keep_states)
            for (py::ssize_t a = 0; a < dim; ++a)
              for (py::ssize_t b = 0; b < dim; ++b) st(k, a, b) = r(a, b);
        };
        record(0);
        {
          py::gil_scoped_release nogil;
          ShapedPulseElement one = e;
          for (py::ssize_t k = 0; k < steps; ++k) {
            for (size_t c = 0; c < e.ux_hz.size(); ++c) {
              one.ux_hz[c] = e.ux_hz[c].segment(k, 1);
              one.uy_hz[c] = e.uy_hz[c].segment(k, 1);
            }
            r = spectrometer::simulate_state(m, one, r, b1_scale, relaxation, o);
            py::gil_scoped_acquire gil;
            record(k + 1);
          }
        }
        std::vector<double> t(steps + 1);
        for (py::ssize_t k = 0; k <= steps; ++k) t[k] = k * e.dt_s;
        return py::dict("times_s"_a = to_numpy(t), "values"_a = values, "states"_a = states,
                        "final"_a = to_numpy(r));
      },
      "molecule"_a, "pulse"_a, "rho"_a, "observables"_a, "b1_scale"_a, "relaxation"_a, "engine"_a,
      "keep_states"_a);
  mod.def(
      "fid",
      [](const Molecule& m, py::object rho, py::object channel, double sw_hz, long td,
         double receiver_phase_rad) {
        const Mat r = density_matrix(rho, "rho", 1 << m.size());
        const int c = channel_index(m, channel, "channel");
        if (!(sw_hz > 0) || sw_hz > limits::kMaxSpectralWidthHz)
          bad("sw_hz", fmt::format("{}", sw_hz), "must be in (0, 1e8]");
        if (td < 1 || td > kMaxFidPoints) bad("td", std::to_string(td), "must be 1 to 2^20");
        if (!std::isfinite(receiver_phase_rad))
          bad("receiver_phase_rad", fmt::format("{}", receiver_phase_rad), "must be finite");
        spectrometer::Fid f;
        f.channel = c;
        f.sw_hz = sw_hz;
        f.receiver_phase_rad = receiver_phase_rad;
        f.points = run_without_gil<std::vector<cplx>>([&] {
          return spectrometer::fid_signal(m, m.hamiltonian(), r, c, sw_hz, static_cast<int>(td),
                                          receiver_phase_rad);
        });
        return fid_dict(f);
      },
      "molecule"_a, "rho"_a, "channel"_a, "sw_hz"_a, "td"_a, "receiver_phase_rad"_a);
  mod.def(
      "process",
      [](const Molecule& m, py::object points, double sw_hz, py::object channel, int scans,
         double noise_sigma, double receiver_phase_rad, int zero_fill, double lb_hz, double gb_hz,
         double phase0_rad, double phase1_rad, bool halve_first_point) {
        const spectrometer::Fid f =
            fid_from(m, points, sw_hz, channel, scans, noise_sigma, receiver_phase_rad);
        spectrometer::ProcessingOptions o;
        o.zero_fill = zero_fill;
        o.lb_hz = lb_hz;
        o.gb_hz = gb_hz;
        o.phase0_rad = phase0_rad;
        o.phase1_rad = phase1_rad;
        o.halve_first_point = halve_first_point;
        o.validate(static_cast<int>(f.points.size()));
        return spectrum_dict(spectrometer::process(m, f, o));
      },
      "molecule"_a, "points"_a, "sw_hz"_a, "channel"_a, "scans"_a, "noise_sigma"_a,
      "receiver_phase_rad"_a, "zero_fill"_a, "lb_hz"_a, "gb_hz"_a, "phase0_rad"_a, "phase1_rad"_a,
      "halve_first_point"_a);
  mod.def(
      "fit_lines",
      [](const Molecule& m, py::object points, double sw_hz, py::object channel, int scans,
         double noise_sigma, double receiver_phase_rad) {
        const spectrometer::Fid f =
            fid_from(m, points, sw_hz, channel, scans, noise_sigma, receiver_phase_rad);
        const spectrometer::LineReadout r = run_without_gil<spectrometer::LineReadout>(
            [&] { return spectrometer::measure_lines(m, f); });
        return py::dict("lines"_a = lines_list(m, r), "residual_rms"_a = r.residual_rms);
      },
      "molecule"_a, "points"_a, "sw_hz"_a, "channel"_a, "scans"_a, "noise_sigma"_a,
      "receiver_phase_rad"_a);
  mod.def(
      "line_values",
      [](const Molecule& m, py::object rho, py::object channel) {
        const Mat r = density_matrix(rho, "rho", 1 << m.size());
        return lines_list(m,
                          spectrometer::measure_lines(m, r, channel_index(m, channel, "channel")));
      },
      "molecule"_a, "rho"_a, "channel"_a);
  // `nmrc acquire` minus files: the library's run_acquire_program, as cli/cmd_acquire.cpp.
  mod.def(
      "acquire",
      [](const std::string& path_or_text, const std::string& name, const std::string& base_dir) {
        // A file (name empty), or a program's text standing for `name` in base_dir.
        const spectrometer::AcquireProgram p =
            name.empty() ? spectrometer::load_acquire_program(path_or_text)
                         : spectrometer::parse_acquire_program(path_or_text, name, base_dir);
        const Molecule& m = p.sample.molecule;
        const spectrometer::AcquireRun o = run_without_gil<spectrometer::AcquireRun>(
            [&] { return spectrometer::run_acquire_program(p); });
        return py::dict(
            "name"_a = p.sequence.name, "molecule"_a = m, "epsilon"_a = o.thermal.epsilon,
            "rho_acquired"_a = to_numpy(o.result.rho_acquired), "fid"_a = fid_dict(o.result.fid),
            "spectrum"_a = spectrum_dict(o.spectrum), "lines"_a = lines_list(m, o.fit),
            "lines_true"_a = lines_list(m, o.truth), "residual_rms"_a = o.fit.residual_rms);
      },
      "program"_a, "name"_a, "base_dir"_a);

  // Bruker console export (compiler/bruker_inputs.hpp, docs/bruker.md): the files of
  // `nmrc export bruker INPUT... --out DIR` from the same entry point; returns its summary lines.
  mod.def(
      "export_bruker",
      [](const std::vector<std::string>& inputs, const std::string& out,
         const std::string& molecule, const std::string& pulses, std::optional<double> p90_us,
         std::optional<double> plw_w, int ns, int ds, double d1_s, double d16_s, double gpz_max,
         int phase_sense, bool cyclops, bool decouple, std::optional<double> p90_h_us,
         std::optional<double> plw_h_w, double pcpd_us, const std::string& cpd, double o2_ppm,
         const std::vector<double>& probe_w, double sw_hz, int td,
         const std::string& decoupler_pulses, double cw_b2_hz, double cw_min_us) {
        compiler::BrukerExportOptions eo;
        eo.p90_us = p90_us;
        eo.plw_w = plw_w;
        eo.ns = ns;
        eo.ds = ds;
        eo.d1_s = d1_s;
        eo.d16_s = d16_s;
        eo.gpz_max_g_per_cm = gpz_max;
        eo.phase_sense = phase_sense;
        eo.cyclops = cyclops;
        if (decouple) {
          eo.decouple->program = cpd;
          eo.decouple->pcpd_us = pcpd_us;
          eo.decouple->o2_ppm = o2_ppm;
          eo.decouple->p90_us = p90_h_us;
          eo.decouple->plw_w = plw_h_w;
          eo.decouple->pulses = decoupler_pulses;
          eo.decouple->cw_b2_hz = cw_b2_hz;
          eo.decouple->cw_min_s = cw_min_us * 1e-6;
        } else {
          eo.decouple.reset();
        }
        if (probe_w.size() != 4)
          bad("probe_w", std::to_string(probe_w.size()) + " values", "must be 4");
        eo.probe = {probe_w[0], probe_w[1], probe_w[2], probe_w[3]};
        compiler::check_export_options(eo);
        compiler::stamp_export_time(eo);
        compiler::BrukerExportInputs in{inputs, molecule, pulses, sw_hz, td};
        const std::string folder = output_path(out);
        const compiler::BrukerExportResult r = compiler::export_bruker_inputs(in, eo);
        compiler::write_export_files(r, folder);
        return r.summary;
      },
      "inputs"_a, "out"_a, "molecule"_a, "pulses"_a, "p90_us"_a, "plw_w"_a, "ns"_a, "ds"_a,
      "d1_s"_a, "d16_s"_a, "gpz_max"_a, "phase_sense"_a, "cyclops"_a, "decouple"_a, "p90_h_us"_a,
      "plw_h_w"_a, "pcpd_us"_a, "cpd"_a, "o2_ppm"_a, "probe_w"_a, "sw_hz"_a, "td"_a,
      "decoupler_pulses"_a, "cw_b2_hz"_a, "cw_min_us"_a);

  // TopSpin datasets (spectrometer/bruker_dataset.hpp, docs/bruker.md) -------------------------
  mod.def(
      "read_bruker_dataset",
      [](const std::string& dir) {
        const spectrometer::BrukerDataset d = spectrometer::read_bruker_dataset(dir);
        return py::dict("path"_a = d.path, "points"_a = to_numpy(d.points), "td"_a = d.td,
                        "sw_hz"_a = d.sw_hz, "bf1_mhz"_a = d.bf1_mhz, "o1_hz"_a = d.o1_hz,
                        "sfo1_mhz"_a = d.sfo1_mhz, "nuc1"_a = d.nuc1, "pulprog"_a = d.pulprog,
                        "isotope"_a = d.isotope, "dtypa"_a = d.dtypa, "bytorda"_a = d.bytorda,
                        "aq_mod"_a = d.aq_mod, "decim"_a = d.decim, "dspfvs"_a = d.dspfvs,
                        "ns"_a = d.ns, "nc"_a = d.nc, "recph_deg"_a = d.recph_deg,
                        "grpdly_points"_a = d.grpdly_points, "grpdly_source"_a = d.grpdly_source,
                        "dropped_points"_a = d.dropped_points);
      },
      "dir"_a);
  // The Fid of a dataset's points in the molecule's frame (fid_from_bruker), from the records it
  // reads: a dataset read here or an nmrglue (dic, data) after remove_digital_filter.
  mod.def(
      "fid_from_bruker",
      [](const Molecule& m, py::object points, double sw_hz, double bf1_mhz, double o1_hz,
         const std::string& nuc1, int ns) {
        spectrometer::BrukerDataset d;
        const CArray a = numeric_array<CArray>(points, "data", 1);
        if (a.size() == 0 || a.size() > kMaxFidPoints)
          bad("data.shape", shape_text(a), "must hold 1 to 2^20 points");
        d.points.assign(a.data(), a.data() + a.size());
        if (!(sw_hz > 0) || sw_hz > limits::kMaxSpectralWidthHz)
          bad("SW_h", fmt::format("{}", sw_hz), "must be in (0, 1e8]");
        if (!(bf1_mhz > 0) || bf1_mhz > limits::kMaxLarmorMHz)
          bad("BF1", fmt::format("{}", bf1_mhz), "must be in (0, 1e4]");
        if (!std::isfinite(o1_hz) || std::abs(o1_hz) > limits::kMaxOffsetHz)
          bad("O1", fmt::format("{}", o1_hz), "must be finite, |O1| <= 1e8");
        if (ns < 1) bad("NS", std::to_string(ns), "must be >= 1");
        d.sw_hz = sw_hz;
        d.bf1_mhz = bf1_mhz;
        d.o1_hz = o1_hz;
        d.sfo1_mhz = bf1_mhz + o1_hz * 1e-6;
        d.nuc1 = nuc1;
        d.isotope = spectrometer::topspin_isotope(nuc1);
        d.ns = ns;
        d.td = 2 * static_cast<long>(d.points.size());
        return fid_dict(spectrometer::fid_from_bruker(d, m));
      },
      "molecule"_a, "data"_a, "sw_hz"_a, "bf1_mhz"_a, "o1_hz"_a, "nuc1"_a, "ns"_a);
  mod.def(
      "write_bruker_dataset",
      [](const std::string& dir, const Molecule& m, py::object points, double sw_hz,
         py::object channel, int scans, double noise_sigma, double receiver_phase_rad, int dtypa,
         const std::string& pulprog, bool processed) {
        const spectrometer::Fid f =
            fid_from(m, points, sw_hz, channel, scans, noise_sigma, receiver_phase_rad);
        spectrometer::BrukerWriteOptions o;
        if (dtypa != 0 && dtypa != 2) bad("dtypa", std::to_string(dtypa), "must be 0 or 2");
        o.dtypa = dtypa;
        o.pulprog = pulprog;
        o.processed = processed;
        if (processed && (f.points.size() & (f.points.size() - 1)) != 0)
          o.processing.zero_fill = static_cast<int>(std::bit_ceil(f.points.size()));
        spectrometer::write_bruker_dataset(dir, m, f, o);
      },
      "dir"_a, "molecule"_a, "points"_a, "sw_hz"_a, "channel"_a, "scans"_a, "noise_sigma"_a,
      "receiver_phase_rad"_a, "dtypa"_a, "pulprog"_a, "processed"_a);

  // Preparation and tomography -----------------------------------------------------------------
  mod.def(
      "prepare",
      [](const std::string& path_or_text, const std::string& name, const std::string& base_dir) {
        const spectrometer::PreparationProgram p =
            name.empty() ? spectrometer::load_preparation_program(path_or_text)
                         : spectrometer::parse_preparation_program(path_or_text, name, base_dir);
        const spectrometer::PreparationResult r = run_without_gil<spectrometer::PreparationResult>(
            [&] { return spectrometer::run_preparation(p); });
        py::dict d("target"_a = spectrometer::target_name(p.target), "molecule"_a = p.molecule,
                   "before"_a = to_numpy(r.before), "after"_a = to_numpy(r.after));
        if (r.temporal) {
          d["reduced"] = to_numpy(r.temporal->reduced);
          d["requested"] = to_numpy(p.requested);
          d["max_abs_error"] = r.temporal->max_abs_error;
          d["uhlmann_fidelity"] = r.temporal->uhlmann_fidelity;
        }
        if (r.bath) {
          d["sigma"] = to_numpy(r.bath->sigma);
          d["bath_p0_requested"] = r.bath->p0_requested;
          d["bath_p0_obtained"] = r.bath->p0_obtained;
        }
        return d;
      },
      "program"_a, "name"_a, "base_dir"_a);
  mod.def(
      "tomography",
      [](const std::string& path_or_text, const std::string& name, const std::string& base_dir) {
        const spectrometer::TomographyProgram p =
            name.empty() ? spectrometer::load_tomography_program(path_or_text)
                         : spectrometer::parse_tomography_program(path_or_text, name, base_dir);
        const spectrometer::TomographyResult r = run_without_gil<spectrometer::TomographyResult>(
            [&] { return spectrometer::run_tomography(p); });
        std::vector<std::string> used;
        for (const auto& s : r.settings_used) used.push_back(s.name);
        return py::dict("name"_a = p.name, "molecule"_a = p.molecule,
                        "true_state"_a = to_numpy(p.true_state),
                        "linear"_a = to_numpy(r.reconstruction.linear),
                        "physical"_a = to_numpy(r.reconstruction.physical),
                        "residual"_a = r.reconstruction.residual, "fidelity"_a = r.fidelity,
                        "settings"_a = used, "completeness"_a = r.completeness.summary(),
                        "energy_tomography"_a = to_numpy(r.energy_tomography),
                        "energy_true"_a = to_numpy(r.energy_true));
      },
      "program"_a, "name"_a, "base_dir"_a);
  // Readout settings from letters: the length checked here, the letters by the library's one
  // reader (setting_from_letters: I, X, Y in either case, as readout files take them).
  const auto settings_of = [](const std::vector<std::string>& letters, int n) {
    if (n < 1 || n > 6) bad("n", std::to_string(n), "must be 1 to 6");
    std::vector<spectrometer::ReadoutSetting> settings;
    for (const auto& l : letters) {
      if (static_cast<int>(l.size()) != n)
        bad("settings", l, "must be " + std::to_string(n) + " letters of I, X, Y");
      try {
        settings.push_back(spectrometer::setting_from_letters(l));
      } catch (const std::invalid_argument& e) {
        bad("settings", l, e.what());
      }
    }
    if (settings.empty()) bad("settings", "[]", "must not be empty");
    return settings;
  };
  mod.def(
      "readout_values",
      [settings_of](py::object rho, const std::string& setting, int n) {
        const spectrometer::ReadoutSetting s = settings_of({setting}, n)[0];
        const RVec v = spectrometer::ideal_line_values(density_matrix(rho, "rho", 1 << n), s, n);
        return to_numpy(std::vector<double>(v.data(), v.data() + v.size()));
      },
      "rho"_a, "setting"_a, "n"_a);
  mod.def(
      "reconstruct",
      [settings_of](const std::vector<std::string>& letters, py::object values, int n) {
        const auto settings = settings_of(letters, n);
        const RArray a = numeric_array<RArray>(values, "values", 2);
        const py::ssize_t per = 2L * n * (1L << (n - 1));
        if (a.shape(0) != static_cast<py::ssize_t>(settings.size()) || a.shape(1) != per)
          bad("values.shape", shape_text(a),
              "must be (" + std::to_string(settings.size()) + ", " + std::to_string(per) +
                  "): one row of line values per setting");
        std::vector<RVec> rows;
        for (py::ssize_t i = 0; i < a.shape(0); ++i)
          rows.push_back(Eigen::Map<const RVec>(a.data() + i * per, per));
        const spectrometer::Reconstruction r = run_without_gil<spectrometer::Reconstruction>(
            [&] { return spectrometer::Tomographer(settings, n).reconstruct(rows); });
        return py::dict("linear"_a = to_numpy(r.linear), "physical"_a = to_numpy(r.physical),
                        "residual"_a = r.residual,
                        "min_eigenvalue_linear"_a = r.min_eigenvalue_linear);
      },
      "settings"_a, "values"_a, "n"_a);
  mod.def(
      "completeness",
      [settings_of](const std::vector<std::string>& letters, int n) {
        const auto settings = settings_of(letters, n);
        const spectrometer::CompletenessReport c = spectrometer::analyze_completeness(settings, n);
        std::vector<std::string> proposed;
        for (const auto& s : c.proposed) proposed.push_back(s.name);
        return py::dict("parameters"_a = c.parameters, "rank"_a = c.rank,
                        "condition_number"_a = c.condition_number, "complete"_a = c.complete,
                        "invisible"_a = c.invisible, "duplicates"_a = c.duplicates,
                        "proposed"_a = proposed, "summary"_a = c.summary());
      },
      "settings"_a, "n"_a);

  // Experiment ---------------------------------------------------------------------------------
  mod.def("experiment", &run_experiment, "path"_a, "text"_a, "cache_dir"_a, "compile"_a,
          "error_budget"_a, "out"_a, "progress"_a);

  // Theory -------------------------------------------------------------------------------------
  mod.def(
      "theory",
      [](const std::string& path, const std::string& out, const py::object& progress) {
        return run_theory(thermo::load_theory_program(path), out, progress);
      },
      "path"_a, "out"_a, "progress"_a);
  mod.def(
      "theory_text",
      [](const std::string& text, const std::string& name, const std::string& out,
         const py::object& progress) {
        return run_theory(thermo::parse_theory_program(text, name), out, progress);
      },
      "text"_a, "name"_a, "out"_a, "progress"_a);
}
