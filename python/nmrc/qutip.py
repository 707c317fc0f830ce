"""QuTiP interop: nmrc matrices to and from ``qutip.Qobj`` (needs QuTiP: ``import nmrc.qutip``).

Basis order: nmrc puts spin 0 of the molecule as the leftmost tensor factor and |0> (spin up,
the lower Zeeman level, sigma_z |0> = +|0>) first (docs/conventions.md). QuTiP's
``tensor(a, b, ...)`` also puts its first argument leftmost and ``basis(2, 0)`` is the
eigenvector of ``sigmaz()`` with eigenvalue +1, so an nmrc matrix *is* the ``full()`` matrix of
the Qobj with dims ``[[2]*n, [2]*n]``: ``tensor(sigmaz(), qeye(2))`` is nmrc's Z on spin 0. No
reordering happens here, only the dims are set.

Units are nmrc's: Hamiltonians in rad/s (QuTiP's ``sesolve``/``mesolve`` then take times in s).
"""
from __future__ import annotations

from typing import Any, List, Tuple

import numpy as np
import qutip

from . import InputError, Molecule, Pulse, propagate, thermal_state as _thermal_state

__all__ = ["to_qobj", "from_qobj", "hamiltonian", "thermal_state", "pulse_unitary",
           "spin_operators", "hamiltonian_list", "collapse_operators", "pulse_times",
           "mesolve"]


def _spins_of(dim: int) -> int:
    n = int(round(np.log2(dim))) if dim > 0 else -1
    if n < 1 or 2 ** n != dim:
        raise InputError(f"to_qobj: dimension = {dim}: must be 2^n (n spins)")
    return n


def to_qobj(a: Any) -> qutip.Qobj:
    """An nmrc matrix (2^n x 2^n: operator, state, unitary; dims [[2]*n, [2]*n]) or vector
    (2^n: ket, dims [[2]*n, [1]*n]) as a Qobj, in the same basis order (a copy)."""
    m = np.array(a, dtype=complex)
    if m.ndim == 1:
        n = _spins_of(m.shape[0])
        return qutip.Qobj(m.reshape(-1, 1), dims=[[2] * n, [1] * n])
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise InputError(f"to_qobj: shape = {m.shape}: must be (2^n,) or (2^n, 2^n)")
    n = _spins_of(m.shape[0])
    return qutip.Qobj(m, dims=[[2] * n, [2] * n])


def from_qobj(q: qutip.Qobj) -> np.ndarray:
    """A Qobj of qubits (every dim 2) as an nmrc matrix (kets as 1-D vectors), a copy."""
    if not isinstance(q, qutip.Qobj):
        raise InputError(f"from_qobj: {type(q).__name__}: must be a qutip.Qobj")
    if any(d != 2 for d in q.dims[0]):
        raise InputError(f"from_qobj: dims = {q.dims}: every subsystem must be a qubit (2)")
    m = np.array(q.full(), dtype=complex)
    return m[:, 0].copy() if q.isket else m


def hamiltonian(molecule: Molecule, strong_coupling: bool = False) -> qutip.Qobj:
    """The molecule's rotating-frame internal Hamiltonian (rad/s) as a Qobj."""
    return to_qobj(molecule.hamiltonian(strong_coupling))


def thermal_state(molecule: Molecule) -> qutip.Qobj:
    """nmrc's high-temperature thermal equilibrium state as a Qobj."""
    return to_qobj(_thermal_state(molecule).rho)


def pulse_unitary(molecule: Molecule, pulse: Pulse, b1_scale: float = 1.0) -> qutip.Qobj:
    """The propagator of ``pulse`` by nmrc's spectrometer (no relaxation), as a Qobj."""
    return to_qobj(propagate(molecule, pulse, b1_scale=b1_scale))


# Largest spin count of spin_operators: three 2^n x 2^n operators; at 12 spins each is 4096 x
# 4096 (sparse, 4096 entries), well within any machine, while 30 spins (2^30 rows) is not.
MAX_SPINS = 12


def _int(where: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) \
            or not lo <= int(v) <= hi:
        raise InputError(f"{where} = {v!r}: must be an integer from {lo} to {hi}")
    return int(v)


def spin_operators(n: int, k: int) -> Tuple[qutip.Qobj, qutip.Qobj, qutip.Qobj]:
    """I_x, I_y, I_z (dimensionless, sigma/2) of spin k of n (1 to 12), built with QuTiP alone
    (sigma/2 on factor k)."""
    n = _int("spin_operators: n", n, 1, MAX_SPINS)
    k = _int("spin_operators: k", k, 0, n - 1)
    ops: List[qutip.Qobj] = []
    for s in (qutip.sigmax(), qutip.sigmay(), qutip.sigmaz()):
        factors = [qutip.qeye(2)] * n
        factors[k] = s / 2
        ops.append(qutip.tensor(factors))
    return ops[0], ops[1], ops[2]


# ---- mesolve: the pulse as QuTiP's H-list, relaxation as collapse operators -----------------

def _step_coefficient(values: np.ndarray, dt_s: float) -> Any:
    """A piecewise-constant coefficient: values[k] on [k dt, (k+1) dt) (nmrc's steps), the last
    value held at the end. Callable as QuTiP 4 (t, args) and QuTiP 5 (t) coefficients."""
    vals = np.array(values, dtype=float)
    last = len(vals) - 1

    def coefficient(t: float, args: Any = None) -> float:
        return float(vals[min(max(int(t / dt_s), 0), last)])
    return coefficient


def hamiltonian_list(molecule: Molecule, pulse: Pulse, b1_scale: float = 1.0) -> List[Any]:
    """The pulse on the molecule as QuTiP's H-list, in rad/s: ``[H0, [Hx_c, ux_c(t)], [Hy_c,
    uy_c(t)], ...]`` with H0 the molecule's rotating-frame Hamiltonian, Hx_c = 2 pi b1_scale
    sum_{k on channel c} I_x^k (rad/s per Hz) and ux_c(t) the pulse's amplitude (Hz), constant
    over each step of ``pulse.dt_s`` (the same Hamiltonian nmrc's spectrometer uses). Times in
    s from the pulse's start; give mesolve ``pulse_times(pulse)`` and a ``max_step`` below
    ``pulse.dt_s`` so that the solver sees every step."""
    from . import _number
    b1 = _number("hamiltonian_list: b1_scale", b1_scale)
    names = [c["name"] for c in molecule.channels]
    out: List[Any] = [hamiltonian(molecule)]
    for c, name in enumerate(pulse.channels):
        if name not in names:
            raise InputError(f"hamiltonian_list: pulse channel = {name}: not a channel of "
                             f"{molecule.name} (known: {', '.join(names)})")
        spins = [k for k, nu in enumerate(molecule.nuclei) if nu["channel"] == name]
        for axis, amps in (("x", pulse.ux_hz[c]), ("y", pulse.uy_hz[c])):
            h = 2 * np.pi * b1 * sum(molecule.op(k, axis) for k in spins)
            out.append([to_qobj(h), _step_coefficient(amps, pulse.dt_s)])
    return out


def pulse_times(pulse: Pulse) -> np.ndarray:
    """0 and the end of every step of the pulse, s (mesolve's tlist)."""
    return pulse.dt_s * np.arange(pulse.steps + 1)


def collapse_operators(molecule: Molecule) -> List[qutip.Qobj]:
    """Lindblad operators of the molecule's T1 and T2, the relaxation model of nmrc's
    spectrometer (spectrometer/src/dynamics.cpp): per spin k, sqrt(w_down) |0><1| and
    sqrt(w_up) |1><0| with w_down + w_up = 1/T1 and w_up / w_down = P1 / P0 of the thermal
    state (detailed balance, so the state relaxes to nmrc's thermal equilibrium), and
    sqrt(g/2) sigma_z with g = 1/T2 - 1/(2 T1) (coherences then decay at 1/T2). Rates in 1/s."""
    pol = _thermal_state(molecule).polarization
    lower = np.array([[0, 1], [0, 0]], dtype=complex)  # |0><1|: the excited |1> decays to |0>
    ops: List[qutip.Qobj] = []
    for k, nu in enumerate(molecule.nuclei):
        p0 = 0.5 * (1 + pol[k])
        w_down, w_up = p0 / nu["t1_s"], (1 - p0) / nu["t1_s"]
        g = max(0.0, 1 / nu["t2_s"] - 0.5 / nu["t1_s"])
        factors = [np.eye(2, dtype=complex)] * molecule.size

        def on_k(m: np.ndarray) -> np.ndarray:
            out = np.eye(1, dtype=complex)
            for j in range(molecule.size):
                out = np.kron(out, m if j == k else factors[j])
            return out
        ops.append(to_qobj(np.sqrt(w_down) * on_k(lower)))
        ops.append(to_qobj(np.sqrt(w_up) * on_k(lower.T)))
        if g > 0:
            ops.append(to_qobj(np.sqrt(g / 2) * on_k(np.diag([1.0, -1.0]).astype(complex))))
    return ops


def mesolve(molecule: Molecule, pulse: Pulse, rho: Any, *, b1_scale: float = 1.0,
            relaxation: bool = True, e_ops: Any = None, atol: float = 1e-12,
            rtol: float = 1e-10) -> Any:
    """QuTiP's ``mesolve`` of the pulse from ``rho`` (an nmrc matrix or a Qobj) with the H-list
    of :func:`hamiltonian_list` and, with ``relaxation``, :func:`collapse_operators`; times
    :func:`pulse_times`; the solver's step kept below dt/2. Returns QuTiP's Result."""
    r0 = rho if isinstance(rho, qutip.Qobj) else to_qobj(rho)
    opts = qutip.Options(atol=atol, rtol=rtol, max_step=pulse.dt_s / 2, nsteps=10 ** 7)
    return qutip.mesolve(hamiltonian_list(molecule, pulse, b1_scale), r0, pulse_times(pulse),
                         collapse_operators(molecule) if relaxation else [],
                         e_ops if e_ops is not None else [], options=opts)
