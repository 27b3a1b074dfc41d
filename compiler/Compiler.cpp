//===- compiler/Compiler.cpp - eBPF to x86-64 through LLVM ----------------===//
//
// Part of eimc. See eimc/Compiler/Compiler.h.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The compiler stage: VerifiedExtension → NativeObject. Entry points are
/// compile() (an ELF relocatable object) and emitText() (IR or assembly
/// for --emit=ir|asm). Both run the same phases:
///
///  1. buildModule: one LLVM module per extension, holding the map objects
///     (MapEmission.cpp) and one function per program
///     (ProgramLowering.cpp);
///  2. optimize: the new pass manager's default O2 pipeline, which turns the
///     register allocas into SSA and removes the lowering's redundancy;
///  3. emitCode: the X86 back end, PIC, small code model, no SSE/x87.
///
/// Everything is per call: the LLVMContext, the module and the target
/// machine. The only process-wide state is LLVM's target registry, which
/// is initialised once (std::call_once), so the stage can run many times
/// and on several threads in one process.
///
/// Output is deterministic: no paths (the module is named after the
/// object's base name), no timestamps, symbols in spec order.
///
/// Not done here: linking with the runtime (the linker stage) or deciding
/// whether a program may run (the verifier did).
///
//===----------------------------------------------------------------------===//

#include "eimc/Compiler/Compiler.h"
#include "Lowering.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/CodeGen.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Triple.h"

#include <memory>
#include <mutex>
#include <set>

using namespace llvm;

namespace eimc::compiler {

namespace {

constexpr const char *TargetTriple = "x86_64-unknown-linux-gnu";

/// Registers the X86 back end once per process. LLVM's registry is global;
/// call_once makes concurrent compile() calls safe.
void initializeX86() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
  });
}

Expected<std::unique_ptr<TargetMachine>> createTargetMachine() {
  initializeX86();
  std::string message;
  const Target *target = TargetRegistry::lookupTarget(TargetTriple, message);
  if (!target)
    return createStringError(inconvertibleErrorCode(),
                             "cannot find the x86-64 target: " + message);
  TargetOptions targetOptions;
  // Generated code is called from trampolines that save only
  // general-purpose registers: no value may live in an XMM or x87 register.
  targetOptions.FloatABIType = FloatABI::Soft;
  std::unique_ptr<TargetMachine> machine(target->createTargetMachine(
      TargetTriple, targetCpu(), targetFeatures(), targetOptions, Reloc::PIC_,
      CodeModel::Small, CodeGenOptLevel::Default));
  if (!machine)
    return createStringError(inconvertibleErrorCode(),
                             "cannot create the x86-64 target machine");
  return machine;
}

/// Every program symbol must be unique: LLVM would silently rename a
/// second function of the same name, and the linker would then bind the
/// hook to the wrong program.
Error checkUniqueSymbol(Module &m, StringRef objectName, StringRef symbol) {
  if (!m.getNamedValue(symbol))
    return Error::success();
  return makeMalformed(objectName + ": two programs compile to symbol '" +
                       symbol + "'");
}

Expected<std::unique_ptr<Module>>
buildModule(LLVMContext &ctx, TargetMachine &machine,
            const verifier::VerifiedExtension &ext, const Options &options) {
  const bpfobject::ExtensionSpec &spec = ext.spec();
  // The base name only: a directory in the module would end up in the
  // object's STT_FILE symbol and make builds differ by checkout path.
  StringRef name = sys::path::filename(spec.objectName);
  auto m = std::make_unique<Module>(name, ctx);
  m->setSourceFileName(name);
  m->setTargetTriple(TargetTriple);
  m->setDataLayout(machine.createDataLayout());
  m->setPICLevel(PICLevel::BigPIC);

  ModuleState state{*m, spec, options, {}, {}};
  emitMaps(state);
  for (size_t index : ext.programs()) {
    if (index >= spec.programs.size())
      return makeMalformed(spec.objectName + ": program index " + Twine(index) +
                           " out of range");
    const bpfobject::Program &prog = spec.programs[index];
    std::string symbol = programSymbol(options.symbolPrefix, prog.name);
    if (Error err = checkUniqueSymbol(*m, spec.objectName, symbol))
      return err;
    if (Error err = lowerProgram(state, prog, symbol))
      return err;
  }

  // Beyond this point, the IR is complete; an invalid module is a bug in
  // the lowering, reported rather than handed to the back end.
  std::string problems;
  raw_string_ostream os(problems);
  if (verifyModule(*m, &os))
    return createStringError(inconvertibleErrorCode(),
                             spec.objectName +
                                 ": internal error: invalid IR: " + problems);
  return m;
}

/// The default O2 pipeline, as `opt -O2` would run it for this target.
void optimize(Module &m, TargetMachine &machine) {
  LoopAnalysisManager lam;
  FunctionAnalysisManager fam;
  CGSCCAnalysisManager cgam;
  ModuleAnalysisManager mam;
  PassBuilder builder(&machine);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  ModulePassManager passes =
      builder.buildPerModuleDefaultPipeline(OptimizationLevel::O2);
  passes.run(m, mam);
}

Error emitCode(Module &m, TargetMachine &machine, CodeGenFileType kind,
               SmallVectorImpl<char> &out) {
  raw_svector_ostream os(out);
  legacy::PassManager passes;
  if (machine.addPassesToEmitFile(passes, os, nullptr, kind))
    return createStringError(inconvertibleErrorCode(),
                             "the x86-64 back end cannot emit this file type");
  passes.run(m);
  return Error::success();
}

/// A built and optimised module with the machine that will lower it. The
/// context outlives the module (member order).
struct Compilation {
  LLVMContext context;
  std::unique_ptr<TargetMachine> machine;
  std::unique_ptr<Module> module;
};

Error prepare(Compilation &c, const verifier::VerifiedExtension &ext,
              const Options &options) {
  Expected<std::unique_ptr<TargetMachine>> machine = createTargetMachine();
  if (!machine)
    return machine.takeError();
  c.machine = std::move(*machine);
  Expected<std::unique_ptr<Module>> m =
      buildModule(c.context, *c.machine, ext, options);
  if (!m)
    return m.takeError();
  c.module = std::move(*m);
  optimize(*c.module, *c.machine);
  return Error::success();
}

} // namespace

StringRef targetCpu() { return "x86-64"; }

StringRef targetFeatures() {
  return "-sse,-sse2,-sse3,-ssse3,-sse4.1,-sse4.2,-avx,-avx2,-avx512f,-mmx,"
         "-x87,+soft-float";
}

void setCodeAttributes(Function &fn) {
  fn.addFnAttr("target-cpu", targetCpu());
  fn.addFnAttr("target-features", targetFeatures());
  fn.addFnAttr("frame-pointer", "all");
  fn.addFnAttr(Attribute::NoUnwind);
  // Local symbols cannot carry a visibility; every global one is hidden
  // so references stay PC-relative and nothing is exported from the host.
  if (!fn.hasLocalLinkage())
    fn.setVisibility(GlobalValue::HiddenVisibility);
  fn.setDSOLocal(true);
}

std::string programSymbol(StringRef prefix, StringRef name) {
  return ("eim_prog_" + prefix + "_" + name).str();
}

std::string mapSymbol(StringRef prefix, StringRef name) {
  return ("eim_map_" + prefix + "_" + name).str();
}

Expected<NativeObject> compile(const verifier::VerifiedExtension &ext,
                               const Options &options) {
  Compilation c;
  if (Error err = prepare(c, ext, options))
    return err;
  SmallVector<char, 0> elf;
  if (Error err =
          emitCode(*c.module, *c.machine, CodeGenFileType::ObjectFile, elf))
    return err;

  NativeObject object;
  object.elf.assign(elf.begin(), elf.end());
  const bpfobject::ExtensionSpec &spec = ext.spec();
  for (size_t index : ext.programs()) {
    const std::string &name = spec.programs[index].name;
    object.programs.push_back(
        {name, programSymbol(options.symbolPrefix, name)});
  }
  for (const bpfobject::MapDef &map : spec.maps)
    object.mapSymbols.push_back(mapSymbol(options.symbolPrefix, map.name));
  object.mapsInitSymbol = mapsInitSymbol(options.symbolPrefix);
  std::set<std::string> hostFunctions;
  for (size_t index : ext.programs())
    for (const auto &[slot, name] : spec.programs[index].hostCalls)
      hostFunctions.insert(name);
  object.hostFunctions.assign(hostFunctions.begin(), hostFunctions.end());
  std::set<std::string> hostGlobals;
  for (size_t index : ext.programs())
    for (const auto &[slot, name] : spec.programs[index].hostGlobals)
      hostGlobals.insert(name);
  object.hostGlobals.assign(hostGlobals.begin(), hostGlobals.end());
  return object;
}

Expected<std::string> emitText(const verifier::VerifiedExtension &ext,
                               const Options &options) {
  Compilation c;
  if (Error err = prepare(c, ext, options))
    return err;
  std::string text;
  if (options.emit == EmitKind::IR) {
    raw_string_ostream os(text);
    c.module->print(os, nullptr);
    return text;
  }
  if (options.emit != EmitKind::Asm)
    return createStringError(inconvertibleErrorCode(),
                             "emitText: only IR and assembly are text");
  SmallVector<char, 0> asmText;
  if (Error err = emitCode(*c.module, *c.machine, CodeGenFileType::AssemblyFile,
                           asmText))
    return err;
  return std::string(asmText.begin(), asmText.end());
}

} // namespace eimc::compiler
