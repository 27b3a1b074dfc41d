/* Category uninit-register: reads of registers never written (r2-r9 at
 * entry; r1-r5 after a call). The kernel: "R2 !read_ok". */
#include "corpus.h"

ASM(ur_return_r2, "r0 = r2; exit")
ASM(ur_exit_without_r0, "exit")
ASM(ur_add_r6, "r0 = 1; r0 += r6; exit")
ASM(ur_store_r9, "*(u64 *)(r10 - 8) = r9; r0 = 0; exit")
ASM(ur_jump_on_r3, "r0 = 0; if r3 > 4 goto +1; r0 = 1; exit")
ASM(ur_r1_after_call, "call 5; r0 = r1; exit")
ASM(ur_r5_after_call, "call 14; r0 += r5; exit")
ASM(ur_one_path, "r0 = *(u64 *)(r1 + 112); if r0 > 3 goto +1; r7 = 1; r0 = r7; exit")
ASM(ur_pointer_from_r4, "r0 = *(u64 *)(r4 + 0); exit")
ASM(ur_helper_arg, "r1 = r10; r1 += -8; call 112; r0 = 0; exit")
