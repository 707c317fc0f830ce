# mpirun -n 2 and -n 3 (docs/mpi.md): a GRAPE compile shared by the ranks writes pulse files
# byte-identical to one process's; an experiment's pairs of runs shared by the ranks write the
# files one process writes (the same bytes but for the timings and the output folder's name).
# Usage: mpi.sh NMRC SRC MPIRUN (MPIRUN empty: nmrc was built without MPI; the test is skipped
# with exit 77).
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
# Three gates: under mpirun they are dealt to groups of ranks (2 ranks: gates 1 and 3 on rank 0,
# gate 2 on rank 1; 3 ranks: one each); one gate alone (--only) is shared by every rank.
cat >"$WORK/c.yaml" <<EOT
molecule: $SRC/molecules/crotonic_acid.yaml
compile: {duration_s: 0.002, steps: 60, starts: 2, seed: 3, fidelity_target: 0.995,
          ensemble: {b1_scale: [0.97, 0.985, 1.0, 1.015, 1.03],
          offset_hz: [0, 20]}}
elements:
  - gate: {name: ry_c4, type: rotation, spins: [C4], angle_deg: 90, axis: y}
  - gate: {name: rx_c1, type: rotation, spins: [C1], angle_deg: 180, axis: x,
           compile: {fidelity_target: 0.99999, max_iterations: 30}}
  - gate: {name: ry_c2, type: rotation, spins: [C2], angle_deg: 90, axis: y}
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
  for g in ry_c4 rx_c1 ry_c2; do same "$WORK/one/$g.json" "$WORK/n$n/$g.json"; done
  # mpirun ends the other ranks (SIGTERM) when rank 0 exits 1 first: they stop quietly.
  ! grep -q 'stopped by SIG' "$WORK/err$n" && echo "ok: no rank reports a stop" ||
    { echo "FAIL: a rank reports a stop"; cat "$WORK/err$n"; FAILS=$((FAILS + 1)); }
  # Rank 0 alone prints, in the program's order: one line per gate's result, not n.
  c=$(grep -c '^ry_c4: ' "$WORK/out$n" || true)
  [ "$c" = 1 ] && echo "ok: one report line with $n ranks" ||
    { echo "FAIL: $c report lines of ry_c4 with $n ranks"; FAILS=$((FAILS + 1)); }
  order=$(grep -o '^r[xy]_c[0-9]:' "$WORK/out$n" | tr -d '\n')
  [ "$order" = "ry_c4:rx_c1:ry_c2:" ] && echo "ok: the gates reported in order" ||
    { echo "FAIL: gates reported as $order"; FAILS=$((FAILS + 1)); }
  # One gate: its members shared by the n ranks.
  "$MPIRUN" --oversubscribe -n "$n" "$NMRC" compile "$WORK/c.yaml" --only ry_c4 \
    --out "$WORK/m$n" --no-cache --no-plots --threads 1 >"$WORK/outm$n" 2>&1
  same "$WORK/one/ry_c4.json" "$WORK/m$n/ry_c4.json"
  grep -q "on $n processes" "$WORK/outm$n" && echo "ok: the report names $n processes" ||
    { echo "FAIL: the report does not say the work was shared"; FAILS=$((FAILS + 1)); }
done
# The cache under a team: rank 0 reads it and tells the others (a second run is all hits).
"$MPIRUN" --oversubscribe -n 2 "$NMRC" compile "$WORK/c.yaml" --out "$WORK/cached" --no-plots \
  >/dev/null 2>&1
"$MPIRUN" --oversubscribe -n 2 "$NMRC" compile "$WORK/c.yaml" --out "$WORK/cached" --no-plots \
  >"$WORK/outc" 2>&1
[ "$(grep -c 'from cache' "$WORK/outc")" = 3 ] && echo "ok: every gate from rank 0's cache" ||
  { echo "FAIL: a cached run under mpirun recompiled"; cat "$WORK/outc"; FAILS=$((FAILS + 1)); }
same "$WORK/one/ry_c4.json" "$WORK/cached/ry_c4.json"
same "$WORK/one/ry_c2.json" "$WORK/cached/ry_c2.json"
# Two gates of one warm-start family (same target, steps and step; other options): alone, the
# second starts warm from the first's cached pulse; under mpirun it waits for the first (a later
# wave) and so starts from the same pulse: identical files.
cat >"$WORK/w.yaml" <<EOT
molecule: $SRC/molecules/crotonic_acid.yaml
compile: {duration_s: 0.002, steps: 60, starts: 1, seed: 3, fidelity_target: 0.99}
elements:
  - gate: {name: ry_a, type: rotation, spins: [C4], angle_deg: 90, axis: y}
  - gate: {name: ry_b, type: rotation, spins: [C4], angle_deg: 90, axis: y,
           compile: {fidelity_target: 0.995, seed: 5}}
  - gate: {name: rx_c, type: rotation, spins: [C1], angle_deg: 90, axis: x}
EOT
"$NMRC" compile "$WORK/w.yaml" --out "$WORK/w1" --no-plots --threads 1 >"$WORK/outw1" 2>&1
"$MPIRUN" --oversubscribe -n 2 "$NMRC" compile "$WORK/w.yaml" --out "$WORK/w2" --no-plots \
  --threads 1 >"$WORK/outw2" 2>&1
grep -q '^ry_b: .*start 0 warm from cache entry' "$WORK/outw2" &&
  echo "ok: under mpirun the second gate of a family starts warm from the first" ||
  { echo "FAIL: no warm start under mpirun"; cat "$WORK/outw2"; FAILS=$((FAILS + 1)); }
for g in ry_a ry_b rx_c; do same "$WORK/w1/$g.json" "$WORK/w2/$g.json"; done
# Starts dealt to groups of ranks: one B1 member, so 2 ranks run starts 0, 2 and 1, 3 side by
# side, 3 ranks 0, 3 / 1 / 2. Seed 1: every start misses (the best F_min kept); seed 2: start 0
# reaches; seed 3: start 2 reaches after 0 and 1 missed (they run to their end on their groups,
# the later starts stop): the chosen start and pulse are one process's.
for seed in 1 2 3; do
  cat >"$WORK/s$seed.yaml" <<EOT
molecule: $SRC/molecules/crotonic_acid.yaml
compile: {duration_s: 0.002, steps: 60, starts: 4, seed: $seed, fidelity_target: 0.999,
          max_iterations: 40, ensemble: {b1_scale: [1.0]}}
elements:
  - gate: {name: rx_c1, type: rotation, spins: [C1], angle_deg: 90, axis: x}
EOT
  "$NMRC" compile "$WORK/s$seed.yaml" --only rx_c1 --out "$WORK/s${seed}_1" --no-cache --no-plots \
    --threads 1 >"$WORK/outs${seed}_1" 2>&1
  for n in 2 3; do
    "$MPIRUN" --oversubscribe -n "$n" "$NMRC" compile "$WORK/s$seed.yaml" --only rx_c1 \
      --out "$WORK/s${seed}_$n" --no-cache --no-plots --threads 1 >"$WORK/outs${seed}_$n" 2>&1
    same "$WORK/s${seed}_1/rx_c1.json" "$WORK/s${seed}_$n/rx_c1.json"
    a=$(grep -o '(start [0-9]*), [0-9]* evaluations' "$WORK/outs${seed}_1" || grep -o '[0-9]* evaluations' "$WORK/outs${seed}_1")
    b=$(grep -o '(start [0-9]*), [0-9]* evaluations' "$WORK/outs${seed}_$n" || grep -o '[0-9]* evaluations' "$WORK/outs${seed}_$n")
    [ -n "$a" ] && [ "$a" = "$b" ] && echo "ok: seed $seed on $n ranks: $b, as alone" ||
      { echo "FAIL: seed $seed on $n ranks: '$b' where alone '$a'"; FAILS=$((FAILS + 1)); }
  done
done
grep -q '(start 2)' "$WORK/outs3_1" && echo "ok: seed 3's start 2 reached alone" ||
  { echo "FAIL: seed 3 no longer reaches on start 2 (choose another seed)"; FAILS=$((FAILS + 1)); }
# Time slices across ranks: one B1 member and one start (no other start takes the spare ranks),
# so the ranks share the member's two time slices: 2 ranks one slice each, 3 ranks one each on
# ranks 1 and 2 (rank 0 combines them too). The same pulse and evaluations as one process.
cat >"$WORK/t.yaml" <<EOT
molecule: $SRC/molecules/crotonic_acid.yaml
compile: {duration_s: 0.002, steps: 60, starts: 1, seed: 3, fidelity_target: 0.999,
          max_iterations: 40, ensemble: {b1_scale: [1.0]}}
elements:
  - gate: {name: rx_c1, type: rotation, spins: [C1], angle_deg: 90, axis: x}
EOT
"$NMRC" compile "$WORK/t.yaml" --out "$WORK/t_1" --no-cache --no-plots --threads 1 \
  >"$WORK/outt_1" 2>&1
for n in 2 3; do
  "$MPIRUN" --oversubscribe -n "$n" "$NMRC" compile "$WORK/t.yaml" --out "$WORK/t_$n" \
    --no-cache --no-plots --threads 1 >"$WORK/outt_$n" 2>&1
  same "$WORK/t_1/rx_c1.json" "$WORK/t_$n/rx_c1.json"
  a=$(grep -o '[0-9]* evaluations' "$WORK/outt_1" | head -1)
  b=$(grep -o '[0-9]* evaluations' "$WORK/outt_$n" | head -1)
  [ -n "$a" ] && [ "$a" = "$b" ] && grep -q "on $n processes" "$WORK/outt_$n" &&
    echo "ok: one member's time slices on $n ranks: $b, as alone" ||
    { echo "FAIL: slices on $n ranks: '$b' where alone '$a'"; cat "$WORK/outt_$n"; FAILS=$((FAILS + 1)); }
done
# A gate that fails (rank 0 cannot write rx_c1's file: a folder there) stops the job at that
# gate as alone: ry_c4 written, nothing after, one message, exit 2, no rank left waiting.
mkdir -p "$WORK/fail/rx_c1.json"
timeout 300 "$MPIRUN" --oversubscribe -n 3 "$NMRC" compile "$WORK/c.yaml" --out "$WORK/fail" \
  --no-cache --no-plots --threads 1 >/dev/null 2>"$WORK/errf"
rc=$?
n=$(grep -c 'rx_c1.json: is a folder' "$WORK/errf" || true)
[ "$rc" = 2 ] && [ "$n" = 1 ] && [ -e "$WORK/fail/ry_c4.json" ] && [ ! -e "$WORK/fail/ry_c2.json" ] &&
  echo "ok: a failing gate under mpirun -n 3: one line, exit 2" ||
  { echo "FAIL: a failing gate under mpirun: exit $rc, $n error lines"; cat "$WORK/errf"; FAILS=$((FAILS + 1)); }
# Bad input under mpirun -n 2: every rank finds it, rank 0 alone says it (once), exit 2, no
# output folder.
sed 's/steps: 60/steps: -5/' "$WORK/c.yaml" >"$WORK/bad.yaml"
"$MPIRUN" --oversubscribe -n 2 "$NMRC" compile "$WORK/bad.yaml" --out "$WORK/bad" --no-plots \
  >/dev/null 2>"$WORK/errb"
rc=$?
n=$(grep -c 'bad.yaml:.*steps' "$WORK/errb" || true)
[ "$rc" = 2 ] && [ "$n" = 1 ] && [ ! -e "$WORK/bad" ] && echo "ok: bad input under mpirun: one line, exit 2" ||
  { echo "FAIL: bad input under mpirun: exit $rc, $n error lines"; cat "$WORK/errb"; FAILS=$((FAILS + 1)); }
# nmrc experiment: the pairs of runs of three cases (collisions 1, 2, 3 each, with the error
# budget's rows) shared by 2 and 3 ranks (pair k on rank k % N), rank 0 assembles and writes.
cat >"$WORK/e.yaml" <<EOT
format: nmrc-experiment/1
molecule: $SRC/molecules/crotonic_acid.yaml
theory: $SRC/sequences/heat_flow/fig3.yaml
readout: $SRC/sequences/readout/paper17_completed.yaml
compiled: $WORK/compiled
imperfections: {relaxation: true, b1_ensemble: false, compiled_gates: false, noise: true, readout: false}
acquisition: {snr: 300, repeats: 2}
error_budget: true
measure: [2, 3]
cases: [{run: c_minus_0.5}, {run: c_0}, {run: c_plus_0.5}]
EOT
"$NMRC" experiment "$WORK/e.yaml" --out "$WORK/e1" --cache-dir "$WORK/ecache" --quiet >"$WORK/eout1" ||
  { echo "FAIL: nmrc experiment alone"; FAILS=$((FAILS + 1)); }
# the files but for the timings ("seconds") and the program summary's figure path (out folder)
same_but_time() {
  if cmp -s <(grep -v '"seconds"\|"figure"' "$1") <(grep -v '"seconds"\|"figure"' "$2"); then
    echo "ok: $(basename "$(dirname "$1")")/$(basename "$1") identical but for timings"; else
    echo "FAIL: $1 and $2 differ"; FAILS=$((FAILS + 1)); fi
}
for n in 2 3; do
  if "$MPIRUN" --oversubscribe -n "$n" "$NMRC" experiment "$WORK/e.yaml" --out "$WORK/e$n" \
      --cache-dir "$WORK/ecache$n" --quiet --threads 1 >"$WORK/eout$n" 2>"$WORK/eerr$n"; then
    echo "ok: mpirun -n $n nmrc experiment"
  else echo "FAIL: mpirun -n $n nmrc experiment exited $?"; head -5 "$WORK/eerr$n"; FAILS=$((FAILS + 1))
  fi
  for c in c_minus_0.5 c_0 c_plus_0.5; do
    for f in measurements.csv rho_m0.json rho_m3.json rho_system_m2.json experiment.svg; do
      same "$WORK/e1/$c/$f" "$WORK/e$n/$c/$f"
    done
    same_but_time "$WORK/e1/$c/summary.json" "$WORK/e$n/$c/summary.json"
  done
  same_but_time "$WORK/e1/summary.json" "$WORK/e$n/summary.json"
  # rank 0 alone prints the table: one line per case and subsystem, as alone
  if diff <(grep -v '^figure:' "$WORK/eout1") <(grep -v '^figure:' "$WORK/eout$n") >/dev/null; then
    echo "ok: the table of $n ranks is one process's"
  else echo "FAIL: the table of $n ranks differs"; FAILS=$((FAILS + 1)); fi
done
# measured re-preparation: each case's pairs are a chain, the case one unit (two cases, 2 ranks)
sed -e 's/^measure:.*/measure: [1, 2]\nrepreparation: measured/' -e 's/^error_budget:.*/error_budget: false/' \
  -e 's/^cases:.*/cases: [{run: c_minus_0.5}, {run: c_plus_0.5}]/' "$WORK/e.yaml" >"$WORK/chain.yaml"
"$NMRC" experiment "$WORK/chain.yaml" --out "$WORK/ch1" --cache-dir "$WORK/ecache" --quiet >/dev/null ||
  { echo "FAIL: nmrc experiment (measured re-preparation) alone"; FAILS=$((FAILS + 1)); }
"$MPIRUN" --oversubscribe -n 2 "$NMRC" experiment "$WORK/chain.yaml" --out "$WORK/ch2" \
  --cache-dir "$WORK/ecache2" --quiet --threads 1 >/dev/null 2>"$WORK/cherr" ||
  { echo "FAIL: mpirun -n 2 nmrc experiment (measured re-preparation)"; head -5 "$WORK/cherr"; FAILS=$((FAILS + 1)); }
for c in c_minus_0.5 c_plus_0.5; do
  same "$WORK/ch1/$c/measurements.csv" "$WORK/ch2/$c/measurements.csv"
  same_but_time "$WORK/ch1/$c/summary.json" "$WORK/ch2/$c/summary.json"
done
# A pair that fails (a U_d missing under --no-compile: case c_minus_0.5's collision 5, its third
# unit, item 5: on rank 1 of 2, rank 2 of 3) stops the run at its case as alone: c_0 written,
# c_minus_0.5 and c_plus_0.5 not, one message, exit 2.
mkdir -p "$WORK/miss"
cp "$SRC"/sequences/experiment/compiled/*.json "$WORK/miss/"
rm "$WORK"/miss/ud_c_minus_0.5_m4*
sed -e "s#^compiled:.*#compiled: $WORK/miss#" -e 's/^measure:.*/measure: [2, 5]/' \
  -e 's/^error_budget:.*/error_budget: false/' -e 's/relaxation: true/relaxation: false/' \
  -e 's/compiled_gates: false/compiled_gates: true/' \
  -e 's/^cases:.*/cases: [{run: c_0}, {run: c_minus_0.5}, {run: c_plus_0.5}]\ncontact: whole_collision\npulses: {rotation: {duration_s: 0.002, steps: 100, fidelity_target: 0.9999}, ud: {duration_s: 0.03, steps: 600, fidelity_target: 0.9999}, pps: {duration_s: 0.008, steps: 160, fidelity_target: 0.9999}}/' \
  "$WORK/e.yaml" >"$WORK/miss.yaml"
"$NMRC" experiment "$WORK/miss.yaml" --out "$WORK/m1" --no-compile --cache-dir "$WORK/ecache" --quiet \
  >/dev/null 2>"$WORK/merr1"
rc1=$?
for n in 2 3; do
  "$MPIRUN" --oversubscribe -n "$n" "$NMRC" experiment "$WORK/miss.yaml" --out "$WORK/m$n" \
    --no-compile --cache-dir "$WORK/ecache$n" --quiet --threads 1 >/dev/null 2>"$WORK/merr$n"
  rc=$?
  lines=$(grep -c 'no compiled pulse for ud_c_minus_0.5_m4' "$WORK/merr$n" || true)
  if [ "$rc" = 2 ] && [ "$lines" = 1 ] && [ -f "$WORK/m$n/c_0/summary.json" ] &&
    [ ! -e "$WORK/m$n/c_minus_0.5" ] && [ ! -e "$WORK/m$n/c_plus_0.5" ]; then
    echo "ok: a failing pair under mpirun -n $n stops at its case (c_0 written, one message)"
  else echo "FAIL: a failing pair under mpirun -n $n: exit $rc, $lines messages"; cat "$WORK/merr$n"
    ls "$WORK/m$n"; FAILS=$((FAILS + 1))
  fi
  same "$WORK/m1/c_0/measurements.csv" "$WORK/m$n/c_0/measurements.csv"
done
[ "$rc1" = 2 ] && [ -f "$WORK/m1/c_0/summary.json" ] && [ ! -e "$WORK/m1/c_minus_0.5" ] ||
  { echo "FAIL: alone, the failing pair's run: exit $rc1"; FAILS=$((FAILS + 1)); }
# resume under mpirun: every case finished, none runs again
before=$(stat -c %Y "$WORK/e2/c_0/summary.json")
"$MPIRUN" --oversubscribe -n 2 "$NMRC" experiment "$WORK/e.yaml" --out "$WORK/e2" \
  --cache-dir "$WORK/ecache2" --quiet >/dev/null 2>&1
[ "$(stat -c %Y "$WORK/e2/c_0/summary.json")" = "$before" ] && echo "ok: resumed under mpirun" ||
  { echo "FAIL: a finished case ran again under mpirun"; FAILS=$((FAILS + 1)); }
# --bruker writes from one process: refused under mpirun -n 2 (one line, exit 2)
"$MPIRUN" --oversubscribe -n 2 "$NMRC" experiment "$WORK/e.yaml" --out "$WORK/eb" \
  --bruker "$WORK/bruker" --quiet >/dev/null 2>"$WORK/errbr"
rc=$?
[ "$rc" = 2 ] && [ "$(grep -c -- '--bruker: ' "$WORK/errbr")" = 1 ] &&
  echo "ok: --bruker under mpirun -n 2 refuses" ||
  { echo "FAIL: --bruker under mpirun -n 2: exit $rc"; cat "$WORK/errbr"; FAILS=$((FAILS + 1)); }
# A command that does not share its work refuses to run under mpirun -n 2 (exit 2, one line).
"$MPIRUN" --oversubscribe -n 2 "$NMRC" molecule show "$SRC/molecules/crotonic_acid.yaml" \
  >"$WORK/outm" 2>"$WORK/errm"
rc=$?
[ "$rc" = 2 ] && grep -q 'runs as one process' "$WORK/errm" &&
  echo "ok: nmrc molecule under mpirun -n 2 refuses" ||
  { echo "FAIL: nmrc molecule under mpirun -n 2: exit $rc"; cat "$WORK/errm"; FAILS=$((FAILS + 1)); }
finish
