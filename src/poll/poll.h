/* poll.h: the event loop's contract with the io layer.
 * Layer: poll (uses base, coro, sched). One backend per file; epoll.c is
 * the only one so far (io_uring is the next).
 *
 * Readiness, edge-triggered. Each fd is registered once, at its first
 * wait, for input and output together; its record counts the readiness
 * events seen per direction (`seq`). An IO call reads that count, tries
 * the system call, and only if it says EAGAIN waits for a count newer
 * than the one it read: an event that arrives between the try and the
 * wait is never lost.
 *
 * Lifetime. An fd waited on must be closed with corun_close(), which wakes
 * its waiters with -EBADF and forgets the registration, so that a new fd
 * reusing the number starts clean and no stale event reaches it (events
 * carry the record's generation).
 *
 * Locking: one corun__lock per fd record; waiters park under it. */
#ifndef CORUN_POLL_POLL_H
#define CORUN_POLL_POLL_H

#include <stdint.h>

#define CORUN__POLL_IN 0
#define CORUN__POLL_OUT 1

/* Prepares fd for waiting in direction dir (registering it, making it
 * non-blocking) and stores its current readiness count in *seq. Returns 0,
 * 1 if fd cannot be polled (a regular file: IO on it never says EAGAIN),
 * or -errno (-EPERM outside a task, -ENOMEM, -EBADF). */
int corun__poll_prepare(int fd, int dir, uint32_t *seq);

/* Parks the calling task until fd's readiness count for dir differs from
 * seq, or the deadline. Returns 0 (try the IO again), -ETIMEDOUT,
 * -ECANCELED, -EBADF (corun_close()d meanwhile), -EBUSY (another task
 * already waits on fd in that direction). */
int corun__poll_wait(int fd, int dir, uint32_t seq, int64_t deadline);

/* Whether fd is ready in direction dir right now (poll(2), no wait): for
 * waits that did not start with a failed IO call, which an edge-triggered
 * registration would otherwise leave waiting for an edge that came
 * before. */
int corun__poll_ready_now(int fd, int dir);

/* Wakes fd's waiters with -EBADF and forgets the registration (before the
 * caller closes fd). */
void corun__poll_forget(int fd);

#endif
