//===- rewriter/UnwindInfo.h - Unwind data for return-probed functions ----===//
//
// Part of eimc. See docs/design.md, "Unwinding through return probes".
//
//===----------------------------------------------------------------------===//
//
// While a return probe is armed, the hooked function's return address slot
// holds a trampoline. buildUnwindData() writes replacement FDEs that take
// the return address from the runtime's table instead
// (runtime-lib/include/eim_unwind_table.h), and a new .eh_frame_hdr that
// indexes every original FDE but those, for PT_GNU_EH_FRAME to point at.
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_REWRITER_UNWINDINFO_H
#define EIMC_REWRITER_UNWINDINFO_H

#include "eimc/Rewriter/Rewriter.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Object/ELFTypes.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace eimc::rewriter {

/// New unwind data, loaded at the address given to buildUnwindData():
/// the replacement CIEs and FDEs (an .eh_frame, zero-terminated) followed
/// by the .eh_frame_hdr.
struct UnwindData {
  std::vector<uint8_t> bytes;
  uint64_t ehFrameSize = 0; ///< bytes [0, ehFrameSize)
  uint64_t hdrOffset = 0;   ///< the header: [hdrOffset, bytes.size())
  /// Hooked functions whose FDE was replaced.
  std::vector<std::string> replaced;
  /// Return-probed functions left with their original FDE, with the reason
  /// (an unwind through them while armed ends at the trampoline).
  std::vector<std::string> notes;
};

/// Builds the unwind data for \p plan's return-probed functions of the
/// host \p file (with its original program headers \p phdrs), to be loaded
/// at \p address (8-byte aligned). Empty `bytes` when there is nothing to
/// replace: no return probes, no PT_GNU_EH_FRAME, or no usable FDE.
llvm::Expected<UnwindData>
buildUnwindData(llvm::ArrayRef<uint8_t> file,
                llvm::ArrayRef<llvm::object::ELF64LE::Phdr> phdrs,
                const RewritePlan &plan, uint64_t address);

/// The DWARF expression (DW_CFA_val_expression operand) that computes the
/// return address of a return-probed function from its CFA.
std::vector<uint8_t> returnAddressExpression();

} // namespace eimc::rewriter

#endif // EIMC_REWRITER_UNWINDINFO_H
