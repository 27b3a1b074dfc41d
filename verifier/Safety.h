//===- verifier/Safety.h - Memory safety and termination --------*- C++ -*-===//
//
// Part of eimc. Private to the verifier library. See docs/verifier.md.
//
//===----------------------------------------------------------------------===//
//
// The safety verifier's entry point, called by verify() in safety mode for
// each program that passed the structural checks.
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_VERIFIER_SAFETY_H
#define EIMC_VERIFIER_SAFETY_H

#include "eimc/Verifier/Verifier.h"

namespace eimc::verifier {

/// Proves memory safety and a bound on executed instructions for \p prog
/// (structurally sound) under \p cls; appends a diagnostic per violation.
void verifySafety(const bpfobject::ExtensionSpec &spec,
                  const bpfobject::Program &prog,
                  const policy::PolicyClass &cls,
                  std::vector<Diagnostic> &diags);

} // namespace eimc::verifier

#endif // EIMC_VERIFIER_SAFETY_H
