/* SPDX-License-Identifier: MIT */
/*
 * criu_log.c - CRIU's log: its lines and what kind each is (an error, a
 * generic summary, noise), the excerpt of a log that explains a failure,
 * and attaching the excerpt of a log file to an error.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "error_int.h"
#include "internal.h"

/* Only the tail of a log file is read; CRIU's logs at -v4 are far smaller. */
#define LOG_READ_MAX (4u << 20)
/* Upper bound of lines of context kept before an error line. */
#define CONTEXT_MAX 64
/* Excerpt parameters used by crpc_error_attach_log(). */
#define ATTACH_CONTEXT 3
#define ATTACH_MAX_ERRORS 3

/* ------------------------------------------------------------------------ */
/* CRIU log lines                                                           */

bool err_line_next(const char *log, size_t len, size_t *pos, struct err_line *l)
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

bool err_line_has(struct err_line l, const char *needle)
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

enum err_line_kind err_line_kind(struct err_line l, const struct err_line *next)
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

void err_walk_init(struct err_line_walk *w, const char *log, size_t len)
{
	memset(w, 0, sizeof(*w));
	w->log = log;
	w->len = len;
	w->have_next = err_line_next(log, len, &w->pos, &w->next);
	w->index = (size_t)-1;
}

bool err_walk_next(struct err_line_walk *w, struct err_line *l, enum err_line_kind *kind)
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
	fd = io_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	start = st.st_size > (off_t)LOG_READ_MAX ? st.st_size - (off_t)LOG_READ_MAX : 0;
	want = (size_t)(st.st_size - start);
	buf = malloc(want + 1);
	if (!buf)
		return;
	got = io_pread_full(fd, buf, want, start);
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
/* CRIU's own message                                                       */

const char *err_useful_errmsg(const crpc_error *e)
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
