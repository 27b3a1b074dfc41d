/*===- slots.c - Per-thread slots, eimc's stand-in for CPUs ------*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/design.md, "Runtime", and docs/helpers.md.          *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * eim_thread_slot(): a small number, unique among the process's threads
 * while there are at most EIM_THREAD_SLOTS of them, that PERCPU maps are
 * indexed by, bpf_get_smp_processor_id returns and BPF_F_CURRENT_CPU
 * selects a perf ring by.
 *
 * Why not the CPU (getcpu/rseq): a program reads its CPU, then updates
 * that CPU's value with plain loads and stores (`(*v)++` compiles to a
 * load, an add and a store). The kernel makes that safe by disabling
 * migration and preemption while a program runs; a user-space program
 * can be preempted and migrated between any two instructions, and another
 * thread may then run on "its" CPU and update the same value: lost
 * updates. A slot owned by one thread has no second writer (a signal
 * handler on the same thread does not run extensions while one is running,
 * reentrancy.c), so unmodified programs stay correct.
 *
 * A thread claims a slot on its first request and keeps it: the table maps
 * thread pointers to slots, linearly probed from a hash, claimed by CAS.
 * Threads are not told when they exit, so slots are not returned; glibc
 * reuses the thread control blocks (and so the thread pointers) of exited
 * threads, so a pool of worker threads that is replaced keeps finding its
 * slots. Past EIM_THREAD_SLOTS distinct threads, requests share slot
 * hash % EIM_THREAD_SLOTS (counted in slot_overflows): per-slot values may
 * then lose updates, as they would on a machine whose CPUs run two
 * programs at once.
 */

#include "rt_internal.h"

/* Thread pointer + 1 of each slot's owner (0: free). The + 1 lets the
 * start-up thread, whose thread pointer is 0 before libc sets up TLS,
 * own a slot. */
static uint64_t slot_owner[EIM_THREAD_SLOTS];

uint32_t eim_thread_slot(void) {
  uint64_t owner = eim_thread_pointer() + 1;
  uint32_t start = eim_tp_home(owner, EIM_THREAD_SLOTS);
  for (uint32_t probe = 0; probe < EIM_THREAD_SLOTS; ++probe) {
    uint32_t slot = (start + probe) % EIM_THREAD_SLOTS;
    uint64_t seen = eim_load_acquire(&slot_owner[slot]);
    if (seen == owner)
      return slot;
    if (seen == 0) {
      if (eim_cas(&slot_owner[slot], &seen, owner) || seen == owner)
        return slot;
    }
  }
  if (eim_rt.state)
    eim_fetch_add(&eim_rt.state->slot_overflows, 1);
  return start;
}
