/*===- state.c - Start-up: the process's shared state file ------*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/design.md, "Runtime".                               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * eim_rt_init(), eim_map_init() (with eim_map_init_data() for global
 * data) and eim_rt_ready(): the start stub calls them, in that order,
 * before the host's entry point runs. They create
 * /dev/shm/eimc-<euid>/<pid>.state (layout in eim_state.h; the directory
 * and the sweep of exited processes' files are state_dir.c's), carve each
 * map's storage out of it and publish it for `eimc events` / `eimc maps`.
 *
 * Failing here is fatal on purpose: a host whose extensions cannot record
 * anything must not run as if they were attached (fail closed, before
 * main). The process exits with status 70 after one line on stderr.
 *
 * Why one sparse, fixed-size reservation (EIM_STATE_RESERVE) instead of
 * growing the file per map: the mapping then never moves, so map pointers
 * taken at start-up stay valid; tmpfs only spends memory on touched pages;
 * and the file descriptor can be closed right away, leaving the host's fd
 * table exactly as it expects (bash, for one, manages fds up to 255).
 *
 * Not here: the helpers that write records (helpers.c) and the reader
 * (runtime-lib/reader, C++).
 */

#include "rt_internal.h"

#include <stddef.h>

#ifndef EIM_VERSION
#define EIM_VERSION "unknown"
#endif

_Static_assert(offsetof(struct eim_state_header, ready) ==
                   EIM_STATE_PREFIX_SIZE,
               "the stable prefix must end where layout 1 starts");
_Static_assert(offsetof(struct eim_state_header, maps) == 256,
               "map table offset is part of layout 1");
_Static_assert(sizeof(struct eim_state_map) == 128, "map entry size");
_Static_assert(offsetof(struct eim_map_rt, data) == EIM_MAP_STATE_DATA_OFFSET,
               "compiled global-data accesses load the data pointer here");
_Static_assert(sizeof(struct eim_state_header) <= EIM_STATE_DATA_OFFSET,
               "header must fit before the first map");
_Static_assert(sizeof(struct eim_perf_ring) <= EIM_PERF_RING_HEADER,
               "ring header must fit its page");
_Static_assert((EIM_PERF_RING_SIZE & (EIM_PERF_RING_SIZE - 1)) == 0,
               "ring size must be a power of two");

struct eim_rt_globals eim_rt;

/* At most this many rings per PERF_EVENT_ARRAY: 64 rings of 260 KiB
 * already take a quarter of the reservation. */
#define EIM_MAX_RINGS 64u

static const char CreateFailed[] = "cannot create shared state";

/* Appends \p s at \p at in \p buf (of \p cap bytes, always terminated). */
static size_t put(char *buf, size_t cap, size_t at, const char *s) {
  while (*s && at + 1 < cap)
    buf[at++] = *s++;
  buf[at] = '\0';
  return at;
}

/* "<verb> /dev/shm/eimc-<uid>/<pid>.state" for messages, or the bare path
 * when \p verb is empty. */
static void describe(char *buf, size_t cap, const char *verb, uint32_t uid,
                     int32_t pid) {
  char num[21];
  num[eim_format_u64(num, (uint64_t)pid)] = '\0';
  size_t at = put(buf, cap, 0, verb);
  if (*verb)
    at = put(buf, cap, at, " ");
  at += eim_state_dir_path(buf + at, cap - at, uid);
  at = put(buf, cap, at, "/");
  at = put(buf, cap, at, num);
  put(buf, cap, at, ".state");
}

static int is_error(long r) { return (unsigned long)r > -4096ul; }

/* Creates the file afresh in \p dirfd and returns its descriptor, locked.
 * A file left by an earlier process with the same PID is removed first:
 * O_EXCL then guarantees we never write into a file someone else
 * prepared. */
static long create_file(long dirfd, uint32_t uid, int32_t pid) {
  char name[32], msg[112];
  size_t n = eim_format_u64(name, (uint64_t)pid);
  put(name, sizeof(name), n, ".state");
  long r = eim_syscall3(EIM_SYS_UNLINKAT, dirfd, (long)name, 0);
  if (r < 0 && r != -EIM_ENOENT) {
    describe(msg, sizeof(msg), "unlink", uid, pid);
    eim_fatal(CreateFailed, msg, r);
  }
  long fd = eim_syscall6(EIM_SYS_OPENAT, dirfd, (long)name,
                         EIM_O_RDWR | EIM_O_CREAT | EIM_O_EXCL |
                             EIM_O_NOFOLLOW | EIM_O_CLOEXEC,
                         0600, 0, 0);
  if (fd < 0) {
    describe(msg, sizeof(msg), "open", uid, pid);
    eim_fatal(CreateFailed, msg, fd);
  }
  /* Held until the last mapping of the file goes away (state_dir.c). */
  r = eim_syscall3(EIM_SYS_FLOCK, fd, EIM_LOCK_EX | EIM_LOCK_NB, 0);
  if (r < 0) {
    describe(msg, sizeof(msg), "flock", uid, pid);
    eim_fatal(CreateFailed, msg, r);
  }
  return fd;
}

void eim_rt_init(void) {
  if (eim_rt.state)
    return; /* a second call (a second start stub) would lose the maps */
  int32_t pid = (int32_t)eim_syscall3(EIM_SYS_GETPID, 0, 0, 0);
  uint32_t uid;
  long dirfd = eim_state_dir_open(&uid);
  eim_state_sweep(dirfd);
  long fd = create_file(dirfd, uid, pid);
  eim_syscall3(EIM_SYS_CLOSE, dirfd, 0, 0);
  char msg[112];
  long r = eim_syscall3(EIM_SYS_FTRUNCATE, fd, (long)EIM_STATE_RESERVE, 0);
  if (r < 0) {
    describe(msg, sizeof(msg), "ftruncate", uid, pid);
    eim_fatal(CreateFailed, msg, r);
  }
  long addr =
      eim_syscall6(EIM_SYS_MMAP, 0, (long)EIM_STATE_RESERVE,
                   EIM_PROT_READ | EIM_PROT_WRITE, EIM_MAP_SHARED, fd, 0);
  if (is_error(addr)) {
    describe(msg, sizeof(msg), "mmap", uid, pid);
    eim_fatal(CreateFailed, msg, addr);
  }
  eim_syscall3(EIM_SYS_CLOSE, fd, 0, 0);

  struct eim_state_header *h = (struct eim_state_header *)addr;
  h->layout_version = EIM_STATE_LAYOUT_VERSION;
  h->header_size = sizeof(struct eim_state_header);
  put(h->eimc_version, sizeof(h->eimc_version), 0, EIM_VERSION);
  h->pid = pid;
  h->file_size = EIM_STATE_RESERVE;
  /* The bpf_trace_printk ring comes first; sparse until used. */
  h->trace_offset = EIM_STATE_DATA_OFFSET;
  h->trace_ring_size = EIM_TRACE_RING_SIZE;
  h->thread_slots = EIM_THREAD_SLOTS;
  h->used = EIM_STATE_DATA_OFFSET + EIM_PERF_RING_HEADER + EIM_TRACE_RING_SIZE;
  /* Magic last: a reader that sees it also sees the rest of the prefix. */
  eim_store_release(&h->magic, EIM_STATE_MAGIC);
  eim_rt.state = h;
}

/* eim_fatal naming map \p def; the name is copied because a corrupt
 * definition might lack its NUL. */
static __attribute__((noreturn)) void map_fatal(const char *what,
                                                const struct eim_map_def *def) {
  char name[sizeof(def->name) + 1];
  memcpy(name, def->name, sizeof(def->name));
  name[sizeof(def->name)] = '\0';
  eim_fatal(what, name, 0);
}

/* Bytes of shared storage \p def needs; exits when the runtime cannot
 * hold such a map (the verifier should have refused it). */
static uint64_t storage_size(const struct eim_map_def *def) {
  switch (def->type) {
  case EIM_MAP_TYPE_PERF_EVENT_ARRAY:
    if (def->max_entries == 0 || def->max_entries > EIM_MAX_RINGS)
      map_fatal("unsupported map: a PERF_EVENT_ARRAY needs 1 to 64 entries",
                def);
    return (uint64_t)def->max_entries *
           (EIM_PERF_RING_HEADER + EIM_PERF_RING_SIZE);
  case EIM_MAP_TYPE_ARRAY:
    return (uint64_t)((def->value_size + 7u) & ~7u) * def->max_entries;
  case EIM_MAP_TYPE_PERCPU_ARRAY:
    return (uint64_t)((def->value_size + 7u) & ~7u) * def->max_entries *
           EIM_THREAD_SLOTS;
  case EIM_MAP_TYPE_RINGBUF:
    /* As the kernel: a power-of-two number of pages (here at most 16 MiB
     * of the sparse reservation). */
    if (def->max_entries < 4096 || def->max_entries > (16u << 20) ||
        (def->max_entries & (def->max_entries - 1)))
      map_fatal("unsupported map: a RINGBUF needs a power of two of 4 KiB "
                "to 16 MiB bytes",
                def);
    return EIM_RINGBUF_HEADER + (uint64_t)def->max_entries;
  case EIM_MAP_TYPE_HASH:
  case EIM_MAP_TYPE_PERCPU_HASH:
    if (def->max_entries == 0 || def->key_size == 0 ||
        def->max_entries > (1u << 24))
      map_fatal("unsupported map: a HASH needs 1 to 2^24 entries and a key",
                def);
    return eim_hash_storage_size(def);
  default:
    map_fatal("unsupported map type in this runtime", def);
  }
}

/* Fills \p entry, the map table's record of \p def. */
static void record_map(struct eim_state_map *entry,
                       const struct eim_map_def *def, uint64_t offset,
                       uint64_t size) {
  size_t n = 0;
  while (n + 1 < sizeof(entry->name) && n < sizeof(def->name) && def->name[n])
    ++n;
  memcpy(entry->name, def->name, n);
  entry->name[n] = '\0';
  entry->type = def->type;
  entry->key_size = def->key_size;
  entry->value_size = def->value_size;
  entry->max_entries = def->max_entries;
  entry->map_flags = def->map_flags;
  entry->ring_size =
      def->type == EIM_MAP_TYPE_PERF_EVENT_ARRAY ? EIM_PERF_RING_SIZE : 0;
  entry->offset = offset;
  entry->size = size;
  entry->btf_key_type_id = def->btf_key_type_id;
  entry->btf_value_type_id = def->btf_value_type_id;
}

void eim_map_init(void *map_state, const struct eim_map_def *def) {
  struct eim_state_header *h = eim_rt.state;
  struct eim_map_rt *m = map_state;
  if (!h)
    map_fatal("eim_map_init called before eim_rt_init", def);
  if (m->type)
    map_fatal("map initialized twice", def);
  if (h->map_count >= EIM_STATE_MAX_MAPS)
    map_fatal("more than 64 maps", def);
  uint64_t size = storage_size(def);
  uint64_t offset = (h->used + 4095u) & ~4095ull;
  if (size > h->file_size - offset)
    map_fatal("map does not fit in the shared state", def);

  record_map(&h->maps[h->map_count], def, offset, size);
  h->used = offset + size;
  h->map_count++;
  m->type = def->type;
  m->max_entries = def->max_entries;
  m->value_size = def->value_size;
  m->key_size = def->key_size;
  m->ring_size = h->maps[h->map_count - 1].ring_size;
  m->data = (uint8_t *)h + offset;
  m->slots = def->type == EIM_MAP_TYPE_PERCPU_ARRAY ||
                     def->type == EIM_MAP_TYPE_PERCPU_HASH
                 ? EIM_THREAD_SLOTS
                 : 0;
  if (def->type == EIM_MAP_TYPE_HASH || def->type == EIM_MAP_TYPE_PERCPU_HASH)
    eim_hash_init(m->data, def);
}

void eim_map_init_data(void *map_state, const void *data, uint64_t size) {
  struct eim_map_rt *m = map_state;
  if (m->type != EIM_MAP_TYPE_ARRAY || size > m->value_size)
    eim_fatal("bad initial contents for a global-data map", "", 0);
  memcpy(m->data, data, size);
}

void eim_rt_ready(void) {
  if (!eim_rt.state)
    eim_fatal("eim_rt_ready called before eim_rt_init", "", 0);
  eim_store_release(&eim_rt.state->ready, EIM_STATE_READY);
}
