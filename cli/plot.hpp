// Pictures for people: multi-panel line plots written as PNG and SVG through gnuplot
// (Debian gnuplot-nox). Data travel inline in the gnuplot script; gnuplot draws into a private
// temporary folder under a fixed file name, and a picture reaches its final name only when
// gnuplot succeeded and the file is complete, so a failed plot never leaves a half-written one.
#pragma once

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace nmrc::cli {

struct Series {
  std::string title;
  std::vector<double> x{}, y{};  // initialised: Series{"name"} leaves nothing uninitialised
  std::string style = "lines";  ///< gnuplot style: lines, points, linespoints, impulses, steps
  bool dashed = false;
  int color = -1;  ///< gnuplot linecolor index; -1 = automatic
  double width = 2.0;
  /// Optional one-sigma y errors (one per point): drawn as error bars (yerrorbars).
  std::vector<double> yerr{};
};

struct TextLabel {
  double x = 0, y = 0;
  std::string text;
};

struct Panel {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  std::vector<TextLabel> labels;
  bool reverse_x = false;  ///< e.g. ppm axes run right to left
  /// Fixed y range when both are finite (default: automatic).
  double ymin = std::numeric_limits<double>::quiet_NaN();
  double ymax = std::numeric_limits<double>::quiet_NaN();
  std::string key = "top right";
};

struct Figure {
  std::string title;
  int rows = 1, cols = 1;
  int width_px = 1000, height_px = 700;
  std::vector<Panel> panels;  ///< row-major
};

/// Gnuplot text quoting: a single-quoted string (taken literally by gnuplot: no backquote
/// command, no escapes), quotes doubled; text with a control character or invalid UTF-8 throws
/// InputError (a line break would end the gnuplot command).
std::string gnuplot_quote(const std::string& s);
/// The lines that send a gnuplot script's drawing to `out`: "set terminal" (size in pixels,
/// `options` such as "noenhanced font \"sans,11\"") and "set output".
std::string gnuplot_output(const std::string& terminal, int width_px, int height_px,
                           const std::string& options, const std::string& out);

/// Runs gnuplot twice, for base_path + ".png" (pngcairo) and ".svg", on the script that
/// make_script(terminal, output_name) returns (output_name is a fixed plain name in a private
/// temporary folder, nmrc::PrivateTempDir). Each picture is checked (gnuplot's exit status; PNG
/// signature and IEND chunk, SVG closing tag) and written with nmrc::write_file_atomic. Throws
/// nmrc::ResourceError when gnuplot is missing, fails, is killed ("killed by signal N") or
/// leaves an incomplete picture (a full disk); nothing is then written under the final name.
void render_png_svg(
    const std::function<std::string(const std::string&, const std::string&)>& make_script,
    const std::string& base_path);

/// Renders `fig` to base_path + ".png" and base_path + ".svg" as render_png_svg does (and
/// throws as it does).
void write_figure(const Figure& fig, const std::string& base_path);

}  // namespace nmrc::cli
