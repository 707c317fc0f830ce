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


def test_mesolve_bridge_agrees_with_the_spectrometer():
    """QuTiP's mesolve of the H-list and T1/T2 collapse operators against nmrc's relaxing
    propagation (an independent integrator of the same Lindblad equation)."""
    from conftest import TWO_SPIN
    d = dict(TWO_SPIN)
    # Relaxation fast enough to matter over the 0.5 ms pulse (T2 <= 2 T1).
    d["nuclei"] = [dict(n, t1_s=0.002, t2_s=0.001, t2star_s=0.001) for n in TWO_SPIN["nuclei"]]
    m = nmrc.molecule_from_dict(d)
    rng = np.random.default_rng(1)
    p = nmrc.Pulse(rng.uniform(-5000, 5000, 10), rng.uniform(-5000, 5000, 10), 5e-5, "13C")
    g = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    rho = g @ g.conj().T
    rho /= np.trace(rho)
    h = nq.hamiltonian_list(m, p)
    assert len(h) == 3 and h[1][1](0.7 * p.dt_s, {}) == p.ux_hz[0, 0]
    assert h[2][1](3.2 * p.dt_s, {}) == p.uy_hz[0, 3]
    c_ops = nq.collapse_operators(m)
    assert len(c_ops) == 6  # down, up, dephasing per spin
    relaxed = nq.from_qobj(nq.mesolve(m, p, rho).states[-1])
    closed = nq.from_qobj(nq.mesolve(m, p, rho, relaxation=False).states[-1])
    mine_relaxed = nmrc.propagate(m, p, rho, relaxation=True)
    mine_closed = nmrc.propagate(m, p, rho)
    # The solver's error (the RF jumps between steps) is ~5e-8 on entries of order 0.25.
    assert np.abs(relaxed - mine_relaxed).max() < 3e-7
    assert np.abs(closed - mine_closed).max() < 3e-7
    # ...and relaxation itself is a large effect, reproduced to that error.
    assert np.abs(mine_relaxed - mine_closed).max() > 0.05
    # Detailed balance: the collapse operators relax each spin to its thermal populations
    # (P0, P1) = ((1 + p_k)/2, (1 - p_k)/2), nmrc's thermal polarization p_k.
    pol = nmrc.thermal_state(m).polarization
    fixed = np.kron(np.diag([1 + pol[0], 1 - pol[0]]), np.diag([1 + pol[1], 1 - pol[1]])) / 4
    lind = qutip.liouvillian(nq.hamiltonian(m) * 0, c_ops)
    assert np.abs(lind.full() @ fixed.reshape(-1, order="F")).max() < 1e-12
