// Options that validate themselves (Ceres' Options::IsValid): each options struct has check(),
// the first rule it violates, and validate(), which throws it as InputError. A loader places
// the problem at the YAML field that gave the value (ProgramFrontEnd::fail_at).
#pragma once

#include <string>

namespace nmrc {

/// A violated rule of a set of options: "field = value: rule".
struct OptionProblem {
  std::string field;  ///< path inside the options, e.g. "ensemble.weights", "max_rf_hz.13C"
  std::string value;
  std::string rule;
  /// "prefix: field = value: rule"
  std::string message(const std::string& prefix) const {
    return prefix + ": " + field + " = " + value + ": " + rule;
  }
};

}  // namespace nmrc
