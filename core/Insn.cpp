//===- core/Insn.cpp - Decoding, encoding and printing eBPF ---------------===//
//
// Part of eimc. See eimc/Core/Insn.h.
//
//===----------------------------------------------------------------------===//
//
// The eBPF instruction codec: decodeProgram() turns little-endian 8-byte
// slots (RFC 9669 §3) into the bpf::Insn variant, encodeProgram() turns
// them back, and toString() prints llvm-objdump-like text for diagnostics.
//
// The decoder is strict about encodings (unknown opcodes, registers above
// r10, reserved offsets of ALU operations, a truncated or malformed LDDW)
// because every later stage trusts the variant. It is deliberately lax
// about control flow: a jump or call whose target falls outside the program
// is decoded with the computed target (modulo 2^32, so a negative target
// becomes a huge slot number) and left for the structural verifier, which
// can then report it with the program's name.
//
// Invariant kept for the object reader and tests:
// decodeProgram(encodeProgram(x)) == x for any decoded x. Encoding derives
// jump offsets and local-call immediates from the absolute targets, so a
// pass that moves code (subprogram appending) only has to fix targets.
//
//===----------------------------------------------------------------------===//

#include "eimc/Core/Insn.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace eimc::bpf {
namespace {

// Instruction classes (RFC 9669 §3.1), the low three opcode bits.
enum : uint8_t {
  ClassLd = 0x00,
  ClassLdx = 0x01,
  ClassSt = 0x02,
  ClassStx = 0x03,
  ClassAlu = 0x04,
  ClassJmp = 0x05,
  ClassJmp32 = 0x06,
  ClassAlu64 = 0x07,
};

// Source bit of ALU and JMP opcodes: K (immediate) or X (register).
constexpr uint8_t SourceX = 0x08;

// Load/store modes (RFC 9669 §5), the high three opcode bits.
enum : uint8_t {
  ModeImm = 0x00,
  ModeAbs = 0x20,
  ModeInd = 0x40,
  ModeMem = 0x60,
  ModeMemSx = 0x80,
  ModeAtomic = 0xc0,
};

// ALU operation codes (the high nibble of the opcode).
enum : uint8_t {
  OpAdd = 0x0,
  OpSub = 0x1,
  OpMul = 0x2,
  OpDiv = 0x3,
  OpOr = 0x4,
  OpAnd = 0x5,
  OpLsh = 0x6,
  OpRsh = 0x7,
  OpNeg = 0x8,
  OpMod = 0x9,
  OpXor = 0xa,
  OpMov = 0xb,
  OpArsh = 0xc,
  OpEnd = 0xd,
};

// JMP operation codes (the high nibble of the opcode).
enum : uint8_t {
  OpJa = 0x0,
  OpJeq = 0x1,
  OpJgt = 0x2,
  OpJge = 0x3,
  OpJset = 0x4,
  OpJne = 0x5,
  OpJsgt = 0x6,
  OpJsge = 0x7,
  OpCall = 0x8,
  OpExit = 0x9,
  OpJlt = 0xa,
  OpJle = 0xb,
  OpJslt = 0xc,
  OpJsle = 0xd,
};

// STX ATOMIC operations, carried in imm (RFC 9669 §5.3).
enum : int32_t {
  AtomicAdd = 0x00,
  AtomicOr = 0x40,
  AtomicAnd = 0x50,
  AtomicXor = 0xa0,
  AtomicFetch = 0x01,
  AtomicXchg = 0xe0 | AtomicFetch,
  AtomicCmpXchg = 0xf0 | AtomicFetch,
};

constexpr uint8_t OpcodeLddw = uint8_t(ClassLd) | uint8_t(ModeImm) | 0x18;
constexpr uint8_t MaxReg = 10;

/// One raw 8-byte slot, fields as RFC 9669 §3 lays them out.
struct RawSlot {
  uint8_t opcode = 0;
  uint8_t dst = 0;
  uint8_t src = 0;
  int16_t off = 0;
  int32_t imm = 0;
};

RawSlot readSlot(ArrayRef<uint8_t> code, uint32_t slot) {
  const uint8_t *p = code.data() + size_t(slot) * 8;
  RawSlot raw;
  raw.opcode = p[0];
  raw.dst = p[1] & 0x0f;
  raw.src = p[1] >> 4;
  raw.off = int16_t(support::endian::read16le(p + 2));
  raw.imm = int32_t(support::endian::read32le(p + 4));
  return raw;
}

void writeSlot(std::vector<uint8_t> &out, const RawSlot &raw) {
  uint8_t bytes[8];
  bytes[0] = raw.opcode;
  bytes[1] = uint8_t((raw.src << 4) | (raw.dst & 0x0f));
  support::endian::write16le(bytes + 2, uint16_t(raw.off));
  support::endian::write32le(bytes + 4, uint32_t(raw.imm));
  out.insert(out.end(), bytes, bytes + 8);
}

/// Jump and call targets wrap modulo 2^32: a negative target becomes a
/// slot number no program can have, which the verifier reports.
uint32_t targetOf(uint32_t slot, int64_t delta) {
  return uint32_t(int64_t(slot) + 1 + delta);
}

int32_t deltaTo(uint32_t slot, uint32_t target) {
  return int32_t(target - slot - 1);
}

uint8_t widthBits(Width w) {
  switch (w) {
  case Width::W:
    return 0x00;
  case Width::H:
    return 0x08;
  case Width::B:
    return 0x10;
  case Width::DW:
    return 0x18;
  }
  llvm_unreachable("unknown width");
}

Width widthOf(uint8_t opcode) {
  switch (opcode & 0x18) {
  case 0x00:
    return Width::W;
  case 0x08:
    return Width::H;
  case 0x10:
    return Width::B;
  default:
    return Width::DW;
  }
}

Error unknownOpcode(uint32_t slot, uint8_t opcode) {
  return makeMalformed("insn " + Twine(slot) + ": unknown opcode 0x" +
                       utohexstr(opcode, true, 2));
}

Error badField(uint32_t slot, const Twine &what) {
  return makeMalformed("insn " + Twine(slot) + ": " + what);
}

/// Decodes one slot-sized instruction family at a time. Each function
/// gets the raw slot and returns the decoded variant or an error.
class Decoder {
public:
  Decoder(ArrayRef<uint8_t> code) : code(code) {}

  Expected<std::vector<SlotInsn>> run();

private:
  Expected<Insn> decodeAlu(uint32_t slot, const RawSlot &raw);
  Expected<Insn> decodeJmp(uint32_t slot, const RawSlot &raw);
  Expected<Insn> decodeLd(uint32_t slot, const RawSlot &raw);
  Expected<Insn> decodeLdx(uint32_t slot, const RawSlot &raw);
  Expected<Insn> decodeStore(uint32_t slot, const RawSlot &raw);
  Expected<Insn> decodeAtomic(uint32_t slot, const RawSlot &raw);

  ArrayRef<uint8_t> code;
};

Expected<std::vector<SlotInsn>> Decoder::run() {
  if (code.size() % 8 != 0)
    return makeMalformed("code size " + Twine(code.size()) +
                         " is not a multiple of 8");
  uint32_t numSlots = uint32_t(code.size() / 8);
  std::vector<SlotInsn> out;
  for (uint32_t slot = 0; slot < numSlots;) {
    RawSlot raw = readSlot(code, slot);
    if (raw.dst > MaxReg)
      return badField(slot, "invalid register r" + Twine(unsigned(raw.dst)));
    bool srcIsReg =
        raw.opcode != OpcodeLddw && raw.opcode != (ClassJmp | OpCall << 4);
    if (srcIsReg && raw.src > MaxReg)
      return badField(slot, "invalid register r" + Twine(unsigned(raw.src)));
    Expected<Insn> insn = [&]() -> Expected<Insn> {
      switch (raw.opcode & 0x07) {
      case ClassAlu:
      case ClassAlu64:
        return decodeAlu(slot, raw);
      case ClassJmp:
      case ClassJmp32:
        return decodeJmp(slot, raw);
      case ClassLd:
        return decodeLd(slot, raw);
      case ClassLdx:
        return decodeLdx(slot, raw);
      default:
        return decodeStore(slot, raw);
      }
    }();
    if (!insn)
      return insn.takeError();
    unsigned count = slotCount(*insn);
    out.push_back({slot, std::move(*insn)});
    slot += count;
  }
  return out;
}

Expected<Insn> Decoder::decodeAlu(uint32_t slot, const RawSlot &raw) {
  bool is64 = (raw.opcode & 0x07) == ClassAlu64;
  bool useReg = raw.opcode & SourceX;
  uint8_t op = raw.opcode >> 4;
  if (op == OpEnd) {
    // ALU|END|K is le, ALU|END|X is be; ALU64|END|K is bswap (cpu v4).
    if (is64 && useReg)
      return unknownOpcode(slot, raw.opcode);
    if (raw.imm != 16 && raw.imm != 32 && raw.imm != 64)
      return badField(slot, "invalid byte swap width " + Twine(raw.imm));
    EndianKind kind = is64     ? EndianKind::Swap
                      : useReg ? EndianKind::ToBE
                               : EndianKind::ToLE;
    return Endian{kind, raw.dst, unsigned(raw.imm)};
  }
  static constexpr AluOpKind ops[] = {
      AluOpKind::Add, AluOpKind::Sub, AluOpKind::Mul, AluOpKind::Div,
      AluOpKind::Or,  AluOpKind::And, AluOpKind::Lsh, AluOpKind::Rsh,
      AluOpKind::Neg, AluOpKind::Mod, AluOpKind::Xor, AluOpKind::Mov,
      AluOpKind::Arsh};
  if (op > OpArsh || (op == OpNeg && useReg))
    return unknownOpcode(slot, raw.opcode);
  Alu alu{ops[op],
          is64,
          raw.dst,
          !useReg,
          useReg ? raw.src : uint8_t(0),
          useReg ? 0 : raw.imm,
          0};
  // The offset field selects signed division and sign-extending moves
  // (cpu v4); anywhere else it is reserved and must be zero.
  bool signedForm = raw.off == 1 && (op == OpDiv || op == OpMod);
  bool sxForm = op == OpMov && useReg &&
                (raw.off == 8 || raw.off == 16 || (is64 && raw.off == 32));
  if (raw.off != 0 && !signedForm && !sxForm)
    return badField(slot, "invalid offset " + Twine(raw.off) +
                              " for opcode 0x" + utohexstr(raw.opcode, true));
  if (signedForm)
    alu.op = op == OpDiv ? AluOpKind::SDiv : AluOpKind::SMod;
  if (sxForm) {
    alu.op = AluOpKind::MovSx;
    alu.sxBits = uint8_t(raw.off);
  }
  return alu;
}

Expected<Insn> Decoder::decodeJmp(uint32_t slot, const RawSlot &raw) {
  bool is32 = (raw.opcode & 0x07) == ClassJmp32;
  bool useReg = raw.opcode & SourceX;
  uint8_t op = raw.opcode >> 4;
  switch (op) {
  case OpCall:
    if (is32)
      return unknownOpcode(slot, raw.opcode);
    if (useReg) // clang puts CALLX's register in dst
      return CallX{raw.dst};
    switch (raw.src) {
    case 0:
      return Call{CallKind::Helper, raw.imm, 0};
    case 1:
      return Call{CallKind::Local, raw.imm, targetOf(slot, raw.imm)};
    case 2:
      return Call{CallKind::HelperBtfId, raw.imm, 0};
    default:
      return badField(slot, "invalid call kind " + Twine(unsigned(raw.src)));
    }
  case OpExit:
    if (is32 || useReg)
      return unknownOpcode(slot, raw.opcode);
    return Exit{};
  case OpJa:
    if (useReg)
      return unknownOpcode(slot, raw.opcode);
    // JMP|JA jumps by off; JMP32|JA ("gotol") by the 32-bit imm.
    return Jump{JumpOpKind::Ja,
                is32,
                0,
                false,
                0,
                0,
                targetOf(slot, is32 ? raw.imm : raw.off)};
  default:
    break;
  }
  static constexpr JumpOpKind ops[] = {
      JumpOpKind::Ja,   JumpOpKind::Jeq, JumpOpKind::Jgt,  JumpOpKind::Jge,
      JumpOpKind::Jset, JumpOpKind::Jne, JumpOpKind::Jsgt, JumpOpKind::Jsge,
      JumpOpKind::Ja,   JumpOpKind::Ja,  JumpOpKind::Jlt,  JumpOpKind::Jle,
      JumpOpKind::Jslt, JumpOpKind::Jsle};
  if (op > OpJsle)
    return unknownOpcode(slot, raw.opcode);
  return Jump{ops[op],
              is32,
              raw.dst,
              !useReg,
              useReg ? raw.src : uint8_t(0),
              useReg ? 0 : raw.imm,
              targetOf(slot, raw.off)};
}

Expected<Insn> Decoder::decodeLd(uint32_t slot, const RawSlot &raw) {
  uint8_t mode = raw.opcode & 0xe0;
  if ((mode == ModeAbs || mode == ModeInd) && widthOf(raw.opcode) != Width::DW)
    return LegacyPacketLoad{widthOf(raw.opcode), mode == ModeInd,
                            mode == ModeInd ? raw.src : uint8_t(0), raw.imm};
  if (raw.opcode != OpcodeLddw)
    return unknownOpcode(slot, raw.opcode);
  if (size_t(slot) + 1 >= code.size() / 8)
    return badField(slot, "truncated lddw (missing second slot)");
  RawSlot next = readSlot(code, slot + 1);
  if (next.opcode != 0 || next.dst != 0 || next.src != 0 || next.off != 0)
    return badField(slot, "invalid second slot of lddw (opcode 0x" +
                              utohexstr(next.opcode, true) + ")");
  if (raw.src > uint8_t(Imm64Kind::MapValueByIdx))
    return badField(slot,
                    "invalid lddw source kind " + Twine(unsigned(raw.src)));
  LoadImm64 ld{Imm64Kind(raw.src), raw.dst, 0, 0, 0};
  if (ld.kind == Imm64Kind::Imm) {
    ld.value = uint64_t(uint32_t(raw.imm)) | uint64_t(uint32_t(next.imm)) << 32;
    return ld;
  }
  ld.mapIndex = uint32_t(raw.imm);
  ld.offset = uint32_t(next.imm);
  return ld;
}

Expected<Insn> Decoder::decodeLdx(uint32_t slot, const RawSlot &raw) {
  uint8_t mode = raw.opcode & 0xe0;
  Width width = widthOf(raw.opcode);
  bool valid = mode == ModeMem || (mode == ModeMemSx && width != Width::DW);
  if (!valid)
    return unknownOpcode(slot, raw.opcode);
  return Load{width, mode == ModeMemSx, raw.dst, raw.src, raw.off};
}

Expected<Insn> Decoder::decodeStore(uint32_t slot, const RawSlot &raw) {
  uint8_t mode = raw.opcode & 0xe0;
  bool isStx = (raw.opcode & 0x07) == ClassStx;
  if (isStx && mode == ModeAtomic)
    return decodeAtomic(slot, raw);
  if (mode != ModeMem)
    return unknownOpcode(slot, raw.opcode);
  if (isStx)
    return Store{widthOf(raw.opcode), raw.dst, raw.off, false, raw.src, 0};
  return Store{widthOf(raw.opcode), raw.dst, raw.off, true, 0, raw.imm};
}

Expected<Insn> Decoder::decodeAtomic(uint32_t slot, const RawSlot &raw) {
  Width width = widthOf(raw.opcode);
  if (width != Width::W && width != Width::DW)
    return unknownOpcode(slot, raw.opcode);
  Atomic atomic{AtomicOpKind::Add, false, width, raw.dst, raw.src, raw.off};
  switch (raw.imm) {
  case AtomicXchg:
    atomic.op = AtomicOpKind::Xchg;
    atomic.fetch = true;
    return atomic;
  case AtomicCmpXchg:
    atomic.op = AtomicOpKind::CmpXchg;
    atomic.fetch = true;
    return atomic;
  default:
    break;
  }
  atomic.fetch = raw.imm & AtomicFetch;
  switch (raw.imm & ~AtomicFetch) {
  case AtomicAdd:
    atomic.op = AtomicOpKind::Add;
    return atomic;
  case AtomicOr:
    atomic.op = AtomicOpKind::Or;
    return atomic;
  case AtomicAnd:
    atomic.op = AtomicOpKind::And;
    return atomic;
  case AtomicXor:
    atomic.op = AtomicOpKind::Xor;
    return atomic;
  default:
    return badField(slot, "unknown atomic operation 0x" +
                              utohexstr(uint32_t(raw.imm), true));
  }
}

//===----------------------------------------------------------------------===//
// Encoding
//===----------------------------------------------------------------------===//

uint8_t aluOpCode(AluOpKind op) {
  switch (op) {
  case AluOpKind::Add:
    return OpAdd;
  case AluOpKind::Sub:
    return OpSub;
  case AluOpKind::Mul:
    return OpMul;
  case AluOpKind::Div:
  case AluOpKind::SDiv:
    return OpDiv;
  case AluOpKind::Or:
    return OpOr;
  case AluOpKind::And:
    return OpAnd;
  case AluOpKind::Lsh:
    return OpLsh;
  case AluOpKind::Rsh:
    return OpRsh;
  case AluOpKind::Neg:
    return OpNeg;
  case AluOpKind::Mod:
  case AluOpKind::SMod:
    return OpMod;
  case AluOpKind::Xor:
    return OpXor;
  case AluOpKind::Mov:
  case AluOpKind::MovSx:
    return OpMov;
  case AluOpKind::Arsh:
    return OpArsh;
  }
  llvm_unreachable("unknown ALU op");
}

uint8_t jumpOpCode(JumpOpKind op) {
  static constexpr uint8_t codes[] = {OpJa,   OpJeq, OpJgt,  OpJge,
                                      OpJset, OpJne, OpJsgt, OpJsge,
                                      OpJlt,  OpJle, OpJslt, OpJsle};
  return codes[unsigned(op)];
}

int32_t atomicImm(const Atomic &a) {
  switch (a.op) {
  case AtomicOpKind::Add:
    return AtomicAdd | (a.fetch ? AtomicFetch : 0);
  case AtomicOpKind::Or:
    return AtomicOr | (a.fetch ? AtomicFetch : 0);
  case AtomicOpKind::And:
    return AtomicAnd | (a.fetch ? AtomicFetch : 0);
  case AtomicOpKind::Xor:
    return AtomicXor | (a.fetch ? AtomicFetch : 0);
  case AtomicOpKind::Xchg:
    return AtomicXchg;
  case AtomicOpKind::CmpXchg:
    return AtomicCmpXchg;
  }
  llvm_unreachable("unknown atomic op");
}

/// Encodes one instruction at \p slot; appends one or two raw slots.
struct Encoder {
  uint32_t slot;
  std::vector<uint8_t> &out;

  void operator()(const Alu &a) {
    RawSlot raw;
    raw.opcode = uint8_t(aluOpCode(a.op) << 4) | (a.useImm ? 0 : SourceX) |
                 (a.is64 ? ClassAlu64 : ClassAlu);
    raw.dst = a.dst;
    raw.src = a.useImm ? 0 : a.src;
    raw.imm = a.useImm ? a.imm : 0;
    if (a.op == AluOpKind::SDiv || a.op == AluOpKind::SMod)
      raw.off = 1;
    if (a.op == AluOpKind::MovSx)
      raw.off = a.sxBits;
    writeSlot(out, raw);
  }
  void operator()(const Endian &e) {
    RawSlot raw;
    uint8_t cls = e.kind == EndianKind::Swap ? ClassAlu64 : ClassAlu;
    uint8_t source = e.kind == EndianKind::ToBE ? SourceX : 0;
    raw.opcode = uint8_t(OpEnd << 4) | source | cls;
    raw.dst = e.dst;
    raw.imm = int32_t(e.bits);
    writeSlot(out, raw);
  }
  void operator()(const Load &l) {
    RawSlot raw;
    raw.opcode =
        (l.signExtend ? ModeMemSx : ModeMem) | widthBits(l.width) | ClassLdx;
    raw.dst = l.dst;
    raw.src = l.src;
    raw.off = l.off;
    writeSlot(out, raw);
  }
  void operator()(const Store &s) {
    RawSlot raw;
    raw.opcode = ModeMem | widthBits(s.width) | (s.useImm ? ClassSt : ClassStx);
    raw.dst = s.dst;
    raw.off = s.off;
    raw.src = s.useImm ? 0 : s.src;
    raw.imm = s.useImm ? s.imm : 0;
    writeSlot(out, raw);
  }
  void operator()(const Atomic &a) {
    RawSlot raw;
    raw.opcode = ModeAtomic | widthBits(a.width) | ClassStx;
    raw.dst = a.dst;
    raw.src = a.src;
    raw.off = a.off;
    raw.imm = atomicImm(a);
    writeSlot(out, raw);
  }
  void operator()(const LoadImm64 &l) {
    RawSlot first, second;
    first.opcode = OpcodeLddw;
    first.dst = l.dst;
    first.src = uint8_t(l.kind);
    if (l.kind == Imm64Kind::Imm) {
      first.imm = int32_t(uint32_t(l.value));
      second.imm = int32_t(uint32_t(l.value >> 32));
    } else {
      first.imm = int32_t(l.mapIndex);
      second.imm = int32_t(l.offset);
    }
    writeSlot(out, first);
    writeSlot(out, second);
  }
  void operator()(const Jump &j) {
    RawSlot raw;
    raw.opcode = uint8_t(jumpOpCode(j.op) << 4) | (j.useImm ? 0 : SourceX) |
                 (j.is32 ? ClassJmp32 : ClassJmp);
    raw.dst = j.dst;
    raw.src = j.useImm ? 0 : j.src;
    raw.imm = j.useImm ? j.imm : 0;
    if (j.op == JumpOpKind::Ja) {
      raw.opcode = j.is32 ? ClassJmp32 : ClassJmp;
      raw.dst = raw.src = 0;
      raw.imm = 0;
    }
    if (j.op == JumpOpKind::Ja && j.is32)
      raw.imm = deltaTo(slot, j.target);
    else
      raw.off = int16_t(deltaTo(slot, j.target));
    writeSlot(out, raw);
  }
  void operator()(const Call &c) {
    RawSlot raw;
    raw.opcode = ClassJmp | OpCall << 4;
    raw.src = uint8_t(c.kind);
    raw.imm = c.kind == CallKind::Local ? deltaTo(slot, c.target) : c.imm;
    writeSlot(out, raw);
  }
  void operator()(const CallX &c) {
    RawSlot raw;
    raw.opcode = ClassJmp | OpCall << 4 | SourceX;
    raw.dst = c.reg;
    writeSlot(out, raw);
  }
  void operator()(const Exit &) {
    RawSlot raw;
    raw.opcode = ClassJmp | OpExit << 4;
    writeSlot(out, raw);
  }
  void operator()(const LegacyPacketLoad &l) {
    RawSlot raw;
    raw.opcode =
        (l.indirect ? ModeInd : ModeAbs) | widthBits(l.width) | ClassLd;
    raw.src = l.indirect ? l.src : 0;
    raw.imm = l.imm;
    writeSlot(out, raw);
  }
  void operator()(const Poison &) {
    // libbpf's poison: "call 0xbad2310" (an invalid helper id), so a
    // poisoned program that is loaded anyway fails loudly.
    RawSlot raw;
    raw.opcode = ClassJmp | OpCall << 4;
    raw.imm = 0xbad2310;
    writeSlot(out, raw);
  }
};

//===----------------------------------------------------------------------===//
// Printing
//===----------------------------------------------------------------------===//

std::string hexImm(int64_t v) {
  if (v < 0)
    return "-0x" + utohexstr(uint64_t(0) - uint64_t(v), true);
  return "0x" + utohexstr(uint64_t(v), true);
}

std::string reg(bool is64, Reg r) {
  return (is64 ? "r" : "w") + std::to_string(r);
}

const char *sizeName(Width w, bool isSigned = false) {
  switch (w) {
  case Width::B:
    return isSigned ? "s8" : "u8";
  case Width::H:
    return isSigned ? "s16" : "u16";
  case Width::W:
    return isSigned ? "s32" : "u32";
  case Width::DW:
    return isSigned ? "s64" : "u64";
  }
  llvm_unreachable("unknown width");
}

std::string address(Reg base, int16_t off) {
  std::string text = "r" + std::to_string(base);
  text += off < 0 ? " - " : " + ";
  text += "0x" + utohexstr(uint64_t(off < 0 ? -int64_t(off) : off), true);
  return text;
}

const char *aluOperator(AluOpKind op) {
  switch (op) {
  case AluOpKind::Add:
    return "+=";
  case AluOpKind::Sub:
    return "-=";
  case AluOpKind::Mul:
    return "*=";
  case AluOpKind::Div:
    return "/=";
  case AluOpKind::SDiv:
    return "s/=";
  case AluOpKind::Or:
    return "|=";
  case AluOpKind::And:
    return "&=";
  case AluOpKind::Lsh:
    return "<<=";
  case AluOpKind::Rsh:
    return ">>=";
  case AluOpKind::Mod:
    return "%=";
  case AluOpKind::SMod:
    return "s%=";
  case AluOpKind::Xor:
    return "^=";
  case AluOpKind::Arsh:
    return "s>>=";
  case AluOpKind::Mov:
  case AluOpKind::MovSx:
  case AluOpKind::Neg:
    return "=";
  }
  llvm_unreachable("unknown ALU op");
}

const char *jumpOperator(JumpOpKind op) {
  switch (op) {
  case JumpOpKind::Jeq:
    return "==";
  case JumpOpKind::Jgt:
    return ">";
  case JumpOpKind::Jge:
    return ">=";
  case JumpOpKind::Jset:
    return "&";
  case JumpOpKind::Jne:
    return "!=";
  case JumpOpKind::Jsgt:
    return "s>";
  case JumpOpKind::Jsge:
    return "s>=";
  case JumpOpKind::Jlt:
    return "<";
  case JumpOpKind::Jle:
    return "<=";
  case JumpOpKind::Jslt:
    return "s<";
  case JumpOpKind::Jsle:
    return "s<=";
  case JumpOpKind::Ja:
    return "";
  }
  llvm_unreachable("unknown jump op");
}

const char *atomicName(AtomicOpKind op) {
  switch (op) {
  case AtomicOpKind::Add:
    return "add";
  case AtomicOpKind::Or:
    return "or";
  case AtomicOpKind::And:
    return "and";
  case AtomicOpKind::Xor:
    return "xor";
  case AtomicOpKind::Xchg:
    return "xchg";
  case AtomicOpKind::CmpXchg:
    return "cmpxchg";
  }
  llvm_unreachable("unknown atomic op");
}

/// Text in llvm-objdump's BPF syntax. Jump and call targets are absolute
/// slots ("goto insn 27") because an Insn does not know its own slot.
struct Printer {
  std::string operator()(const Alu &a) {
    std::string d = reg(a.is64, a.dst);
    std::string s = a.useImm ? hexImm(a.imm) : reg(a.is64, a.src);
    if (a.op == AluOpKind::Neg)
      return d + " = -" + d;
    if (a.op == AluOpKind::MovSx)
      return d + " = (s" + std::to_string(a.sxBits) + ")" + s;
    return d + " " + aluOperator(a.op) + " " + s;
  }
  std::string operator()(const Endian &e) {
    const char *name = e.kind == EndianKind::ToLE   ? "le"
                       : e.kind == EndianKind::ToBE ? "be"
                                                    : "bswap";
    std::string d = "r" + std::to_string(e.dst);
    return d + " = " + name + std::to_string(e.bits) + " " + d;
  }
  std::string operator()(const Load &l) {
    return "r" + std::to_string(l.dst) + " = *(" +
           sizeName(l.width, l.signExtend) + " *)(" + address(l.src, l.off) +
           ")";
  }
  std::string operator()(const Store &s) {
    std::string value = s.useImm ? hexImm(s.imm) : "r" + std::to_string(s.src);
    return std::string("*(") + sizeName(s.width) + " *)(" +
           address(s.dst, s.off) + ") = " + value;
  }
  std::string operator()(const Atomic &a) {
    bool is64 = a.width == Width::DW;
    std::string src = reg(is64, a.src);
    // LLVM's spellings: xchg_64 / xchg32_32, cmpxchg_64 / cmpxchg32_32.
    std::string suffix = is64 ? "_64(" : "32_32(";
    if (a.op == AtomicOpKind::Xchg)
      return src + " = xchg" + suffix + address(a.dst, a.off) + ", " + src +
             ")";
    if (a.op == AtomicOpKind::CmpXchg)
      return reg(is64, 0) + " = cmpxchg" + suffix + address(a.dst, a.off) +
             ", " + reg(is64, 0) + ", " + src + ")";
    std::string mem = std::string("(") + sizeName(a.width) + " *)(" +
                      address(a.dst, a.off) + ")";
    if (a.fetch)
      return src + " = atomic_fetch_" + atomicName(a.op) + "(" + mem + ", " +
             src + ")";
    std::string op = a.op == AtomicOpKind::Add   ? "+="
                     : a.op == AtomicOpKind::Or  ? "|="
                     : a.op == AtomicOpKind::And ? "&="
                                                 : "^=";
    return "lock *" + mem + " " + op + " " + src;
  }
  std::string operator()(const LoadImm64 &l) {
    std::string d = "r" + std::to_string(l.dst) + " = ";
    switch (l.kind) {
    case Imm64Kind::Imm:
      return d + "0x" + utohexstr(l.value, true) + " ll";
    case Imm64Kind::MapByFd:
    case Imm64Kind::MapByIdx:
      return d + "map[" + std::to_string(l.mapIndex) + "] ll";
    case Imm64Kind::MapValueByFd:
    case Imm64Kind::MapValueByIdx:
      return d + "map_value[" + std::to_string(l.mapIndex) + "] + 0x" +
             utohexstr(l.offset, true) + " ll";
    case Imm64Kind::VarAddr:
      return d + "var[" + std::to_string(l.mapIndex) + "] ll";
    case Imm64Kind::CodeAddr:
      return d + "code[" + std::to_string(l.mapIndex) + "] ll";
    }
    llvm_unreachable("unknown lddw kind");
  }
  std::string operator()(const Jump &j) {
    std::string target = "goto insn " + std::to_string(j.target);
    if (j.op == JumpOpKind::Ja)
      return j.is32 ? "gotol insn " + std::to_string(j.target) : target;
    std::string rhs = j.useImm ? hexImm(j.imm) : reg(!j.is32, j.src);
    return "if " + reg(!j.is32, j.dst) + " " + jumpOperator(j.op) + " " + rhs +
           " " + target;
  }
  std::string operator()(const Call &c) {
    switch (c.kind) {
    case CallKind::Helper:
      return "call " + hexImm(c.imm);
    case CallKind::Local:
      return "call insn " + std::to_string(c.target);
    case CallKind::HelperBtfId:
      return "call kfunc " + hexImm(c.imm);
    }
    llvm_unreachable("unknown call kind");
  }
  std::string operator()(const CallX &c) {
    return "callx r" + std::to_string(c.reg);
  }
  std::string operator()(const Exit &) { return "exit"; }
  std::string operator()(const LegacyPacketLoad &l) {
    std::string where = l.indirect ? "r" + std::to_string(l.src) + " + " : "";
    return std::string("r0 = *(") + sizeName(l.width) + " *)skb[" + where +
           hexImm(l.imm) + "]";
  }
  std::string operator()(const Poison &p) {
    return "poison (" + p.reason + ")";
  }
};

} // namespace

Expected<std::vector<SlotInsn>> decodeProgram(ArrayRef<uint8_t> code) {
  return Decoder(code).run();
}

std::vector<uint8_t> encodeProgram(ArrayRef<SlotInsn> insns) {
  std::vector<uint8_t> out;
  for (const SlotInsn &si : insns) {
    // Keep slot numbering explicit: a gap (never produced by the decoder)
    // would otherwise shift every later jump.
    assert(out.size() / 8 <= si.slot && "slots must ascend");
    out.resize(size_t(si.slot) * 8, 0);
    std::visit(Encoder{si.slot, out}, si.insn);
  }
  return out;
}

unsigned slotCount(const Insn &insn) {
  return std::holds_alternative<LoadImm64>(insn) ? 2 : 1;
}

std::string toString(const Insn &insn) { return std::visit(Printer{}, insn); }

} // namespace eimc::bpf
