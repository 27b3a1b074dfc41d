/* bpf-to-bpf calls with five arguments and nested calls (r6-r9 survive a
 * call), and global data: a .rodata table, a .data variable with an
 * initial value and a .bss variable, read and written. */
#include "harness.h"

static const __u32 table[8] = {3, 1, 4, 1, 5, 9, 2, 6}; /* .rodata */
__u64 scale = 1000;                                     /* .data */
__u64 calls;                                            /* .bss */

static __attribute__((noinline)) __u64 mix(__u64 a, __u64 b, __u64 c,
                                           __u64 d, __u64 e) {
  calls++;
  return a * 31 + b * 17 + c * 7 + d * 3 + e;
}

static __attribute__((noinline)) __u64 twice(__u64 x, __u64 y) {
  __u64 keep = x ^ 0x5a5a;
  __u64 r = mix(x, y, keep, 4, 5);
  return r + mix(r, keep, y, x, 1) + keep;
}

PROGRAM(mem) {
  __u64 x = LOAD(__u64, mem, 0), y = LOAD(__u64, mem, 8);
  __u64 r = twice(x, y) + table[LOAD(__u8, mem, 16) & 7] * scale;
  scale += r & 0xff;
  STORE(__u64, mem, 24, scale);
  STORE(__u64, mem, 32, calls);
  return r + calls;
}
