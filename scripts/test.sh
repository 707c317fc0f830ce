#!/usr/bin/env bash
# Builds nmrc and runs every test (doctest suites, CLI end-to-end tests, install check): the
# README's test command. By default one native Release build in build/.
#
# Variants (environment; docs/architecture.md, "Building"):
#   NMRC_WERROR=1    compiler warnings (-Wall -Wextra) are errors.
#   NMRC_SANITIZE=1  instead: the portable sanitized build in build-san/ (-DNMRC_NATIVE=OFF,
#                    AddressSanitizer + UndefinedBehaviorSanitizer, clang when installed), every
#                    test but the install check; the first sanitizer report fails its test.
#   NMRC_PORTABLE=1  also: a -DNMRC_NATIVE=OFF Release build in build-portable/ and its doctest
#                    suites.
#   NMRC_CI=1        the native build with warnings as errors and all its tests, then the
#                    portable sanitized build and all its tests; prints the time of each step
#                    ("ci-time:" lines). CI (.ci/run) runs NMRC_WERROR=1 NMRC_CI_TIMES=1 for now:
#                    the sanitized half does not fit CI's 25 minutes yet.
#   NMRC_CI_TIMES=1  print the "ci-time:" lines.
set -euo pipefail
cd "$(dirname "$0")/.."

# step NAME COMMAND...: runs COMMAND; under NMRC_CI prints its wall-clock seconds.
step() {
  local name="$1" t0=$SECONDS
  shift
  "$@"
  if [ "${NMRC_CI:-0}" = 1 ] || [ "${NMRC_CI_TIMES:-0}" = 1 ]; then
    echo "ci-time: $name $((SECONDS - t0)) s"
  fi
}

# The native build: Release, -march=native, everything (libraries, cli, tests, bench).
native() {
  local werror=OFF
  if [ "${NMRC_WERROR:-0}" = 1 ] || [ "${NMRC_CI:-0}" = 1 ]; then werror=ON; fi
  step native-configure cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNMRC_WERROR="$werror" \
    >/dev/null
  step native-build cmake --build build -j"$(nproc)"
  step native-test ctest --test-dir build --output-on-failure -j"$(nproc)"
}

# The portable sanitized build: what runs on any x86-64 machine, checked for memory errors,
# leaks and undefined behaviour. clang (as the fuzz targets of fuzz/ need) when installed,
# otherwise the system compiler. -O1 keeps the tests fast and the reports exact; no bench/.
# The install check is left out: its consumer project would have to link the sanitizer runtime.
sanitized() {
  local cxx=()
  if command -v clang++-14 >/dev/null; then cxx=(-DCMAKE_CXX_COMPILER=clang++-14); fi
  step san-configure cmake -S . -B build-san "${cxx[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DNMRC_NATIVE=OFF -DNMRC_SANITIZE=ON \
    -DNMRC_BUILD_BENCH=OFF >/dev/null
  step san-build cmake --build build-san -j"$(nproc)"
  # detect_leaks: LeakSanitizer too; abort_on_error and halt: the first report fails the test.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    step san-test ctest --test-dir build-san --output-on-failure -j"$(nproc)" -E '^install\.'
  # Hook for the fuzz targets (issue 13, fuzz/): they build in this same clang configuration
  # (-DNMRC_FUZZ=ON) and a short run of each goes here.
}

# The portable Release build's doctest suites (no sanitizers).
portable() {
  cmake -S . -B build-portable -DCMAKE_BUILD_TYPE=Release -DNMRC_NATIVE=OFF -DNMRC_BUILD_BENCH=OFF \
    >/dev/null
  local suites=()
  for layer in core thermo spectrometer compiler experiment; do
    if [ -f "$layer/CMakeLists.txt" ] && [ -d "tests/$layer" ]; then suites+=("$layer"); fi
  done
  cmake --build build-portable -j"$(nproc)" --target "${suites[@]/%/_tests}"
  ctest --test-dir build-portable --output-on-failure -R "^($(IFS='|'; echo "${suites[*]}"))\$"
}

step install-deps scripts/install-deps.sh
if [ "${NMRC_CI:-0}" = 1 ]; then
  native
  sanitized
elif [ "${NMRC_SANITIZE:-0}" = 1 ]; then
  sanitized
else
  native
  if [ "${NMRC_PORTABLE:-0}" = 1 ]; then portable; fi
fi
