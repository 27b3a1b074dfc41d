//===- eimc/Policy/Policy.h - Deployment policy -----------------*- C++ -*-===//
//
// Part of eimc. See docs/formats/policy.md, which this header must keep
// describing: change both together.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The deployment-time policy of the Extension Interface Model (EIM): what an
/// operator grants each class of extension. parsePolicy() reads the YAML
/// form with LLVM's YAML parser; keys the model defines but eimc does not
/// implement yet are rejected with "not supported yet", unknown keys and
/// helpers with "unknown key"/"unknown helper" and a "did you mean", all
/// naming file, line and column. Host functions and state are granted by
/// capability name; whether the host offers them is the manifest's
/// question (eimc::extract::bindPolicy()).
///
/// The policy holds no host knowledge (that is the manifest's) and no
/// addresses. The verifier applies it; it never applies itself.
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_POLICY_POLICY_H
#define EIMC_POLICY_POLICY_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace eimc::policy {

/// Where a policy element was written; printed as "file:line".
struct SourceLoc {
  std::string file;
  unsigned line = 0;
  unsigned column = 0;
  std::string str() const; ///< "policy.yaml:7"
  bool operator==(const SourceLoc &) const = default;
};

/// Isolation of extension state (paper §5; docs/formats/policy.md).
enum class IsolationKind : uint8_t { Require, Prefer, Off };

struct HelperGrant {
  uint32_t id = 0;      ///< kernel helper id
  std::string name;     ///< as written (libbpf name or "#25")
  SourceLoc loc;
  bool operator==(const HelperGrant &) const = default;
};

/// A tightening of one argument of a host function: `arg: 2, eq: 403`
/// (low == high) or `arg: 2, range: [400, 499]`.
struct ArgConstraintGrant {
  unsigned arg = 0; ///< 1-based argument index
  int64_t low = 0;
  int64_t high = 0; ///< inclusive; == low for `eq`
  SourceLoc loc;
  bool operator==(const ArgConstraintGrant &) const = default;
};

/// A host function a class may call, by capability name (the function's
/// name in the manifest), with the class's own argument constraints.
struct HostFunctionGrant {
  std::string name;
  std::vector<ArgConstraintGrant> constraints;
  SourceLoc loc;
  bool operator==(const HostFunctionGrant &) const = default;
};

/// Host state a class may access, by capability name.
struct StateGrant {
  std::string name;
  bool write = false; ///< `access: write` (which includes reading)
  SourceLoc loc;
  bool operator==(const StateGrant &) const = default;
};

/// One extension class: which programs it covers, where they may attach and
/// what they may use.
struct PolicyClass {
  std::string name;
  std::string entry; ///< host function (extension entry) the class may hook
  std::string match; ///< program name or ELF section the class covers
  std::vector<HelperGrant> helpers;
  SourceLoc loc;      ///< the class's first line
  SourceLoc entryLoc;
  SourceLoc helpersLoc; ///< `helpers:` key, or loc if absent
  std::vector<HostFunctionGrant> hostFunctions;
  SourceLoc hostFunctionsLoc; ///< `host_functions:` key, or loc if absent
  std::vector<StateGrant> state;
  SourceLoc stateLoc; ///< `state:` key, or loc if absent
  /// Values a program may make the entry return instead of running it
  /// (`return_override`); empty: no override.
  std::vector<int64_t> returnOverride;
  SourceLoc returnOverrideLoc; ///< `return_override:` key, or loc if absent
  /// The most instructions one invocation may execute (`instructions: N`);
  /// a restriction the verifier enforces.
  std::optional<uint64_t> instructions;
  SourceLoc instructionsLoc;
  bool operator==(const PolicyClass &) const = default;
};

struct Policy {
  std::string file; ///< as given on the command line
  IsolationKind isolation = IsolationKind::Prefer;
  /// `warn: true`: under `prefer`, a process that runs unisolated says so
  /// on stderr.
  bool warn = false;
  /// `trusted_sites`: addresses of PKRU-writing instructions in the host
  /// that `isolation: require` accepts (docs/security.md).
  std::vector<uint64_t> trustedSites;
  std::vector<PolicyClass> classes;
  bool operator==(const Policy &) const = default;

  /// The class whose `match` equals \p programName or \p section, if any.
  const PolicyClass *findClass(llvm::StringRef programName,
                               llvm::StringRef section) const;
};

/// Parses a policy. \p fileName is used in diagnostics only.
/// \returns the policy, or an error "FILE:LINE:COL: what" for malformed
/// YAML, unknown or unsupported keys, and unknown helper names.
llvm::Expected<Policy> parsePolicy(llvm::StringRef fileName,
                                   llvm::StringRef text);

/// Canonical YAML text (round-trips through parsePolicy()).
std::string toString(const Policy &policy);

} // namespace eimc::policy

#endif // EIMC_POLICY_POLICY_H
