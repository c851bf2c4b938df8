/* SPDX-License-Identifier: MIT */
/*
 * error.c - the error object: creation, excerpts of CRIU logs, classification
 * of known failure causes and rendering for humans.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"

/* Only the tail of a log file is read; CRIU's logs at -v4 are far smaller. */
#define LOG_READ_MAX (4u << 20)
/* A log line longer than this is cut in an excerpt. */
#define ERR_LINE_MAX_SHOWN 512
/* Upper bound of lines of context kept before an error line. */
#define CONTEXT_MAX 64
/* Excerpt parameters used by crpc_error_attach_log(). */
#define ATTACH_CONTEXT 3
#define ATTACH_MAX_ERRORS 3

/* ------------------------------------------------------------------------ */
/* growable string                                                          */

struct err_sbuf {
	char *buf;
	size_t len;
	size_t cap;
	bool oom;
};

static bool sb_reserve(struct err_sbuf *sb, size_t extra)
{
	size_t need, cap;
	char *p;

	if (sb->oom)
		return false;
	if (extra > SIZE_MAX - sb->len - 1)
		goto fail;
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return true;
	cap = sb->cap ? sb->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(sb->buf, cap);
	if (!p)
		goto fail;
	sb->buf = p;
	sb->cap = cap;
	return true;
fail:
	sb->oom = true;
	return false;
}

static void sb_add(struct err_sbuf *sb, const char *s, size_t n)
{
	if (!sb_reserve(sb, n))
		return;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

static void err_sb_puts(struct err_sbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

static void sb_printf(struct err_sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct err_sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->oom = true;
		return;
	}
	if (!sb_reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

/*
 * Append at most `max` bytes of s[0..n) with control characters replaced
 * (log lines and CRIU messages are shown on terminals); a cut line ends
 * on a UTF-8 character boundary and is marked.
 */
static void err_sb_add_clean(struct err_sbuf *sb, const char *s, size_t n, size_t max)
{
	bool cut = false;
	size_t i;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		cut = true;
	}
	if (!sb_reserve(sb, n))
		return;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		sb->buf[sb->len++] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	sb->buf[sb->len] = '\0';
	if (cut)
		err_sb_puts(sb, " [...]");
}

/* Take the string out of sb; NULL if an allocation failed. */
static char *err_sb_take(struct err_sbuf *sb)
{
	char *s;

	if (sb->oom) {
		free(sb->buf);
		return NULL;
	}
	s = sb->buf ? sb->buf : strdup("");
	sb->buf = NULL;
	return s;
}

/* ------------------------------------------------------------------------ */
/* the error object                                                         */

CRPC_API int crpc_error_setv(crpc_error **err, crpc_exit exit_class, int sys_errno,
			     const char *operation, const char *fmt, va_list ap)
{
	crpc_error *e;

	if (!err || *err)
		return -1;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	e->exit_class = exit_class;
	e->sys_errno = sys_errno;
	if (operation)
		e->operation = strdup(operation);
	if (fmt && vasprintf(&e->message, fmt, ap) < 0)
		e->message = NULL;
	*err = e;
	return -1;
}

CRPC_API int crpc_error_set(crpc_error **err, crpc_exit exit_class, int sys_errno,
			    const char *operation, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	crpc_error_setv(err, exit_class, sys_errno, operation, fmt, ap);
	va_end(ap);
	return -1;
}

CRPC_API void crpc_error_set_hint(crpc_error *e, const char *fmt, ...)
{
	va_list ap;
	char *h;
	int n;

	if (!e || !fmt)
		return;
	va_start(ap, fmt);
	n = vasprintf(&h, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	free(e->hint);
	e->hint = h;
}

CRPC_API void crpc_error_free(crpc_error *e)
{
	if (!e)
		return;
	free(e->operation);
	free(e->message);
	free(e->criu_errmsg);
	free(e->log_path);
	free(e->log_excerpt);
	free(e->hint);
	free(e);
}

CRPC_API void crpc_error_freep(crpc_error **e)
{
	if (!e)
		return;
	crpc_error_free(*e);
	*e = NULL;
}

/* ------------------------------------------------------------------------ */
/* errno names                                                              */

static int err_errno_abs(int v)
{
	return v < 0 && v != INT_MIN ? -v : v;
}

/* Linux errno values by number, with the names glibc gives them. */
static const char *const errno_names[] = {
	[EPERM] = "EPERM",
	[ENOENT] = "ENOENT",
	[ESRCH] = "ESRCH",
	[EINTR] = "EINTR",
	[EIO] = "EIO",
	[ENXIO] = "ENXIO",
	[E2BIG] = "E2BIG",
	[ENOEXEC] = "ENOEXEC",
	[EBADF] = "EBADF",
	[ECHILD] = "ECHILD",
	[EAGAIN] = "EAGAIN",
	[ENOMEM] = "ENOMEM",
	[EACCES] = "EACCES",
	[EFAULT] = "EFAULT",
	[ENOTBLK] = "ENOTBLK",
	[EBUSY] = "EBUSY",
	[EEXIST] = "EEXIST",
	[EXDEV] = "EXDEV",
	[ENODEV] = "ENODEV",
	[ENOTDIR] = "ENOTDIR",
	[EISDIR] = "EISDIR",
	[EINVAL] = "EINVAL",
	[ENFILE] = "ENFILE",
	[EMFILE] = "EMFILE",
	[ENOTTY] = "ENOTTY",
	[ETXTBSY] = "ETXTBSY",
	[EFBIG] = "EFBIG",
	[ENOSPC] = "ENOSPC",
	[ESPIPE] = "ESPIPE",
	[EROFS] = "EROFS",
	[EMLINK] = "EMLINK",
	[EPIPE] = "EPIPE",
	[EDOM] = "EDOM",
	[ERANGE] = "ERANGE",
	[EDEADLK] = "EDEADLK",
	[ENAMETOOLONG] = "ENAMETOOLONG",
	[ENOLCK] = "ENOLCK",
	[ENOSYS] = "ENOSYS",
	[ENOTEMPTY] = "ENOTEMPTY",
	[ELOOP] = "ELOOP",
	[ENOMSG] = "ENOMSG",
	[EIDRM] = "EIDRM",
	[ECHRNG] = "ECHRNG",
	[EL2NSYNC] = "EL2NSYNC",
	[EL3HLT] = "EL3HLT",
	[EL3RST] = "EL3RST",
	[ELNRNG] = "ELNRNG",
	[EUNATCH] = "EUNATCH",
	[ENOCSI] = "ENOCSI",
	[EL2HLT] = "EL2HLT",
	[EBADE] = "EBADE",
	[EBADR] = "EBADR",
	[EXFULL] = "EXFULL",
	[ENOANO] = "ENOANO",
	[EBADRQC] = "EBADRQC",
	[EBADSLT] = "EBADSLT",
	[EBFONT] = "EBFONT",
	[ENOSTR] = "ENOSTR",
	[ENODATA] = "ENODATA",
	[ETIME] = "ETIME",
	[ENOSR] = "ENOSR",
	[ENONET] = "ENONET",
	[ENOPKG] = "ENOPKG",
	[EREMOTE] = "EREMOTE",
	[ENOLINK] = "ENOLINK",
	[EADV] = "EADV",
	[ESRMNT] = "ESRMNT",
	[ECOMM] = "ECOMM",
	[EPROTO] = "EPROTO",
	[EMULTIHOP] = "EMULTIHOP",
	[EDOTDOT] = "EDOTDOT",
	[EBADMSG] = "EBADMSG",
	[EOVERFLOW] = "EOVERFLOW",
	[ENOTUNIQ] = "ENOTUNIQ",
	[EBADFD] = "EBADFD",
	[EREMCHG] = "EREMCHG",
	[ELIBACC] = "ELIBACC",
	[ELIBBAD] = "ELIBBAD",
	[ELIBSCN] = "ELIBSCN",
	[ELIBMAX] = "ELIBMAX",
	[ELIBEXEC] = "ELIBEXEC",
	[EILSEQ] = "EILSEQ",
	[ERESTART] = "ERESTART",
	[ESTRPIPE] = "ESTRPIPE",
	[EUSERS] = "EUSERS",
	[ENOTSOCK] = "ENOTSOCK",
	[EDESTADDRREQ] = "EDESTADDRREQ",
	[EMSGSIZE] = "EMSGSIZE",
	[EPROTOTYPE] = "EPROTOTYPE",
	[ENOPROTOOPT] = "ENOPROTOOPT",
	[EPROTONOSUPPORT] = "EPROTONOSUPPORT",
	[ESOCKTNOSUPPORT] = "ESOCKTNOSUPPORT",
	[EOPNOTSUPP] = "EOPNOTSUPP",
	[EPFNOSUPPORT] = "EPFNOSUPPORT",
	[EAFNOSUPPORT] = "EAFNOSUPPORT",
	[EADDRINUSE] = "EADDRINUSE",
	[EADDRNOTAVAIL] = "EADDRNOTAVAIL",
	[ENETDOWN] = "ENETDOWN",
	[ENETUNREACH] = "ENETUNREACH",
	[ENETRESET] = "ENETRESET",
	[ECONNABORTED] = "ECONNABORTED",
	[ECONNRESET] = "ECONNRESET",
	[ENOBUFS] = "ENOBUFS",
	[EISCONN] = "EISCONN",
	[ENOTCONN] = "ENOTCONN",
	[ESHUTDOWN] = "ESHUTDOWN",
	[ETOOMANYREFS] = "ETOOMANYREFS",
	[ETIMEDOUT] = "ETIMEDOUT",
	[ECONNREFUSED] = "ECONNREFUSED",
	[EHOSTDOWN] = "EHOSTDOWN",
	[EHOSTUNREACH] = "EHOSTUNREACH",
	[EALREADY] = "EALREADY",
	[EINPROGRESS] = "EINPROGRESS",
	[ESTALE] = "ESTALE",
	[EUCLEAN] = "EUCLEAN",
	[ENOTNAM] = "ENOTNAM",
	[ENAVAIL] = "ENAVAIL",
	[EISNAM] = "EISNAM",
	[EREMOTEIO] = "EREMOTEIO",
	[EDQUOT] = "EDQUOT",
	[ENOMEDIUM] = "ENOMEDIUM",
	[EMEDIUMTYPE] = "EMEDIUMTYPE",
	[ECANCELED] = "ECANCELED",
	[ENOKEY] = "ENOKEY",
	[EKEYEXPIRED] = "EKEYEXPIRED",
	[EKEYREVOKED] = "EKEYREVOKED",
	[EKEYREJECTED] = "EKEYREJECTED",
	[EOWNERDEAD] = "EOWNERDEAD",
	[ENOTRECOVERABLE] = "ENOTRECOVERABLE",
	[ERFKILL] = "ERFKILL",
	[EHWPOISON] = "EHWPOISON",
};

CRPC_API const char *crpc_errno_name(int errnum)
{
	/* CRIU and many callers report errors as negative errno values */
	errnum = err_errno_abs(errnum);
	if (errnum <= 0)
		return NULL;
	if ((size_t)errnum < sizeof(errno_names) / sizeof(errno_names[0]) && errno_names[errnum])
		return errno_names[errnum];
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	return strerrorname_np(errnum);
#else
	return NULL;
#endif
}

/* Thread-safe description of an errno value. */
static const char *errno_text(int errnum, char *buf, size_t bufsz)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	return strerror_r(errnum, buf, bufsz);
#else
	if (strerror_r(errnum, buf, bufsz) != 0)
		snprintf(buf, bufsz, "Unknown error %d", errnum);
	return buf;
#endif
}

/* ------------------------------------------------------------------------ */
/* CRIU log lines                                                           */

struct err_line {
	const char *p;
	size_t n; /* without the line end */
};

/* Cut the next line of log[*pos..len); false at the end. Never reads past len. */
static bool err_line_next(const char *log, size_t len, size_t *pos, struct err_line *l)
{
	const char *s, *nl;
	size_t n;

	if (*pos >= len)
		return false;
	s = log + *pos;
	nl = memchr(s, '\n', len - *pos);
	n = nl ? (size_t)(nl - s) : len - *pos;
	*pos += n + (nl ? 1 : 0);
	if (n > 0 && s[n - 1] == '\r')
		n--;
	l->p = s;
	l->n = n;
	return true;
}

static bool err_line_has(struct err_line l, const char *needle)
{
	return memmem(l.p, l.n, needle, strlen(needle)) != NULL;
}

static bool line_starts(struct err_line l, const char *prefix)
{
	size_t n = strlen(prefix);

	return l.n >= n && memcmp(l.p, prefix, n) == 0;
}

/* The text of a line after CRIU's "(00.012345) " time stamp, if any. */
static struct err_line line_body(struct err_line l)
{
	size_t i;

	if (l.n < 3 || l.p[0] != '(')
		return l;
	for (i = 1; i < l.n && i < 24; i++) {
		char c = l.p[i];

		if (c == ')') {
			if (i == 1)
				return l;
			i++;
			if (i < l.n && l.p[i] == ' ')
				i++;
			l.p += i;
			l.n -= i;
			return l;
		}
		if ((c < '0' || c > '9') && c != '.')
			return l;
	}
	return l;
}

/* Blank lines, CRIU's "-----" separators and nft's "^^^^" markers. */
static bool line_is_filler(struct err_line l)
{
	size_t i;

	for (i = 0; i < l.n; i++) {
		char c = l.p[i];

		if (c != ' ' && c != '\t' && c != '-' && c != '^')
			return false;
	}
	return true;
}

enum err_line_kind {
	ERR_LINE_TEXT,    /* ordinary log line */
	ERR_LINE_NOISE,   /* says nothing about a failure, never shown */
	ERR_LINE_ERROR,   /* reports an error */
	ERR_LINE_SUMMARY, /* a generic "Dumping FAILED." kind of error */
};

/*
 * Lines CRIU writes on every run on some machines, errors included, that do
 * not explain any failure.
 */
static const char *const noise_lines[] = {
	/* CAP_SYS_RESOURCE missing: CRIU keeps the current fd limit */
	"Can't setup RLIMIT_NOFILE for self",
	/* nft removing a network lock table that was never created */
	"delete table inet CRIU-",
};

/* Generic closing errors: they tell that a request failed, not why. */
static const char *const summary_lines[] = {
	"Dumping FAILED.",
	"Restoring FAILED.",
	"Pre-dumping FAILED.",
	"Pre-dump FAILED.",
};

static bool line_is_error(struct err_line body)
{
	/* "Error (file:line): ...", "pie: 12: Error (...)", nft's "Error: ...", "Error ..." */
	if (err_line_has(body, "Error (") || err_line_has(body, "Error:"))
		return true;
	if (!line_starts(body, "Error"))
		return false;
	if (body.n == 5)
		return true;
	return !isalnum((unsigned char)body.p[5]);
}

static enum err_line_kind err_line_kind(struct err_line l, const struct err_line *next)
{
	struct err_line b = line_body(l);
	size_t i;

	if (line_is_filler(b))
		return ERR_LINE_NOISE;
	for (i = 0; i < sizeof(noise_lines) / sizeof(noise_lines[0]); i++)
		if (err_line_has(b, noise_lines[i]))
			return ERR_LINE_NOISE;
	if (!line_is_error(b))
		return ERR_LINE_TEXT;
	/*
	 * nft complains when the network unlock deletes a table that the
	 * failed request never added; the table name follows on the next line.
	 */
	if (next && line_starts(b, "Error: Could not process rule: No such file or directory") &&
	    line_starts(line_body(*next), "delete table inet CRIU-"))
		return ERR_LINE_NOISE;
	for (i = 0; i < sizeof(summary_lines) / sizeof(summary_lines[0]); i++)
		if (err_line_has(b, summary_lines[i]))
			return ERR_LINE_SUMMARY;
	return ERR_LINE_ERROR;
}

/*
 * Walk the lines of a log, giving each with its kind. The walker looks one
 * line ahead, which some noise needs.
 */
struct err_line_walk {
	const char *log;
	size_t len;
	size_t pos;
	bool have_next;
	struct err_line next;
	size_t index; /* index of the line last returned */
};

static void err_walk_init(struct err_line_walk *w, const char *log, size_t len)
{
	memset(w, 0, sizeof(*w));
	w->log = log;
	w->len = len;
	w->have_next = err_line_next(log, len, &w->pos, &w->next);
	w->index = (size_t)-1;
}

static bool err_walk_next(struct err_line_walk *w, struct err_line *l, enum err_line_kind *kind)
{
	if (!w->have_next)
		return false;
	*l = w->next;
	w->have_next = err_line_next(w->log, w->len, &w->pos, &w->next);
	*kind = err_line_kind(*l, w->have_next ? &w->next : NULL);
	w->index++;
	return true;
}

struct ctx_line {
	struct err_line l;
	size_t ord;
};

struct excerpt {
	struct err_sbuf sb;
	bool any;
	size_t last_ord; /* ordinal of the last line emitted */
};

static void excerpt_emit(struct excerpt *x, struct err_line l, size_t ord)
{
	if (x->any && ord != x->last_ord + 1)
		err_sb_puts(&x->sb, "...\n");
	err_sb_add_clean(&x->sb, l.p, l.n, ERR_LINE_MAX_SHOWN);
	err_sb_puts(&x->sb, "\n");
	x->any = true;
	x->last_ord = ord;
}

CRPC_API char *crpc_log_excerpt(const char *log, size_t len, unsigned context, unsigned max_errors)
{
	struct ctx_line ring[CONTEXT_MAX];
	size_t ring_start = 0, ring_len = 0;
	size_t specific = 0, last_err = 0, ord = 0;
	unsigned picked = 0;
	bool have_last = false, summaries_count;
	struct excerpt x = { 0 };
	struct err_line_walk w;
	enum err_line_kind k;
	struct err_line l;

	if (!log || !len)
		return strdup("");
	if (context > CONTEXT_MAX)
		context = CONTEXT_MAX;

	/* first pass: are there specific errors, and where is the last error */
	err_walk_init(&w, log, len);
	while (err_walk_next(&w, &l, &k)) {
		if (k == ERR_LINE_ERROR)
			specific++;
		if (k == ERR_LINE_ERROR || k == ERR_LINE_SUMMARY) {
			last_err = w.index;
			have_last = true;
		}
	}
	if (!have_last)
		return strdup("");
	/* "Dumping FAILED." is only worth showing as a cause if nothing else is */
	summaries_count = specific == 0;

	/* second pass: the first errors with their context, then the last one */
	err_walk_init(&w, log, len);
	while (err_walk_next(&w, &l, &k)) {
		bool is_err = k == ERR_LINE_ERROR || k == ERR_LINE_SUMMARY;
		bool is_cause = k == ERR_LINE_ERROR || (k == ERR_LINE_SUMMARY && summaries_count);

		if (k == ERR_LINE_NOISE)
			continue;
		ord++;
		if (is_cause && picked < max_errors) {
			size_t i;

			for (i = 0; i < ring_len; i++) {
				struct ctx_line *c = &ring[(ring_start + i) % CONTEXT_MAX];

				if (!x.any || c->ord > x.last_ord)
					excerpt_emit(&x, c->l, c->ord);
			}
			ring_start = ring_len = 0;
			excerpt_emit(&x, l, ord);
			picked++;
		} else if (is_err && w.index == last_err) {
			excerpt_emit(&x, l, ord);
		} else if (context > 0) {
			if (ring_len == context) {
				ring_start = (ring_start + 1) % CONTEXT_MAX;
				ring_len--;
			}
			ring[(ring_start + ring_len) % CONTEXT_MAX] = (struct ctx_line){ l, ord };
			ring_len++;
		}
		if (w.index >= last_err)
			break; /* nothing after the last error is shown */
	}
	return err_sb_take(&x.sb);
}

/* ------------------------------------------------------------------------ */
/* attaching a log file                                                     */

static ssize_t pread_full(int fd, char *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

CRPC_API void crpc_error_attach_log(crpc_error *e, const char *path)
{
	cleanup_close int fd = -1;
	cleanup_free char *buf = NULL;
	char *excerpt, *path_copy;
	const char *text;
	struct stat st;
	size_t want;
	off_t start;
	ssize_t got;

	if (!e || !path)
		return;
	do
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	start = st.st_size > (off_t)LOG_READ_MAX ? st.st_size - (off_t)LOG_READ_MAX : 0;
	want = (size_t)(st.st_size - start);
	buf = malloc(want + 1);
	if (!buf)
		return;
	got = pread_full(fd, buf, want, start);
	if (got < 0)
		return;
	text = buf;
	if (start > 0) {
		/* the first line read is probably cut: start after it */
		const char *nl = memchr(buf, '\n', (size_t)got);

		if (nl)
			text = nl + 1;
		else
			got = 0;
	}
	excerpt = crpc_log_excerpt(text, (size_t)got - (size_t)(text - buf), ATTACH_CONTEXT,
				   ATTACH_MAX_ERRORS);
	path_copy = strdup(path);
	if (!path_copy) {
		free(excerpt);
		return;
	}
	free(e->log_path);
	e->log_path = path_copy;
	free(e->log_excerpt);
	e->log_excerpt = NULL;
	if (excerpt && *excerpt)
		e->log_excerpt = excerpt;
	else
		free(excerpt);
}

/* ------------------------------------------------------------------------ */
/* classification                                                           */

/* Where a rule's pattern is looked for. */
#define IN_ERRMSG 0x1u	/* CRIU's cr_errmsg */
#define IN_LOG 0x2u	/* the error lines of the log excerpt */
#define IN_MESSAGE 0x4u /* libcrpc's own message */
#define IN_LOG_ALL 0x8u /* any line of the excerpt (CRIU's output may have no error lines) */
#define IN_CRIU (IN_ERRMSG | IN_LOG)
#define IN_TEXT (IN_ERRMSG | IN_LOG | IN_MESSAGE)
#define IN_ANY (IN_ERRMSG | IN_LOG_ALL | IN_MESSAGE)

/* Rule flags. */
#define ONLY_NONROOT 0x1u /* only when the caller is not root */

struct cause_rule {
	const char *op;	     /* request the rule applies to, NULL: any */
	int errnum;	     /* errno (ours or CRIU's) that must match, 0: none */
	const char *pattern; /* text that must be found, NULL: none */
	unsigned where;	     /* where the text is looked for */
	unsigned flags;
	crpc_cause cause;
	crpc_exit exit_class;  /* CRPC_EXIT_OK: keep the error's exit class */
	const char *hint;      /* NULL: the cause's default hint */
	const char *pid_after; /* a PID follows this text; the hint shows it as {pid} */
	/*
	 * With hint_ino: a socket's inode follows this text in the last log line
	 * before the error that has it; hint_ino shows it as {ino}, else hint
	 * (without an inode) is used.
	 */
	const char *ino_before;
	const char *hint_ino;
};

static const char hint_pid_in_use[] =
	"PID {pid} is taken by another process; wait for it to exit or end it, then restore again "
	"(a tree dumped without --leave-running can linger as zombies for a second or two)";

static const char hint_ext_unix_restore_ino[] =
	"UNIX socket inode {ino} of the tree was connected to a process outside it, whose end "
	"closed when the tree was dumped; CRIU cannot connect it again. Give the restore a "
	"replacement socket connected to the new peer: crpc restore --inherit-fd "
	"'fd[N]:socket:[{ino}]' with N open in crpc (or inherit_fd in the configuration's restore "
	"section); --ext-unix-sk would restore it unconnected";

static const char hint_ext_unix_restore[] =
	"a UNIX socket of the tree was connected to a process outside it, whose end closed when "
	"the tree was dumped; CRIU cannot connect it again. Give the restore a replacement socket "
	"connected to the new peer: crpc restore --inherit-fd 'fd[N]:socket:[INODE]' with N open "
	"in crpc (or inherit_fd in the configuration's restore section), INODE from `external "
	"unix[INODE]` in crpc.json or the log's 'Opening standalone' line (--log-level 4); "
	"--ext-unix-sk would restore it unconnected";

/*
 * First match wins: specific messages of CRIU come first, bare errno
 * values and vague words last.
 */
#define PID_IN_USE CRPC_CAUSE_PID_IN_USE
#define TCP CRPC_CAUSE_TCP_ESTABLISHED
#define EXT_UNIX CRPC_CAUSE_EXT_UNIX_SK
#define SHELL_JOB CRPC_CAUSE_SHELL_JOB
#define NOT_ROOT CRPC_CAUSE_NOT_ROOT
#define KERNEL CRPC_CAUSE_KERNEL
#define NO_PROCESS CRPC_CAUSE_NO_PROCESS
#define ENV CRPC_EXIT_ENV

static const struct cause_rule cause_rules[] = {
	/* PID in use on restore: CRIU answers EEXIST and logs "Can't fork for N: File exists" */
	{ .pattern = "Can't fork for ",
	  .where = IN_CRIU,
	  .cause = PID_IN_USE,
	  .hint = hint_pid_in_use,
	  .pid_after = "Can't fork for " },
	{ .op = "restore", .errnum = EEXIST, .cause = PID_IN_USE },

	/* established TCP connections */
	{ .pattern = "Connected TCP socket", .where = IN_CRIU, .cause = TCP },
	{ .pattern = "tcp-established", .where = IN_CRIU, .cause = TCP },

	/*
	 * UNIX sockets whose peer is outside the tree. At a restore the peer's
	 * end is gone for good (it closed when the tree was dumped): the only
	 * remedy is a replacement socket; --ext-unix-sk would restore it
	 * unconnected and --external is the dump's declaration.
	 */
	{ .op = "restore",
	  .pattern = "External socket found in image",
	  .where = IN_CRIU,
	  .cause = EXT_UNIX,
	  .hint = hint_ext_unix_restore,
	  .ino_before = " ino ",
	  .hint_ino = hint_ext_unix_restore_ino },
	{ .pattern = "External socket is used", .where = IN_CRIU, .cause = EXT_UNIX },
	{ .pattern = "ext-unix-sk", .where = IN_CRIU, .cause = EXT_UNIX },
	{ .pattern = "half of stream unix", .where = IN_CRIU, .cause = EXT_UNIX },

	/*
	 * A task in session 0 (no leader visible: an init that never called
	 * setsid started it, or the leader lives in a parent PID namespace):
	 * CRIU refuses it whatever the options (shell_job too).
	 */
	{ .pattern = "is outside of its pid namespace", .where = IN_CRIU, .cause = CRPC_CAUSE_SESSION_ZERO },

	/* terminals and sessions from outside the tree */
	{ .pattern = "shell-job", .where = IN_CRIU, .cause = SHELL_JOB },
	{ .pattern = "shell_job", .where = IN_CRIU, .cause = SHELL_JOB },
	{ .pattern = "is not a session leader", .where = IN_CRIU, .cause = SHELL_JOB },
	{ .pattern = "session leader of", .where = IN_CRIU, .cause = SHELL_JOB },
	{ .pattern = "Found dangling tty", .where = IN_CRIU, .cause = SHELL_JOB },
	{ .pattern = "without correspond master peer", .where = IN_CRIU, .cause = SHELL_JOB },
	{ .pattern = "Can't dump tty", .where = IN_CRIU, .cause = SHELL_JOB },

	/* kernels without memory change tracking (CONFIG_MEM_SOFT_DIRTY) */
	{ .pattern = "BUG at criu/mem.c",
	  .where = IN_CRIU,
	  .cause = KERNEL,
	  .exit_class = ENV,
	  .hint = "this kernel cannot track memory changes (CONFIG_MEM_SOFT_DIRTY is off): "
		  "pre-dump and --track-mem do not work here; dump in one step instead" },

	/* privileges: CRIU's own capability check */
	{ .pattern = "CAP_SYS_ADMIN", .where = IN_ANY, .cause = NOT_ROOT, .exit_class = ENV },
	{ .pattern = "CAP_CHECKPOINT_RESTORE",
	  .where = IN_ANY,
	  .cause = NOT_ROOT,
	  .exit_class = ENV },
	{ .pattern = "Effective capability",
	  .where = IN_ANY,
	  .cause = NOT_ROOT,
	  .exit_class = ENV },

	/* CRIU's own ptrace probe failed: it is being traced, or ptrace is restricted */
	{ .pattern = "ptrace(PTRACE_TRACEME)",
	  .where = IN_CRIU,
	  .cause = CRPC_CAUSE_UNKNOWN, /* not the kernel's fault: say what it is instead */
	  .hint = "CRIU cannot use ptrace here: is crpc running under a tracer (strace, gdb), "
		  "or does a ptrace restriction apply (kernel.yama.ptrace_scope, seccomp, an "
		  "LSM policy)?" },

	/* the target is gone */
	{ .errnum = ESRCH, .cause = NO_PROCESS },
	{ .pattern = "No such process", .where = IN_TEXT, .cause = NO_PROCESS },
	{ .pattern = "Can't seize",
	  .where = IN_CRIU,
	  .cause = NO_PROCESS,
	  .hint = "CRIU could not attach to the process: check the PID, and that no debugger or "
		  "tracer (gdb, strace) is attached to it" },

	/* permission errors mean missing privileges only for non-root callers */
	{ .errnum = EPERM, .flags = ONLY_NONROOT, .cause = NOT_ROOT, .exit_class = ENV },
	{ .errnum = EACCES, .flags = ONLY_NONROOT, .cause = NOT_ROOT, .exit_class = ENV },
	{ .pattern = "Operation not permitted",
	  .where = IN_TEXT,
	  .flags = ONLY_NONROOT,
	  .cause = NOT_ROOT,
	  .exit_class = ENV },
	{ .pattern = "Permission denied",
	  .where = IN_TEXT,
	  .flags = ONLY_NONROOT,
	  .cause = NOT_ROOT,
	  .exit_class = ENV },

	/* kernel features CRIU needs, or a CRIU too old for the kernel */
	{ .pattern = "not supported", .where = IN_CRIU, .cause = KERNEL, .exit_class = ENV },
	{ .pattern = "ENOTSUP", .where = IN_CRIU, .cause = KERNEL, .exit_class = ENV },
	{ .pattern = "Looks bad", .where = IN_ANY, .cause = KERNEL, .exit_class = ENV },
	{ .pattern = "vDSO", .where = IN_CRIU, .cause = KERNEL, .exit_class = ENV },
	{ .pattern = "kerndat", .where = IN_CRIU, .cause = KERNEL, .exit_class = ENV },
	{ .pattern = "kernel", .where = IN_CRIU, .cause = KERNEL, .exit_class = ENV },
	{ .errnum = EOPNOTSUPP, .cause = KERNEL, .exit_class = ENV },

	/* last resort for a restore: something of the tree exists already */
	{ .op = "restore", .pattern = "File exists", .where = IN_CRIU, .cause = PID_IN_USE },
};

#undef PID_IN_USE
#undef TCP
#undef EXT_UNIX
#undef SHELL_JOB
#undef NOT_ROOT
#undef KERNEL
#undef NO_PROCESS
#undef ENV

static const char *const cause_hints[] = {
	[CRPC_CAUSE_UNKNOWN] = NULL,
	[CRPC_CAUSE_PID_IN_USE] =
		"a PID of the saved tree is taken by another process; wait for it to exit or end "
		"it, then restore again (a tree dumped without --leave-running can linger as "
		"zombies for a second or two)",
	[CRPC_CAUSE_TCP_ESTABLISHED] =
		"the process has an established TCP connection; add --tcp-established",
	[CRPC_CAUSE_EXT_UNIX_SK] =
		"a UNIX socket of the process is connected to a peer outside the dumped tree; add "
		"--ext-unix-sk, or --external unix[INODE] for that one socket",
	[CRPC_CAUSE_SHELL_JOB] =
		"the process uses a terminal or session from outside the dumped tree (a shell "
		"job); add --shell-job (for the restore too)",
	[CRPC_CAUSE_NOT_ROOT] =
		"CRIU needs root (CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE); run crpc as root",
	[CRPC_CAUSE_KERNEL] = "this CRIU lacks support for this kernel or the kernel lacks a "
			      "feature CRIU needs; run scripts/setup to provision a CRIU that "
			      "works on this kernel",
	[CRPC_CAUSE_NO_PROCESS] = "the process does not exist (any more); check the PID",
	[CRPC_CAUSE_CRIU_DIED] = "CRIU ended before it answered; its log may tell why",
	[CRPC_CAUSE_SESSION_ZERO] =
		"the process is in session 0 (/proc shows no session leader: it was started by an "
		"init or service manager that never called setsid, or its leader lives in a parent "
		"PID namespace); no option makes CRIU take it, --shell-job neither: start it with "
		"setsid",
};

static const char *cause_hint(crpc_cause c)
{
	if ((size_t)c < sizeof(cause_hints) / sizeof(cause_hints[0]))
		return cause_hints[c];
	return NULL;
}

/* CRIU's message, unless it is one of the lines that explain nothing. */
static const char *err_useful_errmsg(const crpc_error *e)
{
	struct err_line l;
	size_t n;

	if (!e->criu_errmsg || !*e->criu_errmsg)
		return NULL;
	n = strlen(e->criu_errmsg);
	l = (struct err_line){ e->criu_errmsg, n };
	if (err_line_kind(l, NULL) == ERR_LINE_NOISE)
		return NULL;
	return e->criu_errmsg;
}

/* Is `pattern` in a (error) line of the excerpt? Sets *found to that line. */
static bool excerpt_has(const char *excerpt, const char *pattern, bool errors_only,
			struct err_line *found)
{
	struct err_line_walk w;
	enum err_line_kind k;
	struct err_line l;

	if (!excerpt)
		return false;
	err_walk_init(&w, excerpt, strlen(excerpt));
	while (err_walk_next(&w, &l, &k)) {
		if (errors_only && k != ERR_LINE_ERROR && k != ERR_LINE_SUMMARY)
			continue;
		if (k != ERR_LINE_NOISE && err_line_has(l, pattern)) {
			*found = l;
			return true;
		}
	}
	return false;
}

/* Does the rule's pattern occur where it should? *found is the text it is in. */
static bool rule_text_matches(const struct cause_rule *r, const crpc_error *e, struct err_line *found)
{
	const char *msg = err_useful_errmsg(e);

	if ((r->where & IN_ERRMSG) && msg && strstr(msg, r->pattern)) {
		*found = (struct err_line){ msg, strlen(msg) };
		return true;
	}
	if ((r->where & (IN_LOG | IN_LOG_ALL)) &&
	    excerpt_has(e->log_excerpt, r->pattern, !(r->where & IN_LOG_ALL), found))
		return true;
	if ((r->where & IN_MESSAGE) && e->message && strstr(e->message, r->pattern)) {
		*found = (struct err_line){ e->message, strlen(e->message) };
		return true;
	}
	return false;
}

static bool rule_matches(const struct cause_rule *r, const crpc_error *e, const char *op, bool root,
			 struct err_line *found)
{
	if (r->op && (!op || strcmp(r->op, op) != 0))
		return false;
	if ((r->flags & ONLY_NONROOT) && root)
		return false;
	if (r->errnum && r->errnum != err_errno_abs(e->sys_errno) &&
	    r->errnum != err_errno_abs(e->criu_errno))
		return false;
	found->p = NULL;
	found->n = 0;
	if (r->pattern && !rule_text_matches(r, e, found))
		return false;
	return r->errnum || r->pattern;
}

/* The decimal number right after `after` in l, 0 if none or above max. */
static long number_after_max(struct err_line l, const char *after, long max)
{
	const char *p;
	size_t i, alen = strlen(after);
	long v = 0;

	if (!l.p)
		return 0;
	p = memmem(l.p, l.n, after, alen);
	if (!p)
		return 0;
	i = (size_t)(p - l.p) + alen;
	for (; i < l.n && l.p[i] >= '0' && l.p[i] <= '9'; i++) {
		v = v * 10 + (l.p[i] - '0');
		if (v > max)
			return 0;
	}
	return v;
}

static long number_after(struct err_line l, const char *after)
{
	return number_after_max(l, after, INT_MAX);
}

/*
 * The number after `after` in the last line of the excerpt that has one,
 * before the first error line holding `pattern`; 0 if none.
 */
static long number_before_error(const char *excerpt, const char *pattern, const char *after)
{
	struct err_line_walk w;
	enum err_line_kind k;
	struct err_line l;
	long last = 0;

	if (!excerpt)
		return 0;
	err_walk_init(&w, excerpt, strlen(excerpt));
	while (err_walk_next(&w, &l, &k)) {
		long v;

		if ((k == ERR_LINE_ERROR || k == ERR_LINE_SUMMARY) && err_line_has(l, pattern))
			return last;
		v = number_after_max(l, after, (long)UINT32_MAX);
		if (v > 0)
			last = v;
	}
	return 0;
}

/* Set the hint from a template, "{ino}" (every one) replaced by ino. */
static void set_hint_ino(crpc_error *e, const char *tmpl, long ino)
{
	char num[24];
	size_t nlen, n = 0, cap = strlen(tmpl) + 1;
	const char *p = tmpl, *at;
	char *out;

	nlen = (size_t)snprintf(num, sizeof(num), "%ld", ino);
	for (at = strstr(p, "{ino}"); at; at = strstr(at + 5, "{ino}"))
		cap += nlen;
	out = malloc(cap);
	if (!out)
		return;
	while ((at = strstr(p, "{ino}")) != NULL) {
		memcpy(out + n, p, (size_t)(at - p));
		n += (size_t)(at - p);
		memcpy(out + n, num, nlen);
		n += nlen;
		p = at + 5;
	}
	memcpy(out + n, p, strlen(p) + 1);
	crpc_error_set_hint(e, "%s", out);
	free(out);
}

/* Set the hint from a template, "{pid}" replaced by pid. */
static void set_hint_pid(crpc_error *e, const char *tmpl, long pid)
{
	const char *at = strstr(tmpl, "{pid}");

	if (!at) {
		crpc_error_set_hint(e, "%s", tmpl);
		return;
	}
	crpc_error_set_hint(e, "%.*s%ld%s", (int)(at - tmpl), tmpl, pid, at + strlen("{pid}"));
}

CRPC_API void crpc_error_classify(crpc_error *e, const char *op)
{
	bool root = geteuid() == 0;
	const struct cause_rule *r = NULL;
	struct err_line found = { NULL, 0 };
	size_t i;

	if (!e)
		return;
	if (e->cause != CRPC_CAUSE_UNKNOWN) {
		/* the caller knows better (e.g. CRIU died) */
		if (!e->hint && cause_hint(e->cause))
			crpc_error_set_hint(e, "%s", cause_hint(e->cause));
		return;
	}
	for (i = 0; i < sizeof(cause_rules) / sizeof(cause_rules[0]); i++) {
		if (rule_matches(&cause_rules[i], e, op, root, &found)) {
			r = &cause_rules[i];
			break;
		}
	}
	if (!r)
		return;
	e->cause = r->cause;
	if (r->exit_class != CRPC_EXIT_OK)
		e->exit_class = r->exit_class;
	if (e->hint)
		return;
	if (r->hint_ino) {
		long ino = number_before_error(e->log_excerpt, r->pattern, r->ino_before);

		if (ino > 0)
			set_hint_ino(e, r->hint_ino, ino);
		else
			crpc_error_set_hint(e, "%s", r->hint);
	} else if (r->hint && r->pid_after) {
		long pid = number_after(found, r->pid_after);

		if (pid > 0)
			set_hint_pid(e, r->hint, pid);
		else if (cause_hint(r->cause))
			crpc_error_set_hint(e, "%s", cause_hint(r->cause));
	} else if (r->hint) {
		crpc_error_set_hint(e, "%s", r->hint);
	} else if (cause_hint(r->cause)) {
		crpc_error_set_hint(e, "%s", cause_hint(r->cause));
	}
}

/* ------------------------------------------------------------------------ */
/* rendering                                                                */

static void sb_errno(struct err_sbuf *sb, const char *label, int errnum)
{
	const char *name = crpc_errno_name(errnum);
	char buf[128];

	errnum = err_errno_abs(errnum);
	err_sb_puts(sb, " (");
	err_sb_puts(sb, label);
	if (name)
		sb_printf(sb, "%s: %s)", name, errno_text(errnum, buf, sizeof(buf)));
	else
		sb_printf(sb, "errno %d: %s)", errnum, errno_text(errnum, buf, sizeof(buf)));
}

/* Each line of text, indented and cleaned of control characters. */
static void sb_indented(struct err_sbuf *sb, const char *indent, const char *text, size_t max)
{
	size_t pos = 0, len = strlen(text);
	struct err_line l;

	while (err_line_next(text, len, &pos, &l)) {
		err_sb_puts(sb, indent);
		err_sb_add_clean(sb, l.p, l.n, max);
		err_sb_puts(sb, "\n");
	}
}

CRPC_API char *crpc_error_format(const crpc_error *e)
{
	struct err_sbuf sb = { 0 };
	const char *msg;

	if (!e)
		return strdup("crpc: unknown error\n");

	err_sb_puts(&sb, "crpc: ");
	if (e->operation && *e->operation) {
		err_sb_add_clean(&sb, e->operation, strlen(e->operation), SIZE_MAX);
		err_sb_puts(&sb, e->message && *e->message ? " failed: " : " failed");
	}
	if (e->message && *e->message)
		err_sb_add_clean(&sb, e->message, strcspn(e->message, "\n"), SIZE_MAX);
	else if (!e->operation || !*e->operation)
		err_sb_puts(&sb, "error");
	if (e->sys_errno)
		sb_errno(&sb, "", e->sys_errno);
	if (e->criu_errno && err_errno_abs(e->criu_errno) != err_errno_abs(e->sys_errno))
		sb_errno(&sb, e->sys_errno ? "CRIU: " : "", e->criu_errno);
	err_sb_puts(&sb, "\n");

	msg = err_useful_errmsg(e);
	if (msg) {
		size_t n = strcspn(msg, "\n");

		err_sb_puts(&sb, "  CRIU says: ");
		err_sb_add_clean(&sb, msg, n, 1024);
		err_sb_puts(&sb, "\n");
		if (msg[n] == '\n' && msg[n + 1])
			sb_indented(&sb, "    ", msg + n + 1, 1024);
	}

	if (e->log_excerpt && *e->log_excerpt) {
		if (e->log_path) {
			err_sb_puts(&sb, "  from ");
			err_sb_add_clean(&sb, e->log_path, strlen(e->log_path), PATH_MAX);
			err_sb_puts(&sb, ":\n");
		} else {
			err_sb_puts(&sb, "  CRIU log:\n");
		}
		sb_indented(&sb, "    ", e->log_excerpt, ERR_LINE_MAX_SHOWN + 8);
	} else if (e->log_path) {
		err_sb_puts(&sb, "  CRIU log: ");
		err_sb_add_clean(&sb, e->log_path, strlen(e->log_path), PATH_MAX);
		err_sb_puts(&sb, "\n");
	}

	if (e->hint && *e->hint) {
		err_sb_puts(&sb, "  hint: ");
		err_sb_add_clean(&sb, e->hint, strcspn(e->hint, "\n"), SIZE_MAX);
		err_sb_puts(&sb, "\n");
	}
	return err_sb_take(&sb);
}

void crpc_error_take_excerpt(crpc_error *e, char *excerpt, const char *source)
{
	char *src = source ? strdup(source) : NULL;

	if (!e || (source && !src)) {
		free(excerpt);
		free(src);
		return;
	}
	free(e->log_excerpt);
	e->log_excerpt = excerpt;
	free(e->log_path);
	e->log_path = src;
}

void crpc_error_set_criu(crpc_error *e, int cr_errno, const char *cr_errmsg)
{
	if (!e)
		return;
	e->criu_errno = cr_errno;
	if (cr_errmsg && !e->criu_errmsg)
		e->criu_errmsg = strdup(cr_errmsg);
}
