# The corpus of malformed inputs (tests/data/bad/cases.txt): every case must end with its exit
# code and, on the first line of stderr, its expected text. Also prints, per command, how many
# cases were handled and how many crashed (signal), hung (> 30 s), exited 0 or exited 3.
# Usage: bad_inputs.sh NMRC SRC [--show]   (--show prints each case's first stderr line)
set -u
NMRC=$(realpath "$1")
BAD="$2/tests/data/bad"
SHOW=${3:-}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$BAD" || exit 1
declare -A cases handled crashes hangs exit0 exit3
fails=0
n=0
while IFS= read -r line; do
  case "$line" in '#'* | '') continue ;; esac
  IFS='|' read -r file code args expect <<<"$line"
  file=$(echo "$file" | xargs)
  code=$(echo "$code" | xargs)
  args=$(echo "$args" | sed 's/^ *//; s/ *$//')
  expect=$(echo "$expect" | sed 's/^ *//; s/ *$//')
  n=$((n + 1))
  out="$WORK/out$n"
  args=${args//\{out\}/$out}
  args=${args//\{\}/$file}
  cmd=${args%% *}
  [ "$cmd" = molecule ] && cmd="molecule show"
  [ "$cmd" = tomography ] && [[ "$args" == *--check* ]] && cmd="tomography --check"
  cases[$cmd]=$((${cases[$cmd]:-0} + 1))
  # shellcheck disable=SC2086
  timeout 30 "$NMRC" --quiet $args >"$WORK/stdout" 2>"$WORK/stderr" </dev/null
  rc=$?
  first=$(head -1 "$WORK/stderr")
  [ -n "$SHOW" ] && echo "$file | $rc | $first"
  problem=""
  if [ "$rc" = 124 ]; then
    hangs[$cmd]=$((${hangs[$cmd]:-0} + 1)); problem="hung (> 30 s)"
  elif [ "$rc" -gt 128 ]; then
    crashes[$cmd]=$((${crashes[$cmd]:-0} + 1)); problem="crashed (signal $((rc - 128)))"
  elif [ "$rc" = 0 ] && [ "$code" != 0 ]; then
    exit0[$cmd]=$((${exit0[$cmd]:-0} + 1)); problem="exited 0"
  elif [ "$rc" = 3 ] && [ "$code" != 3 ]; then
    exit3[$cmd]=$((${exit3[$cmd]:-0} + 1)); problem="exited 3 (internal error)"
  elif [ "$rc" != "$code" ]; then
    problem="exited $rc, expected $code"
  else
    # The expected text: fragments separated by " ... ", in this order on the first line.
    rest=$first
    frags=${expect// ... /$'\n'}
    while IFS= read -r frag; do
      [ -z "$frag" ] && continue
      if [[ "$rest" != *"$frag"* ]]; then problem="message lacks \"$frag\""; break; fi
      rest=${rest#*"$frag"}
    done <<<"$frags"
    if [ -z "$problem" ] && [ "$code" = 2 ] && [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
      problem="wrote output before refusing the input"
    fi
  fi
  if [ -n "$problem" ]; then
    echo "FAIL: $file (nmrc $args): $problem"
    echo "      stderr: $first"
    fails=$((fails + 1))
  else
    handled[$cmd]=$((${handled[$cmd]:-0} + 1))
  fi
done <cases.txt
printf '%-20s %6s %8s %8s %6s %12s %7s\n' command cases handled crashes hangs "wrong exit 0" "exit 3"
for cmd in "${!cases[@]}"; do
  printf '%-20s %6d %8d %8d %6d %12d %7d\n' "$cmd" "${cases[$cmd]}" "${handled[$cmd]:-0}" \
    "${crashes[$cmd]:-0}" "${hangs[$cmd]:-0}" "${exit0[$cmd]:-0}" "${exit3[$cmd]:-0}"
done | sort
echo "$n cases, $fails failed"
[ "$fails" = 0 ]
