#!/usr/bin/env bash
# Runs a scripted interactive session in a bash binary, the same way for
# the original /bin/bash and for eimc's output, so their readline events
# can be compared.
#
# Usage: bash-session.sh BASH OUTDIR [FOLLOWER ARGS...]
#
# The shell runs `BASH --norc -i` with stdin from a FIFO (a piped -i shell
# still reads through readline), so it stays alive between lines. FOLLOWER,
# if given, starts once the shell runs, with %PID% replaced by its PID; its
# stdout goes to OUTDIR/follower.out. The script sends:
#   echo hi / ls / / SIGINT at the prompt / echo after-sigint / exit
# Each line waits until the shell sits at its prompt again (a short sleep:
# the shell gives no other sign), so SIGINT reaches readline, which
# longjmps out of the pending call. Exit status: the shell's.
set -u
bash_bin=$1 out=$2
shift 2
mkdir -p "$out"
rm -f "$out/stdin" && mkfifo "$out/stdin"
"$bash_bin" --norc -i <"$out/stdin" >"$out/bash.out" 2>"$out/bash.err" &
pid=$!
exec 3>"$out/stdin"
echo "$pid" >"$out/pid"
fpid=
if [ $# -gt 0 ]; then
  args=()
  for a in "$@"; do args+=("${a//%PID%/$pid}"); done
  "${args[@]}" >"$out/follower.out" 2>"$out/follower.err" &
  fpid=$!
fi
pause() { sleep "${SESSION_PAUSE:-0.4}"; }
pause
printf 'echo hi\n' >&3; pause
printf 'ls /\n' >&3; pause
kill -INT "$pid"; pause
printf 'echo after-sigint\n' >&3; pause
printf 'exit\n' >&3
exec 3>&-
wait "$pid"
status=$?
[ -n "$fpid" ] && wait "$fpid"
rm -f "$out/stdin"
exit "$status"
