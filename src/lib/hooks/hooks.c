/* SPDX-License-Identifier: MIT */
/*
 * hooks.c - running the hook steps of CRIU's notifications: the runner, the
 * steps of one notification in order, what a failure does. A step is started
 * and supervised by hooks_step.c, its environment built by hooks_env.c, its
 * executable checked by hooks_exec.c, hooks.log written by hooks_log.c.
 *
 * A step is started with posix_spawn() (no copy of crpc's page tables) into
 * its own process group with every signal at its default and none blocked,
 * in its cwd, stdin from /dev/null and only the fds it is meant to have (0,
 * 1, 2 and, for orphan-pts-master, the pty master as fd 3); crpc's umask is
 * kept. A `run:` step's program is looked up here on the PATH of the step's
 * environment (relative to its cwd, as execvp() would after changing there)
 * and that very path is run; a file that is neither a binary nor a "#!"
 * script runs with /bin/sh, like execvp(). The parent supervises it with
 * poll() on its output pipe(s) and a pidfd (a 10 ms tick without pidfds):
 *
 * - Output: stdout and stderr share one pipe so their lines keep their order
 *   in hooks.log. A query-ext-files step gets two pipes instead: its stdout
 *   lines are the external entries (trimmed, empty ones skipped), its stderr
 *   lines are logged. A line longer than LINE_MAX_BYTES is cut and continued
 *   on the next log line; an external entry that long fails the step. Past
 *   OUTPUT_LOG_MAX bytes a step's output is still read but no longer logged.
 * - Exit: the step is over when its main process has exited and its output
 *   is at EOF; when something it left in the background keeps the pipe open,
 *   the output is drained for DRAIN_MS more and then abandoned. A step that
 *   exits on its own keeps whatever it left running (it may daemonize on
 *   purpose).
 * - Timeout: SIGTERM (and SIGCONT) to the whole process group, then, once the
 *   grace period is over or the main process and the output are gone,
 *   SIGKILL to the group. The main process is detected with WNOWAIT and only
 *   reaped after the last signal to its group, so the group id cannot have
 *   been reused when it is signalled. Only the step's own pid is ever waited
 *   for.
 * - Failure: non-zero exit, death by a signal, timeout, a cwd that cannot be
 *   entered, a program not found on PATH, an executable that cannot be run
 *   (posix_spawn() returns the error: no process is left to reap), a
 *   refused executable (root only, see below), or a query-ext-files step
 *   printing an unusable entry. The entries of a failed query-ext-files step
 *   are dropped.
 *
 * Environment: crpc's own, without any of the variables below that it may
 * have inherited, plus CRIU's CRTOOLS_SCRIPT_ACTION, CRTOOLS_IMAGE_DIR and
 * CRTOOLS_INIT_PID and crpc's CRPC_ACTION, CRPC_OPERATION, CRPC_PID,
 * CRPC_IMAGES_DIR, CRPC_NOTIFY_PID (when CRIU sent a pid) and
 * CRPC_PTS_MASTER_FD (orphan-pts-master), then the step's env, which wins.
 * A pid that is not known yet (restore before CRIU names the root) leaves its
 * variables unset rather than "0". A restore remembers the first pid CRIU
 * sends as the restored root. CRTOOLS_INIT_PID is, like CRIU's, the pid the
 * notification came with on a restore, else the target.
 *
 * What a failure does (on_failure):
 *   abort    later steps are skipped and the notification fails (-1), which
 *            makes CRIU abort. Where CRIU cannot abort (network-unlock,
 *            pre-resume, post-resume) it still fails, the dispatcher turns
 *            that into its own warning, and the runner records a warning too.
 *   default  abort where CRIU can abort, else warn.
 *   warn     a warning is recorded and the next steps run; returns 0.
 *   ignore   only hooks.log tells.
 *
 * Security: hooks inherit no fd of crpc but the intended ones. When crpc runs
 * as root, a `run:` executable that is not owned by root or is writable by
 * group or others is refused, like sudo and ssh refuse such files (the
 * path looked up on PATH is the one checked and run).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "crpc/hooks.h"
#include "hooks_int.h"
#include "internal.h"

/* "12.3 ms" or "1.5 s". */
static void fmt_duration(double secs, char *buf, size_t sz)
{
	if (secs < 1.0)
		snprintf(buf, sz, "%.1f ms", secs * 1000.0);
	else
		snprintf(buf, sz, "%.1f s", secs);
}

static const char *sig_name(int sig)
{
	const char *s = sigabbrev_np(sig);

	return s ? s : "?";
}

static void add_warning(crpc_hook_runner *r, const char *text)
{
	(void)crpc__strv_push(&r->warnings, &r->n_warnings, strdup(text));
}

/* ------------------------------------------------------------------------ */
/* runner                                                                   */

CRPC_API void crpc_hook_context_init(crpc_hook_context *c)
{
	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	c->images_dir_fd = -1;
}

CRPC_API int crpc_hook_runner_new(crpc_hook_runner **out, const crpc_hooks *hooks,
				  const crpc_hook_context *given, crpc_error **err)
{
	crpc_hook_context own, *ctx = &own;
	crpc_hook_runner *r;

	*out = NULL;
	crpc_hook_context_init(&own);
	if (given && crpc__sized_take(&own, sizeof(own), given, CRPC__END_OF(crpc_hook_context, grace_ms),
				      "set up hooks", "crpc_hook_context_init", err) < 0)
		return -1;
	r = calloc(1, sizeof(*r));
	if (!r)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "set up hooks", "out of memory");
	r->log_fd = -1;
	r->hooks = hooks;
	r->verbose = ctx->verbose;
	r->grace_ms = ctx->grace_ms ? ctx->grace_ms : DEFAULT_GRACE_MS;
	r->pid = ctx->pid;
	r->warnings = calloc(1, sizeof(char *));
	r->operation = strdup(ctx->operation ? ctx->operation : "");
	if (ctx->images_dir) {
		r->images_dir = strdup(ctx->images_dir);
	} else if (ctx->images_dir_fd >= 0) {
		char link[64], dir[PATH_MAX];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", ctx->images_dir_fd);
		n = readlink(link, dir, sizeof(dir) - 1);
		if (n > 0) {
			dir[n] = '\0';
			r->images_dir = strdup(dir);
		}
	}
	if (!r->warnings || !r->operation ||
	    (r->images_dir && asprintf(&r->log_path, "%s/hooks.log", r->images_dir) < 0)) {
		r->log_path = NULL;
		crpc_hook_runner_free(r);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "set up hooks", "out of memory");
	}
	if (ctx->images_dir_fd >= 0) {
		r->log_fd = util_open_private(ctx->images_dir_fd, "hooks.log", true, "set up hooks",
					      "hook log", err);
		if (r->log_fd < 0) {
			if (err && *err)
				(*err)->exit_class = CRPC_EXIT_FAIL;
			crpc_hook_runner_free(r);
			return -1;
		}
	}
	*out = r;
	return 0;
}

CRPC_API void crpc_hook_runner_free(crpc_hook_runner *r)
{
	if (!r)
		return;
	if (r->log_fd >= 0)
		close(r->log_fd);
	for (size_t i = 0; i < r->n_warnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	free(r->operation);
	free(r->images_dir);
	free(r->log_path);
	free(r);
}

CRPC_API void crpc_hook_runner_set_pid(crpc_hook_runner *r, pid_t pid)
{
	if (r)
		r->pid = pid;
}

CRPC_API const char *const *crpc_hook_runner_warnings(const crpc_hook_runner *r)
{
	static const char *const empty[1] = { NULL };

	if (!r || !r->warnings)
		return empty;
	return (const char *const *)r->warnings;
}

/* ------------------------------------------------------------------------ */
/* running one step                                                         */

/* The step's command for hooks.log. */
static void describe_command(const crpc_hook_step *st, char *buf, size_t sz)
{
	size_t pos = 0;

	if (st->kind == CRPC_STEP_SHELL) {
		hk_bprintf(buf, sz, &pos, "shell: %s", st->shell ? st->shell : "");
		return;
	}
	hk_bprintf(buf, sz, &pos, "run:");
	for (char **a = st->argv; a && *a; a++) {
		if (**a && !strpbrk(*a, " \t\n'\"\\$"))
			hk_bprintf(buf, sz, &pos, " %s", *a);
		else
			hk_bprintf(buf, sz, &pos, " '%s'", *a);
	}
}

/* What happened to a step that ran, or "" if it succeeded. */
static void describe_outcome(const struct step_run *sr, const crpc_hook_step *st, const char *path,
			     unsigned timeout_ms, unsigned grace_ms, char *buf, size_t sz)
{
	const char *desc = strerrordesc_np(sr->rep.err);
	char tmo[32], grace[32];
	int status = sr->status;

	if (!desc)
		desc = "unknown error";
	buf[0] = '\0';
	if (sr->rep.stage == STAGE_CHDIR) {
		snprintf(buf, sz, "cannot change to directory %s: %s", st->cwd ? st->cwd : "?", desc);
		return;
	}
	if (sr->rep.stage == STAGE_EXEC) {
		snprintf(buf, sz, "cannot execute %s: %s", path, desc);
		return;
	}
	if (!sr->waited) {
		snprintf(buf, sz, "%s, and its exit status is unknown (is SIGCHLD ignored?)",
			 sr->timed_out ? "timed out" : "ended");
		return;
	}
	if (sr->timed_out) {
		fmt_duration(timeout_ms / 1000.0, tmo, sizeof(tmo));
		fmt_duration(grace_ms / 1000.0, grace, sizeof(grace));
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && sr->sigkilled)
			snprintf(buf, sz, "timed out after %s and was killed by SIGKILL after a %s grace",
				 tmo, grace);
		else if (WIFSIGNALED(status))
			snprintf(buf, sz, "timed out after %s and was killed by SIG%s", tmo,
				 sig_name(WTERMSIG(status)));
		else
			snprintf(buf, sz, "timed out after %s and exited with status %d after SIGTERM", tmo,
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (sr->entry_error)
			snprintf(buf, sz, "%s", sr->entry_error);
		return;
	}
	crpc__wait_status_str(status, buf, sz);
}

/* The failure as the user reads it: callback, step, origin, what, last output. */
static void failure_message(const struct step_run *sr, const crpc_hook_step *st, const char *what, char *buf,
			    size_t sz)
{
	/* when it could not be exec'ed, its only output is the same message */
	unsigned n = sr->rep.stage != STAGE_NONE ? 0 : sr->n_lines < LAST_LINES ? sr->n_lines : LAST_LINES;
	size_t pos = 0;

	hk_bprintf(buf, sz, &pos, "%s step '%s'", sr->cb, sr->name);
	if (st->origin && *st->origin)
		hk_bprintf(buf, sz, &pos, " (%s)", st->origin);
	hk_bprintf(buf, sz, &pos, " %s", what);
	for (unsigned i = 0; i < n; i++) {
		unsigned idx = (sr->n_lines - n + i) % LAST_LINES;

		hk_bprintf(buf, sz, &pos, "%s%s", i == 0 ? "; last output: " : " | ", sr->last[idx]);
	}
}

/*
 * Run one step to its end. Returns true if it succeeded; else `what` says
 * what happened. sr is filled in (output lines, entries).
 */
static bool run_step(struct step_run *sr, const crpc_hook_step *st, const crpc_notify *n, char *what,
		     size_t whatsz)
{
	const crpc_hook_runner *r = sr->r;
	unsigned timeout_ms = st->timeout_ms ? st->timeout_ms : CRPC_HOOK_DEFAULT_TIMEOUT_MS;
	bool pts = n->kind == CRPC_NOTIFY_ORPHAN_PTS_MASTER && n->fd >= 0;
	bool two_pipes = n->kind == CRPC_NOTIFY_QUERY_EXT_FILES;
	char cmd[1024], exec_path[PATH_MAX], dur[32];
	struct step_env env;
	int started, pidfd = -1;

	what[0] = '\0';
	describe_command(st, cmd, sizeof(cmd));
	hk_log_event(r, sr->cb, sr->name, "start: %s%s%s%s", cmd, st->origin ? " (from " : "",
		     st->origin ? st->origin : "", st->origin ? ")" : "");

	if (st->kind == CRPC_STEP_RUN && (!st->argv || !st->argv[0] || !*st->argv[0])) {
		snprintf(what, whatsz, "has an empty command");
		goto not_started;
	}
	if (st->kind == CRPC_STEP_SHELL && !st->shell) {
		snprintf(what, whatsz, "has no shell command");
		goto not_started;
	}
	if (hk_build_env(r, n, st, pts, &env) < 0) {
		snprintf(what, whatsz, "could not be started: out of memory");
		goto not_started;
	}
	exec_path[0] = '\0';
	if (st->kind == CRPC_STEP_RUN) {
		/* looked up here as execvp() would, on the PATH of the step's environment */
		const char *path_env = hk_env_get(env.envp, "PATH");

		if (!hk_resolve_exec(st->argv[0], path_env, st->cwd, exec_path, sizeof(exec_path))) {
			if (snprintf(what, whatsz,
				     "cannot execute %s: no executable file of that name on the PATH "
				     "of its environment (%s%s)",
				     st->argv[0], path_env ? "PATH=" : "PATH unset: ",
				     path_env ? path_env : "/bin:/usr/bin") >= (int)whatsz)
				what[whatsz - 1] = '\0';
			hk_step_env_release(&env);
			goto not_started;
		}
		if (geteuid() == 0) {
			char check[PATH_MAX], why[256];

			hk_from_step_cwd(st->cwd, exec_path, check, sizeof(check));
			if (!hk_trusted_executable(check, why, sizeof(why))) {
				if (snprintf(what, whatsz,
					     "was refused: crpc runs as root and will not "
					     "run %s: %s",
					     check, why) >= (int)whatsz)
					what[whatsz - 1] = '\0';
				hk_step_env_release(&env);
				goto not_started;
			}
			/* an interpreter runs its script: the script is what must be root's */
			if (hk_script_operand(st->argv, check, sizeof(check), st->cwd) &&
			    !hk_trusted_executable(check, why, sizeof(why))) {
				if (snprintf(what, whatsz,
					     "was refused: crpc runs as root and will not "
					     "run the script %s: %s",
					     check, why) >= (int)whatsz)
					what[whatsz - 1] = '\0';
				hk_step_env_release(&env);
				goto not_started;
			}
		}
	}
	started = hk_spawn_step(sr, st, n, &env, exec_path, two_pipes, what, whatsz);
	hk_step_env_release(&env);
	if (started < 0)
		goto not_started;
	if (started == 0) {
#ifdef SYS_pidfd_open
		pidfd = (int)syscall(SYS_pidfd_open, sr->pid, 0);
#endif
		hk_supervise(sr, pidfd, timeout_ms, r->grace_ms);
		if (pidfd >= 0)
			close(pidfd);
	}

	describe_outcome(sr, st, st->kind == CRPC_STEP_SHELL ? "/bin/sh" : exec_path, timeout_ms,
			 r->grace_ms, what, whatsz);
	if (started > 0) /* its output, as if it had said so itself */
		hk_output_line(r, sr->cb, sr->name, what, strlen(what));
	fmt_duration(sr->secs, dur, sizeof(dur));
	if (!what[0]) {
		hk_log_event(r, sr->cb, sr->name, "end: exit 0 in %s", dur);
		return true;
	}
	hk_log_event(r, sr->cb, sr->name, "end: %s (after %s)", what, dur);
	return false;

not_started:
	hk_log_event(r, sr->cb, sr->name, "end: %s", what);
	return false;
}

static void free_entries(struct step_run *sr)
{
	for (size_t i = 0; i < sr->n_entries; i++)
		free(sr->entries[i]);
	free(sr->entries);
	sr->entries = NULL;
	sr->n_entries = 0;
}

/* Hand the entries of a successful query-ext-files step over to n. */
static int take_entries(struct step_run *sr, crpc_notify *n)
{
	if (!sr->n_entries)
		return 0;
	if (sr->n_entries > SIZE_MAX - n->n_external ||
	    ARRAY_RESIZE(n->external, n->n_external + sr->n_entries) < 0)
		return -1;
	memcpy(n->external + n->n_external, sr->entries, sr->n_entries * sizeof(*n->external));
	n->n_external += sr->n_entries;
	free(sr->entries);
	sr->entries = NULL;
	sr->n_entries = 0;
	return 0;
}

CRPC_API int crpc_hook_runner_notify(crpc_notify *n, void *runner, crpc_error **err)
{
	crpc_hook_runner *r = runner;
	const crpc_hook_step *steps;
	const char *cb;
	size_t count;
	bool can_abort;

	if (!r || !n || !r->hooks || n->kind <= CRPC_NOTIFY_UNKNOWN || n->kind >= CRPC_NOTIFY__COUNT)
		return 0;
	steps = r->hooks->steps[n->kind];
	count = steps ? r->hooks->n_steps[n->kind] : 0;
	cb = n->name && *n->name ? n->name : crpc_notify_kind_name(n->kind);
	can_abort = crpc_notify_can_abort(n->kind);

	/* A restore learns its root pid from the notifications that carry it. */
	if (r->pid <= 0 && n->pid > 0 && strcmp(r->operation, "restore") == 0)
		r->pid = n->pid;
	if (count == 0)
		return 0;
	if (n->pid > 0)
		hk_log_event(r, cb, NULL, "notification %u of the %s (pid %d): %zu step%s", n->seq,
			     r->operation[0] ? r->operation : "operation", n->pid, count,
			     count == 1 ? "" : "s");
	else
		hk_log_event(r, cb, NULL, "notification %u of the %s: %zu step%s", n->seq,
			     r->operation[0] ? r->operation : "operation", count, count == 1 ? "" : "s");

	for (size_t i = 0; i < count; i++) {
		const crpc_hook_step *st = &steps[i];
		struct step_run *sr;
		crpc_on_failure policy = st->on_failure;
		char gen_name[64], what[1024], msg[2048];
		const char *name;
		bool ok;

		sr = calloc(1, sizeof(*sr));
		if (!sr)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "hook", "out of memory");
		sr->r = r;
		sr->cb = cb;
		snprintf(gen_name, sizeof(gen_name), "%s[%zu]", cb, i + 1);
		name = st->name && *st->name ? st->name : gen_name;
		sr->name = name;
		sr->streams[0].fd = sr->streams[1].fd = -1;

		ok = run_step(sr, st, n, what, sizeof(what));
		if (ok) {
			int rc = take_entries(sr, n);

			free_entries(sr);
			free(sr);
			if (rc < 0)
				return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "hook", "out of memory");
			continue;
		}
		free_entries(sr); /* a failed step's entries are not trusted */
		failure_message(sr, st, what, msg, sizeof(msg));
		free(sr);

		if (policy == CRPC_ON_FAILURE_DEFAULT)
			policy = can_abort ? CRPC_ON_FAILURE_ABORT : CRPC_ON_FAILURE_WARN;
		if (policy == CRPC_ON_FAILURE_IGNORE) {
			hk_log_event(r, cb, name, "failure ignored (on_failure: ignore)");
			continue;
		}
		if (!can_abort) {
			char w[2200];

			snprintf(w, sizeof(w), "%s (CRIU cannot abort at %s and went on)", msg, cb);
			add_warning(r, w);
		} else if (policy == CRPC_ON_FAILURE_WARN) {
			add_warning(r, msg);
		}
		if (policy == CRPC_ON_FAILURE_WARN) {
			hk_log_event(r, cb, name, "failure is a warning, going on");
			continue;
		}
		hk_log_event(r, cb, name, "failing %s: %s", cb,
			     can_abort ? "CRIU aborts" : "CRIU cannot abort there and goes on");
		crpc_error_set(err, CRPC_EXIT_FAIL, 0, "hook", "%s", msg);
		if (err && *err && r->log_fd >= 0 && r->log_path)
			crpc_error_set_hint(*err, "the step's output is in %s", r->log_path);
		return -1;
	}
	return 0;
}
