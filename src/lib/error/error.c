/* SPDX-License-Identifier: MIT */
/*
 * error.c - the error object: creation, errno names and rendering for
 * humans. Excerpts of CRIU's logs are made in criu_log.c, known failure
 * causes are recognised in cause.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "error_int.h"
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* growable string                                                          */

static bool sb_reserve(struct err_sbuf *sb, size_t extra)
{
	if (!sb->oom && crpc__buf_reserve(&sb->b, extra) < 0)
		sb->oom = true;
	return !sb->oom;
}

static void sb_add(struct err_sbuf *sb, const char *s, size_t n)
{
	if (!sb->oom && crpc__buf_add(&sb->b, s, n) < 0)
		sb->oom = true;
}

void err_sb_puts(struct err_sbuf *sb, const char *s)
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
	vsnprintf(sb->b.data + sb->b.len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->b.len += (size_t)n;
}

void err_sb_add_clean(struct err_sbuf *sb, const char *s, size_t n, size_t max)
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

		sb->b.data[sb->b.len++] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	sb->b.data[sb->b.len] = '\0';
	if (cut)
		err_sb_puts(sb, " [...]");
}

char *err_sb_take(struct err_sbuf *sb)
{
	char *s;

	if (sb->oom) {
		crpc__buf_release(&sb->b);
		return NULL;
	}
	s = sb->b.data ? sb->b.data : strdup("");
	sb->b = (crpc__buf){ 0 };
	return s;
}

/* ------------------------------------------------------------------------ */
/* the error object                                                         */

CRPC_API int crpc_error_setv(crpc_error **err, crpc_exit exit_class, int sys_errno, const char *operation,
			     const char *fmt, va_list ap)
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

CRPC_API int crpc_error_set(crpc_error **err, crpc_exit exit_class, int sys_errno, const char *operation,
			    const char *fmt, ...)
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

void crpc__error_take_excerpt(crpc_error *e, char *excerpt, const char *source)
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

void crpc__error_set_criu(crpc_error *e, int cr_errno, const char *cr_errmsg)
{
	if (!e)
		return;
	e->criu_errno = cr_errno;
	if (cr_errmsg && !e->criu_errmsg)
		e->criu_errmsg = strdup(cr_errmsg);
}
