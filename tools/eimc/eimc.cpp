//===- tools/eimc/eimc.cpp - The eimc command line ------------------------===//
//
// Part of eimc. See docs/cli.md.
//
//===----------------------------------------------------------------------===//
//
// main(): registers each subcommand (defined in its own file, see
// Driver.h), lets CLI11 parse the command line, and runs the chosen one.
// Usage errors exit 2 with one `error:` line; everything else is the
// subcommand's.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

using namespace eimc::driver;

void eimc::driver::addFormatOption(CLI::App *cmd, FormatKind &format) {
  static const std::map<std::string, FormatKind> names = {
      {"text", FormatKind::Text},
      {"json", FormatKind::Json},
      {"sarif", FormatKind::Sarif}};
  cmd->add_option("--format", format, "Output format: text, json or sarif")
      ->transform(CLI::CheckedTransformer(names, CLI::ignore_case));
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  CLI::App app{"eimc: ahead-of-time compiler and static rewriter for eBPF "
               "extensions of native programs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("eimc ") + EIMC_VERSION);

  std::vector<Subcommand> commands = {
      addBuildCommand(app),
      addVerifyCommand(app),
      addEventsCommand(app),
      addExtractCommand(app),
      addInspectCommand(app),
      addRestoreCommand(app),
      addMapsCommand(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    if (e.get_exit_code() == 0)
      return app.exit(e);
    llvm::errs() << "error: " << e.what() << "\n";
    return ExitUsage;
  }
  for (Subcommand &cmd : commands) {
    if (!cmd.app->parsed())
      continue;
    llvm::Expected<int> rc = cmd.run();
    if (!rc)
      return reportError(rc.takeError());
    return *rc;
  }
  return ExitUsage;
}
