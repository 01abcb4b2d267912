/* unwind_cxx.cpp: proves that C++ exceptions work inside coroutines: an
 * exception thrown deep inside a coroutine and caught inside the same
 * coroutine unwinds correctly (destructors run, the right handler catches),
 * many times, with yields between and in the middle of the call chains and
 * two coroutines doing it in turn; and that an exception escaping a
 * coroutine body calls std::terminate (the unwinder finds the end of the
 * coroutine's stack and stops there), so the process dies by SIGABRT, not
 * by a SIGSEGV from walking into garbage (checked in a forked child). */
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "corun.h"
#include "t.h"

namespace {

long live_guards; // Guard objects currently alive
long destroyed;   // Guard destructors run

struct Guard {
  Guard() { live_guards++; }
  ~Guard() {
    live_guards--;
    destroyed++;
  }
  Guard(const Guard &) = delete;
  Guard &operator=(const Guard &) = delete;
};

struct DeepError : std::runtime_error {
  int depth;
  explicit DeepError(int d) : std::runtime_error("deep"), depth(d) {}
};

// Recurses d levels, each with a Guard, yields half way down when asked,
// and throws at the bottom.
T_NOIPA int dive(int d, int total, bool yield_mid) {
  Guard g;
  if (d == total / 2 && yield_mid)
    corun_yield(nullptr);
  if (d == total)
    throw DeepError(d);
  return dive(d + 1, total, yield_mid) + 1;
}

struct Stats {
  int caught = 0;
  int rounds = 0;
  // Yield inside a catch handler. Only one of the two coroutines does it:
  // the C++ runtime keeps the list of exceptions being handled per thread,
  // so handlers of different coroutines must nest (the other coroutine's
  // handlers all finish before this one's resumes), as they do here.
  bool yield_in_handler = false;
};

void *catcher(void *arg) {
  Stats *st = static_cast<Stats *>(arg);
  for (int round = 0; round < st->rounds; round++) {
    int depth = 10 + round % 40;
    bool yield_mid = round % 3 == 0;
    long before = destroyed;
    try {
      Guard outer;
      dive(0, depth, yield_mid);
      T_TRUE(!"dive returned");
    } catch (const DeepError &e) {
      T_EQ(e.depth, depth);
      T_EQ(live_guards, 0); // every Guard of the dive destroyed
      st->caught++;
    }
    // depth + 1 Guards in dive, plus `outer`.
    T_EQ(destroyed - before, depth + 2);
    // A nested try/catch, rethrow and std::string on the way.
    try {
      try {
        throw std::string("inner");
      } catch (std::string &s) {
        s += "+rethrown";
        if (st->yield_in_handler)
          corun_yield(nullptr); // the other coroutine throws and catches
        throw;
      }
    } catch (const std::string &s) {
      T_STR_EQ(s.c_str(), "inner+rethrown");
    }
    corun_yield(nullptr);
  }
  return nullptr;
}

void *escaper(void *) {
  dive(0, 20, false); // throws DeepError out of the body
  return nullptr;
}

} // namespace

int main() {
  // 1. Two coroutines throwing and catching in turn, with yields in the
  // middle of the dives (Guards alive across switches) and inside a
  // handler (A only).
  const int rounds = 3000;
  Stats sa, sb;
  sa.rounds = sb.rounds = rounds;
  sa.yield_in_handler = true;
  corun_coro *a, *b;
  T_OK(corun_create(&a, catcher, &sa, nullptr));
  T_OK(corun_create(&b, catcher, &sb, nullptr));
  int ra = 1, rb = 1;
  while (ra == 1 || rb == 1) {
    // Run A until its next catch (it yields 0-2 times on the way), then B
    // likewise: whenever one of them catches, the other holds no Guard, so
    // the shared live_guards count is the catcher's alone (0).
    int target = sa.caught;
    while (ra == 1 && sa.caught == target)
      ra = corun_resume(a, nullptr, nullptr);
    T_TRUE(ra >= 0);
    target = sb.caught;
    while (rb == 1 && sb.caught == target)
      rb = corun_resume(b, nullptr, nullptr);
    T_TRUE(rb >= 0);
  }
  T_EQ(sa.caught, rounds);
  T_EQ(sb.caught, rounds);
  T_EQ(live_guards, 0);
  T_OK(corun_destroy(a));
  T_OK(corun_destroy(b));

  // 2. An exception escaping the body: std::terminate -> SIGABRT.
  std::fflush(nullptr);
  pid_t pid = fork();
  T_TRUE(pid >= 0);
  if (pid == 0) {
    corun_coro *co;
    if (corun_create(&co, escaper, nullptr, nullptr) != 0)
      _exit(3);
    corun_resume(co, nullptr, nullptr);
    _exit(4); // not reached: terminate aborts
  }
  int status = 0;
  T_EQ(waitpid(pid, &status, 0), pid);
  if (WIFEXITED(status))
    std::fprintf(stderr, "child exited with %d\n", WEXITSTATUS(status));
  T_TRUE(WIFSIGNALED(status));
  T_EQ(WTERMSIG(status), SIGABRT);
  return 0;
}
