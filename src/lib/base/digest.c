/* SPDX-License-Identifier: MIT */
/*
 * digest.c - BLAKE3 and SHA-256 behind one interface (digest.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <blake3.h>

#include "digest.h"
#include "internal.h"
#include "sha256.h"

struct crpc__digest {
	crpc_digest alg;
	crpc__sha256 *sh; /* CRPC_DIGEST_SHA256 */
	blake3_hasher b3; /* CRPC_DIGEST_BLAKE3 */
};

CRPC_API const char *crpc_digest_name(crpc_digest d)
{
	switch (d) {
	case CRPC_DIGEST_DEFAULT:
	case CRPC_DIGEST_BLAKE3:
		return "blake3";
	case CRPC_DIGEST_SHA256:
		return "sha256";
	}
	return NULL;
}

CRPC_API int crpc_digest_parse(const char *name, crpc_digest *out)
{
	if (name && strcmp(name, "blake3") == 0)
		*out = CRPC_DIGEST_BLAKE3;
	else if (name && strcmp(name, "sha256") == 0)
		*out = CRPC_DIGEST_SHA256;
	else
		return -1;
	return 0;
}

crpc_digest crpc__digest_resolve(crpc_digest d)
{
	return d == CRPC_DIGEST_DEFAULT ? CRPC_DIGEST_BLAKE3 : d;
}

int crpc__digest_new(crpc_digest d, crpc__digest **out, crpc_error **err)
{
	crpc__digest *h;

	*out = NULL;
	d = crpc__digest_resolve(d);
	if (!crpc_digest_name(d))
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "digest", "unknown digest %d", (int)d);
	h = calloc(1, sizeof(*h));
	if (!h)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "digest", "out of memory");
	h->alg = d;
	if (d == CRPC_DIGEST_SHA256 && crpc__sha256_new(&h->sh, err) < 0) {
		free(h);
		return -1;
	}
	if (d == CRPC_DIGEST_BLAKE3)
		blake3_hasher_init(&h->b3);
	*out = h;
	return 0;
}

crpc_digest crpc__digest_alg(const crpc__digest *h)
{
	return h->alg;
}

int crpc__digest_reset(crpc__digest *h)
{
	if (h->alg == CRPC_DIGEST_SHA256)
		return crpc__sha256_reset(h->sh);
	blake3_hasher_init(&h->b3);
	return 0;
}

int crpc__digest_update(crpc__digest *h, const void *data, size_t len)
{
	if (h->alg == CRPC_DIGEST_SHA256)
		return crpc__sha256_update(h->sh, data, len);
	blake3_hasher_update(&h->b3, data, len);
	return 0;
}

int crpc__digest_final(crpc__digest *h, char hex[CRPC__DIGEST_HEX_LEN + 1])
{
	uint8_t md[BLAKE3_OUT_LEN];

	if (h->alg == CRPC_DIGEST_SHA256)
		return crpc__sha256_final(h->sh, hex);
	blake3_hasher_finalize(&h->b3, md, sizeof(md));
	crpc__hex_encode(md, sizeof(md), hex);
	return 0;
}

void crpc__digest_free(crpc__digest *h)
{
	if (!h)
		return;
	crpc__sha256_free(h->sh);
	free(h);
}

int crpc__digest_is_hex(const char *hex)
{
	return strlen(hex) == CRPC__DIGEST_HEX_LEN && strspn(hex, "0123456789abcdef") == CRPC__DIGEST_HEX_LEN;
}
