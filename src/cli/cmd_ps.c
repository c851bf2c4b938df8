/* SPDX-License-Identifier: MIT */
/* cmd_ps.c - crpc ps: the containers of every engine found, and whether crpc can checkpoint them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char crpc_help_ps[] =
	"Usage: crpc ps [OPTIONS]\n"
	"\n"
	"List the containers of every container engine found (runc, podman, docker):\n"
	"engine, name, ID, state, init PID, and for a running one whether crpc can\n"
	"checkpoint it: its tree inspected as by 'crpc inspect', with the number of\n"
	"blockers (0: it can). Engines that are not installed or do not answer are\n"
	"named at the end. Inspecting needs root; without it the column says '-'.\n"
	"\n"
	"Options:\n"
	"      --runc-root DIR     runc's state directory (runc --root)\n"
	"      --no-inspect        list only, without inspecting the running containers\n" CRPC_CLI_HELP_COMMON
	"\n"
	"The engines' CLIs are $CRPC_RUNC, $CRPC_PODMAN and $CRPC_DOCKER when set, else\n"
	"runc, podman and docker on PATH; dockerd is asked on its unix socket\n"
	"($DOCKER_HOST, else /var/run/docker.sock) when no docker context is chosen.\n"
	"A container listed here is a target of dump and inspect as ENGINE:NAME.\n"
	"\n"
	"Examples:\n"
	"  crpc ps\n"
	"  crpc ps --json | jq '.containers[] | select(.checkpointable)'\n"
	"\n"
	"Exit codes:\n"
	"  0  listed (also when no engine was found)\n"
	"  2  usage error\n";

enum {
	OPT_RUNC_ROOT = CLI_OPT_FIRST_CMD,
	OPT_NO_INSPECT,
};

static const struct option ps_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	{ "runc-root", required_argument, NULL, OPT_RUNC_ROOT },
	{ "no-inspect", no_argument, NULL, OPT_NO_INSPECT },
	{ NULL, 0, NULL, 0 },
};

static json_t *ps_json(const crpc_container *v, size_t n, const crpc_engine_status *e, size_t ne)
{
	json_t *doc = crpc_cli_jobj(), *arr = crpc_cli_jarray(), *engs = crpc_cli_jarray();

	crpc_cli_jset(doc, "ok", json_true());
	crpc_cli_jset(doc, "operation", crpc_cli_jstr("ps"));
	for (size_t i = 0; i < ne; i++) {
		json_t *o = crpc_cli_jobj();

		crpc_cli_jset(o, "name", crpc_cli_jstr(e[i].name));
		crpc_cli_jset(o, "present", json_boolean(e[i].present));
		crpc_cli_jset(o, "version", e[i].present ? crpc_cli_jstr(e[i].version) : json_null());
		crpc_cli_jset(o, "why", e[i].present ? json_null() : crpc_cli_jstr(e[i].why));
		crpc_cli_jappend(engs, o);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = crpc_cli_container_json(&v[i]);

		crpc_cli_jset(o, "running", json_boolean(v[i].running));
		crpc_cli_jset(o, "inspected", json_boolean(v[i].inspected));
		crpc_cli_jset(o, "checkpointable",
			      v[i].inspected ? json_boolean(v[i].checkpointable) : json_null());
		crpc_cli_jset(o, "blockers",
			      v[i].inspected ? json_integer((json_int_t)v[i].blockers) : json_null());
		crpc_cli_jset(o, "warnings",
			      v[i].inspected ? json_integer((json_int_t)v[i].warnings) : json_null());
		crpc_cli_jappend(arr, o);
	}
	crpc_cli_jset(doc, "engines", engs);
	crpc_cli_jset(doc, "containers", arr);
	return doc;
}

static void ps_human(const crpc_container *v, size_t n, const crpc_engine_status *e, size_t ne)
{
	printf("%-7s %-24s %-12s %-10s %8s  %s\n", "ENGINE", "NAME", "ID", "STATE", "PID", "CHECKPOINT");
	for (size_t i = 0; i < n; i++) {
		char pid[16], ck[64];

		snprintf(pid, sizeof(pid), "%d", (int)v[i].pid);
		if (!v[i].running)
			snprintf(ck, sizeof(ck), "-");
		else if (!v[i].inspected)
			snprintf(ck, sizeof(ck), "? (not inspected)");
		else if (v[i].checkpointable)
			snprintf(ck, sizeof(ck), "yes%s", v[i].warnings ? " (with warnings)" : "");
		else
			snprintf(ck, sizeof(ck), "no: %zu blocker%s", v[i].blockers,
				 v[i].blockers == 1 ? "" : "s");
		printf("%-7s %-24s %-12.12s %-10s %8s  %s\n", v[i].engine, v[i].name[0] ? v[i].name : "-",
		       v[i].id, v[i].state, v[i].running ? pid : "-", ck);
	}
	for (size_t i = 0; i < ne; i++)
		if (!e[i].present)
			printf("(%s: %s)\n", e[i].name, e[i].why[0] ? e[i].why : "not available");
}

int crpc_cmd_ps(crpc_cli *cli, int argc, char **argv)
{
	crpc_engine_env env;
	crpc_container *v = NULL;
	crpc_engine_status *e = NULL;
	size_t n = 0, ne = 0;
	crpc_error *err = NULL;
	bool inspect = true;
	int rc, opt;

	crpc_engine_env_init(&env);
	cli->usage = "crpc ps [OPTIONS]";
	while ((opt = crpc_cli_getopt(cli, argc, argv, ":hv", ps_options)) != -1) {
		if (opt == OPT_RUNC_ROOT)
			env.runc_root = optarg;
		else if (opt == OPT_NO_INSPECT)
			inspect = false;
	}
	if (crpc_cli_early_exit(cli, crpc_help_ps, &rc))
		return rc;
	if (optind < argc)
		return crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind]);
	if (geteuid() != 0)
		inspect = false;
	if (crpc_containers_list(&env, inspect, &v, &n, &e, &ne, &err) < 0) {
		json_t *extra = crpc_cli_jobj();

		crpc_cli_jset(extra, "operation", crpc_cli_jstr("ps"));
		rc = crpc_cli_fail(cli, err, extra, NULL);
		crpc_error_free(err);
		return rc;
	}
	rc = 0;
	if (cli->json)
		rc = crpc_cli_emit(ps_json(v, n, e, ne)) < 0 ? CRPC_EXIT_FAIL : 0;
	else
		ps_human(v, n, e, ne);
	free(v);
	free(e);
	return rc;
}
