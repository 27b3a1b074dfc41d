/* harness.h - one program, two entries: the kernel's and eimc's.
 *
 * Each program in this directory defines `PROGRAM(mem)`, a computation on
 * HARNESS_LEN bytes of memory that returns a 64-bit value and may write
 * the memory. The same bytecode of that function runs
 *  - in the kernel, from `xdp_main` (BPF_PROG_TEST_RUN with the memory as
 *    the packet); XDP returns 32 bits, so the full 64-bit result is stored
 *    in the .bss variable `harness_result`, which kernel-run.c reads back;
 *  - natively, from `native_main`, which eimc-conformance --object calls
 *    with r1 = mem, r2 = len (the conformance ABI).
 * kernel-run.c loads only `xdp_main`. The computation is a static
 * non-inlined function, so it is one bpf-to-bpf callee in both.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define HARNESS_LEN 64

#define PROGRAM(mem)                                                           \
  static __attribute__((noinline)) __u64 harness_program(__u8 *mem);          \
  __u64 harness_result;                                                        \
  SEC("xdp") int xdp_main(struct xdp_md *ctx) {                                \
    __u8 *data = (__u8 *)(long)ctx->data;                                      \
    __u8 *end = (__u8 *)(long)ctx->data_end;                                   \
    if (data + HARNESS_LEN > end)                                              \
      return XDP_ABORTED;                                                      \
    harness_result = harness_program(data);                                    \
    return XDP_PASS;                                                           \
  }                                                                            \
  SEC("socket") __u64 native_main(__u8 *mem, __u64 len) {                     \
    if (len < HARNESS_LEN)                                                     \
      return 0;                                                                \
    return harness_program(mem);                                               \
  }                                                                            \
  char LICENSE[] SEC("license") = "GPL";                                       \
  static __attribute__((noinline)) __u64 harness_program(__u8 *mem)

/* Loads that the compiler cannot fold or merge. */
#define LOAD(type, mem, off) (*(volatile type *)((mem) + (off)))
#define STORE(type, mem, off, v) (*(volatile type *)((mem) + (off)) = (v))

#endif
