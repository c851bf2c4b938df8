/* SPDX-License-Identifier: MIT */
/*
 * test_digest.c - the digest interface (base/digest.h): BLAKE3 against the
 * official test vectors (input byte i is i % 251), in one piece and fed in
 * pieces of every size around BLAKE3's 64-byte blocks and 1 KiB chunks;
 * SHA-256 through the same interface; the names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/digest.h"

/* BLAKE3's official test vectors: the first 32 bytes of the output */
static const struct {
	size_t len;
	const char *hex;
} b3_vectors[] = {
	{ 0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262" },
	{ 1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444" },
	{ 102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085" },
};

static uint8_t *vector_input(size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i % 251);
	return p;
}

static void digest_of(crpc_digest d, const uint8_t *data, size_t len, size_t piece, char hex[65])
{
	crpc__digest *h = NULL;
	crpc_error *e = NULL;

	assert_int_equal(crpc__digest_new(d, &h, &e), 0);
	assert_null(e);
	/* what is fed before a reset does not count */
	assert_int_equal(crpc__digest_update(h, "junk", 4), 0);
	assert_int_equal(crpc__digest_reset(h), 0);
	for (size_t off = 0; off < len; off += piece)
		assert_int_equal(crpc__digest_update(h, data + off, len - off < piece ? len - off : piece),
				 0);
	assert_int_equal(crpc__digest_final(h, hex), 0);
	assert_int_equal(strlen(hex), CRPC__DIGEST_HEX_LEN);
	crpc__digest_free(h);
}

static void test_blake3_vectors(void **state)
{
	static const size_t pieces[] = { 1, 63, 64, 65, 1023, 1024, 1025, 4096, 1u << 20 };
	char hex[65];

	(void)state;
	for (size_t v = 0; v < sizeof(b3_vectors) / sizeof(b3_vectors[0]); v++) {
		uint8_t *in = vector_input(b3_vectors[v].len);

		for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
			digest_of(CRPC_DIGEST_BLAKE3, in, b3_vectors[v].len, pieces[p], hex);
			assert_string_equal(hex, b3_vectors[v].hex);
		}
		/* the default is BLAKE3 */
		digest_of(CRPC_DIGEST_DEFAULT, in, b3_vectors[v].len, 4096, hex);
		assert_string_equal(hex, b3_vectors[v].hex);
		free(in);
	}
}

static void test_sha256_same_interface(void **state)
{
	static const char msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	crpc__digest *h = NULL;
	char hex[65];

	(void)state;
	digest_of(CRPC_DIGEST_SHA256, (const uint8_t *)msg, strlen(msg), 7, hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	digest_of(CRPC_DIGEST_SHA256, NULL, 0, 1, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(crpc__digest_new(CRPC_DIGEST_SHA256, &h, NULL), 0);
	assert_int_equal(crpc__digest_alg(h), CRPC_DIGEST_SHA256);
	crpc__digest_free(h);
	assert_int_equal(crpc__digest_new(CRPC_DIGEST_DEFAULT, &h, NULL), 0);
	assert_int_equal(crpc__digest_alg(h), CRPC_DIGEST_BLAKE3);
	crpc__digest_free(h);
	crpc__digest_free(NULL);
}

static void test_names(void **state)
{
	crpc_digest d = CRPC_DIGEST_DEFAULT;
	crpc__digest *h = NULL;
	crpc_error *e = NULL;

	(void)state;
	assert_string_equal(crpc_digest_name(CRPC_DIGEST_BLAKE3), "blake3");
	assert_string_equal(crpc_digest_name(CRPC_DIGEST_SHA256), "sha256");
	assert_string_equal(crpc_digest_name(CRPC_DIGEST_DEFAULT), "blake3");
	assert_null(crpc_digest_name((crpc_digest)42));
	assert_int_equal(crpc_digest_parse("sha256", &d), 0);
	assert_int_equal(d, CRPC_DIGEST_SHA256);
	assert_int_equal(crpc_digest_parse("blake3", &d), 0);
	assert_int_equal(d, CRPC_DIGEST_BLAKE3);
	assert_int_equal(crpc_digest_parse("BLAKE3", &d), -1);
	assert_int_equal(crpc_digest_parse("md5", &d), -1);
	assert_int_equal(crpc_digest_parse(NULL, &d), -1);
	assert_int_equal(crpc__digest_new((crpc_digest)42, &h, &e), -1);
	assert_null(h);
	assert_non_null(e);
	crpc_error_free(e);
	assert_true(crpc__digest_is_hex("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"));
	assert_false(crpc__digest_is_hex("AF1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"));
	assert_false(crpc__digest_is_hex("af13"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blake3_vectors),
		cmocka_unit_test(test_sha256_same_interface),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
