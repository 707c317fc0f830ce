#!/bin/bash
# GRAPE speed, nmrc vs QuTiP 4.7, in one run on the same problem: per-evaluation time and time to
# the fidelity target, per seed, as ratios (a markdown table on stdout). grape_bench writes its
# GRAPE problem (drift, controls, target, steps) to a file that bench/qutip_grape.py reads, so
# both engines optimise the same matrices. One thread each, nominal B1.
# Usage: bench/run_grape_bench.sh BUILD_DIR [--molecule FILE] [--target JSON] [--duration S]
#          [--steps N] [--max-rf HZ] [--fidelity F] [--coarse F (nmrc only)] [seeds...]
# Default: the C1-C4 partial swap on molecules/crotonic_acid.yaml, 20 ms in 1000 steps, +-10 kHz
# (bench/results/grape.md); the scaling runs (bench/results/grape_scaling.md) pass the others.
set -eu
build="$1"; shift
src="$(cd "$(dirname "$0")/.." && pwd)"
molecule="$src/molecules/crotonic_acid.yaml"
args=() seeds=() fidelity=0.995
while [ $# -gt 0 ]; do
  case "$1" in
    --molecule) molecule="$2"; shift 2 ;;
    --fidelity) fidelity="$2"; args+=("$1" "$2"); shift 2 ;;
    --target|--duration|--steps|--max-rf|--coarse) args+=("$1" "$2"); shift 2 ;;
    *) seeds+=("$1"); shift ;;
  esac
done
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
problem=$(mktemp /tmp/grape_problem.XXXXXX.json)
trap 'rm -f "$problem"' EXIT
nm=$("$build/bench/grape_bench" "$molecule" "${args[@]}" --dump-problem "$problem" "${seeds[@]}")
echo "$nm" >&2
qt=$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 "$src/bench/qutip_grape.py" \
       --problem "$problem" --fidelity "$fidelity" "${seeds[@]}")
echo "$qt" >&2
/usr/bin/python3 - "$nm" "$qt" "$fidelity" <<'PY'
import json, sys
nm = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
qt = [json.loads(l) for l in sys.argv[2].splitlines() if l.strip()]
fid = sys.argv[3]
print(f"| seed | eval CPU ms nmrc / QuTiP | ratio | eval wall ms nmrc / QuTiP | ratio | to {fid} CPU s nmrc / QuTiP | ratio | wall s nmrc / QuTiP | ratio | F, evaluations nmrc / QuTiP |")
print("|---|---|---|---|---|---|---|---|---|---|")
def mark(x): return "" if x["reached"] else " (not reached)"
for a, b in zip(nm, qt):
    print(f"| {a['seed']} | {a['eval_cpu_s']*1e3:.2f} / {b['eval_cpu_s']*1e3:.1f} | {b['eval_cpu_s']/a['eval_cpu_s']:.1f}x | "
          f"{a['eval_s']*1e3:.2f} / {b['eval_s']*1e3:.1f} | {b['eval_s']/a['eval_s']:.1f}x | "
          f"{a['cpu_s']:.2f} / {b['cpu_s']:.1f} | {b['cpu_s']/max(a['cpu_s'],1e-9):.1f}x | "
          f"{a['wall_s']:.2f} / {b['wall_s']:.1f} | {b['wall_s']/max(a['wall_s'],1e-9):.1f}x | "
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
