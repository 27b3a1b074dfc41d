//===- eimc/Compiler/Compiler.h - eBPF to x86-64 ----------------*- C++ -*-===//
//
// Part of eimc. See docs/design.md.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The compiler lowers verified eBPF programs through LLVM 19 IR to an x86-64
/// relocatable object. One native function per program, named
/// programSymbol(); registers r0-r10 become i64 values, r10 points at the
/// top of a 512-byte frame allocated on the host's stack. Semantics follow
/// RFC 9669 exactly (masked shift counts, x/0 = 0, x%0 = x,
/// INT_MIN/-1 = INT_MIN).
///
/// Native ABI of a program: `uint64_t f(void *ctx)` (System V), returning r0.
/// A typed entry (`fentry/FUNC`) has the same native ABI; its context is
/// built from the pt_regs argument slots (docs/capabilities.md). Host
/// function calls become direct calls to hostFunctionSymbol().
/// Helper calls become direct calls to the runtime symbol from
/// eimc/Core/Helpers.def; a map reference (LDDW src 1) becomes the address
/// of mapSymbol(). The object also defines `eim_maps_init`, which calls
/// `eim_map_init(struct eim_map *m, const struct eim_map_def *d)` for each
/// map (see runtime-lib/include/eim_runtime.h).
///
/// Code is built without SSE/AVX/x87 ("+soft-float"), so trampolines need
/// to preserve only general-purpose registers and flags, and with the PIC
/// relocation model: every reference is PC-relative (the linker refuses
/// absolute relocations, which would be wrong in a PIE host).
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_COMPILER_COMPILER_H
#define EIMC_COMPILER_COMPILER_H

#include "eimc/Verifier/Verifier.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace eimc::compiler {

enum class EmitKind : uint8_t { None, IR, Asm, Obj };

struct Options {
  /// What to print instead of (or in addition to) returning the object.
  EmitKind emit = EmitKind::None;
  /// Prefix making symbols unique across objects in one build (e.g. the
  /// object's index "e0"). Part of every symbol name.
  std::string symbolPrefix = "e0";
  /// Conformance mode: helper 5 is uBPF's "unwind" instead of
  /// bpf_ktime_get_ns (see ../shared/notes/conformance.md §1.1), and a
  /// program's native ABI is `uint64_t f(void *mem, uint64_t len)` with
  /// r1 = mem, r2 = len, as the conformance suite's `-- mem` expects.
  bool conformanceHelpers = false;
  /// Prototypes of the host functions programs call (the verifier's
  /// manifest); null when the host offers none.
  const extract::CapabilityManifest *manifest = nullptr;
};

/// A compiled program inside a NativeObject.
struct NativeProgram {
  std::string name;   ///< eBPF program name
  std::string symbol; ///< native function symbol
};

/// A compiled extension: an x86-64 ELF relocatable object.
struct NativeObject {
  std::vector<uint8_t> elf;
  std::vector<NativeProgram> programs;
  /// Symbols of the map runtime structures, by map index.
  std::vector<std::string> mapSymbols;
  /// Symbol of this object's map initializer (`void f(void)`).
  std::string mapsInitSymbol;
  /// Host functions the programs call, sorted: each is an undefined
  /// symbol hostFunctionSymbol(name) that the link must define as the
  /// host function's address.
  std::vector<std::string> hostFunctions;
  /// Host globals the programs reference, sorted: each is an undefined
  /// symbol hostGlobalSymbol(name) the link must define as its address.
  std::vector<std::string> hostGlobals;
};

/// "eim_hfunc_<name>": how compiled code names host function \p name.
std::string hostFunctionSymbol(llvm::StringRef name);
/// "eim_hglobal_<name>": how compiled code names host global \p name.
std::string hostGlobalSymbol(llvm::StringRef name);

/// "eim_prog_<prefix>_<name>".
std::string programSymbol(llvm::StringRef prefix, llvm::StringRef name);
/// "eim_map_<prefix>_<name>".
std::string mapSymbol(llvm::StringRef prefix, llvm::StringRef name);

/// Compiles every program of \p ext.
/// \returns the object, or an error if LLVM cannot generate code (a bug or
/// an instruction the verifier let through that the compiler cannot lower).
llvm::Expected<NativeObject> compile(const verifier::VerifiedExtension &ext,
                                     const Options &options);

/// Textual IR or assembly of \p ext for --emit=ir|asm.
llvm::Expected<std::string> emitText(const verifier::VerifiedExtension &ext,
                                     const Options &options);

} // namespace eimc::compiler

#endif // EIMC_COMPILER_COMPILER_H
