// What a person sees while nmrc works: progress on a terminal, nothing when stderr is not a
// terminal or with --quiet. Libraries report progress through callbacks; only cli/ prints.
#pragma once

#include <string>

namespace nmrc::cli {

class Progress {
 public:
  explicit Progress(bool quiet);
  bool enabled() const { return enabled_; }
  /// Overwrites the current status line (carriage return, no newline).
  void update(const std::string& line);
  /// Ends the status line.
  void done();

 private:
  bool enabled_ = false;
  bool dirty_ = false;
};

}  // namespace nmrc::cli
