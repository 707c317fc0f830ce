// Files: output that never leaves a half-written result and never follows a planted symbolic
// link (a private temporary beside the target, opened with O_EXCL|O_NOFOLLOW under a folder
// opened without following links, then renamed over the target), whole-file reads, the
// per-user caches (checked like ssh checks its keys), and the one rule for paths named inside a
// program file. docs/security.md has the threat model; docs/exit-codes.md the errors.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nmrc {

/// Largest input file nmrc reads (256 MiB; docs/limits.md). YAML inputs have a smaller limit.
inline constexpr std::size_t kMaxInputFileBytes = std::size_t{256} << 20;
/// Largest YAML input (a molecule, program or readout set; 16 MiB: yaml-cpp needs about twenty
/// times a document's size in memory).
inline constexpr std::size_t kMaxYamlFileBytes = std::size_t{16} << 20;

/// Temporary files of write_file_atomic are named kTempPrefix + 16 random hexadecimal digits
/// (".nmrc-tmp-0123456789abcdef"); nothing else nmrc or a user makes has that form.
inline constexpr const char* kTempPrefix = ".nmrc-tmp-";
/// A temporary older than this (by its modification time) is a leftover of a killed run and is
/// removed by the next write into its folder; a live write lasts far less.
inline constexpr long kStaleTempAgeS = 3600;

/// Writes `content` to `path` atomically and durably, and only inside real folders:
/// - every folder of `path` is opened without following a symbolic link (O_NOFOLLOW, component
///   by component from `/` or the working directory): a link planted in an output folder, or one
///   of its subfolders replaced by a link, is refused, never written through. The CLI resolves
///   the folders the user names (--out) to their real path first (output_path), so those may be
///   links;
/// - the data go to a new temporary kTempPrefix + random in the target's folder, created with
///   O_CREAT|O_EXCL|O_NOFOLLOW (unique without process ids, so runs in different PID namespaces
///   sharing a folder never clash), then fsync, renameat over the target (a link at the target
///   is replaced, not followed), fsync of the folder: a power loss leaves the old file or the
///   new one, never an empty one;
/// - first, temporaries of killed runs in that folder (kTempPrefix names, regular files of this
///   user, older than kStaleTempAgeS) are removed; no other file is ever touched.
/// Throws ResourceError naming the path and the system's reason for a full disk, a permission
/// or read-only refusal, or a symbolic link; InputError when a folder is missing or a file.
void write_file_atomic(const std::string& path, const std::string& content);
/// Reads a whole file; throws InputError "path: cannot read file" when it cannot, "is a
/// directory" for a directory and "file is larger than the limit" past `max_bytes` (checked
/// while reading, so a device such as /dev/zero is refused too).
std::string read_file(const std::string& path, std::size_t max_bytes = kMaxInputFileBytes);
/// Creates an output folder and its parents (without following a symbolic link, like
/// write_file_atomic) and checks that this process may write in it, so that an unwritable
/// output is found before long work starts. Throws ResourceError (permission, read-only, full,
/// a symbolic link) or InputError (a file where a folder should be).
void make_directories(const std::string& path);
/// Checks, creating nothing, that output folder `path` can be written: it is a folder this
/// process may write in, or it does not exist yet and its nearest existing parent is one. What a
/// command calls before long work, so that bad input found later still leaves nothing behind.
/// Throws like make_directories.
void check_output_folder(const std::string& path);
/// A folder the user names for output (--out), made absolute with its symbolic links resolved
/// (std::filesystem::weakly_canonical): the user's own links are followed once here, and
/// write_file_atomic then follows none below it.
std::string output_path(const std::string& path);
/// A path named inside `program_file` (a molecule, pulse, readout or state file): absolute
/// paths stay as they are, relative ones are taken relative to the folder that holds
/// `program_file` (not the working directory), lexically normalised ("a/../b" -> "b"). An empty
/// `program_file` (a program given as text) leaves `path` as it is.
std::string resolve_path(const std::string& program_file, const std::string& path);

/// A private temporary folder (mode 0700, "nmrc-" + 16 random hexadecimal digits under $TMPDIR
/// when that is an absolute path, else /tmp) for a helper program's output (gnuplot renders
/// there under fixed file names, so no input text is ever in an output path). Removed with its
/// files on destruction and by remove_temporaries_in_progress(). Throws ResourceError when it
/// cannot be created.
class PrivateTempDir {
 public:
  PrivateTempDir();
  ~PrivateTempDir();
  PrivateTempDir(const PrivateTempDir&) = delete;
  PrivateTempDir& operator=(const PrivateTempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::string path_;
};

/// Removes the temporaries of writes in progress and the private folders still open: what a
/// SIGINT/SIGTERM handler calls before the process ends. Async-signal-safe.
void remove_temporaries_in_progress() noexcept;

// ---- Caches --------------------------------------------------------------------------------
// A cache folder (the compile and channel caches) is trusted only when this user owns it and
// neither group nor others can write it, as ssh treats its keys: otherwise anyone who can write
// there could plant an entry. An untrusted, unreadable or unwritable cache is an optimisation
// lost, never an error: nmrc warns once per folder (through the handler below) and carries on
// without it. Folders nmrc creates for a cache get mode 0700. The named folder itself may be a
// symbolic link (it is the user's choice); entries are opened without following links.

/// Receives each cache warning once per folder and kind ("cache DIR: ...; caching is off").
/// The CLI prints them on stderr; the default keeps them for take_cache_warnings().
void set_cache_warning_handler(std::function<void(const std::string&)> handler);
/// The warnings given so far when no handler was set (and clears them).
std::vector<std::string> take_cache_warnings();
/// Creates `dir` if needed (0700) and checks that it can be trusted and written; false (with a
/// warning) when not. Commands call it before long work so the warning comes first.
bool cache_usable(const std::string& dir);
/// The entry `name` (a plain file name) of cache `dir`, or nothing when there is none, the
/// folder is not trusted (warned), or it is not a regular file of at most `max_bytes`.
std::optional<std::string> read_cache_file(const std::string& dir, const std::string& name,
                                           std::size_t max_bytes = kMaxInputFileBytes);
/// Stores an entry atomically (as write_file_atomic); false with a warning when the folder
/// cannot be trusted or written (full, read-only): the caller carries on.
bool write_cache_file(const std::string& dir, const std::string& name, const std::string& content);
/// Names of the regular files of a trusted cache `dir` ending in `suffix`, sorted, at most
/// `max_entries` (the first in name order); empty for a missing or untrusted folder.
std::vector<std::string> cache_file_names(const std::string& dir, const std::string& suffix,
                                          std::size_t max_entries);

}  // namespace nmrc
