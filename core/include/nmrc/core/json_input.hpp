// Locations in JSON input, so that every JSON reader (pulse files, unitary and state files,
// targets) reports "file:line:col: field = value: rule" like the YAML ones (yaml_input.hpp).
// nlohmann-json keeps no positions in its values; these functions find them in the text.
#pragma once

#include <cstddef>
#include <string>

namespace nmrc {

/// "line:col" (1-based) of byte `offset` (0-based) of `text`.
std::string text_line_col(const std::string& text, std::size_t offset);

/// "line:col" of the value named by `field` in JSON `text`: a path of object keys and list
/// indices as nmrc's messages write it ("channels.13C.ux_hz[3]", "fidelity.nominal"; "" or
/// "(document)" for the whole document). When a key is absent, the location of the deepest
/// object on the path that exists (where the key is missing). Expects text that parses as JSON;
/// on anything else it returns "1:1".
std::string json_location(const std::string& text, const std::string& field);

/// Deepest nesting of arrays and objects nmrc reads (docs/limits.md). nmrc's own files nest at
/// most 5 deep; nlohmann-json's dump and destructor recurse once per level, so a document
/// nested 100,000 deep would overflow the stack.
inline constexpr int kMaxJsonDepth = 64;

/// Throws InputError "where:line:col: JSON nested deeper than 64 levels" when `text` nests
/// arrays and objects deeper than kMaxJsonDepth (brackets inside strings do not count). Every
/// JSON reader calls it before parsing.
void check_json_depth(const std::string& text, const std::string& where);

/// "line:col" of the token an nlohmann-json error message quotes ("number overflow parsing
/// '1e400'"): errors other than syntax errors carry no byte position. "1:1" when none is quoted.
std::string json_error_location(const std::string& text, const std::string& message);

}  // namespace nmrc
