# Reliability under faults and sharing (issue 27; the file half of issue 26): concurrent runs
# into one --out and one cache, kill and resume, a full file system, read-only and untrusted
# caches, planted symbolic links, users' look-alike files, two PID namespaces, a killed gnuplot,
# out of memory.
# Every case asserts the outputs are identical to a solo run or the error is the documented one
# (docs/exit-codes.md: 4 for the machine's refusals), and that no picture or file is left
# half-written under its final name. Cases that need mount/unshare are skipped with a message
# where the system does not allow them.
source "$(dirname "$0")/lib.bash"
export TMPDIR="$WORK/tmp"  # gnuplot's private folders: checked for leftovers below
mkdir -p "$TMPDIR"
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
same() { if cmp -s "$1" "$2"; then ok "$3"; else fail "$3: $1 and $2 differ"; fi; }
# complete PICTURE: a whole PNG (signature, IEND last) or SVG (closing tag).
complete() {
  case "$1" in
    *.png) [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
           [ "$(tail -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 49454e44ae426082 ] ;;
    *.svg) tail -c 20 "$1" | grep -q '</svg>' ;;
  esac
}
# no_leftovers DIR...: no nmrc temporary and no half picture anywhere below DIR, no private
# folder left in TMPDIR.
no_leftovers() {
  local d f
  for d in "$@"; do
    [ -n "$(find "$d" -name '.nmrc-tmp-*' 2>/dev/null)" ] && fail "temporary left in $d: $(find "$d" -name '.nmrc-tmp-*')"
    for f in $(find "$d" -name '*.png' -o -name '*.svg' 2>/dev/null); do
      complete "$f" || fail "incomplete picture $f"
    done
  done
  [ -z "$(ls -A "$TMPDIR")" ] || fail "private folders left in TMPDIR: $(ls -A "$TMPDIR")"
}
CAN_MOUNT=0
if unshare -m --propagation private true 2>/dev/null &&
   unshare -m --propagation private sh -c "mount -t tmpfs -o size=64k tmpfs '$WORK/tmp'" 2>/dev/null; then
  CAN_MOUNT=1
else
  echo "skip: mount namespaces not allowed here: the full-disk, read-only and unwritable-output cases are skipped"
fi
# in_ns 'SHELL COMMANDS': runs them in a private mount namespace (mounts vanish with it).
in_ns() { unshare -m --propagation private bash -c "$1"; }

MOL="$SRC/molecules/crotonic_acid.yaml"
tiny_compile_program "$WORK/prog.yaml"
expect 0 'ry_c4: reached_target' compile "$WORK/prog.yaml" --out "$WORK/solo" --no-cache
SOLO="$WORK/solo/ry_c4.json"

# 1. Concurrent compiles into one --out and one cache: every run succeeds with the solo pulse;
#    pictures whole; no temporary left (fixed plot temp names made 13 of 16 trials fail before).
for trial in 1 2 3; do
  pids=()
  for k in 1 2 3; do
    "$NMRC" --quiet compile "$WORK/prog.yaml" --out "$WORK/shared" --cache-dir "$WORK/cache" \
      >"$WORK/c$k.out" 2>"$WORK/c$k.err" &
    pids+=($!)
  done
  for k in 1 2 3; do
    wait "${pids[$((k - 1))]}" || fail "concurrent compile $trial.$k: exit $?: $(head -2 "$WORK/c$k.err")"
  done
  same "$SOLO" "$WORK/shared/ry_c4.json" "concurrent compiles (trial $trial): pulse identical to a solo run"
done
no_leftovers "$WORK/shared" "$WORK/cache"

# 2. Two PID namespaces: both nmrc processes are PID 1, sharing --out and the cache (temporary
#    names are random, not PIDs, so they cannot clash or delete each other's live files).
if unshare -p -f --mount-proc true 2>/dev/null; then
  for trial in 1 2; do
    rm -rf "$WORK/ns_out" "$WORK/ns_cache"
    unshare -p -f --mount-proc "$NMRC" --quiet compile "$WORK/prog.yaml" --out "$WORK/ns_out" \
      --cache-dir "$WORK/ns_cache" >"$WORK/ns1.out" 2>&1 &
    a=$!
    unshare -p -f --mount-proc "$NMRC" --quiet compile "$WORK/prog.yaml" --out "$WORK/ns_out" \
      --cache-dir "$WORK/ns_cache" >"$WORK/ns2.out" 2>&1 &
    b=$!
    wait $a || fail "PID namespace run 1: $(head -2 "$WORK/ns1.out")"
    wait $b || fail "PID namespace run 2: $(head -2 "$WORK/ns2.out")"
    same "$SOLO" "$WORK/ns_out/ry_c4.json" "two PID namespaces (trial $trial): pulse identical"
  done
  no_leftovers "$WORK/ns_out" "$WORK/ns_cache"
else
  echo "skip: unshare -p not allowed here (two containers are then simulated by nothing)"
fi

# 3. Temporaries: only nmrc's are removed, and only when stale. A user's look-alikes survive.
mkdir -p "$WORK/keep"
for f in x.tmp2023 thesis.tmp2023 ry_c4.json.tmp4194305 .nmrc-tmp-notmine .nmrc-tmp-0123456789ABCDEF; do
  echo keep >"$WORK/keep/$f"; touch -d '2 days ago' "$WORK/keep/$f"
done
echo half >"$WORK/keep/.nmrc-tmp-0123456789abcdef"; touch -d '2 hours ago' "$WORK/keep/.nmrc-tmp-0123456789abcdef"
echo busy >"$WORK/keep/.nmrc-tmp-fedcba9876543210"  # a live write of another run
expect 0 '' --quiet compile "$WORK/prog.yaml" --out "$WORK/keep" --no-cache
for f in x.tmp2023 thesis.tmp2023 ry_c4.json.tmp4194305 .nmrc-tmp-notmine .nmrc-tmp-0123456789ABCDEF; do
  [ "$(cat "$WORK/keep/$f" 2>/dev/null)" = keep ] || fail "user's file $f was touched"
done
[ -e "$WORK/keep/.nmrc-tmp-0123456789abcdef" ] && fail "stale temporary of a killed run not removed"
[ -e "$WORK/keep/.nmrc-tmp-fedcba9876543210" ] || fail "a live run's fresh temporary was removed"
ok "temporaries: users' look-alikes kept, only a stale nmrc temporary removed"

# 4. Planted symbolic links: at every picture and output name, at the old fixed temp names, and
#    as a subfolder of --out. The files they point to (outside --out) never change.
mkdir -p "$WORK/outside" "$WORK/planted"
echo original >"$WORK/outside/victim"
for f in ry_c4.json ry_c4.png ry_c4.svg report.json report.txt ry_c4.png.tmp ry_c4.svg.tmp \
         "ry_c4.json.tmp$$"; do
  ln -s "$WORK/outside/victim" "$WORK/planted/$f"
done
expect 0 '' --quiet compile "$WORK/prog.yaml" --out "$WORK/planted" --no-cache
[ "$(cat "$WORK/outside/victim")" = original ] || fail "a planted link was written through"
for f in ry_c4.json ry_c4.png ry_c4.svg report.json; do
  [ -L "$WORK/planted/$f" ] && fail "$f is still the planted link"
done
same "$SOLO" "$WORK/planted/ry_c4.json" "planted links replaced, not followed; victim unchanged"
# A subfolder of --out replaced by a link (an experiment's case folder): refused, exit 4.
EXP_HEAD="format: nmrc-experiment/1
molecule: $MOL
theory: $SRC/sequences/heat_flow/fig3.yaml
readout: $SRC/sequences/readout/paper17_completed.yaml
compiled: compiled"
IDEAL="imperfections: {relaxation: true, b1_ensemble: false, compiled_gates: false, noise: true, readout: false}
acquisition: {snr: 300, repeats: 2}
error_budget: false"
mkdir -p "$WORK/p"
printf '%s\n' "$EXP_HEAD" "$IDEAL" "measure: [1]" "cases:" "  - {run: c_minus_0.5}" \
  "  - {run: c_plus_0.5}" >"$WORK/p/two.yaml"
printf '%s\n' "$EXP_HEAD" "$IDEAL" "measure: [1]" "cases:" "  - {run: c_plus_0.5}" >"$WORK/p/one.yaml"
mkdir -p "$WORK/linked"
ln -s "$WORK/outside" "$WORK/linked/c_minus_0.5"
expect 4 'c_minus_0.5: is a symbolic link' experiment "$WORK/p/two.yaml" --out "$WORK/linked" --no-cache --quiet
[ "$(ls "$WORK/outside")" = victim ] || fail "files were written into the linked subfolder: $(ls "$WORK/outside")"
# A console export whose lists/ folder was replaced by a link: refused, nothing lands behind it.
mkdir -p "$WORK/bx" "$WORK/outside_lists"
ln -s "$WORK/outside_lists" "$WORK/bx/lists"
expect 4 'bx/lists: is a symbolic link' export bruker "$SRC/sequences/gates/compiled/swap_c1_c4.json" \
  --molecule "$MOL" --out "$WORK/bx" --p90 10 --plw 20
[ -z "$(ls -A "$WORK/outside_lists")" ] || fail "export wrote behind a linked lists/: $(ls -R "$WORK/outside_lists")"
# The user's own link as --out is followed (resolved once).
ln -s "$WORK/real_out" "$WORK/out_link"
mkdir -p "$WORK/real_out"
expect 0 '' --quiet compile "$WORK/prog.yaml" --out "$WORK/out_link" --no-cache
same "$SOLO" "$WORK/real_out/ry_c4.json" "--out given as the user's own link is followed"

# 5. gnuplot killed, failing or cut short: exit 4 with the reason, no picture under its name.
mkdir -p "$WORK/bin"
printf '#!/bin/sh\nkill -9 $$\n' >"$WORK/bin/gnuplot"
chmod +x "$WORK/bin/gnuplot"
PATH="$WORK/bin:$PATH" expect 4 'ry_c4.png: gnuplot was killed by signal 9' compile "$WORK/prog.yaml" --out "$WORK/gk" --no-cache
[ -e "$WORK/gk/ry_c4.png" ] && fail "killed gnuplot: a picture was left"
printf '#!/bin/sh\nprintf "\\211PNG\\r\\n\\032\\nhalf" > figure.png\n' >"$WORK/bin/gnuplot"
PATH="$WORK/bin:$PATH" expect 4 'ry_c4.png: gnuplot wrote an incomplete picture' compile "$WORK/prog.yaml" --out "$WORK/gi" --no-cache
[ -e "$WORK/gi/ry_c4.png" ] && fail "cut-short picture left under its name"
printf '#!/bin/sh\necho "line 3: no space left" >&2\nexit 1\n' >"$WORK/bin/gnuplot"
PATH="$WORK/bin:$PATH" expect 4 'gnuplot failed \(exit status 1: line 3: no space left\)' compile "$WORK/prog.yaml" --out "$WORK/gf" --no-cache
printf '#!/bin/sh\nhead -c 3000000 /dev/zero | tr "\\\\0" x >&2\nexit 1\n' >"$WORK/bin/gnuplot"
PATH="$WORK/bin:$PATH" expect 4 'gnuplot failed \(exit status 1\)' compile "$WORK/prog.yaml" --out "$WORK/gm" --no-cache
rm -rf "$WORK/bin"
no_leftovers "$WORK/gk" "$WORK/gi" "$WORK/gf"

# 6. Caches that cannot be trusted or written: a warning that says "cache", once; the run goes on
#    and writes its results. A pulse planted in a cache of another user is not used.
expect 0 '' --quiet compile "$WORK/prog.yaml" --out "$WORK/cw" --cache-dir "$WORK/opencache"
chmod 777 "$WORK/opencache"
expect 0 'warning: cache .*opencache: writable by group or others \(mode 0777\).*caching is off' \
  compile "$WORK/prog.yaml" --out "$WORK/cw2" --cache-dir "$WORK/opencache"
grep -q 'from cache' "$WORK/out" && fail "an entry of a folder others can write was used"
[ "$(grep -c 'warning: cache' "$WORK/err")" = 1 ] || fail "the cache warning was not given exactly once"
same "$SOLO" "$WORK/cw2/ry_c4.json" "untrusted cache: warned once, result written"
if [ "$(id -u)" = 0 ]; then
  chmod 700 "$WORK/opencache"
  chown -R 65534:65534 "$WORK/opencache"
  expect 0 'warning: cache .*opencache: owned by another user \(uid 65534\)' \
    compile "$WORK/prog.yaml" --out "$WORK/cw3" --cache-dir "$WORK/opencache"
  grep -q 'from cache' "$WORK/out" && fail "an entry of another user's cache was used"
fi
# A file where the cache folder should be: a warning, not "output directory", and results.
echo x >"$WORK/cachefile"
expect 0 'warning: cache .*cachefile: cannot use it' compile "$WORK/prog.yaml" --out "$WORK/cw4" --cache-dir "$WORK/cachefile"
grep -q 'output directory' "$WORK/err" && fail "a cache error speaks of the output directory"
same "$SOLO" "$WORK/cw4/ry_c4.json" "cache folder unusable: result still written"
# No HOME and a relative XDG_CACHE_HOME (ignored, as the XDG spec says): caching is said to be off.
(cd "$WORK" && env -u HOME XDG_CACHE_HOME=relcache "$NMRC" --quiet experiment "$WORK/p/one.yaml" \
  --out "$WORK/nohome" >"$WORK/out" 2>"$WORK/err") || fail "experiment without HOME: exit $?"
grep -q 'caching is off' "$WORK/err" || fail "no HOME: caching off not said"
[ -e "$WORK/relcache" ] && fail "a relative XDG_CACHE_HOME was used"
# experiment --no-cache: no cache folder is made.
HOME="$WORK/home_nc" expect 0 '' --quiet experiment "$WORK/p/one.yaml" --out "$WORK/nc" --no-cache
[ -e "$WORK/home_nc" ] && fail "experiment --no-cache made a cache folder"
same "$WORK/nohome/c_plus_0.5/measurements.csv" "$WORK/nc/c_plus_0.5/measurements.csv" "experiment without a cache"

# 7. Concurrent experiments into one --out and one cache (compiled gates with relaxation: the
#    channel cache is written by both), then a solo run: identical measurements.
mkdir -p "$WORK/p/compiled"
cp "$SRC"/sequences/experiment/compiled/*.json "$WORK/p/compiled/"
REAL="imperfections: {relaxation: true, b1_ensemble: false, compiled_gates: true, noise: true, readout: false}
acquisition: {snr: 300, repeats: 2}
error_budget: false"
printf '%s\n' "$EXP_HEAD" "$REAL" "measure: [1]" "cases:" "  - {run: c_minus_0.5}" >"$WORK/p/cg.yaml"
expect 0 '' --quiet experiment "$WORK/p/cg.yaml" --out "$WORK/ex_solo" --no-cache --no-compile
"$NMRC" --quiet experiment "$WORK/p/cg.yaml" --out "$WORK/ex_shared" --cache-dir "$WORK/ex_cache" --no-compile >"$WORK/e1.out" 2>&1 &
a=$!
"$NMRC" --quiet experiment "$WORK/p/cg.yaml" --out "$WORK/ex_shared" --cache-dir "$WORK/ex_cache" --no-compile >"$WORK/e2.out" 2>&1 &
b=$!
wait $a || fail "concurrent experiment 1: $(head -2 "$WORK/e1.out")"
wait $b || fail "concurrent experiment 2: $(head -2 "$WORK/e2.out")"
same "$WORK/ex_solo/c_minus_0.5/measurements.csv" "$WORK/ex_shared/c_minus_0.5/measurements.csv" \
  "concurrent experiments: measurements identical to a solo run"
[ "$(ls "$WORK/ex_cache/channels" | grep -c '\.chan$')" -ge 1 ] || fail "no channel cached"
# From the cache now (entries checked: trace-preserving, finite), same numbers.
expect 0 '' --quiet experiment "$WORK/p/cg.yaml" --out "$WORK/ex_cached" --cache-dir "$WORK/ex_cache" --no-compile
same "$WORK/ex_solo/c_minus_0.5/measurements.csv" "$WORK/ex_cached/c_minus_0.5/measurements.csv" \
  "experiment from the channel cache: identical"
no_leftovers "$WORK/ex_shared" "$WORK/ex_cache"

# 8. Kill and resume: SIGTERM says what was kept (exit 143); SIGKILL at any point leaves only
#    whole files; the resumed run equals an uninterrupted one.
expect 0 '' --quiet experiment "$WORK/p/two.yaml" --out "$WORK/two_solo" --no-cache
# SIGTERM while the first case runs, then again while the resumed run works, then a resume.
rm -rf "$WORK/kill"
for delay in 0.4 1.2; do
  "$NMRC" --quiet experiment "$WORK/p/two.yaml" --out "$WORK/kill" --no-cache >"$WORK/k.out" 2>"$WORK/k.err" &
  pid=$!
  sleep "$delay"
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
  if [ "$rc" = 143 ]; then
    grep -q 'stopped by SIGTERM. Kept: every output file already written' "$WORK/k.err" || fail "SIGTERM: what was kept not said"
    ok "SIGTERM after ${delay}s: exit 143, what was kept said"
  elif [ "$rc" != 0 ]; then
    fail "SIGTERM after ${delay}s: exit $rc: $(head -2 "$WORK/k.err")"
  fi
  no_leftovers "$WORK/kill"
done
expect 0 '' --quiet experiment "$WORK/p/two.yaml" --out "$WORK/kill" --no-cache
for c in c_minus_0.5 c_plus_0.5; do
  same "$WORK/two_solo/$c/measurements.csv" "$WORK/kill/$c/measurements.csv" "stopped twice, resumed: $c identical"
done
rm -rf "$WORK/kill"
"$NMRC" --quiet experiment "$WORK/p/two.yaml" --out "$WORK/kill" --no-cache >/dev/null 2>&1 &
pid=$!
sleep 0.8
kill -KILL "$pid" 2>/dev/null
wait "$pid"
for f in $(find "$WORK/kill" -name '*.json' 2>/dev/null); do
  python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$f" 2>/dev/null || fail "SIGKILL left a broken $f"
done
rm -rf "$TMPDIR"/nmrc-*  # a SIGKILLed run cannot clean its private folder (TMPDIR's cleaner does)
expect 0 '' --quiet experiment "$WORK/p/two.yaml" --out "$WORK/kill" --no-cache
same "$WORK/two_solo/c_plus_0.5/measurements.csv" "$WORK/kill/c_plus_0.5/measurements.csv" "SIGKILL, resumed: identical"
# A case whose figure went missing (a full disk before this version) is redrawn by a resume.
rm "$WORK/kill/c_minus_0.5/experiment.png"
expect 0 '' --quiet experiment "$WORK/p/two.yaml" --out "$WORK/kill" --no-cache
complete "$WORK/kill/c_minus_0.5/experiment.png" || fail "resume did not redraw a missing case figure"

# 9. Out of memory is the machine's refusal (exit 4, said so), not an internal error (was 3):
#    a 4 Mi-point acquisition under a 60 MB address-space limit. Skipped where the build cannot
#    start under that limit at all (sanitizers reserve terabytes of address space).
if (ulimit -v 60000 && "$NMRC" --version) >/dev/null 2>&1; then
  cat >"$WORK/big.yaml" <<YAML
format: nmrc-acquire/1
molecule: $MOL
sample: {relaxation: false}
elements:
  - hard_pulse: {channel: 13C, angle_deg: 90, phase_deg: 90, rf_hz: 10000}
acquisition: {channel: 13C, sw_hz: 15000, td: 4194304, scans: 1, snr: 3000, seed: 1}
YAML
  (ulimit -v 60000 && "$NMRC" --quiet acquire "$WORK/big.yaml" --out "$WORK/oom" >"$WORK/out" 2>"$WORK/err")
  rc=$?
  [ "$rc" = 4 ] && grep -q '^nmrc: out of memory' "$WORK/err" && ok "out of memory: exit 4, said so" ||
    fail "out of memory: exit $rc: $(head -1 "$WORK/err")"
else
  echo "skip: this build cannot start under a 60 MB address-space limit (sanitizers)"
fi

# 10. A full file system, a read-only cache and an unwritable --out (mount namespaces).
if [ "$CAN_MOUNT" = 1 ]; then
  # --out on a 48 KiB tmpfs: the pulse fits, the pictures do not. Exit 4 with the system's
  # reason; whatever is there is whole; with space back, the same command completes.
  mkdir -p "$WORK/full"
  in_ns "mount -t tmpfs -o size=48k tmpfs '$WORK/full' &&
         '$NMRC' --quiet compile '$WORK/prog.yaml' --out '$WORK/full/o' --no-cache >'$WORK/out' 2>'$WORK/err';
         echo \$? >'$WORK/rc'; find '$WORK/full/o' -name '*.png' -o -name '*.svg' -o -name '.nmrc-tmp-*' >'$WORK/found';
         for f in \$(cat '$WORK/found'); do cp \"\$f\" '$WORK/'; done"
  [ "$(cat "$WORK/rc")" = 4 ] || fail "full disk: exit $(cat "$WORK/rc"), expected 4: $(head -2 "$WORK/err")"
  grep -q 'No space left on device' "$WORK/err" && ok "full disk: exit 4, 'No space left on device'" || fail "full disk: message $(head -1 "$WORK/err")"
  grep -q '\.nmrc-tmp-' "$WORK/found" && fail "full disk: a temporary was left"
  for f in $(cat "$WORK/found"); do complete "$WORK/$(basename "$f")" || fail "full disk left a cut picture $(basename "$f")"; done
  # gnuplot's own output folder full (TMPDIR on a 16 KiB tmpfs): found, not moved into place.
  in_ns "mount -t tmpfs -o size=16k tmpfs '$TMPDIR' &&
         '$NMRC' --quiet compile '$WORK/prog.yaml' --out '$WORK/tfull' --no-cache >'$WORK/out' 2>'$WORK/err';
         echo \$? >'$WORK/rc'"
  [ "$(cat "$WORK/rc")" = 4 ] || fail "full TMPDIR: exit $(cat "$WORK/rc"), expected 4: $(head -2 "$WORK/err")"
  [ -e "$WORK/tfull/ry_c4.png" ] && fail "full TMPDIR: a picture was moved into place"
  grep -Eq 'incomplete picture|gnuplot failed|No space left' "$WORK/err" && ok "full TMPDIR: $(head -1 "$WORK/err" | cut -c1-100)"
  # A read-only cache: warned ("cache"), the result is written.
  mkdir -p "$WORK/rocache"
  in_ns "mount --bind '$WORK/rocache' '$WORK/rocache' && mount -o remount,ro,bind '$WORK/rocache' &&
         '$NMRC' compile '$WORK/prog.yaml' --out '$WORK/ro_out' --cache-dir '$WORK/rocache' >'$WORK/out' 2>'$WORK/err';
         echo \$? >'$WORK/rc'"
  [ "$(cat "$WORK/rc")" = 0 ] || fail "read-only cache: exit $(cat "$WORK/rc"): $(head -2 "$WORK/err")"
  grep -q 'warning: cache .*rocache: cannot write in it (Read-only file system)' "$WORK/err" || fail "read-only cache: warning $(head -2 "$WORK/err")"
  same "$SOLO" "$WORK/ro_out/ry_c4.json" "read-only cache: warned, result written"
  # A full cache: the finished compile is written, the cache warned about once.
  mkdir -p "$WORK/fullcache"
  in_ns "mount -t tmpfs -o size=4k,mode=0700 tmpfs '$WORK/fullcache' &&
         head -c 4096 /dev/zero >'$WORK/fullcache/fill' 2>/dev/null;
         '$NMRC' --quiet compile '$WORK/prog.yaml' --out '$WORK/fc_out' --cache-dir '$WORK/fullcache' >'$WORK/out' 2>'$WORK/err';
         echo \$? >'$WORK/rc'"
  [ "$(cat "$WORK/rc")" = 0 ] || fail "full cache: exit $(cat "$WORK/rc"): $(head -2 "$WORK/err")"
  grep -q 'warning: cache: .*write failed (No space left on device); carrying on' "$WORK/err" || fail "full cache: warning $(head -2 "$WORK/err")"
  same "$SOLO" "$WORK/fc_out/ry_c4.json" "full cache: warned, result written"
  # An experiment with a read-only HOME (its default cache): runs, warns.
  mkdir -p "$WORK/rohome"
  in_ns "mount -t tmpfs -o ro tmpfs '$WORK/rohome' &&
         HOME='$WORK/rohome' '$NMRC' --quiet experiment '$WORK/p/one.yaml' --out '$WORK/ro_ex' >'$WORK/out' 2>'$WORK/err';
         echo \$? >'$WORK/rc'"
  [ "$(cat "$WORK/rc")" = 0 ] || fail "read-only HOME: exit $(cat "$WORK/rc"): $(head -2 "$WORK/err")"
  grep -q 'warning: cache' "$WORK/err" && ok "read-only HOME: experiment ran, cache warned" || fail "read-only HOME: no cache warning"
  # An unwritable --out is found before any work: exit 4 at once.
  mkdir -p "$WORK/ro"
  in_ns "mount -t tmpfs -o ro tmpfs '$WORK/ro' &&
         '$NMRC' --quiet experiment '$WORK/p/two.yaml' --out '$WORK/ro/o' --no-cache >'$WORK/out' 2>'$WORK/err';
         echo \$? >'$WORK/rc'"
  [ "$(cat "$WORK/rc")" = 4 ] || fail "read-only --out: exit $(cat "$WORK/rc"), expected 4"
  grep -q 'Read-only file system' "$WORK/err" && ok "read-only --out: exit 4 before any work" || fail "read-only --out: $(head -1 "$WORK/err")"
  grep -q 'c_minus_0.5' "$WORK/err" && fail "read-only --out found only after a case"
fi
finish
