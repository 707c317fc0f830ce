// nmrc molecule show FILE: the Hamiltonian parameters and the predicted line list.
#include <fmt/format.h>

#include <cstdio>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/text.hpp"

namespace nmrc::cli {

namespace {

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
  os << "\nspectrometer: 1H " << fmt::format("{:.4f}", m.proton_mhz)
     << " MHz, T = " << fmt::format("{:.1f}", m.temperature_k) << " K\n";
  for (const auto& c : m.channels)
    os << "channel " << c.name << ": " << fmt::format("{:.4f}", c.larmor_mhz) << " MHz, carrier "
       << fmt::format("{:.1f}", c.carrier_hz) << " Hz ("
       << fmt::format("{:.3f}", c.ppm_of_offset(c.carrier_hz)) << " ppm), max RF "
       << fmt::format("{:.0f}", c.max_rf_hz) << " Hz\n";
  os << "\nspins (" << n << "):\n";
  os << "  label  isotope  role   offset_hz  shift_ppm    T1_s   T2_s  T2*_s\n";
  for (const auto& nu : m.nuclei)
    os << fmt::format("  {:<6} {:<8} {:<5} {:>10.1f} {:>10.3f} {:>7.2f} {:>6.2f} {:>6.2f}\n",
                      nu.label, nu.isotope, role_of(m, nu.label), nu.offset_hz, nu.shift_ppm,
                      nu.t1_s, nu.t2_s, nu.t2star_s);
  os << "\nJ couplings (Hz):\n        ";
  for (const auto& nu : m.nuclei) os << pad_left(nu.label, 8);
  os << "\n";
  for (int a = 0; a < n; ++a) {
    os << "  " << pad_right(m.nuclei[a].label, 6);
    for (int b = 0; b < n; ++b)
      os << (a == b ? std::string("       -") : fmt::format("{:>8.1f}", m.j_hz(a, b)));
    os << "\n";
  }
  os << "\nrotating-frame Hamiltonian (weak coupling), in Hz:\n"
     << "  H/2pi = sum_k (nu_k - carrier) Iz_k + sum_{p<q} J_pq Iz_p Iz_q\n";
  const auto lines = m.lines();
  os << "\npredicted lines (weak coupling): " << lines.size() << " (" << (1 << (n - 1))
     << " per spin); states of the other spins, 0 = up (ground), 1 = down\n";
  os << "  spin   #   freq_hz    shift_ppm  others\n";
  for (const auto& l : lines) {
    const Channel& ch = m.channel_of(l.spin);
    const double ppm = ch.ppm_of_offset(l.frequency_hz + ch.carrier_hz);
    std::string others;
    for (int j = 0; j < n; ++j)
      if (j != l.spin) others += m.nuclei[j].label + "=" + std::to_string(l.other_bits[j]) + " ";
    os << fmt::format("  {:<5} {:>2} {:>10.2f} {:>11.4f}   {}\n", m.nuclei[l.spin].label, l.index,
                      l.frequency_hz, ppm, others);
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
  for (const auto& nu : m.nuclei) os << "," << csv_field(nu.label);
  os << "\n";
  for (const auto& l : m.lines()) {
    const Channel& ch = m.channel_of(l.spin);
    os << csv_field(m.nuclei[l.spin].label) << "," << l.index << ","
       << fmt::format("{:.4f}", l.frequency_hz) << ","
       << fmt::format("{:.5f}", ch.ppm_of_offset(l.frequency_hz + ch.carrier_hz));
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
