#!/usr/bin/env bash
# Writes count.bpf.c: the counting twin of noop-extension.sh's programs,
# with the same program names, so the same policy.yaml applies. Program pI
# adds one to hits[I], a global (libbpf's .bss map), so
# `eimc maps dump PID .bss` shows how often each hooked function ran.
#
# Usage: counting-extension.sh FILE
set -eu
{
  echo '#include <linux/bpf.h>'
  echo '#include <bpf/bpf_helpers.h>'
  echo "__u64 hits[$(wc -l <"$1")];"
  i=0
  while read -r f; do
    echo "SEC(\"uprobe/$f\") int p$i(void *ctx) { __sync_fetch_and_add(&hits[$i], 1); return 0; }"
    i=$((i + 1))
  done <"$1"
  echo 'char LICENSE[] SEC("license") = "GPL";'
} >count.bpf.c
