#!/usr/bin/python3
"""Check an nmrc pulse in QuTiP: the compiled 90-degree x rotation of C1
(sequences/gates/compiled/rx90_c1.json) is propagated step by step with QuTiP's own operators
and matrix exponentials, and its gate fidelity |Tr(Ut^dag U)|/d compared with nmrc's
spectrometer (nmrc.fidelity, as `nmrc validate`).

    PYTHONPATH=build/python /usr/bin/python3 examples/python/qutip_check.py [--pulse FILE]
"""
import argparse
import pathlib

import numpy as np
import qutip

import nmrc
import nmrc.qutip as nq

ROOT = nmrc.data_dir()  # molecules/ and sequences/: /usr/share/nmrc, or the source tree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pulse", type=pathlib.Path,
                    default=ROOT / "sequences" / "gates" / "compiled" / "rx90_c1.json")
    a = ap.parse_args()
    mol = nmrc.load_molecule(ROOT / "molecules" / "crotonic_acid.yaml")
    pulse = nmrc.read_pulse(a.pulse)
    n = mol.size

    # H(t) = H0 + 2 pi (ux(t) sum_k Ix^k + uy(t) sum_k Iy^k) over the channel's spins, in rad/s.
    h0 = nq.hamiltonian(mol)
    on_channel = [k for k, nu in enumerate(mol.nuclei) if nu["channel"] == pulse.channels[0]]
    ix = sum(nq.spin_operators(n, k)[0] for k in on_channel)
    iy = sum(nq.spin_operators(n, k)[1] for k in on_channel)
    # QuTiP's propagation of the thermal state, and <I_y> of C1 after every step.
    rho = nq.thermal_state(mol)
    iy_c1 = nq.spin_operators(n, mol.index_of("C1"))[1]
    u = qutip.tensor([qutip.qeye(2)] * n)
    expect = [qutip.expect(iy_c1, rho)]
    for ux, uy in zip(pulse.ux_hz[0], pulse.uy_hz[0]):
        h = h0 + 2 * np.pi * (ux * ix + uy * iy)
        step = (-1j * pulse.dt_s * h).expm()
        u = step * u
        expect.append(qutip.expect(iy_c1, u * rho * u.dag()))
    # The same trajectory by nmrc's spectrometer: propagate with observables (mol.op by label).
    traj = nmrc.propagate(mol, pulse, nq.from_qobj(rho), observables=[mol.op("C1", "y")])
    worst = np.abs(np.array(expect) - traj.values[:, 0]).max()
    print(f"<I_y^C1> over the pulse: QuTiP and nmrc differ by at most {worst:.1e} "
          f"(final {traj.values[-1, 0]:.3e})")
    if worst > 1e-12:
        raise SystemExit("QuTiP and nmrc trajectories disagree")

    target = nq.to_qobj(nmrc.target_unitary(mol, nmrc.Target(pulse.target)))
    f_qutip = abs((target.dag() * u).tr()) / 2 ** n
    f_nmrc = nmrc.fidelity(pulse, mol, b1_scale=[1.0]).nominal
    print(f"{pulse.name}: F by QuTiP {f_qutip:.10f}, by nmrc {f_nmrc:.10f}, "
          f"difference {abs(f_qutip - f_nmrc):.1e}")
    if abs(f_qutip - f_nmrc) > 1e-8:
        raise SystemExit("QuTiP and nmrc disagree")


if __name__ == "__main__":
    main()
