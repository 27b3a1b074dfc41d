/* Category helper-arg: helper arguments of the wrong kind or size. The
 * kernel: "R1 type=scalar expected=map_ptr", "invalid indirect read from
 * stack", "R2 min value is negative". */
#include "corpus.h"

ASM(ha_lookup_scalar_map, "r1 = 0; r2 = r10; r2 += -8; *(u64 *)(r10 - 8) = r1; call 1; r0 = 0; exit")
ASM(ha_lookup_null_key, "r1 = %[hash] ll; r2 = 0; call 1; r0 = 0; exit")
ASM(ha_lookup_uninit_key, "r1 = %[hash] ll; r2 = r10; r2 += -8; call 1; r0 = 0; exit")
ASM(ha_lookup_key_past_stack, "r1 = %[hash] ll; r2 = r10; r2 += -4; *(u32 *)(r10 - 4) = r2; call 1; r0 = 0; exit")
ASM(ha_update_ctx_as_map,
    "r6 = r1; r2 = 0; *(u64 *)(r10 - 8) = r2; r2 = r10; r2 += -8; r3 = r2;"
    "r4 = 0; r1 = r6; call 2; r0 = 0; exit")
ASM(ha_probe_read_negative_size,
    "r1 = r10; r1 += -16; r2 = -1; r3 = 0; call 112; r0 = 0; exit")
ASM(ha_probe_read_too_big,
    "r1 = r10; r1 += -16; r2 = 32; r3 = 0; call 112; r0 = 0; exit")
ASM(ha_comm_unbounded_size,
    "r2 = *(u64 *)(r1 + 112); r1 = r10; r1 += -16; call 16; r0 = 0; exit")
ASM(ha_ringbuf_output_scalar_data,
    "r1 = %[rb] ll; r2 = 4096; r3 = 8; r4 = 0; call 130; r0 = 0; exit")
ASM(ha_submit_stack_pointer,
    "r1 = r10; r1 += -8; r2 = 0; *(u64 *)(r10 - 8) = r2; call 132; r0 = 0; exit")
