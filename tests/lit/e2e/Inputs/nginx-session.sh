#!/usr/bin/env bash
# Runs one scripted session of HTTP requests against an nginx binary in
# the foreground (`daemon off; master_process off;`), every path under
# OUTDIR (prefix, config, logs, temp files, the listening unix socket),
# then stops it with SIGQUIT (graceful shutdown).
#
# Usage: nginx-session.sh OUTDIR NGINX CONF REQUESTS [FOLLOWER ARGS...]
# CONF is copied to OUTDIR/nginx.conf with @DIR@ replaced by OUTDIR's
# absolute path; REQUESTS holds one `METHOD PATH` per line. Writes
# OUTDIR/client.out (each response's status line, headers without Date,
# and body, from curl), OUTDIR/server.{out,err} and OUTDIR/status (the
# server's exit status). FOLLOWER, if given, runs after the requests with
# %PID% replaced by the server's PID (output: OUTDIR/follower.out).
# Whatever happens, the trap kills the server by PID.
set -u
mkdir -p "$1"
out=$(cd "$1" && pwd) nginx=$2 conf=$3 requests=$4
shift 4
sock=$out/n.sock
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -f "$sock"; }
trap cleanup EXIT
mkdir -p "$out/html" "$out/logs" "$out/tmp"
sed "s|@DIR@|$out|g" "$conf" >"$out/nginx.conf"
printf 'static page\n' >"$out/html/index.html"
# A fixed mtime: Last-Modified and ETag are then the same in every run.
touch -d '2024-01-01 00:00:00 UTC' "$out/html/index.html"
"$nginx" -p "$out" -e "$out/logs/error.log" -c "$out/nginx.conf" \
  -g 'daemon off; master_process off;' \
  >"$out/server.out" 2>"$out/server.err" </dev/null &
pid=$!
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "nginx-session.sh: no socket" >&2; exit 1; }
while read -r method path; do
  # HEAD through -I: with -X HEAD curl waits for the body Content-Length
  # announces, until the keep-alive timeout.
  how=(-i -X "$method")
  [ "$method" = HEAD ] && how=(-I)
  curl -s "${how[@]}" --max-time 10 --unix-socket "$sock" \
    "http://localhost$path" |
    tr -d '\r' | grep -v '^Date: '
  echo
done <"$requests" >"$out/client.out" 2>&1
if [ $# -gt 0 ]; then
  args=()
  for a in "$@"; do args+=("${a//%PID%/$pid}"); done
  "${args[@]}" >"$out/follower.out" 2>&1
fi
kill -QUIT "$pid"
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
wait "$pid"
echo $? >"$out/status"
pid=
