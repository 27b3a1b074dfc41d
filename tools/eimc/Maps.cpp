//===- tools/eimc/Maps.cpp - eimc maps list and eimc maps dump ------------===//
//
// Part of eimc. See docs/cli.md.
//
//===----------------------------------------------------------------------===//
//
// `eimc maps list PID` names the maps of a running rewritten process;
// `eimc maps dump PID [MAP]` prints the elements of its ARRAY and HASH maps
// (one map, or all of them) while it runs, as `bpftool map dump` does for
// the kernel. Keys and values print by BTF field name from the BTF the
// process recorded for each map (its object's .BTF, with global-data
// DATASECs fixed up as libbpf does), so `funclate.bss` prints as
// `hist=[...]`; a map without BTF prints its bytes in hex.
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

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

#include <cstring>

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
  default:
    return "unknown";
  }
}

bool isDumpable(const state::MapInfo &m) { return m.type == 1 || m.type == 2; }

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
  bool isArray = m.type == 2;
  auto printKey = [&](const state::MapEntry &e, bool json) {
    uint32_t index = 0;
    if (isArray) {
      std::memcpy(&index, e.key.data(), 4);
      os << (json ? "" : "[") << index << (json ? "" : "]");
      return;
    }
    json ? keys.json(e.key, os) : keys.text(e.key, os);
  };
  if (format != FormatKind::Json) {
    for (const state::MapEntry &e : *entries) {
      printKey(e, false);
      os << ": ";
      values.text(e.value, os);
      os << "\n";
    }
    return Error::success();
  }
  os << "{\"map\":" << json::Value(m.name) << ",\"entries\":[";
  for (size_t i = 0; i < entries->size(); ++i) {
    os << (i ? "," : "") << "{\"key\":";
    printKey((*entries)[i], true);
    os << ",\"value\":";
    values.json((*entries)[i].value, os);
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
