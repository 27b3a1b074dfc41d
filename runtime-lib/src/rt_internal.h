/*===- rt_internal.h - runtime-lib's private declarations --------*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/design.md, "Runtime".                               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * What the runtime's translation units share and generated code must not
 * see: raw system calls, atomics, the runtime's own .bss state and the
 * layout of the opaque per-map state object.
 *
 * Raw system calls because the runtime cannot use libc: it runs before
 * the host's libc is initialized (from the start stub), inside any host
 * (whose libc may be static, absent or not glibc), and from signal
 * handlers. Each wrapper returns the kernel's result: >= 0 or -errno.
 */
#ifndef EIM_RT_INTERNAL_H
#define EIM_RT_INTERNAL_H

#include "eim_runtime.h"
#include "eim_state.h"

#include <stddef.h>
#include <stdint.h>

#define EIM_HIDDEN __attribute__((visibility("hidden")))

/* x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
enum {
  EIM_SYS_WRITE = 1,
  EIM_SYS_CLOSE = 3,
  EIM_SYS_FSTAT = 5,
  EIM_SYS_MMAP = 9,
  EIM_SYS_GETPID = 39,
  EIM_SYS_FLOCK = 73,
  EIM_SYS_FTRUNCATE = 77,
  EIM_SYS_GETUID = 102,
  EIM_SYS_GETGID = 104,
  EIM_SYS_GETEUID = 107,
  EIM_SYS_PRCTL = 157,
  EIM_SYS_ARCH_PRCTL = 158,
  EIM_SYS_GETTID = 186,
  EIM_SYS_GETDENTS64 = 217,
  EIM_SYS_CLOCK_GETTIME = 228,
  EIM_SYS_EXIT_GROUP = 231,
  EIM_SYS_OPENAT = 257,
  EIM_SYS_MKDIRAT = 258,
  EIM_SYS_UNLINKAT = 263,
  EIM_SYS_PROCESS_VM_READV = 310,
  EIM_SYS_GETRANDOM = 318,
};

/* Kernel ABI constants (uapi headers), spelled out: no libc headers. */
#define EIM_AT_FDCWD (-100)
#define EIM_O_RDONLY 0
#define EIM_O_RDWR 02
#define EIM_O_CREAT 0100
#define EIM_O_EXCL 0200
#define EIM_O_DIRECTORY 0200000
#define EIM_O_NOFOLLOW 0400000
#define EIM_O_CLOEXEC 02000000
#define EIM_PROT_READ 1
#define EIM_PROT_WRITE 2
#define EIM_MAP_SHARED 1
#define EIM_PR_GET_NAME 16
#define EIM_ARCH_GET_FS 0x1003
#define EIM_CLOCK_REALTIME 0
#define EIM_CLOCK_MONOTONIC 1
#define EIM_LOCK_EX 2
#define EIM_LOCK_NB 4
#define EIM_ENOENT 2
#define EIM_EEXIST 17
#define EIM_E2BIG 7
#define EIM_EFAULT 14
#define EIM_EINVAL 22
#define EIM_ENOSPC 28
#define EIM_EAGAIN 11

/* Exit status when the runtime cannot continue (EX_SOFTWARE). */
#define EIM_EXIT_FAILURE 70

static inline long eim_syscall6(long nr, long a1, long a2, long a3, long a4,
                                long a5, long a6) {
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  long ret;
  /* The kernel clobbers rcx (return rip) and r11 (rflags). */
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8),
                     "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

static inline long eim_syscall3(long nr, long a1, long a2, long a3) {
  return eim_syscall6(nr, a1, a2, a3, 0, 0, 0);
}

/* Atomics on shared memory: the GCC builtins compile to plain locked
 * instructions on x86-64 and need no library. */
#define eim_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define eim_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define eim_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define eim_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define eim_cas(p, expected, desired)                                          \
  __atomic_compare_exchange_n((p), (expected), (desired), 0, __ATOMIC_ACQ_REL, \
                              __ATOMIC_ACQUIRE)
#define eim_fetch_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
/* Orders memory accesses against a signal handler on this thread only: the
 * shadow stack is per thread, so no fence instruction is needed. */
#define eim_signal_fence() __atomic_signal_fence(__ATOMIC_SEQ_CST)

/* The runtime's process-wide state, in .bss (the host's zero-filled state
 * pages). Written only by the start stub before the host runs, except
 * `tls_seen`, which is a benign one-way flag. */
struct eim_rt_globals {
  struct eim_state_header *state; /* the shared mapping, NULL before init */
  uint32_t tls_seen;              /* 1 once any thread had a thread pointer */
};
EIM_HIDDEN extern struct eim_rt_globals eim_rt;

/* The opaque EIM_MAP_STATE_SIZE-byte object the compiler emits per map,
 * filled by eim_map_init(). All zero (type 0, BPF_MAP_TYPE_UNSPEC) means
 * "not initialized": helpers reject it with -EINVAL. */
struct eim_map_rt {
  uint32_t type;
  uint32_t max_entries;
  uint32_t value_size;
  uint32_t ring_size; /* PERF_EVENT_ARRAY: data bytes per ring */
  uint8_t *data;      /* the map's data inside the shared mapping */
  uint32_t key_size;  /* HASH: bytes compared per key */
  uint32_t slots;     /* PERCPU: values per element (EIM_THREAD_SLOTS) */
};
_Static_assert(sizeof(struct eim_map_rt) <= EIM_MAP_STATE_SIZE,
               "map state object too small");

/* freestanding.c */
EIM_HIDDEN void *memcpy(void *dst, const void *src, size_t n);
EIM_HIDDEN void *memset(void *dst, int c, size_t n);
EIM_HIDDEN void *memmove(void *dst, const void *src, size_t n);
EIM_HIDDEN int memcmp(const void *a, const void *b, size_t n);
/* Writes "eimc: runtime: <what> (<detail>: errno N)\n" to fd 2 in one
 * write and exits the whole process with EIM_EXIT_FAILURE. The parenthesis
 * is left out when \p detail is empty and \p err (a -errno) is 0. */
EIM_HIDDEN __attribute__((noreturn)) void
eim_fatal(const char *what, const char *detail, long err);
/* Decimal text of \p v into \p buf (at least 21 bytes); returns length. */
EIM_HIDDEN size_t eim_format_u64(char *buf, uint64_t v);

/* state_dir.c */
/* "/dev/shm/eimc-<uid>" into \p buf (of \p cap bytes); returns length. */
EIM_HIDDEN size_t eim_state_dir_path(char *buf, size_t cap, uint32_t uid);
/* Creates (0700) or opens the per-user state directory, checks it is ours
 * and closed to others, and returns its descriptor; exits on failure. */
EIM_HIDDEN long eim_state_dir_open(uint32_t *uid_out);
/* Removes state files of exited processes from \p dirfd (see the file). */
EIM_HIDDEN void eim_state_sweep(long dirfd);

/* maps.c */
/* Bytes of shared storage a HASH map of \p def needs (eim_state.h). */
EIM_HIDDEN uint64_t eim_hash_storage_size(const struct eim_map_def *def);
/* Writes the eim_hash_header of a new HASH map at \p data. */
EIM_HIDDEN void eim_hash_init(uint8_t *data, const struct eim_map_def *def);

/* helpers.c */
/* Appends one record of \p size bytes to a perf ring (protocol:
 * eim_state.h). \returns 0, or -ENOSPC when the record was dropped and
 * counted as lost. */
EIM_HIDDEN long eim_ring_write(struct eim_perf_ring *ring, uint32_t ring_size,
                               const uint8_t *data, uint64_t size);

/* slots.c */
/* The calling thread's slot, in [0, EIM_THREAD_SLOTS) (see the file). */
EIM_HIDDEN uint32_t eim_thread_slot(void);

/* shadow_stack.c */
/* This thread's TCB address (glibc's %fs:0 self-pointer), or 0 while the
 * process has no thread pointer yet (before libc set up TLS). */
EIM_HIDDEN uint64_t eim_thread_pointer(void);

/* The home index in a table of \p n per-thread entries for thread pointer
 * \p tp (reentrancy.c, shadow_stack.c, slots.c): threads' TCBs lie in
 * different pages, so the page number is hashed (Fibonacci hashing). */
static inline uint32_t eim_tp_home(uint64_t tp, uint32_t n) {
  return (uint32_t)(((tp >> 12) * 0x9e3779b97f4a7c15ull) >> 32) % n;
}

/* unwind_table.c (layout in eim_unwind_table.h); slots are stack slots S.
 * put: records S -> {ret, tramp}, replacing an entry of S; 0 if there is
 * no table or no free entry. retramp: changes the tramp of S's entry.
 * remove: frees S's entry, if any. */
EIM_HIDDEN int eim_unwind_put(uint64_t *slot, uint64_t ret, uint64_t tramp);
EIM_HIDDEN void eim_unwind_retramp(uint64_t *slot, uint64_t tramp);
EIM_HIDDEN void eim_unwind_remove(uint64_t *slot);

#endif /* EIM_RT_INTERNAL_H */
