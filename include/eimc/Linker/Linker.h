//===- eimc/Linker/Linker.h - Linking native code into one blob -*- C++ -*-===//
//
// Part of eimc. See docs/design.md.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The linker runs lld in-process to link compiled programs, trampolines and
/// the embedded runtime library into one image at the addresses the
/// rewriter reserved. Host symbols the inputs reference (hooked functions'
/// resume points, the host's original entry) are given as absolute
/// addresses; since the image is linked at its own host-relative address and
/// every reference is PC-relative, the result is correct at any load base
/// of a PIE host.
///
/// Layout: writable state (`.bss` of every input) at \c stateAddress,
/// then code and read-only data at the first page after it plus a guard
/// page. Inputs must not have initialized writable data (`.data`), and no
/// relocation may be absolute: both are reported as errors naming the
/// input and symbol.
///
/// lld may write to a private temporary directory, removed on success and
/// failure.
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_LINKER_LINKER_H
#define EIMC_LINKER_LINKER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace eimc::linker {

/// One relocatable x86-64 ELF object to link.
struct LinkInput {
  std::string name; ///< for diagnostics ("bashreadline.bpf.o (native)")
  std::vector<uint8_t> elf;
};

struct LinkRequest {
  std::vector<LinkInput> inputs;
  /// Host-relative address of the first state page (page aligned).
  uint64_t stateAddress = 0;
  /// Symbols defined outside the blob, as host-relative addresses.
  std::map<std::string, uint64_t> absoluteSymbols;
  /// Symbols that must be defined by the inputs (kept even if unused).
  std::vector<std::string> roots;
};

/// The linked image: two ranges at fixed host-relative addresses.
struct LinkedExtension {
  uint64_t stateAddress = 0; ///< page aligned
  uint64_t stateSize = 0;    ///< page multiple; zero-filled at load
  uint64_t codeAddress = 0;  ///< page aligned, after state + guard page
  std::vector<uint8_t> code; ///< code + read-only data, padded with 0xCC
  /// Every global function and object symbol of the image.
  std::map<std::string, uint64_t> symbols;
  /// Sizes of the symbols above where known (for .symtab).
  std::map<std::string, uint64_t> symbolSizes;
};

/// The embedded runtime library (runtime-lib), an x86-64 relocatable
/// object compiled freestanding when eimc was built.
llvm::ArrayRef<uint8_t> runtimeObject();

/// Links \p request with lld.
/// \returns the image, or an error (undefined symbol, absolute relocation,
/// writable initialized data, lld failure with its messages).
llvm::Expected<LinkedExtension> link(const LinkRequest &request);

} // namespace eimc::linker

#endif // EIMC_LINKER_LINKER_H
