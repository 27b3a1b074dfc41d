#!/usr/bin/env python3
"""Runs the safety verifier's YAML cases (tests/verifier/*.yaml).

Each YAML document is one case, in the shape of PREVAIL's test-data:

  test-case: what the case shows
  asm: |            # kernel/llvm-objdump assembly of program 'prog', or
  c: |              # a C body compiled by clang-19 -target bpf
  cflags: [...]     # optional extra clang flags (e.g. -mcpu=v3 for alu32)
  instructions: 50  # optional policy bound
  helpers: [...]    # optional granted helpers
  verdict: accept | reject
  messages: [...]   # substrings expected in the diagnostics (in order)
  absent: [...]     # substrings that must not appear (e.g. a warning)

The program attaches as `uprobe/readline` to /bin/bash and is verified with
`eimc verify --verifier=safety`. Prints one line per case; exits 1 if any
case's verdict or messages differ.
Usage: run-cases.py EIMC CLANG LLVM_MC WORKDIR CASES.yaml...
"""
import os
import subprocess
import sys

import yaml

POLICY = """isolation: prefer
classes:
  - name: probe
    match: prog
    entry: readline
    allowed:
      helpers: [{helpers}]
{extra}"""

C_PRELUDE = """#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
"""


def build(case, work, clang, llvm_mc):
    obj = os.path.join(work, "prog.o")
    if "asm" in case:
        src = os.path.join(work, "prog.s")
        with open(src, "w") as f:
            f.write('  .section "uprobe/readline","ax"\n  .globl prog\n'
                    "  .type prog,@function\nprog:\n" + case["asm"] +
                    '\n  .section "license","aw"\n  .asciz "GPL"\n')
        cmd = [llvm_mc, "-triple", "bpfel", "-mcpu=v4", "-filetype=obj",
               src, "-o", obj]
    else:
        src = os.path.join(work, "prog.bpf.c")
        with open(src, "w") as f:
            f.write(C_PRELUDE + case["c"] +
                    '\nchar LICENSE[] SEC("license") = "GPL";\n')
        cmd = [clang, "-target", "bpf", "-O2", "-g",
               "-I/usr/include/x86_64-linux-gnu"] + case.get("cflags", []) + [
               "-c", src, "-o", obj]
    subprocess.run(cmd, check=True)
    return obj


def main():
    eimc, clang, llvm_mc, work = sys.argv[1:5]
    failed = 0
    total = 0
    for path in sys.argv[5:]:
        with open(path) as f:
            cases = [c for c in yaml.safe_load_all(f) if c]
        for case in cases:
            total += 1
            os.makedirs(work, exist_ok=True)
            obj = build(case, work, clang, llvm_mc)
            extra = ""
            if "instructions" in case:
                extra = "      instructions: %d\n" % case["instructions"]
            policy = os.path.join(work, "policy.yaml")
            with open(policy, "w") as f:
                f.write(POLICY.format(
                    helpers=", ".join(case.get("helpers", [])), extra=extra))
            run = subprocess.run(
                [eimc, "verify", "/bin/bash", "-e", obj, "--policy", policy,
                 "--verifier=safety"], capture_output=True, text=True)
            want = {"accept": 0, "reject": 1}[case["verdict"]]
            problems = []
            if run.returncode != want:
                problems.append("exit %d, expected %d" % (run.returncode, want))
            pos = 0
            for m in case.get("messages", []):
                at = run.stderr.find(m, pos)
                if at < 0:
                    problems.append("missing message: " + m)
                else:
                    pos = at + len(m)
            for m in case.get("absent", []):
                if m in run.stderr:
                    problems.append("unexpected message: " + m)
            name = os.path.basename(path) + ": " + case["test-case"]
            if problems:
                failed += 1
                print("FAIL " + name + ": " + "; ".join(problems))
                print(run.stderr)
            else:
                print("PASS " + name)
    print("%d cases, %d failed" % (total, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
