/* Category invalid-jump: control flow the kernel's CFG check refuses: jumps
 * out of the program or into the second half of an lddw, a program that
 * falls off its end, unreachable instructions. The kernel: "jump out of
 * range from insn 1 to 9", "unreachable insn 2". */
#include "corpus.h"

ASM(ij_past_end, "r0 = 0; goto +5; exit")
ASM(ij_before_start, "r0 = 0; goto -3; exit")
ASM(ij_conditional_past_end, "r0 = *(u64 *)(r1 + 112); if r0 > 2 goto +40; exit")
ASM(ij_into_lddw, "r0 = 0; goto +1; r1 = 0x100000000 ll; exit")
ASM(ij_conditional_into_lddw, "r0 = *(u64 *)(r1 + 112); if r0 == 0 goto +1; r2 = 1 ll; exit")
ASM(ij_falls_off_end, "r0 = 0; exit; r0 = 1")
ASM(ij_unreachable_tail, "r0 = 0; exit; r0 = 1; exit")
ASM(ij_unreachable_island, "r0 = 0; goto +2; r0 = 1; exit; exit")
ASM(ij_conditional_falls_off,
    "r0 = *(u64 *)(r1 + 112); if r0 > 2 goto +1; exit; r0 = 0")
ASM(ij_back_into_lddw, "r1 = 0x100000000 ll; r0 = 0; if r0 == 0 goto -3; exit")
