/* chan.c: channels and select, on park/unpark (sched.h).
 * Layer: sync (uses base, sched).
 *
 * A channel is a ring of `cap` elements and two queues of parked tasks:
 * senders whose element did not fit, receivers that found nothing. An
 * operation that can complete does so at once, handing its element
 * directly to a parked partner when there is one (so a rendezvous costs
 * one copy and one wake-up). One that cannot registers a waiter and parks;
 * the partner that completes it later claims the waiter's task (one claim
 * per park wins, which is what makes select pick exactly one case), moves
 * the element, and unparks it with the case's index.
 *
 * Invariants (under the channel's lock):
 *  - sendq non-empty => the ring is full (senders only wait on a full ring);
 *  - recvq non-empty => the ring is empty and no sender waits;
 *  - closed => no task waits on it (close wakes them all with -EPIPE).
 * A waiter's `elem` is read or written by its partner while the waiter's
 * task is parked. For a task on a shared stack that memory may be swapped
 * out, so such a task waits with a heap copy (bounce) of the element.
 *
 * Locking: one lock per channel, biased to the worker thread when there
 * is one worker (sync/blk.h: no atomic instruction to take and release
 * it); select takes the locks of its channels in address order, so two
 * selects cannot deadlock. Unparking under a channel's lock takes
 * run-queue locks after it, never before. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/compiler.h"
#include "base/rand.h"
#include "sched/sched.h"
#include "sched/worker.h"
#include "sync/blk.h"

/* Layout, by cache line (CORUN__CACHE_LINE). The first holds what never
 * changes after corun_chan_make, and `closed`, written once. The second
 * starts with the lock (4 bytes, sync/blk.h) and holds what a send or
 * receive writes (the ring's indices, the length's mirror, the queues'
 * heads); the receive queue's tail and `waiting`, written when a task
 * parks, spill onto the third. The ring starts on the fourth. A task
 * on one worker that sends into a buffered channel while another worker's
 * task receives (or selects) moves the lock's line between the CPUs once
 * or twice per element; with elem_size and cap in it too, select's
 * lock-free look at a channel (cap, then the hints) missed on a line the
 * other side had just written, and so did every look at the capacity.
 * Measured (bench_sched -workers 2, 8 alternating runs): select4 97 -> 79
 * ns, buffered 13.4 -> 10.5 ns; one worker and rendezvous channels
 * unchanged. The price: 192 bytes before the ring instead of 104, and
 * the whole rounded up to a multiple of 64. */
struct corun_chan {
  /* Set by corun_chan_make, read-only after. */
  size_t elem_size;
  size_t cap;
  /* Written once, by corun_chan_close (under the lock): here, off the
   * second line, to leave room there for both queues' heads. closed_hint
   * mirrors closed for a look without the lock (select's fast path, a
   * hint only). */
  int closed;
  atomic_int closed_hint;
  _Alignas(CORUN__CACHE_LINE) struct corun__blk lock;
  /* len mirrored for a look without the lock (select's fast path,
   * corun_chan_len): written under the lock, read as a hint only. */
  atomic_size_t len_hint;
  size_t head; /* index of the oldest element in the ring */
  size_t len;  /* elements in the ring */
  struct corun__waitq sendq, recvq;
  /* Waiters registered here whose task has not finished with the channel:
   * a waiter a claimer dropped (its task woke by a timeout or a cancel)
   * is off the queues, but its task still comes back to take the lock.
   * corun_chan_free refuses while any is out. */
  size_t waiting;
  _Alignas(CORUN__CACHE_LINE) char buf[]; /* cap * elem_size bytes */
};
/* Every send reads the receive queue's head and every receive the send
 * queue's, next to the lock (the layout comment). */
_Static_assert(offsetof(struct corun_chan, recvq) + sizeof(void *) <=
                   2 * CORUN__CACHE_LINE,
               "both queues' heads on the lock's line");

int corun_chan_make(corun_chan **out, size_t elem_size, size_t capacity) {
  if (!out || !elem_size)
    return -EINVAL;
  if (capacity && elem_size > ((size_t)1 << 40) / capacity)
    return -ENOMEM;
  corun_chan *ch = corun__malloc_aligned(CORUN__CACHE_LINE,
                                         sizeof *ch + elem_size * capacity);
  if (!ch)
    return -ENOMEM;
  memset(ch, 0, sizeof *ch);
  corun__blk_init(&ch->lock);
  ch->elem_size = elem_size;
  ch->cap = capacity;
  *out = ch;
  return 0;
}

int corun_chan_free(corun_chan *ch) {
  if (!ch)
    return -EINVAL;
  corun__blk_acquire(&ch->lock);
  int busy = ch->waiting != 0;
  corun__blk_release(&ch->lock);
  if (busy)
    return -EBUSY;
  corun__free(ch);
  return 0;
}

size_t corun_chan_len(const corun_chan *ch) {
  if (!ch)
    return 0;
  /* The mirror, without the lock: a length the channel had when an
   * operation released its lock (a relaxed read: not a synchronisation
   * with that operation). Taking the lock from a thread that is not the
   * worker would revoke its bias (sync/blk.h), and a thread that watches
   * queue lengths would revoke every channel's. */
  return atomic_load_explicit(&ch->len_hint, memory_order_relaxed);
}

static void set_len(corun_chan *ch) {
  atomic_store_explicit(&ch->len_hint, ch->len, memory_order_relaxed);
}

/* The ring's i-th element from the oldest (i <= cap). head < cap, so one
 * subtraction wraps it: a `%` by the run-time capacity was a division on
 * every buffered send and receive (twice per receive), 40 of the 240
 * instructions per element of bench_sched's buffered, and on the
 * critical path. */
static char *slot(corun_chan *ch, size_t i) {
  size_t k = ch->head + i;
  if (k >= ch->cap)
    k -= ch->cap;
  return ch->buf + k * ch->elem_size;
}

/* memcpy of one element: the common sizes inline, as a load and a store,
 * instead of a call into libc's memcpy (a tenth of the instructions of a
 * buffered send and receive of an int64_t). */
static inline void copy_elem(void *dst, const void *src, size_t size) {
  switch (size) {
  case 4:
    memcpy(dst, src, 4);
    break;
  case 8:
    memcpy(dst, src, 8);
    break;
  case 16:
    memcpy(dst, src, 16);
    break;
  default:
    memcpy(dst, src, size);
  }
}

/* copy_elem for transfer's fast path, whose size is 4, 8 or 16 (checked
 * there): with no call to memcpy left in it, that path saves no register
 * (it pushed and popped two: bench_sched pingpong, 810 -> 782
 * instructions a round trip, callgrind). */
static inline void copy_small(void *dst, const void *src, size_t size) {
  if (size == 8)
    memcpy(dst, src, 8);
  else if (size == 16)
    memcpy(dst, src, 16);
  else
    memcpy(dst, src, 4); /* (4: the only size left) */
}

/* Takes w, the only waiter of q, off it. */
static inline void unqueue_only(struct corun__waitq *q,
                                struct corun__waiter *w) {
  q->head = q->tail = NULL; /* (w->prev and w->next are NULL) */
  w->queued = 0;
}

/* corun__waitq_claim, with its two common answers inline: nobody waits,
 * or one task waits and this claims it (a rendezvous: 28 -> 12
 * instructions, callgrind, bench_sched pingpong). */
static inline struct corun__waiter *claim(struct corun__waitq *q) {
  struct corun__waiter *w = q->head;
  if (!w)
    return NULL;
  if (!w->next && corun__claim(w->task)) {
    unqueue_only(q, w);
    return w;
  }
  return corun__waitq_claim(q); /* (drops w too if its claim failed) */
}

/* Wakes a claimed waiter: its operation ended with `result`. Its task does
 * not touch ch again. */
static void complete(corun_chan *ch, struct corun__waiter *w, int result) {
  ch->waiting--;
  w->result = result;
  corun__unpark(w->task, w->index);
}

/* Sends if it can without waiting: 1 done, 0 must wait, -EPIPE closed.
 * (This and try_recv inline: as calls they cost a third of a buffered
 * send and receive, most of it saving and restoring registers.) */
static inline __attribute__((always_inline)) int try_send(corun_chan *ch,
                                                          const void *elem) {
  if (ch->closed)
    return -EPIPE;
  struct corun__waiter *w = claim(&ch->recvq);
  if (w) {
    copy_elem(w->elem, elem, ch->elem_size);
    complete(ch, w, 0);
    return 1;
  }
  if (ch->len < ch->cap) {
    copy_elem(slot(ch, ch->len), elem, ch->elem_size);
    ch->len++;
    set_len(ch);
    return 1;
  }
  return 0;
}

/* Receives if it can without waiting: 1 done, 0 must wait, -EPIPE closed
 * and drained. */
static inline __attribute__((always_inline)) int try_recv(corun_chan *ch,
                                                          void *elem) {
  if (ch->len) {
    copy_elem(elem, slot(ch, 0), ch->elem_size);
    ch->head = ch->head + 1 == ch->cap ? 0 : ch->head + 1;
    ch->len--;
    /* A waiting sender's element takes the freed place, in order. */
    struct corun__waiter *w = claim(&ch->sendq);
    if (w) {
      copy_elem(slot(ch, ch->len), w->elem, ch->elem_size);
      ch->len++;
      complete(ch, w, 0);
    }
    set_len(ch); /* once: never a length the channel did not have */
    return 1;
  }
  struct corun__waiter *w = claim(&ch->sendq);
  if (w) { /* rendezvous */
    copy_elem(elem, w->elem, ch->elem_size);
    complete(ch, w, 0);
    return 1;
  }
  return ch->closed ? -EPIPE : 0;
}

int corun_chan_close(corun_chan *ch) {
  if (!ch)
    return -EINVAL;
  corun__blk_acquire(&ch->lock);
  if (ch->closed) {
    corun__blk_release(&ch->lock);
    return -EPIPE;
  }
  ch->closed = 1;
  atomic_store_explicit(&ch->closed_hint, 1, memory_order_relaxed);
  struct corun__waiter *w;
  while ((w = corun__waitq_claim(&ch->recvq)))
    complete(ch, w, -EPIPE);
  while ((w = corun__waitq_claim(&ch->sendq)))
    complete(ch, w, -EPIPE);
  corun__blk_release(&ch->lock);
  return 0;
}

/* ---- waiting ----------------------------------------------------------- */

/* Where a waiting task's partner reads or writes its element: the caller's
 * own memory, or, for a task on a shared stack, a heap copy (a bounce
 * buffer) with the element's size in front. The size travels with it: a
 * task woken by a completion must not read the channel again (its owner
 * may free it as soon as the partner's operation returns). */
#define BOUNCE_HEAD 16 /* keeps the element as aligned as malloc's memory */

static void *wait_elem(struct corun_task *t, void *elem, size_t size,
                       int copy_in) {
  if (!t->shared)
    return elem;
  char *b = corun__malloc(BOUNCE_HEAD + size);
  if (!b)
    return NULL;
  memcpy(b, &size, sizeof size);
  if (copy_in)
    memcpy(b + BOUNCE_HEAD, elem, size);
  return b + BOUNCE_HEAD;
}

static void wait_elem_done(void *user, void *used, int copy_out) {
  if (used == user)
    return;
  char *b = (char *)used - BOUNCE_HEAD;
  if (copy_out) {
    size_t size;
    memcpy(&size, b, sizeof size);
    memcpy(user, used, size);
  }
  corun__free(b);
}

/* Queues t's waiter, holding elem (the element or the room for it), as a
 * sender (send != 0) or receiver of ch, whose lock the caller holds. */
static inline struct corun__waiter *enqueue(corun_chan *ch,
                                            struct corun_task *t, void *elem,
                                            int send) {
  struct corun__waiter *w = &t->self_waiter;
  w->task = t;
  w->index = 0;
  w->result = 0;
  w->elem = elem;
  corun__waitq_push(send ? &ch->sendq : &ch->recvq, w);
  ch->waiting++;
  return w;
}

/* After a park of w's task that nobody completed (a timeout, a cancel):
 * takes w off its queue, if a claim that lost did not already. */
static void dequeue(corun_chan *ch, struct corun__waiter *w, int send) {
  corun__blk_acquire(&ch->lock);
  if (w->queued)
    corun__waitq_remove(send ? &ch->sendq : &ch->recvq, w);
  ch->waiting--;
  corun__blk_release(&ch->lock);
}

/* Parks t as a sender (send != 0) or receiver of ch, whose lock the caller
 * holds (the park releases it). Returns the operation's result. */
static int wait_one(corun_chan *ch, struct corun_task *t, void *elem, int send,
                    int64_t deadline) {
  void *room = wait_elem(t, elem, ch->elem_size, send);
  if (!room) {
    corun__blk_release(&ch->lock);
    return -ENOMEM;
  }
  struct corun__waiter *w = enqueue(ch, t, room, send);
  int rc = corun__park(t, send ? "chan send" : "chan receive", corun__unlock_cb,
                       &ch->lock.held, deadline);
  if (rc < 0) /* nobody completed it: deregister */
    dequeue(ch, w, send);
  else
    rc = w->result;
  wait_elem_done(elem, room, !send && rc == 0);
  return rc;
}

/* The rest of a send (send != 0) or a receive that could not be done at
 * once, under ch's lock: -EAGAIN, or waited for (wait_one). Out of line,
 * so that the common case keeps few registers live: with the waiting
 * inlined, every call saved and restored six of them, a sixth of the
 * instructions of a buffered send and receive. */
static CORUN__NOINLINE int wait_or_fail(corun_chan *ch, void *elem, int send,
                                        int64_t deadline) {
  int err = -EAGAIN;
  struct corun_task *t = deadline == 0 ? NULL : corun__task_blocking(&err);
  if (!t) {
    corun__blk_release(&ch->lock);
    return err;
  }
  return wait_one(ch, t, elem, send, deadline);
}

/* The park of wait_fast, t's waiter queued: only t, ch and send are
 * live across the switch. A cancel is the one way such a park ends
 * without a claimer (it has no deadline): the waiter is then taken off
 * its queue, as wait_one does. */
static CORUN__NOINLINE int wait_parked(corun_chan *ch, struct corun_task *t,
                                       int send) {
  int rc = corun__park(t, send ? "chan send" : "chan receive", corun__unlock_cb,
                       &ch->lock.held, -1);
  if (CORUN__LIKELY(rc >= 0))
    return t->self_waiter.result;
  dequeue(ch, &t->self_waiter, send);
  return rc;
}

/* wait_or_fail's common case, ch's lock held: a task on its own stack
 * that may wait without a deadline. Its waiter holds the caller's
 * element (no bounce buffer). It calls nothing but through tail calls,
 * so it saves no register; the thread variables are read straight
 * (corun__task_here: this function does not switch, wait_parked does).
 * Measured (bench_sched pingpong, 1 worker): 844 -> 810 instructions a
 * round trip (callgrind). */
static CORUN__NOINLINE int wait_fast(corun_chan *ch, void *elem, int send,
                                     int64_t deadline) {
  struct corun_task *t = corun__task_here();
  if (CORUN__UNLIKELY(deadline >= 0 || !t || t->shared))
    return wait_or_fail(ch, elem, send, deadline);
  enqueue(ch, t, elem, send);
  return wait_parked(ch, t, send);
}

/* A send (send != 0) or a receive on ch, whose lock the caller holds:
 * the whole operation from there. */
static CORUN__NOINLINE int transfer_locked(corun_chan *ch, void *elem, int send,
                                           int64_t deadline) {
  int r = send ? try_send(ch, elem) : try_recv(ch, elem);
  if (CORUN__LIKELY(r)) {
    corun__blk_release(&ch->lock);
    return r < 0 ? r : 0;
  }
  return wait_or_fail(ch, elem, send, deadline);
}

/* The same, the lock not taken yet. */
static CORUN__NOINLINE int transfer_slow(corun_chan *ch, void *elem, int send,
                                         int64_t deadline) {
  corun__blk_acquire(&ch->lock);
  return transfer_locked(ch, elem, send, deadline);
}

/* The end of a rendezvous of the fast path below: wakes the partner, its
 * waiter completed and ch's lock released. (The claim made it ours: it
 * reads nothing of ch, and ch may be freed once the lock is released.) */
static CORUN__NOINLINE int wake_partner(struct corun_task *t, int code) {
  corun__unpark(t, code);
  return 0;
}

/* A send (send != 0) or a receive, inline in each public function so that
 * `send` is a constant there and only its own ring operation is in it.
 * Its common cases (the lock's fast path, an element of 4, 8 or 16
 * bytes; a rendezvous with one waiting partner, or room or an element in
 * the ring with nobody waiting) call nothing but through tail calls, so
 * they save no register: the rest goes to transfer_slow or
 * transfer_locked, which do everything try_send and try_recv do. The
 * partner of a rendezvous is unparked after the lock is released, as
 * corun__unpark_all's are. Measured (bench_sched pingpong, 1 worker):
 * 848 -> 836 instructions a round trip (callgrind), and 61.2-61.9 ->
 * 52.4-53.1 ns (three runs each, pinned); buffered 6.1-6.6 -> 5.8-5.9
 * ns an element. */
static inline __attribute__((always_inline)) int
transfer(corun_chan *ch, void *elem, int send, int64_t deadline) {
  if (!ch || !elem)
    return -EINVAL;
  size_t size = ch->elem_size;
  if (CORUN__UNLIKELY((size != 8 && size != 4 && size != 16) ||
                      !corun__blk_take_fast(&ch->lock)))
    return transfer_slow(ch, elem, send, deadline);
  struct corun__waitq *q = send ? &ch->recvq : &ch->sendq;
  struct corun__waiter *w = q->head;
  if (w) { /* a partner waits (a receive: the ring is empty, or full) */
    if (CORUN__UNLIKELY((!send && ch->len) || w->next ||
                        corun__claim_try(w->task) <= 0))
      return transfer_locked(ch, elem, send, deadline);
    unqueue_only(q, w);
    if (send)
      copy_small(w->elem, elem, size);
    else
      copy_small(elem, w->elem, size);
    ch->waiting--;
    w->result = 0;
    struct corun_task *t = w->task;
    int code = w->index;
    corun__blk_release(&ch->lock);
    return wake_partner(t, code);
  }
  if (CORUN__UNLIKELY(ch->closed))
    return transfer_locked(ch, elem, send, deadline);
  if (send) {
    if (ch->len >= ch->cap) /* (full: wait) */
      return wait_fast(ch, elem, send, deadline);
    copy_small(slot(ch, ch->len), elem, size);
    ch->len++;
  } else {
    if (!ch->len) /* (empty: wait) */
      return wait_fast(ch, elem, send, deadline);
    copy_small(elem, slot(ch, 0), size);
    ch->head = ch->head + 1 == ch->cap ? 0 : ch->head + 1;
    ch->len--;
  }
  set_len(ch);
  corun__blk_release(&ch->lock);
  return 0;
}

int corun_chan_send(corun_chan *ch, const void *elem, int64_t deadline) {
  return transfer(ch, (void *)elem, 1, deadline);
}

int corun_chan_recv(corun_chan *ch, void *elem, int64_t deadline) {
  return transfer(ch, elem, 0, deadline);
}

/* ---- select ---------------------------------------------------------- */

/* The channels of a select, each once, in address order (the lock order). */
struct sel_locks {
  size_t n;
  corun_chan **ch;
};

static void lock_all(struct sel_locks *l) {
  for (size_t i = 0; i < l->n; i++)
    corun__blk_acquire(&l->ch[i]->lock);
}

static void unlock_all(void *arg) {
  struct sel_locks *l = arg;
  for (size_t i = l->n; i-- > 0;)
    corun__blk_release(&l->ch[i]->lock);
}

/* Takes the channel of completed case `done` out of the lock list, unless
 * another of the first `registered` cases is on it too. */
static void drop_done_channel(struct sel_locks *l, const corun_case *cases,
                              size_t registered, size_t done) {
  corun_chan *ch = cases[done].ch;
  for (size_t i = 0; i < registered; i++)
    if (i != done && cases[i].ch == ch)
      return;
  for (size_t k = 0; k < l->n; k++)
    if (l->ch[k] == ch) {
      memmove(l->ch + k, l->ch + k + 1, (l->n - k - 1) * sizeof *l->ch);
      l->n--;
      return;
    }
}

static uint64_t *rng_state(void) {
  static __thread uint64_t seed;
  struct corun__worker *w = corun__worker_self();
  if (w)
    return &w->rng;
  if (!seed)
    seed = (uint64_t)corun__clock_ns() | 1;
  return &seed;
}

#define SEL_STACK 8 /* cases handled without a heap allocation */

int corun_select(corun_case *cases, size_t n, int64_t deadline) {
  if (!cases && n)
    return -EINVAL;
  if (n > ((size_t)1 << 20))
    return -EINVAL;
  for (size_t i = 0; i < n; i++)
    if (cases[i].ch &&
        ((cases[i].op != CORUN_SEND && cases[i].op != CORUN_RECV) ||
         !cases[i].elem))
      return -EINVAL;
  /* One allocation for the order, the lock list and the waiters. */
  size_t order_s[SEL_STACK];
  corun_chan *chans_s[SEL_STACK];
  struct corun__waiter waiters_s[SEL_STACK];
  size_t *order = order_s;
  corun_chan **chans = chans_s;
  struct corun__waiter *waiters = waiters_s;
  void *heap = NULL;
  int err = -EAGAIN;
  struct corun_task *t = deadline == 0 ? NULL : corun__task_blocking(&err);
  if (n > SEL_STACK || (t && t->shared)) {
    /* On a shared stack the waiters must not live on it (chan.c). */
    heap = corun__malloc(n * (sizeof *order + sizeof *chans + sizeof *waiters));
    if (!heap)
      return -ENOMEM;
    waiters = heap;
    chans = (corun_chan **)(waiters + n);
    order = (size_t *)(chans + n);
  }
  int rc;
  /* A random order to try the cases in (Fisher-Yates): the fair choice. */
  uint64_t *rng = rng_state();
  for (size_t i = 0; i < n; i++) {
    size_t j = corun__rand_below(rng, (uint32_t)(i + 1));
    order[i] = order[j];
    order[j] = i;
  }
  /* Fast path: in that order, the first case whose buffered channel looks
   * ready (a hint read without locks) is tried under its own lock only;
   * with every case taken in random order this is still a uniform choice
   * among the ready ones. Taking the locks of all the channels, which other
   * workers' senders and receivers are using, cost several cache misses
   * per select. Rendezvous channels and hints that turn out stale go the
   * full way below. */
  for (size_t k = 0; k < n; k++) {
    corun_case *c = &cases[order[k]];
    corun_chan *ch = c->ch;
    if (!ch)
      continue;
    if (!ch->cap ||
        atomic_load_explicit(&ch->closed_hint, memory_order_relaxed))
      break; /* readiness unknown without the lock: keep the order fair */
    size_t len = atomic_load_explicit(&ch->len_hint, memory_order_relaxed);
    if (c->op == CORUN_SEND ? len == ch->cap : len == 0)
      continue;
    corun__blk_acquire(&ch->lock);
    int r = c->op == CORUN_SEND ? try_send(ch, c->elem) : try_recv(ch, c->elem);
    corun__blk_release(&ch->lock);
    if (r) {
      c->result = r < 0 ? r : 0;
      rc = (int)order[k];
      goto out;
    }
    break; /* stale: do it properly */
  }
  /* The lock order: distinct channels by address (insertion sort: n is
   * small). */
  struct sel_locks locks = {0, chans};
  for (size_t i = 0; i < n; i++) {
    corun_chan *c = cases[i].ch;
    if (!c)
      continue;
    size_t k = locks.n;
    while (k > 0 && (uintptr_t)chans[k - 1] > (uintptr_t)c)
      k--;
    if (k > 0 && chans[k - 1] == c)
      continue;
    memmove(chans + k + 1, chans + k, (locks.n - k) * sizeof *chans);
    chans[k] = c;
    locks.n++;
  }
  lock_all(&locks);
  for (size_t k = 0; k < n; k++) {
    corun_case *c = &cases[order[k]];
    if (!c->ch)
      continue;
    int r = c->op == CORUN_SEND ? try_send(c->ch, c->elem)
                                : try_recv(c->ch, c->elem);
    if (r) {
      c->result = r < 0 ? r : 0;
      rc = (int)order[k];
      unlock_all(&locks);
      goto out;
    }
  }
  if (!t) {
    unlock_all(&locks);
    rc = err;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    struct corun__waiter *w = &waiters[i];
    w->queued = 0;
    corun_case *c = &cases[i];
    if (!c->ch)
      continue;
    w->task = t;
    w->index = (int)i;
    w->result = 0;
    w->elem = wait_elem(t, c->elem, c->ch->elem_size, c->op == CORUN_SEND);
    if (!w->elem)
      break; /* -ENOMEM below, after undoing */
    corun__waitq_push(c->op == CORUN_SEND ? &c->ch->sendq : &c->ch->recvq, w);
    c->ch->waiting++;
  }
  size_t registered = 0;
  while (registered < n && (!cases[registered].ch || waiters[registered].elem))
    registered++;
  if (registered < n) { /* out of memory for a bounce buffer */
    rc = -ENOMEM;
    unlock_all(&locks);
  } else {
    rc = corun__park(t, "select", unlock_all, &locks, deadline);
  }
  /* Deregister every waiter but the one completed (its claimer did). The
   * completed case's channel is not touched again unless another of the
   * cases still waits on it: its partner's operation has returned, and
   * the channel may be freed by now (corun_chan_free counts waiters). */
  if (rc >= 0 && (size_t)rc < registered)
    drop_done_channel(&locks, cases, registered, (size_t)rc);
  lock_all(&locks);
  for (size_t i = 0; i < registered; i++) {
    corun_case *c = &cases[i];
    if (!c->ch || (rc >= 0 && (size_t)rc == i))
      continue;
    if (waiters[i].queued)
      corun__waitq_remove(c->op == CORUN_SEND ? &c->ch->sendq : &c->ch->recvq,
                          &waiters[i]);
    c->ch->waiting--;
  }
  unlock_all(&locks);
  if (rc >= 0)
    cases[rc].result = waiters[rc].result;
  for (size_t i = 0; i < registered; i++)
    if (cases[i].ch)
      wait_elem_done(cases[i].elem, waiters[i].elem,
                     (int)i == rc && cases[i].op == CORUN_RECV &&
                         waiters[i].result == 0);
out:
  corun__free(heap);
  return rc;
}
