/* SPDX-License-Identifier: MIT */
/*
 * test_images.c - checkpoint directory checks, pstree.img parsing, the
 * free-PID check and CRIU's statistics files, on crafted files in a
 * temporary directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "crpc/crpc.h"
#include "helpers.h"
#include "inventory.pb-c.h"
#include "pstree.pb-c.h"
#include "stats.pb-c.h"

#define IMG_COMMON_MAGIC 0x54564319u
#define INVENTORY_MAGIC 0x58313116u
#define PSTREE_MAGIC 0x50273030u
#define IMG_SERVICE_MAGIC 0x55105940u
#define STATS_MAGIC 0x57093306u

/* Per-test state: a temporary directory and any child left to reap. */
struct fixture {
	char path[64];
	int dirfd;
	pid_t child;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->path, sizeof(f->path), "/tmp/crpc-test-images-XXXXXX");
	if (make_tmpdir(f->path, &f->dirfd) < 0) {
		free(f);
		return -1;
	}
	f->child = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct dirent *de;
	DIR *d;
	int fd;

	if (f->child > 0) {
		kill(f->child, SIGKILL);
		while (waitpid(f->child, NULL, 0) < 0 && errno == EINTR)
			;
	}
	fd = dup(f->dirfd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(f->dirfd, de->d_name, 0);
		}
		closedir(d);
	}
	close(f->dirfd);
	rmdir(f->path);
	free(f);
	return 0;
}

/* ---- writing crafted files ---- */

/* Append one entry: its length and the packed bytes. */
static void buf_entry(struct buf *b, const void *data, size_t len)
{
	buf_u32(b, (uint32_t)len);
	buf_put(b, data, len);
}

static void buf_inventory_entry(struct buf *b)
{
	InventoryEntry ie = INVENTORY_ENTRY__INIT;
	uint8_t tmp[64];
	size_t n;

	ie.img_version = 2;
	ie.has_fdinfo_per_id = true;
	ie.fdinfo_per_id = true;
	n = inventory_entry__get_packed_size(&ie);
	assert_true(n <= sizeof(tmp));
	inventory_entry__pack(&ie, tmp);
	buf_entry(b, tmp, n);
}

static void write_inventory(int dirfd)
{
	struct buf b = { 0 };

	buf_u32(&b, INVENTORY_MAGIC);
	buf_inventory_entry(&b);
	write_buf(dirfd, "inventory.img", &b);
}

static void buf_pstree_entry(struct buf *b, uint32_t pid, uint32_t ppid, uint32_t pgid, uint32_t sid,
			     uint32_t *threads, size_t n_threads)
{
	PstreeEntry pe = PSTREE_ENTRY__INIT;
	uint8_t *tmp;
	size_t n;

	pe.pid = pid;
	pe.ppid = ppid;
	pe.pgid = pgid;
	pe.sid = sid;
	pe.threads = threads;
	pe.n_threads = n_threads;
	n = pstree_entry__get_packed_size(&pe);
	tmp = malloc(n ? n : 1);
	assert_non_null(tmp);
	pstree_entry__pack(&pe, tmp);
	buf_entry(b, tmp, n);
	free(tmp);
}

static void buf_pstree_magics(struct buf *b)
{
	buf_u32(b, IMG_COMMON_MAGIC);
	buf_u32(b, PSTREE_MAGIC);
}

/* A tree of three tasks: a root with two threads, a child, a grandchild with three. */
static void write_pstree(int dirfd)
{
	struct buf b = { 0 };
	uint32_t t1[] = { 1000, 1003 };
	uint32_t t2[] = { 1001 };
	uint32_t t3[] = { 1002, 1004, 1005 };

	buf_pstree_magics(&b);
	buf_pstree_entry(&b, 1000, 0, 1000, 1000, t1, 2);
	buf_pstree_entry(&b, 1001, 1000, 1000, 1000, t2, 1);
	buf_pstree_entry(&b, 1002, 1001, 1002, 1000, t3, 3);
	write_buf(dirfd, "pstree.img", &b);
}

static void write_checkpoint(int dirfd)
{
	write_inventory(dirfd);
	write_pstree(dirfd);
}

/* Check that the call failed with an error whose message contains each given string. */
static void check_error(int r, crpc_error *e, ...)
{
	va_list ap;
	const char *s;

	assert_int_equal(r, -1);
	assert_non_null(e);
	assert_non_null(e->message);
	assert_int_equal(e->exit_class, CRPC_EXIT_FAIL);
	va_start(ap, e);
	while ((s = va_arg(ap, const char *)) != NULL) {
		if (!strstr(e->message, s)) {
			print_error("message \"%s\" lacks \"%s\"\n", e->message, s);
			va_end(ap);
			fail();
		}
	}
	va_end(ap);
}

/* Run crpc_images_check on the fixture and expect a failure naming each string. */
static void expect_check_fails(struct fixture *f, ...)
{
	crpc_error *e = NULL;
	const char *s;
	va_list ap;
	int r;

	r = crpc_images_check(f->dirfd, f->path, &e);
	assert_int_equal(r, -1);
	assert_non_null(e);
	assert_non_null(e->message);
	assert_int_equal(e->exit_class, CRPC_EXIT_FAIL);
	va_start(ap, f);
	while ((s = va_arg(ap, const char *)) != NULL) {
		if (!strstr(e->message, s)) {
			print_error("message \"%s\" lacks \"%s\"\n", e->message, s);
			va_end(ap);
			crpc_error_free(e);
			fail();
		}
	}
	va_end(ap);
	assert_non_null(e->hint);
	crpc_error_free(e);
}

/* ---- crpc_images_check / crpc_pstree_read ---- */

static void test_check_valid(void **state)
{
	struct fixture *f = *state;
	crpc_error *e = NULL;
	crpc_pstree t = { 0 };

	assert_false(crpc_images_present(f->dirfd));
	write_checkpoint(f->dirfd);
	assert_true(crpc_images_present(f->dirfd));
	assert_int_equal(crpc_images_check(f->dirfd, f->path, &e), 0);
	assert_null(e);

	assert_int_equal(crpc_pstree_read(f->dirfd, &t, &e), 0);
	assert_null(e);
	assert_int_equal(t.n_tasks, 3);
	assert_int_equal(t.tasks[0].pid, 1000);
	assert_int_equal(t.tasks[0].ppid, 0);
	assert_int_equal(t.tasks[0].n_threads, 2);
	assert_int_equal(t.tasks[0].threads[0], 1000);
	assert_int_equal(t.tasks[0].threads[1], 1003);
	assert_int_equal(t.tasks[1].pid, 1001);
	assert_int_equal(t.tasks[1].ppid, 1000);
	assert_int_equal(t.tasks[1].n_threads, 1);
	assert_int_equal(t.tasks[2].pid, 1002);
	assert_int_equal(t.tasks[2].ppid, 1001);
	assert_int_equal(t.tasks[2].pgid, 1002);
	assert_int_equal(t.tasks[2].sid, 1000);
	assert_int_equal(t.tasks[2].n_threads, 3);
	assert_int_equal(t.tasks[2].threads[2], 1005);
	crpc_pstree_release(&t);
	assert_null(t.tasks);
	assert_int_equal(t.n_tasks, 0);
	crpc_pstree_release(&t);
	crpc_pstree_release(NULL);
}

static void test_check_many_tasks(void **state)
{
	struct fixture *f = *state;
	struct buf b = { 0 };
	crpc_error *e = NULL;
	crpc_pstree t = { 0 };
	uint32_t th[64];

	for (size_t i = 0; i < 64; i++)
		th[i] = 5000 + (uint32_t)i * 100;
	buf_pstree_magics(&b);
	for (uint32_t i = 0; i < 100; i++)
		buf_pstree_entry(&b, 5000 + i * 100, i ? 5000 : 0, 5000, 5000, i == 0 ? th : NULL,
				 i == 0 ? 64 : 0);
	write_buf(f->dirfd, "pstree.img", &b);
	write_inventory(f->dirfd);
	assert_int_equal(crpc_images_check(f->dirfd, f->path, &e), 0);
	assert_int_equal(crpc_pstree_read(f->dirfd, &t, &e), 0);
	assert_int_equal(t.n_tasks, 100);
	assert_int_equal(t.tasks[0].n_threads, 64);
	assert_int_equal(t.tasks[0].threads[63], 5000 + 63 * 100);
	/* A task without a thread list is its own single thread. */
	assert_int_equal(t.tasks[99].n_threads, 1);
	assert_int_equal(t.tasks[99].threads[0], 5000 + 99 * 100);
	crpc_pstree_release(&t);
}

static void test_check_empty_dir(void **state)
{
	expect_check_fails(*state, "holds no checkpoint", "empty", NULL);
}

static void test_check_garbage_dir(void **state)
{
	struct fixture *f = *state;
	uint8_t junk[300];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	write_file(f->dirfd, "core-1.img", junk, sizeof(junk));
	write_file(f->dirfd, "notes.txt", "hello\n", 6);
	expect_check_fails(f, "holds no checkpoint", "inventory.img is missing", NULL);
}

static void test_check_garbage_inventory(void **state)
{
	struct fixture *f = *state;

	write_file(f->dirfd, "inventory.img", "this is not an image\n", 21);
	write_pstree(f->dirfd);
	expect_check_fails(f, "inventory.img is not a CRIU image", "bad magic 0x", NULL);
}

static void test_check_short_inventory(void **state)
{
	struct fixture *f = *state;

	write_file(f->dirfd, "inventory.img", "\x16\x31", 2);
	write_pstree(f->dirfd);
	expect_check_fails(f, "inventory.img is not a CRIU image", "2 bytes", NULL);
}

static void test_check_inventory_no_entry(void **state)
{
	struct fixture *f = *state;
	struct buf b = { 0 };

	buf_u32(&b, INVENTORY_MAGIC);
	write_buf(f->dirfd, "inventory.img", &b);
	write_pstree(f->dirfd);
	expect_check_fails(f, "inventory.img holds no entry", NULL);
}

static void test_check_inventory_undecodable(void **state)
{
	struct fixture *f = *state;
	struct buf b = { 0 };

	buf_u32(&b, INVENTORY_MAGIC);
	/* Field 1 as a length-delimited field of absurd length: not decodable. */
	buf_entry(&b, "\x0a\xff\xff\x03", 4);
	write_buf(f->dirfd, "inventory.img", &b);
	write_pstree(f->dirfd);
	expect_check_fails(f, "inventory.img is corrupt", "cannot be decoded", NULL);
}

static void test_check_pstree_missing(void **state)
{
	struct fixture *f = *state;

	write_inventory(f->dirfd);
	expect_check_fails(f, "pstree.img is missing", NULL);
}

static void test_check_pstree_bad_magic(void **state)
{
	struct fixture *f = *state;
	struct buf b = { 0 };
	uint32_t th[] = { 1 };

	write_inventory(f->dirfd);
	buf_u32(&b, 0xdeadbeef);
	buf_u32(&b, PSTREE_MAGIC);
	buf_pstree_entry(&b, 1, 0, 1, 1, th, 1);
	write_buf(f->dirfd, "pstree.img", &b);
	expect_check_fails(f, "pstree.img is not a CRIU image", "bad magic 0xdeadbeef", NULL);
}

static void test_check_pstree_wrong_type(void **state)
{
	struct fixture *f = *state;
	struct buf b = { 0 };
	uint32_t th[] = { 1 };

	write_inventory(f->dirfd);
	buf_u32(&b, IMG_COMMON_MAGIC);
	buf_u32(&b, 0x12345678);
	buf_pstree_entry(&b, 1, 0, 1, 1, th, 1);
	write_buf(f->dirfd, "pstree.img", &b);
	expect_check_fails(f, "pstree.img", "another kind", "0x12345678", NULL);
}

static void test_check_pstree_only_one_magic(void **state)
{
	struct fixture *f = *state;
	struct buf b = { 0 };

	write_inventory(f->dirfd);
	buf_u32(&b, IMG_COMMON_MAGIC);
	write_buf(f->dirfd, "pstree.img", &b);
	expect_check_fails(f, "pstree.img is truncated", NULL);
}

static void test_check_pstree_truncated_length(void **state)
{
	struct fixture *f = *state;
	struct buf b = { 0 };
	uint32_t th[] = { 1 };

	write_inventory(f->dirfd);
	buf_pstree_magics(&b);
	buf_pstree_entry(&b, 1, 0, 1, 1, th, 1);
	buf_put(&b, "\x05\x00", 2);
	write_buf(f->dirfd, "pstree.img", &b);
	expect_check_fails(f, "pstree.img is truncated", "2 stray bytes", "entry 2", NULL);
}

static void test_check_pstree_length_past_end(void **state)
{
	struct fixture *f = *state;
	struct buf b = { 0 };

	write_inventory(f->dirfd);
	buf_pstree_magics(&b);
	buf_u32(&b, 100);
	buf_put(&b, "\x08\x01\x10\x00", 4);
	write_buf(f->dirfd, "pstree.img", &b);
	expect_check_fails(f, "pstree.img is truncated", "needs 100 bytes", "only 4", NULL);
}

static void test_check_pstree_huge_length(void **state)
{
	struct fixture *f = *state;
	struct buf b = { 0 };

	write_inventory(f->dirfd);
	buf_pstree_magics(&b);
	buf_u32(&b, 0xfffffff0u);
	buf_put(&b, "\x08\x01", 2);
	write_buf(f->dirfd, "pstree.img", &b);
	expect_check_fails(f, "pstree.img is corrupt", "4294967280 bytes", NULL);
}

static void test_check_pstree_zero_entries(void **state)
{
	struct fixture *f = *state;
	struct buf b = { 0 };

	write_inventory(f->dirfd);
	buf_pstree_magics(&b);
	write_buf(f->dirfd, "pstree.img", &b);
	expect_check_fails(f, "pstree.img holds no task", NULL);
}

static void test_check_pstree_undecodable(void **state)
{
	struct fixture *f = *state;
	struct buf b = { 0 };
	uint32_t th[] = { 1 };

	write_inventory(f->dirfd);
	buf_pstree_magics(&b);
	buf_pstree_entry(&b, 1, 0, 1, 1, th, 1);
	/* Required fields missing: protobuf-c refuses the entry. */
	buf_entry(&b, "\x08\x02", 2);
	write_buf(f->dirfd, "pstree.img", &b);
	expect_check_fails(f, "pstree.img is corrupt", "entry 2 cannot be decoded", NULL);
}

static void test_check_pstree_bad_pid(void **state)
{
	struct fixture *f = *state;
	struct buf b = { 0 };

	write_inventory(f->dirfd);
	buf_pstree_magics(&b);
	buf_pstree_entry(&b, 0, 0, 1, 1, NULL, 0);
	write_buf(f->dirfd, "pstree.img", &b);
	expect_check_fails(f, "pstree.img is corrupt", "task 1 has PID 0", NULL);
}

/* CRIU records a zombie's threads as a placeholder (0xdeadbeef): not an error. */
static void test_pstree_zombie_placeholder_thread(void **state)
{
	struct fixture *f = *state;
	struct buf b = { 0 };
	uint32_t th[] = { 7, 0x80000000u };
	uint32_t zombie[] = { 0xdeadbeefu };
	crpc_pstree t = { 0 };

	write_inventory(f->dirfd);
	buf_pstree_magics(&b);
	buf_pstree_entry(&b, 7, 0, 7, 7, th, 2);
	buf_pstree_entry(&b, 8, 7, 7, 7, zombie, 1);
	write_buf(f->dirfd, "pstree.img", &b);
	assert_int_equal(crpc_images_check(f->dirfd, f->path, NULL), 0);
	assert_int_equal(crpc_pstree_read(f->dirfd, &t, NULL), 0);
	assert_int_equal(t.n_tasks, 2);
	assert_int_equal(t.tasks[0].n_threads, 1);
	assert_int_equal(t.tasks[0].threads[0], 7);
	assert_int_equal(t.tasks[1].n_threads, 1);
	assert_int_equal(t.tasks[1].threads[0], 8);
	crpc_pstree_release(&t);
}

static void test_check_pstree_symlink(void **state)
{
	struct fixture *f = *state;
	char target[128];

	write_inventory(f->dirfd);
	write_pstree(f->dirfd);
	assert_int_equal(renameat(f->dirfd, "pstree.img", f->dirfd, "real-pstree"), 0);
	snprintf(target, sizeof(target), "%s/real-pstree", f->path);
	assert_int_equal(symlinkat(target, f->dirfd, "pstree.img"), 0);
	expect_check_fails(f, "pstree.img is not a regular file", NULL);
}

static void test_check_pstree_fifo(void **state)
{
	struct fixture *f = *state;

	write_inventory(f->dirfd);
	/* Must not block waiting for a writer. */
	assert_int_equal(mkfifoat(f->dirfd, "pstree.img", 0600), 0);
	expect_check_fails(f, "pstree.img is not a regular file", NULL);
}

static void test_check_in_progress(void **state)
{
	struct fixture *f = *state;

	write_checkpoint(f->dirfd);
	write_file(f->dirfd, CRPC_INPROGRESS_MARKER, "", 0);
	expect_check_fails(f, "did not complete", CRPC_INPROGRESS_MARKER, "not usable", NULL);
}

static void test_check_in_progress_partial(void **state)
{
	struct fixture *f = *state;

	/* A dump that died early: only the marker and some images. */
	write_file(f->dirfd, CRPC_INPROGRESS_MARKER, "", 0);
	write_file(f->dirfd, "core-1.img", "\x19\x43\x56\x54", 4);
	expect_check_fails(f, "did not complete", NULL);
}

static void test_check_null_err(void **state)
{
	struct fixture *f = *state;
	crpc_pstree t = { 0 };

	assert_int_equal(crpc_images_check(f->dirfd, NULL, NULL), -1);
	assert_int_equal(crpc_pstree_read(f->dirfd, &t, NULL), -1);
	assert_null(t.tasks);
}

static void test_pstree_read_errors(void **state)
{
	struct fixture *f = *state;
	crpc_error *e = NULL;
	crpc_pstree t = { 0 };
	int r;

	r = crpc_pstree_read(f->dirfd, &t, &e);
	check_error(r, e, "pstree.img is missing", NULL);
	assert_null(t.tasks);
	crpc_error_free(e);
	e = NULL;

	write_file(f->dirfd, "pstree.img", "\x19\x43\x56\x54\x30\x30", 6);
	r = crpc_pstree_read(f->dirfd, &t, &e);
	check_error(r, e, "pstree.img is truncated", NULL);
	crpc_error_free(e);
}

static void test_images_size(void **state)
{
	struct fixture *f = *state;
	crpc_error *e = NULL;
	uint64_t n = 1;
	char big[5000];

	assert_int_equal(crpc_images_size(f->dirfd, &n, &e), 0);
	assert_int_equal(n, 0);
	memset(big, 'x', sizeof(big));
	write_file(f->dirfd, "a.img", big, sizeof(big));
	write_file(f->dirfd, "b.img", big, 123);
	assert_int_equal(mkdirat(f->dirfd, "sub", 0755), 0);
	assert_int_equal(symlinkat("/etc/passwd", f->dirfd, "link"), 0);
	assert_int_equal(crpc_images_size(f->dirfd, &n, &e), 0);
	assert_null(e);
	assert_int_equal(n, 5000 + 123);
	unlinkat(f->dirfd, "sub", AT_REMOVEDIR);
}

/* ---- crpc_pstree_pids_available ---- */

static pid_t pid_max(void)
{
	FILE *fp = fopen("/proc/sys/kernel/pid_max", "re");
	long v = 32768;

	if (fp) {
		if (fscanf(fp, "%ld", &v) != 1)
			v = 32768;
		fclose(fp);
	}
	return (pid_t)v;
}

/* A pid nobody uses right now (searching down from the top of the range). */
static pid_t free_pid(void)
{
	char path[64];

	for (pid_t p = pid_max() - 1; p > 300; p--) {
		snprintf(path, sizeof(path), "/proc/%d", (int)p);
		if (kill(p, 0) < 0 && errno == ESRCH && access(path, F_OK) < 0)
			return p;
	}
	fail_msg("no free pid found");
	return -1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A one-task tree with the given pid and threads. */
struct one_task {
	crpc_task task;
	pid_t threads[4];
	crpc_pstree tree;
};

static void one_task(struct one_task *o, pid_t pid, pid_t thread)
{
	memset(o, 0, sizeof(*o));
	o->task.pid = pid;
	o->threads[0] = pid;
	o->task.n_threads = 1;
	if (thread > 0)
		o->threads[o->task.n_threads++] = thread;
	o->task.threads = o->threads;
	o->tree.tasks = &o->task;
	o->tree.n_tasks = 1;
}

static void self_comm(char *buf, size_t sz)
{
	FILE *fp = fopen("/proc/self/comm", "re");

	assert_non_null(fp);
	assert_non_null(fgets(buf, (int)sz, fp));
	fclose(fp);
	buf[strcspn(buf, "\n")] = '\0';
}

static void test_pids_free_free(void **state)
{
	struct one_task o;
	crpc_error *e = NULL;
	pid_t p = free_pid();

	one_task(&o, p, 0);
	assert_int_equal(crpc_pstree_pids_available(&o.tree, 0, &e), 0);
	assert_null(e);
	assert_int_equal(crpc_pstree_pids_available(&o.tree, 1000, &e), 0);
	assert_int_equal(crpc_pstree_pids_available(NULL, 0, &e), 0);
}

/*
 * A session leader that exited while a member of its session lives on: its
 * PID is gone from /proc but still taken as the session ID.
 */
static void test_pids_free_session_held(void **state)
{
	struct fixture *f = *state;
	struct one_task o;
	crpc_error *e = NULL;
	int p[2], st;
	pid_t leader, member = 0;

	assert_int_equal(pipe(p), 0);
	leader = fork();
	assert_true(leader >= 0);
	if (leader == 0) {
		pid_t m;

		close(p[0]);
		if (setsid() < 0)
			_exit(1);
		m = fork();
		if (m == 0) {
			pause();
			_exit(0);
		}
		if (write(p[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &member, sizeof(member)), (ssize_t)sizeof(member));
	close(p[0]);
	assert_int_equal(waitpid(leader, &st, 0), leader);
	f->child = member; /* teardown ends it if an assertion fails */

	one_task(&o, leader, 0);
	o.task.sid = leader; /* it led its session when it was checkpointed */
	assert_int_equal(crpc_pstree_pids_available(&o.tree, 0, &e), -1);
	assert_non_null(e);
	assert_int_equal(e->cause, CRPC_CAUSE_PID_IN_USE);
	assert_non_null(strstr(e->message, "session ID"));
	crpc_error_free(e);
	e = NULL;

	/* once the last member is gone (and reaped by init), the PID is free */
	kill(member, SIGKILL);
	f->child = 0;
	for (int i = 0; i < 400 && access("/proc/self", F_OK) == 0; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d", (int)member);
		if (access(path, F_OK) < 0)
			break;
		usleep(10000);
	}
	assert_int_equal(crpc_pstree_pids_available(&o.tree, 3000, &e), 0);
}

static void test_pids_free_self(void **state)
{
	struct one_task o;
	crpc_error *e = NULL;
	char comm[64], want[128], pid_s[32];
	double t0;
	int r;

	self_comm(comm, sizeof(comm));
	snprintf(want, sizeof(want), "in use by a running process: %s (PID %d)", comm, (int)getpid());
	snprintf(pid_s, sizeof(pid_s), "PID %d ", (int)getpid());
	one_task(&o, getpid(), 0);
	t0 = now();
	r = crpc_pstree_pids_available(&o.tree, 5000, &e);
	/* A live process fails at once, without waiting. */
	assert_true(now() - t0 < 1.0);
	check_error(r, e, pid_s, want, NULL);
	assert_int_equal(e->cause, CRPC_CAUSE_PID_IN_USE);
	assert_non_null(e->hint);
	assert_non_null(strstr(e->hint, "PID namespace"));
	crpc_error_free(e);
}

struct thread_arg {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pid_t tid;
	bool stop;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;

	pthread_mutex_lock(&a->lock);
	a->tid = gettid();
	pthread_cond_broadcast(&a->cond);
	while (!a->stop)
		pthread_cond_wait(&a->cond, &a->lock);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* A tree whose thread id is taken by one of our threads. */
static void test_pids_free_thread(void **state)
{
	struct thread_arg a = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct one_task o;
	crpc_error *e = NULL;
	pthread_t th;
	char want[128], comm[64];
	int r;

	assert_int_equal(pthread_create(&th, NULL, thread_main, &a), 0);
	pthread_mutex_lock(&a.lock);
	while (a.tid == 0)
		pthread_cond_wait(&a.cond, &a.lock);
	pthread_mutex_unlock(&a.lock);

	one_task(&o, free_pid(), a.tid);
	r = crpc_pstree_pids_available(&o.tree, 0, &e);

	pthread_mutex_lock(&a.lock);
	a.stop = true;
	pthread_cond_broadcast(&a.cond);
	pthread_mutex_unlock(&a.lock);
	pthread_join(th, NULL);

	self_comm(comm, sizeof(comm));
	snprintf(want, sizeof(want), "PID %d needed by the checkpoint is in use", (int)a.tid);
	check_error(r, e, want, NULL);
	snprintf(want, sizeof(want), "thread of a running process: %s (PID %d)", comm, (int)getpid());
	check_error(r, e, want, NULL);
	assert_int_equal(e->cause, CRPC_CAUSE_PID_IN_USE);
	crpc_error_free(e);
}

/* Fork a child that exits at once and wait until it is a zombie. */
static pid_t make_zombie(void)
{
	char path[64], buf[512];
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 500; i++) {
		FILE *fp = fopen(path, "re");
		char *rp = NULL;

		if (fp) {
			if (fgets(buf, sizeof(buf), fp))
				rp = strrchr(buf, ')');
			fclose(fp);
		}
		if (rp && rp[1] == ' ' && rp[2] == 'Z')
			return pid;
		usleep(10000);
	}
	fail_msg("child %d did not become a zombie", (int)pid);
	return -1;
}

struct reaper {
	pid_t pid;
	unsigned delay_ms;
	int status;
	pid_t got;
};

static void *reaper_main(void *p)
{
	struct reaper *r = p;

	usleep(r->delay_ms * 1000);
	do
		r->got = waitpid(r->pid, &r->status, 0);
	while (r->got < 0 && errno == EINTR);
	return NULL;
}

static void test_pids_free_zombie_reaped(void **state)
{
	struct fixture *f = *state;
	struct reaper rp = { .delay_ms = 200 };
	struct one_task o;
	crpc_error *e = NULL;
	pthread_t th;
	double t0, dt;
	int r;

	rp.pid = make_zombie();
	f->child = rp.pid;
	one_task(&o, rp.pid, 0);
	t0 = now();
	assert_int_equal(pthread_create(&th, NULL, reaper_main, &rp), 0);
	r = crpc_pstree_pids_available(&o.tree, 5000, &e);
	dt = now() - t0;
	pthread_join(th, NULL);
	assert_int_equal(rp.got, rp.pid);
	f->child = -1;
	if (r < 0)
		print_error("unexpected error: %s\n", e && e->message ? e->message : "?");
	assert_int_equal(r, 0);
	assert_null(e);
	/* It waited for the reaper, and not much longer. */
	assert_true(dt >= 0.15);
	assert_true(dt < 2.0);
}

static void test_pids_free_zombie_not_reaped(void **state)
{
	struct fixture *f = *state;
	struct one_task o;
	crpc_error *e = NULL;
	char want[64];
	double t0, dt;
	pid_t z;
	int r;

	z = make_zombie();
	f->child = z;
	/* The zombie as a thread id of a task whose pid is free. */
	one_task(&o, free_pid(), z);
	t0 = now();
	r = crpc_pstree_pids_available(&o.tree, 100, &e);
	dt = now() - t0;
	snprintf(want, sizeof(want), "PID %d is held by a zombie", (int)z);
	check_error(r, e, want, "not reaped within 0.1 s", NULL);
	snprintf(want, sizeof(want), "parent PID %d)", (int)getpid());
	check_error(r, e, want, NULL);
	assert_int_equal(e->cause, CRPC_CAUSE_PID_IN_USE);
	assert_non_null(e->hint);
	assert_true(dt >= 0.09);
	assert_true(dt < 2.0);
	crpc_error_free(e);
	e = NULL;

	/* With no wait at all it fails at once. */
	one_task(&o, z, 0);
	t0 = now();
	r = crpc_pstree_pids_available(&o.tree, 0, &e);
	assert_true(now() - t0 < 0.5);
	check_error(r, e, "zombie", NULL);
	crpc_error_free(e);

	assert_int_equal(waitpid(z, NULL, 0), z);
	f->child = -1;
}

static void *sleeper_main(void *p)
{
	for (;;)
		pause();
	return NULL;
}

/*
 * A process whose main thread ended while another thread runs: its pid shows
 * as a zombie but the process is alive, so there is no point waiting.
 */
static void test_pids_free_zombie_leader(void **state)
{
	struct fixture *f = *state;
	struct one_task o;
	crpc_error *e = NULL;
	char path[64], buf[512], want[64];
	double t0;
	pid_t pid;
	int r, i;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pthread_t th;

		if (pthread_create(&th, NULL, sleeper_main, NULL) != 0)
			_exit(1);
		pthread_exit(NULL);
	}
	f->child = pid;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (i = 0; i < 500; i++) {
		FILE *fp = fopen(path, "re");
		char *rp = NULL;

		if (fp) {
			if (fgets(buf, sizeof(buf), fp))
				rp = strrchr(buf, ')');
			fclose(fp);
		}
		if (rp && rp[1] == ' ' && rp[2] == 'Z')
			break;
		usleep(10000);
	}
	assert_true(i < 500);

	one_task(&o, pid, 0);
	t0 = now();
	r = crpc_pstree_pids_available(&o.tree, 3000, &e);
	assert_true(now() - t0 < 1.0);
	snprintf(want, sizeof(want), "in use by a running process");
	check_error(r, e, want, NULL);
	assert_int_equal(e->cause, CRPC_CAUSE_PID_IN_USE);
	crpc_error_free(e);
}

/* ---- crpc_stats_read ---- */

static void write_stats(int dirfd, const char *name, const StatsEntry *se)
{
	struct buf b = { 0 };
	size_t n = stats_entry__get_packed_size(se);
	uint8_t *tmp = malloc(n ? n : 1);

	assert_non_null(tmp);
	stats_entry__pack(se, tmp);
	buf_u32(&b, IMG_SERVICE_MAGIC);
	buf_u32(&b, STATS_MAGIC);
	buf_entry(&b, tmp, n);
	free(tmp);
	write_buf(dirfd, name, &b);
}

static void test_stats_dump(void **state)
{
	struct fixture *f = *state;
	StatsEntry se = STATS_ENTRY__INIT;
	DumpStatsEntry d = DUMP_STATS_ENTRY__INIT;
	crpc_stats st;
	crpc_error *e = NULL;

	d.freezing_time = 1234;
	d.frozen_time = 56789;
	d.memdump_time = 3000;
	d.memwrite_time = 4000;
	d.pages_scanned = 1ull << 33;
	d.pages_skipped_parent = 17;
	d.pages_written = 4096;
	d.pages_lazy = 3;
	d.has_irmap_resolve = true;
	d.irmap_resolve = 9;
	se.dump = &d;
	write_stats(f->dirfd, "stats-dump", &se);

	/* Restore fields already there are kept. */
	memset(&st, 0, sizeof(st));
	st.have_restore = true;
	st.pages_compared = 77;
	assert_int_equal(crpc_stats_read(f->dirfd, "stats-dump", &st, &e), 0);
	assert_null(e);
	assert_true(st.have_dump);
	assert_int_equal(st.freezing_time, 1234);
	assert_int_equal(st.frozen_time, 56789);
	assert_int_equal(st.memdump_time, 3000);
	assert_int_equal(st.memwrite_time, 4000);
	assert_int_equal(st.pages_scanned, 1ull << 33);
	assert_int_equal(st.pages_skipped_parent, 17);
	assert_int_equal(st.pages_written, 4096);
	assert_int_equal(st.pages_lazy, 3);
	assert_true(st.have_restore);
	assert_int_equal(st.pages_compared, 77);
}

static void test_stats_restore(void **state)
{
	struct fixture *f = *state;
	StatsEntry se = STATS_ENTRY__INIT;
	RestoreStatsEntry r = RESTORE_STATS_ENTRY__INIT;
	crpc_stats st;
	crpc_error *e = NULL;

	r.pages_compared = 10;
	r.pages_skipped_cow = 20;
	r.forking_time = 300;
	r.restore_time = 4000;
	r.has_pages_restored = true;
	r.pages_restored = 5000;
	se.restore = &r;
	write_stats(f->dirfd, "stats-restore", &se);

	memset(&st, 0, sizeof(st));
	assert_int_equal(crpc_stats_read(f->dirfd, "stats-restore", &st, &e), 0);
	assert_null(e);
	assert_false(st.have_dump);
	assert_true(st.have_restore);
	assert_int_equal(st.pages_compared, 10);
	assert_int_equal(st.pages_skipped_cow, 20);
	assert_int_equal(st.forking_time, 300);
	assert_int_equal(st.restore_time, 4000);
	assert_int_equal(st.pages_restored, 5000);

	/* pages_restored is optional (older CRIU). */
	r.has_pages_restored = false;
	write_stats(f->dirfd, "stats-restore", &se);
	memset(&st, 0, sizeof(st));
	assert_int_equal(crpc_stats_read(f->dirfd, "stats-restore", &st, &e), 0);
	assert_true(st.have_restore);
	assert_int_equal(st.pages_restored, 0);
	assert_int_equal(st.restore_time, 4000);
}

static void expect_stats_fails(struct fixture *f, const char *name, const char *s1, const char *s2)
{
	crpc_stats st;
	crpc_error *e = NULL;
	int r;

	memset(&st, 0, sizeof(st));
	r = crpc_stats_read(f->dirfd, name, &st, &e);
	check_error(r, e, name, s1, s2, NULL);
	assert_false(st.have_dump);
	assert_false(st.have_restore);
	crpc_error_free(e);
}

static void test_stats_errors(void **state)
{
	struct fixture *f = *state;
	StatsEntry se = STATS_ENTRY__INIT;
	struct buf b = { 0 };
	uint8_t *big;

	expect_stats_fails(f, "stats-dump", "is missing", NULL);

	buf_u32(&b, IMG_COMMON_MAGIC);
	buf_u32(&b, STATS_MAGIC);
	buf_entry(&b, "", 0);
	write_buf(f->dirfd, "stats-dump", &b);
	expect_stats_fails(f, "stats-dump", "not a CRIU statistics file", "bad magic 0x54564319");

	write_file(f->dirfd, "stats-dump", "\x40\x59\x10", 3);
	expect_stats_fails(f, "stats-dump", "not a CRIU statistics file", "3 bytes");

	buf_u32(&b, IMG_SERVICE_MAGIC);
	buf_u32(&b, STATS_MAGIC);
	buf_put(&b, "\x01\x00", 2);
	write_buf(f->dirfd, "stats-dump", &b);
	expect_stats_fails(f, "stats-dump", "truncated", NULL);

	buf_u32(&b, IMG_SERVICE_MAGIC);
	buf_u32(&b, STATS_MAGIC);
	buf_u32(&b, 40);
	buf_put(&b, "\x0a\x02\x08\x01", 4);
	write_buf(f->dirfd, "stats-dump", &b);
	expect_stats_fails(f, "stats-dump", "truncated", "needs 40 bytes but only 4");

	/* A dump entry lacking its required fields. */
	buf_u32(&b, IMG_SERVICE_MAGIC);
	buf_u32(&b, STATS_MAGIC);
	buf_entry(&b, "\x0a\x02\x08\x01", 4);
	write_buf(f->dirfd, "stats-dump", &b);
	expect_stats_fails(f, "stats-dump", "cannot be decoded", NULL);

	write_stats(f->dirfd, "stats-dump", &se);
	expect_stats_fails(f, "stats-dump", "neither dump nor restore", NULL);

	big = calloc(1, 64 * 1024 + 1);
	assert_non_null(big);
	memcpy(big, "\x40\x59\x10\x55\x06\x33\x09\x57", 8);
	write_file(f->dirfd, "stats-dump", big, 64 * 1024 + 1);
	free(big);
	expect_stats_fails(f, "stats-dump", "larger than 64 KiB", NULL);

	assert_int_equal(mkdirat(f->dirfd, "stats-restore", 0755), 0);
	expect_stats_fails(f, "stats-restore", "not a regular file", NULL);
	unlinkat(f->dirfd, "stats-restore", AT_REMOVEDIR);

	assert_int_equal(mkfifoat(f->dirfd, "stats-restore", 0600), 0);
	expect_stats_fails(f, "stats-restore", "not a regular file", NULL);

	assert_int_equal(symlinkat("stats-dump", f->dirfd, "stats-link"), 0);
	expect_stats_fails(f, "stats-link", "not a regular file", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_check_valid),
		T(test_check_many_tasks),
		T(test_check_empty_dir),
		T(test_check_garbage_dir),
		T(test_check_garbage_inventory),
		T(test_check_short_inventory),
		T(test_check_inventory_no_entry),
		T(test_check_inventory_undecodable),
		T(test_check_pstree_missing),
		T(test_check_pstree_bad_magic),
		T(test_check_pstree_wrong_type),
		T(test_check_pstree_only_one_magic),
		T(test_check_pstree_truncated_length),
		T(test_check_pstree_length_past_end),
		T(test_check_pstree_huge_length),
		T(test_check_pstree_zero_entries),
		T(test_check_pstree_undecodable),
		T(test_check_pstree_bad_pid),
		T(test_pstree_zombie_placeholder_thread),
		T(test_check_pstree_symlink),
		T(test_check_pstree_fifo),
		T(test_check_in_progress),
		T(test_check_in_progress_partial),
		T(test_check_null_err),
		T(test_pstree_read_errors),
		T(test_images_size),
		T(test_pids_free_free),
		T(test_pids_free_session_held),
		T(test_pids_free_self),
		T(test_pids_free_thread),
		T(test_pids_free_zombie_reaped),
		T(test_pids_free_zombie_not_reaped),
		T(test_pids_free_zombie_leader),
		T(test_stats_dump),
		T(test_stats_restore),
		T(test_stats_errors),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
