//===- verifier/Capabilities.cpp - Host capabilities of a program ---------===//
//
// Part of eimc. See docs/capabilities.md.
//
//===----------------------------------------------------------------------===//
//
// Entry point: verifyCapabilities(), called by verify() for every program
// that passed the structural checks. It decides, before any code exists,
// that a program touches exactly the host state and calls exactly the host
// functions its policy class grants, so the compiler can emit plain loads,
// stores and direct calls with no check at run time (EIM, OSDI'25).
//
// How: a forward abstract interpretation over the program's control-flow
// graph, one state per instruction, joined at merges until nothing
// changes. A register holds one of
//  - a scalar, with its value when it is a known constant (for "argument 2
//    must equal 403");
//  - the typed entry's argument array (r1 at entry; offsets in bytes);
//  - a pointer into host memory of a C type the manifest names
//    ("http_request_t"), at an offset, possibly null (a host function's
//    result that the manifest does not promise non-null) until a branch
//    compares it with 0;
//  - a pointer to a host global the class was granted, at an offset;
//  - a pointer into the program's stack (relative to r10);
//  - a map (for a helper's map, key and value arguments);
//  - unknown (uninitialised, a map value, or a pointer that arithmetic
//    made imprecise).
// Eight-byte stack slots remember spilled values, so a pointer survives a
// spill and a reload; anything that may write the stack behind the
// analysis's back (a helper, a subprogram, a store through an unknown
// pointer) forgets them, or a reload could forge a constant or a host
// pointer. A typed entry also tracks which stack bytes are initialised,
// for helpers that read the stack and for its own loads of stack bytes
// nothing wrote: those slots are returned for the compiler to zero on
// entry (Program::zeroStackSlots), as the safety verifier does for the
// programs it proves. Pointer offsets stay within +-2^29 (further is
// "unknown"), so bound checks on them cannot overflow.
//
// Rules. For a typed entry (`fentry/FUNC`), every memory access must be
// provably one of: an argument slot (read-only), a stack access inside the
// 512-byte frame, or host state granted by the class that the manifest
// offers as a field of the pointer's type, entirely inside the field
// (bounds) and in the granted mode (read/write). Everything else is
// refused: this pass is the typed entry's memory-safety proof, in both
// structural and safety mode. For every program, a call to an extern
// function must name a host function the manifest offers and the class
// grants, with arguments of the prototype's kinds (a pointer parameter
// takes a host pointer of that type, never a stack or argument pointer)
// and within every constraint of the manifest and of the policy; and
// bpf_override_return (helper 58) must return a constant the class's
// `return_override` lists, from a typed entry. In a typed entry, whose
// helper calls no other pass checks, a helper's memory arguments
// (include/eimc/Core/Helpers.def) must be the stack at a constant offset
// and size inside the frame, initialised where the helper reads it; a
// helper whose arguments this cannot prove (ring-buffer records) is
// refused there.
//
// Host globals (EIM_STATE_DEFINE, named by an extension as libbpf's typed
// `extern T name __ksym;`) are pointers to one state each: every access
// lies inside the global's size, in the granted mode, and only a typed
// entry may reference one.
//
// What it does not do: map values
// and helper-returned pointers cannot be dereferenced in a typed entry;
// subprograms receive unknown arguments (host pointers do not cross a
// bpf-to-bpf call); types are compared by the manifest's spelling.
//
//===----------------------------------------------------------------------===//

#include "Capabilities.h"
#include "VerifierInternal.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <map>
#include <optional>
#include <set>

using namespace llvm;

namespace eimc::verifier {

bool isTypedEntry(const bpfobject::Program &prog) {
  return StringRef(prog.section).starts_with("fentry/");
}

namespace {

using extract::CapabilityManifest;
using extract::StateCapability;

enum class ValueKind : uint8_t {
  Unknown,
  Scalar,
  Args,
  HostPtr,
  Global,
  Stack,
  Map
};

/// The largest pointer offset eimc follows, as the kernel's verifier
/// (BPF_MAX_VAR_OFF): arithmetic that leaves it yields an unknown value.
constexpr int64_t MaxPointerOffset = int64_t(1) << 29;

/// An abstract register or stack-slot value.
struct Value {
  ValueKind kind = ValueKind::Unknown;
  std::optional<int64_t> constant; ///< Scalar: its value, if known
  int64_t offset = 0;              ///< Args, HostPtr, Stack, Map: byte offset
  std::string type;                ///< HostPtr: pointee type ("http_request_t")
  std::string global;              ///< Global: the host symbol
  bool maybeNull = false;          ///< HostPtr: not yet compared with 0
  /// HostPtr: 1 + the index of the instruction that produced it, shared by
  /// its copies; 0: none (a join of two pointers), never null-tested.
  uint32_t id = 0;
  std::string origin; ///< HostPtr: function that returned it
  uint32_t map = 0;   ///< Map: index in the object's maps
  bool operator==(const Value &) const = default;

  static Value scalar(std::optional<int64_t> c = std::nullopt) {
    Value v;
    v.kind = ValueKind::Scalar;
    v.constant = c;
    return v;
  }
  static Value pointer(ValueKind kind, int64_t offset) {
    Value v;
    v.kind = kind;
    v.offset = offset;
    return v;
  }
  bool isPointer() const {
    return kind == ValueKind::Args || kind == ValueKind::HostPtr ||
           kind == ValueKind::Global || kind == ValueKind::Stack ||
           kind == ValueKind::Map;
  }
};

struct State {
  std::array<Value, 11> regs;
  std::map<int64_t, Value> spills; ///< 8-byte stack slots, by r10 offset
  /// Typed entries: stack bytes written on every path, byte r10 + k at
  /// StackSize + k (helpers that read the stack must not leak old bytes).
  std::bitset<bpf::StackSize> init;
  bool operator==(const State &) const = default;
};

Value join(const Value &a, const Value &b) {
  if (a == b)
    return a;
  if (a.kind != b.kind)
    return Value();
  switch (a.kind) {
  case ValueKind::Scalar:
    return Value::scalar();
  case ValueKind::HostPtr: {
    if (a.type != b.type || a.offset != b.offset)
      return Value();
    Value v = a;
    v.maybeNull = a.maybeNull || b.maybeNull;
    v.id = a.id == b.id ? a.id : 0;
    if (v.origin.empty())
      v.origin = b.origin;
    return v;
  }
  default:
    return Value(); // different offsets
  }
}

State join(const State &a, const State &b) {
  State out;
  for (size_t r = 0; r < a.regs.size(); ++r)
    out.regs[r] = join(a.regs[r], b.regs[r]);
  for (const auto &[off, v] : a.spills) {
    auto other = b.spills.find(off);
    if (other != b.spills.end())
      out.spills[off] = join(v, other->second);
  }
  out.init = a.init & b.init;
  return out;
}

/// "http_request_t" for "const http_request_t *"; nullopt for a non-pointer.
std::optional<std::string> pointee(StringRef type) {
  type = type.trim();
  if (!type.consume_back("*"))
    return std::nullopt;
  type = type.trim();
  while (type.consume_front("const ") || type.consume_front("volatile "))
    type = type.trim();
  return type.str();
}

std::string describe(const Value &v) {
  switch (v.kind) {
  case ValueKind::Unknown:
    return "no value eimc can describe (uninitialised, a map value or "
           "the result of pointer arithmetic)";
  case ValueKind::Scalar:
    return v.constant ? "the scalar " + std::to_string(*v.constant)
                      : "a scalar";
  case ValueKind::Args:
    return "a pointer to the entry's arguments";
  case ValueKind::HostPtr:
    return (v.maybeNull ? "a possibly-null pointer to '" : "a pointer to '") +
           v.type + "'";
  case ValueKind::Global:
    return "a pointer to host global '" + v.global + "'";
  case ValueKind::Stack:
    return "a pointer to the program's stack";
  case ValueKind::Map:
    return v.offset ? "a map pointer with an offset" : "a map";
  }
  llvm_unreachable("value kinds are exhaustive");
}

/// The kernel's argument kinds the helper table uses; a kind added there
/// fails to compile here until a typed entry knows how to check it.
enum class ArgKind : uint8_t {
  DontCare,
  ConstMapPtr,
  PtrToMapKey,
  PtrToMapValue,
  Anything,
  PtrToUninitMem,
  ConstSize,
  ConstSizeOrZero,
  PtrToMemReadonly,
  PtrToCtx,
  ConstAllocSizeOrZero,
  PtrToRingbufMemRelease
};

struct HelperProto {
  uint32_t id;
  StringRef name;
  StringRef ret;
  ArgKind args[5];
};
constexpr HelperProto Helpers[] = {
#define EIM_HELPER(ID, NAME, SYM, RET, A1, A2, A3, A4, A5)                     \
  {ID,                                                                         \
   #NAME,                                                                      \
   #RET,                                                                       \
   {ArgKind::A1, ArgKind::A2, ArgKind::A3, ArgKind::A4, ArgKind::A5}},
#include "eimc/Core/Helpers.def"
};

/// Forgets host pointer \p id in \p st: instruction id - 1 is about to
/// produce a new one (a loop), and a null test of the new one must not
/// vouch for the old.
void retireId(State &st, uint32_t id) {
  for (Value &r : st.regs)
    if (r.kind == ValueKind::HostPtr && r.id == id)
      r.id = 0;
  for (auto &[off, x] : st.spills)
    if (x.kind == ValueKind::HostPtr && x.id == id)
      x.id = 0;
}

class CapabilityChecker {
public:
  CapabilityChecker(const bpfobject::ExtensionSpec &spec,
                    const bpfobject::Program &prog,
                    const policy::PolicyClass &cls,
                    const CapabilityManifest *manifest,
                    std::vector<Diagnostic> &diags)
      : Spec(spec), Prog(prog), Class(cls), Manifest(manifest), Diags(diags),
        Typed(isTypedEntry(prog)) {}

  void run();
  /// Typed entries: the 8-byte stack slots (r10 offsets) some path reads
  /// before writing, for Program::zeroStackSlots.
  std::vector<int32_t> uninitSlots() const {
    return {UninitSlots.begin(), UninitSlots.end()};
  }

private:
  void error(size_t index, StringRef rule, const Twine &msg,
             std::optional<policy::SourceLoc> policyLoc = std::nullopt,
             std::vector<std::string> context = {});
  void emit(size_t index, SeverityKind severity, StringRef rule,
            const Twine &msg, std::optional<policy::SourceLoc> policyLoc,
            std::vector<std::string> context);
  void noteStackRead(size_t i, const State &st, int64_t lo, unsigned width);
  bool findEntry();
  void analyzeBody(size_t start, State entry);
  void step(size_t i, State st, SmallVectorImpl<std::pair<size_t, State>> &out);
  std::optional<Value> access(size_t i, bpf::Reg base, int16_t off,
                              unsigned width, bool write, const State &st);
  std::optional<Value> accessHost(size_t i, const Value &ptr, int64_t lo,
                                  unsigned width, bool write);
  std::optional<Value> accessGlobal(size_t i, const Value &ptr, int64_t lo,
                                    unsigned width, bool write);
  std::optional<Value> grantedAccess(size_t i, const StateCapability &cap,
                                     StringRef what, int64_t lo, unsigned width,
                                     bool write);
  std::optional<Value> hostGlobal(size_t i, StringRef symbol);
  const StateCapability *globalState(StringRef symbol) const;
  void storeToStack(State &st, int64_t lo, unsigned width,
                    std::optional<Value> value);
  void alu(const bpf::Alu &a, State &st);
  void call(size_t i, const bpf::Call &c, State &st);
  void helperCall(size_t i, const HelperProto &h, State &st);
  bool checkStackArg(size_t i, const HelperProto &h, unsigned arg,
                     StringRef what, int64_t size, bool reads, const State &st);
  void hostCall(size_t i, StringRef name, State &st);
  void checkArgument(size_t i, StringRef fn, unsigned arg, StringRef param,
                     const Value &v);
  void overrideReturn(size_t i, State &st);
  std::optional<size_t> indexOfSlot(uint32_t slot) const;

  const bpfobject::ExtensionSpec &Spec;
  const bpfobject::Program &Prog;
  const policy::PolicyClass &Class;
  const CapabilityManifest *Manifest;
  std::vector<Diagnostic> &Diags;
  bool Typed;
  const extract::ExtensionEntry *Entry = nullptr;
  std::set<size_t> Reported; ///< one diagnostic per instruction
  std::set<size_t> Warned;   ///< one uninit-stack warning per instruction
  std::set<int32_t> UninitSlots;
};

void CapabilityChecker::error(size_t index, StringRef rule, const Twine &msg,
                              std::optional<policy::SourceLoc> policyLoc,
                              std::vector<std::string> context) {
  if (Reported.insert(index).second)
    emit(index, SeverityKind::Error, rule, msg, std::move(policyLoc),
         std::move(context));
}

void CapabilityChecker::emit(size_t index, SeverityKind severity,
                             StringRef rule, const Twine &msg,
                             std::optional<policy::SourceLoc> policyLoc,
                             std::vector<std::string> context) {
  Diagnostic d =
      diagnosticAt(Spec, Prog, index, rule, msg, std::move(context));
  d.severity = severity;
  d.policyLocation = std::move(policyLoc);
  Diags.push_back(std::move(d));
}

/// A typed entry may read stack bytes nothing wrote on some path, as the
/// kernel lets root (allow_uninit_stack); they would hold the host's old
/// stack, and the read is undefined behaviour in LLVM. As for the safety
/// verifier's programs (Safety.cpp), the compiler zeroes the slots on
/// entry and the read yields 0; reported as a warning. States only lose
/// initialised bytes as the analysis joins, so a byte uninitialised in any
/// visited state is one in the final state too.
void CapabilityChecker::noteStackRead(size_t i, const State &st, int64_t lo,
                                      unsigned width) {
  if (!Typed)
    return; // the safety verifier's business
  std::optional<int64_t> first;
  for (int64_t b = lo; b < lo + int64_t(width); ++b)
    if (!st.init.test(size_t(b + bpf::StackSize))) {
      UninitSlots.insert(int32_t(b >= 0 ? b / 8 * 8 : (b - 7) / 8 * 8));
      if (!first)
        first = b;
    }
  if (!first || !Warned.insert(i).second)
    return;
  emit(i, SeverityKind::Warning, "uninit-stack",
       formatv("stack byte at r10{0} is read before it is written on some "
               "path; it reads 0 (the stack is zeroed on entry)",
               *first),
       std::nullopt, {});
}

std::optional<size_t> CapabilityChecker::indexOfSlot(uint32_t slot) const {
  auto it = llvm::lower_bound(
      Prog.insns, slot,
      [](const bpf::SlotInsn &si, uint32_t s) { return si.slot < s; });
  if (it == Prog.insns.end() || it->slot != slot)
    return std::nullopt;
  return size_t(it - Prog.insns.begin());
}

/// A typed entry's argument types come from the manifest's prototype of the
/// hooked function; without one there is nothing to type them by.
bool CapabilityChecker::findEntry() {
  if (!Typed)
    return true;
  StringRef function =
      Prog.attachSymbol.empty() ? StringRef(Class.entry) : Prog.attachSymbol;
  if (Manifest)
    for (const extract::ExtensionEntry &e : Manifest->entries)
      if (e.function == function)
        Entry = &e;
  std::string why;
  if (!Entry)
    why = "the manifest offers no extension entry for '" + function.str() +
          "', so its arguments have no types";
  else if (Entry->prototype.params.size() > 6)
    why = "'" + function.str() + "' takes " +
          std::to_string(Entry->prototype.params.size()) +
          " arguments; a typed entry receives at most 6";
  if (why.empty())
    return true;
  error(0, "typed-entry",
        "typed entry (section '" + Prog.section + "'): " + why);
  return false;
}

std::optional<Value> CapabilityChecker::accessHost(size_t i, const Value &ptr,
                                                   int64_t lo, unsigned width,
                                                   bool write) {
  StringRef verb = write ? "write" : "read";
  if (ptr.maybeNull) {
    error(i, "null-check",
          verb + " through a pointer that '" + ptr.origin +
              "' may return as null; compare it with 0 first",
          std::nullopt,
          {"the manifest does not declare '" + ptr.origin + "' ret_nonnull"});
    return std::nullopt;
  }
  const StateCapability *state = nullptr;
  std::vector<std::string> offered;
  if (Manifest)
    for (const StateCapability &s : Manifest->states) {
      if (s.symbol.size() || s.baseType != ptr.type)
        continue;
      offered.push_back(formatv("'{0}' offers '{1}' ({2}) at [{3}, {4})",
                                ptr.type, s.name, s.field, s.offset,
                                s.offset + s.size));
      // lo - offset cannot overflow: pointer offsets stay within
      // +-MaxPointerOffset (alu()).
      if (int64_t(s.offset) <= lo &&
          lo - int64_t(s.offset) <= int64_t(s.size) - int64_t(width))
        state = &s;
    }
  if (!state) {
    if (offered.empty())
      offered.push_back("the manifest offers no field of '" + ptr.type + "'");
    error(i, "state-bounds",
          formatv("{0} of {1} bytes at offset {2} of '{3}' is outside every "
                  "state the host offers",
                  verb, width, lo, ptr.type),
          std::nullopt, std::move(offered));
    return std::nullopt;
  }
  return grantedAccess(i, *state, ptr.type + "." + state->field,
                       lo - int64_t(state->offset), width, write);
}

/// The part of a state access that fields and globals share: the class
/// must grant \p state (\p what names it: "http_request_t.uri",
/// "requests_denied"), a write needs `access: write`, and an 8-byte read
/// of a pointer-typed state (at \p lo == 0 inside it) yields a may-be-null
/// host pointer.
std::optional<Value>
CapabilityChecker::grantedAccess(size_t i, const StateCapability &cap,
                                 StringRef what, int64_t lo, unsigned width,
                                 bool write) {
  const StateCapability *state = &cap;
  StringRef verb = write ? "write" : "read";
  const policy::StateGrant *grant = nullptr;
  for (const policy::StateGrant &g : Class.state)
    if (g.name == state->name)
      grant = &g;
  if (!grant) {
    error(
        i, "state-not-granted",
        verb + " of state '" + state->name + "' (" + what +
            ") is not allowed by policy",
        Class.stateLoc,
        {"class '" + Class.name + "' grants state at " + Class.stateLoc.str()});
    return std::nullopt;
  }
  if (write && (!grant->write || state->access != extract::AccessKind::Write)) {
    error(i, "state-read-only",
          "write to state '" + state->name + "', which class '" + Class.name +
              "' may only read",
          grant->loc);
    return std::nullopt;
  }
  std::optional<std::string> target = pointee(state->type);
  if (!write && target && width == 8 && lo == 0) {
    Value v = Value::pointer(ValueKind::HostPtr, 0);
    v.type = *target;
    v.maybeNull = true;
    v.id = uint32_t(i + 1);
    v.origin = what.str();
    return v;
  }
  return Value::scalar();
}

/// The state the manifest offers for host global \p symbol, or null.
const StateCapability *CapabilityChecker::globalState(StringRef symbol) const {
  if (Manifest)
    for (const StateCapability &s : Manifest->states)
      if (s.symbol == symbol)
        return &s;
  return nullptr;
}

/// A host global is one state capability (symbol set): the access must lie
/// inside its size, in the granted mode.
std::optional<Value> CapabilityChecker::accessGlobal(size_t i, const Value &ptr,
                                                     int64_t lo, unsigned width,
                                                     bool write) {
  const StateCapability *state = globalState(ptr.global);
  assert(state && "hostGlobal() made a Global only for an offered state");
  if (lo < 0 || lo > int64_t(state->size) - int64_t(width)) {
    error(i, "state-bounds",
          formatv("{0} of {1} bytes at offset {2} of host global '{3}' is "
                  "outside it",
                  write ? "write" : "read", width, lo, ptr.global),
          std::nullopt,
          {formatv("state '{0}' is '{1}' ({2}), {3} bytes", state->name,
                   state->symbol, state->type, state->size)
               .str()});
    return std::nullopt;
  }
  return grantedAccess(i, *state, ptr.global, lo, width, write);
}

/// `lddw rN, <extern var>`: a pointer to the host global the manifest
/// offers as state, which only a typed entry may access (a pt_regs
/// program's memory is not proved by this pass). \returns nullopt after a
/// refusal: the path ends there, as every use would repeat it.
std::optional<Value> CapabilityChecker::hostGlobal(size_t i, StringRef symbol) {
  const StateCapability *state = globalState(symbol);
  if (!state) {
    error(i, "state-unknown",
          "reference to extern variable '" + symbol +
              "', which the host does not offer as state");
    return std::nullopt;
  }
  if (!Typed) {
    error(i, "untyped-access",
          "reference to host global '" + symbol + "' (state '" + state->name +
              "') outside a typed entry",
          std::nullopt,
          {"only a typed entry (section 'fentry/FUNC') may access host "
           "state"});
    return std::nullopt;
  }
  if (none_of(Class.state, [&](const policy::StateGrant &g) {
        return g.name == state->name;
      })) {
    error(
        i, "state-not-granted",
        "reference to state '" + state->name + "' (host global '" + symbol +
            "') is not allowed by policy",
        Class.stateLoc,
        {"class '" + Class.name + "' grants state at " + Class.stateLoc.str()});
    return std::nullopt;
  }
  Value v = Value::pointer(ValueKind::Global, 0);
  v.global = symbol.str();
  return v;
}

/// Checks one memory access of \p width bytes at \p base + \p off.
/// \returns what a load would produce, or nullopt after a refusal.
std::optional<Value> CapabilityChecker::access(size_t i, bpf::Reg base,
                                               int16_t off, unsigned width,
                                               bool write, const State &st) {
  const Value &ptr = st.regs[base];
  int64_t lo = ptr.offset + off;
  switch (ptr.kind) {
  case ValueKind::Stack: {
    if (lo < -int64_t(bpf::StackSize) || lo > -int64_t(width)) {
      error(i, "stack-bounds",
            formatv("stack access of {0} bytes at r10{1}{2} is outside the "
                    "{3}-byte frame",
                    width, lo < 0 ? "" : "+", lo, bpf::StackSize));
      return std::nullopt;
    }
    if (!write)
      noteStackRead(i, st, lo, width);
    auto spill = st.spills.find(lo);
    if (!write && width == 8 && spill != st.spills.end())
      return spill->second;
    return Value::scalar();
  }
  case ValueKind::Args: {
    size_t count = Entry ? Entry->prototype.params.size() : 0;
    if (write) {
      error(i, "args-read-only", "the entry's arguments are read-only");
      return std::nullopt;
    }
    if (lo < 0 || lo % 8 || width != 8 || size_t(lo / 8) >= count) {
      error(i, "args-bounds",
            formatv("read of {0} bytes at offset {1} of the arguments: "
                    "'{2}' has {3} argument(s), one 8-byte slot each",
                    width, lo, Entry ? Entry->function : "", count));
      return std::nullopt;
    }
    StringRef param = Entry->prototype.params[lo / 8];
    std::optional<std::string> target = pointee(param);
    if (!target)
      return Value::scalar();
    // The host calls its entry with valid arguments: the manifest's
    // prototype is the contract (docs/capabilities.md).
    Value v = Value::pointer(ValueKind::HostPtr, 0);
    v.type = *target;
    v.id = uint32_t(i + 1);
    return v;
  }
  case ValueKind::HostPtr:
    return accessHost(i, ptr, lo, width, write);
  case ValueKind::Global:
    return accessGlobal(i, ptr, lo, width, write);
  case ValueKind::Scalar:
  case ValueKind::Unknown:
  case ValueKind::Map:
    break;
  }
  if (!Typed)
    return Value::scalar(); // pt_regs programs: structural/safety mode's job
  error(i, "untyped-access",
        "memory access through r" + Twine(unsigned(base)) + ", which holds " +
            describe(ptr),
        std::nullopt,
        {"a typed entry may access its arguments, granted host state and "
         "its stack"});
  return std::nullopt;
}

void CapabilityChecker::storeToStack(State &st, int64_t lo, unsigned width,
                                     std::optional<Value> value) {
  for (auto it = st.spills.begin(); it != st.spills.end();) {
    bool overlaps = it->first < lo + int64_t(width) && lo < it->first + 8;
    it = overlaps ? st.spills.erase(it) : std::next(it);
  }
  if (width == 8 && value)
    st.spills[lo] = *value;
  for (int64_t b = std::max<int64_t>(lo, -int64_t(bpf::StackSize));
       b < std::min<int64_t>(lo + width, 0); ++b)
    st.init.set(size_t(b + bpf::StackSize));
}

std::optional<int64_t> fold(bpf::AluOpKind op, int64_t a, int64_t b) {
  using bpf::AluOpKind;
  switch (op) {
  case AluOpKind::Add:
    return int64_t(uint64_t(a) + uint64_t(b));
  case AluOpKind::Sub:
    return int64_t(uint64_t(a) - uint64_t(b));
  case AluOpKind::Mul:
    return int64_t(uint64_t(a) * uint64_t(b));
  case AluOpKind::And:
    return a & b;
  case AluOpKind::Or:
    return a | b;
  case AluOpKind::Xor:
    return a ^ b;
  case AluOpKind::Lsh:
    return int64_t(uint64_t(a) << (b & 63));
  case AluOpKind::Rsh:
    return int64_t(uint64_t(a) >> (b & 63));
  case AluOpKind::Neg:
    return int64_t(0 - uint64_t(a));
  default:
    return std::nullopt;
  }
}

void CapabilityChecker::alu(const bpf::Alu &a, State &st) {
  Value &dst = st.regs[a.dst];
  Value src = a.useImm ? Value::scalar(int64_t(a.imm)) : st.regs[a.src];
  if (a.op == bpf::AluOpKind::Mov && a.sxBits == 0) {
    if (a.is64)
      dst = src;
    else
      dst =
          Value::scalar(src.kind == ValueKind::Scalar && src.constant
                            ? std::optional<int64_t>(*src.constant & 0xffffffff)
                            : std::nullopt);
    return;
  }
  bool offsetOp =
      a.is64 && (a.op == bpf::AluOpKind::Add || a.op == bpf::AluOpKind::Sub);
  if (dst.isPointer() && offsetOp && src.kind == ValueKind::Scalar &&
      src.constant) {
    // An LDDW constant is any 64-bit value: past the kernel's bound the
    // pointer is one eimc does not follow, so every later bound check
    // works on small offsets and cannot overflow.
    int64_t c = *src.constant;
    if (c < -MaxPointerOffset || c > MaxPointerOffset) {
      dst = Value();
      return;
    }
    int64_t moved =
        a.op == bpf::AluOpKind::Add ? dst.offset + c : dst.offset - c;
    if (moved < -MaxPointerOffset || moved > MaxPointerOffset)
      dst = Value();
    else
      dst.offset = moved;
    return;
  }
  if (dst.isPointer() || src.isPointer()) {
    dst = Value(); // pointer arithmetic eimc does not follow
    return;
  }
  std::optional<int64_t> c;
  if (a.is64 && dst.constant && (src.constant || a.op == bpf::AluOpKind::Neg))
    c = fold(a.op, *dst.constant, src.constant.value_or(0));
  dst = Value::scalar(c);
}

void CapabilityChecker::overrideReturn(size_t i, State &st) {
  const Value &ctx = st.regs[1];
  const Value &rc = st.regs[2];
  std::string allowed =
      "[" +
      join(map_range(Class.returnOverride,
                     [](int64_t v) { return std::to_string(v); }),
           ", ") +
      "]";
  if (!Typed)
    error(i, "return-override",
          "bpf_override_return needs a typed entry (section 'fentry/FUNC')");
  else if (Class.returnOverride.empty())
    error(i, "return-override", "return override is not allowed by policy",
          Class.returnOverrideLoc,
          {"class '" + Class.name + "' has no 'return_override'"});
  else if (ctx.kind != ValueKind::Args || ctx.offset != 0)
    error(i, "return-override",
          "bpf_override_return's first argument must be the entry's "
          "context; r1 holds " +
              describe(ctx));
  else if (rc.kind != ValueKind::Scalar || !rc.constant)
    error(i, "return-override",
          "bpf_override_return's value must be a known constant; r2 holds " +
              describe(rc),
          Class.returnOverrideLoc,
          {"class '" + Class.name + "' allows return values " + allowed});
  else if (!is_contained(Class.returnOverride, *rc.constant))
    error(i, "return-override",
          "bpf_override_return value " + Twine(*rc.constant) +
              " is not allowed by policy",
          Class.returnOverrideLoc,
          {"class '" + Class.name + "' allows return values " + allowed});
  st.regs[0] = Value::scalar(0);
}

void CapabilityChecker::checkArgument(size_t i, StringRef fn, unsigned arg,
                                      StringRef param, const Value &v) {
  std::string what = formatv("argument {0} of '{1}' ('{2}')", arg, fn, param);
  if (std::optional<std::string> target = pointee(param)) {
    bool ok = v.kind == ValueKind::HostPtr && v.type == *target &&
              v.offset == 0 && !v.maybeNull;
    if (!ok)
      error(i, "host-call-argument",
            what + " must be a non-null '" + *target +
                " *' the host gave the extension; r" + Twine(arg) + " holds " +
                describe(v));
    return;
  }
  if (v.kind != ValueKind::Scalar) {
    error(i, "host-call-argument",
          what + " is an integer; r" + Twine(arg) + " holds " + describe(v));
    return;
  }
  // The manifest's constraints bind every extension, the class's only its
  // own programs; both must hold.
  auto check = [&](int64_t low, int64_t high,
                   std::optional<policy::SourceLoc> loc, StringRef who) {
    std::string range = low == high ? "only " + std::to_string(low)
                                    : formatv("[{0}, {1}]", low, high).str();
    if (!v.constant)
      error(i, "host-call-constraint",
            what + " must be provably " + range + "; r" + Twine(arg) +
                " is not a known constant",
            loc, {who.str() + " allows " + range});
    else if (*v.constant < low || *v.constant > high)
      error(i, "host-call-constraint",
            what + " is " + Twine(*v.constant) + "; " + who + " allows " +
                range,
            loc);
  };
  if (Manifest)
    if (const extract::HostFunction *f = Manifest->findFunction(fn))
      for (const extract::Constraint &c : f->constraints)
        if ((c.kind == extract::ConstraintKind::ArgEq ||
             c.kind == extract::ConstraintKind::ArgRange) &&
            c.arg == arg)
          check(c.low,
                c.kind == extract::ConstraintKind::ArgEq ? c.low : c.high,
                std::nullopt, "the host");
  for (const policy::HostFunctionGrant &g : Class.hostFunctions)
    if (g.name == fn)
      for (const policy::ArgConstraintGrant &c : g.constraints)
        if (c.arg == arg)
          check(c.low, c.high, c.loc, "the policy");
}

void CapabilityChecker::hostCall(size_t i, StringRef name, State &st) {
  const extract::HostFunction *fn =
      Manifest ? Manifest->findFunction(name) : nullptr;
  const policy::HostFunctionGrant *grant = nullptr;
  for (const policy::HostFunctionGrant &g : Class.hostFunctions)
    if (g.name == name)
      grant = &g;
  if (!fn) {
    error(i, "host-call-unknown",
          "call to '" + name +
              "', which the host does not offer as a host "
              "function");
  } else if (!grant) {
    error(i, "host-call-not-granted",
          "call to host function '" + name + "' is not allowed by policy",
          Class.hostFunctionsLoc,
          {"class '" + Class.name + "' grants host functions at " +
           Class.hostFunctionsLoc.str()});
  } else if (fn->prototype.params.size() > 5 || fn->prototype.variadic) {
    error(i, "host-call-argument",
          "host function '" + name +
              "' takes more arguments than eBPF's "
              "five registers pass");
  } else {
    for (size_t k = 0; k < fn->prototype.params.size(); ++k)
      checkArgument(i, name, unsigned(k + 1), fn->prototype.params[k],
                    st.regs[k + 1]);
  }
  Value result = Value::scalar();
  if (fn && fn->prototype.returns == "void")
    result = Value::scalar(0); // the compiler sets r0 = 0
  else if (std::optional<std::string> target =
               fn ? pointee(fn->prototype.returns) : std::nullopt) {
    result = Value::pointer(ValueKind::HostPtr, 0);
    result.type = *target;
    result.id = uint32_t(i + 1);
    retireId(st, result.id);
    result.origin = name.str();
    result.maybeNull =
        none_of(fn->constraints, [](const extract::Constraint &c) {
          return c.kind == extract::ConstraintKind::RetNonnull;
        });
  }
  st.regs[0] = result;
}

/// Checks that argument \p arg of helper \p h, which the helper reads
/// (\p reads) or fills for \p size bytes, is the stack inside the frame.
bool CapabilityChecker::checkStackArg(size_t i, const HelperProto &h,
                                      unsigned arg, StringRef what,
                                      int64_t size, bool reads,
                                      const State &st) {
  const Value &v = st.regs[arg];
  std::string head =
      formatv("argument {0} of {1} ({2})", arg, h.name, what).str();
  if (v.kind != ValueKind::Stack) {
    error(i, "helper-argument",
          head + " must point into the program's stack; r" + Twine(arg) +
              " holds " + describe(v),
          std::nullopt,
          {"a typed entry passes helpers only memory it can bound: its "
           "stack"});
    return false;
  }
  int64_t lo = v.offset;
  if (size < 0 || size > int64_t(bpf::StackSize) ||
      lo < -int64_t(bpf::StackSize) || lo > -size) {
    error(i, "helper-argument",
          formatv("{0}: {1} bytes at r10{2}{3} are outside the {4}-byte "
                  "frame",
                  head, size, lo < 0 ? "" : "+", lo, bpf::StackSize));
    return false;
  }
  if (!reads)
    return true;
  for (int64_t b = lo; b < lo + size; ++b)
    if (!st.init.test(size_t(b + bpf::StackSize))) {
      error(i, "helper-argument",
            formatv("{0}: {1} bytes at r10{2}, but the byte at r10{3} may "
                    "be uninitialised",
                    head, size, lo, b),
            std::nullopt,
            {"the helper reads them; a typed entry's stack holds the host's "
             "old bytes until written"});
      return false;
    }
  return true;
}

/// A typed entry skips the safety pass, so its helper calls are proved
/// here, from the helper table's argument kinds; a helper that writes the
/// stack also invalidates the spills there.
void CapabilityChecker::helperCall(size_t i, const HelperProto &h, State &st) {
  if (!Typed) {
    // Structural/safety mode checks the arguments. A helper's pointer,
    // even one eimc cannot follow (r10 plus a variable), may write the
    // stack, so no spill survives.
    if (any_of(h.args,
               [](ArgKind k) { return k == ArgKind::PtrToUninitMem; }) ||
        any_of(make_range(st.regs.begin() + 1, st.regs.begin() + 6),
               [](const Value &v) { return v.kind == ValueKind::Stack; }))
      st.spills.clear();
    return;
  }
  std::optional<uint32_t> map;
  std::optional<std::pair<int64_t, int64_t>> filled; // offset, size
  for (unsigned a = 0; a < 5; ++a) {
    unsigned arg = a + 1;
    const Value &v = st.regs[arg];
    auto refuse = [&](const Twine &why) {
      error(i, "helper-argument",
            formatv("argument {0} of {1}: ", arg, h.name).str() + why.str());
    };
    switch (h.args[a]) {
    case ArgKind::DontCare:
    case ArgKind::Anything:
      break;
    case ArgKind::ConstSize:
    case ArgKind::ConstSizeOrZero:
      // Checked with the memory argument before it; the table pairs them.
      if (a == 0 || (h.args[a - 1] != ArgKind::PtrToUninitMem &&
                     h.args[a - 1] != ArgKind::PtrToMemReadonly))
        return refuse("a size without a memory argument before it, which a "
                      "typed entry cannot check");
      break;
    case ArgKind::ConstMapPtr:
      if (v.kind != ValueKind::Map || v.offset != 0)
        return refuse("expected a map; r" + Twine(arg) + " holds " +
                      describe(v));
      map = v.map;
      break;
    case ArgKind::PtrToMapKey:
    case ArgKind::PtrToMapValue: {
      bool key = h.args[a] == ArgKind::PtrToMapKey;
      if (!map)
        return refuse("no map argument before it");
      const bpfobject::MapDef &m = Spec.maps[*map];
      if (m.type == uint32_t(bpfobject::MapTypeKind::PerfEventArray) ||
          m.type == uint32_t(bpfobject::MapTypeKind::RingBuf))
        return refuse("map '" + m.name + "' has no " +
                      (key ? "keys" : "values") + " to look up or update");
      if (!checkStackArg(i, h, arg, key ? "map key" : "map value",
                         key ? m.keySize : m.valueSize, true, st))
        return;
      break;
    }
    case ArgKind::PtrToCtx:
      if (v.kind != ValueKind::Args || v.offset != 0)
        return refuse("expected the entry's context (r1 at entry); r" +
                      Twine(arg) + " holds " + describe(v));
      break;
    case ArgKind::PtrToUninitMem:
    case ArgKind::PtrToMemReadonly: {
      bool fills = h.args[a] == ArgKind::PtrToUninitMem;
      if (a + 1 >= 5 || (h.args[a + 1] != ArgKind::ConstSize &&
                         h.args[a + 1] != ArgKind::ConstSizeOrZero))
        return refuse("no size argument after it");
      const Value &size = st.regs[arg + 1];
      if (size.kind != ValueKind::Scalar || !size.constant)
        return refuse("its size must be a known constant; r" + Twine(arg + 1) +
                      " holds " + describe(size));
      if (*size.constant == 0 && h.args[a + 1] == ArgKind::ConstSize)
        return refuse("its size in r" + Twine(arg + 1) + " is 0");
      if (!checkStackArg(i, h, arg, fills ? "buffer to fill" : "memory to read",
                         *size.constant, !fills, st))
        return;
      if (fills)
        filled = {v.offset, *size.constant};
      break;
    }
    case ArgKind::ConstAllocSizeOrZero:
    case ArgKind::PtrToRingbufMemRelease:
      return error(i, "helper-argument",
                   "a typed entry cannot call " + h.name +
                       ": eimc does not track ring-buffer records there");
    }
  }
  if (filled)
    storeToStack(st, filled->first, unsigned(filled->second), std::nullopt);
}

void CapabilityChecker::call(size_t i, const bpf::Call &c, State &st) {
  switch (c.kind) {
  case bpf::CallKind::Local:
    // The callee is analysed apart and may write this frame through a
    // pointer it received (an argument, a spill, a global): no spill
    // survives the call.
    st.spills.clear();
    st.regs[0] = Value::scalar();
    break;
  case bpf::CallKind::HelperBtfId: {
    auto name = Prog.hostCalls.find(Prog.insns[i].slot);
    if (name != Prog.hostCalls.end())
      hostCall(i, name->second, st);
    else
      st.regs[0] = Value();
    break;
  }
  case bpf::CallKind::Helper: {
    if (uint32_t(c.imm) == OverrideReturnHelper) {
      overrideReturn(i, st);
      break;
    }
    const HelperProto *h = find_if(
        Helpers, [&](const HelperProto &p) { return p.id == uint32_t(c.imm); });
    if (h == std::end(Helpers)) { // structural mode refused it already
      st.regs[0] = Value();
      break;
    }
    helperCall(i, *h, st);
    st.regs[0] = h->ret == "Integer" ? Value::scalar() : Value();
    break;
  }
  }
  for (unsigned r = 1; r <= 5; ++r)
    st.regs[r] = Value();
}

/// Applies instruction \p i to \p st and appends each successor's state.
void CapabilityChecker::step(size_t i, State st,
                             SmallVectorImpl<std::pair<size_t, State>> &out) {
  const bpf::Insn &insn = Prog.insns[i].insn;
  auto next = [&](State s) { out.push_back({i + 1, std::move(s)}); };
  if (const auto *a = std::get_if<bpf::Alu>(&insn)) {
    alu(*a, st);
  } else if (const auto *e = std::get_if<bpf::Endian>(&insn)) {
    st.regs[e->dst] = Value::scalar();
  } else if (const auto *ld = std::get_if<bpf::LoadImm64>(&insn)) {
    auto global = Prog.hostGlobals.find(Prog.insns[i].slot);
    if (global != Prog.hostGlobals.end()) {
      std::optional<Value> v = hostGlobal(i, global->second);
      if (!v)
        return;
      st.regs[ld->dst] = *v;
    } else if (ld->kind == bpf::Imm64Kind::Imm) {
      st.regs[ld->dst] = Value::scalar(int64_t(ld->value));
    } else if (ld->kind == bpf::Imm64Kind::MapByFd &&
               ld->mapIndex < Spec.maps.size()) {
      st.regs[ld->dst] = Value::pointer(ValueKind::Map, 0);
      st.regs[ld->dst].map = ld->mapIndex;
    } else {
      st.regs[ld->dst] = Value();
    }
  } else if (const auto *l = std::get_if<bpf::Load>(&insn)) {
    std::optional<Value> v =
        access(i, l->src, l->off, unsigned(l->width), false, st);
    if (v && v->kind == ValueKind::HostPtr && v->id)
      retireId(st, v->id);
    st.regs[l->dst] = l->signExtend ? Value::scalar() : v.value_or(Value());
  } else if (const auto *s = std::get_if<bpf::Store>(&insn)) {
    Value base = st.regs[s->dst];
    // A refused store is reported; the path goes on, so later uses are
    // reported too (the program is refused either way).
    if (!access(i, s->dst, s->off, unsigned(s->width), true, st))
      return next(std::move(st));
    if (base.kind == ValueKind::Stack)
      storeToStack(st, base.offset + s->off, unsigned(s->width),
                   s->useImm ? Value::scalar(s->imm) : st.regs[s->src]);
    else if (!Typed)
      st.spills.clear(); // the base may be r10 plus what eimc cannot follow
  } else if (const auto *at = std::get_if<bpf::Atomic>(&insn)) {
    Value base = st.regs[at->dst];
    if (!access(i, at->dst, at->off, unsigned(at->width), true, st)) {
      st.regs[at->op == bpf::AtomicOpKind::CmpXchg ? 0 : at->src] = Value();
      return next(std::move(st));
    }
    if (base.kind == ValueKind::Stack) {
      // Read-modify-write: the old bytes are read too.
      noteStackRead(i, st, base.offset + at->off, unsigned(at->width));
      storeToStack(st, base.offset + at->off, unsigned(at->width),
                   std::nullopt);
    } else if (!Typed)
      st.spills.clear(); // the base may be r10 plus what eimc cannot follow
    if (at->op == bpf::AtomicOpKind::CmpXchg)
      st.regs[0] = Value::scalar();
    else if (at->fetch)
      st.regs[at->src] = Value::scalar();
  } else if (const auto *c = std::get_if<bpf::Call>(&insn)) {
    call(i, *c, st);
  } else if (const auto *j = std::get_if<bpf::Jump>(&insn)) {
    std::optional<size_t> target = indexOfSlot(j->target);
    if (!target)
      return; // structural mode refused it already
    if (j->op == bpf::JumpOpKind::Ja) {
      out.push_back({*target, std::move(st)});
      return;
    }
    // `if (p != 0)` / `if (p == 0)`: p and its copies are non-null on
    // the side where they differ from 0.
    State nonNull = st;
    const Value &v = st.regs[j->dst];
    // Only the pointer itself (offset 0) is null when it is: r0 + 8 == 0
    // says r0 == -8. Id 0 is no pointer in particular.
    bool nullTest =
        !j->is32 && j->useImm && j->imm == 0 && v.kind == ValueKind::HostPtr &&
        v.maybeNull && v.id != 0 && v.offset == 0 &&
        (j->op == bpf::JumpOpKind::Jeq || j->op == bpf::JumpOpKind::Jne);
    if (nullTest) {
      auto refine = [&](Value &x) {
        if (x.kind == ValueKind::HostPtr && x.id == v.id)
          x.maybeNull = false;
      };
      for (Value &r : nonNull.regs)
        refine(r);
      for (auto &[off, x] : nonNull.spills)
        refine(x);
    }
    bool takenNonNull = nullTest && j->op == bpf::JumpOpKind::Jne;
    bool fallNonNull = nullTest && j->op == bpf::JumpOpKind::Jeq;
    out.push_back({*target, takenNonNull ? nonNull : st});
    next(fallNonNull ? std::move(nonNull) : std::move(st));
    return;
  } else if (std::holds_alternative<bpf::Exit>(insn)) {
    return;
  }
  next(std::move(st));
}

void CapabilityChecker::analyzeBody(size_t start, State entry) {
  std::vector<std::optional<State>> states(Prog.insns.size());
  states[start] = std::move(entry);
  std::set<size_t> work{start};
  while (!work.empty()) {
    size_t i = *work.begin();
    work.erase(work.begin());
    SmallVector<std::pair<size_t, State>, 2> out;
    step(i, *states[i], out);
    for (auto &[succ, st] : out) {
      if (succ >= Prog.insns.size())
        continue;
      std::optional<State> &old = states[succ];
      State merged = old ? join(*old, st) : std::move(st);
      if (old && merged == *old)
        continue;
      old = std::move(merged);
      work.insert(succ);
    }
  }
}

void CapabilityChecker::run() {
  if (!findEntry())
    return;
  State entry;
  entry.regs[bpf::FramePointer] = Value::pointer(ValueKind::Stack, 0);
  // A pt_regs program's context is structural/safety mode's business.
  if (Typed)
    entry.regs[1] = Value::pointer(ValueKind::Args, 0);
  analyzeBody(0, entry);
  // Subprograms: arguments unknown (host pointers do not cross calls).
  std::set<size_t> bodies;
  for (const bpf::SlotInsn &si : Prog.insns)
    if (const auto *c = std::get_if<bpf::Call>(&si.insn);
        c && c->kind == bpf::CallKind::Local)
      if (std::optional<size_t> t = indexOfSlot(c->target); t && *t != 0)
        bodies.insert(*t);
  State sub;
  sub.regs[bpf::FramePointer] = Value::pointer(ValueKind::Stack, 0);
  for (size_t b : bodies)
    analyzeBody(b, sub);
}

} // namespace

std::vector<int32_t> verifyCapabilities(
    const bpfobject::ExtensionSpec &spec, const bpfobject::Program &prog,
    const policy::PolicyClass &cls, const extract::CapabilityManifest *manifest,
    std::vector<Diagnostic> &diags) {
  CapabilityChecker checker(spec, prog, cls, manifest, diags);
  checker.run();
  return checker.uninitSlots();
}

} // namespace eimc::verifier
