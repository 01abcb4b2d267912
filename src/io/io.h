/* io.h: what the io layer's files share. Internal.
 * Layer: io. */
#ifndef CORUN_IO_IO_H
#define CORUN_IO_IO_H

/* This thread's errno, found afresh (io.c explains why a plain errno is
 * wrong after a wait). */
int *corun__errno_here(void);

#endif
