/* Category stack-oob: loads and stores outside the 512-byte stack
 * [r10-512, r10). The kernel: "invalid write to stack R10 off=-520 size=8"
 * or "invalid stack off=...". */
#include "corpus.h"

ASM(stack_below_512, "*(u64 *)(r10 - 520) = r1; r0 = 0; exit")
ASM(stack_straddles_bottom, "r2 = 0; *(u64 *)(r10 - 516) = r2; r0 = 0; exit")
ASM(stack_at_r10, "r0 = 0; *(u8 *)(r10 + 0) = r0; exit")
ASM(stack_above_r10, "r0 = *(u32 *)(r10 + 8); exit")
ASM(stack_straddles_top, "r2 = 1; *(u64 *)(r10 - 4) = r2; r0 = 0; exit")
ASM(stack_derived_pointer, "r2 = r10; r2 += -600; r3 = 7; *(u64 *)(r2 + 0) = r3; r0 = 0; exit")
ASM(stack_derived_plus_offset, "r2 = r10; r2 += -8; r0 = *(u64 *)(r2 + 8); exit")
ASM(stack_unknown_index,
    "r6 = *(u64 *)(r1 + 112); r6 &= 1023; r2 = r10; r2 += -512; r2 += r6;"
    "r3 = 0; *(u8 *)(r2 + 0) = r3; r0 = 0; exit")

PROG(stack_array_index_from_arg) {
  volatile char buf[64] = {};
  __u64 i = ARG0(ctx) & 127; /* 0..127 into 64 bytes */
  buf[i] = 1;
  return buf[0];
}

PROG(stack_array_past_end_const) {
  volatile __u32 buf[8];
  for (int i = 0; i < 8; i++)
    buf[i] = i;
  volatile __u32 *p = buf;
  return p[130]; /* 520 bytes past buf */
}
