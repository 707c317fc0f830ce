#include "nmrc/core/yaml_input.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nmrc/core/io.hpp"
#include "nmrc/core/text.hpp"

namespace nmrc {

YamlField::YamlField(YAML::Node node, std::string path, std::shared_ptr<const std::string> file)
    : node_(std::move(node)), path_(std::move(path)), file_(std::move(file)) {}

namespace {

std::string mark_text(const YAML::Mark& m) {
  return std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

std::string flow_text(const YAML::Node& n) {
  YAML::Emitter em;
  em.SetMapFormat(YAML::Flow);
  em.SetSeqFormat(YAML::Flow);
  em << n;
  std::string s = em.c_str();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

// Largest number of nodes a document may have, counting a node each time an alias repeats it
// (so that a few nested aliases cannot expand to billions of nodes).
constexpr long kMaxYamlNodes = 2'000'000;

// yaml-cpp keeps every key of a mapping, and looks up the first one; nmrc instead rejects a key
// given twice (both places named) and a key that is not text ("[a, b]: 1"), everywhere, before a
// loader sees the document.
void check_keys(const YAML::Node& n, const std::string& path, const std::string& file,
                long& budget) {
  if (--budget < 0)
    throw InputError(file + ":1:1: document: more than " + std::to_string(kMaxYamlNodes) +
                     " nodes (counting repeats through aliases): too large");
  if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i)
      check_keys(n[i], path + "[" + std::to_string(i) + "]", file, budget);
  } else if (n.IsMap()) {
    std::vector<std::pair<std::string, YAML::Mark>> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar())
        throw InputError(file + ":" + mark_text(key.Mark()) + ": " +
                         (path.empty() ? std::string("document") : path) + ": key " +
                         flow_text(key) + " must be a plain name, not a list or mapping");
      if (auto problem = text_problem(key.Scalar(), kMaxNameBytes))
        throw InputError(file + ":" + mark_text(key.Mark()) + ": " +
                         (path.empty() ? std::string("document") : path) + ": key \"" +
                         escape_text(key.Scalar().substr(0, 80)) + "\" " + *problem);
      const std::string name = path.empty() ? key.Scalar() : path + "." + key.Scalar();
      for (const auto& [k, mark] : seen)
        if (k == key.Scalar())
          throw InputError(file + ":" + mark_text(key.Mark()) + ": " + name +
                           ": duplicate key (first given at " + file + ":" + mark_text(mark) +
                           "): give each key once");
      seen.emplace_back(key.Scalar(), key.Mark());
      check_keys(it->second, name, file, budget);
    }
  }
}

YamlField parse(const std::string& text, const std::string& name) {
  auto file = std::make_shared<const std::string>(name);
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsDefined() || root.IsNull())
      throw InputError(name + ":1:1: document is empty: expected a mapping of keys");
    long budget = kMaxYamlNodes;
    check_keys(root, "", name, budget);
    return YamlField(root, "", file);
  } catch (const YAML::Exception& e) {
    std::ostringstream os;
    os << name << ":" << e.mark.line + 1 << ":" << e.mark.column + 1 << ": invalid YAML: " << e.msg;
    throw InputError(os.str());
  }
}
}  // namespace

YamlField YamlField::load_file(const std::string& path) {
  return parse(read_file(path, kMaxYamlFileBytes), path);
}

YamlField YamlField::load_string(const std::string& text, const std::string& name) {
  if (text.size() > kMaxYamlFileBytes)
    throw InputError(name + ": document is larger than the limit of " +
                     std::to_string(kMaxYamlFileBytes >> 20) + " MiB (docs/limits.md)");
  return parse(text, name);
}

std::string YamlField::location() const {
  std::ostringstream os;
  const YAML::Mark m = node_.Mark();
  os << escape_text(*file_);
  if (m.line >= 0) os << ":" << m.line + 1 << ":" << m.column + 1;
  return os.str();
}

std::string YamlField::value_text() const {
  if (!node_.IsDefined() || node_.IsNull()) return "null";
  if (node_.IsScalar()) {
    const std::string& s = node_.Scalar();
    const std::string shown = s.size() > 80 ? s.substr(0, 77) + "..." : s;
    return escape_text(quoted() ? "\"" + shown + "\"" : shown);
  }
  return escape_text(flow_text(node_));
}

bool YamlField::quoted() const { return node_.IsScalar() && node_.Tag() == "!"; }

void YamlField::fail(const std::string& rule) const {
  const std::string name = path_.empty() ? std::string("document") : path_;
  throw InputError(location() + ": " + name + " = " + value_text() + ": " + rule);
}

const YamlField& YamlField::expect_map() const {
  if (!node_.IsMap()) fail("must be a mapping of keys");
  return *this;
}

const YamlField& YamlField::expect_sequence() const {
  if (!node_.IsSequence()) fail("must be a list");
  return *this;
}

namespace {
std::string join_path(const std::string& base, const std::string& key) {
  return base.empty() ? key : base + "." + key;
}
}  // namespace

bool YamlField::has(const std::string& key) const {
  return node_.IsMap() && node_[key].IsDefined();
}

std::optional<YamlField> YamlField::find(const std::string& key) const {
  expect_map();
  YAML::Node child = node_[key];
  if (!child.IsDefined()) return std::nullopt;
  return YamlField(child, join_path(path_, key), file_);
}

YamlField YamlField::at(const std::string& key) const {
  auto f = find(key);
  if (!f) {
    const std::string name = join_path(path_, key);
    throw InputError(location() + ": " + name + ": missing required key");
  }
  return *f;
}

void YamlField::allow_keys(std::initializer_list<const char*> allowed) const {
  std::vector<std::string> v(allowed.begin(), allowed.end());
  allow_keys(v);
}

void YamlField::allow_keys(const std::vector<std::string>& allowed) const {
  expect_map();
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    bool ok = false;
    for (const auto& a : allowed) ok = ok || (a == key);
    if (!ok) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      YamlField k(it->first, join_path(path_, key), file_);
      throw InputError(k.location() + ": " + join_path(path_, key) +
                       ": unknown key (allowed: " + list + ")");
    }
  }
}

std::vector<YamlField> YamlField::items() const {
  expect_sequence();
  std::vector<YamlField> out;
  for (size_t i = 0; i < node_.size(); ++i)
    out.emplace_back(node_[i], path_ + "[" + std::to_string(i) + "]", file_);
  return out;
}

std::vector<std::pair<std::string, YamlField>> YamlField::entries() const {
  expect_map();
  std::vector<std::pair<std::string, YamlField>> out;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    out.emplace_back(key, YamlField(it->second, join_path(path_, key), file_));
  }
  return out;
}

double YamlField::as_double() const {
  if (!node_.IsScalar()) fail("must be a number");
  if (quoted()) fail("must be a number (not a quoted text)");
  double v = 0.0;
  try {
    v = node_.as<double>();
  } catch (const YAML::Exception&) {
    fail("must be a number");
  }
  if (!std::isfinite(v)) fail("must be a finite number");
  return v;
}

double YamlField::as_positive() const {
  const double v = as_double();
  if (!(v > 0.0)) fail("must be > 0");
  return v;
}

namespace {
std::string bound_text(double v) { return fmt::format("{:g}", v); }
}  // namespace

double YamlField::as_double(double min, double max) const {
  const double v = as_double();
  if (v < min || v > max) fail("must be between " + bound_text(min) + " and " + bound_text(max));
  return v;
}

double YamlField::as_positive(double max) const {
  const double v = as_positive();
  if (v > max) fail("must be > 0 and at most " + bound_text(max));
  return v;
}

double YamlField::as_nonnegative() const {
  const double v = as_double();
  if (!(v >= 0.0)) fail("must be >= 0");
  return v;
}

long YamlField::as_int() const {
  if (!node_.IsScalar()) fail("must be an integer");
  if (quoted()) fail("must be an integer (not a quoted text)");
  try {
    return node_.as<long>();
  } catch (const YAML::Exception&) {
    fail("must be an integer");
  }
}

long YamlField::as_int(long min, long max) const {
  const long v = as_int();
  if (v < min || v > max)
    fail("must be an integer between " + std::to_string(min) + " and " + std::to_string(max));
  return v;
}

bool YamlField::as_bool() const {
  if (!node_.IsScalar()) fail("must be true or false");
  if (quoted()) fail("must be true or false (not a quoted text)");
  try {
    return node_.as<bool>();
  } catch (const YAML::Exception&) {
    fail("must be true or false");
  }
}

std::string YamlField::as_string() const {
  if (!node_.IsScalar()) fail("must be a text value");
  if (auto problem = text_problem(node_.Scalar())) fail(*problem);
  return node_.Scalar();
}

std::string YamlField::as_name() const {
  std::string s = as_string();
  if (!is_safe_name(s)) fail(kNameRule);
  return s;
}

std::string YamlField::as_input_file(const std::string& base_dir) const {
  const std::string rel = as_string();
  const std::string path =
      rel.empty() || std::filesystem::path(rel).is_absolute() || base_dir.empty()
          ? rel
          : (std::filesystem::path(base_dir) / rel).lexically_normal().string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path + " is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read file " + path + " (does it exist?)");
  return path;
}

std::vector<double> YamlField::as_double_list() const {
  std::vector<double> out;
  for (const auto& f : items()) out.push_back(f.as_double());
  return out;
}

std::vector<std::string> YamlField::as_string_list() const {
  std::vector<std::string> out;
  for (const auto& f : items()) out.push_back(f.as_string());
  return out;
}

}  // namespace nmrc
