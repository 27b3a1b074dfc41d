#!/usr/bin/env bash
# Prints N functions of HOST's .dynsym that the rewriter's planner accepts,
# one per line: the HOT names given first (those the planner accepts), then
# cold ones spread evenly over the sorted .dynsym functions. Functions the
# planner refuses are skipped (their reasons go to stderr).
#
# Usage: pick-functions.sh HOST N [HOT...]
set -u
host=$1 n=$2
shift 2
hookable() {
  eimc-rewrite "$host" --hook "$1:entry=p" --emit=plan >/dev/null 2>>refused.txt
}
picked=()
for f in "$@"; do
  [ ${#picked[@]} -ge "$n" ] && break
  hookable "$f" && picked+=("$f")
done
mapfile -t all < <(llvm-nm -D --defined-only "$host" | awk '$2 == "T" { print $3 }' |
                   grep -v '@' | sort -u)
step=$(( ${#all[@]} / (n * 2) + 1 ))
for ((i = 0; i < ${#all[@]} && ${#picked[@]} < n; i += step)); do
  f=${all[$i]}
  printf '%s\n' "${picked[@]}" | grep -qx -- "$f" && continue
  hookable "$f" && picked+=("$f")
done
printf '%s\n' "${picked[@]}"
