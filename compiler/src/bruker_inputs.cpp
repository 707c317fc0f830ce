// A Bruker export from program and pulse files (bruker_inputs.hpp): the assembly that
// `nmrc export bruker` and nmrc.export_bruker share.
#include "nmrc/compiler/bruker_inputs.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/program.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"

namespace nmrc::compiler {

namespace fs = std::filesystem;

namespace {
bool is_pulse_file(const std::string& path) { return fs::path(path).extension() == ".json"; }
}  // namespace

void check_export_options(const BrukerExportOptions& o) {
  if (o.ns < 1) throw InputError("--ns = " + std::to_string(o.ns) + ": must be >= 1");
  if (o.ds < 0) throw InputError("--ds = " + std::to_string(o.ds) + ": must be >= 0");
}

void stamp_export_time(BrukerExportOptions& o) {
  std::time_t t = std::time(nullptr);
  if (const char* e = std::getenv("SOURCE_DATE_EPOCH"); e && *e) {
    // Digits only, at most 11 (a date before the year 5000): anything else is an error.
    const std::string s(e);
    if (s.size() > 11 ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      throw InputError("SOURCE_DATE_EPOCH = " + s.substr(0, 40) +
                       ": must be seconds since 1970 (digits only)");
    t = static_cast<std::time_t>(std::stoll(s));
  }
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[32], tim[32];
  std::strftime(date, sizeof date, "%Y/%m/%d", &tm);
  std::strftime(tim, sizeof tim, "%H:%M:%S", &tm);
  o.date = date;
  o.time = tim;
}

BrukerExportResult export_bruker_inputs(const BrukerExportInputs& in, BrukerExportOptions eo) {
  check_export_options(eo);
  if (in.inputs.empty()) throw InputError("INPUT: give at least one pulse program or pulse file");
  std::vector<BrukerExperimentInput> exps;
  std::optional<Molecule> molecule;
  if (!in.molecule.empty()) molecule = load_molecule(in.molecule);
  std::vector<std::string> pulse_files, sources;
  for (const auto& path_in : in.inputs) {
    if (is_pulse_file(path_in)) {
      pulse_files.push_back(path_in);
      continue;
    }
    Program prog = load_program(path_in);
    if (molecule && molecule->name != prog.molecule.name)
      throw InputError(path_in + ": molecule = " + prog.molecule.name +
                       ": every input must be for the same molecule (" + molecule->name + ")");
    if (!molecule) molecule = prog.molecule;
    for (const auto& job : prog.gates) {
      if (in.pulses.empty()) continue;  // reported at the placeholder, with its location
      const std::string path = (fs::path(in.pulses) / (job.name + ".json")).string();
      if (!fs::exists(path))
        throw InputError(job.location + ": gate " + job.name + ": no compiled pulse " + path +
                         " (run nmrc compile " + path_in + " --out " + in.pulses + ")");
      const CompiledPulse cp = read_pulse_file(path);
      if (cp.molecule != prog.molecule.name)
        throw InputError(path + ": molecule = " + cp.molecule +
                         ": compiled for another molecule than " + prog.molecule.name);
      install_pulse(prog, job, cp);
    }
    const auto locations =
        std::make_shared<std::vector<std::string>>(program_element_locations(path_in));
    exps.push_back({prog.name, prog.sequence, [locations](size_t k) {
                      return k < locations->size() ? (*locations)[k] : std::string();
                    }});
    sources.push_back(path_in);
  }
  if (!pulse_files.empty()) {
    if (!molecule)
      throw InputError("--molecule: required to export pulse files (" + pulse_files[0] + ")");
    if (in.td < 1 || in.td > (1 << 24))
      throw InputError("--td = " + std::to_string(in.td) + ": must be between 1 and 16777216");
    Sequence seq;
    seq.name = "nmrc_pulses";
    int channel = 0;
    for (const auto& path : pulse_files) {
      const CompiledPulse cp = read_pulse_file(path);
      if (cp.molecule != molecule->name)
        throw InputError(path + ": molecule = " + cp.molecule +
                         ": compiled for another molecule than " + molecule->name);
      ShapedPulseElement e = cp.element(*molecule);
      if (e.name.empty()) e.name = fs::path(path).stem().string();
      channel = e.channels.empty() ? 0 : e.channels[0];
      seq.elements.push_back(e);
      sources.push_back(path);
    }
    // Acquire after the pulses: by default a width that holds every line of the channel
    // with 20 % margin, rounded up to 1 kHz.
    AcquireElement a;
    a.channel = channel;
    a.td = in.td;
    double fmax = 0;
    for (const auto& l : molecule->lines())
      if (molecule->nuclei[l.spin].isotope == molecule->channels[channel].isotope)
        fmax = std::max(fmax, std::abs(l.frequency_hz));
    a.sw_hz = in.sw_hz > 0 ? in.sw_hz : 1000.0 * std::ceil(2.4 * fmax / 1000.0 + 1e-9);
    seq.elements.push_back(a);
    exps.push_back({"nmrc_pulses", seq, {}});
  }
  std::string src;
  for (const auto& s : sources) src += (src.empty() ? "" : ", ") + fs::path(s).filename().string();
  eo.source = src;
  return export_bruker(exps, *molecule, eo);
}

void write_export_files(const BrukerExportResult& r, const std::string& out_dir) {
  for (const auto& f : r.files)
    make_directories((fs::path(out_dir) / f.path).parent_path().string());
  for (const auto& f : r.files) write_file_atomic((fs::path(out_dir) / f.path).string(), f.content);
}

}  // namespace nmrc::compiler
