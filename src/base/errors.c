/* errors.c: corun_strerror(), the English text of each error corun returns.
 * Layer: base (the only public function here names no coroutine). */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "corun.h"

/* X-macro: every error code a corun function documents, with its meaning
 * in corun's terms (not libc's wording, which talks about files). */
#define CORUN__ERRORS(X)                                                       \
  X(EINVAL, "invalid argument")                                                \
  X(ENOMEM, "out of memory")                                                   \
  X(ENOTSUP, "operation not supported")                                        \
  X(ESRCH, "coroutine is dead")                                                \
  X(EBUSY, "resource busy (coroutine is running or waiting on a resume)")      \
  X(EXDEV, "coroutine is active on another thread")                            \
  X(ECANCELED, "operation canceled")                                           \
  X(ETIMEDOUT, "deadline passed")                                              \
  X(EAGAIN, "operation would block")                                           \
  X(EPERM, "operation not permitted here")                                     \
  X(EPIPE, "closed")                                                           \
  X(EDEADLK, "all coroutines are asleep (deadlock)")                           \
  X(ERANGE, "count out of range")                                              \
  X(EOVERFLOW, "too many permits")                                             \
  X(ENOSYS, "not implemented")                                                 \
  X(EBADF, "bad file descriptor (not open, or corun_close()d while waiting)")

/* The C library's text for the system calls' other errors, which the io
 * layer passes through (-ECONNREFUSED, -ECONNRESET, ...): a static string,
 * as corun_strerror promises. glibc's strerror may format unknown codes
 * into a buffer it shares between threads; strerrordesc_np (2.32) never
 * does. musl's strerror always returns a static string. */
static const char *system_text(int err) {
  if (err >= 0 || err == INT_MIN)
    return "unknown error";
#if defined(__GLIBC__) &&                                                      \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *text = strerrordesc_np(-err);
  return text ? text : "unknown error";
#elif defined(__GLIBC__)
  return "unknown error";
#else
  return strerror(-err);
#endif
}

const char *corun_strerror(int err) {
  switch (-(long)err) { /* long: -INT_MIN overflows an int */
#define X(code, text)                                                          \
  case code:                                                                   \
    return text;
    CORUN__ERRORS(X)
#undef X
  case 0:
    return "success";
  default:
    return system_text(err);
  }
}
