// Files: output that never leaves a half-written result (write to a temporary file beside the
// target, then rename over it; rename is atomic within a directory on POSIX), whole-file
// reads, and the one rule for paths named inside a program file.
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
/// A path named inside `program_file` (a molecule, pulse, readout or state file): absolute
/// paths stay as they are, relative ones are taken relative to the folder that holds
/// `program_file` (not the working directory), lexically normalised ("a/../b" -> "b"). An empty
/// `program_file` (a program given as text) leaves `path` as it is.
std::string resolve_path(const std::string& program_file, const std::string& path);

}  // namespace nmrc
