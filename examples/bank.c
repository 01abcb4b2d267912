/* bank.c: the sync primitives together: tellers move money between
 * accounts on two worker threads.
 *
 * The classic exercise for locks (Go's sync package, any operating-systems
 * course): accounts whose balances many tellers change at once, and a sum
 * that must never change. Every primitive of corun's sync layer has its
 * natural job here:
 *  - a mutex per account guards its balance;
 *  - a condition variable per account ("funded"): a transfer from an
 *    account that lacks the money waits, with a deadline, for a deposit
 *    into it, and gives up (declines) when none comes in time;
 *  - a semaphore of WINDOWS permits: only that many tellers serve at once,
 *    the others wait in line (parked, not spinning);
 *  - a once: the ledger is opened by the first teller that needs it, and
 *    the others that need it meanwhile wait until it is open;
 *  - a wait group: the tellers are detached tasks (corun_go), and main
 *    waits for all of them to be done;
 *  - cancellation: an auditor task checks the books every millisecond
 *    until main cancels it; its sleep then returns -ECANCELED.
 * A withdrawal and the deposit it pays for take the two accounts' locks
 * one after the other, never both at once (so no lock order is needed and
 * a teller waiting for funds holds no other lock). In between, the money
 * is "in flight": a counter changed only under an account lock, so the
 * auditor, holding every lock, sees balances + in flight == the total.
 *
 * Usage: bank [TRANSFERS]   per teller (default 200). Exits 1 unless the
 * total is conserved in every audit and at the end, no more than WINDOWS
 * tellers were ever at the counter, and the ledger was opened once. */
#include <corun.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define ACCOUNTS 8
#define TELLERS 16
#define WINDOWS 3             /* tellers serving at once (the semaphore) */
#define OPENING 1000          /* each account's first balance */
#define MAX_AMOUNT 400        /* a transfer moves 1..MAX_AMOUNT */
#define FUNDS_WAIT_NS 1000000 /* how long a transfer waits for funds */
#define AUDIT_EVERY_NS 1000000

struct account {
  corun_mutex *mu;
  corun_cond *funded; /* broadcast at each deposit */
  long balance;       /* under mu */
};

static struct account accounts[ACCOUNTS];
static _Atomic long in_flight; /* withdrawn, not yet deposited (see above) */
static corun_sem *counter;     /* WINDOWS permits */
static _Atomic int at_counter, most_at_counter;
static corun_wg *tellers_done;
static long transfers_each;

/* Outcomes, over all tellers. */
static _Atomic long done, waited, declined;

/* The ledger: opened once, by whichever teller gets there first. */
static corun_once ledger_once = CORUN_ONCE_INIT;
static _Atomic int ledger_opened; /* times open_ledger ran: must be 1 */
static _Atomic long ledger_lines;

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "bank: %s: %s\n", what, corun_strerror(rc));
    exit(1);
  }
}

static uint64_t next_random(uint64_t *state) { /* xorshift64, per teller */
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  return *state;
}

/* Slow on purpose (as opening a file or a connection would be): the
 * tellers that come meanwhile park in corun_once_do until it returns. */
static void open_ledger(void *unused) {
  (void)unused;
  check(corun_sleep(2000000), "open ledger");
  atomic_fetch_add(&ledger_opened, 1);
}

static void ledger_write(void) {
  check(corun_once_do(&ledger_once, open_ledger, NULL), "ledger once");
  atomic_fetch_add(&ledger_lines, 1);
}

/* Takes `amount` out of account `from`, waiting up to FUNDS_WAIT_NS for a
 * deposit when the balance is short. Returns 0, or -ETIMEDOUT (declined:
 * nothing taken). */
static int withdraw(struct account *from, long amount) {
  int64_t deadline = corun_deadline_in(FUNDS_WAIT_NS);
  int rc = 0, had_to_wait = 0;
  check(corun_mutex_lock(from->mu, -1), "lock");
  while (from->balance < amount) {
    had_to_wait = 1;
    /* Unlocks, waits for a broadcast or the deadline, locks again. */
    rc = corun_cond_wait(from->funded, from->mu, deadline);
    if (rc == -ETIMEDOUT)
      break;
    check(rc, "cond wait");
  }
  if (rc == 0) {
    from->balance -= amount;
    atomic_fetch_add(&in_flight, amount); /* under an account lock */
    if (had_to_wait)
      atomic_fetch_add(&waited, 1);
  }
  check(corun_mutex_unlock(from->mu), "unlock");
  return rc;
}

static void deposit(struct account *to, long amount) {
  check(corun_mutex_lock(to->mu, -1), "lock");
  to->balance += amount;
  atomic_fetch_sub(&in_flight, amount);
  check(corun_mutex_unlock(to->mu), "unlock");
  check(corun_cond_broadcast(to->funded), "broadcast"); /* waiters re-check */
}

static void *teller(void *arg) {
  uint64_t rng = 0x9e3779b97f4a7c15u * ((uint64_t)(intptr_t)arg + 1);
  for (long i = 0; i < transfers_each; i++) {
    int from = (int)(next_random(&rng) % ACCOUNTS);
    int to = (int)((from + 1 + next_random(&rng) % (ACCOUNTS - 1)) % ACCOUNTS);
    long amount = 1 + (long)(next_random(&rng) % MAX_AMOUNT);

    check(corun_sem_acquire(counter, -1), "wait for a window");
    int n = atomic_fetch_add(&at_counter, 1) + 1;
    for (int m = atomic_load(&most_at_counter);
         n > m && !atomic_compare_exchange_weak(&most_at_counter, &m, n);)
      ;
    if (withdraw(&accounts[from], amount) == 0) {
      deposit(&accounts[to], amount);
      ledger_write();
      atomic_fetch_add(&done, 1);
    } else {
      atomic_fetch_add(&declined, 1);
    }
    atomic_fetch_sub(&at_counter, 1);
    check(corun_sem_release(counter), "leave the window");
  }
  check(corun_wg_done(tellers_done), "wg done");
  return NULL;
}

/* Sums the books with every account locked (in index order, the one
 * order anybody takes more than one of them in). Returns 1 if they add
 * up to the total. */
static int audit(void) {
  for (int a = 0; a < ACCOUNTS; a++)
    check(corun_mutex_lock(accounts[a].mu, -1), "audit lock");
  long sum = atomic_load(&in_flight);
  for (int a = 0; a < ACCOUNTS; a++)
    sum += accounts[a].balance;
  for (int a = ACCOUNTS; a-- > 0;)
    check(corun_mutex_unlock(accounts[a].mu), "audit unlock");
  return sum == (long)ACCOUNTS * OPENING;
}

struct audits {
  long made, balanced;
};

static void *auditor(void *arg) {
  struct audits *au = arg;
  for (;;) {
    au->made++;
    au->balanced += audit();
    int rc = corun_sleep(AUDIT_EVERY_NS);
    if (rc == -ECANCELED) /* main is done with us */
      return NULL;
    check(rc, "auditor sleep");
  }
}

static void *main_task(void *arg) {
  struct audits *au = arg;
  corun_task *aud;
  check(corun_spawn(&aud, auditor, au, NULL), "spawn auditor");
  check(corun_wg_add(tellers_done, TELLERS), "wg add");
  for (int t = 0; t < TELLERS; t++)
    check(corun_go(teller, (void *)(intptr_t)t), "start teller");
  check(corun_wg_wait(tellers_done, -1), "wait for the tellers");
  check(corun_cancel(aud), "cancel auditor");
  check(corun_join(aud, NULL), "join auditor"); /* a cancelled task joins */
  return NULL;
}

int main(int argc, char **argv) {
  transfers_each = argc > 1 ? atol(argv[1]) : 200;
  if (transfers_each <= 0) {
    fprintf(stderr, "usage: bank [TRANSFERS > 0]\n");
    return 2;
  }
  for (int a = 0; a < ACCOUNTS; a++) {
    check(corun_mutex_make(&accounts[a].mu), "mutex");
    check(corun_cond_make(&accounts[a].funded), "cond");
    accounts[a].balance = OPENING;
  }
  check(corun_sem_make(&counter, WINDOWS), "semaphore");
  check(corun_wg_make(&tellers_done), "wait group");

  struct audits au = {0, 0};
  corun_config cfg = {.workers = 2};
  int64_t t0 = corun_now();
  check(corun_main(main_task, &au, &cfg), "corun_main");
  double ms = (double)(corun_now() - t0) / 1e6;

  long total = 0;
  for (int a = 0; a < ACCOUNTS; a++) {
    total += accounts[a].balance;
    check(corun_cond_free(accounts[a].funded), "free cond");
    check(corun_mutex_free(accounts[a].mu), "free mutex");
  }
  check(corun_sem_free(counter), "free semaphore");
  check(corun_wg_free(tellers_done), "free wait group");

  long n_done = atomic_load(&done), n_declined = atomic_load(&declined);
  int ok = total == (long)ACCOUNTS * OPENING && atomic_load(&in_flight) == 0 &&
           au.made > 0 && au.balanced == au.made &&
           atomic_load(&most_at_counter) <= WINDOWS &&
           n_done + n_declined == TELLERS * transfers_each &&
           atomic_load(&ledger_lines) == n_done &&
           atomic_load(&ledger_opened) == (n_done > 0);
  printf("bank: %d tellers, %ld transfers done (%ld after waiting for funds), "
         "%ld declined after %d ms without funds\n",
         TELLERS, n_done, atomic_load(&waited), n_declined,
         FUNDS_WAIT_NS / 1000000);
  printf("bank: at most %d tellers at the counter (limit %d), ledger opened "
         "%d time(s), %ld of %ld audits balanced\n",
         atomic_load(&most_at_counter), WINDOWS, atomic_load(&ledger_opened),
         au.balanced, au.made);
  printf("bank: total %ld (opened with %ld) in %.1f ms: %s\n", total,
         (long)ACCOUNTS * OPENING, ms, ok ? "conserved" : "WRONG");
  return ok ? 0 : 1;
}
