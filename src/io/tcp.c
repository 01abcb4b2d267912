/* tcp.c: corun_tcp_listen and corun_tcp_dial, and the resolver they use.
 * Layer: io (uses base, sched, poll, io.c's calls).
 *
 * Name resolution. getaddrinfo() blocks (DNS, /etc/hosts, NSS modules),
 * so it never runs on a worker: a task hands the request to the helper
 * pool (pool.c) and parks until a helper has answered. Numeric addresses
 * skip the pool. A task that gives up (deadline, cancel) abandons its
 * request, which the helper frees.
 *
 * Locking: none of its own. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "corun.h"
#include "io/io.h"
#include "sched/sched.h"

struct request {
  struct corun__job job; /* first: the pool's callbacks get the job */
  char *host; /* a copy: the caller may give up and free its own */
  char port[8];
  int passive;
  struct addrinfo *result; /* the answer */
  int gai;                 /* getaddrinfo's return */
  int err;                 /* the helper's errno after it (EAI_SYSTEM) */
};

static void request_free(struct corun__job *j) {
  struct request *r = (struct request *)j;
  if (r->result)
    freeaddrinfo(r->result);
  corun__free(r->host);
  corun__free(r);
}

static void request_run(struct corun__job *j) {
  struct request *r = (struct request *)j;
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = r->passive ? AI_PASSIVE : 0};
  errno = 0;
  r->gai = getaddrinfo(r->host, r->port, &hints, &r->result);
  r->err = errno;
}

/* Maps getaddrinfo's errors to -errno; `err` is errno after the call,
 * which says what EAI_SYSTEM was. */
static int resolve_error(int gai, int err) {
  switch (gai) {
  case EAI_NONAME:
#ifdef EAI_NODATA
  case EAI_NODATA:
#endif
  case EAI_SERVICE:
    return -ENOENT; /* no such host or port */
  case EAI_AGAIN:
    return -EAGAIN;
  case EAI_MEMORY:
    return -ENOMEM;
  case EAI_SYSTEM:
    return err > 0 ? -err : -EIO;
  case EAI_FAIL:
    return -EIO; /* the name server failed for good */
  default:
    return -EINVAL; /* flags, family or socket type refused */
  }
}

/* The list with its IPv6 addresses first, in their order. For every
 * local address glibc gives 0.0.0.0 before ::, and the first that binds
 * ends the search: a listener on 0.0.0.0 alone refused clients that dial
 * ::1. A socket bound to :: with IPV6_V6ONLY off (bind_listen) takes
 * both; on a host without IPv6 its socket(2) or bind(2) fails and the
 * IPv4 address comes next. */
static struct addrinfo *ipv6_first(struct addrinfo *ai) {
  struct addrinfo *v6 = NULL, **v6_end = &v6, *rest = NULL, **rest_end = &rest;
  while (ai) {
    struct addrinfo *next = ai->ai_next;
    ai->ai_next = NULL;
    if (ai->ai_family == AF_INET6) {
      *v6_end = ai;
      v6_end = &ai->ai_next;
    } else {
      *rest_end = ai;
      rest_end = &ai->ai_next;
    }
    ai = next;
  }
  *v6_end = rest;
  return v6;
}

/* Resolves host:port for a stream socket (passive: for bind, a NULL or
 * empty host meaning every address). Stores a list to free with
 * freeaddrinfo in *out. Numeric hosts are resolved on the spot; names on
 * a helper thread while the task parks (deadline as usual). */
static int resolve(const char *host, int port, int passive, int64_t deadline,
                   struct addrinfo **out) {
  if (port < 0 || port > 65535)
    return -EINVAL;
  char ports[8];
  snprintf(ports, sizeof ports, "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags =
                               AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
  if (!host || !*host) { /* every local address: no lookup */
    int *ep = corun__errno_here();
    int gai = CORUN__LIBC(getaddrinfo(NULL, ports, &hints, out));
    if (gai)
      return resolve_error(gai, *ep);
    *out = ipv6_first(*out);
    return 0;
  }
  hints.ai_flags |= AI_NUMERICHOST;
  if (CORUN__LIBC(getaddrinfo(host, ports, &hints, out)) == 0)
    return 0; /* a numeric address: no lookup either */
  struct request *r = corun__malloc(sizeof *r);
  size_t hl = strlen(host) + 1;
  char *h = corun__malloc(hl);
  if (!r || !h) {
    corun__free(r);
    corun__free(h);
    return -ENOMEM;
  }
  memset(r, 0, sizeof *r);
  memcpy(h, host, hl);
  r->host = h;
  memcpy(r->port, ports, sizeof r->port);
  r->passive = passive;
  r->job.run = request_run;
  r->job.release = request_free; /* the lookup may be abandoned */
  int rc = corun__pool_call(&r->job, "name resolution", deadline);
  if (rc < 0) {
    if (rc != -ETIMEDOUT && rc != -ECANCELED) /* never queued */
      request_free(&r->job);
    return rc;
  }
  int gai = r->gai, err = r->err;
  *out = r->result;
  r->result = NULL;
  request_free(&r->job);
  return gai ? resolve_error(gai, err) : 0;
}

/* One attempt on a new socket for address a: 0, or -errno (the caller
 * closes the socket). */
typedef int attempt_fn(int fd, const struct addrinfo *a, void *arg);

/* Resolves host:port and makes a socket for each address in turn until
 * `attempt` succeeds on one; stores that socket in *out. */
static int each_address(const char *host, int port, int passive,
                        int64_t deadline, attempt_fn *attempt, void *arg,
                        int *out) {
  struct addrinfo *ai;
  int rc = resolve(host, port, passive, deadline, &ai);
  if (rc < 0)
    return rc;
  rc = -EADDRNOTAVAIL;
  for (struct addrinfo *a = ai; a; a = a->ai_next) {
    int fd = CORUN__LIBC(socket(
        a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
        a->ai_protocol));
    if (fd < 0) {
      rc = -*corun__errno_here();
      continue;
    }
    rc = attempt(fd, a, arg);
    if (rc == 0) {
      *out = fd;
      break;
    }
    corun_close(fd);
    if (rc == -ETIMEDOUT || rc == -ECANCELED)
      break; /* the caller's wait is over, whatever other addresses say */
  }
  freeaddrinfo(ai);
  return rc;
}

struct listen_arg {
  int backlog;
  int every; /* host NULL or "": :: takes IPv4 too */
};

static int bind_listen(int fd, const struct addrinfo *a, void *arg) {
  const struct listen_arg *l = arg;
  int backlog = l->backlog;
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (l->every && a->ai_family == AF_INET6) /* whatever bindv6only says */
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 &&
      listen(fd, backlog > 0 ? backlog : SOMAXCONN) == 0)
    return 0;
  return -*corun__errno_here();
}

static int connect_one(int fd, const struct addrinfo *a, void *arg) {
  int rc = corun_connect(fd, a->ai_addr, a->ai_addrlen, *(int64_t *)arg);
  if (rc == 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return rc;
}

/* errno is the calling task's, and a lookup may move the task to another
 * worker: read and restore it through corun__errno_here() (io.h). */
int corun_tcp_listen(const char *host, int port, int backlog, int *out) {
  if (!out)
    return -EINVAL;
  int saved = *corun__errno_here();
  struct listen_arg l = {backlog, !host || !*host};
  int rc = each_address(host, port, 1, -1, bind_listen, &l, out);
  *corun__errno_here() = saved;
  return rc;
}

int corun_tcp_dial(const char *host, int port, int64_t deadline, int *out) {
  if (!out || !host || port < 0 || port > 65535)
    return -EINVAL;
  if (deadline == 0) {
    /* A handshake is always a wait; started and dropped here, it would
     * only send a SYN and leave the caller nothing to wait on. */
    int err;
    return corun__task_blocking(&err) ? -EAGAIN : err;
  }
  int saved = *corun__errno_here();
  int rc = each_address(host, port, 0, deadline, connect_one, &deadline, out);
  *corun__errno_here() = saved;
  return rc;
}
