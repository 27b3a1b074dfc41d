// Usage: gate-walk GATES.bin
//
// Jumps to every byte offset of a trampoline's two gates (the open gate's
// bytes directly followed by the close gate's, as in a trampoline whose
// extension run is left out; Inputs/extract-gates.py cuts them from a
// rewritten host) with hostile EAX/ECX/EDX, starting with the key revoked
// as host code always runs, and classifies what happens: the code reaches
// the landing `ret` with the key revoked ("closed"), faults (SIGSEGV,
// SIGILL, SIGTRAP, SIGBUS) or loops (SIGALRM after 50 ms). Reaching the
// landing with key 1 accessible is a violation: host code would run with
// extension state open. Prints the counts; exits 1 on any violation.
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

static sigjmp_buf Escape;
static volatile int Outcome;

static void onSignal(int Sig) {
  Outcome = Sig;
  siglongjmp(Escape, 1);
}

static uint32_t readPkru(void) {
  uint32_t Eax, Edx;
  __asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(Eax), "=d"(Edx) : "c"(0));
  return Eax;
}

static void writePkru(uint32_t V) {
  __asm__ volatile(".byte 0x0f, 0x01, 0xef" : : "a"(V), "c"(0), "d"(0));
}

// Calls \p Target with the given EAX/ECX/EDX. A misdecoded byte may move
// %rsp or %rbp (`leave` is c9, the second byte of `xor %ecx,%ecx`), so both
// are saved around the call and %rsp comes back from memory; a fault is
// delivered on the alternate signal stack.
static uintptr_t SavedSp;
static __attribute__((noinline)) void enter(void *Target, uint32_t A,
                                            uint32_t C, uint32_t D) {
  __asm__ volatile("push %%rbp\n\t"
                   "push %%rbx\n\t"
                   "mov %%rsp, %[sp]\n\t"
                   "call *%%rsi\n\t"
                   "mov %[sp], %%rsp\n\t"
                   "pop %%rbx\n\t"
                   "pop %%rbp"
                   : "+a"(A), "+c"(C), "+d"(D), [sp] "=m"(SavedSp)
                   : "S"(Target)
                   : "memory", "cc", "rdi", "r8", "r9", "r10", "r11");
}

int main(int Argc, char **Argv) {
  unsigned char Gates[4096];
  FILE *F = fopen(Argv[1], "rb");
  size_t Len = fread(Gates, 1, sizeof Gates - 1, F);
  fclose(F);
  int Key = pkey_alloc(0, 0);
  if (Key != 1) {
    printf("pkey_alloc: %d (need key 1)\n", Key);
    return 2;
  }
  unsigned char *Page = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(Page, 0xcc, 4096);
  memcpy(Page, Gates, Len);
  Page[Len] = 0xc3; // the landing: back to enter()
  static char AltStack[65536];
  stack_t Alt = {.ss_sp = AltStack, .ss_size = sizeof AltStack};
  sigaltstack(&Alt, 0);
  int Signals[] = {SIGSEGV, SIGILL, SIGTRAP, SIGBUS, SIGALRM};
  for (unsigned I = 0; I < sizeof Signals / sizeof *Signals; ++I) {
    struct sigaction Sa;
    memset(&Sa, 0, sizeof Sa);
    Sa.sa_handler = onSignal;
    Sa.sa_flags = SA_NODEFER | SA_ONSTACK;
    sigaction(Signals[I], &Sa, 0);
  }
  const uint32_t Closed = readPkru() | (3u << (2 * Key));
  // EAX values that would grant key 1. Values that revoke key 0 (all
  // ordinary memory, the stack included) are left out: the process then
  // cannot even take the signal and dies, which is safe but ends the walk.
  const uint32_t Eaxes[] = {0, Closed & ~(3u << (2 * Key)), 0x55555550,
                            Closed};
  const uint32_t Others[] = {0, 1, 0xffffffff};
  unsigned Counts[4] = {0, 0, 0, 0}; // closed, fault, loop, violation
  for (size_t Off = 0; Off < Len; ++Off)
    for (unsigned A = 0; A < 4; ++A)
      for (unsigned C = 0; C < 3; ++C)
        for (unsigned D = 0; D < 3; ++D) {
          writePkru(Closed);
          Outcome = 0;
          if (!sigsetjmp(Escape, 1)) {
            struct itimerval T = {{0, 0}, {0, 50000}};
            setitimer(ITIMER_REAL, &T, 0);
            enter(Page + Off, Eaxes[A], Others[C], Others[D]);
          }
          struct itimerval Off0 = {{0, 0}, {0, 0}};
          setitimer(ITIMER_REAL, &Off0, 0);
          uint32_t Now = readPkru();
          if (Outcome == SIGALRM) {
            Counts[2]++;
          } else if (Outcome) {
            Counts[1]++;
          } else if ((Now & (1u << (2 * Key))) == 0) {
            Counts[3]++;
            printf("violation: offset %zu eax=%#x ecx=%#x edx=%#x\n", Off,
                   Eaxes[A], Others[C], Others[D]);
          } else {
            Counts[0]++;
          }
        }
  writePkru(Closed);
  printf("gate bytes: %zu, attempts: %zu\n", Len, Len * 36);
  printf("closed: %u, faulted: %u, looped: %u, violations: %u\n", Counts[0],
         Counts[1], Counts[2], Counts[3]);
  return Counts[3] != 0;
}
