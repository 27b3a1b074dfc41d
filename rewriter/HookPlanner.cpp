//===- rewriter/HookPlanner.cpp - Choosing and relocating hook sites ------===//
//
// Part of eimc. See eimc/Rewriter/Rewriter.h and notes/rewriting.md §3.
//
//===----------------------------------------------------------------------===//
//
// planHooks() turns hook requests (function name + programs) into a
// RewritePlan: for each function, where the 5-byte `jmp rel32` goes, which
// original instructions it overwrites ("stolen" bytes) and the assembly that
// re-executes them inside the trampoline. Nothing is written here; the plan
// is printable (--emit=plan) and is the unit of tests.
//
// Phases per function:
//  1. resolve the symbol (HostBinary::findFunction refuses IFUNCs etc.);
//  2. skip ENDBR64 so indirect calls still land on it under IBT;
//  3. decode until >= 5 bytes are covered, refusing functions that end, call
//     or leave through unsupported control flow before that;
//  4. sweep the function body and refuse if a direct branch lands inside the
//     stolen bytes (it would execute the 0xCC filler);
//  5. relocate each stolen instruction (RIP-relative operands and direct
//     branches become references to absolute host symbols; a final call is
//     emulated so its callee returns into the host, see relocateCall()).
//
// sweepFunctions() runs phases 1-5 on many functions one at a time, for
// `eimc-rewrite --sweep`.
//
// Relocated code never hard-codes an address: every host address a
// trampoline needs is an `eim_host_<hex>` symbol listed in
// RewritePlan::hostSymbols, which the linker defines as absolute. Because
// both the blob and the host move together under ASLR, PC-relative
// references to those symbols are correct at any load base.
//
//===----------------------------------------------------------------------===//

#include "UnwindInfo.h"
#include "X86Decoder.h"

#include "eimc/Core/Errors.h"
#include "eimc/Rewriter/Rewriter.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

using namespace llvm;

namespace eimc::rewriter {

namespace {

/// A `jmp rel32` is what we write at the patch address.
constexpr unsigned JumpSize = 5;

/// ENDBR64: indirect branches under IBT must land on it, so it stays.
constexpr uint8_t Endbr64[] = {0xF3, 0x0F, 0x1E, 0xFA};

/// GNU as condition suffixes, indexed by the low nibble of 7X / 0F 8X.
constexpr const char *ConditionSuffix[16] = {"o",  "no", "b",  "ae", "e", "ne",
                                             "be", "a",  "s",  "ns", "p", "np",
                                             "l",  "ge", "le", "g"};

std::string hex(uint64_t value) { return "0x" + utohexstr(value, true); }

/// The name under which a trampoline refers to host address \p address.
std::string hostSymbolName(uint64_t address) {
  return "eim_host_" + utohexstr(address, true);
}

/// One function to hook, with the requests for it merged.
struct SiteRequest {
  FunctionSymbol function;
  std::vector<std::string> entryPrograms;
  std::vector<std::string> returnPrograms;
  bool overrideReturn = false;
};

class HookPlanner {
public:
  HookPlanner(const HostBinary &host, const X86Decoder &decoder)
      : Host(host), Decoder(decoder) {}

  Error addSite(const SiteRequest &request);
  Error checkOverlaps() const;
  RewritePlan takePlan() { return std::move(Plan); }

private:
  /// Registers \p address as an absolute host symbol and returns its name.
  std::string hostSymbol(uint64_t address) {
    std::string name = hostSymbolName(address);
    Plan.hostSymbols[name] = address;
    return name;
  }

  Expected<std::vector<DecodedInsn>> steal(const FunctionSymbol &function,
                                           ArrayRef<uint8_t> code,
                                           uint64_t patchOffset);
  Error checkNoJumpIntoPatch(const FunctionSymbol &function,
                             ArrayRef<uint8_t> code, const PatchSite &site,
                             ArrayRef<DecodedInsn> stolen) const;
  RelocatedInsn relocate(const DecodedInsn &insn);
  RelocatedInsn relocateCall(const DecodedInsn &insn);
  void emitEncoding(raw_ostream &os, const DecodedInsn &insn,
                    ArrayRef<uint8_t> bytes);
  void warnAboutClones(const FunctionSymbol &function);

  const HostBinary &Host;
  const X86Decoder &Decoder;
  RewritePlan Plan;
};

} // namespace

/// \p why says where the bytes ran out: the symbol's size, the end of the
/// executable segment, or the instruction that leaves the function. A
/// vague "too short" once appeared for bash's `readline` and could not be
/// reproduced; the reason makes the next occurrence diagnosable.
static Error tooShort(const FunctionSymbol &function, uint64_t bytes,
                      const Twine &why) {
  return makeRefusal("function '" + function.name + "' is too short to hook (" +
                     Twine(bytes) + " bytes: " + why + ")");
}

/// Decodes from the patch point until a `jmp rel32` fits. Every check here
/// is about the instructions themselves; branches from elsewhere are
/// checkNoJumpIntoPatch()'s job.
Expected<std::vector<DecodedInsn>>
HookPlanner::steal(const FunctionSymbol &function, ArrayRef<uint8_t> code,
                   uint64_t patchOffset) {
  std::vector<DecodedInsn> stolen;
  uint64_t covered = 0;
  uint64_t patch = function.address + patchOffset;
  while (covered < JumpSize) {
    uint64_t at = patchOffset + covered;
    if (at >= code.size())
      return function.size && at >= function.size
                 ? tooShort(function, function.size, "st_size")
                 : tooShort(function, at, "end of the executable segment");
    Expected<DecodedInsn> insn =
        Decoder.decode(code.drop_front(at), patch + covered);
    if (!insn)
      return makeRefusal("function '" + function.name +
                         "': cannot decode the instruction at " +
                         hex(patch + covered) + " (" +
                         toString(insn.takeError()) + ")");
    covered += insn->length();
    bool complete = covered >= JumpSize;
    if (insn->branch == BranchKind::Other)
      return makeRefusal("function '" + function.name + "': cannot relocate '" +
                         insn->text + "' at " + hex(insn->address));
    if (!complete &&
        (insn->branch == BranchKind::Ret || insn->branch == BranchKind::Jmp))
      return tooShort(function, patchOffset + covered,
                      "'" + insn->text + "' at " + hex(insn->address));
    if (!complete && insn->branch == BranchKind::Call)
      return makeRefusal("function '" + function.name + "': '" + insn->text +
                         "' at " + hex(insn->address) +
                         " would be moved but is not the last moved "
                         "instruction");
    if (insn->branch == BranchKind::Call && insn->readsStackPointer)
      return makeRefusal("function '" + function.name + "': cannot relocate '" +
                         insn->text + "' at " + hex(insn->address) +
                         " (a moved call through %rsp)");
    stolen.push_back(std::move(*insn));
  }
  return stolen;
}

/// A direct branch into (patch, patch + stolen) would run the 0xCC filler
/// or the middle of our jmp. Jump tables cannot be checked statically; that
/// residual risk is documented in notes/rewriting.md §3.1.
Error HookPlanner::checkNoJumpIntoPatch(const FunctionSymbol &function,
                                        ArrayRef<uint8_t> code,
                                        const PatchSite &site,
                                        ArrayRef<DecodedInsn> stolen) const {
  uint64_t begin = site.patchAddress;
  uint64_t end = begin + site.stolenBytes.size();
  auto check = [&](const DecodedInsn &insn) -> Error {
    if (!insn.target || *insn.target <= begin || *insn.target >= end)
      return Error::success();
    return makeRefusal("function '" + function.name +
                       "': jump into the patched bytes at " +
                       hex(*insn.target) + " from " + hex(insn.address));
  };
  for (const DecodedInsn &insn : stolen)
    if (Error err = check(insn))
      return err;
  // Without st_size the body is unknown; the stolen bytes were checked.
  uint64_t size = std::min<uint64_t>(function.size, code.size());
  for (uint64_t offset = 0; offset < size;) {
    Expected<DecodedInsn> insn = Decoder.decode(
        code.slice(offset, size - offset), function.address + offset);
    if (!insn) {
      // Data or padding inside the body: resynchronise on the next byte.
      consumeError(insn.takeError());
      ++offset;
      continue;
    }
    if (Error err = check(*insn))
      return err;
    offset += insn->length();
  }
  return Error::success();
}

/// Emits bytes as a `.byte` directive.
static void emitBytes(raw_ostream &os, ArrayRef<uint8_t> bytes) {
  if (bytes.empty())
    return;
  os << ".byte ";
  interleave(
      bytes, os, [&](uint8_t b) { os << "0x" << utohexstr(b, true, 2); }, ", ");
  os << "\n";
}

/// Emits \p bytes, the encoding of \p insn or a variant of the same
/// length; a RIP-relative disp32 gets its new value. The operand is
/// relative to the end of the instruction, i.e. after the displacement
/// *and* any immediate.
void HookPlanner::emitEncoding(raw_ostream &os, const DecodedInsn &insn,
                               ArrayRef<uint8_t> bytes) {
  if (!insn.isRipRelative) {
    emitBytes(os, bytes);
    return;
  }
  emitBytes(os, bytes.take_front(insn.dispOffset));
  os << ".long " << hostSymbol(insn.ripTarget) << " - . - "
     << (4 + insn.immSize) << "\n";
  emitBytes(os, bytes.drop_front(insn.dispOffset + 4));
}

/// A moved `call` (always the last moved instruction) must not push a
/// return address inside the trampoline: `.eimc.text` has no unwind
/// information, so a C++ exception thrown below the callee would end in
/// std::terminate and backtrace() in the callee would stop there. The call
/// is emulated instead: the slot above the saved %rax receives the host's
/// own resume address, exactly what the original call pushes, and the
/// target is reached by `jmp`, so the callee returns straight into the
/// host and nothing jumps back. lea/push/mov/pop leave the flags alone
/// and %rax is restored before the jmp, so an indirect call's operand
/// (`call *%rax`, `call *0x10(%rip)`) reads what it would have read; one
/// that reads %rsp is refused by steal(). Under IBT, `jmp *OPERAND` needs
/// the ENDBR64 an indirect call needs too (and keeps a `notrack` prefix);
/// a direct jmp needs none, and an ENDBR64 at the target is a no-op.
RelocatedInsn HookPlanner::relocateCall(const DecodedInsn &insn) {
  RelocatedInsn out{insn.address, insn.bytes, insn.text, ""};
  raw_string_ostream os(out.assembly);
  os << "leaq -8(%rsp), %rsp\n"
     << "pushq %rax\n"
     << "leaq " << hostSymbol(insn.address + insn.length()) << "(%rip), %rax\n"
     << "movq %rax, 8(%rsp)\n"
     << "popq %rax\n";
  if (insn.target) {
    os << "jmp " << hostSymbol(*insn.target) << "\n";
    return out;
  }
  // FF /2 (call r/m64) -> FF /4 (jmp r/m64): same length and operand; the
  // decoder checked the encoding.
  std::vector<uint8_t> bytes = insn.bytes;
  bytes[insn.modrmOffset] = (bytes[insn.modrmOffset] & ~0x38) | 0x20;
  emitEncoding(os, insn, bytes);
  return out;
}

/// Rewrites one stolen instruction for its new address (rewriting.md §3.2).
RelocatedInsn HookPlanner::relocate(const DecodedInsn &insn) {
  if (insn.branch == BranchKind::Call)
    return relocateCall(insn);
  RelocatedInsn out;
  out.originalAddress = insn.address;
  out.originalBytes = insn.bytes;
  out.text = insn.text;
  raw_string_ostream os(out.assembly);
  ArrayRef<uint8_t> bytes(insn.bytes);
  if (insn.isRipRelative) {
    emitEncoding(os, insn, bytes);
    return out;
  }
  if (insn.target && insn.branch == BranchKind::Jmp) {
    os << "jmp " << hostSymbol(*insn.target) << "\n";
    return out;
  }
  if (insn.target && insn.branch == BranchKind::Jcc) {
    os << "j" << ConditionSuffix[insn.condition] << " "
       << hostSymbol(*insn.target) << "\n";
    return out;
  }
  emitBytes(os, bytes);
  return out;
}

Error HookPlanner::addSite(const SiteRequest &request) {
  const FunctionSymbol &function = request.function;
  ArrayRef<uint8_t> code = Host.codeFrom(function.address);
  if (code.empty())
    return makeRefusal("function '" + function.name + "' at " +
                       hex(function.address) +
                       " is not in an executable segment");
  if (function.size)
    code = code.take_front(function.size);
  uint64_t patchOffset =
      code.size() >= sizeof(Endbr64) && equal(code.take_front(4), Endbr64)
          ? sizeof(Endbr64)
          : 0;

  Expected<std::vector<DecodedInsn>> stolen =
      steal(function, code, patchOffset);
  if (!stolen)
    return stolen.takeError();

  PatchSite site;
  site.symbol = function.name;
  site.functionAddress = function.address;
  site.patchAddress = function.address + patchOffset;
  for (const DecodedInsn &insn : *stolen)
    append_range(site.stolenBytes, insn.bytes);
  if (Error err = checkNoJumpIntoPatch(function, code, site, *stolen))
    return err;

  for (const DecodedInsn &insn : *stolen)
    site.relocated.push_back(relocate(insn));
  // A moved call returns to the resume address itself (relocateCall()).
  BranchKind last = stolen->back().branch;
  bool fallsThrough = last != BranchKind::Ret && last != BranchKind::Jmp &&
                      last != BranchKind::Call;
  if (fallsThrough) {
    site.resumeAddress = site.patchAddress + site.stolenBytes.size();
    hostSymbol(site.resumeAddress);
  }
  // pt_regs.ip of an entry probe is the function address, as for uprobes.
  hostSymbol(function.address);
  site.entryPrograms = request.entryPrograms;
  site.returnPrograms = request.returnPrograms;
  site.overrideReturn = request.overrideReturn;
  site.trampolineSymbol = "eim_tramp_" + function.name;
  Plan.sites.push_back(std::move(site));
  warnAboutClones(function);
  return Error::success();
}

/// GCC specialises a function into copies (`f.isra.0`, `f.constprop.0`),
/// splits off cold parts (`f.part.0`, `f.cold`) and calls a local alias
/// (`f.localalias`) to skip the PLT; calls to those never pass through the
/// hooked entry, so the user must know the hook may miss calls.
void HookPlanner::warnAboutClones(const FunctionSymbol &function) {
  std::vector<std::string> clones = Host.clonesOf(function.name);
  if (clones.empty())
    return;
  Plan.warnings.push_back("function '" + function.name +
                          "' has GCC clones or local aliases whose callers "
                          "bypass the hook: " +
                          join(clones, ", "));
}

/// Two sites' stolen bytes must not overlap: the second jmp would cut the
/// first one's relocated copy. Sites are sorted by address here.
Error HookPlanner::checkOverlaps() const {
  for (size_t i = 1; i < Plan.sites.size(); ++i) {
    const PatchSite &prev = Plan.sites[i - 1];
    const PatchSite &cur = Plan.sites[i];
    if (prev.patchAddress + prev.stolenBytes.size() > cur.functionAddress)
      return makeRefusal("functions '" + prev.symbol + "' and '" + cur.symbol +
                         "' are too close to hook both (" +
                         hex(prev.patchAddress) + ", " +
                         hex(cur.functionAddress) + ")");
  }
  return Error::success();
}

/// Resolves and merges the requests: several requests for one symbol add
/// their programs in order; two names for one address (aliases) are refused
/// because their programs' relative order would be arbitrary.
static Expected<std::vector<SiteRequest>>
resolveRequests(const HostBinary &host, ArrayRef<HookRequest> requests) {
  std::map<std::string, SiteRequest> byName;
  for (const HookRequest &request : requests) {
    auto [it, inserted] = byName.try_emplace(request.symbol);
    if (inserted) {
      Expected<FunctionSymbol> function = host.findFunction(request.symbol);
      if (!function)
        return function.takeError();
      it->second.function = *function;
    }
    append_range(it->second.entryPrograms, request.entryPrograms);
    append_range(it->second.returnPrograms, request.returnPrograms);
    it->second.overrideReturn |= request.overrideReturn;
  }
  std::vector<SiteRequest> sites;
  for (auto &entry : byName)
    sites.push_back(std::move(entry.second));
  llvm::sort(sites, [](const SiteRequest &a, const SiteRequest &b) {
    return std::tie(a.function.address, a.function.name) <
           std::tie(b.function.address, b.function.name);
  });
  for (size_t i = 1; i < sites.size(); ++i)
    if (sites[i].function.address == sites[i - 1].function.address)
      return makeRefusal("'" + sites[i - 1].function.name + "' and '" +
                         sites[i].function.name + "' are the same function (" +
                         hex(sites[i].function.address) +
                         "); hook it under one name");
  return sites;
}

Expected<RewritePlan> planHooks(const HostBinary &host,
                                ArrayRef<HookRequest> requests) {
  Expected<X86Decoder> decoder = X86Decoder::create();
  if (!decoder)
    return decoder.takeError();
  Expected<std::vector<SiteRequest>> sites = resolveRequests(host, requests);
  if (!sites)
    return sites.takeError();

  HookPlanner planner(host, *decoder);
  for (const SiteRequest &site : *sites)
    if (Error err = planner.addSite(site))
      return err;
  if (Error err = planner.checkOverlaps())
    return err;

  // Beyond this point, every site is patchable and sorted by address.
  RewritePlan plan = planner.takePlan();
  plan.stateAddress = host.stateAddress();
  plan.originalEntry = host.entry();
  plan.hostSymbols[hostSymbolName(plan.originalEntry)] = plan.originalEntry;
  planUnwind(host, plan);
  return plan;
}

/// One decoder (Capstone handle) serves the whole sweep; each function
/// gets a planner of its own, so one refusal cannot affect the next.
Expected<std::vector<SweepEntry>>
sweepFunctions(const HostBinary &host, ArrayRef<std::string> symbols) {
  Expected<X86Decoder> decoder = X86Decoder::create();
  if (!decoder)
    return decoder.takeError();
  std::vector<SweepEntry> entries;
  for (const std::string &symbol : symbols) {
    SweepEntry entry;
    entry.symbol = symbol;
    HookRequest request{symbol, {"p"}, {}};
    Expected<std::vector<SiteRequest>> sites = resolveRequests(host, request);
    HookPlanner planner(host, *decoder);
    Error err = sites ? planner.addSite(sites->front()) : sites.takeError();
    if (err && !err.isA<RefusalError>())
      return std::move(err);
    if (err)
      entry.refusal = toString(std::move(err));
    else
      entry.stolenBytes = planner.takePlan().sites.front().stolenBytes.size();
    entries.push_back(std::move(entry));
  }
  return entries;
}

static void printList(raw_ostream &os, StringRef key,
                      ArrayRef<std::string> items) {
  os << "    " << key << ": [";
  interleaveComma(items, os);
  os << "]\n";
}

std::string toString(const RewritePlan &plan) {
  std::string text;
  raw_string_ostream os(text);
  os << "state-address: " << hex(plan.stateAddress) << "\n";
  os << "original-entry: " << hex(plan.originalEntry) << "\n";
  os << "sites:\n";
  for (const PatchSite &site : plan.sites) {
    os << "  - symbol: " << site.symbol << "\n";
    os << "    function: " << hex(site.functionAddress) << "\n";
    os << "    patch: " << hex(site.patchAddress) << "\n";
    os << "    stolen: '" << toHex(site.stolenBytes, true) << "'\n";
    if (site.resumeAddress)
      os << "    resume: " << hex(site.resumeAddress) << "\n";
    os << "    trampoline: " << site.trampolineSymbol << "\n";
    printList(os, "entry-programs", site.entryPrograms);
    printList(os, "return-programs", site.returnPrograms);
    os << "    relocated:\n";
    for (const RelocatedInsn &insn : site.relocated) {
      SmallVector<StringRef> lines;
      StringRef(insn.assembly).split(lines, '\n', -1, /*KeepEmpty=*/false);
      os << "      - { address: " << hex(insn.originalAddress) << ", insn: '"
         << insn.text << "', asm: '" << join(lines, "; ") << "' }\n";
    }
  }
  os << "host-symbols:\n";
  for (const auto &[name, address] : plan.hostSymbols)
    os << "  " << name << ": " << hex(address) << "\n";
  return text;
}

} // namespace eimc::rewriter
