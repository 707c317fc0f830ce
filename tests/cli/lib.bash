# Helpers for end-to-end CLI tests (sourced, not a test itself): run nmrc, check exit code and the first stderr line.
# Usage in a test: source lib.sh; expect CODE 'REGEX' args...
set -u
NMRC="$1"
SRC="$2"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FAILS=0
expect() {
  local code="$1" regex="$2"
  shift 2
  local out err rc
  "$NMRC" "$@" >"$WORK/out" 2>"$WORK/err"
  rc=$?
  if [ "$rc" != "$code" ]; then
    echo "FAIL: nmrc $* exited $rc, expected $code"; head -3 "$WORK/err"; FAILS=$((FAILS + 1)); return
  fi
  if [ -n "$regex" ] && ! grep -Eq -- "$regex" "$WORK/out" "$WORK/err"; then
    echo "FAIL: nmrc $*: output does not match /$regex/"; head -5 "$WORK/err" "$WORK/out"
    FAILS=$((FAILS + 1)); return
  fi
  if [ "$code" = 2 ] && [ "$(wc -l <"$WORK/err")" -lt 1 ]; then
    echo "FAIL: nmrc $*: exit 2 without an error line"; FAILS=$((FAILS + 1)); return
  fi
  echo "ok: nmrc $*"
}
# rejects OUT 'REGEX' args...: bad input. nmrc exits 2 with one line on stderr that matches
# REGEX, and writes nothing at OUT.
rejects() {
  local out="$1"
  shift
  expect 2 "$@"
  [ "$(wc -l <"$WORK/err")" = 1 ] || { echo "FAIL: nmrc ${*:2}: more than one line on stderr"; FAILS=$((FAILS + 1)); }
  [ ! -e "$out" ] || { echo "FAIL: nmrc ${*:2}: wrote $out for bad input"; FAILS=$((FAILS + 1)); }
}
# tiny_compile_program FILE: the small compile program the CLI tests share (a 2 ms y 90 on C4 of
# crotonic acid, three B1 scales, two starts: compiles in about a second); callers append
# elements to FILE.
tiny_compile_program() {
  cat >"$1" <<YAML
molecule: $SRC/molecules/crotonic_acid.yaml
compile: {duration_s: 0.002, steps: 60, starts: 2, seed: 2, fidelity_target: 0.99, threads: 1,
          ensemble: {b1_scale: [0.99, 1.0, 1.01]}}
elements:
  - gate: {name: ry_c4, type: rotation, spins: [C4], angle_deg: 90, axis: y}
YAML
}
finish() {
  if [ "$FAILS" -gt 0 ]; then echo "$FAILS failed"; exit 1; fi
  exit 0
}
