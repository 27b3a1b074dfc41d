//===- tools/eimc/eimc.cpp - The eimc command line ------------------------===//
//
// Part of eimc. See docs/cli.md.
//
//===----------------------------------------------------------------------===//
//
// main(): parses the command line with CLI11 into one options struct per
// subcommand and calls the subcommand's run function (Driver.h). Nothing
// else happens here.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "eimc/Core/Errors.h"

#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

using namespace eimc::driver;

namespace {

const std::map<std::string, FormatKind> FormatNames = {
    {"text", FormatKind::Text},
    {"json", FormatKind::Json},
    {"sarif", FormatKind::Sarif}};

void addFormat(CLI::App *cmd, FormatKind &format) {
  cmd->add_option("--format", format, "Output format: text, json or sarif")
      ->transform(CLI::CheckedTransformer(FormatNames, CLI::ignore_case));
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  CLI::App app{"eimc: ahead-of-time compiler and static rewriter for eBPF "
               "extensions of native programs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("eimc ") + EIMC_VERSION);

  BuildOptions build;
  CLI::App *buildCmd = app.add_subcommand(
      "build", "Verify, compile and link extensions into a rewritten host");
  buildCmd->add_option("host", build.host, "Host executable")->required();
  buildCmd->add_option("-e,--ext", build.extensions, "eBPF object (repeatable)")
      ->required();
  buildCmd->add_option("--policy", build.policy, "Deployment policy (YAML)")
      ->required();
  buildCmd->add_option("-o,--output", build.output, "Rewritten host to write")
      ->required();
  buildCmd->add_option("--emit", build.emit,
                       "Stop after a stage and print it")
      ->check(CLI::IsMember({"spec", "ir", "asm", "obj", "plan"}));
  addFormat(buildCmd, build.format);

  VerifyOptions verify;
  CLI::App *verifyCmd = app.add_subcommand(
      "verify", "Check extensions against a policy without building");
  verifyCmd->add_option("host", verify.host, "Host executable")->required();
  verifyCmd->add_option("-e,--ext", verify.extensions, "eBPF object")
      ->required();
  verifyCmd->add_option("--policy", verify.policy, "Deployment policy")
      ->required();
  addFormat(verifyCmd, verify.format);

  EventsOptions events;
  double duration = 0;
  uint64_t count = 0;
  CLI::App *eventsCmd = app.add_subcommand(
      "events", "Print event records of a running rewritten process");
  eventsCmd->add_option("pid", events.pid, "Process id")->required();
  CLI::Option *btf =
      eventsCmd->add_option("--btf", events.btfFile, "ELF file with .BTF");
  eventsCmd->add_option("--type", events.typeName, "BTF type of a record")
      ->needs(btf);
  eventsCmd->add_option("--map", events.map, "Only this map");
  CLI::Option *countOpt =
      eventsCmd->add_option("--count", count, "Stop after N records");
  eventsCmd->add_option("--duration", duration, "Stop after S seconds")
      ->excludes(countOpt);
  addFormat(eventsCmd, events.format);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    if (e.get_exit_code() == 0)
      return app.exit(e);
    llvm::errs() << "error: " << e.what() << "\n";
    return ExitUsage;
  }
  if (btf->count() && events.typeName.empty()) {
    llvm::errs() << "error: " << "--btf needs --type\n";
    return ExitUsage;
  }
  if (eventsCmd->count("--count"))
    events.count = count;
  if (eventsCmd->count("--duration"))
    events.duration = duration;

  llvm::Expected<int> rc = ExitUsage;
  if (*buildCmd)
    rc = runBuild(build);
  else if (*verifyCmd)
    rc = runVerify(verify);
  else if (*eventsCmd)
    rc = runEvents(events);
  if (!rc)
    return reportError(rc.takeError());
  return *rc;
}
