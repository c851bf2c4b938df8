/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the CRIU shim (crpc/shim.h) between libcrpc's own session as
 * the client and the misbehaving stand-in for CRIU (tests/helpers/fake-criu).
 *
 * This program is its own shim: run as `test_shim swrk N` it serves fd N
 * with crpc_shim_run(), the fake as its CRIU and the hooks of the YAML in
 * $CRPC_TEST_SHIM_YAML. The tests open sessions whose "CRIU" is this very
 * program. Also: the shim: configuration keys, finding the real CRIU (never
 * crpc itself) and the loop marker.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crpc/shim.h"
#include "engines/engine.h"
#include "internal.h"
#include "shim/shim_int.h"

static char self_path[PATH_MAX];
static int dirfd_ = -1;
/* the runtime directory's record of the fake CRIU's VERSION reply */
static char remembered[PATH_MAX];

/* ---- this program as the shim ---------------------------------------------- */

static int serve(int fd)
{
	const char *yaml = getenv("CRPC_TEST_SHIM_YAML");
	crpc_shim_config sc = { .size = sizeof(sc), .criu_path = CRPC_FAKE_CRIU };
	crpc_error *err = NULL;
	crpc_config c;
	int rc;

	crpc_config_init(&c);
	if (yaml && crpc_config_parse(&c, "test", yaml, strlen(yaml), &err) < 0) {
		fprintf(stderr, "test shim: %s\n", err->message);
		return 2;
	}
	sc.hooks = &c.hooks;
	sc.trace_dir = getenv("CRPC_TEST_SHIM_TRACES");
	rc = crpc_shim_run(&sc, fd, &err);
	crpc_error_free(err);
	crpc_config_release(&c);
	return rc;
}

/* ---- the client side ------------------------------------------------------------ */

static crpc_session *open_shim(const char *mode, const char *yaml, crpc_error **err)
{
	crpc_session_config cfg = { .size = sizeof(cfg), .criu_path = self_path, .timeout_ms = 20000 };
	crpc_session *s = NULL;

	/* each session meets the fake CRIU in its mode, not a reply remembered from another */
	unlink(remembered);
	setenv("CRPC_FAKE_MODE", mode, 1);
	if (yaml)
		setenv("CRPC_TEST_SHIM_YAML", yaml, 1);
	else
		unsetenv("CRPC_TEST_SHIM_YAML");
	if (crpc_session_open(&s, &cfg, err) < 0)
		return NULL;
	return s;
}

static int dump(crpc_session *s, crpc_dispatcher *d, crpc_error **err)
{
	crpc_dump_result res;
	crpc_opts o;

	crpc_opts_init(&o);
	o.pid = 99;
	o.images_dir_fd = dirfd_;
	return crpc_session_dump(s, &o, d, &res, err);
}

/* The fd tests need the shim to take the client's fds (pidfd_getfd): root. */
static bool need_root(void)
{
	if (geteuid() == 0)
		return true;
	print_message("skipped: taking the client's fds needs root\n");
	return false;
}

struct seen {
	int n;
	char names[8][32];
	bool fd_ok;
};

static int record(crpc_notify *n, void *userdata, crpc_error **err)
{
	struct seen *s = userdata;

	(void)err;
	if (s->n < 8)
		snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", n->name);
	if (n->kind == CRPC_NOTIFY_ORPHAN_PTS_MASTER && n->fd >= 0)
		s->fd_ok = write(n->fd, "ok", 2) == 2;
	return 0;
}

static void test_version_through_shim(void **state)
{
	crpc_error *err = NULL;
	crpc_session *s = open_shim("unknown-notify", NULL, &err);

	(void)state;
	assert_non_null(s);
	assert_int_equal(crpc_session_version(s)->code, 40201);
	crpc_session_close(s);
}

static void test_garbage_from_criu_passed_on(void **state)
{
	crpc_error *err = NULL;

	(void)state;
	assert_null(open_shim("garbage-version", NULL, &err));
	assert_non_null(err);
	assert_non_null(strstr(err->message, "not a valid criu_resp"));
	crpc_error_free(err);
}

static void test_criu_dies_before_reply(void **state)
{
	crpc_error *err = NULL;
	crpc_session *s;

	(void)state;
	if (!need_root())
		return;
	s = open_shim("die-mid-dump", NULL, &err);
	assert_non_null(s);
	assert_int_equal(dump(s, NULL, &err), -1);
	assert_non_null(err->criu_errmsg);
	assert_non_null(
		strstr(err->criu_errmsg, "exited with status 3 before it replied to the DUMP request"));
	crpc_error_free(err);
	crpc_session_close(s);
}

static void test_criu_killed_mid_dump(void **state)
{
	crpc_error *err = NULL;
	crpc_session *s;

	(void)state;
	if (!need_root())
		return;
	s = open_shim("killed-mid-dump", NULL, &err);
	assert_non_null(s);
	assert_int_equal(dump(s, NULL, &err), -1);
	assert_non_null(err->criu_errmsg);
	assert_non_null(strstr(err->criu_errmsg, "killed by signal 9 (SIGKILL)"));
	crpc_error_free(err);
	crpc_session_close(s);
}

/* The client asks for no notifications: the shim answers them for its hooks. */
static void test_hook_entries_reach_criu(void **state)
{
	static const char yaml[] = "hooks:\n"
				   "  query-ext-files:\n"
				   "    - shell: \"echo 'file[1:2]'; echo 'tty[3:4]'\"\n";
	crpc_error *err = NULL;
	crpc_session *s;

	(void)state;
	if (!need_root())
		return;
	s = open_shim("ext-files", yaml, &err);
	assert_non_null(s);
	/* the fake replies success only when the ack carries both entries */
	assert_int_equal(dump(s, NULL, &err), 0);
	crpc_session_close(s);
}

static void test_hook_abort_reason_in_reply(void **state)
{
	static const char yaml[] = "hooks:\n"
				   "  pre-dump:\n"
				   "    - name: gate\n"
				   "      shell: 'echo not now; exit 3'\n";
	crpc_dispatcher *d = crpc_dispatcher_new();
	struct seen seen = { 0 };
	crpc_error *err = NULL;
	crpc_session *s;

	(void)state;
	if (!need_root()) {
		crpc_dispatcher_free(d);
		return;
	}
	crpc_dispatcher_add(d, "record", record, &seen);
	s = open_shim("refused-notify", yaml, &err);
	assert_non_null(s);
	assert_int_equal(dump(s, d, &err), -1);
	/* the refused notification never reached the client */
	assert_int_equal(seen.n, 0);
	assert_non_null(err->criu_errmsg);
	assert_non_null(strstr(err->criu_errmsg, "crpc hook at pre-dump failed"));
	assert_non_null(strstr(err->criu_errmsg, "not now"));
	crpc_error_free(err);
	crpc_dispatcher_free(d);
	crpc_session_close(s);
}

/* A notification with an fd reaches the client with it; no copy stays in the shim. */
static void test_pts_fd_forwarded(void **state)
{
	crpc_dispatcher *d = crpc_dispatcher_new();
	struct seen seen = { 0 };
	crpc_error *err = NULL;
	crpc_session *s;

	(void)state;
	if (!need_root()) {
		crpc_dispatcher_free(d);
		return;
	}
	crpc_dispatcher_add(d, "record", record, &seen);
	s = open_shim("pts-fd", NULL, &err);
	assert_non_null(s);
	assert_int_equal(dump(s, d, &err), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.names[0], "orphan-pts-master");
	assert_true(seen.fd_ok);
	crpc_dispatcher_free(d);
	crpc_session_close(s);
}

/* Unknown notifications answered by the shim itself (hooks on, client not asking). */
static void test_unknown_notify_answered_by_shim(void **state)
{
	static const char yaml[] = "hooks:\n"
				   "  post-dump:\n"
				   "    - shell: 'true'\n";
	crpc_error *err = NULL;
	crpc_session *s;

	(void)state;
	if (!need_root())
		return;
	s = open_shim("unknown-notify", yaml, &err);
	assert_non_null(s);
	assert_int_equal(dump(s, NULL, &err), 0);
	crpc_session_close(s);
}

/* ---- configuration, resolving, the loop marker ------------------------------------- */

static void test_config_keys(void **state)
{
	static const char yaml[] = "shim:\n"
				   "  trace_dir: /var/tmp/t\n"
				   "  trace: false\n"
				   "  trace_max_files: 7\n"
				   "  trace_max_total: 1M\n"
				   "  trace_max_file_size: 64K\n"
				   "  verbose: true\n";
	crpc_error *err = NULL;
	crpc_config c;

	(void)state;
	crpc_config_init(&c);
	assert_true(c.shim_trace);
	assert_int_equal(c.shim_trace_max_files, CRPC_SHIM_TRACE_MAX_FILES);
	assert_int_equal(c.shim_trace_max_total, CRPC_SHIM_TRACE_MAX_TOTAL);
	assert_int_equal(c.shim_trace_max_file_size, CRPC_SHIM_TRACE_MAX_FILE_SIZE);
	assert_false(c.shim_verbose);
	assert_int_equal(crpc_config_parse(&c, "t", yaml, strlen(yaml), &err), 0);
	assert_string_equal(c.trace_dir, "/var/tmp/t");
	assert_false(c.shim_trace);
	assert_int_equal(c.shim_trace_max_files, 7);
	assert_int_equal(c.shim_trace_max_total, 1u << 20);
	assert_int_equal(c.shim_trace_max_file_size, 64u << 10);
	assert_true(c.shim_verbose);
	crpc_config_release(&c);
}

static void bad_config(const char *yaml, const char *want)
{
	crpc_error *err = NULL;
	crpc_config c;

	assert_int_equal(crpc_config_parse(&c, "t", yaml, strlen(yaml), &err), -1);
	assert_non_null(err);
	if (!strstr(err->message, want))
		fail_msg("'%s' not in '%s'", want, err->message);
	crpc_error_free(err);
}

static void test_config_errors(void **state)
{
	(void)state;
	bad_config("shim:\n  trace_max_files: 0\n", "expected an integer from 1");
	bad_config("shim:\n  trace_max_file_size: 100\n", "at least 4K");
	bad_config("shim:\n  trace_max_total: lots\n", "trace_max_total");
	bad_config("shim:\n  verbose: maybe\n", "expected true or false");
	bad_config("shim:\n  trace_max_file: 1M\n", "did you mean 'trace_max_files'");
}

static void test_resolve_refuses_self(void **state)
{
	char buf[PATH_MAX], link[PATH_MAX], dir[] = "/tmp/crpc-test-shim.XXXXXX";
	crpc_error *err = NULL;
	int rc;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(link, sizeof(link), "%s/criu", dir);
	assert_int_equal(symlink(self_path, link), 0);

	/* named directly, through a symlink, or by --criu */
	setenv("CRPC_CRIU", self_path, 1);
	assert_int_equal(crpc_shim_resolve_criu(NULL, NULL, buf, sizeof(buf), &err), -1);
	assert_int_equal(err->exit_class, CRPC_EXIT_ENV);
	assert_non_null(strstr(err->message, "is crpc itself"));
	crpc_error_free(err);
	err = NULL;
	setenv("CRPC_CRIU", link, 1);
	assert_int_equal(crpc_shim_resolve_criu(NULL, NULL, buf, sizeof(buf), &err), -1);
	crpc_error_free(err);
	err = NULL;
	unsetenv("CRPC_CRIU");
	assert_int_equal(crpc_shim_resolve_criu(NULL, link, buf, sizeof(buf), &err), -1);
	assert_non_null(strstr(err->message, "criu: binary"));
	crpc_error_free(err);
	err = NULL;

	/* on PATH: the shim is skipped, a real one further on is found */
	{
		char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
		char path[PATH_MAX * 2], dir2[] = "/tmp/crpc-test-shim2.XXXXXX", real[PATH_MAX];

		assert_non_null(mkdtemp(dir2));
		snprintf(real, sizeof(real), "%s/criu", dir2);
		assert_int_equal(symlink("/bin/true", real), 0);
		setenv("PATH", dir, 1);
		assert_int_equal(crpc_shim_resolve_criu(NULL, NULL, buf, sizeof(buf), &err), -1);
		assert_non_null(strstr(err->message, "every criu on $PATH is crpc itself"));
		crpc_error_free(err);
		err = NULL;
		snprintf(path, sizeof(path), "%s:%s", dir, dir2);
		setenv("PATH", path, 1);
		rc = crpc_shim_resolve_criu(NULL, NULL, buf, sizeof(buf), &err);
		if (old)
			setenv("PATH", old, 1);
		free(old);
		assert_int_equal(rc, 0);
		assert_string_equal(buf, real);
		unlink(real);
		rmdir(dir2);
	}
	/* a real binary is taken */
	assert_int_equal(crpc_shim_resolve_criu(CRPC_FAKE_CRIU, NULL, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, CRPC_FAKE_CRIU);
	unlink(link);
	rmdir(dir);
}

static void test_depth_marker(void **state)
{
	crpc_error *err = NULL;

	(void)state;
	unsetenv(CRPC_SHIM_DEPTH_ENV);
	assert_int_equal(crpc_shim_check_depth(&err), 0);
	setenv(CRPC_SHIM_DEPTH_ENV, "1", 1);
	assert_int_equal(crpc_shim_check_depth(&err), -1);
	assert_int_equal(err->exit_class, CRPC_EXIT_ENV);
	assert_non_null(strstr(err->message, "leads back to crpc"));
	crpc_error_free(err);
	unsetenv(CRPC_SHIM_DEPTH_ENV);
}

/* A record of CRIU's VERSION reply (shim_version.c): header, then the reply CRIU 4.2.1 sent. */
static bool record_parses(const char *header, const uint8_t *reply, size_t rlen, size_t *off, size_t *len)
{
	uint8_t buf[512];
	size_t hl = strlen(header);

	assert_true(hl + rlen <= sizeof(buf));
	memcpy(buf, header, hl);
	memcpy(buf + hl, reply, rlen);
	return shim_version_parse(buf, hl + rlen, "1 2 3 4.5 6.7", off, len);
}

static void test_version_record_parse(void **state)
{
	/* type VERSION, success, version { major 4 minor 2 sublevel 1 } */
	static const uint8_t reply[] = { 0x08, 0x0a, 0x10, 0x01, 0x52, 0x06,
					 0x08, 0x04, 0x10, 0x02, 0x20, 0x01 };
	/* the same, failed */
	static const uint8_t failed[] = { 0x08, 0x0a, 0x10, 0x00, 0x52, 0x06,
					  0x08, 0x04, 0x10, 0x02, 0x20, 0x01 };
	size_t off = 0, len = 0;

	(void)state;
	assert_true(
		record_parses("crpc-swrk-version 1 1 2 3 4.5 6.7 12\n", reply, sizeof(reply), &off, &len));
	assert_int_equal(off, strlen("crpc-swrk-version 1 1 2 3 4.5 6.7 12\n"));
	assert_int_equal(len, sizeof(reply));
	/* another binary, another format, a length that is not the body's, not digits alone */
	assert_false(
		record_parses("crpc-swrk-version 1 1 2 3 4.5 6.8 12\n", reply, sizeof(reply), &off, &len));
	assert_false(
		record_parses("crpc-swrk-version 2 1 2 3 4.5 6.7 12\n", reply, sizeof(reply), &off, &len));
	assert_false(
		record_parses("crpc-swrk-version 1 1 2 3 4.5 6.7 11\n", reply, sizeof(reply), &off, &len));
	assert_false(
		record_parses("crpc-swrk-version 1 1 2 3 4.5 6.7 +12\n", reply, sizeof(reply), &off, &len));
	assert_false(
		record_parses("crpc-swrk-version 1 1 2 3 4.5 6.7 12 \n", reply, sizeof(reply), &off, &len));
	assert_false(record_parses("crpc-swrk-version 1 1 2 3 4.5 6.7 18446744073709551628\n", reply,
				   sizeof(reply), &off, &len));
	/* no successful VERSION reply, no header line */
	assert_false(
		record_parses("crpc-swrk-version 1 1 2 3 4.5 6.7 12\n", failed, sizeof(failed), &off, &len));
	assert_false(record_parses("crpc-swrk-version 1 1 2 3 4.5 6.7 12", reply, sizeof(reply), &off, &len));
}

/* The runtime directory's KEY/VALUE records (call.c). */
static void test_runtime_record_parse(void **state)
{
	char v[16] = "";

	(void)state;
	assert_true(crpc__runtime_record_parse("1 2 3\nrunc 1.1.5\n", "1 2 3", v, sizeof(v)));
	assert_string_equal(v, "runc 1.1.5");
	/* cut to the buffer */
	assert_true(crpc__runtime_record_parse("k\n0123456789abcdefghij\n", "k", v, sizeof(v)));
	assert_string_equal(v, "0123456789abcde");
	assert_false(crpc__runtime_record_parse("1 2 3\nrunc\n", "1 2 4", v, sizeof(v)));
	assert_false(crpc__runtime_record_parse("1 2 34\nrunc\n", "1 2 3", v, sizeof(v)));
	assert_false(crpc__runtime_record_parse("1 2 3\n\n", "1 2 3", v, sizeof(v)));
	assert_false(crpc__runtime_record_parse("1 2 3", "1 2 3", v, sizeof(v)));
	assert_false(crpc__runtime_record_parse("\nx\n", "", v, sizeof(v)));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_through_shim),
		cmocka_unit_test(test_garbage_from_criu_passed_on),
		cmocka_unit_test(test_criu_dies_before_reply),
		cmocka_unit_test(test_criu_killed_mid_dump),
		cmocka_unit_test(test_hook_entries_reach_criu),
		cmocka_unit_test(test_hook_abort_reason_in_reply),
		cmocka_unit_test(test_pts_fd_forwarded),
		cmocka_unit_test(test_unknown_notify_answered_by_shim),
		cmocka_unit_test(test_config_keys),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_resolve_refuses_self),
		cmocka_unit_test(test_depth_marker),
		cmocka_unit_test(test_version_record_parse),
		cmocka_unit_test(test_runtime_record_parse),
	};
	char tmpl[] = "/tmp/crpc-test-shim-dir.XXXXXX", rt[] = "/tmp/crpc-test-shim-rt.XXXXXX";
	char versions[PATH_MAX];
	size_t k;
	ssize_t n;
	int rc;

	if (argc == 3 && strcmp(argv[1], "swrk") == 0)
		return serve(atoi(argv[2]));
	signal(SIGCHLD, SIG_DFL);
	n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n <= 0)
		return 1;
	self_path[n] = '\0';
	if (!mkdtemp(tmpl) || !mkdtemp(rt))
		return 1;
	setenv("CRPC_RUNTIME_DIR", rt, 1);
	snprintf(versions, sizeof(versions), "%s/versions", rt);
	k = (size_t)snprintf(remembered, sizeof(remembered), "%s/swrk%s", versions, CRPC_FAKE_CRIU);
	for (size_t i = strlen(versions) + 5; i < k && i < sizeof(remembered); i++)
		if (remembered[i] == '/')
			remembered[i] = '_';
	dirfd_ = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlinkat(dirfd_, "hooks.log", 0);
	close(dirfd_);
	rmdir(tmpl);
	unlink(remembered);
	rmdir(versions);
	rmdir(rt);
	return rc;
}
