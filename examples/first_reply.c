/* first_reply.c: select with a deadline, and cancelling the work nobody
 * waits for any more.
 *
 * Rob Pike's "Go Concurrency Patterns" (Google I/O 2012) builds a search
 * front end in steps: ask the web, image and video back ends at once,
 * collect the answers with a select that also watches a timeout, and ask
 * several replicas of each back end, keeping the first reply. In Go the
 * replicas that lose the race stay blocked in their send for ever (a
 * goroutine leak, as the talk's code is written). Here they are cancelled
 * and joined: corun_cancel() makes a task's blocking calls return
 * -ECANCELED, and a cancelled task is joined like any other.
 *
 * One search: a task per kind (web, image, video) runs first_of(); it
 * starts REPLICAS replica tasks, each sleeping its own latency (standing
 * in for the request) and then sending its reply on an unbuffered
 * channel. first_of() takes the first reply, cancels the other replicas,
 * joins them all and puts the reply on its kind's channel. The search
 * itself selects over the three kinds' channels with one deadline,
 * disabling a case once its kind has answered. At the deadline it cancels
 * the kinds still searching; their first_of() gets -ECANCELED, cancels its
 * replicas in turn, and ends.
 *
 * Two searches run: one with a deadline far beyond the replicas' latencies
 * (every kind answers) and one with a deadline shorter than any latency
 * (none does). Exits 1 unless, in both, every task was joined, each kind
 * that answered got exactly one reply from a replica that delivered, and
 * every other replica ended by cancellation. Usage: first_reply */
#include <corun.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define KINDS 3
#define REPLICAS 3
#define MS 1000000

static const char *const kind_name[KINDS] = {"web", "image", "video"};

struct reply {
  int kind, replica;
  int64_t latency_ns;
};

struct kind_search {
  int kind;
  int64_t latency_ns[REPLICAS]; /* each replica's simulated request */
  corun_chan *out;              /* capacity 1: the kind's one reply */
  /* Set by first_of(), read after it is joined. */
  int answered;
  int delivered, cancelled; /* replicas that did either */
};

struct replica_arg {
  struct kind_search *ks;
  int replica;
  corun_chan *replies; /* unbuffered: a send waits for first_of() */
};

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "first_reply: %s: %s\n", what, corun_strerror(rc));
    exit(1);
  }
}

/* Returns 1 if its reply was taken, 0 if it was cancelled first (while
 * "requesting" or while offering the reply). */
static void *replica(void *arg) {
  struct replica_arg *ra = arg;
  struct reply r = {ra->ks->kind, ra->replica, ra->ks->latency_ns[ra->replica]};
  int rc = corun_sleep(r.latency_ns);
  if (rc == 0)
    rc = corun_chan_send(ra->replies, &r, -1);
  if (rc == -ECANCELED)
    return (void *)0;
  check(rc, "replica");
  return (void *)1;
}

/* Go's First(query, replicas...): the first reply of REPLICAS. */
static void *first_of(void *arg) {
  struct kind_search *ks = arg;
  corun_chan *replies;
  check(corun_chan_make(&replies, sizeof(struct reply), 0), "chan");
  struct replica_arg ra[REPLICAS];
  corun_task *t[REPLICAS];
  for (int i = 0; i < REPLICAS; i++) {
    ra[i] = (struct replica_arg){ks, i, replies};
    check(corun_spawn(&t[i], replica, &ra[i], NULL), "spawn replica");
  }
  struct reply r;
  int got = corun_chan_recv(replies, &r, -1); /* -ECANCELED: search over */
  if (got != -ECANCELED)
    check(got, "first reply");
  for (int i = 0; i < REPLICAS; i++)
    check(corun_cancel(t[i]), "cancel replica"); /* harmless on the winner */
  for (int i = 0; i < REPLICAS; i++) {
    void *delivered;
    int rc;
    /* This task may be cancelled itself: then a join returns -ECANCELED
     * while it would have to wait. Cancelled replicas end at once, so
     * keep joining until each one is. */
    while ((rc = corun_join(t[i], &delivered)) == -ECANCELED)
      corun_yield(NULL);
    check(rc, "join replica");
    if (delivered)
      ks->delivered++;
    else
      ks->cancelled++;
  }
  check(corun_chan_free(replies), "free chan"); /* nobody waits on it now */
  if (got == 0 && ks->delivered == 1) {
    ks->answered = 1;
    check(corun_chan_send(ks->out, &r, 0), "send result"); /* never waits */
  }
  return NULL;
}

struct search {
  int64_t timeout_ns;
  struct kind_search ks[KINDS];
  int ok; /* the checks of the header comment held */
};

static void *run_search(void *arg) {
  struct search *s = arg;
  corun_task *t[KINDS];
  corun_case cases[KINDS];
  struct reply got[KINDS];
  for (int k = 0; k < KINDS; k++) {
    check(corun_chan_make(&s->ks[k].out, sizeof(struct reply), 1), "chan");
    check(corun_spawn(&t[k], first_of, &s->ks[k], NULL), "spawn search");
    cases[k] =
        (corun_case){.ch = s->ks[k].out, .op = CORUN_RECV, .elem = &got[k]};
  }
  int64_t deadline = corun_deadline_in(s->timeout_ns);
  int answers = 0;
  printf("search with a %lld ms deadline:\n", (long long)(s->timeout_ns / MS));
  while (answers < KINDS) {
    int k = corun_select(cases, KINDS, deadline);
    if (k == -ETIMEDOUT) {
      printf("  timed out with %d of %d kinds answered\n", answers, KINDS);
      break;
    }
    check(k, "select");
    printf("  %-5s: replica %d answered first (%lld ms)\n", kind_name[k],
           got[k].replica, (long long)(got[k].latency_ns / MS));
    cases[k].ch = NULL; /* answered: the case is disabled from now on */
    answers++;
  }
  s->ok = 1;
  for (int k = 0; k < KINDS; k++) {
    if (cases[k].ch)
      check(corun_cancel(t[k]), "cancel search"); /* still searching */
    check(corun_join(t[k], NULL), "join search");
    struct kind_search *ks = &s->ks[k];
    /* A kind answered after the select's last look: its reply waits in
     * the channel, and it counts as answered but late. */
    struct reply late;
    int in_time = !cases[k].ch,
        late_reply = corun_chan_recv(ks->out, &late, 0) == 0;
    if (ks->answered != (in_time || late_reply) ||
        ks->delivered != ks->answered ||
        ks->delivered + ks->cancelled != REPLICAS)
      s->ok = 0;
    printf("  %-5s: %d replica(s) delivered, %d cancelled%s\n", kind_name[k],
           ks->delivered, ks->cancelled,
           late_reply ? " (answered after the deadline)" : "");
    check(corun_chan_free(ks->out), "free chan");
  }
  return NULL;
}

int main(void) {
  /* Latencies 10..50 ms, different per kind and replica, the fastest
   * replica a different one for each kind. */
  struct search searches[2] = {{.timeout_ns = 500 * MS},
                               {.timeout_ns = 2 * MS}};
  int ok = 1;
  for (int s = 0; s < 2; s++) {
    for (int k = 0; k < KINDS; k++) {
      searches[s].ks[k].kind = k;
      for (int i = 0; i < REPLICAS; i++)
        searches[s].ks[k].latency_ns[i] =
            (int64_t)(10 + (k + 1) * (i + 2) * 17 % 41) * MS;
    }
    check(corun_main(run_search, &searches[s], NULL), "corun_main");
    ok &= searches[s].ok;
  }
  printf("first_reply: every task joined, one reply per kind that answered, "
         "the other replicas cancelled: %s\n",
         ok ? "yes" : "NO");
  return ok ? 0 : 1;
}
