//===- eimc/Extract/Manifest.h - What a host offers extensions --*- C++ -*-===//
//
// Part of eimc. See docs/formats/manifest.md, which this header must keep
// describing: change both together.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The development-time half of the Extension Interface Model (EIM): the
/// CapabilityManifest lists the state, host functions and extension entries
/// a host offers. It comes from one of three places:
///  - extractManifest(): the host's own DWARF (or its separate debug file),
///    written by a developer with `eim.h` or with bpftime's BTF naming
///    convention;
///  - deriveManifest(): a declarations file compiled with clang-19 `-g`,
///    bound to an unannotated host's `.dynsym`;
///  - parseManifest(): a stored manifest (`eimc build --manifest`).
///
/// A manifest holds names, C types, sizes and offsets; never an address, a
/// path or a compiler's identity, so it is byte-identical on any machine.
/// bindPolicy() checks an operator's policy against it.
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_EXTRACT_MANIFEST_H
#define EIMC_EXTRACT_MANIFEST_H

#include "eimc/BpfObject/BpfObject.h"
#include "eimc/Policy/Policy.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace eimc::extract {

/// What extensions may do with a state capability. Write implies read.
enum class AccessKind : uint8_t { Read, Write };

/// A piece of host state: a global variable (symbol set) or a field of a
/// structure extensions receive (baseType set, e.g. an entry's argument).
struct StateCapability {
  std::string name;     ///< capability name
  std::string symbol;   ///< global variable; empty for a field
  std::string baseType; ///< field: the enclosing type ("ngx_http_request_t")
  std::string field;    ///< field: its name ("uri")
  uint64_t offset = 0;  ///< field: byte offset inside baseType
  std::string type;     ///< C type of the state ("ngx_str_t")
  uint64_t size = 0;    ///< bytes
  AccessKind access = AccessKind::Read;
  bool operator==(const StateCapability &) const = default;
};

enum class ConstraintKind : uint8_t {
  RetPositive,    ///< result > 0
  RetNonnegative, ///< result >= 0
  RetNonnull,     ///< result != NULL
  ArgEq,          ///< argument `arg` == low
  ArgRange,       ///< low <= argument `arg` <= high
};

/// A constraint on every call of a host function.
struct Constraint {
  ConstraintKind kind = ConstraintKind::RetPositive;
  unsigned arg = 0; ///< 1-based argument index for Arg*
  int64_t low = 0;  ///< ArgEq: the value; ArgRange: the lower bound
  int64_t high = 0; ///< ArgRange: the upper bound (inclusive)
  bool operator==(const Constraint &) const = default;
  /// "ret_positive", "arg2 == 403", "arg2 in [-1, 599]".
  std::string str() const;
};

/// A C prototype: return type and parameter types, as DWARF names them.
struct Prototype {
  std::string returns;             ///< "void", "int", "ngx_int_t"
  std::vector<std::string> params; ///< "ngx_http_request_t *", ...
  bool variadic = false;
  bool operator==(const Prototype &) const = default;
  /// "int (ngx_http_request_t *, ngx_int_t)".
  std::string str() const;
};

/// A host function extensions may call. Its capability name is its name.
struct HostFunction {
  std::string name;
  Prototype prototype;
  std::vector<Constraint> constraints;
  bool operator==(const HostFunction &) const = default;
};

/// A host function extensions may hook.
struct ExtensionEntry {
  std::string name;     ///< capability name (policy `entry:`)
  std::string function; ///< the hooked function's symbol
  Prototype prototype;
  bool operator==(const ExtensionEntry &) const = default;
};

/// What a host offers. Each list is sorted by name; names are unique.
struct CapabilityManifest {
  std::vector<StateCapability> states;
  std::vector<HostFunction> functions;
  std::vector<ExtensionEntry> entries;
  bool operator==(const CapabilityManifest &) const = default;

  const StateCapability *findState(llvm::StringRef name) const;
  const HostFunction *findFunction(llvm::StringRef name) const;
  const ExtensionEntry *findEntry(llvm::StringRef name) const;
};

/// Reads the manifest of an annotated host: DWARF from \p hostPath, or from
/// its separate debug file (build-id under \p debugRoot, then
/// `.gnu_debuglink` beside the host, in `.debug/` and under \p debugRoot).
/// Every entry function, host function and global state must have a symbol
/// in the host. \returns the manifest (empty for a host without
/// annotations), or an error naming the host.
llvm::Expected<CapabilityManifest>
extractManifest(llvm::StringRef hostPath,
                llvm::StringRef debugRoot = "/usr/lib/debug");

/// Reads the C types an extension can reach through \p manifest's
/// capabilities (entry and host-function prototypes, global states' types,
/// the structures whose fields are offered), with every type they refer
/// to, from \p hostPath's DWARF (or its separate debug file, found as for
/// extractManifest()). They are the object reader's second CO-RE target.
/// \returns no types for a host without DWARF; an error if the host cannot
/// be read.
llvm::Expected<bpfobject::HostTypes>
extractHostTypes(llvm::StringRef hostPath, const CapabilityManifest &manifest,
                 llvm::StringRef debugRoot = "/usr/lib/debug");

struct DeriveOptions {
  std::string hostPath;
  std::string declsPath;                ///< C file using eim.h's macros
  std::vector<std::string> compilerArgs; ///< e.g. "-I/usr/share/nginx/src"
  std::string clang;                    ///< compiler to run
};

/// Builds the manifest of an unannotated (possibly stripped) host: compiles
/// the declarations file with clang `-g` (eim.h is supplied), reads its
/// DWARF and binds every function, entry and global to the host's
/// `.dynsym`. \returns an error naming any name the host does not export.
llvm::Expected<CapabilityManifest> deriveManifest(const DeriveOptions &options);

/// Reads a stored manifest. \p fileName is used in diagnostics only.
llvm::Expected<CapabilityManifest> parseManifest(llvm::StringRef fileName,
                                                 llvm::StringRef text);

/// Canonical YAML text; parseManifest(toString(m)) == m.
std::string toString(const CapabilityManifest &manifest);

/// Checks \p policy's grants against \p manifest: each class's entry,
/// host functions, state (and its access mode) and constraints must be
/// offered. A manifest without entries accepts any entry (hosts without
/// annotations: every function symbol is hookable, as in eimc 0.1).
/// \returns the policy with each class's entry replaced by the function
/// symbol it names, or a refusal naming the policy's file:line:column.
llvm::Expected<policy::Policy> bindPolicy(const policy::Policy &policy,
                                          const CapabilityManifest &manifest);

} // namespace eimc::extract

#endif // EIMC_EXTRACT_MANIFEST_H
