#!/usr/bin/env python3
"""The parse table of every eBPF object Debian ships (docs/compatibility.md).

Usage: object-table.py WORKDIR [--safety [--kernel]] > table.md
       (eimc, eimc-readobj and eimc-verify-bench on PATH,
       e.g. PATH=build/bin:$PATH)

Objects (read from the installed packages, never committed):
  - libbpf-tools: one object embedded in each /usr/sbin tool (61), extracted
    as tests/lit/Inputs/extract-bpf-object.py does;
  - libxdp1: /usr/lib/x86_64-linux-gnu/bpf/*.o (15);
  - golang-github-cilium-ebpf-dev: the little-endian test fixtures
    (*-el.elf, 18).

For each object, eimc-readobj reads it (a crash is a signal or an
exit code other than 0, 1, 2); for each program it reads, eimc verify decides built or refused, with a permissive generated policy: one
class per program granting every helper eimc implements, entries declared
by a generated manifest (so the policy itself refuses nothing), kprobe/
kretprobe programs retargeted with --attach, host /bin/true. A refusal's
reason is eimc's first diagnostic, without its location prefix.

Prints a Markdown table (one row per program, or one per object that is
refused whole) and a summary: objects, crashes, programs, built, refused,
and the most common reasons. Exits 1 if any object crashed the reader.

With --safety (docs/compatibility.md, benchmarks/README.md): for each
program the structural verifier accepts, the safety verdict with its
reason, its size, eimc's safety verification time (eimc-verify-bench:
in-process, best of 50 runs of safety mode minus best of 50 of structural
mode, which safety mode runs first) and, with --kernel as
root with bpftool, the kernel's own "verification time" from
`bpftool -d prog loadall` of the whole object (pinned under /sys/fs/bpf
and removed at once; "-" where the kernel does not load the object).
Exits 1 if the safety verifier crashed.
"""
import collections
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load_extractor():
    path = os.path.join(ROOT, "tests", "lit", "Inputs", "extract-bpf-object.py")
    spec = importlib.util.spec_from_file_location("extract", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def package_files(package):
    out = subprocess.run(["dpkg", "-L", package], capture_output=True,
                         text=True, check=True).stdout
    return sorted(out.split())


def collect(work):
    """(package, name, path) of every object, written under work/."""
    extractor = load_extractor()
    objects = []
    for tool in package_files("libbpf-tools"):
        if not tool.startswith("/usr/sbin/") or not os.path.isfile(tool):
            continue
        with open(tool, "rb") as f:
            found = list(extractor.objects(f.read()))
        for i, blob in enumerate(found):
            name = os.path.basename(tool) + ("" if i == 0 else f".{i}") + ".bpf.o"
            path = os.path.join(work, name)
            with open(path, "wb") as f:
                f.write(blob)
            objects.append(("libbpf-tools", name, path))
    for path in sorted(glob.glob("/usr/lib/x86_64-linux-gnu/bpf/*.o")):
        objects.append(("libxdp1", os.path.basename(path), path))
    for path in package_files("golang-github-cilium-ebpf-dev"):
        if path.endswith("-el.elf"):
            objects.append(("golang-github-cilium-ebpf-dev",
                            os.path.basename(path), path))
    return objects


def helper_names():
    text = open(os.path.join(ROOT, "include", "eimc", "Core", "Helpers.def")).read()
    return re.findall(r"^EIM_HELPER\(\d+,\s*(\w+),", text, re.M)


PROGRAM = re.compile(r"^program '([^']*)' section '([^']*)': (\w+)(?:.* symbol '([^']*)')?")


def reason_of(stderr):
    for line in stderr.splitlines():
        if line.startswith("error: "):
            # Drop "error: obj: prog 'p': insn N (file:line):" prefixes.
            msg = line[len("error: "):]
            msg = re.sub(r"^[^:]*\.(o|elf): ", "", msg)
            msg = re.sub(r"^prog '[^']*': ", "", msg)
            msg = re.sub(r"^insn \d+( \([^)]*\))?: ", "", msg)
            return msg
    return stderr.strip().splitlines()[0] if stderr.strip() else "no message"


def verify(work, path, prog, section, kind, symbol, helpers, extra=()):
    entry = "probe_target"
    attach = []
    if kind in ("kprobe", "kretprobe"):
        attach = ["--attach", f"{prog}={entry}"]
    elif symbol:
        entry = symbol
    manifest = os.path.join(work, "manifest.yaml")
    with open(manifest, "w") as f:
        f.write("entries:\n"
                f"  - name: {entry}\n    function: {entry}\n"
                "    prototype: { returns: int, params: [] }\n")
    policy = os.path.join(work, "policy.yaml")
    with open(policy, "w") as f:
        f.write("classes:\n"
                f"  - name: all\n    entry: {entry}\n    match: {prog}\n"
                "    allowed:\n      helpers:\n")
        for h in helpers:
            f.write(f"        - {h}\n")
    cmd = ["eimc", "verify", "/bin/true", "-e", path, "--program", prog,
           *attach, "--policy", policy, "--manifest", manifest, *extra]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode < 0 or r.returncode > 2:
        return "crash", f"eimc verify exited {r.returncode}"
    if r.returncode == 0:
        return "built", ""
    return "refused", reason_of(r.stderr)


INSNS = re.compile(r", (\d+) insns$")


def kernel_load(work, path):
    """{program: (verification usec, processed insns)} from bpftool, or
    (None, first error line) when the kernel refuses the object."""
    pin = os.path.join("/sys/fs/bpf", f"eimc-bench-{os.getpid()}")
    r = subprocess.run(["bpftool", "-d", "prog", "loadall", path, pin],
                       capture_output=True, text=True, timeout=120)
    subprocess.run(["rm", "-rf", pin])
    if r.returncode != 0:
        errs = [l for l in r.stderr.splitlines() if l.startswith("Error")]
        return None, errs[-1] if errs else f"bpftool exited {r.returncode}"
    times, prog = {}, None
    for line in r.stderr.splitlines():
        m = re.match(r"libbpf: prog '([^']*)': -- BEGIN PROG LOAD LOG", line)
        if m:
            prog = m.group(1)
        m = re.match(r"verification time (\d+) usec", line)
        if m and prog:
            times[prog] = int(m.group(1))
    return times, ""


def safety_main(work, kernel_times):
    helpers = helper_names()
    can_load = (kernel_times and os.geteuid() == 0
                and shutil.which("bpftool"))
    rows, reasons = [], collections.Counter()
    crashes = 0
    total = {"insns": 0, "eimc": 0.0, "kinsns": 0, "kernel": 0.0,
             "keimc": 0.0}
    for package, name, path in collect(work):
        r = subprocess.run(["eimc-readobj", path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            continue
        progs = [(m.groups(), int(INSNS.search(l).group(1)))
                 for l in r.stdout.splitlines()
                 if (m := PROGRAM.match(l)) and INSNS.search(l)]
        kernel = None
        bench = {}
        for (prog, section, kind, symbol), insns in progs:
            args = (work, path, prog, section, kind, symbol, helpers)
            if verify(*args)[0] != "built":
                continue
            if kernel is None:
                kernel = kernel_load(work, path) if can_load else ({}, "")
                out = subprocess.run(["eimc-verify-bench", "--runs", "50",
                                      path], capture_output=True, text=True,
                                     check=True).stdout
                for line in out.splitlines():
                    f = line.split()
                    bench[f[0]] = (int(f[2]), int(f[3]))
            verdict, why = verify(*args, extra=["--verifier=safety"])
            structural_ns, safety_ns = bench[prog]
            us = max(0, safety_ns - structural_ns) / 1000
            crashes += verdict == "crash"
            verdict = {"built": "accepted"}.get(verdict, verdict)
            if verdict != "accepted":
                reasons[re.sub(r"'[^']*'|#?\d+", "N", why)] += 1
            ktimes = kernel[0]
            kus = ktimes.get(prog) if ktimes else None
            total["insns"] += insns
            total["eimc"] += us
            if kus is not None:
                total["kinsns"] += insns
                total["kernel"] += kus
                total["keimc"] += us
            rows.append((name, prog, str(insns), verdict, why, f"{us:.1f}",
                         "-" if kus is None else str(kus)))
    print("| object | program | insns | safety | reason | eimc µs | kernel µs |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    print()
    accepted = sum(r[3] == "accepted" for r in rows)
    print(f"programs (structurally built): {len(rows)}")
    print(f"safety accepted: {accepted}")
    print(f"safety refused: {len(rows) - accepted - crashes}")
    print(f"crashes: {crashes}")
    per = lambda us, n: f"{1000 * us / n:.1f}" if n else "-"
    print(f"eimc safety µs per 1,000 insns: {per(total['eimc'], total['insns'])}"
          f" ({total['insns']} insns)")
    print(f"on the programs the kernel loads: eimc "
          f"{per(total['keimc'], total['kinsns'])}, kernel "
          f"{per(total['kernel'], total['kinsns'])} ({total['kinsns']} insns)")
    print("reasons:")
    for why, n in reasons.most_common():
        print(f"  {n:4} {why}")
    return 1 if crashes else 0


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
    if "--safety" in sys.argv[2:]:
        return safety_main(work, "--kernel" in sys.argv[2:])
    helpers = helper_names()
    objects = collect(work)
    rows, crashes = [], 0
    verdicts = collections.Counter()
    reasons = collections.Counter()
    per_package = collections.Counter()
    for package, name, path in objects:
        per_package[package] += 1
        r = subprocess.run(["eimc-readobj", path],
                           capture_output=True, text=True)
        if r.returncode < 0 or r.returncode not in (0, 1, 2):
            crashes += 1
            rows.append((package, name, "-", "-", "crash",
                         f"eimc-readobj exited {r.returncode}"))
            continue
        if r.returncode != 0:
            why = reason_of(r.stderr)
            rows.append((package, name, "(object)", "-", "refused", why))
            verdicts["object refused"] += 1
            reasons["object: " + why] += 1
            continue
        progs = [m.groups() for m in map(PROGRAM.match, r.stdout.splitlines()) if m]
        if not progs:
            rows.append((package, name, "(none)", "-", "refused", "no programs"))
            verdicts["object refused"] += 1
            reasons["object: no programs"] += 1
        for prog, section, kind, symbol in progs:
            verdict, why = verify(work, path, prog, section, kind,
                                  symbol, helpers)
            crashes += verdict == "crash"
            verdicts[verdict] += 1
            if verdict == "refused":
                # Group reasons by their shape: numbers and names vary.
                reasons[re.sub(r"'[^']*'|#?\d+", "N", why)] += 1
            rows.append((package, name, prog, section, verdict, why))

    print("| package | object | program | section | verdict | reason |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    print()
    print(f"objects: {len(objects)} ("
          + ", ".join(f"{k} {v}" for k, v in sorted(per_package.items())) + ")")
    print(f"crashes: {crashes}")
    print(f"programs: {sum(verdicts[v] for v in ('built', 'refused', 'crash'))}")
    print(f"built: {verdicts['built']}")
    print(f"refused: {verdicts['refused']}")
    print(f"objects refused whole: {verdicts['object refused']}")
    print("reasons:")
    for why, n in reasons.most_common():
        print(f"  {n:4} {why}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
