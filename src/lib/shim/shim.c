/* SPDX-License-Identifier: MIT */
/*
 * shim.c - crpc standing in for CRIU between an RPC client and the real
 * CRIU: fd translation, hooks at notifications, a bounded trace per session.
 * The behaviour is described in include/crpc/shim.h.
 *
 * One poll() loop serves two SOCK_SEQPACKET sockets: the client's (the N of
 * `swrk N`) and the one to the real `criu swrk`, started at the first
 * request, plus a pidfd of that CRIU (a 100 ms tick without pidfds). Every
 * record is read whole (its size peeked first) with all the fds passed
 * along, and forwarded as one record with the same fds.
 *
 * State of a session: the request in flight (its type, the fds taken from
 * the client for it, whether the client asked for notifications), whether
 * a notification was handed to the client and its answer is awaited, and
 * the reason a hook gave when it made a notification fail.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <time.h>

#include "crpc/hooks.h"
#include "crpc/notify.h"
#include "crpc/shim.h"
#include "crpc/trace.h"
#include "internal.h"

/* Largest record accepted from either side (CRIU's are below 2 KiB). */
#define SHIM_MSG_MAX (1u << 20)
/* Most fds accepted with one record; more are closed. */
#define SHIM_MAX_FDS 16
/* How long CRIU may take to end once the client is gone or the session failed. */
#define CRIU_END_WAIT_MS 120000u
/* ... and once it hung up on us (it is exiting). */
#define CRIU_EXIT_WAIT_MS 5000u
/* Tick for watching CRIU where pidfds are missing. */
#define TICK_MS 100
/* Longest cr_errmsg the shim writes (go-criu reads replies into 8 KiB). */
#define SHIM_ERRMSG_MAX 2000
/* Trace files of the shim: PREFIX TIME-PID-OPERATION SUFFIX. */
#define TRACE_PREFIX "crpc-shim-"
#define TRACE_SUFFIX ".trace"
/*
 * The CRIU version the last VERSION reply gave, in the trace directory:
 * "DEV INO MTIME_NS SIZE VERSION" of the binary. Clients such as runc ask
 * for the version in a session of its own; with this file the traces of
 * their later sessions still name it.
 */
#define VERSION_CACHE ".criu-version"

extern char **environ;

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

_Static_assert(SHIM_MAX_FDS <= CRPC_RECORD_MAX_FDS, "a record holds SHIM_MAX_FDS fds");

/* The trace of a session and its size bound. */
struct shim_trace {
	crpc_trace *t;
	int dirfd;       /* the trace directory */
	int fd;          /* the file, O_APPEND: sizes, and the final "truncated" line */
	char name[256];  /* current name in dirfd */
	char stamp[64];  /* TIME-PID part of the name */
	bool named_op;   /* the name carries an operation other than version/feature-check */
	bool stopped;    /* truncated or failed: nothing more is recorded */
	uint64_t max_size;
};

struct shim {
	const crpc_shim_config *cfg;
	double t0;

	int client;          /* the client's socket */
	bool client_gone;
	pid_t client_pid;
	int client_pidfd;    /* -1 if none */
	char client_comm[64];

	int criu_sk;         /* -1 until CRIU runs and after it hung up */
	pid_t criu_pid;      /* 0 until started */
	int criu_pidfd;      /* -1 if none */
	bool criu_reaped;
	int criu_status;

	/* the request in flight */
	bool outstanding;
	int req_type;
	int held[4];         /* fds taken from the client for it */
	size_t n_held;
	int log_dirfd;       /* CRIU's work dir for it (one of held), -1 if none */
	char *log_name;      /* CRIU's log file in there */
	bool client_notify;  /* the client asked for notifications */
	bool await_ack;      /* a notification went to the client; its answer is due */
	char **ext;          /* hook entries for the query-ext-files the client answers */
	size_t n_ext;
	crpc_dispatcher *disp;
	crpc_hook_runner *runner;
	crpc_error *abort_reason; /* a hook made a notification fail */
	char abort_cb[64];
	unsigned seq;
	double req_t0;

	char *broken;        /* why a message could not be passed on: the session ends */

	struct shim_trace tr;
	bool trace_tried;
	bool warned_trace;
};

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

static void __attribute__((format(printf, 2, 3))) shim_vlog(const struct shim *s, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (!s->cfg->verbose)
		return;
	n = snprintf(line, sizeof(line), "crpc shim[%d]: [+%.3fs] ", (int)getpid(), crpc_now() - s->t0);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(s->cfg->verbose, "%s\n", line);
	fflush(s->cfg->verbose);
}

/* A problem worth a line in the system log (and the verbose stream). */
static void __attribute__((format(printf, 3, 4)))
shim_note(const struct shim *s, int prio, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	syslog(LOG_DAEMON | prio, "crpc shim[%d]: %s", (int)getpid(), msg);
	shim_vlog(s, "%s", msg);
}

static void close_fds(int *fds, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	*n = 0;
}

static const char *shim_type_name(int type)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&criu_req_type__descriptor, type);

	return v ? v->name : "UNKNOWN";
}

/* Keep a message fit for cr_errmsg: printable ASCII, one line, bounded. */
static void shim_sanitize(char *s)
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

/* ---- records ------------------------------------------------------------- */

/*
 * Read one record with its fds. CRPC_RECV_OK, CRPC_RECV_EOF (peer closed or
 * an empty record) or -1 with errno (EMSGSIZE: larger than SHIM_MSG_MAX, the
 * record was consumed; EBADMSG: cut short).
 */
static int shim_record_recv(int sk, crpc_record *r)
{
	return crpc_record_recv(sk, SHIM_MSG_MAX, SHIM_MAX_FDS, r);
}

/* ---- the trace ----------------------------------------------------------- */

/* mkdir -p with mode 0700 for what is created. */
static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

struct trace_entry {
	char *name;
	uint64_t size;
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct trace_entry *)a)->name, ((const struct trace_entry *)b)->name);
}

static bool is_trace_name(const char *n)
{
	size_t len = strlen(n), pl = strlen(TRACE_PREFIX), sl = strlen(TRACE_SUFFIX);

	return len > pl + sl && strncmp(n, TRACE_PREFIX, pl) == 0 && strcmp(n + len - sl, TRACE_SUFFIX) == 0;
}

/*
 * Make room for one more trace: remove the oldest of the shim's trace files
 * (by name, which starts with the time) until at most max_files - 1 are
 * left and they hold at most max_total - max_file bytes.
 */
static void prune_traces(int dirfd, unsigned max_files, uint64_t max_total, uint64_t max_file)
{
	struct trace_entry *v = NULL;
	size_t n = 0, cap = 0, first = 0;
	uint64_t total = 0, budget = max_total > max_file ? max_total - max_file : 0;
	struct dirent *de;
	DIR *d;
	int fd = dup(dirfd);

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		struct stat st;

		if (!is_trace_name(de->d_name) ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct trace_entry *g = n < 100000 ? realloc(v, nc * sizeof(*v)) : NULL;

			if (!g)
				break;
			v = g;
			cap = nc;
		}
		v[n].name = strdup(de->d_name);
		if (!v[n].name)
			break;
		v[n].size = (uint64_t)st.st_size;
		total += v[n].size;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), entry_cmp);
	while (first < n && (n - first + 1 > max_files || total > budget)) {
		if (unlinkat(dirfd, v[first].name, 0) == 0 || errno == ENOENT)
			total -= v[first].size;
		first++;
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static void shim_op_word(int type, char *buf, size_t sz)
{
	const char *name = shim_type_name(type);
	size_t i = 0;

	for (; name[i] && i + 1 < sz; i++)
		buf[i] = name[i] == '_' ? '-' : (char)tolower((unsigned char)name[i]);
	buf[i] = '\0';
}

static void trace_warn_once(struct shim *s, const char *what, int e)
{
	if (s->warned_trace)
		return;
	s->warned_trace = true;
	shim_note(s, LOG_WARNING, "no trace for this session: %s (%s); the session goes on", what,
		  strerror(e));
}

/* Open the session's trace at its first request. Failures only cost the trace. */
/* ---- the CRIU version, remembered between sessions ---- */

/* The identity of the CRIU binary ("DEV INO MTIME_NS SIZE"); false if it cannot be read. */
static bool criu_identity(const char *path, char *buf, size_t bufsz)
{
	struct stat st;

	if (!path || stat(path, &st) < 0)
		return false;
	snprintf(buf, bufsz, "%ju %ju %jd%09ld %jd", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
		 (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (intmax_t)st.st_size);
	return true;
}

/* The version remembered for this binary into ver; false when none (or another binary's). */
static bool version_cache_read(struct shim *s, char *ver, size_t versz)
{
	char id[128], *line = NULL, *nl;
	size_t idlen, len;
	bool ok;

	if (s->tr.dirfd < 0 || !criu_identity(s->cfg->criu_path, id, sizeof(id)) ||
	    crpc_read_file_at(s->tr.dirfd, VERSION_CACHE, 255, &line, &len, NULL) < 0)
		return false;
	nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	idlen = strlen(id);
	ok = strncmp(line, id, idlen) == 0 && line[idlen] == ' ' && line[idlen + 1];
	if (ok)
		snprintf(ver, versz, "%s", line + idlen + 1);
	free(line);
	return ok;
}

/* Remember the version a VERSION reply gave (a temporary file renamed into place). */
static void shim_version_cache_write(struct shim *s, const CriuVersion *v)
{
	crpc_version cv = { 0 };
	char id[128], ver[96], line[256], tmp[64];
	ssize_t n;
	int fd, len;
	bool ok;

	if (s->tr.dirfd < 0 || !v || !criu_identity(s->cfg->criu_path, id, sizeof(id)))
		return;
	cv.major = v->major_number;
	cv.minor = v->minor_number;
	cv.sublevel = v->has_sublevel ? v->sublevel : 0;
	cv.extra = v->has_extra ? v->extra : 0;
	if (v->gitid)
		snprintf(cv.gitid, sizeof(cv.gitid), "%s", v->gitid);
	crpc_version_format(&cv, ver, sizeof(ver));
	len = snprintf(line, sizeof(line), "%s %s\n", id, ver);
	if (len < 0 || (size_t)len >= sizeof(line))
		return;
	snprintf(tmp, sizeof(tmp), VERSION_CACHE ".%d", (int)getpid());
	fd = openat(s->tr.dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	do
		n = write(fd, line, (size_t)len);
	while (n < 0 && errno == EINTR);
	ok = n == len;
	close(fd);
	if (!ok || renameat(s->tr.dirfd, tmp, s->tr.dirfd, VERSION_CACHE) < 0)
		unlinkat(s->tr.dirfd, tmp, 0);
}

static void shim_trace_start(struct shim *s, int first_type)
{
	const crpc_shim_config *c = s->cfg;
	struct shim_trace *tr = &s->tr;
	char op[32], path[PATH_MAX + 300], target[128], ts[32], ver[96];
	crpc_trace_header h = { .operation = "shim", .argc = c->argc, .argv = c->argv };
	crpc_error *e = NULL;
	struct timespec now;
	struct tm tm;

	s->trace_tried = true;
	if (!c->trace_dir || !*c->trace_dir)
		return;
	tr->fd = -1;
	tr->max_size = c->trace_max_file_size ? c->trace_max_file_size : CRPC_SHIM_TRACE_MAX_FILE_SIZE;
	if (make_dirs(c->trace_dir) < 0) {
		trace_warn_once(s, c->trace_dir, errno);
		return;
	}
	tr->dirfd = open(c->trace_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tr->dirfd < 0) {
		trace_warn_once(s, c->trace_dir, errno);
		return;
	}
	prune_traces(tr->dirfd, c->trace_max_files ? c->trace_max_files : CRPC_SHIM_TRACE_MAX_FILES,
		     c->trace_max_total ? c->trace_max_total : CRPC_SHIM_TRACE_MAX_TOTAL, tr->max_size);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm);
	snprintf(tr->stamp, sizeof(tr->stamp), "%s.%06ldZ-%d", ts, (long)(now.tv_nsec / 1000),
		 (int)getpid());
	shim_op_word(first_type, op, sizeof(op));
	tr->named_op = first_type != CRIU_REQ_TYPE__VERSION && first_type != CRIU_REQ_TYPE__FEATURE_CHECK;
	snprintf(tr->name, sizeof(tr->name), TRACE_PREFIX "%s-%s" TRACE_SUFFIX, tr->stamp, op);
	snprintf(path, sizeof(path), "%s/%s", c->trace_dir, tr->name);
	snprintf(target, sizeof(target), "client %d (%s)", (int)s->client_pid, s->client_comm);
	h.target = target;
	if (crpc_trace_open(&tr->t, path, &h, &e) < 0) {
		trace_warn_once(s, path, e && e->sys_errno ? e->sys_errno : EIO);
		crpc_error_free(e);
		close(tr->dirfd);
		tr->dirfd = -1;
		return;
	}
	tr->fd = openat(tr->dirfd, tr->name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (tr->fd < 0) {
		trace_warn_once(s, path, errno);
		crpc_trace_close(tr->t);
		tr->t = NULL;
		unlinkat(tr->dirfd, tr->name, 0);
		return;
	}
	crpc_trace_set_criu(tr->t, c->criu_path, version_cache_read(s, ver, sizeof(ver)) ? ver : NULL);
	shim_vlog(s, "trace: %s", path);
}

/* The first operation after VERSION/FEATURE_CHECK names the file. */
static void shim_trace_name_op(struct shim *s, int type)
{
	struct shim_trace *tr = &s->tr;
	char op[32], name[sizeof(tr->name)];

	if (!tr->t || tr->named_op || type == CRIU_REQ_TYPE__VERSION ||
	    type == CRIU_REQ_TYPE__FEATURE_CHECK || type == CRIU_REQ_TYPE__NOTIFY)
		return;
	tr->named_op = true;
	shim_op_word(type, op, sizeof(op));
	snprintf(name, sizeof(name), TRACE_PREFIX "%s-%s" TRACE_SUFFIX, tr->stamp, op);
	if (renameat(tr->dirfd, tr->name, tr->dirfd, name) == 0)
		memcpy(tr->name, name, sizeof(name));
}

static uint64_t fd_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Stop recording: cut the file back to `keep` bytes and say why in a last line. */
static void trace_truncate(struct shim *s, uint64_t keep)
{
	struct shim_trace *tr = &s->tr;
	char line[256];
	int n;

	crpc_trace_close(tr->t);
	tr->t = NULL;
	tr->stopped = true;
	if (ftruncate(tr->fd, (off_t)keep) < 0)
		return;
	n = snprintf(line, sizeof(line),
		     "{\"type\":\"truncated\",\"limit_bytes\":%ju,\"reason\":\"the trace reached "
		     "shim: trace_max_file_size; later messages are not recorded\"}\n",
		     (uintmax_t)tr->max_size);
	if (n > 0 && write(tr->fd, line, (size_t)n) < 0)
		trace_warn_once(s, tr->name, errno);
	shim_vlog(s, "trace: %s reached %ju bytes; not recording any further", tr->name,
		  (uintmax_t)tr->max_size);
}

/*
 * Around each line the shim records: false when nothing is to be recorded
 * (no trace, or it stopped); else *before is the file's size for
 * trace_line_end().
 */
static bool trace_line_begin(struct shim *s, uint64_t *before)
{
	struct shim_trace *tr = &s->tr;

	if (!tr->t || tr->stopped)
		return false;
	*before = fd_size(tr->fd);
	return true;
}

/* A line that failed to be written, or took the file past its bound, is cut off. */
static void trace_line_end(struct shim *s, uint64_t before)
{
	struct shim_trace *tr = &s->tr;
	uint64_t after = fd_size(tr->fd);

	if (crpc_trace_write_errno(tr->t)) {
		trace_warn_once(s, tr->name, crpc_trace_write_errno(tr->t));
		trace_truncate(s, before);
		return;
	}
	if (after > tr->max_size)
		trace_truncate(s, before);
}

static void shim_trace_msg(struct shim *s, crpc_direction dir, const uint8_t *buf, size_t len, int fd)
{
	uint64_t before;

	if (s->cfg->verbose) {
		char line[512];

		crpc_message_summary(dir, buf, len, fd, line, sizeof(line));
		shim_vlog(s, "%s", line);
	}
	if (!trace_line_begin(s, &before))
		return;
	crpc_trace_message(dir, buf, len, fd, s->tr.t);
	trace_line_end(s, before);
}

/* Something the shim did on its own: an event line (see crpc_trace_event()). */
static void shim_trace_event(struct shim *s, const char *event, const char *callback, const char *text)
{
	uint64_t before;

	if (!trace_line_begin(s, &before))
		return;
	crpc_trace_event(s->tr.t, event, callback, text);
	trace_line_end(s, before);
}

static void shim_trace_end(struct shim *s)
{
	struct shim_trace *tr = &s->tr;

	if (tr->t)
		crpc_trace_close(tr->t);
	tr->t = NULL;
	if (tr->fd >= 0)
		close(tr->fd);
	tr->fd = -1;
	if (tr->dirfd >= 0)
		close(tr->dirfd);
	tr->dirfd = -1;
}

/* ---- replies the shim writes itself ---------------------------------------- */

/* A failed reply of `type` carrying `msg` to the client. */
/* A failed reply of `type` carrying text (already fit for cr_errmsg) sent on fd. -1 with errno. */
static int shim_send_failure(int fd, int type, char *text)
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
	rc = crpc_record_send(fd, buf, len, NULL, 0);
	free(buf);
	return rc;
}

static void reply_failure(struct shim *s, int type, const char *msg)
{
	char text[SHIM_ERRMSG_MAX + 1], ev[SHIM_ERRMSG_MAX + 64];

	snprintf(text, sizeof(text), "%s", msg);
	shim_sanitize(text);
	shim_vlog(s, "-> client: %s failed: %s", shim_type_name(type), text);
	snprintf(ev, sizeof(ev), "%s: %s", shim_type_name(type), text);
	shim_trace_event(s, "shim-reply", NULL, ev);
	if (!s->client_gone && shim_send_failure(s->client, type, text) < 0)
		shim_note(s, LOG_WARNING, "cannot send the failure reply to the client: %s", strerror(errno));
}

/* Answer a notification to CRIU ourselves. */
static int ack_criu(struct shim *s, bool ok, char **ext, size_t n_ext)
{
	CriuReq ack = CRIU_REQ__INIT;
	CriuOpts o = CRIU_OPTS__INIT;
	uint8_t *buf;
	size_t len;
	int rc;

	ack.type = CRIU_REQ_TYPE__NOTIFY;
	ack.has_notify_success = 1;
	ack.notify_success = ok;
	if (ok && n_ext) {
		o.external = ext;
		o.n_external = n_ext;
		ack.opts = &o;
	}
	len = criu_req__get_packed_size(&ack);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -1;
	criu_req__pack(&ack, buf);
	shim_trace_msg(s, CRPC_TO_CRIU, buf, len, -1);
	rc = crpc_record_send(s->criu_sk, buf, len, NULL, 0);
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

/* In CRIU's child: what the client gave us, CRIU gets: only our handlers go. */
static int criu_child_setup(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < N_FWD; i++) {
		struct sigaction sa;

		if (sigaction(fwd_signals[i], NULL, &sa) == 0 && sa.sa_handler == on_signal)
			signal(fwd_signals[i], SIG_DFL);
	}
	return 0;
}

static int shim_start_criu(struct shim *s, crpc_error **err)
{
	const crpc_shim_config *c = s->cfg;
	size_t nopt = 0;
	char **argv, **envp;
	char fdstr[16];
	int sv[2];
	int child_errno = 0;
	const char *failed;
	pid_t pid;

	for (char *const *o = c->criu_options; o && *o; o++)
		nopt++;
	argv = calloc(nopt + 4, sizeof(char *));
	envp = criu_env();
	if (!argv || !envp) {
		free(argv);
		free(envp);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "start CRIU", "out of memory");
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		free(argv);
		free(envp);
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "start CRIU", "socketpair failed");
	}
	snprintf(fdstr, sizeof(fdstr), "%d", sv[1]);
	argv[0] = (char *)c->criu_path;
	for (size_t i = 0; i < nopt; i++)
		argv[1 + i] = c->criu_options[i];
	argv[1 + nopt] = (char *)"swrk";
	argv[2 + nopt] = fdstr;
	argv[3 + nopt] = NULL;

	pid = crpc_spawn(c->criu_path, argv, envp, sv[1], criu_child_setup, NULL, &child_errno, &failed);
	free(argv);
	free(envp);
	if (pid < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, "start CRIU", "%s failed", failed);
	}
	close(sv[1]);
	s->criu_sk = sv[0];
	s->criu_pid = pid;
	sig_criu_pid = pid;
	s->criu_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (s->criu_pidfd >= 0)
		fcntl(s->criu_pidfd, F_SETFD, FD_CLOEXEC);
	if (child_errno) {
		int status;

		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		s->criu_reaped = true;
		s->criu_status = status;
		crpc_error_set(err, CRPC_EXIT_ENV, child_errno, "start CRIU", "cannot execute %s",
			       c->criu_path);
		return -1;
	}
	shim_vlog(s, "started %s (pid %d) for client %d (%s)", c->criu_path, (int)pid, (int)s->client_pid,
		  s->client_comm);
	return 0;
}

static bool criu_exited(struct shim *s)
{
	int status;
	pid_t r;

	if (s->criu_reaped || s->criu_pid <= 0)
		return true;
	do
		r = waitpid(s->criu_pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == s->criu_pid || r < 0) {
		s->criu_status = r < 0 ? 0 : status;
		s->criu_reaped = true;
		sig_criu_pid = 0;
		return true;
	}
	return false;
}

/*
 * Close our end (CRIU stops at its next read) and wait for CRIU to end: at
 * most timeout_ms, then kill it; 0: as long as it takes (a CRIU between
 * requests ends at once, one running exec_cmd has become that command).
 */
static void shim_criu_wait(struct shim *s, unsigned timeout_ms)
{
	double deadline = crpc_now() + timeout_ms / 1000.0;

	if (s->criu_sk >= 0) {
		close(s->criu_sk); /* EOF: CRIU stops at its next read */
		s->criu_sk = -1;
	}
	while (!criu_exited(s)) {
		double left = deadline - crpc_now();
		struct pollfd p = { .fd = s->criu_pidfd, .events = POLLIN };

		if (timeout_ms == 0)
			left = 1.0;
		if (left <= 0) {
			shim_note(s, LOG_WARNING, "CRIU (pid %d) did not end within %u s; killing it",
				  (int)s->criu_pid, timeout_ms / 1000);
			kill(s->criu_pid, SIGKILL);
			while (waitpid(s->criu_pid, &s->criu_status, 0) < 0 && errno == EINTR)
				;
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

/* The shim's exit status for how CRIU ended. */
static int shim_criu_exit_code(const struct shim *s)
{
	if (!s->criu_reaped)
		return 1;
	if (WIFEXITED(s->criu_status))
		return WEXITSTATUS(s->criu_status);
	if (WIFSIGNALED(s->criu_status))
		return 128 + WTERMSIG(s->criu_status);
	return 1;
}

/* ---- the request in flight ------------------------------------------------- */

static void free_ext(struct shim *s)
{
	for (size_t i = 0; i < s->n_ext; i++)
		free(s->ext[i]);
	free(s->ext);
	s->ext = NULL;
	s->n_ext = 0;
}

static void shim_request_end(struct shim *s)
{
	if (s->runner) {
		for (const char *const *w = crpc_hook_runner_warnings(s->runner); w && *w; w++)
			shim_note(s, LOG_WARNING, "hook warning: %s", *w);
	}
	close_fds(s->held, &s->n_held);
	s->log_dirfd = -1;
	free(s->log_name);
	s->log_name = NULL;
	crpc_hook_runner_free(s->runner);
	s->runner = NULL;
	crpc_dispatcher_free(s->disp);
	s->disp = NULL;
	crpc_error_free(s->abort_reason);
	s->abort_reason = NULL;
	s->abort_cb[0] = '\0';
	free_ext(s);
	s->outstanding = false;
	s->await_ack = false;
	s->client_notify = false;
	s->seq = 0;
}

/*
 * Take fd number `n` of the client into the shim: pidfd_getfd() (the very
 * same open file), else reopening /proc/CLIENT/fd/N with `flags`.
 */
static int take_client_fd(struct shim *s, int n, int flags)
{
	char path[64];
	int fd = -1;

	if (s->client_pidfd >= 0)
		fd = (int)syscall(SYS_pidfd_getfd, s->client_pidfd, n, 0);
	if (fd >= 0) {
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		return fd;
	}
	if (flags < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)s->client_pid, n);
	return open(path, flags | O_CLOEXEC);
}

/*
 * Rewrite the fd fields CRIU resolves through its peer so that they name
 * the shim's copies. -1 with a message for the client when one cannot be
 * taken (forwarding the number would let CRIU open one of the shim's fds).
 */
static int translate_fds(struct shim *s, CriuOpts *o, char *why, size_t whysz)
{
	struct {
		const char *name;
		int32_t *val;
		bool present;
		int flags; /* for reopening; -1: only pidfd_getfd */
	} f[] = {
		{ "images_dir_fd", &o->images_dir_fd, o->images_dir_fd >= 0, O_RDONLY },
		{ "work_dir_fd", &o->work_dir_fd, o->has_work_dir_fd && o->work_dir_fd >= 0, O_RDONLY },
		{ "status_fd", &o->status_fd, o->has_status_fd && o->status_fd >= 0, O_WRONLY },
		{ "pidfd_store_sk", &o->pidfd_store_sk, o->has_pidfd_store_sk && o->pidfd_store_sk >= 0, -1 },
	};
	int orig[4];

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		int fd = -1;

		orig[i] = *f[i].val;
		if (!f[i].present)
			continue;
		for (size_t j = 0; j < i; j++)
			if (f[j].present && orig[j] == orig[i])
				fd = *f[j].val; /* the same client fd: one copy */
		if (fd < 0) {
			fd = take_client_fd(s, orig[i], f[i].flags);
			if (fd < 0) {
				int e = errno;

				snprintf(why, whysz,
					 "crpc shim: cannot take %s %d from the client (pid %d, %s): %s (%s); "
					 "the request was not passed to CRIU",
					 f[i].name, orig[i], (int)s->client_pid, s->client_comm,
					 crpc_errno_name(e) ? crpc_errno_name(e) : "?", strerror(e));
				return -1;
			}
			s->held[s->n_held++] = fd;
		}
		shim_vlog(s, "%s: client fd %d is fd %d here", f[i].name, orig[i], fd);
		*f[i].val = fd;
	}
	return 0;
}

/* Where CRIU writes its log for a request: its work dir (as CRIU does). */
static void log_location(struct shim *s, const CriuOpts *o)
{
	const char *name = o->log_file ? o->log_file : "criu.log";

	s->log_dirfd = o->has_work_dir_fd && o->work_dir_fd >= 0 ? o->work_dir_fd : o->images_dir_fd;
	if (s->log_dirfd >= 0 && !strchr(name, '/'))
		s->log_name = strdup(name);
	if (!s->log_name)
		s->log_dirfd = -1;
}

/*
 * Add the shim's reason for a failure as the last line of CRIU's log: the
 * file a client names in its error ("log file: ...") and the one people
 * read; not every client shows cr_errmsg (runc 1.1 does not). Only an
 * existing regular file is appended to.
 */
static void log_append(const struct shim *s, const char *msg)
{
	struct stat st;
	char *line = NULL;
	int fd, n;

	if (s->log_dirfd < 0 || !s->log_name)
		return;
	if (strncmp(msg, "crpc shim: ", 11) == 0)
		msg += 11;
	fd = openat(s->log_dirfd, s->log_name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC |
							  O_NONBLOCK);
	if (fd < 0)
		return;
	n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? asprintf(&line, "Error (crpc shim): %s\n", msg) : -1;
	if (n > 0 && write(fd, line, (size_t)n) < 0)
		shim_vlog(s, "cannot add to CRIU's log %s: %s", s->log_name, strerror(errno));
	free(line);
	close(fd);
}

static bool have_hooks(const crpc_hooks *h)
{
	if (!h)
		return false;
	for (int k = 0; k < CRPC_NOTIFY__COUNT; k++)
		if (h->n_steps[k])
			return true;
	return false;
}

/*
 * The dispatcher and hook runner of a DUMP or RESTORE request. -1 with a
 * message for the client when they cannot be set up: the operation must not
 * run without the steps configured for it.
 */
static int request_hooks(struct shim *s, const CriuReq *req, char *why, size_t whysz)
{
	const CriuOpts *o = req->opts;
	crpc_hook_context ctx = { .images_dir_fd = -1 };
	crpc_error *e = NULL;
	char op[32];

	if (!have_hooks(s->cfg->hooks) || !o)
		return 0;
	shim_op_word(req->type, op, sizeof(op));
	ctx.operation = op;
	ctx.pid = req->type == CRIU_REQ_TYPE__DUMP && o->has_pid ? o->pid : 0;
	ctx.images_dir_fd = o->images_dir_fd;
	ctx.verbose = s->cfg->verbose;
	s->disp = crpc_dispatcher_new();
	if (!s->disp || crpc_hook_runner_new(&s->runner, s->cfg->hooks, &ctx, &e) < 0 ||
	    crpc_dispatcher_add(s->disp, "hooks", crpc_hook_runner_notify, s->runner) < 0) {
		snprintf(why, whysz, "crpc shim: cannot set up the hooks of the %s: %s%s%s; the request "
			 "was not passed to CRIU", op, e && e->message ? e->message : "out of memory",
			 e && e->sys_errno ? ": " : "", e && e->sys_errno ? strerror(e->sys_errno) : "");
		crpc_error_free(e);
		return -1;
	}
	return 0;
}

/* ---- messages from the client --------------------------------------------- */

/* The session is over because of the client: a reason for the log. */
static int session_fail(struct shim *s, int type, const char *why, crpc_error **err)
{
	reply_failure(s, type, why);
	crpc_error_set(err, CRPC_EXIT_FAIL, 0, "shim", "%s", why);
	return -1;
}

/*
 * A record from `who` ("the client", "CRIU") that could not be received
 * (errno e; rec_len its size after EMSGSIZE): ends the session. -1.
 */
static int recv_failed(struct shim *s, const char *who, int e, size_t rec_len, crpc_error **err)
{
	char why[512];

	if (e == EMSGSIZE)
		snprintf(why, sizeof(why),
			 "crpc shim: %s sent a %zu-byte message, more than the %u bytes the shim accepts; the "
			 "session was ended",
			 who, rec_len, SHIM_MSG_MAX);
	else
		snprintf(why, sizeof(why), "crpc shim: cannot read %s's message: %s", who, strerror(e));
	return session_fail(s, s->outstanding ? s->req_type : CRIU_REQ_TYPE__EMPTY, why, err);
}

/* A NOTIFY answer of the client for a notification it was given. */
static int client_ack(struct shim *s, crpc_record *rec, CriuReq *req)
{
	uint8_t *buf = rec->buf;
	size_t len = rec->len;
	int rc;

	s->await_ack = false;
	if (s->n_ext && req->has_notify_success && req->notify_success) {
		/* the hooks' entries join the client's own */
		CriuOpts own = CRIU_OPTS__INIT;
		CriuOpts *o = req->opts ? req->opts : &own;
		size_t total = o->n_external + s->n_ext;
		char **all = calloc(total, sizeof(char *));
		char **keep = o->external;
		size_t keep_n = o->n_external;

		if (all) {
			if (o->n_external)
				memcpy(all, o->external, o->n_external * sizeof(char *));
			memcpy(all + o->n_external, s->ext, s->n_ext * sizeof(char *));
			o->external = all;
			o->n_external = total;
			req->opts = o;
			len = criu_req__get_packed_size(req);
			buf = malloc(len ? len : 1);
			if (buf)
				criu_req__pack(req, buf);
			o->external = keep;
			o->n_external = keep_n;
			if (o == &own)
				req->opts = NULL;
			free(all);
		}
		if (!buf) {
			buf = rec->buf;
			len = rec->len;
		}
	}
	free_ext(s);
	shim_trace_msg(s, CRPC_TO_CRIU, buf, len, rec->nfds ? rec->fds[0] : -1);
	rc = crpc_record_send(s->criu_sk, buf, len, rec->fds, rec->nfds);
	if (buf != rec->buf)
		free(buf);
	return rc;
}

/*
 * A message from the client. 0: go on; 1: the session is over (client
 * gone); -1: failed (the client was told).
 */
static int shim_from_client(struct shim *s, crpc_error **err)
{
	crpc_record rec;
	CriuReq *req;
	char why[1024];
	uint8_t *out = NULL;
	size_t outlen;
	int rc;

	rc = shim_record_recv(s->client, &rec);
	if (rc == CRPC_RECV_EOF) {
		s->client_gone = true;
		shim_vlog(s, "the client closed its socket%s", s->outstanding ? " with a request in flight" : "");
		return 1;
	}
	if (rc < 0)
		return recv_failed(s, "the client", errno, rec.len, err);
	req = criu_req__unpack(NULL, rec.len, rec.buf);
	if (!req) {
		if (!s->trace_tried)
			shim_trace_start(s, CRIU_REQ_TYPE__EMPTY);
		shim_trace_msg(s, CRPC_TO_CRIU, rec.buf, rec.len, -1);
		snprintf(why, sizeof(why),
			 "crpc shim: the client sent a %zu-byte message that is not a valid criu_req; it "
			 "was not passed to CRIU and the session was ended",
			 rec.len);
		crpc_record_release(&rec);
		return session_fail(s, s->outstanding ? s->req_type : CRIU_REQ_TYPE__EMPTY, why, err);
	}
	if (!s->trace_tried)
		shim_trace_start(s, req->type);

	if (req->type == CRIU_REQ_TYPE__NOTIFY && s->criu_sk >= 0) {
		/* the answer to a notification (expected or not): on to CRIU */
		if (client_ack(s, &rec, req) < 0)
			shim_vlog(s, "cannot pass the client's answer on to CRIU: %s", strerror(errno));
		criu_req__free_unpacked(req, NULL);
		crpc_record_release(&rec);
		return 0; /* a dead CRIU shows up on its socket */
	}

	/* a new request */
	if (s->outstanding)
		shim_request_end(s); /* e.g. PRE_DUMP after PRE_DUMP: each brings its own fds */
	if (req->type == CRIU_REQ_TYPE__DUMP && (!req->opts || !req->opts->has_pid || req->opts->pid <= 0)) {
		snprintf(why, sizeof(why),
			 "crpc shim: a DUMP without a pid (CRIU dumping its client) cannot go through "
			 "the shim: CRIU would dump the shim; give the pid to dump");
		criu_req__free_unpacked(req, NULL);
		crpc_record_release(&rec);
		return session_fail(s, CRIU_REQ_TYPE__DUMP, why, err);
	}
	s->req_type = req->type;
	s->req_t0 = crpc_now();
	if (req->opts) {
		if (translate_fds(s, req->opts, why, sizeof(why)) < 0) {
			int t = req->type;

			criu_req__free_unpacked(req, NULL);
			crpc_record_release(&rec);
			return session_fail(s, t, why, err);
		}
		log_location(s, req->opts);
		s->client_notify = req->opts->has_notify_scripts && req->opts->notify_scripts;
		if ((req->type == CRIU_REQ_TYPE__DUMP || req->type == CRIU_REQ_TYPE__RESTORE) &&
		    have_hooks(s->cfg->hooks)) {
			if (request_hooks(s, req, why, sizeof(why)) < 0) {
				int t = req->type;

				criu_req__free_unpacked(req, NULL);
				crpc_record_release(&rec);
				return session_fail(s, t, why, err);
			}
			if (!s->client_notify) {
				req->opts->has_notify_scripts = 1;
				req->opts->notify_scripts = 1;
				shim_vlog(s, "notifications turned on for the hooks; the client does not see them");
			}
		}
	}
	shim_trace_name_op(s, req->type);
	if (s->criu_pid == 0 && shim_start_criu(s, err) < 0) {
		int t = req->type;

		snprintf(why, sizeof(why), "crpc shim: cannot start CRIU %s: %s", s->cfg->criu_path,
			 err && *err && (*err)->sys_errno ? strerror((*err)->sys_errno) : "failed");
		criu_req__free_unpacked(req, NULL);
		crpc_record_release(&rec);
		reply_failure(s, t, why);
		return -1;
	}
	outlen = criu_req__get_packed_size(req);
	out = malloc(outlen ? outlen : 1);
	if (!out) {
		int t = req->type;

		criu_req__free_unpacked(req, NULL);
		crpc_record_release(&rec);
		return session_fail(s, t, "crpc shim: out of memory", err);
	}
	criu_req__pack(req, out);
	s->outstanding = true;
	criu_req__free_unpacked(req, NULL);
	shim_trace_msg(s, CRPC_TO_CRIU, out, outlen, rec.nfds ? rec.fds[0] : -1);
	if (s->criu_sk >= 0 && crpc_record_send(s->criu_sk, out, outlen, rec.fds, rec.nfds) < 0) {
		int e = errno;

		shim_vlog(s, "cannot send the request to CRIU: %s", strerror(e));
		if (e != EPIPE && e != ECONNRESET) {
			/* a CRIU that hung up shows on its socket; anything else ends here */
			snprintf(why, sizeof(why),
				 "crpc shim: the %zu-byte %s request could not be passed to CRIU (%s)", outlen,
				 shim_type_name(s->req_type), strerror(e));
			free(out);
			crpc_record_release(&rec);
			return session_fail(s, s->req_type, why, err);
		}
	}
	free(out);
	crpc_record_release(&rec);
	return 0;
}

/* ---- messages from CRIU ------------------------------------------------------ */

/* Forward a record from CRIU to the client as it came. */
static void to_client(struct shim *s, const uint8_t *buf, size_t len, const int *fds, size_t nfds)
{
	if (s->client_gone)
		return;
	if (crpc_record_send(s->client, buf, len, fds, nfds) < 0) {
		int e = errno;

		shim_vlog(s, "cannot forward to the client: %s", strerror(e));
		if (e == EPIPE || e == ECONNRESET) {
			s->client_gone = true;
		} else if (!s->broken) {
			/* the client waits for this message: tell it and end */
			if (asprintf(&s->broken,
				     "crpc shim: CRIU's %zu-byte message could not be passed to the client "
				     "(%s); the session was ended",
				     len, strerror(e)) < 0)
				s->broken = NULL;
			reply_failure(s, s->outstanding ? s->req_type : CRIU_REQ_TYPE__EMPTY,
				      s->broken ? s->broken : "crpc shim: a message could not be passed on");
			if (!s->broken)
				s->broken = strdup("");
		}
	}
}

/* A notification: hooks first, then the client (if it asked) or our own answer. */
static int criu_notify(struct shim *s, crpc_record *rec, const CriuResp *r)
{
	crpc_notify n = { 0 };
	crpc_error *lerr = NULL;
	bool ok = true;
	char op[32];
	int rc = 0;

	n.name = r->notify && r->notify->script ? r->notify->script : "";
	n.kind = crpc_notify_kind_from_name(n.name);
	n.pid = r->notify && r->notify->has_pid ? r->notify->pid : 0;
	n.fd = rec->nfds ? rec->fds[0] : -1;
	shim_op_word(s->req_type, op, sizeof(op));
	n.operation = op;
	n.seq = ++s->seq;
	n.elapsed = crpc_now() - s->req_t0;
	if (s->disp && crpc_dispatcher_dispatch(s->disp, &n, &lerr) < 0)
		ok = false;

	if (!ok) {
		/* CRIU aborts; the client never sees this notification */
		shim_note(s, LOG_NOTICE, "hook failed at %s: %s; answering CRIU with failure", n.name,
			  lerr && lerr->message ? lerr->message : "failed");
		shim_trace_event(s, "hook-failed", n.name, lerr && lerr->message ? lerr->message : "failed");
		if (!s->abort_reason) {
			s->abort_reason = lerr;
			snprintf(s->abort_cb, sizeof(s->abort_cb), "%s", n.name);
			lerr = NULL;
		}
		crpc_error_free(lerr);
		rc = ack_criu(s, false, NULL, 0);
	} else if (s->client_notify) {
		free_ext(s);
		s->ext = n.external;
		s->n_ext = n.n_external;
		n.external = NULL;
		n.n_external = 0;
		s->await_ack = true;
		to_client(s, rec->buf, rec->len, rec->fds, rec->nfds);
		if (s->client_gone)
			rc = -1;
	} else {
		rc = ack_criu(s, true, n.external, n.n_external);
	}
	for (size_t i = 0; i < n.n_external; i++)
		free(n.external[i]);
	free(n.external);
	return rc;
}

/* CRIU's final reply to a request: the hook's reason goes into cr_errmsg. */
static void criu_reply(struct shim *s, crpc_record *rec, CriuResp *r)
{
	uint8_t *buf = rec->buf;
	size_t len = rec->len;

	if (s->abort_reason) {
		char *keep = r->cr_errmsg;
		char msg[SHIM_ERRMSG_MAX + 1];
		const char *why = s->abort_reason->message ? s->abort_reason->message : "failed";

		/*
		 * The hook is the cause; CRIU's own message is only the consequence
		 * (or its first logged line, often the harmless RLIMIT_NOFILE one).
		 */
		snprintf(msg, sizeof(msg), "crpc hook at %s failed: %s", s->abort_cb, why);
		shim_sanitize(msg);
		log_append(s, msg);
		r->cr_errmsg = msg;
		len = criu_resp__get_packed_size(r);
		buf = malloc(len ? len : 1);
		if (buf) {
			criu_resp__pack(r, buf);
			shim_trace_event(s, "reply-rewritten", s->abort_cb, msg);
		} else {
			buf = rec->buf;
			len = rec->len;
		}
		r->cr_errmsg = keep;
	}
	to_client(s, buf, len, rec->fds, rec->nfds);
	if (buf != rec->buf)
		free(buf);
	shim_request_end(s);
}

/* A message from CRIU. 0: go on; 1: CRIU hung up. */
static int shim_from_criu(struct shim *s, crpc_error **err)
{
	crpc_record rec;
	CriuResp *r;
	int rc;

	rc = shim_record_recv(s->criu_sk, &rec);
	if (rc == CRPC_RECV_EOF)
		return 1;
	if (rc < 0)
		return recv_failed(s, "CRIU", errno, rec.len, err);
	shim_trace_msg(s, CRPC_FROM_CRIU, rec.buf, rec.len, rec.nfds ? rec.fds[0] : -1);
	r = criu_resp__unpack(NULL, rec.len, rec.buf);
	if (!r) {
		/* transparent: the client gets what CRIU sent */
		shim_note(s, LOG_NOTICE, "CRIU sent a %zu-byte message that is not a valid criu_resp; "
					 "forwarded unchanged", rec.len);
		to_client(s, rec.buf, rec.len, rec.fds, rec.nfds);
		crpc_record_release(&rec);
		return 0;
	}
	if (r->type == CRIU_REQ_TYPE__VERSION && r->success && r->version)
		shim_version_cache_write(s, r->version);
	if (r->type == CRIU_REQ_TYPE__NOTIFY) {
		if (criu_notify(s, &rec, r) < 0)
			shim_vlog(s, "could not pass the %s notification on", r->notify && r->notify->script
										? r->notify->script
										: "?");
	} else if (s->outstanding) {
		criu_reply(s, &rec, r);
	} else {
		to_client(s, rec.buf, rec.len, rec.fds, rec.nfds);
	}
	criu_resp__free_unpacked(r, NULL);
	crpc_record_release(&rec);
	return 0;
}

/* CRIU hung up or exited: tell a waiting client how it ended. */
static int shim_criu_gone(struct shim *s, crpc_error **err)
{
	char how[96], why[SHIM_ERRMSG_MAX + 1];
	int type = s->req_type;

	shim_criu_wait(s, s->outstanding ? CRIU_EXIT_WAIT_MS : 0);
	crpc_wait_status_str(s->criu_status, how, sizeof(how));
	shim_vlog(s, "CRIU (pid %d) %s", (int)s->criu_pid, how);
	if (!s->outstanding || s->client_gone) {
		shim_request_end(s);
		return shim_criu_exit_code(s);
	}
	if (s->abort_reason)
		snprintf(why, sizeof(why),
			 "crpc hook at %s failed: %s; then CRIU (%s, pid %d) %s before it replied to the "
			 "%s request",
			 s->abort_cb, s->abort_reason->message ? s->abort_reason->message : "failed",
			 s->cfg->criu_path, (int)s->criu_pid, how, shim_type_name(type));
	else
		snprintf(why, sizeof(why), "crpc shim: CRIU (%s, pid %d) %s before it replied to the %s request",
			 s->cfg->criu_path, (int)s->criu_pid, how, shim_type_name(type));
	reply_failure(s, type, why);
	log_append(s, why);
	shim_note(s, LOG_WARNING, "%s", why);
	crpc_error_set(err, CRPC_EXIT_FAIL, ECONNRESET, "shim", "%s", why);
	shim_request_end(s);
	return shim_criu_exit_code(s) ? shim_criu_exit_code(s) : 1;
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
	crpc_proc_comm(s->client_pid, s->client_comm, sizeof(s->client_comm));
	s->client_pidfd = (int)syscall(SYS_pidfd_open, s->client_pid, 0);
	if (s->client_pidfd >= 0)
		fcntl(s->client_pidfd, F_SETFD, FD_CLOEXEC);
}

CRPC_API int crpc_shim_run(const crpc_shim_config *cfg, int client_fd, crpc_error **err)
{
	struct sigaction old[N_FWD];
	bool installed[N_FWD] = { false };
	struct shim s;
	int status = 0;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.t0 = crpc_now();
	s.client = client_fd;
	s.criu_sk = -1;
	s.criu_pidfd = -1;
	s.tr.fd = -1;
	s.tr.dirfd = -1;
	s.log_dirfd = -1;
	sig_criu_pid = 0;
	sig_pending = 0;
	if (fcntl(client_fd, F_SETFD, FD_CLOEXEC) < 0) {
		crpc_error_set(err, CRPC_EXIT_USAGE, errno, "shim",
			       "fd %d (from `swrk %d`) is not open", client_fd, client_fd);
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
	double deadline = crpc_now() + wait_ms / 1000.0;
	char text[SHIM_ERRMSG_MAX + 1];
	crpc_record rec;
	int type = CRIU_REQ_TYPE__EMPTY;

	for (;;) {
		double left = deadline - crpc_now();
		int n;

		if (left <= 0)
			goto out;
		n = poll(&p, 1, (int)(left * 1000) + 1);
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR)
			goto out;
	}
	if (shim_record_recv(client_fd, &rec) == CRPC_RECV_OK) {
		CriuReq *req = criu_req__unpack(NULL, rec.len, rec.buf);

		if (req) {
			type = req->type;
			criu_req__free_unpacked(req, NULL);
		}
		crpc_record_release(&rec);
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
		       "the CRIU binary %s (from %s) is crpc itself: the shim would run itself", path,
		       from);
	if (err && *err)
		crpc_error_set_hint(*err, "point %s at the real CRIU (e.g. /usr/sbin/criu, or the path "
					  "in /etc/crpc/criu-path)", from);
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
					      "the CRIU binary %s (from %s) is not an executable file",
					      want, from);
		if (is_self(want))
			return refuse_self(want, from, err);
		if ((size_t)snprintf(buf, bufsz, "%s", want) >= bufsz)
			return crpc_error_set(err, CRPC_EXIT_ENV, ENAMETOOLONG, "shim", "CRIU path too long");
		return 0;
	}
	if (crpc_criu_search_path(buf, bufsz, is_self))
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
