/* SPDX-License-Identifier: MIT */
/*
 * shim_trace.c - the trace of a shim session: one file per session in the
 * trace directory, named by time, pid and operation, cut at its size bound,
 * the oldest files removed to keep the directory within its bounds. Its
 * header names CRIU's version from the reply remembered in shim_version.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "crpc/trace.h"
#include "internal.h"
#include "shim_int.h"

/* Trace files of the shim: PREFIX TIME-PID-OPERATION SUFFIX. */
#define TRACE_PREFIX "crpc-shim-"
#define TRACE_SUFFIX ".trace"

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
 * gcc 12's analyzer loses track of strings stored into a slot of a heap
 * array and reports them as leaked; the array owns them (freed at the end,
 * checked under ASan's leak checker).
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
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
	DIR *d = io_opendir_at(dirfd, ".");

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;

		if (!is_trace_name(de->d_name) || fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n >= 100000 || ARRAY_GROW(v, &cap, n + 1, 64) < 0)
			break;
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
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static void trace_warn_once(struct shim *s, const char *what, int e)
{
	if (s->warned_trace)
		return;
	s->warned_trace = true;
	shim_note(s, LOG_WARNING, "no trace for this session: %s (%s); the session goes on", what,
		  strerror(e));
}

/* The same for a failure that has its own message (a refused trace file or directory). */
static void trace_warn_error(struct shim *s, const char *what, crpc_error **e)
{
	if (*e && (*e)->message && !s->warned_trace) {
		s->warned_trace = true;
		shim_note(s, LOG_WARNING, "no trace for this session: %s; the session goes on",
			  (*e)->message);
	} else {
		trace_warn_once(s, what, *e && (*e)->sys_errno ? (*e)->sys_errno : EIO);
	}
	crpc_error_free(*e);
	*e = NULL;
}

/* ---- the session's trace --------------------------------------------------- */

void shim_trace_start(struct shim *s, int first_type)
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
	/* pruned and written as root: never through a symlink, never one others can change */
	tr->dirfd = util_open_private_dir(c->trace_dir, "shim trace", "trace directory", &e);
	if (tr->dirfd < 0) {
		trace_warn_error(s, c->trace_dir, &e);
		return;
	}
	prune_traces(tr->dirfd, c->trace_max_files ? c->trace_max_files : CRPC_SHIM_TRACE_MAX_FILES,
		     c->trace_max_total ? c->trace_max_total : CRPC_SHIM_TRACE_MAX_TOTAL, tr->max_size);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm);
	snprintf(tr->stamp, sizeof(tr->stamp), "%s.%06ldZ-%d", ts, (long)(now.tv_nsec / 1000), (int)getpid());
	shim_op_word(first_type, op, sizeof(op));
	tr->named_op = first_type != CRIU_REQ_TYPE__VERSION && first_type != CRIU_REQ_TYPE__FEATURE_CHECK;
	snprintf(tr->name, sizeof(tr->name), TRACE_PREFIX "%s-%s" TRACE_SUFFIX, tr->stamp, op);
	snprintf(path, sizeof(path), "%s/%s", c->trace_dir, tr->name);
	snprintf(target, sizeof(target), "client %d (%s)", (int)s->client_pid, s->client_comm);
	h.target = target;
	if (trace_open_at(&tr->t, tr->dirfd, tr->name, &h, &e) < 0) {
		trace_warn_error(s, path, &e);
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
	crpc_trace_set_criu(tr->t, c->criu_path, shim_version_string(s, ver, sizeof(ver)) ? ver : NULL);
	shim_vlog(s, "trace: %s", path);
}

void shim_trace_name_op(struct shim *s, int type)
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

void shim_trace_msg(struct shim *s, crpc_direction dir, const uint8_t *buf, size_t len, int fd)
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

void shim_trace_event(struct shim *s, const char *event, const char *callback, const char *text)
{
	uint64_t before;

	if (!trace_line_begin(s, &before))
		return;
	crpc_trace_event(s->tr.t, event, callback, text);
	trace_line_end(s, before);
}

void shim_trace_end(struct shim *s)
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
