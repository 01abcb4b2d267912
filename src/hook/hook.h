/* hook.h: what the hook layer's files share. Internal.
 * Layer: hook (uses the public API only, corun.h; nothing includes it).
 *
 * The hook layer interposes libc's blocking calls (libcorun_hook, as a
 * shared library for LD_PRELOAD or linking, or a static archive linked
 * with --whole-archive). Each hooked function
 *   - outside a task, or in a task that turned hooks off
 *     (corun_hooks_set), calls libc's own function: exactly libc;
 *   - inside a task, makes the call through corun's IO layer so that only
 *     the task parks, honouring the fd's O_NONBLOCK as the program set it,
 *     SO_RCVTIMEO/SO_SNDTIMEO, and setting errno as libc would.
 * corun's own IO layer calls libc too; while a hook is inside corun, the
 * task's hooks are off (corun_hooks_set), so those calls reach libc
 * directly instead of coming back here.
 *
 * Per-fd state. corun keeps sockets it waits on in O_NONBLOCK mode; the
 * program's own view of the flag (set by socket(SOCK_NONBLOCK), accept4,
 * fcntl(F_SETFL), ioctl(FIONBIO)) is kept here, with the socket options'
 * timeouts, and fcntl(F_GETFL) reports that view. Outside a task, a
 * blocking call on an fd that corun switched to O_NONBLOCK is completed
 * by waiting in libc's poll(2), so it still blocks as the program
 * expects.
 *
 * Locking: the fd table's entries are written by the calls that make,
 * change or close the fd, as the kernel's own fd state is; atomics keep
 * concurrent readers well-defined. */
#ifndef CORUN_HOOK_HOOK_H
#define CORUN_HOOK_HOOK_H

#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/socket.h>
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
};

/* The real functions, resolved at the first call of any hook. */
const struct corun__real *corun__real(void);

/* ---- per-fd state (fd.c) ---------------------------------------------- */

/* What the hooks know of an fd. Atomic fields: one thread may change an
 * option while another is in a call on the fd, as with the kernel's. */
struct corun__hookfd {
  _Atomic int known;         /* 0: look it up at the next use */
  _Atomic int socket;        /* a socket: corun may wait on it */
  _Atomic int nonblock;      /* the program's O_NONBLOCK */
  _Atomic int64_t rcvtimeo;  /* SO_RCVTIMEO in ns, 0: none */
  _Atomic int64_t sndtimeo;  /* SO_SNDTIMEO in ns, 0: none */
};

/* fd's state, found out from the kernel the first time (NULL: fd out of
 * range or no memory: the hooks then call libc). */
struct corun__hookfd *corun__hookfd(int fd);
/* Records a new fd as made by the program (nonblock: its own flag). */
void corun__hookfd_new(int fd, int socket, int nonblock);
/* Forgets fd (closed, or replaced by dup2). */
void corun__hookfd_drop(int fd);

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

/* The deadline of a call with timeout `ns` (0: none) from now. */
int64_t corun__hook_deadline(int64_t ns);

/* Stores a corun result (-errno) as libc would return it: -1 with errno,
 * else r. */
long corun__hook_ret(long r);

#endif
