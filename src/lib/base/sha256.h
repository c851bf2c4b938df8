/* SPDX-License-Identifier: MIT */
/*
 * sha256.h - SHA-256 through OpenSSL's libcrypto, loaded when first used.
 *
 * Only checkpoint manifests hash anything, yet libcrypto's thousands of
 * relocations cost every process start of crpc (the shim starts once per
 * CRIU session of runc or podman) about a millisecond. So libcrypto is not
 * linked: it is opened with dlopen() the first time a digest is asked for,
 * and its functions are called through pointers typed from OpenSSL's own
 * headers.
 */
#ifndef CRPC_SHA256_H
#define CRPC_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "crpc/error.h"

/** One running digest. */
typedef struct crpc__sha256 crpc__sha256;

/**
 * A new digest context (libcrypto is loaded on the first call). -1 with
 * *err (CRPC_EXIT_ENV when libcrypto cannot be loaded).
 */
int crpc__sha256_new(crpc__sha256 **out, crpc_error **err);

/** Start over: forget what was fed so far. -1 on a libcrypto failure. */
int crpc__sha256_reset(crpc__sha256 *h);

/** Feed len bytes. -1 on a libcrypto failure. */
int crpc__sha256_update(crpc__sha256 *h, const void *data, size_t len);

/** The digest of what was fed, as 64 lowercase hex digits. -1 on a libcrypto failure. */
int crpc__sha256_final(crpc__sha256 *h, char hex[65]);

/** Free a context. NULL is fine. */
void crpc__sha256_free(crpc__sha256 *h);

/** The digest of one buffer as hex. -1 with *err. */
int crpc__sha256_buffer(const void *data, size_t len, char hex[65], crpc_error **err);

#endif /* CRPC_SHA256_H */
