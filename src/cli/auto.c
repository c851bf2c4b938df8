/* SPDX-License-Identifier: MIT */
/*
 * auto.c - the automatic options of crpc dump: inspect the tree before
 * CRIU is started, stop on blockers, add the options the tree needs (the
 * user's own options win) and keep every option in effect with its reason
 * and source for the output and the checkpoint's manifest.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void crpc_cli_auto_snapshot(crpc_cli_auto *a, const crpc_opts *cmdline)
{
	a->user = *cmdline;
	/* only flags, values and the external list are read: drop the shared lists */
	a->user.external = NULL;
	a->user.n_external = 0;
	memset(&a->user.skip_mnt, 0, sizeof(a->user.skip_mnt));
	memset(&a->user.enable_fs, 0, sizeof(a->user.enable_fs));
	memset(&a->user.irmap_scan_paths, 0, sizeof(a->user.irmap_scan_paths));
	memset(&a->user.cgroup_dump_controller, 0, sizeof(a->user.cgroup_dump_controller));
	a->user.inherit_fd = NULL;
	a->user.n_inherit_fd = 0;
	a->user.cg_root = NULL;
	a->user.n_cg_root = 0;
	if (cmdline->n_external) {
		a->user.external = malloc(cmdline->n_external * sizeof(*a->user.external));
		if (a->user.external) {
			memcpy(a->user.external, cmdline->external, cmdline->n_external * sizeof(*a->user.external));
			a->user.n_external = cmdline->n_external;
		}
	}
	a->snapshot = true;
}

void crpc_cli_auto_release(crpc_cli_auto *a)
{
	free(a->user.external);
	a->user.external = NULL;
	a->user.n_external = 0;
	crpc_verdict_release(&a->verdict);
	crpc_opt_reasons_release(&a->effective);
}

const crpc_opt_reasons *crpc_cli_auto_effective(const crpc_cli_auto *a)
{
	return &a->effective;
}

static json_t *value_json(const char *v)
{
	const char *p = v;

	if (strcmp(v, "true") == 0)
		return json_true();
	if (strcmp(v, "false") == 0)
		return json_false();
	while (*p && isdigit((unsigned char)*p))
		p++;
	if (*v && !*p && p - v < 19)
		return json_integer((json_int_t)strtoll(v, NULL, 10));
	return crpc_cli_jstr(v);
}

json_t *crpc_cli_auto_json(const crpc_cli_auto *a, bool all)
{
	json_t *arr = crpc_cli_jarray();

	for (size_t i = 0; i < a->effective.n; i++) {
		const crpc_opt_reason *e = &a->effective.v[i];
		json_t *o;

		if (!all && e->source != CRPC_OPT_SOURCE_AUTO)
			continue;
		o = crpc_cli_jobj();
		crpc_cli_jset(o, "option", crpc_cli_jstr(e->option));
		crpc_cli_jset(o, "value", value_json(e->value));
		crpc_cli_jset(o, "reason", crpc_cli_jstr(e->reason));
		crpc_cli_jset(o, "source", crpc_cli_jstr(crpc_opt_source_name(e->source)));
		if (e->overrides)
			crpc_cli_jset(o, "overrides_auto", json_true());
		crpc_cli_jappend(arr, o);
	}
	return arr;
}

json_t *crpc_cli_auto_warnings_json(const crpc_cli_auto *a)
{
	return crpc_cli_verdict_items_json(a->verdict.warnings, a->verdict.n_warnings, "warning", false);
}

/* Report the blockers as the dump's failure. Returns the exit code. */
static int report_blockers(crpc_cli *cli, const crpc_cli_auto *a, pid_t pid, const char *images_dir)
{
	const crpc_verdict *v = &a->verdict;
	crpc_error *e = NULL;
	json_t *extra = crpc_cli_jobj();
	char op[64], names[256], *human = NULL;
	size_t hlen = 0;
	FILE *hf;
	int rc;

	snprintf(op, sizeof(op), "dump of PID %d", (int)pid);
	/* the message names the blockers; their reasons follow, one line each */
	names[0] = '\0';
	for (size_t i = 0, used = 0; i < v->n_blockers && used < sizeof(names); i++) {
		int n = snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "", v->blockers[i].name);

		if (n < 0)
			break;
		used += (size_t)n;
	}
	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op, "the process tree cannot be checkpointed: %zu blocker%s (%s)",
		       v->n_blockers, v->n_blockers == 1 ? "" : "s", names);
	if (e) {
		if (strcmp(v->blockers[0].name, "kernel-feature") == 0)
			e->cause = CRPC_CAUSE_KERNEL;
		else if (strcmp(v->blockers[0].name, "zombie-root") == 0)
			e->cause = CRPC_CAUSE_NO_PROCESS;
		else if (strcmp(v->blockers[0].name, "session-zero") == 0)
			e->cause = CRPC_CAUSE_SESSION_ZERO;
		crpc_error_set_hint(e,
				    "nothing was changed and CRIU was not started; 'crpc inspect %d' shows the "
				    "tree, and --no-auto skips this check",
				    (int)pid);
	}
	hf = open_memstream(&human, &hlen);
	if (hf) {
		for (size_t i = 0; i < v->n_blockers; i++)
			fprintf(hf, "  blocker: %s: %s\n", v->blockers[i].name, v->blockers[i].reason);
		fclose(hf);
	}
	crpc_cli_jset(extra, "pid", json_integer(pid));
	crpc_cli_jset(extra, "images_dir", crpc_cli_jstr(images_dir));
	crpc_cli_jset(extra, "blockers", crpc_cli_verdict_items_json(v->blockers, v->n_blockers, "blocker", false));
	crpc_cli_jset(extra, "auto", crpc_cli_verdict_items_json(v->options, v->n_options, "option", true));
	rc = crpc_cli_fail(cli, e, extra, human);
	free(human);
	crpc_error_free(e);
	return rc ? rc : CRPC_EXIT_FAIL;
}

int crpc_cli_auto_dump(crpc_cli *cli, crpc_cli_auto *a, crpc_opts *opts, const char *images_dir)
{
	const crpc_opts *config = cli->config_loaded ? &cli->config.dump : NULL;
	const crpc_opts *user = a->snapshot ? &a->user : NULL;
	crpc_inspect_result *r = NULL;
	crpc_error *err = NULL;
	int rc = 0;

	if (a->disabled) {
		crpc_cli_info(cli, "automatic options are off (--no-auto)");
		goto apply;
	}
	if (crpc_inspect_tree(opts->pid, 0, &r, &err) < 0) {
		if (err && err->cause == CRPC_CAUSE_NO_PROCESS) {
			json_t *extra = crpc_cli_jobj();

			crpc_cli_jset(extra, "pid", json_integer(opts->pid));
			crpc_cli_jset(extra, "images_dir", crpc_cli_jstr(images_dir));
			rc = crpc_cli_fail(cli, err, extra, NULL);
			crpc_error_free(err);
			return rc ? rc : CRPC_EXIT_FAIL;
		}
		crpc_cli_warn(cli, "cannot inspect PID %d (%s); dumping without automatic options", (int)opts->pid,
			      err && err->message ? err->message : "unknown error");
		crpc_error_free(err);
		err = NULL;
		goto apply;
	}
	if (crpc_inspect_verdict(r, &a->verdict, &err) < 0) {
		crpc_inspect_free(r);
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		crpc_error_free(err);
		return rc ? rc : CRPC_EXIT_FAIL;
	}
	crpc_cli_info(cli, "inspected PID %d: %zu process(es), %zu fd(s) in %.1f ms", (int)opts->pid, r->n_procs,
		      r->n_fds, r->elapsed * 1e3);
	crpc_inspect_free(r);
	/* what the dump will break or lose (a pipe or socket to the outside, ...): always said */
	for (size_t i = 0; i < a->verdict.n_warnings; i++)
		crpc_cli_warn(cli, "%s", a->verdict.warnings[i].reason);
	if (a->verdict.n_blockers)
		return report_blockers(cli, a, opts->pid, images_dir);
apply:
	if (crpc_inspect_apply(&a->verdict, user, config, opts, &a->effective, &err) < 0) {
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		crpc_error_free(err);
		return rc ? rc : CRPC_EXIT_FAIL;
	}
	a->ran = true;
	for (size_t i = 0; i < a->effective.n; i++) {
		const crpc_opt_reason *e = &a->effective.v[i];

		if (e->source == CRPC_OPT_SOURCE_AUTO) {
			if (!cli->json) {
				if (strcmp(e->value, "true") == 0)
					fprintf(stderr, "crpc: auto: %s (%s)\n", e->option, e->reason);
				else
					fprintf(stderr, "crpc: auto: %s=%s (%s)\n", e->option, e->value, e->reason);
			}
		} else if (e->overrides) {
			crpc_cli_warn(cli, "%s=%s kept: %s", e->option, e->value, e->reason);
		}
	}
	return 0;
}
