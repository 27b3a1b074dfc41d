#!/usr/bin/env python3
"""eimc's safety verifier measured against the kernel's (issue B4).

The corpus is tests/verifier/corpus/: one C file per category (listed in
categories.txt), compiled with clang-19 at -mcpu=v3 and -mcpu=v4, plus
mutants generated mechanically from every program the kernel accepts.
The kernel's verdicts are data (labels.json), so the figures are computed
also where bpf() is unavailable.

Modes:
  run    compile, mutate, verify every program with eimc (safety mode,
         policy bound 1,000,000 instructions, every helper granted) and
         print the figures against labels.json. Exit 1 on a false accept
         (eimc accepts, the kernel rejects) or a stale or missing label.
  label  (root) load every program into the running kernel with
         loader.c, as BPF_PROG_TYPE_KPROBE with full capabilities (P) and,
         for the categories where eimc is deliberately stricter than root,
         as BPF_PROG_TYPE_SOCKET_FILTER without CAP_PERFMON and
         CAP_SYS_ADMIN (S); write labels.json.
  drift  (root) the same loads, compared with labels.json: prints every changed verdict. Programs labelled
         E2BIG (over 1M processed instructions: ~10 s each in the kernel)
         are not reloaded. Exit 1 if the kernel release is the labelled one
         and a verdict changed (on another release drift is reported only).

Figures: agreement with root (P) per category and overall (raw: every
program, eimc's verdict equal to root's); false accepts (eimc accepts, P
rejects), each listed; false rejects, each with eimc's rule and message.
A false reject by one of eimc's deliberately stricter rules
(DELIBERATE_RULES: pointer comparisons that reveal an address, pointers
stored into map memory; both refused by the kernel without CAP_PERFMON)
is listed as STRICTER and counted as agreement in the second figure,
"agreement with the stricter rules", which is the one held to >= 95%.
The categories built for those rules are also compared with the
unprivileged kernel (S), in a row of their own.

Mutants (instruction level, on the compiled object, one per operator and
program, at the operator's first applicable instruction; every one kept):
  branch-never   the last forward conditional jump never jumps (a bounds
                 check removed: the code it guarded runs)
  bound-plus-1   the first forward conditional jump against an immediate
                 compares with imm+1 (a bounds check off by one)
  offset-plus-1  the load or store with the largest offset gets offset+1
  null-unchecked the first `rX ==/!= 0` test after a map lookup or ring
                 buffer reservation goes the non-null way unconditionally
  loop-widened   the first backward conditional jump against an immediate
                 compares with 2*imm+1
  reg-uninit     the first move into r1-r9 becomes `goto +0`
  stack-uninit   the first store through r10 becomes `goto +0`
An instruction is replaced in place (same length), so offsets and
relocations stay valid. A mutant identical to its original is dropped.

Usage: verifier-corpus.py MODE --clang CLANG --work DIR [--bench BENCH]
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "verifier", "corpus")
LABELS = os.path.join(CORPUS, "labels.json")
MCPUS = ("v3", "v4")
MIN_PER_CATEGORY = 10
INSTRUCTIONS = 1000000  # the kernel's limit on processed instructions
NOP = struct.pack("<BBhi", 0x05, 0, 0, 0)  # goto +0
JA = 0x05
JOBS = 2
# eimc's rules that refuse what root's kernel accepts, on purpose
# (docs/verifier.md "Corpus"): a pointer compared with a scalar or with a
# pointer into another region, a pointer stored into map memory. Reads of
# unwritten stack are no longer among them: eimc accepts them as root's
# kernel does and the compiler zeroes the stack.
DELIBERATE_RULES = ("pointer-compare", "pointer-leak")
KEPT_STRICTER = ("pointer-compare", "pointer-leak")


def categories():
    """[(name, kind, description)] from categories.txt, in file order."""
    out = []
    with open(os.path.join(CORPUS, "categories.txt")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, kind, desc = line.split(None, 2)
                out.append((name, kind, desc))
    return out


# --- ELF: the programs of an object --------------------------------------

def programs_of(data):
    """[(name, file offset, size)] of the global functions in uprobe
    sections, in file order (as libbpf lists them)."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    secs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
            for i in range(shnum)]

    def cstr(sec, off):
        start = sec[4] + off
        return data[start:data.index(b"\0", start)].decode()

    names = [cstr(secs[shstrndx], s[0]) for s in secs]
    progs = []
    for s in secs:
        if s[1] != 2:  # SHT_SYMTAB
            continue
        for j in range(s[5] // 24):
            st_name, info, _, shndx, value, size = struct.unpack_from(
                "<IBBHQQ", data, s[4] + j * 24)
            if (info & 0xF == 2 and info >> 4 == 1 and shndx < shnum
                    and names[shndx].startswith("uprobe")):
                progs.append((cstr(secs[s[6]], st_name),
                              secs[shndx][4] + value, size))
    return sorted(progs, key=lambda p: p[1])


# --- Mutation operators ----------------------------------------------------

def decode(code):
    """[(index, opcode, dst, src, off, imm)], second lddw slots skipped."""
    out, i = [], 0
    while i * 8 < len(code):
        op, regs, off, imm = struct.unpack_from("<BBhi", code, i * 8)
        out.append((i, op, regs & 0xF, regs >> 4, off, imm))
        i += 2 if op == 0x18 else 1
    return out


def is_cond_jump(op):
    return op & 7 in (5, 6) and op >> 4 not in (0, 8, 9)  # not ja/call/exit


def is_mem(op):
    return op & 7 in (1, 2, 3) and op >> 5 == 3  # ldx/st/stx, MEM mode


def put(code, i, op, regs, off, imm):
    return code[:i * 8] + struct.pack("<BBhi", op, regs, off, imm) + \
        code[i * 8 + 8:]


def m_branch_never(code):
    fwd = [x for x in decode(code) if is_cond_jump(x[1]) and x[4] > 0]
    if fwd:
        i = fwd[-1][0]
        return code[:i * 8] + NOP + code[i * 8 + 8:]


def m_bound_plus_1(code):
    for i, op, dst, src, off, imm in decode(code):
        if is_cond_jump(op) and not op & 8 and off > 0:
            return put(code, i, op, dst | src << 4, off, imm + 1)


def m_offset_plus_1(code):
    mem = [x for x in decode(code) if is_mem(x[1])]
    if mem:
        i, op, dst, src, off, imm = max(mem, key=lambda x: (x[4], -x[0]))
        return put(code, i, op, dst | src << 4, off + 1, imm)


def m_null_unchecked(code):
    after_call = False
    for i, op, dst, src, off, imm in decode(code):
        if op == 0x85 and src == 0 and imm in (1, 131):
            after_call = True
        elif after_call and op in (0x15, 0x55) and imm == 0:
            if op == 0x15:  # if rX == 0 goto null-path: never taken
                return code[:i * 8] + NOP + code[i * 8 + 8:]
            return put(code, i, JA, 0, off, 0)  # != 0: always taken


def m_loop_widened(code):
    for i, op, dst, src, off, imm in decode(code):
        if is_cond_jump(op) and not op & 8 and off < 0:
            return put(code, i, op, dst | src << 4, off,
                       min(2 * imm + 1, 2**31 - 1) if imm >= 0 else 2 * imm)


def m_reg_uninit(code):
    for i, op, dst, src, off, imm in decode(code):
        if op in (0xb7, 0xbf, 0xb4, 0xbc) and 1 <= dst <= 9:
            return code[:i * 8] + NOP + code[i * 8 + 8:]


def m_stack_uninit(code):
    for i, op, dst, src, off, imm in decode(code):
        if op & 7 in (2, 3) and op >> 5 == 3 and dst == 10:
            return code[:i * 8] + NOP + code[i * 8 + 8:]


OPERATORS = [
    ("branch-never", m_branch_never),
    ("bound-plus-1", m_bound_plus_1),
    ("offset-plus-1", m_offset_plus_1),
    ("null-unchecked", m_null_unchecked),
    ("loop-widened", m_loop_widened),
    ("reg-uninit", m_reg_uninit),
    ("stack-uninit", m_stack_uninit),
]


# --- Building the corpus ---------------------------------------------------

class Item:
    """One program of one object: id 'file/mcpu/prog[~operator]'."""

    def __init__(self, pid, category, kind, obj, prog):
        self.id, self.category, self.kind = pid, category, kind
        self.obj, self.prog = obj, prog


def compile_all(clang, work):
    """Compiles every category file at each -mcpu; returns
    [(category, kind, mcpu, object path)]."""
    os.makedirs(work, exist_ok=True)
    jobs = []
    for name, kind, _ in categories():
        for mcpu in MCPUS:
            obj = os.path.join(work, "%s.%s.o" % (name, mcpu))
            cmd = [clang, "-target", "bpf", "-O2", "-g", "-mcpu=" + mcpu,
                   "-I/usr/include/x86_64-linux-gnu", "-c",
                   os.path.join(CORPUS, name + ".c"), "-o", obj]
            jobs.append(((name, kind, mcpu, obj), cmd))
    with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
        for (_, cmd), r in zip(jobs, pool.map(
                lambda j: subprocess.run(j[1], capture_output=True, text=True),
                jobs)):
            if r.returncode:
                sys.exit("error: %s\n%s" % (" ".join(cmd), r.stderr))
    return [j[0] for j in jobs]


def originals(objects):
    items = []
    for name, kind, mcpu, obj in objects:
        with open(obj, "rb") as f:
            progs = programs_of(f.read())
        if len(progs) < MIN_PER_CATEGORY:
            sys.exit("error: %s: %d programs, fewer than %d" %
                     (obj, len(progs), MIN_PER_CATEGORY))
        for prog, _, _ in progs:
            items.append(Item("%s/%s/%s" % (name, mcpu, prog), name, kind,
                              obj, prog))
    return items


def mutants(objects, accepted):
    """Writes one object per (category file, mcpu, operator) in which every
    program in \\p accepted is mutated; returns the mutant items."""
    items = []
    for name, _, mcpu, obj in objects:
        with open(obj, "rb") as f:
            data = f.read()
        progs = programs_of(data)
        for opname, fn in OPERATORS:
            out, mutated = bytearray(data), []
            for prog, start, size in progs:
                if "%s/%s/%s" % (name, mcpu, prog) not in accepted:
                    continue
                code = data[start:start + size]
                new = fn(code)
                if new is None or new == code:
                    continue
                out[start:start + size] = new
                mutated.append(prog)
            if not mutated:
                continue
            path = obj[:-2] + "." + opname + ".o"
            with open(path, "wb") as f:
                f.write(out)
            for prog in mutated:
                items.append(Item("%s/%s/%s~%s" % (name, mcpu, prog, opname),
                                  "mutant:" + opname, "mutant", path, prog))
    return items


def sha256(path):
    """Digest of what the kernel and eimc see of an object: the names and
    bytes of its code sections and the program symbols. Not the whole file:
    DWARF records the compiler's working directory, which differs between
    checkouts and from lit's."""
    with open(path, "rb") as f:
        data = f.read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    secs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
            for i in range(shnum)]
    names = secs[shstrndx]
    h = hashlib.sha256()
    for sec in secs:
        start = names[4] + sec[0]
        name = data[start:data.index(b"\0", start)]
        if name.startswith((b"uprobe", b".text")) and sec[1] == 1:
            h.update(name + b"\0" + data[sec[4]:sec[4] + sec[5]])
    for prog in programs_of(data):
        h.update(("%s %d %d;" % prog).encode())
    return h.hexdigest()


# --- The two verifiers -----------------------------------------------------

def run_per_object(items, fn):
    """fn(object path) -> {prog: result}, run on each distinct object."""
    objs = sorted({i.obj for i in items})
    with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
        return dict(zip(objs, pool.map(fn, objs)))


def kernel_loader(work):
    exe = os.path.join(work, "loader")
    subprocess.run(["cc", "-O1", "-o", exe, os.path.join(CORPUS, "loader.c"),
                    "-lbpf"], check=True)
    return exe


def kernel_labels(loader, items, unprivileged, quick=None):
    """{object: {program: label}}; with \p quick (a set of ids), only of
    the programs in it."""
    def load(obj):
        cmd = [loader, obj]
        if quick is not None:
            skip = [i.prog for i in items if i.obj == obj and
                    i.id not in quick]
            cmd += ["--skip=" + ",".join(skip)]
        if unprivileged:
            cmd = ["capsh", "--drop=cap_perfmon,cap_sys_admin", "--",
                   "-c", 'exec "$0" "$@" --socket-filter'] + cmd
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        res = {}
        for line in out.stdout.splitlines():
            name, verdict, err, msg = line.split("\t", 3)
            res[name] = {"verdict": verdict, "errno": int(err), "error": msg}
        return res
    return run_per_object(items, load)


def eimc_verdicts(bench, items):
    def verify(obj):
        out = subprocess.run(
            [bench, obj, "--runs", "1", "--instructions", str(INSTRUCTIONS),
             "--reason"], capture_output=True, text=True)
        res = {}
        for line in out.stdout.splitlines():
            head, _, reason = line.partition("\t")
            name, insns, _, safety_ns, verdict = head.split()
            res[name] = {"accept": verdict == "accepted", "rule": verdict,
                         "reason": reason, "ns": int(safety_ns)}
        if out.returncode:
            for i in items:
                if i.obj == obj and i.prog not in res:
                    res[i.prog] = {"accept": False, "rule": "unreadable",
                                   "reason": out.stderr.strip(), "ns": 0}
        return res
    return run_per_object(items, verify)


# --- Modes -----------------------------------------------------------------

def build_corpus(args, accepted_of):
    objects = compile_all(args.clang, args.work)
    items = originals(objects)
    return objects, items, mutants(objects, accepted_of(items))


def label_items(args, items, stricter, quick=None):
    loader = kernel_loader(args.work)
    if quick is not None:
        items = [i for i in items if i.id in quick]
    priv = kernel_labels(loader, items, False, quick)
    unpriv = kernel_labels(loader, [i for i in items
                                    if i.category in stricter], True, quick)
    labels = {}
    for i in items:
        entry = dict(priv[i.obj][i.prog], category=i.category)
        if i.category in stricter:
            u = unpriv[i.obj][i.prog]
            entry["unpriv"] = {"verdict": u["verdict"], "error": u["error"]}
        labels[i.id] = entry
    return labels


def live_labels(args, quick=None):
    """Kernel labels of originals, then of the mutants of accepted ones."""
    stricter = {c for c, k, _ in categories() if k == "stricter"}
    state = {}

    def accepted_of(items):
        state["orig"] = label_items(args, items, stricter, quick)
        return {k for k, v in state["orig"].items() if v["verdict"] == "accept"}

    objects, items, muts = build_corpus(args, accepted_of)
    labels = dict(state["orig"])
    labels.update(label_items(args, muts, stricter, quick))
    hashes = {os.path.basename(p): sha256(p)
              for p in sorted({i.obj for i in items + muts})}
    return {"kernel": platform.release(), "clang": clang_version(args.clang),
            "objects": hashes, "programs": labels}


def clang_version(clang):
    out = subprocess.run([clang, "--version"], capture_output=True, text=True)
    return out.stdout.splitlines()[0]


def mode_label(args):
    data = live_labels(args)
    with open(args.labels, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    n = len(data["programs"])
    print("labelled %d programs on %s" % (n, data["kernel"]))
    return 0


def mode_drift(args):
    with open(args.labels) as f:
        old = json.load(f)
    quick = {k for k, v in old["programs"].items() if v["errno"] != 7}
    new = live_labels(args, quick)
    drift = 0
    for pid in sorted(quick | set(new["programs"])):
        a = old["programs"].get(pid, {}).get("verdict", "missing")
        b = new["programs"].get(pid, {}).get("verdict", "missing")
        if a != b:
            drift += 1
            print("DRIFT %s: labelled %s, kernel %s now %s (%s)" %
                  (pid, a, new["kernel"], b,
                   new["programs"].get(pid, {}).get("error", "")))
    print("%d labels, %d reloaded (%d labelled E2BIG not reloaded), "
          "%d drifted (labelled on %s, live %s)" %
          (len(old["programs"]), len(new["programs"]),
           len(old["programs"]) - len(quick), drift, old["kernel"],
           new["kernel"]))
    return 1 if drift and old["kernel"] == new["kernel"] else 0


def pct(a, n):
    return "%5.1f%%" % (100.0 * a / n) if n else "    -"


def mode_run(args):
    with open(args.labels) as f:
        labels = json.load(f)
    progs = labels["programs"]
    accepted = {k for k, v in progs.items() if v["verdict"] == "accept"}
    start = time.monotonic()
    objects, items, muts = build_corpus(args, lambda _: accepted)
    built = time.monotonic()
    everything = items + muts
    stale = [os.path.basename(p) for p in sorted({i.obj for i in everything})
             if labels["objects"].get(os.path.basename(p)) != sha256(p)]
    eimc = eimc_verdicts(args.bench, everything)
    verified = time.monotonic()

    kinds = {c: k for c, k, _ in categories()}
    order = [c for c, _, _ in categories()] + \
        ["mutant:" + o for o, _ in OPERATORS]
    # n, agree, false accepts, false rejects, unprivileged agree, by design
    rows = {c: [0, 0, 0, 0, 0, 0] for c in order}
    false_accepts, disagreements, by_design, unlabelled = [], [], [], []
    total_ns = 0
    # The issue's figure: the stricter rules' categories (their originals
    # and every mutant of them) reported separately, the rest together.
    rest = [0, 0]
    for i in everything:
        lab = progs.get(i.id)
        got = eimc[i.obj].get(i.prog)
        if lab is None or got is None:
            unlabelled.append(i.id)
            continue
        total_ns += got["ns"]
        if lab["verdict"] == "env":
            continue
        row = rows[i.category]
        row[0] += 1
        kernel_accepts = lab["verdict"] == "accept"
        separate = i.id.split("/")[0] in KEPT_STRICTER
        if not separate:
            rest[0] += 1
            rest[1] += got["accept"] == kernel_accepts
        if "unpriv" in lab and got["accept"] == (
                lab["unpriv"]["verdict"] == "accept"):
            row[4] += 1
        if got["accept"] == kernel_accepts:
            row[1] += 1
            continue
        what = "eimc accepts" if got["accept"] else \
            "eimc rejects [%s] %s" % (got["rule"], got["reason"])
        line = "%s: kernel %s%s; %s" % (
            i.id, lab["verdict"],
            " (%s)" % lab["error"] if lab["error"] else "", what)
        if got["accept"]:
            row[2] += 1
            false_accepts.append(line)
        else:
            row[3] += 1
            if got["rule"] in DELIBERATE_RULES:
                row[5] += 1
                by_design.append(line)
            else:
                disagreements.append(line)

    print("kernel labels: %s (%s); %d programs (%d originals, %d mutants)" %
          (labels["kernel"], labels["clang"], len(everything), len(items),
           len(muts)))
    print("%-28s %-9s %5s %7s %4s %4s %8s %s" % (
        "category", "kind", "n", "agree", "FA", "FR", "(design)",
        "unpriv-agree"))
    tot = [0] * 6
    for c in order:
        n, agree, fa, fr, sagree, design = rows[c]
        if not n:
            continue
        kind = kinds.get(c, "mutant")
        print("%-28s %-9s %5d %7s %4d %4d %8d %s" % (
            c, kind, n, pct(agree, n), fa, fr, design,
            pct(sagree, n) if kind == "stricter" else ""))
        for k in range(6):
            tot[k] += rows[c][k]
    print("%-28s %-9s %5d %7s %4d %4d %8d" % (
        "overall", "", tot[0], pct(tot[1], tot[0]), tot[2], tot[3], tot[5]))
    print("raw agreement with root: %s of %d (%d disagree: %d false "
          "rejects by a stricter rule, %d other)" % (
              pct(tot[1], tot[0]).strip(), tot[0], tot[0] - tot[1], tot[5],
              tot[3] - tot[5] + tot[2]))
    print("agreement with the stricter rules (a refusal by %s counted as "
          "agreement): %s of %d" % (
              " or ".join(DELIBERATE_RULES),
              pct(tot[1] + tot[5], tot[0]).strip(), tot[0]))
    print("agreement with root outside the stricter rules' categories "
          "(%s and their mutants, reported separately): %s of %d" % (
              ", ".join(KEPT_STRICTER), pct(rest[1], rest[0]).strip(),
              rest[0]))
    kept = [rows[c] for c in KEPT_STRICTER]
    kn = sum(r[0] for r in kept)
    print("categories of the stricter rules (%s) against the unprivileged "
          "kernel: %s of %d" % (", ".join(KEPT_STRICTER),
                                pct(sum(r[4] for r in kept), kn).strip(), kn))
    print("verification time: %.1f ms in verify() for %d programs; "
          "compile+mutate %.1f s, eimc %.1f s wall" % (
              total_ns / 1e6, len(everything) - len(unlabelled),
              built - start, verified - built))
    for line in disagreements:
        print("FALSE-REJECT " + line)
    for line in by_design:
        print("STRICTER " + line)
    for line in false_accepts:
        print("FALSE-ACCEPT " + line)
    for obj in stale:
        print("STALE-LABEL %s: object differs from the labelled one "
              "(run `verifier-corpus.py label` as root)" % obj)
    for pid in unlabelled:
        print("UNLABELLED " + pid)
    print("%d false accepts, %d false rejects, %d stale, %d unlabelled" % (
        len(false_accepts), len(disagreements), len(stale), len(unlabelled)))
    return 1 if false_accepts or stale or unlabelled else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["run", "label", "drift"])
    p.add_argument("--clang", default="clang-19")
    p.add_argument("--bench", default="eimc-verify-bench")
    p.add_argument("--work", required=True)
    p.add_argument("--labels", default=LABELS)
    args = p.parse_args()
    if args.mode != "run" and not shutil.which("capsh"):
        sys.exit("error: capsh is needed to label without CAP_PERFMON")
    return {"run": mode_run, "label": mode_label, "drift": mode_drift}[
        args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
