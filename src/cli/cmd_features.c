/* SPDX-License-Identifier: MIT */
/* cmd_features.c - crpc features: CRIU's FEATURE_CHECK, read from its reply. */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

const char crpc_help_features[] =
	"Usage: crpc features [OPTIONS]\n"
	"\n"
	"Ask CRIU which optional features work with this kernel (CRIU's FEATURE_CHECK):\n"
	"  mem_track    dirty memory tracking, needed for iterative pre-dumps\n"
	"  lazy_pages   userfaultfd, needed for lazy (post-copy) restore\n"
	"  pidfd_store  pidfd_open/pidfd_getfd, used to detect PID reuse between dumps\n"
	"\n"
	"Options:\n" CRPC_CLI_HELP_COMMON "\n"
	"Examples:\n"
	"  crpc features\n"
	"  crpc features --json\n"
	"\n" CRPC_CLI_HELP_EXIT_CODES;

int crpc_cmd_features(crpc_cli *cli, int argc, char **argv)
{
	crpc_session *s = NULL;
	crpc_error *err = NULL;
	crpc_features f;
	char ver[96];
	int rc;

	cli->usage = "crpc features [OPTIONS]";
	while (crpc_cli_getopt(cli, argc, argv, ":hv", crpc_cli_common_options) != -1)
		;
	if (crpc_cli_early_exit(cli, crpc_help_features, &rc))
		return rc;
	if (optind < argc)
		return crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind]);

	if (crpc_cli_session_open(cli, &s, &err) < 0 || crpc_session_features(s, &f, &err) < 0) {
		if (err && !err->hint && geteuid() != 0)
			crpc_error_set_hint(err, "CRIU needs root to check its features; run crpc as root");
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		crpc_error_free(err);
		crpc_session_close(s);
		return rc;
	}

	crpc_version_format(crpc_session_version(s), ver, sizeof(ver));
	if (cli->json) {
		json_t *doc = crpc_cli_jobj();
		json_t *fo = crpc_cli_jobj();

		crpc_cli_jset(fo, "mem_track", json_boolean(f.mem_track));
		crpc_cli_jset(fo, "lazy_pages", json_boolean(f.lazy_pages));
		crpc_cli_jset(fo, "pidfd_store",
			      f.has_pidfd_store ? json_boolean(f.pidfd_store) : json_null());
		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "criu", crpc_cli_json_criu(s));
		crpc_cli_jset(doc, "features", fo);
		rc = crpc_cli_emit(doc) < 0 ? CRPC_EXIT_FAIL : 0;
	} else {
		printf("CRIU %s at %s\n", ver, crpc_session_criu_path(s));
		printf("  mem_track    %s\n", f.mem_track ? "yes" : "no");
		printf("  lazy_pages   %s\n", f.lazy_pages ? "yes" : "no");
		printf("  pidfd_store  %s\n", !f.has_pidfd_store ? "unknown (not reported)"
					      : f.pidfd_store    ? "yes"
								 : "no");
		rc = 0;
	}
	crpc_session_close(s);
	return rc;
}
