/*===- unwind_table.c - Return addresses for the host's unwinder -*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/design.md, "Unwinding through return probes".       *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * The fixed-address table described in eim_unwind_table.h: while a return
 * probe is armed, slot S of the hooked call holds the return trampoline,
 * and this table maps S to the original return address. The rewriter's
 * replacement FDEs compute the hooked function's return address from it,
 * so C++ exceptions, backtrace() and gdb see the host's real caller.
 *
 * shadow_stack.c keeps the invariant "S holds its trampoline => the table
 * has S": it calls eim_unwind_put() before storing the trampoline, skips
 * the return probe when put fails, and removes the keys of the frames it
 * pops or finds abandoned.
 *
 * Concurrency: each key is written only by the thread whose stack holds S
 * (and by its signal handlers). Threads compete only for free entries,
 * which a CAS on the key claims before the other fields are written. An
 * unwinder reading an entry while it is filled finds *S still holding the
 * real return address (the trampoline is stored after put() returns), so
 * the entry's tramp check fails and it uses *S.
 *
 * The mapping is made once, by the start stub (eim_rt_unwind_init), before
 * the host runs: an FDE reads it whenever it unwinds a hooked function,
 * armed or not. MAP_NORESERVE and lazy touching keep the cost to the
 * pages actually used (usually one or two).
 */

#include "eim_unwind_table.h"
#include "rt_internal.h"

#define EIM_MAP_PRIVATE 0x02
#define EIM_MAP_ANONYMOUS 0x20
#define EIM_MAP_NORESERVE 0x4000
#define EIM_MAP_FIXED_NOREPLACE 0x100000
#define EIM_SYS_MUNMAP 11

struct eim_unwind_entry {
  uint64_t key;   /* S, or 0 */
  uint64_t ret;   /* original return address */
  uint64_t tramp; /* the trampoline stored at S */
  uint64_t unused;
};
_Static_assert(sizeof(struct eim_unwind_entry) == EIM_UNWIND_ENTRY_SIZE,
               "entry layout is part of the FDE contract");
_Static_assert(__builtin_offsetof(struct eim_unwind_entry, ret) ==
                       EIM_UNWIND_RET_OFFSET &&
                   __builtin_offsetof(struct eim_unwind_entry, tramp) ==
                       EIM_UNWIND_TRAMP_OFFSET,
               "entry layout is part of the FDE contract");

/* Set once by the start stub. Without replacement FDEs the stub does not
 * call eim_rt_unwind_init: no unwinder reads a table, so return probes
 * need none (UNWIND_UNUSED). */
enum { UNWIND_UNUSED, UNWIND_MISSING, UNWIND_MAPPED };
static uint32_t eim_unwind_state;
#define eim_unwind_mapped (eim_unwind_state == UNWIND_MAPPED)

void eim_rt_unwind_init(void) {
  eim_unwind_state = UNWIND_MISSING;
  long addr =
      eim_syscall6(EIM_SYS_MMAP, (long)EIM_UNWIND_TABLE_BASE,
                   (long)EIM_UNWIND_TABLE_SIZE, EIM_PROT_READ | EIM_PROT_WRITE,
                   EIM_MAP_PRIVATE | EIM_MAP_ANONYMOUS | EIM_MAP_NORESERVE |
                       EIM_MAP_FIXED_NOREPLACE,
                   -1, 0);
  if ((uint64_t)addr == EIM_UNWIND_TABLE_BASE) {
    eim_unwind_state = UNWIND_MAPPED;
    return;
  }
  /* Kernels before 4.17 treat the flag as a hint and map elsewhere. */
  if (addr >= 0)
    eim_syscall3(EIM_SYS_MUNMAP, addr, (long)EIM_UNWIND_TABLE_SIZE, 0);
  /* Return probes are then skipped and counted (uret_skipped). */
}

static struct eim_unwind_entry *home(uint64_t *slot) {
  uint64_t index = ((uint64_t)slot >> 3) & (EIM_UNWIND_TABLE_ENTRIES - 1);
  return (struct eim_unwind_entry *)EIM_UNWIND_TABLE_BASE + index;
}

static struct eim_unwind_entry *find(uint64_t *slot) {
  if (!eim_unwind_mapped)
    return 0;
  struct eim_unwind_entry *e = home(slot);
  for (uint32_t i = 0; i < EIM_UNWIND_TABLE_PROBES; ++i)
    if (eim_load_relaxed(&e[i].key) == (uint64_t)slot)
      return &e[i];
  return 0;
}

int eim_unwind_put(uint64_t *slot, uint64_t ret, uint64_t tramp) {
  if (eim_unwind_state == UNWIND_UNUSED)
    return 1;
  if (!eim_unwind_mapped)
    return 0;
  struct eim_unwind_entry *e = find(slot);
  if (!e) {
    struct eim_unwind_entry *h = home(slot);
    for (uint32_t i = 0; i < EIM_UNWIND_TABLE_PROBES && !e; ++i) {
      uint64_t free_key = 0;
      if (eim_cas(&h[i].key, &free_key, (uint64_t)slot))
        e = &h[i];
    }
    if (!e)
      return 0;
  }
  e->ret = ret;
  e->tramp = tramp;
  eim_signal_fence();
  return 1;
}

void eim_unwind_retramp(uint64_t *slot, uint64_t tramp) {
  struct eim_unwind_entry *e = find(slot);
  if (e)
    e->tramp = tramp;
  eim_signal_fence();
}

void eim_unwind_remove(uint64_t *slot) {
  struct eim_unwind_entry *e = find(slot);
  if (e)
    eim_store_release(&e->key, 0);
}
