/* Category ringbuf-leak: a reservation not released on every path, released
 * twice, or used after release. The kernel: "Unreleased reference id=2
 * alloc_insn=3", "BPF_EXIT instruction ... would lead to reference leak". */
#include "corpus.h"

#define RESERVE "r1 = %[rb] ll; r2 = 16; r3 = 0; call 131;"

ASM(rl_never_released, RESERVE "r0 = 0; exit")
ASM(rl_checked_not_released, RESERVE "if r0 == 0 goto +1; r0 = 0; exit")
ASM(rl_written_not_released,
    RESERVE "if r0 == 0 goto +2; r1 = 7; *(u64 *)(r0 + 0) = r1; r0 = 0; exit")
ASM(rl_released_on_one_path,
    RESERVE "if r0 == 0 goto +6; r6 = r0; r7 = *(u64 *)(r6 + 0);"
    "if r7 > 3 goto +3; r1 = r6; r2 = 0; call 132; r0 = 0; exit")
ASM(rl_double_submit,
    RESERVE "if r0 == 0 goto +7; r6 = r0; r1 = r0; r2 = 0; call 132;"
    "r1 = r6; r2 = 0; call 132; r0 = 0; exit")
ASM(rl_use_after_submit,
    RESERVE "if r0 == 0 goto +5; r6 = r0; r1 = r0; r2 = 0; call 132;"
    "r0 = *(u64 *)(r6 + 0); exit")
ASM(rl_submit_then_discard,
    RESERVE "if r0 == 0 goto +7; r6 = r0; r1 = r0; r2 = 0; call 132;"
    "r1 = r6; r2 = 0; call 133; r0 = 0; exit")

PROG(rl_c_early_return) {
  __u64 *e = bpf_ringbuf_reserve(&rb, 8, 0);
  if (!e)
    return 0;
  if (ARG0(ctx) & 1)
    return 1; /* leaks e */
  *e = ARG0(ctx);
  bpf_ringbuf_submit(e, 0);
  return 0;
}

PROG(rl_c_two_reservations) {
  __u64 *a = bpf_ringbuf_reserve(&rb, 8, 0);
  __u64 *b = bpf_ringbuf_reserve(&rb, 8, 0);
  if (a) {
    *a = 1;
    bpf_ringbuf_submit(a, 0);
  }
  if (b)
    *b = 2; /* never released */
  return 0;
}

PROG(rl_c_pointer_past_reservation) {
  __u64 *e = bpf_ringbuf_reserve(&rb, 16, 0);
  if (!e)
    return 0;
  ((volatile __u64 *)e)[2] = 1; /* bytes 16..23 of 16 */
  bpf_ringbuf_submit(e, 0);
  return 0;
}
