//===- tools/eimc-rewrite/Sweep.cpp - Planning every .dynsym function -----===//
//
// Part of eimc. See Sweep.h.
//
//===----------------------------------------------------------------------===//
//
// The sweep answers "which functions of this binary can eimc hook, and why
// not the others" in one process (a process per function took minutes on
// python3.11). Refusals are counted by reason: the message with the
// function's own name, quoted instruction text and numbers blanked out, so
// "function 'a' is too short to hook (3 bytes: st_size)" and the same for
// 'b' with 4 bytes are one reason.
//
//===----------------------------------------------------------------------===//

#include "Sweep.h"

#include "llvm/ADT/StringExtras.h"

#include <map>

using namespace llvm;

namespace eimc {

/// The reason of \p message, a refusal of \p symbol: its name becomes `F`,
/// other quoted text `'...'`, every number (decimal or 0x hex) `N`.
static std::string reasonOf(StringRef symbol, StringRef message) {
  std::string reason;
  for (size_t i = 0; i < message.size();) {
    StringRef rest = message.drop_front(i);
    if (rest.starts_with("'")) {
      size_t close = rest.find('\'', 1);
      if (close != StringRef::npos) {
        reason += rest.slice(1, close) == symbol ? "'F'" : "'...'";
        i += close + 1;
        continue;
      }
    }
    if (isDigit(rest.front())) {
      size_t length = rest.starts_with("0x") ? 2 : 0;
      while (length < rest.size() && isHexDigit(rest[length]))
        ++length;
      reason += "N";
      i += length;
      continue;
    }
    reason += rest.front();
    ++i;
  }
  return reason;
}

Error printSweep(const rewriter::HostBinary &host, raw_ostream &os) {
  std::vector<std::string> symbols = host.dynamicFunctions();
  Expected<std::vector<rewriter::SweepEntry>> entries =
      rewriter::sweepFunctions(host, symbols);
  if (!entries)
    return entries.takeError();
  std::map<std::string, unsigned> refusedBy;
  unsigned hooked = 0;
  for (const rewriter::SweepEntry &entry : *entries) {
    if (entry.refusal.empty()) {
      os << "hooked " << entry.symbol << " " << entry.stolenBytes << "\n";
      ++hooked;
      continue;
    }
    os << "refused " << entry.symbol << ": " << entry.refusal << "\n";
    ++refusedBy[reasonOf(entry.symbol, entry.refusal)];
  }
  os << "functions: " << entries->size() << "\n";
  os << "hooked: " << hooked << "\n";
  os << "refused: " << entries->size() - hooked << "\n";
  for (const auto &[reason, count] : refusedBy)
    os << "  " << count << ": " << reason << "\n";
  return Error::success();
}

} // namespace eimc
