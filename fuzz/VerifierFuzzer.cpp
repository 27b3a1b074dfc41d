//===- fuzz/VerifierFuzzer.cpp - libFuzzer entry: the verifier ------------===//
//
// Part of eimc. Built only with -DEIMC_FUZZ=ON (see docs/verifier.md).
//
//===----------------------------------------------------------------------===//
//
// Decodes arbitrary bytes as eBPF bytecode, wraps them in a one-program
// spec with one map of each kind the verifier models, and verifies them in
// safety mode (structural checks first, then abstract interpretation)
// under a permissive policy: every helper in the helper table granted and
// a bound of one million instructions, so as much input as possible
// reaches the safety analysis instead of stopping at the policy.
//
// The verifier must return a report for any decoded program: a crash, an
// ASan report or a hang is a bug. Bytes that do not decode are the
// decoder's business and end the run early.
//
//===----------------------------------------------------------------------===//

#include "eimc/BpfObject/BpfObject.h"
#include "eimc/Core/Insn.h"
#include "eimc/Policy/Policy.h"
#include "eimc/Verifier/Verifier.h"

#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>

using namespace eimc;

namespace {

/// A hash map, an array, a ring buffer and a read-only global-data map, so
/// that LDDW map references with indices 0-3 resolve (the decoder leaves
/// mapIndex = imm; larger indices exercise the verifier's range check).
std::vector<bpfobject::MapDef> fuzzMaps() {
  bpfobject::MapDef hash{"hash", 1, 8, 16, 64, 0, 0, 0, {}, {}};
  bpfobject::MapDef array{"array", 2, 4, 32, 4, 0, 0, 0, {}, {}};
  bpfobject::MapDef ringbuf{"events", 27, 0, 0, 4096, 0, 0, 0, {}, {}};
  bpfobject::MapDef rodata{"fuzz.rodata", 2, 4, 16, 1,
                           bpfobject::MapFlagRdonlyProg |
                               bpfobject::MapFlagMmapable,
                           0, 0, std::vector<uint8_t>(16, 0), {}};
  return {hash, array, ringbuf, rodata};
}

/// One class covering program 'prog' at readline with every helper the
/// table knows granted.
policy::Policy fuzzPolicy() {
  policy::PolicyClass cls;
  cls.name = "fuzz";
  cls.entry = "readline";
  cls.match = "prog";
  cls.instructions = 1000000;
#define EIM_HELPER(ID, NAME, ...) cls.helpers.push_back({ID, #NAME, {}});
#include "eimc/Core/Helpers.def"
  policy::Policy p;
  p.file = "fuzz.yaml";
  p.classes.push_back(std::move(cls));
  return p;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // Whole slots only: the decoder rejects a ragged tail up front.
  llvm::Expected<std::vector<bpf::SlotInsn>> insns =
      bpf::decodeProgram(llvm::ArrayRef(data, size - size % 8));
  if (!insns) {
    llvm::consumeError(insns.takeError());
    return 0;
  }
  bpfobject::ExtensionSpec spec;
  spec.objectName = "fuzz.bpf.o";
  spec.license = "GPL";
  spec.maps = fuzzMaps();
  bpfobject::Program prog;
  prog.name = "prog";
  prog.section = "uprobe/readline";
  prog.kind = bpfobject::ProgramKind::Uprobe;
  prog.attachSymbol = "readline";
  prog.insns = std::move(*insns);
  spec.programs.push_back(std::move(prog));

  verifier::Options opts;
  opts.mode = verifier::ModeKind::Safety;
  llvm::Expected<verifier::VerificationReport> report =
      verifier::verify(spec, fuzzPolicy(), opts);
  if (!report) {
    llvm::consumeError(report.takeError());
    return 0;
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  report->print(os);
  return 0;
}
