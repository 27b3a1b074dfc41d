/* Category unbounded-loop: loops the kernel cannot show to end ("infinite
 * loop detected at insn 1", or "BPF program is too large" once a loop
 * driven by unknown input exhausts the 1M-instruction budget). */
#include "corpus.h"

ASM(ul_self_jump, "r0 = 0; goto -1; exit")
ASM(ul_back_edge_no_change, "r0 = 0; r1 = 1; if r1 != 0 goto -1; exit")
ASM(ul_counter_never_steps, "r0 = 0; r1 = 0; r0 += 1; if r1 < 10 goto -2; exit")
ASM(ul_counter_moves_away, "r0 = 0; r1 = 10; r1 += 1; if r1 != 0 goto -2; exit")
ASM(ul_unknown_bound,
    "r6 = *(u64 *)(r1 + 112); r0 = 0; r0 += 1; if r0 != r6 goto -2; exit")
ASM(ul_down_from_unknown,
    "r6 = *(u64 *)(r1 + 112); r0 = 0; r6 += -1; if r6 != 0 goto -2; exit")
ASM(ul_reset_in_body,
    "r0 = 0; r1 = 0; r1 += 1; if r1 > 5 goto +1; goto -3; r1 = 0; goto -5; exit")
ASM(ul_while_true_helper, "call 5; goto -2; exit")

PROG(ul_c_until_arg) {
  __u64 n = ARG0(ctx), s = 0;
  for (volatile __u64 i = 0; i != n; i++)
    s += i;
  return s;
}

PROG(ul_c_collatz) {
  __u64 x = ARG0(ctx) | 1, steps = 0;
  while (x != 1) {
    x = (x & 1) ? 3 * x + 1 : x / 2;
    steps++;
  }
  return steps;
}
