#!/bin/bash
# Dispatch benchmark (issue A5): what an empty eimc entry program and an empty
# eimc return program add to a hot host function, next to the uninstrumented
# call, a direct call to an empty C function (the floor) and the kernel's
# uprobe/uretprobe on the same function. One command, as root:
#
#   benchmarks/dispatch.sh
#
# Environment:
#   EIMC=path/to/eimc   eimc to use (default: $BUILD_DIR/bin/eimc, built
#                       by scripts/build.sh; BUILD_DIR defaults to build/)
#   N=10000000          calls per timed run (a)-(d)
#   KN=100000           calls per timed run for the kernel probes
#   CGN=1000000         calls per callgrind run
#   RUNS=5              timed runs per column (the best is reported)
#   KERNEL=auto|libbpf|bpftrace|none   how to attach the kernel probes
#
# ns per call: clock_gettime(CLOCK_MONOTONIC) in the host around the loop,
# best of RUNS. Instructions per call: callgrind's total Ir with CGN calls
# minus the total with 0 calls, divided by CGN (start-up and the loop's own
# instructions are not counted twice; the loop's are in every column).
# Everything is built in a temporary directory that is removed on exit.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${N:-10000000}"
KN="${KN:-100000}"
CGN="${CGN:-1000000}"
RUNS="${RUNS:-5}"
KERNEL="${KERNEL:-auto}"

TMP="$(mktemp -d /tmp/eimc-dispatch.XXXXXX)"
# The rewritten hosts leave their shared state in /dev/shm/eimc-UID/PID.state
# (removal at exit is issue A5's); every run of them goes through `track`,
# which records its PID, and cleanup removes exactly those files.
STATEDIR="/dev/shm/eimc-$(id -u)"
cleanup() {
  if [ -f "$TMP/pids" ]; then
    while read -r pid; do rm -f "$STATEDIR/$pid.state"; done <"$TMP/pids"
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

die() { echo "dispatch.sh: $*" >&2; exit 1; }
track() { echo "$BASHPID" >>"$TMP/pids"; exec "$@"; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found ($2)"; }
need gcc "apt-get install gcc"
need clang-19 "apt-get install clang-19"
need valgrind "apt-get install valgrind"

# --- eimc -------------------------------------------------------------------
if [ -z "${EIMC:-}" ]; then
  # The project's own build directory (scripts/build.sh), built if needed.
  BUILD_DIR="${BUILD_DIR:-$SRC/build}" "$SRC/scripts/build.sh" >/dev/null
  EIMC="${BUILD_DIR:-$SRC/build}/bin/eimc"
fi
[ -x "$EIMC" ] || die "no eimc at $EIMC"

# --- host ---------------------------------------------------------------------
cat >"$TMP/host.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
/* The hooked function and the floor; asm volatile keeps both real calls. */
__attribute__((noinline)) long hot(long x) { __asm__ volatile(""); return x + 1; }
__attribute__((noinline)) void empty(void) { __asm__ volatile(""); }
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}
int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "hot";
  long n = argc > 2 ? atol(argv[2]) : 10000000L, acc = 0;
  double t0 = now();
  if (!strcmp(mode, "floor"))
    for (long i = 0; i < n; i++) empty();
  else
    for (long i = 0; i < n; i++) acc += hot(i);
  double t1 = now();
  printf("%.3f %ld\n", n ? (t1 - t0) / n : 0.0, acc);
  return 0;
}
EOF
gcc -O2 -g -o "$TMP/host" "$TMP/host.c"

# --- extensions: empty entry and return programs, no helpers granted -----------
mk_prog() { # NAME SECTION
  printf '#define SEC(n) __attribute__((section(n), used))\nSEC("%s") int %s(void *ctx) { return 0; }\nchar LICENSE[] SEC("license") = "GPL";\n' "$2" "$1" >"$TMP/$1.bpf.c"
  clang-19 -O2 -g -target bpf -c "$TMP/$1.bpf.c" -o "$TMP/$1.bpf.o"
}
mk_prog e uprobe/hot
mk_prog r uretprobe/hot
for p in e r; do
  cat >"$TMP/$p.yaml" <<EOF
isolation: prefer
classes:
  - name: bench
    entry: hot
    match: $p
    allowed:
      helpers: []
EOF
  mkdir -p "$TMP/$p"
  "$EIMC" build "$TMP/host" -e "$TMP/$p.bpf.o" --policy "$TMP/$p.yaml" -o "$TMP/$p/host"
done

# --- kernel probes -----------------------------------------------------------
KREASON=""
if [ "$KERNEL" = auto ]; then
  if [ "$(id -u)" != 0 ]; then KERNEL=none; KREASON="not root"
  elif [ -f /usr/include/bpf/libbpf.h ] && ldconfig -p 2>/dev/null | grep -q 'libbpf\.so '; then KERNEL=libbpf
  elif command -v bpftrace >/dev/null; then KERNEL=bpftrace
  else KERNEL=none; KREASON="neither libbpf-dev nor bpftrace installed (apt-get install libbpf-dev or bpftrace)"
  fi
fi
if [ "$KERNEL" = libbpf ]; then
  # A tiny loader: attach OBJ's one program to BIN:hot, run BIN, detach.
  cat >"$TMP/kload.c" <<'EOF'
#include <bpf/libbpf.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: kload OBJ RETPROBE BIN [ARGS...]\n"); return 2; }
  struct bpf_object *o = bpf_object__open_file(argv[1], NULL);
  if (!o || libbpf_get_error(o) || bpf_object__load(o)) { fprintf(stderr, "kload: cannot load %s\n", argv[1]); return 1; }
  struct bpf_program *p = bpf_object__next_program(o, NULL);
  LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = "hot", .retprobe = argv[2][0] == '1');
  struct bpf_link *l = bpf_program__attach_uprobe_opts(p, -1, argv[3], 0, &opts);
  if (!l || libbpf_get_error(l)) { fprintf(stderr, "kload: cannot attach to %s:hot\n", argv[3]); return 1; }
  pid_t c = fork();
  if (c == 0) { execv(argv[3], argv + 3); _exit(127); }
  int st = 0;
  waitpid(c, &st, 0);
  bpf_link__destroy(l);
  bpf_object__close(o);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
EOF
  gcc -O2 -o "$TMP/kload" "$TMP/kload.c" -lbpf
  mk_prog ke uprobe
  mk_prog kr uretprobe
  kernel_run() { "${PIN[@]}" "$TMP/kload" "$TMP/k$1.bpf.o" "$([ "$1" = r ] && echo 1 || echo 0)" "$TMP/host" hot "$KN"; }
elif [ "$KERNEL" = bpftrace ]; then
  kernel_run() {
    local kind=uprobe; [ "$1" = r ] && kind=uretprobe
    "${PIN[@]}" bpftrace -q -e "$kind:$TMP/host:hot { }" -c "$TMP/host hot $KN" 2>/dev/null | tail -n 1
  }
elif [ "$KERNEL" != none ]; then
  die "KERNEL must be auto, libbpf, bpftrace or none"
fi
[ "$KERNEL" = none ] && [ -z "$KREASON" ] && KREASON="KERNEL=none"

# --- measure -------------------------------------------------------------------
PIN=()
command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ] && PIN=(taskset -c 1)

best() { # runs CMD RUNS times; prints the smallest ns/call
  local b="" v
  for _ in $(seq "$RUNS"); do
    if declare -F "$1" >/dev/null; then v="$("$@" | awk '{print $1}')"
    else v="$(track "${PIN[@]}" "$@" | awk '{print $1}')"; fi
    [ -n "$v" ] || die "no output from: $*"
    if [ -z "$b" ] || awk -v a="$v" -v b="$b" 'BEGIN{exit !(a<b)}'; then b="$v"; fi
  done
  echo "$b"
}
ir() { # BIN MODE N -> total Ir
  track valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" "$1" "$2" "$3" 2>&1 >/dev/null |
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
ir_per_call() { # BIN MODE
  local a b
  a="$(ir "$1" "$2" 0)"; b="$(ir "$1" "$2" "$CGN")"
  awk -v a="$a" -v b="$b" -v n="$CGN" 'BEGIN{printf "%.1f", (b-a)/n}'
}

echo "eimc: $EIMC"
echo "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) CPUs, Linux $(uname -r)"
echo "N=$N (kernel $KN), best of $RUNS; callgrind with $CGN calls; kernel probes: $KERNEL"

declare -A NS IR
NS[a]="$(best "$TMP/host" hot "$N")";   IR[a]="$(ir_per_call "$TMP/host" hot)"
NS[b]="$(best "$TMP/host" floor "$N")"; IR[b]="$(ir_per_call "$TMP/host" floor)"
NS[c]="$(best "$TMP/e/host" hot "$N")"; IR[c]="$(ir_per_call "$TMP/e/host" hot)"
NS[d]="$(best "$TMP/r/host" hot "$N")"; IR[d]="$(ir_per_call "$TMP/r/host" hot)"
if [ "$KERNEL" != none ]; then
  NS[ke]="$(best kernel_run e)"; NS[kr]="$(best kernel_run r)"
fi

# Per-function instruction counts of the hooked calls (self cost per call;
# functions under half an instruction per call are left out).
breakdown() { # BIN
  (track valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" "$1" hot "$CGN" >/dev/null 2>&1)
  callgrind_annotate --threshold=100 --auto=no "$TMP/cg.out" 2>/dev/null |
    awk -v n="$CGN" '/^ *[0-9,]+ .*:/ && !/PROGRAM TOTALS/ {
      c=$1; gsub(",","",c); if (c/n >= 0.5) { f=$0; sub(/^ *[0-9,]+ +(\([^)]*\) +)?/,"",f); sub(/ \[.*/,"",f); sub(/^[^:]*\//,"",f); printf "%s %.1f; ", f, c/n } }'
}

row() { # LABEL NS IR
  awk -v l="$1" -v ns="$2" -v ir="$3" -v a="${NS[a]}" -v b="${NS[b]}" -v ia="${IR[a]}" -v ib="${IR[b]}" 'BEGIN{
    irs = (ir == "") ? "-" : sprintf("%.1f", ir)
    ira = (ir == "") ? "-" : sprintf("%+.1f", ir - ia)
    irb = (ir == "") ? "-" : sprintf("%+.1f", ir - ib)
    printf "| %s | %.2f | %s | %.1fx | %.1fx | %+.2f | %+.2f | %s | %s |\n", l, ns, irs, ns/a, ns/b, ns-a, ns-b, ira, irb }'
}
echo
echo "| column | ns/call | Ir/call | ns ratio to (a) | ns ratio to floor | added ns vs (a) | ns above floor | added Ir vs (a) | Ir above floor |"
echo "|---|---|---|---|---|---|---|---|---|"
row "(a) uninstrumented hot()" "${NS[a]}" "${IR[a]}"
row "(b) floor: empty C function" "${NS[b]}" "${IR[b]}"
row "(c) eimc, empty entry program" "${NS[c]}" "${IR[c]}"
row "(d) eimc, empty return program" "${NS[d]}" "${IR[d]}"
if [ "$KERNEL" != none ]; then
  row "(e) kernel uprobe, empty program ($KERNEL)" "${NS[ke]}" ""
  row "(e) kernel uretprobe, empty program ($KERNEL)" "${NS[kr]}" ""
else
  echo "| (e) kernel uprobe / uretprobe | not measured: $KREASON | | | | | | | |"
fi
echo
echo "callgrind self Ir per call, (c): $(breakdown "$TMP/e/host")"
echo "callgrind self Ir per call, (d): $(breakdown "$TMP/r/host")"
