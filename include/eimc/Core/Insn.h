//===- eimc/Core/Insn.h - The eBPF instruction set as value types -*- C++ -*-===//
//
// Part of eimc. See docs/design.md.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The eBPF ISA (RFC 9669) as a std::variant of small structs. Every stage
/// after the object reader (verifier, compiler, conformance assembler) works
/// on these types, never on raw 8-byte words, so that a pass that forgets an
/// instruction class fails to compile (std::visit needs every alternative).
///
/// Instruction indices are *slots* (8-byte units) as in RFC 9669 §3 and in
/// llvm-objdump's numbering: LDDW takes two slots, and "insn 12" in a
/// diagnostic means slot 12. Jump and local-call targets are absolute slot
/// indices, resolved at decode time.
///
/// decodeProgram() is the only way from bytes to instructions; it rejects
/// malformed encodings (unknown opcode, register > 10, truncated LDDW) with
/// an llvm::Error naming the slot. It does not check control flow: that is
/// the structural verifier's job.
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_CORE_INSN_H
#define EIMC_CORE_INSN_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace eimc::bpf {

/// Registers r0..r10 (RFC 9669 §2.1). r10 is the read-only frame pointer.
using Reg = uint8_t;
constexpr Reg FramePointer = 10;
/// Bytes of stack per call frame (RFC 9669 §2.1; the kernel's MAX_BPF_STACK).
constexpr unsigned StackSize = 512;

/// Access widths (RFC 9669 §5.1 "size modifier"), in bytes.
enum class Width : uint8_t { B = 1, H = 2, W = 4, DW = 8 };

enum class AluOpKind : uint8_t {
  Add, Sub, Mul, Div, SDiv, Or, And, Lsh, Rsh, Neg, Mod, SMod, Xor, Mov,
  MovSx, Arsh
};

/// ALU (32-bit, result zero-extended) and ALU64 operations. For MovSx,
/// \c sxBits is 8, 16 or 32 (the encoding's offset field).
struct Alu {
  AluOpKind op;
  bool is64;
  Reg dst;
  bool useImm;
  Reg src;
  int32_t imm;
  uint8_t sxBits;
  bool operator==(const Alu &) const = default;
};

/// Byte-order conversions (RFC 9669 §4.2): ToLE/ToBE are the ALU-class
/// le/be forms, Swap is the ALU64-class unconditional bswap (cpu v4).
enum class EndianKind : uint8_t { ToLE, ToBE, Swap };
struct Endian {
  EndianKind kind;
  Reg dst;
  unsigned bits; ///< 16, 32 or 64
  bool operator==(const Endian &) const = default;
};

/// LDX MEM and LDX MEMSX: dst = *(width *)(src + off).
struct Load {
  Width width;
  bool signExtend;
  Reg dst;
  Reg src;
  int16_t off;
  bool operator==(const Load &) const = default;
};

/// ST MEM (immediate source) and STX MEM (register source).
struct Store {
  Width width;
  Reg dst;
  int16_t off;
  bool useImm;
  Reg src;
  int32_t imm;
  bool operator==(const Store &) const = default;
};

enum class AtomicOpKind : uint8_t { Add, Or, And, Xor, Xchg, CmpXchg };
/// STX ATOMIC (RFC 9669 §5.3). Width is W or DW. \c fetch is implied for
/// Xchg and CmpXchg.
struct Atomic {
  AtomicOpKind op;
  bool fetch;
  Width width;
  Reg dst;
  Reg src;
  int16_t off;
  bool operator==(const Atomic &) const = default;
};

/// LDDW's src field (RFC 9669 §5.4): how the 64-bit immediate is meant.
enum class Imm64Kind : uint8_t {
  Imm = 0,         ///< plain 64-bit constant
  MapByFd = 1,     ///< address of map `imm` (after relocation: map index)
  MapValueByFd = 2,///< address of map `imm`'s value + next_imm (global data)
  VarAddr = 3,
  CodeAddr = 4,
  MapByIdx = 5,
  MapValueByIdx = 6
};
/// Two-slot 64-bit immediate load. For Imm, \c value holds the constant.
/// For map kinds, \c mapIndex indexes ExtensionSpec::maps (the object
/// reader rewrites ELF relocations into indices) and \c offset is
/// next_imm (the byte offset into a global-data map's value).
struct LoadImm64 {
  Imm64Kind kind;
  Reg dst;
  uint64_t value;
  uint32_t mapIndex;
  uint32_t offset;
  bool operator==(const LoadImm64 &) const = default;
};

enum class JumpOpKind : uint8_t {
  Ja, Jeq, Jgt, Jge, Jset, Jne, Jsgt, Jsge, Jlt, Jle, Jslt, Jsle
};
/// JMP and JMP32 conditional and unconditional jumps (including gotol,
/// JMP32|JA with a 32-bit offset in imm). \c target is an absolute slot.
struct Jump {
  JumpOpKind op;
  bool is32;
  Reg dst;
  bool useImm;
  Reg src;
  int32_t imm;
  uint32_t target;
  bool operator==(const Jump &) const = default;
};

enum class CallKind : uint8_t { Helper, Local, HelperBtfId };
/// CALL: a helper by id (src 0), a bpf-to-bpf call (src 1; \c target is the
/// callee's absolute slot) or a kfunc by BTF id (src 2; unsupported later).
struct Call {
  CallKind kind;
  int32_t imm;
  uint32_t target;
  bool operator==(const Call &) const = default;
};

/// CALLX (not in RFC 9669; clang emits it for -mcpu=v4 indirect calls).
struct CallX {
  Reg reg;
  bool operator==(const CallX &) const = default;
};

struct Exit {
  bool operator==(const Exit &) const = default;
};

/// Legacy packet access (LD ABS/IND). Decoded so diagnostics can name it;
/// no eimc context carries an skb, so the verifier rejects it.
struct LegacyPacketLoad {
  Width width;
  bool indirect;
  Reg src;
  int32_t imm;
  bool operator==(const LegacyPacketLoad &) const = default;
};

/// An instruction libbpf would poison: a CO-RE relocation that could not be
/// resolved against the target BTF. Harmless while unreachable; the
/// verifier reports \c reason if any path reaches it (libbpf's behaviour,
/// tools/lib/bpf/relo_core.c, "poisoning").
struct Poison {
  std::string reason;
  bool operator==(const Poison &) const = default;
};

using Insn = std::variant<Alu, Endian, Load, Store, Atomic, LoadImm64, Jump,
                          Call, CallX, Exit, LegacyPacketLoad, Poison>;

/// One decoded instruction and the slot it starts at.
struct SlotInsn {
  uint32_t slot;
  Insn insn;
  bool operator==(const SlotInsn &) const = default;
};

/// Decodes little-endian eBPF bytecode. \p code must be a multiple of 8
/// bytes. LDDW with a map src kind leaves mapIndex = imm; the object reader
/// overwrites it from relocations.
/// \returns the instructions in slot order, or an error naming the first
/// malformed slot ("insn N: unknown opcode 0x..").
llvm::Expected<std::vector<SlotInsn>> decodeProgram(llvm::ArrayRef<uint8_t> code);

/// Encodes back to bytecode (used by tests and by the object reader when
/// it appends subprograms). decodeProgram(encodeProgram(x)) == x.
std::vector<uint8_t> encodeProgram(llvm::ArrayRef<SlotInsn> insns);

/// Number of slots an instruction occupies (2 for LoadImm64, else 1).
unsigned slotCount(const Insn &insn);

/// llvm-objdump-like text for diagnostics and --emit=bpf ("r1 = r10").
std::string toString(const Insn &insn);

} // namespace eimc::bpf

#endif // EIMC_CORE_INSN_H
