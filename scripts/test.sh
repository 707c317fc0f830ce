#!/usr/bin/env bash
# Builds nmrc and runs every test (doctest suites, CLI end-to-end tests, install check): the
# README's test command. By default one native Release build in build/.
#
# Variants (environment; docs/building.md):
#   NMRC_WERROR=1    compiler warnings (-Wall -Wextra) are errors.
#   NMRC_SANITIZE=1  instead: the portable sanitized build in build-san/ (-DNMRC_NATIVE=OFF,
#                    clang when installed, -DNMRC_FUZZ=ON: AddressSanitizer +
#                    UndefinedBehaviorSanitizer on every target, libFuzzer coverage on the
#                    libraries), every test but the install check, then every fuzz target of
#                    fuzz/ for NMRC_FUZZ_SECONDS (default 5) each; the first sanitizer report or
#                    fuzzer finding fails.
#   NMRC_PORTABLE=1  also: a -DNMRC_NATIVE=OFF Release build in build-portable/ and its doctest
#                    suites.
#   NMRC_CI=1        what CI (.ci/run) runs: the build/ tree, portable as the Debian package
#                    is (-DNMRC_NATIVE=OFF), with warnings as errors, and its
#                    install, Python and package tests, compiled together with the portable
#                    sanitized build of the libraries, their doctest suites, the CLI and the
#                    fuzz targets; the suites and the CLI scripts run under the sanitizers, the
#                    fuzz targets NMRC_FUZZ_SECONDS each; prints the time of each step
#                    ("ci-time:" lines).
#   NMRC_CI_TIMES=1  print the "ci-time:" lines.
#   NMRC_UNITY=0     compile each source file on its own. By default the build directories of
#                    this script are unity builds (CMAKE_UNITY_BUILD, 8 files per unit): Eigen's
#                    and the parsers' templates are instantiated once per unit instead of once
#                    per file, which measured 2.1x less compile time on the core library. For
#                    incremental work on a few files, configure your own build without it.
set -euo pipefail
cd "$(dirname "$0")/.."
unity=ON
if [ "${NMRC_UNITY:-1}" = 0 ]; then unity=OFF; fi

# step NAME COMMAND...: runs COMMAND; under NMRC_CI prints its wall-clock seconds.
step() {
  local name="$1" t0=$SECONDS
  shift
  "$@"
  if [ "${NMRC_CI:-0}" = 1 ] || [ "${NMRC_CI_TIMES:-0}" = 1 ]; then
    echo "ci-time: $name $((SECONDS - t0)) s"
  fi
}

# The library layers, each with a doctest suite (tests/LAYER/, ctest entries LAYER.FILE).
layers=(core thermo spectrometer compiler experiment)
suites_regex() { echo "^($(IFS='|'; echo "${layers[*]}"))\\."; }

# The native build: Release, -march=native, everything (libraries, cli, tests, bench). In CI
# (NMRC_CI=1) without the doctest suites, which run in the sanitized tree: CI's 25 minutes do not
# hold both trees' suites (docs/building.md).
# In CI the tree is the package's (-DNMRC_NATIVE=OFF: baseline x86-64 binaries with Debian's
# hardening, the GRAPE kernel also for AVX2 and AVX-512, chosen at run time), so that its package
# check runs what users install, under qemu-user too (tests/package/run.sh).
native_configure() {
  local werror=OFF suites=ON native=(-UNMRC_NATIVE)
  if [ "${NMRC_WERROR:-0}" = 1 ] || [ "${NMRC_CI:-0}" = 1 ]; then werror=ON; fi
  if [ "${NMRC_CI:-0}" = 1 ]; then suites=OFF native=(-DNMRC_NATIVE=OFF); fi
  step native-configure cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNMRC_WERROR="$werror" \
    -DNMRC_BUILD_SUITES="$suites" "${native[@]}" -DCMAKE_UNITY_BUILD="$unity" >/dev/null
}
# native_test [CTEST ARGS]: the native tree's tests (all unless told).
native_test() {
  step native-test ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
}
native() {
  native_configure
  step native-build cmake --build build -j"$(nproc)"
  native_test
}

# The portable sanitized build: what runs on any x86-64 machine, checked for memory errors,
# leaks and undefined behaviour, with the fuzz targets of fuzz/ built in the same tree
# (-DNMRC_FUZZ=ON: ASan + UBSan on every target, libFuzzer's coverage on the libraries). clang
# (libFuzzer needs it) when installed, otherwise the system compiler without the fuzz targets.
# -O1 keeps the tests fast and the reports exact; no bench/, no Python package (python3 would
# have to preload the sanitizer runtime). The install check is left out: its consumer project
# would have to link the sanitizer runtime.
san_fuzz=0
san_configure() {
  local cfg=(-DNMRC_SANITIZE=ON)
  if command -v clang++-14 >/dev/null; then
    cfg=(-DCMAKE_CXX_COMPILER=clang++-14 -DNMRC_FUZZ=ON)
    san_fuzz=1
  fi
  step san-configure cmake -S . -B build-san "${cfg[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DNMRC_NATIVE=OFF \
    -DNMRC_BUILD_BENCH=OFF -DNMRC_PYTHON=OFF -DCMAKE_UNITY_BUILD="$unity" >/dev/null
}
# san_test [CTEST ARGS]: the sanitized tree's tests (all but the install check unless told), then
# every fuzz target.
san_test() {
  local sel=(-E '^install\.')
  if [ $# -gt 0 ]; then sel=("$@"); fi
  # detect_leaks: LeakSanitizer too; abort_on_error and halt: the first report fails the test.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    step san-test ctest --test-dir build-san --output-on-failure -j"$(nproc)" "${sel[@]}"
  if [ "$san_fuzz" = 1 ]; then
    NMRC_FUZZ_BUILD="$PWD/build-san" NMRC_FUZZ_CONFIGURE=0 NMRC_FUZZ_JOBS="$(nproc)" \
      step fuzz scripts/fuzz.sh "${NMRC_FUZZ_SECONDS:-5}"
  fi
}
sanitized() {
  san_configure
  step san-build cmake --build build-san -j"$(nproc)"
  san_test
}

# Both builds at once under one make job server (CMake's Makefile generator passes it on):
# nproc compile jobs in all, so neither build's serial stretches (a library every later target
# waits for) leave a core idle.
# In CI the sanitized tree builds the libraries, their doctest suites, the CLI and the fuzz
# targets: every test but the install, Python and package checks runs under the sanitizers,
# those three on the native tree (which leaves the suites to this one). Both trees together must
# stay inside CI's 25 minutes on 2 cores (docs/building.md).
both_builds() {
  local mk=build/both-builds.mk san_targets=("${layers[@]/%/_tests}" nmrc)
  if [ "$san_fuzz" = 1 ]; then
    san_targets+=($(cd fuzz && ls fuzz_*.cpp | sed 's/\.cpp$//'))
  fi
  printf '%s\n' 'all: native sanitized' '.PHONY: all native sanitized' \
    'native:' '	+$(MAKE) -C build --no-print-directory' \
    'sanitized:' "	+\$(MAKE) -C build-san --no-print-directory ${san_targets[*]}" >"$mk"
  if [ -f build/Makefile ] && [ -f build-san/Makefile ]; then
    make -j"$(nproc)" -f "$mk"
  else  # another generator (CMAKE_GENERATOR): one tree after the other
    cmake --build build -j"$(nproc)"
    cmake --build build-san -j"$(nproc)" --target "${san_targets[@]}"
  fi
}

# The portable Release build's doctest suites (no sanitizers).
portable() {
  cmake -S . -B build-portable -DCMAKE_BUILD_TYPE=Release -DNMRC_NATIVE=OFF -DNMRC_BUILD_BENCH=OFF \
    -DCMAKE_UNITY_BUILD="$unity" >/dev/null
  cmake --build build-portable -j"$(nproc)" --target "${layers[@]/%/_tests}"
  ctest --test-dir build-portable --output-on-failure -R "$(suites_regex)"
}

step install-deps scripts/install-deps.sh
if [ "${NMRC_CI:-0}" = 1 ]; then
  native_configure
  san_configure
  step builds both_builds
  # cli.mpi on the native tree: the sanitized tree is built without MPI (Open MPI's runtime keeps
  # allocations LeakSanitizer would report; docs/mpi.md), where the script skips itself.
  native_test -R '^(install|python|package|cli\.mpi$)'
  san_test -R "$(suites_regex)|^cli\\."
elif [ "${NMRC_SANITIZE:-0}" = 1 ]; then
  sanitized
else
  native
  if [ "${NMRC_PORTABLE:-0}" = 1 ]; then portable; fi
fi
