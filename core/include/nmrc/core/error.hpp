// Errors: InputError for bad user input (one line: location, field, value, rule, fix),
// ResourceError when the machine refuses (disk full, no permission, out of memory),
// NMRC_CHECK for broken internal invariants (reports file:line and aborts; never for input).
#pragma once

#include <stdexcept>
#include <string>

namespace nmrc {

/// Bad user input. The message is one line: "file:line:col: field = value: rule".
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The file system or the machine refused what nmrc had to do, not the input: a full disk or
/// quota, no permission, a read-only file system, a symbolic link where nmrc writes, out of
/// memory, a helper program (gnuplot) missing or killed. The message names the path and the
/// system's reason. The CLI exits 4 (docs/exit-codes.md).
class ResourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void check_failed(const char* expr, const char* file, int line,
                               const std::string& msg);

}  // namespace nmrc

#define NMRC_CHECK(cond, msg)                                            \
  do {                                                                   \
    if (!(cond)) ::nmrc::check_failed(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
