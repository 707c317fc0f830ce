// Options that validate themselves (Ceres' Options::IsValid, internal/ceres/solver.cc): each
// options struct has check(), the first rule it violates, and validate(), which throws it as
// InputError. Every check() is written with OptionChecks: a rule states its predicate once and
// the message is built from it ("steps = 0: must be between 1 and 1000000"), as Ceres' OPTION_GT
// and friends build theirs from the checked expression; constraints between options (Ceres'
// OPTION_LE_OPTION) are checks too (`require`). A loader places the problem at the YAML field
// that gave the value (ProgramFrontEnd::fail_at).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

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

/// A rule on one number: its predicate and its text, made together. A NaN fails every rule.
struct OptionRule {
  std::function<bool(double)> holds;
  std::string text;  ///< "must be > 0"

  /// v > lo: "must be > lo" (+infinity passes: and_finite() for a real number).
  static OptionRule greater_than(double lo);
  /// v >= lo: "must be >= lo".
  static OptionRule at_least(double lo);
  /// v <= hi (not a NaN): "must be at most hi".
  static OptionRule at_most(double hi);
  /// lo <= v <= hi: "must be between lo and hi" (bounds as integers when given as integers).
  static OptionRule between(long lo, long hi);
  static OptionRule between(double lo, double hi);
  /// lo < v <= hi: "must be in (lo, hi]".
  static OptionRule in_open_closed(double lo, double hi);
  /// Not a NaN or an infinity: "must be finite".
  static OptionRule finite();

  /// Also finite (the text unchanged: an infinity is not a number that is > 0).
  OptionRule and_finite() const;
  /// Both: "must be > 0 and at most 10".
  OptionRule and_at_most(double hi) const;
  /// The unit after the text: "must be at most 100 s".
  OptionRule unit(const std::string& u) const;
  /// A remark in parentheses: "must be between 0 and 20 (0: off)".
  OptionRule note(const std::string& n) const;
};

/// The checks of one options struct, in order; the first violated one is the problem.
class OptionChecks {
 public:
  /// field = value checked against `rule` (the value shown as %g, integers in full).
  OptionChecks& check(const std::string& field, double value, const OptionRule& rule);
  OptionChecks& check(const std::string& field, long value, const OptionRule& rule);
  OptionChecks& check(const std::string& field, int value, const OptionRule& rule) {
    return check(field, static_cast<long>(value), rule);
  }
  /// Every entry of a list: "every <noun> " + the rule's text; the value is the list.
  OptionChecks& check_each(const std::string& field, const std::vector<double>& values,
                           const OptionRule& rule, const std::string& noun = "entry");
  /// A non-empty list: "field = []: must list at least one <what>".
  OptionChecks& check_not_empty(const std::string& field, const std::vector<double>& values,
                                const std::string& what);
  /// A constraint between options (or any rule not on one number): holds, or the rule.
  OptionChecks& require(bool holds, const std::string& field, const std::string& value,
                        const std::string& rule);

  const std::optional<OptionProblem>& problem() const { return problem_; }
  /// Throws the problem, if any, as InputError "prefix: field = value: rule".
  void throw_if_any(const std::string& prefix) const;

  /// Texts of values as the checks show them: %g, and a list as [a, b].
  static std::string number_text(double v);
  static std::string list_text(const std::vector<double>& v);

 private:
  std::optional<OptionProblem> problem_;
};

}  // namespace nmrc
