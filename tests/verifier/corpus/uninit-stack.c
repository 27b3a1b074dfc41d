/* Category uninit-stack (eimc stricter than root): stack bytes read before
 * they are written. Root (CAP_PERFMON) accepts them; without CAP_PERFMON
 * the kernel says "invalid read from stack R10 off=-8 size=8", as eimc
 * does (docs/verifier.md). No ctx reads, so the same programs also load as
 * socket filters. */
#include "corpus.h"

ASM(us_never_written, "r0 = *(u64 *)(r10 - 8); exit")
ASM(us_half_written, "r1 = 0; *(u32 *)(r10 - 8) = r1; r0 = *(u64 *)(r10 - 8); exit")
ASM(us_wrong_slot, "r1 = 0; *(u64 *)(r10 - 16) = r1; r0 = *(u64 *)(r10 - 8); exit")
ASM(us_byte_below_written, "r1 = 0; *(u64 *)(r10 - 8) = r1; r0 = *(u8 *)(r10 - 9); exit")
ASM(us_one_path,
    "call 7; if r0 > 100 goto +2; r1 = 1; *(u64 *)(r10 - 8) = r1;"
    "r0 = *(u64 *)(r10 - 8); exit")
ASM(us_lookup_key_uninit,
    "r1 = %[hash] ll; r2 = r10; r2 += -8; call 1; r0 = 0; exit")
ASM(us_through_pointer, "r2 = r10; r2 += -32; r0 = *(u16 *)(r2 + 6); exit")
ASM(us_deep_slot, "r0 = *(u64 *)(r10 - 512); exit")

PROG(us_c_volatile_buf) {
  volatile char buf[8];
  return buf[3];
}

PROG(us_c_partial_struct) {
  volatile struct {
    __u32 a, b;
  } s;
  s.a = 1;
  return s.a + s.b;
}
