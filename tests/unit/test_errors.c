/* SPDX-License-Identifier: MIT */
/*
 * test_errors.c - the error object, CRIU log excerpts, classification of
 * failure causes and rendering. The logs in tests/data/logs were written by
 * a real CRIU 4.2.1 (one by 4.1.1) on the project's machines.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

#include "crpc/error.h"

#ifndef CRPC_TEST_DATA
#error "CRPC_TEST_DATA must name the tests/data directory"
#endif

#define LOGS CRPC_TEST_DATA "/logs/"

/* ---- helpers ------------------------------------------------------------ */

/* Read a sample log into a buffer of exactly its size (no terminator). */
static char *read_log(const char *name, size_t *len)
{
	char path[PATH_MAX];
	struct stat st;
	char *buf;
	FILE *f;

	snprintf(path, sizeof(path), LOGS "%s", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	*len = (size_t)st.st_size;
	buf = malloc(*len ? *len : 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

/* The excerpt of a sample log, as crpc_error_attach_log() makes it. */
static char *excerpt_of(const char *name)
{
	size_t len;
	char *log = read_log(name, &len);
	char *x = crpc_log_excerpt(log, len, 3, 3);

	free(log);
	assert_non_null(x);
	return x;
}

/* Excerpt of a NUL-terminated text, copied into an exact-size buffer. */
static char *excerpt_str(const char *text, unsigned context, unsigned max_errors)
{
	size_t len = strlen(text);
	char *buf = malloc(len ? len : 1);
	char *x;

	assert_non_null(buf);
	memcpy(buf, text, len);
	x = crpc_log_excerpt(buf, len, context, max_errors);
	free(buf);
	assert_non_null(x);
	return x;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

static unsigned count_of(const char *s, const char *sub)
{
	unsigned n = 0;
	size_t l = strlen(sub);

	while ((s = strstr(s, sub))) {
		n++;
		s += l;
	}
	return n;
}

#define assert_contains(s, sub)                                           \
	do {                                                              \
		if (!strstr((s), (sub)))                                  \
			fail_msg("\"%s\" not found in:\n%s", (sub), (s)); \
	} while (0)

#define assert_not_contains(s, sub)                                                \
	do {                                                                       \
		if (strstr((s), (sub)))                                            \
			fail_msg("\"%s\" unexpectedly found in:\n%s", (sub), (s)); \
	} while (0)

/* An error for a sample log, classified for request `op`. */
static crpc_error *error_for_log(const char *name, const char *op, int criu_errno)
{
	crpc_error *e = NULL;

	assert_int_equal(crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op, "CRIU refused the request"), -1);
	assert_non_null(e);
	e->criu_errno = criu_errno;
	if (name) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), LOGS "%s", name);
		crpc_error_attach_log(e, path);
		assert_non_null(e->log_path);
	}
	crpc_error_classify(e, op);
	return e;
}

/* ---- errno names -------------------------------------------------------- */

static void test_errno_names(void **state)
{
	int i;

	(void)state;
	assert_string_equal(crpc_errno_name(ENOENT), "ENOENT");
	assert_string_equal(crpc_errno_name(EPERM), "EPERM");
	assert_string_equal(crpc_errno_name(ESRCH), "ESRCH");
	assert_string_equal(crpc_errno_name(EEXIST), "EEXIST");
	assert_string_equal(crpc_errno_name(56), "EBADRQC");
	assert_string_equal(crpc_errno_name(EBADE), "EBADE");
	assert_string_equal(crpc_errno_name(ECOMM), "ECOMM");
	assert_string_equal(crpc_errno_name(EOPNOTSUPP), "EOPNOTSUPP");
	assert_string_equal(crpc_errno_name(EHWPOISON), "EHWPOISON");
	/* CRIU often reports -errno */
	assert_string_equal(crpc_errno_name(-EBADE), "EBADE");
	assert_null(crpc_errno_name(0));
	assert_null(crpc_errno_name(100000));
	assert_null(crpc_errno_name(INT_MIN));
	assert_null(crpc_errno_name(INT_MAX));
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	/* the same names as the C library gives */
	for (i = 1; i < 512; i++) {
		const char *libc = strerrorname_np(i);

		if (libc)
			assert_string_equal(crpc_errno_name(i), libc);
	}
#else
	for (i = 1; i < 134; i++)
		if (i != 41 && i != 58)
			assert_non_null(crpc_errno_name(i));
#endif
}

/* ---- the error object --------------------------------------------------- */

static int set_via_v(crpc_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int set_via_v(crpc_error **err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = crpc_error_setv(err, CRPC_EXIT_USAGE, EINVAL, "parse", fmt, ap);
	va_end(ap);
	return r;
}

static void test_first_error_wins(void **state)
{
	crpc_error *e = NULL;
	crpc_error *first;

	(void)state;
	/* no place to store it: still -1 */
	assert_int_equal(crpc_error_set(NULL, CRPC_EXIT_FAIL, EIO, "x", "y %d", 1), -1);

	assert_int_equal(crpc_error_set(&e, CRPC_EXIT_ENV, ENOENT, "dump of PID 42", "no %s at %d", "criu", 7),
			 -1);
	assert_non_null(e);
	first = e;
	assert_int_equal(e->exit_class, CRPC_EXIT_ENV);
	assert_int_equal(e->sys_errno, ENOENT);
	assert_int_equal(e->cause, CRPC_CAUSE_UNKNOWN);
	assert_string_equal(e->operation, "dump of PID 42");
	assert_string_equal(e->message, "no criu at 7");
	assert_null(e->criu_errmsg);
	assert_null(e->log_path);
	assert_null(e->log_excerpt);
	assert_null(e->hint);

	/* a later failure does not replace the first one */
	assert_int_equal(crpc_error_set(&e, CRPC_EXIT_FAIL, EIO, "cleanup", "later"), -1);
	assert_ptr_equal(e, first);
	assert_string_equal(e->message, "no criu at 7");
	assert_int_equal(e->sys_errno, ENOENT);
	assert_int_equal(set_via_v(&e, "later %s", "too"), -1);
	assert_ptr_equal(e, first);

	crpc_error_freep(&e);
	assert_null(e);

	assert_int_equal(set_via_v(&e, "bad size '%s'", "12Q"), -1);
	assert_non_null(e);
	assert_int_equal(e->exit_class, CRPC_EXIT_USAGE);
	assert_int_equal(e->sys_errno, EINVAL);
	assert_string_equal(e->operation, "parse");
	assert_string_equal(e->message, "bad size '12Q'");
	crpc_error_freep(&e);

	/* operation and message are optional */
	assert_int_equal(crpc_error_set(&e, CRPC_EXIT_FAIL, 0, NULL, NULL), -1);
	assert_non_null(e);
	assert_null(e->operation);
	assert_null(e->message);
	crpc_error_freep(&e);
}

static void test_hint_and_free(void **state)
{
	crpc_error *e = NULL;

	(void)state;
	crpc_error_set_hint(NULL, "ignored %d", 1);
	crpc_error_free(NULL);
	crpc_error_freep(NULL);
	crpc_error_freep(&e);
	assert_null(e);

	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, "op", "msg");
	crpc_error_set_hint(e, "add --%s", "tcp-established");
	assert_string_equal(e->hint, "add --tcp-established");
	crpc_error_set_hint(e, "run as %s", "root");
	assert_string_equal(e->hint, "run as root");
	crpc_error_free(e);
}

/* ---- log excerpts ------------------------------------------------------- */

static void test_excerpt_empty(void **state)
{
	char *x;

	(void)state;
	x = crpc_log_excerpt(NULL, 0, 3, 3);
	assert_non_null(x);
	assert_string_equal(x, "");
	free(x);
	x = crpc_log_excerpt("", 0, 3, 3);
	assert_string_equal(x, "");
	free(x);
	x = excerpt_str("(00.000001) all fine\n(00.000002) Warn  (criu/x.c:1): just a warning\n", 3, 3);
	assert_string_equal(x, "");
	free(x);
	x = excerpt_str("\n\n\n", 3, 3);
	assert_string_equal(x, "");
	free(x);
	/* only the harmless rlimit error: nothing to show */
	x = excerpt_str("(00.1) a\n(00.2) Error (criu/util.c:1534): rlimit: Can't setup "
			"RLIMIT_NOFILE for self: Operation not permitted\n(00.3) b\n",
			3, 3);
	assert_string_equal(x, "");
	free(x);
}

static void test_excerpt_context(void **state)
{
	const char *log = "(00.01) one\n"
			  "(00.02) two\n"
			  "(00.03) three\n"
			  "(00.04) four\n"
			  "(00.05) five\n"
			  "(00.06) Error (criu/a.c:1): it broke\n"
			  "(00.07) seven\n";
	char *x;

	(void)state;
	x = excerpt_str(log, 2, 3);
	assert_string_equal(x, "(00.04) four\n"
			       "(00.05) five\n"
			       "(00.06) Error (criu/a.c:1): it broke\n");
	free(x);

	x = excerpt_str(log, 0, 3);
	assert_string_equal(x, "(00.06) Error (criu/a.c:1): it broke\n");
	free(x);

	/* more context than there are lines */
	x = excerpt_str(log, 50, 3);
	assert_string_equal(x, "(00.01) one\n"
			       "(00.02) two\n"
			       "(00.03) three\n"
			       "(00.04) four\n"
			       "(00.05) five\n"
			       "(00.06) Error (criu/a.c:1): it broke\n");
	free(x);

	/* absurd values are bounded */
	x = excerpt_str(log, UINT_MAX, UINT_MAX);
	assert_contains(x, "it broke");
	free(x);
}

static void test_excerpt_overlap_and_gaps(void **state)
{
	const char *near = "(00.01) a\n"
			   "(00.02) b\n"
			   "(00.03) Error (criu/a.c:1): first\n"
			   "(00.04) c\n"
			   "(00.05) Error (criu/a.c:2): second\n";
	const char *far = "(00.01) a\n"
			  "(00.02) Error (criu/a.c:1): first\n"
			  "(00.03) b\n"
			  "(00.04) c\n"
			  "(00.05) d\n"
			  "(00.06) e\n"
			  "(00.07) Error (criu/a.c:2): second\n";
	char *x;

	(void)state;
	/* overlapping windows: every line once, no gap */
	x = excerpt_str(near, 3, 3);
	assert_string_equal(x, "(00.01) a\n"
			       "(00.02) b\n"
			       "(00.03) Error (criu/a.c:1): first\n"
			       "(00.04) c\n"
			       "(00.05) Error (criu/a.c:2): second\n");
	free(x);

	/* lines left out are marked */
	x = excerpt_str(far, 1, 3);
	assert_string_equal(x, "(00.01) a\n"
			       "(00.02) Error (criu/a.c:1): first\n"
			       "...\n"
			       "(00.06) e\n"
			       "(00.07) Error (criu/a.c:2): second\n");
	free(x);

	/* adjacent windows: no gap marker */
	x = excerpt_str(far, 4, 3);
	assert_not_contains(x, "...");
	assert_int_equal(count_lines(x), 7);
	free(x);
}

static void test_excerpt_noise(void **state)
{
	const char *log = "(00.01) alpha\n"
			  "(00.02) beta\n"
			  "(00.03) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: "
			  "Operation not permitted\n"
			  "(00.04) \n"
			  "(00.05) ----------------------------------------\n"
			  "\n"
			  "Error: Could not process rule: No such file or directory\n"
			  "delete table inet CRIU-2e4b4949-4b5d-4964-ad\n"
			  "                  ^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
			  "(00.06) Error (criu/b.c:9): the real cause\n";
	char *x;

	(void)state;
	x = excerpt_str(log, 2, 3);
	/* noise is neither selected nor used as context, and does not make a gap */
	assert_string_equal(x, "(00.01) alpha\n"
			       "(00.02) beta\n"
			       "(00.06) Error (criu/b.c:9): the real cause\n");
	free(x);

	/* nft failing for another reason is not noise */
	x = excerpt_str("(00.01) net: Lock network\n"
			"Error: Could not process rule: No such file or directory\n"
			"add table inet CRIU-1\n",
			1, 3);
	assert_string_equal(x, "(00.01) net: Lock network\n"
			       "Error: Could not process rule: No such file or directory\n");
	free(x);
}

static void test_excerpt_error_forms(void **state)
{
	const char *log = "(00.01) a\n"
			  "pie: 1234: Error (criu/pie/restorer.c:10): from the parasite\n"
			  "(00.02) b\n"
			  "Error opening something\n"
			  "(00.03) c\n"
			  "(00.04) some Error: detail\n"
			  "(00.05) Warn  (criu/x.c:1): not an error\n"
			  "(00.06) Errors are counted here? no\n";
	char *x;

	(void)state;
	x = excerpt_str(log, 0, 10);
	assert_string_equal(x, "pie: 1234: Error (criu/pie/restorer.c:10): from the parasite\n"
			       "...\n"
			       "Error opening something\n"
			       "...\n"
			       "(00.04) some Error: detail\n");
	free(x);
}

static void test_excerpt_summary_and_last(void **state)
{
	const char *log = "(00.01) a\n"
			  "(00.02) Error (criu/a.c:1): first cause\n"
			  "(00.03) b\n"
			  "(00.04) Error (criu/a.c:2): second\n"
			  "(00.05) c\n"
			  "(00.06) Error (criu/a.c:3): third\n"
			  "(00.07) d\n"
			  "(00.08) Error (criu/cr-dump.c:1975): Dumping FAILED.\n"
			  "(00.09) after\n";
	const char *only_summary = "(00.01) a\n"
				   "(00.02) b\n"
				   "(00.03) Error (criu/cr-restore.c:2331): Restoring FAILED.\n";
	char *x;

	(void)state;
	/* the first error with context, then the last error line */
	x = excerpt_str(log, 1, 1);
	assert_string_equal(x, "(00.01) a\n"
			       "(00.02) Error (criu/a.c:1): first cause\n"
			       "...\n"
			       "(00.08) Error (criu/cr-dump.c:1975): Dumping FAILED.\n");
	free(x);

	/* "Dumping FAILED." is not a cause when specific errors exist */
	x = excerpt_str(log, 0, 3);
	assert_string_equal(x, "(00.02) Error (criu/a.c:1): first cause\n"
			       "...\n"
			       "(00.04) Error (criu/a.c:2): second\n"
			       "...\n"
			       "(00.06) Error (criu/a.c:3): third\n"
			       "...\n"
			       "(00.08) Error (criu/cr-dump.c:1975): Dumping FAILED.\n");
	free(x);
	x = excerpt_str(log, 1, 2);
	assert_not_contains(x, "third");
	assert_int_equal(count_of(x, "Dumping FAILED."), 1);
	free(x);

	/* ... but it is when it is all there is */
	x = excerpt_str(only_summary, 2, 3);
	assert_string_equal(x, "(00.01) a\n"
			       "(00.02) b\n"
			       "(00.03) Error (criu/cr-restore.c:2331): Restoring FAILED.\n");
	free(x);

	/* max_errors 0: only the last error line */
	x = excerpt_str(log, 3, 0);
	assert_string_equal(x, "(00.08) Error (criu/cr-dump.c:1975): Dumping FAILED.\n");
	free(x);
}

static void test_excerpt_line_ends(void **state)
{
	char *x;

	(void)state;
	/* no trailing newline */
	x = excerpt_str("(00.01) a\n(00.02) Error (x.c:1): last", 1, 3);
	assert_string_equal(x, "(00.01) a\n(00.02) Error (x.c:1): last\n");
	free(x);
	/* CRLF */
	x = excerpt_str("(00.01) a\r\n(00.02) Error (x.c:1): crlf\r\n(00.03) b\r\n", 1, 3);
	assert_string_equal(x, "(00.01) a\n(00.02) Error (x.c:1): crlf\n");
	free(x);
	/* a lone error line */
	x = excerpt_str("Error", 3, 3);
	assert_string_equal(x, "Error\n");
	free(x);
}

static void test_excerpt_long_and_binary(void **state)
{
	size_t big = 1u << 20;
	char *log = malloc(big);
	const char *p;
	char *x;
	size_t i;

	(void)state;
	assert_non_null(log);
	/* one huge line, no newline at all */
	memcpy(log, "(00.01) Error (x.c:1): ", 23);
	memset(log + 23, 'A', big - 23);
	x = crpc_log_excerpt(log, big, 3, 3);
	assert_non_null(x);
	assert_true(strlen(x) <= 512 + 16);
	assert_contains(x, "Error (x.c:1): AAAA");
	assert_contains(x, " [...]\n");
	assert_int_equal(count_lines(x), 1);
	free(x);

	/* a cut never splits a UTF-8 character: U+00E9 from an odd offset on */
	memcpy(log, "Error: ", 7);
	for (i = 7; i + 1 < 2000; i += 2) {
		log[i] = (char)0xc3;
		log[i + 1] = (char)0xa9;
	}
	x = crpc_log_excerpt(log, 2000, 0, 1);
	assert_non_null(x);
	p = strstr(x, " [...]");
	assert_non_null(p);
	assert_int_equal(p - x, 511);
	/* the byte before the marker ends a character */
	assert_int_equal((unsigned char)p[-1], 0xa9);
	free(x);

	/* control characters and NULs are not passed to terminals */
	memcpy(log, "(00.01) Error (x.c:1): esc\033[31m bell\a nul", 42);
	log[41] = '\0';
	memcpy(log + 42, "!\n", 2);
	x = crpc_log_excerpt(log, 44, 0, 1);
	assert_string_equal(x, "(00.01) Error (x.c:1): esc?[31m bell? nul?!\n");
	free(x);
	free(log);
}

static void test_excerpt_bounded(void **state)
{
	const char text[] = "(00.01) a\n(00.02) Error (x.c:1): inside\n(00.03) Error (x.c:2): beyond\n";
	size_t inside = strlen("(00.01) a\n(00.02) Error (x.c:1): inside\n");
	char *buf = malloc(sizeof(text) - 1);
	char *x;

	(void)state;
	assert_non_null(buf);
	memcpy(buf, text, sizeof(text) - 1);
	/* len stops after the first error: what follows is not looked at */
	x = crpc_log_excerpt(buf, inside, 3, 3);
	assert_string_equal(x, "(00.01) a\n(00.02) Error (x.c:1): inside\n");
	free(x);
	/* cut in the middle of a line */
	x = crpc_log_excerpt(buf, inside + 20, 3, 3);
	assert_string_equal(x, "(00.01) a\n(00.02) Error (x.c:1): inside\n(00.03) Error (x.c:2\n");
	free(x);
	free(buf);
}

static void test_excerpt_real_logs(void **state)
{
	static const char *const failing[] = {
		"dump-tcp-established.log",  "dump-ext-unix.log",           "dump-shell-job.log",
		"dump-shell-job-leader.log", "dump-not-session-leader.log", "restore-pid-in-use.log",
		"dump-no-process.log",       "pre-dump-no-soft-dirty.log",  "dump-criu41-sockopt.log",
		"restore-ext-unix.log",      "dump-session-zero.log",
	};
	size_t i;
	char *x;

	(void)state;
	for (i = 0; i < sizeof(failing) / sizeof(failing[0]); i++) {
		x = excerpt_of(failing[i]);
		assert_true(count_lines(x) >= 2);
		assert_not_contains(x, "RLIMIT_NOFILE");
		assert_true(count_lines(x) <= 3 * 4 + 1 + 4);
		free(x);
	}

	x = excerpt_of("dump-tcp-established.log");
	assert_string_equal(x,
			    "(00.101737) inet: \tDumped: family AF_INET    type SOCK_STREAM    proto "
			    "IPPROTO_TCP"
			    "      port 51581 state 0                src_addr 127.0.0.1\n"
			    "(00.101779) 20476 fdinfo 4: pos:                0 flags:                2/0x1\n"
			    "(00.101788) sockets: Searching for socket 0xab50 family 2\n"
			    "(00.101791) Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider "
			    "using "
			    "--tcp-established option.\n"
			    "(00.101833) Error (criu/cr-dump.c:1545): Dump files (pid: 20476) failed with -1\n"
			    "...\n"
			    "(00.103842) Error (criu/cr-dump.c:1975): Dumping FAILED.\n");
	free(x);

	/* the nft complaint of the unlock is left out, the separator too */
	x = excerpt_of("dump-no-process.log");
	assert_contains(x, "Unable to detach from 3999999: No such process");
	assert_not_contains(x, "Could not process rule");
	assert_not_contains(x, "^^^");
	assert_not_contains(x, "delete table");
	free(x);

	x = excerpt_of("restore-pid-in-use.log");
	assert_contains(x, "Error (criu/cr-restore.c:1237): Can't fork for 20705: File exists\n"
			   "(00.093256) Error (criu/cr-restore.c:2331): Restoring FAILED.\n");
	free(x);

	/* successful runs: nothing to explain */
	x = excerpt_of("dump-ok.log");
	assert_string_equal(x, "");
	free(x);
	x = excerpt_of("check-ok.log");
	assert_string_equal(x, "");
	free(x);
}

/* ---- attaching log files ------------------------------------------------ */

static void test_attach_log(void **state)
{
	crpc_error *e = NULL;
	char dir[] = "/tmp/crpc-test-errors.XXXXXX";
	char path[PATH_MAX];

	(void)state;
	crpc_error_attach_log(NULL, LOGS "dump-tcp-established.log");

	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, "dump", "failed");
	crpc_error_attach_log(e, NULL);
	crpc_error_attach_log(e, LOGS "does-not-exist.log");
	assert_null(e->log_path);
	assert_null(e->log_excerpt);
	/* a directory is not read */
	crpc_error_attach_log(e, LOGS);
	assert_null(e->log_path);

	/* a FIFO is not read (and does not block) */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	crpc_error_attach_log(e, path);
	assert_null(e->log_path);
	unlink(path);
	rmdir(dir);

	crpc_error_attach_log(e, LOGS "dump-tcp-established.log");
	assert_string_equal(e->log_path, LOGS "dump-tcp-established.log");
	assert_non_null(e->log_excerpt);
	assert_contains(e->log_excerpt, "Connected TCP socket");

	/* a log without errors: the path stays known, no excerpt */
	crpc_error_attach_log(e, LOGS "dump-ok.log");
	assert_string_equal(e->log_path, LOGS "dump-ok.log");
	assert_null(e->log_excerpt);
	crpc_error_free(e);
}

static void test_attach_log_tail(void **state)
{
	char path[] = "/tmp/crpc-test-errors-log.XXXXXX";
	crpc_error *e = NULL;
	char line[128];
	size_t total = 0;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("(00.000001) Error (criu/head.c:1): at the head, beyond the 4 MiB read\n", f);
	while (total < (5u << 20)) {
		int n = snprintf(line, sizeof(line), "(00.%06zu) filler line of the log\n", total % 1000000);

		fputs(line, f);
		total += (size_t)n;
	}
	fputs("(00.999998) just before\n", f);
	fputs("(00.999999) Error (criu/tail.c:2): at the tail\n", f);
	assert_int_equal(fclose(f), 0);

	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, "dump", "failed");
	crpc_error_attach_log(e, path);
	unlink(path);
	assert_non_null(e->log_excerpt);
	assert_not_contains(e->log_excerpt, "at the head");
	assert_contains(e->log_excerpt, "(00.999998) just before\n"
					"(00.999999) Error (criu/tail.c:2): at the tail\n");
	/* the first line read is cut: it is not shown */
	assert_int_equal(count_lines(e->log_excerpt), 4);
	assert_true(strncmp(e->log_excerpt, "(00.", 4) == 0);
	crpc_error_free(e);
}

/* ---- classification ----------------------------------------------------- */

/* CRIU run under a tracer: its ptrace probe fails; that is neither the kernel
 * nor a missing process (a later "No such process" line must not win). */
static void test_classify_ptrace_traced(void **state)
{
	crpc_error *e = error_for_log("dump-ptrace-traced.log", "dump", 0);

	(void)state;
	assert_int_equal(e->cause, CRPC_CAUSE_UNKNOWN);
	assert_non_null(e->hint);
	assert_non_null(strstr(e->hint, "ptrace"));
	assert_null(strstr(e->hint, "does not exist"));
	crpc_error_free(e);
}

static void test_classify_real_logs(void **state)
{
	crpc_error *e;

	(void)state;
	e = error_for_log("dump-tcp-established.log", "dump", EBADRQC);
	assert_int_equal(e->cause, CRPC_CAUSE_TCP_ESTABLISHED);
	assert_int_equal(e->exit_class, CRPC_EXIT_FAIL);
	assert_contains(e->hint, "--tcp-established");
	crpc_error_free(e);

	e = error_for_log("dump-ext-unix.log", "dump", EBADRQC);
	assert_int_equal(e->cause, CRPC_CAUSE_EXT_UNIX_SK);
	assert_contains(e->hint, "--ext-unix-sk");
	assert_contains(e->hint, "--external unix[");
	crpc_error_free(e);

	/*
	 * The restore of such a socket: the peer's end is gone, a replacement is
	 * the remedy (not the dump's --external, nor --ext-unix-sk, which
	 * restores it unconnected), named by the inode from the log.
	 */
	e = error_for_log("restore-ext-unix.log", "restore", 0);
	assert_int_equal(e->cause, CRPC_CAUSE_EXT_UNIX_SK);
	assert_contains(e->hint, "inode 2882799");
	assert_contains(e->hint, "--inherit-fd 'fd[N]:socket:[2882799]'");
	assert_contains(e->hint, "--ext-unix-sk would restore it unconnected");
	assert_not_contains(e->hint, "--external");
	assert_not_contains(e->hint, "add --ext-unix-sk");
	crpc_error_free(e);
	/* CRIU's message alone (no log at level 4): the hint says where the inode is */
	e = NULL;
	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, "restore", "CRIU refused the request");
	e->criu_errmsg = strdup("Error (criu/sk-unix.c:1912): unix: External socket found in image. "
				"Consider using the --ext-unix-sk option to allow restoring it.");
	crpc_error_classify(e, "restore");
	assert_int_equal(e->cause, CRPC_CAUSE_EXT_UNIX_SK);
	assert_contains(e->hint, "--inherit-fd 'fd[N]:socket:[INODE]'");
	assert_contains(e->hint, "external unix[INODE]");
	crpc_error_free(e);

	e = error_for_log("dump-shell-job.log", "dump", EBADRQC);
	assert_int_equal(e->cause, CRPC_CAUSE_SHELL_JOB);
	assert_contains(e->hint, "--shell-job");
	crpc_error_free(e);

	e = error_for_log("dump-shell-job-leader.log", "dump", EBADRQC);
	assert_int_equal(e->cause, CRPC_CAUSE_SHELL_JOB);
	assert_contains(e->hint, "--shell-job");
	crpc_error_free(e);

	e = error_for_log("dump-not-session-leader.log", "dump", EBADRQC);
	assert_int_equal(e->cause, CRPC_CAUSE_SHELL_JOB);
	crpc_error_free(e);

	/* not a shell job: no option helps, the hint says what does */
	e = error_for_log("dump-session-zero.log", "dump", 0);
	assert_int_equal(e->cause, CRPC_CAUSE_SESSION_ZERO);
	assert_contains(e->hint, "setsid");
	assert_null(strstr(e->hint, "add --shell-job"));
	crpc_error_free(e);

	e = error_for_log("restore-pid-in-use.log", "restore", EEXIST);
	assert_int_equal(e->cause, CRPC_CAUSE_PID_IN_USE);
	assert_contains(e->hint, "PID 20705 is taken");
	crpc_error_free(e);

	/* the log alone is enough */
	e = error_for_log("restore-pid-in-use.log", "restore", 0);
	assert_int_equal(e->cause, CRPC_CAUSE_PID_IN_USE);
	assert_contains(e->hint, "PID 20705");
	crpc_error_free(e);

	e = error_for_log("dump-no-process.log", "dump", ESRCH);
	assert_int_equal(e->cause, CRPC_CAUSE_NO_PROCESS);
	assert_contains(e->hint, "PID");
	crpc_error_free(e);

	e = error_for_log("dump-no-process.log", "dump", 0);
	assert_int_equal(e->cause, CRPC_CAUSE_NO_PROCESS);
	crpc_error_free(e);

	/* CRIU 4.1.1 on a kernel that refuses SO_PASSCRED on inet sockets */
	e = error_for_log("dump-criu41-sockopt.log", "dump", 0);
	assert_int_equal(e->cause, CRPC_CAUSE_KERNEL);
	assert_int_equal(e->exit_class, CRPC_EXIT_ENV);
	assert_contains(e->hint, "scripts/setup");
	crpc_error_free(e);

	e = error_for_log("pre-dump-no-soft-dirty.log", "pre_dump", 0);
	assert_int_equal(e->cause, CRPC_CAUSE_KERNEL);
	assert_int_equal(e->exit_class, CRPC_EXIT_ENV);
	assert_contains(e->hint, "SOFT_DIRTY");
	crpc_error_free(e);

	/* a successful run's log explains nothing */
	e = error_for_log("dump-ok.log", "dump", 0);
	assert_int_equal(e->cause, CRPC_CAUSE_UNKNOWN);
	assert_null(e->hint);
	assert_int_equal(e->exit_class, CRPC_EXIT_FAIL);
	crpc_error_free(e);
}

static void test_classify_not_root(void **state)
{
	crpc_error *e = NULL;
	size_t len;
	char *out = read_log("dump-not-root.output", &len);
	char *nl;

	(void)state;
	/* CRIU's own words when started without privileges (before its log exists) */
	out = realloc(out, len + 1);
	assert_non_null(out);
	out[len] = '\0';

	/* the same words as the last lines of CRIU's output, no error line among them */
	crpc_error_set(&e, CRPC_EXIT_FAIL, ECONNRESET, "dump of PID 1", "CRIU exited");
	e->log_excerpt = strdup(out);
	crpc_error_classify(e, "dump");
	assert_int_equal(e->cause, CRPC_CAUSE_NOT_ROOT);
	assert_int_equal(e->exit_class, CRPC_EXIT_ENV);
	crpc_error_freep(&e);

	nl = strchr(out, '\n');
	assert_non_null(nl);
	*nl = '\0';
	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, "dump of PID 1", "CRIU refused the request");
	e->criu_errmsg = strdup(out);
	crpc_error_classify(e, "dump");
	assert_int_equal(e->cause, CRPC_CAUSE_NOT_ROOT);
	assert_int_equal(e->exit_class, CRPC_EXIT_ENV);
	assert_contains(e->hint, "root");
	crpc_error_free(e);
	free(out);

	/* a bare EPERM means missing privileges only for non-root callers */
	e = NULL;
	crpc_error_set(&e, CRPC_EXIT_FAIL, EPERM, "dump of PID 1", "cannot start CRIU");
	crpc_error_classify(e, "dump");
	if (geteuid() == 0) {
		assert_int_equal(e->cause, CRPC_CAUSE_UNKNOWN);
		assert_int_equal(e->exit_class, CRPC_EXIT_FAIL);
	} else {
		assert_int_equal(e->cause, CRPC_CAUSE_NOT_ROOT);
		assert_int_equal(e->exit_class, CRPC_EXIT_ENV);
	}
	crpc_error_free(e);

	/* the rlimit line says "Operation not permitted" but is harmless */
	e = NULL;
	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, "dump", "failed");
	e->criu_errmsg = strdup("rlimit: Can't setup RLIMIT_NOFILE for self: Operation not "
				"permitted");
	crpc_error_classify(e, "dump");
	assert_int_equal(e->cause, CRPC_CAUSE_UNKNOWN);
	assert_null(e->hint);
	crpc_error_free(e);
}

static void test_classify_errno_only(void **state)
{
	crpc_error *e = NULL;

	(void)state;
	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, "restore", "CRIU refused the request");
	e->criu_errno = EEXIST;
	crpc_error_classify(e, "restore");
	assert_int_equal(e->cause, CRPC_CAUSE_PID_IN_USE);
	assert_contains(e->hint, "PID");
	crpc_error_freep(&e);

	/* EEXIST means a taken PID only for a restore */
	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, "dump", "CRIU refused the request");
	e->criu_errno = EEXIST;
	crpc_error_classify(e, "dump");
	assert_int_equal(e->cause, CRPC_CAUSE_UNKNOWN);
	assert_null(e->hint);
	crpc_error_freep(&e);

	crpc_error_set(&e, CRPC_EXIT_FAIL, ESRCH, "dump of PID 7", "process gone");
	crpc_error_classify(e, "dump");
	assert_int_equal(e->cause, CRPC_CAUSE_NO_PROCESS);
	crpc_error_freep(&e);

	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, "cpuinfo check", "CRIU refused the request");
	e->criu_errno = -EOPNOTSUPP;
	crpc_error_classify(e, "cpuinfo_check");
	assert_int_equal(e->cause, CRPC_CAUSE_KERNEL);
	assert_int_equal(e->exit_class, CRPC_EXIT_ENV);
	crpc_error_freep(&e);

	/* CRIU's message alone */
	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, "dump", "CRIU refused the request");
	e->criu_errmsg = strdup("inet: Connected TCP socket, consider using --tcp-established "
				"option.");
	crpc_error_classify(e, "dump");
	assert_int_equal(e->cause, CRPC_CAUSE_TCP_ESTABLISHED);
	crpc_error_freep(&e);

	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, "dump", "CRIU refused the request");
	e->criu_errmsg = strdup("Can't dump half of stream unix connection.");
	crpc_error_classify(e, "dump");
	assert_int_equal(e->cause, CRPC_CAUSE_EXT_UNIX_SK);
	crpc_error_freep(&e);

	/* nothing known */
	crpc_error_set(&e, CRPC_EXIT_FAIL, EIO, "dump", "something odd");
	crpc_error_classify(e, "dump");
	assert_int_equal(e->cause, CRPC_CAUSE_UNKNOWN);
	assert_null(e->hint);
	crpc_error_freep(&e);

	crpc_error_classify(NULL, "dump");
}

static void test_classify_keeps(void **state)
{
	crpc_error *e = NULL;

	(void)state;
	/* a hint set by the caller stays */
	e = error_for_log("dump-tcp-established.log", NULL, 0);
	assert_int_equal(e->cause, CRPC_CAUSE_TCP_ESTABLISHED);
	crpc_error_set_hint(e, "caller's hint");
	e->cause = CRPC_CAUSE_UNKNOWN;
	crpc_error_classify(e, "dump");
	assert_int_equal(e->cause, CRPC_CAUSE_TCP_ESTABLISHED);
	assert_string_equal(e->hint, "caller's hint");
	crpc_error_freep(&e);

	/* a cause set by the caller stays, and gets its hint */
	crpc_error_set(&e, CRPC_EXIT_FAIL, ECONNRESET, "dump", "CRIU exited");
	e->cause = CRPC_CAUSE_CRIU_DIED;
	crpc_error_attach_log(e, LOGS "dump-tcp-established.log");
	crpc_error_classify(e, "dump");
	assert_int_equal(e->cause, CRPC_CAUSE_CRIU_DIED);
	assert_non_null(e->hint);
	assert_contains(e->hint, "CRIU");
	crpc_error_freep(&e);
}

/* ---- rendering ---------------------------------------------------------- */

static void test_format_full(void **state)
{
	crpc_error *e = NULL;
	char *s;

	(void)state;
	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, "dump of PID 20476", "CRIU refused the request");
	e->criu_errno = EBADRQC;
	e->criu_errmsg = strdup("inet: Connected TCP socket, consider using --tcp-established "
				"option.");
	crpc_error_attach_log(e, LOGS "dump-tcp-established.log");
	crpc_error_classify(e, "dump");
	s = crpc_error_format(e);
	assert_non_null(s);
	assert_string_equal(
		s,
		"crpc: dump of PID 20476 failed: CRIU refused the request (EBADRQC: Invalid "
		"request "
		"code)\n"
		"  CRIU says: inet: Connected TCP socket, consider using --tcp-established "
		"option.\n"
		"  from " LOGS "dump-tcp-established.log:\n"
		"    (00.101737) inet: \tDumped: family AF_INET    type SOCK_STREAM    proto "
		"IPPROTO_TCP      port 51581 state 0                src_addr 127.0.0.1\n"
		"    (00.101779) 20476 fdinfo 4: pos:                0 flags:                "
		"2/0x1\n"
		"    (00.101788) sockets: Searching for socket 0xab50 family 2\n"
		"    (00.101791) Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider "
		"using --tcp-established option.\n"
		"    (00.101833) Error (criu/cr-dump.c:1545): Dump files (pid: 20476) failed with "
		"-1\n"
		"    ...\n"
		"    (00.103842) Error (criu/cr-dump.c:1975): Dumping FAILED.\n"
		"  hint: the process has an established TCP connection; add --tcp-established\n");
	free(s);
	crpc_error_free(e);
}

static void test_format_parts(void **state)
{
	crpc_error *e = NULL;
	char *s;

	(void)state;
	s = crpc_error_format(NULL);
	assert_non_null(s);
	free(s);

	/* message only */
	crpc_error_set(&e, CRPC_EXIT_USAGE, 0, NULL, "unknown option '%s'", "--foo");
	s = crpc_error_format(e);
	assert_string_equal(s, "crpc: unknown option '--foo'\n");
	free(s);
	crpc_error_freep(&e);

	/* operation only, with errno */
	crpc_error_set(&e, CRPC_EXIT_FAIL, ENOENT, "open of /x", NULL);
	s = crpc_error_format(e);
	assert_string_equal(s, "crpc: open of /x failed (ENOENT: No such file or directory)\n");
	free(s);
	crpc_error_freep(&e);

	/* nothing at all */
	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, NULL, NULL);
	s = crpc_error_format(e);
	assert_string_equal(s, "crpc: error\n");
	free(s);
	crpc_error_freep(&e);

	/* both errnos, a harmless CRIU message, a log without excerpt, a hint */
	crpc_error_set(&e, CRPC_EXIT_FAIL, ECONNRESET, "restore", "CRIU went away");
	e->criu_errno = EEXIST;
	e->criu_errmsg = strdup("rlimit: Can't setup RLIMIT_NOFILE for self: Operation not "
				"permitted");
	e->log_path = strdup("/tmp/x/restore.log");
	crpc_error_set_hint(e, "retry");
	s = crpc_error_format(e);
	assert_string_equal(s, "crpc: restore failed: CRIU went away (ECONNRESET: Connection reset "
			       "by peer) (CRIU: EEXIST: File exists)\n"
			       "  CRIU log: /tmp/x/restore.log\n"
			       "  hint: retry\n");
	free(s);
	crpc_error_freep(&e);

	/* an unknown errno, control characters, an excerpt without a path */
	crpc_error_set(&e, CRPC_EXIT_FAIL, 4000, "dump\033[2J", "bad\tthing");
	e->log_excerpt = strdup("line one\nline two\n");
	e->criu_errmsg = strdup("first\nsecond");
	s = crpc_error_format(e);
	assert_string_equal(s, "crpc: dump?[2J failed: bad\tthing (errno 4000: Unknown error 4000)\n"
			       "  CRIU says: first\n"
			       "    second\n"
			       "  CRIU log:\n"
			       "    line one\n"
			       "    line two\n");
	free(s);
	crpc_error_freep(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_ptrace_traced),
		cmocka_unit_test(test_errno_names),
		cmocka_unit_test(test_first_error_wins),
		cmocka_unit_test(test_hint_and_free),
		cmocka_unit_test(test_excerpt_empty),
		cmocka_unit_test(test_excerpt_context),
		cmocka_unit_test(test_excerpt_overlap_and_gaps),
		cmocka_unit_test(test_excerpt_noise),
		cmocka_unit_test(test_excerpt_error_forms),
		cmocka_unit_test(test_excerpt_summary_and_last),
		cmocka_unit_test(test_excerpt_line_ends),
		cmocka_unit_test(test_excerpt_long_and_binary),
		cmocka_unit_test(test_excerpt_bounded),
		cmocka_unit_test(test_excerpt_real_logs),
		cmocka_unit_test(test_attach_log),
		cmocka_unit_test(test_attach_log_tail),
		cmocka_unit_test(test_classify_real_logs),
		cmocka_unit_test(test_classify_not_root),
		cmocka_unit_test(test_classify_errno_only),
		cmocka_unit_test(test_classify_keeps),
		cmocka_unit_test(test_format_full),
		cmocka_unit_test(test_format_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
