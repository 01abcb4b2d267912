/* prime_sieve.c: the concurrent prime sieve of CSP, one task per prime.
 *
 * From seeds/004 (the article's uses of coroutines, "通信顺序进程": each
 * process of a communicating-sequential-processes program is a coroutine,
 * and channel input/output blocks it until the scheduler unblocks it) and
 * seeds/000 (Julia's and Go's coroutines cooperate through channels). The
 * program is the classic one: McIlroy's sieve, in Hoare's CSP paper (1978)
 * and in Go's documentation:
 *     generate: send 2, 3, 4, ... on ch
 *     filter(in, out, p): forever { i = <-in; if i % p != 0 { out <- i } }
 *     main: forever { p = <-ch; print p; ch1 = chan; go filter(ch, ch1, p);
 *                     ch = ch1 }
 * All channels are rendezvous channels (capacity 0), as in Go.
 *
 * Go's version simply exits with its filters still blocked. corun_main()
 * returns only when every task has finished (a task blocked for good is a
 * deadlock), so this one takes the pipeline down from its end: main closes
 * the channel it reads from, and each stage, finding its output closed
 * (-EPIPE), closes its own input and returns. The hang-up travels back to
 * the generator; then main joins every task and frees the channels.
 *
 * Usage: prime_sieve [N]   prints the first N primes (default 100), checks
 * them against trial division, exits 1 on any mismatch. */
#include <corun.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct stage {
  corun_chan *in, *out; /* out belongs to the next stage, which closes it */
  int prime;            /* filters only */
  corun_task *task;
};

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "prime_sieve: %s: %s\n", what, corun_strerror(rc));
    exit(1);
  }
}

/* The stage's output was closed downstream: pass the hang-up upstream. */
static void *hang_up(struct stage *s) {
  if (s->in)
    check(corun_chan_close(s->in), "close input");
  return NULL;
}

static void *generate(void *arg) {
  struct stage *s = arg;
  for (int i = 2;; i++) {
    int rc = corun_chan_send(s->out, &i, -1);
    if (rc == -EPIPE)
      return hang_up(s);
    check(rc, "generate: send");
  }
}

static void *filter(void *arg) {
  struct stage *s = arg;
  for (;;) {
    int i;
    check(corun_chan_recv(s->in, &i, -1), "filter: recv");
    if (i % s->prime == 0)
      continue;
    int rc = corun_chan_send(s->out, &i, -1);
    if (rc == -EPIPE)
      return hang_up(s);
    check(rc, "filter: send");
  }
}

struct sieve {
  int n;
  int *primes;         /* n primes, filled by main_task */
  struct stage *stage; /* [0] the generator, [k] the filter of primes[k-1] */
  corun_chan **chans;  /* n + 1: chans[k] runs from stage k to stage k + 1 */
};

static void *main_task(void *arg) {
  struct sieve *sv = arg;
  check(corun_chan_make(&sv->chans[0], sizeof(int), 0), "make channel");
  sv->stage[0] = (struct stage){.in = NULL, .out = sv->chans[0]};
  check(corun_spawn(&sv->stage[0].task, generate, &sv->stage[0], NULL),
        "spawn generator");
  for (int k = 0; k < sv->n; k++) {
    /* The first number that got through every filter so far is prime. */
    check(corun_chan_recv(sv->chans[k], &sv->primes[k], -1), "main: recv");
    printf("%6d%s", sv->primes[k], (k + 1) % 10 == 0 ? "\n" : "");
    check(corun_chan_make(&sv->chans[k + 1], sizeof(int), 0), "make channel");
    struct stage *f = &sv->stage[k + 1];
    *f = (struct stage){
        .in = sv->chans[k], .out = sv->chans[k + 1], .prime = sv->primes[k]};
    check(corun_spawn(&f->task, filter, f, NULL), "spawn filter");
  }
  if (sv->n % 10 != 0)
    printf("\n");
  /* Shut down: the last filter's next send fails, and so on up the chain.
   * Join in any order; each stage returns once the hang-up reaches it. */
  check(corun_chan_close(sv->chans[sv->n]), "close the last channel");
  for (int k = 0; k <= sv->n; k++)
    check(corun_join(sv->stage[k].task, NULL), "join");
  return NULL;
}

static int is_prime(int x) { /* trial division: the check */
  if (x < 2)
    return 0;
  for (int d = 2; d <= x / d; d++)
    if (x % d == 0)
      return 0;
  return 1;
}

int main(int argc, char **argv) {
  struct sieve sv = {.n = argc > 1 ? atoi(argv[1]) : 100};
  if (sv.n <= 0 || sv.n > 100000) {
    fprintf(stderr, "usage: prime_sieve [N in 1..100000]\n");
    return 2;
  }
  sv.primes = calloc((size_t)sv.n, sizeof *sv.primes);
  sv.stage = calloc((size_t)sv.n + 1, sizeof *sv.stage);
  sv.chans = calloc((size_t)sv.n + 1, sizeof *sv.chans);
  if (!sv.primes || !sv.stage || !sv.chans) {
    fprintf(stderr, "prime_sieve: out of memory\n");
    return 1;
  }
  check(corun_main(main_task, &sv, NULL), "corun_main");

  /* Every task has returned, so no one is waiting on a channel. */
  for (int k = 0; k <= sv.n; k++)
    check(corun_chan_free(sv.chans[k]), "free channel");

  int bad = 0, expect = 1;
  for (int k = 0; k < sv.n; k++) {
    do
      expect++;
    while (!is_prime(expect));
    if (sv.primes[k] != expect) {
      if (bad++ < 5)
        fprintf(stderr,
                "prime_sieve: prime #%d is %d, trial division says %d\n", k + 1,
                sv.primes[k], expect);
    }
  }
  printf("prime_sieve: first %d primes (the last %d) from %d tasks and %d "
         "channels; trial division agrees: %s\n",
         sv.n, sv.primes[sv.n - 1], sv.n + 1, sv.n + 1, bad ? "NO" : "yes");
  free(sv.primes);
  free(sv.stage);
  free(sv.chans);
  return bad ? 1 : 0;
}
