/* hook.h: what the hook layer's files share. Internal.
 * Layer: hook (uses the public API only, corun.h; nothing includes it).
 *
 * The hook layer interposes libc's blocking calls (libcorun_hook, as a
 * shared library for LD_PRELOAD or linking, or a static archive linked
 * with --whole-archive). Each hooked function
 *   - outside a task, or in a task that turned hooks off
 *     (corun_hooks_set), behaves exactly as libc's: it is libc's call,
 *     waited for in libc's poll where corun has made a socket
 *     non-blocking underneath (below);
 *   - inside a task, makes the call through corun's IO layer so that only
 *     the task parks, honouring the fd's O_NONBLOCK as the program set it,
 *     SO_RCVTIMEO/SO_SNDTIMEO, and setting errno as libc would.
 * tests/hook/conform.c holds them to that, call by call, in every mode.
 * corun's own IO layer makes its system calls through syscall(2), which
 * is not hooked; where it calls libc's functions (ASan and TSan builds,
 * positional vector IO) the task's hooks are off while a hook is inside
 * corun (corun_hooks_set), so those calls reach libc directly instead of
 * coming back here.
 *
 * Per-file state. corun keeps sockets it waits on in O_NONBLOCK mode; the
 * program's own view of the flag (set by socket(SOCK_NONBLOCK), accept4,
 * fcntl(F_SETFL), ioctl(FIONBIO)) is kept here, with the socket options'
 * timeouts, and fcntl(F_GETFL) reports that view. The program's F_SETFL
 * and FIONBIO reach the kernel as they are, except that an O_NONBLOCK
 * corun set underneath stays (corun_nb): a task parked in corun on the
 * file must never find it blocking when it resumes. So a socket the
 * program made non-blocking itself and then blocking again is blocking
 * for everybody (an exec'd program, stdio, unhooked calls), as with libc;
 * one a task used as blocking stays non-blocking in the kernel. The view
 * belongs to the open file, so dup'd fds share it as they share the
 * kernel's flag. A task that turned its hooks off still keeps the view up
 * to date (it may turn them on again, and libc's F_GETFL must not show
 * corun's flag); only corun's own calls (corun__hook_internal) pass
 * untouched. Outside a task, or with hooks off, a blocking call on an fd
 * that corun switched to O_NONBLOCK is completed by waiting in libc's
 * poll(2) (io.c), so it still blocks as the program expects, with the
 * kernel's own rules: a stream socket's blocking write writes everything,
 * MSG_WAITALL waits for the whole buffer, MSG_DONTWAIT never waits.
 *
 * Locking: the fd table's entries are written by the calls that make,
 * change or close the fd, as the kernel's own fd state is; atomics keep
 * concurrent readers well-defined. */
#ifndef CORUN_HOOK_HOOK_H
#define CORUN_HOOK_HOOK_H

#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

/* libc's own functions (real.c), resolved once, explicitly in libc. */
struct corun__real {
  int (*socket)(int, int, int);
  int (*socketpair)(int, int, int, int[2]);
  int (*accept)(int, struct sockaddr *, socklen_t *);
  int (*accept4)(int, struct sockaddr *, socklen_t *, int);
  int (*connect)(int, const struct sockaddr *, socklen_t);
  ssize_t (*read)(int, void *, size_t);
  ssize_t (*readv)(int, const struct iovec *, int);
  ssize_t (*recv)(int, void *, size_t, int);
  ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *,
                      socklen_t *);
  ssize_t (*recvmsg)(int, struct msghdr *, int);
  ssize_t (*write)(int, const void *, size_t);
  ssize_t (*writev)(int, const struct iovec *, int);
  ssize_t (*send)(int, const void *, size_t, int);
  ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *,
                    socklen_t);
  ssize_t (*sendmsg)(int, const struct msghdr *, int);
  ssize_t (*pread)(int, void *, size_t, off_t);
  ssize_t (*pwrite)(int, const void *, size_t, off_t);
  int (*poll)(struct pollfd *, nfds_t, int);
  int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *,
               const sigset_t *);
  int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
  unsigned (*sleep)(unsigned);
  int (*usleep)(useconds_t);
  int (*nanosleep)(const struct timespec *, struct timespec *);
  int (*close)(int);
  int (*shutdown)(int, int);
  int (*fcntl)(int, int, ...);
  int (*ioctl)(int, unsigned long, ...);
  int (*setsockopt)(int, int, int, const void *, socklen_t);
  int (*dup)(int);
  int (*dup2)(int, int);
  int (*dup3)(int, int, int);
  int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
                     struct addrinfo **);
  struct hostent *(*gethostbyname)(const char *);
  int (*gethostbyname_r)(const char *, struct hostent *, char *, size_t,
                         struct hostent **, int *);
  int (*fclose)(FILE *); /* (shared library only: stdio.c) */
  ssize_t (*sendfile)(int, int, off_t *, size_t);
};

/* The real functions, resolved at the first call of any hook. */
const struct corun__real *corun__real(void);

/* ---- per-fd state (fd.c) ---------------------------------------------- */

/* What the hooks know of one open file: what dup'd fds share, as they
 * share the kernel's file (its O_NONBLOCK) and socket (its timeouts).
 * Atomic fields: one thread may change an option while another is in a
 * call on the file, as with the kernel's own. */
#define CORUN__HOOK_REGULAR (-1) /* a regular file or block device */
struct corun__hookfile {
  _Atomic int refs;         /* fds naming it */
  _Atomic int type;         /* a socket's SOCK_STREAM, SOCK_DGRAM, ... (> 0);
                               CORUN__HOOK_REGULAR; 0 anything else */
  _Atomic int domain;       /* a socket's AF_INET, AF_UNIX, ... */
  _Atomic int nonblock;     /* the program's O_NONBLOCK */
  _Atomic int corun_nb;     /* corun made it O_NONBLOCK underneath (or is
                               about to): the program's F_SETFL and FIONBIO
                               leave that flag in the kernel */
  _Atomic int flags_lock;   /* held across a change of the kernel's flags
                               by the hooks (corun__hookfile_lock) */
  _Atomic int64_t rcvtimeo; /* SO_RCVTIMEO: ns; 0 none; <0 do not wait */
  _Atomic int64_t sndtimeo; /* SO_SNDTIMEO, the same way */
  struct corun__hookfile *next_free; /* on fd.c's free list */
};

/* fd's file, found out from the kernel the first time (NULL: fd not open,
 * out of range, or no memory: the hooks then call libc). An fd closed by
 * another thread meanwhile may show another file's state: only a program
 * that races close with use can tell, and the kernel would have given it
 * EBADF or another file too. */
struct corun__hookfile *corun__hookfd(int fd);
/* Records a new fd as made by the program: domain and type as in
 * corun__hookfile, nonblock its own flag. */
void corun__hookfd_new(int fd, int domain, int type, int nonblock);
/* flags_lock (a spin lock held across one or two fcntl calls; a forked
 * child finds every one free: fd.c). */
void corun__hookfile_lock(struct corun__hookfile *f);
void corun__hookfile_unlock(struct corun__hookfile *f);
/* Reads fd's socket timeouts from the kernel into its state: for a socket
 * that may have them from birth (TCP copies a listener's to the sockets
 * it accepts; AF_UNIX does not). */
void corun__hookfd_timeouts(int fd);
/* Forgets fd (closed). */
void corun__hookfd_drop(int fd);
/* `to` now names the same file as `from` (dup, dup2, dup3, F_DUPFD). */
void corun__hookfd_dup(int from, int to);
/* A socket timeout as the kernel reads it (sock_set_timeout): 0 none,
 * <0 do not wait (a negative tv_sec), else ns. tv must be valid. */
int64_t corun__hook_timeo(const struct timeval *tv);

/* Before a hook's call through corun on fd (file f), where the program's
 * view is blocking: from now on the file is non-blocking underneath, and
 * the program's F_SETFL and FIONBIO leave it so. The first time, it makes
 * sure of the kernel's flag: corun may have prepared the fd while it was
 * non-blocking by the program's own doing (a poll), which the program has
 * since undone. The mark and that flag change happen under the file's
 * flags_lock, as set_fl's look at the mark and its own change do: so no
 * F_SETFL of the program's can clear the flag between the mark and the
 * task's system call, which would then block its worker. */
void corun__hook_corun_nb_slow(struct corun__hookfile *f, int fd);
static inline void corun__hook_corun_nb(struct corun__hookfile *f, int fd) {
  if (!atomic_load_explicit(&f->corun_nb, memory_order_relaxed))
    corun__hook_corun_nb_slow(f, fd);
}

/* ---- entering corun from a hook --------------------------------------- */

/* Nonzero if the call should go through corun: inside a task whose hooks
 * are on. Then the task's hooks are off until corun__hook_leave, so
 * corun's own libc calls are not hooked again. */
int corun__hook_enter(void);
void corun__hook_leave(void);

/* A call that goes to libc should still block as libc's would, although
 * corun may have made the fd non-blocking: outside a task, or in a task
 * that turned its hooks off. Not when corun itself makes the call (then
 * it wants EAGAIN). */
int corun__hook_emulate_blocking(void);

/* corun itself makes this call (CORUN__LIBC): libc's, untouched, and the
 * program's view of the fd is left as it is. */
int corun__hook_internal(void);

/* In a task that turned its hooks off (a worker thread): a blocking
 * socket's libc call is then made non-blocking underneath and completed
 * in libc's poll, as outside a task on a socket corun has made
 * non-blocking. The reason is io_uring: each completion of a request a
 * worker submitted interrupts that worker (task_work with TWA_SIGNAL,
 * TIF_NOTIFY_SIGNAL), and the kernel ends a blocking socket call it
 * interrupts with EINTR when the socket has a timeout, and a MSG_WAITALL
 * read or a long stream write with what it had so far, where the same
 * call on a thread without a ring goes on; poll(2) is restarted instead.
 * Returns 1 if fd is non-blocking underneath now, 0 if not (not in such a
 * task, or fcntl failed). */
int corun__hook_off_nonblock(int fd);

/* The deadline of a call with a socket timeout `ns` (corun__hook_timeo)
 * from now: -1 none, 0 do not wait. */
int64_t corun__hook_deadline(int64_t ns);

/* ns from a seconds and a sub-second part (in units of `unit` ns),
 * saturating instead of overflowing. Both must be non-negative. */
int64_t corun__hook_ns(int64_t sec, int64_t sub, int64_t unit);

/* errno, set and read on the thread the caller runs on now: after a call
 * that parks, a task may be on another worker thread, and a compiler may
 * keep &errno from before (glibc declares __errno_location const). */
void corun__hook_set_errno(int e);
int corun__hook_get_errno(void);

/* Stores a corun result (-errno) as libc would return it: -1 with errno,
 * else r (errno untouched). */
long corun__hook_ret(long r);

/* Waits in the calling task (hooks entered) until fd is ready in
 * direction dir (0 in, 1 out) or the deadline passes, on an epoll
 * instance of its own: for an fd on which another task already waits
 * through corun (which allows one waiter per direction). It may also
 * end early (every 100 ms, poll.c says why): the caller looks again.
 * Returns 0 or -errno (-ETIMEDOUT, -ECANCELED, ...). */
int corun__hook_wait_private(int fd, int dir, int64_t deadline);

/* Waits in the calling task (hooks entered) until fd is ready in
 * direction dir: corun's wait, or a private one (above) when another task
 * already waits on it through corun. Returns 0 or -errno. */
int corun__hook_wait_task(int fd, int dir, int64_t deadline);

/* Waits in libc's poll (outside a task, or with hooks off) until fd is
 * ready in direction dir or the deadline passes: 0, or -EAGAIN once the
 * deadline has passed, or poll's -errno. A signal handler that ran ends
 * the wait with -EINTR as it ends the kernel's blocking socket call: when
 * the socket has a timeout (a deadline), or when the handler has no
 * SA_RESTART (as no handler can be told from another, unless every one
 * has it); else the wait goes on. */
int corun__hook_wait_outside(int fd, int dir, int64_t deadline);

#endif
