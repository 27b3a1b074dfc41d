#!/usr/bin/env python3
# Usage: mpk-qemu.py --cache DIR --work DIR [--cpu MODEL] [--file PATH]...
#                    BATCH
#
# Runs a batch of shell commands inside a qemu guest whose CPU enforces
# memory protection keys, and prints what each command wrote and its exit
# status. Why: the isolation tests (tests/lit/isolation) need a CPU with PKU
# and a kernel with OSPKE, which test machines may lack; `qemu-system-x86_64
# -accel tcg -cpu max` emulates both, including the SEGV_PKUERR fault.
#
# The guest is built at test time, nothing is installed on the host:
#  - the kernel is the vmlinuz of Debian's current linux-image-<abi>-amd64,
#    fetched with `apt-get download` and unpacked with `dpkg-deb`; the .deb
#    and the vmlinuz are cached in --cache (under the build directory), and
#    the cache is filled under a lock, so concurrent tests fetch it once;
#  - the initramfs holds Debian's static busybox, an /init script, and each
#    --file (a test host, a library, a data file) at its own absolute path
#    together with the `ldd` closure of every dynamic ELF among them, so a
#    host built on this machine runs unchanged in the guest.
#
# BATCH has one shell command per line (`#` lines and blank lines are
# skipped). One boot runs them all, in order, each with `sh -c` in the
# guest's root directory, stdout and stderr together. Output, for FileCheck:
#   $ COMMAND
#   ...what it printed...
#   [exit N]        (N is the shell's status: 128+signal for a signal)
# The script exits 0 when the guest ran the whole batch (whatever the
# commands' statuses), 2 on a harness failure (no kernel, guest did not
# finish within --timeout seconds), printing the console tail.
#
# --cpu selects qemu's CPU model (default `max`); `max,-pku` gives a guest
# without protection keys, to test what a host does when they are missing.
import argparse
import fcntl
import os
import shutil
import subprocess
import sys

BEGIN = "@@EIMC-BEGIN"
END = "@@EIMC-END"
DONE = "@@EIMC-DONE"

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm
mount -t tmpfs shm /dev/shm
echo 0 > /proc/sys/kernel/printk
n=0
while IFS= read -r cmd; do
  n=$((n+1))
  (cd / && sh -c "$cmd") > /tmp/out.$n 2>&1 < /dev/null
  rc=$?
  echo "@@EIMC-BEGIN $n"
  cat /tmp/out.$n
  echo "@@EIMC-END $n $rc"
done < /batch
echo "@@EIMC-DONE"
poweroff -f
"""


def fetch_kernel(cache):
    """Returns the path of a cached vmlinuz, fetching it under a lock."""
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        vmlinuz = os.path.join(cache, "vmlinuz")
        if os.path.exists(vmlinuz):
            return vmlinuz
        # The metapackage names the current ABI's image package.
        deps = subprocess.run(["apt-cache", "depends", "linux-image-amd64"],
                              capture_output=True, text=True, check=True).stdout
        names = [l.split(":", 1)[1].strip() for l in deps.splitlines()
                 if l.strip().startswith("Depends:")
                 and "linux-image-" in l]
        if not names:
            raise SystemExit("mpk-qemu: apt-cache names no linux-image package")
        # stderr dropped: apt warns that it downloads as root.
        subprocess.run(["apt-get", "download", "-q", names[0]], cwd=cache,
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        deb = [f for f in os.listdir(cache) if f.endswith(".deb")][0]
        root = os.path.join(cache, "root")
        subprocess.run(["dpkg-deb", "-x", deb, root], cwd=cache, check=True)
        boot = os.path.join(root, "boot")
        image = [f for f in os.listdir(boot) if f.startswith("vmlinuz-")][0]
        shutil.copy(os.path.join(boot, image), vmlinuz + ".tmp")
        # Only the kernel image is kept: the modules are 400 MB.
        shutil.rmtree(root)
        os.rename(vmlinuz + ".tmp", vmlinuz)
        return vmlinuz


def ldd_closure(path):
    """The shared objects (and interpreter) a dynamic ELF needs."""
    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            return []
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        words = line.split()
        if "=>" in words:
            target = words[words.index("=>") + 1]
            if target.startswith("/"):
                libs.append(target)
        elif words and words[0].startswith("/"):
            libs.append(words[0])  # the interpreter
    return libs


class Cpio:
    """A newc cpio archive (the initramfs format) written file by file."""

    def __init__(self, path):
        self.out = open(path, "wb")
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data):
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0,
                  len(name) + 1, 0]
        self.ino += 1
        head = b"070701" + b"".join(b"%08X" % v for v in fields)
        self.out.write(head + name.encode() + b"\0")
        self.out.write(b"\0" * (-(len(head) + len(name) + 1) % 4))
        self.out.write(data)
        self.out.write(b"\0" * (-len(data) % 4))

    def add_dirs(self, path):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.dirs:
                self.dirs.add(d)
                self._entry(d, 0o040755, b"")

    def add_file(self, path, data, mode=0o755):
        self.add_dirs(path)
        self._entry(path.strip("/"), 0o100000 | mode, data)

    def close(self):
        self._entry("TRAILER!!!", 0, b"")
        self.out.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cpu", default="max")
    ap.add_argument("--file", action="append", default=[])
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("batch")
    args = ap.parse_args()

    try:
        vmlinuz = fetch_kernel(args.cache)
    except (subprocess.CalledProcessError, IndexError, OSError) as e:
        print("mpk-qemu: cannot fetch a kernel: %s" % e)
        return 2

    os.makedirs(args.work, exist_ok=True)
    commands = [l.rstrip("\n") for l in open(args.batch)
                if l.strip() and not l.lstrip().startswith("#")]
    files = {}
    for f in args.file:
        f = os.path.abspath(f)
        files[f] = f
        for lib in ldd_closure(f):
            files[lib] = lib
    initrd = os.path.join(args.work, "initrd.cpio")
    cpio = Cpio(initrd)
    cpio.add_file("/bin/busybox", open("/bin/busybox", "rb").read())
    cpio.add_file("/init", INIT.encode())
    cpio.add_file("/batch", "".join(c + "\n" for c in commands).encode(),
                  0o644)
    for guest, host in sorted(files.items()):
        cpio.add_file(guest, open(host, "rb").read(),
                      os.stat(host).st_mode & 0o777)
    cpio.close()

    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", args.cpu,
           "-m", "512", "-nographic", "-no-reboot", "-kernel", vmlinuz,
           "-initrd", initrd, "-append",
           "console=ttyS0 quiet loglevel=0 panic=-1 rdinit=/init"]
    try:
        run = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                             capture_output=True, timeout=args.timeout)
        console = run.stdout.decode(errors="replace").replace("\r", "")
    except subprocess.TimeoutExpired as e:
        console = (e.stdout or b"").decode(errors="replace")
        print("mpk-qemu: guest did not finish in %d s" % args.timeout)
        print(console[-3000:])
        return 2
    with open(os.path.join(args.work, "console.log"), "w") as log:
        log.write(console)

    results = {}
    current = None
    lines = []
    for line in console.splitlines():
        # A marker may follow the firmware's terminal escapes on its line.
        if BEGIN + " " in line:
            current, lines = int(line.split(BEGIN)[1].split()[0]), []
        elif END + " " in line and current is not None:
            results[current] = (lines, line.split(END)[1].split()[1])
            current = None
        elif current is not None:
            lines.append(line)
    for n, command in enumerate(commands, 1):
        print("$ " + command)
        if n not in results:
            print("mpk-qemu: no result (the guest stopped early)")
            print(console[-3000:])
            return 2
        for line in results[n][0]:
            print(line)
        print("[exit %s]" % results[n][1])
    if DONE not in console:
        print("mpk-qemu: the guest did not finish the batch")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
