// Usage: gate-walk IMAGE WALK
//
// Jumps to every byte offset of each gate range listed in WALK (lines
// `NAME MODE START END`, offsets into IMAGE; Inputs/extract-gates.py cuts
// both from a rewritten host) with hostile EAX/ECX/EDX, starting with the
// key revoked as host code always runs, and classifies what happens: the
// code reaches the landing in host code with the key revoked ("closed"),
// faults (SIGSEGV, SIGILL, SIGTRAP, SIGBUS, or dies of one: see below) or
// loops (SIGALRM after 50 ms). Reaching the landing with key 1 accessible
// is a violation: host code would run with extension state open. IMAGE is
// mapped as one block at any address, so code keeps its distances to the
// gate page (whose `active` word is 1) and to eimc's code. MODE `call`
// enters by a call (the range ends in a patched `ret`); MODE `stub` enters
// with a host-call stub's stack, two saved registers above a return
// address into host code.
//
// Some paths write a PKRU that also revokes key 0, i.e. all ordinary
// memory (`or $0x31, %al` then `leave` and the gate's WRPKRU, from inside a
// close gate): no signal can be delivered then, and the process dies. So
// the attempts run in a child process that resumes after such a death; the
// landing checks PKRU using registers only and, if key 0 is revoked, exits
// with a status that says whether key 1 was open.
//
// Prints per name the counts; exits 1 on any violation.
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
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

// Exit statuses of a child whose landing found key 0 revoked.
enum { LandedClosed = 100, LandedOpen = 101 };

// Jumps to \p Target with the given EAX/ECX/EDX and a return address (the
// landing, label 1) on the stack, under two zero words if StubStack. A
// misdecoded byte may do anything to the registers and the stack (`leave`
// is c9, the second byte of `xor %ecx,%ecx`; a REX prefix turns an
// instruction into one on r8-r15), so: every callee-saved register and
// %rsp are saved in memory and restored at the landing; %rbp points at
// four more copies of the landing above the return address, so a `ret`
// after extra pops or a `leave` still lands there (and is judged like any
// other landing); and the direction flag is cleared again. A fault is
// delivered on the alternate signal stack.
static uintptr_t Saved[7]; // rsp, rbx, rbp, r12, r13, r14, r15
static long StubStack;
static __attribute__((noinline)) void enter(void *Target, uint32_t A,
                                            uint32_t C, uint32_t D) {
  __asm__ volatile("mov %%rsp, 0+%[saved]\n\t"
                   "mov %%rbx, 8+%[saved]\n\t"
                   "mov %%rbp, 16+%[saved]\n\t"
                   "mov %%r12, 24+%[saved]\n\t"
                   "mov %%r13, 32+%[saved]\n\t"
                   "mov %%r14, 40+%[saved]\n\t"
                   "mov %%r15, 48+%[saved]\n\t"
                   "lea 1f(%%rip), %%rdi\n\t"
                   "push %%rdi\n\t"
                   "push %%rdi\n\t"
                   "push %%rdi\n\t"
                   "push %%rdi\n\t"
                   "mov %%rsp, %%rbp\n\t"
                   "push %%rdi\n\t"
                   "cmpq $0, %[stub]\n\t"
                   "je 2f\n\t"
                   "pushq $0\n\t"
                   "pushq $0\n"
                   "2:\n\t"
                   "jmp *%%rsi\n"
                   // The landing: registers only until PKRU is known to
                   // allow key 0 (AD|WD of key 0 are bits 0-1).
                   "1:\n\t"
                   "xorl %%ecx, %%ecx\n\t"
                   ".byte 0x0f, 0x01, 0xee\n\t" // rdpkru
                   "testl $3, %%eax\n\t"
                   "jz 3f\n\t"
                   "movl $100, %%edi\n\t" // LandedClosed
                   "testl $4, %%eax\n\t"  // AD of key 1
                   "jnz 4f\n\t"
                   "movl $101, %%edi\n" // LandedOpen
                   "4:\n\t"
                   "movl $231, %%eax\n\t" // exit_group
                   "syscall\n"
                   "3:\n\t"
                   "cld\n\t"
                   "mov 0+%[saved], %%rsp\n\t"
                   "mov 8+%[saved], %%rbx\n\t"
                   "mov 16+%[saved], %%rbp\n\t"
                   "mov 24+%[saved], %%r12\n\t"
                   "mov 32+%[saved], %%r13\n\t"
                   "mov 40+%[saved], %%r14\n\t"
                   "mov 48+%[saved], %%r15"
                   : "+a"(A), "+c"(C), "+d"(D), "+S"(Target),
                     [saved] "=m"(Saved)
                   : [stub] "m"(StubStack)
                   : "memory", "cc", "rdi", "r8", "r9", "r10", "r11");
}

// Shared with the children: counts, and the next attempt of the range.
struct Counts {
  char Name[64];
  unsigned Bytes, Closed, Faulted, Looped, Violations;
};
struct Shared {
  struct Counts All[16];
  long Next;
};

static const uint32_t Others[] = {0, 1, 0xffffffff};

// Runs attempts Shared->Next.. of the range [Start, End); one attempt is
// an offset and one of 36 register combinations.
static void walk(struct Shared *Sh, struct Counts *C, unsigned char *Image,
                 const char *Name, long Start, long End, uint32_t Closed,
                 const uint32_t *Eaxes) {
  for (; Sh->Next < (End - Start) * 36; Sh->Next++) {
    long Off = Start + Sh->Next / 36;
    unsigned A = Sh->Next % 36 / 9, X = Sh->Next % 9 / 3, D = Sh->Next % 3;
    writePkru(Closed);
    Outcome = 0;
    if (!sigsetjmp(Escape, 1)) {
      struct itimerval T = {{0, 0}, {0, 50000}};
      setitimer(ITIMER_REAL, &T, 0);
      enter(Image + Off, Eaxes[A], Others[X], Others[D]);
    }
    struct itimerval Off0 = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &Off0, 0);
    uint32_t Now = readPkru();
    writePkru(Closed);
    if (Outcome == SIGALRM) {
      C->Looped++;
    } else if (Outcome) {
      C->Faulted++;
    } else if ((Now & (1u << 2)) == 0) {
      C->Violations++;
      printf("violation: %s offset %ld eax=%#x ecx=%#x edx=%#x\n", Name,
             Off - Start, Eaxes[A], Others[X], Others[D]);
      fflush(stdout);
    } else {
      C->Closed++;
    }
  }
}

int main(int Argc, char **Argv) {
  FILE *F = fopen(Argv[1], "rb");
  fseek(F, 0, SEEK_END);
  long Size = ftell(F);
  fseek(F, 0, SEEK_SET);
  unsigned char *Image =
      mmap(0, (Size + 4095) & ~4095L, PROT_READ | PROT_WRITE | PROT_EXEC,
           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (fread(Image, 1, Size, F) != (size_t)Size)
    return 2;
  fclose(F);
  struct Shared *Sh = mmap(0, sizeof *Sh, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  memset(Sh, 0, sizeof *Sh);
  int Key = pkey_alloc(0, 0);
  if (Key != 1) {
    printf("pkey_alloc: %d (need key 1)\n", Key);
    return 2;
  }
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
  // EAX values that would grant key 1. Values that revoke key 0 are left
  // out: they would only add deaths (see above).
  const uint32_t Eaxes[] = {0, Closed & ~(3u << (2 * Key)), 0x55555550,
                            Closed};
  unsigned N = 0, Total = 0;
  char Name[64], Mode[16];
  long Start, End;
  F = fopen(Argv[2], "r");
  while (fscanf(F, "%63s %15s %ld %ld", Name, Mode, &Start, &End) == 4) {
    if (!N || strcmp(Sh->All[N - 1].Name, Name))
      strcpy(Sh->All[N++].Name, Name);
    struct Counts *C = &Sh->All[N - 1];
    StubStack = !strcmp(Mode, "stub");
    C->Bytes += End - Start;
    Sh->Next = 0;
    fflush(stdout);
    while (Sh->Next < (End - Start) * 36) {
      pid_t Pid = fork();
      if (!Pid) {
        walk(Sh, C, Image, Name, Start, End, Closed, Eaxes);
        fflush(stdout);
        _exit(0);
      }
      int Status;
      waitpid(Pid, &Status, 0);
      if (WIFEXITED(Status) && WEXITSTATUS(Status) == 0)
        break;
      // The child died in attempt Sh->Next: judged by how.
      if (WIFEXITED(Status) && WEXITSTATUS(Status) == LandedOpen) {
        C->Violations++;
        printf("violation: %s attempt %ld (key 0 revoked too)\n", Name,
               Sh->Next);
      } else if (WIFEXITED(Status) && WEXITSTATUS(Status) == LandedClosed) {
        C->Closed++;
      } else {
        C->Faulted++;
      }
      Sh->Next++;
    }
  }
  fclose(F);
  for (unsigned I = 0; I < N; ++I) {
    struct Counts *C = &Sh->All[I];
    printf("%s: %u bytes, %u attempts: closed %u, faulted %u, looped %u, "
           "violations %u\n",
           C->Name, C->Bytes, C->Bytes * 36, C->Closed, C->Faulted, C->Looped,
           C->Violations);
    Total += C->Violations;
  }
  return Total != 0;
}
