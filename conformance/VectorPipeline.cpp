//===- conformance/VectorPipeline.cpp - A vector through eimc's stages ----===//
//
// Part of eimc. See eimc/Conformance/Conformance.h.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// buildVector() and runVector(): a test vector takes the same library
/// path as an extension in `eimc build`, so passing vectors prove the
/// compiler that builds hosts, not a side copy of it:
///
///   bytecode → bpf::decodeProgram → ExtensionSpec (one program)
///            → verifier::verifyStructuralOnly (conformance helpers)
///            → compiler::compile (conformance ABI: r1 = mem, r2 = len)
///            → linker::link at ImageAddress
///            → execute() in a child (NativeExecution.cpp)
///
/// The spec is built from bytes rather than from an ELF object because the
/// vectors are bare instruction streams (no sections, symbols or BTF);
/// bpf_to_bpf calls are PC-relative in the bytecode, as the object reader
/// leaves them after appending subprograms.
///
//===----------------------------------------------------------------------===//

#include "eimc/Conformance/Conformance.h"

#include "eimc/BpfObject/BpfObject.h"
#include "eimc/Compiler/Compiler.h"
#include "eimc/Core/Errors.h"
#include "eimc/Verifier/Verifier.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace eimc::conformance {

namespace {

constexpr StringLiteral ProgramName = "vector";
constexpr StringLiteral SymbolPrefix = "e0";

Expected<bpfobject::ExtensionSpec> makeSpec(StringRef name,
                                            ArrayRef<uint8_t> code) {
  Expected<std::vector<bpf::SlotInsn>> insns = bpf::decodeProgram(code);
  if (!insns)
    return makeMalformed(name + ": " + toString(insns.takeError()));
  bpfobject::Program prog;
  prog.name = ProgramName.str();
  prog.section = "conformance";
  prog.kind = bpfobject::ProgramKind::Unsupported;
  prog.insns = std::move(*insns);
  bpfobject::ExtensionSpec spec;
  spec.objectName = name.str();
  spec.programs.push_back(std::move(prog));
  return spec;
}

/// A rejected program is an error carrying the verifier's diagnostics.
Expected<verifier::VerifiedExtension>
verifySpec(const bpfobject::ExtensionSpec &spec) {
  Expected<verifier::VerificationReport> report =
      verifier::verifyStructuralOnly(spec, /*conformanceHelpers=*/true);
  if (!report)
    return report.takeError();
  if (report->verified())
    return report->takeExtension();
  std::string text;
  raw_string_ostream os(text);
  report->print(os);
  return makeRefusal(StringRef(text).rtrim());
}

compiler::Options compilerOptions(compiler::EmitKind emit) {
  compiler::Options options;
  options.emit = emit;
  options.symbolPrefix = SymbolPrefix.str();
  options.conformanceHelpers = true;
  return options;
}

/// Verify, compile, link. Objects with maps need the runtime (map
/// storage) and its start-up; a bare vector links alone.
Expected<Runnable> buildSpec(const bpfobject::ExtensionSpec &spec,
                             StringRef entry) {
  Expected<verifier::VerifiedExtension> ext = verifySpec(spec);
  if (!ext)
    return ext.takeError();
  Expected<compiler::NativeObject> object =
      compiler::compile(*ext, compilerOptions(compiler::EmitKind::None));
  if (!object)
    return object.takeError();
  Runnable run;
  run.entry = entry.str();
  linker::LinkRequest request;
  request.stateAddress = ImageAddress;
  request.inputs.push_back({spec.objectName + " (native)", object->elf});
  if (!spec.maps.empty()) {
    ArrayRef<uint8_t> runtime = linker::runtimeObject();
    request.inputs.push_back(
        {"eimc runtime", std::vector<uint8_t>(runtime.begin(), runtime.end())});
    run.initSymbols = {"eim_rt_init", object->mapsInitSymbol};
  }
  request.roots = run.initSymbols;
  request.roots.push_back(run.entry);
  Expected<linker::LinkedExtension> image = linker::link(request);
  if (!image)
    return image.takeError();
  run.image = std::move(*image);
  return run;
}

Outcome fail(const Twine &message) {
  return {OutcomeKind::Fail, message.str()};
}

/// A vector with `-- error` passes when any stage refuses it.
Outcome expectFailure(const TestVector &vector, Error err) {
  if (!err)
    return fail("expected failure '" + *vector.error + "' but it ran");
  return {OutcomeKind::Pass, toString(std::move(err))};
}

} // namespace

std::string entrySymbol() {
  return compiler::programSymbol(SymbolPrefix, ProgramName);
}

Expected<std::vector<uint8_t>> vectorProgram(const TestVector &vector) {
  if (vector.asmFirstLine == 0)
    return *vector.raw;
  Expected<std::vector<uint8_t>> code =
      assemble(vector.asmText, vector.name, vector.asmFirstLine);
  if (!code)
    return code.takeError();
  // Two encodings of one program: a cross-check of the assembler.
  if (vector.raw && *vector.raw != *code)
    return makeMalformed(vector.name +
                         ": '-- asm' and '-- raw' encode different programs");
  return code;
}

Expected<Runnable> buildVector(StringRef name, ArrayRef<uint8_t> code) {
  Expected<bpfobject::ExtensionSpec> spec = makeSpec(name, code);
  if (!spec)
    return spec.takeError();
  return buildSpec(*spec, entrySymbol());
}

Expected<Runnable> buildObject(StringRef name, ArrayRef<uint8_t> elf,
                               StringRef program) {
  Expected<bpfobject::ExtensionSpec> spec = bpfobject::readObject(name, elf);
  if (!spec)
    return spec.takeError();
  if (none_of(spec->programs, [&](const bpfobject::Program &p) {
        return p.name == program;
      }))
    return makeMalformed(name + ": no program '" + program + "'");
  return buildSpec(*spec, compiler::programSymbol(SymbolPrefix, program));
}

Expected<std::string> emitAsm(StringRef name, ArrayRef<uint8_t> code) {
  Expected<bpfobject::ExtensionSpec> spec = makeSpec(name, code);
  if (!spec)
    return spec.takeError();
  Expected<verifier::VerifiedExtension> ext = verifySpec(*spec);
  if (!ext)
    return ext.takeError();
  return compiler::emitText(*ext, compilerOptions(compiler::EmitKind::Asm));
}

ArrayRef<SkipEntry> skipList() {
  static constexpr SkipEntry entries[] = {
      {"callx.data", "callx (indirect call) is not in RFC 9669 and eimc "
                     "does not support it; the reference runner leaves its "
                     "group off by default"}};
  return entries;
}

Outcome runVector(StringRef fileName, StringRef text,
                  unsigned timeoutSeconds) {
  StringRef base = sys::path::filename(fileName);
  for (const SkipEntry &skip : skipList())
    if (skip.fileName == base)
      return {OutcomeKind::Skip, skip.reason.str()};

  Expected<TestVector> vector = parseVector(base, text);
  if (!vector)
    return fail(toString(vector.takeError()));
  Expected<std::vector<uint8_t>> code = vectorProgram(*vector);
  if (!code)
    return vector->error ? expectFailure(*vector, code.takeError())
                         : fail(toString(code.takeError()));
  Expected<Runnable> run = buildVector(base, *code);
  if (!run)
    return vector->error ? expectFailure(*vector, run.takeError())
                         : fail(toString(run.takeError()));
  Expected<Execution> result = execute(*run, vector->memory, timeoutSeconds);
  if (vector->error)
    return expectFailure(*vector, result.takeError());
  if (!result)
    return fail(toString(result.takeError()));
  if (!vector->result)
    return fail("no '-- result' section");
  if (result->r0 != *vector->result)
    return fail("r0 = 0x" + utohexstr(result->r0, /*LowerCase=*/true) +
                ", expected 0x" +
                utohexstr(*vector->result, /*LowerCase=*/true));
  return {OutcomeKind::Pass, ""};
}

} // namespace eimc::conformance
