//===- tools/eimc-conformance/eimc-conformance.cpp - ISA vectors ----------===//
//
// Part of eimc. See docs/conformance.md.
//
//===----------------------------------------------------------------------===//
//
// Runs `.data` test vectors (bpf_conformance's format) through eimc's
// pipeline and executes the native code: one line per failed or skipped
// vector (every vector with --verbose), then the closing line
// `N passed, N failed, N skipped`. With --emit=asm it prints the x86-64
// assembly each named vector compiles to instead of running it.
//
// With --object FILE --program NAME it instead builds one program of a
// clang-built eBPF object the same way, runs it on --mem (hex) and prints
// `r0 0x...` and `mem HEX`, the form tests/conformance/kernel-run.c prints
// for the kernel's BPF_PROG_TEST_RUN, so the two can be compared.
//
// Arguments are `.data` files or directories of them (sorted by name);
// without any, $EIMC_CONFORMANCE_DIR, else the bpf_conformance vectors at
// ../shared/conformance/bpf_conformance/tests beside the source tree.
//
// Exit codes: 0 all run vectors passed, 1 a vector failed, 2 usage error
// or unreadable input.
//
//===----------------------------------------------------------------------===//

#include "eimc/Conformance/Conformance.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

#include <cstdlib>

using namespace llvm;
namespace conf = eimc::conformance;

namespace {

struct Options {
  std::vector<std::string> paths;
  std::string emit; ///< "" or "asm"
  bool verbose = false;
  unsigned timeout = 10; ///< seconds per vector
  std::string object;  ///< --object: run a program of an ELF object
  std::string program; ///< --program
  std::string memory;  ///< --mem, hex
};

std::string defaultDirectory() {
  if (const char *env = std::getenv("EIMC_CONFORMANCE_DIR"))
    return env;
  return EIMC_DEFAULT_VECTORS;
}

/// Expands directories into their `.data` files, sorted, so the output
/// order does not depend on the file system.
Expected<std::vector<std::string>> collectFiles(ArrayRef<std::string> paths) {
  std::vector<std::string> files;
  for (const std::string &path : paths) {
    if (!sys::fs::is_directory(path)) {
      if (!sys::fs::exists(path))
        return createStringError(std::errc::no_such_file_or_directory,
                                 "%s: no such file or directory",
                                 path.c_str());
      files.push_back(path);
      continue;
    }
    std::vector<std::string> found;
    std::error_code ec;
    for (sys::fs::directory_iterator it(path, ec), end; it != end && !ec;
         it.increment(ec))
      if (StringRef(it->path()).ends_with(".data"))
        found.push_back(it->path());
    if (ec)
      return createFileError(path, ec);
    llvm::sort(found);
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

int emitAsm(ArrayRef<std::string> files) {
  for (const std::string &file : files) {
    ErrorOr<std::unique_ptr<MemoryBuffer>> buf = MemoryBuffer::getFile(file);
    if (!buf) {
      errs() << "error: " << file << ": " << buf.getError().message() << "\n";
      return 2;
    }
    StringRef name = sys::path::filename(file);
    Expected<conf::TestVector> vector =
        conf::parseVector(name, (*buf)->getBuffer());
    Expected<std::vector<uint8_t>> code =
        vector ? conf::vectorProgram(*vector)
               : Expected<std::vector<uint8_t>>(vector.takeError());
    Expected<std::string> text =
        code ? conf::emitAsm(name, *code)
             : Expected<std::string>(code.takeError());
    if (!text) {
      errs() << "error: " << toString(text.takeError()) << "\n";
      return 2;
    }
    outs() << *text;
  }
  return 0;
}

int runObject(const Options &opts) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buf =
      MemoryBuffer::getFile(opts.object);
  if (!buf) {
    errs() << "error: " << opts.object << ": " << buf.getError().message()
           << "\n";
    return 2;
  }
  std::string memory;
  if (!tryGetFromHex(opts.memory, memory)) {
    errs() << "error: --mem is not hex\n";
    return 2;
  }
  Expected<conf::Runnable> run = conf::buildObject(
      sys::path::filename(opts.object),
      arrayRefFromStringRef((*buf)->getBuffer()), opts.program);
  Expected<conf::Execution> result =
      run ? conf::execute(*run, arrayRefFromStringRef(memory), opts.timeout)
          : Expected<conf::Execution>(run.takeError());
  if (!result) {
    errs() << "error: " << toString(result.takeError()) << "\n";
    return 1;
  }
  outs() << "r0 0x" << utohexstr(result->r0, /*LowerCase=*/true) << "\n"
         << "mem " << toHex(result->memory, /*LowerCase=*/true) << "\n";
  return 0;
}

int run(ArrayRef<std::string> files, bool verbose, unsigned timeout) {
  unsigned passed = 0, failed = 0, skipped = 0;
  for (const std::string &file : files) {
    StringRef name = sys::path::filename(file);
    ErrorOr<std::unique_ptr<MemoryBuffer>> buf = MemoryBuffer::getFile(file);
    conf::Outcome outcome =
        buf ? conf::runVector(file, (*buf)->getBuffer(), timeout)
            : conf::Outcome{conf::OutcomeKind::Fail, buf.getError().message()};
    switch (outcome.kind) {
    case conf::OutcomeKind::Pass:
      ++passed;
      if (verbose)
        outs() << "PASS " << name << "\n";
      break;
    case conf::OutcomeKind::Fail:
      ++failed;
      outs() << "FAIL " << name << ": " << outcome.message << "\n";
      break;
    case conf::OutcomeKind::Skip:
      ++skipped;
      outs() << "SKIP " << name << ": " << outcome.message << "\n";
      break;
    }
    outs().flush();
  }
  outs() << passed << " passed, " << failed << " failed, " << skipped
         << " skipped\n";
  return failed ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
  Options opts;
  CLI::App app{"eimc-conformance: run eBPF conformance vectors natively"};
  app.add_option("paths", opts.paths, ".data files or directories");
  app.add_option("--emit", opts.emit, "print instead of running")
      ->check(CLI::IsMember({"asm"}));
  app.add_flag("-v,--verbose", opts.verbose, "print passing vectors too");
  app.add_option("--timeout", opts.timeout, "seconds before a vector fails")
      ->check(CLI::Range(1u, 3600u));
  CLI::Option *object = app.add_option(
      "--object", opts.object, "run one program of this eBPF object instead");
  app.add_option("--program", opts.program, "the program to run")
      ->needs(object);
  app.add_option("--mem", opts.memory, "input memory, hex")->needs(object);
  object->excludes("paths");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!opts.object.empty())
    return runObject(opts);
  if (opts.paths.empty())
    opts.paths.push_back(defaultDirectory());
  Expected<std::vector<std::string>> files = collectFiles(opts.paths);
  if (!files) {
    errs() << "error: " << toString(files.takeError()) << "\n";
    return 2;
  }
  if (opts.emit == "asm")
    return emitAsm(*files);
  return run(*files, opts.verbose, opts.timeout);
}
