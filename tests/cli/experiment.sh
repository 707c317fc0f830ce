# nmrc experiment: an ideal-gates program runs and writes its files; bad programs fail with one
# located line, exit 2, and write nothing; --no-compile refuses a missing pulse.
source "$(dirname "$0")/lib.bash"
HEAD="format: nmrc-experiment/1
molecule: $SRC/molecules/crotonic_acid.yaml
theory: $SRC/sequences/heat_flow/fig3.yaml
readout: $SRC/sequences/readout/paper17_completed.yaml
compiled: $WORK/compiled"
IDEAL="imperfections: {relaxation: true, b1_ensemble: false, compiled_gates: false, noise: true, readout: false}
acquisition: {snr: 300, repeats: 2}
error_budget: false"

printf '%s\n' "$HEAD" "$IDEAL" "measure: [1, 3]" "cases:" "  - {run: c_minus_0.5}" >"$WORK/ok.yaml"
expect 0 'c_minus_0.5 +S3' experiment "$WORK/ok.yaml" --out "$WORK/ok" --cache-dir "$WORK/cache" --quiet
for f in summary.json ok.png ok.svg c_minus_0.5/measurements.csv c_minus_0.5/summary.json \
         c_minus_0.5/rho_m3.json c_minus_0.5/rho_system_m1.json c_minus_0.5/experiment.png; do
  [ -s "$WORK/ok/$f" ] || { echo "FAIL: ok/$f missing"; FAILS=$((FAILS + 1)); }
done
grep -q '"measured_delta_energy"' "$WORK/ok/summary.json" || { echo "FAIL: no measured_delta_energy"; FAILS=$((FAILS + 1)); }
# the pair of runs per collision: increments with both error parts, the bath's, verdicts, and a
# measured collision-0 row first
csv="$WORK/ok/c_minus_0.5/measurements.csv"
for col in dE_S1_collision_ideal dE_S1_collision dE_S1_collision_std dE_S1_collision_sys \
           direction_S3 E_S2_without_contact dE_R_collision pps_scale heat_sys AT_S1_sys; do
  head -1 "$csv" | tr ',' '\n' | grep -qx "$col" || { echo "FAIL: measurements.csv has no $col"; FAILS=$((FAILS + 1)); }
done
[ "$(sed -n 2p "$csv" | cut -d, -f1)" = 0 ] || { echo "FAIL: no collision-0 row"; FAILS=$((FAILS + 1)); }
[ "$(wc -l <"$csv")" = 4 ] || { echo "FAIL: measurements.csv: want collisions 0, 1, 3"; FAILS=$((FAILS + 1)); }
grep -q '"resolved_right"' "$WORK/ok/summary.json" || { echo "FAIL: no verdict counts"; FAILS=$((FAILS + 1)); }
# resume: the finished case is kept (same summary, no new work)
before=$(stat -c %Y "$WORK/ok/c_minus_0.5/summary.json")
expect 0 'c_minus_0.5' experiment "$WORK/ok.yaml" --out "$WORK/ok" --cache-dir "$WORK/cache" --quiet
[ "$(stat -c %Y "$WORK/ok/c_minus_0.5/summary.json")" = "$before" ] || { echo "FAIL: resumed case was rerun"; FAILS=$((FAILS + 1)); }
# --threads: the same numbers on one thread (channels built again in a fresh cache); 0 refused
expect 0 'c_minus_0.5' experiment "$WORK/ok.yaml" --out "$WORK/ok1" --cache-dir "$WORK/cache1" --quiet --threads 1
cmp -s "$WORK/ok/c_minus_0.5/measurements.csv" "$WORK/ok1/c_minus_0.5/measurements.csv" || { echo "FAIL: --threads 1 changed measurements.csv"; FAILS=$((FAILS + 1)); }
rejects "$WORK/out_t0" '^--threads = 0: must be between 1 and 256$' experiment "$WORK/ok.yaml" --out "$WORK/out_t0" --threads 0 --quiet

# bad NAME TEXT REGEX: located error, exit 2, no output directory
bad() {
  printf '%s\n' "$2" >"$WORK/$1.yaml"
  rejects "$WORK/out_$1" "$3" experiment "$WORK/$1.yaml" --out "$WORK/out_$1" --quiet
}
bad incomplete "${HEAD/paper17_completed/paper17}
measure: [1]
cases: [{run: c_0}]" '^.*incomplete.yaml:4:[0-9]+: readout = .*readout set is incomplete'
bad unknown_spin "$HEAD
measure: [1]
cases: [{run: c_0, spins: {S2: C7}}]" '^.*unknown_spin.yaml:[0-9]+:[0-9]+: .*S2 -> C7: unknown spin or role'
bad unknown_role "$HEAD
measure: [1]
cases: [{run: c_0, spins: {R: Q}}]" 'no bath spin'
printf '%s\n' "format: nmrc-theory/1" "name: big" "runs:" "  - name: big" "    subsystems:" \
  "      - {name: S1, temperature: 1.0}" "      - {name: S2, temperature: 1.0}" \
  "    bath_temperature: 0.9" "    g: 20" "    tau: 0.01" "    collisions: 10" "    coherences: [{pair: all, c: 3.0}]" >"$WORK/big.yaml"
bad not_positive "$HEAD
measure: [1]
cases: [{run: big, theory: $WORK/big.yaml}]" 'big.yaml:[0-9]+:[0-9]+: .*largest physical lambda'
bad beyond "$HEAD
measure: [1, 101]
cases: [{run: c_0}]" 'measures collision 101'
# compile: {decoupler: ...} (GRAPE with CW 1H decoupling in its model, the compile program's
# reader): a bad value located at its field.
bad decoupler_b2 "$HEAD
compile: {decoupler: {b2_hz: 30000, o2_ppm: 5.0, molecule: $SRC/molecules/crotonic_acid_7.yaml}}
measure: [1]
cases: [{run: c_0}]" '^.*decoupler_b2.yaml:[0-9]+:[0-9]+: compile.decoupler.b2_hz = 30000: must be in \(0, 25000\] Hz'
# --no-compile with no shipped pulses: refused before anything is written
printf '%s\n' "$HEAD" "measure: [1]" "cases: [{run: c_0}]" >"$WORK/nocompile.yaml"
expect 2 'no compiled pulse for .* --no-compile' experiment "$WORK/nocompile.yaml" --out "$WORK/out_nc" --no-compile --quiet --cache-dir "$WORK/cache"
[ ! -e "$WORK/out_nc" ] || { echo "FAIL: --no-compile wrote output"; FAILS=$((FAILS + 1)); }
finish
