#!/usr/bin/env bash
# Installs what eimc needs to build and test on Debian 12 (as root).
# Only missing packages are installed; `apt-get update` runs first, once.
# Never installs packages whose install scripts start daemons (nginx,
# redis-server): tests fetch those with `apt-get download` instead.
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build g++ python3
  # LLVM 19: the compiler backbone, lld as a library, lit and FileCheck
  llvm-19-dev clang-19 lld-19 liblld-19-dev llvm-19-tools
  # libraries LLVM's CMake configuration looks for
  zlib1g-dev libzstd-dev libedit-dev libxml2-dev libffi-dev
  # x86 decoding, command line, eBPF headers for extensions
  libcapstone-dev libcli11-dev libbpf-dev linux-libc-dev
  # real inputs for tests: libbpf-tools holds Debian's compiled eBPF objects
  libbpf-tools bpftool
  # Debian's other eBPF objects (the parse table) and redis-server with its
  # clients (redis-tools starts no daemon; the redis-server package would)
  libxdp1 golang-github-cilium-ebpf-dev redis-tools
  # configuring Debian's nginx module headers (eimc extract --derive tests)
  libpcre2-dev libssl-dev
  # isolation tests: a qemu guest with protection keys, its initramfs from
  # the static busybox (its kernel is fetched at test time, never installed)
  qemu-system-x86 busybox-static
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "error: install-deps: need root to install: ${missing[*]}" >&2
  exit 2
fi
echo "install-deps: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
