//===- verifier/ConstantBranches.cpp - Branches decided by frozen .rodata -===//
//
// Part of eimc. See eimc/Verifier/Verifier.h and docs/design.md,
// "Frozen .rodata and dead code".
//
//===----------------------------------------------------------------------===//
//
// foldConstantBranches() runs before any check that depends on
// reachability. It is the part of the kernel verifier's branch pruning
// that libbpf tools rely on: a `const volatile` variable of `.rodata`, set
// before load (`--set`) and frozen, decides branches such as
//
//   if (filter_cg && !bpf_current_task_under_cgroup(&cgroup_map, 0))
//
// and code behind a branch that cannot be taken must not make the program
// fail (funclatency calls helper 37 only when filter_cg is set).
//
// The analysis is a forward dataflow over one program with one abstract
// value per register: unknown, a constant, or a pointer into a frozen
// read-only global-data map (map index + offset). It knows only what it
// needs: lddw, mov, add/sub of a constant, loads from frozen `.rodata`
// (read from the map's initial value), calls (r0-r5 become unknown) and
// conditional jumps. Everything else makes its destination unknown; the
// stack is not tracked. Joins keep a value only where all paths agree, so
// a jump is folded only when it goes the same way on every path that
// reaches it. A folded jump becomes `ja` to the one successor; the
// instructions it no longer reaches are then dead for every later check
// and for the compiler, which lowers only reachable code.
//
// Why this is sound: the program cannot change frozen `.rodata` (the
// compiler maps it to a read-only copy in the code pages, where a store
// faults) and nothing else runs between --set and the program.
//
//===----------------------------------------------------------------------===//

#include "VerifierInternal.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/MathExtras.h"

#include <array>
#include <optional>

using namespace llvm;

namespace eimc::verifier {

namespace {

/// What is known about one register.
struct Value {
  enum KindTy : uint8_t { Unknown, Const, RodataPtr } kind = Unknown;
  uint64_t number = 0; ///< Const: the value; RodataPtr: the byte offset
  uint32_t map = 0;    ///< RodataPtr: map index
  bool operator==(const Value &) const = default;
};

using RegState = std::array<Value, 11>;

RegState join(const RegState &a, const RegState &b) {
  RegState out;
  for (size_t r = 0; r < out.size(); ++r)
    out[r] = a[r] == b[r] ? a[r] : Value{};
  return out;
}

bool isFrozen(const bpfobject::MapDef &def) {
  return def.type == uint32_t(bpfobject::MapTypeKind::Array) &&
         def.maxEntries == 1 && (def.flags & bpfobject::MapFlagRdonlyProg);
}

/// The outcome of conditional jump \p op on known operands.
bool jumpTaken(bpf::JumpOpKind op, bool is32, uint64_t a, uint64_t b) {
  if (is32) {
    a = uint32_t(a);
    b = uint32_t(b);
  }
  int64_t sa = is32 ? int64_t(int32_t(a)) : int64_t(a);
  int64_t sb = is32 ? int64_t(int32_t(b)) : int64_t(b);
  switch (op) {
  case bpf::JumpOpKind::Ja:
    return true;
  case bpf::JumpOpKind::Jeq:
    return a == b;
  case bpf::JumpOpKind::Jne:
    return a != b;
  case bpf::JumpOpKind::Jgt:
    return a > b;
  case bpf::JumpOpKind::Jge:
    return a >= b;
  case bpf::JumpOpKind::Jlt:
    return a < b;
  case bpf::JumpOpKind::Jle:
    return a <= b;
  case bpf::JumpOpKind::Jset:
    return (a & b) != 0;
  case bpf::JumpOpKind::Jsgt:
    return sa > sb;
  case bpf::JumpOpKind::Jsge:
    return sa >= sb;
  case bpf::JumpOpKind::Jslt:
    return sa < sb;
  case bpf::JumpOpKind::Jsle:
    return sa <= sb;
  }
  return false;
}

class Folder {
public:
  Folder(const bpfobject::ExtensionSpec &spec, bpfobject::Program &prog)
      : Spec(spec), Prog(prog) {}
  void run();

private:
  void transfer(const bpf::Insn &insn, RegState &regs) const;
  Value loadFrom(const Value &base, int16_t off, bpf::Width width,
                 bool signExtend) const;
  /// \returns the decided outcome of a conditional jump, if any.
  std::optional<bool> decide(const bpf::Jump &jump,
                             const RegState &regs) const;
  std::optional<size_t> indexOf(uint32_t slot) const;
  void propagate(size_t to, const RegState &regs,
                 SmallVectorImpl<size_t> &work);

  const bpfobject::ExtensionSpec &Spec;
  bpfobject::Program &Prog;
  std::vector<std::optional<RegState>> In;
};

std::optional<size_t> Folder::indexOf(uint32_t slot) const {
  auto it = llvm::lower_bound(Prog.insns, slot,
                              [](const bpf::SlotInsn &si, uint32_t s) {
                                return si.slot < s;
                              });
  if (it == Prog.insns.end() || it->slot != slot)
    return std::nullopt;
  return size_t(it - Prog.insns.begin());
}

Value Folder::loadFrom(const Value &base, int16_t off, bpf::Width width,
                       bool signExtend) const {
  if (base.kind != Value::RodataPtr)
    return {};
  const bpfobject::MapDef &def = Spec.maps[base.map];
  uint64_t at = base.number + int64_t(off);
  unsigned size = unsigned(width);
  if (at > def.valueSize || def.valueSize - at < size)
    return {};
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i)
    if (at + i < def.initialValue.size())
      v |= uint64_t(def.initialValue[at + i]) << (8 * i);
  if (signExtend && size < 8)
    v = uint64_t(SignExtend64(v, size * 8));
  return {Value::Const, v, 0};
}

void Folder::transfer(const bpf::Insn &insn, RegState &regs) const {
  if (const auto *ld = std::get_if<bpf::LoadImm64>(&insn)) {
    regs[ld->dst] = {};
    if (ld->kind == bpf::Imm64Kind::Imm)
      regs[ld->dst] = {Value::Const, ld->value, 0};
    else if (ld->kind == bpf::Imm64Kind::MapValueByFd &&
             ld->mapIndex < Spec.maps.size() &&
             isFrozen(Spec.maps[ld->mapIndex]))
      regs[ld->dst] = {Value::RodataPtr, ld->offset, ld->mapIndex};
    return;
  }
  if (const auto *load = std::get_if<bpf::Load>(&insn)) {
    regs[load->dst] =
        loadFrom(regs[load->src], load->off, load->width, load->signExtend);
    return;
  }
  if (const auto *alu = std::get_if<bpf::Alu>(&insn)) {
    Value src = alu->useImm ? Value{Value::Const, uint64_t(int64_t(alu->imm)), 0}
                            : regs[alu->src];
    Value &dst = regs[alu->dst];
    bool plainMov = alu->op == bpf::AluOpKind::Mov && alu->sxBits == 0;
    if (plainMov && alu->is64) {
      dst = src;
    } else if (plainMov && src.kind == Value::Const) {
      dst = {Value::Const, uint32_t(src.number), 0};
    } else if (alu->is64 && src.kind == Value::Const &&
               dst.kind != Value::Unknown &&
               (alu->op == bpf::AluOpKind::Add ||
                alu->op == bpf::AluOpKind::Sub)) {
      dst.number = alu->op == bpf::AluOpKind::Add ? dst.number + src.number
                                                  : dst.number - src.number;
    } else {
      dst = {};
    }
    return;
  }
  if (const auto *call = std::get_if<bpf::Call>(&insn)) {
    (void)call;
    for (unsigned r = 0; r <= 5; ++r)
      regs[r] = {};
    return;
  }
  if (const auto *e = std::get_if<bpf::Endian>(&insn)) {
    regs[e->dst] = {};
    return;
  }
  if (const auto *a = std::get_if<bpf::Atomic>(&insn)) {
    if (a->op == bpf::AtomicOpKind::CmpXchg)
      regs[0] = {};
    else if (a->fetch)
      regs[a->src] = {};
    return;
  }
  if (std::holds_alternative<bpf::CallX>(insn) ||
      std::holds_alternative<bpf::LegacyPacketLoad>(insn))
    for (unsigned r = 0; r <= 5; ++r)
      regs[r] = {};
}

std::optional<bool> Folder::decide(const bpf::Jump &jump,
                                   const RegState &regs) const {
  if (jump.op == bpf::JumpOpKind::Ja)
    return std::nullopt;
  const Value &a = regs[jump.dst];
  Value b = jump.useImm ? Value{Value::Const, uint64_t(int64_t(jump.imm)), 0}
                        : regs[jump.src];
  if (a.kind != Value::Const || b.kind != Value::Const)
    return std::nullopt;
  return jumpTaken(jump.op, jump.is32, a.number, b.number);
}

void Folder::propagate(size_t to, const RegState &regs,
                       SmallVectorImpl<size_t> &work) {
  if (to >= In.size())
    return;
  RegState merged = In[to] ? join(*In[to], regs) : regs;
  if (In[to] && merged == *In[to])
    return;
  In[to] = merged;
  work.push_back(to);
}

void Folder::run() {
  // Nothing to decide without frozen data or a poisoned CO-RE access (the
  // branch of `bpf_core_field_exists(...)`, an immediate, guards it), and
  // an unresolvable target is the structural checks' to report: leave such
  // programs untouched.
  bool poisoned = llvm::any_of(Prog.insns, [](const bpf::SlotInsn &si) {
    return std::holds_alternative<bpf::Poison>(si.insn);
  });
  if (!poisoned && llvm::none_of(Spec.maps, isFrozen))
    return;
  for (const bpf::SlotInsn &si : Prog.insns) {
    const auto *jump = std::get_if<bpf::Jump>(&si.insn);
    const auto *call = std::get_if<bpf::Call>(&si.insn);
    if ((jump && !indexOf(jump->target)) ||
        (call && call->kind == bpf::CallKind::Local && !indexOf(call->target)))
      return;
  }
  In.assign(Prog.insns.size(), std::nullopt);
  SmallVector<size_t, 64> work;
  propagate(0, RegState{}, work);
  while (!work.empty()) {
    size_t i = work.pop_back_val();
    RegState regs = *In[i];
    const bpf::Insn &insn = Prog.insns[i].insn;
    if (std::holds_alternative<bpf::Exit>(insn))
      continue;
    if (const auto *call = std::get_if<bpf::Call>(&insn);
        call && call->kind == bpf::CallKind::Local)
      propagate(*indexOf(call->target), RegState{}, work);
    transfer(insn, regs);
    if (const auto *jump = std::get_if<bpf::Jump>(&insn)) {
      std::optional<bool> taken = decide(*jump, *In[i]);
      if (!taken || *taken)
        propagate(*indexOf(jump->target), regs, work);
      if (jump->op == bpf::JumpOpKind::Ja || (taken && *taken))
        continue;
    }
    propagate(i + 1, regs, work);
  }
  // Rewrite the jumps whose outcome is the same on every path.
  for (size_t i = 0; i < Prog.insns.size(); ++i) {
    auto *jump = std::get_if<bpf::Jump>(&Prog.insns[i].insn);
    if (!jump || !In[i])
      continue;
    std::optional<bool> taken = decide(*jump, *In[i]);
    if (!taken)
      continue;
    uint32_t next = Prog.insns[i].slot + 1;
    Prog.insns[i].insn = bpf::Jump{bpf::JumpOpKind::Ja, false, 0, true, 0, 0,
                                   *taken ? jump->target : next};
  }
}

} // namespace

void foldConstantBranches(const bpfobject::ExtensionSpec &spec,
                          bpfobject::Program &prog) {
  Folder(spec, prog).run();
}

} // namespace eimc::verifier
