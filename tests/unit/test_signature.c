/* SPDX-License-Identifier: MIT */
/*
 * test_signature.c - signed checkpoints: key pairs generated and never
 * written over, signing keys refused when others could read or replace
 * them, crpc.json signed and checked against a directory of trusted keys
 * (valid, unknown key, unsigned, required or not), and every tampering
 * refused: a byte of crpc.json, the signature, its key's name, a damaged
 * signature file, trusted keys others could write.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crpc/crpc.h"
#include "helpers.h"

struct fixture {
	char root[64];
	char keys[256], trusted[256], ckpt[256];
	char key_a[PATH_MAX], key_b[PATH_MAX];
	char fp_a[65], fp_b[65];
	int dirfd; /* ckpt */
};

static void write_path(const char *path, const char *s, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[4096];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(in >= 0);
	n = read(in, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	close(in);
	write_path(to, buf, mode);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	crpc_error *e = NULL;

	if (!f)
		return -1;
	snprintf(f->root, sizeof(f->root), "/tmp/crpc-test-signature-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	snprintf(f->keys, sizeof(f->keys), "%s/keys", f->root);
	snprintf(f->trusted, sizeof(f->trusted), "%s/trusted", f->root);
	snprintf(f->ckpt, sizeof(f->ckpt), "%s/ckpt", f->root);
	snprintf(f->key_a, sizeof(f->key_a), "%s/a", f->keys);
	snprintf(f->key_b, sizeof(f->key_b), "%s/b", f->keys);
	if (mkdir(f->keys, 0700) < 0 || mkdir(f->trusted, 0755) < 0 || mkdir(f->ckpt, 0700) < 0)
		return -1;
	if (crpc_key_generate(f->key_a, f->fp_a, &e) < 0 || crpc_key_generate(f->key_b, f->fp_b, &e) < 0) {
		fprintf(stderr, "%s\n", e && e->message ? e->message : "?");
		return -1;
	}
	f->dirfd = open(f->ckpt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0)
		return -1;
	{
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/%s", f->ckpt, CRPC_MANIFEST_NAME);
		write_path(p, "{\"format\": \"crpc-checkpoint\", \"format_version\": 1, \"files\": []}\n",
			   0600);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->dirfd);
	rm_tree(f->root);
	free(f);
	return 0;
}

/* Trust key NAME (a or b) as LABEL.pub. */
static void trust(struct fixture *f, const char *key, const char *label)
{
	char from[PATH_MAX + 8], to[PATH_MAX + 300];

	snprintf(from, sizeof(from), "%s.pub", key);
	snprintf(to, sizeof(to), "%s/%s.pub", f->trusted, label);
	copy_file(from, to, 0644);
}

static void sign_with(struct fixture *f, const char *key)
{
	crpc_signing_key *k = NULL;
	crpc_error *e = NULL;

	assert_int_equal(crpc_signing_key_load(key, &k, &e), 0);
	assert_null(e);
	assert_int_equal(crpc_manifest_sign(f->dirfd, k, &e), 0);
	assert_null(e);
	crpc_signing_key_free(k);
}

static int check(struct fixture *f, bool require, crpc_signature_check *c, crpc_error **e)
{
	return crpc_manifest_check_signature(f->dirfd, "ckpt", f->trusted, require, c, e);
}

static void test_generate(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 8], fp[65];
	crpc_error *e = NULL;
	struct stat st;

	assert_int_equal(strlen(f->fp_a), 64);
	assert_string_not_equal(f->fp_a, f->fp_b);
	assert_int_equal(stat(f->key_a, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s.pub", f->key_a);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* never over an existing key, nor over an existing public key */
	assert_int_equal(crpc_key_generate(f->key_a, fp, &e), -1);
	assert_int_equal(e->sys_errno, EEXIST);
	crpc_error_free(e);
	e = NULL;
	assert_int_equal(unlink(f->key_b), 0);
	assert_int_equal(crpc_key_generate(f->key_b, fp, &e), -1);
	assert_non_null(strstr(e->message, "b.pub exists already"));
	crpc_error_free(e);
	assert_int_equal(access(f->key_b, F_OK), -1); /* nothing left behind */
}

static void test_key_rules(void **state)
{
	struct fixture *f = *state;
	crpc_signing_key *k = NULL;
	crpc_error *e = NULL;
	char link[PATH_MAX + 8];

	assert_int_equal(crpc_signing_key_load(f->key_a, &k, &e), 0);
	assert_string_equal(crpc_signing_key_fingerprint(k), f->fp_a);
	crpc_signing_key_free(k);
	k = NULL;

	assert_int_equal(chmod(f->key_a, 0640), 0);
	assert_int_equal(crpc_signing_key_load(f->key_a, &k, &e), -1);
	assert_null(k);
	assert_non_null(strstr(e->message, "readable by its group (mode 0640)"));
	crpc_error_free(e);
	e = NULL;
	assert_int_equal(chmod(f->key_a, 0600), 0);

	snprintf(link, sizeof(link), "%s.link", f->key_a);
	assert_int_equal(symlink(f->key_a, link), 0);
	assert_int_equal(crpc_signing_key_load(link, &k, &e), -1);
	assert_non_null(strstr(e->message, "symbolic link"));
	crpc_error_free(e);
	e = NULL;

	/* a directory others can write: the key can be swapped */
	assert_int_equal(chmod(f->keys, 0777), 0);
	assert_int_equal(crpc_signing_key_load(f->key_a, &k, &e), -1);
	assert_non_null(strstr(e->message, "writable by others"));
	crpc_error_free(e);
	e = NULL;
	assert_int_equal(chmod(f->keys, 0700), 0);

	/* a public key is no signing key */
	{
		char pub[PATH_MAX + 8];

		snprintf(pub, sizeof(pub), "%s.pub", f->key_a);
		assert_int_equal(chmod(pub, 0600), 0);
		assert_int_equal(crpc_signing_key_load(pub, &k, &e), -1);
		assert_non_null(strstr(e->message, "no PEM private key"));
		crpc_error_free(e);
	}
}

static void test_sign_verify(void **state)
{
	struct fixture *f = *state;
	crpc_signature_check c;
	crpc_error *e = NULL;

	trust(f, f->key_b, "other");
	trust(f, f->key_a, "hostA");
	sign_with(f, f->key_a);
	assert_int_equal(check(f, true, &c, &e), 0);
	assert_null(e);
	assert_true(c.checked);
	assert_int_equal(c.verdict, CRPC_SIGNATURE_VALID);
	assert_string_equal(c.signer, "hostA");
	assert_string_equal(c.key_sha256, f->fp_a);
	assert_string_equal(crpc_signature_verdict_name(c.verdict), "valid");
}

static void test_tamper(void **state)
{
	struct fixture *f = *state;
	crpc_signature_check c;
	crpc_error *e = NULL;
	char p[PATH_MAX + 32];

	trust(f, f->key_a, "hostA");
	sign_with(f, f->key_a);
	/* one byte of crpc.json: refused even when no signature is required */
	snprintf(p, sizeof(p), "%s/%s", f->ckpt, CRPC_MANIFEST_NAME);
	write_path(p, "{\"format\": \"crpc-checkpoint\", \"format_version\": 1, \"files\": [ ]}\n", 0600);
	assert_int_equal(check(f, false, &c, &e), -1);
	assert_int_equal(c.verdict, CRPC_SIGNATURE_BAD);
	assert_int_equal(e->exit_class, CRPC_EXIT_FAIL);
	assert_non_null(strstr(e->message, "is not the signature of this crpc.json by hostA"));
	crpc_error_free(e);
	e = NULL;

	/* a damaged signature file */
	snprintf(p, sizeof(p), "%s/%s", f->ckpt, CRPC_SIGNATURE_NAME);
	write_path(p, "{\"format\": \"crpc-signature\", \"format_version\": 1, \"algorithm\": \"ed25519\"}",
		   0600);
	assert_int_equal(check(f, false, &c, &e), -1);
	assert_int_equal(c.verdict, CRPC_SIGNATURE_BAD);
	assert_non_null(strstr(e->message, "is damaged"));
	crpc_error_free(e);
}

static void test_wrong_key(void **state)
{
	struct fixture *f = *state;
	crpc_signature_check c;
	crpc_error *e = NULL;
	char p[PATH_MAX + 32], *text;
	FILE *fp;

	trust(f, f->key_a, "hostA");
	sign_with(f, f->key_b);
	/* b is not trusted: fine unless required */
	assert_int_equal(check(f, false, &c, &e), 0);
	assert_int_equal(c.verdict, CRPC_SIGNATURE_UNKNOWN_KEY);
	assert_string_equal(c.key_sha256, f->fp_b);
	assert_string_equal(c.signer, "");
	assert_int_equal(check(f, true, &c, &e), -1);
	assert_non_null(strstr(e->message, "not among the trusted keys"));
	assert_non_null(e->hint);
	crpc_error_free(e);
	e = NULL;

	/* b's signature put under a's name */
	snprintf(p, sizeof(p), "%s/%s", f->ckpt, CRPC_SIGNATURE_NAME);
	fp = fopen(p, "re");
	assert_non_null(fp);
	text = calloc(1, 4096);
	assert_non_null(text);
	assert_true(fread(text, 1, 4095, fp) > 0);
	fclose(fp);
	memcpy(strstr(text, f->fp_b), f->fp_a, 64);
	write_path(p, text, 0600);
	free(text);
	assert_int_equal(check(f, false, &c, &e), -1);
	assert_int_equal(c.verdict, CRPC_SIGNATURE_BAD);
	crpc_error_free(e);
}

static void test_unsigned_and_trusted_dir(void **state)
{
	struct fixture *f = *state;
	crpc_signature_check c;
	crpc_error *e = NULL;
	char p[PATH_MAX + 32];

	assert_int_equal(check(f, false, &c, &e), 0);
	assert_int_equal(c.verdict, CRPC_SIGNATURE_NONE);
	assert_int_equal(check(f, true, &c, &e), -1);
	assert_non_null(strstr(e->message, "it is not signed"));
	crpc_error_free(e);
	e = NULL;

	/* no trusted directory at all: nobody is trusted */
	sign_with(f, f->key_a);
	assert_int_equal(crpc_manifest_check_signature(f->dirfd, "ckpt", "/nonexistent/crpc-keys", false, &c,
						       &e),
			 0);
	assert_int_equal(c.verdict, CRPC_SIGNATURE_UNKNOWN_KEY);

	/* trusted keys others could write prove nothing */
	trust(f, f->key_a, "hostA");
	snprintf(p, sizeof(p), "%s/hostA.pub", f->trusted);
	assert_int_equal(chmod(p, 0666), 0);
	assert_int_equal(check(f, false, &c, &e), -1);
	assert_non_null(strstr(e->message, "hostA.pub: it is writable by others (mode 0666)"));
	crpc_error_free(e);
	e = NULL;
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(chmod(f->trusted, 0775), 0);
	assert_int_equal(check(f, false, &c, &e), -1);
	assert_non_null(strstr(e->message, "writable by its group"));
	crpc_error_free(e);
	assert_int_equal(chmod(f->trusted, 0755), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_generate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsigned_and_trusted_dir, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
