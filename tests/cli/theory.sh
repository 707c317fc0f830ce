# nmrc theory: the shipped programs run and write their outputs; bad programs fail with one
# located line, exit 2, and write nothing.
source "$(dirname "$0")/lib.bash"
P="$SRC/sequences/heat_flow"
expect 0 'written to' theory "$P/fig3.yaml" --out "$WORK/fig3"
for f in c_0 c_minus_0.5 c_plus_0.5; do
  for o in steps.csv directions.csv summary.json plot.png plot.svg master_equation.csv; do
    [ -s "$WORK/fig3/$f/$o" ] || { echo "FAIL: missing fig3/$f/$o"; FAILS=$((FAILS + 1)); }
  done
done
[ -s "$WORK/fig3/figure.png" ] || { echo "FAIL: missing fig3/figure.png"; FAILS=$((FAILS + 1)); }
[ -s "$WORK/fig3/c_minus_0.5/convergence.md" ] || { echo "FAIL: no convergence table"; FAILS=$((FAILS + 1)); }
# 1 header + initial state + 300 interactions
[ "$(wc -l <"$WORK/fig3/c_0/steps.csv")" = 302 ] || { echo "FAIL: steps.csv rows"; FAILS=$((FAILS + 1)); }
# c = -0.5: S2 and S3 absorb heat (delta_energy > 0), AT of S3 initially undefined (not NaN)
grep -q '"S3": "undefined"' "$WORK/fig3/c_minus_0.5/summary.json" || { echo "FAIL: AT undefined not reported"; FAILS=$((FAILS + 1)); }
grep -qi 'nan' "$WORK/fig3/c_minus_0.5/summary.json" && { echo "FAIL: NaN in summary.json"; FAILS=$((FAILS + 1)); }
expect 0 'written to' theory "$P/fig13.yaml" --out "$WORK/fig13"
[ "$(wc -l <"$WORK/fig13/fig13/sweep.csv")" = 42 ] || { echo "FAIL: sweep.csv rows"; FAILS=$((FAILS + 1)); }

bad() {  # bad NAME SED-EXPRESSION REGEX
  sed -e "$2" "$P/fig4c.yaml" >"$WORK/$1.yaml"
  rejects "$WORK/out_$1" "^$WORK/([a-z]+/)?$1.yaml:[0-9]+:[0-9]+: .*$3" theory "$WORK/$1.yaml" --out "$WORK/out_$1"
}
bad unknown_name 's/order: \[S3, S2, S1\]/order: [S3, S2, S9]/' 'runs\[1\].order\[2\] = S9: unknown subsystem S9 \(known: S1, S2, S3\)'
bad zero_temperature 's/{name: S2, temperature: 1.0}/{name: S2, temperature: 0}/' 'defaults.subsystems\[1\].temperature = 0: must be > 0'
bad negative_tau 's/tau: 0.01/tau: -0.01/' 'defaults.tau = -0.01: must be > 0'
bad same_pair 's/{pair: \[S1, S3\], c: -0.1}/{pair: [S3, S3], c: -0.1}/' 'pair = \[S3, S3\]: a coherence pair needs two different subsystems'
bad nonphysical 's/{pair: \[S2, S3\], c: 0.5}/{pair: [S2, S3], c: 0.95}/' 'not a density matrix .* largest physical lambda for these phases is 0.918104 \(all c_pq scaled by 0.966425\)'
bad order_omits 's/order: \[S3, S2, S1\]/order: [S3, S2]/' 'runs\[1\].order = \[S3, S2\]: missing S1'
bad order_repeats 's/order: \[S1, S2, S3\]/order: [S1, S2, S1]/' 'runs\[0\].order\[2\] = S1: appears twice'
bad unknown_key 's/^  g: 20/  gee: 20/' 'gee: unknown key'
expect 2 'cannot read' theory "$WORK/does_not_exist.yaml" --out "$WORK/x"
expect 2 '' theory "$P/fig3.yaml"
finish
