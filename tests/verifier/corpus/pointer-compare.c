/* Category pointer-compare (eimc stricter than root): comparisons of
 * pointers other than a null check. Root accepts them; without
 * CAP_PERFMON the kernel says "R1 pointer comparison prohibited". */
#include "corpus.h"

ASM(pc_stack_vs_stack, "r1 = r10; r2 = r10; r2 += -8; r0 = 0; if r1 > r2 goto +1; r0 = 1; exit")
ASM(pc_stack_vs_const, "r1 = r10; r0 = 0; if r1 == 4096 goto +1; r0 = 1; exit")
ASM(pc_ctx_vs_const, "r0 = 0; if r1 != 12 goto +1; r0 = 1; exit")
ASM(pc_ctx_vs_stack, "r0 = 0; if r1 < r10 goto +1; r0 = 1; exit")
ASM(pc_stack_vs_scalar, "call 7; r1 = r10; if r1 s> r0 goto +1; r0 = 1; r0 = 0; exit")
ASM(pc_jmp32_stack, "r1 = r10; r0 = 0; if w1 > 7 goto +1; r0 = 1; exit")
ASM(pc_value_vs_stack,
    "r1 = 0; *(u32 *)(r10 - 4) = r1; r2 = r10; r2 += -4; r1 = %[arr] ll;"
    "call 1; if r0 == 0 goto +2; if r0 > r10 goto +1; r0 = 0; r0 = 0; exit")
ASM(pc_value_vs_const,
    "r1 = 0; *(u32 *)(r10 - 4) = r1; r2 = r10; r2 += -4; r1 = %[arr] ll;"
    "call 1; if r0 == 0 goto +2; if r0 == 64 goto +1; r0 = 0; r0 = 0; exit")
ASM(pc_map_pointer_vs_zero, "r1 = %[arr] ll; r0 = 0; if r1 != 0 goto +1; r0 = 1; exit")
ASM(pc_stack_set_flag, "r1 = r10; r1 += -8; r0 = 0; if r1 & 7 goto +1; r0 = 1; exit")
