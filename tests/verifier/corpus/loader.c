/*===- tests/verifier/corpus/loader.c - Kernel verdicts for the corpus ---===//
 *
 * Part of eimc. See docs/verifier.md, "Corpus".
 *
 *===----------------------------------------------------------------------===//
 *
 * Loads each program of one eBPF object into the running kernel's verifier
 * with libbpf and prints one line per program:
 *
 *   NAME<TAB>VERDICT<TAB>ERRNO<TAB>FIRST ERROR LINE OF THE VERIFIER LOG
 *
 * VERDICT is `accept`, `reject` (the verifier's refusals: EACCES, EINVAL,
 * E2BIG, EFAULT) or `env` (anything that is not the verifier's word: EPERM,
 * ESRCH, ENOENT, ...). Each program is loaded alone (autoload off
 * for the others) from a freshly opened object, so one program's refusal
 * cannot hide another's verdict. libbpf loads SEC("uprobe") programs as
 * BPF_PROG_TYPE_KPROBE; `--socket-filter` loads them as
 * BPF_PROG_TYPE_SOCKET_FILTER instead, which a process without
 * CAP_PERFMON and CAP_SYS_ADMIN may still load (the kernel's unprivileged
 * rules: no uninitialised stack reads, no pointer leaks or comparisons).
 * `--skip=A,B` leaves programs A and B out (no line).
 * Nothing is attached or pinned. Built at test time by
 * scripts/verifier-corpus.py (cc loader.c -lbpf); never committed as a
 * binary.
 *
 *===----------------------------------------------------------------------===*/

#include <bpf/libbpf.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* BPF_LOG_STATS (4) without BPF_LOG_LEVEL1: the error and the statistics,
 * not the trace of every instruction (printing the trace of a 1M-instruction
 * path takes the kernel ~10 s). */
#define LOG_LEVEL 4
#define LOG_SIZE (1u << 20)

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap) {
  (void)level, (void)fmt, (void)ap;
  return 0;
}

/* Whether \p line follows the error rather than stating it: the
 * statistics BPF_LOG_STATS adds, the states of an infinite loop. */
static int isStats(const char *line) {
  return strncmp(line, "processed ", 10) == 0 ||
         strncmp(line, "old state: ", 11) == 0 ||
         strncmp(line, "cur state: ", 11) == 0 ||
         strncmp(line, "stack depth ", 12) == 0 ||
         strncmp(line, "verification time ", 18) == 0;
}

/* The verifier's own complaint: the last non-empty line that is not a
 * statistics line. */
static void errorLine(const char *log, char *out, size_t size) {
  const char *best = NULL, *bestEnd = NULL;
  const char *line = log;
  out[0] = 0;
  while (*line) {
    const char *end = strchr(line, '\n');
    if (!end)
      end = line + strlen(line);
    if (end > line && !isStats(line)) {
      best = line;
      bestEnd = end;
    }
    line = *end ? end + 1 : end;
  }
  if (!best)
    return;
  size_t n = (size_t)(bestEnd - best);
  if (n >= size)
    n = size - 1;
  memcpy(out, best, n);
  out[n] = 0;
  for (char *c = out; *c; ++c)
    if (*c == '\t')
      *c = ' ';
}

/* Whether \p name is an entry of the comma-separated \p list. */
static int isListed(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && strncmp(p, name, n) == 0)
      return 1;
    p += len + (end ? 1 : 0);
  }
  return 0;
}

static const char *verdictFor(int err) {
  if (err == 0)
    return "accept";
  /* Linux 6.18 answers "The sequence of 8193 jumps is too complex" with
   * EFAULT. */
  if (err == EACCES || err == EINVAL || err == E2BIG || err == EFAULT)
    return "reject";
  return "env";
}

/* Loads program number \p index of \p path alone; \returns 0 or errno. */
static int loadOne(const char *path, int index, int socketFilter, char *log,
                   const char **name) {
  struct bpf_object *obj = bpf_object__open_file(path, NULL);
  if (!obj)
    return errno ? errno : EINVAL;
  struct bpf_program *prog, *chosen = NULL;
  int i = 0;
  bpf_object__for_each_program(prog, obj) {
    if (i++ == index)
      chosen = prog;
    else
      bpf_program__set_autoload(prog, false);
  }
  static char nameBuf[256];
  snprintf(nameBuf, sizeof nameBuf, "%s", bpf_program__name(chosen));
  *name = nameBuf;
  if (socketFilter)
    bpf_program__set_type(chosen, BPF_PROG_TYPE_SOCKET_FILTER);
  log[0] = 0;
  bpf_program__set_log_buf(chosen, log, LOG_SIZE);
  bpf_program__set_log_level(chosen, LOG_LEVEL);
  int err = bpf_object__load(obj);
  bpf_object__close(obj);
  return err < 0 ? -err : 0;
}

/* Without a log: the verdict alone (a truncated log turns the kernel's
 * answer into ENOSPC, whatever the verifier decided). libbpf then loads a
 * failing program a second time with its own level-1 log: slow, but only
 * after an ENOSPC. */
static int loadQuiet(const char *path, int index, int socketFilter) {
  struct bpf_object *obj = bpf_object__open_file(path, NULL);
  if (!obj)
    return errno ? errno : EINVAL;
  struct bpf_program *prog;
  int i = 0;
  bpf_object__for_each_program(prog, obj) {
    if (i++ != index)
      bpf_program__set_autoload(prog, false);
    else if (socketFilter)
      bpf_program__set_type(prog, BPF_PROG_TYPE_SOCKET_FILTER);
  }
  int err = bpf_object__load(obj);
  bpf_object__close(obj);
  return err < 0 ? -err : 0;
}

int main(int argc, char **argv) {
  int socketFilter = 0;
  const char *skip = "";
  for (int a = 2; a < argc; ++a) {
    if (strcmp(argv[a], "--socket-filter") == 0)
      socketFilter = 1;
    else if (strncmp(argv[a], "--skip=", 7) == 0)
      skip = argv[a] + 7;
    else
      argc = 0;
  }
  if (argc < 2) {
    fprintf(stderr,
            "usage: loader OBJ [--socket-filter] [--skip=A,B]\n");
    return 2;
  }
  libbpf_set_print(quiet);
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj) {
    fprintf(stderr, "error: %s: cannot open: %s\n", argv[1], strerror(errno));
    return 2;
  }
  int count = 0;
  struct bpf_program *prog;
  static int skipped[4096];
  bpf_object__for_each_program(prog, obj) {
    if (count < 4096)
      skipped[count++] = isListed(skip, bpf_program__name(prog));
  }
  bpf_object__close(obj);

  char *log = malloc(LOG_SIZE);
  char line[512];
  for (int i = 0; i < count; ++i) {
    if (skipped[i])
      continue;
    const char *name = "?";
    int err = loadOne(argv[1], i, socketFilter, log, &name);
    errorLine(log, line, sizeof line);
    /* A log the kernel could not fit says nothing about the verdict. */
    if (err == ENOSPC)
      err = loadQuiet(argv[1], i, socketFilter);
    printf("%s\t%s\t%d\t%s\n", name, verdictFor(err), err,
           err ? line : "");
  }
  free(log);
  return 0;
}
