//===- tools/eimc/Extract.cpp - eimc extract ------------------------------===//
//
// Part of eimc. See docs/cli.md and docs/formats/manifest.md.
//
//===----------------------------------------------------------------------===//
//
// `eimc extract HOST [-o M.yaml]` prints what an annotated host offers
// extensions (its CapabilityManifest, read from DWARF); with `--derive
// --decls FILE` it builds the manifest of an unannotated host from a
// declarations file instead. The manifest can then be reviewed, stored and
// given to `eimc build --manifest`.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "eimc/Extract/Manifest.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

using namespace llvm;

namespace eimc::driver {

namespace {

struct ExtractOptions {
  std::string host;
  std::string output; ///< empty: stdout
  bool derive = false;
  std::string decls;
  std::vector<std::string> includeDirs;
  std::vector<std::string> defines;
  std::string debugRoot = "/usr/lib/debug";
};

Expected<int> runExtract(const ExtractOptions &options) {
  Expected<extract::CapabilityManifest> manifest =
      extract::CapabilityManifest();
  if (options.derive) {
    extract::DeriveOptions derive;
    derive.hostPath = options.host;
    derive.declsPath = options.decls;
    derive.clang = EIMC_CLANG;
    for (const std::string &dir : options.includeDirs)
      derive.compilerArgs.push_back("-I" + dir);
    for (const std::string &def : options.defines)
      derive.compilerArgs.push_back("-D" + def);
    manifest = extract::deriveManifest(derive);
  } else {
    manifest = extract::extractManifest(options.host, options.debugRoot);
  }
  if (!manifest)
    return manifest.takeError();
  if (*manifest == extract::CapabilityManifest())
    errs() << "warning: " << options.host
           << ": no capabilities found (no DWARF, or no eim.h or bpftime "
              "annotations in it)\n";
  std::string text = extract::toString(*manifest);
  if (options.output.empty()) {
    outs() << text;
    return ExitSuccess;
  }
  std::error_code ec;
  raw_fd_ostream os(options.output, ec, sys::fs::OF_Text);
  if (ec)
    return createFileError(options.output, ec);
  os << text;
  return ExitSuccess;
}

} // namespace

Subcommand addExtractCommand(CLI::App &app) {
  auto options = std::make_shared<ExtractOptions>();
  CLI::App *cmd = app.add_subcommand(
      "extract", "Write the capability manifest of a host (YAML)");
  cmd->add_option("host", options->host, "Host executable")->required();
  cmd->add_option("-o,--output", options->output,
                  "Manifest to write (default: stdout)");
  CLI::Option *derive = cmd->add_flag(
      "--derive", options->derive,
      "Describe an unannotated host with a declarations file (--decls)");
  cmd->add_option("--decls", options->decls,
                  "C file using eim.h's macros on the host's declarations")
      ->needs(derive)
      ->check(CLI::ExistingFile);
  derive->needs(cmd->get_option("--decls"));
  cmd->add_option("-I", options->includeDirs,
                  "Include directory for --decls (repeatable)")
      ->needs(derive);
  cmd->add_option("-D", options->defines,
                  "Macro definition for --decls (repeatable)")
      ->needs(derive);
  cmd->add_option("--debug-root", options->debugRoot,
                  "Where separate debug files live (default /usr/lib/debug)");
  return {cmd, [options] { return runExtract(*options); }};
}

} // namespace eimc::driver
