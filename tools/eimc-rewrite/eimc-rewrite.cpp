//===- tools/eimc-rewrite/eimc-rewrite.cpp - The rewriter alone -----------===//
//
// Part of eimc. See eimc/Rewriter/Rewriter.h.
//
//===----------------------------------------------------------------------===//
//
// Runs the rewriter stage on its own: hooks host functions with native
// x86-64 objects that are already compiled (no eBPF, no verifier), links
// them with the trampolines and the embedded runtime, and writes the
// output. `--emit=plan|asm|obj` stops after planning, after writing the
// trampoline assembly, or after assembling it. `--sweep` plans a hook on
// every .dynsym function alone and prints what is hooked and what is
// refused, and why (Sweep.cpp). Used by tests/lit/rewriter.
//
//   eimc-rewrite HOST --hook SYM:entry=PROG,return=PROG [-e OBJ]... -o OUT
//   eimc-rewrite HOST --sweep
//
//===----------------------------------------------------------------------===//

#include "Sweep.h"

#include "eimc/Core/Errors.h"
#include "eimc/Linker/Linker.h"
#include "eimc/Rewriter/Rewriter.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

using namespace llvm;
using namespace eimc;

namespace {

struct Options {
  std::string host;
  std::vector<std::string> hooks;
  std::vector<std::string> objects;
  std::vector<std::string> initSymbols;
  std::string output;
  std::string emit;
  bool sweep = false;
};

/// "readline:entry=a,return=b" -> HookRequest.
Expected<rewriter::HookRequest> parseHook(StringRef spec) {
  auto [symbol, programs] = spec.split(':');
  rewriter::HookRequest request;
  request.symbol = symbol.str();
  SmallVector<StringRef> parts;
  programs.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (StringRef part : parts) {
    auto [kind, program] = part.split('=');
    if (kind == "entry" && !program.empty())
      request.entryPrograms.push_back(program.str());
    else if (kind == "return" && !program.empty())
      request.returnPrograms.push_back(program.str());
    else
      return makeMalformed("--hook '" + spec +
                           "': expected SYM:entry=PROG or SYM:return=PROG");
  }
  if (symbol.empty())
    return makeMalformed("--hook '" + spec + "': no symbol");
  return request;
}

Expected<std::vector<uint8_t>> readFile(StringRef path) {
  // read(), not mmap: see HostBinary::create.
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFileAsStream(path);
  if (!buffer)
    return createFileError(path, errorCodeToError(buffer.getError()));
  return std::vector<uint8_t>((*buffer)->getBufferStart(),
                              (*buffer)->getBufferEnd());
}

Error writeFile(StringRef path, ArrayRef<uint8_t> bytes) {
  std::error_code ec;
  raw_fd_ostream os(path, ec);
  if (ec)
    return createFileError(path, ec);
  os.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  return Error::success();
}

Error run(const Options &options) {
  Expected<rewriter::HostBinary> host =
      rewriter::HostBinary::create(options.host);
  if (!host)
    return host.takeError();
  if (options.sweep)
    return printSweep(*host, outs());
  std::vector<rewriter::HookRequest> requests;
  for (const std::string &spec : options.hooks) {
    Expected<rewriter::HookRequest> request = parseHook(spec);
    if (!request)
      return request.takeError();
    requests.push_back(std::move(*request));
  }
  Expected<rewriter::RewritePlan> plan = rewriter::planHooks(*host, requests);
  if (!plan)
    return plan.takeError();
  for (const std::string &warning : plan->warnings)
    errs() << "warning: " << warning << "\n";
  if (options.emit == "plan") {
    outs() << rewriter::toString(*plan);
    return Error::success();
  }
  if (options.emit == "asm") {
    outs() << rewriter::trampolineAssembly(*plan, options.initSymbols);
    return Error::success();
  }
  Expected<linker::LinkInput> trampolines =
      rewriter::emitTrampolines(*plan, options.initSymbols);
  if (!trampolines)
    return trampolines.takeError();
  if (options.emit == "obj")
    return writeFile(options.output, trampolines->elf);

  linker::LinkRequest request;
  for (const std::string &path : options.objects) {
    Expected<std::vector<uint8_t>> bytes = readFile(path);
    if (!bytes)
      return bytes.takeError();
    request.inputs.push_back({path, std::move(*bytes)});
  }
  request.inputs.push_back(std::move(*trampolines));
  ArrayRef<uint8_t> runtime = linker::runtimeObject();
  request.inputs.push_back(
      {"eimc runtime", std::vector<uint8_t>(runtime.begin(), runtime.end())});
  request.stateAddress = plan->stateAddress;
  request.absoluteSymbols = plan->hostSymbols;
  request.roots = {"eim_start"};
  Expected<linker::LinkedExtension> linked = linker::link(request);
  if (!linked)
    return linked.takeError();
  rewriter::Provenance provenance{EIMC_VERSION, "tool: eimc-rewrite\n"};
  return rewriter::writeOutput(*host, *plan, *linked, provenance,
                               options.output);
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  CLI::App app{"eimc-rewrite: hook host functions with native objects"};
  Options options;
  app.add_option("host", options.host, "Host executable")->required();
  CLI::Option *sweep = app.add_flag("--sweep", options.sweep,
                                    "Plan every .dynsym function alone; print "
                                    "what is hooked and what is refused");
  app.add_option("--hook", options.hooks, "SYM:entry=PROG,return=PROG")
      ->excludes(sweep);
  app.add_option("-e,--object", options.objects, "x86-64 object (repeatable)");
  app.add_option("--init", options.initSymbols,
                 "Function the start stub calls after eim_rt_init");
  app.add_option("-o,--output", options.output, "Output file");
  app.add_option("--emit", options.emit, "Stop after a step and print it")
      ->check(CLI::IsMember({"plan", "asm", "obj"}));
  CLI11_PARSE(app, argc, argv);
  if (options.hooks.empty() && !options.sweep) {
    errs() << "error: --hook or --sweep is required\n";
    return 2;
  }
  if (options.output.empty() && !options.sweep && options.emit != "plan" &&
      options.emit != "asm") {
    errs() << "error: -o is required\n";
    return 2;
  }
  if (Error err = run(options)) {
    bool refused = err.isA<RefusalError>();
    logAllUnhandledErrors(std::move(err), errs(), "error: ");
    return refused ? 1 : 2;
  }
  return 0;
}
