/* deque.h: a worker's run queue, the Chase-Lev work-stealing deque.
 * Layer: sched. The owner pushes and pops at the bottom (newest first,
 * cache-warm); thieves take from the top (oldest first) with a CAS.
 * Fixed capacity: a full deque makes the caller put the task elsewhere
 * (the global queue), so pushing never allocates.
 * The C11 orderings are those of Le, Pop, Cohen, Zappa Nardelli, "Correct
 * and Efficient Work-Stealing for Weak Memory Models" (PPoPP 2013), fig. 1.
 * Locking: none; owner-only functions must be called by the owning worker. */
#ifndef CORUN_SCHED_DEQUE_H
#define CORUN_SCHED_DEQUE_H

#include <stdatomic.h>
#include <stddef.h>

#define CORUN__DEQUE_CAP 256 /* a power of two */

struct corun_task;

struct corun__deque {
  atomic_size_t top;    /* next to steal; only grows */
  atomic_size_t bottom; /* next free slot; owner only writes it */
  _Atomic(struct corun_task *) slot[CORUN__DEQUE_CAP];
};

/* Owner: pushes t; returns 0, or -1 if full (t not pushed). */
static inline int corun__deque_push(struct corun__deque *d,
                                    struct corun_task *t) {
  size_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
  size_t top = atomic_load_explicit(&d->top, memory_order_acquire);
  if (b - top >= CORUN__DEQUE_CAP)
    return -1;
  atomic_store_explicit(&d->slot[b & (CORUN__DEQUE_CAP - 1)], t,
                        memory_order_relaxed);
  /* A release store rather than the paper's release fence: the same on
   * x86-64 and AArch64, and visible to ThreadSanitizer, which does not
   * model fences. */
  atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
  return 0;
}

/* Owner: pops the newest task, or NULL. */
static inline struct corun_task *corun__deque_pop(struct corun__deque *d) {
  size_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
  size_t top = atomic_load_explicit(&d->top, memory_order_relaxed);
  if (b == top) /* empty: skip the fence (thieves only shrink it) */
    return NULL;
  b--;
  /* The paper's relaxed store + seq_cst fence + relaxed load, written as a
   * seq_cst store and load (the same guarantee, one xchg on x86-64, and
   * ThreadSanitizer models it; it rejects fences). */
  atomic_store_explicit(&d->bottom, b, memory_order_seq_cst);
  top = atomic_load_explicit(&d->top, memory_order_seq_cst);
  if ((ptrdiff_t)(b - top) < 0) { /* a thief took the last one */
    atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    return NULL;
  }
  struct corun_task *t = atomic_load_explicit(
      &d->slot[b & (CORUN__DEQUE_CAP - 1)], memory_order_relaxed);
  if (b == top) { /* the last one: race the thieves for it */
    if (!atomic_compare_exchange_strong_explicit(
            &d->top, &top, top + 1, memory_order_seq_cst, memory_order_relaxed))
      t = NULL;
    atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
  }
  return t;
}

/* Anyone: takes the oldest task, or NULL (empty, or lost a race). */
static inline struct corun_task *corun__deque_steal(struct corun__deque *d) {
  size_t top = atomic_load_explicit(&d->top, memory_order_seq_cst);
  size_t b = atomic_load_explicit(&d->bottom, memory_order_seq_cst);
  if ((ptrdiff_t)(b - top) <= 0)
    return NULL;
  struct corun_task *t = atomic_load_explicit(
      &d->slot[top & (CORUN__DEQUE_CAP - 1)], memory_order_relaxed);
  if (!atomic_compare_exchange_strong_explicit(
          &d->top, &top, top + 1, memory_order_seq_cst, memory_order_relaxed))
    return NULL;
  return t;
}

/* Owner, on a full deque: takes its `n` oldest tasks (the thieves' end,
 * one CAS for all of them). Returns the index of the first, whose tasks
 * the caller reads with corun__deque_at(d, index + i) for i < n; or -1
 * if it holds fewer than n now or a thief took one meanwhile (either way
 * there is room for a push). Holding n is checked against `bottom`, not
 * taken from the caller's look: thieves may have emptied the deque since
 * (the owner preempted in between), and a CAS from a fresh `top` alone
 * then moved `top` past `bottom` and took slots of stolen tasks (a
 * review's find: with a 2 ms pause before the call, tests/sched/burst
 * crashed 3 runs of 3). The slots are read after the CAS: only the
 * owner, which is here, writes slots; before it a thief could take any
 * of these tasks, and a write to one (its queue link) would race with
 * the worker that then runs it. */
static inline ptrdiff_t corun__deque_take_oldest(struct corun__deque *d,
                                                 size_t n) {
  size_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
  size_t top = atomic_load_explicit(&d->top, memory_order_acquire);
  if (b - top < n ||
      !atomic_compare_exchange_strong_explicit(
          &d->top, &top, top + n, memory_order_seq_cst, memory_order_relaxed))
    return -1;
  return (ptrdiff_t)(top & (CORUN__DEQUE_CAP - 1));
}

/* Owner: the task in slot i (mod the capacity) of a range it took. */
static inline struct corun_task *corun__deque_at(struct corun__deque *d,
                                                 size_t i) {
  return atomic_load_explicit(&d->slot[i & (CORUN__DEQUE_CAP - 1)],
                              memory_order_relaxed);
}

/* Anyone: whether it looks non-empty (a hint). */
static inline int corun__deque_busy(struct corun__deque *d) {
  size_t top = atomic_load_explicit(&d->top, memory_order_acquire);
  size_t b = atomic_load_explicit(&d->bottom, memory_order_acquire);
  return (ptrdiff_t)(b - top) > 0;
}

#endif
