#!/usr/bin/env bash
# Writes ext.bpf.c (one no-op uprobe program per function named in FILE)
# and policy.yaml (one class per program) into the current directory.
#
# Usage: noop-extension.sh FILE
set -eu
{
  echo '#include <linux/bpf.h>'
  echo '#include <bpf/bpf_helpers.h>'
  i=0
  while read -r f; do
    echo "SEC(\"uprobe/$f\") int p$i(void *ctx) { return 0; }"
    i=$((i + 1))
  done <"$1"
  echo 'char LICENSE[] SEC("license") = "GPL";'
} >ext.bpf.c
{
  echo 'isolation: prefer'
  echo 'classes:'
  i=0
  while read -r f; do
    printf '  - name: c%d\n    entry: %s\n    match: p%d\n' "$i" "$f" "$i"
    i=$((i + 1))
  done <"$1"
} >policy.yaml
