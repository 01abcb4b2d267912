/* sysfile.h: reading a small file of the kernel's (/proc, /sys) from
 * inside the runtime. Layer: base.
 *
 * The file is opened, read and closed with raw system calls, not libc's:
 * libc's are the program's (libcorun_hook's close() would look the fd up
 * in the event loop's records) and, under TSan, the sanitizer's, which
 * keeps an object per fd number and frees the previous one when a number
 * is opened again. That free raced, in TSan's model, with a test thread's
 * earlier use of the same number; the report symbolised through a close()
 * that was the hook, whose look at the records raced in turn, and the
 * nested report waited for a lock the first held: hook/conform_static
 * hung (tests/hang.sh's dump; the monitor's reads, sched/monitor.c). */
#ifndef CORUN_BASE_SYSFILE_H
#define CORUN_BASE_SYSFILE_H

#include <fcntl.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Reads up to size - 1 bytes of the file at `path` into buf (size >= 1)
 * and terminates them; returns how many, or -1 (the file is missing,
 * unreadable or empty). */
static inline long corun__sysfile_read(const char *path, char *buf,
                                       size_t size) {
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  long n = syscall(SYS_read, fd, buf, size - 1);
  syscall(SYS_close, fd);
  if (n <= 0)
    return -1;
  buf[n] = 0;
  return n;
}

#endif
