#!/usr/bin/env bash
# Builds eimc's libFuzzer targets (fuzz/, EIMC_FUZZ=ON, clang-19 with
# ASan and UBSan) in their own build directory and runs each for
# ${FUZZ_SECONDS:-60} seconds. Prints, per target, the executions, the
# coverage (libFuzzer's "cov:" edges and "ft:" features) and the corpus
# size; exits non-zero if a target found a crash, leak, timeout or
# sanitizer report (the reproducer is left in the build directory).
# FUZZ_FRESH=1 empties the corpora first, so a run starts from the seeds
# alone (CI: scripts/test.sh's fuzz stage). Seeds: the bashreadline and funclatency objects from Debian's
# libbpf-tools when installed (the object reader's corpus), and their
# programs' bytecode (the verifier's corpus).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
# A fixed libFuzzer seed: with the fixed seed corpus below, a run explores
# the same inputs first each time (within 60 s; timing still varies).
fuzz_seed=${FUZZ_SEED:-1}

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
  -DEIMC_FUZZ=ON >/dev/null || exit 2
# Only the two targets and the four libraries they link (not eimc, the
# runtime or the tests); two jobs, as on the 2-core CI machine.
start=$(date +%s)
cmake --build "$build" --parallel "${FUZZ_JOBS:-2}" \
  --target eimc-fuzz-object eimc-fuzz-verifier || exit 2
echo "fuzz targets built in $(( $(date +%s) - start )) s"

seed() {
  local objdir=$build/fuzz/corpus/object codedir=$build/fuzz/corpus/verifier
  [ "${FUZZ_FRESH:-0}" = 1 ] && rm -rf "$objdir" "$codedir"
  mkdir -p "$objdir" "$codedir"
  for tool in bashreadline funclatency; do
    [ -x /usr/sbin/$tool ] || continue
    python3 "$root/tests/lit/Inputs/extract-bpf-object.py" /usr/sbin/$tool \
      "$objdir/$tool.bpf.o" >/dev/null || continue
    # Each executable section's bytes: the verifier target's input format.
    python3 - "$objdir/$tool.bpf.o" "$codedir/$tool" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
shoff, = struct.unpack_from("<Q", data, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
def sh(i):
    return struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
stroff = sh(shstrndx)[4]
for i in range(shnum):
    name, typ, flags, _, off, size = sh(i)
    if typ == 1 and flags & 4 and size:  # SHT_PROGBITS, SHF_EXECINSTR
        label = data[stroff + name:data.index(b"\0", stroff + name)]
        label = label.decode().replace("/", "_")
        open(sys.argv[2] + "." + label, "wb").write(data[off:off + size])
PY
  done
}

run() {
  local target=$1 corpus=$build/fuzz/corpus/$2 log=$build/fuzz/$1.log rc
  mkdir -p "$corpus"
  (cd "$build/fuzz" && "./$target" -max_total_time="$seconds" -timeout=10 \
     -seed="$fuzz_seed" -rss_limit_mb=4096 -print_final_stats=1 "$corpus" >"$log" 2>&1)
  rc=$?
  local execs cov ft units
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  units=$(ls "$corpus" | wc -l)
  printf '%-20s %10s execs %7s cov %7s ft %6s corpus  rc=%s\n' \
    "$target" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$units" "$rc"
  [ $rc = 0 ] || grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
  return $rc
}

seed
rc=0
run eimc-fuzz-object object || rc=1
run eimc-fuzz-verifier verifier || rc=1
exit $rc
