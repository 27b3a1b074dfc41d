//===- bpf-object/GlobalData.cpp - Placing global-data variables ----------===//
//
// Part of eimc. See eimc/BpfObject/BpfObject.h.
//
//===----------------------------------------------------------------------===//
//
// fixupDatasec() does for one global-data section what libbpf's
// btf_fixup_datasec() does before load: clang leaves a DATASEC's size and
// every variable's offset 0 in the object (the linker may still move
// things), and the loader fills them in from the section header and the
// ELF symbols. After it, the DATASEC describes the map's value exactly, so
// `eimc maps dump` prints it by variable name and `--set` finds a
// `const volatile` variable of `.rodata` by name with its true size.
//
// The BTF is patched in its raw bytes (the layout of struct btf_type and
// its tails, include/uapi/linux/btf.h); nothing else in it changes. What it
// does not do: decide what may be written (the driver's --set does) or
// read the section's contents (ObjectReader does).
//
//===----------------------------------------------------------------------===//

#include "CodeSection.h"

#include "eimc/Core/Errors.h"

#include "llvm/Support/Endian.h"

using namespace llvm;

namespace eimc::bpfobject {

namespace {

constexpr uint32_t BtfHeaderTypeOff = 8;
constexpr uint32_t KindVar = 14;
constexpr uint32_t KindDatasec = 15;

uint32_t read32(ArrayRef<uint8_t> b, size_t at) {
  return support::endian::read32le(b.data() + at);
}

void write32(std::vector<uint8_t> &b, size_t at, uint32_t v) {
  support::endian::write32le(b.data() + at, v);
}

/// Bytes after the 12-byte common part of a type of \p kind with \p vlen
/// entries; nullopt for an unknown kind.
std::optional<size_t> tailSize(uint32_t kind, uint32_t vlen) {
  switch (kind) {
  case 1:  // INT
  case 14: // VAR
  case 17: // DECL_TAG
    return 4;
  case 3: // ARRAY
    return 12;
  case 4:  // STRUCT
  case 5:  // UNION
  case 15: // DATASEC
  case 19: // ENUM64
    return 12 * size_t(vlen);
  case 6:  // ENUM
  case 13: // FUNC_PROTO
    return 8 * size_t(vlen);
  case 2: case 7: case 8: case 9: case 10: case 11: case 12: case 16:
  case 18:
    return 0;
  default:
    return std::nullopt;
  }
}

/// The raw layout of a .BTF section: where each type starts.
struct RawBtf {
  size_t typesStart = 0; ///< first type (id 1)
  size_t stringsStart = 0;
  size_t stringsEnd = 0;
  std::vector<size_t> typeAt; ///< by id; typeAt[0] unused

  StringRef string(ArrayRef<uint8_t> b, uint32_t off) const {
    if (stringsStart + off >= stringsEnd)
      return "";
    const char *s = reinterpret_cast<const char *>(b.data()) + stringsStart;
    return StringRef(s + off, strnlen(s + off, stringsEnd - stringsStart - off));
  }
};

Expected<RawBtf> indexRaw(ArrayRef<uint8_t> b) {
  if (b.size() < 24 || support::endian::read16le(b.data()) != 0xeb9f)
    return makeMalformed(".BTF: bad header");
  uint32_t hdrLen = read32(b, 4);
  uint64_t typeOff = read32(b, BtfHeaderTypeOff), typeLen = read32(b, 12);
  uint64_t strOff = read32(b, 16), strLen = read32(b, 20);
  RawBtf raw;
  raw.typesStart = hdrLen + typeOff;
  raw.stringsStart = hdrLen + strOff;
  raw.stringsEnd = raw.stringsStart + strLen;
  if (raw.typesStart + typeLen > b.size() || raw.stringsEnd > b.size())
    return makeMalformed(".BTF: sections out of bounds");
  raw.typeAt.push_back(0);
  for (size_t at = raw.typesStart; at < raw.typesStart + typeLen;) {
    if (at + 12 > raw.typesStart + typeLen)
      return makeMalformed(".BTF: truncated type");
    uint32_t info = read32(b, at + 4);
    std::optional<size_t> tail = tailSize((info >> 24) & 0x1f, info & 0xffff);
    if (!tail)
      return makeMalformed(".BTF: unknown type kind " +
                           Twine((info >> 24) & 0x1f));
    raw.typeAt.push_back(at);
    at += 12 + *tail;
  }
  return raw;
}

} // namespace

Expected<std::optional<uint32_t>>
fixupDatasec(std::vector<uint8_t> &btf, StringRef section, uint32_t size,
             const std::map<std::string, uint32_t> &symbolOffsets,
             std::vector<DataVariable> &variables) {
  if (btf.empty())
    return std::nullopt;
  Expected<RawBtf> raw = indexRaw(btf);
  if (!raw)
    return raw.takeError();
  for (uint32_t id = 1; id < raw->typeAt.size(); ++id) {
    size_t at = raw->typeAt[id];
    uint32_t info = read32(btf, at + 4);
    if (((info >> 24) & 0x1f) != KindDatasec ||
        raw->string(btf, read32(btf, at)) != section)
      continue;
    write32(btf, at + 8, size);
    for (uint32_t v = 0; v < (info & 0xffff); ++v) {
      size_t entry = at + 12 + 12 * size_t(v);
      uint32_t varId = read32(btf, entry);
      if (varId == 0 || varId >= raw->typeAt.size() ||
          ((read32(btf, raw->typeAt[varId] + 4) >> 24) & 0x1f) != KindVar)
        return makeMalformed(".BTF: DATASEC '" + section +
                             "' lists a non-variable");
      size_t var = raw->typeAt[varId];
      std::string name = raw->string(btf, read32(btf, var)).str();
      auto sym = symbolOffsets.find(name);
      if (sym == symbolOffsets.end())
        continue; // a static the compiler dropped: libbpf skips it too
      uint32_t varSize = read32(btf, entry + 8);
      if (uint64_t(sym->second) + varSize > size)
        return makeMalformed(".BTF: variable '" + name + "' lies outside '" +
                             section + "'");
      write32(btf, entry + 4, sym->second);
      variables.push_back({name, sym->second, varSize, read32(btf, var + 8)});
    }
    llvm::sort(variables, [](const DataVariable &a, const DataVariable &b) {
      return a.offset < b.offset;
    });
    return id;
  }
  return std::nullopt;
}

} // namespace eimc::bpfobject

namespace eimc::bpfobject {

namespace {

/// The `.rodata` map (libbpf's `<obj>.rodata`), or null.
MapDef *findRodata(ExtensionSpec &spec) {
  for (MapDef &m : spec.maps)
    if (StringRef(m.name).ends_with(".rodata") &&
        (m.flags & MapFlagRdonlyProg))
      return &m;
  return nullptr;
}

Expected<uint64_t> parseValue(StringRef name, StringRef text, uint32_t size) {
  if (text == "true")
    return 1;
  if (text == "false")
    return 0;
  bool negative = text.consume_front("-");
  uint64_t magnitude = 0;
  if (text.empty() || text.getAsInteger(0, magnitude))
    return makeMalformed("--set " + name + ": '" + text +
                         "' is not an integer");
  uint64_t bits = size * 8;
  uint64_t umax = bits == 64 ? UINT64_MAX : (uint64_t(1) << bits) - 1;
  uint64_t negMax = uint64_t(1) << (bits - 1); // |INT_MIN|
  if ((negative && magnitude > negMax) || (!negative && magnitude > umax))
    return makeRefusal("--set " + name + "=" + (negative ? "-" : "") + text +
                       ": value does not fit the variable's " + Twine(size) +
                       " bytes");
  return negative ? (0 - magnitude) & umax : magnitude;
}

} // namespace

Error setRodataVariable(ExtensionSpec &spec, StringRef name, StringRef value) {
  MapDef *rodata = findRodata(spec);
  const DataVariable *var = nullptr;
  std::string known;
  for (const DataVariable &v : rodata ? rodata->variables
                                      : std::vector<DataVariable>{}) {
    known += (known.empty() ? "" : ", ") + v.name;
    if (v.name == name)
      var = &v;
  }
  if (!var)
    return makeRefusal(
        spec.objectName + ": --set " + name +
            ": no such variable in .rodata",
        {known.empty() ? "the object has no .rodata variables"
                       : "variables: " + known});
  if (var->size != 1 && var->size != 2 && var->size != 4 && var->size != 8)
    return makeRefusal(spec.objectName + ": --set " + name + ": variable of " +
                       Twine(var->size) + " bytes is not an integer");
  Expected<uint64_t> bits = parseValue(name, value, var->size);
  if (!bits)
    return bits.takeError();
  // All-zero initial values are stored as none (.bss-like).
  rodata->initialValue.resize(rodata->valueSize, 0);
  for (uint32_t i = 0; i < var->size; ++i)
    rodata->initialValue[var->offset + i] = uint8_t(*bits >> (8 * i));
  return Error::success();
}

} // namespace eimc::bpfobject
