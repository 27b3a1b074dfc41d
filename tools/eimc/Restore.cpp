//===- tools/eimc/Restore.cpp - eimc restore ------------------------------===//
//
// Part of eimc. See docs/cli.md.
//
//===----------------------------------------------------------------------===//
//
// `eimc restore OUT -o ORIG` writes the host that OUT was built from, byte
// for byte, from OUT's `.eimc.restore` section (rewriter::restoreOriginal
// checks the recorded SHA-256). ORIG gets OUT's permission bits; an
// existing ORIG is replaced only when the restore succeeded.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "eimc/Rewriter/Rewriter.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

using namespace llvm;

namespace eimc::driver {

namespace {

struct RestoreOptions {
  std::string input;
  std::string output;
};

/// Writes beside \p path and renames, as the build does.
Error writeFile(StringRef path, ArrayRef<uint8_t> bytes, sys::fs::perms mode) {
  SmallString<256> tmp;
  int fd = -1;
  if (std::error_code ec =
          sys::fs::createUniqueFile(path + ".eimc-tmp-%%%%%%", fd, tmp))
    return createFileError(path, ec);
  FileRemover remover(tmp);
  {
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    os.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
    os.close();
    if (os.has_error())
      return createFileError(tmp, os.error());
  }
  if (std::error_code ec = sys::fs::setPermissions(tmp, mode))
    return createFileError(tmp, ec);
  if (std::error_code ec = sys::fs::rename(tmp, path))
    return createFileError(path, ec);
  remover.releaseFile();
  return Error::success();
}

Expected<int> runRestore(const RestoreOptions &options) {
  Expected<std::vector<uint8_t>> bytes = readFileBytes(options.input);
  if (!bytes)
    return bytes.takeError();
  Expected<std::vector<uint8_t>> original =
      rewriter::restoreOriginal(options.input, *bytes);
  if (!original)
    return original.takeError();
  ErrorOr<sys::fs::perms> mode = sys::fs::getPermissions(options.input);
  if (!mode)
    return createFileError(options.input, mode.getError());
  if (Error err = writeFile(options.output, *original, *mode))
    return std::move(err);
  return ExitSuccess;
}

} // namespace

Subcommand addRestoreCommand(CLI::App &app) {
  auto options = std::make_shared<RestoreOptions>();
  CLI::App *cmd = app.add_subcommand(
      "restore", "Write the original host a rewritten output was built from");
  cmd->add_option("output-binary", options->input, "Output of eimc build")
      ->required();
  cmd->add_option("-o,--output", options->output, "Where to write the original")
      ->required();
  return {cmd, [options] { return runRestore(*options); }};
}

} // namespace eimc::driver
