/*===- helpers.c - The eBPF helpers eimc implements --------------*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/design.md, "Runtime", and docs/helpers.md.          *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * One function per row of eimc/Core/Helpers.def, with the kernel's
 * semantics as far as a user-space process can observe them: same return
 * values, same errno codes, same buffer contents on failure. Compiled
 * programs call them directly (the eBPF r1-r5 map to the System V argument
 * registers), from whatever thread and context the hooked host code runs
 * in, including signal handlers: nothing here locks or allocates.
 *
 * The verifier has already checked the arguments' kinds and sizes against
 * Helpers.def, so buffers the program passes are valid; what is checked
 * here is what the kernel checks at run time (flags, indexes, map type)
 * and, for probe_read_user_str, the arbitrary host pointer.
 *
 * Not here: map storage set-up (state.c), return probes (shadow_stack.c).
 */

#include "rt_internal.h"

/* include/uapi/linux/bpf.h */
#define EIM_BPF_F_INDEX_MASK 0xffffffffull
#define EIM_BPF_F_CURRENT_CPU EIM_BPF_F_INDEX_MASK
#define EIM_TASK_COMM_LEN 16

/* A negative errno as the helper's uint64_t result. */
static uint64_t neg(long err) { return (uint64_t)(int64_t)-err; }

uint64_t eim_helper_get_current_pid_tgid(uint64_t a1, uint64_t a2, uint64_t a3,
                                         uint64_t a4, uint64_t a5) {
  uint64_t tgid = (uint64_t)eim_syscall3(EIM_SYS_GETPID, 0, 0, 0);
  uint64_t tid = (uint64_t)eim_syscall3(EIM_SYS_GETTID, 0, 0, 0);
  return tgid << 32 | (uint32_t)tid;
}

/* The kernel copies task->comm with strscpy_pad(buf, comm, size): at most
 * size - 1 characters, a NUL, and zeros up to size. PR_GET_NAME reads the
 * same field (the calling thread's comm, as `current` would be). */
uint64_t eim_helper_get_current_comm(uint64_t buf, uint64_t size, uint64_t a3,
                                     uint64_t a4, uint64_t a5) {
  char *dst = (char *)buf;
  char comm[EIM_TASK_COMM_LEN + 1];
  memset(comm, 0, sizeof(comm));
  long r = eim_syscall3(EIM_SYS_PRCTL, EIM_PR_GET_NAME, (long)comm, 0);
  if (r < 0) {
    memset(dst, 0, size);
    return neg(EIM_EINVAL);
  }
  if (size == 0)
    return 0;
  uint64_t n = 0;
  while (n + 1 < size && comm[n]) {
    dst[n] = comm[n];
    ++n;
  }
  memset(dst + n, 0, size - n);
  return 0;
}

/* A PERF_EVENT_ARRAY slot for BPF_F_CURRENT_CPU. A thread cannot ask which
 * CPU it is on and stay there, and the ring is per slot, not per CPU, so
 * the slot is per *thread*: the thread's slot (slots.c) modulo the number
 * of entries (bpf_get_smp_processor_id() % entries). A thread's records
 * therefore stay in one ring, in order, as a CPU's do in the kernel while
 * the task does not migrate. */
static uint32_t current_slot(uint32_t entries) {
  return eim_thread_slot() % entries;
}

/* Copies \p n bytes from \p src to ring position \p pos, wrapping. */
static void copy_to_ring(uint8_t *area, uint32_t ring_size, uint64_t pos,
                         const uint8_t *src, uint64_t n) {
  uint64_t off = pos & (ring_size - 1);
  uint64_t first = ring_size - off < n ? ring_size - off : n;
  memcpy(area + off, src, first);
  memcpy(area, src + first, n - first);
}

/* Protocol: eim_state.h; contract: rt_internal.h. */
long eim_ring_write(struct eim_perf_ring *ring, uint32_t ring_size,
                    const uint8_t *data, uint64_t size) {
  uint8_t *area = (uint8_t *)ring + EIM_PERF_RING_HEADER;
  if (size > ring_size - EIM_REC_HEADER_SIZE)
    goto lost;
  uint64_t need = EIM_REC_HEADER_SIZE + ((size + 7) & ~7ull);
  uint64_t head;
  for (;;) {
    /* tail before head: a stale tail only makes the check stricter. */
    uint64_t tail = eim_load_acquire(&ring->tail);
    head = eim_load_relaxed(&ring->head);
    if (head - tail > ring_size - need)
      goto lost;
    if (eim_cas(&ring->head, &head, head + need))
      break;
  }
  copy_to_ring(area, ring_size, head + EIM_REC_HEADER_SIZE, data, size);
  /* Padding bytes are already zero: the reader zeroes what it consumes. */
  uint64_t *header = (uint64_t *)(area + (head & (ring_size - 1)));
  eim_store_release(header, size | (uint64_t)EIM_REC_PUBLISHED << 32);
  return 0;
lost:
  eim_fetch_add(&ring->lost, 1);
  return -EIM_ENOSPC;
}

/* bpf_perf_event_output(ctx, map, flags, data, size). ctx is not needed:
 * there is no perf event to attribute the sample to. */
uint64_t eim_helper_perf_event_output(uint64_t ctx, uint64_t map,
                                      uint64_t flags, uint64_t data,
                                      uint64_t size) {
  const struct eim_map_rt *m = (const struct eim_map_rt *)map;
  if (!m || m->type != EIM_MAP_TYPE_PERF_EVENT_ARRAY || m->max_entries == 0)
    return neg(EIM_EINVAL);
  /* kernel/trace/bpf_trace.c: any bit outside the index (including
   * BPF_F_CTXLEN_MASK, meaningless without an skb) is -EINVAL. */
  if (flags & ~EIM_BPF_F_INDEX_MASK)
    return neg(EIM_EINVAL);
  uint64_t index = flags & EIM_BPF_F_INDEX_MASK;
  if (index == EIM_BPF_F_CURRENT_CPU)
    index = current_slot(m->max_entries);
  else if (index >= m->max_entries)
    return neg(EIM_E2BIG);
  uint64_t stride = EIM_PERF_RING_HEADER + (uint64_t)m->ring_size;
  struct eim_perf_ring *ring =
      (struct eim_perf_ring *)(m->data + index * stride);
  long r = eim_ring_write(ring, m->ring_size, (const uint8_t *)data, size);
  return r < 0 ? neg(-r) : 0;
}

struct eim_iovec {
  void *base;
  uint64_t len;
};

/* Reads \p n bytes at host address \p src without ever faulting: the
 * kernel copies them for us with process_vm_readv on our own process and
 * reports an unmapped or unreadable address as an error instead of a
 * SIGSEGV. \returns 1 when all \p n bytes were read. */
static int read_host(int32_t pid, void *dst, uint64_t src, uint64_t n) {
  struct eim_iovec local = {dst, n};
  struct eim_iovec remote = {(void *)src, n};
  long r = eim_syscall6(EIM_SYS_PROCESS_VM_READV, pid, (long)&local, 1,
                        (long)&remote, 1, 0);
  return r == (long)n;
}

/* strncpy_from_user_nofault(dst, src, size) for size > 0: up to size - 1
 * bytes and a NUL; \returns the length including the NUL, or -EFAULT if
 * an unreadable byte comes before the end of the string.
 *
 * Reads go through a small bounce buffer in chunks that never cross a
 * page, so that a string ending just before an unmapped page is read
 * completely (a read spanning both pages would fail whole), and so that
 * bytes after the NUL never reach \p dst (the kernel does not write them
 * either). */
static long copy_string(char *dst, uint64_t size, uint64_t src) {
  int32_t pid = (int32_t)eim_syscall3(EIM_SYS_GETPID, 0, 0, 0);
  char bounce[256];
  uint64_t done = 0;
  while (done < size) {
    uint64_t addr = src + done;
    uint64_t chunk = 4096 - (addr & 4095);
    if (chunk > sizeof(bounce))
      chunk = sizeof(bounce);
    if (chunk > size - done)
      chunk = size - done;
    if (addr < src || !read_host(pid, bounce, addr, chunk))
      return -EIM_EFAULT;
    for (uint64_t i = 0; i < chunk; ++i) {
      dst[done + i] = bounce[i];
      if (!bounce[i])
        return (long)(done + i + 1);
    }
    done += chunk;
  }
  dst[size - 1] = '\0';
  return (long)size;
}

/* bpf_probe_read_user_str(dst, size, src): kernel/trace/bpf_trace.c zeroes
 * all of dst on failure, so a program never sees a partial string.
 *
 * Why process_vm_readv rather than catching SIGSEGV: the host owns its
 * signal handlers (bash, Python, the JVM install their own), a handler of
 * ours would race with them and cannot be installed safely from a helper
 * that runs inside them. The system call needs no handler and no ptrace
 * permission (a process may always read itself). If a seccomp filter
 * forbids it, every read fails as -EFAULT: safe, never a crash. */
uint64_t eim_helper_probe_read_user_str(uint64_t dst, uint64_t size,
                                        uint64_t src, uint64_t a4,
                                        uint64_t a5) {
  if (size == 0)
    return 0;
  long r = copy_string((char *)dst, size, src);
  if (r < 0) {
    memset((void *)dst, 0, size);
    return neg(-r);
  }
  return (uint64_t)r;
}

/* bpf_probe_read_user(dst, size, src): all \p size bytes or -EFAULT with
 * dst zero-filled, as kernel/trace/bpf_trace.c. */
uint64_t eim_helper_probe_read_user(uint64_t dst, uint64_t size, uint64_t src,
                                    uint64_t a4, uint64_t a5) {
  if (size == 0)
    return 0;
  int32_t pid = (int32_t)eim_syscall3(EIM_SYS_GETPID, 0, 0, 0);
  if (src + size < src || !read_host(pid, (void *)dst, src, size)) {
    memset((void *)dst, 0, size);
    return neg(EIM_EFAULT);
  }
  return 0;
}

/* bpf_probe_read_kernel(dst, size, src) and its _str form. An extension
 * runs inside the host, so the address space it observes, the one a
 * kernel program's "kernel" pointers would name, is the host's: the
 * kernel variants read it exactly like the user ones (fault-tolerant,
 * -EFAULT with dst zero-filled). This keeps libbpf's BPF_CORE_READ (which
 * uses bpf_probe_read_kernel) working on host structures. The legacy
 * bpf_probe_read/_str (4, 45) are aliases of these (Helpers.def). */
uint64_t eim_helper_probe_read_kernel(uint64_t dst, uint64_t size, uint64_t src,
                                      uint64_t a4, uint64_t a5) {
  return eim_helper_probe_read_user(dst, size, src, a4, a5);
}

uint64_t eim_helper_probe_read_kernel_str(uint64_t dst, uint64_t size,
                                          uint64_t src, uint64_t a4,
                                          uint64_t a5) {
  return eim_helper_probe_read_user_str(dst, size, src, a4, a5);
}

/* bpf_get_smp_processor_id(): the thread's slot (slots.c says why not the
 * CPU). */
uint64_t eim_helper_get_smp_processor_id(uint64_t a1, uint64_t a2, uint64_t a3,
                                         uint64_t a4, uint64_t a5) {
  return eim_thread_slot();
}

/* bpf_get_current_uid_gid(): gid << 32 | uid, the real ids of the calling
 * thread (the kernel reads current_cred()'s uid and gid, not the
 * effective ones). */
uint64_t eim_helper_get_current_uid_gid(uint64_t a1, uint64_t a2, uint64_t a3,
                                        uint64_t a4, uint64_t a5) {
  uint64_t uid = (uint32_t)eim_syscall3(EIM_SYS_GETUID, 0, 0, 0);
  uint64_t gid = (uint32_t)eim_syscall3(EIM_SYS_GETGID, 0, 0, 0);
  return gid << 32 | uid;
}

/* bpf_get_prandom_u32(): like the kernel's per-CPU prandom state, one
 * generator per thread slot, so threads never share (or race on) a state.
 * xorshift64*: not cryptographic, which the kernel's is not either. Each
 * slot is seeded on first use from getrandom(2) mixed with the slot
 * number; if getrandom fails, from the clock. */
static uint64_t prandom_state[EIM_THREAD_SLOTS];

uint64_t eim_helper_get_prandom_u32(uint64_t a1, uint64_t a2, uint64_t a3,
                                    uint64_t a4, uint64_t a5) {
  uint32_t slot = eim_thread_slot();
  uint64_t x = prandom_state[slot];
  if (x == 0) {
    if (eim_syscall3(EIM_SYS_GETRANDOM, (long)&x, sizeof(x), 0) !=
        (long)sizeof(x))
      x = eim_helper_ktime_get_ns(0, 0, 0, 0, 0);
    x ^= (slot + 1) * 0x9e3779b97f4a7c15ull;
    if (x == 0)
      x = 1;
  }
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  prandom_state[slot] = x;
  return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}
