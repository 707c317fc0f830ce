"""Type stubs of nmrc._nmrc, the C++ bindings behind the nmrc package (python/nmrc_module.cpp).

Units: Hz, s, rad; Hamiltonians in rad/s; matrices in nmrc's basis order (spin 0 leftmost,
|0> first). Use the functions of the ``nmrc`` package; the ones here take positional arguments.
"""
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

CArray = npt.NDArray[np.complex128]
RArray = npt.NDArray[np.float64]


class InputError(ValueError):
    """Bad input: one line ``where: field = value: rule`` (the CLI's message, exit code 2)."""


class ResourceError(OSError):
    """The machine refused: disk full, no permission, read-only, a symbolic link where nmrc
    writes (the CLI's exit code 4, docs/exit-codes.md)."""


class Molecule:
    """A spin system (docs/molecule-format.md), validated at load."""
    name: str
    description: str
    proton_mhz: float
    """1H Larmor frequency of the spectrometer, MHz."""
    temperature_k: float
    """Sample temperature, K."""
    roles: Dict[str, str]
    @property
    def size(self) -> int:
        """Number of spins n (matrices are 2^n x 2^n)."""
    @property
    def labels(self) -> List[str]: ...
    @property
    def nuclei(self) -> List[Dict[str, Any]]:
        """label, isotope, channel, offset_hz (Hz), shift_ppm, t1_s, t2_s, t2star_s (s)."""
    @property
    def couplings(self) -> List[Dict[str, Any]]:
        """spins (pair of labels), j_hz (signed J, Hz)."""
    @property
    def channels(self) -> List[Dict[str, Any]]:
        """name, isotope, larmor_mhz, frame_ppm, carrier_hz (Hz), max_rf_hz (Hz)."""
    def index_of(self, spin: Any) -> int:
        """Index (0-based, basis order) of a spin by label, role or index; an unknown one is an
        InputError, as for j_hz."""
    def j_hz(self, a: Any, b: Any) -> float:
        """Signed J (Hz) between two spins (labels or indices)."""
    def hamiltonian(self, strong_coupling: bool = False) -> CArray:
        """Rotating-frame internal Hamiltonian in rad/s (docs/conventions.md)."""
    def lines(self) -> List[Any]:
        """Weak-coupling line list (nmrc.SpectralLine in the package)."""
    # Added by the nmrc package:
    def op(self, *factors: Any) -> CArray:
        """Spin operator by label: op("C1", "x") is I_x of C1 (sigma_x/2); axes x y z + - e;
        several (spin, axis) pairs multiply."""
    def __getstate__(self) -> Tuple[Any, ...]: ...
    def __setstate__(self, state: Tuple[Any, ...]) -> None: ...


class Pulse:
    """A shaped pulse (nmrc-pulse/1): piecewise-constant u_x, u_y in Hz over steps of dt_s."""
    def __init__(self, ux_hz: Any, uy_hz: Any, dt_s: float, channels: Any = "13C",
                 **kwargs: Any) -> None:
        """As nmrc.make_pulse (checked by the nmrc-pulse/1 rules)."""
    def __getstate__(self) -> str: ...
    def __setstate__(self, state: str) -> None: ...
    name: str
    molecule: str
    dt_s: float
    """Step length, s."""
    target_json: str
    fidelity_definition: str
    fidelity_nominal: float
    fidelity_target: float
    ensemble_min: float
    source: str
    @property
    def b1_scale(self) -> RArray: ...
    @property
    def offset_hz(self) -> RArray: ...
    @property
    def ensemble_values(self) -> RArray: ...
    @property
    def duration_s(self) -> float:
        """steps * dt_s, s."""
    @property
    def steps(self) -> int: ...
    @property
    def channels(self) -> List[str]: ...
    @property
    def max_rf_hz(self) -> RArray:
        """RF limit per channel the pulse was made for, Hz (0: not recorded)."""
    @property
    def carrier_hz(self) -> List[Optional[float]]:
        """Carrier per channel as an offset in the molecule's frame, Hz (None: the molecule's)."""
    ux_hz: RArray
    """u_x in Hz of nutation, shape (channels, steps): a read-only copy; assigning an array of
    the same shape replaces it (checked by the pulse-file rules)."""
    uy_hz: RArray
    """u_y in Hz of nutation, shape (channels, steps), as ux_hz."""
    # Added by the nmrc package:
    amplitude_hz: RArray
    phase_rad: RArray
    times_s: RArray
    target: Optional[Dict[str, Any]]
    def to_json(self) -> str:
        """The nmrc-pulse/1 file text."""
    def write(self, path: str) -> None:
        """Writes the nmrc-pulse/1 file atomically."""


def load_molecule(path: str) -> Molecule: ...
def parse_molecule(text: str, name: str) -> Molecule: ...
def read_pulse(path: str) -> Pulse: ...
def parse_pulse(text: str, where: str) -> Pulse: ...
def pulse_from_arrays(name: str, channels: Sequence[str], ux_hz: Any, uy_hz: Any, dt_s: float,
                      molecule: str, max_rf_hz: Optional[Sequence[float]],
                      carrier_hz: Optional[Sequence[float]]) -> Pulse: ...
def with_target(pulse: Pulse, molecule: Molecule, target_json: str,
                fidelity_target: float) -> Pulse: ...
def read_bruker_shape(path: str, channel: str, duration_s: float, max_rf_hz: float,
                      phase_sense: int, spoffs_hz: float) -> Pulse: ...
def write_bruker_shape(pulse: Pulse, path: str, channel: int, phase_sense: int,
                       spoffs_hz: float) -> float: ...
def validate_pulse(pulse: Pulse, molecule: Molecule, b1_scale: Optional[Sequence[float]],
                   offset_hz: Optional[Sequence[float]], engine: str,
                   relaxation: bool) -> Dict[str, Any]: ...
def compile_target(molecule: Molecule, target_json: str, options: Dict[str, Any], name: str,
                   cache_dir: str, progress: Optional[Callable[[Dict[str, Any]], None]]
                   ) -> Dict[str, Any]: ...
def compile_program(path: str, only: Sequence[str], threads: int, cache_dir: str,
                    progress: Optional[Callable[[Dict[str, Any]], None]]) -> Dict[str, Any]:
    """compiler::compile_program: {"molecule", "gates": {name: result with "validation",
    "bound_s"}} (plus "interrupted_by" after Ctrl-C)."""
def compile_program_text(text: str, name: str, base_dir: str, only: Sequence[str],
                         threads: int, cache_dir: str,
                         progress: Optional[Callable[[Dict[str, Any]], None]]
                         ) -> Dict[str, Any]: ...
def target_unitary(molecule: Molecule, target_json: str) -> CArray: ...
def thermal_state(molecule: Molecule) -> Dict[str, Any]: ...
def propagate(molecule: Molecule, pulse: Pulse, rho: Any, b1_scale: float, relaxation: bool,
              engine: str) -> CArray: ...
def trajectory(molecule: Molecule, pulse: Pulse, rho: Any, observables: List[Any],
               b1_scale: float, relaxation: bool, engine: str,
               keep_states: bool) -> Dict[str, Any]:
    """times_s, values (steps + 1, observables) complex, states, final."""
def read_bruker_dataset(dir: str) -> Dict[str, Any]: ...
def fid_from_bruker(molecule: Molecule, data: Any, sw_hz: float, bf1_mhz: float, o1_hz: float,
                    nuc1: str, ns: int) -> Dict[str, Any]: ...
def write_bruker_dataset(dir: str, molecule: Molecule, points: Any, sw_hz: float, channel: Any,
                         scans: int, noise_sigma: float, receiver_phase_rad: float, dtypa: int,
                         pulprog: str, processed: bool) -> None: ...
def fid(molecule: Molecule, rho: Any, channel: Any, sw_hz: float, td: int,
        receiver_phase_rad: float) -> Dict[str, Any]: ...
def process(molecule: Molecule, points: Any, sw_hz: float, channel: Any, scans: int,
            noise_sigma: float, receiver_phase_rad: float, zero_fill: int, lb_hz: float,
            gb_hz: float, phase0_rad: float, phase1_rad: float,
            halve_first_point: bool) -> Dict[str, Any]: ...
def fit_lines(molecule: Molecule, points: Any, sw_hz: float, channel: Any, scans: int,
              noise_sigma: float, receiver_phase_rad: float) -> Dict[str, Any]: ...
def line_values(molecule: Molecule, rho: Any, channel: Any) -> List[Dict[str, Any]]: ...
# program: a path (name "") or a program's text standing for `name` in base_dir.
def acquire(program: str, name: str, base_dir: str) -> Dict[str, Any]: ...
def prepare(program: str, name: str, base_dir: str) -> Dict[str, Any]: ...
def tomography(program: str, name: str, base_dir: str) -> Dict[str, Any]: ...
def completeness(settings: Sequence[str], n: int) -> Dict[str, Any]: ...
def theory(path: str, out: str, progress: Optional[Callable[[Dict[str, Any]], None]]
           ) -> Dict[str, Any]:
    """{"runs": [...]} (plus "interrupted_by" after Ctrl-C: the runs finished before it);
    out: "" or the folder for the CSV/JSON files of `nmrc theory --out` (not when interrupted)."""
def theory_text(text: str, name: str, out: str,
                progress: Optional[Callable[[Dict[str, Any]], None]]) -> Dict[str, Any]: ...
def experiment(path: str, text: str, cache_dir: str, compile: str, error_budget: bool,
               out: str, progress: Optional[Callable[[Dict[str, Any]], None]]
               ) -> List[Dict[str, Any]]: ...
def readout_values(rho: Any, setting: str, n: int) -> RArray: ...
def reconstruct(settings: Sequence[str], values: Any, n: int) -> Dict[str, Any]: ...
