// Pictures of density matrices for people: 3D bar charts like the paper's tomography figures
// (write_matrix_bars), or the real and imaginary parts side by side as heat
// maps (blue negative, white zero, red positive, one symmetric colour scale), written as PNG and
// SVG through gnuplot like plot.hpp's line plots.
#pragma once

#include <string>
#include <vector>

#include "nmrc/core/types.hpp"

namespace nmrc::cli {

struct MatrixFigure {
  std::string title;
  std::vector<std::string> basis_labels;  ///< one per row/column (e.g. "0101"); empty = index
  std::string unit;                       ///< colour-bar label
  int width_px = 1200, height_px = 620;
};

/// Renders Re(m) and Im(m) to base_path + ".png" and ".svg". Throws nmrc::InputError when
/// gnuplot is missing or fails.
void write_matrix_figure(const Mat& m, const MatrixFigure& fig, const std::string& base_path);

/// One 3D bar chart of a real matrix (e.g. Re or Im of a density matrix), like the paper's
/// tomography figures. `tick_labels` names the basis states along both axes (may be empty).
struct MatrixPanel {
  std::string title;
  std::vector<std::vector<double>> values;  ///< rows
  std::vector<std::string> tick_labels;
};

/// Renders matrix panels side by side (row-major, `cols` per row) to base_path + ".png" and
/// ".svg"; all panels share one symmetric colour and z range. Throws like write_figure.
void write_matrix_bars(const std::string& title, const std::vector<MatrixPanel>& panels, int cols,
                       const std::string& base_path);

/// "000", "001", ... for n spins (spin 0 leftmost).
std::vector<std::string> basis_labels(int n);

}  // namespace nmrc::cli
