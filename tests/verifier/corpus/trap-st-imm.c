/* Category trap-st-imm (soundness trap): a BPF_ST immediate is sign-extended
 * to the store's width (-16 stored as u64 is 0xfffffffffffffff0, not
 * 0xfffffff0). A verifier that zero-extends it thinks r6 >> 32 is 0. */
#include "corpus.h"

#define FILL_R6 "r6 = *(u64 *)(r10 - 8);"

ASM(ts_minus16_high_half, "*(u64 *)(r10 - 8) = -16;" FILL_R6 "r6 >>= 32;" STORE_AT_R6)
ASM(ts_minus1_shift_40, "*(u64 *)(r10 - 8) = -1;" FILL_R6 "r6 >>= 40;" STORE_AT_R6)
ASM(ts_positive_ok, "*(u64 *)(r10 - 8) = 5;" FILL_R6 "r6 >>= 32;" STORE_AT_R6)
ASM(ts_u32_store_ok,
    "*(u32 *)(r10 - 8) = -16; *(u32 *)(r10 - 4) = 0;" FILL_R6 "r6 >>= 32;" STORE_AT_R6)
ASM(ts_minus1_plus1_ok, "*(u64 *)(r10 - 8) = -1;" FILL_R6 "r6 += 1;" STORE_AT_R6)
ASM(ts_int_min_sign_bit_ok,
    "*(u64 *)(r10 - 8) = -2147483648;" FILL_R6 "r6 >>= 63;" STORE_AT_R6)
ASM(ts_negative_branch_ok,
    "*(u64 *)(r10 - 8) = -100;" FILL_R6 "if r6 s< 0 goto +7;" STORE_AT_R6 EXIT0)
ASM(ts_u16_minus1,
    "*(u16 *)(r10 - 8) = -1; *(u16 *)(r10 - 6) = 0; *(u32 *)(r10 - 4) = 0;"
    FILL_R6 STORE_AT_R6)
ASM(ts_u8_minus1, "*(u8 *)(r10 - 1) = -1; r6 = *(u8 *)(r10 - 1);" STORE_AT_R6)
ASM(ts_minus8_shift_60_ok, "*(u64 *)(r10 - 8) = -8;" FILL_R6 "r6 >>= 60;" STORE_AT_R6)
ASM(ts_minus8_shift_20, "*(u64 *)(r10 - 8) = -8;" FILL_R6 "r6 >>= 20;" STORE_AT_R6)
