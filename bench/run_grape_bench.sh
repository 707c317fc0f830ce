#!/bin/bash
# GRAPE speed, nmrc vs QuTiP 4.7, in one run on the same problem (see bench/grape_bench.cpp and
# bench/qutip_grape.py): per-evaluation time and wall time to F >= 0.995, per seed, as ratios.
# Usage: bench/run_grape_bench.sh BUILD_DIR [seeds...]   (prints a markdown table)
set -eu
build="$1"; shift
seeds="${*:-1 2 3}"
src="$(cd "$(dirname "$0")/.." && pwd)"
nm=$("$build/bench/grape_bench" "$src/molecules/crotonic_acid.yaml" $seeds)
echo "$nm" >&2
qt=$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 "$src/bench/qutip_grape.py" $seeds)
echo "$qt" >&2
/usr/bin/python3 - "$nm" "$qt" <<'PY'
import json, sys
nm = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
qt = [json.loads(l) for l in sys.argv[2].splitlines() if l.strip()]
print("| seed | eval CPU ms nmrc / QuTiP | ratio | eval wall ms nmrc / QuTiP | ratio | to 0.995 CPU s nmrc / QuTiP | ratio | wall s nmrc / QuTiP | ratio | F, evaluations nmrc / QuTiP |")
print("|---|---|---|---|---|---|---|---|---|---|")
def mark(x): return "" if x["reached"] else " (not reached)"
for a, b in zip(nm, qt):
    print(f"| {a['seed']} | {a['eval_cpu_s']*1e3:.2f} / {b['eval_cpu_s']*1e3:.1f} | {b['eval_cpu_s']/a['eval_cpu_s']:.1f}x | "
          f"{a['eval_s']*1e3:.2f} / {b['eval_s']*1e3:.1f} | {b['eval_s']/a['eval_s']:.1f}x | "
          f"{a['cpu_s']:.2f} / {b['cpu_s']:.1f} | {b['cpu_s']/a['cpu_s']:.1f}x | "
          f"{a['wall_s']:.2f} / {b['wall_s']:.1f} | {b['wall_s']/a['wall_s']:.1f}x | "
          f"{a['fidelity']:.4f}, {a['evaluations']}{mark(a)} / {b['fidelity']:.4f}, {b['evaluations']}{mark(b)} |")
# Means over the seeds where both engines reached the target (a start trapped below it has no
# time to target); the per-evaluation means are over every seed.
both = [(a, b) for a, b in zip(nm, qt) if a["reached"] and b["reached"]]
def mean(xs, k): return sum(x[k] for x in xs) / len(xs)
na, qa = [a for a, _ in both], [b for _, b in both]
print(f"\nmean over seeds: evaluation CPU {mean(nm,'eval_cpu_s')*1e3:.2f} ms vs {mean(qt,'eval_cpu_s')*1e3:.1f} ms "
      f"({mean(qt,'eval_cpu_s')/mean(nm,'eval_cpu_s'):.1f}x), evaluation wall {mean(nm,'eval_s')*1e3:.2f} ms vs "
      f"{mean(qt,'eval_s')*1e3:.1f} ms ({mean(qt,'eval_s')/mean(nm,'eval_s'):.1f}x)")
if both:
    print(f"mean over the {len(both)} seeds both reached: evaluations {mean(na,'evaluations'):.0f} vs {mean(qa,'evaluations'):.0f}; "
          f"CPU to target {mean(na,'cpu_s'):.2f} s vs {mean(qa,'cpu_s'):.1f} s ({mean(qa,'cpu_s')/mean(na,'cpu_s'):.1f}x); "
          f"wall to target {mean(na,'wall_s'):.2f} s vs {mean(qa,'wall_s'):.1f} s ({mean(qa,'wall_s')/mean(na,'wall_s'):.1f}x)")
PY
