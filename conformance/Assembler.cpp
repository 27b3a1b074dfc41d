//===- conformance/Assembler.cpp - The uBPF assembler dialect -------------===//
//
// Part of eimc. See eimc/Conformance/Conformance.h.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// assemble(): the assembly dialect of uBPF and bpf_conformance `.data`
/// files, to RFC 9669 bytecode. Written from the RFC's encoding tables;
/// two passes: the first parses every line and gives each label its slot
/// (lddw takes two), the second encodes with labels resolved.
///
/// The dialect, by example:
///
///   mov32 %r0, 1          ALU (32-bit) with immediate; `mov %r0, %r1` is
///                         ALU64 (no suffix or `64`)
///   sdiv32 %r0, -3        signed div/mod: offset 1
///   neg %r0               one operand
///   movsx1664 %r0, %r1    movsx<from><to>: sign-extend 16 bits to 64
///   be16 %r0 / le32 %r0   ALU-class byte order conversions
///   bswap64 %r0           ALU64-class swap (also spelled swap64)
///   ldxdw %r1, [%r10-8]   loads; ldxs{b,h,w} sign-extend (MEMSX)
///   stxw [%r1+4], %r2     register store; stw [%r1], 7 immediate store
///   lddw %r0, 0x1122..    64-bit immediate (two slots)
///   lock fetch add32 [%r10-8], %r1   atomics: add/or/and/xor with or
///                         without fetch, xchg, cmpxchg; 32 = word width
///   jne32 %r1, 5, L1      JMP32; targets are labels, `exit` or +N/-N
///   ja L1 / ja32 L1       16-bit offset / gotol with a 32-bit offset
///   call 5 / call local f / call %r2   helper, bpf-to-bpf, callx
///
/// `exit` as a jump target that is not a label means the next `exit`
/// instruction after the jump, which is how the vectors use it ("bail out
/// with the current r0").
///
/// Not done here: any check that the program makes sense (the verifier's
/// job); an instruction encodes exactly what it says.
///
//===----------------------------------------------------------------------===//

#include "eimc/Conformance/Conformance.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"

#include <limits>

using namespace llvm;

namespace eimc::conformance {

namespace {

// Instruction classes and fields (RFC 9669 §3, §4, §5).
constexpr uint8_t ClassLd = 0x00, ClassLdx = 0x01, ClassSt = 0x02,
                  ClassStx = 0x03, ClassAlu = 0x04, ClassJmp = 0x05,
                  ClassJmp32 = 0x06, ClassAlu64 = 0x07;
constexpr uint8_t SourceReg = 0x08;
constexpr uint8_t ModeImm = 0x00, ModeMem = 0x60, ModeMemSx = 0x80,
                  ModeAtomic = 0xc0;
constexpr uint8_t OpCall = 0x80, OpExit = 0x90, OpEnd = 0xd0;
constexpr int32_t AtomicFetch = 0x01;
constexpr unsigned MaxReg = 10;

/// One 8-byte instruction word, before encoding.
struct Word {
  uint8_t opcode = 0;
  uint8_t dst = 0;
  uint8_t src = 0;
  int16_t off = 0;
  int32_t imm = 0;
};

/// A parsed line that emits code.
struct Statement {
  unsigned line;   ///< in the file
  uint32_t slot;   ///< first slot
  StringRef mnemonic;
  SmallVector<StringRef, 3> operands;
};

std::optional<uint8_t> aluOp(StringRef name) {
  return StringSwitch<std::optional<uint8_t>>(name)
      .Case("add", 0x00)
      .Case("sub", 0x10)
      .Case("mul", 0x20)
      .Cases("div", "sdiv", 0x30)
      .Case("or", 0x40)
      .Case("and", 0x50)
      .Case("lsh", 0x60)
      .Case("rsh", 0x70)
      .Case("neg", 0x80)
      .Cases("mod", "smod", 0x90)
      .Case("xor", 0xa0)
      .Case("mov", 0xb0)
      .Case("arsh", 0xc0)
      .Default(std::nullopt);
}

std::optional<uint8_t> jumpOp(StringRef name) {
  return StringSwitch<std::optional<uint8_t>>(name)
      .Case("ja", 0x00)
      .Case("jeq", 0x10)
      .Case("jgt", 0x20)
      .Case("jge", 0x30)
      .Case("jset", 0x40)
      .Case("jne", 0x50)
      .Case("jsgt", 0x60)
      .Case("jsge", 0x70)
      .Case("jlt", 0xa0)
      .Case("jle", 0xb0)
      .Case("jslt", 0xc0)
      .Case("jsle", 0xd0)
      .Default(std::nullopt);
}

/// Size modifier (RFC 9669 §5.1) for a b/h/w/dw suffix.
std::optional<uint8_t> sizeField(StringRef suffix) {
  return StringSwitch<std::optional<uint8_t>>(suffix)
      .Case("w", 0x00)
      .Case("h", 0x08)
      .Case("b", 0x10)
      .Case("dw", 0x18)
      .Default(std::nullopt);
}

std::optional<int32_t> atomicOp(StringRef name) {
  return StringSwitch<std::optional<int32_t>>(name)
      .Case("add", 0x00)
      .Case("or", 0x40)
      .Case("and", 0x50)
      .Case("xor", 0xa0)
      .Case("xchg", 0xe0 | AtomicFetch)
      .Case("cmpxchg", 0xf0 | AtomicFetch)
      .Default(std::nullopt);
}

/// Splits "a, [b + c], d" at top-level commas.
SmallVector<StringRef, 3> splitOperands(StringRef text) {
  SmallVector<StringRef, 3> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '[')
      ++depth;
    else if (text[i] == ']')
      --depth;
    else if (text[i] == ',' && depth == 0) {
      out.push_back(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (!text.trim().empty())
    out.push_back(text.drop_front(start).trim());
  return out;
}

class Assembler {
public:
  Assembler(StringRef fileName, unsigned firstLine)
      : FileName(fileName), FirstLine(firstLine) {}
  Expected<std::vector<uint8_t>> run(StringRef source);

private:
  Error parseLine(unsigned line, StringRef text);
  Error encode(const Statement &s);
  Error error(const Twine &message) const {
    return makeMalformed(FileName + ":" + Twine(CurrentLine) + ": " + message);
  }

  // Operands.
  Expected<uint8_t> reg(StringRef text) const;
  Expected<int64_t> number(StringRef text, __int128 min, __int128 max) const;
  Expected<int32_t> imm32(StringRef text) const;
  Expected<std::pair<uint8_t, int16_t>> memory(StringRef text) const;
  Expected<int64_t> target(const Statement &s, StringRef text) const;
  Expected<int16_t> offset16(int64_t delta) const;
  Error expectOperands(const Statement &s, size_t n) const;

  // Instruction families; each returns false when the mnemonic is not
  // its own.
  Expected<bool> encodeAlu(const Statement &s);
  Expected<bool> encodeMovSx(const Statement &s);
  Expected<bool> encodeEndian(const Statement &s);
  Expected<bool> encodeLoadStore(const Statement &s);
  Expected<bool> encodeJump(const Statement &s);
  Error encodeAtomic(const Statement &s);
  Error encodeCall(const Statement &s);
  Error encodeLddw(const Statement &s);

  void emit(const Word &w);

  StringRef FileName;
  unsigned FirstLine;
  unsigned CurrentLine = 0;
  std::vector<Statement> Statements;
  StringMap<uint32_t> Labels;
  uint32_t NextSlot = 0;
  std::vector<uint8_t> Out;
};

Error Assembler::parseLine(unsigned line, StringRef text) {
  CurrentLine = line;
  text = text.split('#').first.trim();
  if (text.empty())
    return Error::success();
  if (text.ends_with(":")) {
    StringRef label = text.drop_back().trim();
    if (label.empty() || label.contains(' '))
      return error("bad label '" + text + "'");
    if (!Labels.try_emplace(label, NextSlot).second)
      return error("label '" + label + "' defined twice");
    return Error::success();
  }
  auto [mnemonic, rest] = text.split(' ');
  Statement s{line, NextSlot, mnemonic, {}};
  // `lock [fetch] op [mem], reg`: fold the words into the mnemonic.
  if (mnemonic == "lock") {
    rest = rest.trim();
    size_t bracket = rest.find('[');
    if (bracket == StringRef::npos)
      return error("lock needs a memory operand");
    s.mnemonic = text.take_front(text.size() - rest.size() + bracket).trim();
    rest = rest.drop_front(bracket);
  }
  s.operands = splitOperands(rest);
  NextSlot += mnemonic == "lddw" ? 2 : 1;
  Statements.push_back(std::move(s));
  return Error::success();
}

Expected<uint8_t> Assembler::reg(StringRef text) const {
  unsigned n = 0;
  if (!text.consume_front("%r") || text.getAsInteger(10, n) || n > MaxReg)
    return error("'" + text + "' is not a register %r0..%r10");
  return uint8_t(n);
}

Expected<int64_t> Assembler::number(StringRef text, __int128 min,
                                    __int128 max) const {
  StringRef digits = text.trim();
  bool negative = digits.consume_front("-");
  if (!negative)
    digits.consume_front("+");
  uint64_t magnitude = 0;
  if (digits.getAsInteger(0, magnitude))
    return error("'" + text + "' is not a number");
  // 128 bits hold every spelling, so 0xffffffffffffffff is range-checked
  // rather than silently read as -1.
  __int128 value = negative ? -__int128(magnitude) : __int128(magnitude);
  if (value < min || value > max)
    return error("'" + text + "' is out of range");
  return int64_t(uint64_t(value));
}

/// 32-bit immediates accept signed (-1) and unsigned (0xffffffff) spellings
/// of the same bits.
Expected<int32_t> Assembler::imm32(StringRef text) const {
  Expected<int64_t> value =
      number(text, std::numeric_limits<int32_t>::min(), UINT32_MAX);
  if (!value)
    return value.takeError();
  return int32_t(uint32_t(*value));
}

/// `[%rN]`, `[%rN+off]`, `[%rN-off]`.
Expected<std::pair<uint8_t, int16_t>>
Assembler::memory(StringRef text) const {
  StringRef inner = text.trim();
  if (!inner.consume_front("[") || !inner.consume_back("]"))
    return error("'" + text + "' is not a memory operand [%rN+off]");
  size_t sign = inner.find_first_of("+-");
  Expected<uint8_t> base = reg(inner.take_front(sign).trim());
  if (!base)
    return base.takeError();
  if (sign == StringRef::npos)
    return std::make_pair(*base, int16_t(0));
  Expected<int64_t> off = number(inner.drop_front(sign).trim(), INT16_MIN,
                                 INT16_MAX);
  if (!off)
    return off.takeError();
  return std::make_pair(*base, int16_t(*off));
}

/// The slot delta (target - (slot + 1)) of a label, `exit`, or +N/-N.
Expected<int64_t> Assembler::target(const Statement &s, StringRef text) const {
  auto label = Labels.find(text);
  if (label != Labels.end())
    return int64_t(label->second) - int64_t(s.slot) - 1;
  if (text == "exit") {
    for (const Statement &later : Statements)
      if (later.slot > s.slot && later.mnemonic == "exit")
        return int64_t(later.slot) - int64_t(s.slot) - 1;
    return error("jump to 'exit' with no exit instruction after it");
  }
  if (!text.empty() && (text[0] == '+' || text[0] == '-' || isDigit(text[0])))
    return number(text, INT32_MIN, INT32_MAX);
  return error("undefined label '" + text + "'");
}

Expected<int16_t> Assembler::offset16(int64_t delta) const {
  if (delta < INT16_MIN || delta > INT16_MAX)
    return error("jump offset " + Twine(delta) + " does not fit 16 bits");
  return int16_t(delta);
}

Error Assembler::expectOperands(const Statement &s, size_t n) const {
  if (s.operands.size() == n)
    return Error::success();
  return error("'" + s.mnemonic + "' takes " + Twine(n) + " operand" +
               (n == 1 ? "" : "s") + ", got " + Twine(s.operands.size()));
}

void Assembler::emit(const Word &w) {
  Out.push_back(w.opcode);
  Out.push_back(uint8_t((w.src << 4) | (w.dst & 0xf)));
  Out.push_back(uint8_t(uint16_t(w.off)));
  Out.push_back(uint8_t(uint16_t(w.off) >> 8));
  for (unsigned i = 0; i < 4; ++i)
    Out.push_back(uint8_t(uint32_t(w.imm) >> (8 * i)));
}

/// add, add32, add64, sdiv32, neg, mov ...
Expected<bool> Assembler::encodeAlu(const Statement &s) {
  StringRef name = s.mnemonic;
  uint8_t cls = ClassAlu64;
  if (name.consume_back("32"))
    cls = ClassAlu;
  else
    name.consume_back("64");
  std::optional<uint8_t> op = aluOp(name);
  if (!op)
    return false;
  Word w;
  w.off = name == "sdiv" || name == "smod" ? 1 : 0;
  if (name == "neg") {
    if (Error e = expectOperands(s, 1))
      return std::move(e);
    Expected<uint8_t> dst = reg(s.operands[0]);
    if (!dst)
      return dst.takeError();
    w.opcode = *op | cls;
    w.dst = *dst;
    emit(w);
    return true;
  }
  if (Error e = expectOperands(s, 2))
    return std::move(e);
  Expected<uint8_t> dst = reg(s.operands[0]);
  if (!dst)
    return dst.takeError();
  w.dst = *dst;
  if (s.operands[1].starts_with("%")) {
    Expected<uint8_t> src = reg(s.operands[1]);
    if (!src)
      return src.takeError();
    w.opcode = *op | SourceReg | cls;
    w.src = *src;
  } else {
    Expected<int32_t> imm = imm32(s.operands[1]);
    if (!imm)
      return imm.takeError();
    w.opcode = *op | cls;
    w.imm = *imm;
  }
  emit(w);
  return true;
}

/// movsx<from><to>: movsx832, movsx1632, movsx864, movsx1664, movsx3264.
Expected<bool> Assembler::encodeMovSx(const Statement &s) {
  StringRef name = s.mnemonic;
  if (!name.consume_front("movsx"))
    return false;
  uint8_t cls = name.consume_back("32") ? ClassAlu
                : name.consume_back("64") ? ClassAlu64
                                          : 0xff;
  unsigned from = 0;
  if (cls == 0xff || name.getAsInteger(10, from) ||
      (from != 8 && from != 16 && from != 32))
    return error("unknown mnemonic '" + s.mnemonic + "'");
  if (Error e = expectOperands(s, 2))
    return std::move(e);
  Expected<uint8_t> dst = reg(s.operands[0]);
  Expected<uint8_t> src = reg(s.operands[1]);
  if (!dst || !src)
    return joinErrors(dst.takeError(), src.takeError());
  emit({uint8_t(0xb0 | SourceReg | cls), *dst, *src, int16_t(from), 0});
  return true;
}

/// le16/32/64, be16/32/64 (ALU class), bswap16/32/64 or swap16/32/64
/// (ALU64 class).
Expected<bool> Assembler::encodeEndian(const Statement &s) {
  StringRef name = s.mnemonic;
  uint8_t opcode;
  if (name.consume_front("le"))
    opcode = OpEnd | ClassAlu;
  else if (name.consume_front("be"))
    opcode = OpEnd | SourceReg | ClassAlu;
  else if (name.consume_front("bswap") || name.consume_front("swap"))
    opcode = OpEnd | ClassAlu64;
  else
    return false;
  unsigned bits = 0;
  if (name.getAsInteger(10, bits) || (bits != 16 && bits != 32 && bits != 64))
    return false;
  if (Error e = expectOperands(s, 1))
    return std::move(e);
  Expected<uint8_t> dst = reg(s.operands[0]);
  if (!dst)
    return dst.takeError();
  emit({opcode, *dst, 0, 0, int32_t(bits)});
  return true;
}

/// ldx{b,h,w,dw}, ldxs{b,h,w}, st{b,h,w,dw}, stx{b,h,w,dw}.
Expected<bool> Assembler::encodeLoadStore(const Statement &s) {
  StringRef name = s.mnemonic;
  if (name.consume_front("ldx")) {
    uint8_t mode = ModeMem;
    if (name != "dw" && name.consume_front("s"))
      mode = ModeMemSx;
    std::optional<uint8_t> size = sizeField(name);
    if (!size || (mode == ModeMemSx && name == "dw"))
      return false;
    if (Error e = expectOperands(s, 2))
      return std::move(e);
    Expected<uint8_t> dst = reg(s.operands[0]);
    Expected<std::pair<uint8_t, int16_t>> mem = memory(s.operands[1]);
    if (!dst || !mem)
      return joinErrors(dst.takeError(), mem.takeError());
    emit({uint8_t(mode | *size | ClassLdx), *dst, mem->first, mem->second, 0});
    return true;
  }
  if (!name.consume_front("st"))
    return false;
  bool isReg = name.consume_front("x");
  std::optional<uint8_t> size = sizeField(name);
  if (!size)
    return false;
  if (Error e = expectOperands(s, 2))
    return std::move(e);
  Expected<std::pair<uint8_t, int16_t>> mem = memory(s.operands[0]);
  if (!mem)
    return mem.takeError();
  Word w{uint8_t(ModeMem | *size | (isReg ? ClassStx : ClassSt)), mem->first,
         0, mem->second, 0};
  if (isReg) {
    Expected<uint8_t> src = reg(s.operands[1]);
    if (!src)
      return src.takeError();
    w.src = *src;
  } else {
    Expected<int32_t> imm = imm32(s.operands[1]);
    if (!imm)
      return imm.takeError();
    w.imm = *imm;
  }
  emit(w);
  return true;
}

/// ja, ja32 (gotol), jXX and jXX32.
Expected<bool> Assembler::encodeJump(const Statement &s) {
  StringRef name = s.mnemonic;
  uint8_t cls = name.consume_back("32") ? ClassJmp32 : ClassJmp;
  std::optional<uint8_t> op = jumpOp(name);
  if (!op)
    return false;
  if (*op == 0x00) {
    if (Error e = expectOperands(s, 1))
      return std::move(e);
    Expected<int64_t> delta = target(s, s.operands[0]);
    if (!delta)
      return delta.takeError();
    // gotol keeps its offset in imm; ja in off.
    if (cls == ClassJmp32) {
      emit({ClassJmp32, 0, 0, 0, int32_t(*delta)});
      return true;
    }
    Expected<int16_t> off = offset16(*delta);
    if (!off)
      return off.takeError();
    emit({ClassJmp, 0, 0, *off, 0});
    return true;
  }
  if (Error e = expectOperands(s, 3))
    return std::move(e);
  Expected<uint8_t> dst = reg(s.operands[0]);
  if (!dst)
    return dst.takeError();
  Expected<int64_t> delta = target(s, s.operands[2]);
  if (!delta)
    return delta.takeError();
  Expected<int16_t> off = offset16(*delta);
  if (!off)
    return off.takeError();
  Word w{uint8_t(*op | cls), *dst, 0, *off, 0};
  if (s.operands[1].starts_with("%")) {
    Expected<uint8_t> src = reg(s.operands[1]);
    if (!src)
      return src.takeError();
    w.opcode |= SourceReg;
    w.src = *src;
  } else {
    Expected<int32_t> imm = imm32(s.operands[1]);
    if (!imm)
      return imm.takeError();
    w.imm = *imm;
  }
  emit(w);
  return true;
}

/// "lock [fetch] OP[32]" with operands [mem], %reg.
Error Assembler::encodeAtomic(const Statement &s) {
  SmallVector<StringRef, 3> words;
  s.mnemonic.split(words, ' ', -1, /*KeepEmpty=*/false);
  bool fetch = words.size() == 3 && words[1] == "fetch";
  if (words.size() != (fetch ? 3u : 2u))
    return error("bad atomic instruction '" + s.mnemonic + "'");
  StringRef name = words.back();
  uint8_t size = name.consume_back("32") ? 0x00 : 0x18;
  std::optional<int32_t> op = atomicOp(name);
  if (!op)
    return error("unknown atomic operation '" + words.back() + "'");
  if (Error e = expectOperands(s, 2))
    return e;
  Expected<std::pair<uint8_t, int16_t>> mem = memory(s.operands[0]);
  Expected<uint8_t> src = reg(s.operands[1]);
  if (!mem || !src)
    return joinErrors(mem.takeError(), src.takeError());
  emit({uint8_t(ModeAtomic | size | ClassStx), mem->first, *src, mem->second,
        *op | (fetch ? AtomicFetch : 0)});
  return Error::success();
}

/// call IMM (helper), call local LABEL (src 1, PC-relative imm), call %rN
/// (callx, register in dst as clang encodes it).
Error Assembler::encodeCall(const Statement &s) {
  if (Error e = expectOperands(s, 1))
    return e;
  StringRef operand = s.operands[0];
  if (operand.consume_front("local")) {
    Expected<int64_t> delta = target(s, operand.trim());
    if (!delta)
      return delta.takeError();
    emit({uint8_t(OpCall | ClassJmp), 0, 1, 0, int32_t(*delta)});
    return Error::success();
  }
  if (operand.starts_with("%")) {
    Expected<uint8_t> r = reg(operand);
    if (!r)
      return r.takeError();
    emit({uint8_t(OpCall | SourceReg | ClassJmp), *r, 0, 0, 0});
    return Error::success();
  }
  Expected<int32_t> id = imm32(operand);
  if (!id)
    return id.takeError();
  emit({uint8_t(OpCall | ClassJmp), 0, 0, 0, *id});
  return Error::success();
}

Error Assembler::encodeLddw(const Statement &s) {
  if (Error e = expectOperands(s, 2))
    return e;
  Expected<uint8_t> dst = reg(s.operands[0]);
  if (!dst)
    return dst.takeError();
  Expected<int64_t> value =
      number(s.operands[1], std::numeric_limits<int64_t>::min(), UINT64_MAX);
  if (!value)
    return value.takeError();
  uint64_t bits = uint64_t(*value);
  emit({uint8_t(ModeImm | 0x18 | ClassLd), *dst, 0, 0, int32_t(uint32_t(bits))});
  emit({0, 0, 0, 0, int32_t(uint32_t(bits >> 32))});
  return Error::success();
}

Error Assembler::encode(const Statement &s) {
  CurrentLine = s.line;
  if (s.mnemonic == "exit") {
    if (Error e = expectOperands(s, 0))
      return e;
    emit({uint8_t(OpExit | ClassJmp), 0, 0, 0, 0});
    return Error::success();
  }
  if (s.mnemonic.starts_with("lock"))
    return encodeAtomic(s);
  if (s.mnemonic == "call")
    return encodeCall(s);
  if (s.mnemonic == "lddw")
    return encodeLddw(s);
  using Family = Expected<bool> (Assembler::*)(const Statement &);
  for (Family family : {&Assembler::encodeMovSx, &Assembler::encodeEndian,
                        &Assembler::encodeLoadStore, &Assembler::encodeJump,
                        &Assembler::encodeAlu}) {
    Expected<bool> done = (this->*family)(s);
    if (!done)
      return done.takeError();
    if (*done)
      return Error::success();
  }
  return error("unknown mnemonic '" + s.mnemonic + "'");
}

Expected<std::vector<uint8_t>> Assembler::run(StringRef source) {
  SmallVector<StringRef, 64> lines;
  source.split(lines, '\n');
  for (size_t i = 0; i < lines.size(); ++i)
    if (Error e = parseLine(FirstLine + unsigned(i), lines[i]))
      return std::move(e);
  // Beyond this point every label has its slot.
  for (const Statement &s : Statements)
    if (Error e = encode(s))
      return std::move(e);
  if (Out.empty())
    return makeMalformed(FileName + ": no instructions");
  return std::move(Out);
}

} // namespace

Expected<std::vector<uint8_t>> assemble(StringRef source, StringRef fileName,
                                        unsigned firstLine) {
  return Assembler(fileName, firstLine).run(source);
}

} // namespace eimc::conformance
