//===- rewriter/Gates.cpp - ERIM-style PKRU gates -------------------------===//
//
// Part of eimc. See docs/security.md.
//
//===----------------------------------------------------------------------===//
//
// The code that switches the extension-state protection key (key 1, see
// runtime-lib/src/mpk.c) in each trampoline, following ERIM (Vahldiek-
// Oberwagner et al., USENIX Security 2019):
//
//   open:   [if the gate page says MPK is active]
//           xor ecx; rdpkru; and eax, ~(AD|WD of key 1); xor ecx; xor edx;
//           wrpkru
//   close:  [if the gate page says MPK is active]
//    again: xor ecx; rdpkru; or eax, AD|WD; xor ecx; xor edx; wrpkru
//           xor ecx; rdpkru; and eax, AD|WD; cmp eax, AD|WD; jne again
//
// Why this shape: WRPKRU writes whatever EAX holds, so host code that jumps
// straight to a gate's WRPKRU (a corrupted function pointer, a gadget)
// could load any PKRU. ECX and EDX must be zero or WRPKRU faults (#GP), so
// they are cleared right before it and a jump past the clearing with
// hostile values faults. The close gate re-reads PKRU after its WRPKRU and
// loops until the key is revoked, so a jump to its WRPKRU with an "open"
// EAX revokes anyway before any host code runs. A jump into the open gate
// cannot reach host code either: what follows it is the extension run and
// then the whole close gate. The masks are immediates: nothing writable
// decides what a gate grants. Only our key's bits change: a host that uses
// protection keys of its own keeps its settings.
//
// Under `prefer` the gates first test the `active` word of the runtime's
// gate page (read-only once the runtime sealed it), since WRPKRU raises
// #UD on a CPU or kernel without PKU. Under `require` the runtime has
// exited 69 unless MPK works, so the gates switch unconditionally.
//
// Host-function calls (B3, docs/capabilities.md) leave the extension for
// host code, so they pass a gate too: compiled code calls `eim_hfunc_<name>`
// and, unless isolation is off, that symbol is a stub placed with the
// trampolines (hostCallStub()):
//
//   push the 6 argument registers
//   call eim_rt_hcall_arm(&return address)   key still granted: records
//                               the return address and where it lies
//   pop r9, r8; close gate (checked); pop rcx, rdx, rsi, rdi
//   sub rsp, 8                  16-byte aligned at the call (entry: 8 mod 16)
//   call <host function>        rdi, rsi, rdx, rcx, r8, r9 as the extension
//   add rsp, 8                  set them (rax is not an argument: no
//   push rax; push rdx          variadic host functions), result in rax:rdx
//   open gate
//   rcx = eim_rt_hcall_take(&return address)   0 unless recorded there
//   0? revoke, ud2
//   pop rdx; pop rax; drop the return address; jmp *rcx
//
// Why the record: in a trampoline the open gate is followed by the
// extension run and then the close gate, so a jump into it cannot reach
// host code with the key granted. Here the open gate is followed by a
// return, and a jump into it (a corrupted host function pointer) must not
// return anywhere with the key granted. A range check ("is the return
// address in eimc's code?") is not enough: extensions run on the host's
// stack, so return addresses into programs and the runtime stay behind in
// its dead slots, and a program's code after such a call site ends in a
// `ret` to whatever follows (tests/lit/isolation/host-call-stale.test).
// The record lives in the runtime's key-protected .bss, per thread
// (runtime-lib/src/reentrancy.c): host code cannot forge it, so the check
// passes only while a host call is really in progress on this thread with
// exactly that stack pointer, and the stub then returns where that call
// would have. The jump goes through the checked value in a register:
// nothing re-reads the host-writable stack between check and transfer.
// LLVM may turn a program's last call into a tail call to the stub; the
// recorded return address is then the trampoline's, which is just as
// good.
//
// A nested hook reached from the host function (the function calls, or
// is, a hooked function) now runs its trampoline with the key closed, as
// from any host code: the trampoline opens, sees this thread already runs
// an extension, counts the skip and closes again, and the host function
// continues; the stub then reopens for the calling extension.
//
// RDPKRU/WRPKRU are written as bytes (0f 01 ee / 0f 01 ef): the assembler
// then needs no PKU feature flag, and the bytes are what PkruScan.cpp
// looks for.
//
//===----------------------------------------------------------------------===//

#include "Gates.h"

#include "eim_state.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cassert>

using namespace llvm;

namespace eimc::rewriter {

namespace {
constexpr const char *Rdpkru = ".byte 0x0f, 0x01, 0xee # rdpkru";
constexpr const char *Wrpkru = ".byte 0x0f, 0x01, 0xef # wrpkru";

class Lines {
public:
  void operator()(const Twine &text) { OS << text << "\n"; }
  std::string take() { return std::move(Text); }

private:
  std::string Text;
  raw_string_ostream OS{Text};
};

/// The skip test of a `prefer` gate: nothing to switch without MPK.
void skipUnlessActive(Lines &line, IsolationMode mode, StringRef done) {
  if (mode != IsolationMode::Prefer)
    return;
  // eim_mpk_gate.active is the page's first word.
  line("cmpl $0, eim_mpk_gate(%rip)");
  line("je " + done);
}
} // namespace

std::string openGate(IsolationMode mode, StringRef label) {
  if (mode == IsolationMode::Off)
    return "";
  Lines line;
  std::string done = (label + "_opened").str();
  skipUnlessActive(line, mode, done);
  line("xorl %ecx, %ecx");
  line(Rdpkru);
  line("andl $" + Twine(~EIM_MPK_CLOSED_BITS) + ", %eax");
  line("xorl %ecx, %ecx");
  line("xorl %edx, %edx");
  line(Wrpkru);
  line(done + ":");
  return line.take();
}

std::string closeGate(IsolationMode mode, StringRef label) {
  if (mode == IsolationMode::Off)
    return "";
  Lines line;
  std::string again = (label + "_revoke").str();
  std::string done = (label + "_closed").str();
  skipUnlessActive(line, mode, done);
  line(again + ":");
  line("xorl %ecx, %ecx");
  line(Rdpkru);
  line("orl $" + Twine(EIM_MPK_CLOSED_BITS) + ", %eax");
  line("xorl %ecx, %ecx");
  line("xorl %edx, %edx");
  line(Wrpkru);
  // The check: a jump to the WRPKRU above with an open EAX lands here.
  line("xorl %ecx, %ecx");
  line(Rdpkru);
  line("andl $" + Twine(EIM_MPK_CLOSED_BITS) + ", %eax");
  line("cmpl $" + Twine(EIM_MPK_CLOSED_BITS) + ", %eax");
  line("jne " + again);
  line(done + ":");
  return line.take();
}

std::string hostCallTarget(StringRef stub) { return (stub + ".host").str(); }

std::string hostCallStub(IsolationMode mode, StringRef stub, StringRef label) {
  assert(mode != IsolationMode::Off && "no stubs under isolation: off");
  Lines line;
  std::string bad = (label + "_bad").str();
  // Record the extension's return address and %rsp while the key is still
  // granted; the six argument registers survive the runtime call.
  static const char *const Args[] = {"rdi", "rsi", "rdx", "rcx", "r8", "r9"};
  for (const char *reg : Args)
    line(Twine("pushq %") + reg);
  line("leaq 48(%rsp), %rdi");
  line("subq $8, %rsp");
  line("call eim_rt_hcall_arm");
  line("addq $8, %rsp");
  // The gate clobbers only eax, ecx and edx.
  line("popq %r9");
  line("popq %r8");
  line(closeGate(mode, (label + "_c").str()));
  line("popq %rcx");
  line("popq %rdx");
  line("popq %rsi");
  line("popq %rdi");
  line("subq $8, %rsp");
  line("call \"" + hostCallTarget(stub) + "\"");
  line("addq $8, %rsp");
  line("pushq %rax");
  line("pushq %rdx");
  line(openGate(mode, (label + "_o").str()));
  // The check against the record (key-protected, so not host-writable):
  // the address of the extension's return address, above the two saved
  // registers, must be where it was recorded and hold what was recorded.
  line("leaq 16(%rsp), %rdi");
  line("subq $8, %rsp");
  line("call eim_rt_hcall_take");
  line("addq $8, %rsp");
  line("testq %rax, %rax");
  line("jz " + bad);
  // Jump through the checked value: nothing re-reads the host's stack
  // between the check and the transfer.
  line("movq %rax, %rcx");
  line("popq %rdx");
  line("popq %rax");
  line("addq $8, %rsp");
  line("jmpq *%rcx");
  line(bad + ":");
  line(closeGate(mode, (label + "_b").str()));
  line("ud2");
  return line.take();
}

void addHostCallGate(RewritePlan &plan, StringRef stub, uint64_t address) {
  plan.hostCallGates.insert(stub.str());
  plan.hostSymbols[hostCallTarget(stub)] = address;
}

} // namespace eimc::rewriter
