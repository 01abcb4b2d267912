/* fork.c: fork() from a task while the parent's IO and timers are busy
 * (USERS.md, property 11), with libcorun_hook loaded.
 *
 * The policy (corun.h, "fork"): in a child forked while corun_main runs,
 * corun is off. The child shares the parent's epoll instance and io_uring
 * ring with it (they are kernel objects, and the ring's memory is mapped
 * shared), so nothing in it may touch them: every hooked call is libc's,
 * corun's own calls answer -EPERM as outside a task, and closing an fd
 * leaves the parent's registrations alone. POSIX asks no more of the
 * child of any threaded program than async-signal-safe calls until exec.
 *
 * What is checked:
 *  - the child closes its copies of the parent's listening socket and of
 *    one end of a socket pair, then talks over the other end with
 *    blocking write, poll and read, sleeps (nanosleep), sees corun_read
 *    answer -EPERM, and exits 0 (through an exec);
 *  - meanwhile and afterwards the parent is unaffected: its task parked
 *    in accept on the listener the child closed still gets the next
 *    connection (a child that deregistered the fd from the shared epoll
 *    would leave it parked for ever), the ping-pong with the child works
 *    from the parent's side with hooked calls, and a sleeper task's
 *    timers keep firing;
 *  - with 1 and 2 workers, on both event-loop backends (ctest runs the
 *    program once per backend). */
#include <arpa/inet.h>
#include <corun.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

static struct sockaddr_in addr;
static atomic_int naps;

/* Accepts one connection (parked in accept while the child runs) and
 * echoes one message. */
static void *server(void *arg) {
  int lfd = (int)(intptr_t)arg;
  int fd = accept(lfd, NULL, NULL);
  T_GE(fd, 0);
  char buf[16];
  ssize_t n = read(fd, buf, sizeof buf);
  T_GT(n, 0);
  T_EQ(write(fd, buf, (size_t)n), n);
  T_OK(close(fd));
  return NULL;
}

static void *sleeper(void *arg) {
  (void)arg;
  for (int i = 0; i < 20; i++) {
    T_OK(usleep(2000));
    atomic_fetch_add(&naps, 1);
  }
  return NULL;
}

/* The child: only async-signal-safe calls, then exec. Returns its exit
 * code: 0 if everything behaved as libc's. */
static int child(int lfd, int mine, int theirs) {
  if (close(lfd) != 0 || close(theirs) != 0)
    return 1;
  if (write(mine, "ping", 4) != 4)
    return 2;
  struct pollfd p = {.fd = mine, .events = POLLIN};
  if (poll(&p, 1, 10000) != 1 || !(p.revents & POLLIN))
    return 3;
  char buf[4];
  if (read(mine, buf, sizeof buf) != 4 || memcmp(buf, "pong", 4) != 0)
    return 4;
  struct timespec ms = {0, 1000000};
  if (nanosleep(&ms, NULL) != 0)
    return 5;
  if (corun_read(mine, buf, 1, -1) != -EPERM) /* not a task any more */
    return 6;
  if (corun_hooks_enabled() != -EPERM)
    return 7;
  return 0;
}

static void *main_task(void *arg) {
  (void)arg;
  atomic_store(&naps, 0);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  T_GE(lfd, 0);
  addr = (struct sockaddr_in){.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  T_OK(bind(lfd, (struct sockaddr *)&addr, sizeof addr));
  socklen_t len = sizeof addr;
  T_OK(getsockname(lfd, (struct sockaddr *)&addr, &len));
  T_OK(listen(lfd, 16));
  int sv[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));

  corun_task *srv, *sl;
  T_OK(corun_spawn(&srv, server, (void *)(intptr_t)lfd, NULL));
  T_OK(corun_spawn(&sl, sleeper, NULL, NULL));
  T_OK(usleep(5000)); /* the server parks in accept, the sleeper sleeps */

  pid_t pid = fork();
  T_GE(pid, 0);
  if (pid == 0) {
    /* Its code through an exec, as a child that forks to run a program
     * ends (and so that Valgrind, which does not follow the exec, does not
     * count the vanished threads' memory as the child's leaks). */
    static const char *const code[] = {"exit 0", "exit 1", "exit 2", "exit 3",
                                       "exit 4", "exit 5", "exit 6", "exit 7"};
    execl("/bin/sh", "sh", "-c", code[child(lfd, sv[1], sv[0])], (char *)0);
    _exit(127);
  }

  /* The parent: its own side of the ping-pong, with hooked calls. */
  T_OK(close(sv[1]));
  char buf[4];
  T_EQ(read(sv[0], buf, sizeof buf), 4);
  T_EQ(memcmp(buf, "ping", 4), 0);
  T_EQ(write(sv[0], "pong", 4), 4);
  /* The listener the child closed still works here. */
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  T_GE(c, 0);
  T_OK(connect(c, (struct sockaddr *)&addr, sizeof addr));
  T_EQ(write(c, "hello", 5), 5);
  char back[5];
  T_EQ(read(c, back, sizeof back), 5);
  T_EQ(memcmp(back, "hello", 5), 0);
  T_OK(close(c));
  T_OK(corun_join(srv, NULL));
  T_OK(corun_join(sl, NULL));
  T_EQ(atomic_load(&naps), 20);
  /* waitpid is not hooked: poll for the child without holding the worker */
  int st = 0;
  pid_t w;
  while ((w = waitpid(pid, &st, WNOHANG)) == 0)
    T_OK(usleep(1000));
  T_EQ(w, pid);
  T_TRUE(WIFEXITED(st));
  T_EQ(WEXITSTATUS(st), 0);
  T_OK(close(sv[0]));
  T_OK(close(lfd));
  return NULL;
}

int main(void) {
  for (unsigned workers = 1; workers <= 2; workers++)
    T_OK(corun_main(main_task, NULL, &(corun_config){.workers = workers}));
  return 0;
}
