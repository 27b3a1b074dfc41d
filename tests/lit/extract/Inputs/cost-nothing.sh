#!/bin/sh
# helper of ../cost-nothing.test: build the example host with compiler $1 with
# and without annotations; compare sections.
set -e
cc=$1 src=$2
$cc -O2 -g -I$src/include $src/examples/nginx-like/host.c -o with
$cc -O2 -g -DEIM_DISABLE -I$src/include $src/examples/nginx-like/host.c -o without
for s in .text .data; do
  llvm-objcopy -O binary -j $s with with$s
  llvm-objcopy -O binary -j $s without without$s
  cmp with$s without$s && echo "$s identical"
done
eimc extract with | grep -q 'name: *access_phase' && echo "annotated has capabilities"
eimc extract without 2>&1 | grep -q 'no capabilities found' || exit 1
