#!/usr/bin/env bash
# Fresh Debian 12 machine, as root: installs what is missing, builds eimc
# and runs every test through CTest (the lit suite). Prints a per-stage
# time table and, last, the lit summary as "N passed, N failed, N skipped".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

names=() secs=() codes=()
stage() {
  local name=$1 start end rc
  shift
  echo "=== $name: $*"
  start=$(date +%s.%N)
  "$@"
  rc=$?
  end=$(date +%s.%N)
  names+=("$name") codes+=("$rc")
  secs+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')")
  return $rc
}
table() {
  printf '\n%-12s %10s %6s\n' stage seconds status
  for i in "${!names[@]}"; do
    printf '%-12s %10s %6s\n' "${names[$i]}" "${secs[$i]}" "${codes[$i]}"
  done
}

rc=0
stage install "$root/scripts/install-deps.sh" || rc=$?
[ $rc = 0 ] && { stage configure cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || rc=$?; }
[ $rc = 0 ] && { stage build cmake --build "$build" || rc=$?; }
[ $rc = 0 ] && { stage test bash -c "cd '$build' && ctest -V 2>&1 | tee '$log'; exit \${PIPESTATUS[0]}" || rc=$?; }
# libFuzzer targets, own build dir (clang-19, ASan/UBSan), 60 s each from
# the fixed seeds; a crash fails CI (docs/verifier.md, "Fuzzing").
[ "${SKIP_FUZZ:-0}" != 1 ] && [ -d "$build" ] && { stage fuzz env FUZZ_BUILD_DIR="$build-fuzz" FUZZ_FRESH=1 "$root/scripts/fuzz.sh" || rc=$?; }
table
if [ -s "$log" ]; then
  # lit's summary lines look like "1:   Passed     : 8 (80.00%)" under
  # ctest -V (which prefixes the test number).
  count() { sed -nE "s/^([0-9]+: )? *$1 *: *([0-9]+).*/\\2/p" "$log" | tail -1; }
  passed=$(count Passed) failed=$(count Failed) skipped=$(count Unsupported)
  unresolved=$(count Unresolved)
  failed=$(( ${failed:-0} + ${unresolved:-0} ))
  echo "lit: ${passed:-0} passed, $failed failed, ${skipped:-0} skipped"
fi
# Tests that run outputs isolated natively need PKU (lit feature `pku`,
# not fatal under CI: the qemu guest tests cover enforcement either way).
if grep -qw pku /proc/cpuinfo && grep -qw ospke /proc/cpuinfo; then
  echo "machine: pku and ospke present (native MPK tests ran)"
else
  echo "machine: no pku/ospke (native MPK tests skipped)"
fi
exit $rc
