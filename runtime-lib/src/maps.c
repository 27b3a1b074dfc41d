/*===- maps.c - HASH and ARRAY maps and their helpers ------------*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/design.md, "Maps", and docs/helpers.md.             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * bpf_map_lookup_elem, bpf_map_update_elem and bpf_map_delete_elem for
 * ARRAY and HASH maps and their PERCPU forms (one value per thread slot,
 * slots.c; a program sees and writes its own slot's value), bpf_ktime_get_ns,
 * and the BTF record that lets `eimc maps` print values by field name
 * (eim_map_init_btf). Storage lies in the shared state (layouts in
 * eim_state.h), so `eimc maps dump` reads what programs read, while the process
 * runs.
 *
 * HASH concurrency. Several host threads may run programs at once, and a
 * signal handler may interrupt a program. Writers (update, delete) take
 * the map's spinlock; lookups take nothing. The lock cannot deadlock a
 * signal handler: a handler that reaches a hook while its thread is inside
 * an extension is not run at all (reentrancy.c skips and counts it), so the
 * only code that can wait for a lock is on *another* thread, which the
 * holder does not wait for. A lookup sees a bucket LIVE only after its key
 * and value were written (release/acquire on `state`), and rejects a key
 * it read while a writer was reusing the bucket (per-bucket `seq`, odd
 * during the rewrite, as a seqlock). As with the kernel's preallocated
 * hash maps, a value pointer returned by lookup stays valid memory after
 * the element is deleted; its contents may then belong to a later
 * element. Buckets are never freed: deleting marks a bucket DELETED, or
 * EMPTY when the probe chain ends after it, so a key inserted and deleted
 * on every call (funclatency's `starts`) keeps reusing one bucket.
 *
 * Not here: allocating the storage (state.c), perf rings (helpers.c).
 */

#include "rt_internal.h"

/* include/uapi/linux/bpf.h */
#define EIM_BPF_ANY 0ull
#define EIM_BPF_NOEXIST 1ull
#define EIM_BPF_EXIST 2ull

static uint64_t neg(long err) { return (uint64_t)(int64_t)-err; }
static uint32_t round8(uint32_t n) { return (n + 7u) & ~7u; }

/* --- HASH ---------------------------------------------------------------- */

static uint32_t hash_buckets(const struct eim_map_def *def) {
  uint32_t n = 2;
  while (n < 2 * def->max_entries)
    n <<= 1;
  return n;
}

/* Bytes of a HASH bucket's value: one value, or a PERCPU_HASH's value per
 * thread slot. */
static uint64_t hash_value_bytes(const struct eim_map_def *def) {
  uint64_t n = round8(def->value_size);
  return def->type == EIM_MAP_TYPE_PERCPU_HASH ? n * EIM_THREAD_SLOTS : n;
}

uint64_t eim_hash_storage_size(const struct eim_map_def *def) {
  uint64_t bucket =
      EIM_HASH_BUCKET_HEADER + round8(def->key_size) + hash_value_bytes(def);
  return sizeof(struct eim_hash_header) + bucket * hash_buckets(def);
}

void eim_hash_init(uint8_t *data, const struct eim_map_def *def) {
  struct eim_hash_header *hh = (struct eim_hash_header *)data;
  hh->buckets = hash_buckets(def);
  hh->bucket_size = (uint32_t)(EIM_HASH_BUCKET_HEADER + round8(def->key_size) +
                               hash_value_bytes(def));
}

/* FNV-1a: keys are small (a pid, a struct of a few words). */
static uint32_t hash_key(const uint8_t *key, uint32_t n) {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < n; ++i)
    h = (h ^ key[i]) * 16777619u;
  return h;
}

struct bucket {
  uint32_t state;
  uint32_t seq;
  uint8_t key[]; /* then the value at round8(key_size) */
};

static struct bucket *bucket_at(struct eim_hash_header *hh, uint32_t i) {
  return (struct bucket *)((uint8_t *)(hh + 1) +
                           (uint64_t)i * hh->bucket_size);
}

static void *bucket_value(struct bucket *b, uint32_t key_size) {
  return b->key + round8(key_size);
}

static void lock(struct eim_hash_header *hh) {
  for (;;) {
    if (__atomic_exchange_n(&hh->lock, 1u, __ATOMIC_ACQUIRE) == 0)
      return;
    while (eim_load_relaxed(&hh->lock))
      __asm__ volatile("pause");
  }
}

static void unlock(struct eim_hash_header *hh) {
  eim_store_release(&hh->lock, 0u);
}

/* A lock-free lookup. \returns the LIVE bucket holding \p key, or NULL. */
static struct bucket *hash_find(struct eim_hash_header *hh,
                                const struct eim_map_rt *m,
                                const uint8_t *key) {
  uint32_t mask = hh->buckets - 1;
  uint32_t at = hash_key(key, m->key_size) & mask;
  for (uint32_t probe = 0; probe < hh->buckets; ++probe) {
    struct bucket *b = bucket_at(hh, (at + probe) & mask);
    uint32_t state = eim_load_acquire(&b->state);
    if (state == EIM_HASH_BUCKET_EMPTY)
      return NULL;
    if (state != EIM_HASH_BUCKET_LIVE)
      continue;
    uint32_t seq = eim_load_acquire(&b->seq);
    if (seq & 1)
      continue; /* being rewritten to another key */
    int same = memcmp(b->key, key, m->key_size) == 0;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (same && eim_load_relaxed(&b->seq) == seq)
      return b;
  }
  return NULL;
}

/* Stores a program's \p value into a bucket's value \p dst. A PERCPU_HASH
 * program writes its own slot only; a new element's other slots start at
 * zero, as the kernel's pcpu_init_value does for other CPUs. */
static void write_value(const struct eim_map_rt *m, uint8_t *dst,
                        const uint8_t *value, int fresh) {
  if (m->type != EIM_MAP_TYPE_PERCPU_HASH) {
    memcpy(dst, value, m->value_size);
    return;
  }
  uint64_t stride = round8(m->value_size);
  if (fresh)
    memset(dst, 0, stride * m->slots);
  memcpy(dst + stride * eim_thread_slot(), value, m->value_size);
}

static uint64_t hash_update(struct eim_map_rt *m, const uint8_t *key,
                            const uint8_t *value, uint64_t flags) {
  struct eim_hash_header *hh = (struct eim_hash_header *)m->data;
  uint32_t mask = hh->buckets - 1;
  uint32_t at = hash_key(key, m->key_size) & mask;
  struct bucket *free_bucket = NULL, *found = NULL;
  lock(hh);
  for (uint32_t probe = 0; probe < hh->buckets; ++probe) {
    struct bucket *b = bucket_at(hh, (at + probe) & mask);
    if (b->state == EIM_HASH_BUCKET_EMPTY) {
      if (!free_bucket)
        free_bucket = b;
      break;
    }
    if (b->state == EIM_HASH_BUCKET_DELETED) {
      if (!free_bucket)
        free_bucket = b;
      continue;
    }
    if (memcmp(b->key, key, m->key_size) == 0) {
      found = b;
      break;
    }
  }
  uint64_t r = 0;
  if (found && flags == EIM_BPF_NOEXIST)
    r = neg(EIM_EEXIST);
  else if (!found && flags == EIM_BPF_EXIST)
    r = neg(EIM_ENOENT);
  else if (found)
    write_value(m, bucket_value(found, m->key_size), value, 0);
  else if (hh->count >= m->max_entries || !free_bucket)
    r = neg(EIM_E2BIG);
  else {
    eim_store_relaxed(&free_bucket->seq, free_bucket->seq + 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(free_bucket->key, key, m->key_size);
    write_value(m, bucket_value(free_bucket, m->key_size), value, 1);
    eim_store_release(&free_bucket->seq, free_bucket->seq + 1);
    eim_store_release(&free_bucket->state, EIM_HASH_BUCKET_LIVE);
    hh->count++;
  }
  unlock(hh);
  return r;
}

static uint64_t hash_delete(struct eim_map_rt *m, const uint8_t *key) {
  struct eim_hash_header *hh = (struct eim_hash_header *)m->data;
  uint32_t mask = hh->buckets - 1;
  lock(hh);
  struct bucket *b = hash_find(hh, m, key);
  if (!b) {
    unlock(hh);
    return neg(EIM_ENOENT);
  }
  uint32_t i = (uint32_t)(((uint8_t *)b - (uint8_t *)(hh + 1)) /
                          hh->bucket_size);
  /* If the chain ends right after this bucket, it and the DELETED buckets
   * before it end the chain too: they become EMPTY, so tombstones do not
   * pile up. */
  if (bucket_at(hh, (i + 1) & mask)->state == EIM_HASH_BUCKET_EMPTY) {
    eim_store_release(&b->state, EIM_HASH_BUCKET_EMPTY);
    for (uint32_t j = (i - 1) & mask;
         bucket_at(hh, j)->state == EIM_HASH_BUCKET_DELETED; j = (j - 1) & mask)
      eim_store_release(&bucket_at(hh, j)->state, EIM_HASH_BUCKET_EMPTY);
  } else {
    eim_store_release(&b->state, EIM_HASH_BUCKET_DELETED);
  }
  hh->count--;
  unlock(hh);
  return 0;
}

/* --- ARRAY --------------------------------------------------------------- */

/* The element of index *key, or NULL past the end. A PERCPU_ARRAY
 * element is the calling thread's slot's value. */
static uint8_t *array_elem(struct eim_map_rt *m, const uint8_t *key) {
  uint32_t index;
  memcpy(&index, key, sizeof(index));
  if (index >= m->max_entries)
    return NULL;
  uint64_t stride = round8(m->value_size);
  if (m->type == EIM_MAP_TYPE_PERCPU_ARRAY)
    return m->data + ((uint64_t)index * m->slots + eim_thread_slot()) * stride;
  return m->data + (uint64_t)index * stride;
}

static int is_array(const struct eim_map_rt *m) {
  return m->type == EIM_MAP_TYPE_ARRAY || m->type == EIM_MAP_TYPE_PERCPU_ARRAY;
}
static int is_hash(const struct eim_map_rt *m) {
  return m->type == EIM_MAP_TYPE_HASH || m->type == EIM_MAP_TYPE_PERCPU_HASH;
}

/* --- Helpers ------------------------------------------------------------- */

uint64_t eim_helper_map_lookup_elem(uint64_t map, uint64_t key, uint64_t a3,
                                    uint64_t a4, uint64_t a5) {
  struct eim_map_rt *m = (struct eim_map_rt *)map;
  if (is_array(m))
    return (uint64_t)array_elem(m, (const uint8_t *)key);
  if (!is_hash(m))
    return 0;
  struct bucket *b =
      hash_find((struct eim_hash_header *)m->data, m, (const uint8_t *)key);
  if (!b)
    return 0;
  uint8_t *v = bucket_value(b, m->key_size);
  if (m->type == EIM_MAP_TYPE_PERCPU_HASH)
    v += (uint64_t)round8(m->value_size) * eim_thread_slot();
  return (uint64_t)v;
}

uint64_t eim_helper_map_update_elem(uint64_t map, uint64_t key,
                                    uint64_t value, uint64_t flags,
                                    uint64_t a5) {
  struct eim_map_rt *m = (struct eim_map_rt *)map;
  if (flags > EIM_BPF_EXIST)
    return neg(EIM_EINVAL);
  if (is_hash(m))
    return hash_update(m, (const uint8_t *)key, (const uint8_t *)value, flags);
  if (!is_array(m))
    return neg(EIM_EINVAL);
  uint8_t *elem = array_elem(m, (const uint8_t *)key);
  if (!elem)
    return neg(EIM_E2BIG);
  if (flags == EIM_BPF_NOEXIST)
    return neg(EIM_EEXIST); /* every element of an array exists */
  memcpy(elem, (const void *)value, m->value_size);
  return 0;
}

uint64_t eim_helper_map_delete_elem(uint64_t map, uint64_t key, uint64_t a3,
                                    uint64_t a4, uint64_t a5) {
  struct eim_map_rt *m = (struct eim_map_rt *)map;
  if (!is_hash(m))
    return neg(EIM_EINVAL); /* arrays cannot delete, as in the kernel */
  return hash_delete(m, (const uint8_t *)key);
}

/* CLOCK_MONOTONIC, as the kernel's ktime_get_mono_fast_ns. The vDSO would
 * be faster, but finding it needs the auxiliary vector, which a runtime
 * that starts before libc and runs in any host does not keep; the system
 * call costs 560-590 ns on the test machine (docs/helpers.md). */
uint64_t eim_helper_ktime_get_ns(uint64_t a1, uint64_t a2, uint64_t a3,
                                 uint64_t a4, uint64_t a5) {
  struct {
    int64_t sec, nsec;
  } ts = {0, 0};
  eim_syscall3(EIM_SYS_CLOCK_GETTIME, EIM_CLOCK_MONOTONIC, (long)&ts, 0);
  return (uint64_t)ts.sec * 1000000000ull + (uint64_t)ts.nsec;
}

/* --- BTF for `eimc maps` ------------------------------------------------- */

/* The last BTF copied (start-up only, single-threaded): maps of one object
 * pass the same pointer and share the copy. */
static struct {
  const void *source;
  uint64_t offset;
} last_btf;

void eim_map_init_btf(void *map_state, const void *btf, uint64_t size) {
  struct eim_state_header *h = eim_rt.state;
  struct eim_map_rt *m = map_state;
  if (!h || !m->type || h->map_count == 0 || size > (16u << 20))
    eim_fatal("bad BTF for a map", "", 0);
  struct eim_state_map *entry = &h->maps[h->map_count - 1];
  if (last_btf.source != btf) {
    uint64_t offset = (h->used + 7u) & ~7ull;
    if (size > h->file_size - offset)
      eim_fatal("map BTF does not fit in the shared state", entry->name, 0);
    memcpy((uint8_t *)h + offset, btf, size);
    h->used = offset + size;
    last_btf.source = btf;
    last_btf.offset = offset;
  }
  entry->btf_offset = last_btf.offset;
  entry->btf_size = (uint32_t)size;
}
