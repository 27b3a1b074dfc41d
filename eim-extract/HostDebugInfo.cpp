//===- eim-extract/HostDebugInfo.cpp - A host's DWARF, wherever it is -----===//
//
// Part of eimc. See eimc/Extract/Manifest.h and docs/formats/manifest.md.
//
//===----------------------------------------------------------------------===//
//
// Entry point: extractManifest(). Finds the DWARF that describes a host and
// reads its annotations:
//
//  1. the host itself, if it has `.debug_info`;
//  2. else its separate debug file, as gdb looks for it: by build-id
//     (`<root>/.build-id/ab/cdef....debug`), then by `.gnu_debuglink`
//     (beside the host, in `.debug/` beside it, and `<root>/<host dir>/`),
//     accepting a debuglink candidate only if its CRC-32 matches.
//
// A host with neither offers an empty manifest: unannotated hosts keep
// eimc 0.1's behaviour (any function symbol may be an entry), and
// `eimc extract --derive` is the way to describe them.
//
// What it does not do: compile anything (Derive.cpp).
//
//===----------------------------------------------------------------------===//

#include "ExtractInternal.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Support/CRC.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace llvm;

namespace eimc::extract {

namespace {

/// An ELF file and the buffer it reads from.
struct LoadedObject {
  std::unique_ptr<MemoryBuffer> buffer;
  std::unique_ptr<object::ObjectFile> object;
};

Expected<LoadedObject> load(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buf = MemoryBuffer::getFile(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buf)
    return createFileError(path, buf.getError());
  Expected<std::unique_ptr<object::ObjectFile>> obj =
      object::ObjectFile::createObjectFile((*buf)->getMemBufferRef());
  if (!obj)
    return createFileError(path, obj.takeError());
  if (!isa<object::ELF64LEObjectFile>(obj->get()))
    return createStringError(std::errc::invalid_argument,
                             "%s: not an x86-64 ELF file", path.str().c_str());
  return LoadedObject{std::move(*buf), std::move(*obj)};
}

bool hasDwarf(const object::ObjectFile &obj) {
  for (const object::SectionRef &sec : obj.sections()) {
    Expected<StringRef> name = sec.getName();
    if (name && *name == ".debug_info")
      return true;
    if (!name)
      consumeError(name.takeError());
  }
  return false;
}

std::optional<StringRef> sectionContents(const object::ObjectFile &obj,
                                         StringRef wanted) {
  for (const object::SectionRef &sec : obj.sections()) {
    Expected<StringRef> name = sec.getName();
    if (!name) {
      consumeError(name.takeError());
      continue;
    }
    if (*name != wanted)
      continue;
    Expected<StringRef> data = sec.getContents();
    if (data)
      return *data;
    consumeError(data.takeError());
  }
  return std::nullopt;
}

/// The GNU build-id as lowercase hex, if the host has one.
std::string buildIdHex(const object::ObjectFile &obj) {
  std::optional<StringRef> note =
      sectionContents(obj, ".note.gnu.build-id");
  // Elf64_Nhdr: namesz, descsz, type (4 bytes each), "GNU\0", desc.
  if (!note || note->size() < 16)
    return "";
  uint32_t descSize = support::endian::read32le(note->data() + 4);
  if (note->size() < 16 + descSize)
    return "";
  return toHex(note->substr(16, descSize), /*LowerCase=*/true);
}

std::vector<std::string> debugCandidates(const object::ObjectFile &obj,
                                         StringRef hostPath,
                                         StringRef debugRoot,
                                         std::optional<uint32_t> &crc) {
  std::vector<std::string> out;
  std::string id = buildIdHex(obj);
  if (id.size() > 2)
    out.push_back((debugRoot + "/.build-id/" + id.substr(0, 2) + "/" +
                   id.substr(2) + ".debug")
                      .str());
  std::optional<StringRef> link = sectionContents(obj, ".gnu_debuglink");
  if (!link)
    return out;
  StringRef name = link->split('\0').first;
  size_t crcOffset = alignTo(name.size() + 1, 4);
  if (crcOffset + 4 <= link->size())
    crc = support::endian::read32le(link->data() + crcOffset);
  SmallString<256> dir(hostPath);
  sys::fs::make_absolute(dir);
  sys::path::remove_filename(dir);
  out.push_back((dir + "/" + name).str());
  out.push_back((dir + "/.debug/" + name).str());
  out.push_back((debugRoot + dir + "/" + name).str());
  return out;
}

} // namespace

Expected<HostDwarf> openHostDwarf(StringRef hostPath, StringRef debugRoot) {
  Expected<LoadedObject> host = load(hostPath);
  if (!host)
    return host.takeError();
  HostDwarf out;
  out.hostBuffer = std::move(host->buffer);
  out.host = std::move(host->object);
  if (hasDwarf(*out.host))
    return std::move(out);
  // The first separate debug file that exists (and, for a debuglink, has
  // the recorded CRC).
  std::optional<uint32_t> crc;
  std::vector<std::string> candidates =
      debugCandidates(*out.host, hostPath, debugRoot, crc);
  for (const std::string &candidate : candidates) {
    if (!sys::fs::exists(candidate))
      continue;
    Expected<LoadedObject> file = load(candidate);
    if (!file)
      return file.takeError();
    bool byBuildId = StringRef(candidate).contains("/.build-id/");
    if (!byBuildId && crc &&
        crc32(arrayRefFromStringRef(file->buffer->getBuffer())) != *crc)
      continue;
    out.debugBuffer = std::move(file->buffer);
    out.debug = std::move(file->object);
    return std::move(out);
  }
  return std::move(out);
}

const object::ObjectFile *HostDwarf::dwarfObject() const {
  if (debug)
    return debug.get();
  return hasDwarf(*host) ? host.get() : nullptr;
}

Expected<CapabilityManifest> extractManifest(StringRef hostPath,
                                             StringRef debugRoot) {
  Expected<HostDwarf> host = openHostDwarf(hostPath, debugRoot);
  if (!host)
    return host.takeError();
  const object::ObjectFile *dwarfObject = host->dwarfObject();
  if (!dwarfObject)
    return CapabilityManifest();
  std::string hostName = sys::path::filename(hostPath).str();
  StringSet<> symbols;
  collectSymbols(*host->host, /*dynamicOnly=*/false, symbols);
  // A stripped host's full symbol table moved to the debug file.
  if (host->debug)
    collectSymbols(*host->debug, /*dynamicOnly=*/false, symbols);
  std::unique_ptr<DWARFContext> dwarf = DWARFContext::create(*dwarfObject);
  Expected<CapabilityManifest> manifest = readAnnotations(*dwarf, hostName);
  if (!manifest)
    return manifest.takeError();
  if (Error e = bindSymbols(*manifest, symbols, hostName, "its symbol tables"))
    return std::move(e);
  return manifest;
}

} // namespace eimc::extract
