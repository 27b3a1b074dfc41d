//===- eim-extract/Annotations.cpp - Capabilities from DWARF --------------===//
//
// Part of eimc. See eimc/Extract/Manifest.h and docs/formats/manifest.md.
//
//===----------------------------------------------------------------------===//
//
// Entry point: readAnnotations(). Finds, in every compile unit, the records
// eim.h leaves and the names bpftime's convention uses, and turns them into
// a manifest:
//
//  - eim.h: a variable `__eim_<kind>__<name>` (kind: state, field, hfunc,
//    entry) whose type is a zero-length array of a struct. The struct's
//    members say the rest: a member named after the variable or function,
//    typed as a pointer to it (C type, prototype); `eim_access_<mode>`;
//    `eim_offset`, `eim_arg_eq_<i>` and `eim_arg_range_<i>`, whose enum
//    types carry values as enumerators (DWARF keeps enumerator values, and
//    an enum referenced by a kept struct is itself kept).
//  - bpftime: functions `__bpftime_extension_entry_<role>_<name>` are
//    entries; typedefs `__bpftime_ext_ufunction_<name>_<fn>` and
//    `__bpftime_capability_<cap>_includes_<name>_<fn>` offer the host
//    function `fn` (the longest suffix naming a function in the DWARF).
//    `__bpftime_role_*` typedefs grant capabilities to roles: that is
//    deployment-time knowledge, the policy's, and is not read.
//
// The same header included by several compile units yields equal records,
// kept once; two different records under one name are an error.
//
// What it does not do: find the DWARF (HostDebugInfo.cpp) or check symbols
// (bindSymbols(), below).
//
//===----------------------------------------------------------------------===//

#include "ExtractInternal.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/BinaryFormat/Dwarf.h"
#include "llvm/DebugInfo/DWARF/DWARFDie.h"
#include "llvm/DebugInfo/DWARF/DWARFUnit.h"
#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

using namespace llvm;

namespace eimc::extract {

namespace {

constexpr StringRef EimPrefix = "__eim_";
constexpr StringRef BpftimeEntryPrefix = "__bpftime_extension_entry_";
constexpr StringRef BpftimeUfuncPrefix = "__bpftime_ext_ufunction_";
constexpr StringRef BpftimeCapPrefix = "__bpftime_capability_";

Error malformed(StringRef what, const Twine &msg) {
  return createStringError(std::errc::invalid_argument, "%s: %s",
                           what.str().c_str(), msg.str().c_str());
}

DWARFDie typeOf(const DWARFDie &die) {
  return die.getAttributeValueAsReferencedDie(dwarf::DW_AT_type);
}

/// Skips const/volatile qualifiers and, if \p typedefs, typedefs.
DWARFDie strip(DWARFDie die, bool typedefs) {
  while (die) {
    dwarf::Tag tag = die.getTag();
    bool qualifier = tag == dwarf::DW_TAG_const_type ||
                     tag == dwarf::DW_TAG_volatile_type ||
                     tag == dwarf::DW_TAG_restrict_type;
    if (!qualifier && !(typedefs && tag == dwarf::DW_TAG_typedef))
      return die;
    die = typeOf(die);
  }
  return die;
}

// gcc and clang name the same base types differently ("long unsigned int"
// and "unsigned long"); manifests use clang's names so that a host built
// by either compiler offers the same text. Longest first.
constexpr std::pair<StringRef, StringRef> BaseTypeSpellings[] = {
    {"long long unsigned int", "unsigned long long"},
    {"long long int", "long long"},
    {"long unsigned int", "unsigned long"},
    {"short unsigned int", "unsigned short"},
    {"long int", "long"},
    {"short int", "short"},
};

std::string typeName(const DWARFDie &type) {
  if (!type)
    return "void";
  std::string out;
  raw_string_ostream os(out);
  dumpTypeQualifiedName(type, os);
  for (auto [gcc, clang] : BaseTypeSpellings) {
    size_t pos = 0;
    while ((pos = out.find(gcc.str(), pos)) != std::string::npos) {
      bool wordStart = pos == 0 || !isAlnum(out[pos - 1]);
      size_t end = pos + gcc.size();
      bool wordEnd = end == out.size() || !isAlnum(out[end]);
      if (wordStart && wordEnd)
        out.replace(pos, gcc.size(), clang.str());
      pos += 1;
    }
  }
  return out;
}

/// The prototype of a subprogram or subroutine type.
Prototype prototypeOf(const DWARFDie &fn) {
  Prototype proto;
  proto.returns = typeName(typeOf(fn));
  for (const DWARFDie &child : fn.children()) {
    if (child.getTag() == dwarf::DW_TAG_formal_parameter)
      proto.params.push_back(typeName(typeOf(child)));
    else if (child.getTag() == dwarf::DW_TAG_unspecified_parameters)
      proto.variadic = true;
  }
  return proto;
}

// gcc writes non-negative enumerators with DW_FORM_data<N> and negative ones
// with DW_FORM_sdata; clang picks sdata or udata by the enum's signedness.
// LLVM's getAsSignedConstant() would sign-extend a data1 of 200 to -56.
std::optional<int64_t> enumeratorValue(const DWARFDie &e) {
  std::optional<DWARFFormValue> v = e.find(dwarf::DW_AT_const_value);
  if (!v)
    return std::nullopt;
  if (v->getForm() == dwarf::DW_FORM_sdata ||
      v->getForm() == dwarf::DW_FORM_implicit_const)
    return v->getAsSignedConstant();
  if (std::optional<uint64_t> u = v->getAsUnsignedConstant())
    return static_cast<int64_t>(*u);
  return std::nullopt;
}

/// The enumerator values of an enum-typed member, in order.
SmallVector<int64_t, 2> enumValues(const DWARFDie &member) {
  SmallVector<int64_t, 2> out;
  DWARFDie type = strip(typeOf(member), true);
  if (!type || type.getTag() != dwarf::DW_TAG_enumeration_type)
    return out;
  for (const DWARFDie &e : type.children())
    if (e.getTag() == dwarf::DW_TAG_enumerator)
      if (std::optional<int64_t> v = enumeratorValue(e))
        out.push_back(*v);
  return out;
}

/// A record's struct members, in order, as (name, DIE).
using Members = SmallVector<std::pair<StringRef, DWARFDie>, 8>;

Members recordMembers(const DWARFDie &variable) {
  Members out;
  DWARFDie array = strip(typeOf(variable), true);
  if (!array || array.getTag() != dwarf::DW_TAG_array_type)
    return out;
  DWARFDie record = strip(typeOf(array), true);
  if (!record || record.getTag() != dwarf::DW_TAG_structure_type)
    return out;
  for (const DWARFDie &m : record.children())
    if (m.getTag() == dwarf::DW_TAG_member && m.getShortName())
      out.push_back({m.getShortName(), m});
  return out;
}

/// The type a record member points to, through eim.h's typedef.
DWARFDie pointee(const DWARFDie &member) {
  DWARFDie ptr = strip(typeOf(member), true);
  if (!ptr || ptr.getTag() != dwarf::DW_TAG_pointer_type)
    return DWARFDie();
  return typeOf(ptr);
}

/// Collects records; knows the record kinds.
class Collector {
public:
  Collector(StringRef what, uint8_t pointerSize)
      : What(what), PointerSize(pointerSize) {}

  Error addEim(StringRef kind, StringRef name, const DWARFDie &variable);
  void noteFunction(const DWARFDie &fn);
  void noteTypedef(StringRef name) { BpftimeTypedefs.push_back(name.str()); }
  Error addBpftimeEntry(const DWARFDie &fn);
  Error finish(CapabilityManifest &out);

private:
  Error addState(StringRef name, const Members &members, bool field);
  Error addFunction(StringRef name, const Members &members);
  Error addEntry(StringRef name, const Members &members);
  template <typename T>
  Error put(std::map<std::string, T> &into, StringRef kind, T value);
  Expected<Constraint> constraint(StringRef member, const DWARFDie &die);

  std::string What;
  uint8_t PointerSize;
  std::map<std::string, StateCapability> States;
  std::map<std::string, HostFunction> Functions;
  std::map<std::string, ExtensionEntry> Entries;
  /// Every function DWARF describes, for bpftime's name suffixes.
  StringMap<DWARFDie> FunctionDies;
  std::vector<std::string> BpftimeTypedefs;
};

template <typename T>
Error Collector::put(std::map<std::string, T> &into, StringRef kind,
                     T value) {
  auto [it, inserted] = into.try_emplace(value.name, value);
  if (inserted || it->second == value)
    return Error::success();
  return malformed(What, "conflicting annotations for " + kind + " '" +
                             value.name + "'");
}

Error Collector::addEim(StringRef kind, StringRef name,
                        const DWARFDie &variable) {
  Members members = recordMembers(variable);
  if (members.empty())
    return malformed(What, "'" + EimPrefix + kind + "__" + name +
                               "' is not an eim.h record");
  if (kind == "state" || kind == "field")
    return addState(name, members, kind == "field");
  if (kind == "hfunc")
    return addFunction(name, members);
  if (kind == "entry")
    return addEntry(name, members);
  return malformed(What, "unknown eim.h record kind '" + kind + "'");
}

Error Collector::addState(StringRef name, const Members &members, bool field) {
  StateCapability s;
  s.name = name.str();
  for (auto [member, die] : members) {
    if (member.consume_front("eim_access_")) {
      if (member != "read" && member != "write")
        return malformed(What, "state '" + name + "': access is read or "
                                                  "write, not '" + member +
                                   "'");
      s.access = member == "write" ? AccessKind::Write : AccessKind::Read;
    } else if (member == "eim_base") {
      s.baseType = typeName(pointee(die));
    } else if (member == "eim_offset") {
      SmallVector<int64_t, 2> v = enumValues(die);
      if (v.size() == 1)
        s.offset = static_cast<uint64_t>(v[0]);
    } else {
      DWARFDie target = strip(pointee(die), false);
      // The typedef eim.h made ("__eim_state_type__x") stands for the
      // variable's own type.
      if (target && target.getTag() == dwarf::DW_TAG_typedef)
        target = typeOf(target);
      (field ? s.field : s.symbol) = member.str();
      s.type = typeName(target);
      s.size = target ? target.getTypeSize(PointerSize).value_or(0) : 0;
    }
  }
  if (field && s.baseType.empty())
    return malformed(What, "state '" + name + "': field record has no base");
  return put(States, "state", std::move(s));
}

Expected<Constraint> Collector::constraint(StringRef member,
                                           const DWARFDie &die) {
  Constraint c;
  if (member == "eim_ret_positive")
    c.kind = ConstraintKind::RetPositive;
  else if (member == "eim_ret_nonnegative")
    c.kind = ConstraintKind::RetNonnegative;
  else if (member == "eim_ret_nonnull")
    c.kind = ConstraintKind::RetNonnull;
  else {
    bool eq = member.consume_front("eim_arg_eq_");
    if (!eq && !member.consume_front("eim_arg_range_"))
      return malformed(What, "unknown constraint '" + member + "'");
    c.kind = eq ? ConstraintKind::ArgEq : ConstraintKind::ArgRange;
    SmallVector<int64_t, 2> v = enumValues(die);
    if (member.getAsInteger(10, c.arg) || v.size() != (eq ? 1u : 2u))
      return malformed(What, "malformed constraint '" + member + "'");
    c.low = v[0];
    c.high = eq ? v[0] : v[1];
  }
  return c;
}

Error Collector::addFunction(StringRef name, const Members &members) {
  HostFunction f;
  f.name = name.str();
  for (const auto &[member, die] : members) {
    if (member == name) {
      f.prototype = prototypeOf(strip(pointee(die), true));
      continue;
    }
    Expected<Constraint> c = constraint(member, die);
    if (!c)
      return c.takeError();
    f.constraints.push_back(*c);
  }
  return put(Functions, "host function", std::move(f));
}

Error Collector::addEntry(StringRef name, const Members &members) {
  if (members.size() != 1)
    return malformed(What, "entry '" + name + "' is not an eim.h record");
  ExtensionEntry e;
  e.name = name.str();
  e.function = members[0].first.str();
  e.prototype = prototypeOf(strip(pointee(members[0].second), true));
  return put(Entries, "extension entry", std::move(e));
}

void Collector::noteFunction(const DWARFDie &fn) {
  const char *name = fn.getShortName();
  if (!name)
    return;
  // A definition describes parameters at least as well as a declaration.
  bool isDecl = fn.find(dwarf::DW_AT_declaration).has_value();
  auto [it, inserted] = FunctionDies.try_emplace(name, fn);
  if (!inserted && !isDecl)
    it->second = fn;
}

Error Collector::addBpftimeEntry(const DWARFDie &fn) {
  ExtensionEntry e;
  e.function = fn.getShortName();
  e.name = StringRef(e.function).drop_front(BpftimeEntryPrefix.size()).str();
  e.prototype = prototypeOf(fn);
  return put(Entries, "extension entry", std::move(e));
}

Error Collector::finish(CapabilityManifest &out) {
  // bpftime's typedef names end in "_<fn>"; the longest known function
  // name that ends the typedef's name is the function.
  for (const std::string &td : BpftimeTypedefs) {
    StringRef best;
    for (const auto &fn : FunctionDies)
      if (StringRef(td).ends_with("_" + fn.getKey().str()) &&
          fn.getKey().size() > best.size())
        best = fn.getKey();
    if (best.empty())
      return malformed(What, "bpftime capability '" + td +
                                 "' names no function DWARF describes");
    HostFunction f;
    f.name = best.str();
    f.prototype = prototypeOf(FunctionDies.lookup(best));
    if (Error e = put(Functions, "host function", std::move(f)))
      return e;
  }
  for (auto &[name, s] : States)
    out.states.push_back(s);
  for (auto &[name, f] : Functions)
    out.functions.push_back(f);
  for (auto &[name, e] : Entries)
    out.entries.push_back(e);
  return Error::success();
}

bool isBpftimeCapability(StringRef name) {
  if (name.starts_with(BpftimeUfuncPrefix))
    return true;
  return name.starts_with(BpftimeCapPrefix) && name.contains("_includes_");
}

} // namespace

Expected<CapabilityManifest> readAnnotations(DWARFContext &dwarf,
                                             StringRef what) {
  uint8_t pointerSize = 8;
  Collector collector(what, pointerSize);
  for (const std::unique_ptr<DWARFUnit> &unit : dwarf.compile_units()) {
    for (const DWARFDebugInfoEntry &entry : unit->dies()) {
      DWARFDie die(unit.get(), &entry);
      const char *cname = die.getShortName();
      if (!cname)
        continue;
      StringRef name(cname);
      dwarf::Tag tag = die.getTag();
      if (tag == dwarf::DW_TAG_subprogram) {
        collector.noteFunction(die);
        if (name.starts_with(BpftimeEntryPrefix) &&
            !die.find(dwarf::DW_AT_declaration))
          if (Error e = collector.addBpftimeEntry(die))
            return std::move(e);
        continue;
      }
      if (tag == dwarf::DW_TAG_typedef && isBpftimeCapability(name)) {
        collector.noteTypedef(name);
        continue;
      }
      if (tag != dwarf::DW_TAG_variable || !name.consume_front(EimPrefix))
        continue;
      auto [kind, capName] = name.split("__");
      if (capName.empty())
        continue;
      if (Error e = collector.addEim(kind, capName, die))
        return std::move(e);
    }
  }
  CapabilityManifest manifest;
  if (Error e = collector.finish(manifest))
    return std::move(e);
  return manifest;
}

void collectSymbols(const object::ObjectFile &obj, bool dynamicOnly,
                    StringSet<> &names) {
  auto add = [&](const object::SymbolRef &sym) {
    Expected<StringRef> name = sym.getName();
    if (!name) {
      consumeError(name.takeError());
      return;
    }
    Expected<uint32_t> flags = sym.getFlags();
    bool undefined =
        !flags || (*flags & object::SymbolRef::SF_Undefined) != 0;
    if (!flags)
      consumeError(flags.takeError());
    if (!undefined && !name->empty())
      names.insert(*name);
  };
  if (const auto *elf = dyn_cast<object::ELFObjectFileBase>(&obj))
    for (const object::SymbolRef &sym : elf->getDynamicSymbolIterators())
      add(sym);
  if (dynamicOnly)
    return;
  for (const object::SymbolRef &sym : obj.symbols())
    add(sym);
}

Error bindSymbols(const CapabilityManifest &manifest,
                  const StringSet<> &names, StringRef host, StringRef table) {
  auto missing = [&](const Twine &what, StringRef symbol) {
    return malformed(host, what + ": '" + symbol + "' is not defined in " +
                               table);
  };
  for (const ExtensionEntry &e : manifest.entries)
    if (!names.contains(e.function))
      return missing("extension entry '" + e.name + "'", e.function);
  for (const HostFunction &f : manifest.functions)
    if (!names.contains(f.name))
      return missing("host function", f.name);
  for (const StateCapability &s : manifest.states)
    if (!s.symbol.empty() && !names.contains(s.symbol))
      return missing("state '" + s.name + "'", s.symbol);
  return Error::success();
}

} // namespace eimc::extract
