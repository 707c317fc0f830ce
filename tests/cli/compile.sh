# nmrc compile / validate: a tiny program compiles, validates and is cached; bad programs fail
# with one located line and exit 2; an unreachable target exits 1 with advice.
source "$(dirname "$0")/lib.bash"
MOL="$SRC/molecules/crotonic_acid.yaml"
tiny_compile_program "$WORK/prog.yaml"
echo "  - acquire: {channel: 13C, sw_hz: 20000, td: 256}" >>"$WORK/prog.yaml"
expect 0 'ry_c4: reached_target' compile "$WORK/prog.yaml" --out "$WORK/res" --no-plots
for f in ry_c4.json report.json report.txt; do
  [ -s "$WORK/res/$f" ] || { echo "FAIL: $f not written"; FAILS=$((FAILS + 1)); }
done
grep -q '"format": "nmrc-pulse/1"' "$WORK/res/ry_c4.json" || { echo "FAIL: pulse format"; FAILS=$((FAILS + 1)); }
expect 0 'from cache' compile "$WORK/prog.yaml" --out "$WORK/res" --no-plots
expect 0 'ry_c4: nominal 0\.99.*PASS' validate "$WORK/res/ry_c4.json" --molecule "$MOL"
# A higher target misses the cache and starts from the cached pulse (warm_start, the default).
key=$(sed -n 's/.*"cache_key": "\([0-9a-f]*\)".*/\1/p' "$WORK/res/report.json" | head -1)
[ -n "$key" ] || { echo "FAIL: no cache_key in report.json"; FAILS=$((FAILS + 1)); }
sed 's/fidelity_target: 0.99,/fidelity_target: 0.995,/' "$WORK/prog.yaml" >"$WORK/higher.yaml"
expect 0 "reached_target: .*start 0 warm from cache entry $key" compile "$WORK/higher.yaml" \
  --out "$WORK/res_hi" --no-plots --cache-dir "$WORK/res/.cache"
sed 's/fidelity_target: 0.99,/fidelity_target: 0.995, warm_start: false,/' "$WORK/prog.yaml" >"$WORK/cold.yaml"
expect 0 'ry_c4: reached_target' compile "$WORK/cold.yaml" --out "$WORK/res_cold" --no-plots \
  --cache-dir "$WORK/res/.cache"
! grep -q 'warm from' "$WORK/res_cold/report.txt" || { echo "FAIL: warm_start: false used a warm start"; FAILS=$((FAILS + 1)); }
sed 's/"target": 0.99$/"target": 0.99999/' "$WORK/res/ry_c4.json" >"$WORK/strict.json"
expect 1 'BELOW TARGET' validate "$WORK/strict.json" --molecule "$MOL"
expect 2 'compiled for another molecule' validate "$WORK/res/ry_c4.json" --molecule "$SRC/molecules/alanine.yaml"
expect 2 'cannot read' validate "$WORK/nope.json" --molecule "$MOL"

bad() {  # bad NAME SED-EXPRESSION REGEX
  sed -e "$2" "$WORK/prog.yaml" >"$WORK/$1.yaml"
  rejects "$WORK/bad_$1" "^$WORK/$1.yaml:[0-9]+:[0-9]+: .*$3" compile "$WORK/$1.yaml" --out "$WORK/bad_$1"
}
bad unknown_gate 's/type: rotation/type: teleport/' 'elements\[0\].gate.type = teleport: unknown gate'
bad unknown_spin 's/spins: \[C4\]/spins: [C7]/' 'unknown spin C7 \(known: C1..C4\)'
bad unknown_channel 's/channel: 13C/channel: 31P/' 'unknown channel 31P'
bad rf_above 's/threads: 1,/threads: 1, max_rf_hz: 25000,/' 'max_rf_hz = 25000: exceeds channel 13C'
bad conflicting 's/steps: 60,/steps: 60, dt_s: 1e-5,/' 'conflicting options'
bad unknown_key 's/seed: 2,/sead: 2,/' 'sead: unknown key'
bad negative_stall 's/threads: 1,/threads: 1, stall_evaluations: -5,/' 'stall_evaluations = -5: must be >= 0'
printf '{"real": [[1, 1], [0, 1]], "imag": [[0, 0], [0, 0]]}' >"$WORK/nonunitary.json"
bad non_unitary "s|type: rotation, spins: \[C4\], angle_deg: 90, axis: y|type: unitary, spins: [C4], file: $WORK/nonunitary.json|" 'not unitary'
# GRAPE with the decoupler in its model (compile: decoupler): recorded in the pulse, shown by
# compile and validate; its bad values are located.
DEC="decoupler: {b2_hz: 25000, o2_ppm: 5.0, molecule: $SRC/molecules/crotonic_acid_7.yaml},"
sed "s|threads: 1,|threads: 1, $DEC|" "$WORK/prog.yaml" >"$WORK/dec.yaml"
expect 0 "decoupler in GRAPE's model: cw at B2 25000 Hz, O2 5 ppm on 1H of molecule crotonic_acid_7 \(8 residual" \
  compile "$WORK/dec.yaml" --out "$WORK/res_dec" --no-plots --cache-dir "$WORK/res/.cache"
! grep -q '\[from cache\]' "$WORK/out" || { echo "FAIL: the decoupler's compile reused the plain pulse"; FAILS=$((FAILS + 1)); }
grep -q '"decoupler": {' "$WORK/res_dec/ry_c4.json" || { echo "FAIL: no decoupler record in the pulse"; FAILS=$((FAILS + 1)); }
expect 0 "decoupler in GRAPE's model: cw at B2 25000 Hz" validate "$WORK/res_dec/ry_c4.json" --molecule "$MOL"
bad decoupler_b2 "s|threads: 1,|threads: 1, ${DEC/25000/30000}|" 'decoupler.b2_hz = 30000: must be in \(0, 25000\] Hz'
bad decoupler_molecule "s|threads: 1,|threads: 1, ${DEC/crotonic_acid_7/alanine}|" 'decoupled channel 1H is not a channel of molecule alanine'
expect 2 'no gate of that name' compile "$WORK/prog.yaml" --out "$WORK/out2" --only nothing

sed -e 's/duration_s: 0.002, steps: 60/duration_s: 0.0001, steps: 4/' -e 's/starts: 2/starts: 1/' \
  -e 's/threads: 1,/threads: 1, max_iterations: 20,/' "$WORK/prog.yaml" >"$WORK/short.yaml"
expect 1 'best ensemble-minimum fidelity 0\.[0-9]+ below target 0\.9900; try a longer duration_s, more RF \(max_rf_hz\), or more starts' \
  compile "$WORK/short.yaml" --out "$WORK/short" --no-plots --no-cache
finish
