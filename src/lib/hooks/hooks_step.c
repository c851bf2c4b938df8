/* SPDX-License-Identifier: MIT */
/*
 * hooks_step.c - starting one step and supervising it: the spawned process
 * (process group, signals, cwd, fds, exec), its output read line by line into
 * hooks.log and the external entries, the timeout with its SIGTERM/SIGKILL,
 * and the reaping (see the top of hooks.c).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>

#include "crpc/hooks.h"
#include "hooks_int.h"
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* supervising a step                                                       */

static void keep_last(struct step_run *sr, const char *text, size_t len)
{
	char *slot = sr->last[sr->n_lines % LAST_LINES];

	if (len > LAST_LINE_SHOWN)
		len = LAST_LINE_SHOWN;
	hk_sanitize(slot, text, len);
	slot[len] = '\0';
	sr->n_lines++;
}

/* A line of output for hooks.log and the verbose stream, up to OUTPUT_LOG_MAX. */
static void step_output(struct step_run *sr, const char *text, size_t len)
{
	if (sr->logged > OUTPUT_LOG_MAX)
		return;
	sr->logged += len + 1;
	if (sr->logged > OUTPUT_LOG_MAX) {
		hk_log_event(sr->r, sr->cb, sr->name,
			     "(more than %u bytes of output: the rest is not logged)", OUTPUT_LOG_MAX);
		return;
	}
	hk_output_line(sr->r, sr->cb, sr->name, text, len);
}

static void add_entry(struct step_run *sr, const char *text, size_t len)
{
	char *s;

	while (len > 0 && isspace((unsigned char)*text)) {
		text++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len == 0)
		return;
	{
		char line[LINE_MAX_BYTES + 32];
		size_t pos = 0;

		hk_bprintf(line, sizeof(line), &pos, "external entry: %.*s", (int)len, text);
		step_output(sr, line, pos);
	}
	if (sr->entry_error)
		return;
	if (memchr(text, '\0', len)) {
		sr->entry_error = "printed an external entry with a NUL byte";
		return;
	}
	if (sr->n_entries >= MAX_ENTRIES) {
		sr->entry_error = "printed more than 4096 external entries";
		return;
	}
	s = ARRAY_RESIZE(sr->entries, sr->n_entries + 1) == 0 ? strndup(text, len) : NULL;
	if (!s) {
		sr->entry_error = "ran out of memory for its external entries";
		return;
	}
	sr->entries[sr->n_entries++] = s;
}

/* A complete (or cut) line of a stream. */
static void stream_line(struct step_run *sr, struct stream *s, bool cut)
{
	size_t len = s->len;

	s->len = 0;
	if (s->entries) {
		bool was_skipping = s->skipping;

		s->skipping = cut;
		if (was_skipping)
			return;
		if (cut) {
			sr->entry_error = "printed an external entry longer than 4096 bytes";
			hk_log_event(sr->r, sr->cb, sr->name, "external entry longer than %d bytes dropped",
				     LINE_MAX_BYTES);
			return;
		}
		add_entry(sr, s->buf, len);
		return;
	}
	if (!cut && len > 0 && s->buf[len - 1] == '\r')
		len--;
	step_output(sr, s->buf, len);
	keep_last(sr, s->buf, len);
}

static void stream_feed(struct step_run *sr, struct stream *s, const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n') {
			stream_line(sr, s, false);
			continue;
		}
		s->buf[s->len++] = data[i];
		if (s->len == sizeof(s->buf))
			stream_line(sr, s, true);
	}
}

static void stream_close(struct step_run *sr, struct stream *s)
{
	if (s->fd < 0)
		return;
	if (s->len > 0)
		stream_line(sr, s, false);
	close(s->fd);
	s->fd = -1;
}

static void stream_read(struct step_run *sr, struct stream *s)
{
	char chunk[LINE_MAX_BYTES];
	ssize_t n;

	n = io_read(s->fd, chunk, sizeof(chunk));
	if (n > 0)
		stream_feed(sr, s, chunk, (size_t)n);
	else if (n == 0 || errno != EAGAIN)
		stream_close(sr, s);
}

static size_t streams_open(const struct step_run *sr)
{
	size_t k = 0;

	for (size_t i = 0; i < sr->n_streams; i++)
		k += sr->streams[i].fd >= 0;
	return k;
}

/* Has the main process exited? It is left a zombie (WNOWAIT). */
static bool child_exited(pid_t pid)
{
	siginfo_t si;
	int rc;

	memset(&si, 0, sizeof(si));
	do
		rc = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return errno == ECHILD; /* reaped behind our back (SIGCHLD ignored) */
	return si.si_pid == pid;
}

/* Signal the step's process group (its main process alone if it has none yet). */
static void signal_step(pid_t pid, int sig)
{
	if (kill(-pid, sig) < 0 && errno == ESRCH)
		kill(pid, sig);
}

enum phase {
	PH_RUNNING,
	PH_TERMINATING,
	PH_KILLED
};

/* Read the step's output until it is over (see the top of the file). */
void hk_supervise(struct step_run *sr, int pidfd, unsigned timeout_ms, unsigned grace_ms)
{
	const double t0 = crpc__now();
	const double deadline = t0 + timeout_ms / 1000.0;
	double kill_at = 0, drain_until = 0;
	enum phase ph = PH_RUNNING;
	bool exited = false;

	for (;;) {
		struct pollfd pfd[3];
		struct stream *ps[3];
		nfds_t np = 0;
		double now = crpc__now(), wake = -1;
		int timeout, rc;

		if (!exited && child_exited(sr->pid)) {
			exited = true;
			drain_until = now + DRAIN_MS / 1000.0;
		}
		if (ph == PH_RUNNING) {
			if (exited) {
				if (!streams_open(sr) || now >= drain_until)
					break;
				wake = drain_until;
			} else if (now >= deadline) {
				sr->timed_out = true;
				signal_step(sr->pid, SIGTERM);
				signal_step(sr->pid, SIGCONT); /* a stopped step must see its SIGTERM */
				ph = PH_TERMINATING;
				kill_at = now + grace_ms / 1000.0;
				continue;
			} else {
				wake = deadline;
			}
		} else if (ph == PH_TERMINATING) {
			if (exited && !streams_open(sr)) {
				signal_step(sr->pid, SIGKILL); /* leftovers of the group, if any */
				break;
			}
			if (now >= kill_at) {
				signal_step(sr->pid, SIGKILL);
				sr->sigkilled = true;
				ph = PH_KILLED;
				continue;
			}
			wake = kill_at;
		} else if (exited) {
			break;
		}

		for (size_t i = 0; i < sr->n_streams; i++) {
			if (sr->streams[i].fd < 0)
				continue;
			pfd[np] = (struct pollfd){ .fd = sr->streams[i].fd, .events = POLLIN };
			ps[np++] = &sr->streams[i];
		}
		if (!exited && pidfd >= 0) {
			pfd[np] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
			ps[np++] = NULL;
		}
		if (wake < 0)
			timeout = -1;
		else if (wake - now > 3600.0)
			timeout = 3600 * 1000; /* a huge timeout: wake up once in a while */
		else
			timeout = (int)((wake - now) * 1000.0) + 1;
		if (!exited && pidfd < 0 && (timeout < 0 || timeout > POLL_TICK_MS))
			timeout = POLL_TICK_MS;
		rc = poll(np ? pfd : NULL, np, timeout);
		if (rc < 0) {
			if (errno != EINTR)
				poll(NULL, 0, POLL_TICK_MS); /* should not happen: do not spin */
			continue;
		}
		for (nfds_t i = 0; i < np; i++)
			if (ps[i] && pfd[i].revents)
				stream_read(sr, ps[i]);
	}
	for (size_t i = 0; i < sr->n_streams; i++)
		stream_close(sr, &sr->streams[i]);

	/* Only now that its group was signalled for the last time: reap it. */
	sr->waited = io_waitpid(sr->pid, &sr->status, 0) == sr->pid;
	sr->secs = crpc__now() - t0;
}

/*
 * Move *fd above the fds the step gets (0..PTS_FD), so that no dup2() of the
 * spawn replaces another one's source. -1 if it cannot (*fd is kept).
 */
static int above_step_fds(int *fd)
{
	int moved;

	if (*fd < 0 || *fd > PTS_FD)
		return 0;
	moved = fcntl(*fd, F_DUPFD_CLOEXEC, PTS_FD + 1);
	if (moved < 0)
		return -1;
	close(*fd);
	*fd = moved;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * The step's process: posix_spawn() (glibc: clone(CLONE_VM|CLONE_VFORK), no
 * copy of crpc's page tables) into a process group of its own, every signal
 * at its default and none blocked, the cwd, stdin from /dev/null, stdout and
 * stderr to the pipe(s), the pty master as PTS_FD, every other fd closed.
 * Returns posix_spawn()'s error (0: started).
 */
static int spawn(pid_t *pid, const char *path, char *const *argv, char *const *envp, int cwd_fd, int null_fd,
		 int out_fd, int err_fd, int pts_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	int rc;

	/*
	 * Every signal to its default, glibc's own (32, 33) included: sigfillset()
	 * leaves those out, and glibc's posix_spawn() sets a signal it was not told
	 * to reset and cannot read (its own) to SIG_IGN, which the step would keep.
	 */
	memset(&all, 0xff, sizeof(all));
	sigemptyset(&none);
	if ((rc = posix_spawnattr_init(&at)) != 0)
		return rc;
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
		posix_spawnattr_destroy(&at);
		return rc;
	}
	rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
						   POSIX_SPAWN_SETSIGMASK);
	if (!rc)
		rc = posix_spawnattr_setpgroup(&at, 0);
	if (!rc)
		rc = posix_spawnattr_setsigdefault(&at, &all);
	if (!rc)
		rc = posix_spawnattr_setsigmask(&at, &none);
	/* the cwd first: its fd may be one of 0..PTS_FD, which the dup2()s replace */
	if (!rc && cwd_fd >= 0)
		rc = posix_spawn_file_actions_addfchdir_np(&fa, cwd_fd);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, null_fd, STDIN_FILENO);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, err_fd >= 0 ? err_fd : out_fd, STDERR_FILENO);
	if (!rc && pts_fd >= 0)
		rc = posix_spawn_file_actions_adddup2(&fa, pts_fd, PTS_FD);
	/* every fd is close-on-exec already; this also covers ones a caller opened without */
	if (!rc)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa,
							      pts_fd >= 0 ? PTS_FD + 1 : STDERR_FILENO + 1);
	if (!rc)
		rc = posix_spawn(pid, path, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return rc;
}

/*
 * Like execvp(): a file that is not a binary and has no "#!" line (ENOEXEC)
 * is run by /bin/sh, with the file as the script and the step's arguments.
 */
static int spawn_or_sh(pid_t *pid, const char *path, char *const *argv, char *const *envp, int cwd_fd,
		       int null_fd, int out_fd, int err_fd, int pts_fd)
{
	size_t argc = 0;
	char **sh_argv;
	int rc;

	rc = spawn(pid, path, argv, envp, cwd_fd, null_fd, out_fd, err_fd, pts_fd);
	if (rc != ENOEXEC)
		return rc;
	while (argv[argc])
		argc++;
	sh_argv = calloc(argc + 2, sizeof(*sh_argv));
	if (!sh_argv)
		return rc;
	sh_argv[0] = (char *)"/bin/sh";
	sh_argv[1] = (char *)path;
	for (size_t i = 1; i < argc; i++)
		sh_argv[i + 1] = argv[i];
	rc = spawn(pid, "/bin/sh", sh_argv, envp, cwd_fd, null_fd, out_fd, err_fd, pts_fd);
	free(sh_argv);
	return rc;
}

/*
 * Start the step. 0: it runs; 1: it could not be started in its directory or
 * could not be executed (sr->rep says which and why: no process is left); -1:
 * crpc could not start it (why says why).
 */
int hk_spawn_step(struct step_run *sr, const crpc_hook_step *st, const crpc_notify *n,
		  const struct step_env *env, const char *exec_path, bool two_pipes, char *why, size_t whysz)
{
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int null_fd = -1, cwd_fd = -1, pts_fd = -1;
	const char *what = "pipe";
	pid_t pid = -1;
	int rc, e;

	if (st->cwd && *st->cwd) {
		cwd_fd = open(st->cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cwd_fd < 0) {
			sr->rep = (struct child_report){ STAGE_CHDIR, errno };
			return 1;
		}
	}
	if (pipe2(outp, O_CLOEXEC) < 0 || (two_pipes && pipe2(errp, O_CLOEXEC) < 0))
		goto fail;
	what = "/dev/null";
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (null_fd < 0)
		goto fail;
	what = "fcntl";
	if (above_step_fds(&null_fd) < 0 || above_step_fds(&outp[1]) < 0 || above_step_fds(&errp[1]) < 0)
		goto fail;
	if (n->kind == CRPC_NOTIFY_ORPHAN_PTS_MASTER && n->fd >= 0) {
		/* not ours: a copy above 0..PTS_FD when it is down there */
		pts_fd = n->fd > PTS_FD ? n->fd : fcntl(n->fd, F_DUPFD_CLOEXEC, PTS_FD + 1);
		if (pts_fd < 0)
			goto fail;
	}

	if (st->kind == CRPC_STEP_SHELL) {
		char *const sh_argv[] = { (char *)"sh", (char *)"-c", (char *)(st->shell ? st->shell : ""),
					  NULL };

		rc = spawn(&pid, "/bin/sh", sh_argv, env->envp, cwd_fd, null_fd, outp[1], errp[1], pts_fd);
	} else {
		rc = spawn_or_sh(&pid, exec_path, st->argv, env->envp, cwd_fd, null_fd, outp[1], errp[1],
				 pts_fd);
	}
	if (rc == EAGAIN) { /* no process could be made (limits), nothing about the step */
		what = "posix_spawn";
		errno = rc;
		goto fail;
	}
	if (rc != 0) {
		/* the directory, if it cannot be entered (now), else the executable */
		bool dir = cwd_fd >= 0 && faccessat(cwd_fd, "", X_OK, AT_EMPTY_PATH | AT_EACCESS) < 0;

		sr->rep = (struct child_report){ dir ? STAGE_CHDIR : STAGE_EXEC, rc };
	}
	if (pts_fd >= 0 && pts_fd != n->fd)
		close(pts_fd);
	close_fd(&cwd_fd);
	close_fd(&null_fd);
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	if (rc != 0) {
		close_fd(&outp[0]);
		close_fd(&errp[0]);
		return 1;
	}
	sr->pid = pid;
	sr->streams[0] = (struct stream){ .fd = outp[0], .entries = two_pipes };
	sr->n_streams = 1;
	if (two_pipes) {
		sr->streams[1] = (struct stream){ .fd = errp[0] };
		sr->n_streams = 2;
	}
	return 0;

fail:
	e = errno;
	snprintf(why, whysz, "could not be started: %s: %s", what, strerror(e));
	if (pts_fd >= 0 && pts_fd != n->fd)
		close(pts_fd);
	close_fd(&cwd_fd);
	close_fd(&null_fd);
	for (int i = 0; i < 2; i++) {
		close_fd(&outp[i]);
		close_fd(&errp[i]);
	}
	return -1;
}
