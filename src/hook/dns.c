/* dns.c: the hooked name lookups: getaddrinfo, gethostbyname,
 * gethostbyname_r. libc's resolver blocks (DNS, NSS modules), so in a
 * task the lookup runs on one of corun's helper threads (corun_offload)
 * while the task parks; outside a task it is libc's call, unchanged.
 * Layer: hook (hook.h says what every hook does). Not in the static
 * archive (real.c says why).
 *
 * The helper thread starts with the caller's errno and h_errno and hands
 * back what libc leaves in them, success or not (libc's resolver changes
 * errno even when it succeeds), so the caller sees what libc's own call
 * on its thread would have left. */
#include <corun.h>
#include <errno.h>
#include <netdb.h>

#include "hook/hook.h"

struct gai_call {
  const char *node, *service;
  const struct addrinfo *hints;
  struct addrinfo **res;
  int rc;
  int err; /* errno, in and out */
};

static void gai_run(void *arg) {
  struct gai_call *c = arg;
  errno = c->err;
  c->rc = corun__real()->getaddrinfo(c->node, c->service, c->hints, c->res);
  c->err = errno;
}

CORUN_API int getaddrinfo(const char *node, const char *service,
                          const struct addrinfo *hints,
                          struct addrinfo **res) {
  if (!corun__hook_enter())
    return corun__real()->getaddrinfo(node, service, hints, res);
  struct gai_call c = {node, service, hints, res, EAI_SYSTEM, errno};
  int rc = corun_offload(gai_run, &c);
  corun__hook_leave();
  if (rc < 0) { /* no helper thread could start */
    corun__hook_set_errno(-rc);
    return EAI_SYSTEM;
  }
  corun__hook_set_errno(c.err);
  return c.rc;
}

struct ghbn_call {
  const char *name;
  struct hostent *result;
  int h_err, err; /* h_errno and errno, in and out */
};

static void ghbn_run(void *arg) {
  struct ghbn_call *c = arg;
  h_errno = c->h_err;
  errno = c->err;
  c->result = corun__real()->gethostbyname(c->name);
  c->h_err = h_errno;
  c->err = errno;
}

/* h_errno, set on the thread the caller runs on now (see hook.h). */
__attribute__((noinline)) static void set_h_errno(int e) {
  __asm__ volatile("" ::: "memory");
  h_errno = e;
}

/* The answer lives in libc's static buffer, as libc's own call leaves it
 * (the helper thread shares it with every thread). */
CORUN_API struct hostent *gethostbyname(const char *name) {
  if (!corun__hook_enter())
    return corun__real()->gethostbyname(name);
  struct ghbn_call c = {name, NULL, h_errno, errno};
  int rc = corun_offload(ghbn_run, &c);
  corun__hook_leave();
  if (rc < 0) {
    set_h_errno(NO_RECOVERY);
    return NULL;
  }
  set_h_errno(c.h_err);
  corun__hook_set_errno(c.err);
  return c.result;
}

struct ghbnr_call {
  const char *name;
  struct hostent *ret;
  char *buf;
  size_t len;
  struct hostent **result;
  int *h_errnop;
  int rc;
  int err; /* errno, in and out */
};

static void ghbnr_run(void *arg) {
  struct ghbnr_call *c = arg;
  errno = c->err;
  c->rc = corun__real()->gethostbyname_r(c->name, c->ret, c->buf, c->len,
                                         c->result, c->h_errnop);
  c->err = errno;
}

CORUN_API int gethostbyname_r(const char *name, struct hostent *ret, char *buf,
                              size_t len, struct hostent **result,
                              int *h_errnop) {
  if (!corun__hook_enter())
    return corun__real()->gethostbyname_r(name, ret, buf, len, result,
                                          h_errnop);
  struct ghbnr_call c = {name, ret, buf, len, result, h_errnop, ENOMEM, errno};
  int rc = corun_offload(ghbnr_run, &c);
  corun__hook_leave();
  if (rc < 0) { /* no helper thread could start */
    *result = NULL;
    *h_errnop = NO_RECOVERY;
    return -rc;
  }
  corun__hook_set_errno(c.err);
  return c.rc;
}
