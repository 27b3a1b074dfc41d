#!/usr/bin/env bash
# Runs a host command whose stdin stays open while a follower (such as
# `eimc events %PID% --count N`) reads the host's live state, then closes
# the host's stdin so it can finish.
#
# Usage: run-with-follower.sh OUTDIR HOST ARGS... -- FOLLOWER ARGS...
# %PID% in the follower's arguments becomes the host's PID. Writes
# OUTDIR/{host,follower}.{out,err}; exits with the host's status, or 124
# if the follower has not finished within 20 s.
set -u
out=$1
shift
host=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do host+=("$1"); shift; done
shift
mkdir -p "$out"
rm -f "$out/stdin" && mkfifo "$out/stdin"
"${host[@]}" <"$out/stdin" >"$out/host.out" 2>"$out/host.err" &
pid=$!
exec 3>"$out/stdin"
args=()
for a in "$@"; do args+=("${a//%PID%/$pid}"); done
"${args[@]}" >"$out/follower.out" 2>"$out/follower.err" &
fpid=$!
for _ in $(seq 200); do kill -0 "$fpid" 2>/dev/null || break; sleep 0.1; done
timedout=0
if kill -0 "$fpid" 2>/dev/null; then kill "$fpid"; timedout=1; fi
exec 3>&-
wait "$pid"
status=$?
wait "$fpid" 2>/dev/null
rm -f "$out/stdin"
[ $timedout = 1 ] && exit 124
exit "$status"
