//===- runtime-lib/reader/ProcessState.cpp - Reading shared state ---------===//
//
// Part of eimc. See eimc/State/State.h and docs/design.md, "Runtime".
//
//===----------------------------------------------------------------------===//
//
// The C++ half of the shared-state protocol whose C half is runtime-lib's
// state.c and helpers.c; eim_state.h, included by both, is the layout.
// ProcessState::open() maps /dev/shm/eimc-<euid>/<pid>.state and validates
// it; consumeEvents() is the consumer of the PERF_EVENT_ARRAY rings;
// collectGarbage() removes the files of exited processes.
//
// Everything in the file is written by the observed process, so every
// value is checked before it is used as an offset or a length; a bad value
// is reported as a malformed-state error naming the file. This file does
// not interpret records (the driver formats them with BTF) and does not
// wait (the driver polls).
//
//===----------------------------------------------------------------------===//

#include "eimc/State/State.h"

#include "eim_state.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Errno.h"
#include "llvm/Support/MemoryBuffer.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace llvm;

namespace eimc::state {

namespace {

/// A file descriptor closed on every path out of open().
class FileDescriptor {
public:
  explicit FileDescriptor(int fd) : fd(fd) {}
  ~FileDescriptor() {
    if (fd >= 0)
      ::close(fd);
  }
  int get() const { return fd; }

private:
  int fd;
};

bool processExists(int pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

/// Loads a word the process writes concurrently. atomic_ref needs a
/// non-const object; the mapping is writable, so the cast is sound.
uint64_t loadAcquire(const uint64_t &word) {
  return std::atomic_ref<uint64_t>(const_cast<uint64_t &>(word))
      .load(std::memory_order_acquire);
}

uint32_t loadAcquire32(const uint32_t &word) {
  return std::atomic_ref<uint32_t>(const_cast<uint32_t &>(word))
      .load(std::memory_order_acquire);
}

/// A fixed-size char array from the file as a string, stopping at the
/// first NUL or at the end of the array.
std::string boundedString(const char *chars, size_t capacity) {
  return std::string(chars, strnlen(chars, capacity));
}

} // namespace

std::string stateDirectory(unsigned uid) {
  return (EIM_STATE_DIR_PREFIX + Twine(uid)).str();
}

std::string statePath(int pid) {
  // The runtime names the directory after its effective uid, which is
  // what owns /proc/<pid>.
  struct stat proc;
  unsigned uid = ::geteuid();
  if (::stat(("/proc/" + Twine(pid)).str().c_str(), &proc) == 0)
    uid = proc.st_uid;
  return (stateDirectory(uid) + "/" + Twine(pid) + ".state").str();
}

namespace {

/// \returns true if \p path is a regular file whose runtime lock is free,
/// i.e. no process maps it any more. Taking the lock is harmless: nothing
/// but the runtime ever waits for it, and we drop it on close.
bool isUnlocked(const std::string &path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0)
    return false;
  struct stat info;
  if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode))
    return false;
  return ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
}

/// \returns true if process \p pid maps file \p path, inode \p ino (both
/// must match: inode numbers alone repeat across file systems).
bool processMaps(int pid, const std::string &path, uint64_t ino) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> maps =
      MemoryBuffer::getFileAsStream("/proc/" + Twine(pid) + "/maps");
  if (!maps) // gone, or not ours to look at: keep the file when unsure
    return processExists(pid);
  SmallVector<StringRef, 0> lines;
  (*maps)->getBuffer().split(lines, '\n');
  std::string inoText = std::to_string(ino);
  for (StringRef line : lines) {
    SmallVector<StringRef, 6> fields;
    line.split(fields, ' ', 5, false);
    if (fields.size() == 6 && fields[4] == inoText &&
        fields[5].trim().starts_with(path))
      return true;
  }
  return false;
}

/// \returns the PID in \p name when it is "<digits><suffix>", else -1.
int pidFromName(StringRef name, StringRef prefix, StringRef suffix) {
  if (!name.consume_front(prefix) || !name.consume_back(suffix))
    return -1;
  int pid;
  if (name.empty() || name.getAsInteger(10, pid) || pid <= 0)
    return -1;
  return pid;
}

/// Removes \p path, counting it in \p result.
void removeCounted(const std::string &path, const struct stat &info,
                   GcResult &result) {
  if (::unlink(path.c_str()) != 0)
    return;
  ++result.removed;
  result.bytes += uint64_t(info.st_blocks) * 512;
}

} // namespace

Expected<GcResult> collectGarbage() {
  GcResult result;
  uid_t uid = ::geteuid();
  std::string dir = stateDirectory(uid);
  if (DIR *d = ::opendir(dir.c_str())) {
    while (dirent *e = ::readdir(d)) {
      if (pidFromName(e->d_name, "", ".state") < 0)
        continue;
      std::string path = dir + "/" + e->d_name;
      struct stat info;
      if (::lstat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode))
        continue;
      if (isUnlocked(path))
        removeCounted(path, info, result);
      else
        ++result.live;
    }
    ::closedir(d);
  } else if (errno != ENOENT) {
    return makeMalformed("cannot read " + dir + ": " + sys::StrError(errno));
  }
  // Flat files of earlier eimc versions carry no lock: a file is garbage
  // when its PID no longer maps it (exited, or reused by another image).
  DIR *shm = ::opendir("/dev/shm");
  if (!shm)
    return result;
  while (dirent *e = ::readdir(shm)) {
    int pid = pidFromName(e->d_name, "eimc-", ".state");
    if (pid < 0)
      continue;
    std::string path = std::string("/dev/shm/") + e->d_name;
    struct stat info;
    if (::lstat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode) ||
        info.st_uid != uid)
      continue;
    if (processMaps(pid, path, info.st_ino)) {
      ++result.live;
      continue;
    }
    unsigned before = result.removed;
    removeCounted(path, info, result);
    result.legacy += result.removed - before;
  }
  ::closedir(shm);
  return result;
}

Error ProcessState::validate() {
  // The stable prefix first, so a reader of another layout can name the
  // writer instead of reporting garbage.
  auto *header = reinterpret_cast<const eim_state_header *>(base);
  if (loadAcquire(header->magic) != EIM_STATE_MAGIC)
    return makeMalformed(path + ": not an eimc state file (bad magic)");
  version = boundedString(header->eimc_version, sizeof(header->eimc_version));
  if (header->layout_version != EIM_STATE_LAYOUT_VERSION)
    return makeMalformed(path + ": state written by eimc " + version +
                         ", layout " + Twine(header->layout_version) +
                         "; this eimc reads layout " +
                         Twine(EIM_STATE_LAYOUT_VERSION));
  if (size < sizeof(eim_state_header) ||
      header->header_size != sizeof(eim_state_header))
    return makeMalformed(path + ": truncated state header");
  if (loadAcquire32(header->ready) != EIM_STATE_READY)
    return makeMalformed("process " + Twine(pidValue) +
                         " has not published its state yet (still starting)");
  // Beyond this point the runtime has finished writing the map table; it
  // never changes it again (a hostile process could, hence the copies).
  if (header->trace_offset) {
    uint64_t off = header->trace_offset, ring = header->trace_ring_size;
    if (off < EIM_STATE_DATA_OFFSET || off % 8 != 0 || ring < 64 ||
        !isPowerOf2_64(ring) || off > size ||
        EIM_PERF_RING_HEADER + ring > size - off)
      return makeMalformed(path + ": trace ring at offset " + Twine(off) +
                           " size " + Twine(ring) + " is outside the file");
    traceOffset = off;
    traceRingSize = uint32_t(ring);
  }
  uint32_t count = header->map_count;
  if (count > EIM_STATE_MAX_MAPS)
    return makeMalformed(path + ": " + Twine(count) + " maps (at most " +
                         Twine(EIM_STATE_MAX_MAPS) + ")");
  for (unsigned i = 0; i < count; ++i)
    if (Error e = validateMap(i))
      return e;
  return Error::success();
}

Error ProcessState::validateMap(unsigned index) {
  auto *header = reinterpret_cast<const eim_state_header *>(base);
  eim_state_map entry;
  std::memcpy(&entry, &header->maps[index], sizeof(entry));
  MapInfo info;
  info.name = boundedString(entry.name, sizeof(entry.name));
  info.type = entry.type;
  info.keySize = entry.key_size;
  info.valueSize = entry.value_size;
  info.maxEntries = entry.max_entries;
  info.flags = entry.map_flags;
  info.btfKeyTypeId = entry.btf_key_type_id;
  info.btfValueTypeId = entry.btf_value_type_id;
  if (entry.type == EIM_MAP_TYPE_PERCPU_ARRAY ||
      entry.type == EIM_MAP_TYPE_PERCPU_HASH)
    info.slots = header->thread_slots;
  auto bad = [&](const Twine &why) {
    return makeMalformed(path + ": map " + Twine(index) + " ('" + info.name +
                         "'): " + why);
  };
  if (entry.offset < EIM_STATE_DATA_OFFSET || entry.offset % 8 != 0 ||
      entry.offset > size || entry.size > size - entry.offset)
    return bad("data at offset " + Twine(entry.offset) + " size " +
               Twine(entry.size) + " is outside the file");
  if (entry.type == EIM_MAP_TYPE_PERF_EVENT_ARRAY) {
    uint32_t ring = entry.ring_size;
    if (ring < 64 || !isPowerOf2_32(ring))
      return bad("ring size " + Twine(ring) + " is not a power of two >= 64");
    uint64_t need =
        uint64_t(entry.max_entries) * (EIM_PERF_RING_HEADER + uint64_t(ring));
    if (entry.max_entries == 0 || need > entry.size)
      return bad(Twine(entry.max_entries) + " rings do not fit in " +
                 Twine(entry.size) + " bytes");
  }
  if (info.slots && (info.slots > 4096 || info.valueSize > (1u << 20)))
    return bad(Twine(info.slots) + " slots of " + Twine(info.valueSize) +
               "-byte values");
  if (entry.type == EIM_MAP_TYPE_RINGBUF &&
      (entry.max_entries < 8 || !isPowerOf2_32(entry.max_entries) ||
       EIM_RINGBUF_HEADER + uint64_t(entry.max_entries) > entry.size))
    return bad("ring of " + Twine(entry.max_entries) +
               " bytes does not fit in " + Twine(entry.size) + " bytes");
  if (entry.btf_size &&
      (entry.btf_offset > size || entry.btf_size > size - entry.btf_offset))
    return bad("BTF at offset " + Twine(entry.btf_offset) + " size " +
               Twine(entry.btf_size) + " is outside the file");
  mapInfos.push_back(std::move(info));
  regions.push_back({entry.offset, entry.size, entry.ring_size,
                     entry.btf_offset, entry.btf_size});
  return Error::success();
}

Expected<ProcessState> ProcessState::open(int pid) {
  if (pid <= 0)
    return makeMalformed("invalid process id " + Twine(pid));
  return openFile(statePath(pid), pid);
}

Expected<ProcessState> ProcessState::openFile(const std::string &path,
                                              int pid) {
  ProcessState st;
  st.pidValue = pid;
  st.path = path;
  FileDescriptor fd(::open(st.path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    int err = errno;
    if (err == ENOENT && !processExists(pid))
      return makeMalformed("no such process " + Twine(pid));
    if (err == ENOENT)
      return makeMalformed("process " + Twine(pid) + " has no eimc state (" +
                           st.path +
                           " does not exist): it was not built by eimc or "
                           "has not started yet");
    return makeMalformed("cannot open " + st.path + ": " + sys::StrError(err));
  }
  struct stat info;
  if (::fstat(fd.get(), &info) != 0)
    return makeMalformed("cannot stat " + st.path + ": " +
                         sys::StrError(errno));
  if (uint64_t(info.st_size) < EIM_STATE_PREFIX_SIZE)
    return makeMalformed(st.path + ": not an eimc state file (" +
                         Twine(uint64_t(info.st_size)) + " bytes)");
  void *addr = ::mmap(nullptr, info.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                      fd.get(), 0);
  if (addr == MAP_FAILED)
    return makeMalformed("cannot map " + st.path + ": " + sys::StrError(errno));
  st.base = static_cast<uint8_t *>(addr);
  st.size = info.st_size;
  st.inode = info.st_ino;
  if (Error e = st.validate())
    return std::move(e);
  return std::move(st);
}

ProcessState::ProcessState(ProcessState &&other) noexcept {
  *this = std::move(other);
}

ProcessState &ProcessState::operator=(ProcessState &&other) noexcept {
  if (this == &other)
    return *this;
  unmap();
  pidValue = other.pidValue;
  path = std::move(other.path);
  version = std::move(other.version);
  base = std::exchange(other.base, nullptr);
  size = std::exchange(other.size, 0);
  inode = other.inode;
  mapInfos = std::move(other.mapInfos);
  regions = std::move(other.regions);
  traceOffset = other.traceOffset;
  traceRingSize = other.traceRingSize;
  return *this;
}

ProcessState::~ProcessState() { unmap(); }

void ProcessState::unmap() {
  if (base)
    ::munmap(base, size);
  base = nullptr;
}

int ProcessState::findMap(StringRef map) const {
  for (unsigned i = 0; i < mapInfos.size(); ++i)
    if (mapInfos[i].name == map)
      return i;
  return -1;
}

Expected<std::vector<std::vector<uint8_t>>>
ProcessState::consumeEvents(StringRef map, uint64_t limit) {
  int index = findMap(map);
  if (index < 0)
    return makeMalformed("process " + Twine(pidValue) + " has no map named '" +
                         map + "'");
  std::vector<std::vector<uint8_t>> records;
  if (mapInfos[index].type == EIM_MAP_TYPE_RINGBUF) {
    if (Error e = consumeRingbuf(index, limit, records))
      return std::move(e);
    return records;
  }
  if (mapInfos[index].type != EIM_MAP_TYPE_PERF_EVENT_ARRAY)
    return makeMalformed("map '" + map + "' of process " + Twine(pidValue) +
                         " is not a PERF_EVENT_ARRAY or a RINGBUF");
  const Region &r = regions[index];
  uint64_t stride = EIM_PERF_RING_HEADER + uint64_t(r.ringSize);
  for (uint32_t ring = 0; ring < mapInfos[index].maxEntries; ++ring)
    if (Error e = consumeRing(r.offset + ring * stride, r.ringSize,
                              "map '" + map + "' ring " + Twine(ring), limit,
                              records))
      return std::move(e);
  return records;
}

/// Copies \p n bytes at ring position \p pos out of (\p to non-null) or
/// zeroes them in (\p to null) the data area, wrapping at its end.
static void ringBytes(uint8_t *area, uint32_t ringSize, uint64_t pos,
                      uint8_t *to, uint64_t n) {
  uint64_t off = pos & (ringSize - 1);
  uint64_t first = std::min<uint64_t>(n, ringSize - off);
  if (to) {
    std::memcpy(to, area + off, first);
    std::memcpy(to + first, area, n - first);
    return;
  }
  std::memset(area + off, 0, first);
  std::memset(area, 0, n - first);
}

Error ProcessState::consumeRing(uint64_t ringOffset, uint32_t ringSize,
                                const Twine &what, uint64_t limit,
                                std::vector<std::vector<uint8_t>> &out) {
  auto *rb = reinterpret_cast<eim_perf_ring *>(base + ringOffset);
  uint8_t *area = reinterpret_cast<uint8_t *>(rb) + EIM_PERF_RING_HEADER;
  std::atomic_ref<uint64_t> tailRef(rb->tail);
  uint64_t tail = tailRef.load(std::memory_order_relaxed); // ours alone
  uint64_t head = loadAcquire(rb->head);
  auto corrupt = [&](const Twine &why) {
    return makeMalformed(path + ": " + what + ": " + why);
  };
  if (head - tail > ringSize || tail % 8 != 0)
    return corrupt("head " + Twine(head) + " and tail " + Twine(tail) +
                   " are inconsistent");
  Error result = Error::success();
  while (tail != head && out.size() < limit) {
    uint64_t word = loadAcquire(
        *reinterpret_cast<uint64_t *>(area + (tail & (ringSize - 1))));
    if (word == 0)
      break; // reserved, not yet published: resume here next time
    uint64_t len = word & 0xffffffffu;
    uint64_t total = EIM_REC_HEADER_SIZE + alignTo(len, 8);
    if (word >> 32 != EIM_REC_PUBLISHED || total > head - tail) {
      result = corrupt("bad record header 0x" + utohexstr(word) +
                       " at position " + Twine(tail));
      break;
    }
    std::vector<uint8_t> &rec = out.emplace_back(len);
    ringBytes(area, ringSize, tail + EIM_REC_HEADER_SIZE, rec.data(), len);
    // Zero before handing the space back: "header word 0" must mean
    // "unpublished" when a producer reserves these bytes again.
    ringBytes(area, ringSize, tail, nullptr, total);
    tail += total;
    // Hand each record's space back at once: a reader killed mid-drain
    // must not leave the tail behind zeroed headers, which every later
    // reader would take for an unpublished record forever.
    tailRef.store(tail, std::memory_order_release);
  }
  return result;
}

Error ProcessState::consumeRingbuf(unsigned mapIndex, uint64_t limit,
                                   std::vector<std::vector<uint8_t>> &out) {
  const Region &r = regions[mapIndex];
  uint64_t ringSize = mapInfos[mapIndex].maxEntries;
  auto *rb = reinterpret_cast<eim_ringbuf_header *>(base + r.offset);
  uint8_t *area = base + r.offset + EIM_RINGBUF_HEADER;
  std::atomic_ref<uint64_t> consRef(rb->consumer_pos);
  uint64_t cons = consRef.load(std::memory_order_relaxed); // ours alone
  uint64_t prod = loadAcquire(rb->producer_pos);
  auto corrupt = [&](const Twine &why) {
    return makeMalformed(path + ": map '" + mapInfos[mapIndex].name +
                         "': " + why);
  };
  if (prod - cons > ringSize || cons % 8 != 0)
    return corrupt("producer " + Twine(prod) + " and consumer " + Twine(cons) +
                   " positions are inconsistent");
  while (cons != prod && out.size() < limit) {
    uint8_t *at = area + (cons & (ringSize - 1));
    uint32_t word = loadAcquire32(*reinterpret_cast<uint32_t *>(at));
    if (word & EIM_RB_BUSY)
      break; // reserved, not yet submitted: resume here next time
    uint64_t len = word & ~(EIM_RB_BUSY | EIM_RB_DISCARD);
    uint64_t total = alignTo(len + EIM_RB_HDR_SIZE, 8);
    // Records never wrap (eim_state.h): one that would is corrupt.
    if (total > prod - cons || (cons & (ringSize - 1)) + total > ringSize)
      return corrupt("bad record header 0x" + utohexstr(word) +
                     " at position " + Twine(cons));
    if (!(word & EIM_RB_DISCARD))
      out.emplace_back(at + EIM_RB_HDR_SIZE, at + EIM_RB_HDR_SIZE + len);
    cons += total;
    consRef.store(cons, std::memory_order_release);
  }
  return Error::success();
}

Expected<std::vector<TraceLine>> ProcessState::consumeTrace(uint64_t limit) {
  std::vector<TraceLine> lines;
  if (!traceOffset)
    return lines;
  std::vector<std::vector<uint8_t>> records;
  if (Error e =
          consumeRing(traceOffset, traceRingSize, "trace ring", limit, records))
    return std::move(e);
  for (const std::vector<uint8_t> &rec : records) {
    eim_trace_record head;
    if (rec.size() < sizeof(head))
      return makeMalformed(path + ": trace ring: a " + Twine(rec.size()) +
                           "-byte record is shorter than its header");
    std::memcpy(&head, rec.data(), sizeof(head));
    TraceLine &line = lines.emplace_back();
    line.ns = head.ns;
    line.tid = head.tid;
    line.slot = head.slot;
    line.comm = boundedString(head.comm, sizeof(head.comm));
    line.text.assign(rec.begin() + sizeof(head), rec.end());
  }
  return lines;
}

uint64_t ProcessState::lostTraceLines() const {
  if (!traceOffset)
    return 0;
  return loadAcquire(
      reinterpret_cast<const eim_perf_ring *>(base + traceOffset)->lost);
}

uint64_t ProcessState::lostEvents(StringRef map) const {
  int index = findMap(map);
  if (index >= 0 && mapInfos[index].type == EIM_MAP_TYPE_RINGBUF)
    return loadAcquire(reinterpret_cast<const eim_ringbuf_header *>(
                           base + regions[index].offset)
                           ->dropped);
  if (index < 0 || mapInfos[index].type != EIM_MAP_TYPE_PERF_EVENT_ARRAY)
    return 0;
  const Region &r = regions[index];
  uint64_t stride = EIM_PERF_RING_HEADER + uint64_t(r.ringSize);
  uint64_t lost = 0;
  for (uint32_t ring = 0; ring < mapInfos[index].maxEntries; ++ring)
    lost += loadAcquire(
        reinterpret_cast<const eim_perf_ring *>(base + r.offset + ring * stride)
            ->lost);
  return lost;
}

StringRef ProcessState::isolation() const {
  switch (loadAcquire32(
      reinterpret_cast<const eim_state_header *>(base)->isolation)) {
  case EIM_ISOLATION_STATUS_ACTIVE:
    return "active";
  case EIM_ISOLATION_STATUS_UNAVAILABLE:
    return "unavailable";
  default:
    return "off";
  }
}

uint64_t ProcessState::skippedReturnProbes() const {
  return loadAcquire(
      reinterpret_cast<const eim_state_header *>(base)->uret_skipped);
}

std::vector<ProcessState::SiteCounters> ProcessState::siteCounters() const {
  auto *header = reinterpret_cast<const eim_state_header *>(base);
  uint64_t offset = header->sites_offset;
  uint64_t count = header->site_count;
  std::vector<SiteCounters> result;
  if (offset < EIM_STATE_DATA_OFFSET || offset > size ||
      count > (size - offset) / sizeof(eim_site_counters))
    return result;
  auto *sites = reinterpret_cast<const eim_site_counters *>(base + offset);
  for (uint64_t i = 0; i < count; ++i)
    result.push_back({loadAcquire(sites[i].hits),
                      loadAcquire(sites[i].recursion_misses)});
  return result;
}

bool ProcessState::isAlive() const {
  // /proc/<pid>/maps names the file with its inode: a match means this
  // very file is still mapped by a running process with that PID.
  ErrorOr<std::unique_ptr<MemoryBuffer>> maps =
      MemoryBuffer::getFileAsStream("/proc/" + Twine(pidValue) + "/maps");
  if (!maps)
    return processExists(pidValue) &&
           maps.getError() == std::errc::permission_denied;
  SmallVector<StringRef, 0> lines;
  (*maps)->getBuffer().split(lines, '\n');
  std::string ino = std::to_string(inode);
  for (StringRef line : lines) {
    SmallVector<StringRef, 6> fields;
    line.split(fields, ' ', 5, false);
    if (fields.size() == 6 && fields[4] == ino &&
        fields[5].trim().starts_with(path))
      return true;
  }
  return false;
}

} // namespace eimc::state
