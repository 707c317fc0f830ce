#!/usr/bin/python3
"""Side-by-side timing of nmrc's virtual spectrometer and QuTiP 4.7 on one pulse (issue 4).

Runs build/bench/spectrometer_bench (which times nmrc and dumps the problem: Hamiltonians,
the 20 ms / 1000-step shaped pulse on crotonic acid, Lindblad jump operators, the thermal
state, and nmrc's results), then propagates the same pulse in QuTiP:
  - unitary: the product of the 1000 step propagators (-1j H_j dt).expm();
  - relaxing: qutip.mesolve, restarted at every step (piecewise-constant H), from the thermal
    state with the same jump operators.
Prints the timings, the ratios QuTiP / nmrc, and the agreement of the results.

Usage (from the source tree, Debian's python3 with qutip 4.7):
  /usr/bin/python3 bench/qutip_spectrometer.py [BUILD_DIR]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import qutip


def mat(j):
    return np.array(j["re"]) + 1j * np.array(j["im"])


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    exe = os.path.join(build, "bench", "spectrometer_bench")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NMRC_SOURCE_DIR=os.getcwd())
        out = subprocess.run([exe, "--dump", tmp, "--superop-steps", "100"], env=env,
                             check=True, capture_output=True, text=True).stdout
        prob = json.load(open(os.path.join(tmp, "spectrometer_problem.json")))
    t = prob["timings"]
    dims = [[2] * 4, [2] * 4]
    h0 = qutip.Qobj(mat(prob["h0"]), dims=dims)
    cx = qutip.Qobj(mat(prob["cx"]), dims=dims)
    cy = qutip.Qobj(mat(prob["cy"]), dims=dims)
    rho0 = qutip.Qobj(mat(prob["rho0"]), dims=dims)
    jumps = [qutip.Qobj(mat(j), dims=dims) for j in prob["jumps"]]
    dt = prob["dt_s"]
    ux, uy = prob["ux_hz"], prob["uy_hz"]
    eps = prob["epsilon"]

    # Unitary: product of step propagators.
    t0 = time.perf_counter()
    u = qutip.qeye(dims[0])
    for a, b in zip(ux, uy):
        u = (-1j * (h0 + a * cx + b * cy) * dt).expm() * u
    q_unitary = time.perf_counter() - t0
    fid = abs((mat(prob["u_exact"]).conj().T @ u.full()).trace()) / 16

    # Relaxing: mesolve per piecewise-constant step, tight tolerances.
    opts = qutip.Options(atol=1e-14, rtol=1e-10, nsteps=100000)
    t0 = time.perf_counter()
    rho = rho0
    for a, b in zip(ux, uy):
        rho = qutip.mesolve(h0 + a * cx + b * cy, rho, [0.0, dt], c_ops=jumps, options=opts).states[-1]
    q_relax = time.perf_counter() - t0
    diff = np.abs(rho.full() - mat(prob["rho_exact"])).max() / eps

    print("nmrc (spectrometer_bench):")
    print(out.strip())
    print()
    print("QuTiP %s on the same pulse (20 ms, 1000 steps, crotonic acid):" % qutip.__version__)
    print("  unitary, product of step expm:        %8.3f s" % q_unitary)
    print("  relaxing, mesolve restarted per step: %8.3f s" % q_relax)
    print()
    print("ratios QuTiP / nmrc (higher = nmrc faster):")
    print("  unitary:  QuTiP %.3f s / nmrc exact %.3f s = %.1f   (nmrc Odeint %.3f s: %.2f)" % (
        q_unitary, t["unitary_exact_s"], q_unitary / t["unitary_exact_s"],
        t["unitary_odeint_s"], q_unitary / t["unitary_odeint_s"]))
    print("  relaxing: QuTiP %.3f s / nmrc exact %.3f s = %.1f   (nmrc Odeint %.3f s: %.2f)" % (
        q_relax, t["relaxing_state_exact_s"], q_relax / t["relaxing_state_exact_s"],
        t["relaxing_state_odeint_s"], q_relax / t["relaxing_state_odeint_s"]))
    print()
    print("agreement: gate fidelity |Tr(U_nmrc^dag U_qutip)|/16 = %.12f;" % fid)
    print("           max |rho_qutip - rho_nmrc| / epsilon = %.3e" % diff)


if __name__ == "__main__":
    main()
