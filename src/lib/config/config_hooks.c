/* SPDX-License-Identifier: MIT */
/*
 * config_hooks.c - hooks in the configuration: the hooks: section (for each
 * callback a list of run: or shell: steps) and --hook CALLBACK=COMMAND.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "crpc/config.h"
#include "config_int.h"
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */

/* A valid environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static bool env_name_ok(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (s++; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

/* "pre-stream, pre-dump, ..., query-ext-files" */
static void callback_list(char *buf, size_t bufsz)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int k = CRPC_NOTIFY_UNKNOWN + 1; k < CRPC_NOTIFY__COUNT && o < bufsz; k++)
		o += (size_t)snprintf(buf + o, bufsz - o, "%s%s", o ? ", " : "",
				      crpc_notify_kind_name((crpc_notify_kind)k));
}

/* ------------------------------------------------------------------------ */
/* hooks:                                                                   */

static const char *const step_keys[] = { "run", "shell", "timeout", "on_failure", "env", "cwd", "name" };
enum {
	SK_RUN,
	SK_SHELL,
	SK_TIMEOUT,
	SK_ON_FAILURE,
	SK_ENV,
	SK_CWD,
	SK_NAME
};

static const char *const on_failure_words[] = { "abort", "warn", "ignore" };

/* When root, a run: program given by absolute path must be safe to run. */
static void check_exec(struct cfg_parse *p, const struct cfg_node *arg0)
{
	struct stat st;

	if (!p->secure || arg0->str[0] != '/' || stat(arg0->str, &st) < 0)
		return; /* relative or missing: the runner reports it when it runs */
	if (st.st_uid != 0)
		cfg_node_error(p, arg0,
			       "run: '%s' is owned by uid %u, not root; refusing to run it as "
			       "root (like sudo and ssh): chown root %s",
			       arg0->str, (unsigned)st.st_uid, arg0->str);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		cfg_node_error(p, arg0,
			       "run: '%s' is writable by group/others; refusing to run it as "
			       "root (like sudo and ssh): chmod go-w %s",
			       arg0->str, arg0->str);
}

/* run: [PROGRAM, ARGS...] into an owned NULL-terminated argv. */
static char **parse_run(struct cfg_parse *p, const struct cfg_node *v)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];
	char **argv;
	bool ok = true;

	if (v->kind != CFG_NODE_SEQ) {
		cfg_node_error(p, v,
			       "key 'run': expected a list of strings (the program and its "
			       "arguments, run without a shell), got %s; write run: [PROGRAM, "
			       "ARG...], or use shell: for a command line",
			       cfg_describe(v, buf, sizeof(buf)));
		return NULL;
	}
	if (v->n == 0) {
		cfg_node_error(p, v, "key 'run': the list is empty; it needs at least the program to run");
		return NULL;
	}
	argv = cfg_own_alloc(p->c, (v->n + 1) * sizeof(*argv));
	if (!argv) {
		p->oom = true;
		return NULL;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct cfg_node *it = v->kids[i];

		if (it->kind != CFG_NODE_SCALAR || (cfg_is_null(it) && i == 0) || (i == 0 && !it->str[0])) {
			cfg_node_error(p, it, "key 'run', item %zu: expected %s, got %s", i + 1,
				       i == 0 ? "the program to run" : "a string",
				       cfg_describe(it, buf, sizeof(buf)));
			ok = false;
			continue;
		}
		argv[i] = cfg_keep(p, it->str);
		if (!argv[i])
			return NULL;
	}
	if (ok)
		check_exec(p, v->kids[0]);
	return ok ? argv : NULL;
}

/* env: {NAME: VALUE} into an owned NULL-terminated array of "NAME=VALUE". */
static char **parse_env(struct cfg_parse *p, const struct cfg_node *v)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];
	char **env;
	size_t n = 0;

	if (cfg_is_null(v))
		return NULL;
	if (v->kind != CFG_NODE_MAP) {
		cfg_node_error(p, v,
			       "key 'env': expected a mapping of variable names to values "
			       "(NAME: value), got %s",
			       cfg_describe(v, buf, sizeof(buf)));
		return NULL;
	}
	env = cfg_own_alloc(p->c, (v->n / 2 + 1) * sizeof(*env));
	if (!env) {
		p->oom = true;
		return NULL;
	}
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct cfg_node *k = v->kids[i], *val = v->kids[i + 1];

		if (k->kind != CFG_NODE_SCALAR)
			continue; /* reported by check_keys() */
		if (!env_name_ok(k->str)) {
			cfg_node_error(p, k,
				       "env: '%s' is not a valid variable name (letters, digits and "
				       "'_', not starting with a digit)",
				       cfg_shown(k->str, buf, sizeof(buf)));
			continue;
		}
		if (val->kind != CFG_NODE_SCALAR || cfg_is_null(val)) {
			cfg_node_error(p, val,
				       "env: %s: expected a string, got %s (write \"\" for an "
				       "empty value)",
				       k->str, cfg_describe(val, buf, sizeof(buf)));
			continue;
		}
		env[n] = cfg_own_printf(p->c, "%s=%s", k->str, val->str);
		if (!env[n++]) {
			p->oom = true;
			return NULL;
		}
	}
	return env;
}

static void parse_step(struct cfg_parse *p, crpc_notify_kind kind, size_t index, const struct cfg_node *v)
{
	const char *cb = crpc_notify_kind_name(kind);
	char buf[CFG_SHOWN_MAX * 4 + 32];
	const struct cfg_node *run = NULL, *shell = NULL;
	crpc_hook_step s = { 0 };
	bool ok = true;
	int w;

	if (v->kind != CFG_NODE_MAP) {
		if (v->kind == CFG_NODE_SCALAR && !cfg_is_null(v))
			cfg_node_error(p, v,
				       "%s step %zu: expected a mapping with run: or shell:, got %s; "
				       "for a command line write shell: \"...\"",
				       cb, index + 1, cfg_describe(v, buf, sizeof(buf)));
		else
			cfg_node_error(p, v, "%s step %zu: expected a mapping with run: or shell:, got %s",
				       cb, index + 1, cfg_describe(v, buf, sizeof(buf)));
		return;
	}
	s.timeout_ms = CRPC_HOOK_DEFAULT_TIMEOUT_MS;
	s.on_failure = CRPC_ON_FAILURE_DEFAULT;
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct cfg_node *k = v->kids[i], *val = v->kids[i + 1];

		switch (cfg_lookup(p, k, step_keys, 7, sizeof(step_keys[0]), "a hook step",
				   "run, shell, timeout, on_failure, env, cwd, name")) {
		case SK_RUN:
		case SK_SHELL:
			if (run || shell) {
				cfg_node_error(p, k, "a step takes either run: or shell:, not both");
				ok = false;
				break;
			}
			if (strcmp(k->str, "run") == 0) {
				run = val;
				s.kind = CRPC_STEP_RUN;
				s.argv = parse_run(p, val);
				ok = ok && s.argv;
			} else {
				shell = val;
				s.kind = CRPC_STEP_SHELL;
				s.shell = (char *)cfg_get_str(p, "shell", val, false);
				ok = ok && s.shell;
			}
			break;
		case SK_TIMEOUT:
			if (!cfg_get_duration(p, "timeout", val, &s.timeout_ms)) {
				ok = false;
			} else if (s.timeout_ms == 0) {
				cfg_node_error(p, val,
					       "key 'timeout': must be more than 0 (the step is "
					       "killed when it expires)");
				ok = false;
			}
			break;
		case SK_ON_FAILURE:
			w = cfg_get_word(p, "on_failure", val, on_failure_words, 3, "abort, warn or ignore");
			if (w >= 0)
				s.on_failure = (crpc_on_failure)(CRPC_ON_FAILURE_ABORT + w);
			ok = ok && w >= 0;
			break;
		case SK_ENV:
			s.env = parse_env(p, val);
			break;
		case SK_CWD:
			s.cwd = (char *)cfg_get_str(p, "cwd", val, false);
			ok = ok && s.cwd;
			break;
		case SK_NAME:
			s.name = (char *)cfg_get_str(p, "name", val, false);
			ok = ok && s.name;
			break;
		default:
			ok = false;
			break;
		}
	}
	if (!run && !shell) {
		cfg_node_error(p, v,
			       "%s step %zu has neither run: nor shell:; add run: [PROGRAM, "
			       "ARG...] or shell: \"COMMAND\"",
			       cb, index + 1);
		return;
	}
	if (!ok || p->oom)
		return;
	if (!s.name)
		s.name = cfg_own_printf(p->c, "%s[%zu]", cb, index + 1);
	s.origin = cfg_own_printf(p->c, "%s:%u:%u", p->name, v->line, v->col);
	if (!s.name || !s.origin || cfg_step_append(p->c, kind, &s) < 0)
		p->oom = true;
}

void cfg_parse_hooks(struct cfg_parse *p, const struct cfg_node *sec)
{
	char list[512], buf[CFG_SHOWN_MAX * 4 + 32];

	if (!cfg_want_map(p, "section 'hooks'", sec, "a mapping of callback names to lists of steps"))
		return;
	callback_list(list, sizeof(list));
	for (size_t i = 0; i + 1 < sec->n; i += 2) {
		const struct cfg_node *k = sec->kids[i], *v = sec->kids[i + 1];
		crpc_notify_kind kind;
		const char *best;

		if (k->kind != CFG_NODE_SCALAR)
			continue; /* reported by check_keys() */
		kind = crpc_notify_kind_from_name(k->str);
		if (kind == CRPC_NOTIFY_UNKNOWN) {
			const char *names[CRPC_NOTIFY__COUNT - 1];

			for (int j = 1; j < CRPC_NOTIFY__COUNT; j++)
				names[j - 1] = crpc_notify_kind_name((crpc_notify_kind)j);
			best = cfg_closest(k->str, names, CRPC_NOTIFY__COUNT - 1, sizeof(names[0]), NULL,
					   NULL);
			if (best)
				cfg_node_error(p, k,
					       "unknown callback '%s' in hooks: did you mean '%s'? The "
					       "callbacks are: %s",
					       cfg_shown(k->str, buf, sizeof(buf)), best, list);
			else
				cfg_node_error(p, k, "unknown callback '%s' in hooks; the callbacks are: %s",
					       cfg_shown(k->str, buf, sizeof(buf)), list);
			continue;
		}
		if (cfg_is_null(v))
			continue;
		if (v->kind != CFG_NODE_SEQ) {
			cfg_node_error(p, v,
				       "callback '%s': expected a list of steps (each starting with "
				       "'- '), got %s",
				       k->str, cfg_describe(v, buf, sizeof(buf)));
			continue;
		}
		for (size_t j = 0; j < v->n; j++)
			parse_step(p, kind, j, v->kids[j]);
	}
}

/* ------------------------------------------------------------------------ */
/* --hook CALLBACK=COMMAND                                                  */

CRPC_API int crpc_config_add_hook_arg(crpc_config *c, const char *arg, crpc_error **err)
{
	char list[512], name[64], buf[CFG_SHOWN_MAX * 4 + 16];
	const char *eq, *cmd, *best, *names[CRPC_NOTIFY__COUNT - 1];
	crpc_hook_step s = { 0 };
	crpc_notify_kind kind;
	size_t n;

	callback_list(list, sizeof(list));
	eq = arg ? strchr(arg, '=') : NULL;
	if (!eq || eq == arg)
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
				      "--hook '%s': expected CALLBACK=COMMAND, e.g. --hook "
				      "post-dump='echo done'; the callbacks are: %s",
				      arg ? cfg_shown(arg, buf, sizeof(buf)) : "", list);
	n = (size_t)(eq - arg);
	snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), arg);
	kind = n < sizeof(name) ? crpc_notify_kind_from_name(name) : CRPC_NOTIFY_UNKNOWN;
	if (kind == CRPC_NOTIFY_UNKNOWN) {
		for (int j = 1; j < CRPC_NOTIFY__COUNT; j++)
			names[j - 1] = crpc_notify_kind_name((crpc_notify_kind)j);
		best = cfg_closest(name, names, CRPC_NOTIFY__COUNT - 1, sizeof(names[0]), NULL, NULL);
		if (best)
			return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
					      "--hook: unknown callback '%s': did you mean '%s'? "
					      "The callbacks are: %s",
					      cfg_shown(name, buf, sizeof(buf)), best, list);
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
				      "--hook: unknown callback '%s'; the callbacks are: %s",
				      cfg_shown(name, buf, sizeof(buf)), list);
	}
	cmd = eq + 1;
	while (isspace((unsigned char)*cmd))
		cmd++;
	if (!*cmd)
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL, "--hook %s: the command is empty", name);
	s.kind = CRPC_STEP_SHELL;
	s.timeout_ms = CRPC_HOOK_DEFAULT_TIMEOUT_MS;
	s.on_failure = CRPC_ON_FAILURE_DEFAULT;
	s.shell = cfg_own_strdup(c, eq + 1);
	s.origin = cfg_own_strdup(c, "--hook");
	s.name = cfg_own_printf(c, "%s[%zu]", name, c->hooks.n_steps[kind] + 1);
	if (!s.shell || !s.origin || !s.name || cfg_step_append(c, kind, &s) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, NULL, "--hook: out of memory");
	return 0;
}
