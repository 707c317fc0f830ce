// nmrc molecule show FILE: the Hamiltonian parameters and the predicted line list.
#include <cstdio>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/molecule.hpp"

namespace nmrc::cli {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string pad_left(const std::string& s, size_t w) {
  return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
}

std::string pad_right(const std::string& s, size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

std::string role_of(const Molecule& m, const std::string& label) {
  std::string r;
  for (const auto& [role, target] : m.roles)
    if (target == label) r += (r.empty() ? "" : ",") + role;
  return r.empty() ? "-" : r;
}

std::string describe(const Molecule& m) {
  std::ostringstream os;
  const int n = m.size();
  os << "molecule " << m.name;
  if (!m.description.empty()) os << ": " << m.description;
  os << "\nspectrometer: 1H " << fmt("%.4f", m.proton_mhz)
     << " MHz, T = " << fmt("%.1f", m.temperature_k) << " K\n";
  for (const auto& c : m.channels)
    os << "channel " << c.name << ": " << fmt("%.4f", c.larmor_mhz) << " MHz, carrier "
       << fmt("%.1f", c.carrier_hz) << " Hz ("
       << fmt("%.3f", c.frame_ppm + c.carrier_hz / c.larmor_mhz) << " ppm), max RF "
       << fmt("%.0f", c.max_rf_hz) << " Hz\n";
  os << "\nspins (" << n << "):\n";
  os << "  label  isotope  role   offset_hz  shift_ppm    T1_s   T2_s  T2*_s\n";
  for (const auto& nu : m.nuclei) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "  %-6s %-8s %-5s %10.1f %10.3f %7.2f %6.2f %6.2f\n",
                  nu.label.c_str(), nu.isotope.c_str(), role_of(m, nu.label).c_str(), nu.offset_hz,
                  nu.shift_ppm, nu.t1_s, nu.t2_s, nu.t2star_s);
    os << buf;
  }
  os << "\nJ couplings (Hz):\n        ";
  for (const auto& nu : m.nuclei) os << pad_left(nu.label, 8);
  os << "\n";
  for (int a = 0; a < n; ++a) {
    os << "  " << pad_right(m.nuclei[a].label, 6);
    for (int b = 0; b < n; ++b)
      os << (a == b ? std::string("       -") : fmt("%8.1f", m.j_hz(a, b)));
    os << "\n";
  }
  os << "\nrotating-frame Hamiltonian (weak coupling), in Hz:\n"
     << "  H/2pi = sum_k (nu_k - carrier) Iz_k + sum_{p<q} J_pq Iz_p Iz_q\n";
  const auto lines = m.lines();
  os << "\npredicted lines (weak coupling): " << lines.size() << " (" << (1 << (n - 1))
     << " per spin); states of the other spins, 0 = up (ground), 1 = down\n";
  os << "  spin   #   freq_hz    shift_ppm  others\n";
  int count = 0, last_spin = -1;
  for (const auto& l : lines) {
    if (l.spin != last_spin) count = 0;
    last_spin = l.spin;
    const Channel& ch = m.channel_of(l.spin);
    const double ppm = ch.frame_ppm + (l.frequency_hz + ch.carrier_hz) / ch.larmor_mhz;
    std::string others;
    for (int j = 0; j < n; ++j)
      if (j != l.spin) others += m.nuclei[j].label + "=" + std::to_string(l.other_bits[j]) + " ";
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %-5s %2d %10.2f %11.4f   %s\n",
                  m.nuclei[l.spin].label.c_str(), ++count, l.frequency_hz, ppm, others.c_str());
    os << buf;
  }
  if (!m.sources.empty()) {
    os << "\nsources:\n";
    for (const auto& s : m.sources) os << "  - " << s << "\n";
  }
  if (!m.assumptions.empty()) {
    os << "assumptions:\n";
    for (const auto& s : m.assumptions) os << "  - " << s << "\n";
  }
  return os.str();
}

std::string lines_csv(const Molecule& m) {
  std::ostringstream os;
  os << "spin,index,frequency_hz,shift_ppm";
  for (const auto& nu : m.nuclei) os << "," << nu.label;
  os << "\n";
  int count = 0, last = -1;
  for (const auto& l : m.lines()) {
    if (l.spin != last) count = 0;
    last = l.spin;
    const Channel& ch = m.channel_of(l.spin);
    os << m.nuclei[l.spin].label << "," << ++count << "," << fmt("%.4f", l.frequency_hz) << ","
       << fmt("%.5f", ch.frame_ppm + (l.frequency_hz + ch.carrier_hz) / ch.larmor_mhz);
    for (int j = 0; j < m.size(); ++j)
      os << "," << (j == l.spin ? std::string("x") : std::to_string(l.other_bits[j]));
    os << "\n";
  }
  return os.str();
}

}  // namespace

void add_molecule_command(CLI::App& app, GlobalOptions& /*global*/, Action& run) {
  auto* mol = app.add_subcommand("molecule", "Inspect a spin-system (molecule) file");
  mol->require_subcommand(1);
  auto* show = mol->add_subcommand("show", "Print the Hamiltonian parameters and the line list");
  auto file = std::make_shared<std::string>();
  auto csv = std::make_shared<std::string>();
  show->add_option("MOLECULE", *file, "Molecule YAML file")->required();
  show->add_option("--lines-csv", *csv, "Also write the line list as CSV to this file");
  show->callback([&run, file, csv] {
    run = [file, csv] {
      const Molecule m = load_molecule(*file);
      std::fputs(describe(m).c_str(), stdout);
      if (!csv->empty()) write_file_atomic(*csv, lines_csv(m));
      return 0;
    };
  });
}

}  // namespace nmrc::cli
