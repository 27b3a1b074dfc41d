//===- compiler/MapEmission.cpp - Map state and map definitions -----------===//
//
// Part of eimc. See eimc/Compiler/Compiler.h.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Emits, for each map of an extension, the three things the runtime needs
/// (runtime-lib/include/eim_runtime.h):
///  - `eim_map_<prefix>_<name>`: EIM_MAP_STATE_SIZE zeroed bytes in .bss,
///    64-byte aligned, the map's runtime state. eBPF code sees its address
///    as the map "fd" (LDDW src 1).
///  - `eim_mapdef_<prefix>_<name>`: a read-only `struct eim_map_def`.
///  - `eim_maps_init_<prefix>()`: calls `eim_map_init(state, def)` for each
///    map in spec order; the start stub calls it once at start-up.
///
/// The definitions hold no addresses: a constant that points at another
/// global would need an absolute relocation (R_X86_64_64), which the
/// linker refuses because the host is position-independent. The pairing of
/// state and definition therefore lives in code (the initializer), where
/// references are PC-relative.
///
/// Not done here: allocating map memory (the runtime does, in the shared
/// state pages) or any per-type validation (the verifier and runtime do).
///
//===----------------------------------------------------------------------===//

#include "Lowering.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/DerivedTypes.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"

using namespace llvm;

namespace eimc::compiler {

namespace {

/// EIM_MAP_STATE_SIZE and the state's alignment in eim_runtime.h.
constexpr uint64_t MapStateSize = 128;
constexpr uint64_t MapStateAlign = 64;
/// sizeof(eim_map_def::name), including the terminating NUL.
constexpr unsigned MapNameBytes = 64;
/// The u32 fields of eim_map_def before `name`: type, key_size,
/// value_size, max_entries, map_flags, reserved[3].
constexpr unsigned MapDefWords = 8;

std::string mapDefSymbol(StringRef prefix, StringRef name) {
  return ("eim_mapdef_" + prefix + "_" + name).str();
}

GlobalVariable *emitMapState(Module &m, StringRef symbol) {
  ArrayType *ty = ArrayType::get(Type::getInt8Ty(m.getContext()), MapStateSize);
  auto *gv = new GlobalVariable(m, ty, /*isConstant=*/false,
                                GlobalValue::ExternalLinkage,
                                ConstantAggregateZero::get(ty), symbol);
  gv->setAlignment(Align(MapStateAlign));
  // The runtime maps .bss into the shared state pages; mutable data must
  // never land in .data (runtime-lib has no writable initialized data).
  gv->setSection(".bss");
  gv->setVisibility(GlobalValue::HiddenVisibility);
  gv->setDSOLocal(true);
  return gv;
}

/// The bytes of eim_map_def::name: the map name, NUL-padded. Names longer
/// than 63 bytes are cut (the kernel's own limit is 15); the name is only
/// shown by `eimc maps`, the symbol keeps the full name.
Constant *mapNameBytes(LLVMContext &ctx, StringRef name) {
  std::string bytes = name.take_front(MapNameBytes - 1).str();
  bytes.resize(MapNameBytes, '\0');
  return ConstantDataArray::getString(ctx, bytes, /*AddNull=*/false);
}

GlobalVariable *emitMapDef(Module &m, const bpfobject::MapDef &def,
                           StringRef symbol) {
  LLVMContext &ctx = m.getContext();
  Type *i32 = Type::getInt32Ty(ctx);
  ArrayType *wordsTy = ArrayType::get(i32, MapDefWords);
  ArrayType *nameTy = ArrayType::get(Type::getInt8Ty(ctx), MapNameBytes);
  StructType *defTy = StructType::get(ctx, {wordsTy, nameTy});

  uint32_t fields[MapDefWords] = {
      def.type, def.keySize, def.valueSize, def.maxEntries, def.flags, 0, 0, 0};
  std::vector<Constant *> words;
  for (uint32_t field : fields)
    words.push_back(ConstantInt::get(i32, field));
  Constant *init = ConstantStruct::get(
      defTy, {ConstantArray::get(wordsTy, words), mapNameBytes(ctx, def.name)});

  auto *gv = new GlobalVariable(m, defTy, /*isConstant=*/true,
                                GlobalValue::ExternalLinkage, init, symbol);
  gv->setAlignment(Align(4));
  gv->setSection(".rodata");
  gv->setVisibility(GlobalValue::HiddenVisibility);
  gv->setDSOLocal(true);
  return gv;
}

/// `void eim_map_init(void *state, const struct eim_map_def *def)`,
/// provided (hidden) by runtime-lib.
FunctionCallee declareMapInit(Module &m) {
  LLVMContext &ctx = m.getContext();
  PointerType *ptr = PointerType::getUnqual(ctx);
  FunctionType *ty =
      FunctionType::get(Type::getVoidTy(ctx), {ptr, ptr}, /*isVarArg=*/false);
  FunctionCallee callee = m.getOrInsertFunction("eim_map_init", ty);
  if (auto *fn = dyn_cast<Function>(callee.getCallee())) {
    fn->setVisibility(GlobalValue::HiddenVisibility);
    fn->setDSOLocal(true);
    fn->setDoesNotThrow();
  }
  return callee;
}

} // namespace

std::string mapsInitSymbol(StringRef prefix) {
  return ("eim_maps_init_" + prefix).str();
}

void emitMaps(ModuleState &state) {
  Module &m = state.module;
  LLVMContext &ctx = m.getContext();
  StringRef prefix = state.options.symbolPrefix;

  std::vector<GlobalVariable *> defs;
  for (const bpfobject::MapDef &def : state.spec.maps) {
    state.mapStates.push_back(emitMapState(m, mapSymbol(prefix, def.name)));
    defs.push_back(emitMapDef(m, def, mapDefSymbol(prefix, def.name)));
  }

  // Emitted even without maps, so the start stub can call every object's
  // initializer unconditionally.
  FunctionType *initTy =
      FunctionType::get(Type::getVoidTy(ctx), /*isVarArg=*/false);
  Function *init = Function::Create(initTy, GlobalValue::ExternalLinkage,
                                    mapsInitSymbol(prefix), m);
  setCodeAttributes(*init);
  IRBuilder<> builder(BasicBlock::Create(ctx, "entry", init));
  FunctionCallee mapInit = declareMapInit(m);
  for (size_t i = 0; i < defs.size(); ++i)
    builder.CreateCall(mapInit, {state.mapStates[i], defs[i]});
  builder.CreateRetVoid();
}

} // namespace eimc::compiler
