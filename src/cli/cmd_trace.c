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

struct show {
	crpc_cli *cli;
	const char *path;
	json_t *header;   /* the header line */
	json_t *criu;     /* the criu line */
	json_t *messages; /* the valid message lines, each with "line" added */
	json_t *events;   /* the valid event lines, each with "line" added */
	json_t *problems; /* [{"line","error"}] */
	char *truncated;  /* why the recorder stopped early, NULL if it did not */
};

static json_t *parse_line(const char *text)
{
	return text ? json_loads(text, 0, NULL) : NULL;
}

/*
 * Read the whole file with libcrpc's trace reader: damaged lines are
 * reported on stderr with their number (and kept for --json), the rest is
 * shown. -1 (with *err) when it cannot be opened or read at all.
 */
static int read_trace(struct show *sh, crpc_error **err)
{
	crpc_trace_file *t = NULL;

	if (crpc_trace_file_read(&t, sh->path, err) < 0)
		return -1;
	sh->header = parse_line(crpc_trace_file_header(t));
	sh->criu = parse_line(crpc_trace_file_criu(t));
	for (size_t i = 0; i < crpc_trace_file_count(t); i++) {
		const crpc_trace_record *r = crpc_trace_file_record(t, i);
		json_t *m = parse_line(r->json);

		if (!m)
			continue; /* out of memory: the reader parsed it once */
		crpc_cli_jset(m, "line", json_integer((json_int_t)r->line));
		crpc_cli_jappend(sh->messages, m);
	}
	for (size_t i = 0; i < crpc_trace_file_event_count(t); i++) {
		const crpc_trace_event_record *e = crpc_trace_file_event(t, i);
		json_t *o = parse_line(e->json);

		if (!o)
			continue;
		crpc_cli_jset(o, "line", json_integer((json_int_t)e->line));
		crpc_cli_jappend(sh->events, o);
	}
	for (size_t i = 0; i < crpc_trace_file_problem_count(t); i++) {
		const crpc_trace_problem *p = crpc_trace_file_problem(t, i);
		json_t *o = crpc_cli_jobj();

		crpc_cli_jset(o, "line", json_integer((json_int_t)p->line));
		crpc_cli_jset(o, "error", crpc_cli_jstr(p->error));
		crpc_cli_jappend(sh->problems, o);
		if (!sh->cli->json)
			fprintf(stderr, "crpc: %s:%lu: %s\n", sh->path, p->line, p->error);
	}
	if (crpc_trace_file_truncated(t) && !(sh->truncated = strdup(crpc_trace_file_truncated(t)))) {
		crpc_trace_file_free(t);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "trace", "out of memory");
	}
	crpc_trace_file_free(t);
	return 0;
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

struct analysis {
	json_t *round_trips; /* [{"name","ms"}] */
	json_t *phases;      /* [{"kind","name","ms"}] */
	json_t *answered;    /* per message index: ms of the round trip it answers, or null */
	double total_ms;
	double criu_ms, hooks_ms;
};

static void add_phase(struct analysis *a, const char *kind, const char *name, double ms)
{
	json_t *p = crpc_cli_jobj();

	crpc_cli_jset(p, "kind", crpc_cli_jstr(kind));
	crpc_cli_jset(p, "name", crpc_cli_jstr(name));
	crpc_cli_jset(p, "ms", json_real(round3(ms)));
	crpc_cli_jappend(a->phases, p);
	if (strcmp(kind, "hooks") == 0)
		a->hooks_ms += ms;
	else
		a->criu_ms += ms;
}

/*
 * Phases: a request starts CRIU's work; each NOTIFY from CRIU ends a CRIU
 * phase and starts the handling of the notification (hooks), which ends
 * when crpc answers; the final reply ends the last CRIU phase.
 */
static void analyse(json_t *msgs, struct analysis *a)
{
	size_t n = json_array_size(msgs);
	char mark_name[256] = "";
	double mark = 0;
	bool have_mark = false;

	a->round_trips = crpc_cli_jarray();
	a->phases = crpc_cli_jarray();
	a->answered = crpc_cli_jarray();
	a->total_ms = n ? (mono_of(json_array_get(msgs, n - 1)) - mono_of(json_array_get(msgs, 0))) * 1000.0
			: 0;
	a->criu_ms = a->hooks_ms = 0;
	for (size_t i = 0; i < n; i++)
		crpc_cli_jappend(a->answered, json_null());

	for (size_t i = 0; i < n; i++) {
		json_t *m = json_array_get(msgs, i);
		char name[300];

		if (json_object_get(m, "decode_error"))
			continue;
		if (to_criu(m)) {
			if (!is_notify(m)) {
				snprintf(mark_name, sizeof(mark_name), "%s request", type_of(m));
				mark = mono_of(m);
				have_mark = true;
			}
			continue;
		}
		if (is_notify(m)) {
			const char *script = notify_script(m);
			json_t *next = i + 1 < n ? json_array_get(msgs, i + 1) : NULL;

			if (have_mark) {
				snprintf(name, sizeof(name), "%s -> %s", mark_name, script);
				add_phase(a, "criu", name, (mono_of(m) - mark) * 1000.0);
			}
			have_mark = false;
			if (next && !json_object_get(next, "decode_error") && to_criu(next) &&
			    is_notify(next)) {
				double ms = (mono_of(next) - mono_of(m)) * 1000.0;
				json_t *rt = crpc_cli_jobj();

				crpc_cli_jset(rt, "name", crpc_cli_jstr(script));
				crpc_cli_jset(rt, "ms", json_real(round3(ms)));
				crpc_cli_jappend(a->round_trips, rt);
				json_array_set_new(a->answered, i + 1, json_real(ms));
				add_phase(a, "hooks", script, ms);
				snprintf(mark_name, sizeof(mark_name), "%s", script);
				mark = mono_of(next);
				have_mark = true;
			}
			continue;
		}
		if (have_mark) {
			snprintf(name, sizeof(name), "%s -> %s reply", mark_name, type_of(m));
			add_phase(a, "criu", name, (mono_of(m) - mark) * 1000.0);
		}
		have_mark = false;
	}
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

static long long line_of(json_t *o)
{
	return (long long)json_integer_value(json_object_get(o, "line"));
}

/*
 * The version CRIU gave in a VERSION reply of the trace ("4.2.1"), for a
 * criu line that names none (the shim learns it only from the client's
 * own request). False when the trace has no such reply.
 */
static bool version_reply(json_t *msgs, char *buf, size_t bufsz)
{
	size_t i;
	json_t *m;

	json_array_foreach(msgs, i, m) {
		json_t *v = json_object_get(json_object_get(m, "fields"), "version");
		json_t *sub = json_object_get(v, "sublevel");

		if (to_criu(m) || strcmp(type_of(m), "VERSION") != 0 || !json_is_object(v) ||
		    !json_is_integer(json_object_get(v, "major_number")) ||
		    !json_is_integer(json_object_get(v, "minor_number")))
			continue;
		snprintf(buf, bufsz, "%lld.%lld",
			 (long long)json_integer_value(json_object_get(v, "major_number")),
			 (long long)json_integer_value(json_object_get(v, "minor_number")));
		if (json_is_integer(sub)) {
			size_t len = strlen(buf);

			snprintf(buf + len, bufsz - len, ".%lld", (long long)json_integer_value(sub));
		}
		return true;
	}
	return false;
}

static void print_human(struct show *sh, struct analysis *a)
{
	bool color = isatty(STDOUT_FILENO);
	size_t n = json_array_size(sh->messages), n_ev = json_array_size(sh->events), ev = 0;
	double t0 = n ? mono_of(json_array_get(sh->messages, 0)) : 0;
	char dur[64];

	/* time 0 is the first message, or an event recorded before it */
	if (n_ev && (!n || line_of(json_array_get(sh->events, 0)) < line_of(json_array_get(sh->messages, 0))))
		t0 = mono_of(json_array_get(sh->events, 0));

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
		char ver[96];
		const char *v = mstr(sh->criu, "version");

		if (!v && version_reply(sh->messages, ver, sizeof(ver)))
			v = ver;
		printf("CRIU %s at %s\n", v ? v : "?", mstr(sh->criu, "path") ? mstr(sh->criu, "path") : "?");
	}
	printf("\n");

	for (size_t i = 0; i < n; i++) {
		json_t *m = json_array_get(sh->messages, i);
		json_t *ans = json_array_get(a->answered, i);
		bool bad = is_failure(m);
		char sum[512];

		/* the events recorded before this message, in file order */
		while (ev < n_ev && line_of(json_array_get(sh->events, ev)) < line_of(m))
			print_event(json_array_get(sh->events, ev++), t0, color);
		summary(m, sum, sizeof(sum));
		if (bad && color)
			fputs("\033[1;31m", stdout);
		printf("%s %10.3f ms  %s %-*s%s%s", bad ? "!!" : "  ", (mono_of(m) - t0) * 1000.0,
		       to_criu(m) ? "->" : "<-", sum[0] ? 8 : 0, type_of(m), sum[0] ? " " : "", sum);
		if (json_is_real(ans))
			printf(" (answered in %.3f ms)", json_real_value(ans));
		if (bad && color)
			fputs("\033[0m", stdout);
		printf("\n");
	}
	while (ev < n_ev)
		print_event(json_array_get(sh->events, ev++), t0, color);
	if (!n)
		printf("(no messages)\n");

	if (json_array_size(a->round_trips)) {
		size_t i;
		json_t *rt;

		printf("\nNotify round trips (crpc and hooks answering):\n");
		json_array_foreach(a->round_trips, i, rt)
			printf("  %-22s %10.3f ms\n", mstr(rt, "name"),
			       json_real_value(json_object_get(rt, "ms")));
	}
	if (json_array_size(a->phases)) {
		size_t i;
		json_t *p;

		printf("\nPhases:\n");
		json_array_foreach(a->phases, i, p)
			printf("  %-6s %-40s %10.3f ms\n",
			       strcmp(mstr(p, "kind"), "hooks") == 0 ? "hooks" : "CRIU", mstr(p, "name"),
			       json_real_value(json_object_get(p, "ms")));
	}
	printf("\n");
	crpc_cli_fmt_us((uint64_t)(a->total_ms * 1000.0 + 0.5), dur, sizeof(dur));
	printf("Total: %s over %zu messages (CRIU %.3f ms, hooks %.3f ms)", dur, n, a->criu_ms, a->hooks_ms);
	if (n_ev)
		printf(", %zu event(s)", n_ev);
	printf("\n");
	if (sh->truncated)
		printf("%sthe recording stops early: %s%s\n", color ? "\033[1;33m!! " : "!! ", sh->truncated,
		       color ? "\033[0m" : "");
	if (json_array_size(sh->problems))
		printf("%s%zu damaged line(s) in the trace, see above%s\n", color ? "\033[1;31m!! " : "!! ",
		       json_array_size(sh->problems), color ? "\033[0m" : "");
}

static int trace_show(crpc_cli *cli, int argc, char **argv)
{
	struct show sh = { .cli = cli };
	struct analysis a = { 0 };
	crpc_error *err = NULL;
	int rc;

	cli->usage = "crpc trace show [OPTIONS] FILE";
	while (crpc_cli_getopt(cli, argc, argv, ":hv", crpc_cli_common_options) != -1)
		crpc_cli_usage_errorf(cli, "unhandled option");
	if (crpc_cli_early_exit(cli, crpc_help_trace, &rc))
		return rc;
	rc = crpc_cli_operand(cli, argc, argv, "FILE", &sh.path);
	if (rc)
		return rc;
	sh.messages = crpc_cli_jarray();
	sh.events = crpc_cli_jarray();
	sh.problems = crpc_cli_jarray();

	if (read_trace(&sh, &err) < 0) {
		json_t *extra = crpc_cli_jobj();

		crpc_cli_jset(extra, "path", crpc_cli_jstr(sh.path));
		rc = crpc_cli_fail(cli, err, extra, NULL);
		goto out;
	}
	analyse(sh.messages, &a);
	rc = json_array_size(sh.problems) ? CRPC_EXIT_FAIL : 0;
	if (cli->json) {
		json_t *doc = crpc_cli_jobj();

		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "path", crpc_cli_jstr(sh.path));
		crpc_cli_jset(doc, "header", sh.header ? json_incref(sh.header) : json_null());
		crpc_cli_jset(doc, "criu", sh.criu ? json_incref(sh.criu) : json_null());
		crpc_cli_jset(doc, "messages", json_incref(sh.messages));
		crpc_cli_jset(doc, "events", json_incref(sh.events));
		crpc_cli_jset(doc, "notify_round_trips", json_incref(a.round_trips));
		crpc_cli_jset(doc, "phases", json_incref(a.phases));
		crpc_cli_jset(doc, "total_ms", json_real(round3(a.total_ms)));
		crpc_cli_jset(doc, "problems", json_incref(sh.problems));
		crpc_cli_jset(doc, "truncated", sh.truncated ? crpc_cli_jstr(sh.truncated) : json_null());
		if (crpc_cli_emit(doc) < 0 && rc == 0)
			rc = CRPC_EXIT_FAIL;
	} else {
		print_human(&sh, &a);
	}
	if (fflush(stdout) != 0 && rc == 0)
		rc = CRPC_EXIT_FAIL;
out:
	json_decref(a.round_trips);
	json_decref(a.phases);
	json_decref(a.answered);
	json_decref(sh.header);
	json_decref(sh.criu);
	json_decref(sh.messages);
	json_decref(sh.events);
	json_decref(sh.problems);
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
