/* Category map-value-oob: accesses outside a map value ([0, 64) for arr,
 * [0, 8) for hash). The kernel: "invalid access to map value, value_size=64
 * off=64 size=8". */
#include "corpus.h"

#define LOOKUP_ARR                                                             \
  "r1 = 0; *(u32 *)(r10 - 4) = r1; r2 = r10; r2 += -4; r1 = %[arr] ll;"        \
  "call 1; if r0 == 0 goto +1;"

ASM(mv_read_at_end, LOOKUP_ARR "r0 = *(u64 *)(r0 + 64); exit")
ASM(mv_read_straddles_end, LOOKUP_ARR "r0 = *(u64 *)(r0 + 60); exit")
ASM(mv_write_negative, LOOKUP_ARR "r1 = 1; *(u64 *)(r0 - 8) = r1; r0 = 0; exit")
ASM(mv_byte_at_end, LOOKUP_ARR "r0 = *(u8 *)(r0 + 64); exit")
ASM(mv_pointer_advanced, LOOKUP_ARR "r0 += 60; r0 = *(u32 *)(r0 + 4); exit")
ASM(mv_unbounded_index,
    "r6 = *(u64 *)(r1 + 112);" LOOKUP_ARR
    "r0 += r6; r0 = *(u8 *)(r0 + 0); exit")
ASM(mv_index_mask_too_wide,
    "r6 = *(u64 *)(r1 + 112);" LOOKUP_ARR
    "r6 &= 127; r0 += r6; r0 = *(u8 *)(r0 + 0); exit")

PROG(mv_hash_value_past_8) {
  __u64 k = 1;
  __u64 *v = bpf_map_lookup_elem(&hash, &k);
  if (!v)
    return 0;
  return ((volatile __u32 *)v)[2]; /* bytes 8..11 of an 8-byte value */
}

PROG(mv_c_index_off_by_one) {
  __u32 k = 0;
  struct value64 *v = bpf_map_lookup_elem(&arr, &k);
  if (!v)
    return 0;
  __u64 i = ARG0(ctx);
  if (i > 8) /* should be >= 8 */
    return 0;
  return ((volatile __u64 *)v->w)[i];
}

PROG(mv_c_write_loop_too_far) {
  __u32 k = 0;
  struct value64 *v = bpf_map_lookup_elem(&arr, &k);
  if (!v)
    return 0;
#pragma unroll
  for (int i = 0; i < 9; i++)
    ((volatile __u64 *)v->w)[i] = i;
  return 0;
}
