// Output files that never leave a half-written result: write to a temporary file beside the
// target, then rename over it (rename is atomic within a directory on POSIX).
#pragma once

#include <string>

namespace nmrc {

/// Writes `content` to `path` atomically. Throws InputError naming the path when the
/// directory cannot be written.
void write_file_atomic(const std::string& path, const std::string& content);
/// Reads a whole file; throws InputError "path: cannot read file" when it cannot.
std::string read_file(const std::string& path);
/// Creates a directory and its parents; throws InputError when that fails.
void make_directories(const std::string& path);

}  // namespace nmrc
