//===- runtime-lib/reader/MapReading.cpp - Copying map elements -----------===//
//
// Part of eimc. See eimc/State/State.h and docs/design.md, "Maps".
//
//===----------------------------------------------------------------------===//
//
// ProcessState::readMap() and mapBtf(), for `eimc maps`: the reader half
// of the ARRAY and HASH layouts (and their PERCPU forms) in eim_state.h, whose
// writer is runtime-lib/src/maps.c. The process keeps running and writing: an
// ARRAY value is copied as it is (a concurrent atomic add is either in or not),
// a HASH bucket only when its state is LIVE and its seq was even and
// unchanged around the copy of its key and value, as in the runtime's own
// lock-free lookup. Every offset comes from the file and is checked
// against the map's validated data region before use.
//
//===----------------------------------------------------------------------===//

#include "eimc/State/State.h"

#include "eim_state.h"

#include "eimc/Core/Errors.h"

#include <atomic>
#include <cstring>

using namespace llvm;

namespace eimc::state {

namespace {

uint32_t round8(uint32_t n) { return (n + 7u) & ~7u; }

uint32_t loadAcquire32(const uint8_t *at) {
  return std::atomic_ref<uint32_t>(
             *reinterpret_cast<uint32_t *>(const_cast<uint8_t *>(at)))
      .load(std::memory_order_acquire);
}

} // namespace

Expected<std::vector<MapEntry>> ProcessState::readMap(StringRef map) const {
  int index = findMap(map);
  if (index < 0)
    return makeMalformed("process " + Twine(pidValue) + " has no map '" + map +
                         "'");
  const MapInfo &info = mapInfos[index];
  const Region &region = regions[index];
  const uint8_t *data = base + region.offset;
  auto bad = [&](const Twine &why) {
    return makeMalformed(path + ": map '" + map + "': " + why);
  };
  std::vector<MapEntry> out;
  // A PERCPU element is `slots` values, each padded to 8 bytes; a plain
  // one is its value alone.
  uint64_t valueBytes = info.slots
                            ? uint64_t(info.slots) * round8(info.valueSize)
                            : info.valueSize;
  if (info.type == EIM_MAP_TYPE_ARRAY ||
      info.type == EIM_MAP_TYPE_PERCPU_ARRAY) {
    uint64_t stride = info.slots ? valueBytes : round8(info.valueSize);
    if (stride * info.maxEntries > region.size)
      return bad("values do not fit its data");
    for (uint32_t i = 0; i < info.maxEntries; ++i) {
      MapEntry e;
      e.key.resize(4);
      std::memcpy(e.key.data(), &i, 4);
      const uint8_t *v = data + i * stride;
      e.value.assign(v, v + valueBytes);
      out.push_back(std::move(e));
    }
    return out;
  }
  if (info.type != EIM_MAP_TYPE_HASH && info.type != EIM_MAP_TYPE_PERCPU_HASH)
    return makeMalformed("map '" + map + "' has type " + Twine(info.type) +
                         "; eimc maps dump reads ARRAY and HASH maps and "
                         "their PERCPU forms");
  eim_hash_header hh;
  if (region.size < sizeof(hh))
    return bad("no hash header");
  std::memcpy(&hh, data, sizeof(hh));
  uint64_t keyBytes = round8(info.keySize);
  uint64_t bucketValue = info.slots ? valueBytes : round8(info.valueSize);
  if (hh.bucket_size != EIM_HASH_BUCKET_HEADER + keyBytes + bucketValue ||
      uint64_t(hh.buckets) * hh.bucket_size > region.size - sizeof(hh))
    return bad("buckets do not fit its data");
  for (uint32_t i = 0; i < hh.buckets; ++i) {
    const uint8_t *b = data + sizeof(hh) + uint64_t(i) * hh.bucket_size;
    if (loadAcquire32(b) != EIM_HASH_BUCKET_LIVE)
      continue;
    uint32_t seq = loadAcquire32(b + 4);
    MapEntry e;
    const uint8_t *key = b + EIM_HASH_BUCKET_HEADER;
    e.key.assign(key, key + info.keySize);
    e.value.assign(key + keyBytes, key + keyBytes + valueBytes);
    std::atomic_thread_fence(std::memory_order_acquire);
    if ((seq & 1) || loadAcquire32(b + 4) != seq)
      continue; // rewritten while we copied: no consistent snapshot
    out.push_back(std::move(e));
  }
  return out;
}

Expected<std::vector<uint8_t>> ProcessState::mapBtf(StringRef map) const {
  int index = findMap(map);
  if (index < 0)
    return makeMalformed("process " + Twine(pidValue) + " has no map '" + map +
                         "'");
  const Region &region = regions[index];
  if (region.btfSize == 0)
    return std::vector<uint8_t>{};
  const uint8_t *btf = base + region.btfOffset;
  return std::vector<uint8_t>(btf, btf + region.btfSize);
}

} // namespace eimc::state
