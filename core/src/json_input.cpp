#include "nmrc/core/json_input.hpp"

#include <cctype>
#include <string>
#include <vector>

#include "nmrc/core/error.hpp"

namespace nmrc {

std::string text_line_col(const std::string& text, std::size_t offset) {
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

void check_json_depth(const std::string& text, const std::string& where) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        throw InputError(where + ":" + text_line_col(text, i) + ": JSON nested deeper than " +
                         std::to_string(kMaxJsonDepth) + " levels (docs/limits.md)");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

namespace {

// One step of a field path: an object key or a list index.
struct Step {
  bool index = false;
  std::string key;
  std::size_t n = 0;
};

std::vector<Step> split_field(const std::string& field) {
  std::vector<Step> out;
  if (field == "(document)") return out;
  std::size_t i = 0;
  while (i < field.size()) {
    if (field[i] == '.') {
      ++i;
    } else if (field[i] == '[') {
      const std::size_t close = field.find(']', i);
      if (close == std::string::npos) break;
      Step s;
      s.index = true;
      for (std::size_t k = i + 1; k < close; ++k)
        if (std::isdigit(static_cast<unsigned char>(field[k]))) s.n = s.n * 10 + (field[k] - '0');
      out.push_back(s);
      i = close + 1;
    } else {
      std::size_t end = i;
      while (end < field.size() && field[end] != '.' && field[end] != '[') ++end;
      Step s;
      s.key = field.substr(i, end - i);
      out.push_back(s);
      i = end;
    }
  }
  return out;
}

// A forward-only scanner over JSON text that is known to parse; positions are byte offsets.
class Scanner {
 public:
  explicit Scanner(const std::string& t) : t_(t) {}

  std::size_t ws(std::size_t i) const {
    while (i < t_.size() && std::isspace(static_cast<unsigned char>(t_[i]))) ++i;
    return i;
  }
  // The end of the string starting at i (a '"'), and its raw content.
  std::size_t string_end(std::size_t i, std::string* raw) const {
    std::size_t k = i + 1;
    while (k < t_.size() && t_[k] != '"') k += t_[k] == '\\' ? 2 : 1;
    if (raw) *raw = t_.substr(i + 1, k - i - 1);
    return k + 1;
  }
  // The end of the value starting at i (iterative: nesting depth is only counted).
  std::size_t value_end(std::size_t i) const {
    if (i >= t_.size()) return i;
    if (t_[i] == '"') return string_end(i, nullptr);
    if (t_[i] != '{' && t_[i] != '[') {
      while (i < t_.size() && !std::isspace(static_cast<unsigned char>(t_[i])) && t_[i] != ',' &&
             t_[i] != ']' && t_[i] != '}')
        ++i;
      return i;
    }
    long depth = 0;
    while (i < t_.size()) {
      const char c = t_[i];
      if (c == '"') {
        i = string_end(i, nullptr);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') --depth;
      ++i;
      if (depth == 0) return i;
    }
    return i;
  }
  // Position of the member value `key` of the object at i, or npos.
  std::size_t member(std::size_t i, const std::string& key) const {
    i = ws(i + 1);
    while (i < t_.size() && t_[i] == '"') {
      std::string raw;
      i = ws(string_end(i, &raw));
      if (i >= t_.size() || t_[i] != ':') return std::string::npos;
      const std::size_t v = ws(i + 1);
      if (raw == key) return v;
      i = ws(value_end(v));
      if (i < t_.size() && t_[i] == ',') i = ws(i + 1);
    }
    return std::string::npos;
  }
  // Position of element n of the list at i, or npos.
  std::size_t element(std::size_t i, std::size_t n) const {
    i = ws(i + 1);
    for (std::size_t k = 0; i < t_.size() && t_[i] != ']'; ++k) {
      if (k == n) return i;
      i = ws(value_end(i));
      if (i < t_.size() && t_[i] == ',') i = ws(i + 1);
    }
    return std::string::npos;
  }

 private:
  const std::string& t_;
};

}  // namespace

std::string json_location(const std::string& text, const std::string& field) {
  const Scanner s(text);
  std::size_t at = s.ws(0);
  for (const Step& step : split_field(field)) {
    if (at >= text.size()) break;
    std::size_t next = std::string::npos;
    if (step.index && text[at] == '[') next = s.element(at, step.n);
    if (!step.index && text[at] == '{') next = s.member(at, step.key);
    if (next == std::string::npos) break;
    at = next;
  }
  return text_line_col(text, at);
}

}  // namespace nmrc

namespace nmrc {

std::string json_error_location(const std::string& text, const std::string& message) {
  const std::size_t close = message.rfind('\'');
  const std::size_t open = close == std::string::npos ? close : message.rfind('\'', close - 1);
  if (open == std::string::npos || close <= open + 1) return "1:1";
  const std::size_t at = text.find(message.substr(open + 1, close - open - 1));
  return text_line_col(text, at == std::string::npos ? 0 : at);
}

}  // namespace nmrc
