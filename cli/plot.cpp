#include "plot.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <utility>

#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"

namespace nmrc::cli {

std::string gnuplot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string gnuplot_output(const std::string& terminal, int width_px, int height_px,
                           const std::string& options, const std::string& out) {
  return "set terminal " + terminal + " size " + std::to_string(width_px) + "," +
         std::to_string(height_px) + " " + options + "\nset output " + gnuplot_quote(out) + "\n";
}

namespace {

std::string script(const Figure& fig, const std::string& terminal, const std::string& out) {
  std::ostringstream os;
  os.precision(10);
  int block = 0;
  for (const auto& p : fig.panels)
    for (const auto& s : p.series) {
      os << "$d" << block++ << " << EOD\n";
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        os << s.x[i] << " " << s.y[i];
        if (s.yerr.size() == s.x.size()) os << " " << s.yerr[i];
        os << "\n";
      }
      os << "EOD\n";
    }
  os << gnuplot_output(terminal, fig.width_px, fig.height_px, "noenhanced font \"sans,11\"", out);
  os << "set grid lc rgb '#dddddd'\n";
  if (fig.panels.size() > 1 || !fig.title.empty())
    os << "set multiplot layout " << fig.rows << "," << fig.cols
       << (fig.title.empty() ? "" : " title " + gnuplot_quote(fig.title)) << "\n";
  block = 0;
  for (const auto& p : fig.panels) {
    os << "set title " << gnuplot_quote(p.title) << "\nset xlabel " << gnuplot_quote(p.xlabel)
       << "\nset ylabel " << gnuplot_quote(p.ylabel) << "\nset key " << p.key << "\n";
    os << (p.reverse_x ? "set xrange [*:*] reverse\n" : "set xrange [*:*] noreverse\n");
    if (std::isfinite(p.ymin) && std::isfinite(p.ymax))
      os << "set yrange [" << p.ymin << ":" << p.ymax << "]\n";
    else
      os << "set yrange [*:*]\n";
    os << "unset label\n";
    int li = 1;
    for (const auto& l : p.labels)
      os << "set label " << li++ << " " << gnuplot_quote(l.text) << " at " << l.x << "," << l.y
         << " center front font \",8\"\n";
    os << "plot ";
    for (size_t i = 0; i < p.series.size(); ++i) {
      const auto& s = p.series[i];
      if (i) os << ", ";
      const bool err = s.yerr.size() == s.x.size() && !s.x.empty();
      os << "$d" << block++ << (err ? " using 1:2:3 with yerrorbars" : " using 1:2 with " + s.style)
         << " lw " << s.width;
      if (s.color >= 0) os << " lc " << s.color;
      if (s.dashed) os << " dt 2";
      os << " title " << gnuplot_quote(s.title);
    }
    if (p.series.empty()) os << "NaN notitle";
    os << "\n";
  }
  if (fig.panels.size() > 1 || !fig.title.empty()) os << "unset multiplot\n";
  os << "set output\n";
  return os.str();
}

void run_gnuplot(const std::string& s, const std::string& path, const std::string& tmp) {
  FILE* gp = ::popen("gnuplot", "w");
  if (!gp) throw InputError(path + ": cannot start gnuplot (apt-get install gnuplot-nox)");
  std::fwrite(s.data(), 1, s.size(), gp);
  const int rc = ::pclose(gp);
  if (rc != 0) {
    std::remove(tmp.c_str());
    throw InputError(path + ": gnuplot failed (exit " + std::to_string(rc) +
                     "; is gnuplot-nox installed?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw InputError(path + ": cannot write plot");
}

void render(const Figure& fig, const std::string& terminal, const std::string& path) {
  const std::string tmp = path + ".tmp";
  run_gnuplot(script(fig, terminal, tmp), path, tmp);
}

}  // namespace

void render_png_svg(
    const std::function<std::string(const std::string&, const std::string&)>& make_script,
    const std::string& base_path) {
  for (const auto& [term, ext] :
       {std::pair<std::string, std::string>{"pngcairo noenhanced", ".png"},
        std::pair<std::string, std::string>{"svg dynamic noenhanced", ".svg"}}) {
    const std::string path = base_path + ext, tmp = path + ".tmp";
    run_gnuplot(make_script(term, tmp), path, tmp);
  }
}

void write_figure(const Figure& fig, const std::string& base_path) {
  render(fig, "pngcairo", base_path + ".png");
  render(fig, "svg dynamic", base_path + ".svg");
}

}  // namespace nmrc::cli
