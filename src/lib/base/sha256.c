/* SPDX-License-Identifier: MIT */
/*
 * sha256.c - SHA-256 through OpenSSL's libcrypto, opened on first use
 * (libcrypto.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include "internal.h"
#include "libcrypto.h"
#include "sha256.h"

/* the functions used, typed by OpenSSL's own prototypes */
static struct {
	__typeof__(EVP_MD_fetch) *md_fetch;
	__typeof__(EVP_MD_free) *md_free;
	__typeof__(EVP_MD_CTX_new) *ctx_new;
	__typeof__(EVP_MD_CTX_free) *ctx_free;
	__typeof__(EVP_DigestInit_ex2) *init;
	__typeof__(EVP_DigestUpdate) *update;
	__typeof__(EVP_DigestFinal_ex) *final;
	EVP_MD *sha256; /* fetched once, kept for the life of the process */
	char why[256];  /* why loading failed, empty if it did not */
} lc;

static pthread_once_t lc_once = PTHREAD_ONCE_INIT;

static void lc_load(void)
{
#define LOAD(field, name) CRPC__LIBCRYPTO_LOAD(lc, field, name)
	LOAD(md_fetch, "EVP_MD_fetch");
	LOAD(md_free, "EVP_MD_free");
	LOAD(ctx_new, "EVP_MD_CTX_new");
	LOAD(ctx_free, "EVP_MD_CTX_free");
	LOAD(init, "EVP_DigestInit_ex2");
	LOAD(update, "EVP_DigestUpdate");
	LOAD(final, "EVP_DigestFinal_ex");
#undef LOAD
	if (lc.why[0])
		return;
	lc.sha256 = lc.md_fetch(NULL, "SHA256", NULL);
	if (!lc.sha256)
		snprintf(lc.why, sizeof(lc.why), "%s has no SHA-256 digest", CRPC__LIBCRYPTO_SONAME);
}

static int lc_ready(crpc_error **err)
{
	pthread_once(&lc_once, lc_load);
	if (!lc.why[0])
		return 0;
	crpc_error_set(err, CRPC_EXIT_ENV, 0, "SHA-256",
		       "cannot load OpenSSL's libcrypto for SHA-256: %s (is the libssl3 package installed?)",
		       lc.why);
	return -1;
}

struct crpc__sha256 {
	EVP_MD_CTX *ctx;
};

int crpc__sha256_new(crpc__sha256 **out, crpc_error **err)
{
	crpc__sha256 *h;

	*out = NULL;
	if (lc_ready(err) < 0)
		return -1;
	h = calloc(1, sizeof(*h));
	if (!h || !(h->ctx = lc.ctx_new())) {
		free(h);
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "SHA-256", "out of memory");
		return -1;
	}
	if (crpc__sha256_reset(h) < 0) {
		crpc__sha256_free(h);
		crpc_error_set(err, CRPC_EXIT_FAIL, EIO, "SHA-256", "libcrypto cannot start a digest");
		return -1;
	}
	*out = h;
	return 0;
}

int crpc__sha256_reset(crpc__sha256 *h)
{
	return lc.init(h->ctx, lc.sha256, NULL) == 1 ? 0 : -1;
}

int crpc__sha256_update(crpc__sha256 *h, const void *data, size_t len)
{
	return lc.update(h->ctx, data, len) == 1 ? 0 : -1;
}

int crpc__sha256_final(crpc__sha256 *h, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (lc.final(h->ctx, md, &n) != 1 || n != 32)
		return -1;
	crpc__hex_encode(md, n, hex);
	return 0;
}

void crpc__sha256_free(crpc__sha256 *h)
{
	if (!h)
		return;
	if (h->ctx)
		lc.ctx_free(h->ctx);
	free(h);
}

int crpc__sha256_buffer(const void *data, size_t len, char hex[65], crpc_error **err)
{
	crpc__sha256 *h;
	int rc;

	if (crpc__sha256_new(&h, err) < 0)
		return -1;
	rc = crpc__sha256_update(h, data, len) == 0 && crpc__sha256_final(h, hex) == 0 ? 0 : -1;
	crpc__sha256_free(h);
	if (rc < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, EIO, "SHA-256", "libcrypto failed to hash");
	return 0;
}
