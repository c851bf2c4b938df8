/* SPDX-License-Identifier: MIT */
/*
 * helpers.h - what the unit tests on checkpoint directories share: a
 * temporary tree removed, crafted image files built in memory and written.
 */
#ifndef CRPC_TEST_HELPERS_H
#define CRPC_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

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

#endif
