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

#include "llvm/Support/FormatVariadic.h"
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

std::optional<bpfobject::SourceLine> sourceFor(const bpfobject::Program &prog,
                                               uint32_t slot) {
  auto it = prog.lines.upper_bound(slot);
  if (it == prog.lines.begin())
    return std::nullopt;
  return std::prev(it)->second;
}

Diagnostic diagnosticAt(const bpfobject::ExtensionSpec &spec,
                        const bpfobject::Program &prog,
                        std::optional<size_t> index, StringRef rule,
                        const Twine &msg, std::vector<std::string> context) {
  Diagnostic d;
  d.ruleId = rule.str();
  d.object = spec.objectName;
  d.program = prog.name;
  if (index) {
    uint32_t slot = prog.insns[*index].slot;
    d.insnIndex = slot;
    d.source = sourceFor(prog, slot);
    context.insert(
        context.begin(),
        formatv("{0,4}: {1}", slot, bpf::toString(prog.insns[*index].insn))
            .str());
  }
  d.message = msg.str();
  d.context = std::move(context);
  return d;
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

// SARIF 2.1.0 (OASIS): locations name the object with the slot as a
// logical location, and the source line from .BTF.ext when known, so that
// code-scanning viewers can show the finding in the C source.
void VerificationReport::printSarif(raw_ostream &os) const {
  json::Array results;
  std::vector<std::string> rules;
  for (const Diagnostic &d : Diags) {
    if (!is_contained(rules, d.ruleId))
      rules.push_back(d.ruleId);
    std::string text = d.message;
    for (const std::string &line : d.context)
      text += "\n>>> " + line;
    json::Object physical{
        {"artifactLocation", json::Object{{"uri", d.source ? d.source->file
                                                           : d.object}}}};
    if (d.source)
      physical["region"] = json::Object{{"startLine", d.source->line}};
    json::Object location{{"physicalLocation", std::move(physical)}};
    if (!d.program.empty()) {
      std::string name = d.program;
      if (d.insnIndex)
        name += "/insn " + std::to_string(*d.insnIndex);
      location["logicalLocations"] = json::Array{json::Object{
          {"fullyQualifiedName", d.object + ":" + name}}};
    }
    json::Array locations;
    locations.push_back(std::move(location));
    if (d.policyLocation) {
      json::Object policyRegion{{"startLine", d.policyLocation->line}};
      json::Object policyArtifact{{"uri", d.policyLocation->file}};
      json::Object policyPhysical{{"artifactLocation", std::move(policyArtifact)},
                                  {"region", std::move(policyRegion)}};
      locations.push_back(
          json::Object{{"physicalLocation", std::move(policyPhysical)}});
    }
    results.push_back(json::Object{
        {"ruleId", d.ruleId},
        {"level", severityName(d.severity)},
        {"message", json::Object{{"text", text}}},
        {"locations", std::move(locations)}});
  }
  json::Array ruleObjects;
  for (const std::string &r : rules)
    ruleObjects.push_back(json::Object{{"id", r}});
  json::Object log{
      {"version", "2.1.0"},
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"runs",
       json::Array{json::Object{
           {"tool",
            json::Object{{"driver",
                          json::Object{{"name", "eimc"},
                                       {"informationUri",
                                        "docs/verifier.md"},
                                       {"rules", std::move(ruleObjects)}}}}},
           {"results", std::move(results)}}}}};
  os << formatv("{0:2}", json::Value(std::move(log))) << "\n";
}

} // namespace eimc::verifier
