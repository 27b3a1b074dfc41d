//===- core/Errors.cpp - Refusals versus malformed input ------------------===//
//
// Part of eimc. See eimc/Core/Errors.h.
//
//===----------------------------------------------------------------------===//

#include "eimc/Core/Errors.h"

#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace eimc {

char RefusalError::ID = 0;

void RefusalError::log(raw_ostream &os) const {
  os << Message;
  for (const std::string &line : Context)
    os << "\n>>> " << line;
}

std::error_code RefusalError::convertToErrorCode() const {
  return std::make_error_code(std::errc::operation_not_permitted);
}

Error makeRefusal(const Twine &message, std::vector<std::string> context) {
  return make_error<RefusalError>(message.str(), std::move(context));
}

Error makeMalformed(const Twine &message) {
  return createStringError(std::make_error_code(std::errc::invalid_argument),
                           message);
}

} // namespace eimc
