// Files: output that never leaves a half-written result (write to a temporary file beside the
// target, then rename over it; rename is atomic within a directory on POSIX), whole-file
// reads, and the one rule for paths named inside a program file.
#pragma once

#include <cstddef>
#include <string>

namespace nmrc {

/// Largest input file nmrc reads (256 MiB; docs/limits.md). YAML inputs have a smaller limit.
inline constexpr std::size_t kMaxInputFileBytes = std::size_t{256} << 20;
/// Largest YAML input (a molecule, program or readout set; 16 MiB: yaml-cpp needs about twenty
/// times a document's size in memory).
inline constexpr std::size_t kMaxYamlFileBytes = std::size_t{16} << 20;

/// Writes `content` to `path` atomically and durably: a temporary file NAME.tmp<PID> beside it,
/// fsync, rename over `path`, fsync of the directory (a power loss leaves the old file or the
/// new one, never an empty one). Removes temporaries of killed runs (NAME.tmp<PID> whose process
/// is gone) in the same directory first. Throws InputError naming the path when the directory
/// cannot be written.
void write_file_atomic(const std::string& path, const std::string& content);
/// Reads a whole file; throws InputError "path: cannot read file" when it cannot, "is a
/// directory" for a directory and "file is larger than the limit" past `max_bytes` (checked
/// while reading, so a device such as /dev/zero is refused too).
std::string read_file(const std::string& path, std::size_t max_bytes = kMaxInputFileBytes);
/// Creates a directory and its parents; throws InputError when that fails.
void make_directories(const std::string& path);
/// A path named inside `program_file` (a molecule, pulse, readout or state file): absolute
/// paths stay as they are, relative ones are taken relative to the folder that holds
/// `program_file` (not the working directory), lexically normalised ("a/../b" -> "b"). An empty
/// `program_file` (a program given as text) leaves `path` as it is.
std::string resolve_path(const std::string& program_file, const std::string& path);

}  // namespace nmrc
