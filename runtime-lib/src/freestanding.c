/*===- freestanding.c - The few libc pieces the runtime needs ----*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/design.md, "Runtime".                               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * memcpy, memset, memmove and memcmp, hidden, because LLVM emits calls to
 * them from compiled eBPF programs (struct copies, zeroing of stack
 * buffers) and from this runtime itself, and the rewritten host's libc
 * cannot be used: its symbols are not resolvable from the blob, and the
 * blob may run before libc is initialized. Plus the one-line fatal-error
 * path the start-up and the shadow stack share.
 *
 * The loops stay loops: the runtime is built with -fno-builtin, which
 * stops LLVM from turning them back into calls to themselves. Byte loops
 * are enough: copies here are tens of bytes (records, comm, strings).
 */

#include "rt_internal.h"

void *memcpy(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  for (size_t i = 0; i < n; ++i)
    d[i] = s[i];
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  unsigned char *d = dst;
  for (size_t i = 0; i < n; ++i)
    d[i] = (unsigned char)c;
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  // Copy backwards when dst overlaps the tail of src.
  if (d > s && d < s + n) {
    for (size_t i = n; i > 0; --i)
      d[i - 1] = s[i - 1];
    return dst;
  }
  for (size_t i = 0; i < n; ++i)
    d[i] = s[i];
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a;
  const unsigned char *y = b;
  for (size_t i = 0; i < n; ++i)
    if (x[i] != y[i])
      return x[i] < y[i] ? -1 : 1;
  return 0;
}

size_t eim_format_u64(char *buf, uint64_t v) {
  char tmp[21];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; ++i)
    buf[i] = tmp[n - 1 - i];
  return n;
}

/* Appends \p s to the line being built, truncating at \p cap. */
static size_t append(char *line, size_t len, size_t cap, const char *s) {
  while (*s && len < cap)
    line[len++] = *s++;
  return len;
}

void eim_fatal(const char *what, const char *detail, long err) {
  /* One write() so that concurrent output cannot split the line. */
  char line[256];
  const size_t cap = sizeof(line) - 1;
  size_t len = append(line, 0, cap, "eimc: runtime: ");
  len = append(line, len, cap, what);
  if (*detail || err)
    len = append(line, len, cap, " (");
  len = append(line, len, cap, detail);
  if (err) {
    char num[21];
    num[eim_format_u64(num, (uint64_t)-err)] = '\0';
    len = append(line, len, cap, *detail ? ": errno " : "errno ");
    len = append(line, len, cap, num);
  }
  if (*detail || err)
    len = append(line, len, cap, ")");
  line[len++] = '\n';
  eim_syscall3(EIM_SYS_WRITE, 2, (long)line, (long)len);
  for (;;)
    eim_syscall3(EIM_SYS_EXIT_GROUP, EIM_EXIT_FAILURE, 0, 0);
}
