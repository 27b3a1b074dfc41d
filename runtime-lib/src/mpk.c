/*===- mpk.c - Extension state behind a protection key ----------*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/security.md.                                       *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * Detects memory protection keys (MPK) before any host code runs, and once
 * the runtime has built its state, tags every page of extension state with
 * protection key EIM_MPK_KEY. The start stub then revokes the host's
 * access with a close gate; the trampolines' gates (rewriter/Gates.cpp)
 * grant access around each extension run and revoke it afterwards. This
 * file never writes PKRU.
 *
 * Extension state is two ranges: the shared mapping of the state file (maps,
 * rings, counters, shadow stacks) and the linked .bss (`.eimc.state`: the
 * runtime's globals, the re-entrancy table, each map's state object). The
 * linker script starts `.eimc.state` with one page of its own
 * (`.bss.eimc_gate`; the start stub passes the linker-script symbols
 * around the rest, eim_state_tagged and eim_state_tagged_end), which holds what the gates read while the key is
 * closed; it is made read-only, not tagged, once filled.
 *
 * Why a fixed key: the gates carry their PKRU masks as immediates, so no
 * host-writable memory decides what a gate grants. Key 0 is the default
 * key of all memory; the first pkey_alloc of a process returns 1. If key 1
 * is taken (a shared library's constructor allocated it) isolation is
 * unavailable, as on a CPU without PKU.
 *
 * Modes (policy `isolation`, passed by the start stub):
 *  - require: without MPK, one line on stderr and exit 69 (EX_UNAVAILABLE)
 *    before eim_rt_init, so before any constructor of the host program.
 *    The gates are unconditional.
 *  - prefer: without MPK the host runs unisolated; the state header records
 *    it (`eimc inspect`) and stderr says so only with `warn: true`. The
 *    gates test eim_mpk_gate.active (in the read-only page) first.
 *  - off: the start stub does not call this file at all.
 */

#include "rt_internal.h"

enum {
  EIM_SYS_MPROTECT = 10,
  EIM_SYS_PKEY_MPROTECT = 329,
  EIM_SYS_PKEY_ALLOC = 330,
  EIM_SYS_PKEY_FREE = 331,
};

/* Exit status of `isolation: require` without MPK (sysexits.h). */
#define EIM_EXIT_UNAVAILABLE 69

/* Read by the gates while the key is closed: its own page, read-only after
 * eim_rt_mpk_seal(). Zero until then, so a gate reached before the seal
 * (none is) would not touch PKRU. */
struct eim_mpk_gate_page {
  uint32_t active; /* 1: the gates switch PKRU */
  uint32_t mode;   /* EIM_ISOLATION_* */
  uint32_t status; /* EIM_ISOLATION_STATUS_* */
  uint32_t warn;
};
EIM_HIDDEN struct eim_mpk_gate_page eim_mpk_gate
    __attribute__((section(".bss.eimc_gate"), aligned(4096)));


static size_t length(const char *s) {
  size_t n = 0;
  while (s[n])
    ++n;
  return n;
}

/* Why MPK is unusable, or NULL when it is usable (key 1 allocated). */
static const char *detect(void) {
  uint32_t a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
  if (a < 7)
    return "the CPU has no protection keys (PKU)";
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
  if (!(c & (1u << 3)))
    return "the CPU has no protection keys (PKU)";
  if (!(c & (1u << 4)))
    return "the kernel has not enabled protection keys (OSPKE)";
  long key = eim_syscall3(EIM_SYS_PKEY_ALLOC, 0, 0, 0);
  if (key < 0)
    return "pkey_alloc failed";
  if (key != EIM_MPK_KEY) {
    eim_syscall3(EIM_SYS_PKEY_FREE, key, 0, 0);
    return "protection key 1 is already allocated";
  }
  return 0;
}

void eim_rt_mpk_init(uint32_t mode, uint32_t warn) {
  const char *why = detect();
  eim_mpk_gate.mode = mode;
  eim_mpk_gate.warn = warn;
  eim_mpk_gate.status =
      why ? EIM_ISOLATION_STATUS_UNAVAILABLE : EIM_ISOLATION_STATUS_ACTIVE;
  if (!why)
    return;
  if (mode == EIM_ISOLATION_REQUIRE) {
    char line[160];
    size_t n = 0;
    const char *parts[] = {"eimc: isolation required but unavailable: ", why,
                           "\n"};
    for (size_t i = 0; i < 3; ++i)
      for (const char *p = parts[i]; *p && n + 1 < sizeof(line); ++p)
        line[n++] = *p;
    eim_syscall3(EIM_SYS_WRITE, 2, (long)line, (long)n);
    eim_syscall3(EIM_SYS_EXIT_GROUP, EIM_EXIT_UNAVAILABLE, 0, 0);
    __builtin_unreachable();
  }
  if (warn) {
    static const char head[] = "eimc: warning: running without isolation: ";
    eim_syscall3(EIM_SYS_WRITE, 2, (long)head, sizeof(head) - 1);
    eim_syscall3(EIM_SYS_WRITE, 2, (long)why, (long)length(why));
    eim_syscall3(EIM_SYS_WRITE, 2, (long)"\n", 1);
  }
}

static void tag(void *start, uint64_t size, const char *what) {
  long r = eim_syscall6(EIM_SYS_PKEY_MPROTECT, (long)start, (long)size,
                        EIM_PROT_READ | EIM_PROT_WRITE, EIM_MPK_KEY, 0, 0);
  if (r < 0)
    eim_fatal("cannot tag extension state with the protection key", what, r);
}

void eim_rt_mpk_seal(char *tagged, char *tagged_end) {
  if (eim_rt.state) {
    eim_rt.state->isolation = eim_mpk_gate.status;
  }
  if (eim_mpk_gate.status != EIM_ISOLATION_STATUS_ACTIVE)
    return;
  tag(eim_rt.state, EIM_STATE_RESERVE, "state file");
  uint64_t size = (uint64_t)(tagged_end - tagged);
  if (size)
    tag(tagged, size, ".eimc.state");
  eim_mpk_gate.active = 1;
  long r = eim_syscall3(EIM_SYS_MPROTECT, (long)&eim_mpk_gate, 4096,
                        EIM_PROT_READ);
  if (r < 0)
    eim_fatal("cannot make the gate page read-only", "", r);
  /* Key 1 is still granted (pkey_alloc's initial rights): the start stub
   * revokes it right after this returns, with the trampolines' checked
   * close gate, so that every WRPKRU in an output is one of the gates the
   * PKRU scan recognises (rewriter/PkruScan.cpp); the runtime has none. */
}
