#!/usr/bin/env python3
"""Extract eBPF ELF objects embedded in an executable (libbpf skeletons).

Usage: extract-bpf-object.py EXECUTABLE OUTPUT [INDEX]

Scans EXECUTABLE for ELF headers with e_machine 247 (EM_BPF); an object's
size is e_shoff + e_shnum * e_shentsize (the section header table is last in
objects clang writes). Writes the INDEX-th (default 0) object to OUTPUT.
Exits 1 if there is none.
"""
import struct
import sys

EM_BPF = 247


def objects(data):
    pos = data.find(b"\x7fELF")
    while pos >= 0:
        if len(data) >= pos + 64 and data[pos + 4] == 2 and data[pos + 5] == 1:
            (machine,) = struct.unpack_from("<H", data, pos + 18)
            if machine == EM_BPF:
                (shoff,) = struct.unpack_from("<Q", data, pos + 0x28)
                shentsize, shnum = struct.unpack_from("<HH", data, pos + 0x3A)
                size = shoff + shentsize * shnum
                if 0 < size <= len(data) - pos:
                    yield data[pos:pos + size]
        pos = data.find(b"\x7fELF", pos + 1)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    index = int(sys.argv[3]) if len(sys.argv) == 4 else 0
    with open(sys.argv[1], "rb") as f:
        found = list(objects(f.read()))
    if index >= len(found):
        print(f"error: {sys.argv[1]}: no eBPF object #{index}", file=sys.stderr)
        sys.exit(1)
    with open(sys.argv[2], "wb") as f:
        f.write(found[index])


if __name__ == "__main__":
    main()
