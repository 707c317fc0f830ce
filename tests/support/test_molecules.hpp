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

/// molecules/iqc_register_12.yaml (the 12-spin IQC register, 7 13C + 5 1H).
inline Molecule iqc_register() {
  return load_molecule(ref::source_path("molecules/iqc_register_12.yaml"));
}

}  // namespace nmrc::testing
