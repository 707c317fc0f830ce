# nmrc molecule show: good files print 32 lines; bad files fail with one located line, exit 2.
source "$(dirname "$0")/lib.bash"
expect 0 'predicted lines \(weak coupling\): 32' molecule show "$SRC/molecules/crotonic_acid.yaml"
expect 0 'C4 .* -5783.6' molecule show "$SRC/molecules/crotonic_acid.yaml"
expect 0 'predicted lines' molecule show "$SRC/molecules/chloroform.yaml"
expect 0 "predicted lines" molecule show "$SRC/molecules/alanine.yaml" --quiet
# The 12-spin IQC register (7 13C + 5 1H): the loader's largest register; a 13th spin is refused.
expect 0 'predicted lines \(weak coupling\): 24576 \(2048 per spin\)' molecule show "$SRC/molecules/iqc_register_12.yaml"
expect 0 'H9 .* 2468.0' molecule show "$SRC/molecules/iqc_register_12.yaml"
sed -e 's/^  - {label: H12, \(.*\)$/  - {label: H12, \1\n  - {label: H13, \1/' "$SRC/molecules/iqc_register_12.yaml" >"$WORK/r13.yaml"
expect 2 "^$WORK/r13.yaml:[0-9]+:[0-9]+: nuclei.*at most 12 spins" molecule show "$WORK/r13.yaml"
expect 0 '' molecule show "$SRC/molecules/crotonic_acid.yaml" --lines-csv "$WORK/lines.csv"
[ "$(wc -l <"$WORK/lines.csv")" = 33 ] || { echo "FAIL: lines.csv does not have 32 rows"; FAILS=$((FAILS+1)); }

bad() {  # bad NAME SED-EXPRESSION REGEX
  sed -e "$2" "$SRC/molecules/crotonic_acid.yaml" >"$WORK/$1.yaml"
  expect 2 "^$WORK/([a-z]+/)?$1.yaml:[0-9]+:[0-9]+: .*$3" molecule show "$WORK/$1.yaml"
}
bad unknown_spin 's/spins: \[C2, C4\]/spins: [C2, C9]/' 'couplings\[4\].spins = \[C2, C9\]: unknown spin C9 \(known: C1..C4\)'
bad negative_t2 's/t2_s: 0.84/t2_s: -0.84/' 'nuclei\[0\].t2_s = -0.84: must be > 0'
bad t2_gt_2t1 's/t1_s: 10.2, t2_s: 0.84/t1_s: 0.3, t2_s: 0.84/' 'T2 must be <= 2 T1'
bad duplicate 's/label: C2,/label: C1,/' 'duplicate spin label'
bad unknown_key 's/^roles:/colour: red\nroles:/' 'colour: unknown key'
bad missing_key 's/^name: crotonic_acid//' 'name: missing required key'
bad wrong_type 's/proton_mhz: 300.13/proton_mhz: [300]/' 'spectrometer.proton_mhz = \[300\]: must be a number'
bad invalid_yaml 's/^roles: {/roles: {{/' 'invalid YAML'
expect 2 'cannot read' molecule show "$WORK/does_not_exist.yaml"
expect 2 '' molecule frobnicate
expect 2 '' molecule show
finish
