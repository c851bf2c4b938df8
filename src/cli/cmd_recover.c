/* SPDX-License-Identifier: MIT */
/*
 * cmd_recover.c - crpc recover LEFTOVER [DIR]: complete the checkpoint a
 * killed `crpc dump` left, when CRIU finished it (see
 * crpc_checkpoint_recover()).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char crpc_help_recover[] =
	"Usage: crpc recover [OPTIONS] LEFTOVER [DIR]\n"
	"\n"
	"Complete the checkpoint a `crpc dump` that was killed left behind: a\n"
	"temporary DIR.crpc-tmp-XXXXXX, moved to DIR (default: the DIR it stands in\n"
	"for, which must not exist or be empty), or a DIR written in place that still\n"
	"holds the in-progress marker, completed where it is. When crpc dies after\n"
	"CRIU's post-dump step, CRIU finishes the dump and ends the tree: these images\n"
	"are then its only copy, lacking only crpc.json. recover writes crpc.json with\n"
	"the options the dump recorded before CRIU ran, signs it when a signing key is\n"
	"configured, and moves the checkpoint into place, as the dump would have. It\n"
	"refuses, changing nothing, unless CRIU's own statistics (stats-dump) and log\n"
	"show that CRIU finished the dump, and when LEFTOVER or a file in it belongs to\n"
	"another user or others can write it. Must run as root.\n"
	"\n"
	"Options:\n"
	"      --sign-key FILE     sign crpc.json with this key (default as crpc dump:\n"
	"                          $CRPC_SIGNING_KEY, signing: key, " CRPC_SIGNING_KEY_DEFAULT ")\n"
	"      --trust-owner USER  also accept LEFTOVER and files of USER (name or uid)\n" CRPC_CLI_HELP_COMMON
	"\n"
	"Examples:\n"
	"  crpc recover /var/tmp/ckpt.crpc-tmp-Zx81qa\n"
	"  crpc restore /var/tmp/ckpt\n"
	"\n" CRPC_CLI_HELP_EXIT_CODES;

enum {
	OPT_SIGN_KEY = CLI_OPT_FIRST_CMD,
	OPT_TRUST_OWNER,
};

static const struct option recover_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	{ "sign-key", required_argument, NULL, OPT_SIGN_KEY },
	{ "trust-owner", required_argument, NULL, OPT_TRUST_OWNER },
	{ NULL, 0, NULL, 0 },
};

int crpc_cmd_recover(crpc_cli *cli, int argc, char **argv)
{
	crpc_checkpoint_params p;
	crpc_checkpoint_result *res = NULL;
	crpc_error *err = NULL;
	const char *sign_key = NULL, *leftover, *dir = NULL;
	uid_t trust_owner = (uid_t)-1;
	int rc, opt;

	cli->usage = "crpc recover [OPTIONS] LEFTOVER [DIR]";
	while ((opt = crpc_cli_getopt(cli, argc, argv, ":hv", recover_options)) != -1) {
		switch (opt) {
		case OPT_SIGN_KEY:
			sign_key = optarg;
			break;
		case OPT_TRUST_OWNER:
			if (crpc_cli_parse_user(optarg, &trust_owner) < 0)
				crpc_cli_usage_errorf(cli, "--trust-owner: no user '%s'", optarg);
			break;
		default:
			crpc_cli_usage_errorf(cli, "unhandled option");
			break;
		}
	}
	if (crpc_cli_early_exit(cli, crpc_help_recover, &rc))
		return rc;
	if (optind >= argc)
		return crpc_cli_usage(cli, true, "missing LEFTOVER (the DIR.crpc-tmp-XXXXXX a dump left)");
	leftover = argv[optind];
	if (optind + 1 < argc)
		dir = argv[optind + 1];
	if (optind + 2 < argc)
		return crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind + 2]);

	if (crpc_cli_checkpoint_params(cli, &p, &err) < 0) {
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		crpc_error_free(err);
		return rc;
	}
	p.dir = leftover;
	p.signing_key = sign_key;
	p.trust_owner = trust_owner;
	if (crpc_checkpoint_recover(&p, dir, &res, &err) < 0) {
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		goto out;
	}
	if (cli->json) {
		json_t *doc = crpc_cli_jobj(), *m = crpc_cli_jobj();

		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "operation", crpc_cli_jstr("recover"));
		crpc_cli_jset(doc, "leftover", crpc_cli_jstr(leftover));
		crpc_cli_jset(doc, "images_dir", crpc_cli_jstr(res->images_dir));
		crpc_cli_jset(doc, "pid", json_integer(res->pid));
		crpc_cli_jset(m, "files", json_integer((json_int_t)res->manifest.files));
		crpc_cli_jset(m, "bytes", json_integer((json_int_t)res->manifest.bytes));
		crpc_cli_jset(doc, "manifest", m);
		crpc_cli_jset(doc, "signing_key_sha256",
			      res->signing_key_sha256[0] ? crpc_cli_jstr(res->signing_key_sha256)
							 : json_null());
		rc = crpc_cli_emit(doc) < 0 ? CRPC_EXIT_FAIL : 0;
		goto out;
	}
	printf("Recovered the checkpoint of PID %d into %s\n", (int)res->pid, res->images_dir);
	printf("  manifest:      %s/%s: %zu files\n", res->images_dir, CRPC_MANIFEST_NAME,
	       res->manifest.files);
	if (res->signing_key_sha256[0])
		printf("  signed:        %s/%s, key %s\n", res->images_dir, CRPC_SIGNATURE_NAME,
		       res->signing_key_sha256);
	printf("  restore it:    crpc restore %s\n", res->images_dir);
	rc = 0;
out:
	crpc_checkpoint_result_free(res);
	crpc_error_free(err);
	return rc;
}
