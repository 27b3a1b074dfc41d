/*===- tests/verifier/corpus/corpus.h - Shared maps and macros -----------===//
 *
 * Part of eimc. See docs/verifier.md, "Corpus".
 *
 *===----------------------------------------------------------------------===//
 *
 * Included by every corpus program: the maps the programs use (one of each
 * kind eimc implements), and macros that keep a program to one line so a
 * category file reads as a list of cases. ASM(name, body) declares a naked
 * uprobe program written in LLVM's BPF assembly (maps by %[name] operands);
 * PROG(name) opens a C one. Every object is GPL so the GPL-only helpers
 * (bpf_probe_read_user, ...) are available to the kernel's verifier too.
 *
 *===----------------------------------------------------------------------===*/

#ifndef EIMC_TESTS_VERIFIER_CORPUS_CORPUS_H
#define EIMC_TESTS_VERIFIER_CORPUS_CORPUS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct pt_regs;

/* 64-byte array values: offsets 0..63 are in bounds, 64 is not. */
struct value64 {
  __u64 w[8];
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, struct value64);
} arr SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u64);
  __type(value, __u64);
} hash SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} rb SEC(".maps");

char LICENSE[] SEC("license") = "GPL";

#define PROG(name) SEC("uprobe") int name(struct pt_regs *ctx)

/* clang emits a naked function's body verbatim: the program is exactly
 * this assembly (operands: [arr], [hash], [rb] name the maps). */
#define ASM(name, body)                                                        \
  SEC("uprobe") __attribute__((naked)) int name(void) {                        \
    asm volatile(body ::[arr] "i"(&arr), [hash] "i"(&hash), [rb] "i"(&rb)      \
                 : "memory");                                                  \
  }

/* A one-byte store at r10-64+r6, then exit 0: in bounds exactly when
 * r6 is in [-448, 64). Seven instructions, so "goto +7" jumps over it. */
#define STORE_AT_R6                                                            \
  "r2 = r10; r2 += -64; r2 += r6; r3 = 0; *(u8 *)(r2 + 0) = r3; r0 = 0; exit;"
#define EXIT0 "r0 = 0; exit"
/* r6 = the hook's first argument (pt_regs->di), unknown to any verifier. */
#define ARG_R6 "r6 = *(u64 *)(r1 + 112);"

/* The argument a hook sees in r1 (pt_regs->di), for data-dependent cases. */
#define ARG0(ctx) (((volatile __u64 *)(ctx))[14])

#endif
