//===- tools/eimc/Maps.cpp - eimc maps list and eimc maps dump ------------===//
//
// Part of eimc. See docs/cli.md.
//
//===----------------------------------------------------------------------===//
//
// `eimc maps list PID` names the maps of a running rewritten process;
// `eimc maps dump PID [MAP]` prints the elements of its ARRAY and HASH maps
// and their PERCPU forms (one map, or all of them) while it runs, as
// `bpftool map dump` does for the kernel; a PERCPU element prints each
// used thread slot's value and, for integer values, their sum. Keys and values
// print by BTF field name from the BTF the process recorded for each map (its
// object's .BTF, with global-data DATASECs fixed up as libbpf does), so
// `funclate.bss` prints as `hist=[...]`; a map without BTF prints its bytes in
// hex.
//
// Reading never stops or slows the process: elements are copied from the
// shared state (eimc::state::ProcessState::readMap).
//
// `eimc maps gc` removes the state files of our user's exited processes
// (eimc::state::collectGarbage; runtime-lib/src/state_dir.c has the
// lifetime rules).
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "eimc/BpfObject/BpfObject.h"
#include "eimc/Core/Errors.h"
#include "eimc/State/State.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

#include <cstring>
#include <optional>

using namespace llvm;

namespace eimc::driver {

namespace {

struct MapsOptions {
  int pid = 0;
  std::string map; ///< dump: empty means every ARRAY and HASH map
  FormatKind format = FormatKind::Text;
};

StringRef typeName(uint32_t type) {
  switch (type) {
  case 1:
    return "hash";
  case 2:
    return "array";
  case 4:
    return "perf_event_array";
  case 5:
    return "percpu_hash";
  case 6:
    return "percpu_array";
  case 27:
    return "ringbuf";
  default:
    return "unknown";
  }
}

bool isDumpable(const state::MapInfo &m) {
  return m.type == 1 || m.type == 2 || m.type == 5 || m.type == 6;
}

/// One slot's value of a PERCPU element.
struct SlotValue {
  uint32_t slot;
  ArrayRef<uint8_t> bytes;
};

/// The slots of a PERCPU element whose value is not all zero (a slot no
/// thread used holds zeros), and their sum when the value is an unsigned
/// integer of 1, 2, 4 or 8 bytes (counters, as bpftool users add them up).
std::vector<SlotValue> usedSlots(const state::MapInfo &m,
                                 ArrayRef<uint8_t> value,
                                 std::optional<uint64_t> &sum) {
  std::vector<SlotValue> out;
  uint64_t stride = alignTo(m.valueSize, 8);
  bool integer = m.valueSize == 1 || m.valueSize == 2 || m.valueSize == 4 ||
                 m.valueSize == 8;
  sum = integer ? std::optional<uint64_t>(0) : std::nullopt;
  for (uint32_t slot = 0; slot < m.slots && (slot + 1) * stride <= value.size();
       ++slot) {
    ArrayRef<uint8_t> v = value.slice(slot * stride, m.valueSize);
    if (llvm::all_of(v, [](uint8_t b) { return b == 0; }))
      continue;
    out.push_back({slot, v});
    if (integer) {
      uint64_t n = 0;
      std::memcpy(&n, v.data(), v.size());
      *sum += n;
    }
  }
  return out;
}

/// Prints keys or values of one BTF type, or hex bytes without BTF.
class Printer {
public:
  static Printer create(ArrayRef<uint8_t> btf, uint32_t typeId) {
    if (btf.empty() || typeId == 0)
      return Printer(std::nullopt);
    Expected<bpfobject::BtfRecordFormatter> f =
        bpfobject::BtfRecordFormatter::createFromBtf(btf, typeId);
    if (!f) {
      consumeError(f.takeError()); // fall back to bytes
      return Printer(std::nullopt);
    }
    return Printer(std::move(*f));
  }
  void text(ArrayRef<uint8_t> bytes, raw_ostream &os) const {
    if (formatter)
      return formatter->printText(bytes, os);
    os << "0x" << toHex(bytes, /*LowerCase=*/true);
  }
  void json(ArrayRef<uint8_t> bytes, raw_ostream &os) const {
    if (formatter)
      return formatter->printJson(bytes, os);
    os << json::Value("0x" + toHex(bytes, /*LowerCase=*/true));
  }

private:
  explicit Printer(std::optional<bpfobject::BtfRecordFormatter> f)
      : formatter(std::move(f)) {}
  std::optional<bpfobject::BtfRecordFormatter> formatter;
};

Expected<int> runList(const MapsOptions &options) {
  Expected<state::ProcessState> st = state::ProcessState::open(options.pid);
  if (!st)
    return st.takeError();
  if (options.format == FormatKind::Json) {
    json::Array maps;
    for (const state::MapInfo &m : st->maps())
      maps.push_back(json::Object{{"name", m.name},
                                  {"type", typeName(m.type)},
                                  {"key_size", m.keySize},
                                  {"value_size", m.valueSize},
                                  {"max_entries", m.maxEntries},
                                  {"flags", m.flags}});
    outs() << json::Value(std::move(maps)) << "\n";
    return ExitSuccess;
  }
  for (const state::MapInfo &m : st->maps())
    outs() << m.name << ": " << typeName(m.type) << " key " << m.keySize
           << "B value " << m.valueSize << "B max_entries " << m.maxEntries
           << "\n";
  return ExitSuccess;
}

/// Prints one map's elements: text `KEY: VALUE` lines (an ARRAY's key is
/// its index), or one JSON object.
Error dumpMap(const state::ProcessState &st, const state::MapInfo &m,
              FormatKind format, raw_ostream &os) {
  Expected<std::vector<state::MapEntry>> entries = st.readMap(m.name);
  if (!entries)
    return entries.takeError();
  Expected<std::vector<uint8_t>> btf = st.mapBtf(m.name);
  if (!btf)
    return btf.takeError();
  Printer keys = Printer::create(*btf, m.btfKeyTypeId);
  Printer values = Printer::create(*btf, m.btfValueTypeId);
  bool isArray = m.type == 2 || m.type == 6;
  auto printKey = [&](const state::MapEntry &e, bool json) {
    uint32_t index = 0;
    if (isArray) {
      std::memcpy(&index, e.key.data(), 4);
      os << (json ? "" : "[") << index << (json ? "" : "]");
      return;
    }
    json ? keys.json(e.key, os) : keys.text(e.key, os);
  };
  // A PERCPU element: the sum (when the value is an integer), then each
  // used slot's value on its own line.
  auto printSlots = [&](const state::MapEntry &e, bool json) {
    std::optional<uint64_t> sum;
    std::vector<SlotValue> slots = usedSlots(m, e.value, sum);
    if (!json) {
      if (sum)
        os << "sum " << *sum;
      else
        os << slots.size() << " slots";
      os << "\n";
      for (const SlotValue &s : slots) {
        os << "  slot " << s.slot << ": ";
        values.text(s.bytes, os);
        os << "\n";
      }
      return;
    }
    os << ",\"values\":[";
    for (size_t i = 0; i < slots.size(); ++i) {
      os << (i ? "," : "") << "{\"slot\":" << slots[i].slot << ",\"value\":";
      values.json(slots[i].bytes, os);
      os << "}";
    }
    os << "]";
    if (sum)
      os << ",\"sum\":" << *sum;
  };
  if (format != FormatKind::Json) {
    for (const state::MapEntry &e : *entries) {
      printKey(e, false);
      os << ": ";
      if (m.slots) {
        printSlots(e, false);
        continue;
      }
      values.text(e.value, os);
      os << "\n";
    }
    return Error::success();
  }
  os << "{\"map\":" << json::Value(m.name) << ",\"entries\":[";
  for (size_t i = 0; i < entries->size(); ++i) {
    os << (i ? "," : "") << "{\"key\":";
    printKey((*entries)[i], true);
    if (m.slots) {
      printSlots((*entries)[i], true);
    } else {
      os << ",\"value\":";
      values.json((*entries)[i].value, os);
    }
    os << "}";
  }
  os << "]}";
  return Error::success();
}

Expected<int> runDump(const MapsOptions &options) {
  Expected<state::ProcessState> st = state::ProcessState::open(options.pid);
  if (!st)
    return st.takeError();
  std::vector<const state::MapInfo *> chosen;
  for (const state::MapInfo &m : st->maps())
    if (options.map.empty() ? isDumpable(m) : m.name == options.map)
      chosen.push_back(&m);
  // A bare global-data section name (`.bss`) names the one map of that
  // section (`funclate.bss`), as libbpf's skeletons call it.
  if (chosen.empty() && StringRef(options.map).starts_with("."))
    for (const state::MapInfo &m : st->maps())
      if (StringRef(m.name).ends_with(options.map))
        chosen.push_back(&m);
  if (chosen.size() > 1 && !options.map.empty())
    return makeRefusal("map name '" + options.map + "' is ambiguous in process " +
                       Twine(options.pid) + ": give the full name");
  if (!options.map.empty() && chosen.empty()) {
    std::string known;
    for (const state::MapInfo &m : st->maps())
      known += (known.empty() ? "" : ", ") + m.name;
    return makeRefusal("process " + Twine(options.pid) + " has no map '" +
                           options.map + "'",
                       {"maps: " + known});
  }
  bool json = options.format == FormatKind::Json;
  bool several = options.map.empty();
  if (json && several)
    outs() << "[";
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (several && !json)
      outs() << "map " << chosen[i]->name << "\n";
    if (json && i)
      outs() << ",";
    if (Error e = dumpMap(*st, *chosen[i], options.format, outs()))
      return std::move(e);
  }
  if (json)
    outs() << (several ? "]\n" : "\n");
  return ExitSuccess;
}

Expected<int> runGc() {
  Expected<state::GcResult> r = state::collectGarbage();
  if (!r)
    return r.takeError();
  outs() << "removed " << r->removed << " state files (" << r->bytes
         << " bytes; " << r->legacy << " legacy), kept " << r->live
         << " of running processes\n";
  return ExitSuccess;
}

} // namespace

Subcommand addMapsCommand(CLI::App &app) {
  auto listOptions = std::make_shared<MapsOptions>();
  auto dumpOptions = std::make_shared<MapsOptions>();
  CLI::App *cmd =
      app.add_subcommand("maps", "Read the maps of a running rewritten process");
  cmd->require_subcommand(1);
  CLI::App *list = cmd->add_subcommand("list", "Name the process's maps");
  list->add_option("pid", listOptions->pid, "Process id")->required();
  addFormatOption(list, listOptions->format);
  CLI::App *dump =
      cmd->add_subcommand("dump", "Print elements by BTF field name");
  dump->add_option("pid", dumpOptions->pid, "Process id")->required();
  dump->add_option("map", dumpOptions->map,
                   "Map name (default: every ARRAY and HASH map)");
  addFormatOption(dump, dumpOptions->format);
  CLI::App *gc = cmd->add_subcommand(
      "gc", "Remove the shared state of your exited processes");
  return {cmd, [listOptions, dumpOptions, list, gc]() -> Expected<int> {
            if (list->parsed())
              return runList(*listOptions);
            if (gc->parsed())
              return runGc();
            return runDump(*dumpOptions);
          }};
}

} // namespace eimc::driver
