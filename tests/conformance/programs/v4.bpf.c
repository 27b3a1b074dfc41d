/* cpu v4 instructions: signed division and modulo (sdiv/smod, including
 * by zero and INT_MIN / -1 from memory), sign-extending moves (movsx) and
 * loads (ldsx), unconditional byte swaps (bswap) and store-immediate. At
 * -mcpu=v1 and v3 the same source compiles without them: the v4-only
 * parts are guarded, the rest still runs. */
#include "harness.h"

PROGRAM(mem) {
  __s64 a = LOAD(__s64, mem, 0), b = LOAD(__s64, mem, 8);
  __s64 zero = LOAD(__u8, mem, 63);
  __u64 r = 0;
#if __BPF_CPU_VERSION__ >= 4
  __s32 c = LOAD(__s32, mem, 16), d = LOAD(__s32, mem, 20);
  __s64 minus1 = zero - 1, intmin = (__s64)1 << 63;
  r += a / b + a % b + a / zero + a % zero + intmin / minus1 + intmin % minus1;
  r += (__u32)(c / d) + (__u32)(c % d) + (__u32)(c / (__s32)zero) +
       (__u32)(c % (__s32)zero);
  r += LOAD(__s64, mem, 24) % LOAD(__s64, mem, 32); /* alone: smod */
  r += (__s64)(__s8)a + (__s64)(__s16)b + (__s64)(__s32)(a >> 3);
  r += (__u32)(__s32)(__s8)c + (__u32)(__s32)(__s16)d;
  r += LOAD(__s8, mem, 40) + LOAD(__s16, mem, 42) + LOAD(__s32, mem, 44);
  r += __builtin_bswap16((__u16)a) + __builtin_bswap32((__u32)b) +
       __builtin_bswap64(r);
#else
  r += (__u64)a / ((__u64)b | 1) + (__u64)a % ((__u64)b | 1);
#endif
  *(volatile __u32 *)(mem + 48) = 0x12345678;
  *(volatile __u64 *)(mem + 56) = -3;
  return r ^ (__u64)zero;
}
