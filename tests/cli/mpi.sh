# mpirun -n 2 and -n 3 (docs/mpi.md): a GRAPE compile shared by the ranks writes pulse files
# byte-identical to one process's. Usage: mpi.sh NMRC SRC MPIRUN (MPIRUN empty: nmrc was built
# without MPI; the test is skipped with exit 77).
source "$(dirname "$0")/lib.bash"
MPIRUN="${3:-}"
if [ -z "$MPIRUN" ]; then
  echo "skipped: nmrc was built without MPI (NMRC_MPI=OFF or no MPI found; docs/mpi.md)"
  exit 77
fi
# Root (containers, CI) must be allowed explicitly by Open MPI.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Five B1 members and two offsets (10 members: 2 ranks take 5 each, 3 take 4, 3, 3), the coarse
# and quadrature stages GRAPE chooses itself; the second gate asks for more than 30 iterations
# give, so both its starts run to their end and miss (exit 1: the best of two starts is kept).
cat >"$WORK/c.yaml" <<EOT
molecule: $SRC/molecules/crotonic_acid.yaml
compile: {duration_s: 0.002, steps: 60, starts: 2, seed: 3, fidelity_target: 0.995,
          ensemble: {b1_scale: [0.97, 0.985, 1.0, 1.015, 1.03],
          offset_hz: [0, 20]}}
elements:
  - gate: {name: ry_c4, type: rotation, spins: [C4], angle_deg: 90, axis: y}
  - gate: {name: rx_c1, type: rotation, spins: [C1], angle_deg: 180, axis: x,
           compile: {fidelity_target: 0.99999, max_iterations: 30}}
EOT
expect 1 'rx_c1.*below target' compile "$WORK/c.yaml" --out "$WORK/one" --no-cache --no-plots
same() {
  if cmp -s "$1" "$2"; then echo "ok: $(basename "$1") identical"; else
    echo "FAIL: $1 and $2 differ"; FAILS=$((FAILS + 1)); fi
}
for n in 2 3; do
  if "$MPIRUN" --oversubscribe -n "$n" "$NMRC" compile "$WORK/c.yaml" --out "$WORK/n$n" \
      --no-cache --no-plots --threads 1 >"$WORK/out$n" 2>"$WORK/err$n"; then rc=0; else rc=$?; fi
  if [ "$rc" = 1 ]; then echo "ok: mpirun -n $n nmrc compile (exit 1: rx_c1 missed, as alone)"
  else echo "FAIL: mpirun -n $n nmrc compile exited $rc"; head -5 "$WORK/err$n"; FAILS=$((FAILS + 1))
  fi
  for g in ry_c4 rx_c1; do same "$WORK/one/$g.json" "$WORK/n$n/$g.json"; done
  # Rank 0 alone prints: one line per gate's result, not n.
  c=$(grep -c '^ry_c4: ' "$WORK/out$n" || true)
  [ "$c" = 1 ] && echo "ok: one report line with $n ranks" ||
    { echo "FAIL: $c report lines of ry_c4 with $n ranks"; FAILS=$((FAILS + 1)); }
  grep -q "on $n processes" "$WORK/out$n" && echo "ok: the report names $n processes" ||
    { echo "FAIL: the report does not say the work was shared"; FAILS=$((FAILS + 1)); }
done
# The cache under a team: rank 0 reads it and tells the others (a second run is all hits).
"$MPIRUN" --oversubscribe -n 2 "$NMRC" compile "$WORK/c.yaml" --out "$WORK/cached" --no-plots \
  >/dev/null 2>&1
"$MPIRUN" --oversubscribe -n 2 "$NMRC" compile "$WORK/c.yaml" --out "$WORK/cached" --no-plots \
  >"$WORK/outc" 2>&1
[ "$(grep -c 'from cache' "$WORK/outc")" = 2 ] && echo "ok: both gates from rank 0's cache" ||
  { echo "FAIL: a cached run under mpirun recompiled"; cat "$WORK/outc"; FAILS=$((FAILS + 1)); }
same "$WORK/one/ry_c4.json" "$WORK/cached/ry_c4.json"
# Bad input under mpirun -n 2: every rank finds it, rank 0 alone says it (once), exit 2, no
# output folder.
sed 's/steps: 60/steps: -5/' "$WORK/c.yaml" >"$WORK/bad.yaml"
"$MPIRUN" --oversubscribe -n 2 "$NMRC" compile "$WORK/bad.yaml" --out "$WORK/bad" --no-plots \
  >/dev/null 2>"$WORK/errb"
rc=$?
n=$(grep -c 'bad.yaml:.*steps' "$WORK/errb" || true)
[ "$rc" = 2 ] && [ "$n" = 1 ] && [ ! -e "$WORK/bad" ] && echo "ok: bad input under mpirun: one line, exit 2" ||
  { echo "FAIL: bad input under mpirun: exit $rc, $n error lines"; cat "$WORK/errb"; FAILS=$((FAILS + 1)); }
# A command that does not share its work refuses to run under mpirun -n 2 (exit 2, one line).
"$MPIRUN" --oversubscribe -n 2 "$NMRC" molecule show "$SRC/molecules/crotonic_acid.yaml" \
  >"$WORK/outm" 2>"$WORK/errm"
rc=$?
[ "$rc" = 2 ] && grep -q 'runs as one process' "$WORK/errm" &&
  echo "ok: nmrc molecule under mpirun -n 2 refuses" ||
  { echo "FAIL: nmrc molecule under mpirun -n 2: exit $rc"; cat "$WORK/errm"; FAILS=$((FAILS + 1)); }
finish
