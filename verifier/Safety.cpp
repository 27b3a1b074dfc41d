//===- verifier/Safety.cpp - Memory safety and termination ----------------===//
//
// Part of eimc. See docs/verifier.md.
//
//===----------------------------------------------------------------------===//
//
// The safety verifier: abstract interpretation over a structurally sound
// program (Structural.cpp has run), in the manner of PREVAIL rather than the
// kernel. Each function body is iterated with a worklist to a fixpoint,
// joining at merge points and widening at loop heads, instead of
// enumerating paths; a bpf-to-bpf call analyses its callee afresh from the
// caller's argument registers (so callees are checked in every calling
// context, up to the kernel's depth of 8 frames).
//
// The checks run once more over the fixpoint, with reporting on: a check
// that fails stops its path there (its successors get nothing), so a
// program's diagnostics are its independent violations, not their echoes.
//
// Termination: every loop must be a natural loop with a counter that one
// instruction on every iteration steps by a constant towards a constant its
// exit test compares with; its iteration bound follows from the counter's
// range at loop entry. A body's instruction bound is its longest path when
// it has no loop, else the sum over its instructions of each one's cost
// times the iteration bounds of the loops around it.
//
//===----------------------------------------------------------------------===//

#include "AbstractState.h"
#include "Safety.h"
#include "VerifierInternal.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>
#include <set>

using namespace llvm;

namespace eimc::verifier {
namespace {

using namespace safety;
using bpfobject::MapDef;
using bpfobject::Program;

/// pt_regs on x86-64: 21 eight-byte registers.
constexpr int64_t CtxSize = 168;
constexpr unsigned MaxFrames = 8;
/// A pointer's offset stays strictly inside +-2^29 (the kernel's
/// BPF_MAX_VAR_OFF).
constexpr int64_t MaxVarOffset = int64_t(1) << 29;
/// Loop-head visits before widening jumps to thresholds and infinity.
constexpr unsigned WidenAfter = 2;

enum class ArgKind {
  DontCare, ConstMapPtr, PtrToMapKey, PtrToMapValue, Anything,
  PtrToUninitMem, ConstSize, ConstSizeOrZero, PtrToMemReadonly, PtrToCtx,
  ConstAllocSizeOrZero, PtrToRingbufMemRelease
};
enum class RetKind {
  Integer, Void, PtrToMapValueOrNull, PtrToRingbufMemOrNull
};

struct HelperProto {
  uint32_t id;
  const char *name;
  RetKind ret;
  ArgKind args[5];
};

constexpr HelperProto Protos[] = {
#define EIM_HELPER(ID, NAME, SYM, RET, A1, A2, A3, A4, A5)                     \
  {ID, #NAME, RetKind::RET,                                                    \
   {ArgKind::A1, ArgKind::A2, ArgKind::A3, ArgKind::A4, ArgKind::A5}},
#include "eimc/Core/Helpers.def"
};

/// Helpers whose map argument must be a ring buffer (the kernel's
/// check_map_func_compatibility).
bool needsRingbuf(uint32_t id) {
  return id == 130 /* bpf_ringbuf_output */ ||
         id == 131 /* bpf_ringbuf_reserve */;
}

const HelperProto *findProto(uint32_t id) {
  for (const HelperProto &p : Protos)
    if (p.id == id)
      return &p;
  return nullptr;
}

struct BodyResult {
  std::optional<State> exit; ///< joined over exits; none: no exit reached
  std::optional<uint64_t> bound;
};

class SafetyAnalysis {
public:
  SafetyAnalysis(const bpfobject::ExtensionSpec &spec, const Program &prog,
                 const policy::PolicyClass &cls,
                 std::vector<Diagnostic> &diags)
      : Spec(spec), Prog(prog), Class(cls), Diags(diags) {}

  void run();

private:
  using Succs = SmallVector<std::pair<size_t, State>, 2>;

  BodyResult analyzeBody(size_t start, const State &entry, unsigned depth,
                         bool report);
  /// Applies instruction \p i; returns the successors' states. With
  /// \p report, a failed check becomes a diagnostic.
  Succs transfer(size_t i, State st, unsigned depth, bool report,
                 std::optional<uint64_t> *calleeBound = nullptr);
  /// \p unrolled: iteration bounds tightenLoops() found, by loop head.
  std::optional<uint64_t>
  boundBody(size_t start, const std::vector<std::optional<State>> &in,
            const std::map<size_t, uint64_t> &calls,
            const std::map<size_t, std::optional<uint64_t>> &unrolled,
            unsigned depth);
  struct NaturalLoop {
    size_t head;
    std::vector<size_t> latches;
    std::set<size_t> body; ///< the head and what reaches a latch without it
    std::string why;       ///< why it cannot be bounded (entered sideways)
    std::optional<State> entry; ///< the join over edges from outside
  };
  /// The loops of the body at \p start, by head, under the states \p in.
  std::vector<NaturalLoop>
  naturalLoops(size_t start, const std::vector<std::optional<State>> &in,
               unsigned depth);
  /// The iteration bound of the innermost loop \p body headed by \p h,
  /// by running its iterations one after another from \p entry without
  /// widening; none if another loop is inside or the budget runs out.
  /// With \p hull, also the join over iterations of each body
  /// instruction's state.
  std::optional<uint64_t>
  unrollBound(size_t h, const std::set<size_t> &body, const State &entry,
              unsigned depth, std::map<size_t, State> *hull = nullptr);
  /// Replaces the widened fixpoint states of each innermost loop that ends
  /// within the unrolling budget by the join of its unrolled iterations'
  /// states (path-wise, as the kernel explores it: a pointer and a counter
  /// stepped together stay related within an iteration, where widening
  /// loses the relation). \returns the loops' bounds by head.
  std::map<size_t, std::optional<uint64_t>>
  tightenLoops(size_t start, std::vector<std::optional<State>> &in,
               unsigned depth);

  bool fail(bool report, size_t i, StringRef rule, const Twine &msg,
            std::vector<std::string> ctx = {});
  /// A finding that does not refuse the program: once per instruction.
  void warn(bool report, size_t i, StringRef rule, const Twine &msg,
            std::vector<std::string> ctx = {});
  /// After a store of \p value (the whole register, or the immediate) of
  /// \p width bytes at \p off from \p ptr: the facts the kernel keeps for
  /// its constant-key rule (AbstractState.h, Frame).
  static void noteKeyStore(State &st, const Value &ptr, int16_t off,
                           unsigned width, const Value &value);
  /// The key a map-key argument \p ptr of \p size bytes is known to hold,
  /// exactly when the kernel's get_constant_map_key knows it.
  static std::optional<uint64_t> constantKey(const State &st, const Value &ptr,
                                             uint32_t size);
  /// Whether bpf_map_lookup_elem (\p helper) of \p key in \p m cannot
  /// return NULL: the kernel's can_elide_value_nullness.
  static bool keyInRange(uint32_t helper, const MapDef &m,
                         std::optional<uint64_t> key);
  std::string describe(const Value &v) const;
  /// The slot of the bpf_ringbuf_reserve call that made reference \p ref.
  uint32_t reserveSlot(uint32_t ref) const {
    return ref && ref <= Prog.insns.size() ? Prog.insns[ref - 1].slot : 0;
  }
  /// Ends reservation \p ref: drops it from the live set and turns every
  /// copy of the record pointer into \p to.
  static void endReservation(State &st, uint32_t ref, const Value &to);
  std::string regLine(const State &st, unsigned r) const {
    return "r" + std::to_string(r) + ": " + describe(st.regs[r]);
  }
  bool readReg(const State &st, unsigned r, size_t i, bool report);
  /// Region of a pointer: size, writable, and a name for messages.
  bool region(const Value &p, int64_t &size, bool &writable,
              std::string &name) const;
  bool checkAccess(State &st, size_t i, bool report, const Value &ptr,
                   int64_t off, unsigned width, bool write, unsigned reg,
                   std::optional<Value> *loaded, const Value *stored);
  bool checkMemArg(State &st, size_t i, bool report, unsigned reg,
                   uint64_t sizeLo, uint64_t sizeHi, bool write,
                   StringRef what);
  void refine(State &st, const bpf::Jump &j, bool taken, bool &feasible);

  /// Pointers that are never null: a map, or a checked map value or
  /// record, the stack, the context whose offset stays inside (or one past)
  /// its region. Outside it, `r10 + x` may be 0 for some x, so the
  /// comparison with 0 would not be known.
  bool nonNull(const Value &v) const {
    if (v.kind == TypeKind::MapPtr)
      return true;
    if (v.kind != TypeKind::Stack && v.kind != TypeKind::Ctx &&
        v.kind != TypeKind::MapValue && v.kind != TypeKind::RingbufMem)
      return false;
    int64_t size = 0;
    bool writable = false;
    std::string name;
    if (!region(v, size, writable, name))
      return false;
    int64_t lo = v.kind == TypeKind::Stack ? -size : 0;
    return v.range.smin >= lo && v.range.smax <= lo + size;
  }
  /// Both point into the same memory (the same frame, the context, the
  /// value of the same one-element array, the same record), so their order is
  /// their offsets' and reveals no address.
  bool sameRegion(const Value &a, const Value &b) const {
    if (a.kind != b.kind)
      return false;
    switch (a.kind) {
    case TypeKind::Stack:
      return a.frame == b.frame;
    case TypeKind::Ctx:
      return true;
    case TypeKind::MapValue: {
      // An array of one element (global data): one value. A hash map's
      // single entry may move between two lookups.
      const MapDef &m = Spec.maps[a.map];
      return a.map == b.map && m.maxEntries == 1 &&
             (m.type == uint32_t(bpfobject::MapTypeKind::Array) ||
              m.type == uint32_t(bpfobject::MapTypeKind::PercpuArray));
    }
    case TypeKind::RingbufMem:
      return a.ref == b.ref;
    default:
      return false;
    }
  }
  /// A comparison involving pointers whose outcome reveals no address:
  /// a never-null pointer against 0 (64-bit `==`/`!=`, the outcome is
  /// known) or two pointers into one region.
  bool harmlessCompare(const State &st, const bpf::Jump &j) const {
    const Value &d = st.regs[j.dst];
    if (j.useImm)
      return !j.is32 && j.imm == 0 && nonNull(d) &&
             (j.op == bpf::JumpOpKind::Jeq || j.op == bpf::JumpOpKind::Jne);
    // Not on 32-bit halves (the low half of an address can wrap between
    // the two) nor a bit test (it reads address bits).
    return !j.is32 && j.op != bpf::JumpOpKind::Jset &&
           sameRegion(d, st.regs[j.src]);
  }

  size_t indexOf(uint32_t slot) const { return SlotToIndex[slot]; }
  SmallVector<size_t, 2> successors(size_t i) const;
  size_t bodyEnd(size_t start) const {
    auto it = BodyStarts.upper_bound(start);
    return it == BodyStarts.end() ? Prog.insns.size() : *it;
  }

  const bpfobject::ExtensionSpec &Spec;
  const Program &Prog;
  const policy::PolicyClass &Class;
  std::vector<Diagnostic> &Diags;
  std::vector<size_t> SlotToIndex;
  std::set<size_t> BodyStarts;
  std::set<int64_t> Thresholds;
  std::set<std::pair<size_t, std::string>> Reported;

public:
  /// The 8-byte slots (offsets from r10) some path may read before
  /// writing, in any frame.
  std::set<int32_t> UninitSlots;
};

bool SafetyAnalysis::fail(bool report, size_t i, StringRef rule,
                          const Twine &msg, std::vector<std::string> ctx) {
  if (!report)
    return false;
  std::string text = msg.str();
  if (!Reported.insert({i, text}).second)
    return false;
  Diags.push_back(diagnosticAt(Spec, Prog, i, rule, text, std::move(ctx)));
  return false;
}

void SafetyAnalysis::warn(bool report, size_t i, StringRef rule,
                          const Twine &msg, std::vector<std::string> ctx) {
  if (!report || !Reported.insert({i, rule.str()}).second)
    return;
  size_t before = Diags.size();
  fail(report, i, rule, msg, std::move(ctx));
  if (Diags.size() > before)
    Diags.back().severity = SeverityKind::Warning;
}

void SafetyAnalysis::noteKeyStore(State &st, const Value &ptr, int16_t off,
                                  unsigned width, const Value &value) {
  if (ptr.kind != TypeKind::Stack || !ptr.range.isConstant() ||
      ptr.frame >= st.frames.size() || value.kind != TypeKind::Scalar ||
      !value.range.isConstant())
    return;
  int64_t lo = int64_t(ptr.range.umin) + off;
  if (lo < -int64_t(bpf::StackSize) || lo + int64_t(width) > 0)
    return;
  Frame &f = st.frames[ptr.frame];
  size_t at = size_t(lo + bpf::StackSize);
  // The kernel (check_stack_write_fixed_off, privileged): a scalar stored
  // at a slot's start is a spill, of any width; elsewhere, a zero marks
  // its bytes STACK_ZERO. Whole 8-byte spills are in Frame::spill already.
  if (lo % 8 == 0) {
    if (width < 8) {
      f.narrowWidth[at / 8] = uint8_t(width);
      f.narrowValue[at / 8] = value.range.umin;
    }
    return;
  }
  if (value.range.umin == 0)
    for (unsigned b = 0; b < width; ++b)
      f.zero[at + b] = true;
}

std::optional<uint64_t> SafetyAnalysis::constantKey(const State &st,
                                                    const Value &ptr,
                                                    uint32_t size) {
  if (ptr.kind != TypeKind::Stack || !ptr.range.isConstant() ||
      ptr.frame >= st.frames.size())
    return std::nullopt;
  int64_t lo = int64_t(ptr.range.umin);
  if (lo < -int64_t(bpf::StackSize) || lo >= 0)
    return std::nullopt;
  const Frame &f = st.frames[ptr.frame];
  size_t at = size_t(lo + bpf::StackSize), slot = at / 8, pos = at % 8;
  // Known-zero bytes from the key's first byte to the slot's end.
  unsigned zeros = 0;
  for (size_t b = pos; b < 8 && f.zero[slot * 8 + b]; ++b)
    ++zeros;
  if (zeros >= size)
    return 0;
  // Else a constant scalar spilled at the slot's start whose spilled bytes
  // from the key's first byte on are exactly the key (the kernel then
  // takes the whole spilled register as the key).
  if (const std::optional<Value> &sp = f.spill[slot];
      sp && sp->kind == TypeKind::Scalar) {
    if (8 - pos == size && sp->range.isConstant())
      return sp->range.umin;
    return std::nullopt;
  }
  if (unsigned w = f.narrowWidth[slot]; w && pos < w && w - pos == size)
    return f.narrowValue[slot];
  return std::nullopt;
}

bool SafetyAnalysis::keyInRange(uint32_t helper, const MapDef &m,
                                std::optional<uint64_t> key) {
  constexpr uint32_t InnerMapFlag = 0x1000; // BPF_F_INNER_MAP
  bool array = m.type == uint32_t(bpfobject::MapTypeKind::Array) ||
               m.type == uint32_t(bpfobject::MapTypeKind::PercpuArray);
  return helper == 1 /* bpf_map_lookup_elem */ && array &&
         !(m.flags & InnerMapFlag) && key && int64_t(*key) >= 0 &&
         int64_t(*key) < int64_t(m.maxEntries);
}

std::string SafetyAnalysis::describe(const Value &v) const {
  auto mapName = [&](uint32_t m) {
    return m < Spec.maps.size() ? Spec.maps[m].name : std::string("?");
  };
  switch (v.kind) {
  case TypeKind::Uninit:
    return "uninitialized";
  case TypeKind::Scalar:
    return "scalar " + v.range.str();
  case TypeKind::Ctx:
    return "ctx off=" + v.range.str();
  case TypeKind::Stack:
    return "stack(frame " + std::to_string(v.frame) + ") off=" + v.range.str();
  case TypeKind::MapPtr:
    return "map_ptr(" + mapName(v.map) + ")";
  case TypeKind::MapValue:
    return "map_value(" + mapName(v.map) + ") off=" + v.range.str();
  case TypeKind::MapValueOrNull:
    return "map_value_or_null(" + mapName(v.map) + ") off=" + v.range.str();
  case TypeKind::RingbufMem:
  case TypeKind::RingbufMemOrNull:
    return formatv("ringbuf_mem{0}({1}, {2} bytes, reserved at insn {3}) "
                   "off={4}",
                   v.kind == TypeKind::RingbufMem ? "" : "_or_null",
                   mapName(v.map), v.size, reserveSlot(v.ref), v.range.str())
        .str();
  case TypeKind::Released:
    return formatv("released ring-buffer record (reserved at insn {0})",
                   reserveSlot(v.ref))
        .str();
  case TypeKind::Top:
    return "different types on different paths";
  }
  return "?";
}

bool SafetyAnalysis::readReg(const State &st, unsigned r, size_t i,
                             bool report) {
  const Value &v = st.regs[r];
  if (v.kind == TypeKind::Uninit)
    return fail(report, i, "uninit-register",
                "r" + Twine(r) + " is read before it is written on some path",
                {regLine(st, r)});
  if (v.kind == TypeKind::Released)
    return fail(report, i, "use-after-release",
                "r" + Twine(r) + " points to a ring-buffer record that was "
                "already submitted or discarded",
                {regLine(st, r)});
  if (v.kind == TypeKind::Top)
    return fail(report, i, "mixed-types",
                "r" + Twine(r) + " has different types on different paths",
                {regLine(st, r)});
  return true;
}

bool SafetyAnalysis::region(const Value &p, int64_t &size, bool &writable,
                            std::string &name) const {
  switch (p.kind) {
  case TypeKind::Ctx:
    size = CtxSize;
    writable = false;
    name = "ctx";
    return true;
  case TypeKind::Stack:
    size = bpf::StackSize;
    writable = true;
    name = "stack";
    return true;
  case TypeKind::RingbufMem:
    size = p.size;
    writable = true;
    name = "ring-buffer record";
    return true;
  case TypeKind::MapValue: {
    const MapDef &m = Spec.maps[p.map];
    size = m.valueSize;
    writable = !StringRef(m.name).ends_with(".rodata");
    name = "map value '" + m.name + "'";
    return true;
  }
  default:
    return false;
  }
}

/// The stack offset of a pointer is relative to r10, so in [-512, 0).
bool SafetyAnalysis::checkAccess(State &st, size_t i, bool report,
                                 const Value &ptr, int64_t off, unsigned width,
                                 bool write, unsigned reg,
                                 std::optional<Value> *loaded,
                                 const Value *stored) {
  if (ptr.kind == TypeKind::MapValueOrNull ||
      ptr.kind == TypeKind::RingbufMemOrNull)
    return fail(report, i, "null-check",
                "r" + Twine(reg) + " may be null: check the result of " +
                    (ptr.kind == TypeKind::MapValueOrNull
                         ? "bpf_map_lookup_elem"
                         : "bpf_ringbuf_reserve") +
                    " before dereferencing it",
                {regLine(st, reg)});
  if (ptr.kind == TypeKind::Scalar || ptr.kind == TypeKind::MapPtr)
    return fail(report, i, "not-a-pointer",
                "r" + Twine(reg) + " is not a pointer to memory",
                {regLine(st, reg)});
  int64_t size = 0;
  bool writable = false;
  std::string name;
  region(ptr, size, writable, name);
  if (ptr.range.smin < INT32_MIN || ptr.range.smax > INT32_MAX)
    return fail(report, i, "out-of-bounds",
                "offset of r" + Twine(reg) + " into " + name +
                    " is unbounded",
                {regLine(st, reg)});
  int64_t lo = ptr.range.smin + off, hi = ptr.range.smax + off + width;
  int64_t rlo = ptr.kind == TypeKind::Stack ? -int64_t(bpf::StackSize) : 0;
  int64_t rhi = ptr.kind == TypeKind::Stack ? 0 : size;
  if (lo < rlo || hi > rhi)
    return fail(report, i, "out-of-bounds",
                formatv("{0}-byte {1} at [{2}, {3}) outside {4} [{5}, {6})",
                        width, write ? "write" : "read", lo, hi, name, rlo,
                        rhi),
                {regLine(st, reg)});
  if (write && !writable)
    return fail(report, i, "read-only",
                name + " is read-only" +
                    (ptr.kind == TypeKind::Ctx
                         ? "; the kernel rejects ctx writes for probes"
                         : ""),
                {regLine(st, reg)});
  // The kernel wants the ctx pointer unmodified (the whole offset in the
  // instruction): `r1 += 8; *(u64 *)(r1 + 152)` is refused like a
  // variable offset ("dereference of modified ctx ptr").
  if (ptr.kind == TypeKind::Ctx &&
      (ptr.range != Range::constant(0) || lo % width))
    return fail(report, i, "ctx-access",
                formatv("ctx access must be at a constant, naturally "
                        "aligned offset (here [{0}, {1}), {2} bytes)",
                        lo, hi, width),
                {regLine(st, reg)});
  if (stored && stored->isPointer() && ptr.kind != TypeKind::Stack)
    return fail(report, i, "pointer-leak",
                "a pointer is stored into " + name +
                    ", where it would leak to user space",
                {regLine(st, reg), "value: " + describe(*stored)});
  if (ptr.kind != TypeKind::Stack) {
    if (loaded)
      *loaded = Value::scalar();
    return true;
  }
  // The kernel wants stack accesses naturally aligned whatever the CPU
  // (its spill tracking relies on it): the offset's known low bits decide.
  if (Tnum at = ptr.range.bits + Tnum::constant(uint64_t(int64_t(off)));
      (at.mask | at.value) & (width - 1))
    return fail(report, i, "misaligned",
                formatv("misaligned stack access: {0}-byte {1} at [{2}, {3})",
                        width, write ? "write" : "read", lo, hi),
                {regLine(st, reg)});
  if (ptr.frame >= st.frames.size())
    return fail(report, i, "stack-frame",
                "pointer into a stack frame that has returned",
                {regLine(st, reg)});
  Frame &frame = st.frames[ptr.frame];
  auto byteIndex = [](int64_t o) { return size_t(o + bpf::StackSize); };
  bool exact = ptr.range.isConstant();
  if (!write) {
    // Root may read stack bytes nothing wrote (allow_uninit_stack); in
    // LLVM that read would be undefined behaviour, so the compiler zeroes
    // those slots on entry (Program::zeroStackSlots) and the read yields
    // 0. Reported as a warning.
    for (int64_t b = lo; b < hi; ++b)
      if (!frame.init[byteIndex(b)])
        UninitSlots.insert(int32_t(b >= 0 ? b / 8 * 8 : (b - 7) / 8 * 8));
    for (int64_t b = lo; b < hi; ++b)
      if (!frame.init[byteIndex(b)]) {
        warn(report, i, "uninit-stack",
             formatv("stack byte at r10{0} is read before it is written on "
                     "some path; it reads 0 (the stack is zeroed on entry)",
                     b),
             {regLine(st, reg)});
        break;
      }
    // Which slots the read touches: a spilled pointer may only be read
    // back whole.
    for (int64_t s = lo >= 0 ? 0 : (lo - 7) / 8; s * 8 < hi; ++s) {
      size_t slot = byteIndex(s * 8) / 8;
      if (slot >= frame.spill.size() || !frame.spill[slot])
        continue;
      const Value &sv = *frame.spill[slot];
      bool whole = exact && width == 8 && lo == s * 8;
      if (whole && loaded) {
        *loaded = sv;
        return true;
      }
      if (sv.kind != TypeKind::Scalar)
        return fail(report, i, "pointer-leak",
                    "partial read of a spilled pointer",
                    {regLine(st, reg), "slot r10" + std::to_string(s * 8) +
                                           ": " + describe(sv)});
    }
    if (loaded)
      *loaded = Value::scalar();
    return true;
  }
  // A write: forget spills it touches, record a whole aligned spill.
  if (stored && stored->isPointer() && stored->kind == TypeKind::Stack &&
      stored->frame > ptr.frame)
    return fail(report, i, "stack-frame",
                "a pointer to a callee's stack is stored in its caller's "
                "frame",
                {regLine(st, reg)});
  for (int64_t b = lo; b < hi; ++b) {
    size_t slot = byteIndex(b) / 8;
    frame.spill[slot].reset();
    frame.narrowWidth[slot] = 0;
    frame.narrowValue[slot] = 0;
    frame.zero[byteIndex(b)] = false;
    if (exact)
      frame.init[byteIndex(b)] = true;
  }
  if (stored && stored->isPointer() && !(exact && width == 8 && lo % 8 == 0))
    return fail(report, i, "pointer-leak",
                "a pointer is stored to the stack other than as an aligned "
                "8-byte spill",
                {regLine(st, reg)});
  if (stored && exact && width == 8 && lo % 8 == 0)
    frame.spill[byteIndex(lo) / 8] = *stored;
  return true;
}

/// Every register and spilled register of \p st.
static SmallVector<Value *, 32> allValues(State &st) {
  SmallVector<Value *, 32> out;
  for (Value &v : st.regs)
    out.push_back(&v);
  for (Frame &f : st.frames)
    for (std::optional<Value> &s : f.spill)
      if (s)
        out.push_back(&*s);
  return out;
}

void SafetyAnalysis::endReservation(State &st, uint32_t ref, const Value &to) {
  st.refs.erase(ref);
  st.partlyReleased.erase(ref);
  for (Value *v : allValues(st))
    if ((v->kind == TypeKind::RingbufMem ||
         v->kind == TypeKind::RingbufMemOrNull) &&
        v->ref == ref)
      *v = to;
}

/// Narrows the registers a conditional jump compares, for the edge taken
/// (\p taken) or not. \p feasible becomes false if the edge cannot run.
void SafetyAnalysis::refine(State &st, const bpf::Jump &j, bool taken,
                            bool &feasible) {
  using bpf::JumpOpKind;
  Value &d = st.regs[j.dst];
  Value srcVal = j.useImm ? Value::scalar(Range::constant(int64_t(j.imm)))
                          : st.regs[j.src];
  // Null checks: `if rX == 0` on map_value_or_null.
  if (d.kind == TypeKind::MapValueOrNull && srcVal.kind == TypeKind::Scalar &&
      srcVal.range == Range::constant(0) && !j.is32 &&
      (j.op == JumpOpKind::Jeq || j.op == JumpOpKind::Jne)) {
    bool isNull = (j.op == JumpOpKind::Jeq) == taken;
    uint32_t id = d.nullId;
    auto fix = [&](Value &v) {
      if (v.kind != TypeKind::MapValueOrNull || (&v != &d && (id == 0 || v.nullId != id)))
        return;
      v = isNull ? Value::scalar(Range::constant(0))
                 : Value{TypeKind::MapValue, v.range, v.map, 0, 0};
    };
    for (Value &v : st.regs)
      if (&v != &d)
        fix(v);
    for (Frame &f : st.frames)
      for (auto &s : f.spill)
        if (s)
          fix(*s);
    fix(d);
    return;
  }
  // The same for a reservation; a null one holds no reference.
  if (d.kind == TypeKind::RingbufMemOrNull &&
      srcVal.kind == TypeKind::Scalar && srcVal.range == Range::constant(0) &&
      !j.is32 && (j.op == JumpOpKind::Jeq || j.op == JumpOpKind::Jne)) {
    bool isNull = (j.op == JumpOpKind::Jeq) == taken;
    Value record = d;
    record.kind = TypeKind::RingbufMem;
    if (isNull)
      endReservation(st, d.ref, Value::scalar(Range::constant(0)));
    else
      for (Value *v : allValues(st))
        if (v->kind == TypeKind::RingbufMemOrNull && v->ref == record.ref) {
          Range off = v->range;
          *v = record;
          v->range = off;
        }
    return;
  }
  // A pointer that cannot be null against 0: the outcome is known.
  if (d.isPointer() && nonNull(d) && srcVal.kind == TypeKind::Scalar &&
      srcVal.range == Range::constant(0)) {
    feasible = (j.op == JumpOpKind::Jne) == taken;
    return;
  }
  // Two pointers into one region compare as their offsets (neither
  // address wraps for offsets within 32 bits). The offsets are signed
  // (r10 - 8 is below r10) while the addresses compare unsigned: an
  // unsigned order of the addresses is the signed order of the offsets.
  bool offsets = sameRegion(d, srcVal) && d.range.smin >= INT32_MIN &&
                 d.range.smax <= INT32_MAX &&
                 srcVal.range.smin >= INT32_MIN &&
                 srcVal.range.smax <= INT32_MAX && !j.is32;
  if (!offsets &&
      (d.kind != TypeKind::Scalar || srcVal.kind != TypeKind::Scalar))
    return;
  JumpOpKind op = j.op;
  if (offsets)
    switch (op) {
    case JumpOpKind::Jgt: op = JumpOpKind::Jsgt; break;
    case JumpOpKind::Jge: op = JumpOpKind::Jsge; break;
    case JumpOpKind::Jlt: op = JumpOpKind::Jslt; break;
    case JumpOpKind::Jle: op = JumpOpKind::Jsle; break;
    default: break;
    }
  Range a = d.range, b = srcVal.range;
  if (!refineCompare(op, j.is32, taken, a, b)) {
    feasible = false;
    return;
  }
  d.range = a;
  if (!j.useImm && j.src != j.dst)
    st.regs[j.src].range = b;
}

SmallVector<size_t, 2> SafetyAnalysis::successors(size_t i) const {
  SmallVector<size_t, 2> out;
  const bpf::Insn &insn = Prog.insns[i].insn;
  if (std::holds_alternative<bpf::Exit>(insn))
    return out;
  if (const auto *j = std::get_if<bpf::Jump>(&insn)) {
    out.push_back(indexOf(j->target));
    if (j->op == bpf::JumpOpKind::Ja)
      return out;
  }
  out.push_back(i + 1);
  return out;
}

bool SafetyAnalysis::checkMemArg(State &st, size_t i, bool report,
                                 unsigned reg, uint64_t sizeLo,
                                 uint64_t sizeHi, bool write,
                                 StringRef what) {
  const Value &p = st.regs[reg];
  if (p.kind != TypeKind::Stack && p.kind != TypeKind::MapValue &&
      p.kind != TypeKind::RingbufMem)
    return fail(report, i, "helper-arg",
                "r" + Twine(reg) +
                    " must point to the stack, a map value or a ring-buffer "
                    "record (" +
                    what + ")",
                {regLine(st, reg)});
  if (sizeHi == 0)
    return true;
  if (sizeHi > bpf::StackSize + 65536)
    return fail(report, i, "helper-arg",
                "size of " + what + " is not bounded", {regLine(st, reg)});
  // Check the largest possible extent.
  Value ptr = p;
  bool ok = true;
  for (uint64_t b = 0; b < sizeHi && ok; ++b) {
    if (write) {
      State scratch = st;
      ok = checkAccess(scratch, i, report, ptr, int64_t(b), 1, true, reg,
                       nullptr, nullptr);
    } else {
      std::optional<Value> v;
      ok = checkAccess(st, i, report, ptr, int64_t(b), 1, false, reg, &v,
                       nullptr);
    }
  }
  if (!ok || !write)
    return ok;
  // The first sizeLo bytes are written; up to sizeHi may be, so no fact
  // about those (a spill, a narrow constant, a known zero) survives, but
  // they are not known written either.
  for (uint64_t b = 0; b < sizeLo; ++b)
    checkAccess(st, i, false, ptr, int64_t(b), 1, true, reg, nullptr,
                nullptr);
  if (sizeLo != sizeHi && ptr.kind == TypeKind::Stack) {
    Frame &frame = st.frames[ptr.frame];
    for (int64_t b = ptr.range.smin + int64_t(sizeLo);
         b < ptr.range.smax + int64_t(sizeHi); ++b) {
      size_t at = size_t(b + int64_t(bpf::StackSize));
      frame.spill[at / 8].reset();
      frame.narrowWidth[at / 8] = 0;
      frame.narrowValue[at / 8] = 0;
      frame.zero[at] = false;
    }
  }
  return ok;
}

SafetyAnalysis::Succs SafetyAnalysis::transfer(size_t i, State st,
                                               unsigned depth, bool report,
                                               std::optional<uint64_t> *bound) {
  Succs out;
  const bpf::Insn &insn = Prog.insns[i].insn;
  auto next = [&](State s) { out.push_back({i + 1, std::move(s)}); };

  if (const auto *a = std::get_if<bpf::Alu>(&insn)) {
    Value &d = st.regs[a->dst];
    if (a->op != bpf::AluOpKind::Mov && a->op != bpf::AluOpKind::MovSx &&
        !readReg(st, a->dst, i, report))
      return out;
    if (!a->useImm && !readReg(st, a->src, i, report))
      return out;
    Value s = a->useImm ? Value::scalar(Range::constant(int64_t(a->imm)))
                        : st.regs[a->src];
    if (a->useImm && !a->is64)
      s = Value::scalar(Range::constant(uint32_t(a->imm)));
    bool isShift = a->op == bpf::AluOpKind::Lsh ||
                   a->op == bpf::AluOpKind::Rsh ||
                   a->op == bpf::AluOpKind::Arsh;
    if (isShift && a->useImm && uint32_t(a->imm) >= (a->is64 ? 64u : 32u))
      return fail(report, i, "shift-width",
                  formatv("shift by {0} is at least the operand width {1}",
                          uint32_t(a->imm), a->is64 ? 64 : 32)),
             out;
    if (a->op == bpf::AluOpKind::Mov && a->is64 && !a->useImm) {
      d = s;
      next(st);
      return out;
    }
    bool dPtr = d.isPointer() && a->op != bpf::AluOpKind::Mov &&
                a->op != bpf::AluOpKind::MovSx;
    if (dPtr || s.isPointer()) {
      // Only pointer +/- scalar and scalar + pointer, in 64 bits.
      bool ok = a->is64 &&
                ((dPtr && s.kind == TypeKind::Scalar &&
                  (a->op == bpf::AluOpKind::Add ||
                   a->op == bpf::AluOpKind::Sub)) ||
                 (!dPtr && d.kind == TypeKind::Scalar && s.isPointer() &&
                  a->op == bpf::AluOpKind::Add));
      Value &p = dPtr ? d : s;
      if (ok && (p.kind == TypeKind::MapValueOrNull ||
                 p.kind == TypeKind::RingbufMemOrNull ||
                 p.kind == TypeKind::MapPtr))
        ok = false;
      if (!ok)
        return fail(report, i, "pointer-arith",
                    "arithmetic on a pointer other than adding or "
                    "subtracting a scalar (would leak or forge an address)",
                    {regLine(st, a->dst),
                     a->useImm ? std::string("imm")
                               : regLine(st, a->src)}),
               out;
      Value ptr = p;
      ptr.range = aluResult(*a, ptr.range, dPtr ? s.range : d.range);
      // The kernel's check_reg_sane_offset: an offset that may leave
      // +-2^29 is refused at the arithmetic, not only at an access, so
      // offsets stay small enough that no address wraps or reaches 0 (the
      // pointer comparisons above rely on it).
      if (ptr.range.smin <= -MaxVarOffset || ptr.range.smax >= MaxVarOffset)
        return fail(report, i, "pointer-arith",
                    formatv("the offset of r{0} may leave (-2^29, 2^29) "
                            "(offset [{1}, {2}])",
                            unsigned(a->dst), ptr.range.smin,
                            ptr.range.smax),
                    {regLine(st, a->dst),
                     a->useImm ? std::string("imm")
                               : regLine(st, a->src)}),
               out;
      d = ptr;
      next(st);
      return out;
    }
    d = Value::scalar(aluResult(*a, d.range, s.range));
    next(st);
    return out;
  }
  if (const auto *e = std::get_if<bpf::Endian>(&insn)) {
    if (!readReg(st, e->dst, i, report))
      return out;
    if (st.regs[e->dst].isPointer())
      return fail(report, i, "pointer-arith", "byte swap of a pointer",
                  {regLine(st, e->dst)}),
             out;
    st.regs[e->dst] = Value::scalar(
        e->bits == 64 ? Range::top()
                      : Range::unsignedRange(0, (uint64_t(1) << e->bits) - 1));
    next(st);
    return out;
  }
  if (const auto *l = std::get_if<bpf::Load>(&insn)) {
    if (!readReg(st, l->src, i, report))
      return out;
    std::optional<Value> v;
    Value ptr = st.regs[l->src];
    if (!checkAccess(st, i, report, ptr, l->off, unsigned(l->width), false,
                     l->src, &v, nullptr))
      return out;
    unsigned bits = unsigned(l->width) * 8;
    if (v->kind == TypeKind::Scalar && bits < 64)
      v->range = l->signExtend
                     ? Range::signedRange(-(int64_t(1) << (bits - 1)),
                                          (int64_t(1) << (bits - 1)) - 1)
                     : Range::unsignedRange(0, (uint64_t(1) << bits) - 1);
    st.regs[l->dst] = *v;
    next(st);
    return out;
  }
  if (const auto *s = std::get_if<bpf::Store>(&insn)) {
    if (!readReg(st, s->dst, i, report))
      return out;
    if (!s->useImm && !readReg(st, s->src, i, report))
      return out;
    Value v = s->useImm ? Value::scalar(Range::constant(int64_t(s->imm)))
                        : st.regs[s->src];
    Value whole = v;
    if (v.kind == TypeKind::Scalar && unsigned(s->width) < 8)
      v = Value::scalar();
    Value ptr = st.regs[s->dst];
    if (!checkAccess(st, i, report, ptr, s->off, unsigned(s->width), true,
                     s->dst, nullptr, &v))
      return out;
    noteKeyStore(st, ptr, s->off, unsigned(s->width), whole);
    next(st);
    return out;
  }
  if (const auto *a = std::get_if<bpf::Atomic>(&insn)) {
    if (!readReg(st, a->dst, i, report) || !readReg(st, a->src, i, report))
      return out;
    if (a->op == bpf::AtomicOpKind::CmpXchg && !readReg(st, 0, i, report))
      return out;
    if (st.regs[a->src].isPointer() ||
        (a->op == bpf::AtomicOpKind::CmpXchg && st.regs[0].isPointer()))
      return fail(report, i, "pointer-leak",
                  "atomic operation with a pointer operand",
                  {regLine(st, a->src)}),
             out;
    Value ptr = st.regs[a->dst];
    std::optional<Value> old;
    if (!checkAccess(st, i, report, ptr, a->off, unsigned(a->width), false,
                     a->dst, &old, nullptr))
      return out;
    if (old && old->kind != TypeKind::Scalar)
      return fail(report, i, "pointer-leak",
                  "atomic operation on a spilled pointer",
                  {regLine(st, a->dst)}),
             out;
    Value sc = Value::scalar();
    if (!checkAccess(st, i, report, ptr, a->off, unsigned(a->width), true,
                     a->dst, nullptr, &sc))
      return out;
    if (a->op == bpf::AtomicOpKind::CmpXchg)
      st.regs[0] = Value::scalar();
    else if (a->fetch)
      st.regs[a->src] = Value::scalar();
    next(st);
    return out;
  }
  if (const auto *l = std::get_if<bpf::LoadImm64>(&insn)) {
    switch (l->kind) {
    case bpf::Imm64Kind::MapByFd:
      st.regs[l->dst] = {TypeKind::MapPtr, Range::constant(0), l->mapIndex, 0,
                         0};
      break;
    case bpf::Imm64Kind::MapValueByFd:
      st.regs[l->dst] = {TypeKind::MapValue, Range::constant(l->offset),
                         l->mapIndex, 0, 0};
      break;
    default:
      st.regs[l->dst] = Value::scalar(Range::constant(l->value));
    }
    out.push_back({i + 1 < Prog.insns.size() ? i + 1 : i, std::move(st)});
    return out;
  }
  if (const auto *j = std::get_if<bpf::Jump>(&insn)) {
    size_t target = indexOf(j->target);
    if (j->op == bpf::JumpOpKind::Ja) {
      out.push_back({target, std::move(st)});
      return out;
    }
    if (!readReg(st, j->dst, i, report) ||
        (!j->useImm && !readReg(st, j->src, i, report)))
      return out;
    const Value &d = st.regs[j->dst];
    bool nullCheck = (d.kind == TypeKind::MapValueOrNull ||
                      d.kind == TypeKind::RingbufMemOrNull) &&
                     j->useImm &&
                     j->imm == 0 && !j->is32 &&
                     (j->op == bpf::JumpOpKind::Jeq ||
                      j->op == bpf::JumpOpKind::Jne);
    if (!nullCheck && !harmlessCompare(st, *j) &&
        (d.isPointer() || (!j->useImm && st.regs[j->src].isPointer())))
      return fail(report, i, "pointer-compare",
                  "comparison of a pointer with a scalar or with a pointer "
                  "into another region would leak its address",
                  {regLine(st, j->dst),
                   j->useImm ? "imm " + std::to_string(j->imm)
                             : regLine(st, j->src)}),
             out;
    for (bool taken : {false, true}) {
      State s = st;
      bool feasible = true;
      refine(s, *j, taken, feasible);
      if (feasible)
        out.push_back({taken ? target : i + 1, std::move(s)});
    }
    return out;
  }
  if (const auto *c = std::get_if<bpf::Call>(&insn)) {
    if (c->kind == bpf::CallKind::Local) {
      if (depth + 1 >= MaxFrames)
        return fail(report, i, "call-depth",
                    "calls nest deeper than " + Twine(MaxFrames) + " frames"),
               out;
      State callee = st;
      for (unsigned r = 6; r <= 9; ++r)
        callee.regs[r] = Value{};
      callee.regs[0] = Value{};
      callee.frames.push_back(Frame{});
      callee.regs[10] = {TypeKind::Stack, Range::constant(0), 0,
                         uint32_t(callee.frames.size() - 1), 0};
      BodyResult r = analyzeBody(indexOf(c->target), callee, depth + 1, report);
      if (bound)
        *bound = r.bound;
      if (!r.exit)
        return out;
      State after = st;
      after.frames.assign(r.exit->frames.begin(),
                          r.exit->frames.begin() + st.frames.size());
      after.regs[0] = r.exit->regs[0];
      for (unsigned reg = 1; reg <= 5; ++reg)
        after.regs[reg] = Value{};
      // A reservation the callee releases on some paths only would be
      // both live and released in the caller's registers after the call.
      for (uint32_t ref : st.refs)
        if (r.exit->refs.count(ref) && r.exit->partlyReleased.count(ref))
          return fail(report, i, "reference-release",
                      "the called function releases the ring-buffer "
                      "reservation from insn " +
                          Twine(reserveSlot(ref)) +
                          " on some paths only"),
                 out;
      // Reservations the callee released die in the caller's registers.
      for (uint32_t ref : st.refs)
        if (!r.exit->refs.count(ref))
          endReservation(after, ref,
                         Value{TypeKind::Released, Range::constant(0), 0, 0,
                               0, ref, 0});
      after.refs = r.exit->refs;
      after.partlyReleased = r.exit->partlyReleased;
      next(after);
      return out;
    }
    if (c->kind == bpf::CallKind::HelperBtfId) {
      // A host-function call (B3; the structural verifier admits only
      // granted ones). Capabilities.cpp checks its arguments against the
      // manifest's prototype, but host code is outside this analysis: a
      // pointer into the extension's own memory could be written through
      // or kept, so none may be passed. Unknown arity: no argument is read.
      for (unsigned reg = 1; reg <= 5; ++reg)
        if (st.regs[reg].isPointer())
          return fail(report, i, "host-call-arg",
                      "argument " + Twine(reg) +
                          " of a host-function call points into the "
                          "extension's memory",
                      {regLine(st, reg)}),
                 out;
      for (unsigned reg = 1; reg <= 5; ++reg)
        st.regs[reg] = Value{};
      st.regs[0] = Value::scalar();
      next(st);
      return out;
    }
    const HelperProto *proto = findProto(uint32_t(c->imm));
    if (!proto) // the structural verifier refused it already
      return out;
    std::optional<uint32_t> map, allocSize, release;
    std::optional<uint64_t> key;
    bool ok = true;
    for (unsigned a = 0; a < 5 && ok; ++a) {
      unsigned reg = a + 1;
      ArgKind k = proto->args[a];
      if (k == ArgKind::DontCare)
        continue;
      if (!readReg(st, reg, i, report)) {
        ok = false;
        break;
      }
      const Value &v = st.regs[reg];
      auto argError = [&](const Twine &what) {
        ok = fail(report, i, "helper-arg",
                  formatv("argument {0} of {1}: ", reg, proto->name).str() +
                      what.str(),
                  {regLine(st, reg)});
      };
      switch (k) {
      case ArgKind::ConstMapPtr:
        if (v.kind != TypeKind::MapPtr)
          argError("expected a map");
        else
          map = v.map;
        break;
      case ArgKind::PtrToMapKey:
      case ArgKind::PtrToMapValue: {
        if (!map) {
          argError("no map argument before it");
          break;
        }
        const MapDef &m = Spec.maps[*map];
        if (m.type == uint32_t(bpfobject::MapTypeKind::PerfEventArray)) {
          argError("map '" + m.name + "' is a perf event array");
          break;
        }
        if (m.type == uint32_t(bpfobject::MapTypeKind::RingBuf)) {
          argError("map '" + m.name + "' is a ring buffer");
          break;
        }
        uint64_t n = k == ArgKind::PtrToMapKey ? m.keySize : m.valueSize;
        ok = checkMemArg(st, i, report, reg, n, n, false,
                         k == ArgKind::PtrToMapKey ? "map key" : "map value");
        if (ok && k == ArgKind::PtrToMapKey)
          key = constantKey(st, v, m.keySize);
        break;
      }
      case ArgKind::PtrToCtx:
        if (v.kind != TypeKind::Ctx || v.range != Range::constant(0))
          argError("expected the context pointer (r1 at entry)");
        break;
      case ArgKind::PtrToUninitMem:
      case ArgKind::PtrToMemReadonly: {
        if (a + 1 >= 5) {
          argError("no size argument");
          break;
        }
        const Value &size = st.regs[reg + 1];
        if (!readReg(st, reg + 1, i, report)) {
          ok = false;
          break;
        }
        if (size.kind != TypeKind::Scalar) {
          argError("size in r" + Twine(reg + 1) + " is not a scalar");
          break;
        }
        bool zeroOk = proto->args[a + 1] == ArgKind::ConstSizeOrZero;
        if (!zeroOk && size.range.umin == 0) {
          argError("size in r" + Twine(reg + 1) + " may be zero (" +
                   size.range.str() + ")");
          break;
        }
        ok = checkMemArg(st, i, report, reg, size.range.umin, size.range.umax,
                         k == ArgKind::PtrToUninitMem,
                         k == ArgKind::PtrToUninitMem ? "buffer to fill"
                                                      : "memory to read");
        break;
      }
      case ArgKind::ConstSize:
      case ArgKind::ConstSizeOrZero:
      case ArgKind::Anything:
        if (v.isPointer() && k != ArgKind::Anything)
          argError("expected a scalar");
        break;
      case ArgKind::ConstAllocSizeOrZero:
        if (v.kind != TypeKind::Scalar || !v.range.isConstant() ||
            v.range.umin > INT32_MAX)
          argError("the record size must be a known constant");
        else
          allocSize = uint32_t(v.range.umin);
        break;
      case ArgKind::PtrToRingbufMemRelease:
        if (v.kind == TypeKind::RingbufMemOrNull)
          argError("may be null: check the result of bpf_ringbuf_reserve "
                   "first");
        else if (v.kind != TypeKind::RingbufMem)
          argError("expected a record from bpf_ringbuf_reserve");
        else if (v.range != Range::constant(0))
          argError("expected the pointer bpf_ringbuf_reserve returned, not "
                   "an offset into the record");
        else
          release = v.ref;
        break;
      case ArgKind::DontCare:
        break;
      }
    }
    if (ok && map && needsRingbuf(proto->id) &&
        Spec.maps[*map].type != uint32_t(bpfobject::MapTypeKind::RingBuf))
      ok = fail(report, i, "helper-arg",
                formatv("argument 1 of {0}: map '{1}' is not a ring buffer",
                        proto->name, Spec.maps[*map].name)
                    .str(),
                {regLine(st, 1)});
    if (!ok)
      return out;
    if (release)
      endReservation(st, *release,
                     Value{TypeKind::Released, Range::constant(0), 0, 0, 0,
                           *release, 0});
    for (unsigned reg = 1; reg <= 5; ++reg)
      st.regs[reg] = Value{};
    if (proto->ret == RetKind::PtrToMapValueOrNull && map &&
        keyInRange(proto->id, Spec.maps[*map], key))
      st.regs[0] = {TypeKind::MapValue, Range::constant(0), *map, 0, 0};
    else if (proto->ret == RetKind::PtrToMapValueOrNull && map)
      st.regs[0] = {TypeKind::MapValueOrNull, Range::constant(0), *map, 0,
                    uint32_t(i + 1)};
    else if (proto->ret == RetKind::PtrToRingbufMemOrNull && map &&
             allocSize) {
      // One live reservation per call instruction: a second one while the
      // first is outstanding (a loop) could not be told apart from it.
      uint32_t ref = uint32_t(i + 1);
      if (!st.refs.insert(ref).second)
        return fail(report, i, "reference-leak",
                    "unreleased ring-buffer reservation from insn " +
                        Twine(Prog.insns[i].slot) +
                        " when the same call reserves again"),
               out;
      st.regs[0] = {TypeKind::RingbufMemOrNull, Range::constant(0), *map, 0,
                    0, ref, *allocSize};
    } else if (proto->ret == RetKind::Void)
      st.regs[0] = Value{};
    else
      st.regs[0] = Value::scalar();
    next(st);
    return out;
  }
  if (std::holds_alternative<bpf::Exit>(insn)) {
    // A function may return without writing r0 (clang drops the write
    // when no caller uses the result); the kernel then leaves the caller's
    // r0 unwritten, and so does this (the compiled callee returns 0).
    bool noResult = depth > 0 && st.regs[0].kind == TypeKind::Uninit;
    if (!noResult && !readReg(st, 0, i, report))
      return out;
    if (!noResult && st.regs[0].kind != TypeKind::Scalar &&
        !(depth > 0 && st.regs[0].isPointer() &&
          !(st.regs[0].kind == TypeKind::Stack &&
            st.regs[0].frame == depth)))
      return fail(report, i, "pointer-leak",
                  depth == 0 ? "r0 at exit must be a scalar; a pointer "
                               "would leak to the host"
                             : "a function returns a pointer to its own "
                               "stack",
                  {regLine(st, 0)}),
             out;
    if (depth == 0 && !st.refs.empty()) {
      for (uint32_t ref : st.refs)
        fail(report, i, "reference-leak",
             "unreleased ring-buffer reservation from insn " +
                 Twine(reserveSlot(ref)),
             {"the program exits without bpf_ringbuf_submit or "
              "bpf_ringbuf_discard of that record on some path"});
      return out;
    }
    out.push_back({SIZE_MAX, std::move(st)});
    return out;
  }
  // CallX, LegacyPacketLoad, Poison: the structural verifier refused them
  // where reachable.
  return out;
}

BodyResult SafetyAnalysis::analyzeBody(size_t start, const State &entry,
                                       unsigned depth, bool report) {
  size_t end = bodyEnd(start);
  std::vector<std::optional<State>> in(end - start);
  std::vector<unsigned> visits(end - start, 0);
  std::set<size_t> loopHeads;
  for (size_t i = start; i < end; ++i)
    for (size_t s : successors(i))
      if (s <= i && s >= start)
        loopHeads.insert(s);
  BodyResult result;
  in[0] = entry;
  std::set<size_t> work{start};
  while (!work.empty()) {
    size_t i = *work.begin();
    work.erase(work.begin());
    Succs succs = transfer(i, *in[i - start], depth, false);
    for (auto &[s, st] : succs) {
      if (s == SIZE_MAX) {
        result.exit = result.exit ? join(*result.exit, st, false, Thresholds)
                                  : st;
        continue;
      }
      std::optional<State> &slot = in[s - start];
      if (!slot) {
        slot = std::move(st);
        work.insert(s);
        continue;
      }
      bool widening = loopHeads.count(s) && ++visits[s - start] > WidenAfter;
      State joined = join(*slot, st, widening, Thresholds);
      if (joined == *slot)
        continue;
      slot = std::move(joined);
      work.insert(s);
    }
  }
  if (!report)
    return result;
  std::map<size_t, std::optional<uint64_t>> unrolled =
      tightenLoops(start, in, depth);
  // Report with the fixpoint states; collect callee bounds on the way.
  std::map<size_t, uint64_t> callBounds;
  bool callsBounded = true;
  for (size_t i = start; i < end; ++i) {
    if (!in[i - start])
      continue;
    std::optional<uint64_t> calleeBound;
    transfer(i, *in[i - start], depth, true, &calleeBound);
    const auto *c = std::get_if<bpf::Call>(&Prog.insns[i].insn);
    if (c && c->kind == bpf::CallKind::Local) {
      if (calleeBound)
        callBounds[i] = *calleeBound;
      else
        callsBounded = false;
    }
  }
  if (callsBounded)
    result.bound = boundBody(start, in, callBounds, unrolled, depth);
  return result;
}

std::vector<SafetyAnalysis::NaturalLoop>
SafetyAnalysis::naturalLoops(size_t start,
                             const std::vector<std::optional<State>> &in,
                             unsigned depth) {
  size_t end = bodyEnd(start);
  auto reached = [&](size_t i) { return bool(in[i - start]); };
  std::map<size_t, std::vector<size_t>> latchesOf;
  std::vector<SmallVector<size_t, 2>> preds(end - start);
  for (size_t i = start; i < end; ++i)
    if (reached(i))
      for (size_t s : successors(i)) {
        if (s <= i)
          latchesOf[s].push_back(i);
        if (s < end)
          preds[s - start].push_back(i);
      }
  std::vector<NaturalLoop> loops;
  for (auto &[h, latches] : latchesOf) {
    NaturalLoop loop{h, latches, {h}, {}, {}};
    SmallVector<size_t, 16> work(latches.begin(), latches.end());
    while (!work.empty()) {
      size_t n = work.pop_back_val();
      if (!loop.body.insert(n).second)
        continue;
      append_range(work, preds[n - start]);
    }
    for (size_t n : loop.body)
      if (n != h)
        for (size_t p : preds[n - start])
          if (!loop.body.count(p))
            loop.why = formatv("loop at insn {0} is entered other than "
                               "through its head (insn {1})",
                               Prog.insns[h].slot, Prog.insns[p].slot)
                           .str();
    if (loop.why.empty())
      for (size_t p : preds[h - start])
        if (!loop.body.count(p))
          for (auto &[s, st] : transfer(p, *in[p - start], depth, false))
            if (s == h)
              loop.entry =
                  loop.entry ? join(*loop.entry, st, false, Thresholds) : st;
    loops.push_back(std::move(loop));
  }
  return loops;
}

std::map<size_t, std::optional<uint64_t>>
SafetyAnalysis::tightenLoops(size_t start,
                             std::vector<std::optional<State>> &in,
                             unsigned depth) {
  std::map<size_t, std::optional<uint64_t>> bounds;
  for (NaturalLoop &loop : naturalLoops(start, in, depth)) {
    if (!loop.why.empty() || !loop.entry)
      continue;
    // Only where the widened states fail a check (a failed check leaves
    // an instruction without successors): unrolling costs up to the
    // budget, and unbounded loops would pay it twice.
    if (llvm::none_of(loop.body, [&](size_t n) {
          return in[n - start] &&
                 transfer(n, *in[n - start], depth, false).empty();
        }))
      continue;
    std::map<size_t, State> hull;
    std::optional<uint64_t> k =
        unrollBound(loop.head, loop.body, *loop.entry, depth, &hull);
    bounds[loop.head] = k;
    if (!k)
      continue;
    // Every run of the loop is one of the unrolled iterations; a body
    // instruction none of them reached cannot run.
    for (size_t n : loop.body) {
      auto it = hull.find(n);
      if (it == hull.end())
        in[n - start].reset();
      else
        in[n - start] = std::move(it->second);
    }
  }
  return bounds;
}

std::optional<uint64_t>
SafetyAnalysis::boundBody(
    size_t start, const std::vector<std::optional<State>> &in,
    const std::map<size_t, uint64_t> &calls,
    const std::map<size_t, std::optional<uint64_t>> &unrolled,
    unsigned depth) {
  size_t end = bodyEnd(start);
  auto reached = [&](size_t i) { return bool(in[i - start]); };
  auto cost = [&](size_t i) -> uint64_t {
    auto it = calls.find(i);
    return 1 + (it == calls.end() ? 0 : it->second);
  };
  // Back edges of reachable code, grouped by loop header.
  std::map<size_t, std::vector<size_t>> latchesOf;
  for (size_t i = start; i < end; ++i)
    if (reached(i))
      for (size_t s : successors(i))
        if (s <= i)
          latchesOf[s].push_back(i);
  if (latchesOf.empty()) {
    std::vector<uint64_t> longest(end - start, 0);
    for (size_t i = end; i-- > start;) {
      if (!reached(i))
        continue;
      uint64_t next = 0;
      for (size_t s : successors(i))
        if (s < end)
          next = std::max(next, longest[s - start]);
      longest[i - start] = cost(i) + next;
    }
    return longest[0];
  }
  std::vector<long double> mult(end - start, 1);
  bool ok = true;
  for (NaturalLoop &loop : naturalLoops(start, in, depth)) {
    size_t h = loop.head;
    const std::vector<size_t> &latches = loop.latches;
    const std::set<size_t> &body = loop.body;
    std::string why = loop.why;
    std::optional<uint64_t> iters;
    if (why.empty()) {
      const std::optional<State> &entry = loop.entry;
      if (!entry)
        why = "loop has no entry";
      else {
        // Find a counter: compared at an exit with a constant, stepped by
        // one constant add on every iteration, written nowhere else.
        for (size_t j : body) {
          const auto *jmp = std::get_if<bpf::Jump>(&Prog.insns[j].insn);
          if (!jmp || jmp->op == bpf::JumpOpKind::Ja)
            continue;
          size_t t = indexOf(jmp->target);
          bool tIn = body.count(t), fIn = body.count(j + 1);
          if (tIn == fIn)
            continue;
          std::optional<int64_t> limit;
          if (jmp->useImm)
            limit = jmp->imm;
          else if (in[j - start]->regs[jmp->src].kind == TypeKind::Scalar &&
                   in[j - start]->regs[jmp->src].range.isConstant() &&
                   in[j - start]->regs[jmp->src].range.smin >= INT32_MIN &&
                   in[j - start]->regs[jmp->src].range.smax <= INT32_MAX)
            limit = in[j - start]->regs[jmp->src].range.smin;
          if (!limit)
            continue;
          bpf::Reg r = jmp->dst;
          std::optional<size_t> step;
          bool other = false;
          for (size_t n : body) {
            const bpf::Insn &insn = Prog.insns[n].insn;
            const auto *a = std::get_if<bpf::Alu>(&insn);
            bool writes = false;
            if (a)
              writes = a->dst == r;
            else if (const auto *l = std::get_if<bpf::Load>(&insn))
              writes = l->dst == r;
            else if (const auto *l = std::get_if<bpf::LoadImm64>(&insn))
              writes = l->dst == r;
            else if (const auto *e = std::get_if<bpf::Endian>(&insn))
              writes = e->dst == r;
            else if (const auto *at = std::get_if<bpf::Atomic>(&insn))
              writes = (at->fetch && at->src == r) ||
                       (at->op == bpf::AtomicOpKind::CmpXchg && r == 0);
            else if (std::holds_alternative<bpf::Call>(insn))
              writes = r <= 5;
            if (!writes)
              continue;
            if (a && a->op == bpf::AluOpKind::Add && a->useImm &&
                a->imm != 0 && a->is64 == !jmp->is32 && !step)
              step = n;
            else
              other = true;
          }
          if (!step || other)
            continue;
          // Both the step and the test lie on every iteration: removing
          // either disconnects the header from all latches.
          auto onEveryCycle = [&](size_t x) {
            if (x == h)
              return true;
            std::set<size_t> seen{h};
            SmallVector<size_t, 16> w{h};
            while (!w.empty()) {
              size_t n = w.pop_back_val();
              for (size_t s : successors(n))
                if (s != x && body.count(s) && s != h &&
                    seen.insert(s).second)
                  w.push_back(s);
              if (is_contained(latches, n) && n != x)
                return false;
            }
            return true;
          };
          if (!onEveryCycle(*step) || !onEveryCycle(j))
            continue;
          int64_t c = std::get<bpf::Alu>(Prog.insns[*step].insn).imm;
          // The condition that keeps the loop going.
          bpf::JumpOpKind op = jmp->op;
          if (!tIn) {
            using K = bpf::JumpOpKind;
            static const std::map<K, K> Neg{
                {K::Jeq, K::Jne}, {K::Jne, K::Jeq}, {K::Jlt, K::Jge},
                {K::Jge, K::Jlt}, {K::Jle, K::Jgt}, {K::Jgt, K::Jle},
                {K::Jslt, K::Jsge}, {K::Jsge, K::Jslt}, {K::Jsle, K::Jsgt},
                {K::Jsgt, K::Jsle}, {K::Jset, K::Jset}};
            if (op == K::Jset)
              continue;
            op = Neg.at(op);
          }
          Range init = entry->regs[r].range;
          if (entry->regs[r].kind != TypeKind::Scalar)
            continue;
          if (jmp->is32 && (init.umax > INT32_MAX))
            continue;
          using K = bpf::JumpOpKind;
          bool isSigned = op == K::Jslt || op == K::Jsle || op == K::Jsgt ||
                          op == K::Jsge;
          __int128 lim = *limit, distance = -1;
          __int128 lo = isSigned ? __int128(init.smin) : __int128(init.umin);
          __int128 hi = isSigned ? __int128(init.smax) : __int128(init.umax);
          if (!isSigned && lim < 0)
            continue; // unsigned compare with a huge constant
          if (c > 0 && (op == K::Jlt || op == K::Jslt))
            distance = lim - lo;
          else if (c > 0 && (op == K::Jle || op == K::Jsle))
            distance = lim + 1 - lo;
          else if (c == 1 && op == K::Jne && hi < lim)
            distance = lim - lo;
          else if (c < 0 && (op == K::Jsgt || (op == K::Jgt && c == -1)))
            distance = hi - lim;
          else if (c < 0 && (op == K::Jsge || (op == K::Jge && c == -1 && lim > 0)))
            distance = hi - lim + 1;
          else if (c == -1 && op == K::Jne && lo > lim)
            distance = hi - lim;
          if (distance < 0 && distance != -1)
            distance = 0;
          if (distance == -1)
            continue;
          __int128 step128 = c > 0 ? c : -__int128(c);
          __int128 n = (distance + step128 - 1) / step128 + 1;
          iters = n > __int128(UINT64_MAX) ? UINT64_MAX : uint64_t(n);
          break;
        }
        if (!iters) {
          auto known = unrolled.find(h);
          iters = known != unrolled.end()
                      ? known->second
                      : unrollBound(h, body, *entry, depth);
        }
        if (!iters)
          why = formatv("cannot bound the loop at insn {0}: no counter "
                        "stepped by a constant towards a constant in an "
                        "exit test",
                        Prog.insns[h].slot)
                    .str();
      }
    }
    if (!iters) {
      size_t latch = latches.front();
      fail(true, latch, "unbounded-loop", why,
           {"loop head: insn " + std::to_string(Prog.insns[h].slot)});
      ok = false;
      continue;
    }
    for (size_t n : body)
      mult[n - start] *= (long double)*iters;
  }
  if (!ok)
    return std::nullopt;
  long double total = 0;
  for (size_t i = start; i < end; ++i)
    if (reached(i))
      total += mult[i - start] * (long double)cost(i);
  return total >= (long double)UINT64_MAX ? UINT64_MAX : uint64_t(total);
}

/// The fallback for loops whose exit test is not on the counter itself, as
/// clang emits for `for (int i = 3000; i; i--)` without alu32 (the test is
/// on a zero-extended copy) or `i < f()` (a bound recomputed each time).
/// Iteration k's state at the head is the join over every path of the
/// previous iteration; once no path returns to the head, k bounds the
/// iterations (sound: each state over-approximates its iteration's). This
/// is the kernel's approach, limited to one loop level and to
/// UnrollBudget transfers.
std::optional<uint64_t>
SafetyAnalysis::unrollBound(size_t h, const std::set<size_t> &body,
                            const State &entry, unsigned depth,
                            std::map<size_t, State> *hull) {
  constexpr uint64_t UnrollBudget = 400000;
  uint64_t limit = UnrollBudget / body.size();
  State cur = entry;
  for (uint64_t k = 1; k <= limit; ++k) {
    std::map<size_t, State> pending{{h, cur}};
    std::optional<State> back;
    for (auto it = pending.begin(); it != pending.end();
         it = pending.erase(it)) {
      size_t n = it->first;
      if (hull) {
        auto [at, fresh] = hull->try_emplace(n, it->second);
        if (!fresh)
          at->second = join(at->second, it->second, false, Thresholds);
      }
      for (auto &[s, st] : transfer(n, std::move(it->second), depth, false)) {
        if (s == h) {
          back = back ? join(*back, st, false, Thresholds) : std::move(st);
          continue;
        }
        if (s == SIZE_MAX || !body.count(s))
          continue; // leaves the loop
        if (s <= n)
          return std::nullopt; // an inner loop
        auto [slot, fresh] = pending.try_emplace(s, std::move(st));
        if (!fresh)
          slot->second = join(slot->second, st, false, Thresholds);
      }
    }
    if (!back)
      return k;
    // The same state at the head again: every later iteration repeats
    // this one, so the loop never ends (the kernel's "infinite loop
    // detected"). Found here at once instead of after the whole budget.
    if (*back == cur)
      return std::nullopt;
    cur = std::move(*back);
  }
  return std::nullopt;
}

void SafetyAnalysis::run() {
  const bpf::SlotInsn &last = Prog.insns.back();
  SlotToIndex.assign(last.slot + bpf::slotCount(last.insn), 0);
  for (size_t i = 0; i < Prog.insns.size(); ++i)
    SlotToIndex[Prog.insns[i].slot] = i;
  BodyStarts.insert(0);
  for (const bpf::SlotInsn &si : Prog.insns) {
    if (const auto *c = std::get_if<bpf::Call>(&si.insn);
        c && c->kind == bpf::CallKind::Local)
      BodyStarts.insert(indexOf(c->target));
    if (const auto *j = std::get_if<bpf::Jump>(&si.insn); j && j->useImm)
      for (int64_t d : {-1, 0, 1})
        Thresholds.insert(int64_t(j->imm) + d);
  }
  for (int64_t t : {int64_t(0), int64_t(bpf::StackSize), CtxSize})
    Thresholds.insert(t);
  State entry;
  entry.regs[1] = {TypeKind::Ctx, Range::constant(0), 0, 0, 0};
  entry.regs[10] = {TypeKind::Stack, Range::constant(0), 0, 0, 0};
  size_t before = Diags.size();
  BodyResult r = analyzeBody(0, entry, 0, true);
  bool refused = std::any_of(Diags.begin() + before, Diags.end(),
                             [](const Diagnostic &d) {
                               return d.severity == SeverityKind::Error;
                             });
  if (refused || !Class.instructions)
    return;
  if (!r.bound)
    return;
  if (*r.bound > *Class.instructions) {
    Diagnostic d;
    d.ruleId = "instruction-bound";
    d.object = Spec.objectName;
    d.program = Prog.name;
    d.message = formatv("at most {0} instructions execute per invocation; "
                        "the policy allows {1}",
                        *r.bound, *Class.instructions)
                    .str();
    d.policyLocation = Class.instructionsLoc;
    d.context.push_back("class '" + Class.name + "' sets 'instructions' at " +
                        Class.instructionsLoc.str());
    Diags.push_back(std::move(d));
  }
}

} // namespace

std::vector<int32_t> verifySafety(const bpfobject::ExtensionSpec &spec,
                                  const bpfobject::Program &prog,
                                  const policy::PolicyClass &cls,
                                  std::vector<Diagnostic> &diags) {
  SafetyAnalysis analysis(spec, prog, cls, diags);
  analysis.run();
  return {analysis.UninitSlots.begin(), analysis.UninitSlots.end()};
}

} // namespace eimc::verifier
