// Checked text: the one place that says which input text nmrc accepts and how text is made safe
// for the places it goes (a terminal, a CSV cell, a message). Input files are untrusted
// (docs/security.md): every loader takes its names and free text through these rules, so a name
// can never carry a line break into a console file, a backtick into a gnuplot script or a "../"
// into a path.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace nmrc {

/// Longest name (identifiers, labels that become file names or console identifiers).
inline constexpr std::size_t kMaxNameBytes = 64;
/// Longest free text (titles, descriptions) in bytes.
inline constexpr std::size_t kMaxTextBytes = 4096;

/// The rule a name must follow, for messages.
inline constexpr const char* kNameRule =
    "must be 1-64 characters from A-Z a-z 0-9 _ . + - (not . or ..)";

/// A name: 1-64 characters from [A-Za-z0-9_.+-], not "." or "..". Anything that becomes a file
/// name, a TopSpin identifier or a gnuplot/console token is a name.
bool is_safe_name(std::string_view s);

/// A name made from text that was not given as a name (a file's stem, a TopSpin shape's title):
/// every byte outside [A-Za-z0-9_.+-] becomes '_', at most 64 bytes; "" , "." and ".." become
/// `fallback` (which must itself be a safe name).
std::string safe_name_from(std::string_view s, std::string_view fallback = "unnamed");

/// Why `s` is not acceptable free text (a title, description or label), or nothing when it is:
/// valid UTF-8, no control characters (C0 including tab and line breaks, DEL, C1), at most
/// `max_bytes` bytes.
std::optional<std::string> text_problem(std::string_view s, std::size_t max_bytes = kMaxTextBytes);

/// `s` with every byte that is a control character, DEL, part of a C1 control or of invalid
/// UTF-8 written as \xNN: what is printed to a terminal or put in a message, so that input
/// cannot move the cursor, fake a line or change colours. Idempotent (a backslash stays), so
/// a message escaped where it was made can pass through the final printer's escape again.
std::string escape_text(std::string_view s);

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote, a line break or leading or
/// trailing spaces (quotes doubled); a text cell that a spreadsheet would take as a formula
/// (first character = + - @, tab or CR) gets a leading apostrophe (OWASP's CSV-injection
/// advice). For text cells only; numbers are written as numbers.
std::string csv_field(std::string_view s);

}  // namespace nmrc
