/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the session against a misbehaving stand-in for `criu swrk`
 * (tests/helpers/fake-criu), for faults a real CRIU cannot be made to
 * produce on demand: garbage, truncated and oversized replies, a worker that
 * dies at a chosen moment, and the notify answers (unknown names, fds,
 * query-ext-files replies).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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

#include "helpers.h"
#include "internal.h"

static int dirfd_;

static crpc_session *open_fake(const char *mode, crpc_error **err)
{
	crpc_session_config cfg = { .size = sizeof(cfg), .criu_path = CRPC_FAKE_CRIU };
	crpc_session *s = NULL;

	setenv("CRPC_FAKE_MODE", mode, 1);
	if (crpc_session_open(&s, &cfg, err) < 0)
		return NULL;
	return s;
}

static int dump(crpc_session *s, crpc_dispatcher *d, crpc_error **err)
{
	crpc_opts o;
	crpc_dump_result res;

	crpc_opts_init(&o);
	o.pid = 99;
	o.images_dir_fd = dirfd_;
	return crpc_session_dump(s, &o, d, &res, err);
}

static void test_version_read(void **state)
{
	crpc_error *err = NULL;
	crpc_session *s = open_fake("unknown-notify", &err);

	(void)state;
	assert_non_null(s);
	assert_int_equal(crpc_session_version(s)->code, 40201);
	assert_true(crpc_session_criu_pid(s) > 0);
	crpc_session_close(s);
}

static void test_garbage_version(void **state)
{
	crpc_error *err = NULL;

	(void)state;
	assert_null(open_fake("garbage-version", &err));
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_ENV);
	assert_non_null(strstr(err->message, "not a valid criu_resp"));
	crpc_error_free(err);
}

static void test_dies_at_version(void **state)
{
	crpc_error *err = NULL;

	(void)state;
	assert_null(open_fake("die-at-version", &err));
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_ENV);
	assert_non_null(strstr(err->message, "exited with status 5"));
	assert_non_null(err->hint);
	crpc_error_free(err);
}

static void test_exec_failure(void **state)
{
	crpc_session_config cfg = { .size = sizeof(cfg), .criu_path = "/proc/self/cwd" };
	crpc_session *s = NULL;
	crpc_error *err = NULL;

	(void)state;
	assert_int_equal(crpc_session_open(&s, &cfg, &err), -1);
	assert_null(s);
	assert_int_equal(err->exit_class, CRPC_EXIT_ENV);
	crpc_error_free(err);
}

/* children reaped by the kernel: refused before anything starts, then fine again */
static void test_sigchld_ignored(void **state)
{
	struct sigaction ign = { .sa_handler = SIG_IGN },
			 nocldwait = { .sa_handler = SIG_DFL, .sa_flags = SA_NOCLDWAIT };
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
	crpc_error *err = NULL;
	crpc_session *s;
	int before = count_open_fds();

	(void)state;
	sigemptyset(&ign.sa_mask);
	sigemptyset(&nocldwait.sa_mask);
	sigemptyset(&dfl.sa_mask);
	assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
	assert_null(open_fake("unknown-notify", &err));
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	assert_non_null(strstr(err->message, "SIGCHLD is ignored"));
	crpc_error_free(err);
	err = NULL;
	assert_int_equal(sigaction(SIGCHLD, &nocldwait, NULL), 0);
	assert_null(open_fake("unknown-notify", &err));
	assert_non_null(err);
	crpc_error_free(err);
	err = NULL;
	assert_int_equal(count_open_fds(), before);
	assert_int_equal(sigaction(SIGCHLD, &dfl, NULL), 0);
	s = open_fake("unknown-notify", &err);
	assert_non_null(s);
	crpc_session_close(s);
	assert_int_equal(sigaction(SIGCHLD, &old, NULL), 0);
}

static void test_dies_mid_dump(void **state)
{
	crpc_error *err = NULL;
	crpc_session *s = open_fake("die-mid-dump", &err);

	(void)state;
	assert_non_null(s);
	assert_int_equal(dump(s, NULL, &err), -1);
	assert_int_equal(err->cause, CRPC_CAUSE_CRIU_DIED);
	assert_non_null(strstr(err->message, "exited with status 3"));
	assert_non_null(strstr(err->message, "dump"));
	crpc_error_free(err);
	crpc_session_close(s);
}

static void test_killed_mid_dump(void **state)
{
	crpc_error *err = NULL;
	crpc_session *s = open_fake("killed-mid-dump", &err);
	crpc_dispatcher *d = crpc_dispatcher_new();

	(void)state;
	assert_non_null(s);
	assert_int_equal(dump(s, d, &err), -1);
	assert_int_equal(err->cause, CRPC_CAUSE_CRIU_DIED);
	assert_non_null(strstr(err->message, "killed by signal 9 (SIGKILL)"));
	crpc_error_free(err);
	crpc_dispatcher_free(d);
	crpc_session_close(s);
}

/* "Z" or "" (gone) for a process that ended, else its state letter. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

static void test_criu_killed_child_holds_socket(void **state)
{
	char file[] = "/tmp/crpc-test-child.XXXXXX";
	crpc_error *err = NULL;
	crpc_session *s;
	double t0;
	FILE *f;
	int fd, child = 0;
	char st;

	(void)state;
	fd = mkstemp(file);
	assert_true(fd >= 0);
	close(fd);
	setenv("CRPC_FAKE_CHILD_FILE", file, 1);
	s = open_fake("child-holds-socket", &err);
	assert_non_null(s);
	t0 = crpc__now();
	assert_int_equal(dump(s, NULL, &err), -1);
	/* noticed at once, not when the stopped child goes away */
	assert_true(crpc__now() - t0 < 3.0);
	assert_int_equal(err->cause, CRPC_CAUSE_CRIU_DIED);
	assert_non_null(strstr(err->message, "killed by signal 9 (SIGKILL)"));
	assert_non_null(strstr(err->message, "1 process it started still held its socket and was ended"));
	f = fopen(file, "re");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &child), 1);
	fclose(f);
	unlink(file);
	for (int i = 0; i < 200 && (st = proc_state(child)) != 0 && st != 'Z'; i++)
		poll(NULL, 0, 10);
	st = proc_state(child);
	assert_true(st == 0 || st == 'Z');
	crpc_error_free(err);
	crpc_session_close(s);
	unsetenv("CRPC_FAKE_CHILD_FILE");
}

static void test_deadline_stops_hung_criu(void **state)
{
	crpc_session_config cfg = { .size = sizeof(cfg), .criu_path = CRPC_FAKE_CRIU, .timeout_ms = 300 };
	crpc_session *s = NULL;
	crpc_error *err = NULL;
	double t0;
	pid_t pid;

	(void)state;
	setenv("CRPC_FAKE_MODE", "hang-mid-dump", 1);
	assert_int_equal(crpc_session_open(&s, &cfg, &err), 0);
	pid = crpc_session_criu_pid(s);
	t0 = crpc__now();
	assert_int_equal(dump(s, NULL, &err), -1);
	assert_true(crpc__now() - t0 < 3.0);
	assert_int_equal(err->sys_errno, ETIMEDOUT);
	assert_non_null(strstr(err->message, "within 0.3 s"));
	assert_int_equal(kill(pid, 0), -1); /* stopped and reaped */
	crpc_error_free(err);
	crpc_session_close(s);
}

static void test_truncated_reply(void **state)
{
	crpc_error *err = NULL;
	crpc_session *s = open_fake("truncated", &err);

	(void)state;
	assert_non_null(s);
	assert_int_equal(dump(s, NULL, &err), -1);
	assert_int_equal(err->sys_errno, EBADMSG);
	crpc_error_free(err);
	crpc_session_close(s);
}

static void test_oversize_reply(void **state)
{
	crpc_error *err = NULL;
	crpc_session *s = open_fake("oversize", &err);

	(void)state;
	assert_non_null(s);
	assert_int_equal(dump(s, NULL, &err), -1);
	assert_int_equal(err->sys_errno, EMSGSIZE);
	crpc_error_free(err);
	crpc_session_close(s);
}

struct seen {
	char names[8][32];
	int n;
	int fd_ok;
};

static int record(crpc_notify *n, void *ud, crpc_error **err)
{
	struct seen *s = ud;

	(void)err;
	if (s->n < 8)
		snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", n->name);
	if (n->kind == CRPC_NOTIFY_ORPHAN_PTS_MASTER && n->fd >= 0)
		s->fd_ok = write(n->fd, "ok", 2) == 2;
	if (n->kind == CRPC_NOTIFY_QUERY_EXT_FILES) {
		n->external = calloc(2, sizeof(char *));
		n->external[0] = strdup("file[1:2]");
		n->external[1] = strdup("tty[3:4]");
		n->n_external = 2;
	}
	return 0;
}

static void test_unknown_notify_acked(void **state)
{
	crpc_error *err = NULL;
	crpc_session *s = open_fake("unknown-notify", &err);
	crpc_dispatcher *d = crpc_dispatcher_new();
	struct seen seen = { 0 };

	(void)state;
	crpc_dispatcher_add(d, "record", record, &seen);
	assert_int_equal(dump(s, d, &err), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.names[0], "pre-teleport");
	assert_string_equal(seen.names[1], "post-dump");
	assert_non_null(strstr(crpc_dispatcher_warnings(d)[0], "pre-teleport"));
	crpc_dispatcher_free(d);
	crpc_session_close(s);
}

static void test_pts_fd_delivered_and_closed(void **state)
{
	int before = count_open_fds();
	crpc_error *err = NULL;
	crpc_session *s = open_fake("pts-fd", &err);
	crpc_dispatcher *d = crpc_dispatcher_new();
	struct seen seen = { 0 };

	(void)state;
	crpc_dispatcher_add(d, "record", record, &seen);
	/* the fake only answers success once our copy of the fd is closed */
	assert_int_equal(dump(s, d, &err), 0);
	assert_true(seen.fd_ok);
	crpc_session_close(s);
	crpc_dispatcher_free(d);
	assert_int_equal(count_open_fds(), before); /* nothing of the session is left */
}

static void test_ext_files_reply(void **state)
{
	crpc_error *err = NULL;
	crpc_session *s = open_fake("ext-files", &err);
	crpc_dispatcher *d = crpc_dispatcher_new();
	struct seen seen = { 0 };

	(void)state;
	crpc_dispatcher_add(d, "record", record, &seen);
	assert_int_equal(dump(s, d, &err), 0);
	crpc_dispatcher_free(d);
	crpc_session_close(s);
}

static int refuse(crpc_notify *n, void *ud, crpc_error **err)
{
	(void)ud;
	return crpc_error_set(err, CRPC_EXIT_FAIL, 0, n->name, "pre-dump hook said no");
}

static void test_refused_notify_reason_kept(void **state)
{
	crpc_error *err = NULL;
	crpc_session *s = open_fake("refused-notify", &err);
	crpc_dispatcher *d = crpc_dispatcher_new();

	(void)state;
	crpc_dispatcher_add(d, "hooks", refuse, NULL);
	assert_int_equal(dump(s, d, &err), -1);
	/* the listener's reason, not CRIU's generic failure, is the cause */
	assert_non_null(strstr(err->message, "pre-dump hook said no"));
	crpc_error_free(err);
	crpc_dispatcher_free(d);
	crpc_session_close(s);
}

static void test_failure_carries_criu_message(void **state)
{
	crpc_error *err = NULL;
	crpc_session *s = open_fake("failure-with-errmsg", &err);

	(void)state;
	assert_int_equal(dump(s, NULL, &err), -1);
	assert_int_equal(err->criu_errno, 3);
	assert_string_equal(err->criu_errmsg, "Can't seize 99: No such process");
	assert_non_null(strstr(err->operation, "dump"));
	crpc_error_free(err);
	crpc_session_close(s);
}

static void test_one_operation_per_session(void **state)
{
	crpc_error *err = NULL;
	crpc_session *s = open_fake("failure-with-errmsg", &err);

	(void)state;
	assert_int_equal(dump(s, NULL, &err), -1);
	crpc_error_free(err);
	err = NULL;
	assert_int_equal(dump(s, NULL, &err), -1);
	assert_non_null(strstr(err->message, "one operation"));
	crpc_error_free(err);
	crpc_session_close(s);
}

int main(void)
{
	char tmpl[] = "/tmp/crpc-session.XXXXXX";
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_read),
		cmocka_unit_test(test_garbage_version),
		cmocka_unit_test(test_dies_at_version),
		cmocka_unit_test(test_exec_failure),
		cmocka_unit_test(test_sigchld_ignored),
		cmocka_unit_test(test_dies_mid_dump),
		cmocka_unit_test(test_killed_mid_dump),
		cmocka_unit_test(test_criu_killed_child_holds_socket),
		cmocka_unit_test(test_deadline_stops_hung_criu),
		cmocka_unit_test(test_truncated_reply),
		cmocka_unit_test(test_oversize_reply),
		cmocka_unit_test(test_unknown_notify_acked),
		cmocka_unit_test(test_pts_fd_delivered_and_closed),
		cmocka_unit_test(test_ext_files_reply),
		cmocka_unit_test(test_refused_notify_reason_kept),
		cmocka_unit_test(test_failure_carries_criu_message),
		cmocka_unit_test(test_one_operation_per_session),
	};
	int rc;

	if (!mkdtemp(tmpl))
		return 1;
	dirfd_ = open(tmpl, O_DIRECTORY | O_CLOEXEC);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	close(dirfd_);
	rmdir(tmpl);
	return rc;
}
