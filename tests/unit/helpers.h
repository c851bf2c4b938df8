/* SPDX-License-Identifier: MIT */
/*
 * helpers.h - what several unit tests share: a temporary directory made
 * and removed, crafted image files built in memory and written, a message
 * packed, the count of open fds.
 */
#ifndef CRPC_TEST_HELPERS_H
#define CRPC_TEST_HELPERS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/*
 * mkdtemp() of tmpl (its XXXXXX replaced) and an O_DIRECTORY fd of it into
 * *dirfd. 0, or -1 with nothing left behind.
 */
int make_tmpdir(char *tmpl, int *dirfd);
/* Remove path and everything below it (no error: a test's clean-up). */
void rm_tree(const char *path);

/* A growing byte buffer (aborts when out of memory). */
struct buf {
	uint8_t *p;
	size_t len;
};

void buf_put(struct buf *b, const void *data, size_t len);
void buf_u32(struct buf *b, uint32_t v);

/* Write len bytes to name in dirfd (created 0644 or truncated); asserts on failure. */
void write_file(int dirfd, const char *name, const void *data, size_t len);
/* write_file() of b's bytes, then b emptied. */
void write_buf(int dirfd, const char *name, struct buf *b);

/* m packed into a fresh buffer (malloc'ed, 16 bytes to spare), its length into *len. */
uint8_t *pack(const ProtobufCMessage *m, size_t *len);

/* How many of the fds 0-1023 are open. */
int count_open_fds(void);

#endif
