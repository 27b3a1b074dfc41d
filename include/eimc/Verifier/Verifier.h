//===- eimc/Verifier/Verifier.h - Verifying extensions ----------*- C++ -*-===//
//
// Part of eimc. See docs/design.md.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The verifier decides whether an extension may be compiled into a host.
/// verify() is the only way to obtain a VerifiedExtension, and the compiler
/// accepts nothing else: nothing reaches code generation unverified.
///
/// Modes:
///  - Structural (now): every opcode valid, every jump and local call inside
///    its program, LDDW pairs intact, every path reaches `exit`, no poisoned
///    (unresolved CO-RE) instruction reachable; plus the policy: each
///    program belongs to a class, attaches to that class's entry, and calls
///    only granted helpers that eimc implements.
///  - Safety (B2): abstract interpretation of memory safety and termination.
///
/// A rejected extension is a report, not an error: VerificationReport holds
/// every violation found. llvm::Error is reserved for "could not run".
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_VERIFIER_VERIFIER_H
#define EIMC_VERIFIER_VERIFIER_H

#include "eimc/BpfObject/BpfObject.h"
#include "eimc/Extract/Manifest.h"
#include "eimc/Policy/Policy.h"

#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace eimc::verifier {

enum class SeverityKind : uint8_t { Error, Warning, Note };

/// One finding. Printed as
/// `error: OBJ: prog 'NAME': insn N (FILE:LINE): MESSAGE (POLICY:LINE)`
/// with parts omitted when unknown, then one `>>> ` line per context entry.
struct Diagnostic {
  SeverityKind severity = SeverityKind::Error;
  std::string ruleId;      ///< stable id, e.g. "helper-not-granted"
  std::string object;      ///< object file name
  std::string program;     ///< empty for object-level findings
  std::optional<uint32_t> insnIndex; ///< slot
  std::optional<bpfobject::SourceLine> source;
  std::string message;
  std::optional<policy::SourceLoc> policyLocation;
  std::vector<std::string> context; ///< `>>>` lines
};

enum class ModeKind : uint8_t { Structural, Safety };

struct Options {
  ModeKind mode = ModeKind::Structural;
  /// What the host offers (typed entries' prototypes, state, host
  /// functions; docs/capabilities.md). Null: the host offers nothing, so
  /// typed entries, state access and host calls are refused.
  const extract::CapabilityManifest *manifest = nullptr;
};

/// An extension that passed verification. Only verify() constructs one.
class VerifiedExtension {
public:
  const bpfobject::ExtensionSpec &spec() const { return Spec; }
  /// Indices into spec().programs that were verified and are to be built,
  /// in the spec's order.
  const std::vector<size_t> &programs() const { return Programs; }

private:
  friend class VerifierAccess;
  VerifiedExtension(bpfobject::ExtensionSpec spec, std::vector<size_t> progs)
      : Spec(std::move(spec)), Programs(std::move(progs)) {}
  bpfobject::ExtensionSpec Spec;
  std::vector<size_t> Programs;
};

class VerificationReport {
public:
  bool verified() const { return Extension.has_value(); }
  const std::vector<Diagnostic> &diagnostics() const { return Diags; }
  /// Moves the verified extension out; precondition: verified().
  VerifiedExtension takeExtension();
  /// "accepted: 1 program" / "rejected: 2 errors".
  std::string summary() const;
  /// Text form, one diagnostic per line plus `>>>` context lines.
  void print(llvm::raw_ostream &os) const;
  /// JSON (an array of diagnostic objects).
  void printJson(llvm::raw_ostream &os) const;
  /// SARIF 2.1.0: one run of tool "eimc", one result per diagnostic.
  void printSarif(llvm::raw_ostream &os) const;

private:
  friend class VerifierAccess;
  std::vector<Diagnostic> Diags;
  std::optional<VerifiedExtension> Extension;
};

/// True for a typed entry: a program in section `fentry/FUNC`, whose
/// context is FUNC's C arguments as an array of 8-byte slots (libbpf's
/// BPF_PROG), typed by the manifest's prototype (docs/capabilities.md).
bool isTypedEntry(const bpfobject::Program &prog);

/// Formats one diagnostic as its first line (no newline).
std::string formatDiagnostic(const Diagnostic &d);

/// Verifies the programs of \p spec selected by the policy (every program
/// must be matched by a class of \p policy).
/// \returns a report; an Error only if verification could not run.
llvm::Expected<VerificationReport> verify(const bpfobject::ExtensionSpec &spec,
                                          const policy::Policy &policy,
                                          const Options &options);

/// Verifies in structural mode without a policy: every program, every
/// helper in the helper table allowed. For the conformance runner, which
/// checks the compiler, not a deployment. With \p conformanceHelpers,
/// helper 5 is also allowed: uBPF's "unwind", which the compiler lowers
/// under compiler::Options::conformanceHelpers.
llvm::Expected<VerificationReport>
verifyStructuralOnly(const bpfobject::ExtensionSpec &spec,
                     bool conformanceHelpers = false);

} // namespace eimc::verifier

#endif // EIMC_VERIFIER_VERIFIER_H
