#!/usr/bin/env bash
# Installs the Debian 12 packages nmrc needs that are missing (run as root; no-op when all are
# present). NMRC_WITH_BENCH=1 also installs QuTiP for the bench/ comparisons (and for the QuTiP
# interop tests of the Python package, skipped without it).
set -euo pipefail
packages=(build-essential cmake pkg-config libeigen3-dev libboost-dev libyaml-cpp-dev libfftw3-dev
          doctest-dev liblbfgspp-dev libcli11-dev nlohmann-json3-dev libfmt-dev gnuplot-nox
          python3
          # The Python package (python/, docs/python.md), its tests and examples, the man page
          # and the Debian package's dependency scan (cmake/Packaging.cmake).
          python3-dev pybind11-dev python3-numpy python3-pytest python3-matplotlib help2man file
          # The package check (tests/package/run.sh): lintian, and qemu-user to run the packaged
          # CLI as a baseline x86-64 and as an AVX2 CPU.
          lintian qemu-user
          # MPI (docs/mpi.md): mpirun -n N nmrc compile shares GRAPE's work across processes;
          # CMake builds nmrc with it when found (the installed and packaged nmrc stay MPI-free).
          libopenmpi-dev openmpi-bin)
# The sanitized build (NMRC_SANITIZE=1 or CI's NMRC_CI=1 scripts/test.sh) uses clang-14 and its
# sanitizer runtimes: measured on core/src/states.cpp, clang -O1 with ASan + UBSan takes 46 CPU-s,
# GCC 12 the same flags 76 (docs/building.md).
if [ "${NMRC_SANITIZE:-0}" = 1 ] || [ "${NMRC_CI:-0}" = 1 ]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi
# QuTiP: the bench/ comparisons, and in CI the QuTiP interop tests of the Python package
# (tests/python/test_qutip.py, the QuTiP session of docs/python.md; skipped without it).
if [ "${NMRC_WITH_BENCH:-0}" = 1 ] || [ "${NMRC_CI:-0}" = 1 ]; then packages+=(python3-qutip); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "nmrc: missing Debian packages: ${missing[*]}" >&2
  echo "nmrc: run as root: apt-get install ${missing[*]}" >&2
  exit 2
fi
echo "nmrc: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
