/*===- eim_unwind_table.h - Where unwinders find return addresses -*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/design.md, "Unwinding through return probes".       *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * The contract between the runtime (runtime-lib/src/unwind_table.c), which
 * fills the table, and the rewriter (rewriter/UnwindInfo.cpp), whose DWARF
 * expressions read it from inside the host's unwinder (libgcc, gdb).
 *
 * A return probe replaces the return address in slot S (CFA - 8 of the
 * hooked function) with its return trampoline T. An unwinder cannot reach
 * the runtime's per-thread shadow stack (a CFI expression has no TLS, and
 * in a PIE an address in .eh_frame is not relocated), so the runtime also
 * keeps one process-wide table at a fixed absolute address, keyed by S:
 * stack slots are unique across the live frames of all threads.
 *
 * Entry i lives at EIM_UNWIND_TABLE_BASE + i * 32. A key S has home index
 * (S >> 3) & (EIM_UNWIND_TABLE_ENTRIES - 1) and may sit in that entry or
 * in one of the EIM_UNWIND_TABLE_PROBES - 1 entries after it (no wrap:
 * the mapping has that many tail entries). A lookup checks all of them
 * (an empty entry does not end it), so removal is just key = 0.
 *
 * An entry is valid for an unwinder only while *S == tramp: a stale entry
 * (a frame left by an exception or longjmp, or an unarmed call at the
 * same slot) then falls back to *S, the real return address.
 */
#ifndef EIM_UNWIND_TABLE_H
#define EIM_UNWIND_TABLE_H

/* Above ASan's shadow (ends at 0x10007fff7fff), below the legacy
 * bottom-up mmap base (TASK_SIZE / 3 = 0x2aaaaaaab000), far from PIE
 * bases (0x55..-0x56..), brk heaps and the top-down mmap area (0x7f..). */
#define EIM_UNWIND_TABLE_BASE 0x1e1f00000000ull
#define EIM_UNWIND_TABLE_ENTRIES 65536ull
#define EIM_UNWIND_TABLE_PROBES 8u
#define EIM_UNWIND_ENTRY_SIZE 32u

/* Field offsets in an entry. */
#define EIM_UNWIND_KEY_OFFSET 0u    /* S, or 0 when free */
#define EIM_UNWIND_RET_OFFSET 8u    /* the original return address */
#define EIM_UNWIND_TRAMP_OFFSET 16u /* what *S holds while the probe is armed  \
                                     */

#define EIM_UNWIND_TABLE_SIZE                                                  \
  ((EIM_UNWIND_TABLE_ENTRIES + EIM_UNWIND_TABLE_PROBES - 1) *                  \
   EIM_UNWIND_ENTRY_SIZE)

#endif /* EIM_UNWIND_TABLE_H */
