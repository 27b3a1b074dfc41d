/* Category shift-width: constant shift counts at or above the operand
 * width. The kernel: "invalid shift 64". */
#include "corpus.h"

ASM(sw_lsh64_by_64, "r0 = 1; r0 <<= 64; exit")
ASM(sw_rsh64_by_65, "r0 = 1; r0 >>= 65; exit")
ASM(sw_arsh64_by_100, "r0 = -1; r0 s>>= 100; exit")
ASM(sw_lsh32_by_32, "w0 = 1; w0 <<= 32; exit")
ASM(sw_rsh32_by_40, "w0 = 1; w0 >>= 40; exit")
ASM(sw_arsh32_by_32, "w0 = 1; w0 s>>= 32; exit")
ASM(sw_lsh64_negative, "r0 = 1; r0 <<= -1; exit")
ASM(sw_rsh32_negative, "w0 = 1; w0 >>= -2; exit")
ASM(sw_arsh32_by_63, "w0 = -8; w0 s>>= 63; exit")
ASM(sw_lsh64_after_valid, "r0 = 1; r0 <<= 63; r0 <<= 128; exit")
