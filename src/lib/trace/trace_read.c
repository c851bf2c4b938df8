/* SPDX-License-Identifier: MIT */
/*
 * trace_read.c - read a trace written by crpc/trace.h back: its header,
 * its criu line, its message and event lines, with every damaged line listed by
 * number instead of failing the whole file. Line by line in bounded memory
 * (crpc_trace_reader_next(), used by `crpc trace show`), or whole into memory
 * for the replay (crpc_trace_file_read()).
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "crpc/replay.h"
#include "internal.h"

/* Longest line accepted; longer ones are reported as damaged. */
#define TRACE_MAX_LINE (1024 * 1024)
/*
 * The largest trace read whole: it is held in memory decoded, about ten
 * times its size, so a larger file is refused rather than taking the
 * machine's memory (the shim's traces stop at 8 MiB by default). Read line
 * by line, a trace may have any size.
 */
#define TRACE_MAX_FILE (256ULL << 20)

enum line_status {
	LINE_OK,
	LINE_EOF,
	LINE_TOO_LONG,
	LINE_NO_NEWLINE,
	LINE_READ_ERROR
};

/* Read one line (without its newline) into buf (TRACE_MAX_LINE + 1 bytes). */
static enum line_status read_line(FILE *f, char *buf, size_t *len)
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF) {
		if (c == '\n') {
			buf[n] = '\0';
			*len = n;
			return LINE_OK;
		}
		if (n == TRACE_MAX_LINE) {
			/* skip the rest of the line */
			while ((c = getc(f)) != EOF && c != '\n')
				;
			*len = n;
			return c == EOF && ferror(f) ? LINE_READ_ERROR : LINE_TOO_LONG;
		}
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	*len = n;
	if (ferror(f))
		return LINE_READ_ERROR;
	return n ? LINE_NO_NEWLINE : LINE_EOF;
}

/* Decode base64 (with '=' padding, as the recorder writes it). -1 if invalid. */
static int base64_decode(const char *s, uint8_t **out, size_t *outlen)
{
	size_t n = strlen(s), o = 0;
	uint8_t *buf;
	uint32_t acc = 0;
	int bits = 0;
	size_t pad = 0;

	*out = NULL;
	*outlen = 0;
	if (n % 4)
		return -1;
	buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return -2;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int v;

		if (c == '=') {
			/* padding only at the very end, at most two */
			pad++;
			if (pad > 2 || (i + 1 < n && s[i + 1] != '='))
				goto bad;
			continue;
		}
		if (pad)
			goto bad;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
		}
	}
	*out = buf;
	*outlen = o;
	return 0;
bad:
	free(buf);
	return -1;
}

/* The reason a message line is not usable, or NULL. */
static const char *check_message(json_t *m)
{
	const char *dir = json_string_value(json_object_get(m, "dir"));
	json_t *fd = json_object_get(m, "fd");
	json_t *seq = json_object_get(m, "seq");

	if (!json_is_integer(seq) || json_integer_value(seq) < 1)
		return "message without a positive integer \"seq\"";
	if (!json_is_number(json_object_get(m, "mono")))
		return "message without a number \"mono\"";
	if (!dir || (strcmp(dir, "to_criu") != 0 && strcmp(dir, "from_criu") != 0))
		return "message without \"dir\" to_criu or from_criu";
	if (!json_is_string(json_object_get(m, "message")))
		return "message without a string \"message\"";
	if (!json_is_object(json_object_get(m, "fields")) &&
	    !json_is_string(json_object_get(m, "decode_error")))
		return "message without \"fields\" or \"decode_error\"";
	if (json_object_get(m, "raw") && !json_is_string(json_object_get(m, "raw")))
		return "message whose \"raw\" is not a string";
	if (fd && !json_is_null(fd) &&
	    (!json_is_integer(fd) || json_integer_value(fd) < 0 || json_integer_value(fd) > INT32_MAX))
		return "message whose \"fd\" is neither null nor an fd number";
	return NULL;
}

/* ---- line by line ---------------------------------------------------------- */

struct crpc_trace_reader {
	FILE *f;
	char *path;
	char *buf; /* the current line, TRACE_MAX_LINE + 1 bytes */
	unsigned long lineno;
	unsigned long long total; /* bytes read */
	unsigned long long max;   /* stop past this many bytes (0: never) */
	bool had_header, had_criu, done;
	json_t *cur;                /* the current line parsed; the records point into it */
	uint8_t *raw;               /* the current message's raw bytes */
	crpc_trace_record rec;      /* the current message */
	crpc_trace_event_record ev; /* the current event */
	char text[512];             /* the current problem or truncation reason */
};

static int reader_open(crpc_trace_reader **out, const char *path, unsigned long long max, crpc_error **err)
{
	crpc_trace_reader *r;
	struct stat st;
	FILE *f;

	*out = NULL;
	f = fopen(path, "re");
	if (!f) {
		crpc_error_set(err, CRPC_EXIT_USAGE, errno, "trace", "cannot open trace file %s", path);
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		crpc_error_set(err, CRPC_EXIT_USAGE, EISDIR, "trace", "cannot read trace file %s", path);
		return -1;
	}
	if (max && S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max) {
		fclose(f);
		crpc_error_set(err, CRPC_EXIT_USAGE, EFBIG, "trace",
			       "trace file %s is %llu MiB; crpc reads traces of up to %llu MiB whole (crpc "
			       "trace show reads any size)",
			       path, (unsigned long long)st.st_size >> 20, max >> 20);
		if (err && *err)
			crpc_error_set_hint(*err,
					    "keep the lines wanted, e.g. head -n 100000 %s > part.trace "
					    "(a cut trace reads as cut)",
					    path);
		return -1;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->buf = malloc(TRACE_MAX_LINE + 1)) || !(r->path = strdup(path))) {
		if (r)
			free(r->buf);
		free(r);
		fclose(f);
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "trace", "out of memory");
		return -1;
	}
	r->f = f;
	r->max = max;
	*out = r;
	return 0;
}

CRPC_API int crpc_trace_reader_open(crpc_trace_reader **out, const char *path, crpc_error **err)
{
	return reader_open(out, path, 0, err);
}

/* Forget the previous line. */
static void reader_clear(crpc_trace_reader *r)
{
	json_decref(r->cur);
	r->cur = NULL;
	free(r->raw);
	r->raw = NULL;
	memset(&r->rec, 0, sizeof(r->rec));
	memset(&r->ev, 0, sizeof(r->ev));
	r->text[0] = '\0';
}

static int problem(crpc_trace_reader *r, crpc_trace_line *out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int problem(crpc_trace_reader *r, crpc_trace_line *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
	out->kind = CRPC_TRACE_LINE_PROBLEM;
	out->text = r->text;
	return 1;
}

/* A message line that passed check_message(). 1, or -2 on ENOMEM. */
static int take_message(crpc_trace_reader *r, crpc_trace_line *out, json_t *j)
{
	const char *raw = json_string_value(json_object_get(j, "raw"));
	json_t *fd = json_object_get(j, "fd");
	crpc_trace_record *rec = &r->rec;

	if (raw) {
		size_t blen = 0;
		int rc = base64_decode(raw, &r->raw, &blen);

		if (rc == -2)
			return -2;
		if (rc < 0)
			return problem(r, out, "message whose \"raw\" is not valid base64");
		rec->raw = r->raw;
		rec->raw_len = blen;
	}
	rec->line = r->lineno;
	rec->seq = (unsigned long)json_integer_value(json_object_get(j, "seq"));
	rec->mono = json_number_value(json_object_get(j, "mono"));
	rec->dir = strcmp(json_string_value(json_object_get(j, "dir")), "to_criu") == 0
			   ? CRPC_TO_CRIU
			   : CRPC_FROM_CRIU;
	rec->decode_error = json_object_get(j, "decode_error") != NULL;
	rec->fd = json_is_integer(fd) ? (int)json_integer_value(fd) : -1;
	rec->msg_type = json_string_value(json_object_get(j, "msg_type"));
	rec->json = r->buf;
	out->kind = CRPC_TRACE_LINE_MESSAGE;
	out->message = rec;
	return 1;
}

/* An event line: usable when it has a string "event" and a number "mono". */
static int take_event(crpc_trace_reader *r, crpc_trace_line *out, json_t *j)
{
	const char *ev = json_string_value(json_object_get(j, "event"));
	json_t *cb = json_object_get(j, "callback");
	json_t *tx = json_object_get(j, "text");

	if (!ev)
		return problem(r, out, "event without a string \"event\"");
	if (!json_is_number(json_object_get(j, "mono")))
		return problem(r, out, "event without a number \"mono\"");
	if ((cb && !json_is_null(cb) && !json_is_string(cb)) ||
	    (tx && !json_is_null(tx) && !json_is_string(tx)))
		return problem(r, out, "event whose \"callback\" or \"text\" is neither null nor a string");
	r->ev.line = r->lineno;
	r->ev.mono = json_number_value(json_object_get(j, "mono"));
	r->ev.event = ev;
	r->ev.callback = json_string_value(cb);
	r->ev.text = json_string_value(tx);
	r->ev.json = r->buf;
	out->kind = CRPC_TRACE_LINE_EVENT;
	out->event = &r->ev;
	return 1;
}

/* What the line in r->buf is. 1, or -2 on ENOMEM. */
static int take_line(crpc_trace_reader *r, crpc_trace_line *out)
{
	json_error_t jerr;
	json_t *j = json_loads(r->buf, JSON_REJECT_DUPLICATES, &jerr);
	const char *type, *why;

	if (!j)
		return problem(r, out, "not valid JSON: %s (column %d)", jerr.text, jerr.column);
	r->cur = j;
	if (!json_is_object(j))
		return problem(r, out, "not a JSON object");
	type = json_string_value(json_object_get(j, "type"));
	out->json = r->buf;
	if (!type)
		return problem(r, out, "no \"type\" key");
	if (strcmp(type, "message") == 0) {
		why = check_message(j);
		return why ? problem(r, out, "%s", why) : take_message(r, out, j);
	}
	if (strcmp(type, "event") == 0)
		return take_event(r, out, j);
	if (strcmp(type, "header") == 0) {
		if (r->had_header)
			return problem(r, out, "second header line");
		r->had_header = true;
		out->kind = CRPC_TRACE_LINE_HEADER;
		return 1;
	}
	if (strcmp(type, "criu") == 0) {
		if (r->had_criu)
			return problem(r, out, "second criu line");
		r->had_criu = true;
		out->kind = CRPC_TRACE_LINE_CRIU;
		return 1;
	}
	if (strcmp(type, "truncated") == 0) {
		/* the recorder stopped on purpose (a size limit): not damage */
		const char *reason = json_string_value(json_object_get(j, "reason"));

		snprintf(r->text, sizeof(r->text), "%s", reason ? reason : "the recorder stopped");
		out->kind = CRPC_TRACE_LINE_TRUNCATED;
		out->text = r->text;
		return 1;
	}
	return problem(r, out, "unknown line type '%.100s'", type);
}

CRPC_API int crpc_trace_reader_next(crpc_trace_reader *r, crpc_trace_line *out, crpc_error **err)
{
	memset(out, 0, sizeof(*out));
	reader_clear(r);
	while (!r->done) {
		size_t len = 0;
		enum line_status ls = read_line(r->f, r->buf, &len);
		int rc;

		if (ls == LINE_EOF)
			break;
		r->lineno++;
		r->total += len + 1;
		out->line = r->lineno;
		if (r->max && r->total > r->max) { /* it grew, or is no regular file */
			r->done = true;
			return problem(r, out, "the trace goes on past %llu MiB, the most crpc reads",
				       r->max >> 20);
		}
		if (ls == LINE_READ_ERROR) {
			int e = errno;

			r->done = true;
			if (r->lineno == 1)
				return crpc_error_set(err, CRPC_EXIT_USAGE, e, "trace",
						      "cannot read trace file %s", r->path);
			return problem(r, out, "read error: %s", strerror(e));
		}
		if (ls == LINE_TOO_LONG)
			return problem(r, out, "line longer than %d bytes", TRACE_MAX_LINE);
		if (ls == LINE_NO_NEWLINE) {
			r->done = true;
			return problem(r, out, "last line is cut off (no newline at the end)");
		}
		if (len == 0 || strlen(r->buf) != len)
			return problem(r, out, len == 0 ? "empty line" : "line contains a NUL byte");
		rc = take_line(r, out);
		if (rc == -2)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "trace",
					      "out of memory reading %s", r->path);
		return rc;
	}
	r->done = true;
	return 0;
}

CRPC_API void crpc_trace_reader_close(crpc_trace_reader *r)
{
	if (!r)
		return;
	reader_clear(r);
	if (r->f)
		fclose(r->f);
	free(r->buf);
	free(r->path);
	free(r);
}

/* ---- a whole trace in memory ------------------------------------------------ */

struct crpc_trace_file {
	char *path;
	char *header;
	char *criu;
	char *truncated; /* the recorder's reason for stopping, from a "truncated" line */
	crpc_trace_record *recs;
	size_t n_recs, cap_recs;
	crpc_trace_event_record *evs;
	size_t n_evs, cap_evs;
	crpc_trace_problem *probs;
	size_t n_probs, cap_probs;
	bool nomem;
};

static char *dup_or_null(crpc_trace_file *t, const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		t->nomem = true;
	return d;
}

/*
 * gcc 12's analyzer loses the strings below once they are stored into the
 * grown arrays and reports them as leaked; crpc_trace_file_free() frees
 * them (the ASan runs of test_trace and test_replay check it).
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static void keep_problem(crpc_trace_file *t, const crpc_trace_line *l)
{
	crpc_trace_problem *p;

	if (ARRAY_GROW(t->probs, &t->cap_probs, t->n_probs + 1, 8) < 0) {
		t->nomem = true;
		return;
	}
	p = t->probs;
	p[t->n_probs].line = l->line;
	p[t->n_probs].error = dup_or_null(t, l->text);
	if (p[t->n_probs].error)
		t->n_probs++;
}

static void keep_message(crpc_trace_file *t, const crpc_trace_record *m)
{
	crpc_trace_record *r;
	uint8_t *raw = NULL;

	if (ARRAY_GROW(t->recs, &t->cap_recs, t->n_recs + 1, 32) < 0) {
		t->nomem = true;
		return;
	}
	if (m->raw && !(raw = malloc(m->raw_len ? m->raw_len : 1))) {
		t->nomem = true;
		return;
	}
	if (raw && m->raw_len)
		memcpy(raw, m->raw, m->raw_len);
	r = &t->recs[t->n_recs];
	*r = *m;
	r->raw = raw;
	r->msg_type = dup_or_null(t, m->msg_type);
	r->json = dup_or_null(t, m->json);
	if (t->nomem) {
		free(raw);
		free((void *)r->msg_type);
		free((void *)r->json);
		return;
	}
	t->n_recs++;
}

static void keep_event(crpc_trace_file *t, const crpc_trace_event_record *ev)
{
	crpc_trace_event_record *e;

	if (ARRAY_GROW(t->evs, &t->cap_evs, t->n_evs + 1, 8) < 0) {
		t->nomem = true;
		return;
	}
	e = &t->evs[t->n_evs];
	*e = *ev;
	e->event = dup_or_null(t, ev->event);
	e->callback = dup_or_null(t, ev->callback);
	e->text = dup_or_null(t, ev->text);
	e->json = dup_or_null(t, ev->json);
	if (t->nomem) {
		free((void *)e->event);
		free((void *)e->callback);
		free((void *)e->text);
		free((void *)e->json);
		return;
	}
	t->n_evs++;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

CRPC_API int crpc_trace_file_read(crpc_trace_file **out, const char *path, crpc_error **err)
{
	crpc_trace_reader *r = NULL;
	crpc_trace_file *t;
	crpc_trace_line l;
	int rc = 0;

	*out = NULL;
	if (reader_open(&r, path, TRACE_MAX_FILE, err) < 0)
		return -1;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->path = strdup(path))) {
		free(t);
		crpc_trace_reader_close(r);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "trace", "out of memory");
	}
	while (!t->nomem && (rc = crpc_trace_reader_next(r, &l, err)) > 0) {
		switch (l.kind) {
		case CRPC_TRACE_LINE_HEADER:
			t->header = dup_or_null(t, l.json);
			break;
		case CRPC_TRACE_LINE_CRIU:
			t->criu = dup_or_null(t, l.json);
			break;
		case CRPC_TRACE_LINE_MESSAGE:
			keep_message(t, l.message);
			break;
		case CRPC_TRACE_LINE_EVENT:
			keep_event(t, l.event);
			break;
		case CRPC_TRACE_LINE_TRUNCATED:
			if (!t->truncated)
				t->truncated = dup_or_null(t, l.text);
			break;
		case CRPC_TRACE_LINE_PROBLEM:
			keep_problem(t, &l);
			break;
		}
	}
	crpc_trace_reader_close(r);
	if (rc >= 0 && t->nomem)
		rc = crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "trace", "out of memory reading %s", path);
	if (rc < 0) {
		crpc_trace_file_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

CRPC_API const char *crpc_trace_file_truncated(const crpc_trace_file *t)
{
	return t->truncated;
}

CRPC_API const char *crpc_trace_file_path(const crpc_trace_file *t)
{
	return t->path;
}

CRPC_API const char *crpc_trace_file_header(const crpc_trace_file *t)
{
	return t->header;
}

CRPC_API const char *crpc_trace_file_criu(const crpc_trace_file *t)
{
	return t->criu;
}

CRPC_API size_t crpc_trace_file_count(const crpc_trace_file *t)
{
	return t->n_recs;
}

CRPC_API const crpc_trace_record *crpc_trace_file_record(const crpc_trace_file *t, size_t i)
{
	return i < t->n_recs ? &t->recs[i] : NULL;
}

CRPC_API size_t crpc_trace_file_event_count(const crpc_trace_file *t)
{
	return t->n_evs;
}

CRPC_API const crpc_trace_event_record *crpc_trace_file_event(const crpc_trace_file *t, size_t i)
{
	return i < t->n_evs ? &t->evs[i] : NULL;
}

CRPC_API size_t crpc_trace_file_problem_count(const crpc_trace_file *t)
{
	return t->n_probs;
}

CRPC_API const crpc_trace_problem *crpc_trace_file_problem(const crpc_trace_file *t, size_t i)
{
	return i < t->n_probs ? &t->probs[i] : NULL;
}

CRPC_API void crpc_trace_file_free(crpc_trace_file *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_recs; i++) {
		free((void *)t->recs[i].raw);
		free((void *)t->recs[i].msg_type);
		free((void *)t->recs[i].json);
	}
	for (size_t i = 0; i < t->n_evs; i++) {
		free((void *)t->evs[i].event);
		free((void *)t->evs[i].callback);
		free((void *)t->evs[i].text);
		free((void *)t->evs[i].json);
	}
	for (size_t i = 0; i < t->n_probs; i++)
		free((void *)t->probs[i].error);
	free(t->evs);
	free(t->recs);
	free(t->probs);
	free(t->header);
	free(t->criu);
	free(t->truncated);
	free(t->path);
	free(t);
}
