#include "nmrc/core/io.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nmrc/core/error.hpp"

namespace nmrc {

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(path + ": cannot write file (is the directory writable?)");
    out << content;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw InputError(path + ": write failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw InputError(path + ": cannot replace file");
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot read file (does it exist?)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
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
