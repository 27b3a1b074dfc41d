//===- verifier/Structural.cpp - Structural verification ------------------===//
//
// Part of eimc. See eimc/Verifier/Verifier.h.
//
//===----------------------------------------------------------------------===//
//
// Entry points: verify() and verifyStructuralOnly(). Structural mode checks
// what must hold before any code can be generated, in the manner of the
// kernel verifier's check_cfg() and uBPF's load-time checks:
//
//  - each program is covered by a policy class and attaches where the class
//    allows;
//  - r10 is never written; every jump and local call lands on an
//    instruction start inside the same function body (never on the second
//    slot of an LDDW);
//  - no function body falls off its end, and every reachable instruction has
//    a path to `exit`;
//  - reachable calls name helpers eimc implements and the class grants;
//    reachable map references name maps of types the runtime implements;
//    poisoned (unresolved CO-RE) and unsupported instructions are
//    unreachable.
//
// Checks that depend on reachability only look at reachable instructions,
// as libbpf and the kernel do for poisoned CO-RE relocations. verify()
// first folds branches decided by frozen .rodata (ConstantBranches.cpp),
// so code that `--set` constants make dead is not checked.
//
//  - under a policy's `instructions: N`, the program has no loop and its
//    longest path (with callees) is at most N instructions.
//
// What it does not do: prove memory safety or termination (safety mode,
// issue B2).
//
//===----------------------------------------------------------------------===//

#include "Capabilities.h"
#include "Safety.h"
#include "VerifierInternal.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <optional>

using namespace llvm;

namespace eimc::verifier {

namespace {

using bpfobject::Program;
using bpfobject::ProgramKind;

struct HelperInfo {
  uint32_t id;
  StringRef name;
};

constexpr HelperInfo ImplementedHelpers[] = {
#define EIM_HELPER(ID, NAME, SYM, RET, A1, A2, A3, A4, A5) {ID, #NAME},
#include "eimc/Core/Helpers.def"
};

const HelperInfo *findHelper(uint32_t id) {
  for (const HelperInfo &h : ImplementedHelpers)
    if (h.id == static_cast<uint32_t>(id))
      return &h;
  return nullptr;
}

/// Map types the runtime implements (runtime-lib/src/state.c). A map of
/// another type is accepted while only dead code uses it; the compiler
/// then allocates nothing for it.
bool isSupportedMapType(uint32_t type) {
  using bpfobject::MapTypeKind;
  return type == uint32_t(MapTypeKind::Hash) ||
         type == uint32_t(MapTypeKind::Array) ||
         type == uint32_t(MapTypeKind::PerfEventArray) ||
         type == uint32_t(MapTypeKind::PercpuHash) ||
         type == uint32_t(MapTypeKind::PercpuArray) ||
         type == uint32_t(MapTypeKind::RingBuf);
}

/// Checks one program. Collects diagnostics; never stops at the first.
/// uBPF's "unwind" helper id (compiler/ProgramLowering.cpp lowers it).
constexpr uint32_t ConformanceUnwindHelper = 5;

class ProgramChecker {
public:
  ProgramChecker(const bpfobject::ExtensionSpec &spec, const Program &prog,
                 const policy::PolicyClass *cls, VerificationReport &report,
                 bool conformanceHelpers = false)
      : Spec(spec), Prog(prog), Class(cls), Report(report),
        ConformanceHelpers(conformanceHelpers) {}

  /// \returns true if the program passed.
  bool run();
  /// \returns false if an instruction is unreachable in the control-flow
  /// graph (both ways of every conditional jump, before any folding); true
  /// also when the graph itself is broken, which run() reports.
  bool checkAllReachable();

private:
  void error(std::optional<size_t> index, StringRef rule, const Twine &msg,
             std::optional<policy::SourceLoc> policyLoc = std::nullopt,
             std::vector<std::string> context = {});
  bool indexSlots();
  void findBodies();
  void checkEdges();
  void computeReachable();
  void checkReachableInsns();
  void checkTermination();
  void checkInstructionBound();
  std::optional<uint64_t> longestPath(size_t body,
                                      std::vector<int> &bodyState,
                                      std::vector<uint64_t> &bodyBound);
  void checkCall(size_t index, const bpf::Call &call);
  SmallVector<size_t, 2> successors(size_t index) const;
  std::optional<size_t> indexOfSlot(uint32_t slot) const;
  size_t bodyOf(size_t index) const;

  const bpfobject::ExtensionSpec &Spec;
  const Program &Prog;
  const policy::PolicyClass *Class; ///< null: structural-only mode
  VerificationReport &Report;
  /// Helper 5 is uBPF's "unwind" (compiler::Options::conformanceHelpers).
  bool ConformanceHelpers;
  bool Failed = false;
  /// Instruction index of each slot, or -1 for an LDDW's second slot.
  std::vector<int64_t> SlotToIndex;
  /// Sorted instruction indices at which function bodies start.
  std::vector<size_t> BodyStarts;
  std::vector<bool> Reachable;
};

void ProgramChecker::error(std::optional<size_t> index, StringRef rule,
                           const Twine &msg,
                           std::optional<policy::SourceLoc> policyLoc,
                           std::vector<std::string> context) {
  Diagnostic d =
      diagnosticAt(Spec, Prog, index, rule, msg, std::move(context));
  d.policyLocation = std::move(policyLoc);
  VerifierAccess::addDiagnostic(Report, std::move(d));
  Failed = true;
}

std::optional<size_t> ProgramChecker::indexOfSlot(uint32_t slot) const {
  if (slot >= SlotToIndex.size() || SlotToIndex[slot] < 0)
    return std::nullopt;
  return static_cast<size_t>(SlotToIndex[slot]);
}

bool ProgramChecker::indexSlots() {
  if (Prog.insns.empty()) {
    error(std::nullopt, "empty-program", "program has no instructions");
    return false;
  }
  const bpf::SlotInsn &last = Prog.insns.back();
  SlotToIndex.assign(last.slot + bpf::slotCount(last.insn), -1);
  for (size_t i = 0; i < Prog.insns.size(); ++i)
    SlotToIndex[Prog.insns[i].slot] = static_cast<int64_t>(i);
  return true;
}

void ProgramChecker::findBodies() {
  BodyStarts.push_back(0);
  for (const bpf::SlotInsn &si : Prog.insns) {
    const auto *call = std::get_if<bpf::Call>(&si.insn);
    if (!call || call->kind != bpf::CallKind::Local)
      continue;
    if (std::optional<size_t> target = indexOfSlot(call->target))
      BodyStarts.push_back(*target);
  }
  llvm::sort(BodyStarts);
  BodyStarts.erase(std::unique(BodyStarts.begin(), BodyStarts.end()),
                   BodyStarts.end());
}

size_t ProgramChecker::bodyOf(size_t index) const {
  auto it = std::upper_bound(BodyStarts.begin(), BodyStarts.end(), index);
  return *std::prev(it);
}

static bool writesR10(const bpf::Insn &insn) {
  return std::visit(
      [](const auto &i) -> bool {
        using T = std::decay_t<decltype(i)>;
        if constexpr (std::is_same_v<T, bpf::Alu> ||
                      std::is_same_v<T, bpf::Endian> ||
                      std::is_same_v<T, bpf::Load> ||
                      std::is_same_v<T, bpf::LoadImm64>)
          return i.dst == bpf::FramePointer;
        else if constexpr (std::is_same_v<T, bpf::Atomic>)
          // Fetch forms write the old value into src; cmpxchg writes r0.
          return i.fetch && i.op != bpf::AtomicOpKind::CmpXchg &&
                 i.src == bpf::FramePointer;
        else
          return false;
      },
      insn);
}

static bool endsBody(const bpf::Insn &insn) {
  if (std::holds_alternative<bpf::Exit>(insn))
    return true;
  const auto *jump = std::get_if<bpf::Jump>(&insn);
  return jump && jump->op == bpf::JumpOpKind::Ja;
}

// Jump targets and body boundaries hold for every instruction, reachable or
// not: a bad target makes the control-flow graph itself meaningless.
void ProgramChecker::checkEdges() {
  for (size_t i = 0; i < Prog.insns.size(); ++i) {
    const bpf::Insn &insn = Prog.insns[i].insn;
    if (writesR10(insn))
      error(i, "r10-write", "frame pointer r10 is read-only");
    uint32_t target = UINT32_MAX;
    if (const auto *jump = std::get_if<bpf::Jump>(&insn))
      target = jump->target;
    else if (const auto *call = std::get_if<bpf::Call>(&insn);
             call && call->kind == bpf::CallKind::Local)
      target = call->target;
    else
      continue;
    std::optional<size_t> t = indexOfSlot(target);
    if (!t) {
      bool intoLddw = target < SlotToIndex.size();
      error(i, "jump-target",
            intoLddw ? "jump into the middle of an lddw"
                     : "jump out of range");
      continue;
    }
    if (std::holds_alternative<bpf::Jump>(insn) && bodyOf(*t) != bodyOf(i))
      error(i, "jump-target", "jump out of its function");
  }
  for (size_t b = 0; b < BodyStarts.size(); ++b) {
    size_t end = b + 1 < BodyStarts.size() ? BodyStarts[b + 1]
                                           : Prog.insns.size();
    if (!endsBody(Prog.insns[end - 1].insn))
      error(end - 1, "fall-through",
            "last instruction of a function is neither exit nor a jump");
  }
}

SmallVector<size_t, 2> ProgramChecker::successors(size_t index) const {
  SmallVector<size_t, 2> out;
  const bpf::Insn &insn = Prog.insns[index].insn;
  if (std::holds_alternative<bpf::Exit>(insn))
    return out;
  if (const auto *jump = std::get_if<bpf::Jump>(&insn)) {
    if (std::optional<size_t> t = indexOfSlot(jump->target))
      out.push_back(*t);
    if (jump->op == bpf::JumpOpKind::Ja)
      return out;
  }
  if (index + 1 < Prog.insns.size())
    out.push_back(index + 1);
  return out;
}

void ProgramChecker::computeReachable() {
  Reachable.assign(Prog.insns.size(), false);
  SmallVector<size_t, 64> work{0};
  while (!work.empty()) {
    size_t i = work.pop_back_val();
    if (Reachable[i])
      continue;
    Reachable[i] = true;
    for (size_t s : successors(i))
      work.push_back(s);
    const auto *call = std::get_if<bpf::Call>(&Prog.insns[i].insn);
    if (call && call->kind == bpf::CallKind::Local)
      if (std::optional<size_t> t = indexOfSlot(call->target))
        work.push_back(*t);
  }
}

void ProgramChecker::checkCall(size_t index, const bpf::Call &call) {
  switch (call.kind) {
  case bpf::CallKind::Local:
    return;
  case bpf::CallKind::HelperBtfId:
    // A call to an extern function is a host-function call, which
    // Capabilities.cpp checks against the manifest and the policy.
    if (Class && Prog.hostCalls.count(Prog.insns[index].slot))
      return;
    error(index, "unsupported-insn", "kfunc calls are not supported");
    return;
  case bpf::CallKind::Helper:
    break;
  }
  uint32_t id = static_cast<uint32_t>(call.imm);
  if (ConformanceHelpers && !Class && id == ConformanceUnwindHelper)
    return;
  // Granted by the class's `return_override`, not `helpers:`.
  if (Class && id == OverrideReturnHelper)
    return;
  const HelperInfo *helper = findHelper(id);
  if (!helper) {
    error(index, "helper-unsupported",
          "helper #" + Twine(id) + " is not implemented by eimc");
    return;
  }
  if (!Class)
    return;
  bool granted = any_of(Class->helpers, [&](const policy::HelperGrant &g) {
    return g.id == id;
  });
  if (!granted)
    error(index, "helper-not-granted",
          "call to helper '" + helper->name + "' (#" + Twine(id) +
              ") is not allowed by policy",
          Class->helpersLoc,
          {"class '" + Class->name + "' grants helpers at " +
           Class->helpersLoc.str()});
}

void ProgramChecker::checkReachableInsns() {
  for (size_t i = 0; i < Prog.insns.size(); ++i) {
    if (!Reachable[i])
      continue;
    const bpf::Insn &insn = Prog.insns[i].insn;
    if (const auto *call = std::get_if<bpf::Call>(&insn))
      checkCall(i, *call);
    else if (std::holds_alternative<bpf::CallX>(insn))
      error(i, "unsupported-insn", "indirect calls (callx) are not supported");
    else if (std::holds_alternative<bpf::LegacyPacketLoad>(insn))
      error(i, "unsupported-insn",
            "legacy packet access (LD_ABS/LD_IND) has no context in eimc");
    else if (const auto *poison = std::get_if<bpf::Poison>(&insn))
      error(i, "core-unresolved", poison->reason);
    else if (const auto *ld = std::get_if<bpf::LoadImm64>(&insn)) {
      bool mapRef = ld->kind == bpf::Imm64Kind::MapByFd ||
                    ld->kind == bpf::Imm64Kind::MapValueByFd;
      if (mapRef && ld->mapIndex >= Spec.maps.size())
        error(i, "map-reference", "reference to unknown map #" +
                                      Twine(ld->mapIndex));
      else if (mapRef && !isSupportedMapType(Spec.maps[ld->mapIndex].type))
        error(i, "map-type",
              "map '" + Spec.maps[ld->mapIndex].name + "' has type " +
                  Twine(Spec.maps[ld->mapIndex].type) +
                  ", which eimc does not implement");
      else if (!mapRef && ld->kind != bpf::Imm64Kind::Imm)
        error(i, "unsupported-insn",
              "lddw with src " + Twine(static_cast<int>(ld->kind)) +
                  " is not supported");
    }
  }
}

// Every reachable instruction must have a path to an exit: a cycle with no
// way out can never return to the host. (Whether a loop with an exit
// terminates is safety mode's question.)
void ProgramChecker::checkTermination() {
  std::vector<SmallVector<size_t, 2>> preds(Prog.insns.size());
  SmallVector<size_t, 16> work;
  for (size_t i = 0; i < Prog.insns.size(); ++i) {
    for (size_t s : successors(i))
      preds[s].push_back(i);
    if (std::holds_alternative<bpf::Exit>(Prog.insns[i].insn))
      work.push_back(i);
  }
  std::vector<bool> reachesExit(Prog.insns.size(), false);
  while (!work.empty()) {
    size_t i = work.pop_back_val();
    if (reachesExit[i])
      continue;
    reachesExit[i] = true;
    append_range(work, preds[i]);
  }
  for (size_t i = 0; i < Prog.insns.size(); ++i)
    if (Reachable[i] && !reachesExit[i]) {
      error(i, "no-exit", "no path from this instruction reaches exit");
      return;
    }
}

// `instructions: N` (the most a program may execute per invocation) is a
// restriction, so it is never ignored. Without back-edges the control-flow
// graph is a DAG and the bound is its longest path, each local call
// costing its callee's bound; every edge of a DAG in eBPF points forward,
// so one pass from the end of a body suffices. Loops need the safety
// verifier (B2) and are refused under a bound until then.
std::optional<uint64_t>
ProgramChecker::longestPath(size_t body, std::vector<int> &bodyState,
                            std::vector<uint64_t> &bodyBound) {
  size_t b = std::lower_bound(BodyStarts.begin(), BodyStarts.end(), body) -
             BodyStarts.begin();
  if (bodyState[b] == 2)
    return bodyBound[b];
  if (bodyState[b] == 1) { // recursion: no static bound
    error(body, "instruction-bound",
          "cannot bound recursion before the safety verifier (B2)",
          Class->instructionsLoc);
    return std::nullopt;
  }
  bodyState[b] = 1;
  size_t end =
      b + 1 < BodyStarts.size() ? BodyStarts[b + 1] : Prog.insns.size();
  std::vector<uint64_t> cost(end - body, 0);
  for (size_t i = end; i-- > body;) {
    if (!Reachable[i])
      continue;
    uint64_t here = 1;
    const auto *call = std::get_if<bpf::Call>(&Prog.insns[i].insn);
    if (call && call->kind == bpf::CallKind::Local) {
      std::optional<uint64_t> callee =
          longestPath(*indexOfSlot(call->target), bodyState, bodyBound);
      if (!callee)
        return std::nullopt;
      here += *callee;
    }
    uint64_t next = 0;
    for (size_t s : successors(i)) {
      if (s <= i) {
        error(i, "instruction-bound",
              "cannot bound loops before the safety verifier (B2); the "
              "policy limits instructions to " +
                  Twine(*Class->instructions),
              Class->instructionsLoc);
        return std::nullopt;
      }
      next = std::max(next, cost[s - body]);
    }
    cost[i - body] = here + next;
  }
  bodyState[b] = 2;
  bodyBound[b] = cost[0];
  return cost[0];
}

void ProgramChecker::checkInstructionBound() {
  if (!Class || !Class->instructions)
    return;
  std::vector<int> bodyState(BodyStarts.size(), 0);
  std::vector<uint64_t> bodyBound(BodyStarts.size(), 0);
  std::optional<uint64_t> bound = longestPath(0, bodyState, bodyBound);
  if (!bound || *bound <= *Class->instructions)
    return;
  error(std::nullopt, "instruction-bound",
        "longest path executes " + Twine(*bound) +
            " instructions; the policy allows " +
            Twine(*Class->instructions),
        Class->instructionsLoc,
        {"class '" + Class->name + "' sets 'instructions' at " +
         Class->instructionsLoc.str()});
}

bool ProgramChecker::run() {
  if (!indexSlots())
    return false;
  findBodies();
  checkEdges();
  // Beyond this point, every edge lands on an instruction start.
  if (Failed)
    return false;
  computeReachable();
  checkReachableInsns();
  checkTermination();
  if (!Failed)
    checkInstructionBound();
  return !Failed;
}

// The kernel's check_cfg() refuses dead code ("unreachable insn 2") although
// it never runs; safety mode, measured against the kernel, does the same on
// the program as written (a branch .rodata decides is folded later and
// does not count). clang never emits dead code; hand-written assembly can.
bool ProgramChecker::checkAllReachable() {
  if (!indexSlots())
    return true;
  findBodies();
  checkEdges();
  if (Failed)
    return true;
  computeReachable();
  for (size_t i = 0; i < Prog.insns.size(); ++i)
    if (!Reachable[i]) {
      error(i, "unreachable-insn",
            "no path reaches this instruction; the kernel refuses dead code");
      return false;
    }
  return true;
}

Diagnostic programDiagnostic(const bpfobject::ExtensionSpec &spec,
                             const Program &prog, StringRef rule,
                             const Twine &message) {
  Diagnostic d;
  d.ruleId = rule.str();
  d.object = spec.objectName;
  d.program = prog.name;
  d.message = message.str();
  return d;
}

/// The policy's part that is not about instructions: coverage and entry.
bool checkClass(const bpfobject::ExtensionSpec &spec, const Program &prog,
                const policy::Policy &policy, VerificationReport &report) {
  const policy::PolicyClass *cls = policy.findClass(prog.name, prog.section);
  if (!cls) {
    Diagnostic d = programDiagnostic(
        spec, prog, "no-class",
        "no policy class matches program '" + prog.name + "' (section '" +
            prog.section + "')");
    d.context.push_back("a class covers a program by name or section "
                        "('match:'); eimc grants nothing by default");
    VerifierAccess::addDiagnostic(report, std::move(d));
    return false;
  }
  if (prog.kind == ProgramKind::Unsupported) {
    VerifierAccess::addDiagnostic(
        report, programDiagnostic(spec, prog, "program-type",
                                  "program type of section '" + prog.section +
                                      "' is not supported"));
    return false;
  }
  if (prog.attachSymbol.empty() || prog.attachSymbol == cls->entry)
    return true;
  Diagnostic d = programDiagnostic(
      spec, prog, "entry-not-granted",
      "program attaches to '" + prog.attachSymbol + "' but class '" +
          cls->name + "' grants entry '" + cls->entry + "'");
  d.policyLocation = cls->entryLoc;
  VerifierAccess::addDiagnostic(report, std::move(d));
  return false;
}

} // namespace

Expected<VerificationReport> verify(const bpfobject::ExtensionSpec &input,
                                    const policy::Policy &policy,
                                    const Options &options) {
  // Branches decided by frozen .rodata go first: every check below, and
  // the compiler, see only the code that can run.
  bpfobject::ExtensionSpec spec = input;
  for (Program &prog : spec.programs)
    foldConstantBranches(spec, prog);
  VerificationReport report;
  std::vector<size_t> accepted;
  bool ok = true;
  for (size_t i = 0; i < spec.programs.size(); ++i) {
    const Program &prog = spec.programs[i];
    if (!checkClass(spec, prog, policy, report)) {
      ok = false;
      continue;
    }
    const policy::PolicyClass *cls = policy.findClass(prog.name, prog.section);
    // A typed entry's memory safety is the capability check's proof
    // (Capabilities.cpp): the safety verifier models only pt_regs contexts.
    bool safety = options.mode == ModeKind::Safety && !isTypedEntry(prog);
    if (safety) {
      // The safety verifier bounds loops itself (Safety.cpp), so the
      // structural checks run without the loop-free `instructions` bound.
      policy::PolicyClass structural = *cls;
      structural.instructions.reset();
      VerificationReport raw;
      if (!ProgramChecker(input, input.programs[i], &structural, raw)
               .checkAllReachable()) {
        for (const Diagnostic &d : raw.diagnostics())
          VerifierAccess::addDiagnostic(report, Diagnostic(d));
        ok = false;
        continue;
      }
      if (!ProgramChecker(spec, prog, &structural, report).run()) {
        ok = false;
        continue;
      }
    } else if (!ProgramChecker(spec, prog, cls, report).run()) {
      ok = false;
      continue;
    }
    std::vector<Diagnostic> diags;
    if (safety)
      spec.programs[i].zeroStackSlots =
          verifySafety(spec, prog, *cls, diags);
    // A typed entry's uninitialised stack reads are found by the
    // capability check, which is its memory-safety proof.
    std::vector<int32_t> zero =
        verifyCapabilities(spec, prog, *cls, options.manifest, diags);
    if (isTypedEntry(prog))
      spec.programs[i].zeroStackSlots = std::move(zero);
    bool refused = false;
    for (Diagnostic &d : diags) {
      refused |= d.severity == SeverityKind::Error;
      VerifierAccess::addDiagnostic(report, std::move(d));
    }
    if (refused) {
      ok = false;
      continue;
    }
    accepted.push_back(i);
  }
  if (spec.programs.empty()) {
    Diagnostic d;
    d.ruleId = "no-programs";
    d.object = spec.objectName;
    d.message = "object has no programs";
    VerifierAccess::addDiagnostic(report, std::move(d));
    ok = false;
  }
  if (ok)
    VerifierAccess::accept(report, spec, std::move(accepted));
  return report;
}

Expected<VerificationReport>
verifyStructuralOnly(const bpfobject::ExtensionSpec &spec,
                     bool conformanceHelpers) {
  VerificationReport report;
  std::vector<size_t> accepted;
  bool ok = true;
  for (size_t i = 0; i < spec.programs.size(); ++i) {
    if (!ProgramChecker(spec, spec.programs[i], nullptr, report,
                        conformanceHelpers)
             .run())
      ok = false;
    else
      accepted.push_back(i);
  }
  if (ok)
    VerifierAccess::accept(report, spec, std::move(accepted));
  return report;
}

} // namespace eimc::verifier
