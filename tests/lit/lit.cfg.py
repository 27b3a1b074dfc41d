# lit configuration for eimc. Tests read like documentation: `##` prose,
# `# RUN:` lines, FileCheck prefixes. Inputs are generated inside each test.
import os
import shutil
import lit.formats
from lit.llvm import llvm_config

config.name = "eimc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".test", ".s", ".c", ".yaml"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.eimc_obj_root, "tests", "lit")

llvm_config.use_default_substitutions()
# append_path=True: replacing PATH would lose rm, sh and the rest.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.eimc_bin_dir, append_path=True)
for var in ["CI", "HOME", "TMPDIR"]:
    if var in os.environ:
        config.environment[var] = os.environ[var]

config.substitutions.append(("%clang", config.clang))
config.substitutions.append(("%src_root", config.eimc_src_root))
config.substitutions.append(("%eimc_version", config.eimc_version))
# A BPF object from C: %bpfcc -c x.bpf.c -o x.o
config.substitutions.append(
    ("%bpfcc", config.clang + " -target bpf -O2 -g -I/usr/include/x86_64-linux-gnu"))
config.substitutions.append(("%eimc_runtime_o", os.path.join(config.eimc_obj_root, "runtime-lib", "eimc-runtime.o")))
config.substitutions.append(("%inputs", os.path.join(config.eimc_src_root, "tests", "lit", "Inputs")))
# bpf_conformance vectors: ../shared beside the project root (also in CI).
config.substitutions.append(("%conformance_vectors", os.path.join(
    config.eimc_src_root, "..", "shared", "conformance", "bpf_conformance", "tests")))
# 64 bytes of input for tests/conformance programs (byte 63 must stay 0).
config.substitutions.append(("%mem64",
    "4420823cfde6f1c26b30f90ec7dd01e4887534a20f0b0d04c36ed80e71e0fd77"
    "b07670eb940bd5335f973daad8619b91ffc911f57cced458bbbf2ce03753c900"))

# Features tests can REQUIRE.
if os.geteuid() == 0:
    config.available_features.add("root")
if os.path.exists("/usr/sbin/bashreadline"):
    config.available_features.add("libbpf-tools")
# A CPU with protection keys that the kernel enabled: outputs run isolated
# natively (docs/security.md). Hardware, so never required under CI.
with open("/proc/cpuinfo") as cpuinfo:
    cpu_flags = next((line.split(":", 1)[1].split() for line in cpuinfo
                      if line.startswith("flags")), [])
if "pku" in cpu_flags and "ospke" in cpu_flags:
    config.available_features.add("pku")
# Debian's redis-server binary and clients (package redis-tools, which
# starts no daemon; the binary is /usr/bin/redis-check-rdb).
if all(os.path.exists("/usr/bin/" + b)
       for b in ("redis-check-rdb", "redis-benchmark", "redis-cli")):
    config.available_features.add("redis")
if os.environ.get("CI") == "true" and "redis" not in config.available_features:
    lit_config.fatal("CI=true but redis-tools is missing (redis)")
# The other eBPF objects Debian ships, for the parse table.
if (os.path.isdir("/usr/lib/x86_64-linux-gnu/bpf")
        and os.path.isdir("/usr/share/gocode/src/github.com/cilium/ebpf")):
    config.available_features.add("debian-bpf-objects")
if os.environ.get("CI") == "true" and "debian-bpf-objects" not in config.available_features:
    lit_config.fatal("CI=true but libxdp1 or golang-github-cilium-ebpf-dev is missing (debian-bpf-objects)")
# Debian's nginx for `eimc extract --derive`: fetched with apt-get download
# (never installed: its install starts a daemon); configuring its headers
# needs pcre2 and OpenSSL headers.
if (shutil.which("apt-get") and os.path.exists("/usr/include/pcre2.h")
        and os.path.exists("/usr/include/openssl/ssl.h")):
    config.available_features.add("debian-nginx")
if os.environ.get("CI") == "true" and "debian-nginx" not in config.available_features:
    lit_config.fatal("CI=true but apt-get, libpcre2-dev or libssl-dev is missing (debian-nginx)")
# A qemu guest whose emulated CPU enforces protection keys
# (tests/lit/Inputs/mpk-qemu.py): qemu, Debian's static busybox for the
# initramfs, and apt-get/dpkg-deb to fetch and unpack a Debian kernel.
def _static_elf(path):
    try:
        with open(path, "rb") as f:
            data = f.read(4096)
    except OSError:
        return False
    import struct
    if data[:4] != b"\x7fELF":
        return False
    phoff, = struct.unpack_from("<Q", data, 32)
    phnum, = struct.unpack_from("<H", data, 56)
    return all(struct.unpack_from("<I", data, phoff + 56 * i)[0] != 3  # PT_INTERP
               for i in range(phnum))
if (shutil.which("qemu-system-x86_64") and shutil.which("apt-get")
        and shutil.which("dpkg-deb") and _static_elf("/bin/busybox")):
    config.available_features.add("mpk-qemu")
if os.environ.get("CI") == "true" and "mpk-qemu" not in config.available_features:
    lit_config.fatal("CI=true but qemu-system-x86 or busybox-static is missing (mpk-qemu)")
config.substitutions.append(("%mpk_qemu", "python3 " + os.path.join(
    config.eimc_src_root, "tests", "lit", "Inputs", "mpk-qemu.py")
    + " --cache " + os.path.join(config.eimc_obj_root, "qemu-cache")))
# Under CI a missing real input is a failure, not a skip: the demo must run.
if os.environ.get("CI") == "true" and "libbpf-tools" not in config.available_features:
    lit_config.fatal("CI=true but /usr/sbin/bashreadline (libbpf-tools) is missing")
