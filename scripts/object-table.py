#!/usr/bin/env python3
"""The parse table of every eBPF object Debian ships (docs/compatibility.md).

Usage: object-table.py WORKDIR > table.md   (eimc and eimc-readobj on PATH,
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
"""
import collections
import glob
import importlib.util
import os
import re
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


def verify(work, path, prog, section, kind, symbol, helpers):
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
    r = subprocess.run(["eimc", "verify", "/bin/true",
                        "-e", path, "--program", prog, *attach,
                        "--policy", policy, "--manifest", manifest],
                       capture_output=True, text=True)
    if r.returncode < 0 or r.returncode > 2:
        return "crash", f"eimc verify exited {r.returncode}"
    if r.returncode == 0:
        return "built", ""
    return "refused", reason_of(r.stderr)


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
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
