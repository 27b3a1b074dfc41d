//===- rewriter/Gates.h - ERIM-style PKRU gates -----------------*- C++ -*-===//
//
// Part of eimc. See docs/security.md.
//
//===----------------------------------------------------------------------===//
//
// The assembly of the gates that grant the extension-state protection key
// around an extension run and revoke it before host code continues, and of
// the stubs that revoke it around a host-function call from an extension
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

/// The body of the gate stub \p stub (what compiled code calls for a host
/// function, `eim_hfunc_<name>`): revoke, call the host function, grant
/// again, return. \p label prefixes its local labels. Must not be used
/// under IsolationMode::Off (calls then bind straight to the host).
std::string hostCallStub(IsolationMode mode, llvm::StringRef stub,
                         llvm::StringRef label);

/// The symbol a gate stub \p stub calls: the host function, defined as
/// absolute by addHostCallGate() through RewritePlan::hostSymbols.
std::string hostCallTarget(llvm::StringRef stub);

} // namespace eimc::rewriter

#endif
