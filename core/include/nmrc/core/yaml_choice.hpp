// A YAML value that names one of a fixed set of choices (an engine, a mode, a target kind):
// one rule and one message for every loader, "must be a, b or c".
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "nmrc/core/yaml_input.hpp"

namespace nmrc {

/// "a", "a or b", "a, b or c": the alternatives of a rule, as messages write them.
inline std::string one_of_text(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

/// The value paired with the field's text, e.g. yaml_choice<Engine>(f, {{"exact",
/// Engine::kExact}, {"odeint", Engine::kOdeint}}); any other text fails at the field with
/// "must be exact or odeint" (the names in the order given).
template <class T>
T yaml_choice(const YamlField& field, std::initializer_list<std::pair<const char*, T>> choices) {
  const std::string text = field.as_string();
  std::vector<std::string> names;
  for (const auto& [name, value] : choices) {
    if (text == name) return value;
    names.emplace_back(name);
  }
  field.fail("must be " + one_of_text(names));
}

}  // namespace nmrc
