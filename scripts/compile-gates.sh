#!/bin/bash
# Recompiles the paper's gates (sequences/gates/*.yaml) with build/cli/nmrc, one program after
# the other so that the timings are clean, and refreshes sequences/gates/compiled/: the pulses,
# each program's report (.json, .txt) and its wall/CPU time (.time). With --relaxation it also
# validates every pulse with T1/T2 relaxation (slow: minutes) into reports/relaxation.*.
# Usage: scripts/compile-gates.sh [--relaxation] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
relax=0
threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --relaxation) relax=1 ;;
    --threads) threads="$2"; shift ;;
    *) echo "compile-gates.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
nmrc=build/cli/nmrc
dest=sequences/gates/compiled
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$dest/reports"
for program in sequences/gates/*.yaml; do
  name=$(basename "$program" .yaml)
  out="$scratch/$name"
  /usr/bin/time -f "%e s wall %U s user" -o "$scratch/$name.time" \
    "$nmrc" compile "$program" --out "$out" --threads "$threads" --quiet
  cp "$out"/*.json "$dest/"
  mv "$dest/report.json" "$dest/reports/$name.json"
  cp "$out/report.txt" "$dest/reports/$name.txt"
  cp "$scratch/$name.time" "$dest/reports/$name.time"
  echo "$name: $(cat "$scratch/$name.time")"
done
if [ "$relax" = 1 ]; then
  "$nmrc" validate "$dest"/*.json --molecule molecules/crotonic_acid.yaml --relaxation \
    --json "$dest/reports/relaxation.json" >"$dest/reports/relaxation.txt"
fi
