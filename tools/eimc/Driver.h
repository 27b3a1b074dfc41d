//===- tools/eimc/Driver.h - Shared pieces of the eimc driver ---*- C++ -*-===//
//
// Part of eimc. See docs/cli.md.
//
//===----------------------------------------------------------------------===//
//
// The driver is thin: each subcommand fills an options struct from the
// command line and calls one function that runs library stages in order.
// Errors travel as llvm::Error up to main(), which prints them in the one
// diagnostic form and picks the exit code (0 success, 1 refused, 2 usage or
// malformed input).
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_TOOLS_EIMC_DRIVER_H
#define EIMC_TOOLS_EIMC_DRIVER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace eimc::driver {

enum class FormatKind { Text, Json, Sarif };

/// Exit codes (docs/cli.md).
enum ExitCode : int { ExitSuccess = 0, ExitRefused = 1, ExitUsage = 2 };

struct BuildOptions {
  std::string host;
  std::vector<std::string> extensions;
  std::string policy;
  std::string output;
  /// Stop after a stage and print it: "", "spec", "ir", "asm", "obj"
  /// (the relocatable object, to stdout), "plan".
  std::string emit;
  FormatKind format = FormatKind::Text;
};

/// `eimc build`: the whole pipeline. Returns the exit code for refusals
/// reported as data (verification), or an Error.
llvm::Expected<int> runBuild(const BuildOptions &options);

struct VerifyOptions {
  std::string host;
  std::vector<std::string> extensions;
  std::string policy;
  FormatKind format = FormatKind::Text;
};

/// `eimc verify`: object reading, policy and verification only.
llvm::Expected<int> runVerify(const VerifyOptions &options);

struct EventsOptions {
  int pid = 0;
  std::string btfFile;  ///< ELF with .BTF holding typeName
  std::string typeName;
  std::string map;      ///< empty: every PERF_EVENT_ARRAY map
  std::optional<uint64_t> count;
  std::optional<double> duration; ///< seconds
  FormatKind format = FormatKind::Text;
};

/// `eimc events PID`: prints records as they arrive.
llvm::Expected<int> runEvents(const EventsOptions &options);

/// Reads a whole file; errors name the file.
llvm::Expected<std::vector<uint8_t>> readFileBytes(llvm::StringRef path);

/// Prints \p err as `error: ...` (+ `>>>` lines) and returns its exit code.
int reportError(llvm::Error err);

} // namespace eimc::driver

#endif // EIMC_TOOLS_EIMC_DRIVER_H
