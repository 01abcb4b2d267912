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
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* h_errno, set on the thread the caller runs on now (see hook.h). */
__attribute__((noinline)) static void set_h_errno(int e) {
  __asm__ volatile("" ::: "memory");
  h_errno = e;
}

/* gethostbyname's answer, one per task. libc keeps one static hostent,
 * which a single-threaded program reads until its next call; tasks that
 * look names up at once (on helper threads) would overwrite each other's
 * answer while their callers read it. So the helpers make libc's own call
 * one at a time (its errno and h_errno are exactly libc's) and copy the
 * answer into a buffer of the calling task's, kept until that task's next
 * call. Task objects are reused, so a later task may inherit a buffer:
 * the table grows to the number of tasks that made such lookups at once,
 * and is never freed. */
struct ghbn_slot {
  struct ghbn_slot *next;
  corun_task *task;
  struct hostent he;
  char *buf;
  size_t len;
};

#define GHBN_BUCKETS 256
static struct ghbn_slot *ghbn_table[GHBN_BUCKETS];
static pthread_mutex_t ghbn_lock = PTHREAD_MUTEX_INITIALIZER;
/* Held by a helper from libc's call until its answer is copied. */
static pthread_mutex_t ghbn_serial = PTHREAD_MUTEX_INITIALIZER;

/* The calling task's slot (NULL: no memory). Only its task uses a slot,
 * one call at a time, so only the table needs the lock. */
static struct ghbn_slot *ghbn_slot_of(corun_task *t) {
  size_t b = ((uintptr_t)t >> 6) % GHBN_BUCKETS;
  pthread_mutex_lock(&ghbn_lock);
  struct ghbn_slot *s = ghbn_table[b];
  while (s && s->task != t)
    s = s->next;
  if (!s && (s = calloc(1, sizeof *s)) != NULL) {
    s->task = t;
    s->next = ghbn_table[b];
    ghbn_table[b] = s;
  }
  pthread_mutex_unlock(&ghbn_lock);
  return s;
}

/* Copies h, its strings and addresses into s's buffer (grown as needed):
 * the two pointer arrays first, then the addresses, then the strings.
 * Returns &s->he, or NULL for no memory. */
static struct hostent *hostent_copy(struct ghbn_slot *s,
                                    const struct hostent *h) {
  size_t naliases = 0, naddrs = 0, strings = strlen(h->h_name) + 1;
  for (char **a = h->h_aliases; a && *a; a++, naliases++)
    strings += strlen(*a) + 1;
  for (char **a = h->h_addr_list; a && *a; a++)
    naddrs++;
  size_t alen = h->h_length > 0 ? (size_t)h->h_length : 0;
  size_t need =
      (naliases + 1 + naddrs + 1) * sizeof(char *) + naddrs * alen + strings;
  if (need > s->len) {
    char *b = realloc(s->buf, need);
    if (!b)
      return NULL;
    s->buf = b;
    s->len = need;
  }
  char **aliases = (char **)s->buf, **addrs = aliases + naliases + 1;
  char *p = (char *)(addrs + naddrs + 1);
  for (size_t i = 0; i < naddrs; i++, p += alen)
    addrs[i] = memcpy(p, h->h_addr_list[i], alen);
  addrs[naddrs] = NULL;
  for (size_t i = 0; i < naliases; i++) {
    size_t n = strlen(h->h_aliases[i]) + 1;
    aliases[i] = memcpy(p, h->h_aliases[i], n);
    p += n;
  }
  aliases[naliases] = NULL;
  s->he.h_name = strcpy(p, h->h_name);
  s->he.h_aliases = aliases;
  s->he.h_addrtype = h->h_addrtype;
  s->he.h_length = h->h_length;
  s->he.h_addr_list = addrs;
  return &s->he;
}

struct ghbn_call {
  const char *name;
  struct ghbn_slot *slot;
  struct hostent *result;
  int h_err, err; /* h_errno and errno, in and out */
};

static void ghbn_run(void *arg) {
  struct ghbn_call *c = arg;
  h_errno = c->h_err;
  errno = c->err;
  pthread_mutex_lock(&ghbn_serial);
  struct hostent *h = corun__real()->gethostbyname(c->name);
  c->h_err = h_errno;
  c->err = errno;
  c->result = h ? hostent_copy(c->slot, h) : NULL;
  pthread_mutex_unlock(&ghbn_serial);
  if (h && !c->result) { /* no memory for the copy */
    c->h_err = NO_RECOVERY;
    c->err = ENOMEM;
  }
}

/* The answer lives in a buffer of the calling task's (above), valid until
 * its next gethostbyname, as libc's static one is for a single thread. */
CORUN_API struct hostent *gethostbyname(const char *name) {
  if (!corun__hook_enter())
    return corun__real()->gethostbyname(name);
  struct ghbn_slot *slot = ghbn_slot_of(corun_self());
  if (!slot) {
    corun__hook_leave();
    set_h_errno(NO_RECOVERY);
    return NULL;
  }
  struct ghbn_call c = {name, slot, NULL, h_errno, errno};
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
