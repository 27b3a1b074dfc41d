/* Category trap-sdiv (soundness trap): signed division and modulo
 * (-mcpu=v4) rounding towards zero, INT_MIN / -1, and the zero extension
 * of the 32-bit forms; the index they produce must be bounded correctly. */
#include "corpus.h"

ASM(tsd_neg_by_neg, "r6 = -200; r6 s/= -2;" STORE_AT_R6)
ASM(tsd_neg_by_neg_small_ok, "r6 = -60; r6 s/= -2;" STORE_AT_R6)
ASM(tsd_int_min_by_minus1, "r6 = -9223372036854775808 ll; r6 s/= -1;" STORE_AT_R6)
ASM(tsd_mod_negative_divisor_ok, "r6 = 100; r6 s%%= -7;" STORE_AT_R6)
ASM(tsd_mod_negative_dividend_ok, "r6 = -100; r6 s%%= 7;" STORE_AT_R6)
ASM(tsd_w_neg_by_neg, "w6 = -200; w6 s/= -2;" STORE_AT_R6)
ASM(tsd_w_result_zero_extended, "w6 = -100; w6 s/= 2;" STORE_AT_R6)
ASM(tsd_w_mod_minus1, "w6 = -1; w6 s%%= 2;" STORE_AT_R6)
ASM(tsd_arg_by_minus1_ok, ARG_R6 "r6 &= 63; r6 s/= -1;" STORE_AT_R6)
ASM(tsd_arg_half_ok, ARG_R6 "r6 &= 127; r6 s/= 2;" STORE_AT_R6)
ASM(tsd_arg_mod_ok, ARG_R6 "r6 &= 127; r6 s%%= -64;" STORE_AT_R6)
ASM(tsd_arg_unbounded, ARG_R6 "r6 s/= 3;" STORE_AT_R6)
