#!/usr/bin/env bash
# Configures and builds nmrc in build/ (Release, both cores, a unity build as scripts/test.sh
# makes it: NMRC_UNITY=0 compiles file by file; docs/building.md). Extra
# arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
unity=ON
if [ "${NMRC_UNITY:-1}" = 0 ]; then unity=OFF; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD="$unity" "$@" >/dev/null
cmake --build build -j"$(nproc)"
