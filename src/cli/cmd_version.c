/* SPDX-License-Identifier: MIT */
/* cmd_version.c - crpc version: the versions of crpc and of CRIU. */
#include <stdio.h>

#include "cli.h"

const char crpc_help_version[] =
	"Usage: crpc version [OPTIONS]\n"
	"\n"
	"Print crpc's version, then start CRIU ('criu swrk') and print the version it\n"
	"reports and the binary it runs. If CRIU cannot be started, crpc's version and\n"
	"the reason are printed on stderr (with --json: in the JSON document).\n"
	"\n"
	"Options:\n" CRPC_CLI_HELP_COMMON "\n"
	"Examples:\n"
	"  crpc version\n"
	"  crpc version --criu /usr/sbin/criu --json\n"
	"\n" CRPC_CLI_HELP_EXIT_CODES;

int crpc_cmd_version(crpc_cli *cli, int argc, char **argv)
{
	crpc_session *s = NULL;
	crpc_error *err = NULL;
	json_t *crpc_obj;
	char ver[96];
	int rc;

	cli->usage = "crpc version [OPTIONS]";
	while (crpc_cli_getopt(cli, argc, argv, ":hv", crpc_cli_common_options) != -1)
		;
	if (crpc_cli_early_exit(cli, crpc_help_version, &rc))
		return rc;
	if (optind < argc)
		return crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind]);

	crpc_obj = crpc_cli_jobj();
	crpc_cli_jset(crpc_obj, "version", crpc_cli_jstr(crpc_version_string()));

	if (crpc_cli_session_open(cli, &s, &err) < 0) {
		json_t *extra = crpc_cli_jobj();

		/* not being able to run CRIU at all is an environment problem */
		if (err && err->exit_class == CRPC_EXIT_FAIL)
			err->exit_class = CRPC_EXIT_ENV;
		crpc_cli_jset(extra, "crpc", crpc_obj);
		/* on failure stdout stays empty (or holds the JSON document) */
		if (!cli->json)
			fprintf(stderr, "crpc %s\n", crpc_version_string());
		rc = crpc_cli_fail(cli, err, extra, NULL);
		crpc_error_free(err);
		return rc;
	}

	crpc_version_format(crpc_session_version(s), ver, sizeof(ver));
	if (cli->json) {
		json_t *doc = crpc_cli_jobj();

		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "crpc", crpc_obj);
		crpc_cli_jset(doc, "criu", crpc_cli_json_criu(s));
		rc = crpc_cli_emit(doc) < 0 ? CRPC_EXIT_FAIL : 0;
	} else {
		json_decref(crpc_obj);
		printf("crpc %s\n", crpc_version_string());
		printf("CRIU %s at %s\n", ver, crpc_session_criu_path(s));
		rc = 0;
	}
	crpc_session_close(s);
	return rc;
}
