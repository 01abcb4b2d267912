/* calls.c: the IO calls beyond read and write, on each backend:
 * readv/writev on a socketpair (scattered both ways), recvfrom/sendto on
 * UDP loopback (the sender's address comes back), pread/pwrite and
 * read/write on a regular file (through io_uring or the helper threads:
 * offsets honoured, the file position moved only by read/write, several
 * tasks reading one file at once, at their offsets and at the file
 * position of one fd), and their argument errors. */
#include <arpa/inet.h>
#include <corun.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "t.h"

#define MS 1000000LL

static void vectors(void) {
  int sv[2];
  T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  char a[] = "hello, ", b[] = "scattered ", c[] = "world";
  struct iovec out[3] = {{a, 7}, {b, 10}, {c, 5}};
  T_EQ(corun_writev(sv[0], out, 3, -1), 22);
  char x[5], y[32];
  memset(y, 0, sizeof y);
  struct iovec in[2] = {{x, sizeof x}, {y, sizeof y}};
  ssize_t got = 0;
  while (got < 22) { /* a stream may deliver it in pieces */
    ssize_t n = corun_readv(sv[1], in, 2, corun_now() + 5000 * MS);
    T_GT(n, 0);
    got += n;
    /* advance the vector past what arrived */
    for (ssize_t k = n; k > 0;) {
      struct iovec *v = in[0].iov_len ? &in[0] : &in[1];
      size_t step = (size_t)k < v->iov_len ? (size_t)k : v->iov_len;
      v->iov_base = (char *)v->iov_base + step;
      v->iov_len -= step;
      k -= (ssize_t)step;
    }
  }
  T_TRUE(memcmp(x, "hello", 5) == 0);
  T_STR_EQ(y, ", scattered world");
  T_EQ(corun_readv(sv[1], in, 2, 0), -EAGAIN);
  T_OK(corun_close(sv[0]));
  T_OK(corun_close(sv[1]));
}

static void datagrams(void) {
  int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
  T_GE(rx, 0);
  T_GE(tx, 0);
  struct sockaddr_in ra = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct sockaddr_in ta = ra;
  socklen_t len = sizeof ra;
  T_OK(bind(rx, (struct sockaddr *)&ra, sizeof ra));
  T_OK(getsockname(rx, (struct sockaddr *)&ra, &len));
  T_OK(bind(tx, (struct sockaddr *)&ta, sizeof ta));
  len = sizeof ta;
  T_OK(getsockname(tx, (struct sockaddr *)&ta, &len));
  char buf[64];
  T_EQ(corun_recvfrom(rx, buf, sizeof buf, 0, NULL, NULL, 0), -EAGAIN);
  for (int i = 0; i < 20; i++) {
    char msg[32];
    int n = snprintf(msg, sizeof msg, "datagram %d", i);
    T_EQ(corun_sendto(tx, msg, (size_t)n, 0, (struct sockaddr *)&ra,
                      sizeof ra, -1),
         n);
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    memset(&from, 0, sizeof from);
    ssize_t r = corun_recvfrom(rx, buf, sizeof buf, 0,
                               (struct sockaddr *)&from, &fl,
                               corun_now() + 5000 * MS);
    T_EQ(r, n);
    T_TRUE(memcmp(buf, msg, (size_t)n) == 0);
    T_EQ(fl, sizeof from);
    T_EQ(from.sin_port, ta.sin_port);
    T_EQ(from.sin_addr.s_addr, ta.sin_addr.s_addr);
  }
  struct sockaddr_in from;
  T_EQ(corun_recvfrom(rx, buf, sizeof buf, 0, (struct sockaddr *)&from, NULL,
                      0),
       -EFAULT);
  /* a blocked receive, woken by a datagram sent by another task */
  T_OK(corun_close(rx));
  T_OK(corun_close(tx));
}

struct file_reader {
  int fd;
  off_t off;
  size_t len;
  const char *want;
};

static void *read_at(void *arg) {
  struct file_reader *r = arg;
  char *buf = malloc(r->len);
  T_TRUE(buf != NULL);
  T_EQ(corun_pread(r->fd, buf, r->len, r->off, -1), (ssize_t)r->len);
  T_TRUE(memcmp(buf, r->want + r->off, r->len) == 0);
  free(buf);
  return NULL;
}

static void files(void) {
  char path[] = "/tmp/corun-calls-XXXXXX";
  int fd = mkstemp(path);
  T_GE(fd, 0);
  T_OK(unlink(path));
  enum { SIZE = 1 << 20 };
  char *data = malloc(SIZE), *back = malloc(SIZE);
  T_TRUE(data && back);
  for (int i = 0; i < SIZE; i++)
    data[i] = (char)(i * 7 + i / 4096);
  /* write the second half first, at its offset, then the first by write */
  T_EQ(corun_pwrite(fd, data + SIZE / 2, SIZE / 2, SIZE / 2, -1), SIZE / 2);
  T_EQ(lseek(fd, 0, SEEK_CUR), 0); /* pwrite leaves the position */
  T_EQ(corun_write_all(fd, data, SIZE / 2, -1), SIZE / 2);
  T_EQ(lseek(fd, 0, SEEK_CUR), SIZE / 2);
  T_EQ(lseek(fd, 0, SEEK_SET), 0);
  ssize_t got = 0;
  while (got < SIZE) {
    ssize_t n = corun_read(fd, back + got, (size_t)(SIZE - got), -1);
    T_GT(n, 0);
    got += n;
  }
  T_EQ(corun_read(fd, back, 1, -1), 0); /* end of file */
  T_TRUE(memcmp(data, back, SIZE) == 0);
  /* several tasks read one file at once, at their own offsets */
  enum { READERS = 8 };
  struct file_reader r[READERS];
  corun_task *t[READERS];
  for (int i = 0; i < READERS; i++) {
    r[i] = (struct file_reader){fd, (off_t)i * (SIZE / READERS),
                                SIZE / READERS, data};
    T_OK(corun_spawn(&t[i], read_at, &r[i], NULL));
  }
  for (int i = 0; i < READERS; i++)
    T_OK(corun_join(t[i], NULL));
  T_EQ(corun_pread(fd, back, 1, -1, -1), -EINVAL);
  T_EQ(corun_pwrite(fd, back, 1, -1, -1), -EINVAL);
  T_EQ(corun_pread(fd, back, 1, SIZE, -1), 0);
  T_OK(corun_close(fd));
  T_EQ(corun_pread(fd, back, 1, 0, -1), -EBADF);
  free(data);
  free(back);
}

/* ---- many tasks at the file position of one fd ------------------------ */

enum { BLOCKS = 64, BLOCK = 4096 };
static int pos_fd;
static int block_seen[BLOCKS];

/* Writes block i (its number in its first bytes) at the file position. */
static void *pos_writer(void *arg) {
  long i = (long)arg;
  char b[BLOCK];
  memset(b, 'a' + (int)(i % 26), sizeof b);
  memcpy(b, &i, sizeof i);
  T_EQ(corun_write(pos_fd, b, sizeof b, -1), BLOCK);
  return NULL;
}

/* Reads one block at the file position and counts which one it was. */
static void *pos_reader(void *arg) {
  (void)arg;
  char b[BLOCK];
  T_EQ(corun_read(pos_fd, b, sizeof b, -1), BLOCK);
  long i;
  memcpy(&i, b, sizeof i);
  T_TRUE(i >= 0 && i < BLOCKS);
  __atomic_add_fetch(&block_seen[i], 1, __ATOMIC_RELAXED);
  return NULL;
}

/* BLOCKS tasks write one block each at the file position of one fd, then
 * BLOCKS tasks read one block each, the file's pages dropped from the
 * cache first (reads that really wait): as with threads and read(2),
 * each block is written and read exactly once, and the position ends at
 * the end. Under io_uring, which does not lock the position, every
 * reader got block 0 and the position ended at one block. */
static void file_position(void) {
  char path[] = "/tmp/corun-calls-XXXXXX";
  pos_fd = mkstemp(path);
  T_GE(pos_fd, 0);
  T_OK(unlink(path));
  corun_task *t[BLOCKS];
  for (long i = 0; i < BLOCKS; i++)
    T_OK(corun_spawn(&t[i], pos_writer, (void *)i, NULL));
  for (int i = 0; i < BLOCKS; i++)
    T_OK(corun_join(t[i], NULL));
  T_EQ(lseek(pos_fd, 0, SEEK_CUR), (off_t)BLOCKS * BLOCK);
  T_OK(fsync(pos_fd));
  T_EQ(posix_fadvise(pos_fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  T_EQ(lseek(pos_fd, 0, SEEK_SET), 0);
  for (long i = 0; i < BLOCKS; i++)
    T_OK(corun_spawn(&t[i], pos_reader, NULL, NULL));
  for (int i = 0; i < BLOCKS; i++)
    T_OK(corun_join(t[i], NULL));
  for (int i = 0; i < BLOCKS; i++)
    if (block_seen[i] != 1)
      T_FAIL_("block %d read %d times", i, block_seen[i]);
  T_EQ(lseek(pos_fd, 0, SEEK_CUR), (off_t)BLOCKS * BLOCK);
  T_OK(corun_close(pos_fd));
}

static void *main_task(void *arg) {
  (void)arg;
  vectors();
  datagrams();
  files();
  file_position();
  return NULL;
}

int main(void) {
  T_OK(corun_main(main_task, NULL, &(corun_config){.workers = 2}));
  /* outside a task: an error, not a hang */
  char c;
  struct iovec v = {&c, 1};
  T_EQ(corun_readv(0, &v, 1, -1), -EPERM);
  T_EQ(corun_pread(0, &c, 1, 0, -1), -EPERM);
  T_EQ(corun_recvfrom(0, &c, 1, 0, NULL, NULL, -1), -EPERM);
  return 0;
}
