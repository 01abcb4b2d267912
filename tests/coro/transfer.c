/* transfer.c: proves symmetric corun_transfer(). (1) A ring of N coroutines
 * passes a token around by transfer, each one seeing it in order; the one
 * that ends the game returns and control goes back to the root, whose
 * corun_resume() returns 0 with its value while the others stay SUSPENDED
 * (and are then closed while suspended in a transfer: the transfer returns
 * 1 with NULL and corun_closing() is 1). (2) From the root, transfer
 * behaves like resume (1 with the yielded value, later 0 with the return
 * value) and continues a coroutine suspended in a transfer with its `in`.
 * (3) Simula's rule when the chain was started by a resume from a
 * coroutine P: after A transfers to B, B's yield and B's return both go to
 * P (P's resume of A returns 1 resp. 0 with B's values); inside B, A is
 * SUSPENDED and P NORMAL. (4) Errors: -EINVAL, -ESRCH, -EBUSY for self and
 * for a NORMAL coroutine of the chain, *out untouched, nothing switched. */
#include <errno.h>

#include "t.h"
#include "corun.h"

#define SENTINEL ((void *)(intptr_t)0x5e5e5e5e)

/* ---- (1) the ring ----------------------------------------------------- */

#define RING 100
#define LIMIT 10007 /* not a multiple of RING: ends in the middle */
static corun_coro *ring[RING];
static intptr_t ring_token; /* the token, for coroutines entered first */
static int ring_visits[RING];
static int ring_closed;

static void *ring_body(void *arg) {
  intptr_t i = (intptr_t)arg;
  intptr_t token = ring_token; /* first entry: in is ignored */
  for (;;) {
    T_PTR_EQ(corun_current(), ring[i]);
    T_EQ(token % RING, i);
    T_EQ(token, ring_token);
    if (token > 0) /* the one that handed us the token is suspended */
      T_EQ(corun_status(ring[(i + RING - 1) % RING]), CORUN_SUSPENDED);
    ring_visits[i]++;
    token++;
    ring_token = token;
    if (token == LIMIT)
      return (void *)token;
    void *in = SENTINEL;
    int rc = corun_transfer(ring[(i + 1) % RING], (void *)token, &in);
    T_EQ(rc, 1);
    if (corun_closing()) {
      T_PTR_EQ(in, NULL);
      ring_closed++;
      return NULL;
    }
    token = (intptr_t)in;
  }
}

static void ring_game(void) {
  for (intptr_t i = 0; i < RING; i++)
    T_OK(corun_create(&ring[i], ring_body, (void *)i, NULL));
  void *out = NULL;
  T_EQ(corun_resume(ring[0], NULL, &out), 0);
  T_EQ((intptr_t)out, LIMIT);
  T_PTR_EQ(corun_current(), NULL);
  intptr_t last = (LIMIT - 1) % RING;
  for (intptr_t i = 0; i < RING; i++) {
    T_EQ(ring_visits[i], LIMIT / RING + (i < LIMIT % RING));
    T_EQ(corun_status(ring[i]), i == last ? CORUN_DEAD : CORUN_SUSPENDED);
  }
  for (intptr_t i = 0; i < RING; i++)
    T_OK(corun_destroy(ring[i]));
  T_EQ(ring_closed, RING - 1);
}

/* ---- (2) transfer from the root ------------------------------------ */

static corun_coro *r1, *r2;

static void *r2_body(void *arg) {
  T_PTR_EQ(arg, (void *)2);
  T_EQ(corun_status(r1), CORUN_SUSPENDED);
  void *in = corun_yield((void *)22);
  T_PTR_EQ(in, (void *)23);
  return (void *)24;
}

static void *r1_body(void *arg) {
  T_PTR_EQ(arg, (void *)1);
  void *in = corun_yield((void *)11);
  T_PTR_EQ(in, (void *)12);
  void *out = SENTINEL;
  /* r1's resumer is the root: r2 inherits it. */
  T_EQ(corun_transfer(r2, (void *)99, &out), 1);
  T_PTR_EQ(out, (void *)13); /* the root's transfer(r1, 13) */
  return (void *)14;
}

static void from_root(void) {
  T_OK(corun_create(&r1, r1_body, (void *)1, NULL));
  T_OK(corun_create(&r2, r2_body, (void *)2, NULL));
  void *out = NULL;
  T_EQ(corun_transfer(r1, (void *)-1, &out), 1); /* like a first resume */
  T_PTR_EQ(out, (void *)11);
  T_EQ(corun_status(r1), CORUN_SUSPENDED);
  T_EQ(corun_transfer(r1, (void *)12, &out), 1); /* r1 -> r2, r2 yields */
  T_PTR_EQ(out, (void *)22);
  T_EQ(corun_status(r1), CORUN_SUSPENDED);
  T_EQ(corun_status(r2), CORUN_SUSPENDED);
  T_PTR_EQ(corun_current(), NULL);
  /* Continue r1 in its transfer, by transfer: it returns. */
  T_EQ(corun_transfer(r1, (void *)13, &out), 0);
  T_PTR_EQ(out, (void *)14);
  T_EQ(corun_status(r1), CORUN_DEAD);
  /* And r2 in its yield, by resume: it returns. */
  T_EQ(corun_resume(r2, (void *)23, &out), 0);
  T_PTR_EQ(out, (void *)24);
  out = SENTINEL;
  T_EQ(corun_transfer(r1, NULL, &out), -ESRCH);
  T_PTR_EQ(out, SENTINEL);
  T_OK(corun_destroy(r1));
  T_OK(corun_destroy(r2));
}

/* A transferred-to coroutine that finishes hands control to the root. */
static corun_coro *f1, *f2;
static int f1_after_transfer;

static void *f2_body(void *arg) {
  (void)arg;
  T_EQ(corun_status(f1), CORUN_SUSPENDED);
  return (void *)42;
}

static void *f1_body(void *arg) {
  (void)arg;
  void *out = NULL;
  corun_transfer(f2, NULL, &out);
  f1_after_transfer = 1;
  return NULL;
}

static void finish_goes_to_root(void) {
  T_OK(corun_create(&f1, f1_body, NULL, NULL));
  T_OK(corun_create(&f2, f2_body, NULL, NULL));
  void *out = NULL;
  T_EQ(corun_resume(f1, NULL, &out), 0);
  T_PTR_EQ(out, (void *)42);
  T_EQ(f1_after_transfer, 0);
  T_EQ(corun_status(f1), CORUN_SUSPENDED);
  T_EQ(corun_status(f2), CORUN_DEAD);
  T_PTR_EQ(corun_current(), NULL);
  T_OK(corun_destroy(f2));
  T_OK(corun_destroy(f1)); /* closes it in its transfer */
  T_EQ(f1_after_transfer, 1);
}

/* ---- (3) the inherited resumer ------------------------------------- */

static corun_coro *P, *Ac, *Bc, *Cc;
static int a_continued;

static void *cc_body(void *arg) {
  (void)arg;
  T_EQ(corun_status(P), CORUN_NORMAL);
  T_EQ(corun_status(Bc), CORUN_SUSPENDED);
  return (void *)'C';
}

static void *bc_body(void *arg) {
  (void)arg;
  T_PTR_EQ(corun_current(), Bc);
  T_EQ(corun_status(Bc), CORUN_RUNNING);
  T_EQ(corun_status(Ac), CORUN_SUSPENDED);
  T_EQ(corun_status(P), CORUN_NORMAL);
  void *in = corun_yield((void *)'b');
  T_PTR_EQ(in, (void *)'w');
  /* Hand over once more: Cc inherits P too, and its return goes to P. */
  void *out = NULL;
  corun_transfer(Cc, NULL, &out);
  T_TRUE(corun_closing());
  return NULL;
}

static void *ac_body(void *arg) {
  (void)arg;
  T_EQ(corun_status(P), CORUN_NORMAL);
  void *out = SENTINEL;
  T_EQ(corun_transfer(Bc, (void *)'x', &out), 1);
  /* P resumed us with 'z'. */
  a_continued = 1;
  T_PTR_EQ(out, (void *)'z');
  T_EQ(corun_status(P), CORUN_NORMAL);
  void *in = corun_yield((void *)'a');
  T_PTR_EQ(in, (void *)'q');
  return (void *)'A';
}

static void *p_body(void *arg) {
  (void)arg;
  void *out = NULL;
  T_EQ(corun_resume(Ac, NULL, &out), 1); /* Ac -> Bc, Bc yields to us */
  T_PTR_EQ(out, (void *)'b');
  T_EQ(a_continued, 0);
  T_PTR_EQ(corun_current(), P);
  T_EQ(corun_status(Ac), CORUN_SUSPENDED);
  T_EQ(corun_status(Bc), CORUN_SUSPENDED);
  /* Bc -> Cc, Cc returns: to us, with result 0. */
  T_EQ(corun_resume(Bc, (void *)'w', &out), 0);
  T_PTR_EQ(out, (void *)'C');
  T_EQ(corun_status(Cc), CORUN_DEAD);
  T_EQ(corun_status(Bc), CORUN_SUSPENDED);
  /* Ac continues in its transfer. */
  T_EQ(corun_resume(Ac, (void *)'z', &out), 1);
  T_PTR_EQ(out, (void *)'a');
  T_EQ(a_continued, 1);
  T_EQ(corun_resume(Ac, (void *)'q', &out), 0);
  T_PTR_EQ(out, (void *)'A');
  T_EQ(corun_status(Ac), CORUN_DEAD);
  return (void *)'P';
}

static void inherited_resumer(void) {
  T_OK(corun_create(&P, p_body, NULL, NULL));
  T_OK(corun_create(&Ac, ac_body, NULL, NULL));
  T_OK(corun_create(&Bc, bc_body, NULL, NULL));
  T_OK(corun_create(&Cc, cc_body, NULL, NULL));
  void *out = NULL;
  T_EQ(corun_resume(P, NULL, &out), 0);
  T_PTR_EQ(out, (void *)'P');
  T_OK(corun_destroy(Ac));
  T_EQ(corun_status(Bc), CORUN_SUSPENDED);
  T_OK(corun_destroy(Bc)); /* closed in its transfer: returns */
  T_OK(corun_destroy(Cc));
  T_OK(corun_destroy(P));
}

/* ---- (4) errors ------------------------------------------------------ */

static corun_coro *e_outer, *e_inner, *e_dead;
static int e_checked;

static void *e_inner_body(void *arg) {
  (void)arg;
  void *out = SENTINEL;
  T_EQ(corun_transfer(NULL, NULL, &out), -EINVAL);
  T_EQ(corun_transfer(e_inner, (void *)1, &out), -EBUSY); /* self */
  T_EQ(corun_transfer(e_outer, (void *)1, &out), -EBUSY); /* NORMAL */
  T_EQ(corun_transfer(e_dead, (void *)1, &out), -ESRCH);
  T_PTR_EQ(out, SENTINEL);
  T_PTR_EQ(corun_current(), e_inner);
  T_EQ(corun_status(e_inner), CORUN_RUNNING);
  T_EQ(corun_status(e_outer), CORUN_NORMAL);
  e_checked = 1;
  return (void *)5;
}

static void *e_outer_body(void *arg) {
  (void)arg;
  void *out = NULL;
  T_EQ(corun_resume(e_inner, NULL, &out), 0);
  T_PTR_EQ(out, (void *)5);
  return NULL;
}

static void *nothing(void *arg) {
  return arg;
}

static void errors(void) {
  T_OK(corun_create(&e_dead, nothing, NULL, NULL));
  T_EQ(corun_resume(e_dead, NULL, NULL), 0);
  T_OK(corun_create(&e_outer, e_outer_body, NULL, NULL));
  T_OK(corun_create(&e_inner, e_inner_body, NULL, NULL));
  void *out = SENTINEL;
  T_EQ(corun_transfer(NULL, NULL, &out), -EINVAL);
  T_EQ(corun_transfer(e_dead, NULL, &out), -ESRCH);
  T_PTR_EQ(out, SENTINEL);
  T_EQ(corun_resume(e_outer, NULL, &out), 0);
  T_EQ(e_checked, 1);
  T_OK(corun_destroy(e_dead));
  T_OK(corun_destroy(e_outer));
  T_OK(corun_destroy(e_inner));
}

int main(void) {
  ring_game();
  from_root();
  finish_goes_to_root();
  inherited_resumer();
  errors();
  return 0;
}
