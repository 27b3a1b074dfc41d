//===- tools/eimc-readobj/eimc-readobj.cpp - Print an eBPF object ---------===//
//
// Part of eimc. See eimc/BpfObject/BpfObject.h.
//
//===----------------------------------------------------------------------===//
//
// Runs only the object reader and prints the ExtensionSpec as text: the
// programs with maps resolved, CO-RE applied and subprograms appended. With
// --btf-type it instead prints one record (hex bytes from --record) through
// BtfRecordFormatter, which lets tests check event formatting.
//
// Exit codes follow eimc (docs/cli.md): 1 refused, 2 malformed or unreadable.
//
//===----------------------------------------------------------------------===//

#include "eimc/BpfObject/BpfObject.h"
#include "eimc/Core/Errors.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

using namespace llvm;

namespace {

struct Options {
  std::string input;
  std::string btfType; ///< print a record of this type instead of the spec
  std::string record;  ///< the record, as hex
  bool json = false;
  bool checkRoundTrip = false; ///< self-test of the ISA codec
};

int fail(StringRef file, Error err) {
  bool refused = err.isA<eimc::RefusalError>();
  errs() << "error: " << file << ": " << toString(std::move(err)) << "\n";
  return refused ? 1 : 2;
}

int printRecord(const Options &opts, ArrayRef<uint8_t> bytes) {
  Expected<eimc::bpfobject::BtfRecordFormatter> fmt =
      eimc::bpfobject::BtfRecordFormatter::create(bytes, opts.btfType);
  if (!fmt)
    return fail(opts.input, fmt.takeError());
  std::string record;
  if (!tryGetFromHex(opts.record, record))
    return fail(opts.input, eimc::makeMalformed("--record is not hex"));
  if (opts.json)
    fmt->printJson(arrayRefFromStringRef(record), outs());
  else
    fmt->printText(arrayRefFromStringRef(record), outs());
  outs() << "\n";
  return 0;
}

/// decodeProgram(encodeProgram(x)) == x for every program (tests use it
/// to keep the codec honest on real objects).
bool roundTrips(const eimc::bpfobject::ExtensionSpec &spec) {
  for (const eimc::bpfobject::Program &p : spec.programs) {
    // A poison encodes as libbpf's invalid call, which decodes as a call.
    bool poisoned = llvm::any_of(p.insns, [](const eimc::bpf::SlotInsn &si) {
      return std::holds_alternative<eimc::bpf::Poison>(si.insn);
    });
    if (poisoned)
      continue;
    Expected<std::vector<eimc::bpf::SlotInsn>> again =
        eimc::bpf::decodeProgram(eimc::bpf::encodeProgram(p.insns));
    if (!again || *again != p.insns) {
      consumeError(again.takeError());
      errs() << "error: prog '" << p.name
             << "': encoding does not round-trip\n";
      return false;
    }
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  Options opts;
  CLI::App app{"eimc-readobj: print an eBPF object as eimc reads it"};
  app.add_option("input", opts.input, "eBPF ELF object")->required();
  app.add_option("--btf-type", opts.btfType,
                 "print --record as this BTF type instead");
  app.add_option("--record", opts.record, "record bytes in hex");
  app.add_flag("--json", opts.json, "print the record as JSON");
  app.add_flag("--check-round-trip", opts.checkRoundTrip,
               "check that every program re-encodes to the same insns");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  ErrorOr<std::unique_ptr<MemoryBuffer>> buf =
      MemoryBuffer::getFile(opts.input);
  if (!buf)
    return fail(opts.input, errorCodeToError(buf.getError()));
  ArrayRef<uint8_t> bytes = arrayRefFromStringRef((*buf)->getBuffer());
  if (!opts.btfType.empty())
    return printRecord(opts, bytes);
  Expected<eimc::bpfobject::ExtensionSpec> spec =
      eimc::bpfobject::readObject(opts.input, bytes);
  if (!spec)
    return fail(opts.input, spec.takeError());
  if (opts.checkRoundTrip && !roundTrips(*spec))
    return 2;
  outs() << eimc::bpfobject::toString(*spec);
  return 0;
}
