/* SPDX-License-Identifier: MIT */
/* cmd_restore.c - crpc restore DIR, detached or --wait. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char crpc_help_restore[] =
	"Usage: crpc restore [OPTIONS] DIR\n"
	"\n"
	"Restore the process tree checkpointed in DIR, with the PIDs it had. By default\n"
	"the tree runs detached and crpc prints the restored root's PID. With --wait,\n"
	"crpc stays the tree's parent, forwards SIGINT, SIGTERM and SIGHUP to the\n"
	"restored root and exits with the root's exit status (128+N if signal N ended\n"
	"it). Must run as root.\n"
	"\n"
	"Before calling CRIU, crpc checks that DIR holds a complete checkpoint and that\n"
	"every PID of the tree is free; a PID held by a zombie is waited for (see\n"
	"--pid-wait), a PID held by a live process fails at once, naming its command.\n"
	"\n"
	"Options:\n"
	"  -w, --wait              stay the tree's parent and exit with the root's status\n"
	"      --pid-wait SECONDS  how long to wait for zombies holding the tree's PIDs\n"
	"                          (default 5, decimals allowed, 0 to not wait)\n"
	"      --tcp-established   restore established TCP connections\n"
	"      --tcp-close         close the checkpointed TCP connections instead\n"
	"      --ext-unix-sk       allow UNIX sockets connected to processes outside the tree\n"
	"      --shell-job         restore a tree started from a shell (attach it to this\n"
	"                          terminal and session)\n"
	"      --file-locks        restore file locks\n"
	"      --link-remap        allow files that were open but unlinked at dump time\n"
	"      --manage-cgroups[=MODE]\n"
	"                          restore cgroups; MODE is none, props, soft, full,\n"
	"                          strict, ignore or default (give it with '=')\n"
	"      --external RES      resource RES is external, e.g. 'mnt[data]:/srv/data'\n"
	"                          (repeatable)\n"
	"      --log-level N       CRIU log level 0-4 (default 4), log in DIR/restore.log\n"
	"      --hook CALLBACK=COMMAND\n"
	"                          also run COMMAND (through /bin/sh) at CRIU's CALLBACK,\n"
	"                          e.g. --hook post-restore='logger restored' (repeatable)\n"
	CRPC_CLI_HELP_COMMON
	"\n"
	"Examples:\n"
	"  crpc restore /var/tmp/ckpt\n"
	"  crpc restore --wait /var/tmp/ckpt; echo \"exit status $?\"\n"
	"  crpc restore --json --pid-wait 10 /var/tmp/ckpt\n"
	"\n" CRPC_CLI_HELP_EXIT_CODES
	"With --wait, once the tree is restored the exit code is the restored root's.\n"
	"A signal crpc was started with as ignored (e.g. SIGINT in a background job of\n"
	"a script) stays ignored and is not forwarded.\n";

enum {
	OPT_PID_WAIT = CLI_OPT_FIRST_CMD,
	OPT_TCP_ESTABLISHED,
	OPT_TCP_CLOSE,
	OPT_EXT_UNIX_SK,
	OPT_SHELL_JOB,
	OPT_FILE_LOCKS,
	OPT_LINK_REMAP,
	OPT_MANAGE_CGROUPS,
	OPT_EXTERNAL,
	OPT_LOG_LEVEL,
	OPT_HOOK,
};

static const struct option restore_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	{ "wait", no_argument, NULL, 'w' },
	{ "pid-wait", required_argument, NULL, OPT_PID_WAIT },
	{ "tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED },
	{ "tcp-close", no_argument, NULL, OPT_TCP_CLOSE },
	{ "ext-unix-sk", no_argument, NULL, OPT_EXT_UNIX_SK },
	{ "shell-job", no_argument, NULL, OPT_SHELL_JOB },
	{ "file-locks", no_argument, NULL, OPT_FILE_LOCKS },
	{ "link-remap", no_argument, NULL, OPT_LINK_REMAP },
	{ "manage-cgroups", optional_argument, NULL, OPT_MANAGE_CGROUPS },
	{ "external", required_argument, NULL, OPT_EXTERNAL },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "hook", required_argument, NULL, OPT_HOOK },
	{ NULL, 0, NULL, 0 },
};

#define RESTORE_LOG "restore.log"
#define PID_WAIT_MAX_S 3600.0

typedef struct restore_ctx {
	crpc_cli *cli;
	const char *dir;
	char *dir_real;
	int dirfd;
	bool wait;
	unsigned pid_wait_ms;
	crpc_opts opts;
	crpc_pstree tree;
	bool have_tree;
	pid_t root;
} restore_ctx;

/* "5", "0.5", "2.", ".25": digits and at most one dot, nothing else. */
static int parse_seconds(const char *s, unsigned *ms)
{
	bool digit = false, dot = false;
	char *end;
	double v;

	for (const char *p = s; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digit = true;
		else if (*p == '.' && !dot)
			dot = true;
		else
			return -1;
	}
	if (!digit)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0 || v > PID_WAIT_MAX_S)
		return -1;
	*ms = (unsigned)(v * 1000.0 + 0.5);
	return 0;
}

static json_t *pids_json(const crpc_pstree *t)
{
	json_t *a = crpc_cli_jarray();

	for (size_t i = 0; i < t->n_tasks; i++)
		crpc_cli_jappend(a, json_integer(t->tasks[i].pid));
	return a;
}

static json_t *base_json(restore_ctx *c)
{
	json_t *o = crpc_cli_jobj();

	crpc_cli_jset(o, "images_dir", crpc_cli_jstr(c->dir_real ? c->dir_real : c->dir));
	return o;
}

static int fail(restore_ctx *c, crpc_error *err)
{
	int rc = crpc_cli_fail(c->cli, err, base_json(c), NULL);

	crpc_error_free(err);
	return rc;
}

/* Checks that change nothing: DIR, its images, the tree's PIDs. */
static int check_dir(restore_ctx *c, const char *op, crpc_error **err)
{
	struct stat st;

	if (stat(c->dir, &st) < 0) {
		if (errno == ENOENT)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOENT, op, "%s does not exist", c->dir);
		if (errno == ENOTDIR)
			return crpc_error_set(err, CRPC_EXIT_USAGE, ENOTDIR, op,
					      "%s: a component of the path is not a directory", c->dir);
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot access %s", c->dir);
	}
	if (!S_ISDIR(st.st_mode))
		return crpc_error_set(err, CRPC_EXIT_USAGE, ENOTDIR, op, "%s is not a directory", c->dir);
	c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot open %s", c->dir);
	c->dir_real = realpath(c->dir, NULL);
	if (crpc_images_check(c->dirfd, c->dir, err) < 0)
		return -1;
	if (crpc_pstree_read(c->dirfd, &c->tree, err) < 0)
		return -1;
	c->have_tree = true;
	if (c->tree.n_tasks == 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, op,
				      "%s/pstree.img holds no process", c->dir);
	return 0;
}

static void summary(restore_ctx *c, crpc_session *s, double wall, const crpc_restore_result *res,
		    json_t **doc_out)
{
	crpc_error *e = NULL;
	crpc_stats st;
	uint64_t bytes = 0;
	bool have_size, have_stats;
	const char *dir = c->dir_real ? c->dir_real : c->dir;
	char logp[PATH_MAX + 16], sz[32], tm[32];
	FILE *out = c->wait ? stderr : stdout;

	memset(&st, 0, sizeof(st));
	have_size = crpc_cli_images_bytes(c->dirfd, &bytes, &e) == 0;
	crpc_error_free(e);
	e = NULL;
	have_stats = crpc_stats_read(c->dirfd, "stats-restore", &st, &e) == 0 && st.have_restore;
	if (!have_stats)
		crpc_cli_info(c->cli, "no CRIU statistics: %s",
			      e && e->message ? e->message : "none in stats-restore");
	crpc_error_free(e);
	snprintf(logp, sizeof(logp), "%s/%s", dir, c->opts.log_file);

	if (c->cli->json) {
		json_t *doc = crpc_cli_jobj();

		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "operation", crpc_cli_jstr("restore"));
		crpc_cli_jset(doc, "pid", json_integer(res->pid));
		crpc_cli_jset(doc, "pids", pids_json(&c->tree));
		crpc_cli_jset(doc, "images_dir", crpc_cli_jstr(dir));
		crpc_cli_jset(doc, "image_bytes", have_size ? json_integer((json_int_t)bytes) : json_null());
		crpc_cli_jset(doc, "wall_time_ms", json_real(wall * 1e3));
		crpc_cli_jset(doc, "log_file", crpc_cli_jstr(logp));
		crpc_cli_jset(doc, "notifications", json_integer(res->notifications));
		crpc_cli_jset(doc, "criu", crpc_cli_json_criu(s));
		crpc_cli_jset(doc, "stats", have_stats ? crpc_cli_stats_json(&st, true) : json_null());
		crpc_cli_jset(doc, "wait", json_boolean(c->wait));
		*doc_out = doc;
		return;
	}
	crpc_cli_fmt_seconds(wall, tm, sizeof(tm));
	if (have_size)
		crpc_cli_fmt_size(bytes, sz, sizeof(sz));
	else
		snprintf(sz, sizeof(sz), "unknown");
	fprintf(out, "Restored PID %d from %s\n", (int)res->pid, dir);
	if (c->tree.n_tasks > 1) {
		fprintf(out, "  processes:     %zu (", c->tree.n_tasks);
		for (size_t i = 0; i < c->tree.n_tasks; i++)
			fprintf(out, "%s%d", i ? " " : "", (int)c->tree.tasks[i].pid);
		fprintf(out, ")\n");
	}
	fprintf(out, "  image size:    %s\n", sz);
	fprintf(out, "  wall time:     %s\n", tm);
	if (have_stats)
		crpc_cli_stats_print(out, &st, true);
	fprintf(out, "  log:           %s\n", logp);
	fflush(out);
}

/* Record the exit of the root in the JSON document; return the exit code. */
static int root_status(restore_ctx *c, int status, json_t *doc)
{
	int code;

	if (WIFEXITED(status)) {
		code = WEXITSTATUS(status);
		crpc_cli_info(c->cli, "PID %d exited with status %d", (int)c->root, code);
		crpc_cli_jset(doc, "exit_status", json_integer(code));
		crpc_cli_jset(doc, "signal", json_null());
	} else {
		int sig = WTERMSIG(status);
		const char *abbrev = sigabbrev_np(sig);
		char name[32];

		code = 128 + sig;
		snprintf(name, sizeof(name), "SIG%s", abbrev ? abbrev : "?");
		crpc_cli_info(c->cli, "PID %d was killed by signal %d (%s)", (int)c->root, sig, name);
		crpc_cli_jset(doc, "exit_status", json_integer(code));
		crpc_cli_jset(doc, "signal", crpc_cli_jstr(name));
	}
	return code;
}

/*
 * --wait: forward signals to the root and wait for it. The signals were
 * blocked before the restore, so none is lost. Orphans of the tree that
 * crpc adopts as subreaper are reaped along the way.
 */
static int wait_root(restore_ctx *c, const sigset_t *set, json_t *doc, crpc_error **err)
{
	int status = 0;
	pid_t w;

	w = waitpid(c->root, &status, WNOHANG);
	if (w < 0 && errno == ECHILD)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ECHILD, "restore",
				      "the restored PID %d is not crpc's child; cannot wait for it",
				      (int)c->root);
	if (w == c->root)
		return root_status(c, status, doc);
	for (;;) {
		siginfo_t si;
		int sig;

		/* reap whatever ended: the root, or adopted orphans of the tree */
		for (;;) {
			int st;

			w = waitpid(-1, &st, WNOHANG);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			if (w == c->root)
				return root_status(c, st, doc);
			crpc_cli_info(c->cli, "reaped adopted process %d", (int)w);
		}
		if (w < 0 && errno == ECHILD)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ECHILD, "restore",
					      "lost track of the restored PID %d", (int)c->root);
		sig = sigwaitinfo(set, &si);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "restore", "sigwaitinfo failed");
		}
		if (sig == SIGCHLD)
			continue;
		if (kill(c->root, sig) < 0) {
			if (errno != ESRCH)
				crpc_cli_warn(c->cli, "cannot forward SIG%s to PID %d: %s", sigabbrev_np(sig),
					      (int)c->root, strerror(errno));
		} else {
			crpc_cli_info(c->cli, "forwarded SIG%s to PID %d", sigabbrev_np(sig), (int)c->root);
		}
	}
}

static int parse_log_level(crpc_cli *cli, const char *s, int *out)
{
	unsigned long v;

	if (crpc_cli_parse_ulong(s, 4, &v) < 0) {
		crpc_cli_usage_errorf(cli, "invalid --log-level '%s': must be 0, 1, 2, 3 or 4", s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int crpc_cmd_restore(crpc_cli *cli, int argc, char **argv)
{
	restore_ctx c;
	crpc_session *s = NULL;
	crpc_dispatcher *d = NULL;
	crpc_error *err = NULL;
	crpc_restore_result res;
	json_t *doc = NULL;
	crpc_hook_runner *runner = NULL;
	bool hook_failed = false;
	sigset_t set;
	char op[PATH_MAX + 32];
	double t0, wall;
	int rc, opt;

	memset(&c, 0, sizeof(c));
	c.cli = cli;
	c.dirfd = -1;
	c.pid_wait_ms = 5000;
	crpc_opts_init(&c.opts); /* log level and file: defaults once the configuration is read */
	cli->usage = "crpc restore [OPTIONS] DIR";

	while ((opt = crpc_cli_getopt(cli, argc, argv, ":hvw", restore_options)) != -1) {
		crpc_error *perr = NULL;

		switch (opt) {
		case 'w':
			c.wait = true;
			break;
		case OPT_PID_WAIT:
			if (parse_seconds(optarg, &c.pid_wait_ms) < 0)
				crpc_cli_usage_errorf(cli,
						      "invalid --pid-wait '%s': must be a number of "
						      "seconds from 0 to %.0f",
						      optarg, PID_WAIT_MAX_S);
			break;
		case OPT_TCP_ESTABLISHED:
			c.opts.tcp_established = true;
			break;
		case OPT_TCP_CLOSE:
			c.opts.tcp_close = true;
			break;
		case OPT_EXT_UNIX_SK:
			c.opts.ext_unix_sk = true;
			break;
		case OPT_SHELL_JOB:
			c.opts.shell_job = true;
			break;
		case OPT_FILE_LOCKS:
			c.opts.file_locks = true;
			break;
		case OPT_LINK_REMAP:
			c.opts.link_remap = true;
			break;
		case OPT_MANAGE_CGROUPS:
			if (crpc_parse_cg_mode(optarg, &c.opts.manage_cgroups_mode, &perr) < 0) {
				crpc_cli_usage_errorf(cli, "--manage-cgroups: %s",
						      perr && perr->message ? perr->message
									    : "invalid mode");
				break;
			}
			c.opts.manage_cgroups = true;
			break;
		case OPT_EXTERNAL:
			if (!*optarg)
				crpc_cli_usage_errorf(cli, "--external needs a resource, e.g. 'mnt[data]:/srv/data'");
			else if (crpc_opts_add_external(&c.opts, optarg, &perr) < 0)
				crpc_cli_usage_errorf(cli, "cannot add --external '%s': out of memory", optarg);
			break;
		case OPT_LOG_LEVEL:
			parse_log_level(cli, optarg, &c.opts.log_level);
			break;
		case OPT_HOOK:
			crpc_cli_add_hook_arg(cli, optarg);
			break;
		default:
			crpc_cli_usage_errorf(cli, "unhandled option");
			break;
		}
		crpc_error_free(perr);
	}
	if (crpc_cli_early_exit(cli, crpc_help_restore, &rc))
		goto out;
	if (argc - optind < 1) {
		rc = crpc_cli_usage(cli, true, "missing DIR");
		goto out;
	}
	if (argc - optind > 1) {
		rc = crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind + 1]);
		goto out;
	}
	c.dir = argv[optind];
	snprintf(cli->trace_target, sizeof(cli->trace_target), "%s", c.dir);
	if (!*c.dir) {
		rc = crpc_cli_usage(cli, true, "DIR must not be empty");
		goto out;
	}
	snprintf(op, sizeof(op), "restore from %s", c.dir);

	/* the configuration: its restore: options under the command line's */
	if (crpc_cli_effective_opts(cli, &c.opts, &cli->config.restore, RESTORE_LOG, &err) < 0) {
		rc = fail(&c, err);
		goto out;
	}

	if (crpc_cli_need_root(cli, op, &err) < 0 || check_dir(&c, op, &err) < 0 ||
	    crpc_cli_dispatcher(cli, &d, &err) < 0) {
		rc = fail(&c, err);
		goto out;
	}

	if (c.wait) {
		/*
		 * Block the signals to forward (and SIGCHLD) before anything is
		 * restored, so none is lost; they are taken with sigwaitinfo().
		 * CRIU starts with a clean mask (libcrpc resets it in the child).
		 */
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGHUP);
		sigaddset(&set, SIGCHLD);
		if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
			crpc_error_set(&err, CRPC_EXIT_FAIL, errno, op, "cannot block signals");
			rc = fail(&c, err);
			goto out;
		}
		if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
			crpc_error_set(&err, CRPC_EXIT_FAIL, errno, op, "cannot become a subreaper");
			rc = fail(&c, err);
			goto out;
		}
		c.opts.rst_sibling = true;
	}

	/* every PID of the tree must be free (zombies are waited for) */
	if (crpc_pstree_pids_free(&c.tree, c.pid_wait_ms, &err) < 0) {
		rc = fail(&c, err);
		goto out;
	}
	t0 = crpc_cli_now();
	if (crpc_cli_session_open(cli, &s, &err) < 0 ||
	    crpc_opts_check_version(&c.opts, crpc_session_version(s), &err) < 0) {
		rc = fail(&c, err);
		goto out;
	}
	c.opts.images_dir_fd = c.dirfd;
	if (crpc_cli_hooks_attach(cli, &d, "restore", 0, c.dir_real ? c.dir_real : c.dir, c.dirfd,
				  &runner, &err) < 0) {
		rc = fail(&c, err);
		goto out;
	}
	crpc_cli_print_opts(cli, "restore", &c.opts, c.dir_real ? c.dir_real : c.dir);
	crpc_cli_info(cli, "restoring %zu process(es) from %s, root PID %d", c.tree.n_tasks, c.dir,
		      (int)c.tree.tasks[0].pid);

	rc = crpc_session_restore(s, &c.opts, d, &res, &err);
	hook_failed = crpc_cli_hook_warnings(cli, d, runner);
	if (rc < 0) {
		/* libcrpc attached CRIU's log and classified the failure */
		crpc_cli_diagnose_criu(cli, err);
		rc = fail(&c, err);
		goto out;
	}
	wall = crpc_cli_now() - t0;
	c.root = res.pid;
	summary(&c, s, wall, &res, &doc);
	/* CRIU has ended; closing reaps it before any waitpid(-1) below */
	crpc_session_close(s);
	s = NULL;

	if (!c.wait) {
		rc = hook_failed ? CLI_EXIT_HOOK_WARNING : 0;
		if (doc && crpc_cli_emit(doc) < 0)
			rc = CRPC_EXIT_FAIL;
		doc = NULL;
		goto out;
	}
	if (!doc)
		doc = crpc_cli_jobj(); /* collects the exit status; printed only with --json */
	rc = wait_root(&c, &set, doc, &err);
	if (rc < 0) {
		json_decref(doc);
		doc = NULL;
		rc = fail(&c, err);
		goto out;
	}
	if (cli->json && crpc_cli_emit(doc) < 0 && rc == 0)
		rc = CRPC_EXIT_FAIL;
	if (!cli->json)
		json_decref(doc);
	doc = NULL;

out:
	json_decref(doc);
	crpc_session_close(s);
	crpc_dispatcher_free(d);
	crpc_hook_runner_free(runner);
	crpc_cli_config_release(cli);
	crpc_opts_release(&c.opts);
	if (c.have_tree)
		crpc_pstree_release(&c.tree);
	if (c.dirfd >= 0)
		close(c.dirfd);
	free(c.dir_real);
	return rc;
}
