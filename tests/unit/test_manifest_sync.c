/* SPDX-License-Identifier: MIT */
/*
 * test_manifest_sync.c - the durability of a checkpoint before crpc.json
 * says it is whole (checkpoint/manifest_write.c, checkpoint/ahead.c).
 *
 * Linked with --wrap=sync_file_range,fdatasync,fsync so that each test
 * decides what the kernel answers: the write-back the hash-ahead thread
 * starts while the files are written covers what it hashed in whole pages;
 * a failing sync_file_range (a hint only) does not fail the manifest; a
 * failing fdatasync of any file, or fsync of the directory, fails it, names
 * what failed and leaves no crpc.json.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

int __real_sync_file_range(int fd, off_t off, off_t n, unsigned int flags);
int __real_fdatasync(int fd);
int __real_fsync(int fd);
int __wrap_sync_file_range(int fd, off_t off, off_t n, unsigned int flags);
int __wrap_fdatasync(int fd);
int __wrap_fsync(int fd);

/* What the wrapped calls saw, and what they answer. */
#define MAX_RANGES 256
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	dev_t dev;
	ino_t ino;
	off_t off, n;
} ranges[MAX_RANGES];
static size_t n_ranges;
static size_t n_fdatasync;
static size_t n_fsync_file;  /* fsyncs of regular files */
static int sfr_errno;        /* sync_file_range fails with it (0: real call) */
static ino_t fdatasync_fail; /* fdatasync of this inode fails with EIO */
static bool manifest_fail;   /* fdatasync of crpc.json fails with EIO */
static bool dir_fsync_fail;  /* fsync of a directory fails with EIO */

/* Whether fd is a file named crpc.json. */
static bool is_manifest(int fd)
{
	char link[64], target[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	return n >= 10 && strcmp(target + n - 10, "/crpc.json") == 0;
}

int __wrap_sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
	struct stat st;

	if (fstat(fd, &st) == 0) {
		pthread_mutex_lock(&lock);
		if (n_ranges < MAX_RANGES) {
			ranges[n_ranges].dev = st.st_dev;
			ranges[n_ranges].ino = st.st_ino;
			ranges[n_ranges].off = off;
			ranges[n_ranges].n = n;
			n_ranges++;
		}
		pthread_mutex_unlock(&lock);
	}
	if (sfr_errno) {
		errno = sfr_errno;
		return -1;
	}
	return __real_sync_file_range(fd, off, n, flags);
}

int __wrap_fdatasync(int fd)
{
	struct stat st;

	pthread_mutex_lock(&lock);
	n_fdatasync++;
	pthread_mutex_unlock(&lock);
	if ((fdatasync_fail && fstat(fd, &st) == 0 && st.st_ino == fdatasync_fail) ||
	    (manifest_fail && is_manifest(fd))) {
		errno = EIO;
		return -1;
	}
	return __real_fdatasync(fd);
}

int __wrap_fsync(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		pthread_mutex_lock(&lock);
		n_fsync_file++;
		pthread_mutex_unlock(&lock);
	}
	if (dir_fsync_fail && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		errno = EIO;
		return -1;
	}
	return __real_fsync(fd);
}

struct fx {
	char dir[64];
	int dirfd;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/crpc-test-msync.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->dirfd >= 0);
	n_ranges = n_fdatasync = n_fsync_file = 0;
	sfr_errno = 0;
	fdatasync_fail = 0;
	manifest_fail = false;
	dir_fsync_fail = false;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	const char *names[] = { "pages-1.img", "core-1.img", "dump.log", "crpc.json", "crpc.json.tmp", NULL };

	for (size_t i = 0; names[i]; i++)
		(void)unlinkat(f->dirfd, names[i], 0);
	close(f->dirfd);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static ino_t write_file(struct fx *f, const char *name, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	struct stat st;
	int fd = openat(f->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_non_null(buf);
	assert_true(fd >= 0);
	for (size_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(i * 13u + 5u);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	free(buf);
	return st.st_ino;
}

static bool exists(struct fx *f, const char *name)
{
	struct stat st;

	return fstatat(f->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int write_manifest_as(struct fx *f, mf_ahead *a, bool unpublished, crpc_error **e)
{
	static const char *const logs[] = { "dump.log", NULL };
	crpc_manifest_info mi = { .digest = CRPC_DIGEST_DEFAULT, .pid = 100, .log_files = logs };
	crpc_manifest_stats st;

	return mf_write(f->dirfd, &mi, &st, a, NULL, unpublished, e);
}

static int write_manifest(struct fx *f, mf_ahead *a, crpc_error **e)
{
	return write_manifest_as(f, a, false, e);
}

/* The ahead thread starts the write-back of a growing file, in whole pages, while it is written. */
static void ahead_starts_writeback(void **state)
{
	struct fx *f = *state;
	static uint8_t buf[3u << 20];
	mf_ahead *a = mf_ahead_start(f->dirfd, CRPC_DIGEST_DEFAULT, NULL, NULL, 0, 0);
	struct stat st;
	size_t before_close, covered = 0;
	crpc_error *e = NULL;
	int fd;

	assert_non_null(a);
	fd = openat(f->dirfd, "pages-1.img", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7u);
	/* in three writes, the first leaving a partial page at the end, 1000 bytes held back */
	assert_int_equal(write(fd, buf, (1u << 20) + 1000), (1 << 20) + 1000);
	pause_ms(40);
	assert_int_equal(write(fd, buf + (1u << 20) + 1000, 1u << 20), 1 << 20);
	pause_ms(40);
	assert_int_equal(write(fd, buf + (2u << 20) + 1000, (1u << 20) - 2000), (1 << 20) - 2000);
	/* the thread follows: at least 2 MiB less a page handed to the disk (a while on a busy machine) */
	for (int tries = 0; tries < 500; tries++) {
		pthread_mutex_lock(&lock);
		before_close = n_ranges;
		covered = 0;
		for (size_t i = 0; i < n_ranges; i++) {
			assert_true(ranges[i].dev == st.st_dev && ranges[i].ino == st.st_ino);
			/* whole pages, each range after the last */
			assert_int_equal(ranges[i].off % 4096, 0);
			assert_int_equal((ranges[i].off + ranges[i].n) % 4096, 0);
			assert_int_equal(ranges[i].off, (off_t)covered);
			covered += (size_t)ranges[i].n;
		}
		pthread_mutex_unlock(&lock);
		if (covered >= (2u << 20) - 4096)
			break;
		pause_ms(10);
	}
	/* while the file is open, its data is on its way, never its last partial page */
	assert_true(before_close >= 1);
	assert_true(covered >= (2u << 20) - 4096);
	assert_true(covered <= sizeof(buf) - 4096);
	assert_int_equal(write(fd, buf + sizeof(buf) - 1000, 1000), 1000);
	close(fd);
	pause_ms(60);
	write_file(f, "dump.log", 100);
	assert_int_equal(write_manifest(f, a, &e), 0);
	assert_null(e);
	assert_true(exists(f, "crpc.json"));
	/* each file synced before crpc.json */
	assert_true(n_fdatasync >= 2);
	mf_ahead_free(a);
}

/* A failing sync_file_range is a hint gone unheard: the manifest is written all the same. */
static void writeback_errors_ignored(void **state)
{
	struct fx *f = *state;
	crpc_error *e = NULL;

	sfr_errno = EIO;
	write_file(f, "pages-1.img", 300000);
	write_file(f, "core-1.img", 1000);
	write_file(f, "dump.log", 100);
	assert_int_equal(write_manifest(f, NULL, &e), 0);
	assert_null(e);
	assert_true(n_ranges >= 3);
	assert_true(exists(f, "crpc.json"));
	assert_int_equal(n_fdatasync, 3);
}

/* A file that cannot be synced fails the manifest, names the file, and no crpc.json is left. */
static void fdatasync_error_reported(void **state)
{
	struct fx *f = *state;
	crpc_error *e = NULL;

	write_file(f, "core-1.img", 1000);
	fdatasync_fail = write_file(f, "pages-1.img", 300000);
	write_file(f, "dump.log", 100);
	assert_int_equal(write_manifest(f, NULL, &e), -1);
	assert_non_null(e);
	assert_int_equal(e->sys_errno, EIO);
	assert_non_null(strstr(e->message, "pages-1.img"));
	assert_false(exists(f, "crpc.json"));
	assert_false(exists(f, "crpc.json.tmp"));
	crpc_error_free(e);
}

/* The directory's entries too: a failing fsync of it fails the manifest before crpc.json. */
static void dir_fsync_error_reported(void **state)
{
	struct fx *f = *state;
	crpc_error *e = NULL;

	write_file(f, "pages-1.img", 5000);
	write_file(f, "dump.log", 100);
	dir_fsync_fail = true;
	assert_int_equal(write_manifest(f, NULL, &e), -1);
	assert_non_null(e);
	assert_int_equal(e->sys_errno, EIO);
	assert_non_null(strstr(e->message, "directory"));
	assert_false(exists(f, "crpc.json"));
	crpc_error_free(e);
}

/* Published: crpc.json.tmp fsync'ed and renamed; unpublished: crpc.json fdatasync'ed as it is. */
static void manifest_sync_by_directory(void **state)
{
	struct fx *f = *state;
	crpc_error *e = NULL;

	write_file(f, "pages-1.img", 5000);
	write_file(f, "dump.log", 100);
	assert_int_equal(write_manifest(f, NULL, &e), 0);
	assert_null(e);
	assert_true(exists(f, "crpc.json"));
	assert_int_equal(n_fdatasync, 2);
	assert_int_equal(n_fsync_file, 1);
	assert_int_equal(unlinkat(f->dirfd, "crpc.json", 0), 0);

	n_fdatasync = n_fsync_file = 0;
	assert_int_equal(write_manifest_as(f, NULL, true, &e), 0);
	assert_null(e);
	assert_true(exists(f, "crpc.json"));
	assert_false(exists(f, "crpc.json.tmp"));
	assert_int_equal(n_fdatasync, 3);
	assert_int_equal(n_fsync_file, 0);
}

/* Unpublished, a crpc.json that cannot be synced fails the manifest and is removed. */
static void unpublished_manifest_sync_error(void **state)
{
	struct fx *f = *state;
	crpc_error *e = NULL;

	write_file(f, "pages-1.img", 5000);
	write_file(f, "dump.log", 100);
	manifest_fail = true;
	assert_int_equal(write_manifest_as(f, NULL, true, &e), -1);
	assert_non_null(e);
	assert_int_equal(e->sys_errno, EIO);
	assert_non_null(strstr(e->message, "crpc.json"));
	assert_false(exists(f, "crpc.json"));
	crpc_error_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ahead_starts_writeback, setup, teardown),
		cmocka_unit_test_setup_teardown(writeback_errors_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(fdatasync_error_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(dir_fsync_error_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(manifest_sync_by_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(unpublished_manifest_sync_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
