/* Category null-check: a map lookup or ring-buffer reservation used before
 * its null check. The kernel: "R0 invalid mem access 'map_value_or_null'". */
#include "corpus.h"

/* A hash lookup: the kernel knows a constant in-range ARRAY key never
 * yields NULL, so the unchecked cases look up the hash map. */
#define LOOKUP_HASH                                                            \
  "r1 = 0; *(u64 *)(r10 - 8) = r1; r2 = r10; r2 += -8; r1 = %[hash] ll; call 1;"

ASM(nc_read, LOOKUP_HASH "r0 = *(u64 *)(r0 + 0); exit")
ASM(nc_write, LOOKUP_HASH "r1 = 1; *(u64 *)(r0 + 0) = r1; r0 = 0; exit")
ASM(nc_check_wrong_register,
    LOOKUP_HASH "r6 = r0; if r1 == 0 goto +1; r0 = *(u64 *)(r6 + 0); exit")
ASM(nc_checked_after_use,
    LOOKUP_HASH "r1 = *(u64 *)(r0 + 0); if r0 == 0 goto +0; r0 = 0; exit")
ASM(nc_inverted_check, LOOKUP_HASH "if r0 != 0 goto +1; r0 = *(u64 *)(r0 + 0); r0 = 0; exit")
ASM(nc_copy_then_use, LOOKUP_HASH "r7 = r0; r7 += 4; r0 = *(u32 *)(r7 + 0); exit")
ASM(nc_ringbuf_reserve,
    "r1 = %[rb] ll; r2 = 8; r3 = 0; call 131; r1 = 1; *(u64 *)(r0 + 0) = r1;"
    "r1 = r0; r2 = 0; call 132; r0 = 0; exit")

PROG(nc_c_hash) {
  __u64 k = ARG0(ctx);
  __u64 *v = bpf_map_lookup_elem(&hash, &k);
  return *(volatile __u64 *)v;
}

PROG(nc_c_array_increment) {
  __u32 k = 3;
  struct value64 *v = bpf_map_lookup_elem(&arr, &k);
  __sync_fetch_and_add(&v->w[1], 1);
  return 0;
}

PROG(nc_c_one_path_checked) {
  __u64 k = ARG0(ctx);
  __u64 *v = bpf_map_lookup_elem(&hash, &k);
  if ((k & 1) && !v)
    return 0;
  return *(volatile __u64 *)v;
}
