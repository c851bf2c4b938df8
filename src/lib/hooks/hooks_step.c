/* SPDX-License-Identifier: MIT */
/*
 * hooks_step.c - starting one step and supervising it: the forked child
 * (process group, signals, fds, exec), its output read line by line into
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
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "crpc/hooks.h"
#include "hooks_int.h"
#include "internal.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

/* ------------------------------------------------------------------------ */
/* the child                                                                */

struct child_plan {
	int null_fd, out_fd, err_fd; /* err_fd -1: stderr shares out_fd */
	int pts_fd;                  /* -1 if none */
	int status_fd;
	const char *cwd;
	const char *exec_path; /* run: */
	char *const *argv;
	const char *shell; /* shell: */
	char **envp;
};

/* Mark every fd >= first close-on-exec (async-signal-safe). */
static void cloexec_from(int first)
{
	struct linux_dirent64 {
		uint64_t d_ino;
		int64_t d_off;
		unsigned short d_reclen;
		unsigned char d_type;
		char d_name[];
	};
	union {
		char buf[4096];
		uint64_t align;
	} u;
	struct rlimit rl;
	long maxfd;
	int dfd;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
#endif
	dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		for (;;) {
			long nread = syscall(SYS_getdents64, dfd, u.buf, sizeof(u.buf));

			if (nread <= 0)
				break;
			for (long off = 0; off < nread;) {
				const struct linux_dirent64 *d = (const void *)(u.buf + off);
				long fd = 0;
				const char *c = d->d_name;

				for (; *c >= '0' && *c <= '9' && fd < INT_MAX; c++)
					fd = fd * 10 + (*c - '0');
				if (!*c && c != d->d_name && fd >= first && fd != dfd)
					fcntl((int)fd, F_SETFD, FD_CLOEXEC);
				off += d->d_reclen;
			}
		}
		close(dfd);
		return;
	}
	maxfd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 65536;
	if (maxfd > 65536)
		maxfd = 65536;
	for (long fd = first; fd < maxfd; fd++)
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

/* Report a failure in the child: a line to the output, the cause to the parent. */
static void __attribute__((noreturn))
child_fail(int out_fd, int status_fd, int stage, int e, const char *what, const char *arg, int code)
{
	const char *desc = strerrordesc_np(e);
	struct child_report rep = { stage, e };
	const char *parts[] = { what, arg ? arg : "", ": ", desc ? desc : "unknown error", "\n" };

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		(void)io_write_full(out_fd, parts[i], strlen(parts[i]));
	if (status_fd >= 0)
		(void)io_write_full(status_fd, (const char *)&rep, sizeof(rep));
	_exit(code);
}

/* After fork(): only async-signal-safe calls from here on. */
static void __attribute__((noreturn)) run_child(const struct child_plan *p)
{
	struct sigaction dfl;
	sigset_t none;
	int in, out, errfd, pts = -1, status;

	setpgid(0, 0);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* Move everything out of the way of 0..3 first, then put it in place. */
	status = fcntl(p->status_fd, F_DUPFD_CLOEXEC, 10);
	in = fcntl(p->null_fd, F_DUPFD_CLOEXEC, 10);
	out = fcntl(p->out_fd, F_DUPFD_CLOEXEC, 10);
	errfd = p->err_fd >= 0 ? fcntl(p->err_fd, F_DUPFD_CLOEXEC, 10) : out;
	if (p->pts_fd >= 0)
		pts = fcntl(p->pts_fd, F_DUPFD_CLOEXEC, 10);
	if (status < 0 || in < 0 || out < 0 || errfd < 0 || (p->pts_fd >= 0 && pts < 0))
		child_fail(p->out_fd, status >= 0 ? status : p->status_fd, STAGE_SETUP, errno,
			   "cannot set up the step's file descriptors", NULL, 126);
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(errfd, STDERR_FILENO) < 0 ||
	    (pts >= 0 && dup2(pts, PTS_FD) < 0))
		child_fail(out, status, STAGE_SETUP, errno, "cannot set up the step's file descriptors",
			   NULL, 126);
	cloexec_from(pts >= 0 ? PTS_FD + 1 : STDERR_FILENO + 1);

	if (p->cwd && chdir(p->cwd) < 0)
		child_fail(STDERR_FILENO, status, STAGE_CHDIR, errno, "cannot change to directory ", p->cwd,
			   126);
	if (p->shell) {
		char *const sh_argv[] = { (char *)"sh", (char *)"-c", (char *)p->shell, NULL };

		execve("/bin/sh", sh_argv, p->envp);
		child_fail(STDERR_FILENO, status, STAGE_EXEC, errno, "cannot execute ", "/bin/sh", 127);
	}
	environ = p->envp; /* execvp() looks up PATH in the step's environment */
	execvp(p->exec_path, p->argv);
	child_fail(STDERR_FILENO, status, STAGE_EXEC, errno, "cannot execute ", p->exec_path, 127);
}

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

/* Start the step; on failure *why says why (nothing was started then). */
int hk_spawn_step(struct step_run *sr, const crpc_hook_step *st, const crpc_notify *n,
		  const struct step_env *env, const char *exec_path, bool two_pipes, int *status_rd,
		  char *why, size_t whysz)
{
	struct child_plan plan = { .null_fd = -1, .out_fd = -1, .err_fd = -1, .status_fd = -1 };
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, statp[2] = { -1, -1 };
	const char *what = "pipe";
	pid_t pid;
	int e;

	if (pipe2(outp, O_CLOEXEC) < 0 || (two_pipes && pipe2(errp, O_CLOEXEC) < 0) ||
	    pipe2(statp, O_CLOEXEC) < 0)
		goto fail;
	what = "/dev/null";
	plan.null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (plan.null_fd < 0)
		goto fail;
	plan.out_fd = outp[1];
	plan.err_fd = errp[1];
	plan.status_fd = statp[1];
	plan.pts_fd = n->kind == CRPC_NOTIFY_ORPHAN_PTS_MASTER ? n->fd : -1;
	plan.cwd = st->cwd && *st->cwd ? st->cwd : NULL;
	plan.envp = env->envp;
	if (st->kind == CRPC_STEP_SHELL)
		plan.shell = st->shell ? st->shell : "";
	plan.exec_path = exec_path;
	plan.argv = st->argv;

	what = "fork";
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		run_child(&plan);

	setpgid(pid, pid); /* also done by the child: whichever comes first */
	close(plan.null_fd);
	close(outp[1]);
	if (errp[1] >= 0)
		close(errp[1]);
	close(statp[1]);
	sr->pid = pid;
	sr->streams[0] = (struct stream){ .fd = outp[0], .entries = two_pipes };
	sr->n_streams = 1;
	if (two_pipes) {
		sr->streams[1] = (struct stream){ .fd = errp[0] };
		sr->n_streams = 2;
	}
	*status_rd = statp[0];
	return 0;

fail:
	e = errno;
	snprintf(why, whysz, "could not be started: %s: %s", what, strerror(e));
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (statp[i] >= 0)
			close(statp[i]);
	}
	if (plan.null_fd >= 0)
		close(plan.null_fd);
	return -1;
}
