/*===- bpf-object/target/TargetTypes.c - eimc's target BTF -----------------===
 *
 * Part of eimc. See bpf-object/CoreRelocations.cpp.
 *
 *===----------------------------------------------------------------------===
 *
 * The types CO-RE relocations are resolved against: the contexts eimc's
 * trampolines actually build, in their exact layout. This plays the role
 * /sys/kernel/btf/vmlinux plays for libbpf. It is compiled with
 * `clang -target bpf -g` while eimc is built; only its .BTF section is
 * used (embedded as eimc_target_btf).
 *
 * struct pt_regs is the x86-64 kernel layout (arch/x86/include/asm/
 * ptrace.h), 21 unsigned longs = 168 bytes; the rewriter's trampolines
 * push exactly this frame, so PT_REGS_RC(ctx) (ctx->ax, offset 80) and
 * PT_REGS_PARM1(ctx) (ctx->di, offset 112) read the saved registers.
 *
 *===----------------------------------------------------------------------===*/

struct pt_regs {
  unsigned long r15;
  unsigned long r14;
  unsigned long r13;
  unsigned long r12;
  unsigned long bp;
  unsigned long bx;
  unsigned long r11;
  unsigned long r10;
  unsigned long r9;
  unsigned long r8;
  unsigned long ax;
  unsigned long cx;
  unsigned long dx;
  unsigned long si;
  unsigned long di;
  unsigned long orig_ax;
  unsigned long ip;
  unsigned long cs;
  unsigned long flags;
  unsigned long sp;
  unsigned long ss;
};

_Static_assert(sizeof(struct pt_regs) == 168, "trampoline frame size");

/* BTF only records types that code uses: this function keeps pt_regs. */
unsigned long eimc_target_types(struct pt_regs *regs) { return regs->ax; }
