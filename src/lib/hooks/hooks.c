/* SPDX-License-Identifier: MIT */
/*
 * hooks.c - running the hook steps of CRIU's notifications.
 *
 * A step is forked into its own process group with a clean signal state,
 * stdin from /dev/null and only the fds it is meant to have (0, 1, 2 and, for
 * orphan-pts-master, the pty master as fd 3). The parent supervises it with
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
 *   entered (126), an executable that cannot be run (127, reported through a
 *   CLOEXEC status pipe so it is told apart from a command exiting 127), a
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
 * group or others is refused, like sudo and ssh refuse such files; the
 * executable is then looked up on PATH here and that very path is run.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "crpc/hooks.h"
#include "internal.h"

/* Output lines longer than this are cut (and continued on the next line). */
#define LINE_MAX_BYTES 4096
/* How many of a step's last output lines a failure message quotes. */
#define LAST_LINES 5
/* How much of each of those lines it quotes. */
#define LAST_LINE_SHOWN 200
/* Output drained after the main process exited while something holds the pipe. */
#define DRAIN_MS 100
/* SIGTERM -> SIGKILL grace when the context gives none. */
#define DEFAULT_GRACE_MS 2000u
/* Polling interval for the main process's exit where pidfds are missing. */
#define POLL_TICK_MS 10
/* Output of one step written to hooks.log (and echoed) at most. */
#define OUTPUT_LOG_MAX (1u << 20)
/* Most external entries one query-ext-files step may print. */
#define MAX_ENTRIES 4096
/* The fd number a step gets the pty master as (orphan-pts-master). */
#define PTS_FD 3

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

struct crpc_hook_runner {
	const crpc_hooks *hooks;
	char *operation;  /* "dump" or "restore" */
	char *images_dir; /* real path, NULL if unknown */
	char *log_path;   /* images_dir/hooks.log, NULL if none */
	int log_fd;       /* hooks.log, -1 if none */
	FILE *verbose;
	unsigned grace_ms;
	pid_t pid;       /* CRPC_PID: dump target or restored root, 0 unknown */
	char **warnings; /* NULL-terminated */
	size_t n_warnings;
};

/* Variables crpc sets for steps: never inherited from crpc's environment. */
static const char *const managed_vars[] = {
	"CRTOOLS_SCRIPT_ACTION", "CRTOOLS_IMAGE_DIR", "CRTOOLS_INIT_PID",
	"CRPC_ACTION",           "CRPC_OPERATION",    "CRPC_PID",
	"CRPC_IMAGES_DIR",       "CRPC_NOTIFY_PID",   "CRPC_PTS_MASTER_FD",
};

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */

/* Append to buf at *pos, never past sz (the result stays NUL-terminated). */
static void __attribute__((format(printf, 4, 5)))
bprintf(char *buf, size_t sz, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= sz)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, sz - *pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*pos = (size_t)n >= sz - *pos ? sz - 1 : *pos + (size_t)n;
}

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

/* Do "K=V" strings a and b name the same variable? */
static bool same_var(const char *a, const char *b)
{
	size_t la = strcspn(a, "="), lb = strcspn(b, "=");

	return la == lb && memcmp(a, b, la) == 0;
}

static bool is_managed(const char *kv)
{
	for (size_t i = 0; i < sizeof(managed_vars) / sizeof(managed_vars[0]); i++)
		if (same_var(kv, managed_vars[i]))
			return true;
	return false;
}

/* Value of `name` in envp, NULL if unset. */
static const char *env_get(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

static void add_warning(crpc_hook_runner *r, const char *text)
{
	char *s = strdup(text);

	if (!s)
		return;
	if (ARRAY_RESIZE(r->warnings, r->n_warnings + 2) < 0) {
		free(s);
		return;
	}
	r->warnings[r->n_warnings++] = s;
	r->warnings[r->n_warnings] = NULL;
}

/* ------------------------------------------------------------------------ */
/* hooks.log and the verbose stream                                         */

static void wall_time(char *buf, size_t sz)
{
	struct timespec ts;
	struct tm tm;
	size_t k;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!localtime_r(&ts.tv_sec, &tm)) {
		snprintf(buf, sz, "%lld", (long long)ts.tv_sec);
		return;
	}
	k = strftime(buf, sz, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + k, sz - k, ".%03ld", ts.tv_nsec / 1000000L);
}

/* Control characters (but tabs) become '?': a step cannot drive a terminal. */
static size_t sanitize(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	return len;
}

/* One line of hooks.log: "[time] callback step: text" ("[time] callback: text"). */
static void log_text(const crpc_hook_runner *r, const char *cb, const char *step, const char *text,
		     size_t len)
{
	char line[LINE_MAX_BYTES + 512];
	char ts[64];
	size_t pos = 0;

	if (r->log_fd < 0)
		return;
	wall_time(ts, sizeof(ts));
	/* names are bounded so that the prefix always fits */
	bprintf(line, sizeof(line), &pos, "[%.63s] %.64s%s%.200s: ", ts, cb, step ? " " : "",
		step ? step : "");
	if (len > sizeof(line) - pos - 1)
		len = sizeof(line) - pos - 1;
	pos += sanitize(line + pos, text, len);
	line[pos++] = '\n';
	(void)io_write_full(r->log_fd, line, pos);
}

static void __attribute__((format(printf, 4, 5)))
log_event(const crpc_hook_runner *r, const char *cb, const char *step, const char *fmt, ...)
{
	char buf[LINE_MAX_BYTES];
	va_list ap;
	int n;

	if (r->log_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	log_text(r, cb, step, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* A line of a step's output: to hooks.log, and to the verbose stream. */
static void output_line(const crpc_hook_runner *r, const char *cb, const char *step, const char *text,
			size_t len)
{
	log_text(r, cb, step, text, len);
	if (r->verbose) {
		char clean[LINE_MAX_BYTES];

		if (len > sizeof(clean))
			len = sizeof(clean);
		sanitize(clean, text, len);
		fprintf(r->verbose, "crpc: hook %s/%s: %.*s\n", cb, step, (int)len, clean);
		fflush(r->verbose);
	}
}

/* ------------------------------------------------------------------------ */
/* runner                                                                   */

CRPC_API int crpc_hook_runner_new(crpc_hook_runner **out, const crpc_hooks *hooks,
				  const crpc_hook_context *ctx, crpc_error **err)
{
	static const crpc_hook_context none = { .images_dir_fd = -1 };
	crpc_hook_runner *r;

	*out = NULL;
	if (!ctx)
		ctx = &none;
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
/* environment                                                              */

struct step_env {
	char **envp; /* NULL-terminated; points into environ, ours and the step's */
	char *ours[sizeof(managed_vars) / sizeof(managed_vars[0])];
	size_t n_ours;
};

static void step_env_release(struct step_env *e)
{
	for (size_t i = 0; i < e->n_ours; i++)
		free(e->ours[i]);
	free(e->envp);
	e->envp = NULL;
	e->n_ours = 0;
}

static int __attribute__((format(printf, 2, 3))) add_ours(struct step_env *e, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	e->ours[e->n_ours++] = s;
	return 0;
}

/* The step's env names this variable (then it wins)? */
static bool step_sets(const crpc_hook_step *st, const char *kv)
{
	for (char **p = st->env; p && *p; p++)
		if (strchr(*p, '=') && same_var(*p, kv))
			return true;
	return false;
}

/*
 * crpc's environment (minus the variables crpc manages), then crpc's
 * variables, then the step's env; a later definition replaces an earlier one.
 */
static int build_env(const crpc_hook_runner *r, const crpc_notify *n, const crpc_hook_step *st, bool pts,
		     struct step_env *e)
{
	const char *cb = n->name && *n->name ? n->name : crpc_notify_kind_name(n->kind);
	const char *op = r->operation && *r->operation ? r->operation : (n->operation ? n->operation : "");
	bool restore = strcmp(op, "restore") == 0;
	pid_t init_pid, pid;
	size_t count = 0, k = 0;
	int rc = 0;

	memset(e, 0, sizeof(*e));
	pid = r->pid > 0 ? r->pid : (n->pid > 0 ? n->pid : 0);
	init_pid = restore && n->pid > 0 ? n->pid : pid;

	rc |= add_ours(e, "CRTOOLS_SCRIPT_ACTION=%s", cb);
	rc |= add_ours(e, "CRPC_ACTION=%s", cb);
	rc |= add_ours(e, "CRPC_OPERATION=%s", op);
	if (r->images_dir) {
		rc |= add_ours(e, "CRTOOLS_IMAGE_DIR=%s", r->images_dir);
		rc |= add_ours(e, "CRPC_IMAGES_DIR=%s", r->images_dir);
	}
	if (init_pid > 0)
		rc |= add_ours(e, "CRTOOLS_INIT_PID=%d", (int)init_pid);
	if (pid > 0)
		rc |= add_ours(e, "CRPC_PID=%d", (int)pid);
	if (n->pid > 0)
		rc |= add_ours(e, "CRPC_NOTIFY_PID=%d", n->pid);
	if (pts)
		rc |= add_ours(e, "CRPC_PTS_MASTER_FD=%d", PTS_FD);
	if (rc)
		goto oom;

	for (char **p = environ; p && *p; p++)
		count++;
	for (char **p = st->env; p && *p; p++)
		count++;
	e->envp = calloc(count + e->n_ours + 1, sizeof(char *));
	if (!e->envp)
		goto oom;
	for (char **p = environ; p && *p; p++)
		if (strchr(*p, '=') && !is_managed(*p) && !step_sets(st, *p))
			e->envp[k++] = *p;
	for (size_t i = 0; i < e->n_ours; i++)
		if (!step_sets(st, e->ours[i]))
			e->envp[k++] = e->ours[i];
	for (char **p = st->env; p && *p; p++) {
		bool later = false;

		if (!strchr(*p, '='))
			continue;
		for (char **q = p + 1; *q && !later; q++)
			later = strchr(*q, '=') && same_var(*p, *q);
		if (!later)
			e->envp[k++] = *p;
	}
	e->envp[k] = NULL;
	return 0;
oom:
	step_env_release(e);
	return -1;
}

/* ------------------------------------------------------------------------ */
/* executable lookup and the root ownership check                           */

static bool is_exec_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* `path` as seen from crpc's cwd when the step runs in `cwd`. */
static void from_step_cwd(const char *cwd, const char *path, char *buf, size_t sz)
{
	int n;

	if (cwd && path[0] != '/')
		n = snprintf(buf, sz, "%s/%s", cwd, path);
	else
		n = snprintf(buf, sz, "%s", path);
	if (n < 0 || (size_t)n >= sz)
		buf[0] = '\0'; /* too long to be a usable path: nothing matches */
}

/*
 * The path execvp() would run for argv0 with this PATH: argv0 itself when it
 * has a slash, else the first executable file on PATH. false if none.
 */
static bool resolve_exec(const char *argv0, const char *path_env, const char *cwd, char *out, size_t outsz)
{
	if (strchr(argv0, '/')) {
		snprintf(out, outsz, "%s", argv0);
		return true;
	}
	if (!path_env)
		path_env = "/bin:/usr/bin";
	for (const char *p = path_env;;) {
		size_t dirlen = strcspn(p, ":");
		char cand[PATH_MAX], check[PATH_MAX];

		if (dirlen == 0)
			snprintf(cand, sizeof(cand), "%s", argv0);
		else
			snprintf(cand, sizeof(cand), "%.*s/%s", (int)dirlen, p, argv0);
		from_step_cwd(cwd, cand, check, sizeof(check));
		if (is_exec_file(check)) {
			snprintf(out, outsz, "%s", cand);
			return true;
		}
		if (!p[dirlen])
			return false;
		p += dirlen + 1;
	}
}

/* As root: is this executable safe to run? Else why not, in why. */
static bool trusted_executable(const char *path, char *why, size_t whysz)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return true; /* exec will tell */
	if (st.st_uid != 0) {
		snprintf(why, whysz, "it is owned by uid %u, not by root", (unsigned)st.st_uid);
		return false;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, whysz, "it is writable by %s (mode %04o)",
			 (st.st_mode & S_IWOTH) ? "others" : "its group", (unsigned)(st.st_mode & 07777));
		return false;
	}
	return true;
}

/*
 * When argv[0] is a script interpreter (a shell, python, perl, ruby, node,
 * ...), the script it runs: its first operand that is not an option, when
 * that names an existing file (from the step's cwd). false otherwise, e.g.
 * for `sh -c 'command'`, whose command string is in the configuration.
 */
static bool script_operand(char *const *argv, char *out, size_t outsz, const char *cwd)
{
	/* each interpreter with the options that give it code instead of a file */
	static const struct {
		const char *name, *inline_opts;
	} interpreters[] = {
		{ "sh", "-c" },         { "bash", "-c" },       { "dash", "-c" },    { "zsh", "-c" },
		{ "ksh", "-c" },        { "mksh", "-c" },       { "ash", "-c" },     { "python", "-c -m" },
		{ "python2", "-c -m" }, { "python3", "-c -m" }, { "perl", "-e -E" }, { "ruby", "-e" },
		{ "node", "-e -p" },    { "nodejs", "-e -p" },  { "php", "-r" },     { "lua", "-e" },
		{ "tclsh", "" },
	};
	const char *base = strrchr(argv[0], '/'), *inl = NULL;
	struct stat st;

	base = base ? base + 1 : argv[0];
	for (size_t i = 0; i < sizeof(interpreters) / sizeof(interpreters[0]) && !inl; i++) {
		size_t l = strlen(interpreters[i].name);

		/* python3.11, perl5.36: a version after the name */
		if (strncmp(base, interpreters[i].name, l) == 0 &&
		    (base[l] == '\0' || strspn(base + l, "0123456789.") == strlen(base + l)))
			inl = interpreters[i].inline_opts;
	}
	if (!inl)
		return false;
	for (size_t i = 1; argv[i]; i++) {
		if (argv[i][0] == '-') {
			size_t l = strlen(argv[i]);
			const char *p = strstr(inl, argv[i]);

			if (l == 2 && p && (p[2] == '\0' || p[2] == ' '))
				return false; /* code on the command line, from the configuration */
			continue;
		}
		from_step_cwd(cwd, argv[i], out, outsz);
		return out[0] && stat(out, &st) == 0 && S_ISREG(st.st_mode);
	}
	return false;
}

/* ------------------------------------------------------------------------ */
/* the child                                                                */

enum child_stage {
	STAGE_NONE = 0,
	STAGE_SETUP,
	STAGE_CHDIR,
	STAGE_EXEC
};

struct child_report {
	int stage;
	int err;
};

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

struct stream {
	int fd;
	bool entries;  /* query-ext-files stdout: lines are external entries */
	bool skipping; /* the rest of an overlong entry is dropped */
	size_t len;
	char buf[LINE_MAX_BYTES];
};

struct step_run {
	const crpc_hook_runner *r;
	const char *cb;   /* callback name */
	const char *name; /* step name */
	struct stream streams[2];
	size_t n_streams;
	char last[LAST_LINES][LAST_LINE_SHOWN + 1];
	unsigned n_lines; /* output lines seen (the ring index is n_lines % LAST_LINES) */
	size_t logged;    /* bytes of output written to hooks.log */
	char **entries;
	size_t n_entries;
	const char *entry_error; /* why the entries are unusable, NULL if they are fine */

	/* outcome */
	pid_t pid;
	int status;
	bool waited; /* status is valid */
	bool timed_out;
	bool sigkilled; /* SIGKILL sent after the grace */
	struct child_report rep;
	double secs;
};

static void keep_last(struct step_run *sr, const char *text, size_t len)
{
	char *slot = sr->last[sr->n_lines % LAST_LINES];

	if (len > LAST_LINE_SHOWN)
		len = LAST_LINE_SHOWN;
	sanitize(slot, text, len);
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
		log_event(sr->r, sr->cb, sr->name, "(more than %u bytes of output: the rest is not logged)",
			  OUTPUT_LOG_MAX);
		return;
	}
	output_line(sr->r, sr->cb, sr->name, text, len);
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

		bprintf(line, sizeof(line), &pos, "external entry: %.*s", (int)len, text);
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
			log_event(sr->r, sr->cb, sr->name, "external entry longer than %d bytes dropped",
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
static void supervise(struct step_run *sr, int pidfd, unsigned timeout_ms, unsigned grace_ms)
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
	for (;;) {
		pid_t w = waitpid(sr->pid, &sr->status, 0);

		if (w == sr->pid) {
			sr->waited = true;
			break;
		}
		if (w < 0 && errno == EINTR)
			continue;
		break;
	}
	sr->secs = crpc__now() - t0;
}

/* ------------------------------------------------------------------------ */
/* running one step                                                         */

/* The step's command for hooks.log. */
static void describe_command(const crpc_hook_step *st, char *buf, size_t sz)
{
	size_t pos = 0;

	if (st->kind == CRPC_STEP_SHELL) {
		bprintf(buf, sz, &pos, "shell: %s", st->shell ? st->shell : "");
		return;
	}
	bprintf(buf, sz, &pos, "run:");
	for (char **a = st->argv; a && *a; a++) {
		if (**a && !strpbrk(*a, " \t\n'\"\\$"))
			bprintf(buf, sz, &pos, " %s", *a);
		else
			bprintf(buf, sz, &pos, " '%s'", *a);
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
	if (sr->rep.stage == STAGE_SETUP) {
		snprintf(buf, sz, "could not be started: cannot set up its file descriptors: %s", desc);
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

	bprintf(buf, sz, &pos, "%s step '%s'", sr->cb, sr->name);
	if (st->origin && *st->origin)
		bprintf(buf, sz, &pos, " (%s)", st->origin);
	bprintf(buf, sz, &pos, " %s", what);
	for (unsigned i = 0; i < n; i++) {
		unsigned idx = (sr->n_lines - n + i) % LAST_LINES;

		bprintf(buf, sz, &pos, "%s%s", i == 0 ? "; last output: " : " | ", sr->last[idx]);
	}
}

/* Start the step; on failure *why says why (nothing was started then). */
static int spawn_step(struct step_run *sr, const crpc_hook_step *st, const crpc_notify *n,
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
	int status_rd = -1, pidfd = -1;

	what[0] = '\0';
	describe_command(st, cmd, sizeof(cmd));
	log_event(r, sr->cb, sr->name, "start: %s%s%s%s", cmd, st->origin ? " (from " : "",
		  st->origin ? st->origin : "", st->origin ? ")" : "");

	if (st->kind == CRPC_STEP_RUN && (!st->argv || !st->argv[0] || !*st->argv[0])) {
		snprintf(what, whatsz, "has an empty command");
		goto not_started;
	}
	if (st->kind == CRPC_STEP_SHELL && !st->shell) {
		snprintf(what, whatsz, "has no shell command");
		goto not_started;
	}
	if (build_env(r, n, st, pts, &env) < 0) {
		snprintf(what, whatsz, "could not be started: out of memory");
		goto not_started;
	}
	exec_path[0] = '\0';
	if (st->kind == CRPC_STEP_RUN) {
		snprintf(exec_path, sizeof(exec_path), "%s", st->argv[0]);
		if (geteuid() == 0 && resolve_exec(st->argv[0], env_get(env.envp, "PATH"), st->cwd,
						   exec_path, sizeof(exec_path))) {
			char check[PATH_MAX], why[256];

			from_step_cwd(st->cwd, exec_path, check, sizeof(check));
			if (!trusted_executable(check, why, sizeof(why))) {
				if (snprintf(what, whatsz,
					     "was refused: crpc runs as root and will not "
					     "run %s: %s",
					     check, why) >= (int)whatsz)
					what[whatsz - 1] = '\0';
				step_env_release(&env);
				goto not_started;
			}
			/* an interpreter runs its script: the script is what must be root's */
			if (script_operand(st->argv, check, sizeof(check), st->cwd) &&
			    !trusted_executable(check, why, sizeof(why))) {
				if (snprintf(what, whatsz,
					     "was refused: crpc runs as root and will not "
					     "run the script %s: %s",
					     check, why) >= (int)whatsz)
					what[whatsz - 1] = '\0';
				step_env_release(&env);
				goto not_started;
			}
		}
	}
	if (spawn_step(sr, st, n, &env, exec_path, two_pipes, &status_rd, what, whatsz) < 0) {
		step_env_release(&env);
		goto not_started;
	}
	step_env_release(&env);

#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, sr->pid, 0);
#endif
	supervise(sr, pidfd, timeout_ms, r->grace_ms);
	if (pidfd >= 0)
		close(pidfd);
	if (io_read(status_rd, &sr->rep, sizeof(sr->rep)) != (ssize_t)sizeof(sr->rep))
		memset(&sr->rep, 0, sizeof(sr->rep));
	close(status_rd);

	describe_outcome(sr, st, exec_path, timeout_ms, r->grace_ms, what, whatsz);
	fmt_duration(sr->secs, dur, sizeof(dur));
	if (!what[0]) {
		log_event(r, sr->cb, sr->name, "end: exit 0 in %s", dur);
		return true;
	}
	log_event(r, sr->cb, sr->name, "end: %s (after %s)", what, dur);
	return false;

not_started:
	log_event(r, sr->cb, sr->name, "end: %s", what);
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
		log_event(r, cb, NULL, "notification %u of the %s (pid %d): %zu step%s", n->seq,
			  r->operation[0] ? r->operation : "operation", n->pid, count, count == 1 ? "" : "s");
	else
		log_event(r, cb, NULL, "notification %u of the %s: %zu step%s", n->seq,
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
			log_event(r, cb, name, "failure ignored (on_failure: ignore)");
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
			log_event(r, cb, name, "failure is a warning, going on");
			continue;
		}
		log_event(r, cb, name, "failing %s: %s", cb,
			  can_abort ? "CRIU aborts" : "CRIU cannot abort there and goes on");
		crpc_error_set(err, CRPC_EXIT_FAIL, 0, "hook", "%s", msg);
		if (err && *err && r->log_fd >= 0 && r->log_path)
			crpc_error_set_hint(*err, "the step's output is in %s", r->log_path);
		return -1;
	}
	return 0;
}
