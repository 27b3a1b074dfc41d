//===- compiler/Lowering.h - eBPF to LLVM IR, private interface -*- C++ -*-===//
//
// Part of eimc. See eimc/Compiler/Compiler.h.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The compiler's internal phases, shared between Compiler.cpp (which
/// drives LLVM: target, optimisation, code generation) and the files that
/// build IR: MapEmission.cpp (map state, map definitions, the maps
/// initializer) and ProgramLowering.cpp (one program's instructions).
/// Nothing here is visible outside compiler/.
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_COMPILER_LOWERING_H
#define EIMC_COMPILER_LOWERING_H

#include "eimc/BpfObject/BpfObject.h"
#include "eimc/Compiler/Compiler.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

#include "llvm/IR/IRBuilder.h"

namespace llvm {
class Function;
class GlobalVariable;
class Module;
} // namespace llvm

namespace eimc::compiler {

/// Everything the lowering of one program needs about its module.
struct ModuleState {
  llvm::Module &module;
  const bpfobject::ExtensionSpec &spec;
  const Options &options;
  /// Map state objects (`eim_map_<prefix>_<name>`), by map index: LDDW
  /// src 1 becomes the address of one of these.
  std::vector<llvm::GlobalVariable *> mapStates;
  /// Read-only copies of global-data maps' initial values, by map index
  /// (`eim_mapinit_<prefix>_<name>`); null for maps without one. A
  /// `.rodata` map always has one, and its LDDW src 2 points into it.
  std::vector<llvm::GlobalVariable *> mapInitialValues;
};

/// Offset of the value-storage pointer in a map state
/// (EIM_MAP_STATE_DATA_OFFSET in runtime-lib/include/eim_runtime.h).
constexpr uint64_t MapStateDataOffset = 16;

/// A `.rodata` map (BPF_F_RDONLY_PROG): its value never changes, so code
/// reads the read-only copy in the code pages.
bool isReadOnlyData(const bpfobject::MapDef &def);
/// \returns true for map types runtime-lib allocates (HASH, ARRAY,
/// PERF_EVENT_ARRAY, PERCPU_HASH, PERCPU_ARRAY, RINGBUF); others are only
/// accepted while unused.
bool hasRuntimeStorage(const bpfobject::MapDef &def);

/// "x86-64" with every vector/x87 unit disabled: compiled programs run
/// inside trampolines that preserve only general-purpose registers.
llvm::StringRef targetCpu();
llvm::StringRef targetFeatures();

/// Gives \p fn the attributes every generated function carries
/// (target features, nounwind, frame pointer, hidden visibility).
void setCodeAttributes(llvm::Function &fn);

/// "eim_maps_init_<prefix>".
std::string mapsInitSymbol(llvm::StringRef prefix);

/// Emits the map state objects, their read-only definitions and the maps
/// initializer (even with no maps) into \p state.module, filling
/// \p state.mapStates.
void emitMaps(ModuleState &state);

/// Lowers program \p prog into a function named \p symbol with the native
/// ABI `i64 (ptr ctx)`, plus one internal function per bpf-to-bpf
/// subprogram it calls.
/// \returns an error naming the program and slot for an instruction that
/// cannot be lowered (unsupported kind, unknown helper, bad target).
llvm::Error lowerProgram(ModuleState &state, const bpfobject::Program &prog,
                         llvm::StringRef symbol);

/// A typed entry's context (CapabilityLowering.cpp): a six-slot i64 array
/// of the argument registers saved in the trampoline's pt_regs \p regs.
/// \returns its address.
llvm::Value *emitTypedArguments(llvm::IRBuilder<> &builder, llvm::Value *regs);

/// A direct call to host function \p fn with the first
/// `fn.prototype.params.size()` of \p regs (r1-r5). \returns r0: the result
/// extended to 64 bits as its C type requires, 0 for void.
llvm::Value *emitHostCall(llvm::IRBuilder<> &builder, llvm::Module &module,
                          const extract::HostFunction &fn,
                          llvm::ArrayRef<llvm::Value *> regs);

/// The address of host global \p name (an `extern ... __ksym` variable),
/// as an i64: a PC-relative reference to hostGlobalSymbol(name), which the
/// driver defines as the global's address.
llvm::Value *emitHostGlobal(llvm::IRBuilder<> &builder, llvm::Module &module,
                            llvm::StringRef name);

/// bpf_override_return(ctx, \p value) in a typed entry whose trampoline
/// pt_regs is \p regs.
void emitOverrideReturn(llvm::IRBuilder<> &builder, llvm::Value *regs,
                        llvm::Value *value);

} // namespace eimc::compiler

#endif // EIMC_COMPILER_LOWERING_H
