# Installs the build tree into a scratch prefix, then builds and runs a consumer project that
# uses find_package(nmrc) and links every layer (built with its own flags, not -march=native).
set -eu
build="$1"; consumer="$2"; scratch="$3"
rm -rf "$scratch"; mkdir -p "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$consumer" -B "$scratch/build" -DCMAKE_PREFIX_PATH="$scratch/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$scratch/build" >/dev/null
"$scratch/build/consumer"
