// Reading YAML input with errors a person can act on. Every accessor that rejects a value
// throws InputError "file:line:col: path = value: rule", where path is the field's full name
// (e.g. couplings[3].spins). Used by every loader in nmrc (molecules, programs, readouts).
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/error.hpp"

namespace nmrc {

/// A YAML node with the file it came from and its path from the document root.
class YamlField {
 public:
  YamlField(YAML::Node node, std::string path, std::shared_ptr<const std::string> file);

  /// Parses a file; invalid YAML or an unreadable file throws InputError with file:line:col
  /// (the file named as given). Every loader goes through here (or load_string), so these
  /// rules hold for every YAML input: a key given twice in one mapping is refused with both
  /// places named; a key that is a list or a mapping is refused; at most kMaxYamlFileBytes
  /// (io.hpp) and 2 million nodes (counting repeats through aliases).
  static YamlField load_file(const std::string& path);
  /// Parses text; `name` stands for the file name in messages.
  static YamlField load_string(const std::string& text, const std::string& name);

  /// Required key of a mapping; missing -> "missing required key".
  YamlField at(const std::string& key) const;
  /// Optional key of a mapping.
  std::optional<YamlField> find(const std::string& key) const;
  bool has(const std::string& key) const;
  /// Rejects keys not in `allowed`, naming the unknown key and the allowed ones.
  void allow_keys(std::initializer_list<const char*> allowed) const;
  void allow_keys(const std::vector<std::string>& allowed) const;

  bool is_map() const { return node_.IsMap(); }
  bool is_sequence() const { return node_.IsSequence(); }
  bool is_scalar() const { return node_.IsScalar(); }
  /// Requires a mapping / a sequence; otherwise "must be a mapping" / "must be a list".
  const YamlField& expect_map() const;
  const YamlField& expect_sequence() const;
  /// Elements of a sequence (path[i]).
  std::vector<YamlField> items() const;
  /// Key/value pairs of a mapping in file order (value paths are path.key).
  std::vector<std::pair<std::string, YamlField>> entries() const;

  /// Numbers, integers and booleans must be plain scalars: a quoted "160" is text and refused.
  double as_double() const;
  /// Number that must be > 0 / >= 0.
  double as_positive() const;
  double as_nonnegative() const;
  /// Number in [min, max] ("must be between min and max"): physical ranges (limits.hpp).
  double as_double(double min, double max) const;
  /// Number in (0, max].
  double as_positive(double max) const;
  long as_int() const;
  /// Integer in [min, max]; otherwise "must be an integer between min and max". Every size or
  /// count read from YAML goes through this before it is used (docs/limits.md).
  long as_int(long min, long max) const;
  /// A scalar written in quotes ("160"): text, never a number or a boolean.
  bool quoted() const;
  bool as_bool() const;
  /// Text: valid UTF-8 without control characters (no line breaks, tabs or escapes), at most
  /// kMaxTextBytes (core/text.hpp). Every string read from YAML passes this.
  std::string as_string() const;
  /// A name (anything that becomes a file name, a TopSpin identifier or a label in a script):
  /// 1-64 characters from [A-Za-z0-9_.+-], not "." or ".." (core/text.hpp, is_safe_name).
  std::string as_name() const;
  std::vector<double> as_double_list() const;
  std::vector<std::string> as_string_list() const;
  /// A file the program names: the text, relative paths resolved against `base_dir` (the
  /// program's directory; empty: as written), which must be a readable regular file; else fails
  /// here
  /// ("cannot read file X (does it exist?)", "X is a directory, not a file"), so that a missing
  /// molecule, readout set, theory program or pulse is reported at the line that names it.
  std::string as_input_file(const std::string& base_dir) const;

  /// Throws InputError "file:line:col: path = value: rule".
  [[noreturn]] void fail(const std::string& rule) const;
  /// "file:line:col" of this node.
  std::string location() const;
  /// The node as flow-style YAML text, e.g. [C2, C9].
  std::string value_text() const;
  const std::string& path() const { return path_; }
  const std::string& file() const { return *file_; }
  const YAML::Node& node() const { return node_; }

 private:
  YAML::Node node_;
  std::string path_;
  std::shared_ptr<const std::string> file_;
};

}  // namespace nmrc
