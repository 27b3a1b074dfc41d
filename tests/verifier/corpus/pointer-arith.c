/* Category pointer-arith: arithmetic the kernel never allows on pointers,
 * privileged or not: multiplication, bitwise operations, 32-bit
 * arithmetic, negation, division. The kernel: "R1 pointer arithmetic with
 * *= operator prohibited", "R2 32-bit pointer arithmetic prohibited". */
#include "corpus.h"

ASM(pa_mul_stack, "r2 = r10; r2 *= 2; r0 = 0; exit")
ASM(pa_and_stack, "r2 = r10; r2 &= -8; r3 = 0; *(u64 *)(r2 - 8) = r3; r0 = 0; exit")
ASM(pa_or_ctx, "r1 |= 1; r0 = *(u64 *)(r1 + 0); exit")
ASM(pa_xor_ctx, "r1 ^= 8; r0 = *(u64 *)(r1 + 0); exit")
ASM(pa_alu32_add_stack, "r2 = r10; w2 += -8; r0 = 0; exit")
ASM(pa_neg_stack, "r2 = r10; r2 = -r2; r0 = 0; exit")
ASM(pa_div_ctx, "r1 /= 2; r0 = 0; exit")
ASM(pa_lsh_stack, "r2 = r10; r2 <<= 1; r0 = 0; exit")
ASM(pa_scalar_minus_pointer, "r2 = 100; r2 -= r10; r0 = 0; exit")
ASM(pa_map_value_mul,
    "r1 = 0; *(u32 *)(r10 - 4) = r1; r2 = r10; r2 += -4; r1 = %[arr] ll;"
    "call 1; if r0 == 0 goto +1; r0 *= 3; r0 = 0; exit")
