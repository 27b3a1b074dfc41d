#!/usr/bin/env python3
# Usage: extract-gates.py REWRITTEN-HOST OUT TRAMPOLINE STUB
#
# Cuts eimc's code out of a rewritten host for gate-walk.c, keeping every
# byte at its distance from the isolation gate page so that the `prefer`
# gates' flag test (`cmpl $0, eim_mpk_gate(%rip)`) and the host-call
# stubs' return-address check (a call of the runtime's eim_rt_hcall_take,
# which finds the key-protected record zero in the image, as a jump from
# host code finds it in the process) still reach what they reach in the
# process. Writes:
#  - OUT.img: from the gate page (its `active` word set to 1: MPK on, as
#    after the runtime's seal) to the end of `.eimc.text`, zeros between;
#  - OUT.walk: one line per gate range to walk, `NAME MODE START END`
#    (offsets in OUT.img), with MODE `call` (entered by a call, lands on a
#    `ret` patched in right after the range) or `stub` (entered with the
#    host-call stub's stack: two saved registers, then a return address
#    into host code, which the stub's return would use);
#  - OUT-control.img/.walk: the control, the entry trampoline's open gate
#    followed directly by a `ret` (a gate that grants and returns to host
#    code, which the walk must report).
# Ranges: TRAMPOLINE's open gate (then a patched `jmp` to its close gate,
# standing for the extension run) and its close gate; the start stub's
# close gate (eim_start revokes the key once the runtime tagged the state);
# STUB's close gate (before the host call) and everything from its open
# gate to its end (the return check, the `ret`, the trap path's gate).
# Prints each range's length.
import subprocess
import sys

host, out, tramp, stub = sys.argv[1:5]
RDPKRU_START = b"\x31\xc9\x0f\x01\xee"
OPEN = RDPKRU_START + b"\x83\xe0\xf3"
CLOSE = RDPKRU_START + b"\x83\xc8\x0c"
WRPKRU = b"\x0f\x01\xef"


def run(*args):
    return subprocess.run(args, capture_output=True, text=True,
                          check=True).stdout


symbols = {}
for line in run("llvm-nm", "-S", host).splitlines():
    words = line.split()
    if len(words) == 4:
        symbols[words[3]] = (int(words[0], 16), int(words[1], 16))
    elif len(words) == 3:
        symbols.setdefault(words[2], (int(words[0], 16), 0))
for line in run("llvm-readelf", "-SW", host).splitlines():
    if ".eimc.text" in line:
        fields = line.split("]", 1)[1].split()
        text_addr, text_off = int(fields[2], 16), int(fields[3], 16)
        text_size = int(fields[4], 16)
data = open(host, "rb").read()
base = symbols["eim_mpk_gate"][0] & ~0xfff
image = bytearray(text_addr + text_size - base)
image[symbols["eim_mpk_gate"][0] - base] = 1
image[text_addr - base:] = data[text_off:text_off + text_size]


def gate(start, pattern):
    """The gate in image whose RDPKRU sequence is the first `pattern` at or
    after `start`: (first byte incl. a `prefer` skip test, end)."""
    at = image.index(pattern, start)
    end = image.index(WRPKRU, at) + 3
    if pattern == CLOSE:  # the check: up to and including its `jne`
        end = image.index(b"\x75", image.index(b"\x0f\x01\xee", end)) + 2
    skip = at - 9  # cmpl $0, disp32(%rip) (7 bytes); je rel8 (2)
    if image[skip:skip + 2] == b"\x83\x3d" and image[skip + 7] == 0x74:
        at = skip
    return at, end


def function(name):
    address, size = symbols[name]
    return address - base, address - base + size


walks, lines = [], []
control = bytearray(image)
t0, t1 = function(tramp)
o, o_end = gate(t0, OPEN)
c, c_end = gate(o_end, CLOSE)
control[o_end] = 0xC3
image[o_end:o_end + 5] = b"\xe9" + (c - (o_end + 5)).to_bytes(4, "little",
                                                              signed=True)
image[c_end] = 0xC3
walks.append(("trampoline-gates call", [(o, o_end), (c, c_end)]))
s0, s1 = function("eim_start")
sc, sc_end = gate(s0, CLOSE)
image[sc_end] = 0xC3
walks.append(("start-close call", [(sc, sc_end)]))
h0, h1 = function(stub)
hc, hc_end = gate(h0, CLOSE)
image[hc_end] = 0xC3
walks.append(("stub-close call", [(hc, hc_end)]))
ho, ho_end = gate(hc_end, OPEN)
walks.append(("stub-open stub", [(ho, h1)]))

with open(out + ".img", "wb") as f:
    f.write(image)
with open(out + "-control.img", "wb") as f:
    f.write(control)
with open(out + ".walk", "w") as f:
    for name, ranges in walks:
        for start, end in ranges:
            f.write("%s %d %d\n" % (name, start, end))
        print("%s: %d bytes" % (name.split()[0],
                                sum(e - s for s, e in ranges)))
with open(out + "-control.walk", "w") as f:
    f.write("open-gate call %d %d\n" % (o, o_end))
