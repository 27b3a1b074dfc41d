//===- tools/eimc-verify-bench/eimc-verify-bench.cpp - Verifier timing ----===//
//
// Part of eimc. See benchmarks/README.md, "Verification time".
//
//===----------------------------------------------------------------------===//
//
// Times verify() on each program of one eBPF object, in-process, so that
// process start-up, reading the object and extracting a host manifest do
// not swamp the microseconds being measured. Each program is verified
// alone (a copy of the spec holding only it) under a generated permissive
// policy (one class whose entry is the program's own attach symbol, every
// helper of the helper table granted), in structural mode and in safety
// mode, --runs times each; the best run of each is printed:
//
//   PROGRAM INSNS STRUCTURAL_NS SAFETY_NS VERDICT
//
// where VERDICT is the safety mode's ("accepted" or its first rule id).
// `--instructions N` adds the policy bound `instructions: N` (as the
// kernel's 1,000,000-instruction limit); `--reason` appends a tab and the
// first diagnostic (`insn I: message`) to each refused program's line
// (scripts/verifier-corpus.py uses both).
// Safety mode runs the structural checks first, so SAFETY_NS - STRUCTURAL_NS
// is the safety analysis alone. Does not build, and ignores programs of
// kinds eimc does not build. scripts/object-table.py --safety drives it.
//
//===----------------------------------------------------------------------===//

#include "eimc/BpfObject/BpfObject.h"
#include "eimc/Policy/Policy.h"
#include "eimc/Verifier/Verifier.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>

using namespace eimc;
using namespace llvm;

namespace {

/// The permissive policy object-table.py generates, for one program.
policy::Policy benchPolicy(const bpfobject::Program &prog,
                           std::optional<uint64_t> instructions) {
  policy::PolicyClass cls;
  cls.instructions = instructions;
  cls.name = "bench";
  cls.entry = prog.attachSymbol;
  cls.match = prog.name;
#define EIM_HELPER(ID, NAME, ...) cls.helpers.push_back({ID, #NAME, {}});
#include "eimc/Core/Helpers.def"
  policy::Policy p;
  p.file = "bench.yaml";
  p.classes.push_back(std::move(cls));
  return p;
}

/// Best of \p runs wall-clock nanoseconds of verify(); \p verdict gets the
/// last run's verdict.
Expected<uint64_t> timeVerify(const bpfobject::ExtensionSpec &spec,
                              const policy::Policy &pol,
                              verifier::ModeKind mode, unsigned runs,
                              std::string &verdict, std::string &reason) {
  using Clock = std::chrono::steady_clock;
  verifier::Options opts;
  opts.mode = mode;
  uint64_t best = UINT64_MAX;
  for (unsigned i = 0; i < runs; ++i) {
    Clock::time_point start = Clock::now();
    Expected<verifier::VerificationReport> r = verifier::verify(spec, pol, opts);
    Clock::time_point end = Clock::now();
    if (!r)
      return r.takeError();
    best = std::min<uint64_t>(
        best, std::chrono::duration_cast<std::chrono::nanoseconds>(end - start)
                  .count());
    // The first error: warnings (an unwritten stack read) do not refuse.
    const verifier::Diagnostic *first = nullptr;
    for (const verifier::Diagnostic &d : r->diagnostics())
      if (!first && d.severity == verifier::SeverityKind::Error)
        first = &d;
    verdict = r->verified() || !first ? "accepted" : first->ruleId;
    reason.clear();
    if (!r->verified() && first) {
      const verifier::Diagnostic &d = *first;
      if (d.insnIndex)
        reason = "insn " + std::to_string(*d.insnIndex) + ": ";
      reason += d.message;
    }
  }
  return best;
}

int fail(StringRef input, const bpfobject::Program &prog, Error err) {
  errs() << "error: " << input << ": prog '" << prog.name
         << "': " << toString(std::move(err)) << "\n";
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"Time the verifier on each program of an eBPF object"};
  std::string input;
  unsigned runs = 20;
  std::optional<uint64_t> instructions;
  bool printReason = false;
  app.add_option("object", input, "eBPF object")->required();
  app.add_option("--runs", runs, "Runs per program and mode")
      ->check(CLI::Range(1u, 100000u));
  app.add_option("--instructions", instructions,
                 "Policy bound on instructions per invocation");
  app.add_flag("--reason", printReason,
               "Append the first diagnostic of a refused program");
  CLI11_PARSE(app, argc, argv);

  ErrorOr<std::unique_ptr<MemoryBuffer>> buf = MemoryBuffer::getFile(input);
  if (!buf) {
    errs() << "error: " << input << ": " << buf.getError().message() << "\n";
    return 2;
  }
  Expected<bpfobject::ExtensionSpec> spec = bpfobject::readObject(
      sys::path::filename(input),
      arrayRefFromStringRef((*buf)->getBuffer()));
  if (!spec) {
    errs() << "error: " << input << ": " << toString(spec.takeError()) << "\n";
    return 2;
  }
  for (const bpfobject::Program &prog : spec->programs) {
    if (prog.kind == bpfobject::ProgramKind::Unsupported)
      continue;
    bpfobject::ExtensionSpec one = *spec;
    one.programs = {prog};
    policy::Policy pol = benchPolicy(prog, instructions);
    std::string structuralVerdict, safetyVerdict, unused, reason;
    Expected<uint64_t> structural = timeVerify(
        one, pol, verifier::ModeKind::Structural, runs, structuralVerdict,
        unused);
    if (!structural)
      return fail(input, prog, structural.takeError());
    Expected<uint64_t> safety = timeVerify(one, pol, verifier::ModeKind::Safety,
                                           runs, safetyVerdict, reason);
    if (!safety)
      return fail(input, prog, safety.takeError());
    outs() << prog.name << " " << prog.insns.size() << " " << *structural
           << " " << *safety << " " << safetyVerdict;
    if (printReason && !reason.empty())
      outs() << "\t" << reason;
    outs() << "\n";
  }
  return 0;
}
