# nmrc prepare: the PPS, bath and temporal-averaging programs run and write their files; bad
# programs fail with one located line, exit 2, and write nothing.
source "$(dirname "$0")/lib.bash"
P="$SRC/sequences/preparation"
expect 0 'error \|\|dev - eps' prepare "$P/pps.yaml" --out "$WORK/pps"
for f in summary.json rho_before.json rho_after.json density_before.png density_after.svg; do
  [ -s "$WORK/pps/$f" ] || { echo "FAIL: pps/$f missing"; FAILS=$((FAILS + 1)); }
done
expect 0 'P0 requested 0.75' prepare "$P/bath_0.9.yaml" --out "$WORK/bath"
expect 0 'temporal averaging: 6 experiments' prepare "$P/fig3_c-0.5.yaml" --out "$WORK/ta"
for f in ud.json experiments.json rho_requested.json rho_system.json density_requested.png; do
  [ -s "$WORK/ta/$f" ] || { echo "FAIL: ta/$f missing"; FAILS=$((FAILS + 1)); }
done

# bad NAME YAML REGEX: the program fails with a located line and writes nothing.
bad() {
  printf '%s\n' "$2" >"$WORK/$1.yaml"
  rejects "$WORK/out_$1" "^$WORK/([a-z]+/)?$1.yaml:[0-9]+:[0-9]+: .*$3" prepare "$WORK/$1.yaml" --out "$WORK/out_$1"
}
MOL="molecule: $SRC/molecules/crotonic_acid.yaml"
bad unknown_spin "$MOL
target: bath
bath: {spin: C9, temperature: 0.9}" 'bath.spin = C9: unknown spin C9 \(known: C1..C4\)'
bad unknown_system_spin "$MOL
target: temporal_averaging
system: {spins: [C1, C7], temperatures: [1, 1], coherence: -0.5}" 'system.spins\[1\] = C7: unknown spin'
bad negative_weight "$MOL
target: temporal_averaging
system:
  spins: [C1, C2]
  populations: [{state: '00', weight: 1.2}, {state: '01', weight: -0.2}]" 'populations\[1\].weight = -0.2: must be >= 0'
bad weights_sum "$MOL
target: temporal_averaging
system:
  spins: [C1, C2]
  populations: [{state: '00', weight: 0.7}, {state: '11', weight: 0.5}]" 'system.populations = .*weights sum to 1.2: must sum to 1'
bad nonphysical "$MOL
target: temporal_averaging
system: {spins: [C1, C2, C3], temperatures: [1, 1, 1], coherence: -0.8}" 'system.coherence = -0.8: state: not positive'
bad bad_target "$MOL
target: ppss" 'target = ppss: must be pps, bath or temporal_averaging'
bad bad_temperature "$MOL
target: bath
bath: {spin: C4, temperature: -1}" 'bath.temperature = -1: must be > 0'
bad unknown_key "$MOL
target: pps
colour: red" 'colour'
expect 2 'cannot read' prepare "$WORK/missing.yaml" --out "$WORK/x"
expect 2 '' prepare
finish
