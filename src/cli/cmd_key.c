/* SPDX-License-Identifier: MIT */
/* cmd_key.c - crpc key generate [FILE]: a key pair to sign checkpoints with. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char crpc_help_key[] =
	"Usage: crpc key generate [OPTIONS] [FILE]\n"
	"\n"
	"Generate an Ed25519 key pair to sign checkpoints with: the private key into\n"
	"FILE (default " CRPC_SIGNING_KEY_DEFAULT ", which crpc dump then uses\n"
	"by itself), mode 0600, and the public key into FILE.pub, mode 0644. An\n"
	"existing file is never overwritten. Copy FILE.pub into the trusted keys'\n"
	"directory (default " CRPC_TRUSTED_KEYS_DEFAULT ") of every host that is\n"
	"to restore the checkpoints, as NAME.pub: restores then say \"signed by NAME\".\n"
	"The keys are PEM, as `openssl genpkey -algorithm ed25519` writes them.\n"
	"\n"
	"Options:\n" CRPC_CLI_HELP_COMMON "\n"
	"Examples:\n"
	"  crpc key generate\n"
	"  crpc key generate /root/ckpt-signing-key\n"
	"  install -m 0644 /etc/crpc/signing-key.pub /etc/crpc/trusted-keys/hostA.pub\n"
	"\n" CRPC_CLI_HELP_EXIT_CODES;

static const struct option key_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

int crpc_cmd_key(crpc_cli *cli, int argc, char **argv)
{
	const char *path = CRPC_SIGNING_KEY_DEFAULT;
	crpc_error *err = NULL;
	char fp[65];
	int rc;

	cli->usage = "crpc key generate [OPTIONS] [FILE]";
	while (crpc_cli_getopt(cli, argc, argv, ":hv", key_options) != -1)
		;
	if (crpc_cli_early_exit(cli, crpc_help_key, &rc))
		return rc;
	if (optind >= argc)
		return crpc_cli_usage(cli, true, "missing subcommand (generate)");
	if (strcmp(argv[optind], "generate") != 0)
		return crpc_cli_usage(cli, true, "unknown subcommand '%s' (generate)", argv[optind]);
	if (optind + 1 < argc)
		path = argv[optind + 1];
	if (optind + 2 < argc)
		return crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind + 2]);

	if (crpc_key_generate(path, fp, &err) < 0) {
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		crpc_error_free(err);
		return rc;
	}
	if (cli->json) {
		json_t *doc = crpc_cli_jobj();
		char pub[4096];

		snprintf(pub, sizeof(pub), "%s.pub", path);
		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "private_key", crpc_cli_jstr(path));
		crpc_cli_jset(doc, "public_key", crpc_cli_jstr(pub));
		crpc_cli_jset(doc, "key_sha256", crpc_cli_jstr(fp));
		return crpc_cli_emit(doc) < 0 ? CRPC_EXIT_FAIL : 0;
	}
	printf("private key: %s (mode 0600, keep it on this host)\n"
	       "public key:  %s.pub (copy it to the trusted keys of the hosts that restore)\n"
	       "key sha256:  %s\n",
	       path, path, fp);
	return 0;
}
