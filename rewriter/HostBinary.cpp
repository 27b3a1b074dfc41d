//===- rewriter/HostBinary.cpp - Reading the host executable --------------===//
//
// Part of eimc. See eimc/Rewriter/Rewriter.h and notes/rewriting.md.
//
//===----------------------------------------------------------------------===//
//
// HostBinary is the read-only view of the x86-64 ELF the rewriter hooks. It
// parses the file once with LLVM's ELFFile<ELF64LE> and keeps only plain
// values: the PT_LOAD segments (to map addresses to file bytes and to find
// where the state pages and the blob may go) and the defined symbols of
// .symtab and .dynsym (to resolve hooked functions by name).
//
// It does not decode instructions (X86Decoder.cpp), decide hook sites
// (HookPlanner.cpp) or write anything (ElfWriter.cpp). The writer re-parses
// bytes() itself, because it needs every header verbatim.
//
// A host that already carries `.eimc.manifest` is refused (exit 2, naming
// the eimc version that wrote it): rewriting twice would stack a second
// blob over a PT_NOTE that no longer exists and hook trampolines instead of
// functions.
//
//===----------------------------------------------------------------------===//

#include "eimc/Rewriter/Rewriter.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/BinaryFormat/ELF.h"
#include "llvm/Object/ELF.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;
using namespace llvm::object;

namespace eimc::rewriter {

namespace {

/// Pages are always 0x1000: the output must not depend on the build machine.
constexpr uint64_t PageSize = 0x1000;

/// One PT_LOAD, as the loader sees it.
struct LoadSegment {
  uint64_t vaddr = 0;
  uint64_t memsz = 0;
  uint64_t offset = 0;
  uint64_t filesz = 0;
  uint32_t flags = 0;
};

/// One defined symbol, with the ELF type kept so findFunction() can tell
/// "not a function" and "IFUNC resolver" apart from "absent".
struct HostSymbol {
  std::string name;
  uint64_t value = 0;
  uint64_t size = 0;
  uint8_t type = ELF::STT_NOTYPE;
  uint8_t binding = ELF::STB_LOCAL;
  bool fromDynsym = false;
};

} // namespace

struct HostBinary::Impl {
  std::vector<LoadSegment> loads;
  /// .symtab symbols first, then .dynsym, each in table order.
  std::vector<HostSymbol> symbols;
  uint64_t entry = 0;
  unsigned mode = 0755;
};

HostBinary::HostBinary(std::unique_ptr<Impl> impl) : P(std::move(impl)) {}
HostBinary::HostBinary(HostBinary &&) = default;
HostBinary &HostBinary::operator=(HostBinary &&) = default;
HostBinary::~HostBinary() = default;

static Error malformed(StringRef name, const Twine &message) {
  return makeMalformed(name + ": " + message);
}

/// Appends the defined symbols of \p symtab (SHT_SYMTAB or SHT_DYNSYM).
static Error readSymbols(const ELFFile<ELF64LE> &elf,
                         const ELF64LE::Shdr &symtab, bool fromDynsym,
                         std::vector<HostSymbol> &out) {
  Expected<ELF64LE::SymRange> syms = elf.symbols(&symtab);
  if (!syms)
    return syms.takeError();
  Expected<StringRef> strtab = elf.getStringTableForSymtab(symtab);
  if (!strtab)
    return strtab.takeError();
  for (const ELF64LE::Sym &sym : *syms) {
    if (sym.st_shndx == ELF::SHN_UNDEF)
      continue;
    Expected<StringRef> name = sym.getName(*strtab);
    if (!name)
      return name.takeError();
    if (name->empty())
      continue;
    out.push_back(HostSymbol{name->str(), sym.st_value, sym.st_size,
                             sym.getType(), sym.getBinding(), fromDynsym});
  }
  return Error::success();
}

static Error checkHeader(StringRef name, const ELFFile<ELF64LE> &elf) {
  const ELF64LE::Ehdr &header = elf.getHeader();
  if (header.e_ident[ELF::EI_CLASS] != ELF::ELFCLASS64 ||
      header.e_ident[ELF::EI_DATA] != ELF::ELFDATA2LSB)
    return malformed(name, "not a 64-bit little-endian ELF file");
  if (header.e_machine != ELF::EM_X86_64)
    return malformed(name, "not an x86-64 ELF file");
  if (header.e_type != ELF::ET_EXEC && header.e_type != ELF::ET_DYN)
    return malformed(name, "not an executable or shared object");
  return Error::success();
}

/// Names the eimc version that wrote \p manifest (its first line is
/// `eimc-version: V`). Exit 2, not 1: a rewritten file is not a host the
/// user meant to give, and `eimc restore` gives back the one they meant.
static Error alreadyRewritten(StringRef name, const ELFFile<ELF64LE> &elf,
                              const ELF64LE::Shdr &manifest) {
  std::string version = "(unknown version)";
  Expected<ArrayRef<uint8_t>> contents = elf.getSectionContents(manifest);
  if (contents) {
    StringRef text = toStringRef(*contents);
    StringRef line = text.take_until([](char c) { return c == '\n'; });
    if (line.consume_front("eimc-version: ") && !line.empty())
      version = line.trim().str();
  } else {
    consumeError(contents.takeError());
  }
  return malformed(name, "already rewritten by eimc " + version +
                             " (`eimc restore` gives back the original)");
}

/// Refuses hosts eimc already rewrote, and reads both symbol tables.
static Error readSections(StringRef name, const ELFFile<ELF64LE> &elf,
                          std::vector<HostSymbol> &symbols) {
  Expected<ELF64LE::ShdrRange> sections = elf.sections();
  if (!sections)
    return malformed(name, toString(sections.takeError()));
  const ELF64LE::Shdr *symtab = nullptr, *dynsym = nullptr;
  for (const ELF64LE::Shdr &sec : *sections) {
    Expected<StringRef> secName = elf.getSectionName(sec);
    if (!secName)
      return malformed(name, toString(secName.takeError()));
    if (*secName == ".eimc.manifest")
      return alreadyRewritten(name, elf, sec);
    if (sec.sh_type == ELF::SHT_SYMTAB && !symtab)
      symtab = &sec;
    if (sec.sh_type == ELF::SHT_DYNSYM && !dynsym)
      dynsym = &sec;
  }
  if (symtab)
    if (Error err = readSymbols(elf, *symtab, /*fromDynsym=*/false, symbols))
      return malformed(name, ".symtab: " + toString(std::move(err)));
  if (dynsym)
    if (Error err = readSymbols(elf, *dynsym, /*fromDynsym=*/true, symbols))
      return malformed(name, ".dynsym: " + toString(std::move(err)));
  return Error::success();
}

static Error readSegments(StringRef name, const ELFFile<ELF64LE> &elf,
                          uint64_t fileSize, std::vector<LoadSegment> &loads) {
  Expected<ELF64LE::PhdrRange> phdrs = elf.program_headers();
  if (!phdrs)
    return malformed(name, toString(phdrs.takeError()));
  for (const ELF64LE::Phdr &phdr : *phdrs) {
    if (phdr.p_type != ELF::PT_LOAD)
      continue;
    if (phdr.p_offset + phdr.p_filesz > fileSize ||
        phdr.p_offset + phdr.p_filesz < phdr.p_offset)
      return malformed(name, "PT_LOAD at 0x" + utohexstr(phdr.p_vaddr) +
                                 " extends past the end of the file");
    if (phdr.p_filesz > phdr.p_memsz)
      return malformed(name, "PT_LOAD at 0x" + utohexstr(phdr.p_vaddr) +
                                 " has p_filesz > p_memsz");
    loads.push_back(LoadSegment{phdr.p_vaddr, phdr.p_memsz, phdr.p_offset,
                                phdr.p_filesz, phdr.p_flags});
  }
  if (loads.empty())
    return malformed(name, "no PT_LOAD segment");
  return Error::success();
}

Expected<HostBinary> HostBinary::createFromBytes(StringRef name,
                                                 std::vector<uint8_t> bytes) {
  StringRef data(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  if (!data.starts_with("\x7f"
                        "ELF"))
    return malformed(name, "not an ELF file");
  Expected<ELFFile<ELF64LE>> elf = ELFFile<ELF64LE>::create(data);
  if (!elf)
    return malformed(name, toString(elf.takeError()));
  if (Error err = checkHeader(name, *elf))
    return err;

  auto impl = std::make_unique<Impl>();
  impl->entry = elf->getHeader().e_entry;
  if (Error err = readSections(name, *elf, impl->symbols))
    return err;
  if (Error err = readSegments(name, *elf, bytes.size(), impl->loads))
    return err;

  HostBinary host(std::move(impl));
  host.Name = name.str();
  host.Bytes = std::move(bytes);
  return host;
}

Expected<HostBinary> HostBinary::create(StringRef path) {
  // Read, never mmap: a private read-only mapping of an executable file
  // gets the kernel's uprobe breakpoints (int3) written into it whenever
  // someone traces the host with a uprobe at that moment (measured:
  // readline's first byte read 0xcc), and eimc would copy them into the
  // stolen bytes. getFileAsStream reads with read() whatever the size
  // (getFile maps files of 16 KiB and more, even with IsVolatile).
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFileAsStream(path);
  if (!buffer)
    return createFileError(path, errorCodeToError(buffer.getError()));
  ErrorOr<sys::fs::perms> perms = sys::fs::getPermissions(path);
  if (!perms)
    return createFileError(path, errorCodeToError(perms.getError()));
  std::vector<uint8_t> bytes((*buffer)->getBufferStart(),
                             (*buffer)->getBufferEnd());
  Expected<HostBinary> host = createFromBytes(path, std::move(bytes));
  if (host)
    host->P->mode = static_cast<unsigned>(*perms);
  return host;
}

/// Orders candidates for one name: a global or weak definition wins over a
/// file-local one (two TUs may each have a static `init`), .symtab over
/// .dynsym because it is what the user sees in `nm`.
static bool betterCandidate(const HostSymbol &a, const HostSymbol &b) {
  bool aGlobal = a.binding != ELF::STB_LOCAL;
  bool bGlobal = b.binding != ELF::STB_LOCAL;
  if (aGlobal != bGlobal)
    return aGlobal;
  return !a.fromDynsym && b.fromDynsym;
}

/// The symbol named \p name that lookups use: global before local,
/// .symtab before .dynsym. \returns null when there is none.
template <typename Symbols>
static const HostSymbol *bestSymbol(const Symbols &symbols, StringRef name) {
  const HostSymbol *best = nullptr;
  for (const HostSymbol &sym : symbols)
    if (sym.name == name && (!best || betterCandidate(sym, *best)))
      best = &sym;
  return best;
}

Expected<FunctionSymbol> HostBinary::findFunction(StringRef name) const {
  const HostSymbol *best = bestSymbol(P->symbols, name);
  if (!best)
    return makeRefusal("function '" + name + "' not found in " + Name +
                       " (.symtab or .dynsym)");
  if (best->type == ELF::STT_GNU_IFUNC)
    return makeRefusal("'" + name +
                       "' is an IFUNC: its address is the resolver, not the "
                       "function, so it cannot be hooked");
  if (best->type != ELF::STT_FUNC)
    return makeRefusal("'" + name + "' is not a function (symbol type " +
                       Twine(unsigned(best->type)) + ")");
  return FunctionSymbol{best->name, best->value, best->size, best->fromDynsym};
}

Expected<FunctionSymbol> HostBinary::findObject(StringRef name) const {
  const HostSymbol *best = bestSymbol(P->symbols, name);
  if (!best)
    return makeRefusal("global '" + name + "' not found in " + Name +
                       " (.symtab or .dynsym)");
  if (best->type != ELF::STT_OBJECT)
    return makeRefusal("'" + name + "' is not a global variable (symbol type " +
                       Twine(unsigned(best->type)) + ")");
  return FunctionSymbol{best->name, best->value, best->size, best->fromDynsym};
}

/// GCC's names for copies of a function (`f.isra.0`, `f.constprop.1`,
/// `f.part.0`, `f.cold`) and for its local alias (`f.localalias`).
static bool isCloneOf(StringRef candidate, StringRef name) {
  if (!candidate.consume_front(name) || !candidate.consume_front("."))
    return false;
  return candidate.starts_with("isra") || candidate.starts_with("constprop") ||
         candidate.starts_with("part") || candidate.starts_with("cold") ||
         candidate.starts_with("localalias");
}

std::vector<std::string> HostBinary::clonesOf(StringRef name) const {
  std::vector<std::string> clones;
  for (const HostSymbol &sym : P->symbols)
    if (sym.type == ELF::STT_FUNC && isCloneOf(sym.name, name))
      clones.push_back(sym.name);
  llvm::sort(clones);
  clones.erase(std::unique(clones.begin(), clones.end()), clones.end());
  return clones;
}

std::vector<std::string> HostBinary::dynamicFunctions() const {
  std::vector<std::string> names;
  for (const HostSymbol &sym : P->symbols)
    if (sym.fromDynsym &&
        (sym.type == ELF::STT_FUNC || sym.type == ELF::STT_GNU_IFUNC))
      names.push_back(sym.name);
  llvm::sort(names);
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

uint64_t HostBinary::imageEnd() const {
  uint64_t end = 0;
  for (const LoadSegment &load : P->loads)
    end = std::max(end, load.vaddr + load.memsz);
  return alignTo(end, PageSize);
}

uint64_t HostBinary::stateAddress() const {
  const LoadSegment *last = nullptr;
  for (const LoadSegment &load : P->loads)
    if ((load.flags & ELF::PF_W) && (!last || load.vaddr > last->vaddr))
      last = &load;
  // A host without a writable segment cannot get state pages this way; the
  // writer reports it. Fall back to the image end so planning still works.
  if (!last)
    return imageEnd();
  return alignTo(last->vaddr + last->memsz, PageSize);
}

uint64_t HostBinary::entry() const { return P->entry; }

ArrayRef<uint8_t> HostBinary::codeFrom(uint64_t address) const {
  for (const LoadSegment &load : P->loads) {
    if (!(load.flags & ELF::PF_X))
      continue;
    if (address < load.vaddr || address >= load.vaddr + load.filesz)
      continue;
    uint64_t offset = load.offset + (address - load.vaddr);
    uint64_t end = load.offset + load.filesz;
    return ArrayRef<uint8_t>(Bytes).slice(offset, end - offset);
  }
  return {};
}

unsigned HostBinary::fileMode() const { return P->mode; }

} // namespace eimc::rewriter
