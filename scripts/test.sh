#!/usr/bin/env bash
# Builds nmrc and runs every test (doctest suites, CLI end-to-end tests, install check).
# NMRC_SANITIZE=1 builds in build-asan/ with AddressSanitizer and UBSan instead.
# NMRC_WERROR=1 treats compiler warnings (-Wall -Wextra) as errors. NMRC_PORTABLE=1 also builds
# the libraries and their doctest suites without -march=native in build-portable/ and runs those
# suites there. (CI is to turn both on once the tree builds warning-free with GCC 12: see
# docs/architecture.md, "Building".)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ "${NMRC_SANITIZE:-0}" = 1 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNMRC_SANITIZE=ON -DNMRC_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$(nproc)"
  ctest --test-dir build-asan --output-on-failure -E install
  exit 0
fi
werror=OFF
if [ "${NMRC_WERROR:-0}" = 1 ]; then werror=ON; fi
scripts/build.sh -DNMRC_WERROR="$werror"
ctest --test-dir build --output-on-failure
if [ "${NMRC_PORTABLE:-0}" = 1 ]; then
  # The portable build: what runs on any x86-64 machine (and what a package would ship).
  cmake -S . -B build-portable -DCMAKE_BUILD_TYPE=Release -DNMRC_NATIVE=OFF -DNMRC_WERROR="$werror" \
    -DNMRC_BUILD_BENCH=OFF >/dev/null
  suites=()
  for layer in core thermo spectrometer compiler experiment; do
    if [ -f "$layer/CMakeLists.txt" ] && [ -d "tests/$layer" ]; then suites+=("$layer"); fi
  done
  cmake --build build-portable -j"$(nproc)" --target "${suites[@]/%/_tests}"
  ctest --test-dir build-portable --output-on-failure -R "^($(IFS='|'; echo "${suites[*]}"))\$"
fi
