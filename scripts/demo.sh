#!/usr/bin/env bash
# Fresh Debian 12 machine, as root: installs what is missing, builds eimc and
# runs the A1 demo end to end. Debian's bashreadline eBPF object (extracted
# from /usr/sbin/bashreadline) is compiled into /bin/bash, the rewritten bash
# runs a scripted interactive session, and `eimc events` prints what
# readline returned, decoded with BTF type str_t (examples/bashreadline).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
work=${DEMO_DIR:-$build/demo}
"$root/scripts/install-deps.sh"
BUILD_DIR=$build "$root/scripts/build.sh"
eimc=$build/bin/eimc

rm -rf "$work" && mkdir -p "$work/out"
python3 "$root/tests/lit/Inputs/extract-bpf-object.py" /usr/sbin/bashreadline "$work/bashreadline.bpf.o"
cp "$root/examples/bashreadline/bashreadline.yaml" "$work/"
# The record type, struct str_t, as BTF (see examples/bashreadline/event.h).
clang-19 -target bpf -g -c -x c "$root/examples/bashreadline/event.h" -o "$work/event.o"
set -x
"$eimc" build /bin/bash -e "$work/bashreadline.bpf.o" --policy "$work/bashreadline.yaml" -o "$work/out/bash"
set +x
# The session script feeds lines through a FIFO so the shell is alive while
# `eimc events` follows it; it sends SIGINT at one prompt.
"$root/tests/lit/Inputs/bash-session.sh" "$work/out/bash" "$work/session" \
  "$eimc" events %PID% --btf "$work/event.o" --type str_t --format=json
echo "--- events (eimc events --format=json):"
cat "$work/session/follower.out"
echo "--- the shell's own output:"
cat "$work/session/bash.out"
n=$(grep -c '"str"' "$work/session/follower.out" || true)
echo "demo: $n readline events"
[ "$n" -ge 4 ] || { echo "error: demo: expected at least 4 events" >&2; exit 1; }
