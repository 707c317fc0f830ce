#!/usr/bin/env bash
# The Debian package (cmake/Packaging.cmake; docs/building.md, "The Debian package"): cpack
# builds it from this build folder; lintian (when installed) must report no error; dpkg installs
# it into a scratch root (dpkg --root, maintainer scripts run chrootless with DPKG_ROOT: nothing
# is installed on the machine); the CLI runs from there on this CPU and, for a portable tree,
# under qemu-user as a baseline x86-64 CPU and as an AVX2 one (skipped with a message without
# qemu-x86_64); `import nmrc`, its metadata, nmrc.data_dir() and the installed examples run from
# there; dpkg -r leaves no nmrc package behind (its byte code included).
# Usage: run.sh BUILD_DIR SCRATCH_DIR PYTHON
set -euo pipefail
build=$(realpath "$1") scratch=$(realpath -m "$2") python=$3
rm -rf "$scratch"
mkdir -p "$scratch"
t0=$SECONDS
took() { echo "package-time: $1 $((SECONDS - t0)) s"; t0=$SECONDS; }  # the cost of each part
cpack --config "$build/CPackConfig.cmake" -B "$scratch" >"$scratch/cpack.log" 2>&1 ||
  { cat "$scratch/cpack.log"; exit 1; }
deb=$(ls "$scratch"/nmrc_*.deb)
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
took cpack
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for d in libyaml-cpp0.7 libfftw3-double3 libstdc++6 python3-numpy; do
  grep -q "$d" <<<"$depends" || fail "Depends lacks $d"
done
contents=$(dpkg-deb -c "$deb")  # (grep -q on the pipe would cut dpkg-deb off: SIGPIPE)
version=$(dpkg-deb -f "$deb" Version)
for f in usr/bin/nmrc usr/share/man/man1/nmrc.1.gz usr/lib/python3/dist-packages/nmrc/__init__.py \
         "usr/lib/python3/dist-packages/nmrc-$version.dist-info/METADATA" \
         usr/share/nmrc/molecules/crotonic_acid.yaml usr/include/nmrc/core/molecule.hpp \
         usr/share/doc/nmrc/copyright usr/share/doc/nmrc/changelog.gz \
         usr/share/doc/nmrc/docs/python.md usr/share/doc/nmrc/examples/python/theory_fig3.py; do
  grep -q "\./$f\$" <<<"$contents" || fail "$f not in the package"
done
portable=0
grep -q '^NMRC_ISA_DISPATCH:BOOL=ON' "$build/CMakeCache.txt" && portable=1
# The per-ISA kernels' template code stays their own (cmake/isa-private-symbols.sh): a symbol
# of theirs left undefined (its COMDAT group merged away) would be a call to address 0.
if [ "$portable" = 1 ]; then
  for bin in "$build/cli/nmrc" "$build"/python/nmrc/_nmrc*.so; do
    left=$(nm "$bin" | grep -cE ' [wU] .*\.isa_(avx2|avx512)$' || true)
    [ "$left" = 0 ] || fail "$(basename "$bin"): $left per-ISA symbols left undefined"
  done
fi

# lintian: no error; each warning kept is explained in docs/building.md ("The Debian package").
if command -v lintian >/dev/null; then
  lintian --no-cfg --fail-on none "$deb" >"$scratch/lintian.log" 2>&1 || true
  grep -E '^[EW]: ' "$scratch/lintian.log" || true
  errors=$(grep -c '^E: ' "$scratch/lintian.log" || true)
  [ "$errors" = 0 ] || fail "lintian: $errors errors"
  if [ "$portable" = 1 ]; then  # hardening and stripping are the portable build's
    grep -E '^W: .*(hardening-no-|unstripped-binary)' "$scratch/lintian.log" &&
      fail "lintian: hardening or stripping warnings"
  fi
else
  echo "lintian: not installed, skipped (apt-get install lintian)"
fi
took lintian

# Install into a scratch root with dpkg itself, so its maintainer scripts run.
root="$scratch/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
dpkg_root() {
  dpkg --root="$root" --log=/dev/null --force-not-root --force-depends \
    --force-script-chrootless "$@" >>"$scratch/dpkg.log" 2>&1
}
dpkg_root -i "$deb" || { cat "$scratch/dpkg.log"; fail "dpkg -i into the scratch root"; }
nmrc_bin="$root/usr/bin/nmrc" data="$root/usr/share/nmrc"
"$nmrc_bin" --version | grep -q '^nmrc ' || fail "nmrc --version"
echo "this CPU: $("$nmrc_bin" --version)"
"$nmrc_bin" molecule show "$data/molecules/crotonic_acid.yaml" | grep -q 'C1' ||
  fail "nmrc molecule show from the package"

# The man page's examples name installed files only, and the quick ones run outside the source
# tree (in the scratch folder, the installed paths moved into the scratch root).
man=$(gzip -dc "$root/usr/share/man/man1/nmrc.1.gz")
for path in $(grep -o '/usr/share/nmrc/[^ ]*' <<<"$man" | sort -u); do
  [ -e "$root$path" ] || fail "the man page names $path, not in the package"
done
(cd "$scratch" &&
  "$nmrc_bin" -q acquire "$data/sequences/demos/thermal_90.yaml" --out out/thermal >/dev/null) ||
  fail "man page example: nmrc acquire .../thermal_90.yaml"

# A small compile: one 90-degree rotation, few steps (also under qemu below).
cat >"$scratch/small.yaml" <<EOF
format: nmrc-program/1
name: small
molecule: $data/molecules/crotonic_acid.yaml
compile: {duration_s: 0.001, steps: 10, max_rf_hz: 10000, fidelity_target: 0.5, starts: 1,
          seed: 1, max_iterations: 20}
elements:
  - gate: {name: rx90_c1, type: rotation, spins: [C1], angle_deg: 90, axis: x}
EOF
small_compile() {  # small_compile LAUNCHER...: compile the small program, exit status 0 or 1
  local out="$scratch/small-$RANDOM" rc=0
  (cd "$scratch" && "$@" "$nmrc_bin" -q compile small.yaml --out "$out" >/dev/null) || rc=$?
  [ "$rc" -le 1 ] && [ -s "$out/rx90_c1.json" ]
}
small_compile || fail "nmrc compile (small) on this CPU"

# The experiment's per-ISA kernels (the channels, experiment/src/channel_kernel.cpp; the exact
# engine's Lindblad products, spectrometer/src/lindblad_kernel.cpp; the matrix exponential): a
# small relaxing experiment (the channels built, not cached; the PPS played on the exact engine)
# run with each per-ISA copy this CPU takes (NMRC_ISA lowers the choice) gives the same
# energies; the copies differ only in rounding (vector widths).
if [ "$portable" = 1 ]; then
  cat >"$scratch/isa.yaml" <<EOF
format: nmrc-experiment/1
name: isa
molecule: $data/molecules/crotonic_acid.yaml
theory: $data/sequences/heat_flow/fig3.yaml
readout: $data/sequences/readout/paper17_completed.yaml
compiled: $scratch/isa_compiled
imperfections: {relaxation: true, b1_ensemble: false, compiled_gates: false, noise: true,
                readout: false}
acquisition: {snr: 300, repeats: 2}
error_budget: false
measure: [1]
cases:
  - {run: c_minus_0.5}
EOF
  for isa in baseline avx2 avx512; do
    (cd "$scratch" && NMRC_ISA=$isa "$nmrc_bin" -q experiment isa.yaml --out "isa_$isa" \
      --no-cache >/dev/null) || fail "nmrc experiment (small) with NMRC_ISA=$isa"
  done
  "$python" - "$scratch" <<'PY' || fail "the per-ISA kernels' copies disagree"
import json, sys
e = {isa: json.load(open(f"{sys.argv[1]}/isa_{isa}/c_minus_0.5/summary.json"))
     for isa in ("baseline", "avx2", "avx512")}
worst = max(abs(e[isa][key][k] - e["baseline"][key][k])
            for isa in e for key in ("delta_energy", "measured_delta_energy") for k in e[isa][key])
print(f"per-ISA kernels: energies of the baseline, AVX2 and AVX-512 copies agree to {worst:.1e}")
sys.exit(worst > 1e-9)
PY
fi
took "install and run"

# Under qemu-user: the x86-64 baseline (qemu64: no SSE4, AVX, AVX2, AVX-512) and Haswell (AVX2,
# no AVX-512). A portable tree only: a native one is built for this CPU.
if [ "$portable" = 0 ]; then
  echo "qemu: skipped (a native tree; the package of a portable tree runs on any amd64 CPU:" \
       "scripts/package.sh)"
elif ! command -v qemu-x86_64 >/dev/null; then
  echo "qemu: skipped, qemu-x86_64 not installed (apt-get install qemu-user)"
else
  for cpu in qemu64:baseline Haswell:avx2; do
    model=${cpu%%:*} isa=${cpu##*:}
    # (qemu warns on stderr about CPUID bits its TCG lacks: kept in qemu.log)
    q() { qemu-x86_64 -cpu "$model" "$@" 2>>"$scratch/qemu.log"; }
    v=$(q "$nmrc_bin" --version) || true
    [ "$v" = "nmrc $version (kernels: $isa)" ] || fail "qemu -cpu $model: nmrc --version said: $v"
    q "$nmrc_bin" molecule show "$data/molecules/crotonic_acid.yaml" | grep -q 'C1' ||
      fail "qemu -cpu $model: nmrc molecule show"
    small_compile q || fail "qemu -cpu $model: nmrc compile (small)"
    echo "qemu -cpu $model: molecule show and a small compile ran ($isa kernels)"
  done
  took qemu
fi

# Python from the scratch root: the package, its metadata, its data folder, its examples.
pypath="$root/usr/lib/python3/dist-packages"
out=$(cd "$scratch" && PYTHONPATH="$pypath" env -u PYTHONDONTWRITEBYTECODE "$python" -c '
import importlib.metadata, sys, nmrc
assert nmrc.__file__.startswith(sys.argv[1]), nmrc.__file__
assert str(nmrc.data_dir()) == sys.argv[1] + "/usr/share/nmrc", nmrc.data_dir()
m = nmrc.load_molecule(nmrc.data_dir() / "molecules" / "crotonic_acid.yaml")
print(importlib.metadata.version("nmrc"), m.name, m.hamiltonian().shape)' "$root") ||
  fail "import nmrc from the package"
[ "$out" = "$version crotonic_acid (16, 16)" ] || fail "import nmrc printed: $out"
examples="$root/usr/share/doc/nmrc/examples/python"
(cd "$scratch" && PYTHONPATH="$pypath" PYTHONDONTWRITEBYTECODE=1 MPLBACKEND=Agg \
  "$python" -m pytest -q -p no:cacheprovider "$examples" >"$scratch/examples.log" 2>&1) ||
  { tail -20 "$scratch/examples.log"; fail "the installed examples"; }

took python
# Removal: Python's byte code goes too (prerm/postrm), so `import nmrc` fails afterwards.
[ -d "$pypath/nmrc/__pycache__" ] || fail "import nmrc wrote no byte code (the removal check needs it)"
dpkg_root -r nmrc || { cat "$scratch/dpkg.log"; fail "dpkg -r nmrc"; }
[ ! -e "$pypath/nmrc" ] || fail "dpkg -r left $(cd "$pypath" && find nmrc | head -3 | tr '\n' ' ')"
[ ! -e "$root/usr/bin/nmrc" ] || fail "dpkg -r left /usr/bin/nmrc"
(cd "$scratch" && PYTHONPATH="$pypath" "$python" -c 'import nmrc' 2>/dev/null) &&
  fail "import nmrc still succeeds after dpkg -r"
[ "$fails" = 0 ] && echo "package: $(basename "$deb") OK"
exit "$fails"
