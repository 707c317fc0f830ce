# Security (docs/security.md): hostile names and shapes in shared input files never run a
# command, never inject into a console file and never write outside --out. Every case asserts
# the documented refusal (exit 2 with file:line) or, where the text is allowed (free titles),
# that it reaches no shell; and that no marker file appears anywhere under $WORK.
source "$(dirname "$0")/lib.bash"
MOL="$SRC/molecules/crotonic_acid.yaml"
mkdir -p "$WORK/p"
cp "$MOL" "$WORK/p/mol.yaml"
# A marker is any file named PWNED* under $WORK: gnuplot's backquotes and "!" run commands in
# the working directory of nmrc, so each command runs inside $WORK.
cd "$WORK" || exit 1
no_marker() {  # no_marker WHAT
  if [ -n "$(find "$WORK" -name 'PWNED*' -print -quit)" ]; then
    echo "FAIL: $1: a marker file appeared (a command ran)"; FAILS=$((FAILS + 1))
    find "$WORK" -name 'PWNED*' -delete
  fi
}
# mol NAME FIELD-SED: a copy of the molecule with one field replaced.
mol() { sed -e "$2" "$MOL" >"$WORK/p/$1.yaml"; }
experiment_prog() {  # experiment_prog COMPILED-FOLDER CASE-LINE
  cat <<YAML
format: nmrc-experiment/1
molecule: mol.yaml
theory: $SRC/sequences/heat_flow/fig3.yaml
readout: $SRC/sequences/readout/paper17_completed.yaml
compiled: $1
measure: [1]
cases:
$2
YAML
}
acquire_prog() {  # acquire_prog FILE MOLECULE [NAME-LINE]
  cat >"$WORK/p/$1" <<YAML
format: nmrc-acquire/1
${3:-}
molecule: $2
sample: {relaxation: false}
elements:
  - hard_pulse: {channel: 13C, angle_deg: 90, phase_deg: 90, rf_hz: 10000}
acquisition: {channel: 13C, sw_hz: 15000, td: 1024, snr: 0, seed: 1}
YAML
}

# --- 1-2, 14: names with backquotes, "!", line breaks, CR and ANSI escapes are refused -------
# Refused either as a name (the safe set) or, with a control character, as text at all.
RULE='(must be 1-64 characters|must not contain control characters)'
hostile_names=(
  'X`touch PWNED1`'
  'r`touch${IFS}PWNED2`'
  $'c\n!touch PWNED3\n'
  $'m\n  (p1 pl1 ph0):f1\n  lo to 2 times 1000\n'
  $'ok\r\e[32mverified OK\e[0m'
  '../../escaped'
  '..'
  'a b'
  '=HYPERLINK("x")'
)
i=0
for n in "${hostile_names[@]}"; do
  i=$((i + 1))
  # The name as a YAML double-quoted string, escaped once more for sed's replacement text.
  qy=$(printf '%s' "$n" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')
  q=$(printf '%s' "$qy" | sed -e 's/[\\&|]/\\&/g')
  # molecule name, spin label, channel name
  mol "name$i" "s|^name: crotonic_acid|name: $q|"
  rejects "$WORK/o_mn$i" "^$WORK/p/name$i.yaml:[0-9]+:[0-9]+: name = .*$RULE" \
    molecule show "$WORK/p/name$i.yaml"
  acquire_prog "a_mn$i.yaml" "name$i.yaml"
  rejects "$WORK/o_amn$i" "name$i.yaml:[0-9]+:[0-9]+: name = " acquire "$WORK/p/a_mn$i.yaml" \
    --out "$WORK/o_amn$i"
  mol "label$i" "s|{label: C1,|{label: $q,|"
  rejects "$WORK/o_ml$i" "label$i.yaml:[0-9]+:[0-9]+: nuclei\[0\].label = .*$RULE" \
    molecule show "$WORK/p/label$i.yaml"
  mol "chan$i" "0,/  - name: 13C/s||  - name: $q|"
  rejects "$WORK/o_mc$i" "chan$i.yaml:[0-9]+:[0-9]+: channels\[0\].name = " molecule show "$WORK/p/chan$i.yaml"
  # program name (acquire), gate name (compile), theory run and subsystem names, experiment
  # case name
  acquire_prog "a_pn$i.yaml" mol.yaml "name: $qy"
  rejects "$WORK/o_apn$i" "a_pn$i.yaml:[0-9]+:[0-9]+: name = " acquire "$WORK/p/a_pn$i.yaml" --out "$WORK/o_apn$i"
  sed -e "s|name: swap_c3_c4|name: $q|; s|molecule: .*|molecule: mol.yaml|" \
    "$SRC/sequences/gates/partial_swap_c3_c4.yaml" >"$WORK/p/g$i.yaml"
  rejects "$WORK/o_g$i" "g$i.yaml:[0-9]+:[0-9]+: elements\[0\].gate.name = " compile "$WORK/p/g$i.yaml" \
    --out "$WORK/o_g$i" --no-cache
  sed -e "s|  - name: c_0$|  - name: $q|" "$SRC/sequences/heat_flow/fig3.yaml" >"$WORK/p/t$i.yaml"
  rejects "$WORK/o_t$i" "t$i.yaml:[0-9]+:[0-9]+: runs\[0\].name = " theory "$WORK/p/t$i.yaml" --out "$WORK/o_t$i"
  sed -e "s|{name: S1, temperature: 1.0}|{name: $q, temperature: 1.0}|; s|order: \[S1, S2, S3\]|order: [S2, S3]|" \
    "$SRC/sequences/heat_flow/fig3.yaml" >"$WORK/p/s$i.yaml"
  rejects "$WORK/o_s$i" "s$i.yaml:[0-9]+:[0-9]+: defaults.subsystems\[0\].name = " theory "$WORK/p/s$i.yaml" \
    --out "$WORK/o_s$i"
  experiment_prog c "  - {run: c_0, name: $qy}" >"$WORK/p/e$i.yaml"
  rejects "$WORK/o_e$i" "e$i.yaml:[0-9]+:[0-9]+: cases\[0\].name = " experiment "$WORK/p/e$i.yaml" \
    --out "$WORK/o_e$i" --no-compile
  # the experiment's own name (its figures are named by it)
  experiment_prog c "  - {run: c_0}" | sed -e "s|^format: nmrc-experiment/1|format: nmrc-experiment/1\nname: $q|" \
    >"$WORK/p/en$i.yaml"
  rejects "$WORK/o_en$i" "en$i.yaml:[0-9]+:[0-9]+: name = " experiment "$WORK/p/en$i.yaml" \
    --out "$WORK/o_en$i" --no-compile
  # tomography program names (prepare programs have no name: nothing of theirs becomes a file name)
  sed -e "s|^name: random_state|name: $q|; s|^molecule: .*|molecule: mol.yaml|; s|^readout: .*|readout: $SRC/sequences/readout/paper17.yaml|" \
    "$SRC/sequences/tomography/random_state.yaml" >"$WORK/p/tomo$i.yaml"
  rejects "$WORK/o_tomo$i" "tomo$i.yaml:[0-9]+:[0-9]+: name = " tomography "$WORK/p/tomo$i.yaml" \
    --out "$WORK/o_tomo$i"
  # Printed text never carries a raw control byte (ESC, CR) to the terminal.
  if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$WORK/err"; then
    echo "FAIL: a control byte reached stderr"; FAILS=$((FAILS + 1))
  fi
done
no_marker "hostile names"

# --- 1: free text (titles) may hold backquotes and quotes, but gnuplot never expands them ----
sed -e 's|title: "c = 0"|title: "c = 0 `touch PWNED4` '"'"'q'"'"'`touch PWNED5`"|' \
  "$SRC/sequences/heat_flow/fig3.yaml" >"$WORK/p/title.yaml"
expect 0 '' --quiet theory "$WORK/p/title.yaml" --out "$WORK/o_title"
[ -s "$WORK/o_title/c_0/plot.png" ] || { echo "FAIL: the titled plot was not drawn"; FAILS=$((FAILS + 1)); }
grep -q 'touch PWNED4' "$WORK/o_title/c_0/plot.svg" || { echo "FAIL: the title is not shown literally"; FAILS=$((FAILS + 1)); }
# ... and a title with a line break is refused.
sed -e 's|title: "c = 0"|title: "c = 0\\n!touch PWNED6"|' "$SRC/sequences/heat_flow/fig3.yaml" >"$WORK/p/title_nl.yaml"
rejects "$WORK/o_title_nl" "title_nl.yaml:[0-9]+:[0-9]+: runs\[0\].title = .*control characters" \
  theory "$WORK/p/title_nl.yaml" --out "$WORK/o_title_nl"
no_marker "titles"

# --- 4: an isotope that would add a record to acqus --------------------------------------------
mol iso 's|    isotope: 13C$|    isotope: "13C\\n##$PLW= (0..63)\\n"|; s|    frame_ppm: 94.635 .*|    larmor_mhz: 75.4677|'
rejects "$WORK/o_iso" "iso.yaml:[0-9]+:[0-9]+: channels\[0\].isotope = .*$RULE" molecule show "$WORK/p/iso.yaml"
mol iso2 's|    isotope: 13C$|    isotope: "13C;##"|; s|    frame_ppm: 94.635 .*|    larmor_mhz: 75.4677|'
rejects "$WORK/o_iso" "iso2.yaml:[0-9]+:[0-9]+: channels\[0\].isotope = .*must be an isotope" molecule show "$WORK/p/iso2.yaml"

# --- 5: a pulse name that would end a shape file early ------------------------------------------
python3 - "$SRC/sequences/gates/compiled" "$WORK/p" <<'PY'
import glob, json, os, sys
src = sorted(glob.glob(os.path.join(sys.argv[1], "*.json")))[0]
j = json.load(open(src))
j["name"] = "x\n##END=\n##$SHAPE_INTEGFAC= 1"
json.dump(j, open(os.path.join(sys.argv[2], "evil_pulse.json"), "w"))
j["name"] = "ok"
j["channels"] = {"13C\n##$NUC1": list(j["channels"].values())[0]}
json.dump(j, open(os.path.join(sys.argv[2], "evil_channel.json"), "w"))
PY
rejects "$WORK/o_pulse" "evil_pulse.json:[0-9]+:[0-9]+: name = .*$RULE" validate "$WORK/p/evil_pulse.json" \
  --molecule "$MOL"
rejects "$WORK/o_pulse" "evil_channel.json:[0-9]+:[0-9]+: channels: channel name" validate \
  "$WORK/p/evil_channel.json" --molecule "$MOL"
rejects "$WORK/o_export" "evil_pulse.json:[0-9]+:[0-9]+: name = " export bruker "$WORK/p/evil_pulse.json" \
  --molecule "$MOL" --out "$WORK/o_export"

# --- 10: the compiled folder of an experiment stays inside the program's folder ---------------
mkdir -p "$WORK/elsewhere"
for c in "$WORK/elsewhere" "../elsewhere" "c/../../elsewhere" "."; do
  experiment_prog "$c" "  - {run: c_0}" >"$WORK/p/compiled_out.yaml"
  rejects "$WORK/o_co" "compiled_out.yaml:[0-9]+:[0-9]+: compiled = .*inside the program's own folder" \
    experiment "$WORK/p/compiled_out.yaml" --out "$WORK/o_co"
done
[ -z "$(ls -A "$WORK/elsewhere")" ] || { echo "FAIL: wrote into a folder outside the program's"; FAILS=$((FAILS + 1)); }

# --- 12: JSON nested 100,000 deep is refused before it is parsed -------------------------------
python3 -c 'import sys; sys.stdout.write("{\"format\": \"nmrc-pulse/1\", \"x\": " + "[" * 100000 + "]" * 100000 + "}")' \
  >"$WORK/p/deep.json"
rejects "$WORK/o_deep" "deep.json:1:[0-9]+: JSON nested deeper than 64 levels" validate "$WORK/p/deep.json" \
  --molecule "$MOL"
rejects "$WORK/o_deep" "deep.json:1:[0-9]+: JSON nested deeper than 64 levels" export bruker "$WORK/p/deep.json" \
  --molecule "$MOL" --out "$WORK/o_deep"

# --- 13: loops count as work even with empty bodies; a pulse file is read once -----------------
cat >"$WORK/p/loops.yaml" <<YAML
format: nmrc-acquire/1
molecule: mol.yaml
sample: {relaxation: false}
elements:
  - loop:
      count: 100000
      elements:
        - loop:
            count: 100000
            elements:
              - loop: {count: 100000, elements: []}
acquisition: {channel: 13C, sw_hz: 15000, td: 1024, snr: 0, seed: 1}
YAML
t0=$SECONDS
rejects "$WORK/o_loops" "loops.yaml:[0-9]+:[0-9]+: .*loop repetitions" acquire "$WORK/p/loops.yaml" \
  --out "$WORK/o_loops"
[ $((SECONDS - t0)) -lt 30 ] || { echo "FAIL: empty loops took $((SECONDS - t0)) s"; FAILS=$((FAILS + 1)); }
python3 - "$WORK/p/big.json" <<'PY'
import json, sys
n = 1 << 20
json.dump({"format": "nmrc-pulse/1", "name": "big", "dt_s": 1e-7,
           "channels": {"13C": {"ux_hz": [0.0] * n, "uy_hz": [0.0] * n}}}, open(sys.argv[1], "w"))
PY
cat >"$WORK/p/bigloop.yaml" <<YAML
format: nmrc-acquire/1
molecule: mol.yaml
sample: {relaxation: false}
elements:
  - loop:
      count: 1000
      elements:
        - shaped_pulse: {file: big.json}
acquisition: {channel: 13C, sw_hz: 15000, td: 1024, snr: 0, seed: 1}
YAML
t0=$SECONDS
rejects "$WORK/o_bigloop" "bigloop.yaml:[0-9]+:[0-9]+: .*shaped-pulse steps" acquire \
  "$WORK/p/bigloop.yaml" --out "$WORK/o_bigloop"
[ $((SECONDS - t0)) -lt 60 ] || { echo "FAIL: a loop around a big pulse took $((SECONDS - t0)) s"; FAILS=$((FAILS + 1)); }

# --- 15: CSV cells from names are quoted and cannot start a formula ---------------------------
sed -e 's|{name: S1, temperature: 1.0}|{name: +S1, temperature: 1.0}|; s|order: \[S1, S2, S3\]|order: [+S1, S2, S3]|' \
  "$SRC/sequences/heat_flow/fig3.yaml" | sed -e '/^  - name: c_minus_0.5/,$d' >"$WORK/p/csv.yaml"
expect 0 '' --quiet theory "$WORK/p/csv.yaml" --out "$WORK/o_csv"
grep -q "^1,'+S1," "$WORK/o_csv/c_0/directions.csv" || { echo "FAIL: a formula-leading cell is not neutralised"; FAILS=$((FAILS + 1)); }
if grep -q '^[0-9]*,+S1,' "$WORK/o_csv/c_0/directions.csv"; then echo "FAIL: raw +S1 cell"; FAILS=$((FAILS + 1)); fi

no_marker "all cases"
finish
