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

/// "line:col" of the token an nlohmann-json error message quotes ("number overflow parsing
/// '1e400'"): errors other than syntax errors carry no byte position. "1:1" when none is quoted.
std::string json_error_location(const std::string& text, const std::string& message);

}  // namespace nmrc
