#!/usr/bin/env bash
# Quick start: install what is missing, build, and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/cli/nmrc molecule show molecules/crotonic_acid.yaml
