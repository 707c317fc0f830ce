// Pictures of density matrices for people: the real and imaginary parts side by side as heat
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

/// "000", "001", ... for n spins (spin 0 leftmost).
std::vector<std::string> basis_labels(int n);

}  // namespace nmrc::cli
