/* SPDX-License-Identifier: MIT */
/*
 * cmd_config.c - crpc config check: validate a configuration file and show
 * the configuration in effect, with warnings about hooks that cannot fire.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char crpc_help_config[] =
	"Usage: crpc config check [OPTIONS] [FILE]\n"
	"\n"
	"Validate a configuration file and print the configuration in effect, with\n"
	"defaults filled in. FILE defaults to the file crpc would read (--config,\n"
	"$CRPC_CONFIG, ~/.config/crpc/config.yaml, /etc/crpc/config.yaml). Errors name\n"
	"the file, line and column (exit code 2). Warns about hooks that cannot fire\n"
	"with the configured options.\n"
	"\n"
	"Options:\n"
	"      --pid PID           also check the hooks against this target process\n"
	"                          (e.g. network-lock hooks need its own network namespace)\n"
	"      --hook CALLBACK=COMMAND\n"
	"                          add a shell step as dump and restore would (repeatable)\n" CRPC_CLI_HELP_COMMON
	"\n"
	"Examples:\n"
	"  crpc config check /etc/crpc/config.yaml\n"
	"  crpc config check --json --pid 1234\n"
	"\n" CRPC_CLI_HELP_EXIT_CODES;

enum {
	OPT_PID = CLI_OPT_FIRST_CMD,
	OPT_HOOK,
};

static const struct option config_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	{ "pid", required_argument, NULL, OPT_PID },
	{ "hook", required_argument, NULL, OPT_HOOK },
	{ NULL, 0, NULL, 0 },
};

/* How each crpc_opts field is shown. */
enum field_type {
	F_BOOL,
	F_STR,
	F_U32,
	F_STRV
};

struct field {
	const char *name;
	enum field_type type;
	size_t off;
};

#define FB(n)                                      \
	{                                          \
#n, F_BOOL, offsetof(crpc_opts, n) \
	}
#define FS(n)                                     \
	{                                         \
#n, F_STR, offsetof(crpc_opts, n) \
	}
#define FU(n)                                     \
	{                                         \
#n, F_U32, offsetof(crpc_opts, n) \
	}
#define FV(n)                                      \
	{                                          \
#n, F_STRV, offsetof(crpc_opts, n) \
	}

static const struct field fields[] = {
	FB(leave_running),      FB(tcp_established),  FB(tcp_close),
	FB(tcp_skip_in_flight), FB(ext_unix_sk),      FB(shell_job),
	FB(file_locks),         FB(link_remap),       FB(evasive_devices),
	FB(orphan_pts_master),  FB(leave_stopped),    FB(skip_file_rwx_check),
	FB(manage_cgroups),     FU(timeout),          FS(root),
	FB(auto_ext_mnt),       FB(ext_sharing),      FB(ext_masters),
	FB(force_irmap),        FB(weak_sysctls),     FB(auto_dedup),
	FB(mntns_compat_mode),  FS(parent_img),       FS(lsm_profile),
	FS(lsm_mount_context),  FS(cgroup_props),     FS(cgroup_props_file),
	FS(cgroup_yard),        FS(freeze_cgroup),    FV(skip_mnt),
	FV(enable_fs),          FV(irmap_scan_paths), FV(cgroup_dump_controller),
};

static json_t *strs_json(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && v && i < n; i++)
		json_array_append_new(a, crpc_cli_jstr(v[i]));
	return a;
}

/* The options of a section, defaults filled in, as JSON. */
static json_t *opts_json(const crpc_config *cfg, const crpc_opts *o, const char *default_log)
{
	json_t *j = crpc_cli_jobj();
	json_t *a;

	crpc_cli_jset(j, "log_level",
		      json_integer(o->log_level >= 0          ? o->log_level
				   : cfg->criu_log_level >= 0 ? cfg->criu_log_level
							      : 4));
	crpc_cli_jset(j, "log_file",
		      crpc_cli_jstr(o->log_file          ? o->log_file
				    : cfg->criu_log_file ? cfg->criu_log_file
							 : default_log));
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *p = (const char *)o + fields[i].off;

		switch (fields[i].type) {
		case F_BOOL:
			crpc_cli_jset(j, fields[i].name, json_boolean(*(const bool *)p));
			break;
		case F_STR:
			crpc_cli_jset(j, fields[i].name, crpc_cli_jstr(*(const char *const *)p));
			break;
		case F_U32:
			crpc_cli_jset(j, fields[i].name, json_integer(*(const uint32_t *)p));
			break;
		case F_STRV: {
			const crpc_strv *l = (const crpc_strv *)(const void *)p;

			crpc_cli_jset(j, fields[i].name, strs_json(l->v, l->n));
			break;
		}
		}
	}
	crpc_cli_jset(j, "ghost_limit", o->ghost_limit_set ? json_integer(o->ghost_limit) : json_null());
	crpc_cli_jset(j, "manage_cgroups_mode",
		      o->manage_cgroups_mode == CRPC_CG_UNSET
			      ? json_null()
			      : crpc_cli_jstr(crpc_cg_mode_name(o->manage_cgroups_mode)));
	crpc_cli_jset(j, "network_lock",
		      crpc_cli_jstr(o->network_lock == CRPC_NETLOCK_UNSET
					    ? "iptables (CRIU's default)"
					    : crpc_network_lock_name(o->network_lock)));
	crpc_cli_jset(j, "empty_ns", crpc_cli_jstr(o->empty_ns ? "net" : NULL));
	crpc_cli_jset(j, "external", strs_json(o->external, o->n_external));
	a = json_array();
	for (size_t i = 0; a && i < o->n_inherit_fd; i++) {
		json_t *e = crpc_cli_jobj();

		crpc_cli_jset(e, "key", crpc_cli_jstr(o->inherit_fd[i].key));
		crpc_cli_jset(e, "fd", json_integer(o->inherit_fd[i].fd));
		json_array_append_new(a, e);
	}
	crpc_cli_jset(j, "inherit_fd", a);
	a = json_array();
	for (size_t i = 0; a && i < o->n_cg_root; i++) {
		json_t *e = crpc_cli_jobj();

		crpc_cli_jset(e, "ctrl", crpc_cli_jstr(o->cg_root[i].ctrl));
		crpc_cli_jset(e, "path", crpc_cli_jstr(o->cg_root[i].path));
		json_array_append_new(a, e);
	}
	crpc_cli_jset(j, "cg_root", a);
	return j;
}

static const char *on_failure_name(const crpc_hook_step *st, crpc_notify_kind k)
{
	switch (st->on_failure) {
	case CRPC_ON_FAILURE_ABORT:
		return "abort";
	case CRPC_ON_FAILURE_WARN:
		return "warn";
	case CRPC_ON_FAILURE_IGNORE:
		return "ignore";
	default:
		return crpc_notify_can_abort(k) ? "abort (default)"
						: "warn (default: CRIU cannot abort here)";
	}
}

static json_t *hooks_json(const crpc_hooks *h)
{
	json_t *j = crpc_cli_jobj();

	for (int k = 1; k < CRPC_NOTIFY__COUNT; k++) {
		json_t *steps;

		if (!h->n_steps[k])
			continue;
		steps = json_array();
		for (size_t i = 0; steps && i < h->n_steps[k]; i++) {
			const crpc_hook_step *st = &h->steps[k][i];
			json_t *s = crpc_cli_jobj();
			json_t *env = crpc_cli_jobj();

			crpc_cli_jset(s, "name", crpc_cli_jstr(st->name));
			if (st->kind == CRPC_STEP_RUN) {
				size_t n = 0;

				while (st->argv && st->argv[n])
					n++;
				crpc_cli_jset(s, "run", strs_json((const char *const *)st->argv, n));
			} else {
				crpc_cli_jset(s, "shell", crpc_cli_jstr(st->shell));
			}
			crpc_cli_jset(s, "timeout_ms", json_integer(st->timeout_ms));
			crpc_cli_jset(s, "on_failure",
				      crpc_cli_jstr(on_failure_name(st, (crpc_notify_kind)k)));
			for (char **e = st->env; e && *e; e++) {
				const char *eq = strchr(*e, '=');
				char key[256];

				if (!eq || (size_t)(eq - *e) >= sizeof(key))
					continue;
				snprintf(key, sizeof(key), "%.*s", (int)(eq - *e), *e);
				crpc_cli_jset(env, key, crpc_cli_jstr(eq + 1));
			}
			crpc_cli_jset(s, "env", env);
			crpc_cli_jset(s, "cwd", crpc_cli_jstr(st->cwd));
			crpc_cli_jset(s, "origin", crpc_cli_jstr(st->origin));
			json_array_append_new(steps, s);
		}
		crpc_cli_jset(j, crpc_notify_kind_name((crpc_notify_kind)k), steps);
	}
	return j;
}

/* Whether the network namespace of pid differs from crpc's (-1: unknown). */
static int own_netns(pid_t pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat(path, &a) < 0 || stat("/proc/self/ns/net", &b) < 0)
		return -1;
	return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

static void warn_add(json_t *warnings, const crpc_cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warn_add(json_t *warnings, const crpc_cli *cli, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(warnings, crpc_cli_jstr(buf));
	if (!cli->json)
		crpc_cli_warn(cli, "%s", buf);
}

/* Hooks that cannot fire with the configured options, and futile aborts. */
static json_t *hook_warnings(const crpc_cli *cli, const crpc_config *c, pid_t pid)
{
	const crpc_hooks *h = &c->hooks;
	json_t *w = json_array();

	if (h->n_steps[CRPC_NOTIFY_PRE_STREAM])
		warn_add(w, cli,
			 "pre-stream hooks never fire: CRIU sends pre-stream only when "
			 "streaming images, which crpc does not do");
	if (h->n_steps[CRPC_NOTIFY_STATUS_READY])
		warn_add(w, cli,
			 "status-ready hooks never fire: CRIU sends status-ready only for lazy "
			 "pages or a page server, which crpc does not use");
	if (h->n_steps[CRPC_NOTIFY_SETUP_NAMESPACES] || h->n_steps[CRPC_NOTIFY_POST_SETUP_NAMESPACES])
		warn_add(w, cli,
			 "setup-namespaces and post-setup-namespaces hooks fire only when a "
			 "restore recreates namespaces (a tree dumped with its own namespaces); "
			 "a plain process restore does not send them");
	if (h->n_steps[CRPC_NOTIFY_ORPHAN_PTS_MASTER] && !c->restore.orphan_pts_master)
		warn_add(w, cli,
			 "orphan-pts-master hooks fire only when restore: orphan_pts_master is "
			 "true, which this configuration does not set");
	if (h->n_steps[CRPC_NOTIFY_NETWORK_LOCK] || h->n_steps[CRPC_NOTIFY_NETWORK_UNLOCK]) {
		int own = pid > 0 ? own_netns(pid) : -1;

		if (own == 0)
			warn_add(w, cli,
				 "network-lock and network-unlock hooks will not fire for PID %d: "
				 "it shares crpc's network namespace (CRIU sends them only for a "
				 "tree that owns its network namespace)",
				 (int)pid);
		else if (own < 0)
			warn_add(w, cli,
				 "network-lock and network-unlock hooks fire only for a tree that "
				 "owns its network namespace (check a target with --pid)");
	}
	for (int k = 1; k < CRPC_NOTIFY__COUNT; k++)
		for (size_t i = 0; i < h->n_steps[k]; i++)
			if (h->steps[k][i].on_failure == CRPC_ON_FAILURE_ABORT &&
			    !crpc_notify_can_abort((crpc_notify_kind)k))
				warn_add(w, cli,
					 "%s step '%s' (%s) has on_failure: abort, but CRIU cannot "
					 "abort at %s: a failure is reported as a warning (exit code 4)",
					 crpc_notify_kind_name((crpc_notify_kind)k), h->steps[k][i].name,
					 h->steps[k][i].origin, crpc_notify_kind_name((crpc_notify_kind)k));
	return w;
}

static void print_human(const crpc_config *c, json_t *doc)
{
	const char *key;
	json_t *v;

	printf("configuration: %s\n", c->path ? c->path : "(none: defaults)");
	printf("criu:\n  binary: %s\n",
	       c->criu_binary ? c->criu_binary : "(--criu, $CRPC_CRIU or criu on PATH)");
	json_object_foreach(doc, key, v) {
		char *text;

		if (strcmp(key, "dump") && strcmp(key, "restore") && strcmp(key, "hooks"))
			continue;
		text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s: %s\n", key, text ? text : "?");
		free(text);
	}
}

static int config_check(crpc_cli *cli, int argc, char **argv)
{
	crpc_error *err = NULL;
	unsigned long pidv = 0;
	json_t *doc;
	int rc, opt;

	cli->usage = "crpc config check [OPTIONS] [FILE]";
	while ((opt = crpc_cli_getopt(cli, argc, argv, ":hv", config_options)) != -1) {
		if (opt == OPT_PID) {
			if (crpc_cli_parse_ulong(optarg, INT32_MAX, &pidv) < 0 || pidv == 0)
				crpc_cli_usage_errorf(cli, "invalid --pid '%s': must be a positive integer",
						      optarg);
		} else if (opt == OPT_HOOK) {
			crpc_cli_add_hook_arg(cli, optarg);
		} else {
			crpc_cli_usage_errorf(cli, "unhandled option");
		}
	}
	if (crpc_cli_early_exit(cli, crpc_help_config, &rc))
		goto out;
	if (argc - optind > 1) {
		rc = crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind + 1]);
		goto out;
	}
	if (argc - optind == 1)
		cli->config_file = argv[optind];
	if (crpc_cli_config_load(cli, &err) < 0) {
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		goto out;
	}

	doc = crpc_cli_jobj();
	crpc_cli_jset(doc, "ok", json_true());
	crpc_cli_jset(doc, "path", crpc_cli_jstr(cli->config.path));
	{
		json_t *criu = crpc_cli_jobj();

		crpc_cli_jset(criu, "binary", crpc_cli_jstr(cli->config.criu_binary));
		crpc_cli_jset(criu, "log_level",
			      json_integer(cli->config.criu_log_level >= 0 ? cli->config.criu_log_level : 4));
		crpc_cli_jset(criu, "log_file", crpc_cli_jstr(cli->config.criu_log_file));
		crpc_cli_jset(doc, "criu", criu);
	}
	crpc_cli_jset(doc, "dump", opts_json(&cli->config, &cli->config.dump, "dump.log"));
	crpc_cli_jset(doc, "restore", opts_json(&cli->config, &cli->config.restore, "restore.log"));
	crpc_cli_jset(doc, "hooks", hooks_json(&cli->config.hooks));
	crpc_cli_jset(doc, "warnings", hook_warnings(cli, &cli->config, (pid_t)pidv));
	if (cli->json) {
		rc = crpc_cli_emit(doc) < 0 ? CRPC_EXIT_FAIL : 0;
	} else {
		print_human(&cli->config, doc);
		json_decref(doc);
		rc = 0;
	}
out:
	crpc_error_free(err);
	return rc;
}

int crpc_cmd_config(crpc_cli *cli, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-') {
		/* "crpc config --help" and friends */
		int rc;

		cli->usage = "crpc config check [OPTIONS] [FILE]";
		while (crpc_cli_getopt(cli, argc, argv, ":hv", config_options) != -1)
			;
		if (crpc_cli_early_exit(cli, crpc_help_config, &rc))
			return rc;
		return crpc_cli_usage(cli, true, "missing subcommand: the only one is 'check'");
	}
	if (strcmp(argv[1], "check") != 0)
		return crpc_cli_usage(cli, true, "unknown subcommand '%s': the only one is 'check'", argv[1]);
	return config_check(cli, argc - 1, argv + 1);
}
