# nmrc tomography: completeness check, a noise-free reconstruction, and bad input.
source "$(dirname "$0")/lib.bash"
M="$SRC/molecules/crotonic_acid.yaml"
expect 1 'rank 252 of 255.*XXXX, XYYX, XZYX.*YYXY.*Listed more than once: XYXX' tomography --check "$SRC/sequences/readout/paper17.yaml" --molecule "$M"
expect 0 'rank 255 of 255 parameters: complete' tomography --check "$SRC/sequences/readout/paper17_completed.yaml" --molecule "$M"
cat >"$WORK/t.yaml" <<EOT
name: t
molecule: $M
readout: $SRC/sequences/readout/paper17_completed.yaml
state: {random: {seed: 3, rank: 2}}
lines: spectrometer
acquisition: {sw_hz: 15000, td: 2048}
EOT
expect 0 'fidelity of the reconstructed state: (1\.000000|0\.9999[0-9]{2})' tomography "$WORK/t.yaml" --out "$WORK/res"
for f in rho_true.json rho_reconstructed.json rho_system.json summary.json lines.csv density_matrix.png density_matrix.svg; do
  [ -s "$WORK/res/$f" ] || { echo "FAIL: missing $f"; FAILS=$((FAILS+1)); }
done
bad() {  # bad NAME SED REGEX
  sed -e "$2" "$WORK/t.yaml" >"$WORK/$1.yaml"
  rejects "$WORK/out_$1" "$1.yaml:[0-9]+:[0-9]+: .*$3" tomography "$WORK/$1.yaml" --out "$WORK/out_$1"
}
bad incomplete "s|paper17_completed.yaml|paper17.yaml|" 'readout set cannot reconstruct the state: rank 252'
bad rank 's/rank: 2/rank: 99/' 'state.random.rank = 99: must be an integer between 1 and 16'
bad td 's/td: 2048/td: 2000/' 'acquisition.td = 2000: must be a power of two'
bad sw 's/sw_hz: 15000/sw_hz: 8000/' 'acquisition.sw_hz = 8000: spectral width too small'
bad key 's/^lines:/colour: red\nlines:/' 'colour: unknown key'
printf 'name: r\nsettings: [XIZI]\n' >"$WORK/r.yaml"
expect 2 'r.yaml:2:12: settings\[0\] = XIZI: readout axis' tomography --check "$WORK/r.yaml" --molecule "$M"
expect 2 '' tomography
finish
