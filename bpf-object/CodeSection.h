//===- bpf-object/CodeSection.h - One executable ELF section ----*- C++ -*-===//
//
// Part of eimc. See eimc/BpfObject/BpfObject.h.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The object reader works in two steps: it first decodes and fixes up each
/// executable ELF section as a whole (relocations, CO-RE, line info are all
/// keyed by section offset), then cuts programs out of the sections and
/// appends `.text` subprograms. CodeSection is the state between the two
/// steps; it is private to bpf-object/.
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_BPFOBJECT_CODESECTION_H
#define EIMC_BPFOBJECT_CODESECTION_H

#include "BtfTypes.h"

#include "eimc/BpfObject/BpfObject.h"

#include "llvm/Support/Error.h"

#include <map>
#include <string>
#include <vector>

namespace llvm {
class BTFParser;
} // namespace llvm

namespace eimc::bpfobject {

/// An executable section decoded with section-relative slots.
struct CodeSection {
  std::string name;      ///< e.g. "uretprobe/readline" or ".text"
  uint64_t elfIndex = 0; ///< ELF section index (BTFParser's key)
  std::vector<bpf::SlotInsn> insns;
  /// Calls relocated into `.text`: call slot → callee slot in `.text`.
  std::map<uint32_t, uint32_t> textCalls;
  /// Slots using something eimc refuses for now (global data, externs,
  /// callbacks): slot → refusal message; an error only in a program that
  /// contains the slot.
  std::map<uint32_t, std::string> refusals;
  /// Slot of a call to an extern function -> its name: a host function
  /// call (B3), checked against the manifest by the verifier.
  std::map<uint32_t, std::string> externCalls;
  /// Slot of an LDDW of an extern variable -> its name: a host global
  /// (B3), checked against the manifest by the verifier.
  std::map<uint32_t, std::string> externVars;
  /// Line info from .BTF.ext, by section slot.
  std::map<uint32_t, SourceLine> lines;

  /// \returns the index in \c insns of the instruction at \p slot, or -1.
  int indexOfSlot(uint32_t slot) const;
};

/// Reads BTF-defined maps from the `.maps` DATASEC of \p btf.
llvm::Expected<std::vector<MapDef>> readBtfMaps(const BtfTypes &btf);

/// Fixes up the DATASEC named \p section in the raw .BTF bytes \p btf as
/// libbpf does: size \p size, each variable's offset from \p symbolOffsets
/// (ELF symbol values in that section, by name). Appends the placed
/// variables to \p variables, sorted by offset.
/// \returns the DATASEC's type id; nullopt without BTF or DATASEC; an
/// error for malformed BTF or a variable outside the section.
llvm::Expected<std::optional<uint32_t>>
fixupDatasec(std::vector<uint8_t> &btf, llvm::StringRef section,
             uint32_t size,
             const std::map<std::string, uint32_t> &symbolOffsets,
             std::vector<DataVariable> &variables);

/// Applies every CO-RE relocation recorded for \p section in \p ext,
/// resolving against eimc's embedded target BTF \p target, or, for a root
/// type that has none there, against the host's types \p host (may be
/// null). Unresolvable relocations poison their instruction (bpf::Poison).
llvm::Error applyCoreRelocations(CodeSection &section, const BtfTypes &local,
                                 const BtfTypes &target, const BtfTypes *host,
                                 const llvm::BTFParser &ext);

/// Loads eimc's target BTF (the contexts trampolines build), embedded at
/// build time from bpf-object/target/TargetTypes.c.
llvm::Expected<BtfTypes> loadTargetBtf();

} // namespace eimc::bpfobject

#endif // EIMC_BPFOBJECT_CODESECTION_H
