/*===- eim_state.h - Layout of a process's shared state file -----*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/design.md, "Runtime".                               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * The versioned layout of the file a rewritten process shares with
 * `eimc events` / `eimc maps`. The runtime (freestanding C) writes it; the
 * reader library (eimcState, C++) reads it; both include this header, so
 * the layout exists exactly once.
 *
 * Where: /dev/shm/eimc-<euid>/<pid>.state: a directory per user, mode
 * 0700 and checked to be the user's (runtime-lib/src/state_dir.c says
 * why), holding one file per process, mode 0600, created by eim_rt_init()
 * with O_CREAT|O_EXCL after unlinking a stale file of a reused PID. The
 * file is a sparse EIM_STATE_RESERVE-byte tmpfs file mapped MAP_SHARED
 * once: memory is only spent on pages that are touched, the runtime needs
 * no file descriptor after start-up (it closes it, so the host never sees
 * an extra fd), and the mapping never moves, so pointers into it stay
 * valid. The runtime holds an flock(LOCK_EX) on the file for as long as
 * the mapping lives: a free lock means the writer is gone. The file
 * outlives the process (so the reader can drain the last records); it is
 * removed by the next host start of the same user once its lock is free
 * and it is EIM_STATE_SWEEP_GRACE seconds old, by `eimc maps gc`, or by
 * the next process with that PID.
 *
 * Compatibility rule: the first EIM_STATE_PREFIX_SIZE bytes (magic,
 * layout, eimc version) never change, so any reader can name the writer of
 * a layout it does not understand. Everything after them may change with
 * EIM_STATE_LAYOUT_VERSION.
 *
 * PERF_EVENT_ARRAY maps hold one ring per entry (see struct eim_perf_ring).
 *
 * Not here: what a record means. Records are the bytes the program passed
 * to bpf_perf_event_output, as perf's PERF_SAMPLE_RAW payload would be.
 */
#ifndef EIM_STATE_H
#define EIM_STATE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "EIMSTATE" read as a little-endian u64. */
#define EIM_STATE_MAGIC 0x45544154534d4945ULL
/* 2: site counters, recursion misses; 3: thread slots, trace ring,
 * PERCPU and RINGBUF maps. */
#define EIM_STATE_LAYOUT_VERSION 3u
/* Stored last, with a release store, by eim_rt_ready(): until then the
 * reader must not trust the map table. */
#define EIM_STATE_READY 0x59444552u /* "REDY" */

/* The per-user directory is EIM_STATE_DIR_PREFIX followed by the
 * effective uid in decimal. */
#define EIM_STATE_DIR_PREFIX "/dev/shm/eimc-"
/* Seconds after its last modification (at least its creation) before a
 * dead process's file may be swept at another host's start-up. */
#define EIM_STATE_SWEEP_GRACE 60

/* Bytes reserved (sparse) per process; maps are carved from it. */
#define EIM_STATE_RESERVE (64ull << 20)
#define EIM_STATE_MAX_MAPS 64u
/* Map data starts at this offset (after the header), page aligned. */
#define EIM_STATE_DATA_OFFSET 0x4000ull
/* Per-ring data bytes of a PERF_EVENT_ARRAY: a power of two. 256 KiB per
 * ring keeps bashreadline's 4 rings at 1 MiB and holds ~2,900 records of
 * 84 bytes, far more than a reader polling every 10 ms needs. */
#define EIM_PERF_RING_SIZE (256u << 10)
/* Per-ring header bytes (before the data area). */
#define EIM_PERF_RING_HEADER 4096u

/* enum bpf_map_type values the layout knows. */
#define EIM_MAP_TYPE_HASH 1u
#define EIM_MAP_TYPE_ARRAY 2u
#define EIM_MAP_TYPE_PERF_EVENT_ARRAY 4u
#define EIM_MAP_TYPE_PERCPU_HASH 5u
#define EIM_MAP_TYPE_PERCPU_ARRAY 6u
#define EIM_MAP_TYPE_RINGBUF 27u

/* Per-thread slots (runtime-lib/src/slots.c): what PERCPU maps are indexed
 * by and bpf_get_smp_processor_id returns, fixed for the process's life.
 * A PERCPU element holds EIM_THREAD_SLOTS values, each rounded up to 8
 * bytes, slot 0 first, as the kernel lays out per-CPU values for
 * user-space lookups. */
#define EIM_THREAD_SLOTS 32u

/* The bpf_trace_printk ring: an eim_perf_ring whose records are a struct
 * eim_trace_record followed by the formatted text (no NUL). */
#define EIM_TRACE_RING_SIZE (64u << 10)
struct eim_trace_record {
  uint64_t ns;   /* CLOCK_MONOTONIC */
  uint32_t tid;  /* calling thread */
  uint32_t slot; /* its thread slot */
  char comm[16]; /* its name, NUL-padded */
};

/* One map of the table. */
struct eim_state_map {
  char name[64]; /* NUL-terminated, from struct eim_map_def */
  uint32_t type; /* enum bpf_map_type */
  uint32_t key_size;
  uint32_t value_size;
  uint32_t max_entries; /* PERF_EVENT_ARRAY: number of rings */
  uint32_t map_flags;
  uint32_t ring_size; /* PERF_EVENT_ARRAY: data bytes per ring, else 0 */
  uint64_t offset;    /* of the map's data, from the start of the file */
  uint64_t size;      /* bytes of the map's data */
  /* BTF of the map's key and value (0: none), in the object's .BTF, a copy
   * of which lies at btf_offset (btf_size bytes; 0: none). Maps of one
   * object share one copy. */
  uint32_t btf_key_type_id;
  uint32_t btf_value_type_id;
  uint64_t btf_offset;
  uint32_t btf_size;
  uint32_t reserved;
};

/* Isolation (runtime-lib/src/mpk.c, docs/security.md). Modes are the
 * policy's `isolation`; the status is what the process got. */
#define EIM_ISOLATION_OFF 0u
#define EIM_ISOLATION_PREFER 1u
#define EIM_ISOLATION_REQUIRE 2u
#define EIM_ISOLATION_STATUS_OFF 0u         /* not requested (or old file) */
#define EIM_ISOLATION_STATUS_ACTIVE 1u      /* state tagged, gates switch */
#define EIM_ISOLATION_STATUS_UNAVAILABLE 2u /* prefer, without MPK */
/* The protection key of extension state, and its PKRU bits (access and
 * write disable) that the gates clear to grant and set to revoke. */
#define EIM_MPK_KEY 1
#define EIM_MPK_CLOSED_BITS (3u << (2 * EIM_MPK_KEY))

/* The file's first page(s). */
struct eim_state_header {
  /* --- stable prefix: never changes across layouts --- */
  uint64_t magic;          /* EIM_STATE_MAGIC */
  uint32_t layout_version; /* EIM_STATE_LAYOUT_VERSION */
  uint32_t header_size;    /* sizeof(struct eim_state_header) */
  char eimc_version[48];   /* eimc that built the host, NUL-terminated */
  /* --- layout 1 --- */
  uint32_t ready;     /* EIM_STATE_READY once published */
  int32_t pid;        /* the process that created the file */
  uint64_t file_size; /* EIM_STATE_RESERVE at creation */
  uint64_t used;      /* end of the last allocated map's data */
  uint32_t map_count;
  /* EIM_ISOLATION_STATUS_*: whether extension state sits behind a
   * protection key (runtime-lib/src/mpk.c); 0 in files of earlier eimc. */
  uint32_t isolation;
  /* Return probes skipped because a shadow stack or the thread table was
   * full (the hooked call ran, its return probe did not). */
  uint64_t uret_skipped;
  /* --- layout 3, in what was padding --- */
  uint64_t trace_offset;    /* of the bpf_trace_printk ring (an
                               eim_perf_ring and its data), or 0 */
  uint32_t trace_ring_size; /* its data bytes, a power of two */
  uint32_t thread_slots;    /* EIM_THREAD_SLOTS: values per PERCPU element */
  uint64_t slot_overflows;  /* slot requests past the table (shared slot) */
  uint8_t reserved1[128];   /* pads the header prefix to 256 bytes */
  struct eim_state_map maps[EIM_STATE_MAX_MAPS];
  /* --- appended: hook counters (runtime-lib/src/reentrancy.c) --- */
  uint64_t sites_offset; /* of struct eim_site_counters[site_count], or 0 */
  uint32_t site_count;   /* patch sites, in address order (the manifest's) */
  uint32_t reserved2;
  /* Extension runs skipped because this thread was already running one
   * (a signal handler reached a hook), summed over all sites. */
  uint64_t recursion_misses;
};

/* Per patch site, at eim_state_header.sites_offset + slot * 16. */
struct eim_site_counters {
  uint64_t hits;             /* entry trampoline reached */
  uint64_t recursion_misses; /* entry or return run skipped: nested */
};

#define EIM_STATE_PREFIX_SIZE 64u

/* A PERF_EVENT_ARRAY ring, at eim_state_map.offset + i * (EIM_PERF_RING_
 * HEADER + ring_size); its data area follows the header.
 *
 * Positions are free-running byte counts; a position p lives at data[p &
 * (ring_size - 1)]. Records are 8-byte aligned: a header word, then the
 * payload padded to 8; a record may wrap around the end of the data area
 * (the header never does, ring_size being a multiple of 8).
 *
 * Producers (any thread, also from signal handlers): reserve by CAS on
 * `head` after checking `head - tail + len <= ring_size` against an
 * acquire load of `tail`; copy the payload; publish with a release store of
 * the header word (size | EIM_REC_PUBLISHED << 32). No locks: a producer
 * interrupted between reserve and publish delays the reader, never
 * deadlocks the interrupting code. A record that does not fit is dropped
 * whole and counted in `lost`; it is never torn.
 *
 * The reader (one at a time): from `tail` up to `head`, acquire-load the
 * header word; zero means "reserved, not yet published": stop there. After
 * copying a record it zeroes the record's bytes, then advances `tail` with
 * a release store. Zeroing is what makes "0 = unpublished" true for the
 * next lap: a new record's header may land anywhere an old payload was.
 */
struct eim_perf_ring {
  uint64_t head; /* producer reservation position */
  uint8_t pad0[56];
  uint64_t tail; /* consumer position, written by the reader only */
  uint8_t pad1[56];
  uint64_t lost; /* records dropped because they did not fit */
  uint8_t pad2[56];
};

#define EIM_REC_HEADER_SIZE 8u
#define EIM_REC_PUBLISHED 1u

/* A RINGBUF map's data: this header page, then max_entries data bytes (a
 * power of two, >= 4096), kernel/bpf/ringbuf.c's protocol with one change.
 * Positions are free-running byte counts. A producer reserves under
 * `lock`: it checks prod + len - cons <= size against an acquire load of
 * `consumer_pos`, writes the record header {u32 len | EIM_RB_BUSY, u32 0}
 * at prod, then release-stores `producer_pos`. Submit and discard swap the
 * header's len to drop EIM_RB_BUSY (adding EIM_RB_DISCARD for discard), so
 * records commit out of order but are read in order: the reader stops at a
 * BUSY header. The change: the kernel maps the data twice so a record may
 * wrap; here a record that would cross the end is preceded by a filler
 * (a DISCARD record up to the end), so every record is contiguous. A
 * reservation or output that does not fit returns NULL / -EAGAIN and is
 * counted in `dropped`. */
struct eim_ringbuf_header {
  uint64_t consumer_pos; /* written by the reader only */
  uint8_t pad0[56];
  uint64_t producer_pos;
  uint8_t pad1[56];
  uint32_t lock; /* producers only */
  uint32_t pad2;
  uint64_t dropped;
};
#define EIM_RINGBUF_HEADER 4096u
#define EIM_RB_BUSY (1u << 31)
#define EIM_RB_DISCARD (1u << 30)
#define EIM_RB_HDR_SIZE 8u

/* A PERCPU_ARRAY's data: max_entries elements of EIM_THREAD_SLOTS values
 * (each value_size rounded up to 8). A PERCPU_HASH is a HASH whose bucket
 * value is such an element. */

/* An ARRAY map's data: max_entries values, each value_size rounded up to
 * 8 bytes (as the kernel's array map rounds elem_size). */

/* A HASH map's data: this header, then `buckets` buckets of `bucket_size`
 * bytes (runtime-lib/src/maps.c has the protocol). A bucket is
 * {u32 state, u32 seq, key (key_size rounded to 8), value (value_size
 * rounded to 8)}. Open addressing with linear probing from
 * hash(key) & (buckets - 1); buckets is a power of two >= 2 * max_entries.
 * Writers take `lock`; readers (helpers' lookups, `eimc maps`) take none:
 * a bucket is LIVE only after its key and value were written, and `seq` is
 * odd while its key is being rewritten. */
struct eim_hash_header {
  uint32_t lock;        /* 0 free, 1 held (writers only) */
  uint32_t count;       /* LIVE buckets */
  uint32_t buckets;     /* power of two */
  uint32_t bucket_size; /* bytes */
  uint8_t pad[48];
};
#define EIM_HASH_BUCKET_EMPTY 0u
#define EIM_HASH_BUCKET_LIVE 1u
#define EIM_HASH_BUCKET_DELETED 2u
#define EIM_HASH_BUCKET_HEADER 8u

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EIM_STATE_H */
