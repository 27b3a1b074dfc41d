/* Category trap-jmp32 (soundness trap, docs: conformance.md 4.1): a JMP32
 * compare bounds the low 32 bits only; a verifier that narrows the 64-bit
 * register from it accepts an out-of-bounds store. */
#include "corpus.h"

ASM(tj_gt_bounds_low_half, ARG_R6 "if w6 > 63 goto +7;" STORE_AT_R6 EXIT0)
ASM(tj_ge_bounds_low_half, ARG_R6 "if w6 >= 64 goto +7;" STORE_AT_R6 EXIT0)
ASM(tj_signed_pair, ARG_R6 "if w6 s> 63 goto +8; if w6 s< 0 goto +7;" STORE_AT_R6 EXIT0)
ASM(tj_known_high_bit,
    ARG_R6 "r7 = 0x100000000 ll; r6 |= r7; if w6 > 63 goto +7;" STORE_AT_R6 EXIT0)
ASM(tj_equal_low_half, ARG_R6 "if w6 == 5 goto +1; goto +7;" STORE_AT_R6 EXIT0)
ASM(tj_register_bound, ARG_R6 "w7 = 64; if w6 >= w7 goto +7;" STORE_AT_R6 EXIT0)
ASM(tj_inverted, ARG_R6 "if w6 < 64 goto +1; goto +7;" STORE_AT_R6 EXIT0)
ASM(tj_zero_extended_first_ok, ARG_R6 "w6 = w6; if w6 > 63 goto +7;" STORE_AT_R6 EXIT0)
ASM(tj_zero_extended_after_ok, ARG_R6 "if w6 > 63 goto +8; w6 = w6;" STORE_AT_R6 EXIT0)
ASM(tj_high_half_cleared_ok, ARG_R6 "r6 >>= 32; if w6 > 63 goto +7;" STORE_AT_R6 EXIT0)
ASM(tj_map_value_index,
    ARG_R6 "if w6 > 63 goto +11; r1 = 0; *(u32 *)(r10 - 4) = r1; r2 = r10;"
    "r2 += -4; r1 = %[arr] ll; call 1; if r0 == 0 goto +2; r0 += r6;"
    "r0 = *(u8 *)(r0 + 0); exit;" EXIT0)
