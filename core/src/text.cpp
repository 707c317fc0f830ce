#include "nmrc/core/text.hpp"

#include <fmt/format.h>

namespace nmrc {

namespace {

// Length of the valid UTF-8 sequence starting at s[i] (RFC 3629: no overlong forms, no
// surrogates, at most U+10FFFF), or 0 when the bytes there are not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  return n;
}

// A C1 control (U+0080..U+009F) is the two-byte sequence C2 80..C2 9F.
bool is_c1(std::string_view s, std::size_t i, std::size_t n) {
  return n == 2 && static_cast<unsigned char>(s[i]) == 0xC2 &&
         static_cast<unsigned char>(s[i + 1]) <= 0x9F;
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

}  // namespace

static bool is_name_char(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '+' || c == '-';
}

bool is_safe_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameBytes || s == "." || s == "..") return false;
  for (const char ch : s)
    if (!is_name_char(ch)) return false;
  return true;
}

std::string safe_name_from(std::string_view s, std::string_view fallback) {
  std::string out;
  for (const char ch : s.substr(0, kMaxNameBytes)) out += is_name_char(ch) ? ch : '_';
  if (out.empty() || out == "." || out == "..") return std::string(fallback);
  return out;
}

std::optional<std::string> text_problem(std::string_view s, std::size_t max_bytes) {
  if (s.size() > max_bytes)
    return fmt::format("must be at most {} bytes (it has {})", max_bytes, s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_length(s, i);
    if (n == 0) return "must be valid UTF-8 text";
    if ((n == 1 && is_control(static_cast<unsigned char>(s[i]))) || is_c1(s, i, n))
      return "must not contain control characters (line breaks, tabs, escapes)";
    i += n;
  }
  return std::nullopt;
}

std::string escape_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_length(s, i);
    const auto c = static_cast<unsigned char>(s[i]);
    if (n == 0 || (n == 1 && is_control(c)) || is_c1(s, i, n)) {
      // One escaped byte; the next byte is looked at afresh (a C1 control's second byte too).
      const std::size_t bytes = (n == 0 || n == 1) ? 1 : n;
      for (std::size_t k = 0; k < bytes; ++k)
        out += fmt::format("\\x{:02X}", static_cast<unsigned char>(s[i + k]));
      i += bytes;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string csv_field(std::string_view s) {
  std::string v(s);
  if (!v.empty() &&
      (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r'))
    v.insert(v.begin(), '\'');
  const bool quote = v.find_first_of(",\"\r\n") != std::string::npos ||
                     (!v.empty() && (v.front() == ' ' || v.back() == ' '));
  if (!quote) return v;
  std::string out = "\"";
  for (const char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace nmrc
