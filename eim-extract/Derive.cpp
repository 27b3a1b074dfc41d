//===- eim-extract/Derive.cpp - Manifests for unannotated hosts -----------===//
//
// Part of eimc. See eimc/Extract/Manifest.h and docs/formats/manifest.md.
//
//===----------------------------------------------------------------------===//
//
// Entry point: deriveManifest(). A distribution's binary (Debian's nginx,
// redis-server) carries no annotations and often no DWARF, but its headers
// describe its types exactly as it was built. An operator writes a small C
// file that includes those headers and uses eim.h's macros on the host's
// functions and fields; eimc compiles it with clang `-g` (supplying eim.h
// from its own copy, so the header always matches the reader), reads the
// object's DWARF like a host's, and binds every name to the host's
// `.dynsym`: a name the host does not export cannot be hooked or called.
//
// Offsets come from the compiler that laid out the host's headers, so they
// are right only if the headers and their configuration (for nginx,
// `objs/ngx_auto_config.h` from its `configure` with Debian's flags) match
// the binary's build.
//
// What it does not do: run the host's own build or check its headers'
// provenance.
//
//===----------------------------------------------------------------------===//

#include "ExtractInternal.h"

#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

extern const unsigned char eimc_eim_header[];
extern const unsigned long eimc_eim_header_size;

using namespace llvm;

namespace eimc::extract {

namespace {

/// A scratch directory removed with everything in it when this goes away.
class ScratchDir {
public:
  static Expected<ScratchDir> create() {
    SmallString<128> path;
    if (std::error_code ec =
            sys::fs::createUniqueDirectory("eimc-derive", path))
      return createStringError(ec, "cannot create a scratch directory");
    return ScratchDir(path.str().str());
  }
  ScratchDir(ScratchDir &&other) : Path(std::move(other.Path)) {
    other.Path.clear();
  }
  ~ScratchDir() {
    if (!Path.empty())
      sys::fs::remove_directories(Path);
  }
  const std::string &path() const { return Path; }

private:
  explicit ScratchDir(std::string path) : Path(std::move(path)) {}
  std::string Path;
};

Error writeEimHeader(StringRef dir) {
  SmallString<128> sub(dir);
  sys::path::append(sub, "eim");
  if (std::error_code ec = sys::fs::create_directory(sub))
    return createFileError(sub, ec);
  sys::path::append(sub, "eim.h");
  std::error_code ec;
  raw_fd_ostream os(sub, ec);
  if (ec)
    return createFileError(sub, ec);
  os.write(reinterpret_cast<const char *>(eimc_eim_header),
           eimc_eim_header_size);
  return Error::success();
}

/// Compiles the declarations file into \p object; errors carry clang's
/// diagnostics.
Error compileDecls(const DeriveOptions &options, StringRef scratch,
                   StringRef object) {
  std::string include = "-I" + scratch.str();
  SmallVector<StringRef, 16> args = {options.clang, "-g", "-O0", "-c",
                                     "-fno-color-diagnostics", include};
  for (const std::string &a : options.compilerArgs)
    args.push_back(a);
  args.append({options.declsPath, "-o", object});
  std::string log = (scratch + "/clang.log").str();
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(log),
                                          StringRef(log)};
  std::string execError;
  int rc = sys::ExecuteAndWait(options.clang, args, std::nullopt, redirects,
                               0, 0, &execError);
  if (rc == 0)
    return Error::success();
  ErrorOr<std::unique_ptr<MemoryBuffer>> text = MemoryBuffer::getFile(log);
  std::string diags = text ? (*text)->getBuffer().rtrim().str() : execError;
  std::replace(diags.begin(), diags.end(), '\n', ' ');
  return createStringError(std::errc::invalid_argument,
                           "%s: cannot compile the declarations with %s: %s",
                           options.declsPath.c_str(), options.clang.c_str(),
                           diags.c_str());
}

Expected<std::unique_ptr<object::ObjectFile>>
openObject(StringRef path, std::unique_ptr<MemoryBuffer> &storage) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buf = MemoryBuffer::getFile(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buf)
    return createFileError(path, buf.getError());
  storage = std::move(*buf);
  Expected<std::unique_ptr<object::ObjectFile>> obj =
      object::ObjectFile::createObjectFile(storage->getMemBufferRef());
  if (!obj)
    return createFileError(path, obj.takeError());
  return std::move(*obj);
}

} // namespace

Expected<CapabilityManifest> deriveManifest(const DeriveOptions &options) {
  std::string hostName = sys::path::filename(options.hostPath).str();
  std::unique_ptr<MemoryBuffer> hostBuffer;
  Expected<std::unique_ptr<object::ObjectFile>> host =
      openObject(options.hostPath, hostBuffer);
  if (!host)
    return host.takeError();

  // Compile the declarations in a scratch directory that never outlives
  // this call.
  Expected<ScratchDir> scratch = ScratchDir::create();
  if (!scratch)
    return scratch.takeError();
  if (Error e = writeEimHeader(scratch->path()))
    return std::move(e);
  std::string object = scratch->path() + "/decls.o";
  if (Error e = compileDecls(options, scratch->path(), object))
    return std::move(e);
  std::unique_ptr<MemoryBuffer> declsBuffer;
  Expected<std::unique_ptr<object::ObjectFile>> decls =
      openObject(object, declsBuffer);
  if (!decls)
    return decls.takeError();

  // Read the declarations' DWARF; bind to what the host exports.
  std::unique_ptr<DWARFContext> dwarf = DWARFContext::create(**decls);
  Expected<CapabilityManifest> manifest = readAnnotations(
      *dwarf, sys::path::filename(options.declsPath));
  if (!manifest)
    return manifest.takeError();
  StringSet<> symbols;
  collectSymbols(**host, /*dynamicOnly=*/true, symbols);
  if (Error e = bindSymbols(*manifest, symbols, hostName, ".dynsym"))
    return std::move(e);
  return manifest;
}

} // namespace eimc::extract
