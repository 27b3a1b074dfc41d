//===- bpf-object/BtfRecordFormatter.cpp - Printing records by BTF --------===//
//
// Part of eimc. See eimc/BpfObject/BpfObject.h.
//
//===----------------------------------------------------------------------===//
//
// `eimc events` receives raw perf-buffer records; the BTF of the extension
// object says what they mean. This file walks one named type over a byte
// record and prints it as `key=value` text or JSON. Every read goes through
// a bounds check against the record, because a record may be shorter than
// the type (an extension may submit fewer bytes than sizeof).
//
// Not handled: bitfields print their containing bytes' value shifted and
// masked, floats print as raw hex (no eBPF program produces floats).
//
//===----------------------------------------------------------------------===//

#include "BtfTypes.h"

#include "eimc/BpfObject/BpfObject.h"
#include "eimc/Core/Errors.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"

using namespace llvm;

namespace eimc::bpfobject {

struct BtfRecordFormatter::Impl {
  BtfTypes btf;
  uint32_t typeId = 0;
  uint64_t size = 0;
};

namespace {

/// Nesting bound: BTF may be cyclic only through pointers, which are not
/// followed, but a malformed file could still nest arrays deeply.
constexpr unsigned MaxDepth = 16;

/// Reads up to 8 little-endian bytes at \p off; nullopt if out of bounds.
std::optional<uint64_t> readUnsigned(ArrayRef<uint8_t> rec, uint64_t off,
                                     uint64_t size) {
  if (size == 0 || size > 8 || off > rec.size() || rec.size() - off < size)
    return std::nullopt;
  uint64_t v = 0;
  for (uint64_t i = 0; i < size; ++i)
    v |= uint64_t(rec[off + i]) << (8 * i);
  return v;
}

int64_t signExtend(uint64_t v, uint64_t bits) {
  if (bits >= 64)
    return int64_t(v);
  uint64_t sign = uint64_t(1) << (bits - 1);
  v &= (sign << 1) - 1;
  return int64_t((v ^ sign) - sign);
}

/// Writes one value; \c json selects JSON or the `k=v` text form.
class ValuePrinter {
public:
  ValuePrinter(const BtfTypes &btf, ArrayRef<uint8_t> rec, bool json,
               raw_ostream &os)
      : btf(btf), rec(rec), json(json), os(os) {}

  void print(uint32_t id, uint64_t off, uint32_t bitOff = 0,
             uint32_t bitSize = 0, unsigned depth = 0);
  void printFields(const BtfType &t, uint64_t off, unsigned depth);

private:
  void missing() { os << (json ? "null" : "?"); }
  void printString(uint64_t off, uint64_t len);
  void printInt(const BtfType &t, uint64_t off, uint32_t bitOff,
                uint32_t bitSize);
  void printEnum(const BtfType &t, uint64_t off);
  void printArray(const BtfType &t, uint64_t off, unsigned depth);

  const BtfTypes &btf;
  ArrayRef<uint8_t> rec;
  bool json;
  raw_ostream &os;
};

void ValuePrinter::print(uint32_t id, uint64_t off, uint32_t bitOff,
                         uint32_t bitSize, unsigned depth) {
  const BtfType *t = btf.get(btf.skipModifiers(id));
  if (!t || depth > MaxDepth)
    return missing();
  switch (t->kind) {
  case BTF::BTF_KIND_INT:
    return printInt(*t, off, bitOff, bitSize);
  case BTF::BTF_KIND_ENUM:
  case BTF::BTF_KIND_ENUM64:
    return printEnum(*t, off);
  case BTF::BTF_KIND_PTR: {
    std::optional<uint64_t> v = readUnsigned(rec, off, 8);
    if (!v)
      return missing();
    std::string hex = "0x" + utohexstr(*v, true);
    os << (json ? "\"" + hex + "\"" : hex);
    return;
  }
  case BTF::BTF_KIND_ARRAY:
    return printArray(*t, off, depth);
  case BTF::BTF_KIND_STRUCT:
  case BTF::BTF_KIND_UNION:
  case BTF::BTF_KIND_DATASEC:
    os << "{";
    printFields(*t, off, depth + 1);
    os << "}";
    return;
  default: {
    Expected<uint64_t> size = btf.sizeOf(id);
    std::optional<uint64_t> v =
        size ? readUnsigned(rec, off, *size) : std::nullopt;
    if (!size)
      consumeError(size.takeError());
    if (!v)
      return missing();
    os << (json ? "\"0x" + utohexstr(*v, true) + "\""
                : "0x" + utohexstr(*v, true));
  }
  }
}

void ValuePrinter::printFields(const BtfType &t, uint64_t off, unsigned depth) {
  bool first = true;
  // A DATASEC (a global-data map's value) lists variables: byte offsets,
  // names and types on the VAR.
  bool datasec = t.kind == BTF::BTF_KIND_DATASEC;
  for (const BtfMember &m : t.members) {
    const BtfType *var = datasec ? btf.get(m.type) : nullptr;
    if (datasec && (!var || var->kind != BTF::BTF_KIND_VAR))
      continue;
    uint64_t byteOff = off + (datasec ? m.bitOffset : m.bitOffset / 8);
    if (byteOff >= rec.size())
      break; // the record ends before this field: print what is there
    if (!first)
      os << (json ? "," : " ");
    first = false;
    std::string name = datasec ? var->name : m.name;
    if (name.empty())
      name = "_";
    if (json)
      os << json::Value(name) << ":";
    else
      os << name << "=";
    if (datasec)
      print(var->sizeOrType, byteOff, 0, 0, depth);
    else
      print(m.type, byteOff, m.bitOffset % 8, m.bitSize, depth);
  }
}

void ValuePrinter::printInt(const BtfType &t, uint64_t off, uint32_t bitOff,
                            uint32_t bitSize) {
  std::optional<uint64_t> raw = readUnsigned(rec, off, t.sizeOrType);
  if (!raw)
    return missing();
  uint64_t bits = t.sizeOrType * 8;
  uint64_t v = *raw;
  if (bitSize) {
    v = (v >> bitOff) &
        (bitSize >= 64 ? ~uint64_t(0) : (uint64_t(1) << bitSize) - 1);
    bits = bitSize;
  }
  if (t.intEncoding & BTF::INT_BOOL) {
    os << (v ? "true" : "false");
    return;
  }
  if (t.intEncoding & BTF::INT_SIGNED)
    os << signExtend(v, bits);
  else
    os << v;
}

void ValuePrinter::printEnum(const BtfType &t, uint64_t off) {
  std::optional<uint64_t> raw = readUnsigned(rec, off, t.sizeOrType);
  if (!raw)
    return missing();
  int64_t v = t.kindFlag ? signExtend(*raw, t.sizeOrType * 8) : int64_t(*raw);
  for (const BtfMember &m : t.members) {
    bool same =
        t.sizeOrType < 8
            ? uint64_t(m.value) % (uint64_t(1) << (t.sizeOrType * 8)) == *raw
            : uint64_t(m.value) == *raw;
    if (same) {
      os << (json ? "\"" + m.name + "\"" : m.name);
      return;
    }
  }
  os << v;
}

void ValuePrinter::printString(uint64_t off, uint64_t len) {
  uint64_t end = std::min<uint64_t>(off + len, rec.size());
  std::string text;
  for (uint64_t i = off; i < end && rec[i] != 0; ++i)
    text.push_back(char(rec[i]));
  if (json) {
    os << json::Value(json::fixUTF8(text));
    return;
  }
  // C-style escapes, so a printed line stays one line and quotes nest.
  os << '"';
  for (unsigned char c : text) {
    if (c == '"' || c == '\\')
      os << '\\' << c;
    else if (c == '\n')
      os << "\\n";
    else if (c == '\t')
      os << "\\t";
    else if (isPrint(c))
      os << c;
    else
      os << "\\x" << hexdigit(c >> 4, true) << hexdigit(c & 0xf, true);
  }
  os << '"';
}

void ValuePrinter::printArray(const BtfType &t, uint64_t off, unsigned depth) {
  const BtfType *elem = btf.get(btf.skipModifiers(t.elemType));
  bool isChar =
      elem && elem->kind == BTF::BTF_KIND_INT && elem->sizeOrType == 1;
  if (isChar)
    return printString(off, t.nelems);
  Expected<uint64_t> elemSize = btf.sizeOf(t.elemType);
  if (!elemSize || *elemSize == 0) {
    consumeError(elemSize.takeError());
    return missing();
  }
  os << "[";
  for (uint32_t i = 0; i < t.nelems; ++i) {
    uint64_t at = off + uint64_t(i) * *elemSize;
    if (at >= rec.size())
      break;
    if (i)
      os << (json ? "," : " ");
    print(t.elemType, at, 0, 0, depth + 1);
  }
  os << "]";
}

Expected<ArrayRef<uint8_t>> findBtfSection(const object::ObjectFile &obj) {
  for (const object::SectionRef &sec : obj.sections()) {
    Expected<StringRef> name = sec.getName();
    if (!name)
      return name.takeError();
    if (*name != ".BTF")
      continue;
    Expected<StringRef> contents = sec.getContents();
    if (!contents)
      return contents.takeError();
    return arrayRefFromStringRef(*contents);
  }
  return makeMalformed("no .BTF section (build the object with -g)");
}

std::optional<uint32_t> findRecordType(const BtfTypes &btf, StringRef name) {
  const uint32_t aggregates[] = {BTF::BTF_KIND_STRUCT, BTF::BTF_KIND_UNION};
  const uint32_t others[] = {BTF::BTF_KIND_TYPEDEF, BTF::BTF_KIND_INT,
                             BTF::BTF_KIND_ENUM, BTF::BTF_KIND_ENUM64};
  if (name.consume_front("struct ") || name.consume_front("union "))
    return btf.findByName(name.trim(), aggregates);
  if (std::optional<uint32_t> id = btf.findByName(name, aggregates))
    return id;
  return btf.findByName(name, others);
}

} // namespace

Expected<BtfRecordFormatter>
BtfRecordFormatter::create(ArrayRef<uint8_t> elfBytes, StringRef typeName) {
  Expected<std::unique_ptr<object::ObjectFile>> obj =
      object::ObjectFile::createObjectFile(
          MemoryBufferRef(toStringRef(elfBytes), "btf"));
  if (!obj)
    return obj.takeError();
  if (!(*obj)->isELF())
    return makeMalformed("not an ELF file");
  Expected<ArrayRef<uint8_t>> section = findBtfSection(**obj);
  if (!section)
    return section.takeError();
  Expected<BtfTypes> btf = BtfTypes::parse(*section);
  if (!btf)
    return btf.takeError();
  std::optional<uint32_t> id = findRecordType(*btf, typeName);
  if (!id)
    return makeMalformed("no BTF type named '" + typeName + "'");
  Expected<uint64_t> size = btf->sizeOf(*id);
  if (!size)
    return size.takeError();
  auto impl = std::make_shared<Impl>();
  impl->btf = std::move(*btf);
  impl->typeId = *id;
  impl->size = *size;
  return BtfRecordFormatter(std::move(impl));
}

Expected<BtfRecordFormatter>
BtfRecordFormatter::createFromBtf(ArrayRef<uint8_t> btfSection,
                                  uint32_t typeId) {
  Expected<BtfTypes> btf = BtfTypes::parse(btfSection);
  if (!btf)
    return btf.takeError();
  if (!btf->get(typeId))
    return makeMalformed("no BTF type with id " + Twine(typeId));
  Expected<uint64_t> size = btf->sizeOf(typeId);
  if (!size)
    return size.takeError();
  auto impl = std::make_shared<Impl>();
  impl->btf = std::move(*btf);
  impl->typeId = typeId;
  impl->size = *size;
  return BtfRecordFormatter(std::move(impl));
}

uint64_t BtfRecordFormatter::size() const { return impl->size; }

void BtfRecordFormatter::printText(ArrayRef<uint8_t> record,
                                   raw_ostream &os) const {
  ValuePrinter printer(impl->btf, record, false, os);
  const BtfType *t = impl->btf.get(impl->btf.skipModifiers(impl->typeId));
  // A top-level struct prints bare ("pid=1 str=..."), nested ones in braces.
  if (t && (t->kind == BTF::BTF_KIND_STRUCT ||
            t->kind == BTF::BTF_KIND_UNION || t->kind == BTF::BTF_KIND_DATASEC))
    return printer.printFields(*t, 0, 1);
  printer.print(impl->typeId, 0);
}

void BtfRecordFormatter::printJson(ArrayRef<uint8_t> record,
                                   raw_ostream &os) const {
  ValuePrinter(impl->btf, record, true, os).print(impl->typeId, 0);
}

} // namespace eimc::bpfobject
