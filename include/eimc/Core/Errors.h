//===- eimc/Core/Errors.h - Refusals versus malformed input -----*- C++ -*-===//
//
// Part of eimc. See docs/design.md.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// eimc's exit codes distinguish two kinds of failure (docs/cli.md):
///  1 - well-formed input refused (policy, verifier, unsupported helper,
///      unhookable site): a RefusalError;
///  2 - usage error, unreadable or malformed input: any other llvm::Error.
/// Libraries return a RefusalError where the input is fine but eimc will not
/// build it, so the driver can choose the exit code without parsing text.
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_CORE_ERRORS_H
#define EIMC_CORE_ERRORS_H

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace eimc {

/// Well-formed input that eimc refuses. \c context lines print as `>>> `.
class RefusalError : public llvm::ErrorInfo<RefusalError> {
public:
  static char ID;
  RefusalError(std::string message, std::vector<std::string> context = {})
      : Message(std::move(message)), Context(std::move(context)) {}
  void log(llvm::raw_ostream &os) const override;
  std::error_code convertToErrorCode() const override;
  /// The message without context lines.
  const std::string &reason() const { return Message; }
  const std::vector<std::string> &context() const { return Context; }

private:
  std::string Message;
  std::vector<std::string> Context;
};

/// Shorthand for a RefusalError.
llvm::Error makeRefusal(const llvm::Twine &message,
                        std::vector<std::string> context = {});

/// A malformed-input error (exit 2), as llvm::createStringError.
llvm::Error makeMalformed(const llvm::Twine &message);

} // namespace eimc

#endif // EIMC_CORE_ERRORS_H
