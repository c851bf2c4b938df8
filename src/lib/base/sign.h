/* SPDX-License-Identifier: MIT */
/*
 * sign.h - Ed25519 keys and signatures through OpenSSL's libcrypto, opened
 * with dlopen() on first use like the SHA-256 of sha256.h (a process that
 * signs or verifies nothing never pays for loading it).
 */
#ifndef CRPC_SIGN_H
#define CRPC_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crpc/error.h"

/** Size of an Ed25519 public key and of a signature, in bytes. */
#define CRPC__ED25519_KEY_LEN 32
#define CRPC__ED25519_SIG_LEN 64

/** A private or public Ed25519 key. */
typedef struct crpc__pkey crpc__pkey;

/** A new Ed25519 key pair. -1 with *err (CRPC_EXIT_ENV when libcrypto cannot be loaded). */
int crpc__pkey_generate(crpc__pkey **out, crpc_error **err);

/**
 * A key from PEM text (PKCS#8 "PRIVATE KEY" with want_private, else
 * "PUBLIC KEY"), as `openssl genpkey -algorithm ed25519` writes them.
 * `what` names the text in messages. Any other kind of key is refused.
 */
int crpc__pkey_from_pem(const char *pem, size_t len, bool want_private, const char *what, crpc__pkey **out,
			crpc_error **err);

/** The key as PEM text (malloc'ed, NUL-terminated): its private part with want_private. */
int crpc__pkey_to_pem(const crpc__pkey *k, bool want_private, char **pem, crpc_error **err);

/** The raw 32-byte public key. */
int crpc__pkey_public_raw(const crpc__pkey *k, uint8_t out[CRPC__ED25519_KEY_LEN], crpc_error **err);

/** Sign len bytes of msg with a private key. */
int crpc__pkey_sign(const crpc__pkey *k, const void *msg, size_t len, uint8_t sig[CRPC__ED25519_SIG_LEN],
		    crpc_error **err);

/** 1 when sig is k's signature of msg, 0 when it is not, -1 with *err when libcrypto failed. */
int crpc__pkey_verify(const crpc__pkey *k, const void *msg, size_t len,
		      const uint8_t sig[CRPC__ED25519_SIG_LEN], crpc_error **err);

/** Free a key (NULL is fine). */
void crpc__pkey_free(crpc__pkey *k);

#endif /* CRPC_SIGN_H */
