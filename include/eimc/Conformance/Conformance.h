//===- eimc/Conformance/Conformance.h - ISA conformance vectors -*- C++ -*-===//
//
// Part of eimc. See docs/conformance.md.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Runs bpf_conformance test vectors (`.data` files) through eimc's own
/// pipeline and executes the native code they compile to. Three steps, each
/// usable alone:
///
///  - parseVector(): the `.data` text format (sections `-- asm`, `-- raw`,
///    `-- mem`, `-- result`, `-- error`; `-- c` and `-- no register
///    offset` are documentation and kept only as text);
///  - assemble(): the uBPF assembler dialect those files use
///    (`mov32 %r0, 1`, `ldxdw %r1, [%r10-8]`, `lock fetch add [%r10-8],
///    %r1`, `call local f`, labels) to eBPF bytecode;
///  - buildVector() / runVector(): bytecode → ExtensionSpec →
///    verifier::verifyStructuralOnly → compiler::compile (conformance
///    helpers) → linker::link, then the image is mapped at its link address
///    in a forked child and called with r1 = a copy of the memory, r2 = its
///    length. A crash or a hang in the child is a failed vector, never a
///    lost run.
///
/// Nothing here knows the vectors' expectations beyond the file: the
/// runner skips a vector only by an explicit name list (SkipList).
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_CONFORMANCE_CONFORMANCE_H
#define EIMC_CONFORMANCE_CONFORMANCE_H

#include "eimc/Linker/Linker.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace eimc::conformance {

/// One `.data` file.
struct TestVector {
  std::string name;        ///< file name, for diagnostics ("lddw.data")
  std::string asmText;     ///< the `-- asm` section, verbatim
  unsigned asmFirstLine = 0; ///< 1-based file line of asmText's first line
  /// The `-- raw` section as bytecode (each line one little-endian 64-bit
  /// instruction word), if present.
  std::optional<std::vector<uint8_t>> raw;
  std::vector<uint8_t> memory;   ///< `-- mem`; empty if absent
  std::optional<uint64_t> result; ///< `-- result`: expected 64-bit r0
  std::optional<std::string> error; ///< `-- error`: expected failure text
};

/// Parses the text of a `.data` file. `#` starts a comment everywhere.
/// \returns an error naming \p name and the line for an unknown section,
/// a bad hex byte in `-- mem`, a bad number in `-- result` or `-- raw`, or
/// a file with neither `-- asm` nor `-- raw`.
llvm::Expected<TestVector> parseVector(llvm::StringRef name,
                                       llvm::StringRef text);

/// Assembles uBPF-dialect assembly to bytecode (RFC 9669 encoding).
/// Diagnostics read `FILE:LINE: message`, with \p fileName and
/// \p firstLine locating \p source in its file. A jump to `exit` that is
/// not a label goes to the next `exit` instruction (the dialect's rule).
/// \returns the bytecode, or an error for an unknown mnemonic, a bad
/// operand, an undefined label or an out-of-range offset.
llvm::Expected<std::vector<uint8_t>> assemble(llvm::StringRef source,
                                              llvm::StringRef fileName,
                                              unsigned firstLine = 1);

/// The program of \p vector: assembled from `-- asm`; when `-- raw` is
/// also present, both must encode the same bytes.
llvm::Expected<std::vector<uint8_t>> vectorProgram(const TestVector &vector);

/// The program symbol every vector compiles to.
std::string entrySymbol();

/// Where vectors are linked and mapped in the child: page-aligned,
/// far from anything the runner's own process maps.
constexpr uint64_t ImageAddress = 0x200000000000ull;

/// A linked program ready to run: the image, the symbol to call with
/// (mem, len), and the `void f(void)` functions to call first (the
/// runtime's start-up and the maps initializer, for objects with maps).
struct Runnable {
  linker::LinkedExtension image;
  std::string entry;
  std::vector<std::string> initSymbols;
};

/// What a run left behind.
struct Execution {
  uint64_t r0 = 0;
  std::vector<uint8_t> memory; ///< the input copy after the run
};

/// Compiles \p code through eimc's pipeline (spec, structural verification
/// with conformance helpers, compile, link at ImageAddress).
/// \returns the linked image, or the first stage's error (a verifier
/// rejection is an error here, with the report's diagnostics).
llvm::Expected<Runnable> buildVector(llvm::StringRef name,
                                     llvm::ArrayRef<uint8_t> code);

/// x86-64 assembly of \p code as compiled (for --emit=asm).
llvm::Expected<std::string> emitAsm(llvm::StringRef name,
                                    llvm::ArrayRef<uint8_t> code);

/// Maps \p run's image in a forked child at its link address, calls its
/// init functions, then its entry with a private copy of \p memory and its
/// length. \p timeoutSeconds bounds a hang. The child's shared-state file
/// (/dev/shm/eimc-<pid>.state, created by the runtime's start-up) is
/// removed after it exits.
/// \returns r0 and the final memory, or an error describing how the child
/// failed (a signal, a timeout, a mapping failure).
llvm::Expected<Execution> execute(const Runnable &run,
                                  llvm::ArrayRef<uint8_t> memory,
                                  unsigned timeoutSeconds = 10);

/// Builds program \p program of the eBPF ELF object \p elf the way
/// `eimc build` would (readObject, structural verification, compile),
/// linked with the runtime, for execute(): the conformance ABI (r1 = mem,
/// r2 = len) instead of a hook. For our own clang-built programs.
llvm::Expected<Runnable> buildObject(llvm::StringRef name,
                                     llvm::ArrayRef<uint8_t> elf,
                                     llvm::StringRef program);

enum class OutcomeKind : uint8_t { Pass, Fail, Skip };

/// What became of one vector, with a one-line reason unless it passed.
struct Outcome {
  OutcomeKind kind = OutcomeKind::Fail;
  std::string message;
};

/// A vector eimc does not run, and why.
struct SkipEntry {
  llvm::StringRef fileName;
  llvm::StringRef reason;
};

/// Vectors skipped by name: only `callx.data` (CALLX is not in RFC 9669;
/// the reference runner leaves its group off by default).
llvm::ArrayRef<SkipEntry> skipList();

/// Parses, assembles, builds and executes the file \p text and compares
/// r0 with `-- result` (or the failure with `-- error`).
Outcome runVector(llvm::StringRef fileName, llvm::StringRef text,
                  unsigned timeoutSeconds = 10);

} // namespace eimc::conformance

#endif // EIMC_CONFORMANCE_CONFORMANCE_H
