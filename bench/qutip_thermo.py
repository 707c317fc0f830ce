#!/usr/bin/python3
"""Same cascade collision model in QuTiP 4.7 and in nmrc, side by side, from one run.

Model (Huang et al., Eqs. (1), (38)): n subsystems at T = 1, a fresh bath particle at T_R = 0.9
per collision, c_pq = C on every pair, order S1..Sn, U_k = exp(-i tau g (s+^k s-^R + h.c.)),
g = 20, tau = 0.01. Convention (docs/conventions.md): |0> ground, sigma+ = |1><0|, energy
E_k = <(P1 - P0)/2>. Prints, per case, QuTiP's and nmrc's seconds, their ratio and the
largest difference of any subsystem energy after any interaction.

Usage: python3 bench/qutip_thermo.py [BUILD_DIR]   (a Python with numpy and QuTiP 4.7; needs
BUILD_DIR/bench/thermo_cascade_dump). BUILD_DIR defaults to the tree's build/; a relative
BUILD_DIR is taken from the working directory when it exists there, else from the tree's root
(so "bench/qutip_thermo.py build" works from any folder).
"""
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def build_dir():
    given = sys.argv[1] if len(sys.argv) > 1 else "build"
    if os.path.isabs(given) or os.path.isdir(given):
        return os.path.abspath(given)
    return os.path.join(ROOT, given)


BUILD = build_dir()
DUMP = os.path.join(BUILD, "bench", "thermo_cascade_dump")
if not os.access(DUMP, os.X_OK):
    sys.exit(f"qutip_thermo.py: {DUMP} not found: build it first "
             f"(cmake --build {BUILD} --target thermo_cascade_dump)")
try:
    import numpy as np
    import qutip as qt
except ImportError as e:
    sys.exit(f"qutip_thermo.py: {e}: run it with a Python that has numpy and QuTiP 4.7")

SP = qt.Qobj(np.array([[0, 0], [1, 0]], dtype=complex))  # sigma+ = |1><0|
SM = SP.dag()


def thermal(t):
    p0 = 1.0 / (1.0 + np.exp(-1.0 / t))
    return np.diag([p0, 1.0 - p0]).astype(complex)


def initial_state(n, c, t=1.0):
    """Eq. (1)/(S4)-(S5) with numpy Kronecker products."""
    th = thermal(t)
    w = np.sqrt(th[0, 0].real * th[1, 1].real)
    rho = np.array([[1.0 + 0j]])
    for _ in range(n):
        rho = np.kron(rho, th)
    ket01 = np.array([[0, 1], [0, 0]], dtype=complex)  # |0><1|
    ket10 = ket01.T.copy()  # |1><0|
    for p in range(n):
        for q in range(p + 1, n):
            chi = np.array([[1.0 + 0j]])
            for k in range(n):
                f = w * ket01 if k == p else (w * ket10 if k == q else th)
                chi = np.kron(chi, f)
            rho += c * chi + np.conj(c) * chi.conj().T
    return rho


def op_on(op, k, nspins):
    ops = [qt.qeye(2)] * nspins
    ops[k] = op
    return qt.tensor(ops)


def qutip_cascade(n, collisions, c, g=20.0, tau=0.01, t_r=0.9):
    ns = n + 1
    dims = [[2] * n, [2] * n]
    rho_s = qt.Qobj(initial_state(n, c), dims=dims)
    bath = qt.Qobj(thermal(t_r))
    us = []
    for k in range(n):
        h = g * (op_on(SP, k, ns) * op_on(SM, n, ns) + op_on(SM, k, ns) * op_on(SP, n, ns))
        us.append((-1j * tau * h).expm())
    hk = [op_on(qt.Qobj(np.diag([-0.5, 0.5])), k, n) for k in range(n)]
    energies = [[qt.expect(h, rho_s) for h in hk]]
    start = time.perf_counter()
    for _ in range(collisions):
        rho = qt.tensor(rho_s, bath)
        for k in range(n):
            rho = us[k] * rho * us[k].dag()
            red = rho.ptrace(list(range(n)))
            energies.append([qt.expect(h, red) for h in hk])
        rho_s = rho.ptrace(list(range(n)))
    return time.perf_counter() - start, np.array(energies)


def nmrc_cascade(n, collisions, c):
    start = time.perf_counter()
    out = subprocess.run([DUMP, str(n), str(collisions), repr(c)], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    wall = time.perf_counter() - start
    inner = float(out[0].split()[1])
    rows = [[float(x) for x in line.split(",")[1:]] for line in out[1:]]
    return inner, wall, np.array(rows)


def main():
    if not os.path.exists(DUMP):
        sys.exit(f"{DUMP} not found: build with -DNMRC_BUILD_BENCH=ON first")
    print(f"QuTiP {qt.__version__}, numpy {np.__version__}")
    print("case          collisions  qutip_s   nmrc_s (in-process / with process start)  "
          "speed ratio  max |dE_k|")
    for n, collisions, c in [(3, 100, -0.5), (8, 20, -0.05)]:
        tq, eq = qutip_cascade(n, collisions, c)
        tn, tn_wall, en = nmrc_cascade(n, collisions, c)
        assert eq.shape == en.shape, (eq.shape, en.shape)
        err = np.max(np.abs(eq - en))
        print(f"n = {n}, c = {c:<6} {collisions:5d}  {tq:9.3f}  {tn:9.4f} / {tn_wall:7.3f}"
              f"                     {tq / tn:9.1f}x  {err:.2e}")


if __name__ == "__main__":
    main()
