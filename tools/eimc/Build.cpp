//===- tools/eimc/Build.cpp - eimc build and eimc verify ------------------===//
//
// Part of eimc. See docs/cli.md and docs/design.md.
//
//===----------------------------------------------------------------------===//
//
// runBuild() is the pipeline, stage by stage (docs/design.md):
//   read the host, the policy and each extension object;
//   verify each extension against the policy (a rejection is a report);
//   compile each verified extension to native code;
//   plan the hooks, emit trampolines, link everything with the runtime;
//   write the rewritten host atomically.
// Each stage takes the previous stage's value type; nothing is passed as a
// path or as another tool's text output.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "eimc/BpfObject/BpfObject.h"
#include "eimc/Compiler/Compiler.h"
#include "eimc/Core/Errors.h"
#include "eimc/Extract/Manifest.h"
#include "eimc/Linker/Linker.h"
#include "eimc/Policy/Policy.h"
#include "eimc/Rewriter/Rewriter.h"
#include "eimc/Verifier/Verifier.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

#include <set>

using namespace llvm;

namespace eimc::driver {

Expected<std::vector<uint8_t>> readFileBytes(StringRef path) {
  // read(), not mmap: see HostBinary::create (uprobes write into private
  // mappings of traced executables).
  ErrorOr<std::unique_ptr<MemoryBuffer>> buf =
      MemoryBuffer::getFileAsStream(path);
  if (!buf)
    return createFileError(path, buf.getError());
  StringRef data = (*buf)->getBuffer();
  return std::vector<uint8_t>(data.begin(), data.end());
}

int reportError(Error err) {
  int code = ExitUsage;
  handleAllErrors(
      std::move(err),
      [&](const RefusalError &e) {
        code = ExitRefused;
        errs() << "error: " << e.reason() << "\n";
        for (const std::string &line : e.context())
          errs() << ">>> " << line << "\n";
      },
      [&](const ErrorInfoBase &e) {
        std::string msg = e.message();
        // One line per diagnostic: nested errors join with "; ".
        std::replace(msg.begin(), msg.end(), '\n', ' ');
        errs() << "error: " << msg << "\n";
      });
  return code;
}

namespace {

std::string sha256Hex(ArrayRef<uint8_t> bytes) {
  return toHex(SHA256::hash(bytes), /*LowerCase=*/true);
}

/// The inputs of one build, read and parsed.
struct BuildInputs {
  std::vector<uint8_t> policyBytes;
  /// What the host offers: the stored manifest, or extracted from the host.
  extract::CapabilityManifest manifest;
  /// The policy, its entries bound to the manifest's functions.
  policy::Policy policy;
  std::vector<std::vector<uint8_t>> objectBytes;
  std::vector<bpfobject::ExtensionSpec> specs;
};

/// Makes sure an error about an input names it ("ext.o: ..."), keeping
/// its kind (refusal or malformed input).
Error prefixWithFile(StringRef path, Error err) {
  std::string name = sys::path::filename(path).str();
  auto prefix = [&](const std::string &msg) {
    return StringRef(msg).starts_with(name + ":") ? msg : name + ": " + msg;
  };
  return handleErrors(
      std::move(err),
      [&](const RefusalError &e) -> Error {
        return makeRefusal(prefix(e.reason()), e.context());
      },
      [&](const ErrorInfoBase &e) -> Error {
        return makeMalformed(prefix(e.message()));
      });
}

Expected<extract::CapabilityManifest> readManifest(StringRef hostPath,
                                                  StringRef manifestPath) {
  if (manifestPath.empty())
    return extract::extractManifest(hostPath);
  Expected<std::vector<uint8_t>> bytes = readFileBytes(manifestPath);
  if (!bytes)
    return bytes.takeError();
  return extract::parseManifest(sys::path::filename(manifestPath),
                                toStringRef(*bytes));
}

/// What the command line changes in the objects before verification, as
/// a libbpf loader does between open and load.
struct SpecEdits {
  std::vector<std::string> attach, programs, skip, set;
};

/// Splits `A=B`; an error names \p flag.
Expected<std::pair<std::string, std::string>> splitAssignment(StringRef flag,
                                                              StringRef arg) {
  auto [lhs, rhs] = arg.split('=');
  if (lhs.empty() || rhs.empty() || !arg.contains('='))
    return makeMalformed(flag + " '" + arg + "': expected NAME=VALUE");
  return std::make_pair(lhs.str(), rhs.str());
}

bool isKprobe(const bpfobject::Program &p) {
  return p.kind == bpfobject::ProgramKind::Kprobe ||
         p.kind == bpfobject::ProgramKind::Kretprobe;
}

/// `--program`/`--skip` (libbpf's autoload): drops the programs not built.
/// Every name must name a program of some object.
Error selectPrograms(std::vector<bpfobject::ExtensionSpec> &specs,
                     const SpecEdits &edits) {
  auto known = [&](StringRef name) {
    return any_of(specs, [&](const bpfobject::ExtensionSpec &spec) {
      return any_of(spec.programs, [&](const bpfobject::Program &p) {
        return p.name == name;
      });
    });
  };
  for (const std::vector<std::string> *names : {&edits.programs, &edits.skip})
    for (const std::string &name : *names)
      if (!known(name))
        return makeRefusal("no program named '" + name + "' in the objects");
  for (bpfobject::ExtensionSpec &spec : specs)
    llvm::erase_if(spec.programs, [&](const bpfobject::Program &p) {
      bool chosen = edits.programs.empty() || is_contained(edits.programs, p.name);
      return !chosen || is_contained(edits.skip, p.name);
    });
  return Error::success();
}

/// `--attach PROG=SYMBOL`: a kprobe names a kernel function, which means
/// nothing in a process; the operator names the host function instead.
/// `kprobe/` becomes an entry probe, `kretprobe/` a return probe.
Error retargetKprobes(std::vector<bpfobject::ExtensionSpec> &specs,
                      const SpecEdits &edits) {
  std::set<std::string> retargeted;
  for (const std::string &arg : edits.attach) {
    Expected<std::pair<std::string, std::string>> kv =
        splitAssignment("--attach", arg);
    if (!kv)
      return kv.takeError();
    bool found = false;
    for (bpfobject::ExtensionSpec &spec : specs)
      for (bpfobject::Program &p : spec.programs) {
        if (p.name != kv->first)
          continue;
        retargeted.insert(p.name);
        if (!isKprobe(p))
          return makeRefusal(spec.objectName + ": prog '" + p.name +
                             "': --attach retargets kprobe/ and kretprobe/ "
                             "programs; section '" + p.section + "' is not one");
        p.attachSymbol = kv->second;
        found = true;
      }
    if (!found)
      return makeRefusal("--attach " + arg + ": no selected program named '" +
                         kv->first + "'");
  }
  for (const bpfobject::ExtensionSpec &spec : specs)
    for (const bpfobject::Program &p : spec.programs)
      if (isKprobe(p) && !retargeted.count(p.name))
        return makeRefusal(
            spec.objectName + ": prog '" + p.name + "': section '" + p.section +
                "' names a kernel function; give a host function with "
                "--attach " + p.name + "=SYMBOL",
            {"or leave the program out with --skip " + p.name});
  return Error::success();
}

/// `--set NAME=VALUE` in every object whose `.rodata` has NAME.
Error setConstants(std::vector<bpfobject::ExtensionSpec> &specs,
                   const SpecEdits &edits) {
  for (const std::string &arg : edits.set) {
    Expected<std::pair<std::string, std::string>> kv =
        splitAssignment("--set", arg);
    if (!kv)
      return kv.takeError();
    for (bpfobject::ExtensionSpec &spec : specs)
      if (Error e = bpfobject::setRodataVariable(spec, kv->first, kv->second))
        return e;
  }
  return Error::success();
}

Error applyEdits(std::vector<bpfobject::ExtensionSpec> &specs,
                 const SpecEdits &edits) {
  if (Error e = selectPrograms(specs, edits))
    return e;
  if (Error e = retargetKprobes(specs, edits))
    return e;
  return setConstants(specs, edits);
}

Expected<BuildInputs> readInputs(ArrayRef<std::string> extensions,
                                 StringRef policyPath, StringRef hostPath,
                                 StringRef manifestPath,
                                 const SpecEdits &edits) {
  BuildInputs in;
  Expected<extract::CapabilityManifest> manifest =
      readManifest(hostPath, manifestPath);
  if (!manifest)
    return manifest.takeError();
  in.manifest = std::move(*manifest);
  Expected<std::vector<uint8_t>> policyBytes = readFileBytes(policyPath);
  if (!policyBytes)
    return policyBytes.takeError();
  in.policyBytes = std::move(*policyBytes);
  Expected<policy::Policy> pol =
      policy::parsePolicy(policyPath, toStringRef(in.policyBytes));
  if (!pol)
    return pol.takeError();
  Expected<policy::Policy> bound = extract::bindPolicy(*pol, in.manifest);
  if (!bound)
    return bound.takeError();
  in.policy = std::move(*bound);
  // CO-RE relocations of the host's types (`r->uri` by field name) resolve
  // against its DWARF (docs/capabilities.md).
  Expected<bpfobject::HostTypes> hostTypes =
      extract::extractHostTypes(hostPath, in.manifest);
  if (!hostTypes)
    return hostTypes.takeError();
  for (const std::string &path : extensions) {
    Expected<std::vector<uint8_t>> bytes = readFileBytes(path);
    if (!bytes)
      return bytes.takeError();
    Expected<bpfobject::ExtensionSpec> spec = bpfobject::readObject(
        sys::path::filename(path), *bytes, &*hostTypes);
    if (!spec)
      return prefixWithFile(path, spec.takeError());
    in.objectBytes.push_back(std::move(*bytes));
    in.specs.push_back(std::move(*spec));
  }
  if (Error e = applyEdits(in.specs, edits))
    return std::move(e);
  return in;
}

// `uprobe/PATH:SYM` names the binary the probe belongs to. For eimc the only
// binary is the host, so PATH must be it: the same file, or (when the build
// runs elsewhere than the deployment) the same base name.
Error checkAttachPaths(const bpfobject::ExtensionSpec &spec,
                       StringRef hostPath) {
  SmallString<256> realHost;
  if (sys::fs::real_path(hostPath, realHost))
    realHost = hostPath;
  for (const bpfobject::Program &prog : spec.programs) {
    if (prog.attachPath.empty())
      continue;
    SmallString<256> realPath;
    bool same = !sys::fs::real_path(prog.attachPath, realPath) &&
                realPath == realHost;
    if (same || sys::path::filename(prog.attachPath) ==
                    sys::path::filename(hostPath))
      continue;
    return makeRefusal(spec.objectName + ": prog '" + prog.name +
                       "': section '" + prog.section + "' attaches to '" +
                       prog.attachPath + "', which is not the host '" +
                       hostPath + "'");
  }
  return Error::success();
}

void printReport(const verifier::VerificationReport &report,
                 FormatKind format) {
  if (format == FormatKind::Text) {
    report.print(errs());
    return;
  }
  if (format == FormatKind::Sarif) {
    report.printSarif(outs());
    return;
  }
  report.printJson(outs());
}

/// Verifies every extension; prints reports. \returns the verified
/// extensions, or nullopt if any was rejected.
Expected<std::optional<std::vector<verifier::VerifiedExtension>>>
verifyAll(const BuildInputs &in, FormatKind format, StringRef mode) {
  std::vector<verifier::VerifiedExtension> out;
  bool rejected = false;
  for (const bpfobject::ExtensionSpec &spec : in.specs) {
    Expected<verifier::VerificationReport> report =
        verifier::verify(
            spec, in.policy,
            verifier::Options{mode == "safety" ? verifier::ModeKind::Safety
                                               : verifier::ModeKind::Structural,
                              &in.manifest});
    if (!report)
      return report.takeError();
    printReport(*report, format);
    if (!report->verified()) {
      rejected = true;
      continue;
    }
    out.push_back(report->takeExtension());
  }
  if (rejected)
    return std::nullopt;
  return std::move(out);
}

/// True if \p prog calls bpf_override_return (helper 58).
bool usesOverrideReturn(const bpfobject::Program &prog) {
  return any_of(prog.insns, [](const bpf::SlotInsn &si) {
    const auto *call = std::get_if<bpf::Call>(&si.insn);
    return call && call->kind == bpf::CallKind::Helper && call->imm == 58;
  });
}

/// Groups programs by the host function they hook. Order of programs on
/// one site: extensions in command-line order, programs in object order.
std::vector<rewriter::HookRequest>
hookRequests(ArrayRef<verifier::VerifiedExtension> exts,
             ArrayRef<compiler::NativeObject> natives) {
  std::map<std::string, rewriter::HookRequest> bySymbol;
  for (size_t e = 0; e < exts.size(); ++e) {
    const bpfobject::ExtensionSpec &spec = exts[e].spec();
    for (size_t k = 0; k < exts[e].programs().size(); ++k) {
      const bpfobject::Program &prog = spec.programs[exts[e].programs()[k]];
      rewriter::HookRequest &req = bySymbol[prog.attachSymbol];
      req.symbol = prog.attachSymbol;
      const std::string &sym = natives[e].programs[k].symbol;
      bool isReturn = prog.kind == bpfobject::ProgramKind::Uretprobe ||
                      prog.kind == bpfobject::ProgramKind::Kretprobe;
      (isReturn ? req.returnPrograms : req.entryPrograms).push_back(sym);
      // The verifier let bpf_override_return only into typed entries.
      req.overrideReturn |= verifier::isTypedEntry(prog) &&
                            usesOverrideReturn(prog);
    }
  }
  std::vector<rewriter::HookRequest> out;
  for (auto &[name, req] : bySymbol)
    out.push_back(std::move(req));
  return out;
}

std::string provenanceText(const rewriter::HostBinary &host,
                           const BuildInputs &in,
                           const rewriter::RewritePlan &plan) {
  std::string s;
  raw_string_ostream os(s);
  os << "eimc: " << EIMC_VERSION << "\n"
     << "host:\n  name: " << sys::path::filename(host.name())
     << "\n  sha256: " << sha256Hex(host.bytes()) << "\n"
     << "policy:\n  sha256: " << sha256Hex(in.policyBytes) << "\n"
     << "extensions:\n";
  for (size_t i = 0; i < in.specs.size(); ++i)
    os << "  - name: " << in.specs[i].objectName
       << "\n    sha256: " << sha256Hex(in.objectBytes[i]) << "\n";
  os << "sites:\n";
  for (const rewriter::PatchSite &site : plan.sites)
    os << "  - symbol: " << site.symbol << "\n    address: "
       << format_hex(site.functionAddress, 2) << "\n";
  return s;
}

/// `-o DIR` means DIR/<host base name>: the process name and argv[0] of
/// the output are what third-party programs and multi-call hosts look at.
std::string outputPath(const BuildOptions &options) {
  if (!sys::fs::is_directory(options.output))
    return options.output;
  SmallString<256> path(options.output);
  sys::path::append(path, sys::path::filename(options.host));
  return path.str().str();
}

/// The front half shared by `build` and `verify`: check the attach paths
/// against the host and verify every extension, printing the reports.
/// \returns the verified extensions, or nullopt if any was rejected.
Expected<std::optional<std::vector<verifier::VerifiedExtension>>>
checkAndVerify(const BuildInputs &in, StringRef hostPath, FormatKind format,
               StringRef mode) {
  for (const bpfobject::ExtensionSpec &spec : in.specs)
    if (Error e = checkAttachPaths(spec, hostPath))
      return std::move(e);
  return verifyAll(in, format, mode);
}

/// Reports each instruction of the finished output \p bytes (to be
/// written as \p name) that can write PKRU outside eimc's own gates
/// (docs/security.md). Under `isolation: require` each one the policy does
/// not list in `trusted_sites` is an error, and the build is refused
/// before anything is written: such an output must not run as if it were
/// isolated, and an earlier output at the same path stays as it was.
Error checkPkruWrites(ArrayRef<uint8_t> bytes, StringRef name,
                      const policy::Policy &pol) {
  Expected<std::vector<rewriter::PkruSite>> sites =
      rewriter::scanPkruWrites(bytes);
  if (!sites)
    return sites.takeError();
  bool require = pol.isolation == policy::IsolationKind::Require;
  unsigned refused = 0;
  for (const rewriter::PkruSite &site : *sites) {
    if (site.ours)
      continue;
    bool trusted = is_contained(pol.trustedSites, site.address);
    bool error = require && !trusted;
    refused += error;
    errs() << (error ? "error: " : "warning: ") << sys::path::filename(name)
           << ": " << site.kind << " at " << format_hex(site.address, 2);
    if (!site.symbol.empty())
      errs() << " (" << site.symbol << "+" << format_hex(site.offset, 2)
             << ")";
    errs() << ": can write PKRU outside eimc's gates"
           << (trusted ? " (trusted by the policy)" : "") << "\n";
  }
  if (!refused)
    return Error::success();
  return makeRefusal("isolation: require: " + Twine(refused) +
                     " untrusted PKRU write(s); list each address under "
                     "'trusted_sites' in " +
                     pol.file + " if it is safe");
}

} // namespace

Expected<int> runBuild(const BuildOptions &options) {
  // Read every input before anything is written.
  Expected<rewriter::HostBinary> host =
      rewriter::HostBinary::create(options.host);
  if (!host)
    return host.takeError();
  Expected<BuildInputs> in =
      readInputs(options.extensions, options.policy, options.host,
                 options.manifest,
                 {options.attach, options.programs, options.skip, options.set});
  if (!in)
    return in.takeError();
  if (options.emit == "manifest") {
    outs() << extract::toString(in->manifest);
    return ExitSuccess;
  }
  if (options.emit == "spec") {
    for (const bpfobject::ExtensionSpec &spec : in->specs)
      outs() << bpfobject::toString(spec);
    return ExitSuccess;
  }

  // Verify. Beyond this point every program is structurally sound and
  // allowed by the policy.
  Expected<std::optional<std::vector<verifier::VerifiedExtension>>> verified =
      checkAndVerify(*in, options.host, options.format, options.verifier);
  if (!verified)
    return verified.takeError();
  if (!*verified)
    return ExitRefused;
  std::vector<verifier::VerifiedExtension> &exts = **verified;

  // Compile each extension; symbols carry the extension's index.
  std::vector<compiler::NativeObject> natives;
  for (size_t i = 0; i < exts.size(); ++i) {
    compiler::Options copts;
    copts.symbolPrefix = "e" + std::to_string(i);
    copts.manifest = &in->manifest;
    if (options.emit == "ir" || options.emit == "asm") {
      copts.emit = options.emit == "ir" ? compiler::EmitKind::IR
                                        : compiler::EmitKind::Asm;
      Expected<std::string> text = compiler::emitText(exts[i], copts);
      if (!text)
        return text.takeError();
      outs() << *text;
      continue;
    }
    Expected<compiler::NativeObject> native = compiler::compile(exts[i], copts);
    if (!native)
      return native.takeError();
    if (options.emit == "obj") {
      // One relocatable object per build: with several extensions, which
      // one would stdout hold?
      if (exts.size() != 1)
        return makeMalformed("--emit=obj takes exactly one extension");
      outs().write(reinterpret_cast<const char *>(native->elf.data()),
                   native->elf.size());
    }
    natives.push_back(std::move(*native));
  }
  if (!options.emit.empty() && options.emit != "plan")
    return ExitSuccess;

  // Plan the hooks on the host.
  Expected<rewriter::RewritePlan> plan =
      rewriter::planHooks(*host, hookRequests(exts, natives));
  if (!plan)
    return plan.takeError();
  for (const std::string &warning : plan->warnings)
    errs() << "warning: " << warning << "\n";
  switch (in->policy.isolation) {
  case policy::IsolationKind::Off:
    plan->isolation = rewriter::IsolationMode::Off;
    break;
  case policy::IsolationKind::Prefer:
    plan->isolation = rewriter::IsolationMode::Prefer;
    break;
  case policy::IsolationKind::Require:
    plan->isolation = rewriter::IsolationMode::Require;
    break;
  }
  plan->isolationWarn = in->policy.warn;
  if (options.emit == "plan") {
    outs() << rewriter::toString(*plan);
    return ExitSuccess;
  }

  // Host functions the programs call: under isolation through a gate stub
  // that revokes the key for the call (docs/security.md), else directly.
  std::map<std::string, uint64_t> directCalls;
  for (const compiler::NativeObject &native : natives)
    for (const std::string &name : native.hostFunctions) {
      Expected<rewriter::FunctionSymbol> fn = host->findFunction(name);
      if (!fn)
        return fn.takeError();
      std::string symbol = compiler::hostFunctionSymbol(name);
      if (plan->isolation == rewriter::IsolationMode::Off)
        directCalls[symbol] = fn->address;
      else
        rewriter::addHostCallGate(*plan, symbol, fn->address);
    }
  // Host globals the programs reference: absolute, host-relative
  // addresses reached PC-relative, so they move with a PIE host.
  std::map<std::string, uint64_t> hostGlobals;
  for (const compiler::NativeObject &native : natives)
    for (const std::string &name : native.hostGlobals) {
      Expected<rewriter::FunctionSymbol> global = host->findObject(name);
      if (!global)
        return global.takeError();
      hostGlobals[compiler::hostGlobalSymbol(name)] = global->address;
    }

  // Link programs, trampolines and the runtime at the reserved addresses.
  std::vector<std::string> initSymbols;
  linker::LinkRequest request;
  for (size_t i = 0; i < natives.size(); ++i) {
    initSymbols.push_back(natives[i].mapsInitSymbol);
    request.inputs.push_back(
        {in->specs[i].objectName + " (native)", std::move(natives[i].elf)});
  }
  Expected<linker::LinkInput> trampolines =
      rewriter::emitTrampolines(*plan, initSymbols);
  if (!trampolines)
    return trampolines.takeError();
  request.inputs.push_back(std::move(*trampolines));
  ArrayRef<uint8_t> runtime = linker::runtimeObject();
  request.inputs.push_back(
      {"eimc runtime", std::vector<uint8_t>(runtime.begin(), runtime.end())});
  request.stateAddress = plan->stateAddress;
  request.absoluteSymbols = plan->hostSymbols;
  request.absoluteSymbols.insert(directCalls.begin(), directCalls.end());
  request.absoluteSymbols.insert(hostGlobals.begin(), hostGlobals.end());
  request.roots = {"eim_start"};
  Expected<linker::LinkedExtension> linked = linker::link(request);
  if (!linked)
    return linked.takeError();

  // Write the output; the input is never touched.
  rewriter::Provenance provenance{EIMC_VERSION,
                                  provenanceText(*host, *in, *plan)};
  std::string out = outputPath(options);
  if (sys::path::filename(out) != sys::path::filename(options.host))
    errs() << "warning: output name '" << sys::path::filename(out)
           << "' differs from the host's '" << sys::path::filename(options.host)
           << "': programs that filter on the process name or hosts that "
              "dispatch on argv[0] may behave differently\n";
  auto scan = [&](ArrayRef<uint8_t> bytes) -> Error {
    if (plan->isolation == rewriter::IsolationMode::Off)
      return Error::success();
    return checkPkruWrites(bytes, out, in->policy);
  };
  if (Error e =
          rewriter::writeOutput(*host, *plan, *linked, provenance, out, scan))
    return std::move(e);
  return ExitSuccess;
}

Expected<int> runVerify(const VerifyOptions &options) {
  Expected<rewriter::HostBinary> host =
      rewriter::HostBinary::create(options.host);
  if (!host)
    return host.takeError();
  Expected<BuildInputs> in =
      readInputs(options.extensions, options.policy, options.host,
                 options.manifest,
                 {options.attach, options.programs, options.skip, options.set});
  if (!in)
    return in.takeError();
  Expected<std::optional<std::vector<verifier::VerifiedExtension>>> verified =
      checkAndVerify(*in, options.host, options.format, options.verifier);
  if (!verified)
    return verified.takeError();
  return *verified ? ExitSuccess : ExitRefused;
}

} // namespace eimc::driver

namespace eimc::driver {

namespace {
void addSpecEditOptions(CLI::App *cmd, std::vector<std::string> &attach,
                        std::vector<std::string> &programs,
                        std::vector<std::string> &skip,
                        std::vector<std::string> &set) {
  cmd->add_option("--attach", attach,
                  "PROG=SYMBOL: hook kprobe/kretprobe program PROG at host "
                  "function SYMBOL (repeatable)");
  cmd->add_option("--program", programs,
                  "Build only this program (repeatable)");
  cmd->add_option("--skip", skip, "Do not build this program (repeatable)");
  cmd->add_option("--set", set,
                  "NAME=VALUE: set a const volatile .rodata variable before "
                  "verification (repeatable)");
}
} // namespace

/// The options `build` and `verify` share.
static void addVerifyOptions(CLI::App *cmd, VerifyOptions &options) {
  cmd->add_option("host", options.host, "Host executable")->required();
  cmd->add_option("-e,--ext", options.extensions, "eBPF object (repeatable)")
      ->required();
  cmd->add_option("--policy", options.policy, "Deployment policy (YAML)")
      ->required();
  cmd->add_option("--manifest", options.manifest,
                  "Stored manifest (default: extract it from the host)");
  addFormatOption(cmd, options.format);
  cmd->add_option("--verifier", options.verifier,
                  "safety (default) or structural (docs/verifier.md)")
      ->check(CLI::IsMember({"structural", "safety"}));
  addSpecEditOptions(cmd, options.attach, options.programs, options.skip,
                     options.set);
}

Subcommand addBuildCommand(CLI::App &app) {
  auto options = std::make_shared<BuildOptions>();
  CLI::App *cmd = app.add_subcommand(
      "build", "Verify, compile and link extensions into a rewritten host");
  addVerifyOptions(cmd, *options);
  cmd->add_option("-o,--output", options->output, "Rewritten host to write")
      ->required();
  cmd->add_option("--emit", options->emit, "Stop after a stage and print it")
      ->check(CLI::IsMember({"manifest", "spec", "ir", "asm", "obj", "plan"}));
  return {cmd, [options] { return runBuild(*options); }};
}

Subcommand addVerifyCommand(CLI::App &app) {
  auto options = std::make_shared<VerifyOptions>();
  CLI::App *cmd = app.add_subcommand(
      "verify", "Check extensions against a policy without building");
  addVerifyOptions(cmd, *options);
  return {cmd, [options] { return runVerify(*options); }};
}

} // namespace eimc::driver
