#!/usr/bin/env bash
# Usage: funclatency-redis.sh EIMC SERVER DIR
#
# Runs the A3 acceptance scenario against a redis-server built with
# Debian's funclatency object: starts SERVER on a private unix socket in
# DIR (no TCP port, no persistence, no daemon), runs redis-benchmark (SET,
# 100,000 requests), one INFO commandstats, then dumps the histogram map
# `funclate.bss` with `EIMC maps dump` while the server runs (as JSON into
# DIR/hist.json, as text by its bare section name into DIR/hist.txt; the
# map list into DIR/maps.txt). The server is
# stopped by PID on every path (trap). Prints two lines for FileCheck:
#   hist-sum N              the sum of the histogram's slots
#   commands-plus-info N    1 + sum of calls and rejected_calls over the
#                           cmdstat_ lines (the 1 is the INFO itself, which
#                           returns before its reply is read)
set -euo pipefail
eimc=$1 server=$2 dir=$3
mkdir -p "$dir"
sock=$dir/r.sock
"$server" --port 0 --unixsocket "$sock" --save '' --appendonly no \
  --daemonize no --dir "$dir" >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  [ -S "$sock" ] && break
  sleep 0.05
done
redis-benchmark -s "$sock" -t set -n 100000 -q >"$dir/bench.out" 2>&1
redis-cli -s "$sock" INFO commandstats >"$dir/info.out"
"$eimc" maps dump "$pid" funclate.bss --format=json >"$dir/hist.json"
"$eimc" maps dump "$pid" .bss >"$dir/hist.txt"
"$eimc" maps list "$pid" >"$dir/maps.txt"
python3 - "$dir/hist.json" "$dir/info.out" <<'PY'
import json, re, sys
hist = json.load(open(sys.argv[1]))["entries"][0]["value"]["hist"]
print("hist-sum", sum(hist))
total = 1
for line in open(sys.argv[2]):
    if line.startswith("cmdstat_"):
        fields = dict(kv.split("=") for kv in line.strip().split(":", 1)[1].split(","))
        total += int(fields["calls"]) + int(fields.get("rejected_calls", 0))
print("commands-plus-info", total)
PY
