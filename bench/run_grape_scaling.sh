#!/bin/bash
# GRAPE cost per evaluation against the number of spins, nmrc vs QuTiP 4.7 on the same matrices
# (grape_bench --dump-problem, bench/qutip_grape.py --problem), one thread each, as ratios:
# 4 spins = molecules/crotonic_acid.yaml (13C only), 5-7 = molecules/crotonic_acid_{5,6,7}.yaml
# (13C and 1H channels). Problem: the C1-C4 partial swap (theta 0.2, identity on every other
# spin), 4 ms in 200 steps, +-10 kHz on every channel, nominal B1. QuTiP's cost per evaluation
# is its CPU time over its fidelity calls in a run cut after --max-iter iterations.
# Usage: bench/run_grape_scaling.sh BUILD_DIR [spins...]   (default 4 5 6 7; a markdown table)
set -eu
build="$1"; shift
sizes="${*:-4 5 6 7}"
src="$(cd "$(dirname "$0")/.." && pwd)"
target='{"gate": "partial_swap", "spins": ["C1", "C4"], "theta_rad": 0.2}'
echo "| spins | dimension | channels | nmrc CPU ms / evaluation | QuTiP CPU ms / evaluation | ratio |"
echo "|---|---|---|---|---|---|"
for n in $sizes; do
  if [ "$n" = 4 ]; then mol="$src/molecules/crotonic_acid.yaml"; ch=1; else mol="$src/molecules/crotonic_acid_$n.yaml"; ch=2; fi
  reps=$(( n >= 7 ? 2 : (n >= 6 ? 5 : 20) ))
  iters=$(( n >= 7 ? 1 : 3 ))
  problem=$(mktemp /tmp/grape_problem.XXXXXX.json)
  nm=$("$build/bench/grape_bench" "$mol" --target "$target" --duration 0.004 --steps 200 \
         --reps "$reps" --eval-only --dump-problem "$problem" 1)
  qt=$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 "$src/bench/qutip_grape.py" \
         --problem "$problem" --max-iter "$iters" 1)
  rm -f "$problem"
  /usr/bin/python3 - "$nm" "$qt" "$n" "$ch" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"| {sys.argv[3]} | {a['dim']} | {sys.argv[4]} | {a['eval_cpu_s']*1e3:.1f} | {b['eval_cpu_s']*1e3:.0f} | {b['eval_cpu_s']/a['eval_cpu_s']:.1f}x |")
PY
done
