# Installs the build tree into a scratch prefix, then builds and runs a consumer project that
# uses find_package(nmrc) and links every layer (built with its own flags, not -march=native).
set -eu
build="$1"; consumer="$2"; scratch="$3"
rm -rf "$scratch"; mkdir -p "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$consumer" -B "$scratch/build" -DCMAKE_PREFIX_PATH="$scratch/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$scratch/build" >/dev/null
"$scratch/build/consumer"
# The Python package (NMRC_PYTHON): installed beside the libraries and importable from there.
pkg="$scratch/prefix/lib/python3/dist-packages"
if [ -d "$pkg/nmrc" ]; then
  (cd "$scratch" && PYTHONPATH="$pkg" /usr/bin/python3 -c '
import sys, nmrc
assert nmrc.__file__.startswith(sys.argv[1]), nmrc.__file__
print("python package:", nmrc.__file__, nmrc.molecule_from_dict.__name__)' "$pkg")
fi
