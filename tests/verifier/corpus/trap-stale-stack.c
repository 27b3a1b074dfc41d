/* Category trap-stale-stack (soundness trap): storing an uninitialised
 * register over an initialised stack slot must not leave the old value
 * behind; the kernel refuses the store itself ("R5 !read_ok"). */
#include "corpus.h"

ASM(tss_r5_over_slot, "*(u64 *)(r10 - 8) = 1; *(u64 *)(r10 - 8) = r5; r0 = *(u64 *)(r10 - 8); exit")
ASM(tss_r6_over_slot, "r1 = 7; *(u64 *)(r10 - 16) = r1; *(u64 *)(r10 - 16) = r6; r0 = *(u64 *)(r10 - 16); exit")
ASM(tss_r9_u32_half, "*(u64 *)(r10 - 8) = 0; *(u32 *)(r10 - 8) = r9; r0 = *(u64 *)(r10 - 8); exit")
ASM(tss_r2_u8, "*(u64 *)(r10 - 8) = 0; *(u8 *)(r10 - 1) = r2; r0 = *(u8 *)(r10 - 1); exit")
ASM(tss_after_call, "*(u64 *)(r10 - 8) = 3; call 5; *(u64 *)(r10 - 8) = r3; r0 = *(u64 *)(r10 - 8); exit")
ASM(tss_via_pointer, "r7 = r10; r7 += -24; *(u64 *)(r7 + 0) = 1; *(u64 *)(r7 + 0) = r8; r0 = *(u64 *)(r7 + 0); exit")
ASM(tss_one_path,
    "r0 = *(u64 *)(r1 + 112); *(u64 *)(r10 - 8) = 1; if r0 > 5 goto +1;"
    "*(u64 *)(r10 - 8) = r4; r0 = *(u64 *)(r10 - 8); exit")
ASM(tss_index_use,
    "*(u64 *)(r10 - 8) = 0; *(u64 *)(r10 - 8) = r7; r6 = *(u64 *)(r10 - 8);" STORE_AT_R6)
ASM(tss_initialised_ok, "r5 = 9; *(u64 *)(r10 - 8) = 1; *(u64 *)(r10 - 8) = r5; r0 = *(u64 *)(r10 - 8); exit")
ASM(tss_after_call_r0_ok, "*(u64 *)(r10 - 8) = 3; call 5; *(u64 *)(r10 - 8) = r0; r0 = *(u64 *)(r10 - 8); exit")
