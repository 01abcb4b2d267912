/* stdio.c: fclose, for streams on sockets (fdopen). libc's fclose closes
 * the fd without going through the hooked close(), which would leave the
 * fd's state behind: its waiters asleep, the hooks' view of the file, and
 * corun's registration of the number, which a new fd reusing it would
 * then find (epoll has forgotten the closed file, so a wait on the new
 * one would never see its events). So the fd is let go here first, as
 * close() does. Not in the static archive (real.c says why).
 * Layer: hook (hook.h says what every hook does). */
#include <corun.h>
#include <errno.h>
#include <stdio.h>

#include "hook/hook.h"

CORUN_API int fclose(FILE *stream) {
  int saved = errno; /* fileno says EBADF for a stream without an fd */
  int fd = stream ? fileno(stream) : -1;
  errno = saved;
  if (fd >= 0) {
    corun_fd_release(fd); /* as close(): its waiters wake with EBADF */
    corun__hookfd_drop(fd);
  }
  return corun__real()->fclose(stream);
}
