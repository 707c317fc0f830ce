#!/usr/bin/python3
"""QuTiP 4.7 GRAPE (L-BFGS-B) on the same problem as bench/grape_bench.cpp: the C1-C4 partial
swap exp(-i 0.1 (XX+YY)) on crotonic acid (molecules/crotonic_acid.yaml values), 20 ms in 1000
steps, +-10 kHz per quadrature, nominal B1, target |Tr(Ut^dag U)|/16 >= 0.995 (QuTiP's PSU
fidelity), uniform random start in +-2 kHz. Time in ms and amplitudes in kHz for both engines
(nmrc scales its variables to kHz internally). Prints one JSON line per seed.
Usage: /usr/bin/python3 bench/qutip_grape.py [seeds...]"""
import json
import sys
import time

import numpy as np
import qutip
from qutip.control import pulseoptim

# molecules/crotonic_acid.yaml (offsets with the carrier midway C4..C1; J in Hz)
OFFSETS_HZ = [5783.6, 2053.8, 4101.3, -5783.6]
J_HZ = {(0, 1): 72.4, (0, 2): -1.3, (0, 3): 7.0, (1, 2): 70.3, (1, 3): -1.6, (2, 3): 41.3}
N = 4


def op(single, k):
    ops = [qutip.qeye(2)] * N
    ops[k] = single
    return qutip.tensor(ops)


def problem():
    """(H_d, H_c, U_0, U_target) in rad/ms and kHz, as QuTiP's optimize_pulse_unitary takes them
    (also bench/python_grape.py's QuTiP side)."""
    iz = [op(qutip.sigmaz() / 2, k) for k in range(N)]
    ix = [op(qutip.sigmax() / 2, k) for k in range(N)]
    iy = [op(qutip.sigmay() / 2, k) for k in range(N)]
    two_pi_khz = 2 * np.pi / 1000.0  # rad/ms per Hz
    h_d = sum(two_pi_khz * OFFSETS_HZ[k] * iz[k] for k in range(N))
    for (a, b), j in J_HZ.items():
        h_d += two_pi_khz * j * iz[a] * iz[b]
    h_c = [2 * np.pi * sum(ix), 2 * np.pi * sum(iy)]  # rad/ms per kHz
    # exp(-i theta/2 (X_1 X_4 + Y_1 Y_4)), theta = 0.2
    gen = (op(qutip.sigmax(), 0) * op(qutip.sigmax(), 3) + op(qutip.sigmay(), 0) * op(qutip.sigmay(), 3))
    u_targ = (-1j * 0.1 * gen).expm()
    u_0 = qutip.identity([2] * N)
    return h_d, h_c, u_0, u_targ


def run(seed, prob=None):
    """One seed of QuTiP's GRAPE on problem(); the JSON record main() prints."""
    h_d, h_c, u_0, u_targ = prob or problem()
    np.random.seed(seed)
    t0 = time.perf_counter()
    c0 = time.process_time()
    res = pulseoptim.optimize_pulse_unitary(
        h_d, h_c, u_0, u_targ, num_tslots=1000, evo_time=20.0, amp_lbound=-10.0, amp_ubound=10.0,
        fid_err_targ=0.005, min_grad=1e-12, max_iter=5000, max_wall_time=600,
        alg="GRAPE", optim_method="fmin_l_bfgs_b", phase_option="PSU", init_pulse_type="RND",
        pulse_scaling=2.0, gen_stats=True)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    calls = res.num_fid_func_calls
    return {"engine": "qutip", "seed": seed, "eval_s": res.wall_time / max(1, calls),
            "eval_cpu_s": cpu / max(1, calls), "wall_s": wall, "cpu_s": cpu,
            "fidelity": float(1 - res.fid_err), "evaluations": int(calls),
            "reached": bool(res.fid_err <= 0.005), "termination": str(res.termination_reason)}


def main():
    seeds = [int(s) for s in sys.argv[1:]] or [1, 2, 3]
    prob = problem()
    for seed in seeds:
        print(json.dumps(run(seed, prob)), flush=True)


if __name__ == "__main__":
    main()
