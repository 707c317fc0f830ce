"""nmrc.qutip: the basis order is QuTiP's tensor order (spin 0 leftmost, |0> = sigma_z +1)."""
import numpy as np
import pytest

import nmrc

qutip = pytest.importorskip("qutip")
nq = pytest.importorskip("nmrc.qutip")


def test_hamiltonian_equals_a_qutip_construction(crotonic):
    n = crotonic.size
    h = nq.hamiltonian(crotonic)
    assert h.dims == [[2] * n, [2] * n] and h.isherm
    carrier = {c["name"]: c["carrier_hz"] for c in crotonic.channels}
    ref = 0
    for k, nu in enumerate(crotonic.nuclei):
        ref += 2 * np.pi * (nu["offset_hz"] - carrier[nu["channel"]]) * nq.spin_operators(n, k)[2]
    for c in crotonic.couplings:
        a, b = (crotonic.labels.index(s) for s in c["spins"])
        ref += 2 * np.pi * c["j_hz"] * nq.spin_operators(n, a)[2] * nq.spin_operators(n, b)[2]
    assert (h - ref).norm("max") < 1e-9 * ref.norm("max")


def test_thermal_state_and_round_trips(crotonic):
    rho = nq.thermal_state(crotonic)
    n = crotonic.size
    # |0> (sigma_z = +1) is the lower level: every spin's <sigma_z> > 0 at equilibrium.
    for k in range(n):
        assert qutip.expect(2 * nq.spin_operators(n, k)[2], rho) > 0
    assert np.array_equal(nq.from_qobj(rho), nmrc.thermal_state(crotonic).rho)
    ket = qutip.tensor(qutip.basis(2, 0), qutip.basis(2, 1))
    v = nq.from_qobj(ket)
    assert v.shape == (4,) and v[1] == 1  # |01>: spin 0 in |0>, spin 1 in |1> -> index 0b01
    assert nq.to_qobj(v).dims == [[2, 2], [1, 1]]


def test_pulse_unitary_is_nmrc_propagator(source, crotonic):
    p = nmrc.read_pulse(source / "sequences" / "gates" / "compiled" / "rx90_c1.json")
    u = nq.pulse_unitary(crotonic, p)
    assert np.allclose(u.full(), nmrc.propagate(crotonic, p))
    assert (u.dag() * u - qutip.tensor([qutip.qeye(2)] * 4)).norm("max") < 1e-10


def test_bad_input():
    with pytest.raises(nmrc.InputError, match=r"dimension = 3: must be 2\^n"):
        nq.to_qobj(np.eye(3))
    with pytest.raises(nmrc.InputError, match=r"every subsystem must be a qubit"):
        nq.from_qobj(qutip.qeye(3))
    with pytest.raises(nmrc.InputError, match=r"must be a qutip.Qobj"):
        nq.from_qobj(np.eye(2))
