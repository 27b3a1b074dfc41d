/* Category bounded-loop (accept side): loops with a constant trip count or
 * a bound the verifier can see, over the stack, a map value and helpers. */
#include "corpus.h"

PROG(bl_sum_16) {
  __u64 s = 0;
#pragma nounroll
  for (__u32 i = 0; i < 16; i++)
    s += i * ARG0(ctx);
  return s;
}

PROG(bl_stack_fill) {
  volatile __u8 buf[64];
#pragma nounroll
  for (__u32 i = 0; i < 64; i++)
    buf[i] = i;
  return buf[5];
}

PROG(bl_masked_trip_count) {
  __u64 n = ARG0(ctx) & 31, s = 0;
#pragma nounroll
  for (__u64 i = 0; i < n; i++)
    s += i;
  return s;
}

PROG(bl_value_words) {
  __u32 k = 1;
  struct value64 *v = bpf_map_lookup_elem(&arr, &k);
  if (!v)
    return 0;
  __u64 s = 0;
#pragma nounroll
  for (__u32 i = 0; i < 8; i++)
    s += v->w[i];
  return s;
}

PROG(bl_countdown) {
  __u64 s = 0;
#pragma nounroll
  for (int i = 100; i > 0; i--)
    s += i;
  return s;
}

PROG(bl_nested) {
  __u64 s = 0;
#pragma nounroll
  for (__u32 i = 0; i < 8; i++)
#pragma nounroll
    for (__u32 j = 0; j < 8; j++)
      s += i ^ j;
  return s;
}

PROG(bl_early_break) {
  volatile __u8 buf[32] = {};
  __u32 i;
#pragma nounroll
  for (i = 0; i < 32; i++)
    if (buf[i] == (__u8)ARG0(ctx))
      break;
  return i;
}

PROG(bl_helper_in_loop) {
  __u64 s = 0;
#pragma nounroll
  for (__u32 i = 0; i < 10; i++)
    s += bpf_ktime_get_ns() & 1;
  return s;
}

PROG(bl_step_four) {
  volatile __u32 buf[16];
#pragma nounroll
  for (__u32 i = 0; i < 16; i += 4)
    buf[i] = i;
  return buf[4];
}

ASM(bl_asm_count_10, "r0 = 0; r1 = 0; r0 += 3; r1 += 1; if r1 < 10 goto -3; exit")
ASM(bl_asm_down_1000, "r0 = 0; r1 = 1000; r0 += 1; r1 += -1; if r1 != 0 goto -3; exit")
