//===- rewriter/X86Decoder.h - x86-64 instruction decoding ------*- C++ -*-===//
//
// Part of eimc. See eimc/Rewriter/Rewriter.h.
//
//===----------------------------------------------------------------------===//
//
// The rewriter's view of one x86-64 instruction: exactly what relocating it
// into a trampoline needs (length, where a RIP-relative displacement sits,
// how many immediate bytes follow it, and whether and where it branches).
// X86Decoder.cpp is the only file that sees capstone (style R12).
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_REWRITER_X86DECODER_H
#define EIMC_REWRITER_X86DECODER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace eimc::rewriter {

/// How an instruction transfers control, as far as stealing it matters.
enum class BranchKind {
  None,  ///< falls through
  Jmp,   ///< unconditional jmp (direct if target is set, else indirect)
  Jcc,   ///< conditional jump with a rel8/rel32 form (jcc rel32 exists)
  Call,  ///< call (direct if target is set, else indirect)
  Ret,   ///< ends the function: ret, retf, iret, ud2, hlt, int3
  Other, ///< control flow we do not relocate: loop*, jrcxz, xbegin, int n
};

struct DecodedInsn {
  uint64_t address = 0;
  std::vector<uint8_t> bytes;
  std::string text; ///< "cmpl $-1, 0x775f9(%rip)"
  bool isRipRelative = false;
  unsigned dispOffset = 0; ///< offset of the disp32 when RIP-relative
  unsigned immSize = 0;    ///< immediate bytes after the displacement
  BranchKind branch = BranchKind::None;
  std::optional<uint64_t> target; ///< direct branch target
  /// Condition code (low nibble of 0x7X / 0F 8X) of a Jcc.
  unsigned condition = 0;
  /// Absolute address a RIP-relative operand refers to.
  uint64_t ripTarget = 0;
  /// Offset of the ModRM byte, 0 if none: an indirect call (FF /2) becomes
  /// the equivalent jmp (FF /4) by rewriting its reg field.
  unsigned modrmOffset = 0;
  /// An operand reads %rsp (`call *8(%rsp)`): its value changes once
  /// anything is pushed before the instruction runs.
  bool readsStackPointer = false;

  unsigned length() const { return static_cast<unsigned>(bytes.size()); }
};

/// A capstone handle in 64-bit mode with details on. Move-only.
class X86Decoder {
public:
  static llvm::Expected<X86Decoder> create();
  /// Decodes the instruction at the start of \p code, located at
  /// \p address. Fails if the bytes do not form a valid instruction.
  llvm::Expected<DecodedInsn> decode(llvm::ArrayRef<uint8_t> code,
                                     uint64_t address) const;

  X86Decoder(X86Decoder &&other);
  X86Decoder &operator=(X86Decoder &&other);
  X86Decoder(const X86Decoder &) = delete;
  X86Decoder &operator=(const X86Decoder &) = delete;
  ~X86Decoder();

private:
  explicit X86Decoder(size_t handle) : Handle(handle) {}
  size_t Handle = 0; ///< csh; 0 when moved from
};

} // namespace eimc::rewriter

#endif // EIMC_REWRITER_X86DECODER_H
