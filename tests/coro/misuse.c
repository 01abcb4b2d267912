/* misuse.c: proves every documented argument error of the coroutine object
 * and the accessors. corun_create: NULL co or fn, stack_size below
 * CORUN_STACK_MIN -> -EINVAL; shared-stack argument errors (and -ENOTSUP on
 * the ucontext backend); *co untouched on
 * failure. NULL to resume/transfer/destroy/status -> -EINVAL; corun_id(NULL)
 * is 0 and corun_name(NULL) NULL. Resume of a dead coroutine -> -ESRCH;
 * resume of itself (RUNNING) -> -EBUSY, with *out untouched. Names: "" when
 * none, copied (not referenced), truncated to CORUN_NAME_MAX - 1 bytes.
 * Ids: non-zero and unique among live coroutines and across create/destroy
 * cycles (unique in the process, so never reused). */
#include <errno.h>
#include <stdlib.h>

#include "t.h"
#include "corun.h"

#define SENTINEL ((void *)(intptr_t)0x5e5e5e5e)

static int ran;

static void *body(void *arg) {
  ran++;
  return arg;
}

static void *self_resume(void *arg) {
  (void)arg;
  corun_coro *me = corun_current();
  void *out = SENTINEL;
  T_EQ(corun_resume(me, NULL, &out), -EBUSY);
  T_EQ(corun_resume(me, NULL, NULL), -EBUSY);
  T_PTR_EQ(out, SENTINEL);
  T_EQ(corun_status(me), CORUN_RUNNING);
  return (void *)7;
}

static void create_errors(void) {
  corun_coro *co = SENTINEL;
  T_EQ(corun_create(NULL, body, NULL, NULL), -EINVAL);
  T_EQ(corun_create(&co, NULL, NULL, NULL), -EINVAL);
  T_PTR_EQ(co, SENTINEL);

  corun_attr attr = {0};
  attr.stack_size = 1;
  T_EQ(corun_create(&co, body, NULL, &attr), -EINVAL);
  attr.stack_size = CORUN_STACK_MIN - 1;
  T_EQ(corun_create(&co, body, NULL, &attr), -EINVAL);
  T_PTR_EQ(co, SENTINEL);

  /* Shared stacks: argument errors; with the ucontext backend they are not
   * available (-ENOTSUP from both calls), elsewhere they work. */
  corun_shared_stack *ss = (corun_shared_stack *)SENTINEL;
  T_EQ(corun_shared_stack_create(NULL, 0), -EINVAL);
  T_EQ(corun_shared_stack_create(&ss, CORUN_STACK_MIN - 1), -EINVAL);
  T_EQ(corun_shared_stack_destroy(NULL), -EINVAL);
  T_PTR_EQ(ss, SENTINEL);
  int rc = corun_shared_stack_create(&ss, 0);
  attr.stack_size = 0;
  if (rc == -ENOTSUP) {
    static char fake_shared; /* any non-NULL pointer */
    attr.shared = (corun_shared_stack *)(void *)&fake_shared;
    T_EQ(corun_create(&co, body, NULL, &attr), -ENOTSUP);
    T_PTR_EQ(co, SENTINEL);
  } else {
    T_OK(rc);
    attr.shared = ss;
    T_OK(corun_create(&co, body, NULL, &attr));
    T_EQ(corun_shared_stack_destroy(ss), -EBUSY); /* co is on it */
    T_OK(corun_destroy(co));                     /* never started */
    T_OK(corun_shared_stack_destroy(ss));
    co = SENTINEL;
  }
  T_EQ(ran, 0);

  /* The boundary is accepted, and so are a zeroed attr and NULL. */
  attr.shared = NULL;
  attr.stack_size = CORUN_STACK_MIN;
  T_OK(corun_create(&co, body, (void *)1, &attr));
  T_PTR_NE(co, SENTINEL);
  void *out = NULL;
  T_EQ(corun_resume(co, NULL, &out), 0);
  T_PTR_EQ(out, (void *)1);
  T_OK(corun_destroy(co));
  corun_attr zero = {0};
  T_OK(corun_create(&co, body, NULL, &zero));
  T_OK(corun_destroy(co));
  T_EQ(ran, 1);
}

static void null_everywhere(void) {
  void *out = SENTINEL;
  T_EQ(corun_resume(NULL, NULL, &out), -EINVAL);
  T_EQ(corun_resume(NULL, NULL, NULL), -EINVAL);
  T_EQ(corun_transfer(NULL, NULL, &out), -EINVAL);
  T_EQ(corun_transfer(NULL, NULL, NULL), -EINVAL);
  T_PTR_EQ(out, SENTINEL);
  T_EQ(corun_destroy(NULL), -EINVAL);
  T_EQ(corun_status(NULL), -EINVAL);
  T_EQ_HEX(corun_id(NULL), 0);
  T_PTR_EQ(corun_name(NULL), NULL);
}

static void dead_and_busy(void) {
  corun_coro *co;
  void *out = SENTINEL;
  T_OK(corun_create(&co, body, (void *)3, NULL));
  T_EQ(corun_resume(co, NULL, NULL), 0);
  T_EQ(corun_resume(co, NULL, &out), -ESRCH);
  T_EQ(corun_transfer(co, NULL, &out), -ESRCH);
  T_PTR_EQ(out, SENTINEL);
  T_EQ(corun_status(co), CORUN_DEAD);
  T_OK(corun_destroy(co));

  T_OK(corun_create(&co, self_resume, NULL, NULL));
  T_EQ(corun_resume(co, NULL, &out), 0);
  T_PTR_EQ(out, (void *)7);
  T_OK(corun_destroy(co));
}

static void names(void) {
  corun_coro *co;
  /* No attr, or no name: "". */
  T_OK(corun_create(&co, body, NULL, NULL));
  T_STR_EQ(corun_name(co), "");
  T_OK(corun_destroy(co));
  corun_attr attr = {0};
  T_OK(corun_create(&co, body, NULL, &attr));
  T_STR_EQ(corun_name(co), "");
  T_OK(corun_destroy(co));

  /* Copied: changing the caller's buffer afterwards changes nothing. */
  char buf[CORUN_NAME_MAX * 4];
  strcpy(buf, "worker-1");
  attr.name = buf;
  T_OK(corun_create(&co, body, NULL, &attr));
  strcpy(buf, "changed");
  T_STR_EQ(corun_name(co), "worker-1");
  /* Stable while the coroutine lives, also after it ran. */
  const char *p = corun_name(co);
  T_EQ(corun_resume(co, NULL, NULL), 0);
  T_PTR_EQ(corun_name(co), p);
  T_STR_EQ(p, "worker-1");
  T_OK(corun_destroy(co));

  /* Exactly CORUN_NAME_MAX - 1 bytes fit; longer names are cut there. */
  char expect[CORUN_NAME_MAX];
  for (size_t len = CORUN_NAME_MAX - 2; len < sizeof buf; len++) {
    for (size_t i = 0; i < len; i++)
      buf[i] = (char)('a' + i % 26);
    buf[len] = '\0';
    T_OK(corun_create(&co, body, NULL, &attr));
    size_t keep = len < CORUN_NAME_MAX - 1 ? len : CORUN_NAME_MAX - 1;
    memcpy(expect, buf, keep);
    expect[keep] = '\0';
    T_STR_EQ(corun_name(co), expect);
    T_EQ(strlen(corun_name(co)), keep);
    T_OK(corun_destroy(co));
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

#define LIVE_MAX 2000
#define CYCLES 3000

static void ids(void) {
  static corun_coro *co[LIVE_MAX];
  static uint64_t id[LIVE_MAX + CYCLES];
  /* Valgrind spends milliseconds per new stack: fewer there. */
  int live = t_under_valgrind() ? 300 : LIVE_MAX;
  size_t n = 0;
  for (int i = 0; i < live; i++) {
    T_OK(corun_create(&co[i], body, NULL, NULL));
    id[n] = corun_id(co[i]);
    T_NE(id[n], 0);
    n++;
  }
  /* An id does not change when the coroutine runs. */
  T_EQ(corun_resume(co[0], NULL, NULL), 0);
  T_EQ_HEX(corun_id(co[0]), id[0]);
  for (int i = 0; i < live; i++)
    T_OK(corun_destroy(co[i]));
  /* Stacks are reused from the pool, ids are not. */
  for (int i = 0; i < CYCLES; i++) {
    corun_coro *c;
    T_OK(corun_create(&c, body, NULL, NULL));
    id[n] = corun_id(c);
    T_NE(id[n], 0);
    n++;
    T_OK(corun_destroy(c));
  }
  qsort(id, n, sizeof id[0], cmp_u64);
  for (size_t i = 1; i < n; i++)
    if (id[i] == id[i - 1])
      T_FAIL_("id %" PRIu64 " given twice", id[i]);
}

int main(void) {
  create_errors();
  null_everywhere();
  dead_and_busy();
  names();
  ids();
  return 0;
}
