//===- eimc/Rewriter/Rewriter.h - Static rewriting of hosts -----*- C++ -*-===//
//
// Part of eimc. See docs/design.md and ../shared/notes/rewriting.md.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The rewriter statically hooks functions of an x86-64 ELF executable.
/// Three steps, each with its own value type:
///
///  1. planHooks(): resolves each hooked symbol (.symtab, then .dynsym),
///     decodes the instructions at its entry (after ENDBR64) until at least
///     5 bytes are covered, and relocates them (RIP-relative operands,
///     branches). Produces a printable RewritePlan. Unhookable sites are
///     RefusalErrors (exit 1).
///  2. emitTrampolines(): assembles the plan's trampolines and the start
///     stub with LLVM MC into a relocatable object for the linker. Entry
///     trampolines build a kernel-layout `struct pt_regs` on the host stack
///     and call each entry program; return probes replace the return
///     address and run return programs when the function returns
///     (see docs/design.md, "Trampolines").
///  3. writeOutput(): keeps every original byte in place, writes the jumps
///     at patch sites, appends the linked code page-aligned, maps it by
///     turning a PT_NOTE into PT_LOAD, grows the last writable PT_LOAD over
///     the state pages, points e_entry at the start stub, adds section
///     headers, .symtab entries, the site list in `.eimc.manifest` and
///     what restoreOriginal() needs in `.eimc.restore`, and writes
///     atomically (temporary file + rename) without set-uid/set-gid bits.
///     The input is never modified.
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_REWRITER_REWRITER_H
#define EIMC_REWRITER_REWRITER_H

#include "eimc/Linker/Linker.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace eimc::rewriter {

/// A function symbol of the host.
struct FunctionSymbol {
  std::string name;
  uint64_t address = 0; ///< st_value (host-relative for PIE)
  uint64_t size = 0;    ///< st_size, 0 if unknown
  bool fromDynsym = false;
};

/// A host executable, read-only. Owns its bytes.
class HostBinary {
public:
  /// Reads and parses \p path. Errors (all malformed, exit 2): unreadable,
  /// not ELF64 x86-64, not ET_EXEC/ET_DYN, "already rewritten by eimc V".
  static llvm::Expected<HostBinary> create(llvm::StringRef path);
  static llvm::Expected<HostBinary> createFromBytes(llvm::StringRef name,
                                                    std::vector<uint8_t> bytes);

  llvm::StringRef name() const { return Name; }
  llvm::ArrayRef<uint8_t> bytes() const { return Bytes; }
  /// Looks up a function by name (.symtab first, then .dynsym). Errors are
  /// RefusalErrors: no such symbol, not STT_FUNC, STT_GNU_IFUNC.
  llvm::Expected<FunctionSymbol> findFunction(llvm::StringRef name) const;
  /// Looks up a data object by name, as findFunction does: a host global
  /// extensions reference. Refuses anything but STT_OBJECT (e.g. TLS).
  llvm::Expected<FunctionSymbol> findObject(llvm::StringRef name) const;
  /// GCC clones and local aliases of \p name (`name.isra.0`,
  /// `name.constprop.1`, `name.part.0`, `name.cold`, `name.localalias`),
  /// sorted: callers of those bypass a hook on \p name.
  std::vector<std::string> clonesOf(llvm::StringRef name) const;
  /// Names of the functions `.dynsym` defines (STT_FUNC and
  /// STT_GNU_IFUNC), sorted, each once: what a sweep plans.
  std::vector<std::string> dynamicFunctions() const;
  /// First page-aligned host-relative address after every PT_LOAD.
  uint64_t imageEnd() const;
  /// Where the state pages go: page after the last writable PT_LOAD.
  uint64_t stateAddress() const;
  uint64_t entry() const;
  /// Bytes of the executable PT_LOAD containing \p address, from \p address
  /// to the end of its file-backed part; empty if \p address is not in one.
  llvm::ArrayRef<uint8_t> codeFrom(uint64_t address) const;
  /// Permission bits of the input file (0755 for in-memory hosts).
  unsigned fileMode() const;

  HostBinary(HostBinary &&);
  HostBinary &operator=(HostBinary &&);
  ~HostBinary();

private:
  struct Impl;
  HostBinary(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> P;
  std::string Name;
  std::vector<uint8_t> Bytes;
};

/// What to run at one host function.
struct HookRequest {
  std::string symbol;
  std::vector<std::string> entryPrograms;  ///< native symbols, in run order
  std::vector<std::string> returnPrograms; ///< native symbols, in run order
  /// An entry program may override the return (bpf_override_return):
  /// the trampoline gets the path that returns to the caller.
  bool overrideReturn = false;
};

/// One relocated instruction in a trampoline.
struct RelocatedInsn {
  uint64_t originalAddress = 0;
  std::vector<uint8_t> originalBytes;
  std::string text; ///< disassembly, for the plan's text form
  /// Assembly emitted in the trampoline (may reference absolute host
  /// addresses through symbols defined by the linker request).
  std::string assembly;
};

struct PatchSite {
  std::string symbol;
  uint64_t functionAddress = 0;
  uint64_t patchAddress = 0; ///< after ENDBR64, if any
  std::vector<uint8_t> stolenBytes;
  std::vector<RelocatedInsn> relocated;
  /// patchAddress + stolen, where the trampoline jumps back; 0 if the
  /// stolen bytes end in a ret, a jmp or a call (a moved call is emulated
  /// so that its callee returns there itself).
  uint64_t resumeAddress = 0;
  std::vector<std::string> entryPrograms;
  std::vector<std::string> returnPrograms;
  bool overrideReturn = false; ///< see HookRequest::overrideReturn
  std::string trampolineSymbol; ///< "eim_tramp_<symbol>"
};

/// Whether trampolines switch the extension-state protection key (policy
/// `isolation`, docs/security.md): Off emits no gates; Prefer emits gates
/// that do nothing when the runtime found no MPK; Require emits
/// unconditional gates and a start stub that exits 69 without MPK.
enum class IsolationMode { Off, Prefer, Require };

/// Everything the writer needs besides the linked image. Sorted by address.
struct RewritePlan {
  std::vector<PatchSite> sites;
  uint64_t stateAddress = 0;
  uint64_t originalEntry = 0;
  /// Symbols the trampolines reference outside the blob (host-relative).
  std::map<std::string, uint64_t> hostSymbols;
  /// Non-fatal findings for the user, e.g. GCC clones of a hooked function
  /// whose callers bypass the hook. Drivers print them as `warning:` lines.
  std::vector<std::string> warnings;
  IsolationMode isolation = IsolationMode::Off;
  /// Some return-probed function gets a replacement FDE that reads the
  /// runtime's unwind table, so the start stub maps it (docs/design.md,
  /// "Unwinding through return probes").
  bool unwindTable = false;
  /// Under Prefer, say on stderr when the process runs unisolated.
  bool isolationWarn = false;
  /// Gate stubs to emit, by the symbol compiled code calls for a host
  /// function (`eim_hfunc_<name>`); filled by addHostCallGate().
  std::set<std::string> hostCallGates;
};

/// Makes calls to \p stub (compiled code's name for a host function, see
/// compiler::hostFunctionSymbol) go through a gate stub that revokes the
/// extension-state key for the duration of the call to the host function
/// at \p address and grants it again on return (docs/security.md). Only
/// for a plan whose isolation is not Off; under Off the driver binds \p stub
/// straight to \p address.
void addHostCallGate(RewritePlan &plan, llvm::StringRef stub,
                     uint64_t address);

/// An instruction that can write PKRU, found by scanPkruWrites().
struct PkruSite {
  uint64_t address = 0; ///< virtual address of its first byte
  std::string kind;     ///< "WRPKRU" or "XRSTOR"
  std::string symbol;   ///< the function symbol containing it, if any
  uint64_t offset = 0;  ///< from the symbol's start
  bool ours = false;    ///< inside one of eimc's gates or its runtime
};

/// Every byte offset of \p elf's executable segments that starts a WRPKRU
/// or XRSTOR encoding (docs/security.md), in address order.
llvm::Expected<std::vector<PkruSite>>
scanPkruWrites(llvm::ArrayRef<uint8_t> elf);

/// Plans hooks for \p requests on \p host.
llvm::Expected<RewritePlan> planHooks(const HostBinary &host,
                                      llvm::ArrayRef<HookRequest> requests);

/// The outcome of planning one function alone (sweepFunctions()).
struct SweepEntry {
  std::string symbol;
  /// Bytes the patch steals; 0 if refused.
  uint64_t stolenBytes = 0;
  /// The refusal's message if refused, empty if hooked.
  std::string refusal;
};

/// Plans an entry hook on each of \p symbols separately, as
/// `planHooks(host, {{symbol, {"p"}}})` would, and records whether it is
/// hooked or why it is refused. \returns an error only if planning fails
/// for another reason than a refusal (a malformed host, a decoder that
/// cannot start); the caller's sweep then stops.
llvm::Expected<std::vector<SweepEntry>>
sweepFunctions(const HostBinary &host, llvm::ArrayRef<std::string> symbols);

/// Text of the plan (--emit=plan).
std::string toString(const RewritePlan &plan);

/// Assembly of the trampolines and the start stub. The start stub
/// `eim_start` calls `eim_rt_init`, then each of \p initSymbols, then
/// `eim_rt_ready`, and jumps to the host's original entry.
std::string trampolineAssembly(const RewritePlan &plan,
                               llvm::ArrayRef<std::string> initSymbols);

/// Assembles trampolineAssembly() into a relocatable object.
llvm::Expected<linker::LinkInput>
emitTrampolines(const RewritePlan &plan,
                llvm::ArrayRef<std::string> initSymbols);

/// Provenance recorded in the output's non-alloc `.eimc.manifest` section.
struct Provenance {
  std::string eimcVersion;
  std::string text; ///< YAML lines: input hashes, policy hash, sites
};

/// Writes the rewritten host to \p outPath (temporary file + rename).
/// \p check, if given, sees the finished image first; an error from it
/// is returned and nothing is written, so an existing output stays as it
/// was (e.g. the PKRU scan under `isolation: require`).
llvm::Error writeOutput(
    const HostBinary &host, const RewritePlan &plan,
    const linker::LinkedExtension &linked, const Provenance &provenance,
    llvm::StringRef outPath,
    llvm::function_ref<llvm::Error(llvm::ArrayRef<uint8_t>)> check = {});

/// The input \p output was made from, from its `.eimc.restore` section:
/// byte for byte, checked against the SHA-256 recorded there. Errors
/// (malformed): not an eimc output, record missing or damaged, output
/// edited after eimc wrote it (e.g. by `strip`). \p name is for messages.
llvm::Expected<std::vector<uint8_t>>
restoreOriginal(llvm::StringRef name, llvm::ArrayRef<uint8_t> output);

} // namespace eimc::rewriter

#endif // EIMC_REWRITER_REWRITER_H
