/*===- reentrancy.c - Hook counters and nested-run suppression ---*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/design.md, "Re-entrancy and hook counters".         *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * eim_rt_sites_init(), eim_rt_ext_enter() and eim_rt_ext_exit() (contract
 * in eim_runtime.h): every trampoline brackets its program calls with
 * enter/exit, which count the site's hits in the shared state and keep a
 * thread from running two extensions at once.
 *
 * Why: an extension can't call host code, but a signal handler can
 * interrupt an extension and call a hooked function. Running the nested
 * extension would hand programs a state they can't expect (a half-written
 * perf record of the same thread, re-entered helpers), so, as the kernel
 * does with its per-CPU bpf_prog_active / prog->active counters, the
 * nested run is skipped and counted (the kernel's `recursion_misses`).
 * Recursion of a hooked function through its own body is not nesting: the
 * entry programs returned before the body runs, so each call is one hit.
 *
 * "This thread is in an extension" lives in a fixed table of
 * EIM_EXT_THREADS owner words in .bss, keyed by the thread pointer (%fs:0,
 * see eim_thread_pointer()) and open-addressed from a hash of it, like the
 * shadow stacks: a thread claims a word with a CAS for the duration of one
 * run and gives it back (TOMBSTONE) after. The table bounds the number of
 * threads *inside* extensions at once; when it is full the run is skipped
 * and counted as a miss, never a crash. Before libc set up TLS there is
 * one thread, with its own flag.
 *
 * Signals: a handler can run a complete enter/exit pair at any point of
 * the code below, on the same thread. A thread's claim is one CAS, so a
 * handler either sees it (and skips) or runs entirely before it; a handler
 * that frees or takes the word this thread meant to claim makes that CAS
 * fail and the lookup start again.
 *
 * Fast path (one thread, no nesting): the hit is one `lock add` on the
 * shared counter, the lookup two loads (the home word, given back as a
 * tombstone by the previous run, then a free one), the claim one CAS; exit
 * is one store. docs/design.md records the measured instruction count.
 *
 * Host calls: the host-call stub (rewriter/Gates.cpp, hostCallStub) arms
 * eim_rt_hcall_arm() before it revokes the key and checks with
 * eim_rt_hcall_take() after it grants the key again. The record (return
 * address and stack pointer) sits next to the thread's owner word, in this
 * file's .bss, which carries the protection key: host code cannot write
 * it, so only a host call really in progress on this thread, at that exact
 * stack pointer, passes the check.
 */

#include "rt_internal.h"

#define EIM_EXT_THREADS 1024u
/* Owner values that are not thread pointers (TCBs are aligned). */
#define EIM_EXT_FREE 0ull      /* never used: ends a lookup */
#define EIM_EXT_TOMBSTONE 1ull /* used before: lookups continue past */
/* Tokens: slot + 1, or this for the pre-TLS thread. */
#define EIM_EXT_PRE_TLS_TOKEN (EIM_EXT_THREADS + 1ull)

static uint64_t eim_ext_owner[EIM_EXT_THREADS];
static uint32_t eim_ext_pre_tls; /* the pre-TLS thread is in an extension */
/* Per owner word (and one for the pre-TLS thread): the return address and
 * stack pointer of the host call in progress, or zeros. */
static uint64_t eim_hcall[EIM_EXT_THREADS + 1][2];
static struct eim_site_counters *eim_sites; /* in the shared state */
static uint32_t eim_site_count;

void eim_rt_sites_init(uint32_t count) {
  struct eim_state_header *h = eim_rt.state;
  if (!h)
    eim_fatal("eim_rt_sites_init called before eim_rt_init", "", 0);
  uint64_t size = (uint64_t)count * sizeof(struct eim_site_counters);
  uint64_t offset = (h->used + 63u) & ~63ull;
  if (size > h->file_size - offset)
    eim_fatal("hook counters do not fit in the shared state", "", 0);
  h->used = offset + size;
  h->sites_offset = offset;
  h->site_count = count;
  eim_sites = (struct eim_site_counters *)((uint8_t *)h + offset);
  eim_site_count = count;
}

/* Counts a skipped run of \p site. */
static uint64_t miss(uint32_t site) {
  if (eim_rt.state)
    eim_fetch_add(&eim_rt.state->recursion_misses, 1);
  if (site < eim_site_count)
    eim_fetch_add(&eim_sites[site].recursion_misses, 1);
  return 0;
}

static uint32_t home_slot(uint64_t tp) {
  return eim_tp_home(tp, EIM_EXT_THREADS);
}

/* Claims a word for \p tp; returns its token, or 0 if \p tp already holds
 * one (nested) or the table is full. */
static uint64_t claim(uint64_t tp) {
  uint32_t home = home_slot(tp);
  for (;;) {
    /* One pass: is tp already inside? Where is the first reusable word? */
    uint32_t found = EIM_EXT_THREADS;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < EIM_EXT_THREADS; ++i) {
      uint32_t slot = (home + i) % EIM_EXT_THREADS;
      uint64_t owner = eim_load_acquire(&eim_ext_owner[slot]);
      if (owner == tp)
        return 0;
      if (owner > EIM_EXT_TOMBSTONE)
        continue;
      if (found == EIM_EXT_THREADS) {
        found = slot;
        seen = owner;
      }
      if (owner == EIM_EXT_FREE)
        break;
    }
    if (found == EIM_EXT_THREADS)
      return 0;
    if (eim_cas(&eim_ext_owner[found], &seen, tp))
      return found + 1ull;
  }
}

uint64_t eim_rt_ext_enter(uint32_t site, uint32_t hit) {
  if (hit && site < eim_site_count)
    eim_fetch_add(&eim_sites[site].hits, 1);
  uint64_t tp = eim_thread_pointer();
  if (!tp) {
    if (eim_ext_pre_tls)
      return miss(site);
    eim_ext_pre_tls = 1;
    eim_signal_fence();
    return EIM_EXT_PRE_TLS_TOKEN;
  }
  uint64_t token = claim(tp);
  return token ? token : miss(site);
}

void eim_rt_ext_exit(uint64_t token) {
  if (token == EIM_EXT_PRE_TLS_TOKEN) {
    eim_signal_fence();
    eim_ext_pre_tls = 0;
    return;
  }
  eim_store_release(&eim_ext_owner[token - 1], EIM_EXT_TOMBSTONE);
}

/* The calling thread's record in eim_hcall, or NULL if the thread runs no
 * extension. */
static uint64_t *hcall_record(void) {
  uint64_t tp = eim_thread_pointer();
  if (tp) {
    uint32_t home = home_slot(tp);
    for (uint32_t i = 0; i < EIM_EXT_THREADS; ++i) {
      uint32_t slot = (home + i) % EIM_EXT_THREADS;
      uint64_t owner = eim_load_relaxed(&eim_ext_owner[slot]);
      if (owner == tp)
        return eim_hcall[slot];
      if (owner == EIM_EXT_FREE)
        break;
    }
  }
  /* A run begun before libc set up TLS keeps its record. */
  return eim_ext_pre_tls ? eim_hcall[EIM_EXT_THREADS] : 0;
}

void eim_rt_hcall_arm(uint64_t *sp) {
  uint64_t *record = hcall_record();
  if (!record)
    eim_fatal("host function called outside an extension run", "", 0);
  record[0] = *sp;
  record[1] = (uint64_t)sp;
}

uint64_t eim_rt_hcall_take(uint64_t *sp) {
  uint64_t *record = hcall_record();
  if (!record)
    return 0;
  uint64_t ret = record[0], want = record[1];
  record[0] = record[1] = 0;
  /* The stack pointer first: only then is *sp known to be readable. */
  if (!want || want != (uint64_t)sp || *sp != ret)
    return 0;
  return ret;
}
