// The tree's molecule files, loaded for tests (one definition for every test file, so that the
// unity build, which compiles several test files as one unit, sees it once).
#pragma once

#include "nmrc/core/molecule.hpp"
#include "support/reference.hpp"

namespace nmrc::testing {

/// molecules/crotonic_acid.yaml (MOLECULES.md's parameters).
inline Molecule crotonic() {
  return load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
}

}  // namespace nmrc::testing
