/* Category insn-limit: bounded loops whose iterations take the kernel past
 * 1,000,000 processed instructions ("BPF program is too large. Processed
 * 1000001 insn"). eimc refuses them with the bound it computed when the
 * policy's instruction bound (1,000,000 here) is smaller. */
#include "corpus.h"

#define COUNT_TO(n) "r0 = 0; r1 = 0; r0 += 3; r1 += 1; if r1 < " #n " goto -3; exit"

ASM(il_count_2m, COUNT_TO(2000000))
ASM(il_count_5m, COUNT_TO(5000000))
ASM(il_count_100m, COUNT_TO(100000000))
ASM(il_count_1g, COUNT_TO(1000000000))
ASM(il_count_down_3m, "r0 = 0; r1 = 3000000; r0 += 1; r1 += -1; if r1 != 0 goto -3; exit")
ASM(il_step_two_4m, "r0 = 0; r1 = 0; r1 += 2; if r1 < 4000000 goto -2; exit")
ASM(il_nested_2000_squared,
    "r0 = 0; r1 = 0; r2 = 0; r0 += 1; r2 += 1; if r2 < 2000 goto -3;"
    "r1 += 1; if r1 < 2000 goto -6; exit")
ASM(il_body_of_30_for_40k,
    "r0 = 0; r1 = 0;"
    "r0 += 1; r0 += 1; r0 += 1; r0 += 1; r0 += 1; r0 += 1; r0 += 1; r0 += 1;"
    "r0 += 1; r0 += 1; r0 += 1; r0 += 1; r0 += 1; r0 += 1; r0 += 1; r0 += 1;"
    "r0 += 1; r0 += 1; r0 += 1; r0 += 1; r0 += 1; r0 += 1; r0 += 1; r0 += 1;"
    "r1 += 1; if r1 < 40000 goto -26; exit")

PROG(il_c_sum_to_3m) {
  __u64 s = 0;
  for (volatile __u32 i = 0; i < 3000000; i++)
    s += i;
  return s;
}

PROG(il_c_stack_scan_loop) {
  volatile __u8 buf[64] = {};
  __u64 s = 0;
  for (volatile __u32 r = 0; r < 100000; r++)
    for (__u32 i = 0; i < 64; i += 8)
      s += buf[i];
  return s;
}
