#!/usr/bin/env python3
"""Names the counting twin's hits: one "FUNCTION: N" line per function of
FILE (in order) from `eimc maps dump PID .bss --format=json`, then
"hit K of M functions, T calls".

Usage: hit-report.py FILE DUMP.json
"""
import json
import sys

names = [line.strip() for line in open(sys.argv[1]) if line.strip()]
dump = json.load(open(sys.argv[2]))
hits = dump["entries"][0]["value"]["hits"]
if len(hits) != len(names):
    sys.exit(f"error: {len(names)} functions but {len(hits)} counters")
for name, n in zip(names, hits):
    print(f"{name}: {n}")
print(f"hit {sum(1 for n in hits if n > 0)} of {len(names)} functions, "
      f"{sum(hits)} calls")
