//===- verifier/Report.cpp - Verification reports -------------------------===//
//
// Part of eimc. See eimc/Verifier/Verifier.h.
//
//===----------------------------------------------------------------------===//
//
// A failed verification is data: the report collects every diagnostic and
// prints them in the one form eimc uses everywhere (style R14):
//
//   error: ext.o: prog 'p': insn 12 (ext.bpf.c:31): what (policy.yaml:7)
//   >>> context
//
//===----------------------------------------------------------------------===//

#include "VerifierInternal.h"

#include "llvm/Support/JSON.h"

using namespace llvm;

namespace eimc::verifier {

static StringRef severityName(SeverityKind kind) {
  switch (kind) {
  case SeverityKind::Error:
    return "error";
  case SeverityKind::Warning:
    return "warning";
  case SeverityKind::Note:
    return "note";
  }
  llvm_unreachable("unknown severity");
}

std::string formatDiagnostic(const Diagnostic &d) {
  std::string out;
  raw_string_ostream os(out);
  os << severityName(d.severity) << ": " << d.object << ":";
  if (!d.program.empty())
    os << " prog '" << d.program << "':";
  if (d.insnIndex) {
    os << " insn " << *d.insnIndex;
    if (d.source)
      os << " (" << d.source->file << ":" << d.source->line << ")";
    os << ":";
  }
  os << " " << d.message;
  if (d.policyLocation)
    os << " (" << d.policyLocation->str() << ")";
  return out;
}

VerifiedExtension VerificationReport::takeExtension() {
  assert(verified() && "takeExtension() on a rejected extension");
  VerifiedExtension ext = std::move(*Extension);
  Extension.reset();
  return ext;
}

std::string VerificationReport::summary() const {
  unsigned errors = count_if(Diags, [](const Diagnostic &d) {
    return d.severity == SeverityKind::Error;
  });
  if (verified()) {
    size_t n = Extension->programs().size();
    return "accepted: " + std::to_string(n) +
           (n == 1 ? " program" : " programs");
  }
  return "rejected: " + std::to_string(errors) +
         (errors == 1 ? " error" : " errors");
}

void VerificationReport::print(raw_ostream &os) const {
  for (const Diagnostic &d : Diags) {
    os << formatDiagnostic(d) << "\n";
    for (const std::string &line : d.context)
      os << ">>> " << line << "\n";
  }
}

void VerificationReport::printJson(raw_ostream &os) const {
  json::Array out;
  for (const Diagnostic &d : Diags) {
    json::Object o{{"severity", severityName(d.severity)},
                   {"rule", d.ruleId},
                   {"object", d.object},
                   {"message", d.message}};
    if (!d.program.empty())
      o["program"] = d.program;
    if (d.insnIndex)
      o["insn"] = *d.insnIndex;
    if (d.source)
      o["source"] = json::Object{{"file", d.source->file},
                                 {"line", d.source->line}};
    if (d.policyLocation)
      o["policy"] = json::Object{{"file", d.policyLocation->file},
                                 {"line", d.policyLocation->line}};
    if (!d.context.empty())
      o["context"] = json::Array(d.context);
    out.push_back(std::move(o));
  }
  os << formatv("{0:2}", json::Value(std::move(out))) << "\n";
}

} // namespace eimc::verifier
