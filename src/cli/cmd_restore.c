/* SPDX-License-Identifier: MIT */
/* cmd_restore.c - crpc restore DIR, detached or --wait. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "base/jsonutil.h"

const char crpc_help_restore[] =
	"Usage: crpc restore [OPTIONS] DIR\n"
	"\n"
	"Restore the process tree checkpointed in DIR, with the PIDs it had. By default\n"
	"the tree runs detached and crpc prints the restored root's PID. With --wait,\n"
	"crpc stays the tree's parent, forwards SIGINT, SIGTERM and SIGHUP to the\n"
	"restored root and exits with the root's exit status (128+N if signal N ended\n"
	"it). Must run as root.\n"
	"\n"
	"Before calling CRIU, crpc verifies the checkpoint against its manifest,\n"
	"DIR/crpc.json, written by crpc dump once the dump was complete: every image\n"
	"file must be there with the size and SHA-256 the manifest lists, and no image\n"
	"file may be added. A checkpoint without crpc.json (an interrupted dump, a\n"
	"plain `criu dump`) or with a changed file is refused (exit 1) unless --force\n"
	"is given. crpc also checks that every PID of the tree is free; a PID held by\n"
	"a zombie is waited for (see --pid-wait), a PID held by a live process fails\n"
	"at once, naming its command.\n"
	"\n"
	"The options the dump needed are taken from crpc.json: the restore-side\n"
	"counterparts of tcp_established, tcp_close, ext_unix_sk, shell_job,\n"
	"file_locks, manage_cgroups, network_lock and empty_ns, each printed as\n"
	"'crpc: from the checkpoint: OPTION (dump: REASON)'. What you set on the\n"
	"command line or in the configuration wins (--tcp-close keeps\n"
	"tcp_established off); --no-checkpoint-options turns this off. A pipe the\n"
	"tree shared with a process outside it (e.g. its stdout read by `cat`) is\n"
	"given back to the restored tree when that process still holds it. A UNIX\n"
	"socket the dump declared external (its peer was outside the tree) needs a\n"
	"replacement: --inherit-fd 'fd[N]:socket:[INODE]'; without one the restore\n"
	"is refused before CRIU runs.\n"
	"\n"
	"Options:\n"
	"  -w, --wait              stay the tree's parent and exit with the root's status\n"
	"      --pid-wait SECONDS  how long to wait for zombies holding the tree's PIDs\n"
	"                          (default 5, decimals allowed, 0 to not wait)\n"
	CRPC_OPTS_TABLE(CLI_HELP_RESTORE)
	"      --no-checkpoint-options\n"
	"                          take no option from the checkpoint's crpc.json and\n"
	"                          re-attach no pipe: only what is given here and in\n"
	"                          the configuration\n"
	CRPC_OPTS_TABLE(CLI_HELP_RESTORE_LAST)
	"      --force             restore without verifying the checkpoint against its\n"
	"                          manifest (crpc.json): missing, unfinished or modified\n"
	"                          checkpoints are accepted\n"
	"      --hook CALLBACK=COMMAND\n"
	"                          also run COMMAND (through /bin/sh) at CRIU's CALLBACK,\n"
	"                          e.g. --hook post-restore='logger restored' (repeatable)\n"
	CRPC_CLI_HELP_COMMON
	"\n"
	"Examples:\n"
	"  crpc restore /var/tmp/ckpt\n"
	"  crpc restore --wait /var/tmp/ckpt; echo \"exit status $?\"\n"
	"  crpc restore --json --pid-wait 10 /var/tmp/ckpt\n"
	"  crpc restore --force /var/tmp/images-of-criu-dump\n"
	"\n" CRPC_CLI_HELP_EXIT_CODES
	"With --wait, once the tree is restored the exit code is the restored root's.\n"
	"A signal crpc was started with as ignored (e.g. SIGINT in a background job of\n"
	"a script) stays ignored and is not forwarded.\n";

enum {
	OPT_PID_WAIT = CLI_OPT_FIRST_CMD,
	OPT_HOOK,
	OPT_FORCE,
	OPT_NO_CKPT_OPTS,
};

static const struct option restore_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	{ "wait", no_argument, NULL, 'w' },
	{ "pid-wait", required_argument, NULL, OPT_PID_WAIT },
	CRPC_OPTS_TABLE(CLI_LONGOPTS_RESTORE)
	CRPC_OPTS_TABLE(CLI_LONGOPTS_RESTORE_LAST)
	{ "hook", required_argument, NULL, OPT_HOOK },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "no-checkpoint-options", no_argument, NULL, OPT_NO_CKPT_OPTS },
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
	bool force;                /* --force: no verification */
	crpc_manifest_check check; /* the verification against crpc.json */
	bool checked;
	bool no_ckpt_opts;         /* --no-checkpoint-options */
	bool have_manifest;        /* crpc.json was read */
	crpc_manifest manifest;
	crpc_manifest_options applied;     /* options taken from the checkpoint */
	crpc_manifest_options not_applied; /* the dump's others, each with why not */
	crpc_pipe_attachments pipes;       /* outside pipes: re-attached or why not */
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

/* [{"option", "value", "source", "reason"}]: reason is the dump's, or why not applied. */
static json_t *ckpt_options_json(const crpc_manifest_options *l, const char *why_key)
{
	json_t *a = crpc_cli_jarray();

	for (size_t i = 0; i < l->n; i++) {
		json_t *o = crpc_cli_jobj();

		crpc_cli_jset(o, "option", crpc_cli_jstr(l->v[i].option));
		crpc_cli_jset(o, "value", crpc_json_option_value(l->v[i].value));
		crpc_cli_jset(o, "source", crpc_cli_jstr(l->v[i].source));
		crpc_cli_jset(o, why_key, crpc_cli_jstr(l->v[i].reason));
		crpc_cli_jappend(a, o);
	}
	return a;
}

static json_t *holder_json(const crpc_manifest_pipe_holder *h)
{
	json_t *o = crpc_cli_jobj();

	crpc_cli_jset(o, "pid", json_integer(h->pid));
	crpc_cli_jset(o, "fd", json_integer(h->fd));
	crpc_cli_jset(o, "comm", crpc_cli_jstr(h->comm[0] ? h->comm : NULL));
	return o;
}

/* The outside pipes: [{"key", "inode", "tree_end", "reattached", "holder", "why"}]. */
static json_t *pipes_json(const crpc_pipe_attachments *p)
{
	json_t *a = crpc_cli_jarray();

	for (size_t i = 0; i < p->n; i++) {
		const crpc_pipe_attach *x = &p->v[i];
		json_t *o = crpc_cli_jobj();

		crpc_cli_jset(o, "key", crpc_cli_jstr(x->key));
		crpc_cli_jset(o, "inode", json_integer(x->inode));
		crpc_cli_jset(o, "tree_end", crpc_cli_jstr(x->tree_writes ? "write" : "read"));
		crpc_cli_jset(o, "reattached", json_boolean(x->reattached));
		crpc_cli_jset(o, "by_user", json_boolean(x->user));
		crpc_cli_jset(o, "holder", x->holder.pid > 0 ? holder_json(&x->holder) : json_null());
		crpc_cli_jset(o, "why", crpc_cli_jstr(!x->reattached && !x->user ? x->why : NULL));
		crpc_cli_jappend(a, o);
	}
	return a;
}

/* What the restore took from the checkpoint, into a JSON document. */
static void ckpt_json(const restore_ctx *c, json_t *doc)
{
	crpc_cli_jset(doc, "checkpoint_options", ckpt_options_json(&c->applied, "reason"));
	crpc_cli_jset(doc, "checkpoint_options_not_applied", ckpt_options_json(&c->not_applied, "why"));
	crpc_cli_jset(doc, "outside_pipes", pipes_json(&c->pipes));
}

static json_t *base_json(restore_ctx *c)
{
	json_t *o = crpc_cli_jobj();

	crpc_cli_jset(o, "images_dir", crpc_cli_jstr(c->dir_real ? c->dir_real : c->dir));
	if (c->checked && c->check.verdict != CRPC_MANIFEST_OK)
		crpc_cli_jset(o, "verification", crpc_cli_check_json(&c->check));
	ckpt_json(c, o);
	return o;
}

/* Every problem after the first (the error names that one), for stderr. */
static void print_more_problems(const restore_ctx *c)
{
	for (size_t i = 1; i < c->check.n_mismatches; i++) {
		const crpc_file_mismatch *m = &c->check.mismatches[i];

		switch (m->problem) {
		case CRPC_FILE_CHECKSUM:
			if (strcmp(m->name, CRPC_MANIFEST_NAME) == 0)
				fprintf(stderr, "  also: %s was changed after the dump (it records sha256 %s "
						"of its content, the content has %s)\n",
					m->name, m->expected_sha256, m->sha256);
			else
				fprintf(stderr, "  also: %s sha256 mismatch (expected %s, got %s)\n", m->name,
					m->expected_sha256, m->sha256);
			break;
		case CRPC_FILE_SIZE:
			fprintf(stderr, "  also: %s has %llu bytes, crpc.json lists %llu\n", m->name,
				(unsigned long long)m->size, (unsigned long long)m->expected_size);
			break;
		default:
			fprintf(stderr, "  also: %s: %s\n", m->name, crpc_file_problem_name(m->problem));
			break;
		}
	}
}

static int fail(restore_ctx *c, crpc_error *err)
{
	int rc;

	if (c->checked && c->check.n_mismatches > 1 && !c->cli->json)
		print_more_problems(c);
	rc = crpc_cli_fail(c->cli, err, base_json(c), NULL);

	crpc_error_free(err);
	return rc;
}

/* Checks that change nothing: DIR, its images, the tree's PIDs. */
static int check_dir(restore_ctx *c, const char *op, crpc_error **err)
{
	struct stat st;

	if (stat(c->dir, &st) < 0) {
		if (errno == ENOENT) {
			char *left = crpc_dumpdir_leftover(c->dir);

			crpc_error_set(err, CRPC_EXIT_FAIL, ENOENT, op, "%s does not exist", c->dir);
			if (left && *err)
				crpc_error_set_hint(*err,
						    "an interrupted dump into %s left %s, which is not a "
						    "usable checkpoint: dump again",
						    c->dir, left);
			free(left);
			return -1;
		}
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
	if (!c->force) {
		/* what the restore itself writes into DIR is no image the manifest lacks */
		const char *const ignore[] = { c->opts.log_file ? c->opts.log_file : RESTORE_LOG, NULL };

		c->checked = true;
		if (crpc_manifest_verify(c->dirfd, c->dir, ignore, &c->check, err) < 0)
			return -1;
		crpc_cli_info(c->cli, "verified %zu files (%llu bytes) against %s in %.1f ms",
			      c->check.st.files, (unsigned long long)c->check.st.bytes,
			      CRPC_MANIFEST_NAME, c->check.st.hash_seconds * 1e3);
	} else {
		crpc_cli_info(c->cli, "--force: not verifying %s against %s", c->dir, CRPC_MANIFEST_NAME);
	}
	if (crpc_images_validate(c->dirfd, c->dir, c->force, err) < 0)
		return -1;
	if (crpc_pstree_read(c->dirfd, &c->tree, err) < 0)
		return -1;
	c->have_tree = true;
	if (c->tree.n_tasks == 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, op,
				      "%s/pstree.img holds no process", c->dir);
	return 0;
}

/* "given by the user", "from the configuration", "automatic": how the dump got an option. */
static const char *source_words(const char *source)
{
	if (source && strcmp(source, "config") == 0)
		return "from the configuration";
	if (source && strcmp(source, "auto") == 0)
		return "set automatically";
	if (source && strcmp(source, "default") == 0)
		return "crpc's default";
	return "given by the user";
}

/*
 * The options the dump needed: read crpc.json (when there is one) and
 * apply the restore-side counterparts of its options that the user did
 * not set; refuse a socket the dump declared external that has no
 * replacement. Printed for humans; listed in the JSON.
 */
static int checkpoint_options(restore_ctx *c, crpc_error **err)
{
	crpc_error *e = NULL;

	if (crpc_manifest_load(c->dirfd, &c->manifest, &e) < 0) {
		/* only --force gets here without a readable manifest */
		if (e && e->sys_errno == ENOENT)
			crpc_cli_info(c->cli, "no options from the checkpoint: it has no %s", CRPC_MANIFEST_NAME);
		else
			crpc_cli_warn(c->cli, "no options from the checkpoint: %s",
				      e && e->message ? e->message : "its manifest cannot be read");
		crpc_error_free(e);
		return 0;
	}
	c->have_manifest = true;
	if (c->no_ckpt_opts) {
		crpc_cli_info(c->cli, "--no-checkpoint-options: %zu option(s) of the dump and %zu outside "
				      "pipe(s) in %s are left alone",
			      c->manifest.options.n, c->manifest.n_outside_pipes, CRPC_MANIFEST_NAME);
		return 0;
	}
	if (crpc_manifest_check_externals(&c->manifest, &c->opts, err) < 0)
		return -1;
	if (c->opts.ext_unix_sk)
		for (size_t i = 0; i < c->manifest.options.n; i++) {
			const crpc_manifest_option *o = &c->manifest.options.v[i];

			if (strcmp(o->option, "external") == 0 && o->value && strncmp(o->value, "unix[", 5) == 0)
				crpc_cli_warn(c->cli,
					      "--ext-unix-sk: socket %s of the checkpoint, connected outside the "
					      "tree at the dump, is restored unconnected",
					      o->value);
		}
	if (crpc_manifest_restore_opts(&c->manifest, &c->opts, &c->applied, &c->not_applied, err) < 0)
		return -1;
	for (size_t i = 0; i < c->applied.n; i++) {
		const crpc_manifest_option *o = &c->applied.v[i];
		bool flag = o->value && strcmp(o->value, "true") == 0;

		if (c->cli->json)
			continue;
		fprintf(stderr, "crpc: from the checkpoint: %s%s%s (dump: %s)\n", o->option, flag ? "" : "=",
			flag ? "" : (o->value ? o->value : ""), o->reason ? o->reason : source_words(o->source));
	}
	for (size_t i = 0; i < c->not_applied.n; i++) {
		const crpc_manifest_option *o = &c->not_applied.v[i];

		crpc_cli_info(c->cli, "not from the checkpoint: %s=%s: %s", o->option, o->value ? o->value : "",
			      o->reason);
	}
	return 0;
}

/*
 * Right before CRIU starts: give the tree back the pipes it shared with
 * processes outside it, from those that still hold them.
 */
static int reattach_pipes(restore_ctx *c, crpc_error **err)
{
	if (!c->have_manifest || c->no_ckpt_opts)
		return 0;
	if (crpc_manifest_reattach_pipes(&c->manifest, &c->opts, &c->pipes, err) < 0)
		return -1;
	for (size_t i = 0; i < c->pipes.n; i++) {
		const crpc_pipe_attach *a = &c->pipes.v[i];
		const char *end = a->tree_writes ? "write" : "read";

		if (a->user) {
			crpc_cli_info(c->cli, "%s: passed by you with inherit_fd", a->key);
		} else if (a->reattached) {
			if (!c->cli->json)
				fprintf(stderr,
					"crpc: re-attached %s (the tree's %s end) to the pipe of PID %d (%s) "
					"fd %d, as at the dump\n",
					a->key, end, (int)a->holder.pid, a->holder.comm[0] ? a->holder.comm : "?",
					a->holder.fd);
		} else {
			crpc_cli_warn(c->cli,
				      "%s (the tree's %s end, shared with PID %d (%s) at the dump) is not "
				      "re-attached: %s; the restored tree gets a new pipe with no %s",
				      a->key, end, (int)a->holder.pid, a->holder.comm[0] ? a->holder.comm : "?",
				      a->why, a->tree_writes ? "reader" : "writer");
		}
	}
	for (size_t i = 0; i < c->opts.n_inherit_fd; i++)
		crpc_cli_info(c->cli, "inherit fd %d as %s", c->opts.inherit_fd[i].fd, c->opts.inherit_fd[i].key);
	return 0;
}

/* --inherit-fd fd[N]:KEY (CRIU's form): N must be open, 3 or above. */
static int parse_inherit_fd(restore_ctx *c, char *arg)
{
	char *end;
	long fd;
	int fl;

	if (strncmp(arg, "fd[", 3) != 0 || arg[3] < '0' || arg[3] > '9') {
		crpc_cli_usage_errorf(c->cli, "invalid --inherit-fd '%s': expected fd[N]:KEY, e.g. "
					      "'fd[3]:socket:[12345]'",
				      arg);
		return -1;
	}
	errno = 0;
	fd = strtol(arg + 3, &end, 10);
	if (errno || fd > INT_MAX || strncmp(end, "]:", 2) != 0 || !end[2]) {
		crpc_cli_usage_errorf(c->cli, "invalid --inherit-fd '%s': expected fd[N]:KEY, e.g. "
					      "'fd[3]:socket:[12345]'",
				      arg);
		return -1;
	}
	if (fd < 3) {
		crpc_cli_usage_errorf(c->cli, "--inherit-fd '%s': fd %ld cannot be passed (CRIU's stdin, "
					      "stdout and stderr are its own): use 3 or above",
				      arg, fd);
		return -1;
	}
	fl = fcntl((int)fd, F_GETFD);
	if (fl < 0) {
		crpc_cli_usage_errorf(c->cli, "--inherit-fd '%s': fd %ld is not open in crpc (open it in "
					      "the shell, e.g. %ld<>PATH)",
				      arg, fd, fd);
		return -1;
	}
	/* CRIU, started later, must inherit it */
	if ((fl & FD_CLOEXEC) && fcntl((int)fd, F_SETFD, fl & ~FD_CLOEXEC) < 0) {
		crpc_cli_usage_errorf(c->cli, "--inherit-fd '%s': cannot pass fd %ld: %s", arg, fd,
				      strerror(errno));
		return -1;
	}
	if (crpc_opts_add_inherit_fd(&c->opts, end + 2, (int)fd, NULL) < 0) {
		crpc_cli_usage_errorf(c->cli, "cannot add --inherit-fd '%s': out of memory", arg);
		return -1;
	}
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
		ckpt_json(c, doc);
		if (c->checked) {
			json_t *v = crpc_cli_jobj();

			crpc_cli_jset(v, "files", json_integer((json_int_t)c->check.st.files));
			crpc_cli_jset(v, "bytes", json_integer((json_int_t)c->check.st.bytes));
			crpc_cli_jset(v, "hash_time_ms", json_real(c->check.st.hash_seconds * 1e3));
			crpc_cli_jset(doc, "verified", v);
		} else {
			crpc_cli_jset(doc, "verified", json_null());
		}
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
	if (c->checked) {
		char vb[32], vt[32];

		crpc_cli_fmt_size(c->check.st.bytes, vb, sizeof(vb));
		crpc_cli_fmt_seconds(c->check.st.hash_seconds, vt, sizeof(vt));
		fprintf(out, "  verified:      %zu files (%s) against %s, sha256 in %s\n", c->check.st.files,
			vb, CRPC_MANIFEST_NAME, vt);
	} else {
		fprintf(out, "  verified:      no (--force)\n");
	}
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
		case OPT_HOOK:
			crpc_cli_add_hook_arg(cli, optarg);
			break;
		case OPT_FORCE:
			c.force = true;
			break;
		case CLI_OPT_ID(inherit_fd):
			parse_inherit_fd(&c, optarg);
			break;
		case OPT_NO_CKPT_OPTS:
			c.no_ckpt_opts = true;
			break;
		default:
			if (!cli_opt_apply(cli, "restore", &c.opts, opt, optarg))
				crpc_cli_usage_errorf(cli, "unhandled option");
			break;
		}
	}
	if (crpc_cli_early_exit(cli, crpc_help_restore, &rc))
		goto out;
	rc = crpc_cli_operand(cli, argc, argv, "DIR", &c.dir);
	if (rc)
		goto out;
	snprintf(cli->trace_target, sizeof(cli->trace_target), "%s", c.dir);
	snprintf(op, sizeof(op), "restore from %s", c.dir);

	/* the configuration: its restore: options under the command line's */
	if (crpc_cli_effective_opts(cli, &c.opts, &cli->config.restore, RESTORE_LOG, &err) < 0) {
		rc = fail(&c, err);
		goto out;
	}

	if (crpc_cli_need_root(cli, op, &err) < 0 || check_dir(&c, op, &err) < 0 ||
	    checkpoint_options(&c, &err) < 0 || crpc_cli_dispatcher(cli, &d, &err) < 0) {
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
	/* the fds of re-attached pipes are inheritable: open them right before CRIU starts */
	if (reattach_pipes(&c, &err) < 0 || crpc_cli_session_open(cli, &s, &err) < 0 ||
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
	/* CRIU has made its own copies of the re-attached pipes: crpc's would keep them open */
	for (size_t i = 0; i < c.pipes.n; i++)
		if (c.pipes.v[i].fd >= 0) {
			close(c.pipes.v[i].fd);
			c.pipes.v[i].fd = -1;
		}
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
	crpc_manifest_check_release(&c.check);
	crpc_pipe_attachments_release(&c.pipes);
	crpc_manifest_options_release(&c.applied);
	crpc_manifest_options_release(&c.not_applied);
	crpc_manifest_release(&c.manifest);
	if (c.dirfd >= 0)
		close(c.dirfd);
	free(c.dir_real);
	return rc;
}
