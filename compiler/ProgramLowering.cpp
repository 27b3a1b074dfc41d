//===- compiler/ProgramLowering.cpp - One eBPF program to LLVM IR ---------===//
//
// Part of eimc. See eimc/Compiler/Compiler.h.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Lowers the instructions of one verified program to LLVM IR, following
/// RFC 9669 exactly. Entry point: lowerProgram().
///
/// Shape of the output. The program becomes `i64 @sym(ptr %ctx)`; each
/// bpf-to-bpf subprogram (a Call::target, appended to the program's
/// instruction vector by the object reader) becomes an internal
/// `i64 (i64 r1, ..., i64 r5)`. Every function owns eleven i64 allocas for
/// r0-r10 and a 512-byte frame; r10 holds the frame's end address. mem2reg
/// and the O2 pipeline turn the allocas into SSA values, so the lowering
/// can stay a literal, instruction-by-instruction translation. Because each
/// function has its own register allocas, a callee cannot disturb the
/// caller's r6-r9, which is exactly the eBPF calling convention.
///
/// Memory operands are `inttoptr (reg + off)`: eBPF registers are untyped
/// 64-bit values and the verifier, not the compiler, proves them safe.
///
/// Semantics that differ from LLVM's defaults and are handled here:
///  - shift counts are masked (& 31 / & 63), where LLVM would give poison;
///  - x / 0 = 0 and x % 0 = x, INT_MIN / -1 = INT_MIN and INT_MIN % -1 = 0,
///    where LLVM's division is undefined (and x86's `div` traps): the
///    divisor is replaced by 1 in those cases and the result selected, so
///    no trapping division is ever reachable;
///  - ALU32 results are zero-extended into the 64-bit register.
///
/// Not done here: map and global emission (MapEmission.cpp), optimisation
/// and code generation (Compiler.cpp), any safety check (the verifier).
///
//===----------------------------------------------------------------------===//

#include "Lowering.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DerivedTypes.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Module.h"

#include <array>
#include <map>
#include <set>

using namespace llvm;

namespace eimc::compiler {

namespace {

/// uBPF's "unwind" helper, used by the conformance suite in place of
/// bpf_ktime_get_ns (../shared/notes/conformance.md §1.1).
constexpr int32_t ConformanceUnwindHelper = 5;
/// bpf_override_return (verifier/Capabilities.h; CapabilityLowering.cpp).
constexpr uint32_t OverrideReturnHelper = 58;
/// Registers r1-r5 carry helper and subprogram arguments.
constexpr unsigned ArgRegs = 5;
constexpr unsigned NumRegs = 11;

/// The runtime symbol implementing helper \p id, or null if eimc has none.
const char *helperSymbol(int32_t id) {
  switch (id) {
#define EIM_HELPER(ID, NAME, SYM, ...)                                         \
  case ID:                                                                     \
    return #SYM;
#include "eimc/Core/Helpers.def"
  default:
    return nullptr;
  }
}

CmpInst::Predicate predicateFor(bpf::JumpOpKind op) {
  switch (op) {
  case bpf::JumpOpKind::Jeq:
    return CmpInst::ICMP_EQ;
  case bpf::JumpOpKind::Jne:
    return CmpInst::ICMP_NE;
  case bpf::JumpOpKind::Jgt:
    return CmpInst::ICMP_UGT;
  case bpf::JumpOpKind::Jge:
    return CmpInst::ICMP_UGE;
  case bpf::JumpOpKind::Jlt:
    return CmpInst::ICMP_ULT;
  case bpf::JumpOpKind::Jle:
    return CmpInst::ICMP_ULE;
  case bpf::JumpOpKind::Jsgt:
    return CmpInst::ICMP_SGT;
  case bpf::JumpOpKind::Jsge:
    return CmpInst::ICMP_SGE;
  case bpf::JumpOpKind::Jslt:
    return CmpInst::ICMP_SLT;
  case bpf::JumpOpKind::Jsle:
    return CmpInst::ICMP_SLE;
  case bpf::JumpOpKind::Ja:
  case bpf::JumpOpKind::Jset:
    break;
  }
  llvm_unreachable("Ja and Jset have no comparison predicate");
}

/// The program-wide facts: where each slot is, and one LLVM function per
/// entry point (the program itself and each local call target).
class ProgramLowering {
public:
  ProgramLowering(ModuleState &state, const bpfobject::Program &prog)
      : State(state), Prog(prog) {}

  Error run(StringRef symbol);

  ModuleState &state() { return State; }
  const bpfobject::Program &program() const { return Prog; }
  size_t size() const { return Prog.insns.size(); }
  const bpf::Insn &insn(size_t index) const { return Prog.insns[index].insn; }

  /// A refusal located at instruction \p index, in the form of R14:
  /// "ext.o: prog 'name': insn 12: message".
  Error refuse(size_t index, const Twine &message) const;
  /// A malformed-input error located like refuse().
  Error malformed(size_t index, const Twine &message) const;
  /// The instruction index starting at \p slot, for a jump or call at
  /// \p from.
  Expected<size_t> indexOfSlot(size_t from, uint32_t slot) const;
  /// The function for the subprogram starting at \p slot.
  Function *subprogram(uint32_t slot) const { return Subprograms.at(slot); }

private:
  Error indexSlots();
  Error createSubprograms(StringRef symbol);
  Function *createMain(StringRef symbol);

  ModuleState &State;
  const bpfobject::Program &Prog;
  /// Slot → index into Prog.insns.
  DenseMap<uint32_t, size_t> SlotIndex;
  /// Local call target slot → its function; std::map keeps the emission
  /// order independent of hashing.
  std::map<uint32_t, Function *> Subprograms;
};

/// Lowers the instructions reachable from one entry point into one
/// function.
class FunctionLowering {
public:
  FunctionLowering(ProgramLowering &prog, Function &fn, size_t entry,
                   bool isMain)
      : Prog(prog), Fn(fn), Entry(entry), IsMain(isMain),
        Builder(fn.getContext()), I64(Builder.getInt64Ty()),
        I32(Builder.getInt32Ty()) {}

  Error run();

private:
  // Control flow: which instructions belong here and where blocks start.
  Error successors(size_t index, SmallVectorImpl<size_t> &out) const;
  Error collectReachable();
  void createBlocks();
  void emitPrologue();
  Error lowerBody();

  // One visitor per instruction kind; std::visit makes a missing one a
  // compile error.
  Error lower(const bpf::Alu &alu);
  Error lower(const bpf::Endian &endian);
  Error lower(const bpf::Load &load);
  Error lower(const bpf::Store &store);
  Error lower(const bpf::Atomic &atomic);
  Error lower(const bpf::LoadImm64 &ldimm);
  Error lower(const bpf::Jump &jump);
  Error lower(const bpf::Call &call);
  Error lower(const bpf::CallX &callx);
  Error lower(const bpf::Exit &exit);
  Error lower(const bpf::LegacyPacketLoad &legacy);
  Error lower(const bpf::Poison &poison);

  Error lowerMapValue(const bpf::LoadImm64 &ldimm);
  Error lowerHelperCall(const bpf::Call &call);
  Error lowerLocalCall(const bpf::Call &call);
  void lowerUnwind();

  Value *aluOp(const bpf::Alu &alu, Value *dst, Value *src);
  Value *unsignedDivMod(bool isMod, Value *x, Value *y);
  Value *signedDivMod(bool isMod, Value *x, Value *y);
  Value *maskedShiftCount(Value *count);

  Value *readReg(bpf::Reg reg);
  void writeReg(bpf::Reg reg, Value *value);
  Value *narrow(Value *value, Type *ty);
  Value *widen(Value *value) { return Builder.CreateZExt(value, I64); }
  Value *address(bpf::Reg base, int16_t off);
  Type *widthType(bpf::Width width);
  SmallVector<Value *, ArgRegs> argumentRegs();

  ProgramLowering &Prog;
  Function &Fn;
  size_t Entry;
  bool IsMain;
  IRBuilder<> Builder;
  IntegerType *I64;
  IntegerType *I32;
  std::array<AllocaInst *, NumRegs> Regs{};
  /// Instructions reachable from Entry, in index order.
  std::set<size_t> Reachable;
  /// Leader instruction index → its block.
  std::map<size_t, BasicBlock *> Blocks;
  /// The instruction being lowered (for jump targets and diagnostics).
  size_t Current = 0;
};

//===----------------------------------------------------------------------===//
// ProgramLowering
//===----------------------------------------------------------------------===//

Error ProgramLowering::refuse(size_t index, const Twine &message) const {
  return makeRefusal(State.spec.objectName + ": prog '" + Prog.name +
                     "': insn " + Twine(Prog.insns[index].slot) + ": " +
                     message);
}

Error ProgramLowering::malformed(size_t index, const Twine &message) const {
  return makeMalformed(State.spec.objectName + ": prog '" + Prog.name +
                       "': insn " + Twine(Prog.insns[index].slot) + ": " +
                       message);
}

Expected<size_t> ProgramLowering::indexOfSlot(size_t from,
                                              uint32_t slot) const {
  auto it = SlotIndex.find(slot);
  if (it == SlotIndex.end())
    return malformed(from, "target slot " + Twine(slot) +
                               " is not the start of an instruction");
  return it->second;
}

Error ProgramLowering::indexSlots() {
  if (Prog.insns.empty())
    return makeMalformed(State.spec.objectName + ": prog '" + Prog.name +
                         "': no instructions");
  for (size_t i = 0; i < Prog.insns.size(); ++i)
    SlotIndex[Prog.insns[i].slot] = i;
  return Error::success();
}

Function *ProgramLowering::createMain(StringRef symbol) {
  LLVMContext &ctx = State.module.getContext();
  SmallVector<Type *, 2> params{PointerType::getUnqual(ctx)};
  // The conformance suite passes the input's length in r2 as well.
  if (State.options.conformanceHelpers)
    params.push_back(Type::getInt64Ty(ctx));
  FunctionType *ty = FunctionType::get(Type::getInt64Ty(ctx), params, false);
  Function *fn =
      Function::Create(ty, GlobalValue::ExternalLinkage, symbol, State.module);
  fn->getArg(0)->setName("ctx");
  if (fn->arg_size() > 1)
    fn->getArg(1)->setName("len");
  setCodeAttributes(*fn);
  return fn;
}

Error ProgramLowering::createSubprograms(StringRef symbol) {
  LLVMContext &ctx = State.module.getContext();
  Type *i64 = Type::getInt64Ty(ctx);
  SmallVector<Type *, ArgRegs> params(ArgRegs, i64);
  FunctionType *ty = FunctionType::get(i64, params, false);
  for (size_t i = 0; i < Prog.insns.size(); ++i) {
    const auto *call = std::get_if<bpf::Call>(&Prog.insns[i].insn);
    if (!call || call->kind != bpf::CallKind::Local ||
        Subprograms.count(call->target))
      continue;
    if (Error err = indexOfSlot(i, call->target).takeError())
      return err;
    // Internal: subprograms are reached only from this object's code.
    Function *fn =
        Function::Create(ty, GlobalValue::InternalLinkage,
                         symbol + "__sub" + Twine(call->target), State.module);
    setCodeAttributes(*fn);
    Subprograms[call->target] = fn;
  }
  return Error::success();
}

Error ProgramLowering::run(StringRef symbol) {
  if (Error err = indexSlots())
    return err;
  if (Error err = createSubprograms(symbol))
    return err;
  Function *main = createMain(symbol);
  if (Error err = FunctionLowering(*this, *main, 0, /*isMain=*/true).run())
    return err;
  for (const auto &[slot, fn] : Subprograms)
    if (Error err =
            FunctionLowering(*this, *fn, SlotIndex.at(slot), false).run())
      return err;
  return Error::success();
}

//===----------------------------------------------------------------------===//
// FunctionLowering: control flow
//===----------------------------------------------------------------------===//

Error FunctionLowering::successors(size_t index,
                                   SmallVectorImpl<size_t> &out) const {
  const bpf::Insn &insn = Prog.insn(index);
  if (std::holds_alternative<bpf::Exit>(insn))
    return Error::success();
  if (const auto *jump = std::get_if<bpf::Jump>(&insn)) {
    Expected<size_t> target = Prog.indexOfSlot(index, jump->target);
    if (!target)
      return target.takeError();
    out.push_back(*target);
    if (jump->op == bpf::JumpOpKind::Ja)
      return Error::success();
  }
  if (index + 1 >= Prog.size())
    return Prog.malformed(index, "execution falls off the end of the program");
  out.push_back(index + 1);
  return Error::success();
}

Error FunctionLowering::collectReachable() {
  SmallVector<size_t, 64> work{Entry};
  Reachable.insert(Entry);
  while (!work.empty()) {
    size_t index = work.pop_back_val();
    SmallVector<size_t, 2> next;
    if (Error err = successors(index, next))
      return err;
    for (size_t succ : next)
      if (Reachable.insert(succ).second)
        work.push_back(succ);
  }
  return Error::success();
}

/// A block starts at the entry, at every jump target and after every
/// conditional jump (its fall-through edge). An instruction after `ja` or
/// `exit` is reachable only as a jump target, so it is a leader already.
void FunctionLowering::createBlocks() {
  std::set<size_t> leaders{Entry};
  for (size_t index : Reachable) {
    const auto *jump = std::get_if<bpf::Jump>(&Prog.insn(index));
    if (!jump)
      continue;
    // successors() resolved every reachable target already.
    leaders.insert(cantFail(Prog.indexOfSlot(index, jump->target)));
    if (jump->op != bpf::JumpOpKind::Ja)
      leaders.insert(index + 1);
  }
  LLVMContext &ctx = Fn.getContext();
  for (size_t index : leaders)
    Blocks[index] = BasicBlock::Create(
        ctx, "insn" + Twine(Prog.program().insns[index].slot), &Fn);
}

/// Registers and frame. Registers the eBPF entry state leaves undefined
/// start at 0 rather than undef, so an (unverified) read cannot let the
/// optimiser assume arbitrary values.
void FunctionLowering::emitPrologue() {
  LLVMContext &ctx = Fn.getContext();
  BasicBlock *entry = BasicBlock::Create(ctx, "entry", &Fn, &Fn.front());
  Builder.SetInsertPoint(entry);
  for (unsigned r = 0; r < NumRegs; ++r)
    Regs[r] = Builder.CreateAlloca(I64, nullptr, "r" + Twine(r));
  ArrayType *frameTy = ArrayType::get(Builder.getInt8Ty(), bpf::StackSize);
  AllocaInst *frame = Builder.CreateAlloca(frameTy, nullptr, "frame");
  frame->setAlignment(Align(8));
  // The slots the safety verifier found read before written on some path
  // (root's kernel accepts it): in LLVM the read would be undef, so they
  // start zeroed and it yields 0. One 8-byte store each, usually one or
  // two, instead of clearing the whole frame.
  for (int32_t slot : Prog.program().zeroStackSlots)
    Builder.CreateAlignedStore(
        Builder.getInt64(0),
        Builder.CreateConstInBoundsGEP1_64(Builder.getInt8Ty(), frame,
                                           bpf::StackSize + slot),
        Align(8));

  for (unsigned r = 0; r < bpf::FramePointer; ++r)
    writeReg(r, Builder.getInt64(0));
  if (IsMain && verifier::isTypedEntry(Prog.program())) {
    Value *args = emitTypedArguments(Builder, Fn.getArg(0));
    writeReg(1, Builder.CreatePtrToInt(args, I64));
  } else if (IsMain) {
    writeReg(1, Builder.CreatePtrToInt(Fn.getArg(0), I64));
    if (Fn.arg_size() > 1)
      writeReg(2, Fn.getArg(1));
  } else {
    for (unsigned a = 0; a < ArgRegs; ++a)
      writeReg(a + 1, Fn.getArg(a));
  }
  Value *frameEnd = Builder.CreateAdd(Builder.CreatePtrToInt(frame, I64),
                                      Builder.getInt64(bpf::StackSize));
  writeReg(bpf::FramePointer, frameEnd);
  Builder.CreateBr(Blocks.at(Entry));
}

Error FunctionLowering::lowerBody() {
  for (size_t index : Reachable) {
    auto leader = Blocks.find(index);
    if (leader != Blocks.end()) {
      if (!Builder.GetInsertBlock()->getTerminator())
        Builder.CreateBr(leader->second);
      Builder.SetInsertPoint(leader->second);
    }
    // Beyond this point, the current block is open: every instruction that
    // ends a block (ja, exit) is followed by a leader or by nothing.
    assert(!Builder.GetInsertBlock()->getTerminator() &&
           "instruction after a terminator must start a block");
    Current = index;
    Error err = std::visit([&](const auto &insn) { return lower(insn); },
                           Prog.insn(index));
    if (err)
      return err;
  }
  return Error::success();
}

Error FunctionLowering::run() {
  if (Error err = collectReachable())
    return err;
  createBlocks();
  emitPrologue();
  return lowerBody();
}

//===----------------------------------------------------------------------===//
// FunctionLowering: registers and memory
//===----------------------------------------------------------------------===//

Value *FunctionLowering::readReg(bpf::Reg reg) {
  assert(reg < NumRegs && "decoder rejects registers above r10");
  return Builder.CreateLoad(I64, Regs[reg]);
}

void FunctionLowering::writeReg(bpf::Reg reg, Value *value) {
  assert(reg < NumRegs && "decoder rejects registers above r10");
  assert(value->getType() == I64 && "registers are 64-bit");
  Builder.CreateStore(value, Regs[reg]);
}

Value *FunctionLowering::narrow(Value *value, Type *ty) {
  return Builder.CreateTrunc(value, ty);
}

Value *FunctionLowering::address(bpf::Reg base, int16_t off) {
  Value *addr = Builder.CreateAdd(readReg(base), Builder.getInt64(off));
  return Builder.CreateIntToPtr(addr, Builder.getPtrTy());
}

Type *FunctionLowering::widthType(bpf::Width width) {
  return Builder.getIntNTy(static_cast<unsigned>(width) * 8);
}

SmallVector<Value *, ArgRegs> FunctionLowering::argumentRegs() {
  SmallVector<Value *, ArgRegs> args;
  for (unsigned a = 0; a < ArgRegs; ++a)
    args.push_back(readReg(a + 1));
  return args;
}

//===----------------------------------------------------------------------===//
// FunctionLowering: arithmetic
//===----------------------------------------------------------------------===//

Value *FunctionLowering::maskedShiftCount(Value *count) {
  unsigned bits = count->getType()->getIntegerBitWidth();
  return Builder.CreateAnd(count, ConstantInt::get(count->getType(), bits - 1));
}

/// x / 0 = 0, x % 0 = x (RFC 9669 §4.1). The divisor becomes 1 when it is 0
/// so the division itself never traps.
Value *FunctionLowering::unsignedDivMod(bool isMod, Value *x, Value *y) {
  Type *ty = x->getType();
  Value *zero = ConstantInt::get(ty, 0);
  Value *isZero = Builder.CreateICmpEQ(y, zero);
  Value *safe = Builder.CreateSelect(isZero, ConstantInt::get(ty, 1), y);
  Value *q = isMod ? Builder.CreateURem(x, safe) : Builder.CreateUDiv(x, safe);
  return Builder.CreateSelect(isZero, isMod ? x : zero, q);
}

/// As unsignedDivMod for division by zero; besides, INT_MIN / -1 = INT_MIN
/// and INT_MIN % -1 = 0, where x86's idiv would raise #DE. Division by -1
/// is computed as negation (wrapping), which gives both results for every
/// dividend.
Value *FunctionLowering::signedDivMod(bool isMod, Value *x, Value *y) {
  Type *ty = x->getType();
  Value *zero = ConstantInt::get(ty, 0);
  Value *isZero = Builder.CreateICmpEQ(y, zero);
  Value *isMinusOne = Builder.CreateICmpEQ(y, ConstantInt::getSigned(ty, -1));
  Value *special = Builder.CreateOr(isZero, isMinusOne);
  Value *safe = Builder.CreateSelect(special, ConstantInt::get(ty, 1), y);
  Value *q = isMod ? Builder.CreateSRem(x, safe) : Builder.CreateSDiv(x, safe);
  Value *specialResult =
      isMod ? Builder.CreateSelect(isZero, x, zero)
            : Builder.CreateSelect(isZero, zero, Builder.CreateNeg(x));
  return Builder.CreateSelect(special, specialResult, q);
}

Value *FunctionLowering::aluOp(const bpf::Alu &alu, Value *dst, Value *src) {
  Type *ty = dst->getType();
  switch (alu.op) {
  case bpf::AluOpKind::Add:
    return Builder.CreateAdd(dst, src);
  case bpf::AluOpKind::Sub:
    return Builder.CreateSub(dst, src);
  case bpf::AluOpKind::Mul:
    return Builder.CreateMul(dst, src);
  case bpf::AluOpKind::Div:
    return unsignedDivMod(/*isMod=*/false, dst, src);
  case bpf::AluOpKind::SDiv:
    return signedDivMod(/*isMod=*/false, dst, src);
  case bpf::AluOpKind::Mod:
    return unsignedDivMod(/*isMod=*/true, dst, src);
  case bpf::AluOpKind::SMod:
    return signedDivMod(/*isMod=*/true, dst, src);
  case bpf::AluOpKind::Or:
    return Builder.CreateOr(dst, src);
  case bpf::AluOpKind::And:
    return Builder.CreateAnd(dst, src);
  case bpf::AluOpKind::Xor:
    return Builder.CreateXor(dst, src);
  case bpf::AluOpKind::Lsh:
    return Builder.CreateShl(dst, maskedShiftCount(src));
  case bpf::AluOpKind::Rsh:
    return Builder.CreateLShr(dst, maskedShiftCount(src));
  case bpf::AluOpKind::Arsh:
    return Builder.CreateAShr(dst, maskedShiftCount(src));
  case bpf::AluOpKind::Neg:
    return Builder.CreateNeg(dst);
  case bpf::AluOpKind::Mov:
    return src;
  case bpf::AluOpKind::MovSx: {
    // movsx8/16 (ALU and ALU64) and movsx32 (ALU64 only): a width equal
    // to the operation's is a plain move.
    if (alu.sxBits == 0 || alu.sxBits >= ty->getIntegerBitWidth())
      return src;
    Value *low = Builder.CreateTrunc(src, Builder.getIntNTy(alu.sxBits));
    return Builder.CreateSExt(low, ty);
  }
  }
  llvm_unreachable("unknown ALU operation");
}

//===----------------------------------------------------------------------===//
// FunctionLowering: one visitor per instruction kind
//===----------------------------------------------------------------------===//

/// ALU64 immediates are sign-extended to 64 bits (also for unsigned div
/// and mod); ALU (32-bit) immediates are used as their 32 bits.
Error FunctionLowering::lower(const bpf::Alu &alu) {
  IntegerType *ty = alu.is64 ? I64 : I32;
  Value *dst = alu.is64 ? readReg(alu.dst) : narrow(readReg(alu.dst), ty);
  Value *src;
  if (alu.useImm)
    src = ConstantInt::get(ty, static_cast<int64_t>(alu.imm), true);
  else
    src = alu.is64 ? readReg(alu.src) : narrow(readReg(alu.src), ty);
  Value *result = aluOp(alu, dst, src);
  writeReg(alu.dst, alu.is64 ? result : widen(result));
  return Error::success();
}

/// On little-endian x86, `le` only truncates to its width (zero-extending
/// back); `be` and the ALU64 `bswap` reverse the bytes of that width.
Error FunctionLowering::lower(const bpf::Endian &endian) {
  if (endian.bits != 16 && endian.bits != 32 && endian.bits != 64)
    return Prog.malformed(Current,
                          "byte swap of " + Twine(endian.bits) + " bits");
  Value *value = readReg(endian.dst);
  Value *low = narrow(value, Builder.getIntNTy(endian.bits));
  if (endian.kind != bpf::EndianKind::ToLE)
    low = Builder.CreateUnaryIntrinsic(Intrinsic::bswap, low);
  writeReg(endian.dst, widen(low));
  return Error::success();
}

/// eBPF allows unaligned access on x86 (the kernel's
/// HAVE_EFFICIENT_UNALIGNED_ACCESS), hence align 1.
Error FunctionLowering::lower(const bpf::Load &load) {
  Value *loaded = Builder.CreateAlignedLoad(
      widthType(load.width), address(load.src, load.off), Align(1));
  Value *value = load.signExtend ? Builder.CreateSExt(loaded, I64)
                                 : Builder.CreateZExt(loaded, I64);
  writeReg(load.dst, value);
  return Error::success();
}

/// ST stores the immediate truncated to the width; for DW it is first
/// sign-extended to 64 bits.
Error FunctionLowering::lower(const bpf::Store &store) {
  Type *ty = widthType(store.width);
  Value *value =
      store.useImm ? ConstantInt::get(ty, static_cast<int64_t>(store.imm), true)
                   : narrow(readReg(store.src), ty);
  Builder.CreateAlignedStore(value, address(store.dst, store.off), Align(1));
  return Error::success();
}

/// Atomics need natural alignment in LLVM (otherwise they become
/// __atomic_* library calls, which the runtime does not provide); eBPF
/// requires it too. 32-bit results are zero-extended into 64-bit
/// registers; cmpxchg compares with and returns into r0.
Error FunctionLowering::lower(const bpf::Atomic &atomic) {
  if (atomic.width != bpf::Width::W && atomic.width != bpf::Width::DW)
    return Prog.malformed(Current, "atomic operation on " +
                                       Twine(unsigned(atomic.width)) +
                                       " bytes");
  Type *ty = widthType(atomic.width);
  MaybeAlign align(static_cast<unsigned>(atomic.width));
  Value *ptr = address(atomic.dst, atomic.off);
  Value *src = narrow(readReg(atomic.src), ty);
  constexpr AtomicOrdering order = AtomicOrdering::SequentiallyConsistent;

  if (atomic.op == bpf::AtomicOpKind::CmpXchg) {
    Value *expected = narrow(readReg(0), ty);
    Value *pair =
        Builder.CreateAtomicCmpXchg(ptr, expected, src, align, order, order);
    writeReg(0, widen(Builder.CreateExtractValue(pair, 0)));
    return Error::success();
  }

  AtomicRMWInst::BinOp op = AtomicRMWInst::Xchg;
  switch (atomic.op) {
  case bpf::AtomicOpKind::Add:
    op = AtomicRMWInst::Add;
    break;
  case bpf::AtomicOpKind::Or:
    op = AtomicRMWInst::Or;
    break;
  case bpf::AtomicOpKind::And:
    op = AtomicRMWInst::And;
    break;
  case bpf::AtomicOpKind::Xor:
    op = AtomicRMWInst::Xor;
    break;
  case bpf::AtomicOpKind::Xchg:
  case bpf::AtomicOpKind::CmpXchg:
    break;
  }
  Value *old = Builder.CreateAtomicRMW(op, ptr, src, align, order);
  if (atomic.fetch || atomic.op == bpf::AtomicOpKind::Xchg)
    writeReg(atomic.src, widen(old));
  return Error::success();
}

Error FunctionLowering::lower(const bpf::LoadImm64 &ldimm) {
  switch (ldimm.kind) {
  case bpf::Imm64Kind::Imm: {
    const std::map<uint32_t, std::string> &globals =
        Prog.program().hostGlobals;
    auto global = globals.find(Prog.program().insns[Current].slot);
    if (global == globals.end())
      writeReg(ldimm.dst, Builder.getInt64(ldimm.value));
    else // an extern variable (host global, docs/capabilities.md)
      writeReg(ldimm.dst,
               emitHostGlobal(Builder, Prog.state().module, global->second));
    return Error::success();
  }
  case bpf::Imm64Kind::MapByFd: {
    const std::vector<GlobalVariable *> &maps = Prog.state().mapStates;
    if (ldimm.mapIndex >= maps.size())
      return Prog.malformed(Current,
                            "lddw refers to map " + Twine(ldimm.mapIndex) +
                                " but the object has " + Twine(maps.size()));
    writeReg(ldimm.dst, Builder.CreatePtrToInt(maps[ldimm.mapIndex], I64));
    return Error::success();
  }
  case bpf::Imm64Kind::MapValueByFd:
    return lowerMapValue(ldimm);
  case bpf::Imm64Kind::VarAddr:
  case bpf::Imm64Kind::CodeAddr:
  case bpf::Imm64Kind::MapByIdx:
  case bpf::Imm64Kind::MapValueByIdx:
    break;
  }
  return Prog.refuse(Current, "lddw src " + Twine(unsigned(ldimm.kind)) +
                                  " is not supported");
}

/// Global data: the address of byte \p ldimm.offset of the map's single
/// value. For a writable map that is the map's storage in the shared
/// state, found through the pointer eim_map_init stored in the map state
/// (the storage is allocated at start-up, so it cannot be a link-time
/// constant); for `.rodata` it is the read-only copy in the code pages.
Error FunctionLowering::lowerMapValue(const bpf::LoadImm64 &ldimm) {
  ModuleState &state = Prog.state();
  if (ldimm.mapIndex >= state.spec.maps.size())
    return Prog.malformed(Current, "lddw refers to map " +
                                       Twine(ldimm.mapIndex) +
                                       " but the object has " +
                                       Twine(state.spec.maps.size()));
  const bpfobject::MapDef &def = state.spec.maps[ldimm.mapIndex];
  if (def.type != uint32_t(bpfobject::MapTypeKind::Array) ||
      ldimm.offset >= def.valueSize)
    return Prog.malformed(Current, "map value reference to offset " +
                                       Twine(ldimm.offset) + " of map '" +
                                       def.name + "'");
  Value *base;
  if (GlobalVariable *rodata = state.mapInitialValues[ldimm.mapIndex];
      rodata && isReadOnlyData(def)) {
    base = Builder.CreatePtrToInt(rodata, I64);
  } else {
    Value *slot = Builder.CreateConstInBoundsGEP1_64(
        Builder.getInt8Ty(), state.mapStates[ldimm.mapIndex],
        MapStateDataOffset);
    base = Builder.CreatePtrToInt(
        Builder.CreateAlignedLoad(Builder.getPtrTy(), slot, Align(8)), I64);
  }
  writeReg(ldimm.dst, Builder.CreateAdd(base, Builder.getInt64(ldimm.offset)));
  return Error::success();
}

/// JMP32 compares the low 32 bits; JMP compares 64 bits with the
/// immediate sign-extended.
Error FunctionLowering::lower(const bpf::Jump &jump) {
  Expected<size_t> target = Prog.indexOfSlot(Current, jump.target);
  if (!target)
    return target.takeError();
  BasicBlock *taken = Blocks.at(*target);
  if (jump.op == bpf::JumpOpKind::Ja) {
    Builder.CreateBr(taken);
    return Error::success();
  }
  IntegerType *ty = jump.is32 ? I32 : I64;
  Value *lhs = jump.is32 ? narrow(readReg(jump.dst), ty) : readReg(jump.dst);
  Value *rhs;
  if (jump.useImm)
    rhs = ConstantInt::get(ty, static_cast<int64_t>(jump.imm), true);
  else
    rhs = jump.is32 ? narrow(readReg(jump.src), ty) : readReg(jump.src);
  Value *cond = jump.op == bpf::JumpOpKind::Jset
                    ? Builder.CreateICmpNE(Builder.CreateAnd(lhs, rhs),
                                           ConstantInt::get(ty, 0))
                    : Builder.CreateICmp(predicateFor(jump.op), lhs, rhs);
  Builder.CreateCondBr(cond, taken, Blocks.at(Current + 1));
  return Error::success();
}

/// uBPF's unwind helper: r0 = r1, and the program stops with r0 = 0 when
/// r1 is 0. In a subprogram only that subprogram returns (the conformance
/// suite calls it only from the main program).
void FunctionLowering::lowerUnwind() {
  Value *arg = readReg(1);
  writeReg(0, arg);
  LLVMContext &ctx = Fn.getContext();
  BasicBlock *stop = BasicBlock::Create(ctx, "unwind", &Fn);
  BasicBlock *cont = BasicBlock::Create(ctx, "unwind.cont", &Fn);
  Builder.CreateCondBr(Builder.CreateICmpEQ(arg, Builder.getInt64(0)), stop,
                       cont);
  Builder.SetInsertPoint(stop);
  Builder.CreateRet(Builder.getInt64(0));
  Builder.SetInsertPoint(cont);
}

/// A direct call to the runtime's implementation, r1-r5 → rdi, rsi, rdx,
/// rcx, r8. r1-r5 keep their values afterwards; the verifier rejects any
/// read of them before a write, so that is as good as clobbering.
Error FunctionLowering::lowerHelperCall(const bpf::Call &call) {
  if (Prog.state().options.conformanceHelpers &&
      call.imm == ConformanceUnwindHelper) {
    lowerUnwind();
    return Error::success();
  }
  if (call.imm == int32_t(OverrideReturnHelper)) {
    // The verifier allows it only where r1 is the typed entry's context,
    // which exists only in the main function.
    if (!IsMain || !verifier::isTypedEntry(Prog.program()))
      return Prog.refuse(Current, "bpf_override_return outside a typed entry");
    emitOverrideReturn(Builder, Fn.getArg(0), readReg(2));
    writeReg(0, Builder.getInt64(0));
    return Error::success();
  }
  const char *symbol = helperSymbol(call.imm);
  if (!symbol)
    return Prog.refuse(Current, "call to unknown helper " + Twine(call.imm));
  Module &m = Prog.state().module;
  SmallVector<Type *, ArgRegs> params(ArgRegs, I64);
  FunctionCallee callee =
      m.getOrInsertFunction(symbol, FunctionType::get(I64, params, false));
  if (auto *fn = dyn_cast<Function>(callee.getCallee())) {
    fn->setVisibility(GlobalValue::HiddenVisibility);
    fn->setDSOLocal(true);
    fn->setDoesNotThrow();
  }
  writeReg(0, Builder.CreateCall(callee, argumentRegs()));
  return Error::success();
}

Error FunctionLowering::lowerLocalCall(const bpf::Call &call) {
  Function *callee = Prog.subprogram(call.target);
  writeReg(0, Builder.CreateCall(callee, argumentRegs()));
  return Error::success();
}

Error FunctionLowering::lower(const bpf::Call &call) {
  switch (call.kind) {
  case bpf::CallKind::Helper:
    return lowerHelperCall(call);
  case bpf::CallKind::Local:
    return lowerLocalCall(call);
  case bpf::CallKind::HelperBtfId:
    break;
  }
  const std::map<uint32_t, std::string> &hostCalls = Prog.program().hostCalls;
  auto name = hostCalls.find(Prog.program().insns[Current].slot);
  const extract::CapabilityManifest *manifest = Prog.state().options.manifest;
  const extract::HostFunction *fn =
      name != hostCalls.end() && manifest ? manifest->findFunction(name->second)
                                          : nullptr;
  if (!fn)
    return Prog.refuse(Current, "kfunc call (BTF id " + Twine(call.imm) +
                                    ") is not supported");
  writeReg(0, emitHostCall(Builder, Prog.state().module, *fn, argumentRegs()));
  return Error::success();
}

Error FunctionLowering::lower(const bpf::CallX &callx) {
  return Prog.refuse(Current, "indirect call (callx r" +
                                  Twine(unsigned(callx.reg)) +
                                  ") is not supported");
}

Error FunctionLowering::lower(const bpf::Exit &) {
  Builder.CreateRet(readReg(0));
  return Error::success();
}

Error FunctionLowering::lower(const bpf::LegacyPacketLoad &) {
  return Prog.refuse(Current,
                     "legacy packet access (ld_abs/ld_ind) is not supported");
}

Error FunctionLowering::lower(const bpf::Poison &poison) {
  return Prog.refuse(Current, "unresolved CO-RE relocation: " + poison.reason);
}

} // namespace

Error lowerProgram(ModuleState &state, const bpfobject::Program &prog,
                   StringRef symbol) {
  return ProgramLowering(state, prog).run(symbol);
}

} // namespace eimc::compiler
