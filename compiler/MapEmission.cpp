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
///  - `eim_mapinit_<prefix>_<name>`: for a global-data map with initial
///    contents (`.data`, `.rodata`), those bytes, read-only;
///  - `eim_maps_init_<prefix>()`: calls `eim_map_init(state, def)` for each
///    map in spec order, then `eim_map_init_data(state, init, size)` where
///    there are initial contents; the start stub calls it once at start-up.
///
/// Global data lives in the map's shared storage, so `eimc maps` sees the
/// same bytes the program does. `.rodata` maps also get their read-only
/// copy in the code pages, which the program reads directly: a store is a
/// fault, not a silent change, and LLVM can fold loads of constants.
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

std::string mapInitSymbol(StringRef prefix, StringRef name) {
  return ("eim_mapinit_" + prefix + "_" + name).str();
}

/// The read-only initial value of \p def, or null if it needs none.
GlobalVariable *emitInitialValue(Module &m, const bpfobject::MapDef &def,
                                 StringRef symbol) {
  if (def.initialValue.empty() && !isReadOnlyData(def))
    return nullptr;
  std::vector<uint8_t> bytes = def.initialValue;
  bytes.resize(def.valueSize, 0);
  Constant *init = ConstantDataArray::get(m.getContext(), bytes);
  auto *gv = new GlobalVariable(m, init->getType(), /*isConstant=*/true,
                                GlobalValue::ExternalLinkage, init, symbol);
  gv->setAlignment(Align(8));
  gv->setSection(".rodata");
  gv->setVisibility(GlobalValue::HiddenVisibility);
  gv->setDSOLocal(true);
  return gv;
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
      def.type,       def.keySize,          def.valueSize,
      def.maxEntries, def.flags,            def.btfKeyTypeId,
      def.btfValueTypeId, 0};
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

/// `void eim_map_init(void *state, const struct eim_map_def *def)` and
/// `void eim_map_init_data(void *state, const void *data, uint64_t size)`,
/// provided (hidden) by runtime-lib.
FunctionCallee declareRuntime(Module &m, StringRef name,
                              ArrayRef<Type *> params) {
  LLVMContext &ctx = m.getContext();
  FunctionType *ty =
      FunctionType::get(Type::getVoidTy(ctx), params, /*isVarArg=*/false);
  FunctionCallee callee = m.getOrInsertFunction(name, ty);
  if (auto *fn = dyn_cast<Function>(callee.getCallee())) {
    fn->setVisibility(GlobalValue::HiddenVisibility);
    fn->setDSOLocal(true);
    fn->setDoesNotThrow();
  }
  return callee;
}

} // namespace

bool hasRuntimeStorage(const bpfobject::MapDef &def) {
  using bpfobject::MapTypeKind;
  return def.type == uint32_t(MapTypeKind::Hash) ||
         def.type == uint32_t(MapTypeKind::Array) ||
         def.type == uint32_t(MapTypeKind::PerfEventArray) ||
         def.type == uint32_t(MapTypeKind::PercpuHash) ||
         def.type == uint32_t(MapTypeKind::PercpuArray) ||
         def.type == uint32_t(MapTypeKind::RingBuf);
}

bool isReadOnlyData(const bpfobject::MapDef &def) {
  return def.type == uint32_t(bpfobject::MapTypeKind::Array) &&
         def.maxEntries == 1 && (def.flags & bpfobject::MapFlagRdonlyProg);
}

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
    state.mapInitialValues.push_back(
        emitInitialValue(m, def, mapInitSymbol(prefix, def.name)));
  }

  // Emitted even without maps, so the start stub can call every object's
  // initializer unconditionally.
  FunctionType *initTy =
      FunctionType::get(Type::getVoidTy(ctx), /*isVarArg=*/false);
  Function *init = Function::Create(initTy, GlobalValue::ExternalLinkage,
                                    mapsInitSymbol(prefix), m);
  setCodeAttributes(*init);
  IRBuilder<> builder(BasicBlock::Create(ctx, "entry", init));
  PointerType *ptr = PointerType::getUnqual(ctx);
  FunctionCallee mapInit = declareRuntime(m, "eim_map_init", {ptr, ptr});
  FunctionCallee mapInitData = declareRuntime(
      m, "eim_map_init_data", {ptr, ptr, Type::getInt64Ty(ctx)});
  FunctionCallee mapInitBtf = declareRuntime(
      m, "eim_map_init_btf", {ptr, ptr, Type::getInt64Ty(ctx)});
  // One read-only copy of the object's .BTF, recorded for every map so
  // `eimc maps` prints values by field name (the runtime stores it once).
  GlobalVariable *btf = nullptr;
  if (!state.spec.btf.empty()) {
    btf = new GlobalVariable(
        m, ArrayType::get(Type::getInt8Ty(ctx), state.spec.btf.size()),
        /*isConstant=*/true, GlobalValue::InternalLinkage,
        ConstantDataArray::get(ctx, ArrayRef<uint8_t>(state.spec.btf)),
        ("eim_btf_" + prefix).str());
    btf->setSection(".rodata");
    btf->setAlignment(Align(8));
  }
  for (size_t i = 0; i < defs.size(); ++i) {
    const bpfobject::MapDef &def = state.spec.maps[i];
    // The verifier accepts a map of a type the runtime lacks only when no
    // reachable instruction uses it (funclatency's CGROUP_ARRAY behind
    // `filter_cg`): it stays an all-zero state object and gets no storage.
    if (!hasRuntimeStorage(def))
      continue;
    builder.CreateCall(mapInit, {state.mapStates[i], defs[i]});
    if (btf)
      builder.CreateCall(mapInitBtf,
                         {state.mapStates[i], btf,
                          builder.getInt64(state.spec.btf.size())});
    if (!def.initialValue.empty())
      builder.CreateCall(mapInitData,
                         {state.mapStates[i], state.mapInitialValues[i],
                          builder.getInt64(def.initialValue.size())});
  }
  builder.CreateRetVoid();
}

} // namespace eimc::compiler
