/* SPDX-License-Identifier: MIT */
/*
 * digest.h - the digest of a checkpoint's files, one interface over its
 * algorithms (crpc_digest): BLAKE3, from BLAKE3's own C implementation
 * compiled into libcrpc (Debian's librust-blake3-dev ships it as source),
 * and SHA-256 through OpenSSL's libcrypto (sha256.h, loaded on first use).
 * Both give 256 bits, 64 hex digits.
 */
#ifndef CRPC_DIGEST_H
#define CRPC_DIGEST_H

#include <stddef.h>

#include "crpc/error.h"
#include "crpc/manifest.h"

/** Hex digits of every digest, without the NUL. */
#define CRPC__DIGEST_HEX_LEN 64

/** One running digest. */
typedef struct crpc__digest crpc__digest;

/** CRPC_DIGEST_DEFAULT resolved (BLAKE3); another value as it is. */
crpc_digest crpc__digest_resolve(crpc_digest d);

/**
 * A new context of algorithm d (CRPC_DIGEST_DEFAULT: BLAKE3). -1 with *err
 * (CRPC_EXIT_ENV when SHA-256's libcrypto cannot be loaded).
 */
int crpc__digest_new(crpc_digest d, crpc__digest **out, crpc_error **err);

/** Its algorithm (never CRPC_DIGEST_DEFAULT). */
crpc_digest crpc__digest_alg(const crpc__digest *h);

/** Start over. -1 on a libcrypto failure. */
int crpc__digest_reset(crpc__digest *h);

/** Feed len bytes. -1 on a libcrypto failure. */
int crpc__digest_update(crpc__digest *h, const void *data, size_t len);

/** The digest of what was fed as 64 lowercase hex digits. -1 on a libcrypto failure. */
int crpc__digest_final(crpc__digest *h, char hex[CRPC__DIGEST_HEX_LEN + 1]);

/** Free. NULL is fine. */
void crpc__digest_free(crpc__digest *h);

/** Is hex CRPC__DIGEST_HEX_LEN lowercase hex digits? */
int crpc__digest_is_hex(const char *hex);

#endif /* CRPC_DIGEST_H */
