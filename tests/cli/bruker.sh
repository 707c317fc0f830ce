# Bruker files end to end (docs/bruker.md): export the paper's partial SWAPs for TopSpin,
# validate a shape read back, write and read a TopSpin dataset with nmrc acquire, and bad input
# (one located line, exit 2, nothing written).
source "$(dirname "$0")/lib.bash"
MOL="$SRC/molecules/crotonic_acid.yaml"
C="$SRC/sequences/gates/compiled"
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# 1. The three partial SWAPs as shapes, a pulse program and parameters.
expect 0 'shape swap_c3_c4: 160 points' export bruker "$C/swap_c1_c4.json" "$C/swap_c2_c4.json" \
  "$C/swap_c3_c4.json" --molecule "$MOL" --out "$WORK/exp" --p90 10 --plw 20
for f in lists/wave/swap_c1_c4 lists/wave/swap_c2_c4 lists/wave/swap_c3_c4 lists/pp/nmrc_pulses \
  1/acqus 1/acqu 1/pulseprogram queue.mac README.txt; do
  [ -s "$WORK/exp/$f" ] || fail "export: $f not written"
done
grep -q '^  (p11:sp1 ph0):f1$' "$WORK/exp/lists/pp/nmrc_pulses" || fail "pulse program: shaped pulse line"
grep -q '^  go=2 ph31$' "$WORK/exp/lists/pp/nmrc_pulses" || fail "pulse program: go=2 ph31"
head -3 "$WORK/exp/lists/wave/swap_c3_c4" | tail -1 | grep -qx '##DATA TYPE= Shape Data' || fail "shape header"
grep -q '^##\$SPNAM= (0..63)$' "$WORK/exp/1/acqus" || fail "acqus: SPNAM array"

# 2. The shape read back keeps the pulse's fidelity (validation on the spectrometer).
nu=$(sed -n 's/^shape swap_c3_c4: .*100 % = \([0-9.e+]*\) Hz nutation.*/\1/p' "$WORK/out")
[ -n "$nu" ] || fail "no nutation frequency in the export summary"
expect 0 'swap_c3_c4: nominal' validate "$C/swap_c3_c4.json" --molecule "$MOL"
orig=$(sed -n 's/.*ensemble min \([0-9.]*\).*/\1/p' "$WORK/out")
expect 0 'swap_c3_c4: nominal' validate "$WORK/exp/lists/wave/swap_c3_c4" --molecule "$MOL" \
  --target-from "$C/swap_c3_c4.json" --duration 0.004 --max-rf "$nu"
back=$(sed -n 's/.*ensemble min \([0-9.]*\).*/\1/p' "$WORK/out")
awk -v a="$orig" -v b="$back" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-4) }' ||
  fail "fidelity through the shape file: $orig -> $back"
echo "fidelity (ensemble min) of swap_c3_c4: $orig, read back from the shape file: $back"

# 3. A program with every element a pulse program can play, and one it cannot.
mkdir -p "$WORK/p"
cat >"$WORK/p/play.yaml" <<YAML
molecule: $MOL
elements:
  - hard_pulse: {channel: 13C, angle_deg: 90, phase_deg: 90, rf_hz: 10000}
  - loop: {count: 3, elements: [{delay: {duration_s: 0.001}}, {shaped_pulse: {file: $C/swap_c1_c4.json}}]}
  - gradient: {duration_s: 0.001, strength_g_per_cm: 20, shape: sine}
  - acquire: {channel: 13C, sw_hz: 15000, td: 8192}
YAML
expect 0 'experiment 1: pulse program play' export bruker "$WORK/p/play.yaml" --out "$WORK/play"
expect 0 'experiment 1: pulse program play' export bruker "$WORK/p/play.yaml" --out "$WORK/play_cpd" \
  --decoupler-pulses cpd
# The loop of (delay, 18.5 ms shape): f2 switches to CW around each shape (the default
# --decoupler-pulses cw), so the first pass differs (from the hard pulse) and the rest loop.
grep -q '^  lo to 3 times 2$' "$WORK/play/lists/pp/play" || fail "loop not written as lo to"
grep -q '^  lo to 3 times 3$' "$WORK/play_cpd/lists/pp/play" || fail "loop (cpd) not written as lo to"
grep -q '^  p16:gp1$' "$WORK/play/lists/pp/play" || fail "gradient line"
sed 's/  - gradient:/  - rotation: {spins: [C1], angle_deg: 90}\n  - gradient:/' "$WORK/p/play.yaml" >"$WORK/p/rot.yaml"
expect 2 '^.*rot.yaml:5:15: elements\[7\] = rotation: an ideal, instantaneous rotation cannot be played' \
  export bruker "$WORK/p/rot.yaml" --out "$WORK/rot"
[ ! -e "$WORK/rot" ] || fail "rejected export left output behind"
expect 2 'partial_swap_c3_c4.yaml:[0-9]+:[0-9]+: .*must end with an acquire element' \
  export bruker "$SRC/sequences/gates/partial_swap_c3_c4.yaml" --out "$WORK/gate"

# 4. Bad shape files for validate.
grep -v '^##XYPOINTS' "$WORK/exp/lists/wave/swap_c3_c4" >"$WORK/noxy.shape"
expect 2 'noxy.shape:[0-9]+:1: ##XYPOINTS=: missing' validate "$WORK/noxy.shape" --molecule "$MOL" \
  --target-from "$C/swap_c3_c4.json" --duration 0.004 --max-rf 5000
sed 's/^##NPOINTS= 160$/##NPOINTS= 161/' "$WORK/exp/lists/wave/swap_c3_c4" >"$WORK/np.shape"
expect 2 'np.shape:22:1: ##NPOINTS= 161: the file has 160 points' validate "$WORK/np.shape" \
  --molecule "$MOL" --target-from "$C/swap_c3_c4.json" --duration 0.004 --max-rf 5000

# 5. nmrc acquire writes a TopSpin folder and reads it back: the same 32 line amplitudes.
DEMO="$SRC/sequences/demos/thermal_90.yaml"
expect 0 '32 lines assigned' --quiet acquire "$DEMO" --out "$WORK/a" --bruker "$WORK/a_expno"
for f in fid acqus acqu pulseprogram pdata/1/procs pdata/1/proc pdata/1/1r pdata/1/1i; do
  [ -s "$WORK/a_expno/$f" ] || fail "dataset: $f not written"
done
[ $(($(stat -c %s "$WORK/a_expno/fid") % 1024)) = 0 ] || fail "fid not padded to 1024 bytes"
expect 0 'group delay 0 points' --quiet acquire "$DEMO" --out "$WORK/b" --from-bruker "$WORK/a_expno"
paste -d, "$WORK/a/lines.csv" "$WORK/b/lines.csv" | awk -F, 'NR > 1 {
  for (c = 9; c <= 10; c++) { d = $c - $(c + 15); if (d < 0) d = -d; if (d > m) m = d; s = $c < 0 ? -$c : $c; if (s > big) big = s } }
  END { printf "line amplitudes through the dataset: max difference %.3g (largest %.3g)\n", m, big; exit !(m <= 1e-7 * big) }' ||
  fail "line amplitudes changed through the TopSpin dataset"

# 6. Bad datasets.
mkdir -p "$WORK/notd" "$WORK/trunc"
grep -v '^##\$TD=' "$WORK/a_expno/acqus" >"$WORK/notd/acqus"
cp "$WORK/a_expno/fid" "$WORK/notd/fid"
expect 2 'notd/acqus:[0-9]+:1: ##\$TD=: missing' acquire "$DEMO" --out "$WORK/c" --from-bruker "$WORK/notd"
[ ! -e "$WORK/c" ] || fail "a rejected dataset left output behind"
cp "$WORK/a_expno/acqus" "$WORK/trunc/acqus"
head -c 1000 "$WORK/a_expno/fid" >"$WORK/trunc/fid"
expect 2 'trunc/fid: truncated: 1000 bytes' acquire "$DEMO" --out "$WORK/d" --from-bruker "$WORK/trunc"
sed 's/^##\$DTYPA= 0$/##$DTYPA= 1/' "$WORK/a_expno/acqus" >"$WORK/trunc/acqus"
cp "$WORK/a_expno/fid" "$WORK/trunc/fid"
expect 2 'acqus:[0-9]+:1: ##\$DTYPA= 1: unknown data type' acquire "$DEMO" --out "$WORK/e" --from-bruker "$WORK/trunc"
# 7. Tomography through TopSpin folders: the simulated readout set written as EXPNOs 1..18
# (nmrc tomography --bruker), read back (--from-bruker), the same state as the direct
# reconstruction to the int32 format's precision.
cat >"$WORK/p/rs.yaml" <<YAML
name: rs
molecule: $MOL
readout: $SRC/sequences/readout/paper17_completed.yaml
state:
  random: {seed: 7, rank: 16}
lines: spectrometer
acquisition: {sw_hz: 15000, td: 4096, snr: 300, seed: 1}
YAML
R17="$SRC/sequences/readout/paper17_completed.yaml"
expect 0 'fidelity of the reconstructed state' --quiet tomography "$WORK/p/rs.yaml" --out "$WORK/t1" \
  --bruker "$WORK/t1_ds"
[ "$(sed -n 2p "$WORK/t1_ds/expnos.csv")" = "1,nmrc_IIII,readout setting IIII" ] || fail "expnos.csv listing"
[ -s "$WORK/t1_ds/18/fid" ] && [ ! -e "$WORK/t1_ds/19" ] || fail "tomography --bruker: not 18 EXPNOs"
expect 0 'from 18 TopSpin experiments' tomography --from-bruker "$WORK/t1_ds" --molecule "$MOL" \
  --readout "$R17" --out "$WORK/t2"
python3 - "$WORK/t1/rho_reconstructed.json" "$WORK/t2/rho_reconstructed.json" <<'PY' || fail "tomography through TopSpin folders changed the state"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
d = max(abs(x - y) for k in ("real", "imag") for ra, rb in zip(a[k], b[k]) for x, y in zip(ra, rb))
print("tomography through 18 TopSpin folders: largest element difference %.3g" % d)
sys.exit(0 if d <= 1e-8 else 1)
PY
expect 2 't1_ds/1: 17 experiment folders for 18 readout settings' tomography --from-bruker \
  "$WORK/t1_ds/1" "$WORK/t1_ds/2" "$WORK/t1_ds/3" "$WORK/t1_ds/4" "$WORK/t1_ds/5" "$WORK/t1_ds/6" \
  "$WORK/t1_ds/7" "$WORK/t1_ds/8" "$WORK/t1_ds/9" "$WORK/t1_ds/10" "$WORK/t1_ds/11" \
  "$WORK/t1_ds/12" "$WORK/t1_ds/13" "$WORK/t1_ds/14" "$WORK/t1_ds/15" "$WORK/t1_ds/16" \
  "$WORK/t1_ds/17" --molecule "$MOL" --readout "$R17" --out "$WORK/t3"
[ ! -e "$WORK/t3" ] || fail "a rejected --from-bruker left output behind"
expect 2 'p: neither a TopSpin experiment folder' tomography --from-bruker "$WORK/p" \
  --molecule "$MOL" --readout "$R17" --out "$WORK/t4"
# 8. One run of the experiment for the console: fig3's c = -0.5 run at collision 10 from the
# shipped pulses (--no-compile). 18 readout settings x 8 temporal-averaging experiments.
# Played with one compiled pulse per partial SWAP (contact: per_swap, the paper's), whatever
# contact the shipped program chooses; the shipped pulses are linked in (a program names only
# folders inside its own).
mkdir -p "$WORK/p8"
ln -sfn "$SRC/sequences/experiment/compiled" "$WORK/p8/compiled"
sed -e '/^contact:/d' -e "s|^molecule: .*|molecule: $MOL|" \
  -e "s|^theory: .*|theory: $SRC/sequences/heat_flow/fig3.yaml|" \
  -e "s|^readout: .*|readout: $SRC/sequences/readout/paper17_completed.yaml|" \
  "$SRC/sequences/experiment/fig3.yaml" >"$WORK/p8/fig3.yaml"
echo "contact: per_swap" >>"$WORK/p8/fig3.yaml"
FIG3="$WORK/p8/fig3.yaml"
expect 0 '18 readout settings x 8 temporal-averaging experiments = 144 EXPNOs measured, 1044 more for the calibration \(10 groups in all\), 25 compiled pulses' \
  export bruker "$FIG3" --case c_minus_0p5 --collision 10 --out "$WORK/run" --no-compile \
  --p90 10 --plw 20
# The measurement (contact from equilibrium, EXPNOs 1-144) and the calibration's runs (docs/
# bruker.md): per sign (equilibrium, inverted) contact, prepared, pps, thermal, thermal_contact.
[ "$(ls "$WORK/run/lists/pp" | wc -l)" = 1188 ] || fail "run export: not 1188 pulse programs"
[ "$(ls "$WORK/run/lists/wave" | wc -l)" = 25 ] || fail "run export: not 25 shapes"
[ -s "$WORK/run/1188/acqus" ] && [ ! -e "$WORK/run/1189" ] || fail "run export: not 1188 EXPNOs"
groups=$(awk -F, 'NR > 1 && $2 "," $3 != last { printf "%s%s/%s@%s", sep, $2, $3, $1; sep = " "; last = $2 "," $3 }' "$WORK/run/weights.csv")
[ "$groups" = "contact/equilibrium@1 prepared/equilibrium@145 pps/equilibrium@289 thermal/equilibrium@307 thermal_contact/equilibrium@451 contact/inverted@595 prepared/inverted@739 pps/inverted@883 thermal/inverted@901 thermal_contact/inverted@1045" ] ||
  fail "weights.csv groups: $groups"
# The weights of each group's and readout setting's experiments sum to 1 (weights.csv).
# (a setting's rows start at experiment 1; the readout set holds XYXX twice)
awk -F, 'NR > 1 { if ($5 == 1) s++; w[s] += $8 } END { for (k in w) if (w[k] < 1 - 1e-12 || w[k] > 1 + 1e-12) bad++; exit !(s == 180 && bad == 0) }' \
  "$WORK/run/weights.csv" || fail "weights.csv: weights per readout setting do not sum to 1"
# The played order of EXPNO 12 (experiment 4 = flips of C2 and C3, readout XXXX... see
# weights.csv), written from the protocol (docs/experiment-format.md): PPS steps 1-4 with their
# gradients, bath rotation and gradient, the flips, U_d, the swaps C1, C2, C3 with C4, readout.
PP="$WORK/run/12/pulseprogram"
[ "$(sed -n 13p "$WORK/run/weights.csv" | cut -d, -f2-7)" = "contact,equilibrium,XXXX,4,3,rx180_c2 rx180_c3" ] ||
  fail "weights.csv: EXPNO 12 is not setting XXXX, experiment 4"
played_order() {
  awk '/^;spnam[0-9]+: / { sub(/^;spnam/, ""); split($0, a, ": "); nam[a[1]] = a[2] }
  { line[NR] = $0 } END { for (i = 1; i <= NR; i++) { l = line[i]
      if (l ~ /\(p[0-9]+:sp[0-9]+ ph0\):f1/) { sub(/.*:sp/, "", l); sub(/ .*/, "", l); printf "%s ", nam[l] }
      else if (l ~ /^  p[0-9]+:gp[0-9]+$/) printf "G "
      else if (l == "  go=2 ph31") printf "ACQ" } }' "$1"
}
played=$(played_order "$PP")
want="pps1_ry_c2 pps1_ry_c3 pps1_ry_c4 G pps2_cnot_c2_c1 pps2_cnot_c3_c2 pps2_cry90_c4_c3 G \
pps3_cry90_c3_c2 G pps4_cry90_c2_c1 G bath_c4_t0p9 G rx180_c2 rx180_c3 ud_c_minus_0.5_m9 \
swap_c1_c4 swap_c2_c4 swap_c3_c4 rx90_c1 rx90_c2 rx90_c3 rx90_c4 ACQ"
[ "$played" = "$want" ] || fail "EXPNO 12 plays: $played"
# The PPS reference from inverted equilibrium (EXPNO 883 + 1: setting 1, XXXX): the inversion
# pulse, the PPS steps with their gradients, the readout; no bath, no contact.
played=$(played_order "$WORK/run/884/pulseprogram")
want="rx180_all pps1_ry_c2 pps1_ry_c3 pps1_ry_c4 G pps2_cnot_c2_c1 pps2_cnot_c3_c2 pps2_cry90_c4_c3 G \
pps3_cry90_c3_c2 G pps4_cry90_c2_c1 G rx90_c1 rx90_c2 rx90_c3 rx90_c4 ACQ"
[ "$played" = "$want" ] || fail "EXPNO 884 (pps from inverted, XXXX) plays: $played"
[ "$(grep -c '^  4u UNBLKGRAD$' "$PP")" = 5 ] && [ "$(grep -c '^  d16$' "$PP")" = 5 ] &&
  [ "$(grep -c '^  4u BLKGRAD$' "$PP")" = 5 ] || fail "EXPNO 12: not 5 gradients in UNBLKGRAD/BLKGRAD"
# Gradients: the areas 1, 3, 9, 27 (PPS) and 81 (bath) units (docs/experiment-format.md,
# "Gradients"), one unit 100/pi turns per cm (at most 1 % of a single-quantum coherence left on
# a uniform sample of 1 cm or longer); PPS step 1 at 29.73 G/cm = GPZ 59.92 % of 53.5 G/cm x
# the area factor of nmrc's smoothed rectangle (lists/gp/nmrc_smsq10.100, 0.9275); the others
# near 100 % for longer in whole us: 1.798, 5.393 and 16.179 ms, the bath 48.536 ms.
grep -q '^;gpz1: 59.92%$' "$PP" && grep -q '^;gpnam1: nmrc_smsq10.100 (area factor 0.92745' "$PP" ||
  fail "PPS gradients: step 1 not at 59.92 % with nmrc_smsq10.100"
gdur=$(sed -n 's/^;p[0-9]*: homospoil\/gradient pulse \[\([0-9]*\) usec\]$/\1/p' "$PP" | tr '\n' ' ')
[ "$gdur" = "1000 1798 5393 16179 48536 " ] || fail "PPS and bath gradients: durations $gdur us"
[ "$(grep -c '^  p[0-9]*:gp[0-9]*$' "$PP")" = 5 ] || fail "EXPNO 12: not 5 gradients played"
grep -q '^##\$SHAPE_INTEGFAC= 9.27454' "$WORK/run/lists/gp/nmrc_smsq10.100" ||
  fail "lists/gp/nmrc_smsq10.100: missing or another area factor"
grep -q '^  U_p1 G_z gradient: 29.7316 G/cm for 1 ms, at most 0.00717 of a single-quantum coherence left$' "$WORK/run/README.txt" ||
  fail "run export: the simulated gradient residual is not 0.00717"
grep -q '^;sp10: f1 channel - shaped pulse power, 100 % = .* Hz nutation: SPW = PLW1 (nu/nu1)^2 = ' "$PP" ||
  fail "EXPNO 12: shape power comment"
grep -q '^##\$PULPROG= <c_minus_0p5_m10_e4_XXXX>$' "$WORK/run/12/acqus" || fail "EXPNO 12: PULPROG"
# 1H decoupling on f2 in every EXPNO: on before the PPS preparation, off after the acquisition.
[ "$(grep -l '^  4u cpds2:f2$' "$WORK"/run/*/pulseprogram | wc -l)" = 1188 ] &&
  [ "$(grep -l '^  d11 do:f2 mc #0 to 2 F0(zd)$' "$WORK"/run/*/pulseprogram | wc -l)" = 1188 ] ||
  fail "run export: not every EXPNO decouples 1H"
# The switching decoupler (default --decoupler-pulses cw): CW at pl13 from before the first
# pulse (a 2 ms PPS rotation) through each block of shaped pulses, the CPD program (cpds2 at
# pl12) around the gradients; the collision's CW goes on through the readout (rx90_c1..c4, no
# switch between them) and f2 switches back to the CPD program right before go=2 (12 us, the
# pre-acquisition delay the dataset reader takes from the pulseprogram).
[ "$(sed -n '/^  d1$/{n;N;N;p;q}' "$PP")" = "$(printf '  4u pl13:f2\n  4u cw:f2\n  (p11:sp1 ph0):f1')" ] ||
  fail "EXPNO 12: CW not on before the first pulse"
[ "$(grep -c '^  4u cw:f2$' "$PP")" = 6 ] && [ "$(grep -c '^  4u cpds2:f2$' "$PP")" = 6 ] ||
  fail "EXPNO 12: not 6 switches to CW and back (PPS steps 1-4, bath, the collision)"
[ "$(grep -B8 '^  go=2 ph31$' "$PP" | tr -d '\n' | sed 's/([^)]*):f1/S/g')" = "  S  S  S  S  S  4u do:f2  4u pl12:f2  4u cpds2:f2  go=2 ph31" ] ||
  fail "EXPNO 12: the readout (after the collision's last pulse) is not under CW with one switch back before go=2"
grep -q '^;pl13: f2 channel - power level for CW decoupling during the shaped pulses of at least 1000 usec' "$PP" ||
  fail "EXPNO 12: no pl13 comment"
grep -q '^##\$NUC2= <1H>$' "$WORK/run/12/acqus" || fail "EXPNO 12: NUC2"
grep -q '^  EXPNO 1..144: contact from equilibrium, 8 experiments per setting: the measurement' \
  "$WORK/run/README.txt" || fail "README: EXPNO groups"
# Bad input: one located line, exit 2, nothing written.
expect 2 'fig3.yaml: --case = nope: no such case \(c_0, c_minus_0.5, c_plus_0.5\)' \
  export bruker "$FIG3" --case nope --collision 10 --out "$WORK/run2"
expect 2 'fig3.yaml:[0-9]+:[0-9]+: collision = 0: must be in 1..100' \
  export bruker "$FIG3" --case c_0 --collision 0 --out "$WORK/run2"
expect 2 'no compiled pulse for ud_c_0_m2 .* --no-compile forbids GRAPE' \
  export bruker "$FIG3" --case c_0 --collision 3 --out "$WORK/run2" --no-compile
[ ! -e "$WORK/run2" ] || fail "a rejected run export left output behind"
# The probe's limits: refused with the numbers, nothing written.
rejects "$WORK/run3" 'f2 decoupling power PLW12 0.185185 W exceeds the probe.s 0.1 W' \
  export bruker "$FIG3" --case c_0 --collision 1 --out "$WORK/run3" --no-compile \
  --p90 10 --plw 20 --p90-h 10 --plw-h 15 --probe-max-w-f2 0.1 --decoupler-pulses cpd
# The CW around the long pulses (B2 25 kHz: PLW13 = 15 (4 x 10 us x 25 kHz)^2 = 15 W) counts.
rejects "$WORK/run3" 'f2 CW decoupling power PLW13 15 W exceeds the probe.s 10 W \(--probe-max-w-f2\)' \
  export bruker "$FIG3" --case c_0 --collision 1 --out "$WORK/run3" --no-compile \
  --p90 10 --plw 20 --p90-h 10 --plw-h 15 --probe-max-w-f2 10
rejects "$WORK/run3" '--decoupler-pulses = both: must be cw or cpd' \
  export bruker "$FIG3" --case c_0 --collision 1 --out "$WORK/run3" --no-compile \
  --decoupler-pulses both
# 9. Temporal averaging on recorded data: two states' readout sets, interleaved as E = 2
# folders per setting (the run export's EXPNO layout) and added with --weights 0.3,0.7, give
# the linear reconstruction 0.3 rho_a + 0.7 rho_b (noise-free, so the line fit is exact).
sed -e 's/seed: 7, rank: 16/seed: 8, rank: 16/' -e 's/snr: 300/snr: 0/' "$WORK/p/rs.yaml" >"$WORK/p/rs_b.yaml"
sed -e 's/snr: 300/snr: 0/' "$WORK/p/rs.yaml" >"$WORK/p/rs_a.yaml"
expect 0 '' --quiet tomography "$WORK/p/rs_a.yaml" --out "$WORK/ta" --bruker "$WORK/ta_ds"
expect 0 '' --quiet tomography "$WORK/p/rs_b.yaml" --out "$WORK/tb" --bruker "$WORK/tb_ds"
folders=()
for k in $(seq 1 18); do folders+=("$WORK/ta_ds/$k" "$WORK/tb_ds/$k"); done
expect 0 'from 18 TopSpin experiments' tomography --from-bruker "${folders[@]}" --weights 0.3,0.7 \
  --molecule "$MOL" --readout "$R17" --out "$WORK/tab"
python3 - "$WORK/ta/rho_linear.json" "$WORK/tb/rho_linear.json" "$WORK/tab/rho_linear.json" <<'PY' || fail "--weights: not the weighted state"
import json, sys
a, b, w = (json.load(open(f)) for f in sys.argv[1:4])
d = max(abs(0.3 * x + 0.7 * y - z) for k in ("real", "imag")
        for ra, rb, rw in zip(a[k], b[k], w[k]) for x, y, z in zip(ra, rb, rw))
print("weighted sum of two recorded readout sets: largest element difference %.3g" % d)
sys.exit(0 if d <= 1e-8 else 1)
PY
expect 2 'ta_ds: 18 experiment folders for 18 readout settings x 2 weights: need 36' \
  tomography --from-bruker "$WORK/ta_ds" --weights 0.3,0.7 --molecule "$MOL" --readout "$R17" \
  --out "$WORK/t5"

# 9b. Console-like folders: the noise-free set of section 9 delayed behind a digital filter as
# a console records it (68 zero points first, the last 68 dropped, GRPDLY = 68 in acqus): the
# reader removes the delay and the line fit leaves out the 68 empty points at the end, so the
# state is the direct reconstruction's to the int32 precision.
mkdir -p "$WORK/tg_ds"
python3 - "$WORK/ta_ds" "$WORK/tg_ds" 68 <<'PY' || fail "could not write the delayed folders"
import os, shutil, struct, sys
src, dst, g = sys.argv[1], sys.argv[2], int(sys.argv[3])
for name in sorted(n for n in os.listdir(src) if n.isdigit()):
    a, b = os.path.join(src, name), os.path.join(dst, name)
    shutil.copytree(a, b)
    td = int([l for l in open(os.path.join(a, "acqus")) if l.startswith("##$TD=")][0].split()[1])
    vals = list(struct.unpack("<%di" % td, open(os.path.join(a, "fid"), "rb").read()[: 4 * td]))
    out = struct.pack("<%di" % td, *([0] * (2 * g) + vals[: td - 2 * g]))
    open(os.path.join(b, "fid"), "wb").write(out + b"\0" * ((-len(out)) % 1024))
    for f in ("acqus", "acqu"):
        t = open(os.path.join(b, f)).read()
        assert "##$GRPDLY= 0\n" in t
        open(os.path.join(b, f), "w").write(t.replace("##$GRPDLY= 0\n", "##$GRPDLY= %d\n" % g))
PY
expect 0 'from 18 TopSpin experiments' tomography --from-bruker "$WORK/tg_ds" --molecule "$MOL" \
  --readout "$R17" --out "$WORK/tg"
python3 - "$WORK/ta/rho_reconstructed.json" "$WORK/tg/rho_reconstructed.json" <<'PY' || fail "group delay: not the direct reconstruction"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
d = max(abs(x - y) for k in ("real", "imag") for ra, rb in zip(a[k], b[k]) for x, y in zip(ra, rb))
print("readout set behind a 68-point group delay: largest element difference %.3g" % d)
sys.exit(0 if d <= 1e-8 else 1)
PY

# 10. nmrc experiment --bruker: the readout FIDs of a measured collision as TopSpin datasets,
# read back by nmrc tomography --from-bruker.
ln -sfn "$SRC/sequences/experiment/compiled" "$WORK/p/shipped"  # a program names only its own folders
cat >"$WORK/p/ex.yaml" <<YAML
format: nmrc-experiment/1
molecule: $MOL
theory: $SRC/sequences/heat_flow/fig3.yaml
readout: $R17
compiled: shipped
measure: [1]
acquisition: {snr: 300, repeats: 1}
imperfections: {relaxation: false, b1_ensemble: false, compiled_gates: true, noise: true, readout: true}
calibration: {inversion: true, reference: false}
error_budget: false
cases: [{run: c_0}]
YAML
expect 0 'TopSpin datasets: .*datasets.csv' --quiet experiment "$WORK/p/ex.yaml" --out "$WORK/ex" \
  --bruker "$WORK/ex_ds" --no-compile --cache-dir "$WORK/cache"
[ "$(cat "$WORK/ex_ds/datasets.csv")" = "dataset,case,collision,acquisition,expnos
c_0_m1_equilibrium,c_0,1,equilibrium,18
c_0_m1_inverted,c_0,1,inverted,18" ] || fail "experiment --bruker: datasets.csv"
[ -s "$WORK/ex_ds/c_0_m1_inverted/18/fid" ] || fail "experiment --bruker: EXPNO 18 missing"
expect 0 'from 18 TopSpin experiments' tomography --from-bruker "$WORK/ex_ds/c_0_m1_equilibrium" \
  --molecule "$MOL" --readout "$R17" --out "$WORK/ex_t"
[ -s "$WORK/ex_t/rho_system.json" ] || fail "tomography of the experiment's datasets: no rho_system.json"
expect 2 'bruker-collisions = 7: not a measured collision' experiment "$WORK/p/ex.yaml" \
  --out "$WORK/ex2" --bruker "$WORK/ex2_ds" --bruker-collisions 7 --no-compile --quiet
sed 's/readout: true}/readout: false}/' "$WORK/p/ex.yaml" >"$WORK/p/ex_ideal.yaml"
expect 2 'imperfections.readout = false: ideal line values, no FIDs' experiment \
  "$WORK/p/ex_ideal.yaml" --out "$WORK/ex3" --bruker "$WORK/ex3_ds" --no-compile --quiet
[ ! -e "$WORK/ex2" ] && [ ! -e "$WORK/ex2_ds" ] && [ ! -e "$WORK/ex3" ] ||
  fail "a rejected experiment --bruker left output behind"

# 11. Real TopSpin files (tests/data/bruker/make_topspin_files.py writes them in TopSpin's
# layout): shapes that end with "##END" (no "="), CRLF, "$$" comments, numbers as 1.0e+02 are
# read by validate, compile and export; a TopSpin 3 folder (NUC1 <13C>, GRPDLY 67.9375, a
# filtered FID) is read by acquire --from-bruker, whose largest peak is where nmrglue's
# algorithm (reimplemented with numpy in nmrglue_peak.py) puts it.
TD="$SRC/tests/data/bruker"
expect 1 'Gaus1_90: nominal' validate "$TD/Gaus1_90" --molecule "$MOL" \
  --target-from "$C/../../experiment/compiled/rx90_c2.json" --duration 0.002 --max-rf 300
cat >"$WORK/p/shapes.yaml" <<YAML
format: nmrc-program/1
name: topspin_shapes
molecule: $MOL
compile: {duration_s: 0.002, steps: 80, max_rf_hz: 10000, fidelity_target: 0.99, starts: 1, seed: 1}
elements:
  - shaped_pulse: {bruker: $TD/Gaus1_90, channel: 13C, duration_s: 0.002, max_rf_hz: 300}
  - shaped_pulse: {bruker: $TD/Reburp_like, channel: 13C, duration_s: 0.004, max_rf_hz: 500}
  - shaped_pulse: {bruker: $TD/Eburp2_like, channel: 13C, duration_s: 0.003, max_rf_hz: 400}
  - acquire: {channel: 13C, sw_hz: 15000, td: 4096}
YAML
expect 0 '' compile "$WORK/p/shapes.yaml" --out "$WORK/shapes_c"
expect 0 'shape Reburp_like: 512 points, 4000 us' export bruker "$WORK/p/shapes.yaml" \
  --out "$WORK/shapes_e" --p90 10 --plw 20
cat >"$WORK/p/acq13c.yaml" <<YAML
format: nmrc-acquire/1
molecule: $MOL
sample: {relaxation: false}
elements:
  - hard_pulse: {channel: 13C, angle_deg: 90, phase_deg: 90, rf_hz: 10000}
acquisition: {channel: 13C, sw_hz: 15000, td: 4096, processing: {zero_fill: 65536}}
YAML
expect 0 'group delay 67.9375 points \(GRPDLY\)' acquire "$WORK/p/acq13c.yaml" --out "$WORK/ts3" \
  --from-bruker "$TD/topspin3_13c"
grep -q 'TD 4027)' "$WORK/out" || fail "acquire --from-bruker: not nmrglue's 4096 - 69 points"
PYNUM=""
for py in python3 /usr/bin/python3; do "$py" -c 'import numpy' 2>/dev/null && { PYNUM=$py; break; }; done
if [ -z "$PYNUM" ]; then
  fail "no python3 with numpy (scripts/install-deps.sh installs python3-numpy)"
else
  "$PYNUM" "$(dirname "$0")/nmrglue_peak.py" "$TD/topspin3_13c" "$WORK/ts3/spectrum.csv" 65536 ||
    fail "the largest peak of the TopSpin 3 folder is not where nmrglue's algorithm puts it"
fi
# 12. The phase-sense test (sequences/console/phase_sense_c2.yaml, docs/bruker.md "The sense of
# phase"): exported as one shape then acquire; its spectrum on a console of nmrc's sense
# (phase_sense_c2_acquire.yaml) and on one of the other sense (the same pulse conjugated,
# u_y -> -u_y, as such a console plays every shape): C2's lines carry most of the signal with
# nmrc's sense and less than half of it with the other (C3's lines are then the strongest).
expect 0 'shape rx90_c2: 100 points' export bruker "$SRC/sequences/console/phase_sense_c2.yaml" \
  --out "$WORK/ps" --p90 10 --plw 20
[ "$(grep -c '^  (p[0-9]*:sp[0-9]* ph0):f1$' "$WORK/ps/1/pulseprogram")" = 1 ] &&
  grep -q '^  go=2 ph31$' "$WORK/ps/1/pulseprogram" || fail "phase-sense test: not one shape, then acquire"
c2_share() {  # C2's share of sum over lines of |(sx, sy)| / epsilon in lines.csv
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { a = sqrt($col["sx_over_epsilon"]^2 + $col["sy_over_epsilon"]^2); all += a; if ($1 == "C2") c2 += a }
    END { printf "%.3f", c2 / all }' "$1"
}
expect 0 '' acquire "$SRC/sequences/console/phase_sense_c2_acquire.yaml" --out "$WORK/a_ps"
/usr/bin/python3 - "$SRC/sequences/experiment/compiled/rx90_c2.json" "$WORK/p/conj.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for ch in d["channels"].values():
    ch["uy_hz"] = [-v for v in ch["uy_hz"]]
json.dump(d, open(sys.argv[2], "w"))
PY
sed -e "s|\.\./experiment/compiled/rx90_c2.json|$WORK/p/conj.json|" -e "s|^molecule: .*|molecule: $MOL|" \
  "$SRC/sequences/console/phase_sense_c2_acquire.yaml" >"$WORK/p/conj.yaml"
expect 0 '' acquire "$WORK/p/conj.yaml" --out "$WORK/a_psm"
right=$(c2_share "$WORK/a_ps/lines.csv")
wrong=$(c2_share "$WORK/a_psm/lines.csv")
echo "phase-sense test: C2 carries $right of the signal on a console of nmrc's sense, $wrong on the other"
awk -v r="$right" -v w="$wrong" 'BEGIN { exit !(r > 0.8 && w < 0.5) }' ||
  fail "phase-sense test: C2's share $right (nmrc's sense) against $wrong (the other)"

# 13. A run export played back (docs/bruker.md, "Play back"): fig3's c = -0.5 at collision 1,
# the folder read alone and played on the virtual console, against the virtual run: raw
# energies, and the calibrated ones from the calibration's EXPNOs (here the PPS and contact-loss
# references; experiment_tests -tc='*played back gives*' adds the inversion pairing).
# Relaxation and the B1 ensemble off to keep it fast. The folder holds its sequences to 1e-6.
cp "$FIG3" "$WORK/p8/fast.yaml"
echo "imperfections: {relaxation: false, b1_ensemble: false}" >>"$WORK/p8/fast.yaml"
echo "calibration: {inversion: false, reference: true}" >>"$WORK/p8/fast.yaml"
# The virtual run plays the compiled PPS pulses as the console does (issue 23) and its gradients
# for as long as the console does (the default probe, 53.5 G/cm: PPS steps 2-4 and the bath
# longer than 1 ms): the folder plays back to the virtual run's energies.
expect 0 'play back agrees with the virtual run' \
  export bruker "$WORK/p8/fast.yaml" --case c_minus_0p5 --collision 1 --out "$WORK/pb" \
  --no-compile --p90 10 --plw 20 --check-playback "$WORK/pbdata"
cat "$WORK/out"
folder=$(sed -n 's/^the folder against the sequences it was written from: //p' "$WORK/out")
awk -v a="$folder" 'BEGIN { exit !(a != "" && a + 0 < 1e-6) }' ||
  fail "play back: folder against its sequences $folder (must be < 1e-6)"
[ "$(grep -h '^##\$NC=' "$WORK"/pbdata/folder/*/acqus | sort -u | wc -l)" = 1 ] ||
  fail "the virtual console's datasets do not share one NC"
# The played-back folder read as a console's: nmrc experiment --from-bruker calibrates it to the
# check's numbers (the played_back column: E before and after the contact, the heat).
cp "$WORK/out" "$WORK/pb_check.txt"
expect 0 'heat to the bath' experiment "$WORK/p8/fast.yaml" --from-bruker "$WORK/pbdata/folder" \
  --case c_minus_0p5 --collision 1 --out "$WORK/fb"
/usr/bin/python3 - "$WORK/pb_check.txt" "$WORK/fb/calibration.json" <<'PY' || fail "--from-bruker: not the play back's calibrated energies"
import json, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 6 and f[0] in ("before", "after"):
        rows[f[0] + f[1]] = float(f[2])
    if len(f) == 5 and f[0] == "heat":
        rows["heat"] = float(f[1])
j = json.load(open(sys.argv[2]))
got = {"beforeE_%d" % (k + 1): v for k, v in enumerate(j["energy_before"])}
got.update({"afterE_%d" % (k + 1): v for k, v in enumerate(j["energy_after"])})
got["heat"] = j["heat"]
assert set(got) == set(rows), (sorted(got), sorted(rows))
worst = max(abs(got[k] - rows[k]) for k in rows)
print("--from-bruker against the play back's calibrated energies: %.3g" % worst)
sys.exit(0 if worst < 1e-9 else 1)
PY
expect 2 '--from-bruker = .*: give the exported run.s --case and --collision' \
  experiment "$WORK/p8/fast.yaml" --from-bruker "$WORK/pbdata/folder" --out "$WORK/fb2"
expect 2 'weights.csv:2: pulprog = c_minus_0p5_m1_e1_IIII: not a pulse program of the run c_0_m1' \
  experiment "$WORK/p8/fast.yaml" --from-bruker "$WORK/pbdata/folder" --case c_0 --collision 1 \
  --out "$WORK/fb2"
rejects "$WORK/pb2" '--check-playback = .*: plays back an experiment run' \
  export bruker "$SRC/sequences/console/phase_sense_c2.yaml" --out "$WORK/pb2" --check-playback "$WORK/x"

finish
