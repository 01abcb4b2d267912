/* panic.h: fatal errors and async-signal-safe output.
 * Layer: base. corun__panic() is for states that cannot be survived (broken
 * internal invariants); caller mistakes return -EINVAL/-EBUSY instead.
 * The corun__out_* helpers format into a caller's buffer without malloc or
 * locks, so the stack-overflow signal handler can use them. */
#ifndef CORUN_BASE_PANIC_H
#define CORUN_BASE_PANIC_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

/* Prints "corun: <msg>\n" on stderr with write(2) and aborts. */
CORUN__NORETURN void corun__panic(const char *msg);

/* A fixed-size output buffer; appends past the end are dropped. */
struct corun__out {
  char buf[512];
  size_t len;
};

void corun__out_str(struct corun__out *o, const char *s);
void corun__out_dec(struct corun__out *o, uint64_t v);
void corun__out_hex(struct corun__out *o, uintptr_t v); /* 0x-prefixed */
/* Writes the buffer to stderr with write(2), retrying on EINTR. */
void corun__out_flush(struct corun__out *o);

#endif
