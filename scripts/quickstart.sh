#!/usr/bin/env bash
# Quick start: install what is missing, build, and run the main job: the paper's Fig. 3
# experiment on the virtual spectrometer (shipped compiled pulses, so no GRAPE is needed; the
# first run builds the pulses' relaxing channels into ~/.cache/nmrc, later runs reuse them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/cli/nmrc molecule show molecules/crotonic_acid.yaml
build/cli/nmrc experiment sequences/experiment/fig3.yaml --out out/fig3
