/* real.c: libc's own functions behind the hooks, resolved once.
 * Layer: hook.
 *
 * Shared library (LD_PRELOAD or linked): each symbol is looked up in libc
 * itself (dlopen("libc.so.6", RTLD_NOLOAD) then dlsym), not with
 * RTLD_NEXT, which can land on another interposer's stub or a PLT entry
 * (USERS.md, hook plumbing); RTLD_NEXT is the fallback for a libc with
 * another name. Under ThreadSanitizer it is the other way round: TSan's
 * own interceptors of these calls must see them (they model the
 * synchronisation that passes through fds), and the hooks must be loaded
 * in front of TSan (LD_PRELOAD, or the static archive): behind its
 * interceptors, the hooks would run inside TSan's "blocking call" scope,
 * where it ignores every lock and atomic (its ignore_interceptors), and
 * it would report races in the hooks and in corun that are not there.
 * RTLD_NEXT then finds TSan's interceptor, which calls libc's function.
 * Static archive (CORUN_HOOK_STATIC): the hooks' own
 * definitions replace libc's at link time, so the real calls are made
 * with syscall(2) instead (name resolution and fclose are not hooked
 * there: libc's own cannot be reached once replaced).
 *
 * Locking: pthread_once. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook/hook.h"

static struct corun__real real;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#ifndef CORUN_HOOK_STATIC

static void *libc_handle;

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define NEXT_FIRST 1 /* TSan's interceptors, then libc (see above) */
#else
#define NEXT_FIRST 0
#endif

static void *find(const char *name) {
  void *f = NEXT_FIRST ? dlsym(RTLD_NEXT, name) : NULL;
  if (!f && libc_handle)
    f = dlsym(libc_handle, name);
  if (!f)
    f = dlsym(RTLD_NEXT, name);
  if (!f) {
    fprintf(stderr, "corun hook: libc has no %s\n", name);
    abort(); /* a hook without its function cannot behave as libc */
  }
  return f;
}

#define FIND(name) *(void **)&real.name = find(#name)

static void resolve(void) {
  libc_handle = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  FIND(socket);
  FIND(socketpair);
  FIND(accept);
  FIND(accept4);
  FIND(connect);
  FIND(read);
  FIND(readv);
  FIND(recv);
  FIND(recvfrom);
  FIND(recvmsg);
  FIND(write);
  FIND(writev);
  FIND(send);
  FIND(sendto);
  FIND(sendmsg);
  FIND(pread);
  FIND(pwrite);
  FIND(poll);
  FIND(ppoll);
  FIND(select);
  FIND(sleep);
  FIND(usleep);
  FIND(nanosleep);
  FIND(close);
  FIND(shutdown);
  FIND(fcntl);
  FIND(ioctl);
  FIND(setsockopt);
  FIND(dup);
  FIND(dup2);
  FIND(dup3);
  FIND(getaddrinfo);
  FIND(gethostbyname);
  FIND(gethostbyname_r);
  FIND(fclose);
  FIND(sendfile);
}

#else /* CORUN_HOOK_STATIC: the system calls themselves */

static int s_socket(int d, int t, int p) {
  return (int)syscall(SYS_socket, d, t, p);
}
static int s_socketpair(int d, int t, int p, int sv[2]) {
  return (int)syscall(SYS_socketpair, d, t, p, sv);
}
static int s_accept4(int fd, struct sockaddr *sa, socklen_t *l, int fl) {
  return (int)syscall(SYS_accept4, fd, sa, l, fl);
}
static int s_accept(int fd, struct sockaddr *sa, socklen_t *l) {
  return s_accept4(fd, sa, l, 0);
}
static int s_connect(int fd, const struct sockaddr *sa, socklen_t l) {
  return (int)syscall(SYS_connect, fd, sa, l);
}
static ssize_t s_read(int fd, void *b, size_t n) {
  return syscall(SYS_read, fd, b, n);
}
static ssize_t s_readv(int fd, const struct iovec *v, int n) {
  return syscall(SYS_readv, fd, v, n);
}
static ssize_t s_recvfrom(int fd, void *b, size_t n, int fl,
                          struct sockaddr *sa, socklen_t *l) {
  return syscall(SYS_recvfrom, fd, b, n, fl, sa, l);
}
static ssize_t s_recv(int fd, void *b, size_t n, int fl) {
  return s_recvfrom(fd, b, n, fl, NULL, NULL);
}
static ssize_t s_recvmsg(int fd, struct msghdr *m, int fl) {
  return syscall(SYS_recvmsg, fd, m, fl);
}
static ssize_t s_write(int fd, const void *b, size_t n) {
  return syscall(SYS_write, fd, b, n);
}
static ssize_t s_writev(int fd, const struct iovec *v, int n) {
  return syscall(SYS_writev, fd, v, n);
}
static ssize_t s_sendto(int fd, const void *b, size_t n, int fl,
                        const struct sockaddr *sa, socklen_t l) {
  return syscall(SYS_sendto, fd, b, n, fl, sa, l);
}
static ssize_t s_send(int fd, const void *b, size_t n, int fl) {
  return s_sendto(fd, b, n, fl, NULL, 0);
}
static ssize_t s_sendmsg(int fd, const struct msghdr *m, int fl) {
  return syscall(SYS_sendmsg, fd, m, fl);
}
static ssize_t s_pread(int fd, void *b, size_t n, off_t o) {
  return syscall(SYS_pread64, fd, b, n, o);
}
static ssize_t s_pwrite(int fd, const void *b, size_t n, off_t o) {
  return syscall(SYS_pwrite64, fd, b, n, o);
}
/* ppoll(2) writes the time left into its timespec; libc's takes a const
 * one and passes the kernel a copy. */
static int s_ppoll(struct pollfd *p, nfds_t n, const struct timespec *ts,
                   const sigset_t *m) {
  struct timespec t;
  if (ts)
    t = *ts;
  return (int)syscall(SYS_ppoll, p, n, ts ? &t : NULL, m, (size_t)8);
}
static int s_poll(struct pollfd *p, nfds_t n, int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  return s_ppoll(p, n, ms < 0 ? NULL : &ts, NULL);
}
/* As glibc's select: a negative timeout is EINVAL, microseconds past a
 * second are carried into the seconds (pselect6 would refuse them), and
 * the time left comes back in *tv. */
static int s_select(int n, fd_set *r, fd_set *w, fd_set *e,
                    struct timeval *tv) {
  struct timespec ts, *tp = NULL;
  if (tv) {
    if (tv->tv_sec < 0 || tv->tv_usec < 0) {
      errno = EINVAL;
      return -1;
    }
    ts.tv_sec = tv->tv_usec / 1000000 > INT64_MAX - tv->tv_sec
                    ? INT64_MAX
                    : tv->tv_sec + tv->tv_usec / 1000000;
    ts.tv_nsec = (tv->tv_usec % 1000000) * 1000;
    tp = &ts;
  }
  int rc = (int)syscall(SYS_pselect6, n, r, w, e, tp, NULL);
  if (tv) {
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
  }
  return rc;
}
static int s_nanosleep(const struct timespec *req, struct timespec *rem) {
  return (int)syscall(SYS_nanosleep, req, rem);
}
/* As glibc's: the whole seconds left when interrupted, errno kept when
 * not. */
static unsigned s_sleep(unsigned s) {
  int saved = errno;
  struct timespec req = {(time_t)s, 0}, rem = {0, 0};
  if (s_nanosleep(&req, &rem) < 0)
    return (unsigned)rem.tv_sec;
  errno = saved;
  return 0;
}
static int s_usleep(useconds_t us) {
  struct timespec req = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  return s_nanosleep(&req, NULL);
}
static int s_close(int fd) {
  return (int)syscall(SYS_close, fd);
}
static int s_shutdown(int fd, int how) {
  return (int)syscall(SYS_shutdown, fd, how);
}
static int s_fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (cmd == F_GETOWN) { /* a process group's owner is negative, which
                          * syscall(2) would take for an error: as glibc */
    struct f_owner_ex o;
    if (syscall(SYS_fcntl, fd, F_GETOWN_EX, &o) == 0)
      return o.type == F_OWNER_PGRP ? -o.pid : o.pid;
  }
  return (int)syscall(SYS_fcntl, fd, cmd, arg);
}
static int s_ioctl(int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  return (int)syscall(SYS_ioctl, fd, req, arg);
}
static int s_setsockopt(int fd, int lv, int nm, const void *v, socklen_t l) {
  return (int)syscall(SYS_setsockopt, fd, lv, nm, v, l);
}
static ssize_t s_sendfile(int out, int in, off_t *off, size_t n) {
  return syscall(SYS_sendfile, out, in, off, n);
}
static int s_dup(int fd) {
  return (int)syscall(SYS_dup, fd);
}
static int s_dup3(int a, int b, int fl) {
  return (int)syscall(SYS_dup3, a, b, fl);
}
static int s_dup2(int a, int b) {
  if (a == b) /* dup3 refuses equal fds; dup2 checks a and returns it */
    return s_fcntl(a, F_GETFD) < 0 ? -1 : b;
  return s_dup3(a, b, 0);
}

static void resolve(void) {
  real = (struct corun__real){
      s_socket,  s_socketpair, s_accept,     s_accept4,  s_connect,
      s_read,    s_readv,      s_recv,       s_recvfrom, s_recvmsg,
      s_write,   s_writev,     s_send,       s_sendto,   s_sendmsg,
      s_pread,   s_pwrite,     s_poll,       s_ppoll,    s_select,
      s_sleep,   s_usleep,     s_nanosleep,  s_close,    s_shutdown,
      s_fcntl,   s_ioctl,      s_setsockopt, s_dup,      s_dup2,
      s_dup3,    NULL,         NULL,         NULL,       NULL,
      s_sendfile};
}

#endif

const struct corun__real *corun__real(void) {
  pthread_once(&once, resolve);
  return &real;
}
