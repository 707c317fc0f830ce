#!/usr/bin/env bash
# Keeps the template code of one per-ISA kernel object private to it (cmake/IsaKernels.cmake):
# every weak symbol the object defines (Eigen's and the standard library's inline functions and
# templates, instantiated here with AVX2 or AVX-512 instructions) gets the suffix SUFFIX, so the
# linker never merges it with the baseline copy that the rest of nmrc instantiates (which of two
# identical-looking definitions it keeps is unspecified: an AVX-512 one would kill nmrc with
# SIGILL on an older CPU). The kernel's own entry points are already unique (its namespace).
# Usage: isa-private-symbols.sh NM OBJCOPY READELF IN.o OUT.o SUFFIX
set -euo pipefail
nm=$1 objcopy=$2 readelf=$3 in=$4 out=$5 suffix=$6
# The weak symbols, and the signatures of the COMDAT groups (the linker keeps one group of each
# signature; a constructor's or destructor's group is named by a local symbol such as D5).
{
  "$nm" --defined-only --extern-only "$in" | awk '$2 ~ /^[WVu]$/ { print $3 }'
  "$readelf" -g -W "$in" | sed -n 's/^COMDAT group section \[ *[0-9]*\] `[^'"'"']*'"'"' \[\(.*\)\] contains.*/\1/p'
} | sort -u | awk -v s="$suffix" '{ print $1, $1 s }' >"$out.syms"
"$objcopy" --redefine-syms="$out.syms" "$in" "$out.tmp"
if "$readelf" -g -W "$out.tmp" | grep '^COMDAT group' | grep -vqF -- "$suffix]"; then
  echo "isa-private-symbols.sh: $in: a COMDAT group kept its shared name" >&2
  exit 1
fi
mv "$out.tmp" "$out"
