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
           "spin_operators"]


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
