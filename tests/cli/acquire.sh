# nmrc acquire: the demo writes FID, spectrum and 32-line table; bad programs fail with one
# located line, exit 2, and leave no output directory behind.
source "$(dirname "$0")/lib.bash"
DEMO="$SRC/sequences/demos/thermal_90.yaml"
expect 0 '32 lines assigned on channel 13C' --quiet acquire "$DEMO" --out "$WORK/demo"
for f in fid.csv spectrum.csv spectrum.png spectrum.svg lines.csv; do
  [ -s "$WORK/demo/$f" ] || { echo "FAIL: $f not written"; FAILS=$((FAILS + 1)); }
done
[ "$(wc -l <"$WORK/demo/lines.csv")" = 33 ] || { echo "FAIL: lines.csv does not have 32 rows"; FAILS=$((FAILS + 1)); }
[ "$(wc -l <"$WORK/demo/fid.csv")" = 16385 ] || { echo "FAIL: fid.csv does not have 16384 rows"; FAILS=$((FAILS + 1)); }
head -1 "$WORK/demo/spectrum.csv" | grep -q '^offset_hz,shift_ppm,re,im$' || { echo "FAIL: spectrum.csv header"; FAILS=$((FAILS + 1)); }

# A program beside the molecule directory: molecule paths are relative to the program file.
mkdir -p "$WORK/p"
cp "$SRC/molecules/crotonic_acid.yaml" "$WORK/p/mol.yaml"
base() {
  cat <<YAML
molecule: mol.yaml
sample: {relaxation: false}
elements:
  - rotation: {spins: [C1, C2], angle_deg: 90, phase_deg: 90}
  - delay: {duration_s: 0.001}
  - hard_pulse: {channel: 13C, angle_deg: 90, rf_hz: 10000}
acquisition: {channel: 13C, sw_hz: 15000, td: 4096}
YAML
}
base >"$WORK/p/good.yaml"
expect 0 '32 lines assigned' --quiet acquire "$WORK/p/good.yaml" --out "$WORK/good"
bad() {  # bad NAME SED-EXPRESSION REGEX
  base | sed -e "$2" >"$WORK/p/$1.yaml"
  rejects "$WORK/out_$1" "^$WORK/([a-z]+/)?$1.yaml:[0-9]+:[0-9]+: .*$3" acquire "$WORK/p/$1.yaml" --out "$WORK/out_$1"
}
bad unknown_spin 's/spins: \[C1, C2\]/spins: [C1, C9]/' 'elements\[0\].rotation.spins\[1\] = C9: unknown spin C9 \(known: C1..C4\)'
bad unknown_channel 's/channel: 13C, angle_deg/channel: 15N, angle_deg/' 'hard_pulse.channel = 15N: unknown channel 15N \(known: 13C\)'
bad unknown_acq_channel 's/acquisition: {channel: 13C/acquisition: {channel: 1H/' 'acquisition.channel = 1H: unknown channel'
bad long_pulse 's/rf_hz: 10000}/rf_hz: 0.01}/' 'pulse lasts 25 s, longer than T1 = 5.1 s of C4; set acknowledge_long: true'
bad negative_delay 's/duration_s: 0.001/duration_s: -0.001/' 'elements\[1\].delay.duration_s = -0.001: must be > 0'
bad aliasing 's/sw_hz: 15000/sw_hz: 10000/' 'acquisition.sw_hz = 10000: too small: 16 lines fold \(C1 lines 1-8 at 5743.3..5823.9 Hz fold to -4256.7..-4176.1 Hz; C4 lines 1-8 at -5808.6..-5758.7 Hz fold to 4191.4..4241.3 Hz\); use sw_hz > 11848'
bad td_not_pow2 's/td: 4096/td: 4000/' 'acquisition.td = 4000: must be a power of two for the FFT unless processing.zero_fill is set'
bad unknown_element 's/- delay:/- wait:/' 'unknown element wait'
bad rf_too_high 's/rf_hz: 10000}/rf_hz: 50000}/' 'rf_hz = 50000: exceeds the channel'"'"'s max_rf_hz'
bad missing_file 's/molecule: mol.yaml/molecule: nope.yaml/' 'molecule = nope.yaml: cannot read file'
bad cyclops_scans 's/td: 4096}/td: 4096, scans: 3, phase_cycle: cyclops}/' 'acquisition.phase_cycle = cyclops: CYCLOPS needs a multiple of 4 scans \(scans = 3\)'
bad b1_weights 's/sample: {relaxation: false}/sample: {b1: {scale: [0.9, 1.0], weights: [1]}}/' 'b1.weights = \[1\]: must have one weight per scale value'

# Zero filling makes any TD acceptable; a long pulse can be acknowledged.
base | sed -e 's/td: 4096}/td: 4000, processing: {zero_fill: 8192}}/' >"$WORK/p/zf.yaml"
expect 0 '32 lines' --quiet acquire "$WORK/p/zf.yaml" --out "$WORK/zf"
base | sed -e 's/rf_hz: 10000}/rf_hz: 0.01, acknowledge_long: true}/' >"$WORK/p/ack.yaml"
expect 0 '32 lines' --quiet acquire "$WORK/p/ack.yaml" --out "$WORK/ack"

# Shaped pulses from nmrc-pulse/1 files.
python3 - "$WORK/p" <<'PY'
import json, math, sys
d = sys.argv[1]
n = 100
good = {"format": "nmrc-pulse/1", "dt_s": 1e-5,
        "channels": {"13C": {"carrier_hz": 0.0, "ux_hz": [2500.0] * n, "uy_hz": [0.0] * n}}}
json.dump(good, open(d + "/p90.json", "w"))
bad = dict(good); bad["channels"] = {"1H": good["channels"]["13C"]}
json.dump(bad, open(d + "/bad_channel.json", "w"))
PY
base | sed -e 's|- delay: {duration_s: 0.001}|- shaped_pulse: {file: p90.json}|' >"$WORK/p/shaped.yaml"
expect 0 '32 lines' --quiet acquire "$WORK/p/shaped.yaml" --out "$WORK/shaped"
bad shaped_channel 's|- delay: {duration_s: 0.001}|- shaped_pulse: {file: bad_channel.json}|' 'shaped_pulse.file = bad_channel.json: .*channels.1H: unknown channel \(known: 13C\)'
finish
