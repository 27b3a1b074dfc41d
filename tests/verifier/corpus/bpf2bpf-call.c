/* Category bpf2bpf-call (accept side): calls to static functions, with
 * pointers to the caller's stack, map values and scalars crossing the
 * call, nested calls and callee-saved registers. */
#include "corpus.h"

static __noinline __u64 add3(__u64 a, __u64 b, __u64 c) { return a + b + c; }

static __noinline int zero(volatile __u8 *p, __u32 n) {
#pragma nounroll
  for (__u32 i = 0; i < n && i < 32; i++)
    p[i] = 0;
  return n;
}

static __noinline __u64 first(struct value64 *v) { return v ? v->w[0] : 0; }

static __noinline __u64 twice(__u64 x) { return add3(x, x, 0); }

static __noinline __u64 depth3(__u64 x) { return twice(x) + 1; }

static __noinline __u64 sum5(__u64 a, __u64 b, __u64 c, __u64 d, __u64 e) {
  return a + b + c + d + e;
}

PROG(bc_scalars) { return add3(ARG0(ctx), 2, 3); }

PROG(bc_stack_pointer) {
  volatile __u8 buf[32];
  zero(buf, 32);
  return buf[1];
}

PROG(bc_map_value) {
  __u32 k = 2;
  return first(bpf_map_lookup_elem(&arr, &k));
}

PROG(bc_nested) { return depth3(ARG0(ctx)); }

PROG(bc_five_args) { return sum5(1, 2, 3, 4, ARG0(ctx)); }

PROG(bc_callee_saved) {
  __u64 a = ARG0(ctx), b = a * 3;
  __u64 c = twice(a);
  return a + b + c;
}

PROG(bc_twice_in_a_row) { return twice(1) + twice(ARG0(ctx)); }

PROG(bc_stack_in_callee_frame) {
  volatile __u8 buf[8];
  return zero(buf, 8) + buf[0];
}

/* Assembly callees live in .text, where libbpf looks for subprograms. */
__attribute__((naked, noinline, used)) static void times2(void) {
  asm volatile("r0 = r1; r0 *= 2; exit");
}
__attribute__((naked, noinline, used)) static void clobbers_r6(void) {
  asm volatile("r6 = 100; r0 = r6; exit");
}

ASM(bc_asm_call_local, "r1 = 4; call times2; r0 += 1; exit")
ASM(bc_asm_r6_preserved, "r6 = 7; call clobbers_r6; r0 = r6; exit")
