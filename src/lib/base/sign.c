/* SPDX-License-Identifier: MIT */
/*
 * sign.c - Ed25519 through OpenSSL's libcrypto, opened on first use
 * (libcrypto.h). Keys are kept in the PEM forms
 * OpenSSL's own tools read and write.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>

#include "internal.h"
#include "libcrypto.h"
#include "sign.h"

/* the functions used, typed by OpenSSL's own prototypes */
static struct {
	__typeof__(EVP_PKEY_CTX_new_from_name) *pctx_new;
	__typeof__(EVP_PKEY_CTX_free) *pctx_free;
	__typeof__(EVP_PKEY_keygen_init) *keygen_init;
	__typeof__(EVP_PKEY_generate) *generate;
	__typeof__(EVP_PKEY_free) *pkey_free;
	__typeof__(EVP_PKEY_is_a) *is_a;
	__typeof__(EVP_PKEY_get_raw_public_key) *raw_public;
	__typeof__(EVP_PKEY_get_raw_private_key) *raw_private;
	__typeof__(EVP_MD_CTX_new) *md_new;
	__typeof__(EVP_MD_CTX_free) *md_free;
	__typeof__(EVP_DigestSignInit_ex) *sign_init;
	__typeof__(EVP_DigestSign) *sign;
	__typeof__(EVP_DigestVerifyInit_ex) *verify_init;
	__typeof__(EVP_DigestVerify) *verify;
	__typeof__(BIO_new_mem_buf) *bio_mem_buf;
	__typeof__(BIO_new) *bio_new;
	__typeof__(BIO_s_mem) *bio_s_mem;
	__typeof__(BIO_ctrl) *bio_ctrl;
	__typeof__(BIO_free) *bio_free;
	__typeof__(PEM_read_bio_PrivateKey) *read_private;
	__typeof__(PEM_read_bio_PUBKEY) *read_public;
	__typeof__(PEM_write_bio_PKCS8PrivateKey) *write_private;
	__typeof__(PEM_write_bio_PUBKEY) *write_public;
	__typeof__(ERR_get_error) *err_get;
	__typeof__(ERR_error_string_n) *err_string;
	char why[256]; /* why loading failed, empty if it did not */
} lc;

static pthread_once_t lc_once = PTHREAD_ONCE_INIT;

static void lc_load(void)
{
#define LOAD(field, name) CRPC__LIBCRYPTO_LOAD(lc, field, name)
	LOAD(pctx_new, "EVP_PKEY_CTX_new_from_name");
	LOAD(pctx_free, "EVP_PKEY_CTX_free");
	LOAD(keygen_init, "EVP_PKEY_keygen_init");
	LOAD(generate, "EVP_PKEY_generate");
	LOAD(pkey_free, "EVP_PKEY_free");
	LOAD(is_a, "EVP_PKEY_is_a");
	LOAD(raw_public, "EVP_PKEY_get_raw_public_key");
	LOAD(raw_private, "EVP_PKEY_get_raw_private_key");
	LOAD(md_new, "EVP_MD_CTX_new");
	LOAD(md_free, "EVP_MD_CTX_free");
	LOAD(sign_init, "EVP_DigestSignInit_ex");
	LOAD(sign, "EVP_DigestSign");
	LOAD(verify_init, "EVP_DigestVerifyInit_ex");
	LOAD(verify, "EVP_DigestVerify");
	LOAD(bio_mem_buf, "BIO_new_mem_buf");
	LOAD(bio_new, "BIO_new");
	LOAD(bio_s_mem, "BIO_s_mem");
	LOAD(bio_ctrl, "BIO_ctrl");
	LOAD(bio_free, "BIO_free");
	LOAD(read_private, "PEM_read_bio_PrivateKey");
	LOAD(read_public, "PEM_read_bio_PUBKEY");
	LOAD(write_private, "PEM_write_bio_PKCS8PrivateKey");
	LOAD(write_public, "PEM_write_bio_PUBKEY");
	LOAD(err_get, "ERR_get_error");
	LOAD(err_string, "ERR_error_string_n");
#undef LOAD
}

static int lc_ready(crpc_error **err)
{
	pthread_once(&lc_once, lc_load);
	if (!lc.why[0])
		return 0;
	return crpc_error_set(err, CRPC_EXIT_ENV, 0, "Ed25519",
			      "cannot load OpenSSL's libcrypto for signatures: %s (is the libssl3 package "
			      "installed?)",
			      lc.why);
}

/* libcrypto's reason for the last failure (its error queue emptied), or "no reason given". */
static const char *lc_reason(char *buf, size_t bufsz)
{
	unsigned long e, last = 0;

	while ((e = lc.err_get()) != 0)
		last = e;
	if (!last)
		return "no reason given";
	lc.err_string(last, buf, bufsz);
	return buf;
}

struct crpc__pkey {
	EVP_PKEY *k;
};

static crpc__pkey *wrap(EVP_PKEY *k, crpc_error **err)
{
	crpc__pkey *w = calloc(1, sizeof(*w));

	if (!w) {
		lc.pkey_free(k);
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "Ed25519", "out of memory");
		return NULL;
	}
	w->k = k;
	return w;
}

int crpc__pkey_generate(crpc__pkey **out, crpc_error **err)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *k = NULL;
	char why[256];
	int ok;

	*out = NULL;
	if (lc_ready(err) < 0)
		return -1;
	ctx = lc.pctx_new(NULL, "ED25519", NULL);
	ok = ctx && lc.keygen_init(ctx) == 1 && lc.generate(ctx, &k) == 1;
	if (ctx)
		lc.pctx_free(ctx);
	if (!ok)
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, "generating a key",
				      "libcrypto cannot generate an Ed25519 key: %s",
				      lc_reason(why, sizeof(why)));
	*out = wrap(k, err);
	return *out ? 0 : -1;
}

int crpc__pkey_from_pem(const char *pem, size_t len, bool want_private, const char *what, crpc__pkey **out,
			crpc_error **err)
{
	EVP_PKEY *k = NULL;
	BIO *b;
	char why[256];
	size_t n = 0;

	*out = NULL;
	if (lc_ready(err) < 0)
		return -1;
	if (len > INT_MAX)
		return crpc_error_set(err, CRPC_EXIT_FAIL, EFBIG, "reading a key", "%s is too large", what);
	b = lc.bio_mem_buf(pem, (int)len);
	if (!b)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "reading a key", "out of memory");
	/* no password callback and an empty password: an encrypted key is refused, never prompted for */
	if (want_private)
		k = lc.read_private(b, NULL, NULL, (void *)"");
	else
		k = lc.read_public(b, NULL, NULL, (void *)"");
	lc.bio_free(b);
	if (!k)
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, "reading a key", "%s holds no PEM %s key (%s)",
				      what, want_private ? "private" : "public", lc_reason(why, sizeof(why)));
	if (lc.is_a(k, "ED25519") != 1) {
		lc.pkey_free(k);
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, "reading a key",
				      "%s is not an Ed25519 key (the only kind crpc signs with)", what);
	}
	if (want_private && lc.raw_private(k, NULL, &n) != 1) {
		lc.pkey_free(k);
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, "reading a key", "%s holds no private key",
				      what);
	}
	*out = wrap(k, err);
	return *out ? 0 : -1;
}

int crpc__pkey_to_pem(const crpc__pkey *k, bool want_private, char **pem, crpc_error **err)
{
	BIO *b;
	char *data = NULL, why[256];
	long n;
	int ok;

	*pem = NULL;
	if (lc_ready(err) < 0)
		return -1;
	b = lc.bio_new(lc.bio_s_mem());
	if (!b)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "writing a key", "out of memory");
	if (want_private)
		ok = lc.write_private(b, k->k, NULL, NULL, 0, NULL, NULL) == 1;
	else
		ok = lc.write_public(b, k->k) == 1;
	/* BIO_get_mem_data() */
	n = ok ? lc.bio_ctrl(b, BIO_CTRL_INFO, 0, &data) : 0;
	if (!ok || n <= 0 || !data) {
		lc.bio_free(b);
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, "writing a key",
				      "libcrypto cannot encode the key: %s", lc_reason(why, sizeof(why)));
	}
	*pem = strndup(data, (size_t)n);
	lc.bio_free(b);
	if (!*pem)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "writing a key", "out of memory");
	return 0;
}

int crpc__pkey_public_raw(const crpc__pkey *k, uint8_t out[CRPC__ED25519_KEY_LEN], crpc_error **err)
{
	size_t n = CRPC__ED25519_KEY_LEN;

	if (lc.raw_public(k->k, out, &n) != 1 || n != CRPC__ED25519_KEY_LEN)
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, "Ed25519",
				      "libcrypto cannot give the public key");
	return 0;
}

int crpc__pkey_sign(const crpc__pkey *k, const void *msg, size_t len, uint8_t sig[CRPC__ED25519_SIG_LEN],
		    crpc_error **err)
{
	EVP_MD_CTX *ctx = lc.md_new();
	size_t n = CRPC__ED25519_SIG_LEN;
	char why[256];
	int ok;

	/* Ed25519 signs the message itself: no digest is named */
	ok = ctx && lc.sign_init(ctx, NULL, NULL, NULL, NULL, k->k, NULL) == 1 &&
	     lc.sign(ctx, sig, &n, msg, len) == 1 && n == CRPC__ED25519_SIG_LEN;
	if (ctx)
		lc.md_free(ctx);
	if (!ok)
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, "signing", "libcrypto cannot sign: %s",
				      lc_reason(why, sizeof(why)));
	return 0;
}

int crpc__pkey_verify(const crpc__pkey *k, const void *msg, size_t len,
		      const uint8_t sig[CRPC__ED25519_SIG_LEN], crpc_error **err)
{
	EVP_MD_CTX *ctx = lc.md_new();
	char why[256];
	int rc;

	if (!ctx || lc.verify_init(ctx, NULL, NULL, NULL, NULL, k->k, NULL) != 1) {
		if (ctx)
			lc.md_free(ctx);
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, "verifying a signature",
				      "libcrypto cannot verify: %s", lc_reason(why, sizeof(why)));
	}
	rc = lc.verify(ctx, sig, CRPC__ED25519_SIG_LEN, msg, len);
	lc.md_free(ctx);
	(void)lc_reason(why, sizeof(why)); /* a wrong signature leaves an error queued */
	return rc == 1 ? 1 : 0;
}

void crpc__pkey_free(crpc__pkey *k)
{
	if (!k)
		return;
	if (k->k)
		lc.pkey_free(k->k);
	free(k);
}
