#!/usr/bin/env bash
# Regenerates docs/img/architecture.svg, the layers and their dependencies as CMake sees them:
# `cmake --graphviz` on a configure-only tree (no tests, no benchmarks), drawn by Graphviz's dot
# (Debian package graphviz). Run it after a change to any CMakeLists.txt and commit the SVG.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dot >/dev/null || { echo "architecture-graph: needs dot (apt-get install graphviz)" >&2; exit 2; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cat >"$scratch/CMakeGraphVizOptions.cmake" <<'OPTIONS'
set(GRAPHVIZ_GRAPH_NAME "nmrc")
set(GRAPHVIZ_GENERATE_PER_TARGET FALSE)
set(GRAPHVIZ_GENERATE_DEPENDERS FALSE)
# Threads and the test/bench helpers say nothing about the layering.
set(GRAPHVIZ_IGNORE_TARGETS "Threads::Threads")
OPTIONS
cmake -S . -B "$scratch" -DNMRC_BUILD_TESTS=OFF -DNMRC_BUILD_BENCH=OFF \
  --graphviz="$scratch/nmrc.dot" >/dev/null
mkdir -p docs/img
# Drop CMake's legend box (the shapes are explained in docs/architecture.md) and draw it.
awk '/^subgraph clusterLegend/ {skip = 1} !skip {print} skip && /^}/ {skip = 0}' \
  "$scratch/nmrc.dot" | dot -Tsvg -o docs/img/architecture.svg
echo "wrote docs/img/architecture.svg"
