#!/usr/bin/env bash
# Builds nmrc's libFuzzer targets (fuzz/, -DNMRC_FUZZ=ON with clang) and runs each for SECONDS,
# one after the other, seeded with the valid files of the tree. A crash, a leak, a sanitizer
# report, a timeout (> 10 s per input) or an out-of-memory (> 2 GB) saves its reproducer in
# fuzz/crashes/ and makes the script fail. fuzz/README.md explains how to reproduce a finding.
#
# Usage: scripts/fuzz.sh SECONDS [TARGET...]
# Environment: NMRC_FUZZ_BUILD (build folder, default build-fuzz), NMRC_FUZZ_CONFIGURE=0 (use that
# folder as configured), CLANG_CXX (default clang++-14,
# then clang++), NMRC_FUZZ_JOBS (build parallelism and targets fuzzed at once, default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_molecule fuzz_readout fuzz_pulse fuzz_matrix
  fuzz_bruker_shape fuzz_bruker_dataset fuzz_program)
build=${NMRC_FUZZ_BUILD:-$here/build-fuzz}
cxx=${CLANG_CXX:-$(command -v clang++-14 || command -v clang++)}
[ -n "$cxx" ] || { echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-dev)" >&2; exit 2; }

# -O0: the loaders are cheap, and unoptimised sanitizer builds of the Eigen-heavy layers compile
# several times faster on a small machine.
# NMRC_FUZZ_CONFIGURE=0: use $build as it is configured (CI's sanitized build, scripts/test.sh,
# is configured with -DNMRC_FUZZ=ON and has built the targets already).
if [ "${NMRC_FUZZ_CONFIGURE:-1}" = 1 ]; then
  cmake -S "$here" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -gline-tables-only" \
    -DNMRC_FUZZ=ON -DNMRC_NATIVE=OFF -DNMRC_BUILD_TESTS=OFF -DNMRC_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j"${NMRC_FUZZ_JOBS:-2}" --target "${targets[@]}"

# Seeds: the valid inputs of the tree, copied (or, for the program target, prefixed with the
# byte that selects the program kind; fuzz_program.cpp).
seeds=$build/seeds
rm -rf "$seeds"
seed() {  # seed TARGET FILE...: copies named by their path in the tree (basenames repeat)
  mkdir -p "$seeds/$1"
  local f
  for f in "${@:2}"; do cp "$f" "$seeds/$1/$(echo "${f#"$here"/}" | tr / _)"; done
}
seed fuzz_molecule "$here"/molecules/*.yaml
seed fuzz_readout "$here"/sequences/readout/*.yaml
seed fuzz_pulse "$here"/sequences/*/compiled/*.json
seed fuzz_matrix "$here"/sequences/preparation/*.json
seed fuzz_bruker_shape "$here"/tests/data/bruker/*.shape
mkdir -p "$seeds/fuzz_bruker_dataset" "$seeds/fuzz_program"
for d in "$here"/tests/data/bruker/*_expno; do
  cat "$d/acqus" "$d/fid" >"$seeds/fuzz_bruker_dataset/$(basename "$d")"
done
kinds=(gates demos preparation heat_flow tomography experiment)
for i in "${!kinds[@]}"; do
  for f in "$here/sequences/${kinds[$i]}"/*.yaml; do
    { printf "\\x$(printf %02x "$i")"; cat "$f"; } >"$seeds/fuzz_program/${kinds[$i]}_$(basename "$f")"
  done
done

mkdir -p "$here/fuzz/crashes"
# fuzz_one TARGET: runs one target into its log; the exit status says whether it found something.
fuzz_one() {
  local t=$1 corpus=$build/corpus/$1
  mkdir -p "$corpus"
  "$build/fuzz/$t" "$corpus" "$seeds/$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$here/fuzz/crashes/$t-" 2>"$build/$t.log"
}
# report TARGET STATUS: what a run did, and its finding if it had one.
report() {
  local t=$1
  echo "== $t: ${seconds} s"
  if [ "$2" != 0 ]; then
    echo "FAIL: $t found a problem (reproducer in fuzz/crashes/; log $build/$t.log):"
    grep -E "ERROR|SUMMARY|Test unit written" "$build/$t.log" | head -5
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/$t.log" | tr '\n' ' '
  echo
}
# NMRC_FUZZ_JOBS targets run at once (one per core); reports come in the targets' order.
jobs_max=${NMRC_FUZZ_JOBS:-2}
failed=0
for ((i = 0; i < ${#targets[@]}; i += jobs_max)); do
  batch=("${targets[@]:i:jobs_max}")
  pids=()
  for t in "${batch[@]}"; do
    fuzz_one "$t" &
    pids+=($!)
  done
  for k in "${!batch[@]}"; do
    status=0
    wait "${pids[$k]}" || status=$?
    report "${batch[$k]}" "$status"
    [ "$status" = 0 ] || failed=1
  done
done
exit $failed
