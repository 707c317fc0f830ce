#!/usr/bin/python3
"""QuTiP 4.7 GRAPE (L-BFGS-B) on the same problem as bench/grape_bench.cpp.

Default problem: the C1-C4 partial swap exp(-i 0.1 (XX+YY)) on crotonic acid
(molecules/crotonic_acid.yaml values), 20 ms in 1000 steps, +-10 kHz per quadrature, nominal B1,
target |Tr(Ut^dag U)|/16 >= 0.995 (QuTiP's PSU fidelity), uniform random start in +-2 kHz.
With --problem FILE (written by `grape_bench ... --dump-problem FILE`), the drift, the controls
of every channel (x and y), the target, the step count and length and the RF limit are read from
that file: both engines then solve the same matrices (the scaling runs of
bench/results/grape_scaling.md). Nominal B1 only (QuTiP's GRAPE has no ensemble).
Time in ms and amplitudes in kHz for both engines (nmrc scales its variables to kHz internally).
Prints one JSON line per seed.
Usage: /usr/bin/python3 bench/qutip_grape.py [--problem FILE] [--fidelity F] [--max-iter N] [seeds...]"""
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


def builtin_problem():
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
    return h_d, h_c, u_targ, 1000, 20.0, 10.0, [2] * N


def matrix(m, dims):
    return qutip.Qobj(np.array(m["real"]) + 1j * np.array(m["imag"]), dims=[dims, dims])


def file_problem(path):
    """nmrc's GRAPE problem (rad/s, rad/s per Hz) in QuTiP's units (ms, kHz)."""
    with open(path) as f:
        p = json.load(f)
    d = len(p["drift"]["real"])
    n = d.bit_length() - 1
    dims = [2] * n
    h_d = matrix(p["drift"], dims) * 1e-3  # rad/ms
    h_c = []
    for c in p["channels"]:  # rad/s per Hz = rad/ms per kHz
        h_c += [matrix(c["cx"], dims), matrix(c["cy"], dims)]
    # One box for every control (QuTiP 4.7 bounds all controls alike): the smallest channel limit.
    limit_khz = min(c["max_rf_hz"] for c in p["channels"]) / 1000.0
    return h_d, h_c, matrix(p["target"], dims), p["steps"], p["steps"] * p["dt_s"] * 1e3, limit_khz, dims


def problem():
    """(H_d, H_c, U_0, U_target) of the built-in problem in rad/ms and kHz, as QuTiP's
    optimize_pulse_unitary takes them (bench/python_grape.py's QuTiP side)."""
    h_d, h_c, u_targ, _, _, _, dims = builtin_problem()
    return h_d, h_c, qutip.identity(dims), u_targ


def run_one(seed, h_d, h_c, u_targ, steps, evo_ms, limit_khz, dims, fidelity=0.995, max_iter=5000):
    """One seed of QuTiP's GRAPE; the JSON record main() prints."""
    u_0 = qutip.identity(dims)
    np.random.seed(seed)
    t0 = time.perf_counter()
    c0 = time.process_time()
    res = pulseoptim.optimize_pulse_unitary(
        h_d, h_c, u_0, u_targ, num_tslots=steps, evo_time=evo_ms, amp_lbound=-limit_khz,
        amp_ubound=limit_khz, fid_err_targ=1 - fidelity, min_grad=1e-12, max_iter=max_iter,
        max_wall_time=600, alg="GRAPE", optim_method="fmin_l_bfgs_b", phase_option="PSU",
        init_pulse_type="RND", pulse_scaling=0.2 * limit_khz, gen_stats=True)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    calls = res.num_fid_func_calls
    return {"engine": "qutip", "seed": seed, "dim": int(np.prod(dims)),
            "eval_s": res.wall_time / max(1, calls), "eval_cpu_s": cpu / max(1, calls),
            "wall_s": wall, "cpu_s": cpu, "fidelity": float(1 - res.fid_err),
            "evaluations": int(calls), "reached": bool(res.fid_err <= 1 - fidelity + 1e-12),
            "termination": str(res.termination_reason)}


def run(seed, prob=None):
    """One seed on the built-in problem (bench/python_grape.py)."""
    h_d, h_c, u_targ, steps, evo_ms, limit_khz, dims = builtin_problem()
    return run_one(seed, h_d, h_c, u_targ, steps, evo_ms, limit_khz, dims)


def main():
    args = sys.argv[1:]
    problem_file, fidelity, max_iter, seeds = None, 0.995, 5000, []
    while args:
        a = args.pop(0)
        if a == "--problem":
            problem_file = args.pop(0)
        elif a == "--fidelity":
            fidelity = float(args.pop(0))
        elif a == "--max-iter":  # a short run for the cost per evaluation only
            max_iter = int(args.pop(0))
        else:
            seeds.append(int(a))
    seeds = seeds or [1, 2, 3]
    prob = file_problem(problem_file) if problem_file else builtin_problem()
    for seed in seeds:
        print(json.dumps(run_one(seed, *prob, fidelity=fidelity, max_iter=max_iter)), flush=True)


if __name__ == "__main__":
    main()
