/*===- state_dir.c - The per-user state directory and its sweep --*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/design.md, "Runtime", "Shared state files".        *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * Where a process's state file lives and how state of exited processes is
 * removed. state.c creates the file; this file hands it the directory.
 *
 * Why a per-user directory, /dev/shm/eimc-<euid>/ (mode 0700): /dev/shm is
 * world-writable, so with flat /dev/shm/eimc-<pid>.state names any local
 * user could pre-create the next PID's file (or a directory by that name)
 * and make the host fail closed at start. Inside a directory that only its
 * owner can write, nobody else can create, replace or link names. The
 * directory itself is checked after opening it without following links:
 * it must be a directory, owned by our effective uid, with no group or
 * other permission bits. Another user can still create
 * /dev/shm/eimc-<our euid> first; the host then refuses to start (status
 * 70, naming the owner) instead of writing where that user can read: the
 * threat left is denial of service, never disclosure or tampering.
 *
 * Why liveness is an flock and not the PID: the runtime takes LOCK_EX on
 * the file before closing the descriptor; the lock belongs to the open
 * file description, which the MAP_SHARED mapping keeps alive, so the lock
 * is held exactly as long as some process maps the file (the host, or a
 * forked child of it) and is released by the kernel however the process
 * ends, even on SIGKILL. A free lock means "nobody writes this any more",
 * whatever became of the PID. Readers never take it (eimc events/maps map
 * the file without locking).
 *
 * Why the sweep runs at start-up: the runtime has no exit hook (no libc,
 * no atexit; a host may leave by exit_group from anywhere or by a signal),
 * and the file must outlive its process so a reader can drain the last
 * records. So each starting host removes, from its own user's directory,
 * the files whose lock is free and whose mtime is more than
 * EIM_STATE_SWEEP_GRACE seconds old (the ftruncate at creation sets it;
 * stores through the mapping need not update it, so read it as "created
 * at least"). The grace keeps a just-exited short
 * run's records readable while other hosts start (tests do exactly that).
 * `eimc maps gc` removes every dead file at once, without the grace.
 */

#include "rt_internal.h"

/* struct stat as the x86-64 kernel fills it (arch/x86/include/uapi/asm/
 * stat.h), only the fields used here named. */
struct eim_kstat {
  uint64_t dev, ino, nlink;
  uint32_t mode, uid, gid, pad0;
  uint64_t rdev;
  int64_t size, blksize, blocks;
  int64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
  int64_t unused[3];
};
_Static_assert(sizeof(struct eim_kstat) == 144, "x86-64 struct stat");

struct eim_dirent64 {
  uint64_t ino;
  int64_t off;
  uint16_t reclen;
  uint8_t type;
  char name[];
};

static const char DirFailed[] = "cannot use the shared state directory";

size_t eim_state_dir_path(char *buf, size_t cap, uint32_t uid) {
  static const char Prefix[] = EIM_STATE_DIR_PREFIX;
  size_t at = 0;
  for (const char *s = Prefix; *s && at + 1 < cap; ++s)
    buf[at++] = *s;
  char num[21];
  size_t n = eim_format_u64(num, uid);
  for (size_t i = 0; i < n && at + 1 < cap; ++i)
    buf[at++] = num[i];
  buf[at] = '\0';
  return at;
}

long eim_state_dir_open(uint32_t *uid_out) {
  uint32_t uid = (uint32_t)eim_syscall3(EIM_SYS_GETEUID, 0, 0, 0);
  char path[48];
  eim_state_dir_path(path, sizeof(path), uid);
  long r = eim_syscall3(EIM_SYS_MKDIRAT, EIM_AT_FDCWD, (long)path, 0700);
  if (r < 0 && r != -EIM_EEXIST)
    eim_fatal(DirFailed, path, r);
  long fd = eim_syscall6(EIM_SYS_OPENAT, EIM_AT_FDCWD, (long)path,
                         EIM_O_RDONLY | EIM_O_DIRECTORY | EIM_O_NOFOLLOW |
                             EIM_O_CLOEXEC,
                         0, 0, 0);
  if (fd < 0)
    eim_fatal(DirFailed, path, fd);
  struct eim_kstat st;
  r = eim_syscall3(EIM_SYS_FSTAT, fd, (long)&st, 0);
  if (r < 0)
    eim_fatal(DirFailed, path, r);
  /* Not ours, or open to others: refuse rather than share the records. */
  if (st.uid != uid || (st.mode & 077)) {
    char detail[96], num[21];
    size_t at = eim_state_dir_path(detail, sizeof(detail), uid);
    const char *why = st.uid != uid ? " is owned by uid " : " has mode ";
    while (*why && at + 1 < sizeof(detail))
      detail[at++] = *why++;
    uint64_t v = st.uid != uid ? st.uid : 0;
    size_t n = 0;
    if (st.uid != uid) {
      n = eim_format_u64(num, v);
    } else { /* octal, as ls and chmod show modes */
      uint32_t m = st.mode & 07777;
      for (int shift = 9; shift >= 0; shift -= 3)
        num[n++] = (char)('0' + ((m >> shift) & 7));
    }
    for (size_t i = 0; i < n && at + 1 < sizeof(detail); ++i)
      detail[at++] = num[i];
    detail[at] = '\0';
    eim_fatal("refusing the shared state directory", detail, 0);
  }
  *uid_out = uid;
  return fd;
}

/* \returns nonzero when \p name is "<digits>.state". */
static int is_state_name(const char *name) {
  const char *p = name;
  if (*p < '0' || *p > '9')
    return 0;
  while (*p >= '0' && *p <= '9')
    ++p;
  const char *suffix = ".state";
  while (*suffix && *p == *suffix)
    ++p, ++suffix;
  return !*suffix && !*p;
}

/* Removes \p name from \p dirfd when no process holds its lock and it is
 * older than the grace period (\p now in CLOCK_REALTIME seconds). */
static void sweep_one(long dirfd, const char *name, int64_t now) {
  long fd = eim_syscall6(EIM_SYS_OPENAT, dirfd, (long)name,
                         EIM_O_RDONLY | EIM_O_NOFOLLOW | EIM_O_CLOEXEC, 0, 0,
                         0);
  if (fd < 0)
    return;
  struct eim_kstat st;
  if (eim_syscall3(EIM_SYS_FSTAT, fd, (long)&st, 0) == 0 &&
      (st.mode & 0170000) == 0100000 &&
      st.mtime + EIM_STATE_SWEEP_GRACE <= now &&
      eim_syscall3(EIM_SYS_FLOCK, fd, EIM_LOCK_EX | EIM_LOCK_NB, 0) == 0)
    /* We hold the lock now, so no process can be writing; a new process
     * with this PID unlinks before creating, so removing is safe. */
    eim_syscall3(EIM_SYS_UNLINKAT, dirfd, (long)name, 0);
  eim_syscall3(EIM_SYS_CLOSE, fd, 0, 0);
}

void eim_state_sweep(long dirfd) {
  struct {
    int64_t sec, nsec;
  } now;
  if (eim_syscall3(EIM_SYS_CLOCK_GETTIME, EIM_CLOCK_REALTIME, (long)&now, 0))
    return;
  /* 4 KiB of entries per call; the directory holds one entry per live or
   * recently exited host of this user, so one or two calls. */
  _Alignas(8) char buf[4096];
  for (;;) {
    long n = eim_syscall3(EIM_SYS_GETDENTS64, dirfd, (long)buf, sizeof(buf));
    if (n <= 0)
      return;
    for (long at = 0; at < n;) {
      struct eim_dirent64 *d = (struct eim_dirent64 *)(buf + at);
      if (is_state_name(d->name))
        sweep_one(dirfd, d->name, now.sec);
      at += d->reclen;
    }
  }
}
