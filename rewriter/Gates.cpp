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

} // namespace eimc::rewriter
