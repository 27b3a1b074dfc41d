//===- eim-extract/PolicyBinding.cpp - A policy's grants vs a manifest ----===//
//
// Part of eimc. See eimc/Extract/Manifest.h, docs/formats/policy.md and
// docs/formats/manifest.md.
//
//===----------------------------------------------------------------------===//
//
// Entry point: bindPolicy(). An operator may grant only what the host
// offers: entries, host functions and state by their capability names, a
// state's write access only if the host offers write, argument constraints
// only as tight as or tighter than the host's own (`eq: 403` inside a host
// range [100, 599]), and a return override only for an entry that returns
// a value.
//
// Host functions and state cannot be used by extensions before the safety
// verifier (issue B2/B3); until then a grant only widens what is allowed,
// so checking it here is complete for now. `instructions` restricts, and is
// the verifier's.
//
// What it does not do: look at extensions.
//
//===----------------------------------------------------------------------===//

#include "eimc/Core/Errors.h"
#include "eimc/Extract/Manifest.h"

#include "llvm/ADT/STLExtras.h"

using namespace llvm;

namespace eimc::extract {

namespace {

std::string where(const policy::SourceLoc &loc) {
  return loc.file + ":" + std::to_string(loc.line) + ":" +
         std::to_string(loc.column);
}

Error refuse(const policy::SourceLoc &loc, const Twine &msg,
             std::vector<std::string> context = {}) {
  return makeRefusal(where(loc) + ": " + msg.str(), std::move(context));
}

/// The names the manifest offers, for "did you mean".
template <typename T>
std::string suggestion(StringRef name, const std::vector<T> &offered) {
  std::string hint;
  unsigned best = 3;
  for (const T &item : offered) {
    unsigned d = name.edit_distance(item.name, true, best);
    if (d < best) {
      best = d;
      hint = "; did you mean '" + item.name + "'?";
    }
  }
  return hint;
}

/// Whether [low, high] lies within what the host's constraints on the same
/// argument allow (no host constraint: anything).
bool withinHost(const HostFunction &fn, const policy::ArgConstraintGrant &c) {
  for (const Constraint &host : fn.constraints) {
    bool isArg = host.kind == ConstraintKind::ArgEq ||
                 host.kind == ConstraintKind::ArgRange;
    if (isArg && host.arg == c.arg && (c.low < host.low || c.high > host.high))
      return false;
  }
  return true;
}

Error checkFunction(const policy::HostFunctionGrant &grant,
                    const CapabilityManifest &manifest) {
  const HostFunction *fn = manifest.findFunction(grant.name);
  if (!fn)
    return refuse(grant.loc, "host function '" + grant.name +
                                 "' is not offered by the manifest" +
                                 suggestion(grant.name, manifest.functions));
  for (const policy::ArgConstraintGrant &c : grant.constraints) {
    if (c.arg > fn->prototype.params.size())
      return refuse(c.loc, "'" + grant.name + "' has " +
                               Twine(fn->prototype.params.size()) +
                               " parameters; no argument " + Twine(c.arg));
    if (!withinHost(*fn, c)) {
      std::vector<std::string> context;
      for (const Constraint &host : fn->constraints)
        context.push_back("the manifest constrains '" + grant.name +
                          "': " + host.str());
      return refuse(c.loc, "constraint on argument " + Twine(c.arg) +
                               " of '" + grant.name +
                               "' is wider than the manifest's",
                    std::move(context));
    }
  }
  return Error::success();
}

Error checkState(const policy::StateGrant &grant,
                 const CapabilityManifest &manifest) {
  const StateCapability *state = manifest.findState(grant.name);
  if (!state)
    return refuse(grant.loc, "state '" + grant.name +
                                 "' is not offered by the manifest" +
                                 suggestion(grant.name, manifest.states));
  if (grant.write && state->access != AccessKind::Write)
    return refuse(grant.loc, "state '" + grant.name +
                                 "' is offered read-only; the policy grants "
                                 "write");
  return Error::success();
}

/// Resolves the class's entry to the hooked function's symbol.
Error bindEntry(policy::PolicyClass &cls, const CapabilityManifest &manifest) {
  if (manifest.entries.empty()) {
    if (!cls.returnOverride.empty())
      return refuse(cls.returnOverrideLoc,
                    "'return_override' needs the entry's prototype; the "
                    "manifest lists no entries");
    return Error::success();
  }
  const ExtensionEntry *entry = manifest.findEntry(cls.entry);
  if (!entry)
    return refuse(cls.entryLoc, "entry '" + cls.entry +
                                    "' is not offered by the manifest" +
                                    suggestion(cls.entry, manifest.entries));
  if (!cls.returnOverride.empty() && entry->prototype.returns == "void")
    return refuse(cls.returnOverrideLoc,
                  "entry '" + cls.entry + "' returns void; nothing to "
                                          "override");
  cls.entry = entry->function;
  return Error::success();
}

} // namespace

Expected<policy::Policy> bindPolicy(const policy::Policy &policy,
                                    const CapabilityManifest &manifest) {
  policy::Policy bound = policy;
  for (policy::PolicyClass &cls : bound.classes) {
    for (const policy::HostFunctionGrant &grant : cls.hostFunctions)
      if (Error e = checkFunction(grant, manifest))
        return std::move(e);
    for (const policy::StateGrant &grant : cls.state)
      if (Error e = checkState(grant, manifest))
        return std::move(e);
    if (Error e = bindEntry(cls, manifest))
      return std::move(e);
  }
  return bound;
}

} // namespace eimc::extract
