#include "nmrc/core/options.hpp"

#include <fmt/format.h>

#include <cmath>

#include "nmrc/core/error.hpp"

namespace nmrc {

namespace {
std::string bound(double x) { return fmt::format("{:g}", x); }
}  // namespace

OptionRule OptionRule::greater_than(double lo) {
  return {[lo](double v) { return v > lo; }, "must be > " + bound(lo)};
}

OptionRule OptionRule::at_least(double lo) {
  return {[lo](double v) { return v >= lo; }, "must be >= " + bound(lo)};
}

OptionRule OptionRule::at_most(double hi) {
  return {[hi](double v) { return v <= hi; }, "must be at most " + bound(hi)};
}

OptionRule OptionRule::between(long lo, long hi) {
  return {
      [lo, hi](double v) { return v >= static_cast<double>(lo) && v <= static_cast<double>(hi); },
      "must be between " + std::to_string(lo) + " and " + std::to_string(hi)};
}

OptionRule OptionRule::between(double lo, double hi) {
  return {[lo, hi](double v) { return v >= lo && v <= hi; },
          "must be between " + bound(lo) + " and " + bound(hi)};
}

OptionRule OptionRule::in_open_closed(double lo, double hi) {
  return {[lo, hi](double v) { return v > lo && v <= hi; },
          "must be in (" + bound(lo) + ", " + bound(hi) + "]"};
}

OptionRule OptionRule::finite() {
  return {[](double v) { return std::isfinite(v); }, "must be finite"};
}

OptionRule OptionRule::and_finite() const {
  auto first = holds;
  return {[first](double v) { return first(v) && std::isfinite(v); }, text};
}

OptionRule OptionRule::and_at_most(double hi) const {
  auto first = holds;
  return {[first, hi](double v) { return first(v) && v <= hi; },
          text + " and at most " + bound(hi)};
}

OptionRule OptionRule::unit(const std::string& u) const { return {holds, text + " " + u}; }

OptionRule OptionRule::note(const std::string& n) const { return {holds, text + " (" + n + ")"}; }

OptionChecks& OptionChecks::check(const std::string& field, double value, const OptionRule& rule) {
  if (!problem_ && !rule.holds(value))
    problem_ = OptionProblem{field, number_text(value), rule.text};
  return *this;
}

OptionChecks& OptionChecks::check(const std::string& field, long value, const OptionRule& rule) {
  if (!problem_ && !rule.holds(static_cast<double>(value)))
    problem_ = OptionProblem{field, std::to_string(value), rule.text};
  return *this;
}

OptionChecks& OptionChecks::check_each(const std::string& field, const std::vector<double>& values,
                                       const OptionRule& rule, const std::string& noun) {
  if (problem_) return *this;
  for (double v : values)
    if (!rule.holds(v)) {
      problem_ = OptionProblem{field, list_text(values), "every " + noun + " " + rule.text};
      break;
    }
  return *this;
}

OptionChecks& OptionChecks::check_not_empty(const std::string& field,
                                            const std::vector<double>& values,
                                            const std::string& what) {
  if (!problem_ && values.empty())
    problem_ = OptionProblem{field, "[]", "must list at least one " + what};
  return *this;
}

OptionChecks& OptionChecks::require(bool holds, const std::string& field, const std::string& value,
                                    const std::string& rule) {
  if (!problem_ && !holds) problem_ = OptionProblem{field, value, rule};
  return *this;
}

void OptionChecks::throw_if_any(const std::string& prefix) const {
  if (problem_) throw InputError(problem_->message(prefix));
}

std::string OptionChecks::number_text(double v) { return fmt::format("{:g}", v); }

std::string OptionChecks::list_text(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + number_text(v[i]);
  return s + "]";
}

}  // namespace nmrc
