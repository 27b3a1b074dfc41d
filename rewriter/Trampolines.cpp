//===- rewriter/Trampolines.cpp - Trampolines and the start stub ----------===//
//
// Part of eimc. See eimc/Rewriter/Rewriter.h and notes/rewriting.md §3.5.
//
//===----------------------------------------------------------------------===//
//
// trampolineAssembly() writes, as GNU assembler text, the code that the
// patched `jmp rel32`s and the new e_entry reach; emitTrampolines() turns
// it into an ELF relocatable object with LLVM MC, in process, for the
// linker. Programs and runtime functions are undefined symbols; host
// addresses are `eim_host_<hex>` symbols the linker defines as absolute.
//
// Three kinds of code, all in `.text.eimc`:
//  - eim_tramp_<f>: entry trampoline. Builds a kernel-layout `struct
//    pt_regs` (168 bytes) on the host stack so eBPF programs can use
//    libbpf's PT_REGS_PARM* / PT_REGS_RC, calls each entry program with
//    %rdi = &pt_regs, arms the return probe if any, restores every GPR and
//    the flags, runs the relocated stolen instructions and jumps back
//    (unless they end in a ret, a jmp, or a call, which the planner
//    emulates so that its callee returns into the host itself).
//    The program calls are bracketed by eim_rt_ext_enter/exit, which count
//    the site's hits and skip a nested run (a signal handler reaching a
//    hook while this thread runs an extension; runtime-lib/src/
//    reentrancy.c).
//  - eim_uret_<f>: return trampoline. The runtime swapped the return
//    address for this trampoline, so `ret` in the hooked function lands
//    here with the return value in rax/rdx. The slot the return address
//    was in is taken back; the runtime returns the original address, which
//    is written into the slot so the final `ret` goes home (call/ret stay
//    balanced for return-address predictors).
//  - eim_start: new e_entry. Keeps %rdx (ld.so's fini pointer) and the
//    16-byte stack alignment, initialises the runtime and the programs'
//    maps, then jumps to the original entry.
//
// The two trampolines carry .cfi directives (docs/design.md, "Unwind
// information for the trampolines"); UnwindInfo.cpp copies the FDEs MC
// makes of them into the output's unwind data, since the linker discards
// .eh_frame.
//
// Clobbers: nothing architectural survives changed except what programs
// wrote into pt_regs (by design). Vector registers are not saved: programs
// and runtime are compiled without SSE (rewriting.md §3.5). The stack below
// the entry %rsp is used, which is safe at a function entry (no live red
// zone across a call).
//
//===----------------------------------------------------------------------===//

#include "eimc/Rewriter/Rewriter.h"

#include "Gates.h"
#include "UnwindInfo.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/MC/MCAsmBackend.h"
#include "llvm/MC/MCAsmInfo.h"
#include "llvm/MC/MCCodeEmitter.h"
#include "llvm/MC/MCContext.h"
#include "llvm/MC/MCInstrInfo.h"
#include "llvm/MC/MCObjectFileInfo.h"
#include "llvm/MC/MCObjectWriter.h"
#include "llvm/MC/MCParser/MCAsmParser.h"
#include "llvm/MC/MCParser/MCTargetAsmParser.h"
#include "llvm/MC/MCRegisterInfo.h"
#include "llvm/MC/MCStreamer.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/MCTargetOptions.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Triple.h"

using namespace llvm;

namespace eimc::rewriter {

namespace {

/// sizeof(struct pt_regs) on x86-64.
constexpr int PtRegsSize = 168;

/// Slot offsets in struct pt_regs (arch/x86/include/asm/ptrace.h).
constexpr int OrigAxOffset = 120;
constexpr int IpOffset = 128;
constexpr int CsOffset = 136;
constexpr int FlagsOffset = 144;
constexpr int SpOffset = 152;
constexpr int SsOffset = 160;

/// The 15 general-purpose registers pt_regs saves, at their offsets.
struct SavedRegister {
  const char *name;
  int offset;
};
constexpr SavedRegister SavedRegisters[] = {
    {"r15", 0},  {"r14", 8},  {"r13", 16}, {"r12", 24},  {"rbp", 32},
    {"rbx", 40}, {"r11", 48}, {"r10", 56}, {"r9", 64},   {"r8", 72},
    {"rax", 80}, {"rcx", 88}, {"rdx", 96}, {"rsi", 104}, {"rdi", 112}};

/// Symbol names are C identifiers in practice, but GCC's `foo.cold` or
/// a C++ mangled name must not break the assembler: quote anything else.
std::string sym(StringRef name) {
  bool plain =
      !name.empty() && !isDigit(name.front()) && all_of(name, [](char c) {
        return isAlnum(c) || c == '_' || c == '.' || c == '$';
      });
  if (plain)
    return name.str();
  return "\"" + name.str() + "\"";
}

std::string hostSymbol(uint64_t address) {
  return "eim_host_" + utohexstr(address, true);
}

class AsmWriter {
public:
  explicit AsmWriter(raw_ostream &os) : OS(os) {}

  void beginFunction(StringRef name, bool align = true) {
    if (align)
      OS << "\n  .p2align 4, 0xcc\n";
    OS << "  .globl " << sym(name) << "\n"
       << "  .type " << sym(name) << ", @function\n"
       << sym(name) << ":\n";
  }
  void endFunction(StringRef name) {
    OS << "  .size " << sym(name) << ", . - " << sym(name) << "\n";
  }
  void line(const Twine &text) { OS << "  " << text << "\n"; }
  /// Lines of a gate (Gates.cpp), labels unindented.
  void label(StringRef name) { OS << name << ":\n"; }
  void lines(StringRef text) {
    SmallVector<StringRef> parts;
    text.split(parts, '\n', -1, /*KeepEmpty=*/false);
    for (StringRef part : parts)
      OS << (part.ends_with(":") ? "" : "  ") << part << "\n";
  }

  /// Reserves pt_regs below %rsp and fills it. \p spBias is added to the
  /// address just above pt_regs to get the interrupted %rsp. On entry the
  /// CFA is %rsp + 8 (a return address on top) in both trampolines.
  void buildPtRegs(int spBias, StringRef ipSymbol) {
    // lea, not sub: the flags are still the host's and are saved below.
    line("leaq -" + Twine(PtRegsSize) + "(%rsp), %rsp");
    line(".cfi_adjust_cfa_offset " + Twine(PtRegsSize));
    for (const SavedRegister &reg : SavedRegisters)
      line("movq %" + Twine(reg.name) + ", " + Twine(reg.offset) + "(%rsp)");
    saveCalleeSavedCfi();
    // pop with an %rsp-based operand addresses after the increment.
    line("pushfq");
    line(".cfi_adjust_cfa_offset 8");
    line("popq " + Twine(FlagsOffset) + "(%rsp)");
    line(".cfi_adjust_cfa_offset -8");
    line("leaq " + Twine(PtRegsSize + spBias) + "(%rsp), %rax");
    line("movq %rax, " + Twine(SpOffset) + "(%rsp)");
    if (!ipSymbol.empty()) {
      line("leaq " + sym(ipSymbol) + "(%rip), %rax");
      line("movq %rax, " + Twine(IpOffset) + "(%rsp)");
    }
    line("movq $-1, " + Twine(OrigAxOffset) + "(%rsp)");
    line("movq $0, " + Twine(CsOffset) + "(%rsp)");
    line("movq $0, " + Twine(SsOffset) + "(%rsp)");
    // %rbx is callee-saved, so it still points at pt_regs after the calls.
    line("movq %rsp, %rbx");
    line(".cfi_def_cfa_register %rbx");
    line("andq $-16, %rsp");
  }

  /// Where the caller's callee-saved registers are while pt_regs holds
  /// them (the trampoline changes %rbx and %r12), for unwinders.
  void saveCalleeSavedCfi() {
    for (const SavedRegister &reg : SavedRegisters)
      if (isCalleeSaved(reg.name))
        line(".cfi_offset %" + Twine(reg.name) + ", " +
             Twine(reg.offset - PtRegsSize - 8));
  }

  /// Sets the return address rule back to the CIE's. Not with
  /// `.cfi_restore`: libgcc takes DW_CFA_restore to mean "unsaved", which
  /// for the return address ends the unwind. With \p table, the rule that
  /// reads the unwinders' table (UnwindInfo.cpp), else CFA - 8.
  void returnAddressRule(bool table) {
    if (!table) {
      line(".cfi_offset %rip, -8");
      return;
    }
    std::vector<uint8_t> expression = returnAddressExpression();
    std::string bytes = "0x16, 16"; // DW_CFA_val_expression, column 16
    assert(expression.size() < 128 && "length is one ULEB128 byte");
    bytes += ", " + std::to_string(expression.size());
    for (uint8_t byte : expression)
      bytes += ", " + std::to_string(byte);
    line(".cfi_escape " + bytes);
  }

  /// Unwind rules for the code after a jump from the point where %rbx
  /// holds pt_regs (the return-override path), in a new FDE.
  void beginCfiAtPtRegs() {
    line(".cfi_startproc");
    line(".cfi_def_cfa %rbx, " + Twine(PtRegsSize + 8));
    saveCalleeSavedCfi();
  }

  void callPrograms(ArrayRef<std::string> programs) {
    for (const std::string &program : programs) {
      line("movq %rbx, %rdi");
      line("call " + sym(program));
    }
  }

  /// Asks the runtime whether this thread may run site \p slot's programs
  /// now (counting a hit if \p countHit) and jumps to \p skipLabel if not:
  /// a signal handler reached the hook while an extension runs. The token
  /// stays in %r12 (callee-saved, and restored from pt_regs afterwards).
  void beginRun(size_t slot, bool countHit, StringRef skipLabel) {
    line("movl $" + Twine(slot) + ", %edi");
    line("movl $" + Twine(countHit ? 1 : 0) + ", %esi");
    line("call eim_rt_ext_enter");
    line("testq %rax, %rax");
    line("jz " + skipLabel);
    line("movq %rax, %r12");
  }

  void endRun(StringRef skipLabel) {
    line("movq %r12, %rdi");
    line("call eim_rt_ext_exit");
    OS << skipLabel << ":\n";
  }

  /// Restores every register from pt_regs (so program writes take effect)
  /// and releases it; %rsp-relative loads make the order irrelevant.
  void restorePtRegs() {
    line("movq %rbx, %rsp");
    line(".cfi_def_cfa_register %rsp");
    for (const SavedRegister &reg : SavedRegisters)
      line("movq " + Twine(reg.offset) + "(%rsp), %" + Twine(reg.name));
    for (const SavedRegister &reg : SavedRegisters)
      if (isCalleeSaved(reg.name))
        line(".cfi_restore %" + Twine(reg.name));
    // push with an %rsp-based operand addresses before the decrement.
    line("pushq " + Twine(FlagsOffset) + "(%rsp)");
    line(".cfi_adjust_cfa_offset 8");
    line("popfq");
    line(".cfi_adjust_cfa_offset -8");
    line("leaq " + Twine(PtRegsSize) + "(%rsp), %rsp");
    line(".cfi_adjust_cfa_offset -" + Twine(PtRegsSize));
  }

private:
  static bool isCalleeSaved(StringRef name) {
    return is_contained({"rbx", "rbp", "r12", "r13", "r14", "r15"}, name);
  }

public:

private:
  raw_ostream &OS;
};

} // namespace

static std::string returnTrampolineName(const PatchSite &site) {
  return "eim_uret_" + site.symbol;
}

/// \p slot numbers the site in the plan (address order): the runtime's
/// counter index, as the manifest lists the sites.
static void writeEntryTrampoline(AsmWriter &w, const PatchSite &site,
                                 size_t slot, IsolationMode isolation) {
  std::string skip = ".Leim_skip_" + std::to_string(slot);
  w.beginFunction(site.trampolineSymbol);
  // Unwind rules up to the moved instructions (docs/design.md, "Unwind
  // information for the trampolines"); those run in the host's frame as
  // it is at the function's entry and have none.
  w.line(".cfi_startproc");
  w.buildPtRegs(/*spBias=*/0, hostSymbol(site.functionAddress));
  // The runtime's counters are extension state too: open before them.
  w.lines(openGate(isolation, ".Leim_gate_e" + std::to_string(slot)));
  w.beginRun(slot, /*countHit=*/true, skip);
  w.callPrograms(site.entryPrograms);
  if (!site.returnPrograms.empty()) {
    // Armed only for a run that was not skipped: a nested call's return
    // would be nested too. Arg 1: the return-address slot (just above
    // pt_regs); arg 2: where the function should return instead.
    w.line("leaq " + Twine(PtRegsSize) + "(%rbx), %rdi");
    w.line("leaq " + sym(returnTrampolineName(site)) + "(%rip), %rsi");
    w.line("call eim_rt_uret_enter");
  }
  w.endRun(skip);
  w.lines(closeGate(isolation, ".Leim_gate_e" + std::to_string(slot)));
  // bpf_override_return (compiler/CapabilityLowering.cpp) wrote the value
  // into pt_regs.ax and 0 into orig_ax: return it to the caller without
  // running the function. Emitted only for sites with a typed entry whose
  // policy grants `return_override` (docs/capabilities.md).
  std::string overridden = ".Leim_override_" + std::to_string(slot);
  if (site.overrideReturn) {
    w.line("cmpq $-1, " + Twine(OrigAxOffset) + "(%rbx)");
    w.line("jne " + overridden);
  }
  w.restorePtRegs();
  w.line(".cfi_endproc");
  for (const RelocatedInsn &insn : site.relocated) {
    SmallVector<StringRef> lines;
    StringRef(insn.assembly).split(lines, '\n', -1, /*KeepEmpty=*/false);
    for (StringRef text : lines)
      w.line(text);
  }
  if (site.resumeAddress)
    w.line("jmp " + hostSymbol(site.resumeAddress));
  if (site.overrideReturn) {
    w.label(overridden);
    w.beginCfiAtPtRegs();
    w.restorePtRegs();
    w.line("ret");
    w.line(".cfi_endproc");
  }
  w.endFunction(site.trampolineSymbol);
}

static void writeReturnTrampoline(AsmWriter &w, const PatchSite &site,
                                  size_t slot, IsolationMode isolation,
                                  bool unwindTable) {
  std::string name = returnTrampolineName(site);
  std::string skip = ".Leim_rskip_" + std::to_string(slot);
  // One byte before the landing, inside its FDE: an unwinder that takes
  // the trampoline's address for a return address looks up the byte
  // before it. That happens only when nothing knew the real one (a hooked
  // function without a replacement FDE): the pad says the return address
  // is undefined, which ends the unwind there instead of finding this
  // trampoline again forever.
  w.line(".p2align 4, 0xcc");
  w.line(".cfi_startproc");
  w.line(".cfi_def_cfa_offset 0");
  w.line(".cfi_undefined %rip");
  w.line("int3");
  w.returnAddressRule(unwindTable);
  w.beginFunction(name, /*align=*/false);
  // The slot the function's `ret` popped (CFA - 8) is taken back, still
  // holding this trampoline's address until the real return address is
  // written below, so that the unwinders' table keeps answering for it.
  w.line("leaq -8(%rsp), %rsp");
  w.line(".cfi_adjust_cfa_offset 8");
  w.buildPtRegs(/*spBias=*/8, /*ipSymbol=*/"");
  // The shadow stacks are extension state: open before the runtime call.
  w.lines(openGate(isolation, ".Leim_gate_r" + std::to_string(slot)));
  w.line("leaq " + Twine(PtRegsSize) + "(%rbx), %rdi");
  w.line("call eim_rt_uret_exit");
  // The table forgot the slot: for this one instruction the return
  // address is in %rax only.
  w.line(".cfi_register %rip, %rax");
  w.line("movq %rax, " + Twine(PtRegsSize) + "(%rbx)");
  w.returnAddressRule(unwindTable);
  w.line("movq %rax, " + Twine(IpOffset) + "(%rbx)");
  w.beginRun(slot, /*countHit=*/false, skip);
  w.callPrograms(site.returnPrograms);
  w.endRun(skip);
  w.lines(closeGate(isolation, ".Leim_gate_r" + std::to_string(slot)));
  w.restorePtRegs();
  w.line("ret");
  w.line(".cfi_endproc");
  w.endFunction(name);
}

static void writeStartStub(AsmWriter &w, const RewritePlan &plan,
                           ArrayRef<std::string> initSymbols) {
  w.beginFunction("eim_start");
  // Twice: keeps %rsp 16-byte aligned at each call, as at process entry.
  w.line("pushq %rdx");
  w.line("pushq %rdx");
  // First of all: `isolation: require` without MPK exits 69 here, before
  // any state exists and before any constructor of the host program.
  if (plan.isolation != IsolationMode::Off) {
    w.line("movl $" +
           Twine(plan.isolation == IsolationMode::Require ? 2 : 1) +
           ", %edi");
    w.line("movl $" + Twine(plan.isolationWarn ? 1 : 0) + ", %esi");
    w.line("call eim_rt_mpk_init");
  }
  // Before any host code: the unwind FDEs of return-probed functions read
  // the table it maps (docs/design.md, "Unwinding through return probes").
  // Only if some FDE reads it: otherwise return probes need no table.
  if (plan.unwindTable)
    w.line("call eim_rt_unwind_init");
  w.line("call eim_rt_init");
  w.line("movl $" + Twine(plan.sites.size()) + ", %edi");
  w.line("call eim_rt_sites_init");
  for (const std::string &init : initSymbols)
    w.line("call " + sym(init));
  w.line("call eim_rt_ready");
  // Last: tags the state and revokes the host's access to it.
  if (plan.isolation != IsolationMode::Off) {
    // Defined by the linker script (linker/Linker.cpp).
    w.line("leaq eim_state_tagged(%rip), %rdi");
    w.line("leaq eim_state_tagged_end(%rip), %rsi");
    w.line("call eim_rt_mpk_seal");
    // The host starts with the key revoked, through the same checked gate
    // as every trampoline (Gates.cpp): the runtime has no WRPKRU of its own.
    w.lines(closeGate(plan.isolation, ".Leim_gate_start"));
  }
  w.line("popq %rdx");
  w.line("popq %rdx");
  w.line("jmp " + hostSymbol(plan.originalEntry));
  w.endFunction("eim_start");
}

std::string trampolineAssembly(const RewritePlan &plan,
                               ArrayRef<std::string> initSymbols) {
  std::string text;
  raw_string_ostream os(text);
  os << "# eimc trampolines: generated, see rewriter/Trampolines.cpp\n"
     << "  .section .text.eimc,\"ax\",@progbits\n";
  AsmWriter w(os);
  writeStartStub(w, plan, initSymbols);
  for (size_t slot = 0; slot < plan.sites.size(); ++slot) {
    writeEntryTrampoline(w, plan.sites[slot], slot, plan.isolation);
    if (!plan.sites[slot].returnPrograms.empty())
      writeReturnTrampoline(w, plan.sites[slot], slot, plan.isolation,
                            plan.unwindTable);
  }
  // Host functions the extensions call, each behind a gate stub (Gates.cpp).
  size_t stub = 0;
  for (const std::string &name : plan.hostCallGates) {
    w.beginFunction(name);
    w.lines(hostCallStub(plan.isolation, name,
                         ".Leim_hcall" + std::to_string(stub++)));
    w.endFunction(name);
  }
  return text;
}

/// The MC objects needed to assemble for one target. Built per call: no
/// global state beyond LLVM's target registry.
namespace {
struct Assembler {
  const Target *target = nullptr;
  Triple triple{"x86_64-unknown-linux-gnu"};
  MCTargetOptions options;
  std::unique_ptr<MCRegisterInfo> registerInfo;
  std::unique_ptr<MCAsmInfo> asmInfo;
  std::unique_ptr<MCSubtargetInfo> subtarget;
  std::unique_ptr<MCInstrInfo> instrInfo;
};
} // namespace

static Error initAssembler(Assembler &as) {
  LLVMInitializeX86TargetInfo();
  LLVMInitializeX86TargetMC();
  LLVMInitializeX86AsmParser();
  std::string error;
  as.target = TargetRegistry::lookupTarget(as.triple.str(), error);
  if (!as.target)
    return makeMalformed("trampolines: no x86-64 target in LLVM: " + error);
  as.registerInfo.reset(as.target->createMCRegInfo(as.triple.str()));
  if (as.registerInfo)
    as.asmInfo.reset(as.target->createMCAsmInfo(*as.registerInfo,
                                                as.triple.str(), as.options));
  as.subtarget.reset(
      as.target->createMCSubtargetInfo(as.triple.str(), "x86-64", ""));
  as.instrInfo.reset(as.target->createMCInstrInfo());
  if (!as.registerInfo || !as.asmInfo || !as.subtarget || !as.instrInfo)
    return makeMalformed("trampolines: cannot create the x86-64 assembler");
  return Error::success();
}

/// Assembles \p source into an ELF relocatable object.
static Expected<std::vector<uint8_t>> assemble(StringRef source) {
  Assembler as;
  if (Error err = initAssembler(as))
    return err;

  SourceMgr sourceMgr;
  std::string diagnostics;
  sourceMgr.setDiagHandler(
      [](const SMDiagnostic &diag, void *context) {
        raw_string_ostream os(*static_cast<std::string *>(context));
        diag.print("trampolines", os, /*ShowColors=*/false);
      },
      &diagnostics);
  sourceMgr.AddNewSourceBuffer(
      MemoryBuffer::getMemBufferCopy(source, "trampolines.s"), SMLoc());

  MCContext context(as.triple, as.asmInfo.get(), as.registerInfo.get(),
                    as.subtarget.get(), &sourceMgr, &as.options);
  std::unique_ptr<MCObjectFileInfo> fileInfo(
      as.target->createMCObjectFileInfo(context, /*PIC=*/false));
  context.setObjectFileInfo(fileInfo.get());

  SmallVector<char, 0> object;
  raw_svector_ostream os(object);
  std::unique_ptr<MCAsmBackend> backend(as.target->createMCAsmBackend(
      *as.subtarget, *as.registerInfo, as.options));
  std::unique_ptr<MCCodeEmitter> emitter(
      as.target->createMCCodeEmitter(*as.instrInfo, context));
  if (!backend || !emitter)
    return makeMalformed("trampolines: cannot create the x86-64 encoder");
  std::unique_ptr<MCObjectWriter> writer = backend->createObjectWriter(os);
  std::unique_ptr<MCStreamer> streamer(as.target->createMCObjectStreamer(
      as.triple, context, std::move(backend), std::move(writer),
      std::move(emitter), *as.subtarget));
  std::unique_ptr<MCAsmParser> parser(
      createMCAsmParser(sourceMgr, context, *streamer, *as.asmInfo));
  std::unique_ptr<MCTargetAsmParser> targetParser(as.target->createMCAsmParser(
      *as.subtarget, *parser, *as.instrInfo, as.options));
  if (!targetParser)
    return makeMalformed("trampolines: cannot create the x86-64 parser");
  parser->setTargetParser(*targetParser);
  if (parser->Run(/*NoInitialTextSection=*/false) || !diagnostics.empty())
    return makeMalformed("trampolines: assembly failed:\n" + diagnostics);
  return std::vector<uint8_t>(object.begin(), object.end());
}

Expected<std::vector<uint8_t>> assembleTrampolines(const RewritePlan &plan) {
  return assemble(trampolineAssembly(plan, {}));
}

Expected<linker::LinkInput> emitTrampolines(const RewritePlan &plan,
                                            ArrayRef<std::string> initSymbols) {
  Expected<std::vector<uint8_t>> object =
      assemble(trampolineAssembly(plan, initSymbols));
  if (!object)
    return object.takeError();
  return linker::LinkInput{"eimc trampolines", std::move(*object)};
}

} // namespace eimc::rewriter
