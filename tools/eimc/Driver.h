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

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace eimc::driver {

enum class FormatKind { Text, Json, Sarif };

/// Exit codes (docs/cli.md).
enum ExitCode : int { ExitSuccess = 0, ExitRefused = 1, ExitUsage = 2 };

/// What `eimc verify` reads, and the front half of `eimc build`.
struct VerifyOptions {
  std::string host;
  std::vector<std::string> extensions;
  std::string policy;
  /// `--verifier=structural|safety` (docs/verifier.md).
  std::string verifier = "safety";
  FormatKind format = FormatKind::Text;
  /// Stored manifest (`--manifest`); empty: extract it from the host.
  std::string manifest;
  /// `--attach PROG=SYMBOL`: hook kprobe/kretprobe program PROG at SYMBOL.
  std::vector<std::string> attach;
  /// `--program NAME` (only these are built) and `--skip NAME`.
  std::vector<std::string> programs;
  std::vector<std::string> skip;
  /// `--set NAME=VALUE`: `const volatile` variables of `.rodata`.
  std::vector<std::string> set;
};

struct BuildOptions : VerifyOptions {
  std::string output;
  /// Stop after a stage and print it: "", "manifest", "spec", "ir", "asm",
  /// "obj" (the relocatable object, to stdout), "plan".
  std::string emit;
};

/// `eimc build`: the whole pipeline. Returns the exit code for refusals
/// reported as data (verification), or an Error.
llvm::Expected<int> runBuild(const BuildOptions &options);

/// `eimc verify`: object reading, policy and verification only.
llvm::Expected<int> runVerify(const VerifyOptions &options);

struct EventsOptions {
  int pid = 0;
  std::string btfFile;  ///< ELF with .BTF holding typeName
  std::string typeName;
  std::string map;      ///< empty: every PERF_EVENT_ARRAY and RINGBUF map
  bool trace = false;   ///< print bpf_trace_printk lines instead
  std::optional<uint64_t> count;
  std::optional<double> duration; ///< seconds
  FormatKind format = FormatKind::Text;
};

/// `eimc events PID`: prints records as they arrive.
llvm::Expected<int> runEvents(const EventsOptions &options);

/// A registered subcommand: its CLI11 node and what to run when it was
/// chosen. Each subcommand's file defines one add...Command() that declares
/// its options (owned by the closure) and returns this, so adding a
/// subcommand touches its own file and one line of eimc.cpp.
struct Subcommand {
  CLI::App *app = nullptr;
  std::function<llvm::Expected<int>()> run;
};

Subcommand addBuildCommand(CLI::App &app);
Subcommand addVerifyCommand(CLI::App &app);
Subcommand addEventsCommand(CLI::App &app);
Subcommand addExtractCommand(CLI::App &app);
Subcommand addInspectCommand(CLI::App &app);
Subcommand addRestoreCommand(CLI::App &app);
Subcommand addMapsCommand(CLI::App &app);

/// Adds `--format=text|json|sarif` to \p cmd.
void addFormatOption(CLI::App *cmd, FormatKind &format);

/// Reads a whole file; errors name the file.
llvm::Expected<std::vector<uint8_t>> readFileBytes(llvm::StringRef path);

/// Prints \p err as `error: ...` (+ `>>>` lines) and returns its exit code.
int reportError(llvm::Error err);

} // namespace eimc::driver

#endif // EIMC_TOOLS_EIMC_DRIVER_H
