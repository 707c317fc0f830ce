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

/// A heteronuclear pair on two channels (1H, 13C; d = 4): the multi-channel paths' test system.
inline Molecule hetero_pair() {
  return parse_molecule(R"(
name: hetero
spectrometer: {proton_mhz: 500.0}
sources: ["test system"]
channels:
  - {name: 1H, isotope: 1H, frame_ppm: 0.0, carrier_hz: 0.0, max_rf_hz: 20000.0}
  - {name: 13C, isotope: 13C, frame_ppm: 0.0, carrier_hz: 0.0, max_rf_hz: 20000.0}
nuclei:
  - {label: H, isotope: 1H, offset_hz: 300.0, t1_s: 5, t2_s: 1, t2star_s: 0.5, shift_ppm: 0}
  - {label: C, isotope: 13C, offset_hz: -200.0, t1_s: 5, t2_s: 1, t2star_s: 0.5, shift_ppm: 0}
couplings:
  - {spins: [H, C], j_hz: 215.0}
)",
                        "hetero.yaml");
}

}  // namespace nmrc::testing
