// Complex matrices in JSON, the one layout every nmrc file uses: {"real": [[...]], "imag":
// [[...]]}, row by row. Whole files (nmrc-unitary/1, nmrc-density/1: docs/preparation.md) and
// the same object inside a larger document (a pulse file's target, a program's unitary file),
// read with one set of rules. The interface is text so that no JSON library type appears here.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "nmrc/core/types.hpp"

namespace nmrc {

/// {"format": "nmrc-unitary/1", "spins": [...], "real": [[...]], "imag": [[...]]}: U on the
/// named spins (spins[0] leftmost factor), one-space indented, ending in a newline.
std::string unitary_json(const Mat& u, const std::vector<std::string>& spin_labels);
/// {"format": "nmrc-density/1", "spins": [...], "real", "imag", "trace": Re Tr(rho)}, as above.
std::string density_json(const Mat& rho, const std::vector<std::string>& spin_labels);

/// The object {"imag": [[...]], "real": [[...]]} as compact JSON text, to be parsed into a larger
/// document (doubles are written with round-trip precision, so parsing restores them exactly).
std::string matrix_json(const Mat& m);

/// What a matrix read from JSON must be: `dim` x `dim` (0: any non-empty square size), and
/// whether "imag" may be left out (a real matrix).
struct MatrixJsonRules {
  int dim = 0;
  bool imag_optional = false;
  /// The file the text came from: when set, every rule passed to `fail` starts with
  /// "source:line:col: field: " (the place in that file, json_input.hpp).
  std::string source;
};
/// Largest matrix read from JSON: 4096 x 4096 (12 spins, 256 MiB complex; docs/limits.md).
inline constexpr long kMaxMatrixJsonDim = 4096;
/// Reads {"real": [[...]], "imag": [[...]]} from JSON text (a whole file or one object of a
/// document). On bad input calls `fail(rule)`, which must throw (usually YamlField::fail or an
/// InputError with the caller's location); the rules are: not JSON, not an object with
/// "real"/"imag" lists, not square/equal sizes/the required size, larger than
/// kMaxMatrixJsonDim, entries not numbers (nor finite: JSON has no NaN, and an overflowing
/// number such as 1e400 is refused as invalid JSON).
Mat matrix_from_json(const std::string& json_text, const MatrixJsonRules& rules,
                     const std::function<void(const std::string& rule)>& fail);

}  // namespace nmrc
