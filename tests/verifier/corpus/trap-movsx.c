/* Category trap-movsx (soundness trap): a 32-bit sign-extending move
 * zero-extends its result to 64 bits, also when the extension changes
 * nothing; a verifier that sign-extends to 64 bits (or skips the zero
 * extension) gets the index wrong. */
#include "corpus.h"

ASM(tm_s8_of_255_plus_1, "r6 = 255; w6 = (s8)w6; r6 += 1;" STORE_AT_R6)
ASM(tm_s16_of_8000_plus, "r6 = 0x8000; w6 = (s16)w6; r6 += 0x8000;" STORE_AT_R6)
ASM(tm_s8_of_80_plus_128, "r6 = 0x80; w6 = (s8)w6; r6 += 128;" STORE_AT_R6)
ASM(tm_s16_shifted, "r6 = 0xffff; w6 = (s16)w6; r6 >>= 16;" STORE_AT_R6)
ASM(tm_64bit_s8_ok, "r6 = 0xff; r6 = (s8)r6; r6 += 1;" STORE_AT_R6)
ASM(tm_noop_clears_high_ok, "r6 = 0x100000005 ll; w6 = (s8)w6;" STORE_AT_R6)
ASM(tm_64bit_noop_ok, "r6 = 0x100000005 ll; r6 = (s8)r6;" STORE_AT_R6)
ASM(tm_small_positive_ok, "r6 = 0x3f; w6 = (s8)w6;" STORE_AT_R6)
ASM(tm_arg_checked_64_ok, ARG_R6 "w6 = (s8)w6; if r6 > 63 goto +7;" STORE_AT_R6 EXIT0)
ASM(tm_arg_checked_signed32,
    ARG_R6 "w6 = (s8)w6; if w6 s> 63 goto +8; if w6 s< 0 goto +7;" STORE_AT_R6 EXIT0)
ASM(tm_arg_s32_low_check, ARG_R6 "r6 = (s32)r6; if w6 > 63 goto +7;" STORE_AT_R6 EXIT0)
ASM(tm_arg_s8_unchecked, ARG_R6 "w6 = (s8)w6;" STORE_AT_R6)
