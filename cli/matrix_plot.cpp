#include "matrix_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "nmrc/core/error.hpp"
#include "plot.hpp"

namespace nmrc::cli {

namespace {

std::string script(const Mat& m, const MatrixFigure& fig, const std::string& terminal,
                   const std::string& out) {
  const Eigen::Index d = m.rows();
  double scale = std::max(m.real().cwiseAbs().maxCoeff(), m.imag().cwiseAbs().maxCoeff());
  if (!(scale > 0.0)) scale = 1.0;
  std::ostringstream os;
  os.precision(10);
  for (int part = 0; part < 2; ++part) {
    os << (part == 0 ? "$re" : "$im") << " << EOD\n";
    for (Eigen::Index r = 0; r < d; ++r) {
      for (Eigen::Index c = 0; c < d; ++c)
        os << c << " " << r << " " << (part == 0 ? m(r, c).real() : m(r, c).imag()) << "\n";
      os << "\n";
    }
    os << "EOD\n";
  }
  os << gnuplot_output(terminal, fig.width_px, fig.height_px, "font \"sans,10\"", out);
  os << "set palette defined (-1 '#2166ac', 0 'white', 1 '#b2182b')\n";
  os << "set cbrange [" << -scale << ":" << scale << "]\n";
  os << "set cblabel " << gnuplot_quote(fig.unit) << " offset 1.5,0\n";
  os << "set xrange [-0.5:" << d - 0.5 << "]\nset yrange [" << d - 0.5 << ":-0.5]\n";
  os << "set size ratio -1\nunset key\nset tics scale 0\n";
  if (!fig.basis_labels.empty()) {
    std::ostringstream tics;
    for (Eigen::Index i = 0; i < d && i < static_cast<Eigen::Index>(fig.basis_labels.size()); ++i)
      tics << (i ? ", " : "") << gnuplot_quote(fig.basis_labels[i]) << " " << i;
    os << "set xtics (" << tics.str() << ") rotate by 90 right font \",8\"\n";
    os << "set ytics (" << tics.str() << ") font \",8\"\n";
  }
  os << "set multiplot layout 1,2 title " << gnuplot_quote(fig.title) << "\n";
  os << "set title 'real part'\nplot $re using 1:2:3 with image\n";
  os << "set title 'imaginary part'\nplot $im using 1:2:3 with image\n";
  os << "unset multiplot\nset output\n";
  return os.str();
}

std::string matrix_script(const std::string& title, const std::vector<MatrixPanel>& panels,
                          int cols, int width, int height, const std::string& terminal,
                          const std::string& out) {
  std::ostringstream os;
  os.precision(10);
  double zmax = 1e-12;
  for (const auto& p : panels)
    for (const auto& row : p.values)
      for (double v : row) zmax = std::max(zmax, std::abs(v));
  for (size_t b = 0; b < panels.size(); ++b) {
    os << "$m" << b << " << EOD\n";
    const auto& v = panels[b].values;
    for (size_t r = 0; r < v.size(); ++r)
      for (size_t c = 0; c < v[r].size(); ++c) os << c << " " << r << " " << v[r][c] << "\n";
    os << "EOD\n";
  }
  const int rows = static_cast<int>((panels.size() + cols - 1) / cols);
  os << "set terminal " << terminal << " size " << width << "," << height
     << " font \"sans,10\"\nset output " << gnuplot_quote(out) << "\n";
  os << "set multiplot layout " << rows << "," << cols << " title " << gnuplot_quote(title) << "\n";
  os << "set style fill solid 0.9 border -1\nset boxwidth 0.6 absolute\nset boxdepth 0.6\n"
     << "set pm3d depthorder base\nset xyplane at 0\nset view 55,35\n"
     << "set palette defined (-1 '#2050d0', 0 '#f4f4f4', 1 '#d03020')\n"
     << "set cbrange [" << -zmax << ":" << zmax << "]\nset zrange [" << -zmax << ":" << zmax
     << "]\nunset colorbox\nset grid\n";
  for (size_t b = 0; b < panels.size(); ++b) {
    const auto& p = panels[b];
    os << "set title " << gnuplot_quote(p.title) << "\n";
    if (!p.tick_labels.empty()) {
      os << "set xtics (";
      for (size_t i = 0; i < p.tick_labels.size(); ++i)
        os << (i ? ", " : "") << gnuplot_quote(p.tick_labels[i]) << " " << i;
      os << ") font \",6\" offset 0,-0.3\nset ytics (";
      for (size_t i = 0; i < p.tick_labels.size(); ++i)
        os << (i ? ", " : "") << gnuplot_quote(p.tick_labels[i]) << " " << i;
      os << ") font \",6\"\n";
    }
    os << "splot $m" << b << " using 1:2:3:3 with boxes fc palette notitle\n";
  }
  os << "unset multiplot\nset output\n";
  return os.str();
}

}  // namespace

void write_matrix_figure(const Mat& m, const MatrixFigure& fig, const std::string& base_path) {
  render_png_svg([&](const std::string& terminal,
                     const std::string& out) { return script(m, fig, terminal, out); },
                 base_path);
}

void write_matrix_bars(const std::string& title, const std::vector<MatrixPanel>& panels, int cols,
                       const std::string& base_path) {
  const int rows = static_cast<int>((panels.size() + cols - 1) / cols);
  const int w = 520 * cols, h = 460 * rows + 40;
  render_png_svg(
      [&](const std::string& terminal, const std::string& out) {
        return matrix_script(title, panels, cols, w, h, terminal, out);
      },
      base_path);
}

std::vector<std::string> basis_labels(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < (1 << n); ++i) {
    std::string s;
    for (int k = 0; k < n; ++k) s += ((i >> (n - 1 - k)) & 1) ? '1' : '0';
    out.push_back(s);
  }
  return out;
}

}  // namespace nmrc::cli
