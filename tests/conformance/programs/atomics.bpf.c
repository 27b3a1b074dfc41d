/* Atomics on the stack and in global data (.data; the kernel allows no
 * atomics on packet memory): add/and/or/xor with and without fetch, xchg
 * and cmpxchg, 64-bit at every -mcpu and 32-bit from v3 (clang refuses
 * them at v1). */
#include "harness.h"

__u64 counter = 5; /* .data */

PROGRAM(mem) {
  volatile __u64 slot = LOAD(__u64, mem, 0);
  __u64 v = LOAD(__u64, mem, 8);
  __u64 r = 0;
  __sync_fetch_and_add(&slot, v);
  r += __sync_fetch_and_add(&slot, 3);
  r += __sync_fetch_and_or(&slot, 0xf0);
  r += __sync_fetch_and_and(&slot, ~0x3ull);
  r += __sync_fetch_and_xor(&slot, v);
  r += __sync_lock_test_and_set(&slot, 77);
  r += __sync_val_compare_and_swap(&slot, 77, 99);
  r += __sync_val_compare_and_swap(&slot, 1, 2); /* fails: 99 stays */
  r += __sync_fetch_and_add(&counter, v);
  r += counter;
  STORE(__u64, mem, 16, r);
#if __BPF_CPU_VERSION__ >= 3
  volatile __u32 word = LOAD(__u32, mem, 24);
  volatile __u32 *w = &word;
  r += __sync_fetch_and_add(w, (__u32)v);
  r += __sync_fetch_and_or(w, 0x0f0f);
  r += __sync_fetch_and_and(w, 0xfff0fff0);
  r += __sync_fetch_and_xor(w, 0x1234);
  r += __sync_lock_test_and_set(w, 0x55);
  r += __sync_val_compare_and_swap(w, 0x55, 0x66);
  STORE(__u32, mem, 24, word);
#endif
  return r + slot;
}
