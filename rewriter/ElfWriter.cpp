//===- rewriter/ElfWriter.cpp - Writing the rewritten executable ----------===//
//
// Part of eimc. See eimc/Rewriter/Rewriter.h and notes/rewriting.md §1.1.
//
//===----------------------------------------------------------------------===//
//
// writeOutput() produces the rewritten host with a minimal edit: no original
// byte moves, so every address, relocation, debug link and build-id stays
// valid. The edits are:
//  - at each hook site, `E9 rel32` to its trampoline, the rest of the
//    stolen bytes 0xCC (a stray jump into them traps loudly);
//  - one PT_NOTE becomes the PT_LOAD (R+X) mapping the appended blob; it is
//    moved after the last PT_LOAD because loaders require ascending
//    PT_LOADs;
//  - the last writable PT_LOAD's p_memsz grows over the state pages, which
//    the loader then zero-fills like .bss;
//  - e_entry points at the start stub;
//  - with return probes, replacement FDEs and a new .eh_frame_hdr follow
//    the code in the blob, and PT_GNU_EH_FRAME points at that header
//    (UnwindInfo.cpp); a host without one (static non-PIE) gets a spare
//    PT_NOTE turned into it, and the replaced FDEs' ranges in its own
//    .eh_frame set to 0;
//  - after the blob: `.eimc.manifest` (provenance plus every patch site),
//    `.eimc.restore` (the original bytes of every range edited above, for
//    `eimc restore`), a new .symtab/.strtab/.shstrtab and a new section
//    header table that covers the blob (without section headers `strip`
//    would drop the appended bytes: rewriting.md §1.1.5).
//
// The output is a function of the inputs only (fixed page size, no time,
// zeroed headers), written to a temporary file in the output's directory
// and renamed, so a failure leaves an existing output untouched.
//
//===----------------------------------------------------------------------===//

#include "RestoreRecord.h"
#include "UnwindInfo.h"

#include "eimc/Core/Errors.h"
#include "eimc/Rewriter/Rewriter.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/BinaryFormat/ELF.h"
#include "llvm/Object/ELF.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <map>

using namespace llvm;
using namespace llvm::object;

namespace eimc::rewriter {

namespace {

using Ehdr = ELF64LE::Ehdr;
using Phdr = ELF64LE::Phdr;
using Shdr = ELF64LE::Shdr;
using Sym = ELF64LE::Sym;

constexpr uint64_t PageSize = 0x1000;

std::string hex(uint64_t value) { return "0x" + utohexstr(value, true); }

/// A string table built in insertion order, deduplicating equal strings.
class StringTable {
public:
  explicit StringTable(StringRef initial = StringRef("\0", 1))
      : Data(initial.str()) {}
  uint32_t add(StringRef s) {
    auto [it, inserted] = Offsets.try_emplace(s.str(), Data.size());
    if (inserted) {
      Data += s;
      Data += '\0';
    }
    return it->second;
  }
  StringRef data() const { return Data; }

private:
  std::string Data;
  std::map<std::string, uint32_t> Offsets;
};

/// The output file being assembled in memory: the input bytes (patched in
/// place) followed by appended pieces.
class OutputImage {
public:
  OutputImage(const HostBinary &host, const RewritePlan &plan,
              const linker::LinkedExtension &linked,
              const Provenance &provenance)
      : Host(host), Plan(plan), Linked(linked), Prov(provenance),
        Bytes(host.bytes().begin(), host.bytes().end()) {}

  Error build();
  ArrayRef<uint8_t> bytes() const { return Bytes; }

private:
  Error parse();
  Error checkLayout() const;
  Error rewriteSegments();
  Error patchSites();
  Error patchUnwind();
  Error setEntry();
  Error buildUnwind();
  uint64_t blobSize() const;
  void appendBlob();
  Error appendSections();
  std::string siteManifest() const;
  void appendNonAlloc(std::vector<Shdr> &sections,
                      std::vector<std::string> &names, StringRef name,
                      ArrayRef<uint8_t> data);

  Expected<uint64_t> fileOffsetOf(uint64_t address, uint64_t size) const;
  uint64_t append(ArrayRef<uint8_t> data, uint64_t align, uint8_t fill = 0);
  Error appendSymbolTable(std::vector<Shdr> &sections,
                          std::vector<std::string> &names, uint32_t textIndex,
                          uint32_t stateIndex);

  template <typename T> void writeAt(uint64_t offset, const T &value) {
    std::memcpy(Bytes.data() + offset, &value, sizeof(T));
  }

  const HostBinary &Host;
  const RewritePlan &Plan;
  const linker::LinkedExtension &Linked;
  const Provenance &Prov;
  std::vector<uint8_t> Bytes;

  Ehdr Header;
  std::vector<Phdr> Phdrs;
  std::vector<Shdr> Sections;
  std::vector<std::string> SectionNames;
  uint64_t BlobOffset = 0;
  /// Unwind data loaded at UnwindAddress, after the code; may be empty.
  UnwindData Unwind;
  uint64_t UnwindAddress = 0;
  /// Input ranges overwritten in place (header, phdrs, patch sites, the
  /// .eh_frame edits of a static non-PIE host).
  std::vector<RestoreRange> Edited;
};

} // namespace

Error OutputImage::parse() {
  StringRef data(reinterpret_cast<const char *>(Host.bytes().data()),
                 Host.bytes().size());
  Expected<ELFFile<ELF64LE>> elf = ELFFile<ELF64LE>::create(data);
  if (!elf)
    return elf.takeError();
  Header = elf->getHeader();
  if (Header.e_phentsize != sizeof(Phdr))
    return makeMalformed("unexpected e_phentsize " +
                         Twine(unsigned(Header.e_phentsize)));
  Expected<ELF64LE::PhdrRange> phdrs = elf->program_headers();
  if (!phdrs)
    return phdrs.takeError();
  Phdrs.assign(phdrs->begin(), phdrs->end());
  Expected<ELF64LE::ShdrRange> sections = elf->sections();
  if (!sections)
    return sections.takeError();
  Sections.assign(sections->begin(), sections->end());
  if (Sections.size() >= ELF::SHN_LORESERVE)
    return makeRefusal("too many sections (" + Twine(Sections.size()) + ")");
  for (const Shdr &sec : Sections) {
    Expected<StringRef> name = elf->getSectionName(sec);
    if (!name)
      return name.takeError();
    SectionNames.push_back(name->str());
  }
  return Error::success();
}

/// The linker placed state and code where the plan said; verify rather
/// than trust, since a mismatch would silently corrupt the host.
Error OutputImage::checkLayout() const {
  if (Linked.stateAddress != Plan.stateAddress)
    return makeMalformed("linked state at " + hex(Linked.stateAddress) +
                         " but the plan reserved " + hex(Plan.stateAddress));
  if (Linked.stateAddress % PageSize || Linked.codeAddress % PageSize ||
      Linked.stateSize % PageSize)
    return makeMalformed("linked image is not page aligned");
  if (Linked.codeAddress < Linked.stateAddress + Linked.stateSize ||
      Linked.codeAddress < Host.imageEnd())
    return makeMalformed("linked code at " + hex(Linked.codeAddress) +
                         " overlaps the host image or the state pages");
  if (Linked.code.empty())
    return makeMalformed("linked image has no code");
  return Error::success();
}

/// Turns a PT_NOTE into the blob's PT_LOAD and grows the state segment.
Error OutputImage::rewriteSegments() {
  auto isType = [](uint32_t type) {
    return [type](const Phdr &p) { return p.p_type == type; };
  };
  auto property = find_if(Phdrs, isType(ELF::PT_GNU_PROPERTY));
  // ld.so reads the properties from PT_GNU_PROPERTY, so the PT_NOTE that
  // duplicates it is the one nothing misses.
  auto note = Phdrs.end();
  if (property != Phdrs.end())
    note = find_if(Phdrs, [&](const Phdr &p) {
      return p.p_type == ELF::PT_NOTE && p.p_offset == property->p_offset;
    });
  if (note == Phdrs.end())
    note = find_if(Phdrs, isType(ELF::PT_NOTE));
  if (note == Phdrs.end())
    return makeRefusal("no PT_NOTE to convert into a PT_LOAD for the code");

  Phdr load = {};
  load.p_type = ELF::PT_LOAD;
  load.p_flags = ELF::PF_R | ELF::PF_X;
  load.p_offset = BlobOffset;
  load.p_vaddr = Linked.codeAddress;
  load.p_paddr = Linked.codeAddress;
  load.p_filesz = blobSize();
  load.p_memsz = blobSize();
  load.p_align = PageSize;
  if (!Unwind.bytes.empty()) {
    auto ehHdr = find_if(Phdrs, isType(ELF::PT_GNU_EH_FRAME));
    // A static non-PIE host with a replacement FDE (buildUnwindData()
    // adds nothing else there): the PT_NOTE not taken above becomes the
    // header. Its notes keep their section headers, but a program that
    // reads its build-id through dl_iterate_phdr no longer finds it
    // (docs/design.md).
    if (Unwind.addsEhFrameSegment) {
      ehHdr = find_if(Phdrs, [&](const Phdr &p) {
        return p.p_type == ELF::PT_NOTE && &p != &*note;
      });
      if (ehHdr == Phdrs.end())
        return makeMalformed("no spare PT_NOTE for PT_GNU_EH_FRAME");
      ehHdr->p_type = ELF::PT_GNU_EH_FRAME;
      ehHdr->p_flags = ELF::PF_R;
    }
    uint64_t hdrAddress = UnwindAddress + Unwind.hdrOffset;
    ehHdr->p_offset = BlobOffset + (hdrAddress - Linked.codeAddress);
    ehHdr->p_vaddr = hdrAddress;
    ehHdr->p_paddr = hdrAddress;
    ehHdr->p_filesz = Unwind.bytes.size() - Unwind.hdrOffset;
    ehHdr->p_memsz = Unwind.bytes.size() - Unwind.hdrOffset;
    ehHdr->p_align = 4;
  }
  Phdrs.erase(note);
  auto lastLoad = find_if(reverse(Phdrs), isType(ELF::PT_LOAD));
  Phdrs.insert(lastLoad.base(), load);

  if (Linked.stateSize == 0)
    return Error::success();
  Phdr *writable = nullptr;
  for (Phdr &p : Phdrs)
    if (p.p_type == ELF::PT_LOAD && (p.p_flags & ELF::PF_W) &&
        (!writable || p.p_vaddr > writable->p_vaddr))
      writable = &p;
  if (!writable)
    return makeRefusal("no writable PT_LOAD to extend over the state pages");
  if (alignTo(writable->p_vaddr + writable->p_memsz, PageSize) !=
      Linked.stateAddress)
    return makeMalformed("state at " + hex(Linked.stateAddress) +
                         " does not follow the last writable PT_LOAD");
  writable->p_memsz =
      Linked.stateAddress + Linked.stateSize - writable->p_vaddr;
  return Error::success();
}

/// Every PT_LOAD must be ascending and disjoint after the edits.
static Error checkLoads(ArrayRef<Phdr> phdrs) {
  uint64_t end = 0;
  for (const Phdr &p : phdrs) {
    if (p.p_type != ELF::PT_LOAD)
      continue;
    if (p.p_vaddr < end)
      return makeMalformed("PT_LOAD at " + hex(p.p_vaddr) +
                           " overlaps or precedes the previous one");
    if ((p.p_vaddr - p.p_offset) % PageSize)
      return makeMalformed("PT_LOAD at " + hex(p.p_vaddr) +
                           " is not congruent with its file offset");
    end = p.p_vaddr + p.p_memsz;
  }
  return Error::success();
}

Expected<uint64_t> OutputImage::fileOffsetOf(uint64_t address,
                                             uint64_t size) const {
  for (const Phdr &p : Phdrs)
    if (p.p_type == ELF::PT_LOAD && address >= p.p_vaddr &&
        address + size <= p.p_vaddr + p.p_filesz &&
        p.p_offset + p.p_filesz <= Host.bytes().size())
      return p.p_offset + (address - p.p_vaddr);
  return makeMalformed("address " + hex(address) + " is not in the file");
}

Error OutputImage::patchSites() {
  for (const PatchSite &site : Plan.sites) {
    auto tramp = Linked.symbols.find(site.trampolineSymbol);
    if (tramp == Linked.symbols.end())
      return makeMalformed("linked image lacks '" + site.trampolineSymbol +
                           "'");
    uint64_t size = site.stolenBytes.size();
    Expected<uint64_t> offset = fileOffsetOf(site.patchAddress, size);
    if (!offset)
      return offset.takeError();
    if (size < 5 ||
        !equal(ArrayRef(Bytes).slice(*offset, size), site.stolenBytes))
      return makeMalformed("plan does not match the host at " +
                           hex(site.patchAddress) + " ('" + site.symbol + "')");
    int64_t rel = static_cast<int64_t>(tramp->second) -
                  static_cast<int64_t>(site.patchAddress + 5);
    if (!isInt<32>(rel))
      return makeRefusal("trampoline for '" + site.symbol +
                         "' is out of jmp rel32 range");
    Edited.push_back(RestoreRange{*offset, size});
    Bytes[*offset] = 0xE9;
    support::endian::write32le(Bytes.data() + *offset + 1,
                               static_cast<uint32_t>(rel));
    std::fill_n(Bytes.begin() + *offset + 5, size - 5, 0xCC);
  }
  return Error::success();
}

/// The in-place edits of the host's .eh_frame that UnwindInfo asked for.
Error OutputImage::patchUnwind() {
  for (const UnwindData::Patch &patch : Unwind.patches) {
    Expected<uint64_t> offset =
        fileOffsetOf(patch.address, patch.bytes.size());
    if (!offset)
      return offset.takeError();
    Edited.push_back(RestoreRange{*offset, patch.bytes.size()});
    copy(patch.bytes, Bytes.begin() + *offset);
  }
  return Error::success();
}

Error OutputImage::setEntry() {
  auto start = Linked.symbols.find("eim_start");
  if (start == Linked.symbols.end())
    return makeMalformed("linked image lacks 'eim_start'");
  Header.e_entry = start->second;
  return Error::success();
}

uint64_t OutputImage::append(ArrayRef<uint8_t> data, uint64_t align,
                             uint8_t fill) {
  Bytes.resize(alignTo(Bytes.size(), align), fill);
  uint64_t offset = Bytes.size();
  append_range(Bytes, data);
  return offset;
}

/// The unwind data goes right after the code, in the same PT_LOAD: the
/// blob is the last segment, so nothing else is mapped there.
Error OutputImage::buildUnwind() {
  UnwindAddress = alignTo(Linked.codeAddress + Linked.code.size(), 8);
  Expected<std::vector<uint8_t>> trampolines = assembleTrampolines(Plan);
  if (!trampolines)
    return trampolines.takeError();
  // Replacement FDEs read the unwind table: never without it.
  Expected<UnwindData> unwind =
      buildUnwindData(Host.bytes(), Phdrs, Plan, UnwindAddress,
                      /*replaceFdes=*/Plan.unwindTable, *trampolines,
                      Linked.symbols);
  if (!unwind)
    return unwind.takeError();
  Unwind = std::move(*unwind);
  return Error::success();
}

uint64_t OutputImage::blobSize() const {
  if (Unwind.bytes.empty())
    return Linked.code.size();
  return UnwindAddress - Linked.codeAddress + Unwind.bytes.size();
}

void OutputImage::appendBlob() {
  uint64_t offset = append(Linked.code, PageSize);
  assert(offset == BlobOffset && "blob offset computed twice differently");
  (void)offset;
  if (!Unwind.bytes.empty())
    append(Unwind.bytes, 8);
  assert(Bytes.size() == BlobOffset + blobSize() && "blob size");
}

static Shdr makeSection(uint32_t type, uint64_t flags, uint64_t addr,
                        uint64_t offset, uint64_t size, uint64_t align) {
  Shdr s = {};
  s.sh_type = type;
  s.sh_flags = flags;
  s.sh_addr = addr;
  s.sh_offset = offset;
  s.sh_size = size;
  s.sh_addralign = align;
  return s;
}

/// A stripped host has only .dynsym. Tools that find a .symtab stop looking
/// at .dynsym (llvm-objdump, gdb), so the new .symtab must carry the
/// host's defined dynamic symbols too, or adding trampoline names would
/// hide every host function name.
static Error seedFromDynsym(const ELFFile<ELF64LE> &elf, StringTable &strings,
                            std::vector<Sym> &locals,
                            std::vector<Sym> &globals) {
  Expected<ELF64LE::ShdrRange> sections = elf.sections();
  if (!sections)
    return sections.takeError();
  for (const Shdr &sec : *sections) {
    if (sec.sh_type != ELF::SHT_DYNSYM)
      continue;
    Expected<ELF64LE::SymRange> syms = elf.symbols(&sec);
    if (!syms)
      return syms.takeError();
    Expected<StringRef> names = elf.getStringTableForSymtab(sec);
    if (!names)
      return names.takeError();
    for (const Sym &sym : syms->drop_front()) {
      if (sym.st_shndx == ELF::SHN_UNDEF)
        continue;
      Expected<StringRef> name = sym.getName(*names);
      if (!name)
        return name.takeError();
      Sym copy = sym;
      copy.st_name = strings.add(*name);
      (sym.getBinding() == ELF::STB_LOCAL ? locals : globals).push_back(copy);
    }
  }
  return Error::success();
}

/// Copies the original symbols (their names keep their offsets because the
/// old string table is the prefix of the new one) and adds one local symbol
/// per linked symbol, so debuggers and `perf` name trampolines and programs.
Error OutputImage::appendSymbolTable(std::vector<Shdr> &sections,
                                     std::vector<std::string> &names,
                                     uint32_t textIndex, uint32_t stateIndex) {
  StringRef data(reinterpret_cast<const char *>(Host.bytes().data()),
                 Host.bytes().size());
  Expected<ELFFile<ELF64LE>> elf = ELFFile<ELF64LE>::create(data);
  if (!elf)
    return elf.takeError();
  auto symtab = find_if(
      Sections, [](const Shdr &s) { return s.sh_type == ELF::SHT_SYMTAB; });
  std::vector<Sym> locals(1, Sym{}), globals;
  StringTable strings;
  if (symtab != Sections.end()) {
    Expected<ELF64LE::SymRange> syms = elf->symbols(&*symtab);
    if (!syms)
      return syms.takeError();
    Expected<StringRef> strtab = elf->getStringTableForSymtab(*symtab);
    if (!strtab)
      return strtab.takeError();
    strings = StringTable(*strtab);
    for (const Sym &sym : syms->drop_front())
      (sym.getBinding() == ELF::STB_LOCAL ? locals : globals).push_back(sym);
  } else if (Error e = seedFromDynsym(*elf, strings, locals, globals)) {
    return e;
  }
  uint64_t codeEnd = Linked.codeAddress + Linked.code.size();
  uint64_t stateEnd = Linked.stateAddress + Linked.stateSize;
  for (const auto &[name, address] : Linked.symbols) {
    Sym sym = {};
    bool inCode = address >= Linked.codeAddress && address < codeEnd;
    bool inState = address >= Linked.stateAddress && address < stateEnd;
    if (!inCode && !inState)
      continue;
    sym.st_name = strings.add(name);
    sym.setBindingAndType(ELF::STB_LOCAL,
                          inCode ? ELF::STT_FUNC : ELF::STT_OBJECT);
    sym.st_shndx = inCode ? textIndex : stateIndex;
    sym.st_value = address;
    auto size = Linked.symbolSizes.find(name);
    sym.st_size = size == Linked.symbolSizes.end() ? 0 : size->second;
    locals.push_back(sym);
  }
  uint32_t firstGlobal = locals.size();
  append_range(locals, globals);

  ArrayRef<uint8_t> symBytes(reinterpret_cast<const uint8_t *>(locals.data()),
                             locals.size() * sizeof(Sym));
  uint64_t symOffset = append(symBytes, 8);
  StringRef str = strings.data();
  uint64_t strOffset = append(arrayRefFromStringRef(str), 1);

  Shdr symHeader =
      makeSection(ELF::SHT_SYMTAB, 0, 0, symOffset, symBytes.size(), 8);
  symHeader.sh_entsize = sizeof(Sym);
  symHeader.sh_info = firstGlobal;
  Shdr strHeader = makeSection(ELF::SHT_STRTAB, 0, 0, strOffset, str.size(), 1);
  // The original .symtab and .strtab keep their indices (st_shndx and
  // sh_link elsewhere stay valid) and point at the new tables; a string
  // table shared with the section names gets a new index instead, because
  // .shstrtab is rebuilt separately.
  bool hasSymtab = symtab != Sections.end();
  uint32_t oldStrIndex = hasSymtab ? uint32_t(symtab->sh_link) : 0;
  bool reuseStrtab = hasSymtab && oldStrIndex != 0 &&
                     oldStrIndex != Header.e_shstrndx &&
                     oldStrIndex < sections.size();
  uint32_t strIndex = reuseStrtab ? oldStrIndex : uint32_t(sections.size());
  symHeader.sh_link = strIndex;
  if (reuseStrtab) {
    sections[strIndex] = strHeader;
    names[strIndex] = ".strtab";
  } else {
    sections.push_back(strHeader);
    names.push_back(".strtab");
  }
  if (hasSymtab) {
    sections[symtab - Sections.begin()] = symHeader;
    return Error::success();
  }
  sections.push_back(symHeader);
  names.push_back(".symtab");
  return Error::success();
}

void OutputImage::appendNonAlloc(std::vector<Shdr> &sections,
                                 std::vector<std::string> &names,
                                 StringRef name, ArrayRef<uint8_t> data) {
  uint64_t offset = append(data, 1);
  sections.push_back(
      makeSection(ELF::SHT_PROGBITS, 0, 0, offset, data.size(), 1));
  names.push_back(name.str());
}

/// The rewriter's own part of the manifest: where the code and state went
/// and every patch site as `eimc inspect` shows it. Slots number the sites
/// in address order, as the runtime's per-site counters do.
std::string OutputImage::siteManifest() const {
  std::string text;
  raw_string_ostream os(text);
  os << "image:\n  code: " << hex(Linked.codeAddress)
     << "\n  code-size: " << hex(Linked.code.size())
     << "\n  state: " << hex(Linked.stateAddress)
     << "\n  state-size: " << hex(Linked.stateSize)
     << "\n  original-entry: " << hex(Plan.originalEntry) << "\n";
  os << "patch-sites:\n";
  for (const PatchSite &site : Plan.sites) {
    auto tramp = Linked.symbols.find(site.trampolineSymbol);
    uint64_t trampAddress = tramp == Linked.symbols.end() ? 0 : tramp->second;
    os << "  - symbol: " << site.symbol
       << "\n    function: " << hex(site.functionAddress)
       << "\n    patch: " << hex(site.patchAddress) << "\n    stolen: '"
       << toHex(site.stolenBytes, true) << "'\n    trampoline: "
       << site.trampolineSymbol << "\n    trampoline-address: "
       << hex(trampAddress) << "\n    entry-programs: [";
    interleaveComma(site.entryPrograms, os);
    os << "]\n    return-programs: [";
    interleaveComma(site.returnPrograms, os);
    os << "]\n";
  }
  return text;
}

/// Appends the manifest, symbol tables and a new section header table.
Error OutputImage::appendSections() {
  std::vector<Shdr> sections = Sections;
  std::vector<std::string> names = SectionNames;
  if (sections.empty()) {
    sections.push_back(Shdr{});
    names.push_back("");
  }
  uint32_t stateIndex = ELF::SHN_ABS;
  if (Linked.stateSize) {
    stateIndex = sections.size();
    sections.push_back(makeSection(
        ELF::SHT_NOBITS, ELF::SHF_ALLOC | ELF::SHF_WRITE, Linked.stateAddress,
        BlobOffset, Linked.stateSize, PageSize));
    names.push_back(".eimc.state");
  }
  uint32_t textIndex = sections.size();
  sections.push_back(makeSection(
      ELF::SHT_PROGBITS, ELF::SHF_ALLOC | ELF::SHF_EXECINSTR,
      Linked.codeAddress, BlobOffset, Linked.code.size(), PageSize));
  names.push_back(".eimc.text");
  if (!Unwind.bytes.empty()) {
    uint64_t offset = BlobOffset + (UnwindAddress - Linked.codeAddress);
    sections.push_back(makeSection(ELF::SHT_PROGBITS, ELF::SHF_ALLOC,
                                   UnwindAddress, offset, Unwind.ehFrameSize,
                                   8));
    names.push_back(".eimc.eh_frame");
    sections.push_back(makeSection(
        ELF::SHT_PROGBITS, ELF::SHF_ALLOC, UnwindAddress + Unwind.hdrOffset,
        offset + Unwind.hdrOffset, Unwind.bytes.size() - Unwind.hdrOffset, 4));
    names.push_back(".eimc.eh_frame_hdr");
  }

  std::string manifest = "eimc-version: " + Prov.eimcVersion + "\n" + Prov.text;
  if (!StringRef(manifest).ends_with("\n"))
    manifest += "\n";
  manifest += siteManifest();
  appendNonAlloc(sections, names, ".eimc.manifest",
                 arrayRefFromStringRef(manifest));

  std::vector<RestoreRange> edited = Edited;
  edited.push_back(RestoreRange{0, sizeof(Ehdr)});
  edited.push_back(
      RestoreRange{Header.e_phoff, uint64_t(Header.e_phnum) * sizeof(Phdr)});
  appendNonAlloc(sections, names, ".eimc.restore",
                 encodeRestoreRecord(Host.bytes(), edited));

  if (Error err = appendSymbolTable(sections, names, textIndex, stateIndex))
    return err;

  // Section names: a fresh table at the old .shstrtab's index, or new.
  uint32_t shstrIndex = Header.e_shstrndx;
  if (Sections.empty() || shstrIndex == ELF::SHN_UNDEF ||
      shstrIndex >= Sections.size()) {
    shstrIndex = sections.size();
    sections.push_back(Shdr{});
    names.push_back(".shstrtab");
  }
  StringTable shstr;
  for (size_t i = 0; i < sections.size(); ++i)
    sections[i].sh_name = names[i].empty() ? 0 : shstr.add(names[i]);
  uint64_t shstrOffset = append(arrayRefFromStringRef(shstr.data()), 1);
  sections[shstrIndex] =
      makeSection(ELF::SHT_STRTAB, 0, 0, shstrOffset, shstr.data().size(), 1);
  sections[shstrIndex].sh_name = shstr.add(names[shstrIndex]);

  ArrayRef<uint8_t> table(reinterpret_cast<const uint8_t *>(sections.data()),
                          sections.size() * sizeof(Shdr));
  Header.e_shoff = append(table, 8);
  Header.e_shnum = sections.size();
  Header.e_shentsize = sizeof(Shdr);
  Header.e_shstrndx = shstrIndex;
  return Error::success();
}

Error OutputImage::build() {
  if (Error err = parse())
    return err;
  if (Error err = checkLayout())
    return err;
  BlobOffset = alignTo(Bytes.size(), PageSize);
  if (Error err = buildUnwind())
    return err;
  if (Error err = rewriteSegments())
    return err;
  if (Error err = checkLoads(Phdrs))
    return err;
  if (Error err = patchSites())
    return err;
  if (Error err = patchUnwind())
    return err;
  if (Error err = setEntry())
    return err;
  // Beyond this point, the original bytes are final; only appending.
  appendBlob();
  if (Error err = appendSections())
    return err;
  for (size_t i = 0; i < Phdrs.size(); ++i)
    writeAt(Header.e_phoff + i * sizeof(Phdr), Phdrs[i]);
  writeAt(0, Header);
  return Error::success();
}

/// Writes \p bytes to a temporary file beside \p outPath, then renames it;
/// the temporary is removed on every failure path.
static Error writeAtomically(ArrayRef<uint8_t> bytes, StringRef outPath,
                             unsigned mode) {
  SmallString<256> model(outPath);
  model += ".eimc-tmp-%%%%%%";
  int fd = -1;
  SmallString<256> tmpPath;
  if (std::error_code ec = sys::fs::createUniqueFile(model, fd, tmpPath))
    return createFileError(outPath, ec);
  FileRemover remover(tmpPath);
  {
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    os.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
    os.close();
    if (os.has_error())
      return createFileError(tmpPath, os.error());
  }
  // Copying set-uid/set-gid onto a modified binary would be a privilege
  // escalation waiting to happen.
  unsigned perms =
      mode & ~unsigned(sys::fs::set_uid_on_exe | sys::fs::set_gid_on_exe);
  if (std::error_code ec =
          sys::fs::setPermissions(tmpPath, static_cast<sys::fs::perms>(perms)))
    return createFileError(tmpPath, ec);
  if (std::error_code ec = sys::fs::rename(tmpPath, outPath))
    return createFileError(outPath, ec);
  remover.releaseFile();
  return Error::success();
}

Error writeOutput(const HostBinary &host, const RewritePlan &plan,
                  const linker::LinkedExtension &linked,
                  const Provenance &provenance, StringRef outPath,
                  function_ref<Error(ArrayRef<uint8_t>)> check) {
  OutputImage image(host, plan, linked, provenance);
  // Not wrapped in a FileError: callers look for RefusalError by type.
  if (Error err = image.build())
    return err;
  if (check)
    if (Error err = check(image.bytes()))
      return err;
  return writeAtomically(image.bytes(), outPath, host.fileMode());
}

} // namespace eimc::rewriter
