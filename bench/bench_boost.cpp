// bench_boost.cpp: the Boost.Context peers (Boost 1.74 as packaged by
// Debian, libboost-context-dev; see README.md).
//
//  boost_fcontext_pair   two jump_fcontext() calls between the main stack
//                        and a context made by make_fcontext(): the
//                        same protocol as corun_raw_switch. This is the
//                        peer of corun_resume_yield (the target) and
//                        of corun_raw_switch.
//  boost_fiber_resume    boost::context::fiber: resume() into a fiber and
//                        resume() back to the caller: Boost's public-API
//                        round trip.
//  boost_fiber_create    construct a boost::context::fiber on a warm
//                        pooled_fixedsize_stack, resume() it once (its
//                        function returns at once) and let it be destroyed:
//                        the peer of corun_create_destroy. Same stack size.
#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>

#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <utility>

#include "harness.h"

#ifndef BENCH_STACK_SIZE
#define BENCH_STACK_SIZE (static_cast<std::size_t>(128) * 1024)
#endif

namespace ctx = boost::context;
namespace det = boost::context::detail;

// ---- boost_fcontext_pair ---------------------------------------------------

namespace {

struct raw {
  det::fcontext_t other;
};

void raw_entry(det::transfer_t t) {
  for (;;)
    t = det::jump_fcontext(t.fctx, t.data);
}

uint64_t run_fcontext_pair(void *p, uint64_t n) {
  raw *r = static_cast<raw *>(p);
  det::fcontext_t other = r->other;
  uint64_t sum = 0;
  for (uint64_t i = 0; i < n; i++) {
    det::transfer_t t =
        det::jump_fcontext(other, reinterpret_cast<void *>(static_cast<uintptr_t>(i)));
    other = t.fctx;
    sum += reinterpret_cast<uintptr_t>(t.data);
  }
  r->other = other;
  return sum;
}

// ---- boost_fiber_resume ----------------------------------------------------

struct echo {
  ctx::fiber f;
  bool stop = false;
  uint64_t count = 0;
};

uint64_t run_fiber_resume(void *p, uint64_t n) {
  echo *e = static_cast<echo *>(p);
  for (uint64_t i = 0; i < n; i++)
    e->f = std::move(e->f).resume();
  return e->count;
}

// ---- boost_fiber_create ----------------------------------------------------

struct spawn {
  ctx::pooled_fixedsize_stack salloc{BENCH_STACK_SIZE};
  uint64_t count = 0;
};

uint64_t run_fiber_create(void *p, uint64_t n) {
  spawn *s = static_cast<spawn *>(p);
  uint64_t *count = &s->count;
  for (uint64_t i = 0; i < n; i++) {
    ctx::fiber f{std::allocator_arg, s->salloc, [count, i](ctx::fiber &&c) {
                   *count += i;
                   return std::move(c);
                 }};
    f = std::move(f).resume(); // runs to completion: f comes back empty
    if (f)
      std::abort();
  }
  return *count;
}

} // namespace

int main(int argc, char **argv) {
  std::size_t raw_size = 64 * 1024;
  void *raw_stack = mmap(nullptr, raw_size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw_stack == MAP_FAILED) {
    std::perror("bench_boost: mmap");
    return 1;
  }
  raw r{det::make_fcontext(static_cast<char *>(raw_stack) + raw_size, raw_size,
                           raw_entry)};

  auto e = std::make_unique<echo>();
  {
    echo *ep = e.get();
    e->f = ctx::fiber{std::allocator_arg, ctx::pooled_fixedsize_stack(BENCH_STACK_SIZE),
                      [ep](ctx::fiber &&c) {
                        while (!ep->stop) {
                          ep->count++;
                          c = std::move(c).resume();
                        }
                        return std::move(c);
                      }};
  }

  auto s = std::make_unique<spawn>();

  bench_case cases[] = {
      {"boost_fcontext_pair", run_fcontext_pair, &r, 0, {0}},
      {"boost_fiber_resume", run_fiber_resume, e.get(), 0, {0}},
      {"boost_fiber_create", run_fiber_create, s.get(), 0, {0}},
  };
  int rc = bench_main(argc, argv, cases,
                      static_cast<int>(sizeof cases / sizeof *cases));

  // Let the echo fiber return normally (no forced unwinding).
  e->stop = true;
  if (e->f)
    e->f = std::move(e->f).resume();
  return rc;
}
