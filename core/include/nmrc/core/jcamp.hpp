// JCAMP-DX parameter files as Bruker writes them: TopSpin shape files (lists/wave), acqus,
// acqu, procs. One reader and one writer for all of them (docs/bruker.md).
// Layout rules (JCAMP-DX 5 as used by TopSpin; learned from TopSpin's own files and the
// "stdisp" page of the TopSpin command reference): labelled records "##LABEL= value", Bruker's
// private ones "##$LABEL= value"; "$$" starts a comment (a whole line, or the rest of a value);
// strings in <...> may continue over lines; arrays "(0..N)" continue on the following lines;
// data lines (the shape's "amplitude, phase" pairs) belong to the record before them; "##END="
// ends the file ("##END" without "=" too, as TopSpin's Shapetool writes it; CRLF line ends and
// a UTF-8 byte-order mark are read as well). Every rejection names the file and line:
// "path:line:1: ##$TD= x: rule".
// Text bound for a console (JCAMP values and comments, pulse-program comments and names, README
// and queue lines) goes through one sanitiser, console_text: files from nmrc drive a console's
// amplifiers, so no input text may end a line, start a record or a statement (docs/security.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nmrc {

/// One labelled record and the lines that continue it.
struct JcampRecord {
  std::string label;  ///< without "##": "TITLE", "$TD"
  std::string value;  ///< text after "=", trimmed, with an inline "$$ comment" removed
  int line = 0;       ///< 1-based line of the "##" line
  std::vector<std::string> continuation;  ///< following lines that are not records/comments
  std::vector<int> continuation_lines;    ///< their 1-based line numbers
};

/// Where a text is written in a file bound for a console; each place has its delimiters.
enum class ConsoleText {
  kJcampValue,    ///< after "##LABEL= ": no "##", no "$$"; "<" and ">" only around the whole value
  kJcampString,   ///< inside "<...>": no "##", "$$", "<", ">"
  kJcampComment,  ///< a "$$ ..." line: no "##", no "$$"
  /// After ";" in a pulse program: no backslash (TopSpin's preprocessor would join the next
  /// line to the comment), no "/*" or "*/" (C comments of the preprocessor).
  kPulseProgramComment,
  /// A name written as a pulse-program token or a file name (PULPROG, SPNAM, a shape file):
  /// nmrc's name rule, kNameRule (core/text.hpp).
  kName,
  kTextLine,  ///< a line of README.txt or queue.mac
};

/// The sanitiser of every console file nmrc writes: returns `value` when it can be written at
/// `place` as one piece of one line; otherwise throws InputError
/// "FIELD = \"escaped value\": cannot be written into a TopSpin file: rule". Every place refuses
/// control characters (line breaks, tabs, C0, DEL, C1), invalid UTF-8 and text longer than
/// kMaxTextBytes (core/text.hpp's text_problem); then the place's own delimiters (above). The
/// value is shown through escape_text.
const std::string& console_text(const std::string& value, ConsoleText place,
                                std::string_view field);

/// A parsed JCAMP-DX file.
struct JcampFile {
  std::string path;                   ///< for messages
  std::vector<JcampRecord> records;   ///< in file order
  std::vector<std::string> comments;  ///< "$$" lines, without the "$$ "
  bool has_end = false;               ///< an "##END=" line was found
  int line_count = 0;

  /// The first record with this label ("$TD" for ##$TD=), or nullptr.
  const JcampRecord* find(std::string_view label) const;
  /// The record; a missing one throws InputError "path:N:1: ##label: missing: why".
  const JcampRecord& at(std::string_view label, std::string_view why = "required") const;
  /// The value as a finite number / an integer / a string without its <...>.
  double number(std::string_view label) const;
  long integer(std::string_view label) const;
  std::string text(std::string_view label) const;
  /// An array "(0..N)" with its N+1 numbers on the following lines (count checked).
  std::vector<double> numbers(std::string_view label) const;
  /// "path:line:1: ##label= value" of a record, the start of every message about it.
  std::string where(const JcampRecord& record) const;
  /// Throws InputError "path:line:1: ##label= value: rule".
  [[noreturn]] void fail(const JcampRecord& record, const std::string& rule) const;
};

/// Parses JCAMP-DX text; `path` names the file in messages. Throws InputError on a line that
/// is neither a record, a comment nor the continuation of a record, and on a "##" line
/// without "=". Does not require ##END= (callers that do check has_end).
JcampFile parse_jcamp(const std::string& text, const std::string& path);
/// Reads and parses a file (InputError when it cannot be read).
JcampFile read_jcamp(const std::string& path);

/// A number as TopSpin's shape files write it: 6 decimals, "E", exponent without "+" and with
/// at least two digits: 1.000000E02, 0.000000E00, 6.370927E-03.
std::string jcamp_shape_number(double value);
/// A number as TopSpin's parameter files (acqus, procs) write it: 15 significant digits, the
/// shortest form (600.132820611, 3e-06, 16384).
std::string jcamp_parameter_number(double value);

/// Builds a parameter file line by line ("\n" line ends, no blank lines, "##END=" last).
class JcampWriter {
 public:
  /// "##label= value" (label with "$" for Bruker's private records). Every value and text of
  /// the writer goes through console_text (kJcampValue, kJcampString for <...>, kJcampComment):
  /// InputError for a value that would break the file.
  void add(const std::string& label, const std::string& value);
  /// "##label= value\t$$ comment" (TopSpin's "##NPOINTS= 1\t$$ modification sequence number").
  void add_commented(const std::string& label, const std::string& value,
                     const std::string& comment);
  void add_number(const std::string& label, double value);
  /// "##label= <text>".
  void add_text(const std::string& label, const std::string& text);
  /// "##label= (0..N-1)" and the values on lines of TopSpin's width: values are appended
  /// (each followed by a space) while the line is shorter than 70 characters.
  void add_numbers(const std::string& label, const std::vector<double>& values);
  void add_texts(const std::string& label, const std::vector<std::string>& values);
  /// A "$$ text" comment line.
  void comment(const std::string& text);
  /// A raw line (data lines of a shape).
  void line(const std::string& text);
  /// The file text, with "##END=\n" appended.
  std::string str() const;

 private:
  void wrapped(const std::string& label, const std::vector<std::string>& tokens);
  std::string text_;
};

}  // namespace nmrc
