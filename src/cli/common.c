/* SPDX-License-Identifier: MIT */
/* common.c - option parsing, output and session helpers of the crpc tool. */
#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "jsonutil.h"
#include "parse.h"
#include "timing.h"

/* ---- small string helpers ---- */

const struct option crpc_cli_common_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static char *vasprintf_or_null(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static char *vasprintf_or_null(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

/* ---- option parsing ---- */

void crpc_cli_usage_errorf(crpc_cli *cli, const char *fmt, ...)
{
	va_list ap;

	if (cli->usage_error)
		return;
	va_start(ap, fmt);
	cli->usage_error = vasprintf_or_null(fmt, ap);
	va_end(ap);
	if (!cli->usage_error)
		cli->usage_error = strdup("invalid arguments (and out of memory)");
}

/* Length of the option name in "--name=value" or "--name". */
static size_t long_name_len(const char *arg)
{
	const char *eq = strchr(arg, '=');

	return eq ? (size_t)(eq - arg) : strlen(arg);
}

static void bad_long_option(crpc_cli *cli, const char *arg, const struct option *longopts)
{
	const char *name = arg + 2;
	size_t len = long_name_len(name);
	char matches[512] = "";
	size_t used = 0;
	unsigned n = 0;

	for (const struct option *o = longopts; o->name; o++) {
		if (strncmp(o->name, name, len) != 0)
			continue;
		n++;
		if (used < sizeof(matches)) {
			int w = snprintf(matches + used, sizeof(matches) - used, "%s--%s", n > 1 ? ", " : "",
					 o->name);
			if (w > 0)
				used += (size_t)w;
		}
	}
	if (n > 1 && len > 0)
		crpc_cli_usage_errorf(cli, "ambiguous option '--%.*s' (could be %s)", (int)len, name,
				      matches);
	else
		crpc_cli_usage_errorf(cli, "unknown option '--%.*s'", (int)len, name);
}

int crpc_cli_getopt(crpc_cli *cli, int argc, char **argv, const char *shortopts,
		    const struct option *longopts)
{
	for (;;) {
		const char *arg;
		int c;

		opterr = 0;
		c = getopt_long(argc, argv, shortopts, longopts, NULL);
		arg = (optind > 0 && optind <= argc) ? argv[optind - 1] : "";
		switch (c) {
		case -1:
			return -1;
		case 'h':
			cli->help = true;
			continue;
		case 'v':
			cli->verbose++;
			continue;
		case CLI_OPT_JSON:
			cli->json = true;
			continue;
		case CLI_OPT_VERSION:
			cli->version = true;
			continue;
		case CLI_OPT_CRIU:
			cli->criu = optarg;
			continue;
		case CLI_OPT_CONFIG:
			cli->config_file = optarg;
			continue;
		case CLI_OPT_NO_CONFIG:
			cli->no_config = true;
			continue;
		case CLI_OPT_TRACE:
			cli->trace_file = optarg;
			continue;
		case ':':
			if (strncmp(arg, "--", 2) == 0)
				crpc_cli_usage_errorf(cli, "option '%.*s' requires an argument",
						      (int)long_name_len(arg), arg);
			else
				crpc_cli_usage_errorf(cli, "option '-%c' requires an argument", optopt);
			continue;
		case '?':
			if (optopt == 0 && strncmp(arg, "--", 2) == 0) {
				bad_long_option(cli, arg, longopts);
			} else if (optopt != 0 && strncmp(arg, "--", 2) == 0 &&
				   (optopt >= 0x100 || strchr(shortopts, optopt))) {
				/* a known long option given "=value" it does not take */
				crpc_cli_usage_errorf(cli, "option '%.*s' does not take an argument",
						      (int)long_name_len(arg), arg);
			} else if (optopt > 0 && optopt < 0x100) {
				crpc_cli_usage_errorf(cli, "unknown option '-%c'", optopt);
			} else {
				crpc_cli_usage_errorf(cli, "unknown option '%s'", arg);
			}
			continue;
		default:
			return c;
		}
	}
}

int crpc_cli_parse_user(const char *s, uid_t *out)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	unsigned long v;

	if (getpwnam_r(s, &pw, buf, sizeof(buf), &res) == 0 && res) {
		*out = res->pw_uid;
		return 0;
	}
	if (crpc_cli_parse_ulong(s, 0xfffffffeUL, &v) < 0)
		return -1;
	*out = (uid_t)v;
	return 0;
}

int crpc_cli_parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!s || !*s)
		return -1;
	for (const char *p = s; *p; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return -1;
		d = (unsigned)(*p - '0');
		if (v > (ULONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

/* ---- JSON ---- */

static bool json_failed;

json_t *crpc_cli_jobj(void)
{
	json_t *o = json_object();

	if (!o)
		json_failed = true;
	return o;
}

json_t *crpc_cli_jarray(void)
{
	json_t *a = json_array();

	if (!a)
		json_failed = true;
	return a;
}

void crpc_cli_jappend(json_t *array, json_t *value)
{
	if (!array || !value || json_array_append_new(array, value) < 0) {
		json_failed = true;
		if (!array && value)
			json_decref(value);
	}
}

json_t *crpc_cli_jstr(const char *s)
{
	/* not valid UTF-8 is kept with '?' (file names in CRIU's log can be anything) */
	json_t *j = crpc__json_text(s);

	if (!j)
		json_failed = true;
	return j;
}

void crpc_cli_jset(json_t *obj, const char *key, json_t *value)
{
	if (!obj || !value || json_object_set_new(obj, key, value) < 0) {
		json_failed = true;
		if (!obj && value)
			json_decref(value);
	}
}

int crpc_cli_emit(json_t *doc)
{
	int rc = 0;

	if (!doc || json_failed) {
		fputs("{\n  \"ok\": false,\n  \"error\": {\n    \"message\": \"out of memory while "
		      "building the JSON output\"\n  }\n}\n",
		      stdout);
		rc = -1;
	} else {
		/* one buffer, one write: dumping to the stream costs a locked fwrite per token */
		char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));

		if (!text || fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF)
			rc = -1;
		free(text);
	}
	json_decref(doc);
	if (fflush(stdout) != 0)
		rc = -1;
	return rc;
}

static const char *const cause_names[] = {
	[CRPC_CAUSE_UNKNOWN] = "unknown",
	[CRPC_CAUSE_PID_IN_USE] = "pid-in-use",
	[CRPC_CAUSE_TCP_ESTABLISHED] = "tcp-established",
	[CRPC_CAUSE_EXT_UNIX_SK] = "ext-unix-sk",
	[CRPC_CAUSE_SHELL_JOB] = "shell-job",
	[CRPC_CAUSE_NOT_ROOT] = "not-root",
	[CRPC_CAUSE_KERNEL] = "kernel",
	[CRPC_CAUSE_NO_PROCESS] = "no-process",
	[CRPC_CAUSE_CRIU_DIED] = "criu-died",
	[CRPC_CAUSE_SESSION_ZERO] = "session-zero",
};

const char *crpc_cli_cause_name(crpc_cause c)
{
	if ((unsigned)c >= sizeof(cause_names) / sizeof(cause_names[0]) || !cause_names[c])
		return "unknown";
	return cause_names[c];
}

static json_t *lines_json(const char *text)
{
	json_t *a = crpc_cli_jarray();
	const char *p = text;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, len);

		if (!line)
			json_failed = true;
		else
			crpc_cli_jappend(a, crpc_cli_jstr(line));
		free(line);
		p = nl ? nl + 1 : NULL;
	}
	return a;
}

json_t *crpc_cli_error_json(const crpc_error *e)
{
	json_t *o = crpc_cli_jobj();
	const char *ename = e->sys_errno ? crpc_errno_name(e->sys_errno) : NULL;

	crpc_cli_jset(o, "operation", crpc_cli_jstr(e->operation));
	crpc_cli_jset(o, "message", crpc_cli_jstr(e->message));
	crpc_cli_jset(o, "errno", e->sys_errno ? json_integer(e->sys_errno) : json_null());
	crpc_cli_jset(o, "errno_name", crpc_cli_jstr(ename));
	crpc_cli_jset(o, "errno_text", crpc_cli_jstr(e->sys_errno ? strerror(e->sys_errno) : NULL));
	crpc_cli_jset(o, "criu_errno", e->criu_errno ? json_integer(e->criu_errno) : json_null());
	crpc_cli_jset(o, "criu_errmsg", crpc_cli_jstr(e->criu_errmsg));
	crpc_cli_jset(o, "log_file", crpc_cli_jstr(e->log_path));
	crpc_cli_jset(o, "log_excerpt", lines_json(e->log_excerpt));
	crpc_cli_jset(o, "hint", crpc_cli_jstr(e->hint));
	crpc_cli_jset(o, "cause", crpc_cli_jstr(crpc_cli_cause_name(e->cause)));
	crpc_cli_jset(o, "exit_code", json_integer(e->exit_class ? (int)e->exit_class : 1));
	return o;
}

/* ---- reporting ---- */

static void print_prefix(FILE *f, const crpc_cli *cli)
{
	if (cli->cmd)
		fprintf(f, "crpc %s: ", cli->cmd);
	else
		fputs("crpc: ", f);
}

int crpc_cli_fail(crpc_cli *cli, const crpc_error *e, json_t *extra, const char *extra_human)
{
	int rc = e && e->exit_class ? (int)e->exit_class : CRPC_EXIT_FAIL;
	char *text = e ? crpc_error_format(e) : NULL;

	fflush(stdout);
	if (text) {
		fputs(text, stderr);
		free(text);
	} else {
		fprintf(stderr, "crpc: %s: %s\n", e && e->operation ? e->operation : "error",
			e && e->message ? e->message : "failed");
	}
	if (extra_human && *extra_human) {
		fputs(extra_human, stderr);
		if (extra_human[strlen(extra_human) - 1] != '\n')
			fputc('\n', stderr);
	}
	if (cli->json) {
		json_t *doc = crpc_cli_jobj();
		const char *key;
		json_t *v;

		crpc_cli_jset(doc, "ok", json_false());
		if (extra) {
			json_object_foreach(extra, key, v)
				crpc_cli_jset(doc, key, json_incref(v));
		}
		if (e) {
			crpc_cli_jset(doc, "error", crpc_cli_error_json(e));
		} else {
			json_t *eo = crpc_cli_jobj();

			crpc_cli_jset(eo, "message", crpc_cli_jstr("failed (no details available)"));
			crpc_cli_jset(eo, "exit_code", json_integer(rc));
			crpc_cli_jset(doc, "error", eo);
		}
		crpc_cli_emit(doc);
	}
	json_decref(extra);
	return rc;
}

int crpc_cli_operand(crpc_cli *cli, int argc, char **argv, const char *name, const char **out)
{
	*out = NULL;
	if (optind >= argc)
		return crpc_cli_usage(cli, true, "missing %s", name);
	if (argc - optind > 1)
		return crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind + 1]);
	if (!*argv[optind])
		return crpc_cli_usage(cli, true, "%s must not be empty", name);
	*out = argv[optind];
	return 0;
}

int crpc_cli_usage(crpc_cli *cli, bool show_usage, const char *fmt, ...)
{
	crpc_error *e = NULL;
	char hint[128];
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = vasprintf_or_null(fmt, ap);
	va_end(ap);

	if (cli->cmd)
		snprintf(hint, sizeof(hint), "Try 'crpc %s --help'.", cli->cmd);
	else
		snprintf(hint, sizeof(hint), "Try 'crpc --help'.");
	fflush(stdout);
	print_prefix(stderr, cli);
	fprintf(stderr, "%s\n", msg ? msg : "invalid arguments");
	if (show_usage && cli->usage)
		fprintf(stderr, "Usage: %s\n", cli->usage);
	fprintf(stderr, "%s\n", hint);

	if (cli->json) {
		json_t *doc = crpc_cli_jobj();

		crpc_error_set(&e, CRPC_EXIT_USAGE, 0, cli->cmd ? cli->cmd : "crpc", "%s",
			       msg ? msg : "invalid arguments");
		crpc_cli_jset(doc, "ok", json_false());
		if (e) {
			crpc_error_set_hint(e, "%s", hint);
			crpc_cli_jset(doc, "error", crpc_cli_error_json(e));
			crpc_error_free(e);
		}
		crpc_cli_emit(doc);
	}
	free(msg);
	return CRPC_EXIT_USAGE;
}

int crpc_cli_print_help(crpc_cli *cli, const char *text)
{
	if (cli->json) {
		json_t *doc = crpc_cli_jobj();

		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "help", crpc_cli_jstr(text));
		crpc_cli_emit(doc);
	} else {
		fputs(text, stdout);
	}
	return 0;
}

int crpc_cli_print_version(crpc_cli *cli)
{
	if (cli->json) {
		json_t *doc = crpc_cli_jobj();
		json_t *c = crpc_cli_jobj();

		crpc_cli_jset(c, "version", crpc_cli_jstr(crpc_version_string()));
		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "crpc", c);
		crpc_cli_emit(doc);
	} else {
		printf("crpc %s\n", crpc_version_string());
	}
	return 0;
}

bool crpc_cli_early_exit(crpc_cli *cli, const char *help, int *rc)
{
	if (cli->help) {
		*rc = crpc_cli_print_help(cli, help);
		return true;
	}
	if (cli->version) {
		*rc = crpc_cli_print_version(cli);
		return true;
	}
	if (cli->usage_error) {
		*rc = crpc_cli_usage(cli, false, "%s", cli->usage_error);
		return true;
	}
	return false;
}

void crpc_cli_info(const crpc_cli *cli, const char *fmt, ...)
{
	va_list ap;

	if (!cli->verbose)
		return;
	fputs("crpc: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void crpc_cli_warn(const crpc_cli *cli, const char *fmt, ...)
{
	va_list ap;

	fputs("crpc: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- formatting ---- */

void crpc_cli_fmt_size(uint64_t bytes, char *buf, size_t bufsz)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	unsigned u = 0;

	if (bytes < 1024) {
		snprintf(buf, bufsz, "%llu B", (unsigned long long)bytes);
		return;
	}
	v /= 1024.0;
	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, bufsz, "%.1f %s", v, units[u]);
}

void crpc_cli_fmt_seconds(double s, char *buf, size_t bufsz)
{
	if (s < 0)
		s = 0;
	if (s < 0.001)
		snprintf(buf, bufsz, "%.0f us", s * 1e6);
	else if (s < 1.0)
		snprintf(buf, bufsz, "%.1f ms", s * 1e3);
	else
		snprintf(buf, bufsz, "%.2f s", s);
}

void crpc_cli_fmt_us(uint64_t us, char *buf, size_t bufsz)
{
	crpc_cli_fmt_seconds((double)us / 1e6, buf, bufsz);
}

double crpc_cli_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0.0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t crpc_cli_page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (uint64_t)ps : 4096;
}

/* ---- sessions ---- */

int crpc_cli_config_read(crpc_cli *cli, crpc_error **err)
{
	crpc_config_source src = { .size = sizeof(src),
				   .explicit_path = cli->config_file,
				   .none = cli->no_config };
	char path[PATH_MAX];

	crpc_config_init(&cli->config);
	cli->config_loaded = true;
	if (crpc_config_locate(&src, path, sizeof(path), err) < 0)
		return -1;
	if (path[0]) {
		double t = crpc__timing_now();
		int rc = crpc_config_load(&cli->config, path, err);

		crpc__timing("configuration", t);
		if (rc < 0)
			return -1;
		crpc_cli_info(cli, "configuration: %s", path);
	}
	return 0;
}

int crpc_cli_config_load(crpc_cli *cli, crpc_error **err)
{
	if (crpc_cli_config_read(cli, err) < 0)
		return -1;
	for (size_t i = 0; i < cli->n_hook_args; i++)
		if (crpc_config_add_hook_arg(&cli->config, cli->hook_args[i], err) < 0)
			return -1;
	return 0;
}

void crpc_cli_add_hook_arg(crpc_cli *cli, char *arg)
{
	char **grown = realloc(cli->hook_args, (cli->n_hook_args + 1) * sizeof(*grown));

	if (!grown) {
		crpc_cli_usage_errorf(cli, "out of memory");
		return;
	}
	cli->hook_args = grown;
	cli->hook_args[cli->n_hook_args++] = arg;
}

void crpc_cli_config_release(crpc_cli *cli)
{
	if (cli->config_loaded)
		crpc_config_release(&cli->config);
	cli->config_loaded = false;
	free(cli->hook_args);
	cli->hook_args = NULL;
	cli->n_hook_args = 0;
}

void crpc_cli_diagnose_criu(crpc_cli *cli, crpc_error *e)
{
	crpc_session_config cfg;
	crpc_error *chk = NULL;
	const char *why;
	size_t len;

	if (!e || e->cause != CRPC_CAUSE_KERNEL || !cli->criu_path[0])
		return;
	crpc_session_config_init(&cfg);
	cfg.criu_path = cli->criu_path;
	/* the kernel check tells "this CRIU cannot work here" from a one-off failure */
	if (crpc_criu_check(&cfg, NULL, &chk) == 0) {
		crpc_error_free(chk);
		return;
	}
	why = chk && chk->message ? chk->message : "it fails";
	len = strcspn(why, "\n");
	e->exit_class = CRPC_EXIT_ENV;
	crpc_error_set_hint(e,
			    "%s fails CRIU's own kernel check (%.*s): it cannot work on this "
			    "kernel; run scripts/setup to provision a CRIU that does, or pass one "
			    "with --criu PATH",
			    cli->criu_path, (int)len, why);
	crpc_error_free(chk);
}

/* Every message of a session: into the trace (--trace) and, with -v, one line on stderr. */
static void cli_on_message(crpc_direction dir, const uint8_t *msg, size_t len, int fd, void *userdata)
{
	crpc_cli *cli = userdata;
	struct timespec now;
	char line[320];

	if (cli->trace)
		crpc_trace_message(dir, msg, len, fd, cli->trace);
	if (!cli->verbose)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!cli->msg_t0.tv_sec && !cli->msg_t0.tv_nsec)
		cli->msg_t0 = now;
	crpc_message_summary(dir, msg, len, fd, line, sizeof(line));
	fprintf(stderr, "crpc: [%8.3fs] %s\n",
		(double)(now.tv_sec - cli->msg_t0.tv_sec) + (double)(now.tv_nsec - cli->msg_t0.tv_nsec) / 1e9,
		line);
}

int crpc_cli_session_config(crpc_cli *cli, crpc_session_config *cfg, crpc_error **err)
{
	const char *criu = cli->criu;

	crpc_session_config_init(cfg);
	if (!cli->config_loaded && crpc_cli_config_load(cli, err) < 0)
		return -1;
	/* --criu, then $CRPC_CRIU (resolved by the library), then the configuration */
	if (!criu && !(getenv("CRPC_CRIU") && *getenv("CRPC_CRIU")) && cli->config_loaded)
		criu = cli->config.criu_binary;
	if (crpc_criu_resolve(criu, cli->criu_path, sizeof(cli->criu_path), err) < 0)
		return -1;
	cfg->criu_path = cli->criu_path;
	if (cli->trace_file) {
		crpc_trace_header h = {
			.operation = cli->cmd,
			.target = cli->trace_target[0] ? cli->trace_target : NULL,
			.argc = cli->argc,
			.argv = cli->argv,
		};

		crpc_cli_trace_close(cli);
		if (crpc_trace_open(&cli->trace, cli->trace_file, &h, err) < 0)
			return -1;
	}
	if (cli->trace || cli->verbose) {
		cfg->on_message = cli_on_message;
		cfg->on_message_data = cli;
	}
	return 0;
}

int crpc_cli_session_open(crpc_cli *cli, crpc_session **s, crpc_error **err)
{
	crpc_session_config cfg;
	char ver[96];

	if (crpc_cli_session_config(cli, &cfg, err) < 0 || crpc_session_open(s, &cfg, err) < 0)
		return -1;
	crpc_version_format(crpc_session_version(*s), ver, sizeof(ver));
	crpc_trace_set_criu(cli->trace, crpc_session_criu_path(*s), ver);
	crpc_cli_info(cli, "CRIU %s at %s (worker pid %d)", ver, crpc_session_criu_path(*s),
		      (int)crpc_session_criu_pid(*s));
	return 0;
}

/* What a dump or restore tells on its way, as the tool has always shown it. */
static void cli_on_event(crpc_checkpoint_event kind, const char *message, void *userdata)
{
	const crpc_cli *cli = userdata;

	switch (kind) {
	case CRPC_CHECKPOINT_INFO:
		crpc_cli_info(cli, "%s", message);
		break;
	case CRPC_CHECKPOINT_NOTICE:
		if (!cli->json)
			fprintf(stderr, "crpc: %s\n", message);
		break;
	case CRPC_CHECKPOINT_WARNING:
		crpc_cli_warn(cli, "%s", message);
		break;
	}
}

/*
 * The progress of a long dump or restore, on a terminal only: one line
 * rewritten in place (on a library thread; the operation ends it before
 * it returns, and crpc_cli_checkpoint_taken() clears the line).
 */
static void cli_on_progress(uint64_t done, uint64_t expected, double seconds, void *userdata)
{
	crpc_cli *cli = userdata;
	char d[32], e[32], line[160];
	double rate = seconds > 0 ? (double)done / seconds : 0;
	int n;

	crpc_cli_fmt_size(done, d, sizeof(d));
	if (expected) {
		crpc_cli_fmt_size(expected, e, sizeof(e));
		n = snprintf(line, sizeof(line), "crpc: %s: %s of %s, %.0f MB/s", cli->cmd, d, e, rate / 1e6);
		if (rate > 0 && expected > done && n > 0 && (size_t)n < sizeof(line))
			snprintf(line + n, sizeof(line) - (size_t)n, ", %.1f s left",
				 (double)(expected - done) / rate);
	} else {
		snprintf(line, sizeof(line), "crpc: %s: %s, %.0f MB/s, %.1f s", cli->cmd, d, rate / 1e6,
			 seconds);
	}
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	cli->progress_shown = true;
}

int crpc_cli_checkpoint_params(crpc_cli *cli, crpc_checkpoint_params *p, crpc_error **err)
{
	crpc_checkpoint_params_init(p);
	if (crpc_cli_config_read(cli, err) < 0)
		return -1;
	p->config = &cli->config;
	p->hooks = (const char *const *)cli->hook_args;
	p->n_hooks = cli->n_hook_args;
	p->criu_path = cli->criu;
	if (cli->trace_file) {
		cli->trace_header = (crpc_trace_header){
			.operation = cli->cmd,
			.target = cli->trace_target[0] ? cli->trace_target : NULL,
			.argc = cli->argc,
			.argv = cli->argv,
		};
		p->trace_path = cli->trace_file;
		p->trace_header = &cli->trace_header;
	}
	if (cli->verbose) {
		/* the trace is the library's until the operation returns: this only prints */
		p->on_message = cli_on_message;
		p->on_message_data = cli;
		p->notifications = true;
		p->hook_output = stderr;
	}
	p->on_event = cli_on_event;
	p->on_event_data = cli;
	/* progress: for a person at a terminal, not with --json or -v (whose lines it would cut) */
	if (!cli->json && !cli->verbose && isatty(STDERR_FILENO)) {
		p->on_progress = cli_on_progress;
		p->on_progress_data = cli;
	}
	return 0;
}

void crpc_cli_checkpoint_taken(crpc_cli *cli, crpc_checkpoint_result *r, crpc_error *err)
{
	if (cli->progress_shown) {
		fputs("\r\033[K", stderr);
		cli->progress_shown = false;
	}
	if (!r)
		return;
	if (r->trace) {
		crpc_cli_trace_close(cli);
		cli->trace = r->trace;
		r->trace = NULL;
	}
	if (r->criu_path[0])
		snprintf(cli->criu_path, sizeof(cli->criu_path), "%s", r->criu_path);
	/* with the CRIU the operation ran */
	if (err && r->failed_step == CRPC_CHECKPOINT_REQUEST)
		crpc_cli_diagnose_criu(cli, err);
}

void crpc_cli_fmt_figures(const crpc_checkpoint_result *r, char *tm, size_t tmsz, char *sz, size_t szsz)
{
	crpc_cli_fmt_seconds(r->wall_seconds, tm, tmsz);
	if (r->have_image_bytes)
		crpc_cli_fmt_size(r->image_bytes, sz, szsz);
	else
		snprintf(sz, szsz, "unknown");
}

void crpc_cli_trace_close(crpc_cli *cli)
{
	int e;

	if (!cli->trace)
		return;
	e = crpc_trace_write_errno(cli->trace);
	if (e)
		crpc_cli_warn(cli, "writing the trace %s failed: %s", cli->trace_file, strerror(e));
	crpc_trace_close(cli->trace);
	cli->trace = NULL;
}

json_t *crpc_cli_result_criu_json(const crpc_checkpoint_result *r)
{
	json_t *o = crpc_cli_jobj();

	crpc_cli_jset(o, "path", crpc_cli_jstr(r->criu_path[0] ? r->criu_path : NULL));
	crpc_cli_jset(o, "version", crpc_cli_jstr(r->criu_version));
	return o;
}

json_t *crpc_cli_json_criu(const crpc_session *s)
{
	json_t *o = crpc_cli_jobj();
	char ver[96];

	crpc_version_format(crpc_session_version(s), ver, sizeof(ver));
	crpc_cli_jset(o, "path", crpc_cli_jstr(crpc_session_criu_path(s)));
	crpc_cli_jset(o, "version", crpc_cli_jstr(ver));
	return o;
}

/* The rows of CRPC_OPTS_TABLE as the tool parses and prints them. */
enum cli_opt_kind {
	CLIK_BOOL,
	CLIK_SIZE,
	CLIK_U32,
	CLIK_LEVEL,
	CLIK_STR,
	CLIK_STRV,
	CLIK_EXTERNAL,
	CLIK_CGMODE,
	CLIK_NETLOCK,
	CLIK_INHERIT_FD,
	CLIK_CG_ROOT,
};

struct cli_opt {
	const char *name; /* the crpc_opts field */
	const char *flag; /* without "--", "" for none */
	int shortopt;
	enum cli_opt_kind kind;
	unsigned flags; /* CRPC_OPTF_* */
	size_t off;
	size_t off_set; /* CLIK_SIZE: its _set flag */
};

#define CLI_OFF_SET_BOOL(f) 0
#define CLI_OFF_SET_SIZE(f) offsetof(crpc_opts, f##_set)
#define CLI_OFF_SET_U32(f) 0
#define CLI_OFF_SET_LEVEL(f) 0
#define CLI_OFF_SET_STR(f) 0
#define CLI_OFF_SET_STRV(f) 0
#define CLI_OFF_SET_EXTERNAL(f) 0
#define CLI_OFF_SET_CGMODE(f) 0
#define CLI_OFF_SET_NETLOCK(f) 0
#define CLI_OFF_SET_INHERIT_FD(f) 0
#define CLI_OFF_SET_CG_ROOT(f) 0
#define CLI_OPT_ROW(f, kind, yaml, ops, flags, gate, restore, cli, shortopt, longopt, ...) \
	{ #f, longopt, shortopt, CLIK_##kind, flags, offsetof(crpc_opts, f), CLI_OFF_SET_##kind(f) },

static const struct cli_opt cli_opts[] = { CRPC_OPTS_TABLE(CLI_OPT_ROW) };

static void *opt_ptr(crpc_opts *o, size_t off)
{
	return (char *)o + off;
}

bool cli_opt_apply(crpc_cli *cli, const char *request, crpc_opts *o, int opt, const char *arg)
{
	const struct cli_opt *d = NULL;
	crpc_error *perr = NULL;
	unsigned long level;
	uint64_t v;

	if (opt >= CLI_OPT_TABLE && opt < CLI_OPT_TABLE + CLI_OPT_IDX__COUNT)
		d = &cli_opts[opt - CLI_OPT_TABLE];
	for (size_t i = 0; !d && i < CLI_OPT_IDX__COUNT; i++)
		if (cli_opts[i].shortopt && cli_opts[i].shortopt == opt)
			d = &cli_opts[i];
	if (!d || !*d->flag)
		return false;
	switch (d->kind) {
	case CLIK_BOOL:
		*(bool *)opt_ptr(o, d->off) = true;
		break;
	case CLIK_SIZE:
		if (crpc__parse_size(arg, UINT32_MAX, &v, &perr) < 0) {
			crpc_cli_usage_errorf(cli, "--%s: %s", d->flag,
					      perr && perr->message ? perr->message : "not a size below 4G");
			break;
		}
		*(bool *)opt_ptr(o, d->off_set) = true;
		*(uint32_t *)opt_ptr(o, d->off) = (uint32_t)v;
		break;
	case CLIK_LEVEL:
		if (crpc_cli_parse_ulong(arg, 4, &level) < 0) {
			crpc_cli_usage_errorf(cli, "invalid --%s '%s': must be 0, 1, 2, 3 or 4", d->flag,
					      arg);
			break;
		}
		*(int *)opt_ptr(o, d->off) = (int)level;
		break;
	case CLIK_CGMODE:
		/* the mode of manage_cgroups, which the option sets */
		if (crpc__parse_cg_mode(arg, (crpc_cg_mode *)opt_ptr(o, d->off), &perr) < 0) {
			crpc_cli_usage_errorf(cli, "--%s: %s", d->flag,
					      perr && perr->message ? perr->message : "invalid mode");
			break;
		}
		o->manage_cgroups = true;
		break;
	case CLIK_NETLOCK:
		if (crpc__parse_network_lock(arg, (crpc_network_lock *)opt_ptr(o, d->off), &perr) < 0)
			crpc_cli_usage_errorf(cli, "--%s: %s", d->flag,
					      perr && perr->message ? perr->message
								    : "must be iptables, nftables or skip");
		break;
	case CLIK_EXTERNAL:
		if (!*arg)
			crpc_cli_usage_errorf(cli, "--%s needs a resource, e.g. '%s'", d->flag,
					      strcmp(request, "dump") == 0 ? "mnt[/data]:data"
									   : "mnt[data]:/srv/data");
		else if (crpc_opts_add_external(o, arg, &perr) < 0)
			crpc_cli_usage_errorf(cli, "cannot add --%s '%s': out of memory", d->flag, arg);
		break;
	case CLIK_U32:
	case CLIK_STR:
	case CLIK_STRV:
	case CLIK_INHERIT_FD:
	case CLIK_CG_ROOT:
		return false; /* no generic parser: the command's own case */
	}
	crpc_error_free(perr);
	return true;
}

json_t *crpc_cli_stats_json(const crpc_stats *st, bool restore)
{
	json_t *o = crpc_cli_jobj();
	uint64_t ps = crpc_cli_page_size();

	if (!restore) {
		crpc_cli_jset(o, "freezing_time_ms", json_real(st->freezing_time / 1e3));
		crpc_cli_jset(o, "frozen_time_ms", json_real(st->frozen_time / 1e3));
		crpc_cli_jset(o, "memdump_time_ms", json_real(st->memdump_time / 1e3));
		crpc_cli_jset(o, "memwrite_time_ms", json_real(st->memwrite_time / 1e3));
		crpc_cli_jset(o, "pages_scanned", json_integer((json_int_t)st->pages_scanned));
		crpc_cli_jset(o, "pages_skipped_parent", json_integer((json_int_t)st->pages_skipped_parent));
		crpc_cli_jset(o, "pages_written", json_integer((json_int_t)st->pages_written));
		crpc_cli_jset(o, "pages_lazy", json_integer((json_int_t)st->pages_lazy));
		crpc_cli_jset(o, "bytes_scanned", json_integer((json_int_t)(st->pages_scanned * ps)));
		crpc_cli_jset(o, "bytes_written", json_integer((json_int_t)(st->pages_written * ps)));
	} else {
		crpc_cli_jset(o, "forking_time_ms", json_real(st->forking_time / 1e3));
		crpc_cli_jset(o, "restore_time_ms", json_real(st->restore_time / 1e3));
		crpc_cli_jset(o, "pages_compared", json_integer((json_int_t)st->pages_compared));
		crpc_cli_jset(o, "pages_skipped_cow", json_integer((json_int_t)st->pages_skipped_cow));
		crpc_cli_jset(o, "pages_restored", json_integer((json_int_t)st->pages_restored));
		crpc_cli_jset(o, "bytes_restored", json_integer((json_int_t)(st->pages_restored * ps)));
	}
	return o;
}

void crpc_cli_stats_print(FILE *f, const crpc_stats *st, bool restore)
{
	uint64_t ps = crpc_cli_page_size();
	char a[32], b[32], c[32], d[32];

	if (!restore) {
		crpc_cli_fmt_us(st->freezing_time, a, sizeof(a));
		crpc_cli_fmt_us(st->frozen_time, b, sizeof(b));
		crpc_cli_fmt_us(st->memdump_time, c, sizeof(c));
		crpc_cli_fmt_us(st->memwrite_time, d, sizeof(d));
		fprintf(f, "  CRIU times:    freezing %s, frozen %s, memdump %s, memwrite %s\n", a, b, c, d);
		crpc_cli_fmt_size(st->pages_scanned * ps, a, sizeof(a));
		crpc_cli_fmt_size(st->pages_written * ps, b, sizeof(b));
		fprintf(f, "  pages:         %llu scanned (%s), %llu written (%s)\n",
			(unsigned long long)st->pages_scanned, a, (unsigned long long)st->pages_written, b);
	} else {
		crpc_cli_fmt_us(st->forking_time, a, sizeof(a));
		crpc_cli_fmt_us(st->restore_time, b, sizeof(b));
		fprintf(f, "  CRIU times:    forking %s, restore %s\n", a, b);
		crpc_cli_fmt_size(st->pages_restored * ps, a, sizeof(a));
		fprintf(f, "  pages:         %llu restored (%s)\n", (unsigned long long)st->pages_restored,
			a);
	}
}

json_t *crpc_cli_check_json(const crpc_manifest_check *k)
{
	json_t *o = crpc_cli_jobj(), *a = crpc_cli_jarray();

	crpc_cli_jset(o, "verdict", crpc_cli_jstr(crpc_manifest_verdict_name(k->verdict)));
	crpc_cli_jset(o, "files", json_integer((json_int_t)k->st.files));
	crpc_cli_jset(o, "bytes", json_integer((json_int_t)k->st.bytes));
	crpc_cli_jset(o, "hash_time_ms", json_real(k->st.hash_seconds * 1e3));
	for (size_t i = 0; i < k->n_mismatches; i++) {
		const crpc_file_mismatch *m = &k->mismatches[i];
		json_t *p = crpc_cli_jobj();

		crpc_cli_jset(p, "file", crpc_cli_jstr(m->name));
		crpc_cli_jset(p, "problem", crpc_cli_jstr(crpc_file_problem_name(m->problem)));
		if (m->problem == CRPC_FILE_SIZE || m->problem == CRPC_FILE_CHECKSUM) {
			/* crpc.json's own checksum comes without sizes */
			if (strcmp(m->name, CRPC_MANIFEST_NAME) != 0) {
				crpc_cli_jset(p, "expected_size", json_integer((json_int_t)m->expected_size));
				crpc_cli_jset(p, "size", json_integer((json_int_t)m->size));
			}
			/* digests of the algorithm named by "digest" (SHA-256 for crpc.json) */
			crpc_cli_jset(p, "expected_digest", crpc_cli_jstr(m->expected_sha256));
			crpc_cli_jset(p, "actual_digest", crpc_cli_jstr(m->sha256));
			/* the same under their names from before BLAKE3, kept for scripts */
			crpc_cli_jset(p, "expected_sha256", crpc_cli_jstr(m->expected_sha256));
			crpc_cli_jset(p, "sha256", crpc_cli_jstr(m->sha256));
		}
		crpc_cli_jappend(a, p);
	}
	crpc_cli_jset(o, "problems", a);
	crpc_cli_jset(o, "digest", crpc_cli_jstr(k->digest));
	crpc_cli_jset(o, "leftover", crpc_cli_jstr(k->leftover));
	return o;
}

json_t *crpc_cli_container_json(const crpc_container *c)
{
	json_t *o = crpc_cli_jobj();

	crpc_cli_jset(o, "engine", crpc_cli_jstr(c->engine));
	crpc_cli_jset(o, "name", crpc_cli_jstr(c->name));
	crpc_cli_jset(o, "id", crpc_cli_jstr(c->id));
	crpc_cli_jset(o, "image", crpc_cli_jstr(c->image));
	crpc_cli_jset(o, "state", crpc_cli_jstr(c->state));
	crpc_cli_jset(o, "pid", c->pid > 0 ? json_integer(c->pid) : json_null());
	crpc_cli_jset(o, "runtime", crpc_cli_jstr(c->runtime));
	crpc_cli_jset(o, "engine_version", crpc_cli_jstr(c->engine_version));
	return o;
}

const char *crpc_cli_container_label(const crpc_container *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%s", c->engine, c->name[0] ? c->name : c->id);
	return buf;
}

json_t *crpc_cli_signature_json(const crpc_signature_check *s)
{
	json_t *o;

	if (!s->checked)
		return json_null();
	o = crpc_cli_jobj();
	crpc_cli_jset(o, "verdict", crpc_cli_jstr(crpc_signature_verdict_name(s->verdict)));
	crpc_cli_jset(o, "key_sha256", s->key_sha256[0] ? crpc_cli_jstr(s->key_sha256) : json_null());
	crpc_cli_jset(o, "signer", s->signer[0] ? crpc_cli_jstr(s->signer) : json_null());
	return o;
}

void crpc_cli_signature_print(FILE *out, const crpc_signature_check *s, const char *trusted_dir)
{
	if (!s->checked)
		return;
	switch (s->verdict) {
	case CRPC_SIGNATURE_VALID:
		fprintf(out, "  signed by:     %s (key %s)\n", s->signer, s->key_sha256);
		break;
	case CRPC_SIGNATURE_UNKNOWN_KEY:
		fprintf(out, "  signed by:     an untrusted key %s (not in %s)\n", s->key_sha256,
			trusted_dir ? trusted_dir : "the trusted keys");
		break;
	case CRPC_SIGNATURE_BAD:
		fprintf(out, "  signed by:     BAD SIGNATURE\n");
		break;
	default:
		fprintf(out, "  signed by:     nobody (not signed)\n");
		break;
	}
}
