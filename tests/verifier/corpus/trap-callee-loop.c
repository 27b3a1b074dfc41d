/* Category trap-callee-loop (soundness trap): a loop inside a called
 * function must be followed around its back edge; a verifier that
 * analyses the callee's body once sees only the first iteration. */
#include "corpus.h"

static __noinline int fill(volatile __u8 *buf, __u32 n) {
#pragma nounroll
  for (__u32 i = 0; i < n; i++)
    buf[i] = i;
  return 0;
}

static __noinline int fillValue(volatile __u64 *v, __u32 n) {
#pragma nounroll
  for (__u32 i = 0; i < n; i++)
    v[i] = i;
  return 0;
}

static __noinline int outer(volatile __u8 *buf, __u32 n) {
  return fill(buf, n) + 1;
}

PROG(tcl_fill_past_buffer) {
  volatile __u8 buf[16];
  fill(buf, 32);
  return buf[0];
}

PROG(tcl_fill_exact_ok) {
  volatile __u8 buf[16];
  fill(buf, 16);
  return buf[0];
}

PROG(tcl_fill_off_by_one) {
  volatile __u8 buf[16];
  fill(buf, 17);
  return buf[0];
}

PROG(tcl_fill_from_arg) {
  volatile __u8 buf[16];
  fill(buf, ARG0(ctx));
  return buf[0];
}

PROG(tcl_value_nine_words) {
  __u32 k = 0;
  struct value64 *v = bpf_map_lookup_elem(&arr, &k);
  if (!v)
    return 0;
  return fillValue(v->w, 9);
}

PROG(tcl_value_eight_words_ok) {
  __u32 k = 0;
  struct value64 *v = bpf_map_lookup_elem(&arr, &k);
  if (!v)
    return 0;
  return fillValue(v->w, 8);
}

PROG(tcl_nested_past_buffer) {
  volatile __u8 buf[8];
  return outer(buf, 12) + buf[0];
}

PROG(tcl_nested_ok) {
  volatile __u8 buf[8];
  return outer(buf, 8) + buf[0];
}

/* Assembly callees (in .text, where libbpf looks for subprograms). The
 * first returns 80; one pass over its loop would say 8. */
__attribute__((naked, noinline, used)) static void loop_to_80(void) {
  asm volatile("r0 = 0; r0 += 8; if r0 < 80 goto -2; exit");
}
__attribute__((naked, noinline, used)) static void loop_to_56(void) {
  asm volatile("r0 = 0; r0 += 8; if r0 < 56 goto -2; exit");
}
__attribute__((naked, noinline, used)) static void loop_forever(void) {
  asm volatile("r0 = 0; r0 += 0; if r0 == 0 goto -2; exit");
}

ASM(tcl_asm_return_after_loop, "call loop_to_80; r6 = r0;" STORE_AT_R6)
ASM(tcl_asm_return_after_loop_ok, "call loop_to_56; r6 = r0;" STORE_AT_R6)
ASM(tcl_asm_infinite_callee, "call loop_forever; r0 = 0; exit")
