//===- rewriter/PkruScan.cpp - Find PKRU writes in an output --------------===//
//
// Part of eimc. See docs/security.md, "What the scan sees".
//
//===----------------------------------------------------------------------===//
//
// scanPkruWrites() looks at every byte offset of every executable segment
// of a rewritten ELF for instructions that can change PKRU: WRPKRU
// (0f 01 ef) and XRSTOR (0f ae /5 with a memory operand; XRSTOR restores
// PKRU from memory when XCR0 enables it). Host code that contains either
// can open the extension-state key without a gate, by design or through a
// jump into the middle of other instructions, so `isolation: require`
// refuses such an output unless the policy trusts the site.
//
// A byte-pattern scan rather than a disassembly: x86 has no instruction
// boundaries an attacker must respect, so every offset counts. The price
// is false positives (the bytes inside an immediate or across two
// instructions), which the report's symbol lets an operator judge.
//
// Ours and not reported: a WRPKRU that is part of one of Gates.cpp's
// gates, complete, inside eimc's own code (eim_code_start..eim_code_end in
// the `.eimc.text` section the rewriter adds, not the extension's
// read-only data that follows the code there). Recognised by where it is and what surrounds it, not by
// the name of the function holding it: every WRPKRU eimc emits is in such a
// gate (the trampolines, the host-call stubs, and the start stub's revoke
// after the runtime tagged the state; the runtime itself has none), and a
// gate is harmless wherever a jump lands in it (tests/lit/isolation/
// gate-walk.test). The same bytes in host code or in an extension's
// constants are still reported.
//
//===----------------------------------------------------------------------===//

#include "eimc/Rewriter/Rewriter.h"

#include "eimc/Core/Errors.h"

#include "eim_state.h"

#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <optional>

using namespace llvm;
using namespace llvm::object;

namespace eimc::rewriter {

namespace {
/// The two gates as the assembler encodes Gates.cpp's text for key 1
/// (`and`/`or`/`cmp` with an 8-bit immediate), up to and including the
/// WRPKRU: open = xor ecx; rdpkru; and eax, ~0xc; xor ecx; xor edx; wrpkru.
constexpr uint8_t OpenGate[] = {0x31, 0xc9, 0x0f, 0x01, 0xee, 0x83, 0xe0, 0xf3,
                                0x31, 0xc9, 0x31, 0xd2, 0x0f, 0x01, 0xef};
/// close = xor ecx; rdpkru; or eax, 0xc; xor ecx; xor edx; wrpkru, then the
/// check that must follow it (CloseCheck): xor ecx; rdpkru; and eax, 0xc;
/// cmp eax, 0xc; jne back to the first byte of the gate.
constexpr uint8_t CloseGate[] = {0x31, 0xc9, 0x0f, 0x01, 0xee, 0x83, 0xc8, 0x0c,
                                 0x31, 0xc9, 0x31, 0xd2, 0x0f, 0x01, 0xef};
constexpr uint8_t CloseCheck[] = {0x31, 0xc9, 0x0f, 0x01, 0xee, 0x83, 0xe0,
                                  0x0c, 0x83, 0xf8, 0x0c, 0x75,
                                  uint8_t(-int(sizeof(CloseGate) + 13))};
static_assert(EIM_MPK_CLOSED_BITS == 0xc && sizeof(CloseCheck) == 13,
              "the gate bytes above encode key 1's masks");

bool matchesAt(ArrayRef<uint8_t> bytes, size_t at, ArrayRef<uint8_t> what) {
  return at + what.size() <= bytes.size() &&
         std::equal(what.begin(), what.end(), bytes.begin() + at);
}

/// Whether the WRPKRU at \p i of \p bytes ends a complete gate.
bool isGateWrpkru(ArrayRef<uint8_t> bytes, size_t i) {
  size_t gateLength = sizeof(OpenGate);
  if (i + 3 < gateLength)
    return false;
  size_t start = i + 3 - gateLength;
  return matchesAt(bytes, start, OpenGate) ||
         (matchesAt(bytes, start, CloseGate) &&
          matchesAt(bytes, i + 3, CloseCheck));
}

struct FunctionRange {
  uint64_t address = 0;
  uint64_t size = 0;
  std::string name;
};

struct AddressRange {
  uint64_t begin = 0;
  uint64_t end = 0;
  bool contains(uint64_t address) const {
    return address >= begin && address < end;
  }
};

/// Where eimc's own code sits in the output: [eim_code_start,
/// eim_code_end), the linker-script symbols around the `.text` of eimc's
/// link (linker/Linker.cpp). Not the whole `.eimc.text` section: the
/// extension's read-only data follows the code there, in the same
/// executable segment, and a program's constant array may hold a gate's
/// bytes followed by a `ret`. Only local symbols inside `.eimc.text`
/// count, so the host's own symbols cannot move the range; without them
/// the range is empty and nothing is exempt.
Expected<AddressRange> eimcCode(const ELF64LEObjectFile &object) {
  std::optional<SectionRef> text;
  for (const SectionRef &section : object.sections()) {
    Expected<StringRef> name = section.getName();
    if (!name)
      return name.takeError();
    if (*name == ".eimc.text")
      text = section;
  }
  if (!text)
    return AddressRange{};
  std::optional<uint64_t> start, end;
  for (const ELFSymbolRef &sym : object.symbols()) {
    Expected<StringRef> name = sym.getName();
    Expected<uint64_t> address = sym.getAddress();
    Expected<section_iterator> section = sym.getSection();
    if (!name || !address || !section) {
      consumeError(name.takeError());
      consumeError(address.takeError());
      consumeError(section.takeError());
      continue;
    }
    if (sym.getBinding() != ELF::STB_LOCAL ||
        *section == object.section_end() || **section != *text)
      continue;
    if (*name == "eim_code_start")
      start = *address;
    else if (*name == "eim_code_end")
      end = *address;
  }
  if (!start || !end || *start > *end)
    return AddressRange{};
  return AddressRange{*start, *end};
}
} // namespace

Expected<std::vector<PkruSite>> scanPkruWrites(ArrayRef<uint8_t> elf) {
  std::unique_ptr<MemoryBuffer> buffer = MemoryBuffer::getMemBuffer(
      StringRef(reinterpret_cast<const char *>(elf.data()), elf.size()), "",
      /*RequiresNullTerminator=*/false);
  Expected<ELF64LEObjectFile> object =
      ELF64LEObjectFile::create(buffer->getMemBufferRef());
  if (!object)
    return object.takeError();

  std::vector<FunctionRange> functions;
  auto collect = [&](auto symbols) {
    for (const ELFSymbolRef &sym : symbols) {
      Expected<SymbolRef::Type> type = sym.getType();
      Expected<StringRef> name = sym.getName();
      Expected<uint64_t> address = sym.getAddress();
      if (!type || !name || !address) {
        consumeError(type.takeError());
        consumeError(name.takeError());
        consumeError(address.takeError());
        continue;
      }
      if (*type == SymbolRef::ST_Function && sym.getSize())
        functions.push_back({*address, sym.getSize(), name->str()});
    }
  };
  collect(object->symbols());
  collect(object->getDynamicSymbolIterators());

  auto symbolAt = [&](uint64_t address) -> const FunctionRange * {
    for (const FunctionRange &f : functions)
      if (address >= f.address && address < f.address + f.size)
        return &f;
    return nullptr;
  };

  Expected<AddressRange> ours = eimcCode(*object);
  if (!ours)
    return ours.takeError();

  Expected<ELF64LE::PhdrRange> phdrs = object->getELFFile().program_headers();
  if (!phdrs)
    return phdrs.takeError();
  std::vector<PkruSite> sites;
  for (const ELF64LE::Phdr &phdr : *phdrs) {
    if (phdr.p_type != ELF::PT_LOAD || !(phdr.p_flags & ELF::PF_X))
      continue;
    if (phdr.p_offset + phdr.p_filesz > elf.size())
      return makeMalformed("executable segment past the end of the file");
    ArrayRef<uint8_t> bytes = elf.slice(phdr.p_offset, phdr.p_filesz);
    for (size_t i = 0; i + 3 <= bytes.size(); ++i) {
      if (bytes[i] != 0x0f)
        continue;
      const char *kind = nullptr;
      if (bytes[i + 1] == 0x01 && bytes[i + 2] == 0xef)
        kind = "WRPKRU";
      else if (bytes[i + 1] == 0xae && ((bytes[i + 2] >> 3) & 7) == 5 &&
               (bytes[i + 2] >> 6) != 3)
        kind = "XRSTOR";
      if (!kind)
        continue;
      PkruSite site;
      site.address = phdr.p_vaddr + i;
      site.kind = kind;
      if (const FunctionRange *f = symbolAt(site.address)) {
        site.symbol = f->name;
        site.offset = site.address - f->address;
      }
      site.ours = site.kind == StringRef("WRPKRU") &&
                  ours->contains(site.address) && isGateWrpkru(bytes, i);
      sites.push_back(std::move(site));
    }
  }
  return sites;
}

} // namespace eimc::rewriter
