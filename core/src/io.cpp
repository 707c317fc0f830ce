#include "nmrc/core/io.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "nmrc/core/error.hpp"

namespace nmrc {

namespace {

// fsync a file descriptor; EINVAL means the file system cannot sync (e.g. some pseudo file
// systems), which is not a write failure.
bool sync_ok(int fd) { return ::fsync(fd) == 0 || errno == EINVAL; }

// Temporary files of write_file_atomic are "NAME.tmp<PID>". Removes those in `dir` whose
// process no longer exists (a run that was killed between writing and renaming).
void remove_stale_temporaries(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const size_t at = name.rfind(".tmp");
    if (at == std::string::npos || at + 4 >= name.size() || name.size() - at > 14) continue;
    const std::string digits = name.substr(at + 4);
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::stol(digits);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      std::error_code rm;
      std::filesystem::remove(e.path(), rm);
    }
  }
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& content) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  remove_stale_temporaries(dir);
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw InputError(path + ": cannot write file (is the directory writable?)");
  const char* p = content.data();
  size_t left = content.size();
  bool ok = true;
  while (ok && left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) {
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  // The data must be on disk before the rename makes it visible under the final name; otherwise
  // a power loss can leave an empty file there (ext4's and XFS's delayed allocation).
  ok = ok && sync_ok(fd);
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    throw InputError(path + ": write failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw InputError(path + ": cannot replace file");
  }
  // The rename itself is durable once the directory entry is synced.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const bool dir_ok = sync_ok(dfd);
    ::close(dfd);
    if (!dir_ok) throw InputError(path + ": cannot sync its directory (disk error?)");
  }
}

std::string read_file(const std::string& path, std::size_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw InputError(path + ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot read file (does it exist?)");
  // Read in chunks up to the limit, so that a device (/dev/zero) or a huge file is refused
  // before it fills memory.
  std::string out;
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof buf);
    const auto n = static_cast<size_t>(in.gcount());
    if (out.size() + n > max_bytes)
      throw InputError(path + ": file is larger than the limit of " +
                       std::to_string(max_bytes >> 20) + " MiB for this input (docs/limits.md)");
    out.append(buf, n);
  }
  if (in.bad()) throw InputError(path + ": read error");
  return out;
}

void make_directories(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec || !std::filesystem::is_directory(path))
    throw InputError(path + ": cannot create output directory (" + ec.message() + ")");
}

std::string resolve_path(const std::string& program_file, const std::string& path) {
  const std::filesystem::path p(path);
  if (p.is_absolute() || program_file.empty()) return path;
  return (std::filesystem::path(program_file).parent_path() / p).lexically_normal().string();
}

}  // namespace nmrc
