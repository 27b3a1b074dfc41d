/* Category accept-basic (accept side): the everyday shapes of a uprobe
 * extension: context reads, the stack, helpers with stack buffers, atomic
 * updates, spills and fills. */
#include "corpus.h"

PROG(ab_return_arg) { return ARG0(ctx) + 1; }

PROG(ab_all_args) {
  volatile __u64 *r = (volatile __u64 *)ctx;
  return r[14] + r[13] + r[12] + r[11] + r[9] + r[8]; /* di si dx cx r8 r9 */
}

PROG(ab_pid_uid_time) {
  return bpf_get_current_pid_tgid() ^ bpf_get_current_uid_gid() ^
         bpf_ktime_get_ns();
}

PROG(ab_comm) {
  char comm[16];
  bpf_get_current_comm(comm, sizeof comm);
  return comm[0];
}

PROG(ab_probe_read_user) {
  __u64 v = 0;
  bpf_probe_read_user(&v, sizeof v, (void *)ARG0(ctx));
  return v;
}

PROG(ab_probe_read_user_str) {
  char s[32];
  long n = bpf_probe_read_user_str(s, sizeof s, (void *)ARG0(ctx));
  return n > 0 ? s[0] : 0;
}

PROG(ab_random_cpu) { return bpf_get_prandom_u32() + bpf_get_smp_processor_id(); }

PROG(ab_stack_struct) {
  struct {
    __u64 a;
    __u32 b;
    __u16 c;
    __u8 d, e;
  } s = {ARG0(ctx), 2, 3, 4, 5};
  volatile __u8 *p = (volatile __u8 *)&s;
  return p[0] + p[8] + p[12] + p[14] + p[15];
}

ASM(ab_asm_spill_fill_pointer,
    "*(u64 *)(r10 - 8) = r1; r1 = 0; r1 = *(u64 *)(r10 - 8); r0 = *(u64 *)(r1 + 112); exit")
ASM(ab_asm_atomics,
    "r1 = 0; *(u64 *)(r10 - 8) = r1; r1 = 5; lock *(u64 *)(r10 - 8) += r1;"
    "r1 = 2; r1 = atomic_fetch_add((u64 *)(r10 - 8), r1);"
    "r0 = *(u64 *)(r10 - 8); exit")
ASM(ab_asm_jmp32_bound,
    ARG_R6 "w6 &= 63; if w6 > 63 goto +7;" STORE_AT_R6 EXIT0)
