/* Category pointer-leak (eimc stricter than root): pointers stored where
 * they outlive the program (map values, global data) or returned. Root
 * (CAP_PERFMON) accepts them; without it the kernel says "R0 leaks addr as
 * return value" or "R2 leaks addr into map". */
#include "corpus.h"

#define LOOKUP_ARR                                                             \
  "r1 = 0; *(u32 *)(r10 - 4) = r1; r2 = r10; r2 += -4; r1 = %[arr] ll;"        \
  "call 1; if r0 == 0 goto +2;"

ASM(pl_return_stack_pointer, "r0 = r10; exit")
ASM(pl_return_ctx, "r0 = r1; exit")
ASM(pl_stack_pointer_into_map, LOOKUP_ARR "*(u64 *)(r0 + 0) = r10; r0 = 0; exit")
ASM(pl_ctx_into_map, "r6 = r1;" LOOKUP_ARR "*(u64 *)(r0 + 8) = r6; r0 = 0; exit")
ASM(pl_value_pointer_into_itself, LOOKUP_ARR "*(u64 *)(r0 + 16) = r0; r0 = 0; exit")
ASM(pl_return_map_value, LOOKUP_ARR "r0 += 8; exit; r0 = 0; exit")
ASM(pl_map_pointer_into_value,
    "r6 = %[hash] ll;" LOOKUP_ARR "*(u64 *)(r0 + 0) = r6; r0 = 0; exit")
ASM(pl_update_with_pointer_value,
    "r1 = 1; *(u64 *)(r10 - 8) = r1; *(u64 *)(r10 - 16) = r10;"
    "r1 = %[hash] ll; r2 = r10; r2 += -8; r3 = r10; r3 += -16; r4 = 0;"
    "call 2; r0 = 0; exit")
ASM(pl_return_offset_stack_pointer, "r0 = r10; r0 += -64; exit")
ASM(pl_xadd_pointer_into_map,
    LOOKUP_ARR "r1 = r10; lock *(u64 *)(r0 + 0) += r1; r0 = 0; exit")
