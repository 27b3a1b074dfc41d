/*===- ringbuf.c - RINGBUF maps and their helpers ----------------*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/helpers.md and runtime-lib/include/eim_state.h.     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * bpf_ringbuf_output, _reserve, _submit and _discard on a RINGBUF map in
 * the shared state (the protocol is in eim_state.h, struct
 * eim_ringbuf_header). Producers are any threads of the process; the one
 * consumer is `eimc events` in another process.
 *
 * Why a lock, when perf rings (helpers.c) use a CAS: a reservation must
 * write its BUSY header before the producer position that makes it
 * visible moves past it, and a filler record may have to come first; the
 * kernel does both under a spinlock, and so does this. The critical
 * section is a few stores; it cannot deadlock: a signal handler on the
 * holder's thread does not run extensions while one is running
 * (reentrancy.c), so only other threads ever wait for it. Records are
 * delivered whole or not at all: the reader only sees a record once its
 * header lost the BUSY bit, which submit stores after the payload.
 *
 * BPF_RB_NO_WAKEUP and BPF_RB_FORCE_WAKEUP are accepted and have no
 * effect: the reader polls, there is no one to wake.
 */

#include "rt_internal.h"

/* include/uapi/linux/bpf.h */
#define EIM_BPF_RB_NO_WAKEUP 1ull
#define EIM_BPF_RB_FORCE_WAKEUP 2ull

static uint64_t neg(long err) { return (uint64_t)(int64_t)-err; }

static void rb_lock(struct eim_ringbuf_header *rb) {
  for (;;) {
    if (__atomic_exchange_n(&rb->lock, 1u, __ATOMIC_ACQUIRE) == 0)
      return;
    while (eim_load_relaxed(&rb->lock))
      __asm__ volatile("pause");
  }
}

/* Reserves \p size payload bytes; \returns the payload or NULL (dropped). */
static uint8_t *rb_reserve(const struct eim_map_rt *m, uint64_t size) {
  struct eim_ringbuf_header *rb = (struct eim_ringbuf_header *)m->data;
  uint8_t *area = m->data + EIM_RINGBUF_HEADER;
  uint64_t ringSize = m->max_entries;
  uint64_t len = (size + EIM_RB_HDR_SIZE + 7u) & ~7ull;
  if (size > ringSize || len > ringSize)
    goto dropped;
  rb_lock(rb);
  uint64_t cons = eim_load_acquire(&rb->consumer_pos);
  uint64_t prod = rb->producer_pos;
  uint64_t off = prod & (ringSize - 1);
  /* A record never wraps: fill the tail and start at the beginning. */
  uint64_t filler = ringSize - off < len ? ringSize - off : 0;
  if (prod + filler + len - cons > ringSize) {
    eim_store_release(&rb->lock, 0u);
    goto dropped;
  }
  if (filler) {
    uint32_t *fh = (uint32_t *)(area + off);
    fh[1] = 0;
    eim_store_release(&fh[0],
                      (uint32_t)(filler - EIM_RB_HDR_SIZE) | EIM_RB_DISCARD);
    prod += filler;
  }
  uint32_t *hdr = (uint32_t *)(area + (prod & (ringSize - 1)));
  hdr[1] = 0;
  eim_store_relaxed(&hdr[0], (uint32_t)size | EIM_RB_BUSY);
  eim_store_release(&rb->producer_pos, prod + len);
  eim_store_release(&rb->lock, 0u);
  return (uint8_t *)(hdr + 2);
dropped:
  eim_fetch_add(&rb->dropped, 1);
  return 0;
}

static void rb_commit(uint64_t rec, int discard) {
  uint32_t *hdr = (uint32_t *)(rec - EIM_RB_HDR_SIZE);
  uint32_t len = eim_load_relaxed(&hdr[0]) & ~EIM_RB_BUSY;
  eim_store_release(&hdr[0], len | (discard ? EIM_RB_DISCARD : 0u));
}

uint64_t eim_helper_ringbuf_reserve(uint64_t map, uint64_t size, uint64_t flags,
                                    uint64_t a4, uint64_t a5) {
  const struct eim_map_rt *m = (const struct eim_map_rt *)map;
  /* kernel/bpf/ringbuf.c: any flag makes the reservation fail. */
  if (!m || m->type != EIM_MAP_TYPE_RINGBUF || flags)
    return 0;
  return (uint64_t)rb_reserve(m, size);
}

uint64_t eim_helper_ringbuf_submit(uint64_t rec, uint64_t flags, uint64_t a3,
                                   uint64_t a4, uint64_t a5) {
  rb_commit(rec, 0);
  return 0;
}

uint64_t eim_helper_ringbuf_discard(uint64_t rec, uint64_t flags, uint64_t a3,
                                    uint64_t a4, uint64_t a5) {
  rb_commit(rec, 1);
  return 0;
}

uint64_t eim_helper_ringbuf_output(uint64_t map, uint64_t data, uint64_t size,
                                   uint64_t flags, uint64_t a5) {
  const struct eim_map_rt *m = (const struct eim_map_rt *)map;
  if (!m || m->type != EIM_MAP_TYPE_RINGBUF)
    return neg(EIM_EINVAL);
  if (flags & ~(EIM_BPF_RB_NO_WAKEUP | EIM_BPF_RB_FORCE_WAKEUP))
    return neg(EIM_EINVAL);
  uint8_t *rec = rb_reserve(m, size);
  if (!rec)
    return neg(EIM_EAGAIN);
  memcpy(rec, (const void *)data, size);
  rb_commit((uint64_t)rec, 0);
  return 0;
}
