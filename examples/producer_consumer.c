/* producer_consumer.c: symmetric coroutines handing control to each other
 * with corun_transfer() around a bounded queue.
 *
 * From seeds/004 (the encyclopedia article, "伪码示意"):
 *     coroutine 生产者 loop while q 不满载 ... 向 q 增加这些产品; yield 消费者
 *     coroutine 消费者 loop while q 不空载 ... 从 q 移除某些产品; yield 生产者
 * The article's `yield 消费者` names who runs next: that is corun_transfer().
 * main starts the chain with a transfer (from the root it acts as a resume);
 * the coroutine that finishes (the consumer, once all items are used) hands
 * control back to main, as Simula's rule in the article's reference 6 says:
 * "Obligation to return to M is transferred to Y". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "corun.h"

#define QUEUE_CAP 4 /* room in the queue */
#define N_ITEMS 10  /* items made in all */

static struct {
  int item[QUEUE_CAP];
  int head, len;
} q;
static corun_coro *producer, *consumer;
static int all_made; /* the producer has made its last item */

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "producer_consumer: %s: %s\n", what, corun_strerror(rc));
    exit(1);
  }
}

static void *produce(void *arg) {
  int next = 1;
  (void)arg;
  for (;;) {
    printf("producer: made");
    while (q.len < QUEUE_CAP && next <= N_ITEMS) { /* while q is not full */
      q.item[(q.head + q.len++) % QUEUE_CAP] = next;
      printf(" %d", next++);
    }
    all_made = next > N_ITEMS;
    printf(all_made ? ", all made\n" : ", queue full\n");
    check(corun_transfer(consumer, NULL, NULL), "transfer to consumer");
    if (corun_closing()) { /* destroyed while waiting for its turn */
      printf("producer: closed, cleaning up\n");
      return NULL;
    }
  }
}

static void *consume(void *arg) {
  intptr_t used = 0;
  (void)arg;
  for (;;) {
    printf("consumer: used");
    while (q.len > 0) { /* while q is not empty */
      printf(" %d", q.item[q.head]);
      q.head = (q.head + 1) % QUEUE_CAP;
      q.len--;
      used++;
    }
    if (all_made) {
      printf(", all used\n");
      return (void *)used; /* finishing returns control to main */
    }
    printf(", queue empty\n");
    check(corun_transfer(producer, NULL, NULL), "transfer to producer");
    if (corun_closing())
      return (void *)used;
  }
}

int main(void) {
  void *out;
  check(corun_create(&producer, produce, NULL, NULL), "create producer");
  check(corun_create(&consumer, consume, NULL, NULL), "create consumer");
  int rc = corun_transfer(producer, NULL, &out);
  check(rc, "start the chain");
  if (rc != 0) {
    fprintf(stderr, "producer_consumer: control came back by a yield\n");
    return 1;
  }
  if (corun_status(producer) != CORUN_SUSPENDED) {
    fprintf(stderr, "producer_consumer: the producer should be suspended\n");
    return 1;
  }
  printf("main: consumer returned after %d items, closing the producer\n",
         (int)(intptr_t)out);
  check(corun_destroy(consumer), "destroy consumer");
  check(corun_destroy(producer), "destroy producer");
  return 0;
}
