/* cxx.cpp: proves corun.h works from C++ at link level: the functions have
 * C linkage (this program links against the C library), a non-capturing
 * lambda is a valid corun_fn, corun_attr can be built with designated-less
 * aggregate init, a C++ exception thrown and caught inside a coroutine
 * unwinds on the coroutine's stack, and a local object's destructor runs
 * when corun_destroy() closes the coroutine (the body returns normally
 * because corun_closing() is 1). */
#include <errno.h>

#include <stdexcept>
#include <string>

#include "corun.h"
#include "t.h"

namespace {

int destructed = 0;

struct Guard {
  ~Guard() {
    destructed++;
  }
};

void *thrower(void *arg) {
  int caught = 0;
  for (int i = 0; i < 100; i++) {
    try {
      corun_yield(reinterpret_cast<void *>(static_cast<intptr_t>(i)));
      throw std::runtime_error("in coroutine " + std::to_string(i));
    } catch (const std::runtime_error &e) {
      if (std::string(e.what()) == "in coroutine " + std::to_string(i))
        caught++;
    }
  }
  return arg == nullptr
             ? nullptr
             : reinterpret_cast<void *>(static_cast<intptr_t>(caught));
}

} // namespace

int main() {
  corun_coro *co = nullptr;
  void *out = nullptr;

  // A lambda as the body; a C++-built attr.
  corun_attr attr = {64 * 1024, nullptr, "cxx", 0};
  corun_fn *fn = [](void *arg) -> void * {
    Guard g;
    void *in = corun_yield(arg);
    if (corun_closing())
      return nullptr; // g's destructor runs
    return in;
  };
  T_OK(corun_create(&co, fn, reinterpret_cast<void *>(1), &attr));
  T_STR_EQ(corun_name(co), "cxx");
  T_EQ(corun_resume(co, nullptr, &out), 1);
  T_TRUE(out == reinterpret_cast<void *>(1));
  T_EQ(corun_status(co), CORUN_SUSPENDED);
  T_EQ(destructed, 0);
  T_OK(corun_destroy(co));
  T_EQ(destructed, 1);

  // Exceptions inside a coroutine, across yields.
  T_OK(corun_create(&co, thrower, &attr, nullptr));
  int n = 0;
  int rc;
  while ((rc = corun_resume(co, nullptr, &out)) == 1) {
    T_TRUE(out == reinterpret_cast<void *>(static_cast<intptr_t>(n)));
    n++;
  }
  T_EQ(rc, 0);
  T_EQ(n, 100);
  T_TRUE(out == reinterpret_cast<void *>(100));
  T_OK(corun_destroy(co));

  T_EQ(corun_resume(nullptr, nullptr, nullptr), -EINVAL);
  T_TRUE(corun_current() == nullptr);
  return 0;
}
