//===- eim-extract/ExtractInternal.h - Shared extraction pieces -*- C++ -*-===//
//
// Part of eimc. Private to the eimcExtract library.
//
//===----------------------------------------------------------------------===//
//
// The two ways to a manifest (a host's own DWARF, a compiled declarations
// file) share the DWARF reader and the symbol binding.
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_EIM_EXTRACT_EXTRACTINTERNAL_H
#define EIMC_EIM_EXTRACT_EXTRACTINTERNAL_H

#include "eimc/Extract/Manifest.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/DebugInfo/DWARF/DWARFContext.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/MemoryBuffer.h"

namespace eimc::extract {

/// A host and the object holding its DWARF: the host itself, or the
/// separate debug file found by build-id or `.gnu_debuglink`.
struct HostDwarf {
  std::unique_ptr<llvm::MemoryBuffer> hostBuffer;
  std::unique_ptr<llvm::object::ObjectFile> host;
  std::unique_ptr<llvm::MemoryBuffer> debugBuffer;
  std::unique_ptr<llvm::object::ObjectFile> debug; ///< null: none used
  /// \returns the object with `.debug_info`, or null if there is none.
  const llvm::object::ObjectFile *dwarfObject() const;
};

/// Opens \p hostPath and finds its DWARF (in the host, else the build-id
/// file under \p debugRoot, else the debuglink beside the host, in
/// `.debug/` and under \p debugRoot). \returns an error if the host cannot
/// be read or is not x86-64 ELF; a host without DWARF is not an error.
llvm::Expected<HostDwarf> openHostDwarf(llvm::StringRef hostPath,
                                        llvm::StringRef debugRoot);

/// Reads every eim.h record and bpftime-convention capability in \p dwarf
/// into a sorted, de-duplicated manifest. \p what names the input in errors.
llvm::Expected<CapabilityManifest> readAnnotations(llvm::DWARFContext &dwarf,
                                                   llvm::StringRef what);

/// Adds the names of \p obj's symbols (`.symtab` and `.dynsym`, or only
/// `.dynsym` when \p dynamicOnly) to \p names.
void collectSymbols(const llvm::object::ObjectFile &obj, bool dynamicOnly,
                    llvm::StringSet<> &names);

/// Checks that every function, entry and global state of \p manifest has a
/// symbol in \p names. \p table names the symbol table in errors.
llvm::Error bindSymbols(const CapabilityManifest &manifest,
                        const llvm::StringSet<> &names, llvm::StringRef host,
                        llvm::StringRef table);

} // namespace eimc::extract

#endif // EIMC_EIM_EXTRACT_EXTRACTINTERNAL_H
