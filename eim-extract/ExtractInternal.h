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

namespace eimc::extract {

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
