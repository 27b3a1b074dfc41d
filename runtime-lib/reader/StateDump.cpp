//===- runtime-lib/reader/StateDump.cpp - eimc-state-dump -----------------===//
//
// Part of eimc. See eimc/State/State.h.
//
//===----------------------------------------------------------------------===//
//
// eimc-state-dump PID: prints what eimcState reads from a process's shared
// state (version, map table, counters) and consumes every event map,
// printing each record as hex (records over 32 bytes: their first 16
// bytes and a position-weighted byte sum, to check wrapped records). It
// exists to test runtime-lib and the
// reader without the rest of the pipeline (tests/lit/runtime); users run
// `eimc events` / `eimc maps` instead. It never waits: one pass, then exit.
//
//===----------------------------------------------------------------------===//

#include "eimc/State/State.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <thread>

using namespace llvm;

namespace {

// PERF_EVENT_ARRAY in include/uapi/linux/bpf.h.
constexpr uint32_t PerfEventArray = 4;

struct DumpOptions {
  int pid = 0;
  bool consume = true;
  /// Print only totals per map (for tests that send thousands of records).
  bool summary = false;
  /// Read this file (a copy) as PID's state instead of PID's own.
  std::string file;
  /// Poll every 10 ms until this many records were read (at most 20 s).
  uint64_t waitCount = 0;
};

void printRecord(ArrayRef<uint8_t> record, raw_ostream &os) {
  os << "record " << record.size() << ":";
  for (uint8_t b : record.take_front(record.size() > 32 ? 16 : 32))
    os << " " << format_hex_no_prefix(b, 2);
  if (record.size() > 32) {
    uint64_t sum = 0;
    for (size_t i = 0; i < record.size(); ++i)
      sum += (i + 1) * record[i];
    os << " ... sum " << sum;
  }
  os << "\n";
}

/// Consumes map \p name, polling while fewer than \p waitCount records
/// arrived, and prints the records or their totals.
Error dumpEvents(eimc::state::ProcessState &st, StringRef name,
                 const DumpOptions &options, raw_ostream &os) {
  uint64_t count = 0, bytes = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    Expected<std::vector<std::vector<uint8_t>>> records =
        st.consumeEvents(name);
    if (!records)
      return records.takeError();
    for (const std::vector<uint8_t> &rec : *records) {
      ++count;
      bytes += rec.size();
      if (!options.summary)
        printRecord(rec, os);
    }
    if (count >= options.waitCount ||
        std::chrono::steady_clock::now() >= deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (options.summary)
    os << "records " << count << " bytes " << bytes << "\n";
  os << "lost " << st.lostEvents(name) << "\n";
  return Error::success();
}

Error dump(const DumpOptions &options, raw_ostream &os) {
  Expected<eimc::state::ProcessState> st =
      options.file.empty()
          ? eimc::state::ProcessState::open(options.pid)
          : eimc::state::ProcessState::openFile(options.file, options.pid);
  if (!st)
    return st.takeError();
  os << "pid " << st->pid() << " eimc " << st->eimcVersion() << "\n";
  os << "alive " << (st->isAlive() ? "yes" : "no") << "\n";
  os << "uret-skipped " << st->skippedReturnProbes() << "\n";
  for (const eimc::state::MapInfo &m : st->maps()) {
    os << "map " << m.name << " type " << m.type << " key " << m.keySize
       << " value " << m.valueSize << " entries " << m.maxEntries << "\n";
    if (m.type != PerfEventArray || !options.consume)
      continue;
    if (Error e = dumpEvents(*st, m.name, options, os))
      return e;
  }
  return Error::success();
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  CLI::App app{"Dump the shared state of a process rewritten by eimc"};
  DumpOptions options;
  app.add_option("pid", options.pid, "Process id")->required();
  app.add_flag("--consume,!--no-consume", options.consume,
               "Consume and print event records (default: on)");
  app.add_option("--file", options.file,
                 "Read this state file (e.g. a copy) as PID's");
  app.add_flag("--summary", options.summary,
               "Print record totals instead of records");
  app.add_option("--wait-count", options.waitCount,
                 "Poll until this many records of a map were read");
  CLI11_PARSE(app, argc, argv);
  if (Error e = dump(options, outs())) {
    outs().flush();
    errs() << "error: " << toString(std::move(e)) << "\n";
    return 2;
  }
  return 0;
}
