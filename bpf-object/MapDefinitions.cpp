//===- bpf-object/MapDefinitions.cpp - BTF-defined maps from .maps --------===//
//
// Part of eimc. See eimc/BpfObject/BpfObject.h.
//
//===----------------------------------------------------------------------===//
//
// libbpf's BTF-defined maps (libbpf.c, parse_btf_map_def): the `.maps`
// DATASEC lists one VAR per map; each VAR's type is an anonymous struct
// whose members carry the map's attributes in their *types*, not values
// (the section holds only zeros):
//
//   struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);  // int (*type)[4]
//            __uint(key_size, sizeof(u32));                // int
//            (*key_size)[4]
//            __type(value, struct event); } events SEC(".maps");
//
// `__uint(name, N)` is a pointer to an array of N ints, so N is the array's
// nelems; `__type(name, T)` is a pointer to T, so T's BTF id and size give
// the key or value. Unknown members are ignored as libbpf does in
// non-strict mode.
//
//===----------------------------------------------------------------------===//

#include "BtfTypes.h"
#include "CodeSection.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/StringSwitch.h"

using namespace llvm;

namespace eimc::bpfobject {
namespace {

Error mapError(StringRef map, const Twine &what) {
  return makeMalformed("map '" + map + "': " + what);
}

/// The N of `int (*name)[N]`.
Expected<uint32_t> uintMember(const BtfTypes &btf, StringRef map,
                              const BtfMember &m) {
  const BtfType *ptr = btf.get(btf.skipModifiers(m.type));
  const BtfType *arr = ptr && ptr->kind == BTF::BTF_KIND_PTR
                           ? btf.get(ptr->sizeOrType)
                           : nullptr;
  if (!arr || arr->kind != BTF::BTF_KIND_ARRAY)
    return mapError(map, "member '" + m.name +
                             "' is not __uint() (a pointer to an array)");
  return arr->nelems;
}

/// The id of T in `T *name`.
Expected<uint32_t> typeMember(const BtfTypes &btf, StringRef map,
                              const BtfMember &m) {
  const BtfType *ptr = btf.get(btf.skipModifiers(m.type));
  if (!ptr || ptr->kind != BTF::BTF_KIND_PTR)
    return mapError(map, "member '" + m.name + "' is not __type() (a pointer)");
  return ptr->sizeOrType;
}

/// Sets a size from __type(), checking it against an explicit *_size.
Error setTypedSize(const BtfTypes &btf, StringRef map, StringRef what,
                   uint32_t typeId, uint32_t &size) {
  Expected<uint64_t> bytes = btf.sizeOf(typeId);
  if (!bytes)
    return mapError(map, what + " type: " + toString(bytes.takeError()));
  if (size && size != *bytes)
    return mapError(map, what + "_size " + Twine(size) +
                             " conflicts with the " + what + " type's size " +
                             Twine(*bytes));
  size = uint32_t(*bytes);
  return Error::success();
}

Expected<MapDef> readMap(const BtfTypes &btf, const BtfType &var) {
  MapDef map;
  map.name = var.name;
  const BtfType *def = btf.get(btf.skipModifiers(var.sizeOrType));
  if (!def || def->kind != BTF::BTF_KIND_STRUCT)
    return mapError(map.name, "definition is not a struct");
  uint32_t keyType = 0, valueType = 0;
  for (const BtfMember &m : def->members) {
    uint32_t *field = StringSwitch<uint32_t *>(m.name)
                          .Case("type", &map.type)
                          .Case("max_entries", &map.maxEntries)
                          .Case("key_size", &map.keySize)
                          .Case("value_size", &map.valueSize)
                          .Case("map_flags", &map.flags)
                          .Default(nullptr);
    uint32_t *typed = StringSwitch<uint32_t *>(m.name)
                          .Case("key", &keyType)
                          .Case("value", &valueType)
                          .Default(nullptr);
    if (field) {
      Expected<uint32_t> n = uintMember(btf, map.name, m);
      if (!n)
        return n.takeError();
      *field = *n;
    } else if (typed) {
      Expected<uint32_t> id = typeMember(btf, map.name, m);
      if (!id)
        return id.takeError();
      *typed = *id;
    }
  }
  if (keyType) {
    if (Error e = setTypedSize(btf, map.name, "key", keyType, map.keySize))
      return e;
    map.btfKeyTypeId = keyType;
  }
  if (valueType) {
    if (Error e =
            setTypedSize(btf, map.name, "value", valueType, map.valueSize))
      return e;
    map.btfValueTypeId = valueType;
  }
  // libbpf fills these in at load time: a perf buffer has one u32 fd per
  // CPU, and as many entries as possible CPUs (for eimc: CPU slots).
  if (map.type == uint32_t(MapTypeKind::PerfEventArray)) {
    map.keySize = map.keySize ? map.keySize : 4;
    map.valueSize = map.valueSize ? map.valueSize : 4;
    map.maxEntries = map.maxEntries ? map.maxEntries : CpuSlots;
  }
  if (map.type == 0)
    return mapError(map.name, "no map type");
  // The kernel's array_map_alloc_check: an array's key is its u32 index.
  // Another size would leave the runtime (which reads 4 key bytes) and the
  // verifier's constant-key rule disagreeing about the index.
  if ((map.type == uint32_t(MapTypeKind::Array) ||
       map.type == uint32_t(MapTypeKind::PercpuArray)) &&
      map.keySize != 4)
    return makeRefusal("map '" + map.name + "': key_size " +
                       Twine(map.keySize) +
                       " of an array map is not 4 (the key is a u32 index; "
                       "the kernel refuses this map)");
  return map;
}

} // namespace

Expected<std::vector<MapDef>> readBtfMaps(const BtfTypes &btf) {
  std::optional<uint32_t> sec =
      btf.findByName(".maps", {uint32_t(BTF::BTF_KIND_DATASEC)});
  if (!sec)
    return makeMalformed("'.maps' section has no BTF DATASEC");
  // DATASEC order, as libbpf numbers maps (the offsets are still 0 in an
  // unlinked object, so they cannot order anything).
  const std::vector<BtfMember> &vars = btf.get(*sec)->members;
  std::vector<MapDef> maps;
  for (const BtfMember &v : vars) {
    const BtfType *var = btf.get(v.type);
    if (!var || var->kind != BTF::BTF_KIND_VAR)
      return makeMalformed("'.maps' DATASEC entry is not a variable");
    Expected<MapDef> map = readMap(btf, *var);
    if (!map)
      return map.takeError();
    maps.push_back(std::move(*map));
  }
  return maps;
}

} // namespace eimc::bpfobject
