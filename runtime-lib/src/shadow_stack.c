/*===- shadow_stack.c - Return probes without touching the stack -*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/design.md, "Runtime".                               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * eim_rt_uret_enter() / eim_rt_uret_exit() (contract in eim_runtime.h): a
 * return probe swaps the hooked function's return address for the return
 * trampoline and keeps the original on a per-thread shadow stack of
 * {original return address, slot address} pairs.
 *
 * Finding "this thread's" stack: by the thread pointer (glibc's TCB
 * self-pointer at %fs:0), in a fixed table of EIM_URET_THREADS stacks in
 * .bss, open-addressed by a hash of the pointer. A thread claims a stack
 * with a CAS on `owner` when it enters its outermost probed call and gives
 * it back (owner = TOMBSTONE) when that call returns, so the table bounds
 * the number of threads *inside* probed calls at once, not over the
 * process's life. Before libc has set up TLS there is one thread and no
 * thread pointer; it gets a dedicated stack.
 *
 * Signals: a handler may run a probed function at any instruction of the
 * code below, on the same thread. Every update is ordered so that a
 * complete enter/exit pair in between leaves a consistent stack (see
 * push()), and `busy` stops a handler from giving the stack back while the
 * code it interrupted still holds a pointer to it.
 *
 * Full table or full stack (EIM_URET_DEPTH nested probed calls): the
 * return probe of that call is skipped (the function returns normally)
 * and counted in the state header's uret_skipped. Never a crash.
 *
 * longjmp: a frame abandoned by longjmp never reaches the trampoline. Its
 * entry is recognized later by position: the stack grows down, so any
 * recorded slot below a new call's slot (enter), or below the slot being
 * returned through (exit), belongs to a frame that no longer exists; a
 * recorded slot equal to the new call's is live only if it still holds its
 * trampoline (a tail call, see abandoned()).
 * (A handler on a sigaltstack placed above the interrupted stack would look
 * like such a longjmp; that case is not supported.) A C++ exception leaves
 * frames exactly like longjmp does.
 *
 * Unwinders: every armed slot is also in the process-wide table of
 * unwind_table.c, which the rewriter's FDEs read. Each frame popped here,
 * normally or as abandoned, gives its key back, except that a tail-called
 * frame leaves the key to the frame below it at the same slot (whose
 * trampoline the slot then holds again).
 */

#include "rt_internal.h"

#define EIM_URET_THREADS 1024u
#define EIM_URET_DEPTH 64u
/* Owner values that are not thread pointers (TCBs are aligned). */
#define EIM_OWNER_FREE 0ull      /* never used: ends a lookup */
#define EIM_OWNER_TOMBSTONE 1ull /* used before: lookups continue past */

struct uret_frame {
  uint64_t ret;   /* the hooked call's original return address */
  uint64_t *slot; /* where it was on the stack */
  uint64_t tramp; /* what we stored there instead */
};

struct uret_stack {
  uint64_t owner; /* thread pointer, EIM_OWNER_FREE or EIM_OWNER_TOMBSTONE */
  uint32_t depth; /* valid frames */
  uint32_t busy;  /* enter/exit calls of the owner in progress (signals) */
  struct uret_frame frames[EIM_URET_DEPTH];
};

/* The last stack is the pre-TLS one. ~1 MiB of .bss: pages of unused
 * stacks are never touched and cost nothing. */
static struct uret_stack eim_uret_stacks[EIM_URET_THREADS + 1];

uint64_t eim_thread_pointer(void) {
  /* %fs:0 faults while the FS base is still 0 (the start stub of a static
   * binary), so ask the kernel until some thread has one; TLS, once set
   * up, exists in every later thread from its first instruction. */
  if (!eim_load_relaxed(&eim_rt.tls_seen)) {
    uint64_t base = 0;
    long r = eim_syscall3(EIM_SYS_ARCH_PRCTL, EIM_ARCH_GET_FS, (long)&base, 0);
    if (r < 0 || base == 0)
      return 0;
    eim_store_relaxed(&eim_rt.tls_seen, 1);
  }
  uint64_t tp;
  __asm__ volatile("movq %%fs:0, %0" : "=r"(tp));
  return tp;
}

static void count_skipped(void) {
  if (eim_rt.state)
    eim_fetch_add(&eim_rt.state->uret_skipped, 1);
}

static uint32_t home_index(uint64_t tp) {
  return eim_tp_home(tp, EIM_URET_THREADS);
}

/* The stack \p tp owns, or NULL. */
static struct uret_stack *lookup(uint64_t tp) {
  uint32_t home = home_index(tp);
  for (uint32_t i = 0; i < EIM_URET_THREADS; ++i) {
    struct uret_stack *s = &eim_uret_stacks[(home + i) % EIM_URET_THREADS];
    uint64_t owner = eim_load_acquire(&s->owner);
    if (owner == tp)
      return s;
    if (owner == EIM_OWNER_FREE)
      return 0;
  }
  return 0;
}

/* Claims a free or given-back stack for \p tp, or NULL if all are taken. */
static struct uret_stack *claim(uint64_t tp) {
  uint32_t home = home_index(tp);
  for (uint32_t i = 0; i < EIM_URET_THREADS; ++i) {
    struct uret_stack *s = &eim_uret_stacks[(home + i) % EIM_URET_THREADS];
    uint64_t owner = eim_load_acquire(&s->owner);
    if (owner != EIM_OWNER_FREE && owner != EIM_OWNER_TOMBSTONE)
      continue;
    if (eim_cas(&s->owner, &owner, tp))
      return s;
  }
  return 0;
}

/* This thread's stack, marked busy; NULL if it has none and \p create is
 * false or the table is full. The owner is checked again after marking:
 * if a signal handler gave the stack back in between, look again. */
static struct uret_stack *acquire(uint64_t tp, int create) {
  if (!tp) {
    struct uret_stack *s = &eim_uret_stacks[EIM_URET_THREADS];
    eim_fetch_add(&s->busy, 1);
    return s;
  }
  for (;;) {
    struct uret_stack *s = lookup(tp);
    if (!s && create)
      s = claim(tp);
    if (!s)
      return 0;
    eim_fetch_add(&s->busy, 1);
    if (eim_load_acquire(&s->owner) == tp)
      return s;
    __atomic_fetch_sub(&s->busy, 1, __ATOMIC_RELEASE);
  }
}

/* Ends an enter/exit call; the outermost one with no frames left gives the
 * stack back. */
static void release(struct uret_stack *s, uint64_t tp) {
  if (tp && s->depth == 0 && eim_load_relaxed(&s->busy) == 1) {
    uint64_t owner = tp;
    eim_cas(&s->owner, &owner, EIM_OWNER_TOMBSTONE);
  }
  __atomic_fetch_sub(&s->busy, 1, __ATOMIC_RELEASE);
}

/* Pushes at index \p d. Written before and again after publishing the new
 * depth: a handler that ran after the first write but before `depth` grew
 * used index d itself; the second write restores ours. */
static void push(struct uret_stack *s, uint32_t d, uint64_t ret,
                 uint64_t *slot, uint64_t tramp) {
  s->frames[d].ret = ret;
  s->frames[d].slot = slot;
  s->frames[d].tramp = tramp;
  eim_signal_fence();
  s->depth = d + 1;
  eim_signal_fence();
  s->frames[d].ret = ret;
  s->frames[d].slot = slot;
  s->frames[d].tramp = tramp;
  eim_signal_fence();
}

/* Whether frame \p f was abandoned, seen from a new call whose return
 * address sits at \p slot. Frames deeper than the new call were left by
 * longjmp. A frame at the same slot is still live when the slot still holds
 * its trampoline: the hooked function tail-called (jmp) into another hooked
 * function, which shares its caller's return address. The new frame then
 * records that trampoline as its "return address", so on return both
 * return programs run, innermost first (as chained kernel uretprobes do).
 * A frame at the same slot whose trampoline has been overwritten belongs to
 * a call that longjmp abandoned before a new call reused the slot. */
static int abandoned(const struct uret_frame *f, uint64_t *slot) {
  if (f->slot != slot)
    return f->slot < slot;
  return *slot != f->tramp;
}

void eim_rt_uret_enter(uint64_t *slot, uint64_t tramp) {
  uint64_t tp = eim_thread_pointer();
  struct uret_stack *s = acquire(tp, 1);
  if (!s) {
    eim_unwind_remove(slot); /* a dead frame's entry would outlive it */
    count_skipped();
    return;
  }
  uint32_t d = s->depth;
  while (d > 0 && abandoned(&s->frames[d - 1], slot))
    eim_unwind_remove(s->frames[--d].slot);
  /* A tail call: the unwinder's answer for the slot stays the original
   * return address recorded by the frame below. */
  int tail = d > 0 && s->frames[d - 1].slot == slot;
  if (d >= EIM_URET_DEPTH || (!tail && !eim_unwind_put(slot, *slot, tramp))) {
    if (!tail)
      eim_unwind_remove(slot);
    s->depth = d;
    release(s, tp);
    count_skipped();
    return;
  }
  if (tail)
    eim_unwind_retramp(slot, tramp);
  push(s, d, *slot, slot, tramp);
  *slot = tramp;
  release(s, tp);
}

uint64_t eim_rt_uret_exit(uint64_t *slot) {
  uint64_t tp = eim_thread_pointer();
  struct uret_stack *s = acquire(tp, 0);
  if (!s)
    eim_fatal("return probe without a shadow stack", "", 0);
  uint32_t d = s->depth;
  while (d > 0 && s->frames[d - 1].slot < slot)
    eim_unwind_remove(s->frames[--d].slot); /* abandoned by longjmp */
  if (d == 0 || s->frames[d - 1].slot != slot)
    eim_fatal("return probe without a matching shadow-stack entry", "", 0);
  uint64_t ret = s->frames[d - 1].ret;
  if (d > 1 && s->frames[d - 2].slot == slot)
    eim_unwind_retramp(slot, s->frames[d - 2].tramp); /* tail call */
  else
    eim_unwind_remove(slot);
  s->depth = d - 1;
  release(s, tp);
  return ret;
}
