// Allocates a protection key, tags a page with it, revokes access and
// writes the page: with enforcement the write faults with SIGSEGV,
// si_code SEGV_PKUERR. Prints each step, so a run without protection keys
// says which step failed (exit 1) and a run whose write is not stopped
// says so (exit 2).
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void onSegv(int Sig, siginfo_t *Info, void *Ctx) {
  (void)Sig;
  (void)Ctx;
  const char *What = Info->si_code == SEGV_PKUERR ? "SEGV_PKUERR" : "other";
  char Line[80];
  int N = snprintf(Line, sizeof Line, "fault: SIGSEGV si_code=%s pkey=%u\n",
                   What, Info->si_pkey);
  write(1, Line, N);
  _exit(3);
}

int main(void) {
  unsigned A, B, C, D;
  __asm__("cpuid" : "=a"(A), "=b"(B), "=c"(C), "=d"(D) : "a"(7), "c"(0));
  printf("cpuid: pku=%u ospke=%u\n", (C >> 3) & 1, (C >> 4) & 1);
  int Key = pkey_alloc(0, 0);
  if (Key < 0) {
    printf("pkey_alloc: %s\n", strerror(errno));
    return 1;
  }
  printf("pkey_alloc: key %d\n", Key);
  char *Page = mmap(0, 4096, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pkey_mprotect(Page, 4096, PROT_READ | PROT_WRITE, Key) != 0) {
    printf("pkey_mprotect: %s\n", strerror(errno));
    return 1;
  }
  struct sigaction Sa = {0};
  Sa.sa_sigaction = onSegv;
  Sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &Sa, 0);
  Page[0] = 1;
  printf("write with access: ok\n");
  pkey_set(Key, PKEY_DISABLE_ACCESS);
  fflush(stdout);
  Page[1] = 1;
  printf("write without access: not stopped\n");
  return 2;
}
