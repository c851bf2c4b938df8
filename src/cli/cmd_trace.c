/* SPDX-License-Identifier: MIT */
/*
 * cmd_trace.c - crpc trace show: read a trace written by --trace FILE and
 * print a timeline of the messages (and of the events recorded between
 * them, such as a hook that failed), the notify round trips and the time
 * spent in each phase. Damaged lines are reported with their line number;
 * everything else in the file is still shown. `crpc trace replay` lives in
 * cmd_replay.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char crpc_help_trace[] =
	"Usage: crpc trace show [OPTIONS] FILE\n"
	"       crpc trace replay [OPTIONS] FILE -- CLIENT [ARGS...]\n"
	"\n"
	"show: a trace written by --trace FILE as a timeline: one line per message\n"
	"(time since the first message, -> to CRIU, <- from CRIU, message type and a\n"
	"summary), how long each notification took to answer, and at the end the\n"
	"time spent in each phase: CRIU's own work between notifications and the\n"
	"handling of each notification (hooks). Failures are marked with '!!'.\n"
	"Events recorded between the messages appear in the timeline at their time,\n"
	"marked '!!': a hook that failed at a notification (\"** hook failed at\n"
	"pre-dump: REASON\"), a reply the shim changed (\"** reply rewritten\") or\n"
	"wrote itself (\"** shim reply\"); --json lists them under \"events\".\n"
	"Lines that are damaged (not JSON, missing keys, cut off) are reported on\n"
	"stderr with their line number; the rest of the file is still shown.\n"
	"The trace is read line by line: any size is shown in bounded memory, with\n"
	"round trips and phases added up by name (how often, the longest).\n"
	"\n"
	"replay: run CLIENT with the recorded session standing in for CRIU: no root\n"
	"and no CRIU needed, and any request that differs from the recorded one is\n"
	"reported with the field that differs ('crpc trace replay --help').\n"
	"\n"
	"Options:\n" CRPC_CLI_HELP_COMMON "\n"
	"Examples:\n"
	"  crpc dump --trace dump.trace 1234 /var/tmp/ckpt\n"
	"  crpc trace show dump.trace\n"
	"  crpc trace show --json dump.trace\n"
	"  crpc trace replay dump.trace -- crpc dump 1234 /var/tmp/ckpt2\n"
	"\n"
	"Exit codes (show):\n"
	"  0  the trace was read completely\n"
	"  1  the trace has damaged lines (reported, the rest is shown)\n"
	"  2  usage error, or FILE cannot be read\n";

/* Most distinct names kept in the round trips and phases; the rest are added up as "(others)". */
#define AGG_MAX 256
/* Most lines held back while the criu line waits for the version CRIU gave. */
#define PENDING_MAX 64

/* A round trip or a phase, added up over every time it occurred. */
struct agg {
	char kind[8]; /* phases: "criu" or "hooks" */
	char *name;
	size_t count;
	double ms, max_ms;
};

struct aggs {
	struct agg v[AGG_MAX + 1];
	size_t n;
};

/*
 * A trace shown as it is read, one line at a time: what is kept besides
 * the current line is bounded (the last message, the totals, the round
 * trips and phases added up by name, a few lines held back at the start).
 */
struct show {
	crpc_cli *cli;
	const char *path;
	bool color;
	json_t *header;   /* the header line */
	json_t *criu;     /* the criu line */
	char *truncated;  /* why the recorder stopped early, NULL if it did not */
	char version[96]; /* the version of CRIU's VERSION reply, "" until seen */

	/* the timeline */
	bool started; /* the header is printed */
	json_t *pending[PENDING_MAX];
	size_t n_pending;
	bool have_t0;
	double t0;

	/* the analysis */
	json_t *prev; /* the last message */
	char mark_name[256];
	double mark;
	bool have_mark;
	double first_mono, last_mono;
	size_t n_messages, n_events, n_problems;
	struct aggs round_trips, phases;
	double criu_ms, hooks_ms;

	/* --json: messages go out as they are read; events and problems wait in a file */
	FILE *spill;
	bool first_message;
};

static json_t *parse_line(const char *text)
{
	return text ? json_loads(text, 0, NULL) : NULL;
}

/* ---- analysis ---- */

static const char *mstr(json_t *m, const char *key)
{
	return json_string_value(json_object_get(m, key));
}

static double mono_of(json_t *m)
{
	return json_number_value(json_object_get(m, "mono"));
}

static bool to_criu(json_t *m)
{
	return strcmp(mstr(m, "dir"), "to_criu") == 0;
}

static const char *type_of(json_t *m)
{
	const char *t = mstr(m, "msg_type");

	if (!t)
		t = json_string_value(json_object_get(json_object_get(m, "fields"), "type"));
	return t ? t : "?";
}

static bool is_notify(json_t *m)
{
	return strcmp(type_of(m), "NOTIFY") == 0;
}

static const char *notify_script(json_t *m)
{
	const char *s = json_string_value(
		json_object_get(json_object_get(json_object_get(m, "fields"), "notify"), "script"));

	return s ? s : "?";
}

/* A failure: undecodable, success:false or notify_success:false. */
static bool is_failure(json_t *m)
{
	json_t *f = json_object_get(m, "fields");

	if (json_object_get(m, "decode_error"))
		return true;
	if (json_is_false(json_object_get(f, "success")))
		return true;
	if (json_is_false(json_object_get(f, "notify_success")))
		return true;
	return false;
}

static double round3(double v)
{
	return (double)(long long)(v * 1000.0 + (v < 0 ? -0.5 : 0.5)) / 1000.0;
}

static void agg_add(struct aggs *g, const char *kind, const char *name, double ms)
{
	struct agg *e = NULL;

	for (size_t i = 0; i < g->n && !e; i++)
		if (strcmp(g->v[i].kind, kind) == 0 && strcmp(g->v[i].name, name) == 0)
			e = &g->v[i];
	if (!e && g->n == AGG_MAX) {
		for (size_t i = 0; i < g->n && !e; i++)
			if (strcmp(g->v[i].kind, kind) == 0 && strcmp(g->v[i].name, "(others)") == 0)
				e = &g->v[i];
		name = "(others)";
	}
	if (!e) {
		char *copy = strdup(name);

		if (!copy || g->n > AGG_MAX) {
			free(copy);
			return;
		}
		e = &g->v[g->n++];
		memset(e, 0, sizeof(*e));
		snprintf(e->kind, sizeof(e->kind), "%s", kind);
		e->name = copy;
	}
	e->count++;
	e->ms += ms;
	if (ms > e->max_ms)
		e->max_ms = ms;
}

static void agg_release(struct aggs *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->v[i].name);
	g->n = 0;
}

static json_t *agg_json(const struct aggs *g, bool with_kind)
{
	json_t *a = crpc_cli_jarray();

	for (size_t i = 0; i < g->n; i++) {
		json_t *o = crpc_cli_jobj();

		if (with_kind)
			crpc_cli_jset(o, "kind", crpc_cli_jstr(g->v[i].kind));
		crpc_cli_jset(o, "name", crpc_cli_jstr(g->v[i].name));
		crpc_cli_jset(o, "ms", json_real(round3(g->v[i].ms)));
		crpc_cli_jset(o, "count", json_integer((json_int_t)g->v[i].count));
		crpc_cli_jset(o, "max_ms", json_real(round3(g->v[i].max_ms)));
		crpc_cli_jappend(a, o);
	}
	return a;
}

static void add_phase(struct show *sh, const char *kind, const char *name, double ms)
{
	agg_add(&sh->phases, kind, name, ms);
	if (strcmp(kind, "hooks") == 0)
		sh->hooks_ms += ms;
	else
		sh->criu_ms += ms;
}

/*
 * One more message into the phases: a request starts CRIU's work; each
 * NOTIFY from CRIU ends a CRIU phase and starts the handling of the
 * notification (hooks), which ends when crpc answers; the final reply ends
 * the last CRIU phase. Returns the time the message took to answer the
 * notification before it (a negative number when it answers none).
 */
static double analyse(struct show *sh, json_t *m)
{
	json_t *prev = sh->prev;
	double answered = -1;
	char name[600];

	if (sh->n_messages == 0)
		sh->first_mono = mono_of(m);
	sh->last_mono = mono_of(m);
	sh->n_messages++;
	sh->prev = json_incref(m);
	if (json_object_get(m, "decode_error"))
		goto out;
	if (to_criu(m)) {
		if (!is_notify(m)) {
			snprintf(sh->mark_name, sizeof(sh->mark_name), "%s request", type_of(m));
			sh->mark = mono_of(m);
			sh->have_mark = true;
		} else if (prev && !json_object_get(prev, "decode_error") && !to_criu(prev) &&
			   is_notify(prev)) {
			const char *script = notify_script(prev);

			answered = (mono_of(m) - mono_of(prev)) * 1000.0;
			agg_add(&sh->round_trips, "", script, answered);
			add_phase(sh, "hooks", script, answered);
			snprintf(sh->mark_name, sizeof(sh->mark_name), "%s", script);
			sh->mark = mono_of(m);
			sh->have_mark = true;
		}
		goto out;
	}
	if (sh->have_mark) {
		if (is_notify(m))
			snprintf(name, sizeof(name), "%s -> %s", sh->mark_name, notify_script(m));
		else
			snprintf(name, sizeof(name), "%s -> %s reply", sh->mark_name, type_of(m));
		add_phase(sh, "criu", name, (mono_of(m) - sh->mark) * 1000.0);
	}
	sh->have_mark = false;
out:
	json_decref(prev);
	return answered;
}

/* ---- human output ---- */

/* First line of s, at most max characters. */
static void first_line(const char *s, char *buf, size_t bufsz, size_t max)
{
	size_t n = strcspn(s, "\n");

	if (n > max)
		n = max;
	if (n >= bufsz)
		n = bufsz - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
}

static void summary(json_t *m, char *buf, size_t bufsz)
{
	json_t *f = json_object_get(m, "fields");
	json_t *v;
	size_t o = 0;

#define ADD(...)                                                                \
	do {                                                                    \
		if (o < bufsz)                                                  \
			o += (size_t)snprintf(buf + o, bufsz - o, __VA_ARGS__); \
	} while (0)

	buf[0] = '\0';
	if (json_object_get(m, "decode_error")) {
		ADD("decode error: %s", mstr(m, "decode_error"));
		return;
	}
	if (to_criu(m)) {
		json_t *opts = json_object_get(f, "opts");

		if (is_notify(m)) {
			v = json_object_get(f, "notify_success");
			ADD("notify_success %s", json_is_true(v)    ? "true"
						 : json_is_false(v) ? "false"
								    : "unset");
			return;
		}
		if ((v = json_object_get(opts, "pid")) && json_is_integer(v))
			ADD("pid %lld", (long long)json_integer_value(v));
		if ((v = json_object_get(opts, "images_dir")) && json_is_string(v))
			ADD("%simages %s", o ? ", " : "", json_string_value(v));
		else if ((v = json_object_get(opts, "images_dir_fd")) && json_is_integer(v))
			ADD("%simages fd %lld", o ? ", " : "", (long long)json_integer_value(v));
		if ((v = json_object_get(opts, "log_file")) && json_is_string(v))
			ADD("%slog %s", o ? ", " : "", json_string_value(v));
		return;
	}
	if (is_notify(m)) {
		json_t *nt = json_object_get(f, "notify");

		ADD("%s", notify_script(m));
		if ((v = json_object_get(nt, "pid")) && json_is_integer(v) && json_integer_value(v))
			ADD(", pid %lld", (long long)json_integer_value(v));
		if (json_is_false(json_object_get(f, "success")))
			ADD(", success false");
		return;
	}
	v = json_object_get(f, "success");
	ADD("%s", json_is_true(v) ? "success" : json_is_false(v) ? "FAILED" : "success unset");
	if ((v = json_object_get(f, "version")) && json_is_object(v))
		ADD(", CRIU %lld.%lld.%lld",
		    (long long)json_integer_value(json_object_get(v, "major_number")),
		    (long long)json_integer_value(json_object_get(v, "minor_number")),
		    (long long)json_integer_value(json_object_get(v, "sublevel")));
	if ((v = json_object_get(json_object_get(f, "restore"), "pid")) && json_is_integer(v))
		ADD(", restored pid %lld", (long long)json_integer_value(v));
	if ((v = json_object_get(f, "cr_errno")) && json_is_integer(v) && json_integer_value(v))
		ADD(", errno %lld", (long long)json_integer_value(v));
	if ((v = json_object_get(f, "cr_errmsg")) && json_is_string(v)) {
		char line[200];

		first_line(json_string_value(v), line, sizeof(line), 160);
		ADD(", cr_errmsg: %s", line);
	}
#undef ADD
}

/* An event's timeline text ("** hook failed at pre-dump: ..."); true when it marks a failure. */
static bool event_text(json_t *e, char *buf, size_t bufsz)
{
	const char *name = mstr(e, "event");
	const char *cb = mstr(e, "callback");
	const char *text = mstr(e, "text");
	char line[400];

	first_line(text ? text : "", line, sizeof(line), 300);
	if (strcmp(name, "hook-failed") == 0) {
		snprintf(buf, bufsz, "** hook failed at %s: %s", cb ? cb : "?", line);
		return true;
	}
	if (strcmp(name, "reply-rewritten") == 0) {
		snprintf(buf, bufsz, "** reply rewritten for the client: %s", line);
		return true;
	}
	if (strcmp(name, "shim-reply") == 0) {
		snprintf(buf, bufsz, "** shim reply to the client: %s", line);
		return true;
	}
	snprintf(buf, bufsz, "** %s%s%s%s%s", name, cb ? " at " : "", cb ? cb : "", line[0] ? ": " : "",
		 line);
	return false;
}

static void print_event(json_t *e, double t0, bool color)
{
	char text[512];
	bool bad = event_text(e, text, sizeof(text));

	printf("%s%s %10.3f ms  %s%s\n", bad && color ? "\033[1;31m" : "", bad ? "!!" : "  ",
	       (mono_of(e) - t0) * 1000.0, text, bad && color ? "\033[0m" : "");
}

/*
 * The version CRIU gave in a VERSION reply ("4.2.1"), for a criu line that
 * names none (the shim learns it only from the client's own request).
 * False when m is no such reply.
 */
static bool version_reply(json_t *m, char *buf, size_t bufsz)
{
	json_t *v = json_object_get(json_object_get(m, "fields"), "version");
	json_t *sub = json_object_get(v, "sublevel");

	if (json_object_get(m, "decode_error") || to_criu(m) || strcmp(type_of(m), "VERSION") != 0 ||
	    !json_is_object(v) || !json_is_integer(json_object_get(v, "major_number")) ||
	    !json_is_integer(json_object_get(v, "minor_number")))
		return false;
	snprintf(buf, bufsz, "%lld.%lld", (long long)json_integer_value(json_object_get(v, "major_number")),
		 (long long)json_integer_value(json_object_get(v, "minor_number")));
	if (json_is_integer(sub)) {
		size_t len = strlen(buf);

		snprintf(buf + len, bufsz - len, ".%lld", (long long)json_integer_value(sub));
	}
	return true;
}

static void print_preamble(struct show *sh)
{
	if (sh->header) {
		json_t *argv = json_object_get(sh->header, "argv");
		const char *op = mstr(sh->header, "operation");
		const char *target = mstr(sh->header, "target");

		printf("Trace of %s%s%s by crpc %s", op ? op : "(unknown operation)", target ? " " : "",
		       target ? target : "",
		       mstr(sh->header, "crpc_version") ? mstr(sh->header, "crpc_version") : "?");
		if (mstr(sh->header, "wall"))
			printf(", started %s", mstr(sh->header, "wall"));
		printf("\n");
		if (json_is_array(argv)) {
			size_t i;
			json_t *v;

			printf("Command:");
			json_array_foreach(argv, i, v)
				printf(" %s", json_is_string(v) ? json_string_value(v) : "?");
			printf("\n");
		}
	} else {
		printf("Trace without a header line\n");
	}
	if (sh->criu) {
		const char *v = mstr(sh->criu, "version");

		if (!v && sh->version[0])
			v = sh->version;
		printf("CRIU %s at %s\n", v ? v : "?", mstr(sh->criu, "path") ? mstr(sh->criu, "path") : "?");
	}
	printf("\n");
}

/* One timeline line: a message (with "answered_ms" when it answers a notification) or an event. */
static void print_item(struct show *sh, json_t *o)
{
	json_t *ans = json_object_get(o, "answered_ms");
	char sum[512];
	bool bad;

	/* time 0 is the first message or event */
	if (!sh->have_t0) {
		sh->t0 = mono_of(o);
		sh->have_t0 = true;
	}
	if (json_object_get(o, "event")) {
		print_event(o, sh->t0, sh->color);
		return;
	}
	bad = is_failure(o);
	summary(o, sum, sizeof(sum));
	if (bad && sh->color)
		fputs("\033[1;31m", stdout);
	printf("%s %10.3f ms  %s %-*s%s%s", bad ? "!!" : "  ", (mono_of(o) - sh->t0) * 1000.0,
	       to_criu(o) ? "->" : "<-", sum[0] ? 8 : 0, type_of(o), sum[0] ? " " : "", sum);
	if (json_is_real(ans))
		printf(" (answered in %.3f ms)", json_real_value(ans));
	if (bad && sh->color)
		fputs("\033[0m", stdout);
	printf("\n");
}

/* The header, then the lines held back for it. */
static void start_timeline(struct show *sh)
{
	if (sh->started)
		return;
	sh->started = true;
	print_preamble(sh);
	for (size_t i = 0; i < sh->n_pending; i++) {
		print_item(sh, sh->pending[i]);
		json_decref(sh->pending[i]);
	}
	sh->n_pending = 0;
}

/*
 * A message or an event for the human timeline: printed at once, or held
 * back (at most PENDING_MAX) until the header can say which CRIU it was:
 * the criu line comes after the first messages, and one without a version
 * waits for CRIU's VERSION reply.
 */
static void human_item(struct show *sh, json_t *o)
{
	if (!sh->started &&
	    ((sh->criu && (mstr(sh->criu, "version") || sh->version[0])) || sh->n_pending == PENDING_MAX))
		start_timeline(sh);
	if (sh->started) {
		print_item(sh, o);
		return;
	}
	sh->pending[sh->n_pending++] = json_incref(o);
}

static void print_aggs(const struct aggs *g, bool phases)
{
	for (size_t i = 0; i < g->n; i++) {
		const struct agg *e = &g->v[i];

		if (phases)
			printf("  %-6s %-40s %10.3f ms", strcmp(e->kind, "hooks") == 0 ? "hooks" : "CRIU",
			       e->name, e->ms);
		else
			printf("  %-22s %10.3f ms", e->name, e->ms);
		if (e->count > 1)
			printf(" (%zu times, longest %.3f ms)", e->count, e->max_ms);
		printf("\n");
	}
}

static void print_end(struct show *sh)
{
	double total_ms = (sh->last_mono - sh->first_mono) * 1000.0;
	char dur[64];

	start_timeline(sh);
	if (!sh->n_messages)
		printf("(no messages)\n");
	if (sh->round_trips.n) {
		printf("\nNotify round trips (crpc and hooks answering):\n");
		print_aggs(&sh->round_trips, false);
	}
	if (sh->phases.n) {
		printf("\nPhases:\n");
		print_aggs(&sh->phases, true);
	}
	printf("\n");
	crpc_cli_fmt_us((uint64_t)(total_ms * 1000.0 + 0.5), dur, sizeof(dur));
	printf("Total: %s over %zu messages (CRIU %.3f ms, hooks %.3f ms)", dur, sh->n_messages, sh->criu_ms,
	       sh->hooks_ms);
	if (sh->n_events)
		printf(", %zu event(s)", sh->n_events);
	printf("\n");
	if (sh->truncated)
		printf("%sthe recording stops early: %s%s\n", sh->color ? "\033[1;33m!! " : "!! ",
		       sh->truncated, sh->color ? "\033[0m" : "");
	if (sh->n_problems)
		printf("%s%zu damaged line(s) in the trace, see above%s\n",
		       sh->color ? "\033[1;31m!! " : "!! ", sh->n_problems, sh->color ? "\033[0m" : "");
}

/* ---- --json: one document, its messages written as they are read ---- */

/* Write o compactly to f; -1 on a write error. */
static int dump_to(FILE *f, json_t *o)
{
	return json_dumpf(o, f,
			  JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
}

static int json_begin(struct show *sh)
{
	json_t *p = crpc_cli_jstr(sh->path);
	int rc;

	sh->spill = tmpfile();
	if (!sh->spill || fcntl(fileno(sh->spill), F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	fputs("{\n  \"ok\": true,\n  \"path\": ", stdout);
	rc = dump_to(stdout, p);
	json_decref(p);
	fputs(",\n  \"messages\": [", stdout);
	sh->first_message = true;
	return rc;
}

/* o as an element of a top-level array: indented as crpc_cli_emit() would have it. */
static void put_element(json_t *o, bool first)
{
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));

	fputs(first ? "\n    " : ",\n    ", stdout);
	if (!text) {
		fputs("null", stdout);
		return;
	}
	for (const char *p = text, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl) {
			fputs(p, stdout);
			break;
		}
		fwrite(p, 1, (size_t)(nl - p) + 1, stdout);
		fputs("    ", stdout);
	}
	free(text);
}

static void json_message(struct show *sh, json_t *m)
{
	put_element(m, sh->first_message);
	sh->first_message = false;
}

/* An event or a problem for later: kind 'e' or 'p', then the object, one per line. */
static void json_spill(struct show *sh, char kind, json_t *o)
{
	fputc(kind, sh->spill);
	(void)dump_to(sh->spill, o);
	fputc('\n', sh->spill);
}

/* The spilled objects of one kind, as the elements of an array. */
static void json_unspill(struct show *sh, char kind)
{
	char *line = NULL;
	size_t cap = 0;
	bool first = true;
	ssize_t n;

	rewind(sh->spill);
	while ((n = getline(&line, &cap, sh->spill)) > 0) {
		json_t *o;

		if (line[0] != kind)
			continue;
		o = json_loadb(line + 1, (size_t)n - 1, 0, NULL);
		put_element(o, first);
		json_decref(o);
		first = false;
	}
	free(line);
	fputs(first ? "]" : "\n  ]", stdout);
}

static int json_end(struct show *sh, const crpc_error *failed)
{
	json_t *rest = crpc_cli_jobj();
	char *text, *body;

	fputs(sh->first_message ? "],\n  \"events\": [" : "\n  ],\n  \"events\": [", stdout);
	json_unspill(sh, 'e');
	fputs(",\n  \"problems\": [", stdout);
	json_unspill(sh, 'p');
	crpc_cli_jset(rest, "header", sh->header ? json_incref(sh->header) : json_null());
	crpc_cli_jset(rest, "criu", sh->criu ? json_incref(sh->criu) : json_null());
	crpc_cli_jset(rest, "notify_round_trips", agg_json(&sh->round_trips, false));
	crpc_cli_jset(rest, "phases", agg_json(&sh->phases, true));
	crpc_cli_jset(rest, "total_ms", json_real(round3((sh->last_mono - sh->first_mono) * 1000.0)));
	crpc_cli_jset(rest, "truncated", sh->truncated ? crpc_cli_jstr(sh->truncated) : json_null());
	if (failed)
		crpc_cli_jset(rest, "error", crpc_cli_jstr(failed->message));
	text = json_dumps(rest, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
	json_decref(rest);
	if (!text)
		return -1;
	/* the members of that object, after the arrays above: without its braces */
	body = strchr(text, '{');
	if (body && strlen(body) > 2) {
		size_t n = strlen(body);

		while (n && (body[n - 1] == '}' || body[n - 1] == '\n'))
			body[--n] = '\0';
		printf(",%s\n}\n", body + 1);
	} else {
		fputs("\n}\n", stdout);
	}
	free(text);
	return ferror(stdout) ? -1 : 0;
}

/* ---- reading ---- */

/* A message, an event or a problem: into the timeline, or the JSON document. */
static void take(struct show *sh, const crpc_trace_line *l)
{
	json_t *o;

	switch (l->kind) {
	case CRPC_TRACE_LINE_HEADER:
		if (!sh->header)
			sh->header = parse_line(l->json);
		return;
	case CRPC_TRACE_LINE_CRIU:
		if (!sh->criu)
			sh->criu = parse_line(l->json);
		return;
	case CRPC_TRACE_LINE_TRUNCATED:
		if (!sh->truncated)
			sh->truncated = strdup(l->text);
		return;
	case CRPC_TRACE_LINE_PROBLEM:
		sh->n_problems++;
		if (sh->cli->json) {
			o = crpc_cli_jobj();
			crpc_cli_jset(o, "line", json_integer((json_int_t)l->line));
			crpc_cli_jset(o, "error", crpc_cli_jstr(l->text));
			json_spill(sh, 'p', o);
			json_decref(o);
		} else {
			fflush(stdout);
			fprintf(stderr, "crpc: %s:%lu: %s\n", sh->path, l->line, l->text);
		}
		return;
	case CRPC_TRACE_LINE_EVENT:
		o = parse_line(l->json);
		if (!o)
			return; /* out of memory: the reader parsed it once */
		sh->n_events++;
		crpc_cli_jset(o, "line", json_integer((json_int_t)l->line));
		if (sh->cli->json)
			json_spill(sh, 'e', o);
		else
			human_item(sh, o);
		json_decref(o);
		return;
	case CRPC_TRACE_LINE_MESSAGE: {
		double answered;

		o = parse_line(l->json);
		if (!o)
			return;
		crpc_cli_jset(o, "line", json_integer((json_int_t)l->line));
		if (!sh->version[0])
			(void)version_reply(o, sh->version, sizeof(sh->version));
		answered = analyse(sh, o);
		if (sh->cli->json) {
			json_message(sh, o);
		} else {
			if (answered >= 0)
				crpc_cli_jset(o, "answered_ms", json_real(answered));
			human_item(sh, o);
		}
		json_decref(o);
		return;
	}
	}
}

static int trace_show(crpc_cli *cli, int argc, char **argv)
{
	struct show sh = { .cli = cli };
	crpc_trace_reader *r = NULL;
	crpc_trace_line l;
	crpc_error *err = NULL;
	int rc, got;

	cli->usage = "crpc trace show [OPTIONS] FILE";
	while (crpc_cli_getopt(cli, argc, argv, ":hv", crpc_cli_common_options) != -1)
		crpc_cli_usage_errorf(cli, "unhandled option");
	if (crpc_cli_early_exit(cli, crpc_help_trace, &rc))
		return rc;
	rc = crpc_cli_operand(cli, argc, argv, "FILE", &sh.path);
	if (rc)
		return rc;
	sh.color = isatty(STDOUT_FILENO);

	/* the first line read before anything is printed: a file that cannot be read fails alone */
	if (crpc_trace_reader_open(&r, sh.path, &err) < 0 || (got = crpc_trace_reader_next(r, &l, &err)) < 0) {
		json_t *extra = crpc_cli_jobj();

		crpc_cli_jset(extra, "path", crpc_cli_jstr(sh.path));
		rc = crpc_cli_fail(cli, err, extra, NULL);
		goto out;
	}
	if (cli->json && json_begin(&sh) < 0) {
		crpc_error_set(&err, CRPC_EXIT_FAIL, errno, "trace", "cannot make a temporary file");
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		goto out;
	}
	while (got > 0) {
		take(&sh, &l);
		got = crpc_trace_reader_next(r, &l, &err);
	}
	rc = got < 0 ? CRPC_EXIT_FAIL : sh.n_problems ? CRPC_EXIT_FAIL : 0;
	if (cli->json) {
		if (json_end(&sh, got < 0 ? err : NULL) < 0)
			rc = CRPC_EXIT_FAIL;
	} else {
		print_end(&sh);
		if (got < 0)
			crpc_cli_fail(cli, err, NULL, NULL);
	}
	if (fflush(stdout) != 0 && rc == 0)
		rc = CRPC_EXIT_FAIL;
out:
	crpc_trace_reader_close(r);
	for (size_t i = 0; i < sh.n_pending; i++)
		json_decref(sh.pending[i]);
	if (sh.spill)
		fclose(sh.spill);
	agg_release(&sh.round_trips);
	agg_release(&sh.phases);
	json_decref(sh.prev);
	json_decref(sh.header);
	json_decref(sh.criu);
	free(sh.truncated);
	crpc_error_free(err);
	return rc;
}

int crpc_cmd_trace(crpc_cli *cli, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-') {
		/* "crpc trace --help" and friends */
		int rc;

		cli->usage = "crpc trace show|replay [OPTIONS] FILE ...";
		while (crpc_cli_getopt(cli, argc, argv, ":hv", crpc_cli_common_options) != -1)
			;
		if (crpc_cli_early_exit(cli, crpc_help_trace, &rc))
			return rc;
		return crpc_cli_usage(cli, true, "missing subcommand: 'show' or 'replay'");
	}
	if (strcmp(argv[1], "replay") == 0)
		return crpc_cli_trace_replay(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "show") != 0)
		return crpc_cli_usage(cli, true, "unknown subcommand '%s': 'show' or 'replay'", argv[1]);
	return trace_show(cli, argc - 1, argv + 1);
}
