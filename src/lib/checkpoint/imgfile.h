/* SPDX-License-Identifier: MIT */
/*
 * imgfile.h - reading CRIU image files inside libcrpc: defined in
 * images.c, shared with imginfo.c. Not installed.
 *
 * An image is read whole (bounded) into a blob; a cursor walks its entries,
 * each a host-endian u32 length and that many bytes of a packed protobuf
 * message.
 */
#ifndef CRPC_IMGFILE_H
#define CRPC_IMGFILE_H

#include <stddef.h>
#include <stdint.h>

#include "crpc/error.h"

#define CRPC__IMG_COMMON_MAGIC 0x54564319u

/* A file's contents, read whole. */
struct blob {
	uint8_t *data;
	size_t len;
};

/* Sequential reader over a blob. */
struct cursor {
	const uint8_t *p;
	size_t left;
};

/*
 * Open an image: read dirfd/name (at most max bytes) and check its magics
 * (magic2 == 0: only one magic). Errors name the file and say what is
 * wrong with it. b->data is to be freed by the caller, also on failure.
 */
int crpc__img_open(int dirfd, const char *name, size_t max, uint32_t magic1, uint32_t magic2, const char *op,
		   struct blob *b, struct cursor *c, crpc_error **err);

/*
 * Take the next entry from c: 1 with the entry in data and len, 0 at a
 * clean end of file, -1 (error stored) when the file is truncated or
 * corrupt. `index` is the entry's number, for messages.
 */
int crpc__img_next(struct cursor *c, const char *name, size_t index, const char *op, const uint8_t **data,
		   size_t *len, crpc_error **err);

#endif /* CRPC_IMGFILE_H */
