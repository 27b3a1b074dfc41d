/* Category trap-ctx-straddle (soundness trap): context loads that straddle
 * two fields or the end of struct pt_regs must not be typed as plain
 * numbers: the kernel refuses every one that is not inside one naturally
 * aligned field. */
#include "corpus.h"

ASM(tc_u64_over_end, "r0 = *(u64 *)(r1 + 164); exit")
ASM(tc_u32_over_end, "r0 = *(u32 *)(r1 + 166); exit")
ASM(tc_u16_over_end, "r0 = *(u16 *)(r1 + 167); exit")
ASM(tc_u64_two_fields, "r0 = *(u64 *)(r1 + 4); exit")
ASM(tc_u64_two_fields_late, "r0 = *(u64 *)(r1 + 108); exit")
ASM(tc_u32_two_fields, "r0 = *(u32 *)(r1 + 6); exit")
ASM(tc_u16_two_fields, "r0 = *(u16 *)(r1 + 7); exit")
ASM(tc_last_byte_ok, "r0 = *(u8 *)(r1 + 167); exit")
ASM(tc_last_u32_ok, "r0 = *(u32 *)(r1 + 164); exit")
ASM(tc_last_u16_ok, "r0 = *(u16 *)(r1 + 166); exit")
ASM(tc_shifted_base, "r1 += 4; r0 = *(u64 *)(r1 + 0); exit")
ASM(tc_shifted_base_ok, "r1 += 8; r0 = *(u64 *)(r1 + 152); exit")
