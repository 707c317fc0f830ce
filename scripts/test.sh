#!/usr/bin/env bash
# Builds nmrc and runs every test (doctest suites, CLI end-to-end tests, install check).
# NMRC_SANITIZE=1 builds in build-asan/ with AddressSanitizer and UBSan instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ "${NMRC_SANITIZE:-0}" = 1 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNMRC_SANITIZE=ON -DNMRC_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$(nproc)"
  ctest --test-dir build-asan --output-on-failure -E install
else
  scripts/build.sh
  ctest --test-dir build --output-on-failure
fi
