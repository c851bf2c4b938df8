/* SPDX-License-Identifier: MIT */
/*
 * shim.c - crpc standing in for CRIU between an RPC client and the real
 * CRIU: fd translation, hooks at notifications, a bounded trace per session.
 * The behaviour is described in include/crpc/shim.h.
 *
 * One poll() loop serves two SOCK_SEQPACKET sockets: the client's (the N of
 * `swrk N`) and the one to the real `criu swrk`, in use from the first
 * request (started ahead of it, shim_spare.c), plus a pidfd of that CRIU
 * (a 100 ms tick without pidfds). Every
 * record is read whole (its size peeked first) with all the fds passed
 * along, and forwarded as one record with the same fds.
 *
 * State of a session: the request in flight (its type, the fds taken from
 * the client for it, whether the client asked for notifications), whether
 * a notification was handed to the client and its answer is awaited, and
 * the reason a hook gave when it made a notification fail.
 *
 * Here: the session (its poll() loop, the signals passed on to CRIU,
 * starting and ending CRIU), refusing a client and finding the real CRIU.
 * Messages are passed on in shim_forward.c, the trace is written in
 * shim_trace.c.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>

#include "crpc/shim.h"
#include "internal.h"
#include "shim_int.h"

/* Most fds accepted with one record; more are closed. */
#define SHIM_MAX_FDS 16
/* How long CRIU may take to end once the client is gone or the session failed. */
#define CRIU_END_WAIT_MS 120000u
/* Tick for watching CRIU where pidfds are missing. */
#define TICK_MS 100

extern char **environ;

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

_Static_assert(SHIM_MAX_FDS <= CRPC__RECORD_MAX_FDS, "a record holds SHIM_MAX_FDS fds");

/* ---- signals: passed on to CRIU ---------------------------------------- */

static const int fwd_signals[] = { SIGTERM, SIGINT, SIGHUP };
#define N_FWD (sizeof(fwd_signals) / sizeof(fwd_signals[0]))
static volatile sig_atomic_t sig_criu_pid;
static volatile sig_atomic_t sig_pending;

static void on_signal(int sig)
{
	int e = errno;

	if (sig_criu_pid > 0)
		kill((pid_t)sig_criu_pid, sig);
	else
		sig_pending = sig;
	errno = e;
}

/* ---- small helpers ------------------------------------------------------ */

void __attribute__((format(printf, 2, 3))) shim_vlog(const struct shim *s, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (!s->cfg->verbose)
		return;
	n = snprintf(line, sizeof(line), "crpc shim[%d]: [+%.3fs] ", (int)getpid(), crpc__now() - s->t0);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(s->cfg->verbose, "%s\n", line);
	fflush(s->cfg->verbose);
}

void __attribute__((format(printf, 3, 4))) shim_note(const struct shim *s, int prio, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	syslog(LOG_DAEMON | prio, "crpc shim[%d]: %s", (int)getpid(), msg);
	shim_vlog(s, "%s", msg);
}

const char *shim_type_name(int type)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&criu_req_type__descriptor, type);

	return v ? v->name : "UNKNOWN";
}

void shim_sanitize(char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' || c == '\t' || c == '\r')
			s[i] = ' ';
		else if (c < 0x20 || c >= 0x7f)
			s[i] = '?';
	}
	if (len > SHIM_ERRMSG_MAX)
		s[SHIM_ERRMSG_MAX] = '\0';
	while (len > 0 && s[len - 1] == ' ')
		s[--len] = '\0';
}

/* Is path the same file as the running executable? */
static bool is_self(const char *path)
{
	struct stat a, b;

	return stat(path, &a) == 0 && stat("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

void shim_op_word(int type, char *buf, size_t sz)
{
	const char *name = shim_type_name(type);
	size_t i = 0;

	for (; name[i] && i + 1 < sz; i++)
		buf[i] = name[i] == '_' ? '-' : (char)tolower((unsigned char)name[i]);
	buf[i] = '\0';
}

/* ---- records ------------------------------------------------------------- */

int shim_record_recv(int sk, crpc__record *r)
{
	return crpc__record_recv(sk, SHIM_MSG_MAX, SHIM_MAX_FDS, r);
}

/* ---- replies the shim writes itself ---------------------------------------- */

int shim_send_failure(int fd, int type, char *text)
{
	CriuResp r = CRIU_RESP__INIT;
	uint8_t *buf;
	size_t len;
	int rc;

	r.type = (CriuReqType)type;
	r.success = 0;
	r.cr_errmsg = text;
	len = criu_resp__get_packed_size(&r);
	buf = malloc(len ? len : 1);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	criu_resp__pack(&r, buf);
	rc = crpc__record_send(fd, buf, len, NULL, 0);
	free(buf);
	return rc;
}

/* ---- CRIU ------------------------------------------------------------------ */

/* The environment for CRIU: ours, with the loop marker. NULL on ENOMEM. */
static char **criu_env(void)
{
	size_t n = 0, k = 0;
	char **envp;

	for (char **p = environ; p && *p; p++)
		n++;
	envp = calloc(n + 2, sizeof(char *));
	if (!envp)
		return NULL;
	for (char **p = environ; p && *p; p++)
		if (strncmp(*p, CRPC_SHIM_DEPTH_ENV "=", strlen(CRPC_SHIM_DEPTH_ENV) + 1) != 0)
			envp[k++] = *p;
	envp[k++] = (char *)CRPC_SHIM_DEPTH_ENV "=1";
	envp[k] = NULL;
	return envp;
}

/*
 * Start `criu swrk`: *pidp, our socket to it (*skp) and a pidfd (*pidfdp,
 * -1 if none). -1 with *failed (the step) and errno; a CRIU that could not
 * be executed is reaped (its pid in *pidp, its status in *statusp), and
 * *exec_errno says why (0: it was not that).
 */
static int spawn_criu(struct shim *s, pid_t *pidp, int *skp, int *pidfdp, int *statusp, const char **failed,
		      int *exec_errno)
{
	const crpc_shim_config *c = s->cfg;
	crpc__spawn_how how = { .keep_fd = -1, .out_fd = -1, .clean_signals = false };
	size_t nopt = 0;
	char **argv, **envp;
	char fdstr[16];
	int sv[2];
	pid_t pid;

	*exec_errno = 0;
	for (char *const *o = c->criu_options; o && *o; o++)
		nopt++;
	argv = calloc(nopt + 4, sizeof(char *));
	envp = criu_env();
	if (!argv || !envp) {
		free(argv);
		free(envp);
		*failed = "allocation";
		errno = ENOMEM;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		int e = errno;

		free(argv);
		free(envp);
		*failed = "socketpair";
		errno = e;
		return -1;
	}
	snprintf(fdstr, sizeof(fdstr), "%d", sv[1]);
	how.keep_fd = sv[1];
	argv[0] = (char *)c->criu_path;
	for (size_t i = 0; i < nopt; i++)
		argv[1 + i] = c->criu_options[i];
	argv[1 + nopt] = (char *)"swrk";
	argv[2 + nopt] = fdstr;
	argv[3 + nopt] = NULL;

	/* what the client gave us, CRIU gets (our handlers go with the exec) */
	pid = crpc__spawn(c->criu_path, argv, envp, &how, failed);
	free(argv);
	free(envp);
	if (pid < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		if (*failed && strcmp(*failed, "exec") == 0) {
			/* as a child that could not execute CRIU would have ended */
			*exec_errno = e;
			*statusp = W_EXITCODE(127, 0);
		}
		errno = e;
		return -1;
	}
	close(sv[1]);
	*pidp = pid;
	*skp = sv[0];
	*pidfdp = (int)syscall(SYS_pidfd_open, pid, 0);
	if (*pidfdp >= 0)
		fcntl(*pidfdp, F_SETFD, FD_CLOEXEC);
	return 0;
}

int shim_spawn_criu(struct shim *s, pid_t *pidp, int *skp, int *pidfdp)
{
	const char *failed = NULL;
	int exec_errno, status;
	pid_t pid = 0;

	if (spawn_criu(s, &pid, skp, pidfdp, &status, &failed, &exec_errno) < 0)
		return -1;
	*pidp = pid;
	return 0;
}

void shim_criu_adopted(struct shim *s)
{
	sig_criu_pid = s->criu_pid;
	shim_vlog(s, "CRIU (pid %d) serves client %d (%s)", (int)s->criu_pid, (int)s->client_pid,
		  s->client_comm);
}

int shim_start_criu(struct shim *s, crpc_error **err)
{
	const char *failed = NULL;
	int exec_errno = 0;

	if (shim_spare_adopt(s) == 0)
		return 0;
	if (spawn_criu(s, &s->criu_pid, &s->criu_sk, &s->criu_pidfd, &s->criu_status, &failed, &exec_errno) <
	    0) {
		if (exec_errno) {
			s->criu_reaped = true;
			return crpc_error_set(err, CRPC_EXIT_ENV, exec_errno, "start CRIU",
					      "cannot execute %s", s->cfg->criu_path);
		}
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "start CRIU", "%s failed", failed);
	}
	shim_vlog(s, "started %s (pid %d) for client %d (%s)", s->cfg->criu_path, (int)s->criu_pid,
		  (int)s->client_pid, s->client_comm);
	sig_criu_pid = s->criu_pid;
	return 0;
}

static bool criu_exited(struct shim *s)
{
	int status;
	pid_t r;

	if (s->criu_reaped || s->criu_pid <= 0)
		return true;
	r = io_waitpid(s->criu_pid, &status, WNOHANG);
	if (r == s->criu_pid || r < 0) {
		s->criu_status = r < 0 ? 0 : status;
		s->criu_reaped = true;
		sig_criu_pid = 0;
		return true;
	}
	return false;
}

void shim_criu_wait(struct shim *s, unsigned timeout_ms)
{
	double deadline = crpc__now() + timeout_ms / 1000.0;

	if (s->criu_sk >= 0) {
		close(s->criu_sk); /* EOF: CRIU stops at its next read */
		s->criu_sk = -1;
	}
	while (!criu_exited(s)) {
		double left = deadline - crpc__now();
		struct pollfd p = { .fd = s->criu_pidfd, .events = POLLIN };

		if (timeout_ms == 0)
			left = 1.0;
		if (left <= 0) {
			shim_note(s, LOG_WARNING, "CRIU (pid %d) did not end within %u s; killing it",
				  (int)s->criu_pid, timeout_ms / 1000);
			kill(s->criu_pid, SIGKILL);
			(void)io_waitpid(s->criu_pid, &s->criu_status, 0);
			s->criu_reaped = true;
			sig_criu_pid = 0;
			return;
		}
		if (s->criu_pidfd >= 0)
			poll(&p, 1, left > 1.0 ? 1000 : (int)(left * 1000) + 1);
		else
			poll(NULL, 0, TICK_MS);
	}
}

int shim_criu_exit_code(const struct shim *s)
{
	if (!s->criu_reaped)
		return 1;
	if (WIFEXITED(s->criu_status))
		return WEXITSTATUS(s->criu_status);
	if (WIFSIGNALED(s->criu_status))
		return 128 + WTERMSIG(s->criu_status);
	return 1;
}

/* ---- the session ------------------------------------------------------------- */

static void client_identity(struct shim *s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	s->client_pid = 0;
	if (getsockopt(s->client, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
		s->client_pid = cred.pid;
	else
		s->client_pid = getppid();
	crpc__proc_comm(s->client_pid, s->client_comm, sizeof(s->client_comm));
	s->client_pidfd = (int)syscall(SYS_pidfd_open, s->client_pid, 0);
	if (s->client_pidfd >= 0)
		fcntl(s->client_pidfd, F_SETFD, FD_CLOEXEC);
}

CRPC_API void crpc_shim_config_init(crpc_shim_config *c)
{
	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
}

CRPC_API int crpc_shim_run(const crpc_shim_config *cfg, int client_fd, crpc_error **err)
{
	struct sigaction old[N_FWD];
	bool installed[N_FWD] = { false };
	crpc_shim_config own;
	struct shim s;
	int status = 0;

	crpc_shim_config_init(&own);
	if (!cfg ||
	    crpc__sized_take(&own, sizeof(own), cfg, CRPC__END_OF(crpc_shim_config, restored_pid_file),
			     "shim", "crpc_shim_config_init", err) < 0) {
		if (!cfg)
			crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "shim", "no configuration given");
		return CRPC_EXIT_USAGE;
	}
	memset(&s, 0, sizeof(s));
	s.cfg = &own;
	s.t0 = crpc__now();
	s.client = client_fd;
	s.criu_sk = -1;
	s.criu_pidfd = -1;
	s.spare_sk = -1;
	s.spare_pidfd = -1;
	s.tr.fd = -1;
	s.tr.dirfd = -1;
	s.log_dirfd = -1;
	sig_criu_pid = 0;
	sig_pending = 0;
	if (fcntl(client_fd, F_SETFD, FD_CLOEXEC) < 0) {
		crpc_error_set(err, CRPC_EXIT_USAGE, errno, "shim", "fd %d (from `swrk %d`) is not open",
			       client_fd, client_fd);
		return CRPC_EXIT_USAGE;
	}
	client_identity(&s);
	for (size_t i = 0; i < N_FWD; i++) {
		struct sigaction sa;

		if (sigaction(fwd_signals[i], NULL, &old[i]) < 0 || old[i].sa_handler == SIG_IGN)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		installed[i] = sigaction(fwd_signals[i], &sa, NULL) == 0;
	}
	shim_vlog(&s, "serving client %d (%s) on fd %d; CRIU is %s", (int)s.client_pid, s.client_comm,
		  client_fd, cfg->criu_path);
	/*
	 * CRIU starts while the client prepares its first request, unless that
	 * request is already here and is a VERSION the shim answers itself
	 */
	if (!shim_version_first(&s))
		shim_spare_start(&s);

	for (;;) {
		struct pollfd p[3];
		nfds_t np = 0;
		int ci = -1, ki = -1, pi = -1, n, rc;

		if (s.client_gone) {
			/* CRIU sees EOF at its next read: mid-request it aborts (the tasks resume) */
			if (s.criu_pid > 0)
				shim_criu_wait(&s, s.outstanding ? CRIU_END_WAIT_MS : 0);
			status = s.criu_pid > 0 ? shim_criu_exit_code(&s) : 0;
			break;
		}
		if (s.broken) {
			crpc_error_set(err, CRPC_EXIT_FAIL, EMSGSIZE, "shim", "%s",
				       *s.broken ? s.broken : "a message could not be passed on");
			status = 1;
			break;
		}
		if (sig_pending && s.criu_pid == 0) {
			shim_vlog(&s, "signal %d before CRIU was started: ending", (int)sig_pending);
			status = 128 + (int)sig_pending;
			break;
		}
		ci = (int)np;
		p[np++] = (struct pollfd){ .fd = s.client, .events = POLLIN };
		if (s.criu_sk >= 0) {
			ki = (int)np;
			p[np++] = (struct pollfd){ .fd = s.criu_sk, .events = POLLIN };
		}
		if (s.criu_pidfd >= 0 && !s.criu_reaped) {
			pi = (int)np;
			p[np++] = (struct pollfd){ .fd = s.criu_pidfd, .events = POLLIN };
		}
		n = poll(p, np, (s.criu_pid > 0 && s.criu_pidfd < 0) ? TICK_MS : -1);
		if (n < 0 && errno != EINTR) {
			crpc_error_set(err, CRPC_EXIT_FAIL, errno, "shim", "poll failed");
			status = 1;
			break;
		}
		if (n <= 0) {
			if (s.criu_pid > 0 && s.criu_pidfd < 0 && criu_exited(&s)) {
				status = shim_criu_gone(&s, err);
				break;
			}
			continue;
		}
		/* CRIU first: its last reply must reach the client before its end is seen */
		if ((ki >= 0 && p[ki].revents) ||
		    (pi >= 0 && p[pi].revents && poll(&p[ki >= 0 ? ki : 0], ki >= 0, 0) > 0)) {
			rc = shim_from_criu(&s, err);
			if (rc < 0) {
				status = 1;
				break;
			}
			if (rc == 1) {
				status = shim_criu_gone(&s, err);
				break;
			}
			continue;
		}
		if (pi >= 0 && p[pi].revents) {
			/* CRIU exited and nothing of it is left to read */
			status = shim_criu_gone(&s, err);
			break;
		}
		if (p[ci].revents) {
			rc = shim_from_client(&s, err);
			if (rc < 0) {
				status = err && *err && (*err)->exit_class > 1 ? (int)(*err)->exit_class : 1;
				break;
			}
			if (s.criu_reaped && !s.client_gone) {
				/* CRIU could not be started: the client was told */
				status = err && *err && (*err)->exit_class > 1 ? (int)(*err)->exit_class : 1;
				break;
			}
		}
	}

	shim_spare_discard(&s);
	if (s.criu_pid > 0 && !s.criu_reaped)
		shim_criu_wait(&s, CRIU_END_WAIT_MS);
	shim_request_end(&s);
	shim_trace_end(&s);
	free(s.broken);
	if (s.criu_sk >= 0)
		close(s.criu_sk);
	if (s.criu_pidfd >= 0)
		close(s.criu_pidfd);
	if (s.client_pidfd >= 0)
		close(s.client_pidfd);
	for (size_t i = 0; i < N_FWD; i++)
		if (installed[i])
			sigaction(fwd_signals[i], &old[i], NULL);
	sig_criu_pid = 0;
	return status;
}

/* ---- refusing, resolving ------------------------------------------------------- */

CRPC_API void crpc_shim_refuse(int client_fd, const char *message, unsigned wait_ms)
{
	struct pollfd p = { .fd = client_fd, .events = POLLIN };
	double deadline = crpc__now() + wait_ms / 1000.0;
	char text[SHIM_ERRMSG_MAX + 1];
	crpc__record rec;
	int type = CRIU_REQ_TYPE__EMPTY;

	for (;;) {
		double left = deadline - crpc__now();
		int n;

		if (left <= 0)
			goto out;
		n = poll(&p, 1, (int)(left * 1000) + 1);
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR)
			goto out;
	}
	if (shim_record_recv(client_fd, &rec) == CRPC__RECV_OK) {
		CriuReq *req = criu_req__unpack(NULL, rec.len, rec.buf);

		if (req) {
			type = req->type;
			criu_req__free_unpacked(req, NULL);
		}
		crpc__record_release(&rec);
		snprintf(text, sizeof(text), "%s", message ? message : "crpc shim failed");
		shim_sanitize(text);
		(void)shim_send_failure(client_fd, type, text);
	}
out:
	close(client_fd);
}

CRPC_API int crpc_shim_check_depth(crpc_error **err)
{
	const char *d = getenv(CRPC_SHIM_DEPTH_ENV);

	if (!d || !*d || strcmp(d, "0") == 0)
		return 0;
	crpc_error_set(err, CRPC_EXIT_ENV, ELOOP, "shim",
		       "this crpc shim was started by a CRIU that a crpc shim started (%s=%s): the "
		       "CRIU binary the shim runs leads back to crpc",
		       CRPC_SHIM_DEPTH_ENV, d);
	if (err && *err)
		crpc_error_set_hint(*err, "point criu: binary in the configuration or $CRPC_CRIU at the "
					  "real CRIU (e.g. /usr/sbin/criu), not at a wrapper that runs crpc");
	return -1;
}

static int refuse_self(const char *path, const char *from, crpc_error **err)
{
	crpc_error_set(err, CRPC_EXIT_ENV, ELOOP, "shim",
		       "the CRIU binary %s (from %s) is crpc itself: the shim would run itself", path, from);
	if (err && *err)
		crpc_error_set_hint(*err,
				    "point %s at the real CRIU (e.g. /usr/sbin/criu, or the path "
				    "in /etc/crpc/criu-path)",
				    from);
	return -1;
}

CRPC_API int crpc_shim_resolve_criu(const char *explicit_path, const char *config_binary, char *buf,
				    size_t bufsz, crpc_error **err)
{
	const char *env = getenv("CRPC_CRIU");
	const char *want = NULL, *from = NULL;

	if (explicit_path && *explicit_path) {
		want = explicit_path;
		from = "--criu";
	} else if (env && *env) {
		want = env;
		from = "$CRPC_CRIU";
	} else if (config_binary && *config_binary) {
		want = config_binary;
		from = "the configuration's criu: binary";
	}
	if (want) {
		struct stat st;

		if (stat(want, &st) < 0)
			return crpc_error_set(err, CRPC_EXIT_ENV, errno, "shim",
					      "the CRIU binary %s (from %s) does not exist", want, from);
		if (!S_ISREG(st.st_mode) || access(want, X_OK) < 0)
			return crpc_error_set(err, CRPC_EXIT_ENV, EACCES, "shim",
					      "the CRIU binary %s (from %s) is not an executable file", want,
					      from);
		if (is_self(want))
			return refuse_self(want, from, err);
		if ((size_t)snprintf(buf, bufsz, "%s", want) >= bufsz)
			return crpc_error_set(err, CRPC_EXIT_ENV, ENAMETOOLONG, "shim", "CRIU path too long");
		return 0;
	}
	if (crpc__criu_search_path(buf, bufsz, is_self))
		return 0;
	buf[0] = '\0';
	crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "shim",
		       "no real CRIU found: $CRPC_CRIU and criu: binary are not set and every criu on "
		       "$PATH is crpc itself");
	if (err && *err)
		crpc_error_set_hint(*err, "set criu: binary in the configuration or $CRPC_CRIU to the "
					  "real CRIU (e.g. /usr/sbin/criu)");
	return -1;
}
