//===- rewriter/Restore.cpp - Giving back the original host ---------------===//
//
// Part of eimc. See eimc/Rewriter/Rewriter.h.
//
//===----------------------------------------------------------------------===//
//
// The writer never moves an original byte: the output is the input, edited
// in a few known ranges (the ELF header, the program header table, the
// jumps at patch sites), followed by appended data. So the original is
// fully described by its size plus the original contents of those ranges.
// encodeRestoreRecord() stores exactly that in the non-alloc
// `.eimc.restore` section, with the input's SHA-256; restoreOriginal()
// truncates the output, puts the ranges back and checks the hash, so
// `eimc restore` either gives back the input byte for byte or fails.
//
// Record layout (little-endian): "EIMCRST1", sha256[32], u64 size,
// u64 count, then count x { u64 offset, u64 length, length bytes }.
//
// This file does not read files or decide where the output goes: the
// driver (tools/eimc/Restore.cpp) does.
//
//===----------------------------------------------------------------------===//

#include "RestoreRecord.h"

#include "eimc/Core/Errors.h"
#include "eimc/Rewriter/Rewriter.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Object/ELF.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/SHA256.h"

using namespace llvm;
using namespace llvm::object;

namespace eimc::rewriter {

namespace {

constexpr StringLiteral Magic = "EIMCRST1";
constexpr size_t HashSize = 32;

void put64(std::vector<uint8_t> &out, uint64_t value) {
  uint8_t buf[8];
  support::endian::write64le(buf, value);
  append_range(out, ArrayRef<uint8_t>(buf));
}

/// A bounds-checked cursor over the record.
class Reader {
public:
  explicit Reader(ArrayRef<uint8_t> data) : Data(data) {}
  bool take(size_t size, ArrayRef<uint8_t> &out) {
    if (Data.size() - Pos < size)
      return false;
    out = Data.slice(Pos, size);
    Pos += size;
    return true;
  }
  bool take64(uint64_t &out) {
    ArrayRef<uint8_t> bytes;
    if (!take(8, bytes))
      return false;
    out = support::endian::read64le(bytes.data());
    return true;
  }

private:
  ArrayRef<uint8_t> Data;
  size_t Pos = 0;
};

} // namespace

std::vector<uint8_t> encodeRestoreRecord(ArrayRef<uint8_t> original,
                                         ArrayRef<RestoreRange> ranges) {
  std::vector<uint8_t> out(Magic.begin(), Magic.end());
  std::array<uint8_t, HashSize> hash = SHA256::hash(original);
  append_range(out, hash);
  put64(out, original.size());
  put64(out, ranges.size());
  for (const RestoreRange &range : ranges) {
    assert(range.offset + range.size <= original.size() &&
           "restore range outside the original");
    put64(out, range.offset);
    put64(out, range.size);
    append_range(out, original.slice(range.offset, range.size));
  }
  return out;
}

/// Finds the contents of section \p wanted, or an empty ref.
static Expected<ArrayRef<uint8_t>> sectionContents(const ELFFile<ELF64LE> &elf,
                                                   StringRef wanted) {
  Expected<ELF64LE::ShdrRange> sections = elf.sections();
  if (!sections)
    return sections.takeError();
  for (const ELF64LE::Shdr &sec : *sections) {
    Expected<StringRef> name = elf.getSectionName(sec);
    if (!name)
      return name.takeError();
    if (*name == wanted)
      return elf.getSectionContents(sec);
  }
  return ArrayRef<uint8_t>();
}

Expected<std::vector<uint8_t>> restoreOriginal(StringRef name,
                                               ArrayRef<uint8_t> output) {
  auto bad = [&](const Twine &why) {
    return makeMalformed(name + ": " + why);
  };
  Expected<ELFFile<ELF64LE>> elf = ELFFile<ELF64LE>::create(toStringRef(output));
  if (!elf)
    return bad(toString(elf.takeError()));
  Expected<ArrayRef<uint8_t>> record = sectionContents(*elf, ".eimc.restore");
  if (!record)
    return bad(toString(record.takeError()));
  if (record->empty())
    return bad("not written by eimc, or the .eimc.restore section was "
               "removed");

  Reader reader(*record);
  ArrayRef<uint8_t> magic, hash;
  uint64_t size = 0, count = 0;
  if (!reader.take(Magic.size(), magic) || toStringRef(magic) != Magic ||
      !reader.take(HashSize, hash) || !reader.take64(size) ||
      !reader.take64(count))
    return bad("malformed .eimc.restore section");
  if (size > output.size())
    return bad("the output is shorter than the original it records (was it "
               "stripped?)");
  std::vector<uint8_t> original(output.begin(), output.begin() + size);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t offset = 0, length = 0;
    ArrayRef<uint8_t> bytes;
    if (!reader.take64(offset) || !reader.take64(length) ||
        !reader.take(length, bytes) || offset > size || length > size - offset)
      return bad("malformed .eimc.restore section");
    copy(bytes, original.begin() + offset);
  }
  // Anything that edited the output after eimc (strip, objcopy) shows here.
  if (!equal(SHA256::hash(original), hash))
    return bad("the restored bytes do not match the recorded SHA-256 of the "
               "original (was the output modified after eimc wrote it?)");
  return original;
}

} // namespace eimc::rewriter
