#include "terminal.hpp"

#include <unistd.h>

#include <cstdio>

namespace nmrc::cli {

Progress::Progress(bool quiet) : enabled_(!quiet && ::isatty(STDERR_FILENO) != 0) {}

void Progress::update(const std::string& line) {
  if (!enabled_) return;
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  dirty_ = true;
}

void Progress::done() {
  if (enabled_ && dirty_) std::fprintf(stderr, "\n");
  dirty_ = false;
}

}  // namespace nmrc::cli
