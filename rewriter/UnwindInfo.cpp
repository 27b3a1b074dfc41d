//===- rewriter/UnwindInfo.cpp - Unwind data for return-probed functions --===//
//
// Part of eimc. See docs/design.md, "Unwinding through return probes".
//
//===----------------------------------------------------------------------===//
//
// The unwinders of glibc hosts (libgcc's, behind C++ exceptions and
// backtrace(); gdb's) find a function's FDE through PT_GNU_EH_FRAME: the
// binary search table of .eh_frame_hdr. So the host's FDEs are not edited
// (no original byte moves); instead, for each return-probed function,
//  - a copy of its CIE: same alignment factors, augmentation (personality
//    pointer re-encoded for its new position) and initial instructions,
//    plus DW_CFA_val_expression for the return address column that looks
//    the slot CFA-8 up in the runtime's fixed-address table and falls back
//    to the slot's content (returnAddressExpression());
//  - a copy of its FDE under that CIE: same CFI instructions, initial
//    location and LSDA pointer re-encoded for the new position;
//  - a new .eh_frame_hdr listing every original FDE, the hooked functions'
//    entries pointing at their copies.
// Only the pointer encodings GCC, Clang and GNU ld/lld emit are rewritten
// (absolute or pc-relative, 2/4/8-byte, optionally indirect); a function
// with anything else keeps its original FDE (UnwindData::notes says why;
// planUnwind() turns them into the plan's warnings).
//
// The expression uses only operations libgcc's execute_stack_op, LLVM's
// libunwind and gdb evaluate (no DW_OP_call_frame_cfa: libgcc pushes the
// CFA before evaluating a val_expression instead).
//
//===----------------------------------------------------------------------===//

#include "UnwindInfo.h"

#include "eim_unwind_table.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/BinaryFormat/Dwarf.h"
#include "llvm/BinaryFormat/ELF.h"
#include "llvm/Object/ELF.h"
#include "llvm/Support/DataExtractor.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/LEB128.h"
#include "llvm/Support/MathExtras.h"

#include <map>

using namespace llvm;

namespace eimc::rewriter {

namespace {

using Phdr = object::ELF64LE::Phdr;

/// The x86-64 DWARF register number of the return address column.
constexpr unsigned ReturnAddressColumn = 16;

/// A reason to keep one function's original FDE.
struct Unsupported {
  std::string reason;
};

/// The host's loaded bytes, by virtual address.
class HostMemory {
public:
  HostMemory(ArrayRef<uint8_t> file, ArrayRef<Phdr> phdrs)
      : File(file), Phdrs(phdrs) {}

  /// The file-backed bytes from \p address to the end of its segment.
  ArrayRef<uint8_t> from(uint64_t address) const {
    for (const Phdr &p : Phdrs)
      if (p.p_type == ELF::PT_LOAD && address >= p.p_vaddr &&
          address < p.p_vaddr + p.p_filesz &&
          p.p_offset + p.p_filesz <= File.size())
        return File.slice(p.p_offset + (address - p.p_vaddr),
                          p.p_filesz - (address - p.p_vaddr));
    return {};
  }

private:
  ArrayRef<uint8_t> File;
  ArrayRef<Phdr> Phdrs;
};

/// Byte size of a fixed-size pointer encoding, 0 for variable or unknown.
unsigned encodedSize(uint8_t encoding) {
  switch (encoding & 0x0f) {
  case dwarf::DW_EH_PE_absptr:
  case dwarf::DW_EH_PE_udata8:
  case dwarf::DW_EH_PE_sdata8:
    return 8;
  case dwarf::DW_EH_PE_udata4:
  case dwarf::DW_EH_PE_sdata4:
    return 4;
  case dwarf::DW_EH_PE_udata2:
  case dwarf::DW_EH_PE_sdata2:
    return 2;
  default:
    return 0;
  }
}

/// Whether the writer below can re-encode \p encoding at a new address.
bool reencodable(uint8_t encoding) {
  uint8_t application = encoding & 0x70;
  return encodedSize(encoding) != 0 && (application == dwarf::DW_EH_PE_absptr ||
                                        application == dwarf::DW_EH_PE_pcrel);
}

/// Reads a fixed-size pointer at \p data[offset]; \p field is its address
/// and \p dataBase the base for datarel encodings. The indirect bit is kept
/// as a property of the encoding: the result is the pointer's slot then.
std::optional<uint64_t> readPointer(uint8_t encoding, ArrayRef<uint8_t> data,
                                    uint64_t offset, uint64_t field,
                                    uint64_t dataBase = 0) {
  unsigned size = encodedSize(encoding);
  if (!size || offset + size > data.size())
    return std::nullopt;
  const uint8_t *p = data.data() + offset;
  uint64_t value = 0;
  switch (encoding & 0x0f) {
  case dwarf::DW_EH_PE_udata2:
    value = support::endian::read16le(p);
    break;
  case dwarf::DW_EH_PE_sdata2:
    value = int64_t(int16_t(support::endian::read16le(p)));
    break;
  case dwarf::DW_EH_PE_udata4:
    value = support::endian::read32le(p);
    break;
  case dwarf::DW_EH_PE_sdata4:
    value = int64_t(int32_t(support::endian::read32le(p)));
    break;
  default:
    value = support::endian::read64le(p);
    break;
  }
  switch (encoding & 0x70) {
  case dwarf::DW_EH_PE_absptr:
    return value;
  case dwarf::DW_EH_PE_pcrel:
    return value + field;
  case dwarf::DW_EH_PE_datarel:
    return value + dataBase;
  default:
    return std::nullopt;
  }
}

/// Appends \p target encoded as \p encoding for a field at \p field.
bool writePointer(std::vector<uint8_t> &out, uint8_t encoding, uint64_t target,
                  uint64_t field) {
  uint64_t value = target;
  if ((encoding & 0x70) == dwarf::DW_EH_PE_pcrel)
    value = target - field;
  unsigned size = encodedSize(encoding);
  bool isSigned = (encoding & 0x08) != 0;
  if (size < 8 && (isSigned ? !isIntN(size * 8, int64_t(value))
                            : !isUIntN(size * 8, value)))
    return false;
  for (unsigned i = 0; i < size; ++i)
    out.push_back(uint8_t(value >> (8 * i)));
  return true;
}

void writeULEB(std::vector<uint8_t> &out, uint64_t value) {
  uint8_t buf[16];
  unsigned n = encodeULEB128(value, buf);
  out.insert(out.end(), buf, buf + n);
}

void write32(std::vector<uint8_t> &out, uint32_t value) {
  for (unsigned i = 0; i < 4; ++i)
    out.push_back(uint8_t(value >> (8 * i)));
}

/// One CIE of the host, split into what is copied and what is re-encoded.
struct CieInfo {
  uint64_t address = 0;
  uint8_t version = 0;
  std::string augmentation;
  ArrayRef<uint8_t> alignAndRa; ///< code/data alignment, RA column (raw)
  uint8_t personalityEncoding = dwarf::DW_EH_PE_omit;
  uint64_t personality = 0; ///< the target (or slot, if indirect)
  uint8_t lsdaEncoding = dwarf::DW_EH_PE_omit;
  uint8_t fdeEncoding = dwarf::DW_EH_PE_absptr;
  ArrayRef<uint8_t> instructions;
};

struct FdeInfo {
  uint64_t address = 0;
  uint64_t cie = 0;
  uint64_t pcBegin = 0;
  ArrayRef<uint8_t> pcRange; ///< raw, copied
  bool hasLsda = false;
  uint64_t lsda = 0;
  ArrayRef<uint8_t> augmentationRest; ///< after the LSDA pointer (raw)
  ArrayRef<uint8_t> instructions;
};

/// The body of the record at \p address (after its length), or an error.
Expected<ArrayRef<uint8_t>> recordAt(const HostMemory &mem, uint64_t address) {
  ArrayRef<uint8_t> bytes = mem.from(address);
  if (bytes.size() < 8)
    return make_error<StringError>("record outside the file",
                                   inconvertibleErrorCode());
  uint32_t length = support::endian::read32le(bytes.data());
  if (length == 0xffffffff || length + 4ull > bytes.size() || length < 4)
    return make_error<StringError>("64-bit or truncated record",
                                   inconvertibleErrorCode());
  return bytes.slice(4, length);
}

std::optional<CieInfo> parseCie(const HostMemory &mem, uint64_t address,
                                std::string &why) {
  Expected<ArrayRef<uint8_t>> body = recordAt(mem, address);
  if (!body) {
    why = "CIE: " + toString(body.takeError());
    return std::nullopt;
  }
  DataExtractor ex(toStringRef(*body), /*IsLittleEndian=*/true, 8);
  DataExtractor::Cursor c(4); // after the CIE id
  auto fail = [&](const Twine &reason) {
    why = reason.str();
    consumeError(c.takeError());
    return std::nullopt;
  };
  CieInfo cie;
  cie.address = address;
  if (support::endian::read32le(body->data()) != 0)
    return fail("not a CIE");
  cie.version = ex.getU8(c);
  cie.augmentation = ex.getCStrRef(c).str();
  if (cie.version != 1 && cie.version != 3)
    return fail("CIE version " + Twine(unsigned(cie.version)));
  uint64_t alignStart = c.tell();
  ex.getULEB128(c);
  ex.getSLEB128(c);
  uint64_t ra = cie.version == 1 ? ex.getU8(c) : ex.getULEB128(c);
  if (!c)
    return fail("truncated CIE");
  cie.alignAndRa = body->slice(alignStart, c.tell() - alignStart);
  if (ra != ReturnAddressColumn)
    return fail("return address column " + Twine(ra));
  StringRef aug = cie.augmentation;
  uint64_t augEnd = 0;
  if (aug.consume_front("z")) {
    uint64_t augLength = ex.getULEB128(c);
    augEnd = c.tell() + augLength;
    for (char letter : aug) {
      switch (letter) {
      case 'P': {
        cie.personalityEncoding = ex.getU8(c);
        if (!reencodable(cie.personalityEncoding))
          return fail("personality encoding 0x" +
                      utohexstr(cie.personalityEncoding));
        // The body starts 4 bytes into the record.
        std::optional<uint64_t> p = readPointer(
            cie.personalityEncoding, *body, c.tell(), address + 4 + c.tell());
        if (!p)
          return fail("personality pointer");
        cie.personality = *p;
        ex.skip(c, encodedSize(cie.personalityEncoding));
        break;
      }
      case 'L':
        cie.lsdaEncoding = ex.getU8(c);
        break;
      case 'R':
        cie.fdeEncoding = ex.getU8(c);
        break;
      case 'S':
        break;
      default:
        return fail("augmentation '" + cie.augmentation + "'");
      }
    }
    if (!c || c.tell() > augEnd)
      return fail("augmentation data");
  } else if (!aug.empty()) {
    return fail("augmentation '" + cie.augmentation + "'");
  }
  if (!reencodable(cie.fdeEncoding) ||
      (cie.lsdaEncoding != dwarf::DW_EH_PE_omit &&
       !reencodable(cie.lsdaEncoding)))
    return fail("pointer encodings");
  cie.instructions = body->drop_front(std::max<uint64_t>(c.tell(), augEnd));
  consumeError(c.takeError());
  return cie;
}

std::optional<FdeInfo> parseFde(const HostMemory &mem, uint64_t address,
                                const CieInfo &cie, std::string &why) {
  Expected<ArrayRef<uint8_t>> body = recordAt(mem, address);
  if (!body) {
    why = "FDE: " + toString(body.takeError());
    return std::nullopt;
  }
  FdeInfo fde;
  fde.address = address;
  uint64_t offset = 4;
  std::optional<uint64_t> begin =
      readPointer(cie.fdeEncoding, *body, offset, address + 4 + offset);
  unsigned size = encodedSize(cie.fdeEncoding);
  if (!begin || offset + 2 * size > body->size()) {
    why = "FDE initial location";
    return std::nullopt;
  }
  fde.pcBegin = *begin;
  fde.pcRange = body->slice(offset + size, size);
  offset += 2 * size;
  if (StringRef(cie.augmentation).starts_with("z")) {
    unsigned n = 0;
    uint64_t augLength =
        decodeULEB128(body->data() + offset, &n, body->data() + body->size());
    offset += n;
    if (offset + augLength > body->size()) {
      why = "FDE augmentation data";
      return std::nullopt;
    }
    ArrayRef<uint8_t> aug = body->slice(offset, augLength);
    uint64_t used = 0;
    if (cie.lsdaEncoding != dwarf::DW_EH_PE_omit) {
      std::optional<uint64_t> lsda =
          readPointer(cie.lsdaEncoding, *body, offset, address + 4 + offset);
      if (!lsda || encodedSize(cie.lsdaEncoding) > aug.size()) {
        why = "LSDA pointer";
        return std::nullopt;
      }
      fde.hasLsda = true;
      fde.lsda = *lsda;
      used = encodedSize(cie.lsdaEncoding);
    }
    fde.augmentationRest = aug.drop_front(used);
    offset += augLength;
  }
  fde.instructions = body->drop_front(offset);
  return fde;
}

/// Pads a record begun at \p start with DW_CFA_nop to a multiple of 8
/// bytes and fills in its length.
void finishRecord(std::vector<uint8_t> &out, size_t start) {
  while ((out.size() - start) % 8)
    out.push_back(dwarf::DW_CFA_nop);
  support::endian::write32le(out.data() + start,
                             uint32_t(out.size() - start - 4));
}

/// Appends the copy of \p cie at \p base + out.size(), with the return
/// address rule that reads the unwinders' table if \p tableRule.
bool writeCie(std::vector<uint8_t> &out, uint64_t base, const CieInfo &cie,
              bool tableRule = true) {
  size_t start = out.size();
  write32(out, 0); // length, below
  write32(out, 0); // CIE id
  out.push_back(cie.version);
  append_range(out, cie.augmentation);
  out.push_back(0);
  append_range(out, cie.alignAndRa);
  StringRef aug = cie.augmentation;
  if (aug.consume_front("z")) {
    // Every re-encoded pointer keeps its size, so the length is known
    // before the data that depends on its own position.
    uint64_t length = 0;
    for (char letter : aug)
      length += letter == 'P'   ? 1 + encodedSize(cie.personalityEncoding)
                : letter == 'S' ? 0
                                : 1;
    writeULEB(out, length);
    for (char letter : aug) {
      if (letter == 'P') {
        out.push_back(cie.personalityEncoding);
        if (!writePointer(out, cie.personalityEncoding, cie.personality,
                          base + out.size()))
          return false;
      } else if (letter == 'L') {
        out.push_back(cie.lsdaEncoding);
      } else if (letter == 'R') {
        out.push_back(cie.fdeEncoding);
      }
    }
  }
  append_range(out, cie.instructions);
  if (tableRule) {
    std::vector<uint8_t> expression = returnAddressExpression();
    out.push_back(dwarf::DW_CFA_val_expression);
    writeULEB(out, ReturnAddressColumn);
    writeULEB(out, expression.size());
    append_range(out, expression);
  }
  finishRecord(out, start);
  return true;
}

/// Appends the copy of \p fde under the new CIE at \p newCie.
bool writeFde(std::vector<uint8_t> &out, uint64_t base, const CieInfo &cie,
              const FdeInfo &fde, uint64_t newCie) {
  size_t start = out.size();
  write32(out, 0);
  write32(out, uint32_t(base + out.size() - newCie));
  if (!writePointer(out, cie.fdeEncoding, fde.pcBegin, base + out.size()))
    return false;
  append_range(out, fde.pcRange);
  if (StringRef(cie.augmentation).starts_with("z")) {
    writeULEB(out, (fde.hasLsda ? encodedSize(cie.lsdaEncoding) : 0) +
                       fde.augmentationRest.size());
    if (fde.hasLsda &&
        !writePointer(out, cie.lsdaEncoding, fde.lsda, base + out.size()))
      return false;
    append_range(out, fde.augmentationRest);
  }
  append_range(out, fde.instructions);
  finishRecord(out, start);
  return true;
}

/// One row of .eh_frame_hdr's table, as addresses.
struct HdrEntry {
  uint64_t location;
  uint64_t fde;
};

/// The original .eh_frame_hdr: where .eh_frame is and the sorted table.
struct Hdr {
  uint64_t ehFrame = 0;
  std::vector<HdrEntry> table;
};

std::optional<Hdr> parseHdr(const HostMemory &mem, uint64_t address,
                            std::string &why) {
  ArrayRef<uint8_t> bytes = mem.from(address);
  if (bytes.size() < 4 || bytes[0] != 1) {
    why = "no version 1 .eh_frame_hdr";
    return std::nullopt;
  }
  uint8_t frameEnc = bytes[1], countEnc = bytes[2], tableEnc = bytes[3];
  const uint8_t datarelSdata4 =
      dwarf::DW_EH_PE_datarel | dwarf::DW_EH_PE_sdata4;
  if (tableEnc != datarelSdata4) {
    why = ".eh_frame_hdr without a binary search table";
    return std::nullopt;
  }
  Hdr hdr;
  uint64_t offset = 4;
  std::optional<uint64_t> frame =
      readPointer(frameEnc, bytes, offset, address + offset, address);
  offset += encodedSize(frameEnc);
  std::optional<uint64_t> count =
      readPointer(countEnc, bytes, offset, address + offset, address);
  offset += encodedSize(countEnc);
  if (!frame || !count || offset + *count * 8 > bytes.size()) {
    why = "malformed .eh_frame_hdr";
    return std::nullopt;
  }
  hdr.ehFrame = *frame;
  for (uint64_t i = 0; i < *count; ++i, offset += 8)
    hdr.table.push_back(
        {*readPointer(datarelSdata4, bytes, offset, 0, address),
         *readPointer(datarelSdata4, bytes, offset + 4, 0, address)});
  return hdr;
}

/// The host's FDEs by scanning its .eh_frame section, for a host without
/// PT_GNU_EH_FRAME (a static non-PIE executable: GCC links those without
/// --eh-frame-hdr). FDEs whose CIE this file cannot read are left out.
std::optional<Hdr> scanEhFrame(ArrayRef<uint8_t> file, const HostMemory &mem,
                               std::string &why) {
  Expected<object::ELFFile<object::ELF64LE>> elf =
      object::ELFFile<object::ELF64LE>::create(toStringRef(file));
  if (!elf) {
    why = toString(elf.takeError());
    return std::nullopt;
  }
  Expected<object::ELF64LE::ShdrRange> sections = elf->sections();
  if (!sections) {
    why = toString(sections.takeError());
    return std::nullopt;
  }
  const object::ELF64LE::Shdr *ehFrame = nullptr;
  for (const object::ELF64LE::Shdr &sec : *sections) {
    Expected<StringRef> name = elf->getSectionName(sec);
    if (!name)
      consumeError(name.takeError());
    else if (*name == ".eh_frame" && (sec.sh_flags & ELF::SHF_ALLOC))
      ehFrame = &sec;
  }
  if (!ehFrame) {
    why = "the host has neither PT_GNU_EH_FRAME nor an .eh_frame section";
    return std::nullopt;
  }
  Hdr hdr;
  hdr.ehFrame = ehFrame->sh_addr;
  std::map<uint64_t, std::optional<CieInfo>> cies;
  uint64_t end = ehFrame->sh_addr + ehFrame->sh_size;
  for (uint64_t at = ehFrame->sh_addr; at + 8 <= end;) {
    ArrayRef<uint8_t> bytes = mem.from(at);
    if (bytes.size() < 8)
      break;
    uint32_t length = support::endian::read32le(bytes.data());
    if (length == 0) // the terminator crtend.o adds
      break;
    if (length == 0xffffffff) {
      why = "64-bit .eh_frame record at 0x" + utohexstr(at);
      return std::nullopt;
    }
    if (uint32_t id = support::endian::read32le(bytes.data() + 4)) {
      uint64_t cieAddress = at + 4 - id;
      auto [it, isNew] = cies.try_emplace(cieAddress);
      if (isNew) {
        std::string ignored;
        it->second = parseCie(mem, cieAddress, ignored);
      }
      std::optional<uint64_t> begin =
          it->second ? readPointer(it->second->fdeEncoding, bytes, 8, at + 8)
                     : std::nullopt;
      // libgcc skips FDEs of discarded sections, whose location is 0.
      if (begin && *begin)
        hdr.table.push_back({*begin, at});
    }
    at += 4 + uint64_t(length);
  }
  stable_sort(hdr.table, [](const HdrEntry &a, const HdrEntry &b) {
    return a.location < b.location;
  });
  return hdr;
}

/// The trampolines' unwind rules as LLVM MC wrote them from the .cfi
/// directives of Trampolines.cpp: one CIE and FDEs, each placed at its
/// linked address.
struct TrampolineCfi {
  object::ELF64LE::Phdr section{}; ///< .eh_frame, as if loaded at 0
  std::optional<CieInfo> cie;
  std::vector<FdeInfo> fdes; ///< pcBegin: the linked address
};

Error cfiError(const Twine &what) {
  return make_error<StringError>("trampoline unwind rules: " + what,
                                 inconvertibleErrorCode());
}

/// Reads \p object (assembleTrampolines()): each FDE's pc_begin is a
/// relocation into .text.eimc, placed by the trampoline symbol it covers
/// (an FDE may start one byte before its symbol: the return landing's
/// pad); \p linked gives where the linker put those symbols.
Error readTrampolineCfi(ArrayRef<uint8_t> object,
                        const std::map<std::string, uint64_t> &linked,
                        TrampolineCfi &cfi) {
  using ELFT = object::ELF64LE;
  if (object.empty())
    return Error::success();
  Expected<object::ELFFile<ELFT>> elf =
      object::ELFFile<ELFT>::create(toStringRef(object));
  if (!elf)
    return elf.takeError();
  Expected<ELFT::ShdrRange> sections = elf->sections();
  if (!sections)
    return sections.takeError();
  const ELFT::Shdr *ehFrame = nullptr, *rela = nullptr, *symtab = nullptr;
  for (const ELFT::Shdr &sec : *sections) {
    Expected<StringRef> name = elf->getSectionName(sec);
    if (!name)
      return name.takeError();
    if (*name == ".eh_frame")
      ehFrame = &sec;
    else if (*name == ".rela.eh_frame")
      rela = &sec;
    else if (sec.sh_type == ELF::SHT_SYMTAB)
      symtab = &sec;
  }
  if (!ehFrame || !rela || !symtab)
    return Error::success(); // no .cfi directives: nothing to place
  Expected<ELFT::SymRange> symbols = elf->symbols(symtab);
  Expected<StringRef> names = elf->getStringTableForSymtab(*symtab);
  Expected<ELFT::RelaRange> relas = elf->relas(*rela);
  if (!symbols || !names || !relas)
    return joinErrors(joinErrors(symbols.takeError(), names.takeError()),
                      relas.takeError());
  std::map<uint64_t, uint64_t> targets; // field offset -> .text.eimc offset
  for (const ELFT::Rela &r : *relas) {
    uint32_t index = r.getSymbol(false);
    if (index >= symbols->size())
      return cfiError("relocation symbol out of range");
    targets[r.r_offset] = (*symbols)[index].st_value + r.r_addend;
  }
  struct Anchor {
    uint64_t value, size;
    std::string name;
  };
  std::vector<Anchor> anchors;
  for (const ELFT::Sym &sym : *symbols) {
    Expected<StringRef> name = sym.getName(*names);
    if (!name)
      return name.takeError();
    if (sym.getType() == ELF::STT_FUNC && linked.count(name->str()))
      anchors.push_back({sym.st_value, sym.st_size, name->str()});
  }
  cfi.section.p_type = ELF::PT_LOAD;
  cfi.section.p_offset = ehFrame->sh_offset;
  cfi.section.p_filesz = ehFrame->sh_size;
  HostMemory mem(object, ArrayRef(cfi.section));
  std::string why;
  for (uint64_t at = 0; at + 8 <= ehFrame->sh_size;) {
    ArrayRef<uint8_t> bytes = mem.from(at);
    uint32_t length = support::endian::read32le(bytes.data());
    if (length == 0)
      break;
    uint32_t id = support::endian::read32le(bytes.data() + 4);
    if (id && !cfi.cie)
      cfi.cie = parseCie(mem, at + 4 - id, why);
    if (id && !cfi.cie)
      return cfiError("CIE: " + why);
    std::optional<FdeInfo> fde =
        id ? parseFde(mem, at, *cfi.cie, why) : std::nullopt;
    auto target = targets.find(at + 8);
    if (id && (!fde || target == targets.end()))
      return cfiError("FDE at 0x" + utohexstr(at) + ": " +
                      (fde ? "no relocation" : why));
    if (id) {
      uint64_t t = target->second;
      auto anchor = find_if(anchors, [&](const Anchor &a) {
        return t + 1 >= a.value && t < a.value + a.size;
      });
      // An FDE outside every trampoline (none is emitted today) is left out.
      if (anchor != anchors.end()) {
        fde->pcBegin = linked.at(anchor->name) + (t - anchor->value);
        cfi.fdes.push_back(*fde);
      }
    }
    at += 4 + uint64_t(length);
  }
  return Error::success();
}

} // namespace

std::vector<uint8_t> returnAddressExpression() {
  using namespace dwarf;
  // Stack comments: top on the right, the CFA below them not shown.
  // libgcc starts with the CFA pushed.
  std::vector<uint8_t> e;
  auto op = [&](uint8_t code) { e.push_back(code); };
  auto uleb = [&](uint64_t value) { writeULEB(e, value); };
  auto branch = [&](uint8_t code) {
    op(code);
    e.push_back(0);
    e.push_back(0);
    return e.size(); // the offset is relative to the end of the operand
  };
  auto patch = [&](size_t after, size_t target) {
    int16_t rel = int16_t(int64_t(target) - int64_t(after));
    e[after - 2] = uint8_t(rel);
    e[after - 1] = uint8_t(uint16_t(rel) >> 8);
  };
  // The CFA stays at the bottom: libgcc's DW_OP_pick cannot reach the
  // bottom element (it asserts offset < depth - 1).
  static_assert(EIM_UNWIND_ENTRY_SIZE == 32, "index scaling below");
  op(DW_OP_dup);
  op(DW_OP_lit8);
  op(DW_OP_minus); // CFA S, S = CFA - 8
  op(DW_OP_dup);
  op(DW_OP_lit2);
  op(DW_OP_shl); // S S<<2 = ((S >> 3) * 32) before masking
  op(DW_OP_constu);
  uleb((EIM_UNWIND_TABLE_ENTRIES - 1) * EIM_UNWIND_ENTRY_SIZE);
  op(DW_OP_and);
  op(DW_OP_constu);
  uleb(EIM_UNWIND_TABLE_BASE);
  op(DW_OP_plus); // S E (the home entry)
  std::vector<size_t> toCheck;
  for (unsigned i = 0; i < EIM_UNWIND_TABLE_PROBES; ++i) {
    op(DW_OP_dup);
    op(DW_OP_deref); // S E key
    op(DW_OP_pick);
    e.push_back(2); // S E key S
    op(DW_OP_eq);
    toCheck.push_back(branch(DW_OP_bra)); // S E
    if (i + 1 < EIM_UNWIND_TABLE_PROBES) {
      op(DW_OP_plus_uconst);
      uleb(EIM_UNWIND_ENTRY_SIZE);
    }
  }
  size_t miss = e.size(); // S E: not armed, the slot holds the address
  op(DW_OP_drop);
  op(DW_OP_deref);
  size_t toDone = branch(DW_OP_skip);
  size_t check = e.size(); // S E: key matches; armed if *S == E.tramp
  for (size_t from : toCheck)
    patch(from, check);
  op(DW_OP_dup);
  op(DW_OP_plus_uconst);
  uleb(EIM_UNWIND_TRAMP_OFFSET);
  op(DW_OP_deref); // S E tramp
  op(DW_OP_pick);
  e.push_back(2);
  op(DW_OP_deref); // S E tramp *S
  op(DW_OP_ne);
  patch(branch(DW_OP_bra), miss); // S E
  op(DW_OP_plus_uconst);
  uleb(EIM_UNWIND_RET_OFFSET);
  op(DW_OP_deref); // S ret
  op(DW_OP_swap);
  op(DW_OP_drop); // ret
  patch(toDone, e.size());
  op(DW_OP_swap); // below the result: the CFA
  op(DW_OP_drop);
  return e;
}

Expected<UnwindData>
buildUnwindData(ArrayRef<uint8_t> file, ArrayRef<Phdr> phdrs,
                const RewritePlan &plan, uint64_t address, bool replaceFdes,
                ArrayRef<uint8_t> trampolineObject,
                const std::map<std::string, uint64_t> &linkedSymbols) {
  UnwindData result;
  auto probed = make_filter_range(plan.sites, [&](const PatchSite &s) {
    return replaceFdes && !s.returnPrograms.empty();
  });
  TrampolineCfi trampolines;
  if (Error err =
          readTrampolineCfi(trampolineObject, linkedSymbols, trampolines))
    return std::move(err);
  if (probed.empty() && trampolines.fdes.empty())
    return result;
  auto ehHdr = find_if(
      phdrs, [](const Phdr &p) { return p.p_type == ELF::PT_GNU_EH_FRAME; });
  auto noteAll = [&](const Twine &why) {
    for (const PatchSite &site : probed)
      result.notes.push_back(site.symbol + ": " + why.str());
    return std::move(result);
  };
  HostMemory mem(file, phdrs);
  std::string why;
  // Without PT_GNU_EH_FRAME, libgcc finds the host's FDEs through the
  // object crtbeginT.o registers (__register_frame_info), searched before
  // any PT_GNU_EH_FRAME: the replaced FDEs' ranges are set to 0 there so
  // that the search misses them, and a spare PT_NOTE becomes the
  // PT_GNU_EH_FRAME that leads to the copies.
  bool addsSegment = ehHdr == phdrs.end();
  // That PT_NOTE holds the build-id and ABI tag, which programs read
  // through dl_iterate_phdr: it is given up only for a replacement FDE (an
  // exception through a return-probed function), never for the
  // trampolines' FDEs alone.
  if (addsSegment && probed.empty())
    return result;
  size_t notes = count_if(
      phdrs, [](const Phdr &p) { return p.p_type == ELF::PT_NOTE; });
  if (addsSegment && notes < 2)
    return noteAll("the host has no PT_GNU_EH_FRAME and no second PT_NOTE "
                   "to turn into one");
  std::optional<Hdr> hdr = addsSegment
                               ? scanEhFrame(file, mem, why)
                               : parseHdr(mem, ehHdr->p_vaddr, why);
  if (!hdr)
    return noteAll(why);

  // Replacement records, in plan (address) order; one CIE copy per
  // original CIE.
  std::vector<uint8_t> &out = result.bytes;
  std::map<uint64_t, uint64_t> newCies; // original CIE -> copy
  std::map<uint64_t, uint64_t> newFdes; // original FDE -> copy
  for (const PatchSite &site : probed) {
    auto next = upper_bound(
        hdr->table, site.functionAddress,
        [](uint64_t a, const HdrEntry &e) { return a < e.location; });
    if (next == hdr->table.begin()) {
      result.notes.push_back(site.symbol + ": no FDE");
      continue;
    }
    const HdrEntry &entry = *std::prev(next);
    if (newFdes.count(entry.fde)) {
      result.replaced.push_back(site.symbol);
      continue;
    }
    ArrayRef<uint8_t> record = mem.from(entry.fde);
    if (record.size() < 8) {
      result.notes.push_back(site.symbol + ": FDE outside the file");
      continue;
    }
    uint64_t cieAddress =
        entry.fde + 4 - support::endian::read32le(record.data() + 4);
    std::optional<CieInfo> cie = parseCie(mem, cieAddress, why);
    std::optional<FdeInfo> fde;
    if (cie)
      fde = parseFde(mem, entry.fde, *cie, why);
    if (!fde) {
      result.notes.push_back(site.symbol + ": " + why);
      continue;
    }
    unsigned size = encodedSize(cie->fdeEncoding);
    uint64_t range = size == 8 ? support::endian::read64le(fde->pcRange.data())
                     : size == 4
                         ? support::endian::read32le(fde->pcRange.data())
                         : support::endian::read16le(fde->pcRange.data());
    if (site.functionAddress >= fde->pcBegin + range) {
      result.notes.push_back(site.symbol + ": no FDE");
      continue;
    }
    size_t mark = out.size();
    auto [it, isNew] = newCies.try_emplace(cieAddress, address + out.size());
    bool ok = !isNew || writeCie(out, address, *cie);
    uint64_t fdeAddress = address + out.size();
    ok = ok && writeFde(out, address, *cie, *fde, it->second);
    if (!ok) {
      out.resize(mark);
      if (isNew)
        newCies.erase(it);
      result.notes.push_back(site.symbol +
                             ": a pointer does not fit its encoding here");
      continue;
    }
    newFdes[entry.fde] = fdeAddress;
    result.replaced.push_back(site.symbol);
    if (addsSegment) // pc_range follows the CIE pointer and pc_begin
      result.patches.push_back(
          {entry.fde + 8 + size, std::vector<uint8_t>(size, 0)});
  }
  if (addsSegment && newFdes.empty())
    return result; // only notes: the PT_NOTE stays
  // The trampolines' own FDEs, under one copy of the assembler's CIE. Their
  // return address rule reads the table only if the stub maps it.
  std::vector<HdrEntry> rows;
  for (const HdrEntry &entry : hdr->table) {
    auto copy = newFdes.find(entry.fde);
    rows.push_back({entry.location,
                    copy == newFdes.end() ? entry.fde : copy->second});
  }
  if (!trampolines.fdes.empty()) {
    uint64_t cieAddress = address + out.size();
    bool ok = writeCie(out, address, *trampolines.cie, plan.unwindTable);
    for (const FdeInfo &fde : trampolines.fdes) {
      rows.push_back({fde.pcBegin, address + out.size()});
      ok = ok && writeFde(out, address, *trampolines.cie, fde, cieAddress);
    }
    if (!ok)
      return cfiError("a pointer does not fit its encoding");
  }
  if (out.empty())
    return result;
  stable_sort(rows, [](const HdrEntry &a, const HdrEntry &b) {
    return a.location < b.location;
  });
  write32(out, 0); // the terminator unwinders scanning .eh_frame expect
  result.ehFrameSize = out.size();

  // The header: pc-relative .eh_frame pointer (the original section, for
  // unwinders that scan it), then the full table relative to the header.
  result.hdrOffset = out.size();
  uint64_t hdrAddress = address + out.size();
  out.push_back(1);
  out.push_back(dwarf::DW_EH_PE_pcrel | dwarf::DW_EH_PE_sdata4);
  out.push_back(dwarf::DW_EH_PE_udata4);
  out.push_back(dwarf::DW_EH_PE_datarel | dwarf::DW_EH_PE_sdata4);
  bool fits = writePointer(out, dwarf::DW_EH_PE_pcrel | dwarf::DW_EH_PE_sdata4,
                           hdr->ehFrame, address + out.size());
  write32(out, uint32_t(rows.size()));
  for (const HdrEntry &entry : rows)
    fits = fits &&
           writePointer(out, dwarf::DW_EH_PE_sdata4,
                        entry.location - hdrAddress, 0) &&
           writePointer(out, dwarf::DW_EH_PE_sdata4, entry.fde - hdrAddress,
                        0);
  if (!fits) {
    result = UnwindData();
    return noteAll("the new .eh_frame_hdr is out of 32-bit range of the host");
  }
  result.addsEhFrameSegment = addsSegment;
  return result;
}

void planUnwind(const HostBinary &host, RewritePlan &plan) {
  // HostBinary::create parsed the headers already: errors cannot happen.
  Expected<object::ELFFile<object::ELF64LE>> elf =
      object::ELFFile<object::ELF64LE>::create(toStringRef(host.bytes()));
  if (!elf) {
    consumeError(elf.takeError());
    return;
  }
  Expected<object::ELF64LE::PhdrRange> phdrs = elf->program_headers();
  if (!phdrs) {
    consumeError(phdrs.takeError());
    return;
  }
  // The blob is placed at or after the image's end; only the distance to
  // it can change the outcome, by far less than the 2 GiB that matter.
  Expected<UnwindData> unwind =
      buildUnwindData(host.bytes(), *phdrs, plan, host.imageEnd(),
                      /*replaceFdes=*/true, /*trampolineObject=*/{}, {});
  if (!unwind) {
    consumeError(unwind.takeError());
    return;
  }
  plan.unwindTable = !unwind->replaced.empty();
  for (StringRef note : unwind->notes) {
    auto [symbol, reason] = note.split(": ");
    plan.warnings.push_back(
        ("function '" + symbol + "' keeps its original FDE (" + reason +
         "): an exception or backtrace() through its armed return probe "
         "stops at the return trampoline")
            .str());
  }
}

} // namespace eimc::rewriter
