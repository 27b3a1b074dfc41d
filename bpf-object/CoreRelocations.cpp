//===- bpf-object/CoreRelocations.cpp - Resolving CO-RE relocations -------===//
//
// Part of eimc. See eimc/BpfObject/BpfObject.h.
//
//===----------------------------------------------------------------------===//
//
// CO-RE ("compile once, run everywhere") relocations, with the semantics of
// libbpf's relo_core.c but resolved against two targets, never against the
// kernel of the machine eimc runs on:
//  - eimc's own target BTF: the contexts eimc's trampolines build
//    (bpf-object/target/TargetTypes.c). A uretprobe's `ctx->ax` must mean
//    the `ax` slot of the pt_regs the trampoline saved, wherever eimc runs.
//  - the host's types (HostTypes, from the host's DWARF): an extension's
//    own, partial, reordered `struct http_request_s___local` with
//    preserve_access_index reads the host's real `uri` field.
// The relocation's root type chooses: a root whose essential name is one
// of eimc's target types resolves there, any other against the host.
//
// A relocation names a local type, an access string ("0:10": element 0 of
// the root, then member 10) and a kind. Resolution:
//  1. walk the access string through the *local* BTF, remembering the
//     names of the members it passes;
//  2. find target types with the same essential name (`pt_regs___x86` and
//     `pt_regs` match) and the same kind; in each, look the members up by
//     name (through anonymous structs and unions), and array elements by
//     index;
//  3. compute the kind's value (byte offset, size, existence, ...) in the
//     target and patch the instruction: ALU imm, memory offset (with the
//     access width adjusted when the field's size changed), or LDDW imm.
// A relocation that cannot be resolved poisons its instruction, as libbpf
// does; existence kinds resolve to 0 instead.
//
//===----------------------------------------------------------------------===//

#include "BtfTypes.h"
#include "CodeSection.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/DebugInfo/BTF/BTFParser.h"
#include "llvm/Object/ObjectFile.h"

extern const unsigned char eimc_target_btf[];
extern const unsigned long eimc_target_btf_size;

using namespace llvm;

namespace eimc::bpfobject {
namespace {

enum RelocKind : uint32_t {
  FieldByteOffset = 0,
  FieldByteSize = 1,
  FieldExists = 2,
  FieldSigned = 3,
  FieldLShiftU64 = 4,
  FieldRShiftU64 = 5,
  TypeIdLocal = 6,
  TypeIdTarget = 7,
  TypeExists = 8,
  TypeSize = 9,
  EnumValueExists = 10,
  EnumValue = 11,
  TypeMatches = 12,
};

const char *kindName(uint32_t kind) {
  static const char *names[] = {
      "byte_off",    "byte_sz",    "field_exists",   "signed",
      "lshift_u64",  "rshift_u64", "local_type_id",  "target_type_id",
      "type_exists", "type_size",  "enumval_exists", "enumval_value",
      "type_matches"};
  return kind < std::size(names) ? names[kind] : "unknown";
}

bool isFieldKind(uint32_t kind) { return kind <= FieldRShiftU64; }
bool isEnumKind(uint32_t kind) {
  return kind == EnumValueExists || kind == EnumValue;
}

/// One step of an access string as matched against the target: a named
/// member or an array index.
struct Step {
  std::string name; ///< member name; empty for an array index
  uint32_t index = 0;
};

/// A field as located in one BTF (local or target).
struct FieldPos {
  uint64_t bitOffset = 0;
  uint32_t bitfieldSize = 0; ///< 0 unless the field is a bitfield
  uint32_t type = 0;         ///< the field's type id
};

/// The types one relocation resolves against, and how diagnostics name
/// them ("eimc's target types", "the host's types").
struct Target {
  const BtfTypes &types;
  StringRef what;
};

/// Outcome of resolving one relocation: a value or a poison reason.
struct Resolution {
  std::optional<uint64_t> value;
  std::optional<uint32_t> targetSize; ///< field byte size, for width fixes
  std::optional<uint32_t> localSize;
  std::string failure;
};

Expected<std::vector<uint32_t>> parseAccess(StringRef access) {
  std::vector<uint32_t> indices;
  SmallVector<StringRef, 8> parts;
  access.split(parts, ':');
  for (StringRef part : parts) {
    uint32_t n;
    if (part.getAsInteger(10, n))
      return makeMalformed("bad CO-RE access string '" + access + "'");
    indices.push_back(n);
  }
  return indices;
}

/// Walks the local access path; fills the named steps used for matching.
Expected<FieldPos> walkLocal(const BtfTypes &btf, uint32_t root,
                             ArrayRef<uint32_t> access,
                             std::vector<Step> &steps) {
  FieldPos pos;
  Expected<uint64_t> rootSize = btf.sizeOf(root);
  if (!rootSize)
    return rootSize.takeError();
  pos.bitOffset = uint64_t(access[0]) * *rootSize * 8;
  pos.type = root;
  for (uint32_t idx : access.drop_front()) {
    const BtfType *t = btf.get(btf.skipModifiers(pos.type));
    if (t &&
        (t->kind == BTF::BTF_KIND_STRUCT || t->kind == BTF::BTF_KIND_UNION)) {
      if (idx >= t->members.size())
        return makeMalformed("CO-RE access index " + Twine(idx) +
                             " out of range in '" + t->name + "'");
      const BtfMember &m = t->members[idx];
      pos.bitOffset += m.bitOffset;
      pos.bitfieldSize = m.bitSize;
      pos.type = m.type;
      // Anonymous members are not matched: the target lookup by name
      // descends into anonymous structs and unions by itself.
      if (!m.name.empty())
        steps.push_back({m.name, 0});
      continue;
    }
    if (t && t->kind == BTF::BTF_KIND_ARRAY) {
      Expected<uint64_t> elem = btf.sizeOf(t->elemType);
      if (!elem)
        return elem.takeError();
      pos.bitOffset += uint64_t(idx) * *elem * 8;
      pos.bitfieldSize = 0;
      pos.type = t->elemType;
      steps.push_back({"", idx});
      continue;
    }
    return makeMalformed("CO-RE access string steps into a non-aggregate");
  }
  return pos;
}

/// Finds member \p name in struct/union \p id, descending into anonymous
/// members; adds its offset to \p pos.
bool findMember(const BtfTypes &btf, uint32_t id, StringRef name, FieldPos &pos,
                unsigned depth = 0) {
  const BtfType *t = btf.get(btf.skipModifiers(id));
  if (!t || depth > 32 ||
      (t->kind != BTF::BTF_KIND_STRUCT && t->kind != BTF::BTF_KIND_UNION))
    return false;
  for (const BtfMember &m : t->members) {
    if (m.name == name) {
      pos.bitOffset += m.bitOffset;
      pos.bitfieldSize = m.bitSize;
      pos.type = m.type;
      return true;
    }
    if (!m.name.empty())
      continue;
    FieldPos inner = pos;
    inner.bitOffset += m.bitOffset;
    if (findMember(btf, m.type, name, inner, depth + 1)) {
      pos = inner;
      return true;
    }
  }
  return false;
}

/// Same kind class (libbpf's bpf_core_fields_are_compat, simplified):
/// integers and enums are interchangeable, sizes may differ.
bool fieldsCompatible(const BtfTypes &local, uint32_t l, const BtfTypes &target,
                      uint32_t t) {
  const BtfType *lt = local.get(local.skipModifiers(l));
  const BtfType *tt = target.get(target.skipModifiers(t));
  if (!lt || !tt)
    return false;
  auto isScalar = [](uint32_t k) {
    return k == BTF::BTF_KIND_INT || k == BTF::BTF_KIND_ENUM ||
           k == BTF::BTF_KIND_ENUM64;
  };
  if (isScalar(lt->kind))
    return isScalar(tt->kind);
  if (lt->kind == BTF::BTF_KIND_ARRAY)
    return tt->kind == BTF::BTF_KIND_ARRAY &&
           fieldsCompatible(local, lt->elemType, target, tt->elemType);
  return lt->kind == tt->kind;
}

/// Walks \p steps by name through target type \p root. On failure,
/// \p missing names the member the target lacks (empty: an index or a
/// non-aggregate on the way).
std::optional<FieldPos> walkTarget(const BtfTypes &btf, uint32_t root,
                                   uint32_t firstIndex, ArrayRef<Step> steps,
                                   std::string &missing) {
  Expected<uint64_t> rootSize = btf.sizeOf(root);
  if (!rootSize) {
    consumeError(rootSize.takeError());
    return std::nullopt;
  }
  FieldPos pos;
  pos.bitOffset = uint64_t(firstIndex) * *rootSize * 8;
  pos.type = root;
  for (const Step &step : steps) {
    if (!step.name.empty()) {
      if (!findMember(btf, pos.type, step.name, pos)) {
        missing = step.name;
        return std::nullopt;
      }
      continue;
    }
    const BtfType *t = btf.get(btf.skipModifiers(pos.type));
    if (!t || t->kind != BTF::BTF_KIND_ARRAY ||
        (t->nelems != 0 && step.index >= t->nelems))
      return std::nullopt;
    Expected<uint64_t> elem = btf.sizeOf(t->elemType);
    if (!elem) {
      consumeError(elem.takeError());
      return std::nullopt;
    }
    pos.bitOffset += uint64_t(step.index) * *elem * 8;
    pos.bitfieldSize = 0;
    pos.type = t->elemType;
  }
  return pos;
}

/// Target types that could be the local type \p localId: same essential
/// name, same kind (libbpf's candidate search).
std::vector<uint32_t> candidates(const BtfTypes &local, uint32_t localId,
                                 const BtfTypes &target) {
  const BtfType *lt = local.get(localId);
  std::vector<uint32_t> out;
  if (!lt || lt->name.empty())
    return out;
  StringRef want = essentialName(lt->name);
  for (uint32_t id = 1; id < target.count(); ++id) {
    const BtfType *tt = target.get(id);
    bool sameKind =
        tt->kind == lt->kind ||
        ((lt->kind == BTF::BTF_KIND_ENUM || lt->kind == BTF::BTF_KIND_ENUM64) &&
         (tt->kind == BTF::BTF_KIND_ENUM || tt->kind == BTF::BTF_KIND_ENUM64));
    if (sameKind && essentialName(tt->name) == want)
      out.push_back(id);
  }
  return out;
}

/// "struct http_request_s", "typedef http_str_t", for diagnostics.
std::string describeType(const BtfTypes &btf, uint32_t id) {
  const BtfType *t = btf.get(id);
  if (!t)
    return "void";
  StringRef name = t->name.empty() ? StringRef("(anonymous)") : t->name;
  switch (t->kind) {
  case BTF::BTF_KIND_STRUCT:
    return "struct " + name.str();
  case BTF::BTF_KIND_UNION:
    return "union " + name.str();
  case BTF::BTF_KIND_ENUM:
  case BTF::BTF_KIND_ENUM64:
    return "enum " + name.str();
  case BTF::BTF_KIND_TYPEDEF:
    return "typedef " + name.str();
  default:
    return "'" + name.str() + "'";
  }
}

/// eimc's target types keep the contexts it builds (pt_regs); every other
/// root type is the host's. Chosen by essential name, so `pt_regs___x86`
/// still means eimc's, and a host that defines its own `pt_regs` cannot
/// change what a uprobe's context is.
Target chooseTarget(const BtfTypes &local, uint32_t localId,
                    const BtfTypes &target, const BtfTypes *host) {
  Target eimcTarget{target, "eimc's target types"};
  if (!host || !candidates(local, localId, target).empty())
    return eimcTarget;
  return Target{*host, "the host's types"};
}

/// libbpf's bpf_core_calc_field_relo for one located field.
Expected<uint64_t> fieldValue(const BtfTypes &btf, const FieldPos &pos,
                              uint32_t kind, uint32_t &byteSize) {
  uint64_t byteOff = pos.bitOffset / 8;
  Expected<uint64_t> size = btf.sizeOf(pos.type);
  if (!size)
    return size.takeError();
  uint64_t bitSize = *size * 8;
  byteSize = uint32_t(*size);
  if (pos.bitfieldSize) {
    // A bitfield is read with the smallest aligned load covering it.
    bitSize = pos.bitfieldSize;
    uint64_t sz = *size ? *size : 1;
    byteOff = pos.bitOffset / 8 / sz * sz;
    while (pos.bitOffset + bitSize - byteOff * 8 > sz * 8) {
      if (sz >= 8)
        return makeMalformed("bitfield too wide for CO-RE relocation");
      sz *= 2;
      byteOff = pos.bitOffset / 8 / sz * sz;
    }
    byteSize = uint32_t(sz);
  }
  switch (kind) {
  case FieldByteOffset:
    return byteOff;
  case FieldByteSize:
    return byteSize;
  case FieldExists:
    return 1;
  case FieldSigned: {
    const BtfType *t = btf.get(btf.skipModifiers(pos.type));
    bool isSigned =
        t &&
        ((t->kind == BTF::BTF_KIND_INT && (t->intEncoding & BTF::INT_SIGNED)) ||
         ((t->kind == BTF::BTF_KIND_ENUM || t->kind == BTF::BTF_KIND_ENUM64) &&
          t->kindFlag));
    return isSigned ? 1 : 0;
  }
  case FieldLShiftU64:
    return 64 - (pos.bitOffset + bitSize - byteOff * 8);
  default:
    return 64 - bitSize;
  }
}

/// Resolves one field relocation against every candidate; all matching
/// candidates must agree (libbpf: "relocation decision ambiguity").
Resolution resolveField(const BtfTypes &local, const Target &tgt,
                        uint32_t localId, ArrayRef<uint32_t> access,
                        uint32_t kind) {
  const BtfTypes &target = tgt.types;
  Resolution res;
  std::vector<Step> steps;
  Expected<FieldPos> lpos = walkLocal(local, localId, access, steps);
  if (!lpos) {
    res.failure = toString(lpos.takeError());
    return res;
  }
  uint32_t lsize = 0;
  if (Expected<uint64_t> lv = fieldValue(local, *lpos, kind, lsize))
    res.localSize = lsize;
  else
    consumeError(lv.takeError());
  std::vector<uint32_t> cands = candidates(local, localId, target);
  if (cands.empty())
    res.failure =
        "no type '" + local.get(localId)->name + "' in " + tgt.what.str();
  std::string incompatible;
  for (uint32_t cand : cands) {
    std::string missing;
    std::optional<FieldPos> tpos =
        walkTarget(target, cand, access[0], steps, missing);
    if (!tpos && !missing.empty() && res.failure.empty())
      res.failure = describeType(target, cand) + " in " + tgt.what.str() +
                    " has no field '" + missing + "'";
    if (tpos && !fieldsCompatible(local, lpos->type, target, tpos->type))
      incompatible = "the field's type in " + describeType(target, cand) +
                     " is not compatible with the local one";
    if (!tpos || !fieldsCompatible(local, lpos->type, target, tpos->type))
      continue;
    uint32_t tsize = 0;
    Expected<uint64_t> v = fieldValue(target, *tpos, kind, tsize);
    if (!v) {
      res.failure = toString(v.takeError());
      return res;
    }
    if (res.value && *res.value != *v) {
      res.value.reset();
      res.failure = "ambiguous: target types disagree";
      return res;
    }
    res.value = *v;
    res.targetSize = tsize;
  }
  if (!res.value && kind == FieldExists) {
    res.value = 0;
    res.failure.clear();
  }
  if (!res.value && res.failure.empty())
    res.failure = incompatible.empty()
                      ? "no matching field in " + tgt.what.str()
                      : incompatible;
  if (res.value)
    res.failure.clear();
  return res;
}

/// Loose TYPE_MATCHES: every named local member exists in the target
/// with a compatible type (libbpf's full rules also compare enumerators
/// and function prototypes).
bool typeMatches(const BtfTypes &local, uint32_t l, const BtfTypes &target,
                 uint32_t t) {
  const BtfType *lt = local.get(local.skipModifiers(l));
  if (!lt ||
      (lt->kind != BTF::BTF_KIND_STRUCT && lt->kind != BTF::BTF_KIND_UNION))
    return fieldsCompatible(local, l, target, t);
  for (const BtfMember &m : lt->members) {
    FieldPos pos;
    pos.type = t;
    if (!m.name.empty() && (!findMember(target, t, m.name, pos) ||
                            !fieldsCompatible(local, m.type, target, pos.type)))
      return false;
  }
  return true;
}

Resolution resolveType(const BtfTypes &local, const Target &tgt,
                       uint32_t localId, uint32_t kind) {
  const BtfTypes &target = tgt.types;
  Resolution res;
  if (kind == TypeIdLocal) {
    res.value = localId;
    return res;
  }
  std::vector<uint32_t> found;
  for (uint32_t cand : candidates(local, localId, target))
    if (kind != TypeMatches || typeMatches(local, localId, target, cand))
      found.push_back(cand);
  switch (kind) {
  case TypeExists:
  case TypeMatches:
    res.value = found.empty() ? 0 : 1;
    return res;
  default:
    break;
  }
  if (found.empty()) {
    res.failure = "no matching type in " + tgt.what.str();
    return res;
  }
  if (kind == TypeIdTarget) {
    res.value = found.front();
    return res;
  }
  Expected<uint64_t> size = target.sizeOf(found.front());
  if (!size) {
    res.failure = toString(size.takeError());
    return res;
  }
  res.value = *size;
  return res;
}

Resolution resolveEnum(const BtfTypes &local, const Target &tgt,
                       uint32_t localId, ArrayRef<uint32_t> access,
                       uint32_t kind) {
  const BtfTypes &target = tgt.types;
  Resolution res;
  const BtfType *lt = local.get(local.skipQualifiers(localId));
  if (!lt || access.size() != 1 || access[0] >= lt->members.size()) {
    res.failure = "bad enumerator access string";
    return res;
  }
  StringRef name = lt->members[access[0]].name;
  for (uint32_t cand : candidates(local, localId, target))
    for (const BtfMember &m : target.get(cand)->members)
      if (m.name == name)
        res.value = kind == EnumValueExists ? 1 : uint64_t(m.value);
  if (!res.value && kind == EnumValueExists)
    res.value = 0;
  if (!res.value)
    res.failure = "no matching enumerator in " + tgt.what.str();
  return res;
}

bpf::Width widthForSize(uint32_t size, bool &ok) {
  ok = true;
  switch (size) {
  case 1:
    return bpf::Width::B;
  case 2:
    return bpf::Width::H;
  case 4:
    return bpf::Width::W;
  case 8:
    return bpf::Width::DW;
  default:
    ok = false;
    return bpf::Width::DW;
  }
}

/// Patches \p insn with \p res; \returns a poison reason on failure.
std::optional<std::string> patch(bpf::Insn &insn, const Resolution &res,
                                 uint32_t kind) {
  uint64_t v = *res.value;
  // libbpf adjusts a memory access whose field changed size (e.g. a u32
  // that became a u64): only when the instruction read the whole field.
  auto fixWidth = [&](bpf::Width &w) -> std::optional<std::string> {
    if (kind != FieldByteOffset || !res.targetSize || !res.localSize ||
        *res.targetSize == *res.localSize)
      return std::nullopt;
    bool ok;
    bpf::Width nw = widthForSize(*res.targetSize, ok);
    if (!ok || unsigned(w) != *res.localSize)
      return std::string("field size changed to ") +
             std::to_string(*res.targetSize) + " bytes";
    w = nw;
    return std::nullopt;
  };
  auto setOff = [&](int16_t &off) -> std::optional<std::string> {
    if (v > uint64_t(INT16_MAX))
      return "offset " + std::to_string(v) + " does not fit the instruction";
    off = int16_t(v);
    return std::nullopt;
  };
  if (auto *alu = std::get_if<bpf::Alu>(&insn); alu && alu->useImm) {
    if (v > UINT32_MAX)
      return "value does not fit a 32-bit immediate";
    alu->imm = int32_t(uint32_t(v));
    return std::nullopt;
  }
  if (auto *ld = std::get_if<bpf::Load>(&insn)) {
    if (auto err = fixWidth(ld->width))
      return err;
    return setOff(ld->off);
  }
  if (auto *st = std::get_if<bpf::Store>(&insn)) {
    if (auto err = fixWidth(st->width))
      return err;
    return setOff(st->off);
  }
  if (auto *at = std::get_if<bpf::Atomic>(&insn))
    return setOff(at->off);
  if (auto *ld = std::get_if<bpf::LoadImm64>(&insn);
      ld && ld->kind == bpf::Imm64Kind::Imm) {
    ld->value = v;
    return std::nullopt;
  }
  return std::string("relocation on an instruction it cannot patch");
}

} // namespace

Error applyCoreRelocations(CodeSection &section, const BtfTypes &local,
                           const BtfTypes &target, const BtfTypes *host,
                           const BTFParser &ext) {
  // Collect first: poisoning an LDDW inserts a slot-filling second poison.
  std::vector<std::pair<uint32_t, const BTF::BPFFieldReloc *>> relocs;
  for (const bpf::SlotInsn &si : section.insns)
    if (const BTF::BPFFieldReloc *r =
            ext.findFieldReloc({uint64_t(si.slot) * 8, section.elfIndex}))
      relocs.push_back({si.slot, r});
  for (const auto &[slot, r] : relocs) {
    StringRef accessText = ext.findString(r->OffsetNameOff);
    Expected<std::vector<uint32_t>> access = parseAccess(accessText);
    if (!access)
      return access.takeError();
    if (access->empty() || !local.get(r->TypeID))
      return makeMalformed("insn " + Twine(slot) +
                           ": CO-RE relocation with bad type id " +
                           Twine(r->TypeID));
    Target tgt = chooseTarget(local, r->TypeID, target, host);
    Resolution res;
    if (isFieldKind(r->RelocKind))
      res = resolveField(local, tgt, r->TypeID, *access, r->RelocKind);
    else if (isEnumKind(r->RelocKind))
      res = resolveEnum(local, tgt, r->TypeID, *access, r->RelocKind);
    else if (r->RelocKind <= TypeMatches)
      res = resolveType(local, tgt, r->TypeID, r->RelocKind);
    else
      return makeMalformed("insn " + Twine(slot) +
                           ": unknown CO-RE relocation kind " +
                           Twine(r->RelocKind));
    int index = section.indexOfSlot(slot);
    bpf::Insn &insn = section.insns[index].insn;
    std::optional<std::string> failure;
    if (res.value)
      failure = patch(insn, res, r->RelocKind);
    else
      failure = res.failure;
    if (!failure)
      continue;
    std::string reason = "CO-RE relocation '" + local.get(r->TypeID)->name +
                         " " + accessText.str() + "' (" +
                         kindName(r->RelocKind) + "): " + *failure;
    bool wasLddw = bpf::slotCount(insn) == 2;
    insn = bpf::Poison{reason};
    if (wasLddw)
      section.insns.insert(section.insns.begin() + index + 1,
                           bpf::SlotInsn{slot + 1, bpf::Poison{reason}});
  }
  return Error::success();
}

Expected<BtfTypes> loadTargetBtf() {
  StringRef bytes(reinterpret_cast<const char *>(eimc_target_btf),
                  eimc_target_btf_size);
  Expected<std::unique_ptr<object::ObjectFile>> obj =
      object::ObjectFile::createObjectFile(
          MemoryBufferRef(bytes, "target-btf.o"));
  if (!obj)
    return obj.takeError();
  for (const object::SectionRef &sec : (*obj)->sections()) {
    Expected<StringRef> name = sec.getName();
    if (!name || *name != ".BTF") {
      consumeError(name.takeError());
      continue;
    }
    Expected<StringRef> contents = sec.getContents();
    if (!contents)
      return contents.takeError();
    return BtfTypes::parse(arrayRefFromStringRef(*contents));
  }
  return makeMalformed("embedded target BTF has no .BTF section");
}

} // namespace eimc::bpfobject
