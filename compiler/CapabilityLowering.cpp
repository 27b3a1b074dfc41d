//===- compiler/CapabilityLowering.cpp - EIM capabilities to LLVM IR ------===//
//
// Part of eimc. See docs/capabilities.md.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The IR for what the verifier's capability check (verifier/
/// Capabilities.cpp) proved safe, so none of it carries a check at run
/// time:
///  - a typed entry's arguments: the trampoline already saved the hooked
///    function's argument registers in its pt_regs; the program's context
///    becomes a six-slot array of those registers, which SROA dissolves,
///    so `ctx[0]` is the saved %rdi and `r->uri.len` one load through it;
///  - a host-function call: a direct call to `eim_hfunc_<name>`, which the
///    driver defines as the host function's address, with the result
///    narrowed and extended as the manifest's return type requires;
///  - bpf_override_return: stores the value into pt_regs.ax and 0 into
///    pt_regs.orig_ax, which the entry trampoline reads as "return to the
///    caller now" (rewriter/Trampolines.cpp).
///  - a host global (`extern T name __ksym;`): the address of
///    `eim_hglobal_<name>`, which the driver defines as the global's.
/// Host state needs nothing else: a granted access is the program's own
/// load or store, which the lowering emits as one instruction.
///
//===----------------------------------------------------------------------===//

#include "Lowering.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"

using namespace llvm;

namespace eimc::compiler {

std::string hostFunctionSymbol(StringRef name) {
  return ("eim_hfunc_" + name).str();
}

std::string hostGlobalSymbol(StringRef name) {
  return ("eim_hglobal_" + name).str();
}

namespace {

/// pt_regs slots of the System V argument registers, in argument order
/// (arch/x86/include/asm/ptrace.h; rewriter/Trampolines.cpp fills them).
constexpr int64_t ArgumentOffsets[] = {112 /*rdi*/, 104 /*rsi*/, 96 /*rdx*/,
                                       88 /*rcx*/,  72 /*r8*/,   64 /*r9*/};
constexpr int64_t RaxOffset = 80;
constexpr int64_t OrigRaxOffset = 120;

/// How a C return type of the manifest lands in rax: the callee defines
/// only the low bits of a narrow integer, so r0 needs an extension.
struct ReturnShape {
  unsigned bits; ///< 0: void
  bool isSigned;
};

ReturnShape returnShape(StringRef type) {
  type = type.trim();
  if (type == "void")
    return {0, false};
  if (type.ends_with("*"))
    return {64, false};
  while (type.consume_front("const "))
    type = type.trim();
  return StringSwitch<ReturnShape>(type)
      .Cases("int", "signed int", "int32_t", {32, true})
      .Cases("unsigned int", "unsigned", "uint32_t", {32, false})
      .Cases("short", "short int", "int16_t", {16, true})
      .Cases("unsigned short", "unsigned short int", "uint16_t", {16, false})
      .Cases("char", "signed char", "int8_t", {8, true})
      .Cases("unsigned char", "uint8_t", "_Bool", "bool", {8, false})
      .Default({64, false}); // long, size_t, typedefs of them, pointers
}

} // namespace

Value *emitTypedArguments(IRBuilder<> &builder, Value *regs) {
  Type *i64 = builder.getInt64Ty();
  ArrayType *ty = ArrayType::get(i64, std::size(ArgumentOffsets));
  AllocaInst *args = builder.CreateAlloca(ty, nullptr, "args");
  for (size_t k = 0; k < std::size(ArgumentOffsets); ++k) {
    Value *slot = builder.CreateConstGEP1_64(builder.getInt8Ty(), regs,
                                             ArgumentOffsets[k]);
    builder.CreateStore(builder.CreateLoad(i64, slot),
                        builder.CreateConstGEP2_64(ty, args, 0, k));
  }
  return args;
}

Value *emitHostCall(IRBuilder<> &builder, Module &module,
                    const extract::HostFunction &fn, ArrayRef<Value *> regs) {
  Type *i64 = builder.getInt64Ty();
  ReturnShape shape = returnShape(fn.prototype.returns);
  Type *ret = shape.bits ? builder.getIntNTy(shape.bits) : builder.getVoidTy();
  size_t count = std::min(fn.prototype.params.size(), regs.size());
  SmallVector<Type *, 5> params(count, i64);
  FunctionCallee callee = module.getOrInsertFunction(
      hostFunctionSymbol(fn.name), FunctionType::get(ret, params, false));
  // dso_local: a PC-relative call to the absolute symbol the driver
  // defines, never through a PLT or GOT (the linker refuses those).
  if (auto *f = dyn_cast<Function>(callee.getCallee()))
    f->setDSOLocal(true);
  CallInst *call = builder.CreateCall(callee, regs.take_front(count));
  if (!shape.bits)
    return builder.getInt64(0);
  return shape.isSigned ? builder.CreateSExt(call, i64)
                        : builder.CreateZExt(call, i64);
}

Value *emitHostGlobal(IRBuilder<> &builder, Module &module, StringRef name) {
  std::string symbol = hostGlobalSymbol(name);
  GlobalVariable *global = module.getNamedGlobal(symbol);
  if (!global) {
    // Its type does not matter: every access is the program's own load or
    // store at an offset the verifier bounded. dso_local for the same
    // reason as host functions: `lea sym(%rip)`, never a GOT entry, so
    // the reference moves with a PIE host's load address.
    global = new GlobalVariable(module, builder.getInt8Ty(), false,
                                GlobalValue::ExternalLinkage, nullptr, symbol);
    global->setDSOLocal(true);
  }
  return builder.CreatePtrToInt(global, builder.getInt64Ty());
}

void emitOverrideReturn(IRBuilder<> &builder, Value *regs, Value *value) {
  Type *i8 = builder.getInt8Ty();
  builder.CreateStore(value, builder.CreateConstGEP1_64(i8, regs, RaxOffset));
  builder.CreateStore(builder.getInt64(0),
                      builder.CreateConstGEP1_64(i8, regs, OrigRaxOffset));
}

} // namespace eimc::compiler
