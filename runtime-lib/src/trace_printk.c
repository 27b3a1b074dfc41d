/*===- trace_printk.c - bpf_trace_printk into the trace ring -----*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/helpers.md and docs/cli.md.                         *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * bpf_trace_printk(fmt, fmt_size, a1, a2, a3) formats a line and appends
 * it to the process's trace ring in the shared state (eim_state.h), where
 * `eimc events --trace PID` reads it: the kernel's trace_pipe, per
 * process. Never the host's file descriptors: writing to fd 1 or 2 would
 * change what the host prints, and the host may have closed or reused
 * them.
 *
 * The format is checked as the kernel's bpf_bprintf_prepare checks it, and
 * refused with -EINVAL where the kernel refuses it: no NUL within
 * fmt_size; a byte that is neither printable ASCII nor white space; more
 * than three conversions; a conversion outside %d %i %u %x %X %c %s %p
 * (with optional flags "0+- " and a width, and l or ll for the integers)
 * and %%; %s followed by a letter or digit. The variants of %p eimc can
 * give meaning to are bare %p, %pK and %px (all print the raw address as
 * 16 hex digits: there is nothing to hide from the process's own owner)
 * and %pus (a user string, as %s); the others (%pks, %pB, %pi4, ...) need
 * kernel memory or symbols and are -EINVAL here.
 *
 * %s reads the string from user memory without faulting (as %pus; the
 * kernel's %s reads kernel memory, which a process does not have); an
 * unreadable string prints as empty. At most 1023 characters of the line
 * are kept, as in the kernel's 1 KiB buffer; the result is the length of
 * the whole formatted text. A full ring drops the line (counted in the
 * ring's `lost`) and the helper still succeeds, as the kernel's
 * overwriting trace buffer never reports.
 */

#include "rt_internal.h"

#define EIM_TRACE_LINE_MAX 1024u
#define EIM_TRACE_ARGS 3u
#define EIM_TRACE_STR_MAX 256u

struct out {
  char *buf;
  uint32_t len;  /* characters kept (< EIM_TRACE_LINE_MAX) */
  uint64_t full; /* characters produced */
};

static void emit(struct out *o, char c) {
  if (o->len + 1 < EIM_TRACE_LINE_MAX)
    o->buf[o->len++] = c;
  o->full++;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static int is_print(char c) { return c >= 0x20 && c < 0x7f; }

struct spec {
  int left, zero, plus, space;
  uint32_t width;
};

/* Emits \p text of \p n characters with \p sign, padded to the width. */
static void pad_emit(struct out *o, const struct spec *sp, const char *sign,
                     const char *text, uint32_t n) {
  uint32_t signLen = sign[0] ? 1 : 0;
  uint32_t total = n + signLen;
  uint32_t padding = sp->width > total ? sp->width - total : 0;
  if (!sp->left && !sp->zero)
    for (uint32_t i = 0; i < padding; ++i)
      emit(o, ' ');
  if (signLen)
    emit(o, sign[0]);
  if (!sp->left && sp->zero)
    for (uint32_t i = 0; i < padding; ++i)
      emit(o, '0');
  for (uint32_t i = 0; i < n; ++i)
    emit(o, text[i]);
  if (sp->left)
    for (uint32_t i = 0; i < padding; ++i)
      emit(o, ' ');
}

static uint32_t to_text(char *tmp, uint64_t v, unsigned base, int upper) {
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char rev[24];
  uint32_t n = 0;
  do {
    rev[n++] = digits[v % base];
    v /= base;
  } while (v);
  for (uint32_t i = 0; i < n; ++i)
    tmp[i] = rev[n - 1 - i];
  return n;
}

static void emit_string(struct out *o, const struct spec *sp, uint64_t addr) {
  char s[EIM_TRACE_STR_MAX];
  long r =
      (long)eim_helper_probe_read_user_str((uint64_t)s, sizeof(s), addr, 0, 0);
  uint32_t n = r > 0 ? (uint32_t)r - 1 : 0;
  pad_emit(o, sp, "", s, n);
}

/* Formats into \p o; \returns 0 or -EINVAL (the kernel's refusals). */
static long format(struct out *o, const char *fmt, uint64_t fmtSize,
                   const uint64_t *args) {
  uint64_t end = 0;
  while (end < fmtSize && fmt[end])
    ++end;
  if (end == fmtSize)
    return -EIM_EINVAL; /* no NUL within fmt_size */
  /* The kernel checks the whole format before printing anything. */
  for (uint64_t i = 0; i < end; ++i)
    if (!is_print(fmt[i]) && !is_space(fmt[i]))
      return -EIM_EINVAL;
  uint32_t used = 0;
  for (uint64_t i = 0; i < end; ++i) {
    if (fmt[i] != '%') {
      emit(o, fmt[i]);
      continue;
    }
    if (fmt[i + 1] == '%') {
      emit(o, '%');
      ++i;
      continue;
    }
    if (used == EIM_TRACE_ARGS)
      return -EIM_EINVAL;
    uint64_t arg = args[used++];
    struct spec sp = {0, 0, 0, 0, 0};
    ++i;
    for (;; ++i) {
      if (fmt[i] == '0')
        sp.zero = 1;
      else if (fmt[i] == '-')
        sp.left = 1;
      else if (fmt[i] == '+')
        sp.plus = 1;
      else if (fmt[i] == ' ')
        sp.space = 1;
      else
        break;
    }
    while (is_digit(fmt[i]) && sp.width < 1000)
      sp.width = sp.width * 10 + (uint32_t)(fmt[i++] - '0');
    if (is_digit(fmt[i]))
      return -EIM_EINVAL;
    char c = fmt[i];
    char tmp[24];
    if (c == 'c') {
      tmp[0] = (char)arg;
      pad_emit(o, &sp, "", tmp, 1);
      continue;
    }
    if (c == 's') {
      if (fmt[i + 1] && is_alnum(fmt[i + 1]))
        return -EIM_EINVAL;
      emit_string(o, &sp, arg);
      continue;
    }
    if (c == 'p') {
      char next = fmt[i + 1];
      if (next == 'u' && fmt[i + 2] == 's') {
        if (fmt[i + 3] && is_alnum(fmt[i + 3]))
          return -EIM_EINVAL;
        i += 2;
        emit_string(o, &sp, arg);
        continue;
      }
      if (next == 'K' || next == 'x')
        ++i;
      else if (next && is_alnum(next))
        return -EIM_EINVAL;
      uint32_t n = to_text(tmp, arg, 16, 0);
      struct spec ptr = sp;
      if (ptr.width == 0) {
        ptr.width = 16;
        ptr.zero = 1;
      }
      pad_emit(o, &ptr, "", tmp, n);
      continue;
    }
    unsigned longs = 0;
    while (fmt[i] == 'l' && longs < 2) {
      ++longs;
      ++i;
    }
    c = fmt[i];
    if (longs == 0)
      arg = (c == 'd' || c == 'i') ? (uint64_t)(int64_t)(int32_t)arg
                                   : (uint32_t)arg;
    if (c == 'd' || c == 'i') {
      int64_t v = (int64_t)arg;
      const char *sign = v < 0 ? "-" : sp.plus ? "+" : sp.space ? " " : "";
      uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
      pad_emit(o, &sp, sign, tmp, to_text(tmp, mag, 10, 0));
    } else if (c == 'u') {
      pad_emit(o, &sp, "", tmp, to_text(tmp, arg, 10, 0));
    } else if (c == 'x' || c == 'X') {
      pad_emit(o, &sp, "", tmp, to_text(tmp, arg, 16, c == 'X'));
    } else {
      return -EIM_EINVAL;
    }
  }
  return 0;
}

uint64_t eim_helper_trace_printk(uint64_t fmt, uint64_t fmt_size, uint64_t arg1,
                                 uint64_t arg2, uint64_t arg3) {
  struct {
    struct eim_trace_record rec;
    char text[EIM_TRACE_LINE_MAX];
  } line;
  memset(&line.rec, 0, sizeof(line.rec));
  uint64_t args[EIM_TRACE_ARGS] = {arg1, arg2, arg3};
  struct out o = {line.text, 0, 0};
  long r = format(&o, (const char *)fmt, fmt_size, args);
  if (r < 0)
    return (uint64_t)(int64_t)r;
  struct eim_state_header *h = eim_rt.state;
  if (h && h->trace_offset) {
    line.rec.ns = eim_helper_ktime_get_ns(0, 0, 0, 0, 0);
    line.rec.tid = (uint32_t)eim_syscall3(EIM_SYS_GETTID, 0, 0, 0);
    line.rec.slot = eim_thread_slot();
    eim_syscall3(EIM_SYS_PRCTL, EIM_PR_GET_NAME, (long)line.rec.comm, 0);
    struct eim_perf_ring *ring =
        (struct eim_perf_ring *)((uint8_t *)h + h->trace_offset);
    eim_ring_write(ring, h->trace_ring_size, (const uint8_t *)&line,
                   sizeof(line.rec) + o.len);
  }
  return o.full;
}
