// Shared helpers of nmrc's libFuzzer targets (fuzz/README.md): a scratch copy of the tree's
// molecules/ and sequences/ folders (symbolic links, so relative paths inside fuzzed programs
// resolve as they do for the shipped files) and the one rule every target follows: bad input
// must end in nmrc::InputError; any other exception, a signal, a leak or a sanitizer report is
// a finding.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "nmrc/core/error.hpp"
#include "nmrc/core/molecule.hpp"

namespace nmrc::fuzz {

/// A private folder holding molecules/ (a link to the tree's) and sequences/<kind>/ folders
/// whose entries link to the tree's, so that a fuzzed file written beside them sees the same
/// relative paths (../../molecules/..., compiled/..., ../readout/...) as a shipped one.
inline const std::filesystem::path& scratch_tree() {
  static const std::filesystem::path root = [] {
    namespace fs = std::filesystem;
    const fs::path src(NMRC_SOURCE_DIR);
    const fs::path r = fs::temp_directory_path() / ("nmrc-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(r / "sequences");
    fs::create_directories(r / "bruker");
    fs::create_symlink(src / "molecules", r / "molecules");
    for (const auto& kind : fs::directory_iterator(src / "sequences")) {
      if (!kind.is_directory()) continue;
      const fs::path dir = r / "sequences" / kind.path().filename();
      fs::create_directories(dir);
      for (const auto& e : fs::directory_iterator(kind.path()))
        fs::create_symlink(e.path(), dir / e.path().filename());
    }
    return r;
  }();
  return root;
}

/// Writes the fuzzer's bytes to `relative` inside the scratch tree and returns its path.
inline std::string write_input(const std::string& relative, const uint8_t* data, size_t size) {
  const std::filesystem::path p = scratch_tree() / relative;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return p.string();
}

/// The molecule the shipped programs use (crotonic acid), loaded once.
inline const Molecule& crotonic_acid() {
  static const Molecule m =
      load_molecule(std::string(NMRC_SOURCE_DIR) + "/molecules/crotonic_acid.yaml");
  return m;
}

/// Runs `body`; an InputError is the expected answer to bad input and is swallowed.
template <class Body>
void expect_input_error_only(Body&& body) {
  try {
    body();
  } catch (const nmrc::InputError&) {
  }
}

}  // namespace nmrc::fuzz
