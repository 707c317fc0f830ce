"""nmrc: NMR pulse-sequence compiler and virtual spectrometer, from Python.

The C++ library behind the ``nmrc`` command, with numpy arrays (docs/python.md). Units follow
the library (docs/conventions.md): frequencies in Hz, times in seconds, angles in radians,
Hamiltonians in rad/s; the paper's heat-flow model is dimensionless (delta = k_B = 1).
Matrices are in nmrc's basis order: spin 0 of the molecule is the leftmost tensor factor and
|0> (spin up, the lower level) comes first, so index bit (n-1-k) is spin k's state.

Bad input raises :class:`InputError` (a ``ValueError``) with the CLI's one-line message
``where: field = value: rule``; a full disk, a missing permission or a symbolic link where nmrc
writes raises :class:`ResourceError` (an ``OSError``). Results are owned copies: nothing
returned points into C++ memory. Long calls release the GIL; Ctrl-C stops GRAPE with its best
pulse so far and theory with the runs finished (the ``KeyboardInterrupt`` carries them as
``.result``). Progress callbacks have one signature, ``progress(dict)`` (key ``job``: "compile",
"theory" or "experiment"). Density matrices handed in are checked (Hermitian, trace 1,
positive, each within 1e-8).
"""
from __future__ import annotations

import json as _json
import os as _os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _nmrc
from ._data import data_dir
from ._nmrc import InputError, Molecule, Pulse, ResourceError

__all__ = [
    "data_dir", "InputError", "ResourceError", "Molecule", "Pulse", "Target", "load_molecule", "molecule_from_dict",
    "partial_swap", "rotation", "zz", "cnot", "cz", "unitary", "target_unitary",
    "compile", "compile_program", "CompileResult", "GrapeSummary",
    "read_pulse", "make_pulse", "read_bruker_shape", "write_bruker_shape", "fidelity",
    "Judgement", "thermal_state", "ThermalState", "propagate", "Trajectory", "Fid", "fid", "Spectrum",
    "process", "Line", "SpectralLine", "LineFit", "fit_lines", "line_values", "acquire",
    "Acquisition", "prepare", "Preparation", "tomography", "Tomography", "completeness",
    "Completeness", "readout_values", "BrukerDataset", "read_bruker", "write_bruker",
    "fid_from_nmrglue", "reconstruct", "Reconstruction", "theory", "TheoryRun", "TheorySteps", "experiment", "ExperimentCase",
    "export_bruker",
]

__version__ = "0.1.0"

PathLike = Union[str, "_os.PathLike[str]"]


def _path(p: PathLike) -> str:
    if not isinstance(p, (str, _os.PathLike)):
        raise InputError(f"path = {type(p).__name__} {p!r:.40}: must be a file path (str or "
                         "os.PathLike) or, where the docs say so, a dict")
    return _os.fspath(p)


def _program(func: str, program: Any, base_dir: Optional[PathLike]) -> Tuple[str, str, str]:
    """(path or text, name, base_dir) for a runner: a file path, or a dict with a program file's
    keys, read by the same loader from its JSON text (JSON is YAML) as "<dict>", its relative
    paths from ``base_dir`` (default: the current directory)."""
    if isinstance(program, dict):
        try:
            text = _json.dumps(program, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise InputError(f"{func}: program: not a JSON-able dict of a program file's keys: "
                             f"{e}") from None
        return text, "<dict>", _path(base_dir) if base_dir is not None else _os.getcwd()
    return _path(program), "", ""


# ---- molecules ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpectralLine:
    """A line of the weak-coupling spectrum: spin ``spin`` flips while the others stay in
    ``other_bits`` (0/1 per spin, -1 for ``spin``); frequency in Hz in the channel's rotating
    frame (offset minus carrier)."""
    spin: str
    frequency_hz: float
    other_bits: List[int]


def load_molecule(path: PathLike) -> Molecule:
    """Loads a molecule YAML file (docs/molecule-format.md)."""
    return _nmrc.load_molecule(_path(path))


def molecule_from_dict(d: Dict[str, Any], name: str = "<dict>") -> Molecule:
    """Builds a molecule from a dict with the keys of a molecule file (docs/molecule-format.md),
    read by the same loader (JSON is YAML); ``name`` stands for the file in messages."""
    return _nmrc.parse_molecule(_json.dumps(d), name)


_molecule_lines = Molecule.lines


def _lines(self: Molecule) -> List[SpectralLine]:
    return [SpectralLine(**d) for d in _molecule_lines(self)]


_lines.__doc__ = ("Weak-coupling line list: 2^(n-1) lines per spin, by spin then frequency (Hz, "
                  "rotating frame of the spin's channel).")
Molecule.lines = _lines
Molecule.__repr__ = lambda self: f"<nmrc.Molecule {self.name}: {', '.join(self.labels)}>"

_SINGLE = {"x": np.array([[0, 0.5], [0.5, 0]], dtype=complex),
           "y": np.array([[0, -0.5j], [0.5j, 0]]),
           "z": np.array([[0.5, 0], [0, -0.5]], dtype=complex),
           "+": np.array([[0, 1], [0, 0]], dtype=complex),  # I+ = Ix + i Iy: |1> -> |0>
           "-": np.array([[0, 0], [1, 0]], dtype=complex),
           "e": np.eye(2, dtype=complex)}


def _op(self: Molecule, *factors: Any) -> np.ndarray:
    """A spin operator by label: ``mol.op("C1", "x")`` is I_x of spin C1 (sigma_x/2,
    dimensionless), ``mol.op("C1", "z", "C2", "z")`` the product I_z^C1 I_z^C2; axes x, y, z,
    + (I_x + i I_y), - and e (identity); spins by label, role or index. 2^n x 2^n in nmrc's basis
    order (spin 0 the leftmost factor, |0> first), so ``mol.hamiltonian()`` is
    ``2 pi sum_k (nu_k - carrier_k) mol.op(k, "z") + ...`` in rad/s."""
    if not factors or len(factors) % 2:
        raise InputError(f"op: {factors!r}: give pairs of spin and axis, e.g. op(\"C1\", \"x\")")
    per_spin: List[np.ndarray] = [np.eye(2, dtype=complex)] * self.size
    for spin, axis in zip(factors[::2], factors[1::2]):
        k = self.index_of(spin)
        a = _text("op: axis", axis, tuple(_SINGLE))
        per_spin[k] = _SINGLE[a] @ per_spin[k]
    out = np.eye(1, dtype=complex)
    for m in per_spin:
        out = np.kron(out, m)
    return out


Molecule.op = _op


# ---- gate targets ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """A gate target: the pulse-file ``target`` object (docs/program-format.md, "Gate
    targets"), built by the compiler's own reader when used."""
    description: Dict[str, Any]

    def json(self) -> str:
        """The description as JSON text (non-finite numbers are an InputError)."""
        try:
            return _json.dumps(self.description, allow_nan=False)
        except ValueError:
            raise InputError(f"target = {self.description!r}: every number must be finite")

    def up_to_diagonal_phases(self) -> "Target":
        """The same gate up to diagonal phases applied first (``up_to: diagonal_phases``,
        docs/program-format.md): F = sum_j |(W^dag U)_jj| / d, for a gate whose input state is
        diagonal in the product basis (U_d after the temporal-averaging preparation)."""
        return Target({**self.description, "up_to": "diagonal_phases"})


def _labels(spins: Union[str, Sequence[str]]) -> List[str]:
    if isinstance(spins, str):
        return [spins]
    return [str(s) for s in spins]


def _check_progress(where: str, progress: Any) -> None:
    """A progress callback is None or callable: said before any work starts."""
    if progress is not None and not callable(progress):
        raise InputError(f"{where}: progress = {progress!r}: must be a callable "
                         "progress(dict) or None")


def _integer(where: str, value: Any, lo: int, hi: int) -> int:
    """An int (or numpy integer) from lo to hi, else InputError; never a float or bool."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{where} = {value!r}: must be an integer from {lo} to {hi}")
    if not lo <= int(value) <= hi:
        raise InputError(f"{where} = {value!r}: must be an integer from {lo} to {hi}")
    return int(value)


def _number(where: str, value: Any) -> float:
    """A finite real number (int, float, numpy scalar), else InputError naming the value."""
    if (isinstance(value, (bool, np.bool_, str, bytes, complex, np.complexfloating))
            or not isinstance(value, (int, float, np.integer, np.floating))):
        raise InputError(f"{where} = {value!r}: must be a real number")
    v = float(value)
    if not np.isfinite(v):
        raise InputError(f"{where} = {v}: must be finite")
    return v


def _boolean(where: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{where} = {value!r}: must be True or False")
    return bool(value)


def _text(where: str, value: Any, choices: Sequence[str] = ()) -> str:
    if not isinstance(value, str) or (choices and value not in choices):
        rule = "must be " + (", ".join(choices[:-1]) + " or " + choices[-1] if choices
                             else "a string")
        raise InputError(f"{where} = {value!r}: {rule}")
    return value


def _is(where: str, value: Any, kind: type, what: str) -> Any:
    """``value`` is an instance of ``kind`` (a swapped or missing argument is said by name)."""
    if not isinstance(value, kind):
        raise InputError(f"{where} = {type(value).__name__} {_short(value)}: must be {what}")
    return value


def _short(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 40 else r[:37] + "..."


def _molecule(where: str, m: Any) -> Molecule:
    return _is(where, m, Molecule, "an nmrc.Molecule (nmrc.load_molecule)")


def _pulse(where: str, p: Any) -> Pulse:
    return _is(where, p, Pulse, "an nmrc.Pulse (nmrc.read_pulse, nmrc.Pulse(...))")


def _channel(where: str, c: Any) -> Union[int, str]:
    if isinstance(c, str):
        return c
    return _integer(where, c, 0, 63)


def _renamed(func: str, old: str, new: str, old_value: Any, new_value: Any) -> Any:
    """The value of a keyword renamed from ``old`` to ``new`` (the old name still works, with a
    DeprecationWarning); both given is an InputError."""
    if old_value is None:
        return new_value
    import warnings
    warnings.warn(f"nmrc.{func}: {old}= is deprecated, use {new}=", DeprecationWarning,
                  stacklevel=3)
    if new_value is not None:
        raise InputError(f"{func}: give {new} or {old}, not both")
    return old_value


def _first(name: str, *values: Any) -> Any:
    given = [v for v in values if v is not None]
    if len(given) != 1:
        raise InputError(f"{name}: give it exactly once")
    return given[0]


def partial_swap(a: str, b: str, theta_rad: Optional[float] = None, *,
                 theta: Optional[float] = None) -> Target:
    """The paper's partial SWAP exp(-i theta/2 (XX + YY)) on spins a, b (theta in rad;
    ``theta`` is an alias of ``theta_rad``)."""
    return Target({"gate": "partial_swap", "spins": [a, b],
                   "theta_rad": _number("partial_swap: theta_rad",
                                        _first("theta_rad", theta_rad, theta))})


def rotation(spins: Union[str, Sequence[str]], angle_rad: float, phase_rad: float = 0.0,
             axis: Optional[str] = None) -> Target:
    """exp(-i angle/2 (cos(phase) X + sin(phase) Y)) on each spin (axis "x" or "y" sets the
    phase; axis "z" rotates about z)."""
    d: Dict[str, Any] = {"gate": "rotation", "spins": _labels(spins),
                         "angle_rad": _number("rotation: angle_rad", angle_rad),
                         "phase_rad": _number("rotation: phase_rad", phase_rad)}
    if axis == "y":
        d["phase_rad"] = float(np.pi / 2)
    elif axis == "z":
        d["axis"] = "z"
    elif axis not in (None, "x"):
        raise InputError(f"rotation: axis = {axis}: must be x, y or z")
    return Target(d)


def zz(a: str, b: str, theta_rad: float) -> Target:
    """exp(-i theta/2 Z (x) Z) on spins a, b (theta = pi J t, rad)."""
    return Target({"gate": "zz", "spins": [a, b],
                   "theta_rad": _number("zz: theta_rad", theta_rad)})


def cnot(control: str, target: str) -> Target:
    """CNOT, |1> (excited) on ``control`` flips ``target``."""
    return Target({"gate": "cnot", "spins": [control, target]})


def cz(a: str, b: str) -> Target:
    """Controlled Z on spins a, b."""
    return Target({"gate": "cz", "spins": [a, b]})


def unitary(spins: Union[str, Sequence[str]], matrix: Any) -> Target:
    """Any unitary on the named spins (2^m x 2^m, spins[0] the leftmost factor)."""
    u = np.asarray(matrix)
    if u.dtype.kind not in "biufc":
        raise InputError(f"unitary: matrix dtype = {u.dtype}: must be numeric")
    u = u.astype(complex)
    if not np.all(np.isfinite(u)):
        raise InputError("unitary: matrix: entries must be finite")
    if u.ndim != 2:
        raise InputError(f"unitary: matrix.shape = {u.shape}: must be 2-dimensional")
    return Target({"gate": "unitary", "spins": _labels(spins),
                   "local_unitary": {"real": u.real.tolist(), "imag": u.imag.tolist()}})


def target_unitary(molecule: Molecule, target: Target) -> np.ndarray:
    """The target's unitary on every spin of the molecule (identity on the others)."""
    _molecule("target_unitary: molecule", molecule)
    _is("target_unitary: target", target, Target, "an nmrc.Target")
    return _nmrc.target_unitary(molecule, target.json())


# ---- compilation ----------------------------------------------------------------------------

@dataclass
class GrapeSummary:
    """What GRAPE did: termination ("reached_target", "converged", "iteration_limit",
    "time_limit", "line_search_stalled", "stalled", "interrupted"), fidelity F =
    |Tr(W^dag U)|/norm per ensemble member, wall time in s."""
    termination: str
    message: str
    best_start: int
    iterations: int
    evaluations: int
    fidelity: np.ndarray
    fidelity_min: float
    fidelity_mean: float
    wall_s: float
    reached_target: bool
    starts: List[Dict[str, Any]]
    report: str
    warm_start: str = ""  # the cache entry start 0 began from (compile's warm_start), or ""


@dataclass
class CompileResult:
    """A compiled pulse and how GRAPE got it (``from_cache``: read from ``cache_dir``; the
    ``cache_key`` is 16 hex digits). From :func:`compile_program` also its ``validation`` (the
    spectrometer's independent re-simulation, as ``nmrc compile`` reports it; None for a gate
    stopped by Ctrl-C) and ``bound_s``, the time-optimal bound (s) of a partial SWAP on its
    direct coupling (0 for other gates)."""
    pulse: Pulse
    summary: GrapeSummary
    from_cache: bool
    cache_key: str
    validation: Optional["Judgement"] = None
    bound_s: float = 0.0

    @property
    def passed(self) -> bool:
        """GRAPE reached the fidelity target and the validation passed (``nmrc compile``'s
        exit 0)."""
        return bool(self.summary.reached_target and self.validation is not None
                    and self.validation.passed)


def _compile_result(d: Dict[str, Any]) -> CompileResult:
    v = d.get("validation")
    return CompileResult(pulse=d["pulse"], summary=GrapeSummary(**d["summary"]),
                         from_cache=d["from_cache"], cache_key=d["cache_key"],
                         validation=Judgement(**v) if v is not None else None,
                         bound_s=d.get("bound_s", 0.0))


def _raise_interruption(d: Dict[str, Any], result: Any) -> None:
    exc = d.get("interrupted_by")
    if exc is not None:
        exc.result = result
        raise exc.with_traceback(d.get("interrupted_traceback"))


def compile(molecule: Molecule, target: Target, *, duration_s: Optional[float] = None,
            duration: Optional[float] = None, steps: Optional[int] = None,
            dt_s: Optional[float] = None, b1_scale: Optional[Sequence[float]] = None,
            b1_weight: Optional[Sequence[float]] = None,
            offset_hz: Optional[Sequence[float]] = None,
            max_rf_hz: Union[None, float, Dict[str, float]] = None,
            channels: Optional[Sequence[str]] = None, fidelity_target: Optional[float] = None,
            starts: Optional[int] = None, seed: Optional[int] = None,
            max_iterations: Optional[int] = None, stall_evaluations: Optional[int] = None,
            time_limit_s: Optional[float] = None, threads: Optional[int] = None,
            smoothness: Optional[float] = None, zero_ends: Optional[bool] = None,
            strong_coupling: Optional[bool] = None, warm_start: Optional[bool] = None,
            b1_quadrature: Optional[int] = None, coarse_factor: Optional[int] = None,
            nominal_first: Optional[bool] = None, name: Optional[str] = None,
            cache_dir: Optional[PathLike] = None,
            progress: Optional[Callable[[Dict[str, Any]], None]] = None,
            b1: Optional[Sequence[float]] = None,
            offsets_hz: Optional[Sequence[float]] = None) -> CompileResult:
    """GRAPE-compiles ``target`` on ``molecule`` (compiler::compile_target, as ``nmrc compile``).

    Options as in a program's ``compile:`` block (docs/program-format.md): two of
    ``duration_s`` (s; alias ``duration``), ``steps``, ``dt_s`` (s); ``b1_scale``: B1 scale
    (dimensionless) of each robustness-ensemble member (default 0.97 ... 1.03, five);
    ``offset_hz``: offset errors (Hz) (the old names ``b1`` and ``offsets_hz`` still work with a
    DeprecationWarning);
    ``max_rf_hz``: RF limit (Hz, one number for every driven channel or {channel: Hz}, default
    min(10 kHz, channel limit)); ``fidelity_target`` (default 0.995); ``starts``, ``seed``,
    ``threads``, ``time_limit_s`` (s). ``progress(dict)`` (the one progress signature of
    compile, theory and experiment) is called on the calling thread with job "compile", gate,
    start, evaluations, fidelity_min, best_fidelity_min, elapsed_s (s). Ctrl-C (or an exception from
    ``progress``) stops GRAPE: the exception is raised with ``.result``, the best pulse so far
    (termination "interrupted"). ``cache_dir``: the pulse cache of ``nmrc compile``; with it, a
    miss starts from the best cached pulse of the same target, duration and steps unless
    ``warm_start=False`` (``summary.warm_start`` names the entry). Search speed-ups, checked on
    the full B1 grid: ``b1_quadrature`` (n-point Gauss-Legendre search), ``coarse_factor``
    (coarse steps first), ``nominal_first`` (the centre B1 alone first).
    """
    _molecule("compile: molecule", molecule)
    _check_progress("compile", progress)
    b1_scale = _renamed("compile", "b1", "b1_scale", b1, b1_scale)
    offset_hz = _renamed("compile", "offsets_hz", "offset_hz", offsets_hz, offset_hz)
    opts: Dict[str, Any] = {}
    dur = duration_s if duration_s is not None else duration
    if duration_s is not None and duration is not None:
        raise InputError("compile: give duration_s or duration, not both")
    pairs = {"duration_s": dur, "steps": steps, "dt_s": dt_s, "b1_scale": b1_scale,
             "b1_weight": b1_weight, "offset_hz": offset_hz, "channels": channels,
             "fidelity_target": fidelity_target, "starts": starts, "seed": seed,
             "max_iterations": max_iterations, "stall_evaluations": stall_evaluations,
             "time_limit_s": time_limit_s, "threads": threads, "smoothness": smoothness,
             "zero_ends": zero_ends, "strong_coupling": strong_coupling,
             "warm_start": warm_start, "b1_quadrature": b1_quadrature,
             "coarse_factor": coarse_factor, "nominal_first": nominal_first}
    for k, v in pairs.items():
        if v is not None:
            opts[k] = v
    if max_rf_hz is not None:
        if isinstance(max_rf_hz, dict):
            opts["max_rf_hz"] = dict(max_rf_hz)
        else:
            names = list(channels) if channels else [c["name"] for c in molecule.channels]
            opts["max_rf_hz"] = {c: max_rf_hz for c in names}
    if not isinstance(target, Target):
        raise InputError(f"compile: target = {target!r}: must be an nmrc.Target "
                         "(nmrc.partial_swap, nmrc.rotation, ...)")
    label = name if name is not None else target.description.get("gate", "gate")
    d = _nmrc.compile_target(molecule, target.json(), opts, label,
                             _path(cache_dir) if cache_dir is not None else "", progress)
    result = _compile_result(d)
    _raise_interruption(d, result)
    return result


def compile_program(program: Union[PathLike, Dict[str, Any]], *, only: Sequence[str] = (),
                    threads: Optional[int] = None, cache_dir: Optional[PathLike] = None,
                    progress: Optional[Callable[[Dict[str, Any]], None]] = None,
                    base_dir: Optional[PathLike] = None) -> Dict[str, CompileResult]:
    """Compiles every gate of a program (``nmrc compile`` without files; the library's one
    compile_program): each gate is compiled, installed in the program and validated by the
    spectrometer, in order; a dict gate name -> result (with ``validation``). ``program``: a
    file, or a dict with a program file's keys (relative paths from ``base_dir``, default the
    current directory). Ctrl-C as in :func:`compile` (``.result``: the gates done so far)."""
    if isinstance(only, str):
        only = [only]
    thr = 0 if threads is None else _integer("compile_program: threads", threads, 1, 256)
    _check_progress("compile_program", progress)
    cache = _path(cache_dir) if cache_dir is not None else ""
    if isinstance(program, dict):
        d = _nmrc.compile_program_text(_json.dumps(program), "<dict>",
                                       _path(base_dir) if base_dir is not None else _os.getcwd(),
                                       [str(x) for x in only], thr, cache, progress)
    else:
        d = _nmrc.compile_program(_path(program), [str(x) for x in only], thr, cache, progress)
    out = {k: _compile_result(v) for k, v in d["gates"].items()}
    _raise_interruption(d, out)
    return out


# ---- pulses ---------------------------------------------------------------------------------

Pulse.amplitude_hz = property(lambda self: np.hypot(self.ux_hz, self.uy_hz),
                              doc="RF amplitude sqrt(ux^2 + uy^2) in Hz, shape (channels, steps)")
Pulse.phase_rad = property(lambda self: np.arctan2(self.uy_hz, self.ux_hz),
                           doc="RF phase atan2(uy, ux) in rad, shape (channels, steps)")
Pulse.times_s = property(lambda self: self.dt_s * np.arange(self.steps),
                         doc="start time of each step in s")
Pulse.target = property(lambda self: _json.loads(self.target_json) if self.target_json else None,
                        doc="the target description (dict) or None")
_pulse_write = Pulse.write


def _write(self: Pulse, path: PathLike) -> None:
    """Writes the nmrc-pulse/1 file atomically (core's one writer)."""
    _pulse_write(self, _path(path))


Pulse.write = _write
Pulse.__repr__ = lambda self: (f"<nmrc.Pulse {self.name or '?'}: {self.steps} steps x "
                               f"{self.dt_s:g} s on {', '.join(self.channels)}>")


def _array(x: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(x)
    except (ValueError, TypeError) as e:  # ragged lists and the like
        raise InputError(f"{name}: not an array: {e}") from None


def read_pulse(path: PathLike) -> Pulse:
    """Reads an nmrc-pulse/1 file (core's one reader)."""
    return _nmrc.read_pulse(_path(path))


def make_pulse(ux_hz: Any, uy_hz: Any, dt_s: float, channels: Union[str, Sequence[str]] = "13C",
               *, name: str = "", molecule: str = "",
               max_rf_hz: Union[None, float, Sequence[float]] = None,
               carrier_hz: Union[None, float, Sequence[float]] = None,
               target: Optional[Target] = None, target_molecule: Optional[Molecule] = None,
               fidelity_target: float = 0.995) -> Pulse:
    """A pulse from amplitudes in Hz: ``ux_hz``, ``uy_hz`` of shape (steps,) for one channel or
    (channels, steps); ``dt_s`` the step length in s. Checked by the nmrc-pulse/1 rules. With
    ``target`` (and the molecule to resolve its spins), the pulse records what it implements."""
    chans = _labels(channels)
    ux = _array(ux_hz, "ux_hz")
    uy = _array(uy_hz, "uy_hz")
    if ux.ndim == 1 and len(chans) == 1:
        ux = ux[None, :]
    if uy.ndim == 1 and len(chans) == 1:
        uy = uy[None, :]

    def per_channel(v: Any) -> Optional[List[float]]:
        if v is None:
            return None
        vals = [float(v)] * len(chans) if np.isscalar(v) else list(v)
        if len(vals) != len(chans):
            raise InputError(f"make_pulse: {vals}: one value per channel ({len(chans)})")
        return vals

    p = _nmrc.pulse_from_arrays(name, chans, ux, uy, dt_s, molecule, per_channel(max_rf_hz),
                                per_channel(carrier_hz))
    if target is not None:
        if target_molecule is None:
            raise InputError("make_pulse: target needs target_molecule (to resolve its spins)")
        p = _nmrc.with_target(p, target_molecule, target.json(), fidelity_target)
    return p


def read_bruker_shape(path: PathLike, channel: str, duration_s: float, max_rf_hz: float, *,
                      phase_sense: int = 1, spoffs_hz: float = 0.0) -> Pulse:
    """A TopSpin shape file played for ``duration_s`` (s) on ``channel`` with 100 % =
    ``max_rf_hz`` (Hz) (docs/bruker.md; ``phase_sense`` +1 or -1, ``spoffs_hz`` the SPOFFS)."""
    return _nmrc.read_bruker_shape(_path(path), channel, duration_s, max_rf_hz, phase_sense,
                                   spoffs_hz)


def write_bruker_shape(pulse: Pulse, path: PathLike, channel: int = 0, *, phase_sense: int = 1,
                       spoffs_hz: float = 0.0) -> float:
    """Writes one channel of ``pulse`` as a TopSpin shape file (atomically); returns the
    nutation frequency (Hz) of its 100 %."""
    return _nmrc.write_bruker_shape(pulse, _path(path), channel, phase_sense, spoffs_hz)


def export_bruker(inputs: Union[PathLike, Sequence[PathLike]], out: PathLike, *,
                  molecule: Optional[PathLike] = None, pulses: Optional[PathLike] = None,
                  p90_us: Optional[float] = None, plw_w: Optional[float] = None, ns: int = 1,
                  ds: int = 0, d1_s: Optional[float] = None, d16_s: float = 200e-6,
                  gpz_max_g_per_cm: float = 53.5, phase_sense: int = 1, cyclops: bool = False,
                  decouple: bool = True, p90_h_us: Optional[float] = None,
                  plw_h_w: Optional[float] = None, pcpd_us: float = 90.0, cpd: str = "waltz16",
                  o2_ppm: float = 5.0, probe_max_w: Tuple[float, float] = (100.0, 50.0),
                  probe_avg_w: Tuple[float, float] = (1.0, 1.0), sw_hz: Optional[float] = None,
                  td: int = 16384, decoupler_pulses: str = "cw", cw_b2_hz: float = 25000.0,
                  cw_min_us: float = 1000.0) -> List[str]:
    """Exports pulse programs (YAML, one experiment each; their gates from ``pulses``, the
    folder ``nmrc compile --out`` wrote) and nmrc-pulse/1 files (one experiment: played in
    order, then acquired; needs ``molecule``) for a TopSpin console into the folder ``out``:
    the files of ``nmrc export bruker INPUT... --out DIR``, from the same library call
    (docs/bruker.md: shapes, pulse programs, acqu/acqus per EXPNO, queue.mac, README.txt).
    The keywords are the CLI's options: ``p90_us``/``plw_w`` the calibrated hard 90 on f1
    (us, W), ``ns``, ``ds``, ``d1_s`` (s; None: 5 x the longest T1), ``d16_s`` (s),
    ``gpz_max_g_per_cm`` (G/cm at GPZ 100 %), ``phase_sense`` (+1 or -1), ``cyclops``;
    1H decoupling on f2 (``decouple``, ``cpd`` waltz16 or garp, ``pcpd_us``, ``o2_ppm``,
    ``p90_h_us``/``plw_h_w`` the 1H hard 90; ``decoupler_pulses`` cw (CW at ``cw_b2_hz`` Hz
    around the shaped pulses of at least ``cw_min_us``) or cpd); the probe's limits in W (``probe_max_w`` and
    ``probe_avg_w``: (f1, f2)); for pulse files the acquisition (``sw_hz``, None: the lines +
    20 %; ``td`` complex points). The date stamped into the shapes is now, or
    SOURCE_DATE_EPOCH when set. Nothing is written unless every input exports (InputError
    naming file:line:col otherwise). Returns the summary lines the CLI prints."""
    items = [inputs] if isinstance(inputs, (str, _os.PathLike)) else inputs
    if not isinstance(items, (list, tuple)) or not items:
        raise InputError(f"export_bruker: inputs = {_short(inputs)}: must be a path or a "
                         "non-empty list of paths")
    paths = [_path(p) for p in items]

    def opt(name: str, v: Any) -> Optional[float]:
        return None if v is None else _number(f"export_bruker: {name}", v)

    def pair(name: str, v: Any) -> List[float]:
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise InputError(f"export_bruker: {name} = {_short(v)}: must be (f1, f2) in W")
        return [_number(f"export_bruker: {name}[{k}]", x) for k, x in enumerate(v)]

    probe = pair("probe_max_w", probe_max_w) + pair("probe_avg_w", probe_avg_w)
    return _nmrc.export_bruker(
        paths, _path(out), "" if molecule is None else _path(molecule),
        "" if pulses is None else _path(pulses), opt("p90_us", p90_us), opt("plw_w", plw_w),
        _integer("export_bruker: ns", ns, 1, 2**31 - 1),
        _integer("export_bruker: ds", ds, 0, 2**31 - 1),
        -1.0 if d1_s is None else _number("export_bruker: d1_s", d1_s),
        _number("export_bruker: d16_s", d16_s),
        _number("export_bruker: gpz_max_g_per_cm", gpz_max_g_per_cm),
        _integer("export_bruker: phase_sense", phase_sense, -1, 1),
        _boolean("export_bruker: cyclops", cyclops), _boolean("export_bruker: decouple", decouple),
        opt("p90_h_us", p90_h_us), opt("plw_h_w", plw_h_w),
        _number("export_bruker: pcpd_us", pcpd_us),
        _text("export_bruker: cpd", cpd, ("waltz16", "garp")),
        _number("export_bruker: o2_ppm", o2_ppm), probe,
        0.0 if sw_hz is None else _number("export_bruker: sw_hz", sw_hz),
        _integer("export_bruker: td", td, 1, 1 << 24),
        _text("export_bruker: decoupler_pulses", decoupler_pulses, ("cw", "cpd")),
        _number("export_bruker: cw_b2_hz", cw_b2_hz), _number("export_bruker: cw_min_us", cw_min_us))


@dataclass
class Judgement:
    """The spectrometer's verdict on a pulse (``nmrc validate``): F = |Tr(W^dag U)|/norm at
    nominal B1 and per member (b1_scale x offset_hz), the minimum, and whether it reached
    ``target``; with relaxation also the process fidelity Tr(S_t^dag S)/d^2."""
    name: str
    nominal: float
    b1_scale: np.ndarray
    offset_hz: np.ndarray
    values: np.ndarray
    min: float
    target: float
    passed: bool
    engine: str
    relaxation: bool
    process_relaxed: np.ndarray
    process_relaxed_nominal: float
    process_relaxed_min: float


def fidelity(pulse: Pulse, molecule: Molecule, *, b1_scale: Optional[Sequence[float]] = None,
             offset_hz: Optional[Sequence[float]] = None, engine: str = "exact",
             relaxation: bool = False, b1: Optional[Sequence[float]] = None,
             offsets_hz: Optional[Sequence[float]] = None) -> Judgement:
    """Judges ``pulse`` on ``molecule`` against the target it records, over B1 scales
    ``b1_scale`` (dimensionless; default: the pulse's own ensemble) and offsets ``offset_hz``
    (Hz): the same numbers as ``nmrc validate``. ``engine``: "exact" or "odeint". (``b1`` and
    ``offsets_hz`` are the old names, deprecated.)"""
    _pulse("fidelity: pulse", pulse)
    _molecule("fidelity: molecule", molecule)
    b1_scale = _renamed("fidelity", "b1", "b1_scale", b1, b1_scale)
    offset_hz = _renamed("fidelity", "offsets_hz", "offset_hz", offsets_hz, offset_hz)
    return Judgement(**_nmrc.validate_pulse(pulse, molecule, b1_scale, offset_hz,
                                            _text("fidelity: engine", engine, ("exact", "odeint")),
                                            _boolean("fidelity: relaxation", relaxation)))


# ---- spectrometer ---------------------------------------------------------------------------

@dataclass
class ThermalState:
    """High-temperature thermal equilibrium rho = I/2^n + sum_k (p_k/2^n) sigma_z^k (Eq. (S14)):
    ``epsilon`` = p_0/2^n, ``polarization`` p_k = P0 - P1 per spin."""
    epsilon: float
    polarization: np.ndarray
    rho: np.ndarray


def thermal_state(molecule: Molecule) -> ThermalState:
    """High-temperature thermal equilibrium of the molecule at its temperature (Eq. (S14))."""
    _molecule("thermal_state: molecule", molecule)
    return ThermalState(**_nmrc.thermal_state(molecule))


@dataclass
class Trajectory:
    """Expectation values over a pulse, step by step (piecewise-constant RF, the steps of
    :func:`propagate`): ``times_s`` (s, 0 and the end of each step), ``values[k, i]`` =
    Tr(rho(t_k) O_i) (complex; real for Hermitian observables), ``final`` the state after the
    pulse, ``states`` every rho(t_k) when asked (else empty)."""
    times_s: np.ndarray
    values: np.ndarray
    final: np.ndarray
    states: np.ndarray


def propagate(molecule: Molecule, pulse: Pulse, rho: Any = None, *, b1_scale: float = 1.0,
              relaxation: bool = False, engine: str = "exact",
              observables: Optional[Sequence[Any]] = None,
              states: bool = False) -> Union[np.ndarray, Trajectory]:
    """Runs ``pulse`` on the spectrometer. With ``rho`` (2^n x 2^n): the state after the pulse
    (with T1/T2 when ``relaxation``). Without: the propagator U (2^n x 2^n), or with
    ``relaxation`` the superoperator (4^n x 4^n, column-major vec). ``rho`` must be a density
    matrix (Hermitian, trace 1, positive; each within 1e-8). ``b1_scale``: B1 scale
    (dimensionless) of the played pulse. With ``observables`` (a list of 2^n x 2^n operators,
    e.g. ``[mol.op("C1", "x"), mol.op("C1", "z")]``) and ``rho``: the :class:`Trajectory` of
    their expectation values after every step (``states=True`` keeps each state too)."""
    _molecule("propagate: molecule", molecule)
    _pulse("propagate: pulse", pulse)
    b1 = _number("propagate: b1_scale", b1_scale)
    if observables is not None:
        if rho is None:
            raise InputError("propagate: observables need rho (the state to start from)")
        obs = [observables] if isinstance(observables, np.ndarray) and np.ndim(observables) == 2 \
            else list(observables)
        d = _nmrc.trajectory(molecule, pulse, rho, obs, b1,
                             _boolean("propagate: relaxation", relaxation),
                             _text("propagate: engine", engine, ("exact", "odeint")),
                             _boolean("propagate: states", states))
        vals = d["values"]
        if all(np.allclose(o, np.conj(np.transpose(o)), atol=1e-12) for o in obs):
            vals = vals.real.copy()
        return Trajectory(times_s=d["times_s"], values=vals, final=d["final"], states=d["states"])
    return _nmrc.propagate(molecule, pulse, rho, b1, _boolean("propagate: relaxation", relaxation),
                           _text("propagate: engine", engine, ("exact", "odeint")))


@dataclass
class Fid:
    """A FID: complex points at t_j = j / sw_hz on channel ``channel`` (index), summed over
    ``scans``; ``noise_sigma`` per real/imaginary part of one point of one scan."""
    points: np.ndarray
    sw_hz: float
    channel: int = 0
    scans: int = 1
    noise_sigma: float = 0.0
    receiver_phase_rad: float = 0.0

    @property
    def times_s(self) -> np.ndarray:
        return np.arange(len(self.points)) / self.sw_hz

    def _args(self) -> Tuple[Any, ...]:
        return (self.points, _number("fid.sw_hz", self.sw_hz),
                _channel("fid.channel", self.channel), _integer("fid.scans", self.scans, 1, 1 << 30),
                _number("fid.noise_sigma", self.noise_sigma),
                _number("fid.receiver_phase_rad", self.receiver_phase_rad))


def fid(molecule: Molecule, rho: Any, channel: Union[int, str], sw_hz: float, td: int, *,
        receiver_phase_rad: float = 0.0) -> Fid:
    """Noise-free FID of state ``rho`` on ``channel`` (Eq. (S16), nmrc's convention): ``td``
    points at dwell 1/``sw_hz`` (Hz), free evolution with T2* decay; ``receiver_phase_rad`` in
    rad. ``rho`` must be a density matrix (Hermitian, trace 1, positive; each within 1e-8)."""
    _molecule("fid: molecule", molecule)
    return Fid(**_nmrc.fid(molecule, rho, _channel("fid: channel", channel),
                           _number("fid: sw_hz", sw_hz), _integer("fid: td", td, 1, 1 << 20),
                           _number("fid: receiver_phase_rad", receiver_phase_rad)))


@dataclass
class Spectrum:
    """An FFTW spectrum: ``hz`` offsets from the carrier (ascending), ``ppm``, complex values."""
    hz: np.ndarray
    ppm: np.ndarray
    values: np.ndarray


def process(molecule: Molecule, fid: Fid, *, zero_fill: int = 0, lb_hz: float = 0.0,
            gb_hz: float = 0.0, phase0_rad: float = 0.0, phase1_rad: float = 0.0,
            halve_first_point: bool = True) -> Spectrum:
    """Processes a FID into a spectrum (zero filling to a power of two, exponential ``lb_hz``
    and Gaussian ``gb_hz`` broadening in Hz, zero- and first-order phase in rad)."""
    _molecule("process: molecule", molecule)
    _is("process: fid", fid, Fid, "an nmrc.Fid (nmrc.fid)")
    return Spectrum(**_nmrc.process(
        molecule, *fid._args(), _integer("process: zero_fill", zero_fill, 0, 1 << 24),
        _number("process: lb_hz", lb_hz), _number("process: gb_hz", gb_hz),
        _number("process: phase0_rad", phase0_rad), _number("process: phase1_rad", phase1_rad),
        _boolean("process: halve_first_point", halve_first_point)))


@dataclass
class Line:
    """A measured line: spin, 1-based index within the spin, other spins' bits, frequency (Hz,
    rotating frame), complex amplitude <sigma_x P_b> + i <sigma_y P_b>, fit error (one sigma)."""
    spin: str
    index: int
    other_bits: List[int]
    frequency_hz: float
    amplitude: complex
    std_error: float


@dataclass
class LineFit:
    lines: List[Line]
    residual_rms: float


def fit_lines(molecule: Molecule, fid: Fid) -> LineFit:
    """Fits every assigned line of the FID's channel (linear least squares in the time domain,
    as ``nmrc acquire``)."""
    _molecule("fit_lines: molecule", molecule)
    _is("fit_lines: fid", fid, Fid, "an nmrc.Fid (nmrc.fid)")
    d = _nmrc.fit_lines(molecule, *fid._args())
    return LineFit([Line(**l) for l in d["lines"]], d["residual_rms"])


def line_values(molecule: Molecule, rho: Any, channel: Union[int, str]) -> List[Line]:
    """The exact line amplitudes of a density matrix (what a perfect fit would give); ``rho``
    must be a density matrix (Hermitian, trace 1, positive; each within 1e-8)."""
    _molecule("line_values: molecule", molecule)
    return [Line(**l) for l in _nmrc.line_values(molecule, rho,
                                                 _channel("line_values: channel", channel))]


@dataclass
class Acquisition:
    """``nmrc acquire`` without files: thermal ``epsilon``, the state at acquisition, the FID,
    the spectrum, the fitted and the true lines."""
    name: str
    molecule: Molecule
    epsilon: float
    rho_acquired: np.ndarray
    fid: Fid
    spectrum: Spectrum
    lines: List[Line]
    lines_true: List[Line]
    residual_rms: float


def acquire(program: Union[PathLike, Dict[str, Any]], *,
            base_dir: Optional[PathLike] = None) -> Acquisition:
    """Runs an acquisition program (docs/acquire-format.md) on the virtual spectrometer: a file,
    or a dict with the file's keys (relative paths from ``base_dir``, default the current
    directory)."""
    d = _nmrc.acquire(*_program("acquire", program, base_dir))
    d["fid"] = Fid(**d["fid"])
    d["spectrum"] = Spectrum(**d["spectrum"])
    d["lines"] = [Line(**l) for l in d["lines"]]
    d["lines_true"] = [Line(**l) for l in d["lines_true"]]
    return Acquisition(**d)


# ---- TopSpin datasets and nmrglue ------------------------------------------------------------

@dataclass
class BrukerDataset:
    """A TopSpin experiment folder read back (docs/bruker.md): ``points`` the complex FID
    (x 2^NC) with the digital filter's group delay removed as nmrglue's ``rm_dig_filter`` does
    (TD/2 - floor(GRPDLY) - 2 points); ``sw_hz`` (SW_h, Hz), ``bf1_mhz``, ``sfo1_mhz`` (MHz),
    ``o1_hz`` (Hz), ``nuc1`` and the other acqus records by their TopSpin names."""
    path: str
    points: np.ndarray
    td: int
    sw_hz: float
    bf1_mhz: float
    o1_hz: float
    sfo1_mhz: float
    nuc1: str
    pulprog: str
    isotope: str
    dtypa: int
    bytorda: int
    aq_mod: int
    decim: int
    dspfvs: int
    ns: int
    nc: int
    recph_deg: float
    grpdly_points: float
    grpdly_source: str
    dropped_points: int

    def fid(self, molecule: Molecule) -> "Fid":
        """The dataset as an nmrc :class:`Fid` in ``molecule``'s rotating frame (the channel
        observing NUC1; offsets moved from the dataset's O1 to the molecule's carrier)."""
        return fid_from_nmrglue(*self.to_nmrglue(), molecule)

    def to_nmrglue(self) -> Tuple[Dict[str, Any], np.ndarray]:
        """nmrglue's ``(dic, data)``: ``dic["acqus"]`` with the records under their TopSpin names
        (TD, SW_h, BF1, SFO1, O1, NUC1, PULPROG, DTYPA, BYTORDA, AQ_mod, DECIM, DSPFVS, GRPDLY,
        NS, NC) and ``data`` the FID with the digital filter removed, as nmrglue's
        ``bruker.remove_digital_filter(dic, data)`` gives it (without its cosmetic step of adding
        the dropped points back onto the first ones)."""
        acqus = {"TD": self.td, "SW_h": self.sw_hz, "BF1": self.bf1_mhz, "SFO1": self.sfo1_mhz,
                 "O1": self.o1_hz, "NUC1": self.nuc1, "PULPROG": self.pulprog,
                 "DTYPA": self.dtypa, "BYTORDA": self.bytorda, "AQ_mod": self.aq_mod,
                 "DECIM": self.decim, "DSPFVS": self.dspfvs, "GRPDLY": self.grpdly_points,
                 "NS": self.ns, "NC": self.nc}
        return {"acqus": acqus}, self.points.copy()


def read_bruker(path: PathLike) -> BrukerDataset:
    """Reads a TopSpin experiment folder (``acqus`` and ``fid``, TopSpin's or nmrc's;
    spectrometer::read_bruker_dataset)."""
    return BrukerDataset(**_nmrc.read_bruker_dataset(_path(path)))


def write_bruker(path: PathLike, molecule: Molecule, fid: "Fid", *, dtypa: int = 0,
                 pulprog: str = "nmrc", processed: bool = True) -> None:
    """Writes ``fid`` as a TopSpin experiment folder ``path`` (fid, acqus, acqu, pulseprogram
    and, with ``processed``, pdata/1), each file atomically (spectrometer::write_bruker_dataset,
    docs/bruker.md): BF1 and O1 from the molecule's channel, NS = ``fid.scans``, ``dtypa`` 0
    (int32) or 2 (float64); ``pulprog`` is checked as a console name."""
    _molecule("write_bruker: molecule", molecule)
    _is("write_bruker: fid", fid, Fid, "an nmrc.Fid (nmrc.fid)")
    _nmrc.write_bruker_dataset(_path(path), molecule, *fid._args(),
                               _integer("write_bruker: dtypa", dtypa, 0, 2),
                               _text("write_bruker: pulprog", pulprog),
                               _boolean("write_bruker: processed", processed))


def fid_from_nmrglue(dic: Dict[str, Any], data: Any, molecule: Molecule) -> "Fid":
    """An nmrglue Bruker ``(dic, data)`` as an nmrc :class:`Fid` in ``molecule``'s frame:
    ``data`` the complex FID after ``nmrglue.bruker.remove_digital_filter`` (nmrc reads the
    digital filter as nmrglue does), ``dic["acqus"]`` its SW_h (Hz), BF1 (MHz), O1 (Hz), NUC1
    and NS. The channel is the molecule's one observing NUC1; the FID is moved from the
    dataset's O1 to the molecule's carrier (spectrometer::fid_from_bruker)."""
    _molecule("fid_from_nmrglue: molecule", molecule)
    if not isinstance(dic, dict) or not isinstance(dic.get("acqus"), dict):
        raise InputError(f"fid_from_nmrglue: dic = {_short(dic)}: must be nmrglue's Bruker dict "
                         "with an 'acqus' dict")
    a = dic["acqus"]
    for key in ("SW_h", "BF1", "O1", "NUC1"):
        if key not in a:
            raise InputError(f"fid_from_nmrglue: dic['acqus']: {key} missing")
    data = np.asarray(data)
    if data.ndim != 1:
        raise InputError(f"fid_from_nmrglue: data.shape = {data.shape}: must be one FID "
                         "(1-D); take one row of a series")
    return Fid(**_nmrc.fid_from_bruker(
        molecule, data, _number("acqus SW_h", a["SW_h"]), _number("acqus BF1", a["BF1"]),
        _number("acqus O1", a["O1"]), _text("acqus NUC1", a["NUC1"]),
        _integer("acqus NS", a.get("NS", 1), 1, 1 << 30)))


# ---- preparation and tomography -------------------------------------------------------------

@dataclass
class Preparation:
    """``nmrc prepare``: physical states before and after the target's stage; for temporal
    averaging the reduced and requested system states, their largest difference and Uhlmann
    fidelity; for a bath the pseudo-state and the bath's ground population."""
    target: str
    molecule: Molecule
    before: np.ndarray
    after: np.ndarray
    reduced: Optional[np.ndarray] = None
    requested: Optional[np.ndarray] = None
    max_abs_error: Optional[float] = None
    uhlmann_fidelity: Optional[float] = None
    sigma: Optional[np.ndarray] = None
    bath_p0_requested: Optional[float] = None
    bath_p0_obtained: Optional[float] = None


def prepare(program: Union[PathLike, Dict[str, Any]], *,
            base_dir: Optional[PathLike] = None) -> Preparation:
    """Runs a preparation program (docs/preparation.md: PPS, bath, temporal averaging): a file,
    or a dict with the file's keys (relative paths from ``base_dir``, default the current
    directory)."""
    return Preparation(**_nmrc.prepare(*_program("prepare", program, base_dir)))


@dataclass
class Tomography:
    """``nmrc tomography``: the true state, the linear and the physical reconstruction, the
    Uhlmann fidelity of the physical one, the settings used and the readout set's
    completeness."""
    name: str
    molecule: Molecule
    true_state: np.ndarray
    linear: np.ndarray
    physical: np.ndarray
    residual: float
    fidelity: float
    settings: List[str]
    completeness: str
    energy_tomography: np.ndarray
    energy_true: np.ndarray


def tomography(program: Union[PathLike, Dict[str, Any]], *,
               base_dir: Optional[PathLike] = None) -> Tomography:
    """Runs a tomography program (docs/tomography.md): a file, or a dict with the file's keys
    (relative paths from ``base_dir``, default the current directory)."""
    return Tomography(**_nmrc.tomography(*_program("tomography", program, base_dir)))


@dataclass
class Completeness:
    """What a readout set sees: rank of 4^n - 1 parameters, condition number, the Pauli strings
    it cannot see and the fewest settings that complete it."""
    parameters: int
    rank: int
    condition_number: float
    complete: bool
    invisible: List[str]
    duplicates: List[str]
    proposed: List[str]
    summary: str


@dataclass
class Reconstruction:
    """Linear least-squares estimate (Hermitian, unit trace), the nearest density matrix to it,
    the RMS residual of the line values and the linear estimate's smallest eigenvalue."""
    linear: np.ndarray
    physical: np.ndarray
    residual: float
    min_eigenvalue_linear: float


def readout_values(rho: Any, setting: str, n: int) -> np.ndarray:
    """Ideal line values of one readout setting ("XIYI": pi/2 about x, y or none per spin):
    per line observable <O_x> then <O_y> (docs/tomography.md), 2 n 2^(n-1) numbers. ``rho``
    must be a density matrix (Hermitian, trace 1, positive; each within 1e-8)."""
    return _nmrc.readout_values(rho, _text("readout_values: setting", setting),
                                _integer("readout_values: n", n, 1, 6))


def reconstruct(settings: Sequence[str], values: Any, n: int) -> Reconstruction:
    """State tomography from line tables: ``values[s]`` the line values of setting ``s`` in the
    layout of :func:`readout_values` (spectrometer::Tomographer; the set must be complete)."""
    return Reconstruction(**_nmrc.reconstruct(_settings("reconstruct", settings), values,
                                              _integer("reconstruct: n", n, 1, 6)))


def completeness(settings: Sequence[str], n: int) -> Completeness:
    """Completeness of readout settings given as letters ("XXYI": one of I, X, Y per spin)."""
    return Completeness(**_nmrc.completeness(_settings("completeness", settings),
                                             _integer("completeness: n", n, 1, 6)))


def _settings(where: str, settings: Any) -> List[str]:
    if isinstance(settings, str):
        settings = [settings]
    try:
        out = list(settings)
    except TypeError:
        raise InputError(f"{where}: settings = {_short(settings)}: must be a list of strings "
                         "such as \"XYI\"") from None
    for s in out:
        _text(f"{where}: settings", s)
    return out


# ---- theory ---------------------------------------------------------------------------------

@dataclass
class TheorySteps:
    """Per-step results of a collision-model run (step 0 is the initial state), dimensionless
    (delta = k_B = 1): arrays of shape (steps,) or (steps, subsystems)."""
    step: np.ndarray
    collision: np.ndarray
    acting: np.ndarray
    energy: np.ndarray
    heat_released: np.ndarray
    step_heat: np.ndarray
    apparent_temperature: np.ndarray
    bath_energy: np.ndarray
    system_energy: np.ndarray
    heat_to_bath: np.ndarray
    free_energy: np.ndarray
    coherence: np.ndarray
    mutual_information_sr: np.ndarray
    apparent_temperature_system: np.ndarray


@dataclass
class TheoryRun:
    """One run of a theory program (``nmrc theory``): parameters, per-step arrays, the final
    system state, and the master-equation comparison or the sweep when the program asks."""
    name: str
    title: str
    subsystems: List[str]
    temperatures: List[float]
    bath_temperature: float
    g: float
    tau: float
    collisions: int
    initial_min_eigenvalue: float
    eq36_min_slack: float
    steps: Optional[TheorySteps] = None
    final_state: Optional[np.ndarray] = None
    direction_violations: int = 0
    master_equation: Optional[Dict[str, Any]] = None
    sweep: Optional[Dict[str, Any]] = None


def _dict_progress(func: str, progress: Any, old_fields: Sequence[str]) -> Any:
    """The one progress signature, ``progress(dict)``. A callback written for the old
    positional signature (``old_fields``: theory's run, stage, done, total) still works, with a
    DeprecationWarning."""
    _check_progress(func, progress)
    if progress is None or len(old_fields) < 2:
        return progress
    import inspect
    try:
        params = list(inspect.signature(progress).parameters.values())
    except (TypeError, ValueError):
        return progress
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < len(old_fields) and not any(p.kind == p.VAR_POSITIONAL for p in params):
        return progress
    import warnings
    warnings.warn(f"nmrc.{func}: progress({', '.join(old_fields)}) is deprecated: the one "
                  "progress signature is progress(dict)", DeprecationWarning, stacklevel=3)
    return lambda d: progress(*(d[k] for k in old_fields))


def theory(program: Union[PathLike, Dict[str, Any]], *, out: Optional[PathLike] = None,
           progress: Optional[Callable[[Dict[str, Any]], None]] = None) -> List[TheoryRun]:
    """Runs a heat-flow theory program (docs/theory-format.md): a file, or a dict with the
    file's keys. ``out``: a folder to write the CSV and JSON files of ``nmrc theory --out``
    into (the same bytes; the CLI adds the PNG/SVG figures), created when missing; an
    interrupted run writes none. ``progress(dict)`` on the calling thread with job "theory",
    run, stage ("collision", "sweep point", "convergence", "master equation"), done, total.
    Ctrl-C (or an exception from ``progress``) stops within a collision: the exception is
    raised with ``.result``, the runs finished before it."""
    cb = _dict_progress("theory", progress, ("run", "stage", "done", "total"))
    folder = "" if out is None else _path(out)
    if isinstance(program, dict):
        raw = _nmrc.theory_text(_json.dumps(program), "<dict>", folder, cb)
    else:
        raw = _nmrc.theory(_path(program), folder, cb)
    out = []
    for d in raw["runs"]:
        if "steps" in d:
            d["steps"] = TheorySteps(**d["steps"])
        out.append(TheoryRun(**d))
    _raise_interruption(raw, out)
    return out


# ---- the experiment -------------------------------------------------------------------------

@dataclass
class ExperimentCase:
    """One case of ``nmrc experiment`` (docs/experiment-format.md): the ideal cumulative energy
    change of each subsystem at the last measured collision (``delta_ideal``), the measured one
    (calibrated, ``delta_measured``: {"mean", "std"} arrays over noise draws) and the raw one,
    and per measured collision a dict with the ideal and measured energies, the heat, the
    Uhlmann fidelity of the reconstructed state and the reconstructed system state."""
    name: str
    title: str
    subsystems: List[str]
    delta_ideal: np.ndarray
    delta_measured: Dict[str, np.ndarray]
    delta_raw: Dict[str, np.ndarray]
    points: List[Dict[str, Any]]
    pulses: List[str]
    pps_epsilon: float
    noise_sigma: float
    seconds: float


def _default_cache_dir() -> str:
    xdg = _os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return _os.path.join(xdg, "nmrc")
    home = _os.environ.get("HOME")
    return _os.path.join(home, ".cache", "nmrc") if home else ""


def experiment(program: Union[PathLike, Dict[str, Any]], *,
               cache_dir: Optional[PathLike] = None, compile: str = "auto",
               error_budget: bool = True, base_dir: Optional[PathLike] = None,
               out: Optional[PathLike] = None,
               progress: Optional[Callable[[Dict[str, Any]], None]] = None) -> List[ExperimentCase]:
    """Runs an experiment program on the virtual spectrometer (``nmrc experiment`` without
    files): every case, in order. ``program``: a file, or a dict with the file's keys standing
    in ``base_dir`` (default the current directory: relative paths and the ``compiled:`` folder
    are taken from there; a dict needs ``name``). ``cache_dir``: the relaxing channels and compiled pulses
    (default ``~/.cache/nmrc`` as the CLI; "" for none); ``compile``: "auto" (shipped or cached
    pulse, else GRAPE), "never" (a missing pulse is an InputError) or "recompile". The first run
    of the paper's programs builds channels for minutes; Ctrl-C is raised when it ends.
    ``out``: a folder to write the CSV and JSON files of ``nmrc experiment --out`` into (per
    case rho_m<M>.json, rho_system_m<M>.json, measurements.csv, summary.json; the program's
    summary.json), the same bytes as the CLI's but for the run time ("seconds") and the
    figure the CLI adds (and names in the program's summary.json).
    ``progress(dict)`` on the calling thread with job "experiment" and text (what runs now)."""
    _text("experiment: compile", compile, ("auto", "never", "recompile"))
    _boolean("experiment: error_budget", error_budget)
    _check_progress("experiment", progress)
    cache = _default_cache_dir() if cache_dir is None else _path(cache_dir)
    text, name, base = _program("experiment", program, base_dir)
    path, text = (_os.path.join(base, name), text) if name else (text, "")
    folder = "" if out is None else _path(out)
    return [ExperimentCase(**d) for d in _nmrc.experiment(path, text, cache, compile,
                                                           error_budget, folder, progress)]
