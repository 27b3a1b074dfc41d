//===- eim-extract/Manifest.cpp - The manifest as YAML --------------------===//
//
// Part of eimc. See eimc/Extract/Manifest.h and docs/formats/manifest.md.
//
//===----------------------------------------------------------------------===//
//
// Entry points: parseManifest() and toString(). The manifest's text form is
// YAML through LLVM YAMLIO, so one set of mapping traits both writes and
// reads it and the two cannot drift (a round-trip test checks). Prototype
// and constraint printers live here too: they are the manifest's
// vocabulary.
//
// What it does not do: read binaries (Annotations.cpp, HostDebugInfo.cpp).
//
//===----------------------------------------------------------------------===//

#include "eimc/Extract/Manifest.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/YAMLTraits.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace eimc::extract;

// YAML keys follow docs/formats/manifest.md; optional keys are omitted when
// they hold their default so a manifest lists only what it says.
LLVM_YAML_IS_SEQUENCE_VECTOR(StateCapability)
LLVM_YAML_IS_SEQUENCE_VECTOR(HostFunction)
LLVM_YAML_IS_SEQUENCE_VECTOR(ExtensionEntry)
LLVM_YAML_IS_SEQUENCE_VECTOR(Constraint)

namespace llvm::yaml {

template <> struct ScalarEnumerationTraits<AccessKind> {
  static void enumeration(IO &io, AccessKind &value) {
    io.enumCase(value, "read", AccessKind::Read);
    io.enumCase(value, "write", AccessKind::Write);
  }
};

template <> struct ScalarEnumerationTraits<ConstraintKind> {
  static void enumeration(IO &io, ConstraintKind &value) {
    io.enumCase(value, "ret_positive", ConstraintKind::RetPositive);
    io.enumCase(value, "ret_nonnegative", ConstraintKind::RetNonnegative);
    io.enumCase(value, "ret_nonnull", ConstraintKind::RetNonnull);
    io.enumCase(value, "arg_eq", ConstraintKind::ArgEq);
    io.enumCase(value, "arg_range", ConstraintKind::ArgRange);
  }
};

template <> struct MappingTraits<Constraint> {
  static void mapping(IO &io, Constraint &c) {
    io.mapRequired("kind", c.kind);
    bool isArg = c.kind == ConstraintKind::ArgEq ||
                 c.kind == ConstraintKind::ArgRange;
    if (!io.outputting() || isArg)
      io.mapOptional("arg", c.arg, 0u);
    if (!io.outputting() || c.kind == ConstraintKind::ArgEq)
      io.mapOptional("value", c.low, int64_t(0));
    if (!io.outputting() || c.kind == ConstraintKind::ArgRange) {
      io.mapOptional("low", c.low, int64_t(0));
      io.mapOptional("high", c.high, int64_t(0));
    }
    if (!io.outputting() && c.kind == ConstraintKind::ArgEq)
      c.high = c.low;
  }
  static std::string validate(IO &io, Constraint &c) {
    bool isArg = c.kind == ConstraintKind::ArgEq ||
                 c.kind == ConstraintKind::ArgRange;
    if (isArg && c.arg == 0)
      return "an argument constraint needs 'arg' (counting from 1)";
    if (c.kind == ConstraintKind::ArgRange && c.low > c.high)
      return "'low' is above 'high'";
    return "";
  }
};

template <> struct MappingTraits<Prototype> {
  static void mapping(IO &io, Prototype &p) {
    io.mapRequired("returns", p.returns);
    io.mapOptional("params", p.params);
    io.mapOptional("variadic", p.variadic, false);
  }
};

template <> struct MappingTraits<StateCapability> {
  static void mapping(IO &io, StateCapability &s) {
    io.mapRequired("name", s.name);
    io.mapOptional("symbol", s.symbol, std::string());
    io.mapOptional("base", s.baseType, std::string());
    io.mapOptional("field", s.field, std::string());
    io.mapOptional("offset", s.offset, uint64_t(0));
    io.mapRequired("type", s.type);
    io.mapRequired("size", s.size);
    io.mapRequired("access", s.access);
  }
  static std::string validate(IO &io, StateCapability &s) {
    if (s.symbol.empty() == s.baseType.empty())
      return "state '" + s.name + "' needs exactly one of 'symbol' and 'base'";
    return "";
  }
};

template <> struct MappingTraits<HostFunction> {
  static void mapping(IO &io, HostFunction &f) {
    io.mapRequired("name", f.name);
    io.mapRequired("prototype", f.prototype);
    io.mapOptional("constraints", f.constraints);
  }
};

template <> struct MappingTraits<ExtensionEntry> {
  static void mapping(IO &io, ExtensionEntry &e) {
    io.mapRequired("name", e.name);
    io.mapRequired("function", e.function);
    io.mapRequired("prototype", e.prototype);
  }
};

template <> struct MappingTraits<CapabilityManifest> {
  static void mapping(IO &io, CapabilityManifest &m) {
    io.mapOptional("states", m.states);
    io.mapOptional("functions", m.functions);
    io.mapOptional("entries", m.entries);
  }
};

} // namespace llvm::yaml

namespace eimc::extract {

std::string Constraint::str() const {
  switch (kind) {
  case ConstraintKind::RetPositive:
    return "ret_positive";
  case ConstraintKind::RetNonnegative:
    return "ret_nonnegative";
  case ConstraintKind::RetNonnull:
    return "ret_nonnull";
  case ConstraintKind::ArgEq:
    return formatv("arg{0} == {1}", arg, low).str();
  case ConstraintKind::ArgRange:
    return formatv("arg{0} in [{1}, {2}]", arg, low, high).str();
  }
  llvm_unreachable("unknown constraint kind");
}

std::string Prototype::str() const {
  std::string out = returns + " (";
  ListSeparator sep(", ");
  for (const std::string &p : params)
    out += (StringRef(sep) + p).str();
  if (variadic)
    out += (StringRef(sep) + "...").str();
  if (params.empty() && !variadic)
    out += "void";
  return out + ")";
}

template <typename T>
static const T *findByName(const std::vector<T> &list, StringRef name) {
  for (const T &item : list)
    if (item.name == name)
      return &item;
  return nullptr;
}

const StateCapability *CapabilityManifest::findState(StringRef name) const {
  return findByName(states, name);
}
const HostFunction *CapabilityManifest::findFunction(StringRef name) const {
  return findByName(functions, name);
}
const ExtensionEntry *CapabilityManifest::findEntry(StringRef name) const {
  return findByName(entries, name);
}

Expected<CapabilityManifest> parseManifest(StringRef fileName,
                                           StringRef text) {
  std::string diags;
  raw_string_ostream os(diags);
  yaml::Input in(text, nullptr,
                 [](const SMDiagnostic &d, void *ctx) {
                   auto *out = static_cast<raw_string_ostream *>(ctx);
                   *out << d.getLineNo() << ":" << (d.getColumnNo() + 1)
                        << ": " << d.getMessage();
                 },
                 &os);
  CapabilityManifest manifest;
  in >> manifest;
  if (in.error())
    return createStringError(std::errc::invalid_argument, "%s:%s",
                             fileName.str().c_str(), diags.c_str());
  return manifest;
}

std::string toString(const CapabilityManifest &manifest) {
  std::string out;
  raw_string_ostream os(out);
  yaml::Output yout(os);
  CapabilityManifest copy = manifest;
  yout << copy;
  return out;
}

} // namespace eimc::extract
