#!/usr/bin/env python3
# Usage: extract-gates.py REWRITTEN-HOST SYMBOL OUT
#
# Cuts the two gates out of entry trampoline SYMBOL of a host built with
# `isolation: require` (whose gates are position-independent: no flag
# test) and writes them back to back into OUT, for gate-walk.c. The open
# gate starts at the first `xor %ecx,%ecx; rdpkru` and ends after its
# WRPKRU; the close gate starts at the next `xor %ecx,%ecx; rdpkru` and
# ends after the `jne` that follows its second RDPKRU. Prints both lengths.
import subprocess
import sys

host, symbol, out = sys.argv[1:4]
syms = subprocess.run(["llvm-nm", "-S", host], capture_output=True,
                      text=True, check=True).stdout
for line in syms.splitlines():
    words = line.split()
    if len(words) == 4 and words[3] == symbol:
        address, size = int(words[0], 16), int(words[1], 16)
        break
else:
    sys.exit("no symbol " + symbol)
sections = subprocess.run(["llvm-readelf", "-SW", host], capture_output=True,
                          text=True, check=True).stdout
for line in sections.splitlines():
    if ".eimc.text" in line:
        fields = line.split("]", 1)[1].split()
        base, offset = int(fields[2], 16), int(fields[3], 16)
data = open(host, "rb").read()
code = data[offset + address - base:offset + address - base + size]
start = b"\x31\xc9\x0f\x01\xee"
wrpkru = b"\x0f\x01\xef"
o = code.index(start)
o_end = code.index(wrpkru, o) + 3
c = code.index(start, o_end)
second = code.index(b"\x0f\x01\xee", code.index(wrpkru, c))
c_end = code.index(b"\x75", second) + 2  # jne rel8
open(out, "wb").write(code[o:o_end] + code[c:c_end])
print("open gate: %d bytes, close gate: %d bytes" % (o_end - o, c_end - c))
