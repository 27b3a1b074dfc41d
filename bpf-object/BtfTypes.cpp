//===- bpf-object/BtfTypes.cpp - Decoding the .BTF type table -------------===//
//
// Part of eimc. See BtfTypes.h.
//
//===----------------------------------------------------------------------===//
//
// Decodes the .BTF section layout (kernel Documentation/bpf/btf.rst): a
// 24-byte header, a type section of variable-length records, and a string
// section. Every read is bounds-checked because the bytes come straight
// from user input; a bad record is an error naming the type id.
//
//===----------------------------------------------------------------------===//

#include "BtfTypes.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/DataExtractor.h"

using namespace llvm;

namespace eimc::bpfobject {
namespace {

/// A chain of modifiers longer than this is a cycle (libbpf uses 32 too).
constexpr unsigned MaxChain = 32;

Error malformed(const Twine &what) { return makeMalformed(".BTF: " + what); }

bool isModifier(uint32_t kind, bool keepTypedef) {
  switch (kind) {
  case BTF::BTF_KIND_TYPEDEF:
    return !keepTypedef;
  case BTF::BTF_KIND_CONST:
  case BTF::BTF_KIND_VOLATILE:
  case BTF::BTF_KIND_RESTRICT:
  case BTF::BTF_KIND_TYPE_TAG:
    return true;
  default:
    return false;
  }
}

/// Reads a string from the string section, or fails for bad offsets.
Expected<std::string> readString(StringRef strings, uint32_t off) {
  if (off >= strings.size() && off != 0)
    return malformed("string offset " + Twine(off) + " out of range");
  if (strings.empty())
    return std::string();
  size_t end = strings.find('\0', off);
  if (end == StringRef::npos)
    return malformed("unterminated string at offset " + Twine(off));
  return strings.slice(off, end).str();
}

/// Decodes one record's tail according to its kind.
Error readTail(DataExtractor &data, DataExtractor::Cursor &cur,
               StringRef strings, uint32_t vlen, BtfType &type) {
  auto readMember = [&](BtfMember &m, bool named) -> Error {
    if (named) {
      Expected<std::string> name = readString(strings, data.getU32(cur));
      if (!name)
        return name.takeError();
      m.name = std::move(*name);
    }
    return Error::success();
  };
  switch (type.kind) {
  case BTF::BTF_KIND_INT: {
    uint32_t info = data.getU32(cur);
    type.intEncoding = (info >> 24) & 0x0f;
    type.intBits = info & 0xff;
    return Error::success();
  }
  case BTF::BTF_KIND_ARRAY:
    type.elemType = data.getU32(cur);
    data.getU32(cur); // index type: irrelevant to layout
    type.nelems = data.getU32(cur);
    return Error::success();
  case BTF::BTF_KIND_STRUCT:
  case BTF::BTF_KIND_UNION:
    for (uint32_t i = 0; i < vlen && cur; ++i) {
      BtfMember m;
      if (Error e = readMember(m, true))
        return e;
      m.type = data.getU32(cur);
      uint32_t off = data.getU32(cur);
      // With kind_flag set the offset packs a bitfield size in bits 24-31.
      m.bitOffset = type.kindFlag ? off & 0xffffff : off;
      m.bitSize = type.kindFlag ? off >> 24 : 0;
      type.members.push_back(std::move(m));
    }
    return Error::success();
  case BTF::BTF_KIND_ENUM:
    for (uint32_t i = 0; i < vlen && cur; ++i) {
      BtfMember m;
      if (Error e = readMember(m, true))
        return e;
      uint32_t v = data.getU32(cur);
      m.value = type.kindFlag ? int64_t(int32_t(v)) : int64_t(v);
      type.members.push_back(std::move(m));
    }
    return Error::success();
  case BTF::BTF_KIND_ENUM64:
    for (uint32_t i = 0; i < vlen && cur; ++i) {
      BtfMember m;
      if (Error e = readMember(m, true))
        return e;
      uint64_t lo = data.getU32(cur);
      uint64_t hi = data.getU32(cur);
      m.value = int64_t(hi << 32 | lo);
      type.members.push_back(std::move(m));
    }
    return Error::success();
  case BTF::BTF_KIND_FUNC_PROTO:
    for (uint32_t i = 0; i < vlen && cur; ++i) {
      BtfMember m;
      if (Error e = readMember(m, true))
        return e;
      m.type = data.getU32(cur);
      type.members.push_back(std::move(m));
    }
    return Error::success();
  case BTF::BTF_KIND_VAR:
    type.linkage = data.getU32(cur);
    return Error::success();
  case BTF::BTF_KIND_DATASEC:
    for (uint32_t i = 0; i < vlen && cur; ++i) {
      BtfMember m;
      m.type = data.getU32(cur);
      m.bitOffset = data.getU32(cur);
      m.bitSize = data.getU32(cur);
      type.members.push_back(std::move(m));
    }
    return Error::success();
  case BTF::BTF_KIND_DECL_TAG:
    data.getU32(cur); // component index
    return Error::success();
  case BTF::BTF_KIND_FUNC:
    type.linkage = vlen;
    return Error::success();
  case BTF::BTF_KIND_PTR:
  case BTF::BTF_KIND_FWD:
  case BTF::BTF_KIND_TYPEDEF:
  case BTF::BTF_KIND_VOLATILE:
  case BTF::BTF_KIND_CONST:
  case BTF::BTF_KIND_RESTRICT:
  case BTF::BTF_KIND_FLOAT:
  case BTF::BTF_KIND_TYPE_TAG:
    return Error::success();
  default:
    return malformed("unknown type kind " + Twine(type.kind));
  }
}

} // namespace

Expected<BtfTypes> BtfTypes::parse(ArrayRef<uint8_t> section) {
  DataExtractor data(toStringRef(section), /*IsLittleEndian=*/true, 8);
  DataExtractor::Cursor cur(0);
  uint16_t magic = data.getU16(cur);
  data.getU8(cur); // version
  data.getU8(cur); // flags
  uint32_t hdrLen = data.getU32(cur);
  uint32_t typeOff = data.getU32(cur), typeLen = data.getU32(cur);
  uint32_t strOff = data.getU32(cur), strLen = data.getU32(cur);
  if (!cur) {
    consumeError(cur.takeError());
    return malformed("truncated header");
  }
  if (magic != BTF::MAGIC)
    return malformed("bad magic 0x" + utohexstr(magic));
  uint64_t typeStart = uint64_t(hdrLen) + typeOff;
  uint64_t strStart = uint64_t(hdrLen) + strOff;
  if (typeStart + typeLen > section.size() ||
      strStart + strLen > section.size())
    return malformed("type or string section out of bounds");
  StringRef strings = toStringRef(section).substr(strStart, strLen);

  BtfTypes result;
  result.strings = strings.str();
  result.types.emplace_back(); // id 0: void
  DataExtractor::Cursor tc(typeStart);
  while (tc.tell() < typeStart + typeLen) {
    uint32_t id = uint32_t(result.types.size());
    BtfType type;
    Expected<std::string> name = readString(strings, data.getU32(tc));
    if (!name) {
      consumeError(tc.takeError());
      return name.takeError();
    }
    type.name = std::move(*name);
    uint32_t info = data.getU32(tc);
    type.kind = (info >> 24) & 0x1f;
    type.kindFlag = info >> 31;
    type.sizeOrType = data.getU32(tc);
    if (Error e = readTail(data, tc, strings, info & 0xffff, type)) {
      consumeError(tc.takeError());
      return e;
    }
    if (!tc || tc.tell() > typeStart + typeLen) {
      consumeError(tc.takeError());
      return malformed("truncated type " + Twine(id));
    }
    result.types.push_back(std::move(type));
  }
  return result;
}

static uint32_t btfKind(HostTypeKind kind) {
  switch (kind) {
  case HostTypeKind::Int:
    return BTF::BTF_KIND_INT;
  case HostTypeKind::Float:
    return BTF::BTF_KIND_FLOAT;
  case HostTypeKind::Pointer:
    return BTF::BTF_KIND_PTR;
  case HostTypeKind::Array:
    return BTF::BTF_KIND_ARRAY;
  case HostTypeKind::Struct:
    return BTF::BTF_KIND_STRUCT;
  case HostTypeKind::Union:
    return BTF::BTF_KIND_UNION;
  case HostTypeKind::Enum:
    return BTF::BTF_KIND_ENUM;
  case HostTypeKind::Fwd:
    return BTF::BTF_KIND_FWD;
  case HostTypeKind::Typedef:
    return BTF::BTF_KIND_TYPEDEF;
  case HostTypeKind::Const:
    return BTF::BTF_KIND_CONST;
  case HostTypeKind::Volatile:
    return BTF::BTF_KIND_VOLATILE;
  case HostTypeKind::Function:
    return BTF::BTF_KIND_FUNC_PROTO;
  }
  llvm_unreachable("host type kinds are exhaustive");
}

BtfTypes BtfTypes::fromHost(const HostTypes &host) {
  BtfTypes result;
  result.types.emplace_back(); // id 0: void
  for (size_t id = 1; id < host.types.size(); ++id) {
    const HostType &h = host.types[id];
    BtfType t;
    t.kind = btfKind(h.kind);
    t.name = h.name;
    switch (h.kind) {
    case HostTypeKind::Int:
      t.intEncoding = h.isSigned ? BTF::INT_SIGNED : 0;
      t.intBits = uint32_t(h.size * 8);
      t.sizeOrType = uint32_t(h.size);
      break;
    case HostTypeKind::Enum:
      t.kindFlag = h.isSigned;
      t.sizeOrType = uint32_t(h.size);
      break;
    case HostTypeKind::Float:
    case HostTypeKind::Struct:
    case HostTypeKind::Union:
      t.sizeOrType = uint32_t(h.size);
      break;
    case HostTypeKind::Array:
      t.elemType = h.type;
      t.nelems = h.count;
      break;
    default:
      t.sizeOrType = h.type;
      break;
    }
    for (const HostMember &m : h.members)
      t.members.push_back(
          {m.name, m.type, uint32_t(m.bitOffset), m.bitSize, m.value});
    result.types.push_back(std::move(t));
  }
  return result;
}

Expected<std::string> BtfTypes::string(uint32_t off) const {
  return readString(strings, off);
}

const BtfType *BtfTypes::get(uint32_t id) const {
  if (id == 0 || id >= types.size())
    return nullptr;
  return &types[id];
}

static uint32_t followChain(const BtfTypes &btf, uint32_t id,
                            bool keepTypedef) {
  for (unsigned i = 0; i < MaxChain; ++i) {
    const BtfType *t = btf.get(id);
    if (!t || !isModifier(t->kind, keepTypedef))
      return id;
    id = t->sizeOrType;
  }
  return 0;
}

uint32_t BtfTypes::skipModifiers(uint32_t id) const {
  return followChain(*this, id, false);
}

uint32_t BtfTypes::skipQualifiers(uint32_t id) const {
  return followChain(*this, id, true);
}

Expected<uint64_t> BtfTypes::sizeOf(uint32_t id) const {
  uint64_t multiplier = 1;
  for (unsigned i = 0; i < MaxChain; ++i) {
    id = skipModifiers(id);
    const BtfType *t = get(id);
    if (!t)
      return makeMalformed(".BTF: type " + Twine(id) + " has no size");
    switch (t->kind) {
    case BTF::BTF_KIND_INT:
    case BTF::BTF_KIND_ENUM:
    case BTF::BTF_KIND_ENUM64:
    case BTF::BTF_KIND_STRUCT:
    case BTF::BTF_KIND_UNION:
    case BTF::BTF_KIND_FLOAT:
    case BTF::BTF_KIND_DATASEC:
      return multiplier * t->sizeOrType;
    case BTF::BTF_KIND_PTR:
      return multiplier * 8;
    case BTF::BTF_KIND_VAR:
      id = t->sizeOrType;
      continue;
    case BTF::BTF_KIND_ARRAY:
      multiplier *= t->nelems;
      id = t->elemType;
      continue;
    default:
      return makeMalformed(".BTF: type " + Twine(id) + " ('" + t->name +
                           "') has no size");
    }
  }
  return makeMalformed(".BTF: type chain too long at type " + Twine(id));
}

std::optional<uint32_t> BtfTypes::findByName(StringRef name,
                                             ArrayRef<uint32_t> kinds) const {
  for (uint32_t id = 1; id < types.size(); ++id)
    if (types[id].name == name && is_contained(kinds, types[id].kind))
      return id;
  return std::nullopt;
}

StringRef essentialName(StringRef name) {
  size_t pos = name.find("___");
  return pos == StringRef::npos ? name : name.take_front(pos);
}

} // namespace eimc::bpfobject
