/* SPDX-License-Identifier: MIT */
/* cmd_check.c - crpc check: CRIU's own kernel check, through the RPC. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char crpc_help_check[] =
	"Usage: crpc check [OPTIONS]\n"
	"\n"
	"Start CRIU and run its kernel check ('criu check') through the RPC, in a\n"
	"private temporary directory that is removed afterwards. Tells whether this\n"
	"machine can checkpoint and restore processes with the CRIU crpc would use,\n"
	"then which criu each container engine present runs and whether that goes\n"
	"through crpc (see crpc shim status). Must run as root.\n"
	"\n"
	"Options:\n" CRPC_CLI_HELP_COMMON "\n"
	"Examples:\n"
	"  crpc check\n"
	"  crpc check --criu /opt/crpc/criu/bin/criu --json\n"
	"\n" CRPC_CLI_HELP_EXIT_CODES "\n"
	"A failed check exits with 3; run scripts/setup (as root) to provision a CRIU\n"
	"that works on this kernel.\n";

int crpc_cmd_check(crpc_cli *cli, int argc, char **argv)
{
	crpc_session_config cfg;
	crpc_error *err = NULL;
	crpc_version v;
	char ver[96];
	int rc;

	cli->usage = "crpc check [OPTIONS]";
	while (crpc_cli_getopt(cli, argc, argv, ":hv", crpc_cli_common_options) != -1)
		;
	if (crpc_cli_early_exit(cli, crpc_help_check, &rc))
		return rc;
	if (optind < argc)
		return crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind]);

	if (crpc_require_root("check", &err) < 0 || crpc_cli_session_config(cli, &cfg, &err) < 0 ||
	    crpc_criu_check(&cfg, &v, &err) < 0) {
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		crpc_error_free(err);
		return rc;
	}
	crpc_version_format(&v, ver, sizeof(ver));
	crpc_trace_set_criu(cli->trace, cli->criu_path, ver);
	if (cli->json) {
		json_t *doc = crpc_cli_jobj();
		json_t *criu = crpc_cli_jobj();

		crpc_cli_jset(criu, "path", crpc_cli_jstr(cli->criu_path));
		crpc_cli_jset(criu, "version", crpc_cli_jstr(ver));
		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "criu", criu);
		crpc_cli_jset(doc, "engines", crpc_cli_engines_json());
		return crpc_cli_emit(doc) < 0 ? CRPC_EXIT_FAIL : 0;
	}
	printf("CRIU %s at %s: check passed\n", ver, cli->criu_path);
	/* which container engines would run crpc as their criu */
	crpc_cli_engines_print(stdout);
	return 0;
}
