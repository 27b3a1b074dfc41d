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
// Ours and not reported: a WRPKRU inside one of the gates (the exact gate
// bytes around it, inside a trampoline) and the one in the runtime's
// eim_rt_mpk_seal (which revokes the key once, at start-up).
//
//===----------------------------------------------------------------------===//

#include "eimc/Rewriter/Rewriter.h"

#include "eimc/Core/Errors.h"

#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>

using namespace llvm;
using namespace llvm::object;

namespace eimc::rewriter {

namespace {
/// `xor %ecx,%ecx; xor %edx,%edx; wrpkru`: how every gate WRPKRU is
/// preceded (Gates.cpp). Host code with the same bytes is still reported
/// unless it lies in a trampoline.
constexpr uint8_t GateTail[] = {0x31, 0xc9, 0x31, 0xd2, 0x0f, 0x01, 0xef};

struct FunctionRange {
  uint64_t address = 0;
  uint64_t size = 0;
  std::string name;
};

bool isTrampoline(StringRef name) {
  return name.starts_with("eim_tramp_") || name.starts_with("eim_uret_");
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
      bool gateBytes = i >= 4 && std::equal(std::begin(GateTail),
                                            std::end(GateTail),
                                            bytes.begin() + i - 4);
      site.ours = site.kind == StringRef("WRPKRU") &&
                  ((gateBytes && isTrampoline(site.symbol)) ||
                   site.symbol == "eim_rt_mpk_seal");
      sites.push_back(std::move(site));
    }
  }
  return sites;
}

} // namespace eimc::rewriter
