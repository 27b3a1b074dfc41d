//===- verifier/VerifierInternal.h - Shared verifier internals --*- C++ -*-===//
//
// Part of eimc. Private to the verifier library.
//
//===----------------------------------------------------------------------===//
//
// VerifierAccess is the one friend of VerifiedExtension and
// VerificationReport: only code in this library can declare an extension
// verified (style R6).
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_VERIFIER_VERIFIERINTERNAL_H
#define EIMC_VERIFIER_VERIFIERINTERNAL_H

#include "eimc/Verifier/Verifier.h"

namespace eimc::verifier {

class VerifierAccess {
public:
  static void addDiagnostic(VerificationReport &r, Diagnostic d) {
    r.Diags.push_back(std::move(d));
  }
  static void accept(VerificationReport &r, bpfobject::ExtensionSpec spec,
                     std::vector<size_t> programs) {
    r.Extension.emplace(VerifiedExtension(std::move(spec), std::move(programs)));
  }
};

/// Rewrites every conditional jump of \p prog whose outcome frozen
/// `.rodata` decides on all paths into a `ja` (ConstantBranches.cpp), so
/// the code behind it becomes unreachable. \p prog must belong to \p spec.
void foldConstantBranches(const bpfobject::ExtensionSpec &spec,
                          bpfobject::Program &prog);

/// The source line of \p slot: .BTF.ext records line info at the first
/// instruction of each line, so the nearest record at or before it.
std::optional<bpfobject::SourceLine> sourceFor(const bpfobject::Program &prog,
                                               uint32_t slot);

/// An error of \p prog in \p spec at instruction \p index (its slot,
/// source line, and its text as the first line of \p context), or of the
/// whole program when \p index is empty. The one shape every pass reports.
Diagnostic diagnosticAt(const bpfobject::ExtensionSpec &spec,
                        const bpfobject::Program &prog,
                        std::optional<size_t> index, llvm::StringRef rule,
                        const llvm::Twine &msg,
                        std::vector<std::string> context);

} // namespace eimc::verifier

#endif // EIMC_VERIFIER_VERIFIERINTERNAL_H
