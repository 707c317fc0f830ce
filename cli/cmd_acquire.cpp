// nmrc acquire PROGRAM.yaml --out DIR: runs an acquisition program on the virtual spectrometer
// and writes the FID, the spectrum (CSV, PNG, SVG with assigned lines) and the line table.
#ifdef NMRC_SPECTROMETER_AVAILABLE
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/text.hpp"
#include "nmrc/spectrometer/acquire_program.hpp"
#include "nmrc/spectrometer/bruker_dataset.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "nmrc/spectrometer/lines.hpp"
#include "plot.hpp"
#include "terminal.hpp"

namespace nmrc::cli {

namespace {

using namespace nmrc::spectrometer;

std::string fid_csv(const Fid& fid) {
  std::ostringstream os;
  os << "t_s,re,im\n";
  for (size_t j = 0; j < fid.points.size(); ++j)
    os << fmt::format("{:.9e}", j * fid.dwell_s()) << ","
       << fmt::format("{:.9e}", fid.points[j].real()) << ","
       << fmt::format("{:.9e}", fid.points[j].imag()) << "\n";
  return os.str();
}

std::string spectrum_csv(const Spectrum& s) {
  std::ostringstream os;
  os << "offset_hz,shift_ppm,re,im\n";
  for (size_t i = 0; i < s.hz.size(); ++i)
    os << fmt::format("{:.5f}", s.hz[i]) << "," << fmt::format("{:.6f}", s.ppm[i]) << ","
       << fmt::format("{:.9e}", s.values[i].real()) << ","
       << fmt::format("{:.9e}", s.values[i].imag()) << "\n";
  return os.str();
}

double ppm_of(const Molecule& m, int channel, double hz) {
  const Channel& ch = m.channels[channel];
  return ch.ppm_of_offset(hz + ch.carrier_hz);
}

std::string lines_csv(const Molecule& m, const LineReadout& fit, const LineReadout& truth,
                      double eps) {
  std::ostringstream os;
  os << "spin,index,frequency_hz,shift_ppm";
  for (const auto& nu : m.nuclei) os << "," << csv_field(nu.label);
  os << ",sx,sy,std_error,sx_true,sy_true,sx_over_epsilon,sy_over_epsilon\n";
  for (size_t i = 0; i < fit.lines.size(); ++i) {
    const auto& l = fit.lines[i];
    os << csv_field(m.nuclei[l.spin].label) << "," << l.index << ","
       << fmt::format("{:.4f}", l.frequency_hz) << ","
       << fmt::format("{:.5f}", ppm_of(m, fit.channel, l.frequency_hz));
    for (int j = 0; j < m.size(); ++j)
      os << "," << (j == l.spin ? std::string("x") : std::to_string(l.other_bits[j]));
    os << "," << fmt::format("{:.9e}", l.sx()) << "," << fmt::format("{:.9e}", l.sy()) << ","
       << fmt::format("{:.3e}", l.std_error) << "," << fmt::format("{:.9e}", truth.lines[i].sx())
       << "," << fmt::format("{:.9e}", truth.lines[i].sy()) << ","
       << fmt::format("{:.5f}", l.sx() / eps) << "," << fmt::format("{:.5f}", l.sy() / eps) << "\n";
  }
  return os.str();
}

// gnuplot's enhanced text reads _ and ^ as sub/superscripts.
std::string plain(std::string s) {
  for (char& c : s)
    if (c == '_' || c == '^') c = ' ';
  return s;
}

// Spectrum overview (ppm) and one zoom per observed spin with every line numbered.
Figure spectrum_figure(const Molecule& m, const Spectrum& s, const LineReadout& fit,
                       const std::string& title) {
  double ymax = 0.0;
  for (const auto& v : s.values) ymax = std::max(ymax, std::abs(v.real()));
  if (ymax == 0.0) ymax = 1.0;
  std::vector<int> spins;
  for (const auto& l : fit.lines)
    if (std::find(spins.begin(), spins.end(), l.spin) == spins.end()) spins.push_back(l.spin);
  Figure fig;
  fig.title = plain(title);
  fig.cols = 2;
  fig.rows = 1 + static_cast<int>((spins.size() + 1) / 2);
  fig.width_px = 1400;
  fig.height_px = 380 * fig.rows;
  // Overview across the whole width (a 2-column grid: overview, then an empty-looking copy is
  // avoided by giving the overview the first cell and the FID magnitude the second).
  Panel over;
  over.title = "spectrum (real part)";
  over.xlabel = "13C shift (ppm)";
  over.ylabel = "intensity (max = 1)";
  over.reverse_x = true;
  over.key = "off";
  Series sr;
  sr.title = "spectrum";
  sr.width = 1.0;
  sr.color = 1;
  const size_t step = std::max<size_t>(1, s.hz.size() / 8000);
  for (size_t i = 0; i < s.hz.size(); i += step) {
    // Keep the tallest point of each decimation block so no line is lost.
    size_t best = i;
    for (size_t j = i; j < std::min(s.hz.size(), i + step); ++j)
      if (std::abs(s.values[j].real()) > std::abs(s.values[best].real())) best = j;
    sr.x.push_back(s.ppm[best]);
    sr.y.push_back(s.values[best].real() / ymax);
  }
  over.series.push_back(sr);
  for (int k : spins) {
    double f = 0.0;
    int cnt = 0;
    for (const auto& l : fit.lines)
      if (l.spin == k) {
        f += l.frequency_hz;
        ++cnt;
      }
    over.labels.push_back({ppm_of(m, fit.channel, f / cnt), 1.08, m.nuclei[k].label});
  }
  fig.panels.push_back(over);
  Panel table;
  table.title = "fitted line amplitudes: real part sx (bars), imaginary part sy (points)";
  table.xlabel = "line (8 per spin, in spin order)";
  table.ylabel = "amplitude / max |amplitude|";
  table.key = "off";
  Series bars;
  bars.title = "sx";
  bars.style = "impulses";
  bars.width = 4.0;
  bars.color = 3;
  double amax = 0.0;
  for (const auto& l : fit.lines) amax = std::max(amax, std::abs(l.amplitude));
  if (amax == 0.0) amax = 1.0;
  for (size_t i = 0; i < fit.lines.size(); ++i) {
    bars.x.push_back(static_cast<double>(i + 1));
    bars.y.push_back(fit.lines[i].sx() / amax);
  }
  table.series.push_back(bars);
  Series ys;
  ys.title = "sy";
  ys.style = "points";
  ys.color = 7;
  for (size_t i = 0; i < fit.lines.size(); ++i) {
    ys.x.push_back(static_cast<double>(i + 1));
    ys.y.push_back(fit.lines[i].sy() / amax);
  }
  table.series.push_back(ys);
  fig.panels.push_back(table);

  for (int k : spins) {
    double lo = 1e300, hi = -1e300;
    for (const auto& l : fit.lines)
      if (l.spin == k) {
        lo = std::min(lo, l.frequency_hz);
        hi = std::max(hi, l.frequency_hz);
      }
    const double pad = std::max(8.0, 0.08 * (hi - lo));
    lo -= pad;
    hi += pad;
    Panel z;
    z.title = m.nuclei[k].label + " (" +
              fmt::format("{:.2f}", ppm_of(m, fit.channel, 0.5 * (lo + hi))) + " ppm)";
    z.xlabel = "offset from carrier (Hz)";
    z.ylabel = "intensity";
    z.key = "off";
    Series zs;
    zs.title = plain(m.nuclei[k].label);
    zs.width = 1.2;
    zs.color = 1;
    double zmax = 0.0;
    for (size_t i = 0; i < s.hz.size(); ++i)
      if (s.hz[i] >= lo && s.hz[i] <= hi) {
        zs.x.push_back(s.hz[i]);
        zs.y.push_back(s.values[i].real() / ymax);
        zmax = std::max(zmax, s.values[i].real() / ymax);
      }
    z.series.push_back(zs);
    // Number the lines; lines closer than 1/60 of the window share one label ("4/5").
    std::vector<std::pair<double, std::string>> marks;
    for (const auto& l : fit.lines) {
      if (l.spin != k) continue;
      if (!marks.empty() && l.frequency_hz - marks.back().first < (hi - lo) / 45.0) {
        marks.back().second += "/" + std::to_string(l.index);
        continue;
      }
      marks.push_back({l.frequency_hz, std::to_string(l.index)});
    }
    for (const auto& [f, text] : marks) {
      double y = 0.0;
      for (size_t i = 0; i < zs.x.size(); ++i)
        if (std::abs(zs.x[i] - f) < 1.0) y = std::max(y, zs.y[i]);
      z.labels.push_back({f, y + 0.06 * std::max(zmax, 1e-12), text});
    }
    fig.panels.push_back(z);
  }
  return fig;
}

}  // namespace

void add_acquire_command(CLI::App& app, GlobalOptions& global, Action& run) {
  auto* cmd = app.add_subcommand(
      "acquire", "Run an acquisition program on the virtual spectrometer (docs/acquire-format.md)");
  auto file = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  cmd->add_option("PROGRAM", *file, "Acquisition program (YAML)")->required();
  cmd->add_option("--out", *out, "Output directory")->required();
  // TopSpin datasets (docs/bruker.md): write the acquired FID as an experiment folder, or
  // process a recorded one (nmrc's or a console's) instead of the simulated FID.
  auto bruker = std::make_shared<std::string>();
  auto from_bruker = std::make_shared<std::string>();
  auto dtype = std::make_shared<std::string>("int32");
  cmd->add_option("--bruker", *bruker, "Also write the FID as a TopSpin experiment folder DIR");
  cmd->add_option("--bruker-dtype", *dtype, "int32 (DTYPA 0, default) or float64 (DTYPA 2)")
      ->check(CLI::IsMember({"int32", "float64"}));
  cmd->add_option("--from-bruker", *from_bruker,
                  "Process the FID of this TopSpin folder instead of the simulated one");
  cmd->callback([&run, &global, file, out, bruker, from_bruker, dtype] {
    run = [&global, file, out, bruker, from_bruker, dtype] {
      Progress progress(global.quiet);
      progress.update("loading " + *file);
      const AcquireProgram p = load_acquire_program(*file);
      const Molecule& m = p.sample.molecule;
      // A recorded dataset is read (and refused, if bad) before any simulation work.
      std::optional<BrukerDataset> recorded;
      std::optional<Fid> recorded_fid;
      if (!from_bruker->empty()) {
        recorded = read_bruker_dataset(*from_bruker);
        recorded_fid = fid_from_bruker(*recorded, m);
      }
      const AcquireRun run =
          run_acquire_program(p, recorded_fid ? &*recorded_fid : nullptr,
                              [&](const std::string& stage) { progress.update(stage); });
      if (recorded) {  // a recorded FID; the simulation stays as the prediction
        const BrukerDataset& d = *recorded;
        std::printf("read %s: TD %ld, SW_h %.6g Hz, NS %d, group delay %.6g points (%s)\n",
                    from_bruker->c_str(), d.td, d.sw_hz, d.ns, d.grpdly_points,
                    d.grpdly_source.c_str());
      }
      const ThermalState& th = run.thermal;
      const ExperimentResult& r = run.result;
      const Spectrum& sp = run.spectrum;
      const LineReadout& fit = run.fit;
      const LineReadout& truth = run.truth;
      progress.update("writing " + *out);
      const std::string title = "nmrc acquire " + p.sequence.name + ": " + m.name + ", " +
                                std::to_string(fit.lines.size()) + " assigned lines";
      make_directories(*out);
      write_figure(spectrum_figure(m, sp, fit, title), *out + "/spectrum");
      write_file_atomic(*out + "/fid.csv", fid_csv(r.fid));
      write_file_atomic(*out + "/spectrum.csv", spectrum_csv(sp));
      write_file_atomic(*out + "/lines.csv", lines_csv(m, fit, truth, th.epsilon));
      if (!bruker->empty()) {
        BrukerWriteOptions bo;
        bo.dtypa = *dtype == "float64" ? 2 : 0;
        bo.pulprog = p.sequence.name;
        bo.processing = p.processing;
        bo.pulseprogram = "; " + p.sequence.name + ": nmrc acquire " + *file +
                          " on the virtual spectrometer (see nmrc export bruker for consoles)\n";
        write_bruker_dataset(*bruker, m, r.fid, bo);
      }
      progress.done();
      double dmax = 0.0, emax = 0.0;
      for (size_t i = 0; i < fit.lines.size(); ++i) {
        dmax = std::max(dmax, std::abs(fit.lines[i].amplitude - truth.lines[i].amplitude));
        emax = std::max(emax, fit.lines[i].std_error);
      }
      std::printf("%s: %zu lines assigned on channel %s (%d scans, SW %.0f Hz, TD %zu)\n",
                  p.sequence.name.c_str(), fit.lines.size(), m.channels[r.fid.channel].name.c_str(),
                  r.fid.scans, r.fid.sw_hz, r.fid.points.size());
      std::printf(
          "thermal epsilon = %.4e = p_%s/%d (rho = I/%d + sum_k (p_k/%d) sigma_z^k, p_k per spin, "
          "shift included)\n",
          th.epsilon, m.nuclei[0].label.c_str(), 1 << m.size(), 1 << m.size(), 1 << m.size());
      std::printf("line fit: max |measured - true| = %.3e (%.3e epsilon); fit sigma <= %.3e\n",
                  dmax, dmax / th.epsilon, emax);
      std::printf("  spin  #   freq_hz   sx/eps    sy/eps  true sx/eps\n");
      for (size_t i = 0; i < fit.lines.size(); ++i) {
        const auto& l = fit.lines[i];
        std::printf("  %-4s %2d %9.2f %9.4f %9.4f %9.4f\n", m.nuclei[l.spin].label.c_str(), l.index,
                    l.frequency_hz, l.sx() / th.epsilon, l.sy() / th.epsilon,
                    truth.lines[i].sx() / th.epsilon);
      }
      std::printf("wrote %s/{fid.csv, spectrum.csv, spectrum.png, spectrum.svg, lines.csv}\n",
                  out->c_str());
      return 0;
    };
  });
}

}  // namespace nmrc::cli

#endif  // NMRC_SPECTROMETER_AVAILABLE
