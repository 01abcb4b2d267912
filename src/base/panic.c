/* panic.c: fatal errors and async-signal-safe formatting.
 * Layer: base. No locks, no malloc: usable from signal handlers. */
#include "panic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void corun__out_str(struct corun__out *o, const char *s) {
  while (*s && o->len < sizeof o->buf)
    o->buf[o->len++] = *s++;
}

void corun__out_dec(struct corun__out *o, uint64_t v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n && o->len < sizeof o->buf)
    o->buf[o->len++] = tmp[--n];
}

void corun__out_hex(struct corun__out *o, uintptr_t v) {
  char tmp[2 * sizeof v];
  size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  corun__out_str(o, "0x");
  while (n && o->len < sizeof o->buf)
    o->buf[o->len++] = tmp[--n];
}

void corun__out_flush(struct corun__out *o) {
  size_t off = 0;
  while (off < o->len) {
    ssize_t w = write(STDERR_FILENO, o->buf + off, o->len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      break;
    off += (size_t)w;
  }
  o->len = 0;
}

void corun__panic(const char *msg) {
  struct corun__out o = {.len = 0};
  corun__out_str(&o, "corun: ");
  corun__out_str(&o, msg);
  corun__out_str(&o, "\n");
  corun__out_flush(&o);
  abort();
}
