//===- rewriter/RestoreRecord.h - What restore needs ------------*- C++ -*-===//
//
// Part of eimc. See Restore.cpp.
//
//===----------------------------------------------------------------------===//
//
// The writer's side of `eimc restore`: the byte ranges of the input that
// the output overwrites, encoded into the `.eimc.restore` section.
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_REWRITER_RESTORERECORD_H
#define EIMC_REWRITER_RESTORERECORD_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <vector>

namespace eimc::rewriter {

/// A range of the original file that the output overwrites in place.
struct RestoreRange {
  uint64_t offset = 0;
  uint64_t size = 0;
};

/// The `.eimc.restore` contents: \p original's size and SHA-256 and the
/// original bytes of each of \p ranges (each must lie inside \p original).
std::vector<uint8_t> encodeRestoreRecord(llvm::ArrayRef<uint8_t> original,
                                         llvm::ArrayRef<RestoreRange> ranges);

} // namespace eimc::rewriter

#endif // EIMC_REWRITER_RESTORERECORD_H
