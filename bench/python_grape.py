#!/usr/bin/python3
"""From one Python process: nmrc's GRAPE (nmrc.compile) and QuTiP's optimize_pulse_unitary on
the problem of bench/grape_bench.cpp and bench/qutip_grape.py (the C1-C4 partial SWAP, theta =
0.2, on crotonic acid; 20 ms in 1000 steps, 10 kHz, nominal B1, target F >= 0.995, one start,
one thread), seed by seed, with the ratios; then the binding overhead of a small call.

Usage: PYTHONPATH=build/python OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/python_grape.py
       [--seeds 1 2 3] [--overhead-only]
Prints JSON lines and a summary; bench/results/python.md records a run.
"""
import argparse
import json
import os
import pathlib
import statistics
import sys
import time

import numpy as np

import nmrc

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent


def nmrc_run(mol, seed):
    t0 = time.perf_counter()
    c0 = time.process_time()
    r = nmrc.compile(mol, nmrc.partial_swap("C1", "C4", theta_rad=0.2), duration_s=0.02,
                     steps=1000, b1=[1.0], max_rf_hz=10000.0, threads=1, starts=1, seed=seed,
                     zero_ends=False, max_iterations=5000, time_limit_s=300)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    s = r.summary
    return {"engine": "nmrc (Python)", "seed": seed, "wall_s": wall, "cpu_s": cpu,
            "eval_s": wall / max(1, s.evaluations), "fidelity": s.fidelity_min,
            "evaluations": s.evaluations, "reached": s.reached_target,
            "termination": s.termination}


def median_call_s(f, calls):
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def overhead():
    """Binding overhead per call: a 1-step pulse on a 1-spin molecule (C++ work of a few us),
    against a trivial binding call and against the same propagation with 1001 steps (the slope
    per step times one step is the C++ work; the rest of a 1-step call is overhead)."""
    one = nmrc.molecule_from_dict({
        "name": "one", "spectrometer": {"proton_mhz": 500.0}, "sources": ["bench"],
        "channels": [{"name": "1H", "isotope": "1H", "frame_ppm": 0.0, "max_rf_hz": 1e5}],
        "nuclei": [{"label": "H", "isotope": "1H", "offset_hz": 100.0, "t1_s": 1, "t2_s": 1,
                    "t2star_s": 1, "shift_ppm": 0}]})
    p1 = nmrc.make_pulse([1000.0], [0.0], 1e-6, "1H")
    p1001 = nmrc.make_pulse(np.full(1001, 1000.0), np.zeros(1001), 1e-6, "1H")
    calls = 2000
    for f in (lambda: nmrc.propagate(one, p1), lambda: one.size):
        median_call_s(f, 50)  # warm up
    t1 = median_call_s(lambda: nmrc.propagate(one, p1), calls)
    t1001 = median_call_s(lambda: nmrc.propagate(one, p1001), calls // 10)
    per_step = (t1001 - t1) / 1000
    trivial = median_call_s(lambda: one.size, calls)
    return {"propagate_1_step_us": t1 * 1e6, "propagate_1001_steps_us": t1001 * 1e6,
            "cxx_per_step_us": per_step * 1e6, "overhead_us": (t1 - per_step) * 1e6,
            "trivial_property_us": trivial * 1e6, "calls": calls}


def main():
    ap = argparse.ArgumentParser(description="nmrc's GRAPE against QuTiP's, from one process")
    ap.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    ap.add_argument("--overhead-only", action="store_true")
    a = ap.parse_args()
    print(json.dumps({"load_average": os.getloadavg(), "cpus": os.cpu_count(),
                      "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}), flush=True)
    o = overhead()
    print(json.dumps({"overhead": o}), flush=True)
    if a.overhead_only:
        return
    sys.path.insert(0, str(HERE))
    import qutip_grape  # the QuTiP side of bench/qutip_grape.py: its problem and its settings

    mol = nmrc.load_molecule(ROOT / "molecules" / "crotonic_acid.yaml")
    prob = qutip_grape.problem()
    rows = []
    for seed in a.seeds:
        n = nmrc_run(mol, seed)
        q = qutip_grape.run(seed, prob)
        print(json.dumps(n), flush=True)
        print(json.dumps(q), flush=True)
        rows.append((n, q))
    print("\n| seed | eval ms nmrc / QuTiP | ratio | wall s nmrc / QuTiP | ratio | "
          "F nmrc / QuTiP | evaluations nmrc / QuTiP |")
    print("|---|---|---|---|---|---|---|")
    for n, q in rows:
        print(f"| {n['seed']} | {n['eval_s'] * 1e3:.2f} / {q['eval_s'] * 1e3:.1f} | "
              f"{q['eval_s'] / n['eval_s']:.1f}x | {n['wall_s']:.2f} / {q['wall_s']:.1f} | "
              f"{q['wall_s'] / n['wall_s']:.1f}x | {n['fidelity']:.4f} / {q['fidelity']:.4f} | "
              f"{n['evaluations']} / {q['evaluations']} |")
    both = [(n, q) for n, q in rows if n["reached"] and q["reached"]]
    ev = statistics.mean(q["eval_s"] for _, q in rows) / statistics.mean(
        n["eval_s"] for n, _ in rows)
    print(f"\nmean evaluation time ratio QuTiP / nmrc: {ev:.1f}x")
    if both:
        w = sum(q["wall_s"] for _, q in both) / sum(n["wall_s"] for n, _ in both)
        print(f"wall time to F >= 0.995 over the {len(both)} seed(s) both reached: "
              f"QuTiP / nmrc = {w:.1f}x")
    print(f"binding overhead per call: {o['overhead_us']:.1f} us (a 1-step propagation takes "
          f"{o['propagate_1_step_us']:.1f} us from Python, {o['cxx_per_step_us']:.2f} us of it "
          f"per step in C++; a trivial property read {o['trivial_property_us']:.2f} us)")


if __name__ == "__main__":
    main()
