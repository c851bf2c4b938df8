/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the hook runner (hooks.c). Steps are real processes; the
 * notifications are crafted here, no CRIU is involved. The test process is
 * a child subreaper so that what a step leaves behind is reparented to it and
 * can be checked (and reaped).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crpc/hooks.h"
#include "internal.h"

#ifndef CRPC_TEST_DATA
#define CRPC_TEST_DATA "tests/data"
#endif

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define ENV(...) ((char *[]){ __VA_ARGS__, NULL })
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

struct fx {
	char dir[64];        /* the images dir, as created */
	char real[PATH_MAX]; /* its real path */
	int dirfd;
	crpc_hooks hooks;
	crpc_hook_runner *r;
	FILE *verbose;
	char *vbuf;
	size_t vlen;
};

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Reap whatever child is left; returns how many there were. */
static int reap_leftovers(void)
{
	int n = 0;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		n++;
	return n;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/crpc-hooks-XXXXXX");
	if (!mkdtemp(f->dir) || !realpath(f->dir, f->real))
		return -1;
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	f->verbose = open_memstream(&f->vbuf, &f->vlen);
	if (f->dirfd < 0 || !f->verbose)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int left;

	crpc_hook_runner_free(f->r);
	fclose(f->verbose);
	free(f->vbuf);
	close(f->dirfd);
	nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	left = reap_leftovers();
	free(f);
	/* the runner leaves no zombie behind, and the tests reap what they made */
	return left == 0 ? 0 : -1;
}

static crpc_hook_step shell_step(const char *name, const char *cmd)
{
	return (crpc_hook_step){ .name = (char *)name,
				 .kind = CRPC_STEP_SHELL,
				 .shell = (char *)cmd,
				 .timeout_ms = 5000,
				 .origin = (char *)"test.yaml:3:5" };
}

static crpc_hook_step run_step(const char *name, char **argv)
{
	return (crpc_hook_step){ .name = (char *)name,
				 .kind = CRPC_STEP_RUN,
				 .argv = argv,
				 .timeout_ms = 5000,
				 .origin = (char *)"test.yaml:7:5" };
}

static void set_steps(struct fx *f, crpc_notify_kind k, crpc_hook_step *steps, size_t n)
{
	f->hooks.steps[k] = steps;
	f->hooks.n_steps[k] = n;
}

static void new_runner(struct fx *f, const char *op, pid_t pid, unsigned grace_ms)
{
	crpc_hook_context ctx = { .size = sizeof(ctx),
				  .operation = op,
				  .pid = pid,
				  .images_dir = f->real,
				  .images_dir_fd = f->dirfd,
				  .verbose = f->verbose,
				  .grace_ms = grace_ms };
	crpc_error *err = NULL;

	crpc_hook_runner_free(f->r);
	f->r = NULL;
	assert_int_equal(crpc_hook_runner_new(&f->r, &f->hooks, &ctx, &err), 0);
	assert_null(err);
	assert_non_null(f->r);
}

static crpc_notify make_notify(crpc_notify_kind k, int pid, int fd, const char *op)
{
	return (crpc_notify){ .kind = k,
			      .name = crpc_notify_kind_name(k),
			      .pid = pid,
			      .fd = fd,
			      .operation = op,
			      .seq = 1 };
}

/* Run notification k; the error (if any) goes to *err. */
static int notify(struct fx *f, crpc_notify_kind k, int pid, crpc_error **err)
{
	crpc_notify n = make_notify(k, pid, -1, "dump");

	return crpc_hook_runner_notify(&n, f->r, err);
}

/*
 * Contents of a file of the images dir ("" if missing); free it. Not
 * inlined: gcc 12 at -O2 then takes pointers into the result for pointers
 * to slurp()'s own local (a false -Wdangling-pointer).
 */
__attribute__((noinline)) static char *slurp(struct fx *f, const char *name)
{
	char *s = NULL;

	if (crpc__read_file_at(f->dirfd, name, 1 << 20, &s, NULL, NULL) < 0 || !s)
		s = strdup("");
	if (!s)
		abort();
	return s;
}

static bool exists(struct fx *f, const char *name)
{
	struct stat st;

	return fstatat(f->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The output of a verbose stream so far (owned by the fixture). */
static const char *verbose_text(struct fx *f)
{
	fflush(f->verbose);
	return f->vbuf ? f->vbuf : "";
}

/* Does "NAME=VALUE\n" occur as a whole line of text? */
static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (l == len && memcmp(p, line, len) == 0)
			return true;
		p = nl ? nl + 1 : NULL;
	}
	return false;
}

/* Lines of text starting with prefix. */
static unsigned count_prefixed(const char *text, const char *prefix)
{
	size_t len = strlen(prefix);
	unsigned n = 0;

	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');

		if (strncmp(p, prefix, len) == 0)
			n++;
		p = nl ? nl + 1 : NULL;
	}
	return n;
}

static pid_t read_pid(struct fx *f, const char *name)
{
	char *s = slurp(f, name);
	long v = strtol(s, NULL, 10);

	free(s);
	return (pid_t)v;
}

/* Wait (up to 3 s) for a reparented descendant and return its wait status. */
static int reap_within(pid_t pid)
{
	int status = -1;

	for (int i = 0; i < 300; i++) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return status;
		if (w < 0 && errno != EINTR)
			fail_msg("pid %d is not our child: %s", (int)pid, strerror(errno));
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	fail_msg("pid %d was still alive", (int)pid);
	return status;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected to find \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
}

static void assert_not_contains(const char *hay, const char *needle)
{
	if (hay && strstr(hay, needle))
		fail_msg("did not expect \"%s\" in \"%s\"", needle, hay);
}

static size_t n_warnings(const crpc_hook_runner *r)
{
	const char *const *w = crpc_hook_runner_warnings(r);
	size_t n = 0;

	assert_non_null(w);
	while (w[n])
		n++;
	return n;
}

/* ------------------------------------------------------------------------ */

static void test_true_ok(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("true", ARGV("/bin/true")) };
	crpc_error *err = NULL;
	char *log;

	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), 0);
	assert_null(err);
	assert_int_equal(n_warnings(f->r), 0);
	/* the step's pid was reaped: nothing is left to wait for */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);

	log = slurp(f, "hooks.log");
	assert_contains(log, "] pre-dump true: start: run: /bin/true (from test.yaml:7:5)\n");
	assert_contains(log, "] pre-dump true: end: exit 0 in ");
	free(log);
}

static void test_false_aborts(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("fail-step", ARGV("/bin/false")),
				   shell_step("later", "touch later") };
	crpc_error *err = NULL;

	steps[0].on_failure = CRPC_ON_FAILURE_ABORT;
	steps[1].cwd = f->real;
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_FAIL);
	assert_contains(err->message, "pre-dump step 'fail-step' (test.yaml:7:5) exited with status 1");
	assert_contains(err->hint, f->real);
	assert_contains(err->hint, "hooks.log");
	crpc_error_free(err);
	/* later steps do not run, and an abort is no warning */
	assert_false(exists(f, "later"));
	assert_int_equal(n_warnings(f->r), 0);
}

static void test_last_lines_in_message(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { shell_step("chatty",
					      "for i in 1 2 3 4 5 6; do echo line$i; done; exit 3") };
	crpc_error *err = NULL;

	set_steps(f, CRPC_NOTIFY_POST_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_POST_DUMP, 0, &err), -1);
	assert_non_null(err);
	assert_contains(err->message, "post-dump step 'chatty' (test.yaml:3:5) exited with status 3; "
				      "last output: line2 | line3 | line4 | line5 | line6");
	assert_not_contains(err->message, "line1");
	crpc_error_free(err);
}

static void test_steps_in_order(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { shell_step("one", "echo 1 >> order.txt"),
				   shell_step("two", "echo 2 >> order.txt"),
				   shell_step(NULL, "echo 3 >> order.txt") };
	crpc_error *err = NULL;
	char *s, *log;

	for (size_t i = 0; i < N_OF(steps); i++)
		steps[i].cwd = f->real;
	set_steps(f, CRPC_NOTIFY_POST_RESTORE, steps, N_OF(steps));
	new_runner(f, "restore", 0, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_POST_RESTORE, 0, &err), 0);
	s = slurp(f, "order.txt");
	assert_string_equal(s, "1\n2\n3\n");
	free(s);
	/* a step without a name is named after its callback and position */
	log = slurp(f, "hooks.log");
	assert_contains(log, "] post-restore post-restore[3]: start: shell: echo 3 >> order.txt");
	free(log);
}

static void test_env_dump(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { shell_step("env", "env > env.txt") };
	crpc_error *err = NULL;
	char line[PATH_MAX + 64];
	char *s;

	/* stale values in crpc's own environment must not reach the hooks */
	setenv("CRPC_NOTIFY_PID", "999", 1);
	setenv("CRTOOLS_INIT_PID", "998", 1);
	setenv("CRPC_PTS_MASTER_FD", "7", 1);
	setenv("CRPC_TEST_INHERITED", "yes", 1);
	steps[0].cwd = f->real;
	set_steps(f, CRPC_NOTIFY_POST_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_POST_DUMP, 0, &err), 0);
	unsetenv("CRPC_NOTIFY_PID");
	unsetenv("CRTOOLS_INIT_PID");
	unsetenv("CRPC_PTS_MASTER_FD");
	unsetenv("CRPC_TEST_INHERITED");

	s = slurp(f, "env.txt");
	assert_true(has_line(s, "CRTOOLS_SCRIPT_ACTION=post-dump"));
	snprintf(line, sizeof(line), "CRTOOLS_IMAGE_DIR=%s", f->real);
	assert_true(has_line(s, line));
	assert_true(has_line(s, "CRTOOLS_INIT_PID=4242"));
	assert_true(has_line(s, "CRPC_ACTION=post-dump"));
	assert_true(has_line(s, "CRPC_OPERATION=dump"));
	assert_true(has_line(s, "CRPC_PID=4242"));
	snprintf(line, sizeof(line), "CRPC_IMAGES_DIR=%s", f->real);
	assert_true(has_line(s, line));
	assert_true(has_line(s, "CRPC_TEST_INHERITED=yes"));
	assert_not_contains(s, "CRPC_NOTIFY_PID");
	assert_not_contains(s, "CRPC_PTS_MASTER_FD");
	assert_int_equal(count_prefixed(s, "CRTOOLS_INIT_PID="), 1);
	free(s);
}

static void test_env_restore(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { shell_step("env", "env > env.txt") };
	crpc_error *err = NULL;
	char *s;

	steps[0].cwd = f->real;
	set_steps(f, CRPC_NOTIFY_PRE_RESTORE, steps, N_OF(steps));
	set_steps(f, CRPC_NOTIFY_SETUP_NAMESPACES, steps, N_OF(steps));
	set_steps(f, CRPC_NOTIFY_POST_RESUME, steps, N_OF(steps));
	new_runner(f, "restore", 0, 0);

	/* nothing known yet: no pid variables at all */
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_RESTORE, 0, &err), 0);
	s = slurp(f, "env.txt");
	assert_true(has_line(s, "CRTOOLS_SCRIPT_ACTION=pre-restore"));
	assert_true(has_line(s, "CRPC_OPERATION=restore"));
	assert_not_contains(s, "CRTOOLS_INIT_PID");
	assert_not_contains(s, "CRPC_PID");
	assert_not_contains(s, "CRPC_NOTIFY_PID");
	free(s);

	/* CRIU sends the root's pid along */
	assert_int_equal(notify(f, CRPC_NOTIFY_SETUP_NAMESPACES, 777, &err), 0);
	s = slurp(f, "env.txt");
	assert_true(has_line(s, "CRTOOLS_SCRIPT_ACTION=setup-namespaces"));
	assert_true(has_line(s, "CRTOOLS_INIT_PID=777"));
	assert_true(has_line(s, "CRPC_PID=777"));
	assert_true(has_line(s, "CRPC_NOTIFY_PID=777"));
	free(s);

	/* later notifications without a pid still know the restored root */
	assert_int_equal(notify(f, CRPC_NOTIFY_POST_RESUME, 0, &err), 0);
	s = slurp(f, "env.txt");
	assert_true(has_line(s, "CRPC_ACTION=post-resume"));
	assert_true(has_line(s, "CRTOOLS_INIT_PID=777"));
	assert_true(has_line(s, "CRPC_PID=777"));
	assert_not_contains(s, "CRPC_NOTIFY_PID");
	free(s);

	crpc_hook_runner_set_pid(f->r, 888);
	assert_int_equal(notify(f, CRPC_NOTIFY_POST_RESUME, 0, &err), 0);
	s = slurp(f, "env.txt");
	assert_true(has_line(s, "CRPC_PID=888"));
	free(s);
	assert_null(err);
}

static void test_env_override(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { shell_step("env", "env > env.txt") };
	crpc_error *err = NULL;
	char *s;

	steps[0].cwd = f->real;
	steps[0].env = ENV("CRPC_OPERATION=mine", "HOOK_EXTRA=first", "HOOK_EXTRA=last", "NOT_A_DEFINITION");
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), 0);
	s = slurp(f, "env.txt");
	assert_true(has_line(s, "CRPC_OPERATION=mine"));
	assert_int_equal(count_prefixed(s, "CRPC_OPERATION="), 1);
	assert_true(has_line(s, "HOOK_EXTRA=last"));
	assert_int_equal(count_prefixed(s, "HOOK_EXTRA="), 1);
	assert_not_contains(s, "NOT_A_DEFINITION");
	assert_true(has_line(s, "CRPC_PID=4242"));
	free(s);
}

static void test_cwd(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { shell_step("pwd", "pwd -P > \"$CRPC_IMAGES_DIR/cwd.txt\"") };
	char sub[PATH_MAX + 8], want[PATH_MAX + 16];
	crpc_error *err = NULL;
	char *s;

	snprintf(sub, sizeof(sub), "%s/sub", f->real);
	assert_int_equal(mkdir(sub, 0700), 0);
	steps[0].cwd = sub;
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), 0);
	s = slurp(f, "cwd.txt");
	snprintf(want, sizeof(want), "%s\n", sub);
	assert_string_equal(s, want);
	free(s);
	rmdir(sub);
}

static void test_cwd_missing(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("nowhere", ARGV("/bin/true")) };
	crpc_error *err = NULL;
	char *log;

	steps[0].cwd = (char *)"/nonexistent-crpc-dir";
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), -1);
	assert_contains(err->message,
			"cannot change to directory /nonexistent-crpc-dir: No such file or directory");
	crpc_error_free(err);
	log = slurp(f, "hooks.log");
	assert_contains(log, "] pre-dump nowhere: cannot change to directory /nonexistent-crpc-dir");
	free(log);
}

static void test_stdin_is_dev_null(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("cat", ARGV("cat")),
				   shell_step("stdin", "readlink /proc/self/fd/0 > stdin.txt") };
	crpc_error *err = NULL;
	double t0;
	char *s;

	steps[1].cwd = f->real;
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	t0 = crpc__now();
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), 0);
	assert_true(crpc__now() - t0 < 1.0);
	s = slurp(f, "stdin.txt");
	assert_string_equal(s, "/dev/null\n");
	free(s);
}

static void test_output_logged(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = {
		shell_step("talk", "echo out-line; echo err-line >&2; echo out-again; "
				   "printf '\\033[31mred\\r\\n'; printf 'no-newline'"),
		shell_step("long", "head -c 5000 /dev/zero | tr '\\000' x; echo; echo after"),
	};
	crpc_error *err = NULL;
	const char *v;
	char *log, *a, *b, *c;
	char longest[4200];

	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), 0);

	log = slurp(f, "hooks.log");
	a = strstr(log, "] pre-dump talk: out-line\n");
	b = strstr(log, "] pre-dump talk: err-line\n");
	c = strstr(log, "] pre-dump talk: out-again\n");
	/* one pipe for both streams: the lines keep their order */
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_true(a < b && b < c);
	assert_contains(log, "] pre-dump talk: ?[31mred\n");
	assert_contains(log, "] pre-dump talk: no-newline\n");
	/* a line over 4 KiB is cut and continued */
	memset(longest, 'x', 4096);
	snprintf(longest + 4096, sizeof(longest) - 4096, "\n");
	assert_contains(log, longest);
	assert_contains(log, "] pre-dump long: xxxxxxxxxx");
	assert_contains(log, "] pre-dump long: after\n");
	/* start, two pieces of the long line, "after", end */
	assert_int_equal(count_prefixed(strstr(log, "] pre-dump long: start"), "["), 4);
	/* lines start with a wall-clock time stamp */
	assert_true(log[0] == '[' && log[5] == '-' && log[11] == ' ' && log[20] == '.');
	free(log);

	v = verbose_text(f);
	assert_true(has_line(v, "crpc: hook pre-dump/talk: out-line"));
	assert_true(has_line(v, "crpc: hook pre-dump/talk: err-line"));
	assert_true(has_line(v, "crpc: hook pre-dump/talk: ?[31mred"));
	assert_true(has_line(v, "crpc: hook pre-dump/long: after"));
	/* the verbose stream has output lines only, no start/end lines */
	assert_not_contains(v, "start:");
}

static void test_timeout_kills_group(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { shell_step("slow", "echo $$ > main.pid; sleep 100 & "
						      "echo $! > bg.pid; exec sleep 100") };
	crpc_error *err = NULL;
	pid_t main_pid, bg;
	double t0, dt;
	int st;

	steps[0].cwd = f->real;
	steps[0].timeout_ms = 1000;
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 200);
	t0 = crpc__now();
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), -1);
	dt = crpc__now() - t0;
	/* the timeout, then SIGTERM works at once (slack for a loaded machine) */
	assert_true(dt >= 0.95 && dt < 1.0 + 0.2 + 1.0);
	assert_non_null(err);
	assert_contains(err->message,
			"pre-dump step 'slow' (test.yaml:3:5) timed out after 1.0 s and was killed by SIGTERM");
	crpc_error_free(err);

	main_pid = read_pid(f, "main.pid");
	bg = read_pid(f, "bg.pid");
	assert_true(main_pid > 0 && bg > 0);
	/* the step's own process was reaped by the runner */
	assert_int_equal(crpc__proc_state(main_pid), 0);
	/* its child got SIGTERM too (it is reparented to us: we are a subreaper) */
	st = reap_within(bg);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
}

static void test_timeout_sigterm_ignored(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { shell_step("stubborn", "trap '' TERM; sleep 100 & "
							  "echo $! > bg.pid; wait") };
	crpc_error *err = NULL;
	double t0, dt;
	char *log;
	pid_t bg;
	int st;

	steps[0].cwd = f->real;
	steps[0].timeout_ms = 300;
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 200);
	t0 = crpc__now();
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), -1);
	dt = crpc__now() - t0;
	/* timeout + grace, plus slack for a loaded machine */
	assert_true(dt >= 0.5 && dt < 1.5);
	assert_contains(err->message, "timed out after 300.0 ms and was killed by SIGKILL after a "
				      "200.0 ms grace");
	crpc_error_free(err);
	bg = read_pid(f, "bg.pid");
	assert_true(bg > 0);
	st = reap_within(bg);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	log = slurp(f, "hooks.log");
	assert_contains(log, "] pre-dump stubborn: end: timed out after 300.0 ms and was killed by "
			     "SIGKILL after a 200.0 ms grace (after ");
	free(log);
}

/* A step that stopped itself still gets its SIGTERM (with a SIGCONT). */
static void test_timeout_stopped_step(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { shell_step("stopped", "kill -STOP $$") };
	crpc_error *err = NULL;
	double t0, dt;

	steps[0].timeout_ms = 300;
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 5000);
	t0 = crpc__now();
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), -1);
	dt = crpc__now() - t0;
	/* well before the 5 s grace */
	assert_true(dt >= 0.3 && dt < 2.0);
	assert_contains(err->message, "timed out after 300.0 ms and was killed by SIGTERM");
	crpc_error_free(err);
}

/* crpc's blocked and ignored signals do not reach the step. */
static void test_signal_state_reset(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("sig",
					    ARGV("/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status")) };
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe, old_int;
	sigset_t block, old_mask;
	crpc_error *err = NULL;
	const char *v;

	sigemptyset(&ign.sa_mask);
	assert_int_equal(sigaction(SIGPIPE, &ign, &old_pipe), 0);
	assert_int_equal(sigaction(SIGINT, &ign, &old_int), 0);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGCHLD);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old_mask), 0);

	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), 0);

	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigaction(SIGINT, &old_int, NULL);
	v = verbose_text(f);
	assert_true(has_line(v, "crpc: hook pre-dump/sig: SigBlk:\t0000000000000000"));
	assert_true(has_line(v, "crpc: hook pre-dump/sig: SigIgn:\t0000000000000000"));
}

/* A step that floods its output does not flood hooks.log. */
static void test_output_log_capped(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { shell_step("flood", "head -c 3000000 /dev/zero | tr '\\000' y; "
						       "echo; echo the-end; exit 1") };
	crpc_error *err = NULL;
	struct stat st;

	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), -1);
	/* the last lines are still the real last lines */
	assert_contains(err->message, "last output: ");
	assert_contains(err->message, " | the-end");
	crpc_error_free(err);
	assert_int_equal(fstatat(f->dirfd, "hooks.log", &st, 0), 0);
	assert_true(st.st_size > (1 << 20) && st.st_size < (1 << 20) + (64 << 10));
}

static void test_background_keeps_pipe(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { shell_step("daemon", "sleep 3 & echo $! > bg.pid; echo started") };
	crpc_error *err = NULL;
	double t0;
	char *log;
	pid_t bg;
	int st;

	steps[0].cwd = f->real;
	set_steps(f, CRPC_NOTIFY_POST_RESTORE, steps, N_OF(steps));
	new_runner(f, "restore", 0, 0);
	t0 = crpc__now();
	/* the background sleep holds the output pipe: the step still ends */
	assert_int_equal(notify(f, CRPC_NOTIFY_POST_RESTORE, 0, &err), 0);
	assert_true(crpc__now() - t0 < 1.0);
	log = slurp(f, "hooks.log");
	assert_contains(log, "] post-restore daemon: started\n");
	free(log);
	/* and what it left running is left alone */
	bg = read_pid(f, "bg.pid");
	assert_true(bg > 0);
	assert_int_equal(kill(bg, 0), 0);
	kill(bg, SIGKILL);
	st = reap_within(bg);
	assert_true(WIFSIGNALED(st));
}

static void test_warn_goes_on(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("w", ARGV("/bin/false")), shell_step("after", "touch after") };
	const char *const *w;
	crpc_error *err = NULL;

	steps[0].on_failure = CRPC_ON_FAILURE_WARN;
	steps[1].cwd = f->real;
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), 0);
	assert_null(err);
	assert_true(exists(f, "after"));
	w = crpc_hook_runner_warnings(f->r);
	assert_non_null(w[0]);
	assert_contains(w[0], "pre-dump step 'w' (test.yaml:7:5) exited with status 1");
	assert_null(w[1]);
}

static void test_ignore(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("i", ARGV("/bin/false")), shell_step("after", "touch after") };
	crpc_error *err = NULL;
	char *log;

	steps[0].on_failure = CRPC_ON_FAILURE_IGNORE;
	steps[1].cwd = f->real;
	set_steps(f, CRPC_NOTIFY_POST_RESUME, steps, N_OF(steps));
	new_runner(f, "restore", 0, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_POST_RESUME, 0, &err), 0);
	assert_null(err);
	assert_true(exists(f, "after"));
	assert_int_equal(n_warnings(f->r), 0);
	log = slurp(f, "hooks.log");
	assert_contains(log, "] post-resume i: end: exited with status 1");
	assert_contains(log, "] post-resume i: failure ignored");
	free(log);
}

/* on_failure default where CRIU can abort: the notification fails. */
static void test_default_aborts_where_criu_can(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("d", ARGV("/bin/false")) };
	crpc_error *err = NULL;

	set_steps(f, CRPC_NOTIFY_PRE_RESTORE, steps, N_OF(steps));
	new_runner(f, "restore", 0, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_RESTORE, 0, &err), -1);
	assert_contains(err->message, "pre-restore step 'd'");
	crpc_error_free(err);
	assert_int_equal(n_warnings(f->r), 0);
}

/* on_failure default where CRIU cannot abort: a warning, the next steps run. */
static void test_default_warns_where_criu_cannot(void **state)
{
	static const crpc_notify_kind kinds[] = { CRPC_NOTIFY_NETWORK_UNLOCK, CRPC_NOTIFY_PRE_RESUME,
						  CRPC_NOTIFY_POST_RESUME };
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("d", ARGV("/bin/false")),
				   shell_step("after", "echo x >> after") };
	const char *const *w;
	crpc_error *err = NULL;
	char *s;

	steps[1].cwd = f->real;
	for (size_t i = 0; i < N_OF(kinds); i++)
		set_steps(f, kinds[i], steps, N_OF(steps));
	new_runner(f, "restore", 0, 0);
	for (size_t i = 0; i < N_OF(kinds); i++) {
		assert_int_equal(notify(f, kinds[i], 0, &err), 0);
		assert_null(err);
	}
	s = slurp(f, "after");
	assert_string_equal(s, "x\nx\nx\n");
	free(s);
	w = crpc_hook_runner_warnings(f->r);
	assert_int_equal(n_warnings(f->r), 3);
	assert_contains(w[0], "network-unlock step 'd' (test.yaml:7:5) exited with status 1");
	assert_contains(w[0], "CRIU cannot abort at network-unlock");
	assert_contains(w[2], "CRIU cannot abort at post-resume");
}

/*
 * on_failure abort where CRIU cannot abort: the notification still fails
 * (the dispatcher makes that a warning) and the later steps are skipped; the
 * runner records a warning as well.
 */
static void test_abort_where_criu_cannot(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("a", ARGV("/bin/false")), shell_step("after", "touch after") };
	const char *const *w;
	crpc_error *err = NULL;

	steps[0].on_failure = CRPC_ON_FAILURE_ABORT;
	steps[1].cwd = f->real;
	set_steps(f, CRPC_NOTIFY_POST_RESUME, steps, N_OF(steps));
	new_runner(f, "restore", 0, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_POST_RESUME, 0, &err), -1);
	assert_non_null(err);
	assert_contains(err->message, "post-resume step 'a' (test.yaml:7:5) exited with status 1");
	crpc_error_free(err);
	assert_false(exists(f, "after"));
	w = crpc_hook_runner_warnings(f->r);
	assert_int_equal(n_warnings(f->r), 1);
	assert_contains(w[0], "post-resume step 'a'");
	assert_contains(w[0], "CRIU cannot abort at post-resume");
}

/* Through the dispatcher: abort at post-resume ends up as a warning there. */
static void test_dispatcher_cannot_abort(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("a", ARGV("/bin/false")) };
	crpc_dispatcher *d = crpc_dispatcher_new();
	crpc_notify n = make_notify(CRPC_NOTIFY_POST_RESUME, 0, -1, "restore");
	crpc_error *err = NULL;

	assert_non_null(d);
	steps[0].on_failure = CRPC_ON_FAILURE_ABORT;
	set_steps(f, CRPC_NOTIFY_POST_RESUME, steps, N_OF(steps));
	new_runner(f, "restore", 0, 0);
	assert_int_equal(crpc_dispatcher_add(d, "hooks", crpc_hook_runner_notify, f->r), 0);
	assert_int_equal(crpc_dispatcher_dispatch(d, &n, &err), 0);
	assert_null(err);
	assert_non_null(crpc_dispatcher_warnings(d)[0]);
	assert_contains(crpc_dispatcher_warnings(d)[0], "post-resume step 'a'");
	crpc_dispatcher_free(d);
}

static void test_exec_failure(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("missing", ARGV("/nonexistent/prog", "arg")) };
	crpc_hook_step steps2[] = { run_step("nopath", ARGV("crpc-no-such-command-xyz")) };
	crpc_error *err = NULL;
	char *log;

	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	set_steps(f, CRPC_NOTIFY_POST_DUMP, steps2, N_OF(steps2));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), -1);
	assert_contains(err->message, "pre-dump step 'missing' (test.yaml:7:5) cannot execute "
				      "/nonexistent/prog: No such file or directory");
	crpc_error_free(err);
	err = NULL;
	assert_int_equal(notify(f, CRPC_NOTIFY_POST_DUMP, 0, &err), -1);
	/* ENOENT, or EACCES when some PATH directory cannot be searched */
	assert_contains(err->message, "cannot execute crpc-no-such-command-xyz: ");
	crpc_error_free(err);
	log = slurp(f, "hooks.log");
	assert_contains(log, "] pre-dump missing: cannot execute /nonexistent/prog: No such file");
	free(log);
}

/* Write an executable file NAME of the images dir (root's, 0755) with this content. */
static void write_exec(struct fx *f, const char *name, const char *content)
{
	int fd = openat(f->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, 0755), 0); /* whatever the umask */
	close(fd);
}

/* A program found nowhere on the step's PATH: the error says so and names that PATH. */
static void test_not_on_path(void **state)
{
	struct fx *f = *state;
	char path_var[PATH_MAX + 16], want[PATH_MAX + 128];
	crpc_hook_step steps[] = { run_step("nopath", ARGV("crpc-no-such-command-xyz")) };
	crpc_error *err = NULL;
	char *log;

	snprintf(path_var, sizeof(path_var), "PATH=%s", f->real);
	steps[0].env = ENV(path_var);
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), -1);
	snprintf(want, sizeof(want),
		 "cannot execute crpc-no-such-command-xyz: no executable file of that name on the "
		 "PATH of its environment (PATH=%s)",
		 f->real);
	assert_contains(err->message, want);
	crpc_error_free(err);
	log = slurp(f, "hooks.log");
	assert_contains(log, "] pre-dump nopath: end: cannot execute crpc-no-such-command-xyz: ");
	free(log);
}

/*
 * The program is looked up on the PATH of the step's environment (its env
 * wins over crpc's), a relative PATH entry and a relative path from the
 * step's cwd, as execvp() after chdir() would.
 */
static void test_path_of_step_env(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = {
		run_step("by-env-path", ARGV("crpc-test-hook", "one")),
		run_step("relative", ARGV("./bin/crpc-test-hook", "two")),
	};
	crpc_error *err = NULL;
	char *s;

	assert_int_equal(mkdirat(f->dirfd, "bin", 0755), 0);
	write_exec(f, "bin/crpc-test-hook", "#!/bin/sh\necho \"$1 $0\" >> \"$CRPC_IMAGES_DIR/ran.txt\"\n");
	steps[0].cwd = f->real;
	steps[0].env = ENV("PATH=/nonexistent-crpc:bin");
	steps[1].cwd = f->real;
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	if (notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err) != 0)
		fail_msg("%s", err->message);
	s = slurp(f, "ran.txt");
	assert_string_equal(s, "one bin/crpc-test-hook\ntwo ./bin/crpc-test-hook\n");
	free(s);
	unlinkat(f->dirfd, "bin/crpc-test-hook", 0);
	unlinkat(f->dirfd, "bin", AT_REMOVEDIR);
}

/* A file with neither an ELF header nor "#!" runs with /bin/sh, like execvp() runs it. */
static void test_script_without_interpreter(void **state)
{
	struct fx *f = *state;
	char script[PATH_MAX + 32];
	crpc_hook_step steps[] = { run_step("plain", ARGV(script, "arg 1")) };
	crpc_error *err = NULL;
	char *s;

	write_exec(f, "plain-script", "echo \"[$1]\" > \"$CRPC_IMAGES_DIR/plain.txt\"\n");
	snprintf(script, sizeof(script), "%s/plain-script", f->real);
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	if (notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err) != 0)
		fail_msg("%s", err->message);
	s = slurp(f, "plain.txt");
	assert_string_equal(s, "[arg 1]\n");
	free(s);
}

/* A step gets fds 0, 1 and 2 only, even of fds crpc holds without close-on-exec. */
static void test_no_fd_leaks(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("fds", ARGV("/bin/ls", "/proc/self/fd")) };
	crpc_error *err = NULL;
	int leak = fcntl(f->dirfd, F_DUPFD, 50);
	const char *v;

	assert_true(leak >= 50);
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), 0);
	close(leak);
	v = verbose_text(f);
	/* ls's own directory fd is 3 */
	assert_true(has_line(v, "crpc: hook pre-dump/fds: 0"));
	assert_true(has_line(v, "crpc: hook pre-dump/fds: 2"));
	assert_true(has_line(v, "crpc: hook pre-dump/fds: 3"));
	assert_false(strstr(v, "pre-dump/fds: 4\n"));
	assert_false(strstr(v, "pre-dump/fds: 5"));
}

/*
 * Fds of crpc down in 0..3 reach the step where they belong: with crpc's
 * stdin closed (a pipe lands on 0), and with the pty master of
 * orphan-pts-master being crpc's fd 2 (it must become the step's fd 3, not
 * what the step's own fd 2 became).
 */
static void test_low_fds(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = {
		shell_step("low", "readlink /proc/self/fd/0; echo out; echo err >&2; "
				  "echo \"pts $(readlink /proc/self/fd/$CRPC_PTS_MASTER_FD)\"")
	};
	crpc_notify n = make_notify(CRPC_NOTIFY_ORPHAN_PTS_MASTER, 0, STDERR_FILENO, "restore");
	char want[PATH_MAX + 64], target[PATH_MAX];
	crpc_error *err = NULL;
	int saved = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 10);
	ssize_t len = readlink("/proc/self/fd/2", target, sizeof(target) - 1);
	const char *v;
	int rc;

	assert_true(saved >= 0);
	assert_true(len > 0);
	target[len] = '\0';
	close(STDIN_FILENO);
	set_steps(f, CRPC_NOTIFY_ORPHAN_PTS_MASTER, steps, N_OF(steps));
	new_runner(f, "restore", 4242, 0);
	rc = crpc_hook_runner_notify(&n, f->r, &err);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
	assert_int_equal(rc, 0);
	v = verbose_text(f);
	assert_true(has_line(v, "crpc: hook orphan-pts-master/low: /dev/null"));
	assert_true(has_line(v, "crpc: hook orphan-pts-master/low: out"));
	assert_true(has_line(v, "crpc: hook orphan-pts-master/low: err"));
	snprintf(want, sizeof(want), "crpc: hook orphan-pts-master/low: pts %s", target);
	if (!has_line(v, want))
		fail_msg("no line '%s' in:\n%s", want, v);
}

static void test_query_ext_files(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = {
		shell_step("list", "echo ' ext-a '; echo; echo ext-b; echo to-stderr >&2"),
		shell_step("broken", "echo not-this-one; exit 1"),
		shell_step("more", "printf 'ext-c'"),
	};
	crpc_notify n = make_notify(CRPC_NOTIFY_QUERY_EXT_FILES, 0, -1, "restore");
	crpc_error *err = NULL;
	char *log;

	steps[1].on_failure = CRPC_ON_FAILURE_WARN;
	set_steps(f, CRPC_NOTIFY_QUERY_EXT_FILES, steps, N_OF(steps));
	new_runner(f, "restore", 0, 0);
	/* entries another listener added stay */
	n.external = calloc(1, sizeof(char *));
	assert_non_null(n.external);
	n.external[0] = strdup("pre");
	n.n_external = 1;
	assert_int_equal(crpc_hook_runner_notify(&n, f->r, &err), 0);
	assert_null(err);
	assert_int_equal(n.n_external, 4);
	assert_string_equal(n.external[0], "pre");
	assert_string_equal(n.external[1], "ext-a");
	assert_string_equal(n.external[2], "ext-b");
	assert_string_equal(n.external[3], "ext-c");
	for (size_t i = 0; i < n.n_external; i++)
		free(n.external[i]);
	free(n.external);
	/* stderr is logged, the entries too */
	log = slurp(f, "hooks.log");
	assert_contains(log, "] query-ext-files list: to-stderr\n");
	assert_contains(log, "] query-ext-files list: external entry: ext-a\n");
	free(log);
	assert_int_equal(n_warnings(f->r), 1);
}

static void test_query_ext_files_overlong(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { shell_step("huge", "echo ok; head -c 5000 /dev/zero | tr '\\000' "
						      "x; echo; echo fine") };
	crpc_notify n = make_notify(CRPC_NOTIFY_QUERY_EXT_FILES, 0, -1, "restore");
	crpc_error *err = NULL;

	set_steps(f, CRPC_NOTIFY_QUERY_EXT_FILES, steps, N_OF(steps));
	new_runner(f, "restore", 0, 0);
	assert_int_equal(crpc_hook_runner_notify(&n, f->r, &err), -1);
	assert_contains(err->message, "printed an external entry longer than 4096 bytes");
	crpc_error_free(err);
	/* a failed step's entries are not used */
	assert_int_equal(n.n_external, 0);
	assert_null(n.external);
}

/* Sorted fd numbers a step listed with `ls /proc/self/fd`, from the verbose stream. */
static void listed_fds(struct fx *f, const char *prefix, char *out, size_t sz)
{
	const char *v = verbose_text(f);
	size_t len = strlen(prefix), pos = 0;

	out[0] = '\0';
	for (const char *p = v; p && *p;) {
		const char *nl = strchr(p, '\n');

		if (strncmp(p, prefix, len) == 0 && nl)
			pos += (size_t)snprintf(out + pos, sz - pos, "%s%.*s", pos ? " " : "",
						(int)(nl - p - (ptrdiff_t)len), p + len);
		p = nl ? nl + 1 : NULL;
	}
}

static void test_fds_not_inherited(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("fds", ARGV("/bin/ls", "/proc/self/fd")) };
	crpc_error *err = NULL;
	char fds[256];
	int leak, leak2;

	/* fds of crpc that are not close-on-exec still do not reach the step */
	leak = open("/dev/null", O_RDONLY);
	assert_true(leak >= 0);
	leak2 = dup2(leak, 50);
	assert_int_equal(leak2, 50);
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), 0);
	close(leak);
	close(leak2);
	listed_fds(f, "crpc: hook pre-dump/fds: ", fds, sizeof(fds));
	/* 0, 1, 2 and the directory ls reads */
	assert_string_equal(fds, "0 1 2 3");
}

static void test_orphan_pts_master(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = {
		shell_step("pty", "echo hello >&$CRPC_PTS_MASTER_FD"),
		run_step("fds", ARGV("/bin/ls", "/proc/self/fd")),
	};
	crpc_notify n;
	crpc_error *err = NULL;
	char buf[64] = { 0 };
	char fds[256];
	int p[2];
	ssize_t k;

	/* like the fd libcrpc receives from CRIU: close-on-exec */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	n = make_notify(CRPC_NOTIFY_ORPHAN_PTS_MASTER, 0, p[1], "restore");
	set_steps(f, CRPC_NOTIFY_ORPHAN_PTS_MASTER, steps, N_OF(steps));
	new_runner(f, "restore", 0, 0);
	assert_int_equal(crpc_hook_runner_notify(&n, f->r, &err), 0);
	assert_null(err);
	close(p[1]);
	k = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_int_equal(k, 6);
	assert_string_equal(buf, "hello\n");
	/* the pty master is fd 3, then the directory ls reads */
	listed_fds(f, "crpc: hook orphan-pts-master/fds: ", fds, sizeof(fds));
	assert_string_equal(fds, "0 1 2 3 4");
}

static void test_criu_action_script(void **state)
{
	struct fx *f = *state;
	char script[PATH_MAX + 32];
	crpc_hook_step steps[] = { run_step("criu-script", ARGV(script)) };
	crpc_error *err = NULL;
	char *text = NULL, *s;
	size_t len = 0;
	int fd;

	/* a private copy: owned by whoever runs the tests, not writable by others */
	assert_int_equal(crpc__read_file_at(AT_FDCWD, CRPC_TEST_DATA "/hooks/criu-action-script", 65536,
					    &text, &len, NULL),
			 0);
	fd = openat(f->dirfd, "action-script", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	free(text);
	snprintf(script, sizeof(script), "%s/action-script", f->real);

	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	set_steps(f, CRPC_NOTIFY_POST_DUMP, steps, N_OF(steps));
	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_POST_DUMP, 0, &err), 0);
	assert_null(err);
	s = slurp(f, "actions.txt");
	assert_string_equal(s, "pre-dump 4242\npost-dump 4242\n");
	free(s);
}

static void test_hooks_log_file(void **state)
{
	struct fx *f = *state;
	crpc_hook_context ctx = { .size = sizeof(ctx),
				  .operation = "dump",
				  .images_dir = f->real,
				  .images_dir_fd = f->dirfd };
	crpc_hook_runner *r = NULL;
	crpc_error *err = NULL;
	struct stat st;

	new_runner(f, "dump", 4242, 0);
	assert_int_equal(fstatat(f->dirfd, "hooks.log", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);

	/* a symlink planted in the images dir is not followed */
	assert_int_equal(unlinkat(f->dirfd, "hooks.log", 0), 0);
	assert_int_equal(symlinkat("/tmp/crpc-hooks-elsewhere", f->dirfd, "hooks.log"), 0);
	assert_int_equal(crpc_hook_runner_new(&r, &f->hooks, &ctx, &err), -1);
	assert_null(r);
	assert_non_null(err);
	assert_contains(err->message, "hooks.log");
	assert_int_equal(err->sys_errno, ELOOP);
	crpc_error_free(err);
	assert_int_equal(access("/tmp/crpc-hooks-elsewhere", F_OK), -1);
}

static void test_no_log_without_dir(void **state)
{
	struct fx *f = *state;
	crpc_hook_step steps[] = { run_step("true", ARGV("/bin/true")) };
	crpc_hook_context ctx = { .size = sizeof(ctx), .operation = "dump", .pid = 1, .images_dir_fd = -1 };
	crpc_hook_runner *r = NULL;
	crpc_error *err = NULL;
	crpc_notify n = make_notify(CRPC_NOTIFY_PRE_DUMP, 0, -1, "dump");

	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	assert_int_equal(crpc_hook_runner_new(&r, &f->hooks, &ctx, &err), 0);
	assert_int_equal(crpc_hook_runner_notify(&n, r, &err), 0);
	crpc_hook_runner_free(r);
	assert_false(exists(f, "hooks.log"));
}

static void test_nothing_to_run(void **state)
{
	struct fx *f = *state;
	crpc_notify n = make_notify(CRPC_NOTIFY_UNKNOWN, 5, -1, "dump");
	crpc_error *err = NULL;

	new_runner(f, "dump", 4242, 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), 0);
	n.name = "some-new-callback";
	assert_int_equal(crpc_hook_runner_notify(&n, f->r, &err), 0);
	assert_null(err);
	crpc_hook_runner_free(NULL);
	assert_non_null(crpc_hook_runner_warnings(NULL));
	assert_null(crpc_hook_runner_warnings(NULL)[0]);
	assert_null(crpc_hook_runner_warnings(f->r)[0]);
}

/* As root, run: executables must be root's and not writable by others. */
static void test_root_refuses_unsafe_executable(void **state)
{
	struct fx *f = *state;
	char script[PATH_MAX + 32], path_var[PATH_MAX + 16];
	crpc_hook_step steps[] = { run_step("script", ARGV(script)) };
	crpc_hook_step by_path[] = { run_step("by-path", ARGV("unsafe-script")) };
	crpc_error *err = NULL;
	int fd;

	if (geteuid() != 0)
		skip();
	fd = openat(f->dirfd, "unsafe-script", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
	close(fd);
	snprintf(script, sizeof(script), "%s/unsafe-script", f->real);
	snprintf(path_var, sizeof(path_var), "PATH=%s", f->real);
	by_path[0].env = ENV(path_var);
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	set_steps(f, CRPC_NOTIFY_POST_DUMP, by_path, N_OF(by_path));
	new_runner(f, "dump", 4242, 0);

	assert_int_equal(chmod(script, 0755), 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), 0);

	assert_int_equal(chmod(script, 0757), 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), -1);
	assert_contains(err->message, "was refused: crpc runs as root and will not run");
	assert_contains(err->message, "it is writable by others (mode 0757)");
	crpc_error_free(err);
	err = NULL;

	/* found on PATH: the file PATH leads to is checked */
	assert_int_equal(chmod(script, 0775), 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_POST_DUMP, 0, &err), -1);
	assert_contains(err->message, "it is writable by its group (mode 0775)");
	crpc_error_free(err);
	err = NULL;

	assert_int_equal(chmod(script, 0755), 0);
	assert_int_equal(chown(script, 65534, 65534), 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), -1);
	assert_contains(err->message, "it is owned by uid 65534, not by root");
	crpc_error_free(err);
}

/* As root, an interpreter's script is checked like an executable; code given with -c is not a file. */
static void test_root_refuses_unsafe_script(void **state)
{
	struct fx *f = *state;
	char script[PATH_MAX + 32];
	crpc_hook_step steps[] = { run_step("interp", ARGV("/bin/sh", "-e", script)) };
	crpc_hook_step inline_code[] = { run_step("inline", ARGV("/bin/sh", "-c", "exit 0")) };
	crpc_error *err = NULL;
	int fd;

	if (geteuid() != 0)
		skip();
	fd = openat(f->dirfd, "script.sh", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "exit 0\n", 7), 7);
	close(fd);
	snprintf(script, sizeof(script), "%s/script.sh", f->real);
	set_steps(f, CRPC_NOTIFY_PRE_DUMP, steps, N_OF(steps));
	set_steps(f, CRPC_NOTIFY_POST_DUMP, inline_code, N_OF(inline_code));
	new_runner(f, "dump", 4242, 0);

	if (notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err) != 0)
		fail_msg("%s", err->message);
	assert_int_equal(chown(script, 65534, 65534), 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), -1);
	assert_contains(err->message, "will not run the script");
	assert_contains(err->message, "it is owned by uid 65534, not by root");
	crpc_error_free(err);
	err = NULL;
	assert_int_equal(chown(script, 0, 0), 0);
	assert_int_equal(chmod(script, 0666), 0);
	assert_int_equal(notify(f, CRPC_NOTIFY_PRE_DUMP, 0, &err), -1);
	assert_contains(err->message, "it is writable by others (mode 0666)");
	crpc_error_free(err);
	err = NULL;
	assert_int_equal(notify(f, CRPC_NOTIFY_POST_DUMP, 0, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_true_ok),
		T(test_root_refuses_unsafe_script),
		T(test_false_aborts),
		T(test_last_lines_in_message),
		T(test_steps_in_order),
		T(test_env_dump),
		T(test_env_restore),
		T(test_env_override),
		T(test_cwd),
		T(test_cwd_missing),
		T(test_stdin_is_dev_null),
		T(test_output_logged),
		T(test_timeout_kills_group),
		T(test_timeout_sigterm_ignored),
		T(test_timeout_stopped_step),
		T(test_signal_state_reset),
		T(test_output_log_capped),
		T(test_background_keeps_pipe),
		T(test_warn_goes_on),
		T(test_ignore),
		T(test_default_aborts_where_criu_can),
		T(test_default_warns_where_criu_cannot),
		T(test_abort_where_criu_cannot),
		T(test_dispatcher_cannot_abort),
		T(test_exec_failure),
		T(test_not_on_path),
		T(test_path_of_step_env),
		T(test_script_without_interpreter),
		T(test_no_fd_leaks),
		T(test_low_fds),
		T(test_query_ext_files),
		T(test_query_ext_files_overlong),
		T(test_fds_not_inherited),
		T(test_orphan_pts_master),
		T(test_criu_action_script),
		T(test_hooks_log_file),
		T(test_no_log_without_dir),
		T(test_nothing_to_run),
		T(test_root_refuses_unsafe_executable),
#undef T
	};

	/* what steps leave behind is reparented to us, to be checked and reaped */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("prctl(PR_SET_CHILD_SUBREAPER)");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
