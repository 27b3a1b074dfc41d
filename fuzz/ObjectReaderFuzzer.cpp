//===- fuzz/ObjectReaderFuzzer.cpp - libFuzzer entry: object reader -------===//
//
// Part of eimc. Built only with -DEIMC_FUZZ=ON (see docs/verifier.md).
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes to bpfobject::readObject(), the first stage that
// sees untrusted input. The reader must return a spec or an error for any
// input: a crash, an ASan report, an abort from an unchecked llvm::Error or
// a hang is a bug. A spec it returns is also printed, since --emit=spec
// walks every decoded field. Does not verify: VerifierFuzzer.cpp does.
//
//===----------------------------------------------------------------------===//

#include "eimc/BpfObject/BpfObject.h"

#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::Expected<eimc::bpfobject::ExtensionSpec> spec =
      eimc::bpfobject::readObject("fuzz.bpf.o", llvm::ArrayRef(data, size));
  if (!spec) {
    llvm::consumeError(spec.takeError());
    return 0;
  }
  (void)eimc::bpfobject::toString(*spec);
  return 0;
}
