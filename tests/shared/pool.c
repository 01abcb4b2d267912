/* pool.c: proves the round-robin shared-stack pool: it hands out its stacks
 * in turn (count distinct stacks, then the first again), coroutines created
 * on them run and keep their state, destroy returns -EBUSY while any of
 * them lives and 0 after, and the argument errors are -EINVAL (with -ENOTSUP
 * from create on the ucontext backend). */
#include <errno.h>
#include <stdint.h>

#include "corun.h"
#include "t.h"

static void *twice(void *arg) {
  volatile intptr_t mine = (intptr_t)arg; /* on the shared stack */
  corun_yield((void *)mine);
  return (void *)(mine * 2);
}

int main(void) {
  corun_shared_pool *pool = (corun_shared_pool *)(uintptr_t)0x5e5e;
  T_EQ(corun_shared_pool_create(NULL, 4, 0), -EINVAL);
  T_EQ(corun_shared_pool_create(&pool, 0, 0), -EINVAL);
  T_EQ(corun_shared_pool_create(&pool, 4, CORUN_STACK_MIN - 1), -EINVAL);
  T_PTR_EQ(pool, (void *)(uintptr_t)0x5e5e);
  T_EQ(corun_shared_pool_destroy(NULL), -EINVAL);
  T_PTR_EQ(corun_shared_pool_next(NULL), NULL);
  int rc = corun_shared_pool_create(&pool, 4, 32 * 1024);
  if (rc == -ENOTSUP)
    T_SKIP("shared stacks need an assembly backend");
  T_OK(rc);

  /* Round-robin: 4 distinct stacks, then the same 4 again in order. */
  corun_shared_stack *seen[8];
  for (int i = 0; i < 8; i++)
    seen[i] = corun_shared_pool_next(pool);
  for (int i = 0; i < 4; i++) {
    T_PTR_NE(seen[i], NULL);
    T_PTR_EQ(seen[i + 4], seen[i]);
    for (int j = 0; j < i; j++)
      T_PTR_NE(seen[i], seen[j]);
  }

  enum { N = 64 };
  corun_coro *co[N];
  for (int i = 0; i < N; i++) {
    corun_attr attr = {.shared = corun_shared_pool_next(pool)};
    T_OK(corun_create(&co[i], twice, (void *)(intptr_t)(i + 1), &attr));
  }
  void *out;
  for (int i = 0; i < N; i++) {
    T_EQ(corun_resume(co[i], NULL, &out), 1);
    T_EQ((intptr_t)out, i + 1);
  }
  T_EQ(corun_shared_pool_destroy(pool), -EBUSY);
  for (int i = N - 1; i >= 0; i--) { /* reverse order: every stack swaps */
    T_EQ(corun_resume(co[i], NULL, &out), 0);
    T_EQ((intptr_t)out, 2 * (i + 1));
    T_OK(corun_destroy(co[i]));
    if (i)
      T_EQ(corun_shared_pool_destroy(pool), -EBUSY);
  }
  T_OK(corun_shared_pool_destroy(pool));
  return 0;
}
