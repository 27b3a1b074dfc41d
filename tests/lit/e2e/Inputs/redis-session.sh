#!/usr/bin/env bash
# Runs one scripted session against a redis-server binary on a private
# unix socket (no TCP port, no persistence), then shuts it down.
#
# Usage: redis-session.sh OUTDIR SERVER COMMANDS [FOLLOWER ARGS...]
# Writes OUTDIR/client.out (redis-cli's answers to each line of COMMANDS),
# OUTDIR/server.{out,err} and OUTDIR/status (the server's exit status).
# FOLLOWER, if given, runs while the server is up, after the commands, with
# %PID% replaced by the server's PID; its output goes to OUTDIR/follower.out.
# The server is stopped by `shutdown nosave`; whatever happens, the trap
# kills it by PID, so no process outlives the session.
set -u
out=$1 server=$2 commands=$3
shift 3
mkdir -p "$out"
sock=$out/r.sock
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -f "$sock"; }
trap cleanup EXIT
"$server" --port 0 --unixsocket "$sock" --save '' --appendonly no \
  >"$out/server.out" 2>"$out/server.err" </dev/null &
pid=$!
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "redis-session.sh: no socket" >&2; exit 1; }
redis-cli -s "$sock" <"$commands" >"$out/client.out" 2>&1
if [ $# -gt 0 ]; then
  args=()
  for a in "$@"; do args+=("${a//%PID%/$pid}"); done
  "${args[@]}" >"$out/follower.out" 2>&1
fi
redis-cli -s "$sock" shutdown nosave >/dev/null 2>&1
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
wait "$pid"
echo $? >"$out/status"
pid=
