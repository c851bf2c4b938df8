/* SPDX-License-Identifier: MIT */
/*
 * cli.h - declarations shared by the crpc command line tool's sources.
 *
 * main.c parses the global options and picks the command; each command
 * lives in its own cmd_<name>.c and is a thin layer over libcrpc. The
 * helpers in common.c do option parsing, output (human and JSON), error
 * reporting and session setup the same way for every command.
 */
#ifndef CRPC_CLI_H
#define CRPC_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "crpc/crpc.h"

/* Values of the long-only options every command accepts. */
enum {
	CLI_OPT_JSON = 0x100,
	CLI_OPT_VERSION,
	CLI_OPT_CRIU,
	CLI_OPT_CONFIG,
	CLI_OPT_NO_CONFIG,
	CLI_OPT_TRACE,
	CLI_OPT_FIRST_CMD = 0x200, /* commands number their own options from here */
	CLI_OPT_TABLE = 0x400,     /* the rows of CRPC_OPTS_TABLE, in its order, from here */
};

/*
 * The CRIU options of crpc/opts_table.h on the command line: their getopt
 * values (CLI_OPT_ID(field), or their letter), struct option entries and
 * help lines, for the commands their CLI column names.
 */
#define CLI_OPT_IDX(field, ...) CLI_OPT_IDX_##field,
enum {
	CRPC_OPTS_TABLE(CLI_OPT_IDX) CLI_OPT_IDX__COUNT
};
#define CLI_OPT_ID(field) (CLI_OPT_TABLE + CLI_OPT_IDX_##field)

/* CLI column -> listed for dump / restore, among the others or after them (DR_LAST) */
#define CLI_IN_DUMP_D(x) x
#define CLI_IN_DUMP_R(x)
#define CLI_IN_DUMP_DR(x) x
#define CLI_IN_DUMP_DR_LAST(x)
#define CLI_IN_DUMP_NONE(x)
#define CLI_IN_DUMP_LAST_D(x)
#define CLI_IN_DUMP_LAST_R(x)
#define CLI_IN_DUMP_LAST_DR(x)
#define CLI_IN_DUMP_LAST_DR_LAST(x) x
#define CLI_IN_DUMP_LAST_NONE(x)
#define CLI_IN_RESTORE_D(x)
#define CLI_IN_RESTORE_R(x) x
#define CLI_IN_RESTORE_DR(x) x
#define CLI_IN_RESTORE_DR_LAST(x)
#define CLI_IN_RESTORE_NONE(x)
#define CLI_IN_RESTORE_LAST_D(x)
#define CLI_IN_RESTORE_LAST_R(x)
#define CLI_IN_RESTORE_LAST_DR(x)
#define CLI_IN_RESTORE_LAST_DR_LAST(x) x
#define CLI_IN_RESTORE_LAST_NONE(x)

#define CLI_ARG_NOARG no_argument
#define CLI_ARG_REQARG required_argument
#define CLI_ARG_OPTARG optional_argument
#define CLI_LONGOPT(field, shortopt, longopt, arg) \
	{ longopt, CLI_ARG_##arg, NULL, (shortopt) ? (shortopt) : CLI_OPT_ID(field) },

/* X macros: CRPC_OPTS_TABLE(CLI_HELP_DUMP) gives the dump's help lines, ... */
#define CLI_HELP_DUMP(f, k, y, o, fl, g, r, cli, s, l, a, an, hd, hr) CLI_IN_DUMP_##cli(hd)
#define CLI_HELP_DUMP_LAST(f, k, y, o, fl, g, r, cli, s, l, a, an, hd, hr) CLI_IN_DUMP_LAST_##cli(hd)
#define CLI_HELP_RESTORE(f, k, y, o, fl, g, r, cli, s, l, a, an, hd, hr) CLI_IN_RESTORE_##cli(hr)
#define CLI_HELP_RESTORE_LAST(f, k, y, o, fl, g, r, cli, s, l, a, an, hd, hr) CLI_IN_RESTORE_LAST_##cli(hr)
#define CLI_LONGOPTS_DUMP(f, k, y, o, fl, g, r, cli, s, l, a, ...) CLI_IN_DUMP_##cli(CLI_LONGOPT(f, s, l, a))
#define CLI_LONGOPTS_DUMP_LAST(f, k, y, o, fl, g, r, cli, s, l, a, ...) \
	CLI_IN_DUMP_LAST_##cli(CLI_LONGOPT(f, s, l, a))
#define CLI_LONGOPTS_RESTORE(f, k, y, o, fl, g, r, cli, s, l, a, ...) \
	CLI_IN_RESTORE_##cli(CLI_LONGOPT(f, s, l, a))
#define CLI_LONGOPTS_RESTORE_LAST(f, k, y, o, fl, g, r, cli, s, l, a, ...) \
	CLI_IN_RESTORE_LAST_##cli(CLI_LONGOPT(f, s, l, a))

/* The options every command accepts (put first in each command's table). */
#define CRPC_CLI_COMMON_OPTIONS                                                                           \
	{ "help", no_argument, NULL, 'h' }, { "json", no_argument, NULL, CLI_OPT_JSON },                  \
		{ "verbose", no_argument, NULL, 'v' }, { "version", no_argument, NULL, CLI_OPT_VERSION }, \
		{ "criu", required_argument, NULL, CLI_OPT_CRIU },                                        \
		{ "config", required_argument, NULL, CLI_OPT_CONFIG },                                    \
		{ "no-config", no_argument, NULL, CLI_OPT_NO_CONFIG },                                    \
	{                                                                                                 \
		"trace", required_argument, NULL, CLI_OPT_TRACE                                           \
	}

/* A command's option table when it has only the common options. */
extern const struct option crpc_cli_common_options[];

/* Help text for the options above. */
#define CRPC_CLI_HELP_COMMON                                                                   \
	"      --criu PATH         CRIU binary to run (default: $CRPC_CRIU, else the\n"        \
	"                          configuration's criu: binary, else 'criu' on PATH)\n"       \
	"      --config FILE       read the configuration from FILE (default: $CRPC_CONFIG,\n" \
	"                          else ~/.config/crpc/config.yaml, else\n"                    \
	"                          /etc/crpc/config.yaml; see crpc.yaml(5))\n"                 \
	"      --no-config         read no configuration file\n"                               \
	"      --trace FILE        record every message to and from CRIU in FILE, one\n"       \
	"                          JSON line each (created with mode 0600)\n"                  \
	"      --json              print exactly one JSON document on stdout (also on\n"       \
	"                          errors); messages still go to stderr\n"                     \
	"  -v, --verbose           show progress on stderr: the options sent, then one\n"      \
	"                          line per RPC message as it goes to or comes from CRIU\n"    \
	"      --version           print crpc's version and exit\n"                            \
	"  -h, --help              show this help and exit\n"

#define CRPC_CLI_HELP_EXIT_CODES                                                  \
	"Exit codes:\n"                                                           \
	"  0  success\n"                                                          \
	"  1  the operation failed\n"                                             \
	"  2  usage or configuration error\n"                                     \
	"  3  environment problem: no working CRIU, not running as root\n"        \
	"  4  done, but a hook failed where CRIU cannot abort (network-unlock,\n" \
	"     pre-resume, post-resume); see the warnings and DIR/hooks.log\n"

/* State of one invocation of the tool. */
typedef struct crpc_cli {
	const char *cmd;         /* command name as typed ("dump"), NULL for the tool itself */
	const char *usage;       /* one-line usage of the command, for usage errors */
	bool json;               /* --json */
	bool progress_shown;     /* a progress line is on stderr (a terminal) */
	int verbose;             /* -v, repeatable */
	bool help;               /* --help seen */
	bool version;            /* --version seen */
	const char *criu;        /* --criu PATH */
	const char *config_file; /* --config FILE */
	bool no_config;          /* --no-config */
	crpc_config config;      /* the configuration in effect (empty if none) */
	char **hook_args;        /* --hook CALLBACK=COMMAND, in order */
	size_t n_hook_args;
	bool config_loaded;
	char *usage_error;              /* first usage error met while parsing options */
	char criu_path[PATH_MAX];       /* resolved CRIU binary */
	const char *trace_file;         /* --trace FILE */
	crpc_trace *trace;              /* open trace of the session, closed by crpc_cli_trace_close() */
	crpc_trace_header trace_header; /* of the trace a dump or restore opens */
	struct timespec msg_t0;         /* when the session's first message went out (-v summaries) */
	char trace_target[PATH_MAX];    /* what the operation is about, for the trace header */
	int argc;                       /* the whole command line, for the trace header */
	char **argv;
} crpc_cli;

/* Exit code of an operation that succeeded while a hook failed where CRIU cannot abort. */
#define CLI_EXIT_HOOK_WARNING 4

/* Entry points of the commands: argv[0] is the command's name. */
int crpc_cmd_check(crpc_cli *cli, int argc, char **argv);
int crpc_cmd_key(crpc_cli *cli, int argc, char **argv);
int crpc_cmd_recover(crpc_cli *cli, int argc, char **argv);
int crpc_cmd_version(crpc_cli *cli, int argc, char **argv);
int crpc_cmd_features(crpc_cli *cli, int argc, char **argv);
int crpc_cmd_dump(crpc_cli *cli, int argc, char **argv);
int crpc_cmd_restore(crpc_cli *cli, int argc, char **argv);
int crpc_cmd_config(crpc_cli *cli, int argc, char **argv);
int crpc_cmd_trace(crpc_cli *cli, int argc, char **argv);
int crpc_cmd_inspect(crpc_cli *cli, int argc, char **argv);
int crpc_cmd_ps(crpc_cli *cli, int argc, char **argv);
int crpc_cmd_show(crpc_cli *cli, int argc, char **argv);

/* crpc trace replay (cmd_replay.c), called by crpc_cmd_trace: argv[0] is "replay". */
int crpc_cli_trace_replay(crpc_cli *cli, int argc, char **argv);

/*
 * Replay mode (cmd_replay.c): with $CRPC_REPLAY set, crpc started as
 * `... swrk FD` (or under the name criu) stands in for CRIU and answers
 * from the trace. main() checks this first.
 */
bool crpc_cli_replay_peer_wanted(int argc, char **argv);
int crpc_cli_replay_peer(int argc, char **argv);

/*
 * The CRIU shim (cmd_shim.c): crpc_cmd_shim serves `crpc [OPTIONS] shim
 * CRIU-ARGS...`; crpc_shim_main serves crpc run as `criu` (main() checks
 * argv[0] right after the replay check). All arguments after the command
 * name are CRIU's.
 */
int crpc_cmd_shim(crpc_cli *cli, int argc, char **argv);
int crpc_shim_main(int argc, char **argv);
/* crpc shim install | uninstall | status (cmd_shim_install.c): argv[1] is the subcommand. */
int crpc_cli_shim_manage(crpc_cli *cli, int argc, char **argv);
/* Which criu each engine present runs (crpc_shim_engines()), one line each / as a JSON array. */
void crpc_cli_engines_print(FILE *f);
json_t *crpc_cli_engines_json(void);
/* The last component of a path ("criu" for "/usr/local/lib/crpc/criu"). */
const char *crpc_cli_basename(const char *path);

/* Help texts of the commands. */
extern const char crpc_help_check[];
extern const char crpc_help_key[];
extern const char crpc_help_recover[];
extern const char crpc_help_version[];
extern const char crpc_help_features[];
extern const char crpc_help_dump[];
extern const char crpc_help_restore[];
extern const char crpc_help_config[];
extern const char crpc_help_trace[];
extern const char crpc_help_inspect[];
extern const char crpc_help_ps[];
extern const char crpc_help_show[];
extern const char crpc_help_trace_replay[];
extern const char crpc_help_shim[];
extern const char crpc_help_shim_install[];

/* ---- option parsing (common.c) ---- */

/*
 * getopt_long() that handles the common options and option errors itself:
 * returns the next command-specific option, or -1 at the end. `shortopts`
 * must start with ':' (after an optional '+'). Errors are recorded in
 * cli->usage_error (the first one wins) and parsing goes on, so that a
 * later --json or --help still counts.
 */
int crpc_cli_getopt(crpc_cli *cli, int argc, char **argv, const char *shortopts,
		    const struct option *longopts);

/* Record a usage error (the first one is kept). */
void crpc_cli_usage_errorf(crpc_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * After option parsing: handle --help, --version and a recorded usage error.
 * Returns true when the command must end now with exit code *rc.
 */
bool crpc_cli_early_exit(crpc_cli *cli, const char *help, int *rc);

/*
 * The command's one operand `name` ("DIR", "FILE") left after the options
 * into *out: 0, or a usage error (missing, one too many, empty) reported
 * and its exit code returned.
 */
int crpc_cli_operand(crpc_cli *cli, int argc, char **argv, const char *name, const char **out);

/*
 * Report a usage error now (stderr, plus JSON on stdout with --json), with
 * the command's usage line when `show_usage` is set. Returns CRPC_EXIT_USAGE.
 */
int crpc_cli_usage(crpc_cli *cli, bool show_usage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Print a help text (wrapped in a JSON document with --json). Returns 0. */
int crpc_cli_print_help(crpc_cli *cli, const char *text);

/* Print crpc's version (--version). Returns 0. */
int crpc_cli_print_version(crpc_cli *cli);

/* Strict unsigned decimal: digits only, no sign or blanks, at most max. */
int crpc_cli_parse_ulong(const char *s, unsigned long max, unsigned long *out);
/* A user name or a numeric uid. -1 when it is neither. */
int crpc_cli_parse_user(const char *s, uid_t *out);

/* ---- output (common.c) ---- */

/* A progress line on stderr ("crpc: ...") when -v is given. */
void crpc_cli_info(const crpc_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A warning on stderr ("crpc: warning: ..."), always. */
void crpc_cli_warn(const crpc_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Report a failure: the error rendered for humans on stderr, followed by
 * the lines of `extra_human` (may be NULL); with --json also one document
 * {"ok": false, <keys of extra>, "error": {...}} on stdout. `extra` (may be
 * NULL) is consumed. Returns the exit code (e->exit_class, at least 1).
 */
int crpc_cli_fail(crpc_cli *cli, const crpc_error *e, json_t *extra, const char *extra_human);

/* The JSON form of an error. */
json_t *crpc_cli_error_json(const crpc_error *e);

/* Name of an error cause ("pid-in-use", ...). */
const char *crpc_cli_cause_name(crpc_cause c);

/* Print doc (consumed) as the one JSON document on stdout. 0 or -1. */
int crpc_cli_emit(json_t *doc);

/* JSON helpers that never fail the caller: a failure is remembered and
 * crpc_cli_emit() then prints a minimal error document instead. */
json_t *crpc_cli_jstr(const char *s); /* NULL -> null; invalid UTF-8 is replaced */
void crpc_cli_jset(json_t *obj, const char *key, json_t *value);
json_t *crpc_cli_jobj(void);
json_t *crpc_cli_jarray(void);
void crpc_cli_jappend(json_t *array, json_t *value);

/* Human-readable size ("1.5 MiB") and durations ("12.3 ms", "1.24 s"). */
void crpc_cli_fmt_size(uint64_t bytes, char *buf, size_t bufsz);
void crpc_cli_fmt_us(uint64_t us, char *buf, size_t bufsz);
void crpc_cli_fmt_seconds(double s, char *buf, size_t bufsz);

/* Monotonic clock in seconds. */
double crpc_cli_now(void);

/* Page size used to turn CRIU's page counts into bytes. */
uint64_t crpc_cli_page_size(void);

/* ---- sessions (common.c) ---- */

/*
 * Locate and load the configuration (--config, --no-config, $CRPC_CONFIG,
 * XDG, /etc), then add the --hook steps given. Errors are USAGE class.
 */
int crpc_cli_config_load(crpc_cli *cli, crpc_error **err);

/* The same without adding the --hook steps. */
int crpc_cli_config_read(crpc_cli *cli, crpc_error **err);

/*
 * The parameters of a dump or restore (crpc/checkpoint.h) from the common
 * options: the configuration (read here), the --hook steps, --criu,
 * --trace, and with -v the message lines, notifications and hook output;
 * the events are shown as the tool shows them. The caller sets the rest.
 */
int crpc_cli_checkpoint_params(crpc_cli *cli, crpc_checkpoint_params *p, crpc_error **err);

/*
 * After crpc_checkpoint_dump() or _restore(): take the trace it opened and
 * the CRIU it ran; err (NULL when it succeeded): the failure, diagnosed with
 * crpc_cli_diagnose_criu() when the request failed.
 */
void crpc_cli_checkpoint_taken(crpc_cli *cli, crpc_checkpoint_result *r, crpc_error *err);

/* An operation's wall time, and the checkpoint's size ("unknown" if not known), for a summary. */
void crpc_cli_fmt_figures(const crpc_checkpoint_result *r, char *tm, size_t tmsz, char *sz, size_t szsz);

/* Remember a --hook CALLBACK=COMMAND argument (a usage error on ENOMEM). */
void crpc_cli_add_hook_arg(crpc_cli *cli, char *arg);

/* Free the configuration and the --hook arguments. */
void crpc_cli_config_release(crpc_cli *cli);

/*
 * After a failure classified as a missing kernel feature: run CRIU's own
 * kernel check and, when that fails too, say this CRIU cannot work here
 * (exit class ENV, hint pointing at scripts/setup).
 */
void crpc_cli_diagnose_criu(crpc_cli *cli, crpc_error *e);

/*
 * How to start CRIU for this invocation: load the configuration, resolve the
 * binary (--criu, $CRPC_CRIU, config criu.binary, PATH) into cli->criu_path
 * and hook in --trace.
 */
int crpc_cli_session_config(crpc_cli *cli, crpc_session_config *cfg, crpc_error **err);

/*
 * Resolve CRIU (--criu, $CRPC_CRIU, config criu.binary, PATH) and open a
 * session. With --trace, the trace file is opened first (an error there is
 * USAGE class) and records every message of the session.
 */
int crpc_cli_session_open(crpc_cli *cli, crpc_session **s, crpc_error **err);

/* Close the trace of --trace (if any), warning when writing it failed. */
void crpc_cli_trace_close(crpc_cli *cli);

/* {"path": ..., "version": "4.2.1"} of the session's CRIU. */
json_t *crpc_cli_json_criu(const crpc_session *s);

/*
 * Apply getopt's `opt` to o when it is an option of CRPC_OPTS_TABLE that
 * parses the same way everywhere (every kind but INHERIT_FD), by its kind;
 * an invalid argument is a usage error. request: "dump" or "restore".
 * false when opt is not such an option.
 */
bool cli_opt_apply(crpc_cli *cli, const char *request, crpc_opts *o, int opt, const char *arg);
/* The same of the CRIU a dump or restore ran. */
json_t *crpc_cli_result_criu_json(const crpc_checkpoint_result *r);
/* A container as JSON: engine, name, id, image, state, pid, runtime, engine_version. */
json_t *crpc_cli_container_json(const crpc_container *c);
/* "ENGINE:NAME" of a container into buf. */
const char *crpc_cli_container_label(const crpc_container *c, char *buf, size_t size);

/* CRIU's statistics as JSON (dump or restore part) and for humans. */
json_t *crpc_cli_stats_json(const crpc_stats *st, bool restore);
void crpc_cli_stats_print(FILE *f, const crpc_stats *st, bool restore);

/* ---- inspect (cmd_inspect.c) ---- */

/* The JSON document of 'crpc inspect --json' (schema in docs/crpc.1). */
json_t *crpc_cli_inspect_json(const crpc_inspect_result *r, const crpc_verdict *v);

/* Verdict entries as [{key: name, ["value": ...,] "reason", "pid", "fd"}]. */
json_t *crpc_cli_verdict_items_json(const crpc_verdict_item *v, size_t n, const char *key, bool with_value);

/*
 * A verification against the manifest as JSON (restore, show --verify):
 * {"verdict", "files", "bytes", "hash_time_ms", "problems": [{"file",
 * "problem", sizes and sha256s}], "leftover"}.
 */
json_t *crpc_cli_check_json(const crpc_manifest_check *k);
/* A signature check as JSON (null when it did not run), and as a summary line. */
json_t *crpc_cli_signature_json(const crpc_signature_check *s);
void crpc_cli_signature_print(FILE *out, const crpc_signature_check *s, const char *trusted_dir);

#endif /* CRPC_CLI_H */
