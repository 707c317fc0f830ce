#include "nmrc/core/error.hpp"

#include <cstdio>
#include <cstdlib>

namespace nmrc {

void check_failed(const char* expr, const char* file, int line, const std::string& msg) {
  std::fprintf(stderr, "%s:%d: internal error: check failed: %s: %s\n", file, line, expr,
               msg.c_str());
  std::abort();
}

}  // namespace nmrc
