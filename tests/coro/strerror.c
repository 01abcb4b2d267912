/* strerror.c: proves corun_strerror() gives, for every error code a corun
 * function documents, a non-empty static string of its own (distinct from
 * the others and from the text for unknown codes), "resource busy..." for
 * -EBUSY as the header says, the C library's text for a system call's
 * error the io layer passes through (-ECONNREFUSED), and a non-NULL
 * non-empty string for any other int, including the extremes INT_MIN and
 * INT_MAX and positive codes. */
#include <errno.h>
#include <limits.h>

#include "corun.h"
#include "t.h"

int main(void) {
  static const int codes[] = {-EINVAL, -ENOMEM,    -ENOTSUP,   -ESRCH,
                              -EBUSY,  -EXDEV,     -ECANCELED, -ETIMEDOUT,
                              -EAGAIN, -EPERM,     -EPIPE,     -EDEADLK,
                              -ERANGE, -EOVERFLOW, -ENOSYS,    -EBADF};
  enum { N = sizeof codes / sizeof codes[0] };
  const char *unknown = corun_strerror(-987654);
  T_PTR_NE(unknown, NULL);
  T_GT(strlen(unknown), 0);

  const char *text[N];
  for (int i = 0; i < N; i++) {
    text[i] = corun_strerror(codes[i]);
    T_PTR_NE(text[i], NULL);
    T_GT(strlen(text[i]), 0);
    /* Static: the same pointer every time. */
    T_PTR_EQ(corun_strerror(codes[i]), text[i]);
    if (strcmp(text[i], unknown) == 0)
      T_FAIL_("code %d has no text of its own (\"%s\")", codes[i], text[i]);
    for (int j = 0; j < i; j++)
      if (strcmp(text[i], text[j]) == 0)
        T_FAIL_("codes %d and %d share the text \"%s\"", codes[i], codes[j],
                text[i]);
  }
  T_TRUE(strncmp(corun_strerror(-EBUSY), "resource busy", 13) == 0);

  /* Passed through from a system call: described, the same static text
   * each time (ECONNREFUSED has the same number on every Linux ABI). */
  const char *refused = corun_strerror(-ECONNREFUSED);
  if (strcmp(refused, unknown) == 0)
    T_FAIL_("-ECONNREFUSED reads \"%s\"", refused);
  T_PTR_EQ(corun_strerror(-ECONNREFUSED), refused);

  /* Any other int: never NULL, the process keeps working. */
  static const int others[] = {0,       1,        EBUSY,  -1 - EXDEV * 1000,
                               INT_MAX, -INT_MAX, INT_MIN};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    const char *s = corun_strerror(others[i]);
    T_PTR_NE(s, NULL);
    T_GT(strlen(s), 0);
  }
  return 0;
}
