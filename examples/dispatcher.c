/* dispatcher.c: coroutines built from generators and a trampoline.
 *
 * From seeds/004 (the encyclopedia article, "生成器"): a generator can only
 * yield to its caller, yet coroutines can be built on generators with a
 * top-level dispatcher (a trampoline) that passes control to the generator
 * named by the token the last one yielded:
 *     generator 生产者 loop while q 不满载 ... yield 消费者
 *     generator 消费者 loop while q 不空载 ... yield 生产者
 *     subroutine 分派器
 *         var d := new 字典(生成器 → 迭代器)
 *         d[生产者] := start 生产者; d[消费者] := start 消费者
 *         var 当前 := 生产者
 *         loop call 当前; 当前 := next d[当前]
 * Unlike producer_consumer.c (symmetric corun_transfer), the generators here
 * are asymmetric: they only corun_yield() a token, and only the dispatcher
 * calls corun_resume(). The consumer returns once it has used every item,
 * which ends the dispatcher's loop. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "corun.h"

#define QUEUE_CAP 3
#define N_ITEMS 7

enum token { PRODUCER, CONSUMER, N_GENERATORS };

static struct {
  int item[QUEUE_CAP];
  int head, len;
} q;
static int all_made;

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "dispatcher: %s: %s\n", what, corun_strerror(rc));
    exit(1);
  }
}

/* Yields `next` to the dispatcher; returns 1 if the generator is closed. */
static int yield_to(enum token next) {
  corun_yield((void *)(intptr_t)next);
  return corun_closing();
}

static void *produce(void *arg) {
  int next = 1;
  (void)arg;
  do {
    printf("  producer: made");
    while (q.len < QUEUE_CAP && next <= N_ITEMS) {
      q.item[(q.head + q.len++) % QUEUE_CAP] = next;
      printf(" %d", next++);
    }
    all_made = next > N_ITEMS;
    printf(" -> yield consumer\n");
  } while (!yield_to(CONSUMER));
  printf("  producer: closed, cleaning up\n");
  return NULL;
}

static void *consume(void *arg) {
  intptr_t used = 0;
  (void)arg;
  do {
    printf("  consumer: used");
    for (; q.len > 0; q.len--, used++) {
      printf(" %d", q.item[q.head]);
      q.head = (q.head + 1) % QUEUE_CAP;
    }
    if (all_made) {
      printf(" -> all used, return\n");
      return (void *)used;
    }
    printf(" -> yield producer\n");
  } while (!yield_to(PRODUCER));
  return (void *)used;
}

int main(void) {
  static const char *const name[N_GENERATORS] = {"producer", "consumer"};
  corun_fn *const body[N_GENERATORS] = {produce, consume};
  corun_coro *d[N_GENERATORS]; /* the dictionary generator -> iterator */
  enum token current = PRODUCER;
  void *out;
  int rc;

  for (int i = 0; i < N_GENERATORS; i++) /* d[g] := start g */
    check(corun_create(&d[i], body[i], NULL, NULL), "start a generator");
  for (;;) {
    printf("dispatcher: run %s\n", name[current]);
    rc = corun_resume(d[current], NULL, &out); /* call current */
    check(rc, "resume");
    if (rc == 0)
      break; /* the generator returned: nothing is left to dispatch */
    intptr_t token = (intptr_t)out;
    if (token < 0 || token >= N_GENERATORS) {
      fprintf(stderr, "dispatcher: bad token %ld\n", (long)token);
      return 1;
    }
    current = (enum token)token; /* current := next d[current] */
  }
  printf("dispatcher: %s returned after %d items, closing the others\n",
         name[current], (int)(intptr_t)out);
  for (int i = 0; i < N_GENERATORS; i++)
    check(corun_destroy(d[i]), "close a generator");
  return 0;
}
