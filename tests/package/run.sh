#!/usr/bin/env bash
# The Debian package: cpack builds it from this build folder, dpkg -x unpacks it into a scratch
# root (no root rights, nothing installed on the machine), and the CLI and `import nmrc` run from
# there. Usage: run.sh BUILD_DIR SCRATCH_DIR PYTHON
set -euo pipefail
build=$(realpath "$1") scratch=$(realpath -m "$2") python=$3
rm -rf "$scratch"
mkdir -p "$scratch"
cpack --config "$build/CPackConfig.cmake" -B "$scratch" >"$scratch/cpack.log" 2>&1 ||
  { cat "$scratch/cpack.log"; exit 1; }
deb=$(ls "$scratch"/nmrc_*.deb)
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for d in libyaml-cpp0.7 libfftw3-double3 libstdc++6 python3-numpy; do
  grep -q "$d" <<<"$depends" || fail "Depends lacks $d"
done
contents=$(dpkg-deb -c "$deb")  # (grep -q on the pipe would cut dpkg-deb off: SIGPIPE)
for f in usr/bin/nmrc usr/share/man/man1/nmrc.1 usr/lib/python3/dist-packages/nmrc/__init__.py \
         usr/share/nmrc/molecules/crotonic_acid.yaml usr/include/nmrc/core/molecule.hpp; do
  grep -q "\./$f\$" <<<"$contents" || fail "$f not in the package"
done
root="$scratch/root"
dpkg -x "$deb" "$root"
"$root/usr/bin/nmrc" --version | grep -q '^nmrc ' || fail "nmrc --version"
"$root/usr/bin/nmrc" molecule show "$root/usr/share/nmrc/molecules/crotonic_acid.yaml" |
  grep -q 'C1' || fail "nmrc molecule show from the package"
out=$(cd "$scratch" && PYTHONPATH="$root/usr/lib/python3/dist-packages" "$python" -c '
import sys, nmrc
assert nmrc.__file__.startswith(sys.argv[1]), nmrc.__file__
m = nmrc.load_molecule(sys.argv[1] + "/usr/share/nmrc/molecules/crotonic_acid.yaml")
print(m.name, m.hamiltonian().shape)' "$root") || fail "import nmrc from the package"
[ "$out" = "crotonic_acid (16, 16)" ] || fail "import nmrc printed: $out"
[ "$fails" = 0 ] && echo "package: $(basename "$deb") OK"
exit "$fails"
