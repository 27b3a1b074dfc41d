//===- eimc/State/State.h - Reading a rewritten process's state -*- C++ -*-===//
//
// Part of eimc. See docs/design.md, "Runtime".
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The reader side of the shared state that runtime-lib creates in every
/// rewritten process (/dev/shm/eimc-<euid>/<pid>.state; layout and
/// lifetime in runtime-lib/include/eim_state.h). `eimc events` follows event
/// maps and the trace ring with it; `eimc maps` lists and dumps maps.
///
/// The process may write the file at any time and may be buggy or hostile,
/// so nothing read from it is trusted: the map table is validated once at
/// open(), ring positions and record headers on every read, and a
/// violation is an error, never an out-of-bounds access.
///
/// One reader per process at a time: consuming advances the ring's
/// consumer position in the shared file (as perf's data_tail does), so two
/// readers would split the records between them.
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_STATE_STATE_H
#define EIMC_STATE_STATE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace eimc::state {

/// One map of a process, as its runtime recorded it.
struct MapInfo {
  std::string name;
  uint32_t type = 0;       ///< enum bpf_map_type (4 = PERF_EVENT_ARRAY)
  uint32_t keySize = 0;    ///< bytes
  uint32_t valueSize = 0;  ///< bytes
  uint32_t maxEntries = 0; ///< PERF_EVENT_ARRAY: number of rings
  uint32_t flags = 0;      ///< map_flags
  uint32_t btfKeyTypeId = 0;   ///< in mapBtf(), 0 if none
  uint32_t btfValueTypeId = 0; ///< in mapBtf(), 0 if none
  /// PERCPU_ARRAY and PERCPU_HASH: values per element, one per thread slot
  /// (runtime-lib/src/slots.c); 0 for other maps.
  uint32_t slots = 0;
};

/// One bpf_trace_printk line of a process.
struct TraceLine {
  uint64_t ns = 0;   ///< CLOCK_MONOTONIC when it was written
  uint32_t tid = 0;  ///< the writing thread
  uint32_t slot = 0; ///< its thread slot (bpf_get_smp_processor_id)
  std::string comm;  ///< the thread's name
  std::string text;  ///< the formatted text, as the program made it
};

/// One element of a map, copied out of the shared state.
struct MapEntry {
  std::vector<uint8_t> key;
  /// The value; of a PERCPU map, MapInfo::slots values, each padded to 8
  /// bytes, slot 0 first (the kernel's layout for user-space lookups).
  std::vector<uint8_t> value;
};

/// \returns the directory where processes of user \p uid keep their state.
std::string stateDirectory(unsigned uid);

/// \returns where the runtime of process \p pid keeps its state: in the
/// directory of the process's effective user (the owner of /proc/<pid>),
/// or of our own when the process does not exist.
std::string statePath(int pid);

/// What collectGarbage() did.
struct GcResult {
  unsigned removed = 0;   ///< state files of exited processes removed
  uint64_t bytes = 0;     ///< tmpfs bytes they held (allocated blocks)
  unsigned live = 0;      ///< files kept: their process still runs
  unsigned legacy = 0;    ///< of `removed`: flat /dev/shm/eimc-<pid>.state
                          ///< files of eimc versions before the per-user
                          ///< directory
};

/// Removes our user's state files whose process is gone: in
/// stateDirectory(geteuid()), those whose flock nobody holds (the runtime
/// holds it while it maps the file); among legacy flat files we own, those
/// whose PID no longer maps them. Unlike the runtime's start-up sweep, no
/// grace period: the caller asked for it.
llvm::Expected<GcResult> collectGarbage();

/// A process's shared state, mapped read-write (consuming writes the
/// consumer positions). Move-only; unmaps on destruction.
class ProcessState {
public:
  /// Opens and validates the shared state of process \p pid.
  /// Fails (never blocks) when: there is no such process; the process has
  /// no state file (not built by eimc, or its runtime has not started
  /// yet); the file is not an eimc state file; it has another layout
  /// version ("written by eimc X, layout N; this eimc reads layout M");
  /// the runtime has not published it yet; the map table is malformed.
  static llvm::Expected<ProcessState> open(int pid);
  /// Opens and validates the state file at \p path as if it were \p pid's
  /// (for inspecting a copy; the same checks as open()).
  static llvm::Expected<ProcessState> openFile(const std::string &path,
                                               int pid);

  ProcessState(ProcessState &&other) noexcept;
  ProcessState &operator=(ProcessState &&other) noexcept;
  ProcessState(const ProcessState &) = delete;
  ProcessState &operator=(const ProcessState &) = delete;
  ~ProcessState();

  int pid() const { return pidValue; }
  /// The eimc version that built the process.
  llvm::StringRef eimcVersion() const { return version; }
  /// Maps in the order the runtime initialized them.
  const std::vector<MapInfo> &maps() const { return mapInfos; }

  /// Consumes the published records of PERF_EVENT_ARRAY map \p map from
  /// all its rings, ring 0 first, each ring in publication order, or of
  /// RINGBUF map \p map in reservation order (discarded records skipped).
  /// Stops in a ring at a record that is reserved but not yet published
  /// (the next call resumes there). \returns the records' payloads (possibly
  /// none); an error if there is no such map, it is not a PERF_EVENT_ARRAY or a
  /// RINGBUF, or a ring is corrupt. At most \p limit records are consumed: the
  /// rest stay in their rings for the next call (a reader that stops after N
  /// records must not destroy record N+1).
  llvm::Expected<std::vector<std::vector<uint8_t>>>
  consumeEvents(llvm::StringRef map, uint64_t limit = UINT64_MAX);

  /// \returns how many records of map \p map were dropped because a ring
  /// was full (0 for unknown or non-event maps).
  uint64_t lostEvents(llvm::StringRef map) const;

  /// Consumes at most \p limit bpf_trace_printk lines, oldest first (the
  /// process's trace ring; same protocol as a perf ring).
  llvm::Expected<std::vector<TraceLine>>
  consumeTrace(uint64_t limit = UINT64_MAX);
  /// \returns how many trace lines were dropped because the ring was full.
  uint64_t lostTraceLines() const;

  /// \returns how many return probes were skipped because a thread's
  /// shadow stack or the runtime's thread table was full.
  uint64_t skippedReturnProbes() const;

  /// \returns "active" (extension state behind a protection key),
  /// "unavailable" (`isolation: prefer` without MPK) or "off" (not
  /// requested, or a file of an eimc before isolation).
  llvm::StringRef isolation() const;

  /// Counters of one patch site (slots in address order, as the output's
  /// `.eimc.manifest` lists `patch-sites`).
  struct SiteCounters {
    uint64_t hits = 0;            ///< entry trampoline reached
    uint64_t recursionMisses = 0; ///< runs skipped: already in an extension
  };
  /// \returns every site's counters; empty when the recorded counter
  /// table does not lie inside the file (never an out-of-bounds read).
  std::vector<SiteCounters> siteCounters() const;

  /// Copies the elements of ARRAY or HASH map \p map (MapReading.cpp):
  /// every index of an ARRAY, the live elements of a HASH in bucket order.
  /// The process may write while this reads: each element is a snapshot
  /// of its own (a HASH key being rewritten is skipped), not of the map.
  /// \returns an error for an unknown map, another type, or a layout that
  /// does not fit the map's data region.
  llvm::Expected<std::vector<MapEntry>> readMap(llvm::StringRef map) const;

  /// \returns the .BTF bytes the process recorded for map \p map (empty
  /// if none), which MapInfo's BTF type ids refer to.
  llvm::Expected<std::vector<uint8_t>> mapBtf(llvm::StringRef map) const;

  /// \returns true while process pid() still has this state mapped, i.e.
  /// it is running (a reused PID or an exec into another image: false).
  bool isAlive() const;

private:
  /// A validated map table entry plus where its data lies in the file.
  struct Region {
    uint64_t offset;
    uint64_t size;
    uint32_t ringSize; ///< PERF_EVENT_ARRAY: data bytes per ring
    uint64_t btfOffset; ///< of the map's BTF copy, 0 if none
    uint32_t btfSize;
  };

  ProcessState() = default;
  llvm::Error validate();
  llvm::Error validateMap(unsigned index);
  int findMap(llvm::StringRef map) const;
  llvm::Error consumeRing(uint64_t ringOffset, uint32_t ringSize,
                          const llvm::Twine &what, uint64_t limit,
                          std::vector<std::vector<uint8_t>> &out);
  llvm::Error consumeRingbuf(unsigned mapIndex, uint64_t limit,
                             std::vector<std::vector<uint8_t>> &out);
  void unmap();

  int pidValue = 0;
  std::string path;
  std::string version;
  uint8_t *base = nullptr; ///< the whole file, mapped MAP_SHARED
  uint64_t size = 0;       ///< bytes mapped
  uint64_t inode = 0;      ///< to tell this file from a successor's
  std::vector<MapInfo> mapInfos;
  std::vector<Region> regions; ///< parallel to mapInfos
  uint64_t traceOffset = 0;    ///< of the trace ring, 0 if none
  uint32_t traceRingSize = 0;
};

} // namespace eimc::state

#endif // EIMC_STATE_STATE_H
