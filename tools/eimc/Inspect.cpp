//===- tools/eimc/Inspect.cpp - eimc inspect ------------------------------===//
//
// Part of eimc. See docs/cli.md.
//
//===----------------------------------------------------------------------===//
//
// `eimc inspect OUT|PID [--format=text|json]` prints what eimc put into a
// rewritten binary: its `.eimc.manifest` section (eimc version, inputs'
// SHA-256, policy hash, and the rewriter's image layout and patch sites
// with symbol, addresses, stolen bytes, trampoline and programs). For a
// PID the binary is the process's /proc/PID/exe, and the PID is printed
// first. Text is the manifest's YAML as stored; JSON converts the same
// YAML tree (scalars stay strings), so both forms show the same facts.
//
// For a PID it then adds the live counters from the process's shared
// state: per patch site the hits (entry trampoline reached) and recursion
// misses (runs skipped because the thread was already in an extension),
// their total and `uret-skipped`. Sites are matched to the manifest's
// `patch-sites` by position: both are in address order.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "eimc/Core/Errors.h"
#include "eimc/State/State.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Object/ELF.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/YAMLParser.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

using namespace llvm;
using namespace llvm::object;

namespace eimc::driver {

namespace {

struct InspectOptions {
  std::string target; ///< an output file, or a PID
  FormatKind format = FormatKind::Text;
};

Expected<std::string> readManifest(StringRef path) {
  Expected<std::vector<uint8_t>> bytes = readFileBytes(path);
  if (!bytes)
    return bytes.takeError();
  Expected<ELFFile<ELF64LE>> elf = ELFFile<ELF64LE>::create(toStringRef(*bytes));
  if (!elf)
    return makeMalformed(path + ": " + toString(elf.takeError()));
  Expected<ELF64LE::ShdrRange> sections = elf->sections();
  if (!sections)
    return makeMalformed(path + ": " + toString(sections.takeError()));
  for (const ELF64LE::Shdr &sec : *sections) {
    Expected<StringRef> name = elf->getSectionName(sec);
    if (!name)
      return makeMalformed(path + ": " + toString(name.takeError()));
    if (*name != ".eimc.manifest")
      continue;
    Expected<ArrayRef<uint8_t>> data = elf->getSectionContents(sec);
    if (!data)
      return makeMalformed(path + ": " + toString(data.takeError()));
    return toStringRef(*data).str();
  }
  return makeMalformed(path + ": not written by eimc (no .eimc.manifest)");
}

/// The YAML tree as JSON; every scalar becomes a string.
json::Value toJson(yaml::Node *node) {
  if (auto *map = dyn_cast_or_null<yaml::MappingNode>(node)) {
    json::Object object;
    for (yaml::KeyValueNode &kv : *map) {
      SmallString<32> storage;
      auto *key = dyn_cast_or_null<yaml::ScalarNode>(kv.getKey());
      if (key)
        object[key->getValue(storage).str()] = toJson(kv.getValue());
    }
    return object;
  }
  if (auto *seq = dyn_cast_or_null<yaml::SequenceNode>(node)) {
    json::Array array;
    for (yaml::Node &item : *seq)
      array.push_back(toJson(&item));
    return array;
  }
  if (auto *scalar = dyn_cast_or_null<yaml::ScalarNode>(node)) {
    SmallString<32> storage;
    return scalar->getValue(storage).str();
  }
  return nullptr;
}

/// The `symbol` of each entry of the manifest's `patch-sites`, in order.
std::vector<std::string> siteSymbols(const json::Value &manifest) {
  std::vector<std::string> symbols;
  const json::Object *root = manifest.getAsObject();
  const json::Array *sites = root ? root->getArray("patch-sites") : nullptr;
  if (!sites)
    return symbols;
  for (const json::Value &site : *sites) {
    const json::Object *fields = site.getAsObject();
    std::optional<StringRef> name =
        fields ? fields->getString("symbol") : std::nullopt;
    symbols.push_back(name ? name->str() : "?");
  }
  return symbols;
}

/// Live counters of process \p pid as a JSON object; \p symbols names the
/// sites (a site past the manifest's list is named by its slot).
Expected<json::Object> readCounters(int pid,
                                    ArrayRef<std::string> symbols) {
  Expected<state::ProcessState> process = state::ProcessState::open(pid);
  if (!process)
    return process.takeError();
  json::Array sites;
  uint64_t misses = 0;
  std::vector<state::ProcessState::SiteCounters> counters =
      process->siteCounters();
  for (size_t slot = 0; slot < counters.size(); ++slot) {
    std::string name =
        slot < symbols.size() ? symbols[slot] : "slot " + std::to_string(slot);
    misses += counters[slot].recursionMisses;
    sites.push_back(json::Object{
        {"symbol", name},
        {"hits", int64_t(counters[slot].hits)},
        {"recursion-misses", int64_t(counters[slot].recursionMisses)}});
  }
  return json::Object{{"isolation", process->isolation().str()},
                      {"recursion-misses", int64_t(misses)},
                      {"uret-skipped", int64_t(process->skippedReturnProbes())},
                      {"sites", std::move(sites)}};
}

/// The counters in the manifest's YAML style, for the text format.
void printCounters(raw_ostream &os, const json::Object &counters) {
  os << "isolation: " << *counters.getString("isolation")
     << "\ncounters:\n  recursion-misses: "
     << *counters.getInteger("recursion-misses")
     << "\n  uret-skipped: " << *counters.getInteger("uret-skipped")
     << "\n  sites:\n";
  for (const json::Value &site : *counters.getArray("sites")) {
    const json::Object &fields = *site.getAsObject();
    os << "    - symbol: " << *fields.getString("symbol")
       << "\n      hits: " << *fields.getInteger("hits")
       << "\n      recursion-misses: "
       << *fields.getInteger("recursion-misses") << "\n";
  }
}

Expected<int> runInspect(const InspectOptions &options) {
  std::string path = options.target;
  std::optional<int> pid;
  int value = 0;
  if (to_integer(options.target, value, 10) && value > 0) {
    pid = value;
    path = "/proc/" + options.target + "/exe";
  }
  Expected<std::string> manifest = readManifest(path);
  if (!manifest)
    return manifest.takeError();
  SourceMgr sm;
  yaml::Stream stream(*manifest, sm);
  yaml::document_iterator doc = stream.begin();
  if (doc == stream.end() || stream.failed())
    return makeMalformed(path + ": malformed .eimc.manifest");
  json::Value tree = toJson(doc->getRoot());
  if (stream.failed())
    return makeMalformed(path + ": malformed .eimc.manifest");
  std::optional<json::Object> counters;
  if (pid) {
    Expected<json::Object> live = readCounters(*pid, siteSymbols(tree));
    if (!live)
      return live.takeError();
    counters = std::move(*live);
  }
  if (options.format != FormatKind::Json) {
    if (pid)
      outs() << "pid: " << *pid << "\n";
    outs() << *manifest;
    if (counters)
      printCounters(outs(), *counters);
    return ExitSuccess;
  }
  if (json::Object *object = tree.getAsObject()) {
    if (pid)
      (*object)["pid"] = *pid;
    if (counters) {
      // A property of the process, not a counter: beside "pid".
      (*object)["isolation"] = counters->getString("isolation")->str();
      counters->erase("isolation");
      (*object)["counters"] = std::move(*counters);
    }
  }
  outs() << formatv("{0}", tree) << "\n";
  return ExitSuccess;
}

} // namespace

Subcommand addInspectCommand(CLI::App &app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App *cmd = app.add_subcommand(
      "inspect", "Show what eimc put into a rewritten binary or process");
  cmd->add_option("target", options->target, "Rewritten binary, or a PID")
      ->required();
  addFormatOption(cmd, options->format);
  return {cmd, [options] { return runInspect(*options); }};
}

} // namespace eimc::driver
