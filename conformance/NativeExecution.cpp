//===- conformance/NativeExecution.cpp - Running a linked vector ----------===//
//
// Part of eimc. See eimc/Conformance/Conformance.h.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// execute(): maps a LinkedExtension at its link addresses in a forked
/// child and calls the vector's program there, as the rewritten host's
/// loader would map it (state pages read-write and zeroed, code pages
/// read-execute).
///
/// Why a child per vector: a wrong lowering can fault, loop or corrupt
/// the stack; in a child that is one failed vector with a reason (the
/// signal, or "timed out" via alarm()), and the runner goes on. The child
/// uses only async-signal-safe calls after fork (mmap, write, _exit) plus
/// the generated code, which calls nothing in conformance mode.
///
/// Protocol: the child writes r0 (8 bytes) and the final memory to a pipe
/// and exits 0; on a setup failure it writes a message and exits
/// ChildSetupFailed.
///
//===----------------------------------------------------------------------===//

#include "eimc/Conformance/Conformance.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/Twine.h"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace llvm;

namespace eimc::conformance {

namespace {

constexpr int ChildSetupFailed = 3;

using VectorFn = uint64_t (*)(void *mem, uint64_t len);
using InitFn = void (*)();

[[noreturn]] void childFail(int fd, const char *what) {
  std::string message = std::string(what) + ": " + strerror(errno);
  (void)!write(fd, message.data(), message.size());
  _exit(ChildSetupFailed);
}

/// Maps \p size bytes at exactly \p addr, never over an existing mapping.
bool mapFixed(uint64_t addr, uint64_t size, int prot) {
  void *p = mmap(reinterpret_cast<void *>(addr), size, prot,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  return p == reinterpret_cast<void *>(addr);
}

void writeAll(int fd, const void *data, size_t size) {
  const char *p = static_cast<const char *>(data);
  while (size) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    p += n;
    size -= size_t(n);
  }
}

[[noreturn]] void runChild(int fd, const linker::LinkedExtension &image,
                           uint64_t entry, ArrayRef<uint64_t> inits,
                           ArrayRef<uint8_t> memory, unsigned timeoutSeconds) {
  alarm(timeoutSeconds);
  if (image.stateSize &&
      !mapFixed(image.stateAddress, image.stateSize, PROT_READ | PROT_WRITE))
    childFail(fd, "cannot map the state pages");
  if (!mapFixed(image.codeAddress, image.code.size(), PROT_READ | PROT_WRITE))
    childFail(fd, "cannot map the code pages");
  memcpy(reinterpret_cast<void *>(image.codeAddress), image.code.data(),
         image.code.size());
  if (mprotect(reinterpret_cast<void *>(image.codeAddress), image.code.size(),
               PROT_READ | PROT_EXEC))
    childFail(fd, "cannot protect the code pages");
  // The program may write its input: give it a private copy.
  std::vector<uint8_t> copy(memory.begin(), memory.end());
  for (uint64_t init : inits)
    reinterpret_cast<InitFn>(init)();
  auto fn = reinterpret_cast<VectorFn>(entry);
  uint64_t r0 = fn(copy.empty() ? nullptr : copy.data(), copy.size());
  writeAll(fd, &r0, sizeof(r0));
  writeAll(fd, copy.data(), copy.size());
  _exit(0);
}

std::string describeStatus(int status, unsigned timeoutSeconds) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (sig == SIGALRM)
      return "timed out after " + std::to_string(timeoutSeconds) + " s";
    return "crashed with signal " + std::to_string(sig) + " (" +
           strsignal(sig) + ")";
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}


/// The runtime's start-up creates /dev/shm/eimc-<pid>.state; the child is
/// gone, so nobody will read it.
void removeStateFile(pid_t pid) {
  std::string path = "/dev/shm/eimc-" + std::to_string(pid) + ".state";
  unlink(path.c_str());
}

Expected<uint64_t> addressOf(const linker::LinkedExtension &image,
                             const std::string &symbol) {
  auto it = image.symbols.find(symbol);
  if (it == image.symbols.end())
    return makeMalformed("linked image has no '" + symbol + "'");
  return it->second;
}

} // namespace

Expected<Execution> execute(const Runnable &run, ArrayRef<uint8_t> memory,
                            unsigned timeoutSeconds) {
  Expected<uint64_t> entry = addressOf(run.image, run.entry);
  if (!entry)
    return entry.takeError();
  std::vector<uint64_t> inits;
  for (const std::string &symbol : run.initSymbols) {
    Expected<uint64_t> address = addressOf(run.image, symbol);
    if (!address)
      return address.takeError();
    inits.push_back(*address);
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC))
    return createStringError(std::error_code(errno, std::generic_category()),
                             "pipe");
  pid_t pid = fork();
  if (pid < 0)
    return createStringError(std::error_code(errno, std::generic_category()),
                             "fork");
  if (pid == 0) {
    close(fds[0]);
    runChild(fds[1], run.image, *entry, inits, memory, timeoutSeconds);
  }
  close(fds[1]);
  std::string output;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0 ||
         (n < 0 && errno == EINTR))
    if (n > 0)
      output.append(buf, size_t(n));
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!run.initSymbols.empty())
    removeStateFile(pid);
  if (WIFEXITED(status) && WEXITSTATUS(status) == ChildSetupFailed)
    return makeMalformed("child: " + output);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return makeMalformed("native code " +
                         describeStatus(status, timeoutSeconds));
  if (output.size() != sizeof(uint64_t) + memory.size())
    return makeMalformed("child returned " + Twine(output.size()) +
                         " bytes instead of r0 and the memory");
  Execution result;
  memcpy(&result.r0, output.data(), sizeof(result.r0));
  result.memory.assign(output.begin() + sizeof(uint64_t), output.end());
  return result;
}

} // namespace eimc::conformance
