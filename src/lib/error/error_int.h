/* SPDX-License-Identifier: MIT */
/*
 * error_int.h - what the parts of libcrpc's error handling share: the
 * growable string of error.c and CRIU's log lines of criu_log.c. Private
 * to src/lib/error/.
 */
#ifndef CRPC_ERROR_INT_H
#define CRPC_ERROR_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "internal.h"

/* A log line longer than this is cut in an excerpt. */
#define ERR_LINE_MAX_SHOWN 512

/* ---- growable string (error.c) ---- */

struct err_sbuf {
	crpc__buf b;
	bool oom; /* an allocation failed: what follows is dropped */
};

void err_sb_puts(struct err_sbuf *sb, const char *s);

/*
 * Append at most `max` bytes of s[0..n) with control characters replaced
 * (log lines and CRIU messages are shown on terminals); a cut line ends
 * on a UTF-8 character boundary and is marked.
 */
void err_sb_add_clean(struct err_sbuf *sb, const char *s, size_t n, size_t max);

/* Take the string out of sb; NULL if an allocation failed. */
char *err_sb_take(struct err_sbuf *sb);

/* ---- CRIU's log lines (criu_log.c) ---- */

struct err_line {
	const char *p;
	size_t n; /* without the line end */
};

/* Cut the next line of log[*pos..len); false at the end. Never reads past len. */
bool err_line_next(const char *log, size_t len, size_t *pos, struct err_line *l);

/* Whether l holds needle. */
bool err_line_has(struct err_line l, const char *needle);

enum err_line_kind {
	ERR_LINE_TEXT,    /* ordinary log line */
	ERR_LINE_NOISE,   /* says nothing about a failure, never shown */
	ERR_LINE_ERROR,   /* reports an error */
	ERR_LINE_SUMMARY, /* a generic "Dumping FAILED." kind of error */
};

/* The kind of line l (next: the line after it, if any). */
enum err_line_kind err_line_kind(struct err_line l, const struct err_line *next);

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

void err_walk_init(struct err_line_walk *w, const char *log, size_t len);
bool err_walk_next(struct err_line_walk *w, struct err_line *l, enum err_line_kind *kind);

/* CRIU's message, unless it is one of the lines that explain nothing. */
const char *err_useful_errmsg(const crpc_error *e);

/* ---- errno values ---- */

/* CRIU and many callers report errors as negative errno values. */
static inline int err_errno_abs(int v)
{
	return v < 0 && v != INT_MIN ? -v : v;
}

#endif /* CRPC_ERROR_INT_H */
