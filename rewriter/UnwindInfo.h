//===- rewriter/UnwindInfo.h - Unwind data for return-probed functions ----===//
//
// Part of eimc. See docs/design.md, "Unwinding through return probes".
//
//===----------------------------------------------------------------------===//
//
// While a return probe is armed, the hooked function's return address slot
// holds a trampoline. buildUnwindData() writes replacement FDEs that take
// the return address from the runtime's table instead
// (runtime-lib/include/eim_unwind_table.h), FDEs for the trampolines, and
// a new .eh_frame_hdr that indexes them and every other original FDE, for
// PT_GNU_EH_FRAME to point at.
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_REWRITER_UNWINDINFO_H
#define EIMC_REWRITER_UNWINDINFO_H

#include "eimc/Rewriter/Rewriter.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Object/ELFTypes.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
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
  /// In-place edits of the host's own .eh_frame (the replaced FDEs' ranges
  /// set to 0), made only when the host has no PT_GNU_EH_FRAME: its
  /// unwinder then finds FDEs through __register_frame_info, which must
  /// miss the originals.
  struct Patch {
    uint64_t address = 0;
    std::vector<uint8_t> bytes;
  };
  std::vector<Patch> patches;
  /// The host has no PT_GNU_EH_FRAME: the writer turns a PT_NOTE it does
  /// not use otherwise into one.
  bool addsEhFrameSegment = false;
};

/// Builds the unwind data of the output of \p plan for the host \p file
/// (with its original program headers \p phdrs), to be loaded at
/// \p address (8-byte aligned): replacement FDEs for the return-probed
/// functions if \p replaceFdes (only when the start stub maps the table
/// they read: `plan.unwindTable`), FDEs for the trampolines from the .cfi
/// directives in \p trampolineObject (assembleTrampolines()) placed at
/// \p linkedSymbols, and a header indexing them with every original FDE.
/// Empty `bytes` when there is nothing to add or no header can be made.
/// Errors only for a \p trampolineObject it cannot read (a bug).
llvm::Expected<UnwindData>
buildUnwindData(llvm::ArrayRef<uint8_t> file,
                llvm::ArrayRef<llvm::object::ELF64LE::Phdr> phdrs,
                const RewritePlan &plan, uint64_t address, bool replaceFdes,
                llvm::ArrayRef<uint8_t> trampolineObject,
                const std::map<std::string, uint64_t> &linkedSymbols);

/// Assembles \p plan's trampolines (and a start stub without init calls)
/// into a relocatable object whose .eh_frame holds their unwind rules
/// (Trampolines.cpp).
llvm::Expected<std::vector<uint8_t>>
assembleTrampolines(const RewritePlan &plan);

/// Decides, before linking, which return-probed functions of \p plan get a
/// replacement FDE: sets `plan.unwindTable` if any does, and adds a warning
/// for each that keeps its original FDE (an exception or backtrace through
/// it while its probe is armed would stop at the return trampoline).
void planUnwind(const HostBinary &host, RewritePlan &plan);

/// The DWARF expression (DW_CFA_val_expression operand) that computes the
/// return address of a return-probed function from its CFA.
std::vector<uint8_t> returnAddressExpression();

} // namespace eimc::rewriter

#endif // EIMC_REWRITER_UNWINDINFO_H
