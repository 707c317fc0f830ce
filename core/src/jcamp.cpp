#include "nmrc/core/jcamp.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/text.hpp"

namespace nmrc {

namespace {

// A line of the file as a message shows it: escaped (a NUL would end the message when printed,
// a carriage return could fake a line), at most 80 bytes.
std::string shown(std::string_view raw) {
  return escape_text(raw.substr(0, 80)) + (raw.size() > 80 ? "..." : "");
}

std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r')) --b;
  return std::string(s.substr(a, b - a));
}

// Removes a "$$ comment" that is not inside <...> (e.g. "11\t$$ modification sequence number").
std::string strip_inline_comment(const std::string& v) {
  bool in_string = false;
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    if (v[i] == '<') in_string = true;
    if (v[i] == '>') in_string = false;
    if (!in_string && v[i] == '$' && v[i + 1] == '$') return trim(v.substr(0, i));
  }
  return v;
}

// Parses a whole token as a finite double.
bool parse_double(const std::string& token, double& out) {
  if (token.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(token.c_str(), &end);
  if (end != token.c_str() + token.size() || errno == ERANGE || !std::isfinite(v)) return false;
  out = v;
  return true;
}

// Splits on blanks (spaces, tabs).
std::vector<std::string> tokens_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string t;
  while (in >> t) out.push_back(t);
  return out;
}

}  // namespace

const JcampRecord* JcampFile::find(std::string_view label) const {
  for (const auto& r : records)
    if (r.label == label) return &r;
  return nullptr;
}

const JcampRecord& JcampFile::at(std::string_view label, std::string_view why) const {
  if (const JcampRecord* r = find(label)) return *r;
  throw InputError(path + ":" + std::to_string(std::max(1, line_count)) + ":1: ##" +
                   std::string(label) + "=: missing: " + std::string(why));
}

std::string JcampFile::where(const JcampRecord& r) const {
  return path + ":" + std::to_string(r.line) + ":1: ##" + shown(r.label) + "= " + shown(r.value);
}

void JcampFile::fail(const JcampRecord& r, const std::string& rule) const {
  throw InputError(where(r) + ": " + rule);
}

double JcampFile::number(std::string_view label) const {
  const JcampRecord& r = at(label);
  double v = 0.0;
  if (!parse_double(r.value, v)) fail(r, "must be a finite number");
  return v;
}

long JcampFile::integer(std::string_view label) const {
  const JcampRecord& r = at(label);
  double v = 0.0;
  if (!parse_double(r.value, v) || v != std::floor(v) || std::abs(v) > 9.0e15)
    fail(r, "must be an integer");
  return static_cast<long>(v);
}

std::string JcampFile::text(std::string_view label) const {
  const JcampRecord& r = at(label);
  std::string v = r.value;
  if (v.size() >= 2 && v.front() == '<' && v.back() == '>') return v.substr(1, v.size() - 2);
  return v;
}

std::vector<double> JcampFile::numbers(std::string_view label) const {
  const JcampRecord& r = at(label);
  // "(0..N)" possibly followed by values on the same line (older files: "(0..7)83 83 ...").
  const std::string& v = r.value;
  const size_t open = v.find('('), dots = v.find(".."), close = v.find(')');
  if (open != 0 || dots == std::string::npos || close == std::string::npos || dots > close)
    fail(r, "must be an array (0..N)");
  double lo = 0, hi = 0;
  if (!parse_double(v.substr(1, dots - 1), lo) ||
      !parse_double(v.substr(dots + 2, close - dots - 2), hi) || lo != 0 || hi < 0 ||
      hi != std::floor(hi))
    fail(r, "must be an array (0..N) with an integer N >= 0");
  if (hi >= (1 << 24)) fail(r, "array too long (at most 16777216 values)");
  const size_t count = static_cast<size_t>(hi) + 1;
  std::vector<double> out;
  out.reserve(count);
  auto take = [&](const std::string& line, int lineno) {
    for (const auto& t : tokens_of(line)) {
      double x = 0;
      if (!parse_double(t, x))
        throw InputError(path + ":" + std::to_string(lineno) + ":1: ##" + r.label + "[" +
                         std::to_string(out.size()) + "] = " + shown(t) +
                         ": must be a finite number");
      if (out.size() == count)
        throw InputError(path + ":" + std::to_string(lineno) + ":1: ##" + shown(r.label) + "= " +
                         shown(v) + ": more than " + std::to_string(count) + " values");
      out.push_back(x);
    }
  };
  take(v.substr(close + 1), r.line);
  for (size_t i = 0; i < r.continuation.size(); ++i)
    take(r.continuation[i], r.continuation_lines[i]);
  if (out.size() != count)
    fail(r, "array declares " + std::to_string(count) + " values but the file has " +
                std::to_string(out.size()));
  return out;
}

JcampFile parse_jcamp(const std::string& text, const std::string& path) {
  JcampFile f;
  f.path = path;
  std::istringstream in(text);
  std::string raw;
  int lineno = 0;
  bool open_string = false;  // a <...> value continues on the next line
  while (std::getline(in, raw)) {
    ++lineno;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();  // CRLF (files made on Windows)
    if (lineno == 1 && raw.rfind("\xEF\xBB\xBF", 0) == 0) raw.erase(0, 3);  // a UTF-8 BOM
    if (open_string) {
      JcampRecord& r = f.records.back();
      r.value += "\n" + raw;
      if (raw.find('>') != std::string::npos) {
        open_string = false;
        r.value = trim(r.value);
      }
      continue;
    }
    if (raw.rfind("##", 0) == 0) {
      const size_t eq = raw.find('=');
      // TopSpin's Shapetool and many shape generators end a file with "##END" (no "=").
      if (eq == std::string::npos && trim(std::string_view(raw).substr(2)) == "END") {
        f.has_end = true;
        f.line_count = lineno;
        return f;
      }
      if (eq == std::string::npos)
        throw InputError(path + ":" + std::to_string(lineno) + ":1: " + shown(raw) +
                         ": a JCAMP-DX record needs \"##LABEL= value\"");
      JcampRecord r;
      r.label = trim(std::string_view(raw).substr(2, eq - 2));
      r.line = lineno;
      if (r.label == "END") {
        f.has_end = true;
        f.line_count = lineno;
        return f;
      }
      r.value = strip_inline_comment(trim(std::string_view(raw).substr(eq + 1)));
      if (!r.value.empty() && r.value.front() == '<' && r.value.find('>') == std::string::npos)
        open_string = true;
      f.records.push_back(std::move(r));
    } else if (raw.rfind("$$", 0) == 0) {
      f.comments.push_back(trim(std::string_view(raw).substr(2)));
    } else if (trim(raw).empty()) {
      continue;  // TopSpin writes none; tolerated when reading
    } else {
      if (f.records.empty())
        throw InputError(path + ":" + std::to_string(lineno) + ":1: " + shown(trim(raw)) +
                         ": text before the first ##LABEL= record");
      f.records.back().continuation.push_back(strip_inline_comment(trim(raw)));
      f.records.back().continuation_lines.push_back(lineno);
    }
  }
  f.line_count = lineno;
  return f;
}

JcampFile read_jcamp(const std::string& path) { return parse_jcamp(read_file(path), path); }

std::string jcamp_shape_number(double value) {
  // "{:.9E}" gives 1.000000000E+02; TopSpin writes 1.000000E02 and 6.370927E-03 (stdisp page of
  // the TopSpin command reference; lists/wave files of TopSpin 3 and 4) and reads the values as
  // floating-point numbers: nmrc writes 10 significant digits in that layout, so that a run
  // export played back keeps its energies to 1.1e-9 (7 digits gave 9.4e-7; docs/bruker.md).
  const std::string s = fmt::format("{:.9E}", value == 0.0 ? 0.0 : value);
  const size_t e = s.find('E');
  std::string mant = s.substr(0, e), exp = s.substr(e + 1);
  const bool neg = exp[0] == '-';
  if (exp[0] == '+' || exp[0] == '-') exp = exp.substr(1);
  while (exp.size() > 2 && exp[0] == '0') exp = exp.substr(1);
  return mant + "E" + (neg ? "-" : "") + exp;
}

std::string jcamp_parameter_number(double value) {
  return fmt::format("{:.15g}", value == 0.0 ? 0.0 : value);
}

const std::string& console_text(const std::string& value, ConsoleText place,
                                std::string_view field) {
  auto refuse = [&](const std::string& rule) {
    throw InputError(std::string(field) + " = \"" + escape_text(value) +
                     "\": cannot be written into a TopSpin file: " + rule);
  };
  if (auto problem = text_problem(value)) refuse(*problem);
  const auto has = [&](std::string_view s) { return value.find(s) != std::string::npos; };
  switch (place) {
    case ConsoleText::kJcampValue:
    case ConsoleText::kJcampString:
    case ConsoleText::kJcampComment:
      if (has("##")) refuse("\"##\" would start a JCAMP-DX record");
      if (has("$$")) refuse("\"$$\" would start a JCAMP-DX comment");
      if (place == ConsoleText::kJcampString && (has("<") || has(">")))
        refuse("\"<\" and \">\" delimit a JCAMP-DX string");
      if (place == ConsoleText::kJcampValue && (has("<") || has(">"))) {
        const std::string inner = value.size() >= 2 && value.front() == '<' && value.back() == '>'
                                      ? value.substr(1, value.size() - 2)
                                      : value;
        if (inner == value || inner.find_first_of("<>") != std::string::npos)
          refuse("\"<\" and \">\" may only enclose a whole JCAMP-DX string value");
      }
      break;
    case ConsoleText::kPulseProgramComment:
      if (has("\\")) refuse("a backslash would join the next pulse-program line to a comment");
      if (has("/*") || has("*/")) refuse("\"/*\" and \"*/\" are comments of the preprocessor");
      break;
    case ConsoleText::kName:
      if (!is_safe_name(value)) refuse(kNameRule);
      break;
    case ConsoleText::kTextLine:
      break;
  }
  return value;
}

void JcampWriter::add(const std::string& label, const std::string& value) {
  NMRC_CHECK(!label.empty() && label.find_first_of("=#\r\n") == std::string::npos,
             "a JCAMP-DX label of nmrc's own");
  text_ += "##" + label + "= " + console_text(value, ConsoleText::kJcampValue, "##" + label) + "\n";
}

void JcampWriter::add_commented(const std::string& label, const std::string& value,
                                const std::string& comment) {
  add(label, value);
  text_.pop_back();  // the line end: the comment follows on the same line
  text_ += "\t$$ " + console_text(comment, ConsoleText::kJcampComment, "##" + label) + "\n";
}

void JcampWriter::add_number(const std::string& label, double value) {
  add(label, jcamp_parameter_number(value));
}

void JcampWriter::add_text(const std::string& label, const std::string& text) {
  add(label, "<" + console_text(text, ConsoleText::kJcampString, "##" + label) + ">");
}

void JcampWriter::wrapped(const std::string& label, const std::vector<std::string>& tokens) {
  add(label, "(0.." + std::to_string(static_cast<long>(tokens.size()) - 1) + ")");
  // TopSpin's acqus: tokens each followed by a space, a new line once the line has reached 70
  // characters (measured on TopSpin/XWIN-NMR acqus files: D, P, CNST, IN, SPOFFS arrays).
  std::string line;
  for (const auto& t : tokens) {
    line += t + " ";
    if (line.size() >= 70) {
      text_ += line + "\n";
      line.clear();
    }
  }
  if (!line.empty()) text_ += line + "\n";
}

void JcampWriter::add_numbers(const std::string& label, const std::vector<double>& values) {
  std::vector<std::string> t;
  t.reserve(values.size());
  for (double v : values) t.push_back(jcamp_parameter_number(v));
  wrapped(label, t);
}

void JcampWriter::add_texts(const std::string& label, const std::vector<std::string>& values) {
  std::vector<std::string> t;
  t.reserve(values.size());
  for (const auto& v : values)
    t.push_back("<" + console_text(v, ConsoleText::kJcampString, "##" + label) + ">");
  wrapped(label, t);
}

void JcampWriter::comment(const std::string& text) {
  text_ += "$$ " + console_text(text, ConsoleText::kJcampComment, "$$ comment") + "\n";
}

void JcampWriter::line(const std::string& text) { text_ += text + "\n"; }

std::string JcampWriter::str() const { return text_ + "##END=\n"; }

}  // namespace nmrc
