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
/// (structurally sound) under \p cls; appends a diagnostic per violation
/// (and a warning per read of possibly unwritten stack).
/// \returns the 8-byte stack slots (offsets from r10) some path may read
/// before writing: the compiler zeroes them (Program::zeroStackSlots).
std::vector<int32_t> verifySafety(const bpfobject::ExtensionSpec &spec,
                  const bpfobject::Program &prog,
                  const policy::PolicyClass &cls,
                  std::vector<Diagnostic> &diags);

} // namespace eimc::verifier

#endif // EIMC_VERIFIER_SAFETY_H
