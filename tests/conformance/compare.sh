#!/bin/sh
# compare.sh KERNEL_RUN OBJECT MEMHEX
#
# Runs program `native_main` of OBJECT natively (eimc-conformance
# --object) and `xdp_main` in the kernel (KERNEL_RUN, BPF_PROG_TEST_RUN)
# on MEMHEX and prints one line:
#   OBJECT: same r0 0x... and memory        both ran and agree
#   OBJECT: native r0 0x..., kernel skipped  no eBPF in this kernel
# Any disagreement or failure prints both outputs and exits 1.
set -u
kernel_run=$1 obj=$2 mem=$3
name=$(basename "$obj")
native=$(eimc-conformance --object "$obj" --program native_main --mem "$mem" 2>&1) || {
  echo "$name: native run failed: $native"; exit 1; }
kernel=$("$kernel_run" "$obj" "$mem" 2>&1)
status=$?
r0=$(echo "$native" | sed -n 's/^r0 //p')
if [ $status -eq 77 ]; then
  echo "$name: native r0 $r0, kernel skipped: $kernel"
  exit 0
fi
if [ $status -ne 0 ] || [ "$native" != "$kernel" ]; then
  echo "$name: MISMATCH"; echo "native: $native"; echo "kernel: $kernel"
  exit 1
fi
echo "$name: same r0 $r0 and memory"
