#include "nmrc/core/io.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include "nmrc/core/error.hpp"
#include "nmrc/core/text.hpp"

namespace nmrc {

namespace fs = std::filesystem;

// Named (not anonymous): PrivateTempDir::State holds these.
namespace io_detail {

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  /// Gives up ownership (the caller closes it).
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Temporaries being written, so that SIGINT/SIGTERM can remove them (async-signal-safe: only
// lock-free atomics, unlinkat and openat). A slot is claimed with `busy`, filled, then
// published by storing its folder's descriptor.
struct InProgress {
  std::atomic<bool> busy{false};
  std::atomic<int> dirfd{-1};
  bool is_dir = false;
  char name[64] = {};
};
constexpr int kInProgressSlots = 64;
InProgress g_in_progress[kInProgressSlots];
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free);

// Removes the files of folder `name` in `dirfd`, then the folder; async-signal-safe (raw
// getdents64, unlinkat), so the signal path and the destructor share it.
void remove_private_dir(int dirfd, const char* name) noexcept {
  const int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    alignas(8) char buf[4096];
    for (int round = 0; round < 64; ++round) {
      const long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
      if (n <= 0) break;
      for (long off = 0; off < n;) {
        const auto* e = reinterpret_cast<const dirent64*>(buf + off);
        off += e->d_reclen;
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
          ::unlinkat(fd, e->d_name, 0);
      }
    }
    ::close(fd);
  }
  ::unlinkat(dirfd, name, AT_REMOVEDIR);
}

// A temporary (file or private folder) published for remove_temporaries_in_progress while
// this object lives.
class Registered {
 public:
  Registered(int dirfd, const std::string& name, bool is_dir) {
    for (int i = 0; i < kInProgressSlots; ++i) {
      bool expected = false;
      if (!g_in_progress[i].busy.compare_exchange_strong(expected, true)) continue;
      std::snprintf(g_in_progress[i].name, sizeof g_in_progress[i].name, "%s", name.c_str());
      g_in_progress[i].is_dir = is_dir;
      g_in_progress[i].dirfd.store(dirfd);
      slot_ = i;
      return;
    }  // all slots busy: the temporary is then only removed by age (kStaleTempAgeS)
  }
  Registered(const Registered&) = delete;
  Registered& operator=(const Registered&) = delete;
  ~Registered() {
    if (slot_ < 0) return;
    g_in_progress[slot_].dirfd.store(-1);
    g_in_progress[slot_].busy.store(false);
  }

 private:
  int slot_ = -1;
};

}  // namespace io_detail

namespace {

using io_detail::Fd;
using io_detail::g_in_progress;
using io_detail::remove_private_dir;

std::string reason(int err) { return std::error_code(err, std::generic_category()).message(); }

// Errors the machine causes (not the input): they become ResourceError (exit 4).
bool is_resource_errno(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EACCES:
    case EPERM:
    case EROFS:
    case EIO:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case EFBIG:
    case ETXTBSY:
      return true;
    default:
      return false;
  }
}

[[noreturn]] void fail(const std::string& path, const std::string& what, int err) {
  const std::string msg = escape_text(path) + ": " + what + " (" + reason(err) + ")";
  if (is_resource_errno(err)) throw ResourceError(msg);
  throw InputError(msg);
}

// fsync a file descriptor; EINVAL means the file system cannot sync (e.g. some pseudo file
// systems), which is not a write failure.
bool sync_ok(int fd) { return ::fsync(fd) == 0 || errno == EINVAL; }

// ---- temporaries -------------------------------------------------------------------------

std::string random_hex16() {
  std::uint64_t x = 0;
  if (::getrandom(&x, sizeof x, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof x)) {
    // No entropy yet (early boot): uniqueness still comes from O_EXCL and the retry loop.
    static std::atomic<std::uint64_t> counter{0};
    x = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
        (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull) ^ reinterpret_cast<std::uintptr_t>(&x);
  }
  static const char* kHex = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 0; i < 16; ++i) s[i] = kHex[(x >> (4 * i)) & 0xF];
  return s;
}

// `prefix` followed by exactly 16 lowercase hexadecimal digits: nmrc's temporary names.
bool is_random_name(const char* name, const char* prefix) {
  const size_t np = std::strlen(prefix);
  if (std::strncmp(name, prefix, np) != 0 || std::strlen(name) != np + 16) return false;
  for (const char* p = name + np; *p; ++p)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
  return true;
}

constexpr const char* kPrivateDirPrefix = "nmrc-";

// Removes temporaries of killed runs from the folder `dirfd`: kTempPrefix names only, regular
// files of this user, older than kStaleTempAgeS (with `private_dirs`: PrivateTempDir's folders,
// kPrivateDirPrefix names, folders of this user). Nothing else is looked at twice.
void remove_stale_temporaries(int dirfd, bool private_dirs = false) {
  const int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return;
  }
  const std::time_t now = std::time(nullptr);
  while (const dirent* e = ::readdir(d)) {
    const bool file = !private_dirs && is_random_name(e->d_name, kTempPrefix);
    const bool dir = private_dirs && is_random_name(e->d_name, kPrivateDirPrefix);
    if (!file && !dir) continue;
    struct stat st;
    if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if ((file ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode)) || st.st_uid != ::geteuid()) continue;
    if (now - st.st_mtime < kStaleTempAgeS) continue;
    if (file)
      ::unlinkat(dirfd, e->d_name, 0);
    else
      remove_private_dir(dirfd, e->d_name);
  }
  ::closedir(d);
}

// Opens folder `dir` without following a symbolic link in any component (from "/" or the
// working directory), creating missing ones with `mode` when `create`.
Fd open_dir_nofollow(const std::string& dir, bool create, mode_t mode) {
  const std::string p = dir.empty() ? "." : dir;
  Fd cur(::open(p[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cur.ok()) fail(p, "cannot open folder", errno);
  std::string walked = p[0] == '/' ? "/" : "";
  for (size_t i = 0; i <= p.size();) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    const std::string comp = p.substr(i, j - i);
    i = j + 1;
    if (comp.empty() || comp == ".") continue;
    walked += (walked.empty() || walked.back() == '/' ? "" : "/") + comp;
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = ::openat(cur.get(), comp.c_str(), flags);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(cur.get(), comp.c_str(), mode) != 0 && errno != EEXIST)
        fail(walked, "cannot create folder", errno);
      fd = ::openat(cur.get(), comp.c_str(), flags);
    }
    if (fd < 0) {
      const int err = errno;
      struct stat st;
      if ((err == ELOOP || err == ENOTDIR) &&
          ::fstatat(cur.get(), comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        throw ResourceError(escape_text(walked) +
                            ": is a symbolic link; nmrc does not write through a link inside an "
                            "output folder (name the real folder; docs/security.md)");
      if (err == ENOTDIR) throw InputError(escape_text(walked) + ": is a file, not a folder");
      if (err == ENOENT) throw InputError(escape_text(walked) + ": no such folder");
      fail(walked, create ? "cannot create folder" : "cannot open folder", err);
    }
    cur = Fd(fd);
  }
  return cur;
}

// Writes `content` to `name` in folder `dirfd` atomically (see write_file_atomic); `shown` is
// the path for messages. Throws ResourceError or InputError (fail) when it cannot.
void write_at(int dirfd, const std::string& name, const std::string& content,
              const std::string& shown) {
  remove_stale_temporaries(dirfd);
  std::string tmp;
  Fd fd;
  // Published before it is created, so a signal at any moment finds it (a name that does not
  // exist yet costs the handler nothing; the names are random, not another run's).
  std::optional<io_detail::Registered> in_progress;
  for (int attempt = 0; attempt < 64 && !fd.ok(); ++attempt) {
    tmp = kTempPrefix + random_hex16();
    in_progress.emplace(dirfd, tmp, false);
    fd = Fd(
        ::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
    if (fd.ok()) break;
    const int err = errno;
    in_progress.reset();
    if (err != EEXIST) fail(shown, "cannot write file", err);
  }
  if (!fd.ok()) fail(shown, "cannot create a temporary file", EEXIST);
  const char* p = content.data();
  size_t left = content.size();
  int err = 0;
  while (err == 0 && left > 0) {
    const ssize_t n = ::write(fd.get(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  // The data must be on disk before the rename makes it visible under the final name; otherwise
  // a power loss can leave an empty file there (ext4's and XFS's delayed allocation).
  if (err == 0 && !sync_ok(fd.get())) err = errno;
  // Closed once, here: its error (NFS reports write failures at close) counts.
  if (::close(fd.release()) != 0 && err == 0) err = errno;
  if (err == 0 && ::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) {
    err = errno;
    ::unlinkat(dirfd, tmp.c_str(), 0);
    if (err == EISDIR) throw InputError(escape_text(shown) + ": is a folder, not a file");
    fail(shown, "cannot replace file", err);
  }
  if (err != 0) {
    ::unlinkat(dirfd, tmp.c_str(), 0);
    fail(shown, "write failed", err);
  }
  // The rename itself is durable once the directory entry is synced.
  if (!sync_ok(dirfd)) fail(shown, "cannot sync its folder", errno);
}

// Splits a path into its folder and file name; the name must be a plain one.
std::pair<std::string, std::string> split(const std::string& path) {
  const fs::path p(path);
  std::string name = p.filename().string();
  if (name.empty() || name == "." || name == "..")
    throw InputError(escape_text(path) + ": not a file name");
  return {p.parent_path().string(), name};
}

// ---- caches: trust and warnings ----------------------------------------------------------

std::mutex g_warn_mu;
std::set<std::string> g_warned;
std::function<void(const std::string&)> g_warn_handler;
std::vector<std::string> g_warnings;

void warn_cache(const std::string& dir, const std::string& kind, const std::string& msg) {
  const std::lock_guard<std::mutex> lock(g_warn_mu);
  if (!g_warned.insert(dir + '\n' + kind).second) return;
  if (g_warn_handler)
    g_warn_handler(msg);
  else
    g_warnings.push_back(msg);
}

// mkdir -p with mode 0700 for the folders it creates (the user's path: links are followed).
void create_cache_dirs(const std::string& dir) {
  std::string prefix;
  for (size_t i = 0; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    prefix = dir.substr(0, i);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return;  // open() then says why
  }
}

// The cache folder `dir` opened (following links in its own path, the user's choice) when it
// exists and can be trusted; an invalid Fd, after a warning, when not. A missing folder without
// `create` is no warning: there is nothing cached yet.
Fd open_cache_dir(const std::string& dir, bool create) {
  if (dir.empty()) return Fd();
  if (create) create_cache_dirs(dir);
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  const std::string shown = escape_text(dir);
  if (!fd.ok()) {
    if (errno == ENOENT && !create) return Fd();
    warn_cache(dir, "open",
               "cache " + shown + ": cannot use it (" + reason(errno) + "); caching is off");
    return Fd();
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Fd();
  if (st.st_uid != ::geteuid()) {
    warn_cache(dir, "trust",
               "cache " + shown + ": owned by another user (uid " + std::to_string(st.st_uid) +
                   "), so its entries cannot be trusted; caching is off (use a cache folder of "
                   "your own: --cache-dir)");
    return Fd();
  }
  if ((st.st_mode & 022) != 0) {
    const std::string mode = fmt::format("{:04o}", static_cast<unsigned>(st.st_mode & 07777));
    warn_cache(dir, "trust",
               "cache " + shown + ": writable by group or others (mode " + mode +
                   "), so anyone could plant an entry; caching is off (chmod go-w " + shown + ")");
    return Fd();
  }
  return fd;
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& content) {
  const auto [dir, name] = split(path);
  const Fd dfd = open_dir_nofollow(dir, false, 0777);
  write_at(dfd.get(), name, content, path);
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
  const Fd dfd = open_dir_nofollow(path, true, 0777);
  // Found now, not after minutes of work: a folder this process may not write in (root passes
  // the permission bits, but not a read-only mount).
  if (::faccessat(dfd.get(), ".", W_OK | X_OK, AT_EACCESS) != 0)
    fail(path, "cannot write in this folder", errno);
}

void check_output_folder(const std::string& path) {
  fs::path p = fs::path(path.empty() ? "." : path).lexically_normal();
  std::error_code ec;
  while (!fs::exists(fs::symlink_status(p, ec)) && p.has_relative_path() && p.has_parent_path() &&
         p.parent_path() != p)
    p = p.parent_path();
  if (!fs::exists(fs::symlink_status(p, ec))) p = ".";  // a relative path's first part: the cwd
  const Fd dfd = open_dir_nofollow(p.string(), false, 0777);
  if (::faccessat(dfd.get(), ".", W_OK | X_OK, AT_EACCESS) != 0)
    fail(p.string(), "cannot write in this folder", errno);
}

std::string output_path(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  if (ec) return path;
  const fs::path real = fs::weakly_canonical(abs, ec);
  return ec ? abs.lexically_normal().string() : real.string();
}

std::string resolve_path(const std::string& program_file, const std::string& path) {
  const std::filesystem::path p(path);
  if (p.is_absolute() || program_file.empty()) return path;
  return (std::filesystem::path(program_file).parent_path() / p).lexically_normal().string();
}

void remove_temporaries_in_progress() noexcept {
  for (auto& slot : g_in_progress) {
    const int dirfd = slot.dirfd.load();
    if (dirfd < 0) continue;
    if (slot.is_dir) {
      remove_private_dir(dirfd, slot.name);
    } else {
      ::unlinkat(dirfd, slot.name, 0);
    }
  }
}

// ---- private temporary folders -------------------------------------------------------------

struct PrivateTempDir::State {
  io_detail::Fd parent;
  std::string name;
  std::unique_ptr<io_detail::Registered> registered;
};

PrivateTempDir::PrivateTempDir() : state_(std::make_unique<State>()) {
  const char* env = std::getenv("TMPDIR");
  const std::string base = env && *env == '/' ? env : "/tmp";
  state_->parent = Fd(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!state_->parent.ok()) fail(base, "cannot open the temporary folder", errno);
  remove_stale_temporaries(state_->parent.get(), true);  // of runs killed by SIGKILL
  for (int attempt = 0; attempt < 64; ++attempt) {
    const std::string name = kPrivateDirPrefix + random_hex16();
    // Published first, as write_at does, so a signal while it is made still removes it.
    state_->registered = std::make_unique<io_detail::Registered>(state_->parent.get(), name, true);
    if (::mkdirat(state_->parent.get(), name.c_str(), 0700) == 0) {
      state_->name = name;
      break;
    }
    const int err = errno;
    state_->registered.reset();
    if (err != EEXIST) fail(base, "cannot create a private temporary folder", err);
  }
  if (state_->name.empty()) fail(base, "cannot create a private temporary folder", EEXIST);
  path_ = (base.back() == '/' ? base : base + "/") + state_->name;
}

PrivateTempDir::~PrivateTempDir() {
  if (!state_ || state_->name.empty()) return;
  remove_private_dir(state_->parent.get(), state_->name.c_str());
  state_->registered.reset();  // after: a signal meanwhile removes what is left
}

// ---- caches --------------------------------------------------------------------------------

void set_cache_warning_handler(std::function<void(const std::string&)> handler) {
  const std::lock_guard<std::mutex> lock(g_warn_mu);
  g_warn_handler = std::move(handler);
}

std::vector<std::string> take_cache_warnings() {
  const std::lock_guard<std::mutex> lock(g_warn_mu);
  return std::exchange(g_warnings, {});
}

bool cache_usable(const std::string& dir) {
  const Fd fd = open_cache_dir(dir, true);
  if (!fd.ok()) return false;
  if (::faccessat(fd.get(), ".", W_OK | X_OK, AT_EACCESS) != 0) {
    warn_cache(dir, "write",
               "cache " + escape_text(dir) + ": cannot write in it (" + reason(errno) +
                   "); results are not cached");
    return false;
  }
  return true;
}

std::optional<std::string> read_cache_file(const std::string& dir, const std::string& name,
                                           std::size_t max_bytes) {
  const Fd dfd = open_cache_dir(dir, false);
  if (!dfd.ok()) return std::nullopt;
  const Fd fd(::openat(dfd.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.ok()) return std::nullopt;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::size_t>(st.st_size) > max_bytes)
    return std::nullopt;
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;  // shrank or failed while read: not an entry to trust
    got += static_cast<std::size_t>(n);
  }
  return out;
}

bool write_cache_file(const std::string& dir, const std::string& name, const std::string& content) {
  const Fd dfd = open_cache_dir(dir, true);
  if (!dfd.ok()) return false;
  try {
    write_at(dfd.get(), name, content, dir + "/" + name);
    return true;
  } catch (const std::exception& e) {
    warn_cache(dir, "write",
               "cache: " + std::string(e.what()) + "; carrying on without caching results");
    return false;
  }
}

std::vector<std::string> cache_file_names(const std::string& dir, const std::string& suffix,
                                          std::size_t max_entries) {
  std::vector<std::string> names;
  const Fd dfd = open_cache_dir(dir, false);
  if (!dfd.ok()) return names;
  const int fd = ::openat(dfd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return names;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return names;
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n.size() <= suffix.size() || n.compare(n.size() - suffix.size(), suffix.size(), suffix))
      continue;
    struct stat st;
    if (::fstatat(dfd.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
      names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  if (names.size() > max_entries) names.resize(max_entries);
  return names;
}

}  // namespace nmrc
