//===- tools/eimc-rewrite/Sweep.h - Planning every .dynsym function -------===//
//
// Part of eimc. See eimc/Rewriter/Rewriter.h.
//
//===----------------------------------------------------------------------===//
//
// `eimc-rewrite HOST --sweep`: plans an entry hook on every function the
// host's .dynsym defines, each on its own, and prints the outcome. It only
// plans: nothing is assembled, linked or written.
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_TOOLS_EIMC_REWRITE_SWEEP_H
#define EIMC_TOOLS_EIMC_REWRITE_SWEEP_H

#include "eimc/Rewriter/Rewriter.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace eimc {

/// Prints one line per .dynsym function of \p host (`hooked SYM STOLEN` or
/// `refused SYM: MESSAGE`), then the totals and the refusals counted by
/// reason. \returns an error if planning failed other than by refusing.
llvm::Error printSweep(const rewriter::HostBinary &host, llvm::raw_ostream &os);

} // namespace eimc

#endif // EIMC_TOOLS_EIMC_REWRITE_SWEEP_H
