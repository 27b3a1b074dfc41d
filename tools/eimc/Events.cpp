//===- tools/eimc/Events.cpp - eimc events --------------------------------===//
//
// Part of eimc. See docs/cli.md.
//
//===----------------------------------------------------------------------===//
//
// runEvents() follows the event maps (PERF_EVENT_ARRAY and RINGBUF) of a
// running rewritten process through its shared state (eimc/State/State.h)
// and prints each record: as hex bytes, or field by field when a BTF type
// is named (--btf FILE --type NAME). With --trace it follows the process's
// bpf_trace_printk lines instead, as the kernel's trace_pipe shows them.
// It stops after --count records, after --duration seconds, or when the
// process has exited and every published record has been read.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "eimc/BpfObject/BpfObject.h"
#include "eimc/State/State.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <optional>
#include <thread>

using namespace llvm;

namespace eimc::driver {

namespace {

// include/uapi/linux/bpf.h.
constexpr uint32_t PerfEventArray = 4;
constexpr uint32_t Ringbuf = 27;

bool processAlive(int pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

void printRaw(ArrayRef<uint8_t> record, FormatKind format, raw_ostream &os) {
  if (format == FormatKind::Json) {
    json::Array bytes;
    for (uint8_t b : record)
      bytes.push_back(b);
    os << json::Value(json::Object{{"size", record.size()},
                                   {"bytes", std::move(bytes)}});
    return;
  }
  ListSeparator sep(" ");
  for (uint8_t b : record)
    os << sep << format_hex_no_prefix(b, 2);
}

std::vector<std::string> eventMaps(const state::ProcessState &st,
                                   StringRef only) {
  std::vector<std::string> out;
  for (const state::MapInfo &m : st.maps())
    if ((m.type == PerfEventArray || m.type == Ringbuf) &&
        (only.empty() || m.name == only))
      out.push_back(m.name);
  return out;
}

// A follower started together with the process may arrive before the
// runtime has published its state: retry for a while as long as the
// process lives.
Expected<state::ProcessState> openWhenReady(int pid) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    Expected<state::ProcessState> st = state::ProcessState::open(pid);
    if (st || !processAlive(pid) ||
        std::chrono::steady_clock::now() >= deadline)
      return st;
    consumeError(st.takeError());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

/// One trace_pipe-style line: `comm-tid [slot] seconds: bpf_trace_printk:
/// text`, the text's own trailing newline (if any) not doubled.
void printTrace(const state::TraceLine &line, FormatKind format,
                raw_ostream &os) {
  StringRef text(line.text);
  if (format == FormatKind::Json) {
    os << json::Value(json::Object{{"ns", line.ns},
                                   {"tid", line.tid},
                                   {"slot", line.slot},
                                   {"comm", line.comm},
                                   {"text", text}})
       << "\n";
    return;
  }
  os << line.comm << "-" << line.tid
     << llvm::format(" [%03u] %llu.%06llu: ", line.slot,
                     (unsigned long long)(line.ns / 1000000000),
                     (unsigned long long)(line.ns / 1000 % 1000000))
     << "bpf_trace_printk: " << text;
  if (!text.ends_with("\n"))
    os << "\n";
}

using Clock = std::chrono::steady_clock;

/// The loop both modes share. \p drain prints at most `limit` items and
/// returns how many it printed. Liveness is read before draining, so what
/// the process published just before it exited is still printed. \returns
/// true when --count was reached, false when the process ended or the
/// deadline passed.
Expected<bool>
follow(const EventsOptions &options, Clock::time_point deadline,
       function_ref<Expected<uint64_t>(uint64_t limit)> drain) {
  uint64_t printed = 0;
  for (;;) {
    bool alive = processAlive(options.pid);
    uint64_t limit = options.count ? *options.count - printed : UINT64_MAX;
    Expected<uint64_t> n = drain(limit);
    if (!n)
      return n.takeError();
    printed += *n;
    if (options.count && printed >= *options.count)
      return true;
    if (!alive || Clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

/// `eimc events --trace PID`.
Expected<int> runTrace(state::ProcessState &st, const EventsOptions &options,
                       Clock::time_point deadline) {
  Expected<bool> counted =
      follow(options, deadline, [&](uint64_t limit) -> Expected<uint64_t> {
        Expected<std::vector<state::TraceLine>> lines = st.consumeTrace(limit);
        if (!lines)
          return lines.takeError();
        for (const state::TraceLine &line : *lines) {
          printTrace(line, options.format, outs());
          outs().flush();
        }
        return lines->size();
      });
  if (!counted)
    return counted.takeError();
  if (!*counted)
    if (uint64_t lost = st.lostTraceLines())
      errs() << "warning: " << lost
             << " trace lines were dropped (ring full)\n";
  return ExitSuccess;
}

} // namespace

Expected<int> runEvents(const EventsOptions &options) {
  std::optional<bpfobject::BtfRecordFormatter> formatter;
  if (!options.btfFile.empty()) {
    Expected<std::vector<uint8_t>> bytes = readFileBytes(options.btfFile);
    if (!bytes)
      return bytes.takeError();
    Expected<bpfobject::BtfRecordFormatter> f =
        bpfobject::BtfRecordFormatter::create(*bytes, options.typeName);
    if (!f)
      return createFileError(options.btfFile, f.takeError());
    formatter.emplace(std::move(*f));
  }
  Expected<state::ProcessState> st = openWhenReady(options.pid);
  if (!st)
    return st.takeError();
  Clock::time_point deadline = Clock::time_point::max();
  if (options.duration)
    deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(*options.duration));
  if (options.trace)
    return runTrace(*st, options, deadline);
  std::vector<std::string> maps = eventMaps(*st, options.map);
  if (maps.empty())
    return createStringError(std::errc::invalid_argument,
                             "process %d has no event map%s%s", options.pid,
                             options.map.empty() ? "" : " named ",
                             options.map.c_str());

  Expected<bool> counted =
      follow(options, deadline, [&](uint64_t limit) -> Expected<uint64_t> {
        uint64_t n = 0;
        for (const std::string &map : maps) {
          Expected<std::vector<std::vector<uint8_t>>> records =
              st->consumeEvents(map, limit - n);
          if (!records)
            return records.takeError();
          for (const std::vector<uint8_t> &rec : *records) {
            if (!formatter)
              printRaw(rec, options.format, outs());
            else if (options.format == FormatKind::Json)
              formatter->printJson(rec, outs());
            else
              formatter->printText(rec, outs());
            outs() << "\n";
            outs().flush();
          }
          n += records->size();
          if (n >= limit)
            break;
        }
        return n;
      });
  if (!counted)
    return counted.takeError();
  if (*counted)
    return ExitSuccess;
  for (const std::string &map : maps)
    if (uint64_t lost = st->lostEvents(map))
      errs() << "warning: map '" << map << "': " << lost
             << " records were dropped (ring full)\n";
  return ExitSuccess;
}

} // namespace eimc::driver

namespace eimc::driver {

Subcommand addEventsCommand(CLI::App &app) {
  auto options = std::make_shared<EventsOptions>();
  auto count = std::make_shared<uint64_t>(0);
  auto duration = std::make_shared<double>(0);
  CLI::App *cmd = app.add_subcommand(
      "events", "Print event records of a running rewritten process");
  cmd->add_option("pid", options->pid, "Process id")->required();
  CLI::Option *btf =
      cmd->add_option("--btf", options->btfFile, "ELF file with .BTF");
  cmd->add_option("--type", options->typeName, "BTF type of a record")
      ->needs(btf);
  btf->needs(cmd->get_option("--type"));
  CLI::Option *mapOpt = cmd->add_option("--map", options->map, "Only this map");
  cmd->add_flag("--trace", options->trace,
                "Print the process's bpf_trace_printk lines instead")
      ->excludes(mapOpt)
      ->excludes(btf);
  CLI::Option *countOpt =
      cmd->add_option("--count", *count, "Stop after N records");
  cmd->add_option("--duration", *duration, "Stop after S seconds")
      ->excludes(countOpt);
  addFormatOption(cmd, options->format);
  return {cmd, [=] {
            if (cmd->count("--count"))
              options->count = *count;
            if (cmd->count("--duration"))
              options->duration = *duration;
            return runEvents(*options);
          }};
}

} // namespace eimc::driver
