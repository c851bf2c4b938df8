/* SPDX-License-Identifier: MIT */
/*
 * test_ahead.c - hashing a directory's files while they are written
 * (checkpoint/ahead.c): a file appended to in steps gets the digest of its
 * final content; a file written again after a close, reopened with
 * O_TRUNC, renamed over, removed and created again, or one that appears
 * after the end is left to be hashed in full (never a stale digest).
 */
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "crpc/crpc.h"
#include "checkpoint/manifest_int.h"

struct fx {
	char dir[64];
	int dirfd;
	mf_ahead *a;
};

/* the digest of the test running (each runs with both) */
static crpc_digest alg = CRPC_DIGEST_BLAKE3;

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/crpc-test-ahead.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->dirfd >= 0);
	f->a = mf_ahead_start(f->dirfd, alg, NULL, NULL, 0, 0);
	assert_non_null(f->a);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	mf_ahead_free(f->a);
	close(f->dirfd);
	snprintf(cmd, sizeof(cmd), "%s", f->dir);
	/* the files, then the directory */
	{
		const char *names[] = { "a", "b", "c", "d", "e", "late", NULL };

		for (size_t i = 0; names[i]; i++) {
			char p[128];

			snprintf(p, sizeof(p), "%s/%s", f->dir, names[i]);
			unlink(p);
		}
	}
	rmdir(cmd);
	free(f);
	return 0;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int open_w(struct fx *f, const char *name, int flags)
{
	int fd = openat(f->dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0600);

	assert_true(fd >= 0);
	return fd;
}

static void fill(uint8_t *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 9));
}

static int setup_blake3(void **state)
{
	alg = CRPC_DIGEST_BLAKE3;
	return setup(state);
}

static int setup_sha256(void **state)
{
	alg = CRPC_DIGEST_SHA256;
	return setup(state);
}

/* the digest of dirfd/name as it is now */
static void digest_now(struct fx *f, const char *name, char hex[65], uint64_t *size)
{
	crpc_error *err = NULL;

	assert_int_equal(crpc_digest_file_at(f->dirfd, name, alg, false, size, hex, &err), 0);
}

static void append_in_steps(void **state)
{
	struct fx *f = *state;
	static uint8_t buf[3 << 20];
	char want[65], got[65];
	uint64_t want_size, got_size = 0;
	int fd = open_w(f, "a", O_EXCL);

	fill(buf, sizeof(buf), 1);
	for (size_t off = 0; off < sizeof(buf); off += 512u << 10) {
		assert_int_equal(write(fd, buf + off, 512u << 10), 512 << 10);
		pause_ms(20); /* let the thread read behind */
	}
	close(fd);
	/* and one file still open (being written) when the end comes */
	fd = open_w(f, "b", O_EXCL);
	assert_int_equal(write(fd, buf, 100000), 100000);
	pause_ms(30);
	assert_int_equal(write(fd, buf + 100000, 5000), 5000);
	pause_ms(30);
	assert_true(mf_ahead_bytes(f->a) > 0);
	mf_ahead_stop(f->a);
	assert_int_equal(write(fd, buf + 105000, 777), 777); /* after the end: a tail */
	close(fd);

	digest_now(f, "a", want, &want_size);
	assert_int_equal(mf_ahead_finish(f->a, f->dirfd, "a", &got_size, got), 1);
	assert_string_equal(got, want);
	assert_int_equal(got_size, want_size);
	digest_now(f, "b", want, &want_size);
	assert_int_equal(mf_ahead_finish(f->a, f->dirfd, "b", &got_size, got), 1);
	assert_string_equal(got, want);
	assert_int_equal(got_size, 105777);
	/* a digest is finished once */
	assert_int_equal(mf_ahead_finish(f->a, f->dirfd, "a", &got_size, got), 0);
}

static void rewritten_files_are_hashed_again(void **state)
{
	struct fx *f = *state;
	static uint8_t buf[256 << 10];
	char hex[65];
	uint64_t size;
	int fd;

	fill(buf, sizeof(buf), 2);
	/* a: written, closed, written again in place (same size) */
	fd = open_w(f, "a", O_EXCL);
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	pause_ms(30);
	fd = openat(f->dirfd, "a", O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "XY", 2, 1000), 2);
	close(fd);
	/* b: written, closed, reopened with O_TRUNC and written longer */
	fd = open_w(f, "b", O_EXCL);
	assert_int_equal(write(fd, buf, 4096), 4096);
	close(fd);
	pause_ms(30);
	fd = open_w(f, "b", O_TRUNC);
	assert_int_equal(write(fd, buf + 1, 8192), 8192);
	close(fd);
	/* c: renamed over by d */
	fd = open_w(f, "c", O_EXCL);
	assert_int_equal(write(fd, buf, 5000), 5000);
	close(fd);
	fd = open_w(f, "d", O_EXCL);
	assert_int_equal(write(fd, buf + 7, 5000), 5000);
	close(fd);
	pause_ms(30);
	assert_int_equal(renameat(f->dirfd, "d", f->dirfd, "c"), 0);
	/* e: removed and created again */
	fd = open_w(f, "e", O_EXCL);
	assert_int_equal(write(fd, buf, 3000), 3000);
	close(fd);
	pause_ms(30);
	assert_int_equal(unlinkat(f->dirfd, "e", 0), 0);
	fd = open_w(f, "e", O_EXCL);
	assert_int_equal(write(fd, buf + 3, 3000), 3000);
	close(fd);
	pause_ms(30);
	mf_ahead_stop(f->a);
	/* late: appears after the end */
	fd = open_w(f, "late", O_EXCL);
	assert_int_equal(write(fd, buf, 10), 10);
	close(fd);

	assert_int_equal(mf_ahead_finish(f->a, f->dirfd, "a", &size, hex), 0);
	assert_int_equal(mf_ahead_finish(f->a, f->dirfd, "b", &size, hex), 0);
	assert_int_equal(mf_ahead_finish(f->a, f->dirfd, "c", &size, hex), 0);
	assert_int_equal(mf_ahead_finish(f->a, f->dirfd, "e", &size, hex), 0);
	assert_int_equal(mf_ahead_finish(f->a, f->dirfd, "late", &size, hex), 0);
	assert_int_equal(mf_ahead_finish(f->a, f->dirfd, "nothing", &size, hex), 0);
}

/* The manifest written with the files hashed ahead has the digests of the final files. */
/* Following pays unless the expected checkpoint is known to be small. */
static void ahead_pays_from_8_mib(void **state)
{
	(void)state;
	assert_true(mf_ahead_pays(0)); /* unknown */
	assert_false(mf_ahead_pays(1));
	assert_false(mf_ahead_pays(((uint64_t)8 << 20) - 1));
	assert_true(mf_ahead_pays((uint64_t)8 << 20));
	assert_true(mf_ahead_pays((uint64_t)1 << 40));
}

static void manifest_with_ahead(void **state)
{
	struct fx *f = *state;
	static uint8_t buf[1 << 20];
	crpc_manifest_info mi = { 0 };
	crpc_manifest_check chk;
	crpc_error *err = NULL;
	int fd;

	fill(buf, sizeof(buf), 3);
	fd = open_w(f, "a", O_EXCL);
	for (size_t off = 0; off < sizeof(buf); off += 128u << 10) {
		assert_int_equal(write(fd, buf + off, 128u << 10), 128 << 10);
		pause_ms(5);
	}
	close(fd);
	fd = open_w(f, "b", O_EXCL);
	assert_int_equal(write(fd, buf, 10), 10);
	close(fd);
	fd = open_w(f, "b", O_TRUNC);
	assert_int_equal(write(fd, buf + 10, 20), 20);
	close(fd);
	mi.pid = 1;
	mi.digest = alg;
	assert_int_equal(mf_write(f->dirfd, &mi, NULL, f->a, NULL, false, &err), 0);
	assert_null(err);
	memset(&chk, 0, sizeof(chk));
	assert_int_equal(crpc_manifest_verify(f->dirfd, f->dir, NULL, &chk, &err), 0);
	assert_int_equal(chk.verdict, CRPC_MANIFEST_OK);
	assert_string_equal(chk.digest, crpc_digest_name(alg));
	crpc_manifest_check_release(&chk);
	unlinkat(f->dirfd, CRPC_MANIFEST_NAME, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ahead_pays_from_8_mib),
		cmocka_unit_test_setup_teardown(append_in_steps, setup_blake3, teardown),
		cmocka_unit_test_setup_teardown(rewritten_files_are_hashed_again, setup_blake3, teardown),
		cmocka_unit_test_setup_teardown(manifest_with_ahead, setup_blake3, teardown),
		cmocka_unit_test_setup_teardown(append_in_steps, setup_sha256, teardown),
		cmocka_unit_test_setup_teardown(rewritten_files_are_hashed_again, setup_sha256, teardown),
		cmocka_unit_test_setup_teardown(manifest_with_ahead, setup_sha256, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
