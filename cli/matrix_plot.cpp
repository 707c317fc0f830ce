#include "matrix_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "nmrc/core/error.hpp"

namespace nmrc::cli {

namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

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
  os << "set terminal " << terminal << " size " << fig.width_px << "," << fig.height_px
     << " font \"sans,10\"\n";
  os << "set output " << quote(out) << "\n";
  os << "set palette defined (-1 '#2166ac', 0 'white', 1 '#b2182b')\n";
  os << "set cbrange [" << -scale << ":" << scale << "]\n";
  os << "set cblabel " << quote(fig.unit) << " offset 1.5,0\n";
  os << "set xrange [-0.5:" << d - 0.5 << "]\nset yrange [" << d - 0.5 << ":-0.5]\n";
  os << "set size ratio -1\nunset key\nset tics scale 0\n";
  if (!fig.basis_labels.empty()) {
    std::ostringstream tics;
    for (Eigen::Index i = 0; i < d && i < static_cast<Eigen::Index>(fig.basis_labels.size()); ++i)
      tics << (i ? ", " : "") << quote(fig.basis_labels[i]) << " " << i;
    os << "set xtics (" << tics.str() << ") rotate by 90 right font \",8\"\n";
    os << "set ytics (" << tics.str() << ") font \",8\"\n";
  }
  os << "set multiplot layout 1,2 title " << quote(fig.title) << "\n";
  os << "set title 'real part'\nplot $re using 1:2:3 with image\n";
  os << "set title 'imaginary part'\nplot $im using 1:2:3 with image\n";
  os << "unset multiplot\nset output\n";
  return os.str();
}

void render(const Mat& m, const MatrixFigure& fig, const std::string& terminal,
            const std::string& path) {
  const std::string tmp = path + ".tmp";
  FILE* gp = ::popen("gnuplot 2>&1", "w");
  if (!gp) throw InputError(path + ": cannot start gnuplot (apt-get install gnuplot-nox)");
  const std::string s = script(m, fig, terminal, tmp);
  std::fwrite(s.data(), 1, s.size(), gp);
  const int rc = ::pclose(gp);
  if (rc != 0) {
    std::remove(tmp.c_str());
    throw InputError(path + ": gnuplot failed (exit " + std::to_string(rc) +
                     "; is gnuplot-nox installed?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw InputError(path + ": cannot write plot");
}

}  // namespace

void write_matrix_figure(const Mat& m, const MatrixFigure& fig, const std::string& base_path) {
  render(m, fig, "pngcairo", base_path + ".png");
  render(m, fig, "svg dynamic", base_path + ".svg");
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
