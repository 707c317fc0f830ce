#!/usr/bin/env bash
# Builds the Debian package nmrc_VERSION_amd64.deb in build-pkg/ (or NMRC_PACKAGE_BUILD) and
# checks it (tests/package/run.sh: lintian, dpkg into a scratch root, the CLI under qemu-user as
# a baseline x86-64 CPU, Python, removal). The tree is portable (-DNMRC_NATIVE=OFF): binaries for
# any x86-64 CPU with Debian's hardening flags, the GRAPE kernel also compiled for AVX2 and
# AVX-512 and chosen at run time (cmake/IsaKernels.cmake; docs/building.md, "The Debian
# package"). Install the result with `apt install ./build-pkg/nmrc_*.deb`.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${NMRC_PACKAGE_BUILD:-build-pkg}
jobs=$(nproc)
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DNMRC_NATIVE=OFF -DNMRC_BUILD_SUITES=OFF \
  -DNMRC_BUILD_BENCH=OFF -DCMAKE_UNITY_BUILD=ON >/dev/null
cmake --build "$dir" -j"$jobs"
ctest --test-dir "$dir" -R '^package\.deb$' --output-on-failure
cp "$dir"/tests/package-check/nmrc_*.deb "$dir"/
ls "$dir"/nmrc_*.deb
