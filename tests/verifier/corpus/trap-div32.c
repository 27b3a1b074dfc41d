/* Category trap-div32 (soundness trap): a 32-bit division or modulo looks
 * at the low 32 bits of the divisor only; 0x100000000 is a zero divisor
 * (div gives 0, mod leaves the dividend). A verifier that tests the 64-bit
 * divisor for zero gets the result wrong. */
#include "corpus.h"

ASM(td_mod_by_high_only, "r6 = 1000; r7 = 0x100000000 ll; w6 %%= w7;" STORE_AT_R6)
ASM(td_mod_by_high_only_ok, "r6 = 40; r7 = 0x100000000 ll; w6 %%= w7;" STORE_AT_R6)
ASM(td_div_by_high_plus_1, "r6 = 100; r7 = 0x100000001 ll; w6 /= w7;" STORE_AT_R6)
ASM(td_div_by_high_plus_2_ok, "r6 = 100; r7 = 0x100000002 ll; w6 /= w7;" STORE_AT_R6)
ASM(td_div_by_high_only_ok, "r6 = 100; r7 = 0x100000000 ll; w6 /= w7;" STORE_AT_R6)
ASM(td_arg_mod_64_ok, ARG_R6 "r7 = 0x100000040 ll; w6 %%= w7;" STORE_AT_R6)
ASM(td_arg_mod_zero_low, ARG_R6 "r7 = 0x100000000 ll; w6 %%= w7;" STORE_AT_R6)
ASM(td_arg_div_2_26_ok, ARG_R6 "r7 = 0x104000000 ll; w6 /= w7;" STORE_AT_R6)
ASM(td_checked_64_mod,
    "r7 = *(u64 *)(r1 + 112); if r7 == 0 goto +9; r6 = 1000; w6 %%= w7;" STORE_AT_R6 EXIT0)
ASM(td_checked_64_div,
    "r7 = *(u64 *)(r1 + 112); if r7 == 0 goto +9; r6 = 1000; w6 /= w7;" STORE_AT_R6 EXIT0)
