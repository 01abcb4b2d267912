/* stdio.c: fclose, for streams on sockets (fdopen). libc's fclose closes
 * the fd without going through the hooked close(), which would leave the
 * fd's state behind: its waiters asleep, the hooks' view of the file, and
 * corun's registration of the number, which a new fd reusing it would
 * then find (epoll has forgotten the closed file, so a wait on the new
 * one would never see its events). So the fd is let go here first, as
 * close() does. Not in the static archive (real.c says why).
 * Layer: hook (hook.h says what every hook does). */
#include <corun.h>
#include <stdio.h>

#include "hook/hook.h"

CORUN_API int fclose(FILE *stream) {
  int fd = stream ? fileno(stream) : -1;
  if (fd >= 0) {
    corun_fd_release(fd); /* as close(): its waiters wake with EBADF */
    corun__hook_closing(fd);
    corun__hookfd_drop(fd);
  }
  int r = corun__real()->fclose(stream);
  if (fd >= 0)
    corun__hook_closed();
  return r;
}
