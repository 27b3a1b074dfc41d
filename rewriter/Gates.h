//===- rewriter/Gates.h - ERIM-style PKRU gates -----------------*- C++ -*-===//
//
// Part of eimc. See docs/security.md.
//
//===----------------------------------------------------------------------===//
//
// The assembly of the gates that grant the extension-state protection key
// around an extension run and revoke it before host code continues
// (Gates.cpp). Trampolines.cpp places them; PkruScan.cpp recognises them.
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_REWRITER_GATES_H
#define EIMC_REWRITER_GATES_H

#include "eimc/Rewriter/Rewriter.h"

#include "llvm/ADT/StringRef.h"

#include <string>

namespace eimc::rewriter {

/// Lines of assembly that grant access to the key; \p label names a local
/// label unique to this gate. Empty under IsolationMode::Off.
std::string openGate(IsolationMode mode, llvm::StringRef label);

/// Lines of assembly that revoke access and check the revocation (looping
/// until PKRU says it is revoked). Empty under IsolationMode::Off.
std::string closeGate(IsolationMode mode, llvm::StringRef label);

} // namespace eimc::rewriter

#endif
