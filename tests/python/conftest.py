"""Shared fixtures of the Python tests (run by ctest as `python`: tests/CMakeLists.txt sets
PYTHONPATH to the build tree's package, NMRC_SOURCE_DIR and NMRC_EXE, the nmrc CLI)."""
import os
import pathlib
import subprocess

import pytest

SOURCE = pathlib.Path(os.environ.get("NMRC_SOURCE_DIR",
                                     pathlib.Path(__file__).resolve().parents[2]))
NMRC_EXE = os.environ.get("NMRC_EXE", str(SOURCE / "build" / "cli" / "nmrc"))


@pytest.fixture(scope="session")
def source() -> pathlib.Path:
    return SOURCE


@pytest.fixture(scope="session")
def crotonic():
    import nmrc
    return nmrc.load_molecule(SOURCE / "molecules" / "crotonic_acid.yaml")


def run_cli(*args, check=True):
    """Runs the nmrc CLI quietly; returns the CompletedProcess."""
    r = subprocess.run([NMRC_EXE, "--quiet", *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"nmrc {' '.join(map(str, args))}: exit {r.returncode}\n{r.stderr}")
    return r


# A two-spin heteronuclear-free test system: small enough that GRAPE takes milliseconds.
TWO_SPIN = {
    "name": "two_spin",
    "spectrometer": {"proton_mhz": 500.0},
    "sources": ["test system"],
    "channels": [{"name": "13C", "isotope": "13C", "frame_ppm": 0.0, "carrier_hz": 0.0,
                  "max_rf_hz": 20000.0}],
    "nuclei": [
        {"label": "A", "isotope": "13C", "offset_hz": 1500.0, "t1_s": 5, "t2_s": 1,
         "t2star_s": 0.5, "shift_ppm": 0},
        {"label": "B", "isotope": "13C", "offset_hz": -400.0, "t1_s": 5, "t2_s": 1,
         "t2star_s": 0.5, "shift_ppm": 0},
    ],
    "couplings": [{"spins": ["A", "B"], "j_hz": 60.0}],
}
