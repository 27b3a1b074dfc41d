//===- rewriter/X86Decoder.cpp - Capstone adapter -------------------------===//
//
// Part of eimc. See X86Decoder.h.
//
//===----------------------------------------------------------------------===//
//
// The only file that includes capstone (style R12). It turns one cs_insn
// into a DecodedInsn and capstone's cs_err codes into llvm::Errors; the
// handle is owned by X86Decoder. Capstone 4 has no encoder, so the planner
// writes relocated branches as assembly for LLVM MC instead.
//
// Capstone 4's cs_x86.encoding gives the displacement and immediate offsets
// we need to rewrite a RIP-relative disp32 in place. They are checked
// against the instruction length here (disp32 followed only by the
// immediate), so a decoder quirk becomes an error rather than a wrong patch.
//
//===----------------------------------------------------------------------===//

#include "X86Decoder.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"

#include <capstone/capstone.h>

using namespace llvm;

namespace eimc::rewriter {

static Error capstoneError(cs_err err, StringRef what) {
  return makeMalformed(Twine("capstone: ") + what + ": " + cs_strerror(err));
}

Expected<X86Decoder> X86Decoder::create() {
  csh handle = 0;
  if (cs_err err = cs_open(CS_ARCH_X86, CS_MODE_64, &handle))
    return capstoneError(err, "cannot open an x86-64 handle");
  X86Decoder decoder(handle);
  if (cs_err err = cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON))
    return capstoneError(err, "cannot enable instruction details");
  if (cs_err err = cs_option(handle, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT))
    return capstoneError(err, "cannot select AT&T syntax");
  return decoder;
}

X86Decoder::X86Decoder(X86Decoder &&other) : Handle(other.Handle) {
  other.Handle = 0;
}

X86Decoder &X86Decoder::operator=(X86Decoder &&other) {
  std::swap(Handle, other.Handle);
  return *this;
}

X86Decoder::~X86Decoder() {
  if (!Handle)
    return;
  csh handle = Handle;
  cs_close(&handle);
}

/// Instructions after which execution does not fall through and that we
/// copy verbatim when they complete the stolen bytes.
static bool endsFunction(unsigned id) {
  switch (id) {
  case X86_INS_RET:
  case X86_INS_RETF:
  case X86_INS_RETFQ:
  case X86_INS_IRET:
  case X86_INS_IRETD:
  case X86_INS_IRETQ:
  case X86_INS_UD2:
  case X86_INS_UD2B:
  case X86_INS_HLT:
  case X86_INS_INT3:
    return true;
  default:
    return false;
  }
}

/// Control flow that has no rel32 form or that we refuse to move:
/// loop/jrcxz are rel8 only, xbegin's abort target is PC-relative state,
/// far transfers and software interrupts are not function-entry code.
static bool unsupportedControl(unsigned id) {
  switch (id) {
  case X86_INS_JCXZ:
  case X86_INS_JECXZ:
  case X86_INS_JRCXZ:
  case X86_INS_LOOP:
  case X86_INS_LOOPE:
  case X86_INS_LOOPNE:
  case X86_INS_XBEGIN:
  case X86_INS_LJMP:
  case X86_INS_LCALL:
  case X86_INS_INT:
  case X86_INS_INTO:
  case X86_INS_INT1:
  case X86_INS_SYSRET:
  case X86_INS_SYSEXIT:
    return true;
  default:
    return false;
  }
}

static bool isJcc(unsigned id) {
  switch (id) {
  case X86_INS_JAE:
  case X86_INS_JA:
  case X86_INS_JBE:
  case X86_INS_JB:
  case X86_INS_JE:
  case X86_INS_JGE:
  case X86_INS_JG:
  case X86_INS_JLE:
  case X86_INS_JL:
  case X86_INS_JNE:
  case X86_INS_JNO:
  case X86_INS_JNP:
  case X86_INS_JNS:
  case X86_INS_JO:
  case X86_INS_JP:
  case X86_INS_JS:
    return true;
  default:
    return false;
  }
}

/// The direct target of a branch whose only operand is an immediate.
static std::optional<uint64_t> directTarget(const cs_x86 &x86) {
  if (x86.op_count == 1 && x86.operands[0].type == X86_OP_IMM)
    return static_cast<uint64_t>(x86.operands[0].imm);
  return std::nullopt;
}

/// Condition nibble from the opcode: 7X (rel8) or 0F 8X (rel32).
static std::optional<unsigned> jccCondition(const cs_x86 &x86) {
  if ((x86.opcode[0] & 0xF0) == 0x70)
    return x86.opcode[0] & 0x0F;
  if (x86.opcode[0] == 0x0F && (x86.opcode[1] & 0xF0) == 0x80)
    return x86.opcode[1] & 0x0F;
  return std::nullopt;
}

/// FF /2 with the ModRM byte where capstone says it is.
static bool isIndirectCallEncoding(const DecodedInsn &insn) {
  unsigned modrm = insn.modrmOffset;
  return modrm > 0 && modrm < insn.bytes.size() &&
         insn.bytes[modrm - 1] == 0xFF && (insn.bytes[modrm] & 0x38) == 0x10;
}

static Error classifyBranch(const cs_insn &insn, DecodedInsn &out) {
  const cs_x86 &x86 = insn.detail->x86;
  if (endsFunction(insn.id)) {
    out.branch = BranchKind::Ret;
  } else if (unsupportedControl(insn.id)) {
    out.branch = BranchKind::Other;
  } else if (insn.id == X86_INS_JMP) {
    out.branch = BranchKind::Jmp;
    out.target = directTarget(x86);
  } else if (insn.id == X86_INS_CALL) {
    out.branch = BranchKind::Call;
    out.target = directTarget(x86);
    out.modrmOffset = x86.encoding.modrm_offset;
    // The planner turns an indirect call into a jmp by its ModRM reg field.
    if (!out.target && !isIndirectCallEncoding(out))
      return makeMalformed("unexpected encoding of '" + out.text + "' at 0x" +
                           utohexstr(out.address));
  } else if (isJcc(insn.id)) {
    std::optional<unsigned> cc = jccCondition(x86);
    if (!cc)
      return makeMalformed("unexpected encoding of '" + out.text + "' at 0x" +
                           utohexstr(out.address));
    out.branch = BranchKind::Jcc;
    out.target = directTarget(x86);
    out.condition = *cc;
  }
  return Error::success();
}

/// Fills the RIP-relative fields and checks the layout the planner relies
/// on: [prefixes/opcode/modrm] disp32 [imm], nothing else after disp32.
static Error classifyRipRelative(const cs_insn &insn, DecodedInsn &out) {
  const cs_x86 &x86 = insn.detail->x86;
  bool ripRelative = false;
  for (unsigned i = 0; i < x86.op_count; ++i)
    if (x86.operands[i].type == X86_OP_MEM &&
        x86.operands[i].mem.base == X86_REG_RIP)
      ripRelative = true;
  if (!ripRelative)
    return Error::success();
  // A RIP-relative displacement is always 32 bits in 64-bit mode, so the
  // bytes at disp_offset are checked instead of disp_size: capstone 4.0.2
  // reports disp_size 2 for 0x66-prefixed SSE forms (`comisd x(%rip),
  // %xmm0` in python3.11's PyLong_FromDouble).
  const cs_x86_encoding &enc = x86.encoding;
  auto dispAt = [&](unsigned offset) {
    return static_cast<int32_t>(support::endian::read32le(insn.bytes + offset));
  };
  if (enc.disp_offset == 0 ||
      enc.disp_offset + 4u + enc.imm_size != insn.size ||
      dispAt(enc.disp_offset) != x86.disp)
    return makeMalformed("cannot locate the displacement of '" + out.text +
                         "' at 0x" + utohexstr(out.address));
  out.isRipRelative = true;
  out.dispOffset = enc.disp_offset;
  out.immSize = enc.imm_size;
  out.ripTarget = insn.address + insn.size + x86.disp;
  return Error::success();
}

static bool readsStackPointer(const cs_x86 &x86) {
  for (unsigned i = 0; i < x86.op_count; ++i) {
    const cs_x86_op &op = x86.operands[i];
    if (op.type == X86_OP_REG && op.reg == X86_REG_RSP)
      return true;
    if (op.type == X86_OP_MEM &&
        (op.mem.base == X86_REG_RSP || op.mem.index == X86_REG_RSP))
      return true;
  }
  return false;
}

Expected<DecodedInsn> X86Decoder::decode(ArrayRef<uint8_t> code,
                                         uint64_t address) const {
  cs_insn *insn = nullptr;
  size_t count = cs_disasm(Handle, code.data(), code.size(), address, 1, &insn);
  if (count == 0) {
    cs_err err = cs_errno(Handle);
    if (err != CS_ERR_OK)
      return capstoneError(err, "decoding at 0x" + utohexstr(address));
    return makeMalformed("undecodable instruction at 0x" + utohexstr(address));
  }
  DecodedInsn out;
  out.address = insn->address;
  out.bytes.assign(insn->bytes, insn->bytes + insn->size);
  out.text = std::string(insn->mnemonic);
  if (insn->op_str[0])
    out.text += std::string(" ") + insn->op_str;
  out.readsStackPointer = readsStackPointer(insn->detail->x86);
  Error err = classifyBranch(*insn, out);
  if (!err)
    err = classifyRipRelative(*insn, out);
  cs_free(insn, count);
  if (err)
    return err;
  return out;
}

} // namespace eimc::rewriter
