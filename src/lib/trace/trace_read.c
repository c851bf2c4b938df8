/* SPDX-License-Identifier: MIT */
/*
 * trace_read.c - read a trace written by crpc/trace.h back: its header,
 * its criu line, its message and event lines, with every damaged line listed by
 * number instead of failing the whole file. Used by `crpc trace show` and
 * by the replay.
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
 * The largest trace read: a trace is held in memory decoded, about ten times
 * its size, so a larger file is refused rather than taking the machine's
 * memory (the shim's traces stop at 8 MiB by default).
 */
#define TRACE_MAX_FILE (256ULL << 20)

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

static void problem(crpc_trace_file *t, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(crpc_trace_file *t, unsigned long line, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	char *copy;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (ARRAY_GROW(t->probs, &t->cap_probs, t->n_probs + 1, 8) < 0) {
		t->nomem = true;
		return;
	}
	copy = strdup(buf);
	if (!copy) {
		t->nomem = true;
		return;
	}
	t->probs[t->n_probs].line = line;
	t->probs[t->n_probs].error = copy;
	t->n_probs++;
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

static void add_message(crpc_trace_file *t, unsigned long lineno, const char *text, json_t *j)
{
	crpc_trace_record *r;
	const char *raw = json_string_value(json_object_get(j, "raw"));
	const char *mt = json_string_value(json_object_get(j, "msg_type"));
	json_t *fd = json_object_get(j, "fd");
	uint8_t *bytes = NULL;
	size_t blen = 0;

	if (raw) {
		int rc = base64_decode(raw, &bytes, &blen);

		if (rc == -2) {
			t->nomem = true;
			return;
		}
		if (rc < 0) {
			problem(t, lineno, "message whose \"raw\" is not valid base64");
			return;
		}
	}
	if (ARRAY_GROW(t->recs, &t->cap_recs, t->n_recs + 1, 32) < 0) {
		t->nomem = true;
		free(bytes);
		return;
	}
	r = &t->recs[t->n_recs];
	memset(r, 0, sizeof(*r));
	r->line = lineno;
	r->seq = (unsigned long)json_integer_value(json_object_get(j, "seq"));
	r->mono = json_number_value(json_object_get(j, "mono"));
	r->dir = strcmp(json_string_value(json_object_get(j, "dir")), "to_criu") == 0
			 ? CRPC_TO_CRIU
			 : CRPC_FROM_CRIU;
	r->decode_error = json_object_get(j, "decode_error") != NULL;
	r->raw = bytes;
	r->raw_len = blen;
	r->fd = json_is_integer(fd) ? (int)json_integer_value(fd) : -1;
	r->msg_type = mt ? strdup(mt) : NULL;
	r->json = strdup(text);
	if ((mt && !r->msg_type) || !r->json) {
		free((void *)r->msg_type);
		free((void *)r->json);
		free(bytes);
		t->nomem = true;
		return;
	}
	t->n_recs++;
}

/* An event line: kept when it has a string "event" and a number "mono". */
static void add_event(crpc_trace_file *t, unsigned long lineno, const char *text, json_t *j)
{
	const char *ev = json_string_value(json_object_get(j, "event"));
	json_t *cb = json_object_get(j, "callback");
	json_t *tx = json_object_get(j, "text");
	crpc_trace_event_record *e;

	if (!ev) {
		problem(t, lineno, "event without a string \"event\"");
		return;
	}
	if (!json_is_number(json_object_get(j, "mono"))) {
		problem(t, lineno, "event without a number \"mono\"");
		return;
	}
	if ((cb && !json_is_null(cb) && !json_is_string(cb)) ||
	    (tx && !json_is_null(tx) && !json_is_string(tx))) {
		problem(t, lineno, "event whose \"callback\" or \"text\" is neither null nor a string");
		return;
	}
	if (ARRAY_GROW(t->evs, &t->cap_evs, t->n_evs + 1, 8) < 0) {
		t->nomem = true;
		return;
	}
	e = &t->evs[t->n_evs];
	memset(e, 0, sizeof(*e));
	e->line = lineno;
	e->mono = json_number_value(json_object_get(j, "mono"));
	e->event = strdup(ev);
	e->callback = json_is_string(cb) ? strdup(json_string_value(cb)) : NULL;
	e->text = json_is_string(tx) ? strdup(json_string_value(tx)) : NULL;
	e->json = strdup(text);
	if (!e->event || (json_is_string(cb) && !e->callback) || (json_is_string(tx) && !e->text) ||
	    !e->json) {
		free((void *)e->event);
		free((void *)e->callback);
		free((void *)e->text);
		free((void *)e->json);
		t->nomem = true;
		return;
	}
	t->n_evs++;
}

static void take_line(crpc_trace_file *t, unsigned long lineno, const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	const char *type, *why;

	if (!j) {
		problem(t, lineno, "not valid JSON: %s (column %d)", jerr.text, jerr.column);
		return;
	}
	if (!json_is_object(j)) {
		problem(t, lineno, "not a JSON object");
		json_decref(j);
		return;
	}
	type = json_string_value(json_object_get(j, "type"));
	if (!type) {
		problem(t, lineno, "no \"type\" key");
	} else if (strcmp(type, "message") == 0) {
		why = check_message(j);
		if (why)
			problem(t, lineno, "%s", why);
		else
			add_message(t, lineno, text, j);
	} else if (strcmp(type, "event") == 0) {
		add_event(t, lineno, text, j);
	} else if (strcmp(type, "header") == 0) {
		if (t->header)
			problem(t, lineno, "second header line");
		else if (!(t->header = strdup(text)))
			t->nomem = true;
	} else if (strcmp(type, "criu") == 0) {
		if (t->criu)
			problem(t, lineno, "second criu line");
		else if (!(t->criu = strdup(text)))
			t->nomem = true;
	} else if (strcmp(type, "truncated") == 0) {
		/* the recorder stopped on purpose (a size limit): not damage */
		const char *reason = json_string_value(json_object_get(j, "reason"));

		if (!t->truncated && !(t->truncated = strdup(reason ? reason : "the recorder stopped")))
			t->nomem = true;
	} else {
		problem(t, lineno, "unknown line type '%.100s'", type);
	}
	json_decref(j);
}

CRPC_API int crpc_trace_file_read(crpc_trace_file **out, const char *path, crpc_error **err)
{
	crpc_trace_file *t;
	FILE *f;
	struct stat st;
	char *buf;
	unsigned long lineno = 0;
	size_t len;
	int rc = 0;

	*out = NULL;
	f = fopen(path, "re");
	if (!f)
		return crpc_error_set(err, CRPC_EXIT_USAGE, errno, "trace", "cannot open trace file %s",
				      path);
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return crpc_error_set(err, CRPC_EXIT_USAGE, EISDIR, "trace", "cannot read trace file %s",
				      path);
	}
	if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > TRACE_MAX_FILE) {
		fclose(f);
		crpc_error_set(err, CRPC_EXIT_USAGE, EFBIG, "trace",
			       "trace file %s is %llu MiB; crpc reads traces of up to %llu MiB", path,
			       (unsigned long long)st.st_size >> 20, TRACE_MAX_FILE >> 20);
		if (err && *err)
			crpc_error_set_hint(*err,
					    "keep the lines wanted, e.g. head -n 100000 %s > part.trace "
					    "(a cut trace reads as cut)",
					    path);
		return -1;
	}
	t = calloc(1, sizeof(*t));
	buf = malloc(TRACE_MAX_LINE + 1);
	if (!t || !buf || !(t->path = strdup(path))) {
		free(buf);
		free(t);
		fclose(f);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "trace", "out of memory");
	}
	for (unsigned long long total = 0;;) {
		enum line_status ls = read_line(f, buf, &len);

		if (ls == LINE_EOF)
			break;
		lineno++;
		total += len + 1;
		if (total > TRACE_MAX_FILE) { /* it grew, or is no regular file */
			problem(t, lineno, "the trace goes on past %llu MiB, the most crpc reads",
				TRACE_MAX_FILE >> 20);
			break;
		}
		if (ls == LINE_READ_ERROR) {
			int e = errno;

			if (lineno == 1)
				rc = crpc_error_set(err, CRPC_EXIT_USAGE, e, "trace",
						    "cannot read trace file %s", path);
			else
				problem(t, lineno, "read error: %s", strerror(e));
			break;
		}
		if (ls == LINE_TOO_LONG) {
			problem(t, lineno, "line longer than %d bytes", TRACE_MAX_LINE);
			continue;
		}
		if (ls == LINE_NO_NEWLINE) {
			problem(t, lineno, "last line is cut off (no newline at the end)");
			break;
		}
		if (len == 0 || strlen(buf) != len) {
			problem(t, lineno, len == 0 ? "empty line" : "line contains a NUL byte");
			continue;
		}
		take_line(t, lineno, buf);
	}
	free(buf);
	fclose(f);
	if (rc == 0 && t->nomem)
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
