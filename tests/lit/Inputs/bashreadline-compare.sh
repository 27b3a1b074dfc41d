#!/usr/bin/env bash
# The bashreadline differential: the same scripted session (see
# bash-session.sh) runs in the original /bin/bash under Debian's
# kernel-based `bashreadline` tool and in eimc's rewritten bash under
# `eimc events`; the `str` sequence eimc reports must equal the tool's
# COMMAND column.
#
# Usage: bashreadline-compare.sh EIMC OUT_BASH EVENT_BTF WORKDIR
# EVENT_BTF is an ELF whose BTF describes struct str_t (the record type).
# Prints eimc's sequence (one line each) on stdout, for FileCheck against
# the expected lines. The kernel half runs only where bpf() and uprobes
# work (root, libbpf-tools); elsewhere it says so on stderr and only the
# expected lines are compared. Exit 1 on a mismatch.
set -u
eimc=$1 out_bash=$2 obj=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"

"$here/bash-session.sh" "$out_bash" "$work/eimc" \
  "$eimc" events %PID% --btf "$obj" --type str_t --format=json
python3 - "$work/eimc/follower.out" >"$work/eimc.txt" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        print(json.loads(line)["str"])
PY

kernel_ok=0
if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/bashreadline ]; then
  # The tool writes its stdout through stdio: line-buffer it so the header
  # (printed once the uretprobe is attached) shows up while it runs.
  stdbuf -oL /usr/sbin/bashreadline >"$work/kernel.raw" 2>"$work/kernel.err" &
  tool=$!
  # The tool prints its header once its uretprobe is attached.
  for _ in $(seq 100); do
    grep -q COMMAND "$work/kernel.raw" 2>/dev/null && break
    kill -0 $tool 2>/dev/null || break
    sleep 0.1
  done
  if grep -q COMMAND "$work/kernel.raw" 2>/dev/null; then
    "$here/bash-session.sh" /bin/bash "$work/kernel"
    sleep 0.5
    kernel_ok=1
  fi
  kill -INT $tool 2>/dev/null; wait $tool 2>/dev/null
fi
if [ $kernel_ok = 1 ]; then
  # TIME PID COMMAND: the command is everything after the second field.
  sed -n '2,$p' "$work/kernel.raw" | sed -E 's/^[^ ]+ +[0-9]+ +//' >"$work/kernel.txt"
  if ! diff -u "$work/kernel.txt" "$work/eimc.txt" >&2; then
    echo "error: eimc's readline events differ from the kernel tool's" >&2
    exit 1
  fi
  echo "bashreadline-compare: kernel tool and eimc agree on $(wc -l <"$work/eimc.txt") lines" >&2
else
  echo "bashreadline-compare: kernel half skipped (no bpf()/uprobes here): $(cat "$work/kernel.err" 2>/dev/null | head -1)" >&2
fi
cat "$work/eimc.txt"
