//===- verifier/Capabilities.h - Host capabilities of a program -*- C++ -*-===//
//
// Part of eimc. Private to the verifier library. See docs/capabilities.md.
//
//===----------------------------------------------------------------------===//
//
// The EIM capability check's entry point, called by verify() for each
// program that passed the structural checks: typed entry arguments, host
// state, host-function calls and return override, checked against the
// manifest (what the host offers) and the program's policy class (what the
// operator grants).
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_VERIFIER_CAPABILITIES_H
#define EIMC_VERIFIER_CAPABILITIES_H

#include "eimc/Verifier/Verifier.h"

namespace eimc::verifier {

/// bpf_override_return: the hooked function returns r2 without running.
constexpr uint32_t OverrideReturnHelper = 58;

/// Checks every use of a host capability in \p prog (structurally sound)
/// under \p cls; \p manifest may be null (the host offers nothing). For a
/// typed entry (isTypedEntry()) it also proves every memory access: the
/// arguments, granted state within its bounds, and the program's stack,
/// including the stack memory helpers read and fill; anything else is
/// refused. Appends a diagnostic per violation (and a warning per read of
/// possibly unwritten stack in a typed entry).
/// \returns for a typed entry, the 8-byte stack slots (offsets from r10)
/// some path may read before writing: the compiler zeroes them
/// (Program::zeroStackSlots); empty for other programs.
std::vector<int32_t> verifyCapabilities(
    const bpfobject::ExtensionSpec &spec, const bpfobject::Program &prog,
    const policy::PolicyClass &cls, const extract::CapabilityManifest *manifest,
    std::vector<Diagnostic> &diags);

} // namespace eimc::verifier

#endif // EIMC_VERIFIER_CAPABILITIES_H
