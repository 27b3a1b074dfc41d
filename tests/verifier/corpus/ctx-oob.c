/* Category ctx-oob: context (struct pt_regs, 168 bytes) accesses the
 * kernel refuses for a probe: past the end, negative, misaligned or
 * written. The kernel: "invalid bpf_context access off=168 size=8". */
#include "corpus.h"

ASM(ctx_past_end, "r0 = *(u64 *)(r1 + 168); exit")
ASM(ctx_straddles_end, "r0 = *(u64 *)(r1 + 164); exit")
ASM(ctx_negative, "r0 = *(u64 *)(r1 - 8); exit")
ASM(ctx_misaligned_u64, "r0 = *(u64 *)(r1 + 4); exit")
ASM(ctx_misaligned_u32, "r0 = *(u32 *)(r1 + 2); exit")
ASM(ctx_write, "r2 = 0; *(u64 *)(r1 + 0) = r2; r0 = 0; exit")
ASM(ctx_write_imm, "*(u32 *)(r1 + 8) = 1; r0 = 0; exit")
ASM(ctx_variable_offset,
    "r2 = *(u64 *)(r1 + 112); r2 &= 8; r1 += r2; r0 = *(u64 *)(r1 + 0); exit")
ASM(ctx_far_past_end, "r0 = *(u8 *)(r1 + 4096); exit")

PROG(ctx_c_index_from_arg) {
  __u64 i = ARG0(ctx) & 31;
  return ((volatile __u64 *)ctx)[i];
}
