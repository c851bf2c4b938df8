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
	"machine can checkpoint and restore processes with the CRIU crpc would use.\n"
	"Must run as root.\n"
	"\n"
	"Options:\n" CRPC_CLI_HELP_COMMON
	"\n"
	"Examples:\n"
	"  crpc check\n"
	"  crpc check --criu /opt/crpc/criu/bin/criu --json\n"
	"\n" CRPC_CLI_HELP_EXIT_CODES
	"\n"
	"A failed check exits with 3; run scripts/setup (as root) to provision a CRIU\n"
	"that works on this kernel.\n";

static const struct option check_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

/* Remove the files CRIU left in the temporary directory, then the directory. */
static void remove_tmpdir(const crpc_cli *cli, int dirfd, const char *path)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
	} else {
		while ((errno = 0, de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (unlinkat(dirfd, de->d_name, 0) < 0 && errno == EISDIR)
				unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
		}
		closedir(d);
	}
	if (rmdir(path) < 0)
		crpc_cli_warn(cli, "cannot remove temporary directory %s: %s", path, strerror(errno));
}

int crpc_cmd_check(crpc_cli *cli, int argc, char **argv)
{
	char tmpl[] = "/tmp/crpc-check.XXXXXX";
	crpc_session *s = NULL;
	crpc_error *err = NULL;
	char *tmpdir = NULL;
	int dirfd = -1;
	char ver[96];
	int rc;

	cli->usage = "crpc check [OPTIONS]";
	while (crpc_cli_getopt(cli, argc, argv, ":hv", check_options) != -1)
		;
	if (crpc_cli_early_exit(cli, crpc_help_check, &rc))
		return rc;
	if (optind < argc)
		return crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind]);

	if (crpc_cli_need_root(cli, "check", &err) < 0)
		goto fail;
	if (crpc_cli_session_open(cli, &s, &err) < 0)
		goto fail;

	tmpdir = mkdtemp(tmpl);
	if (!tmpdir) {
		crpc_error_set(&err, CRPC_EXIT_FAIL, errno, "check",
			       "cannot create a temporary directory under /tmp");
		goto fail;
	}
	dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		crpc_error_set(&err, CRPC_EXIT_FAIL, errno, "check", "cannot open %s", tmpdir);
		goto fail;
	}
	crpc_cli_info(cli, "running CRIU's check in %s", tmpdir);
	if (crpc_session_check(s, dirfd, &err) < 0) {
		if (err && !err->log_excerpt) {
			char logp[PATH_MAX];

			snprintf(logp, sizeof(logp), "%s/check.log", tmpdir);
			crpc_error_attach_log(err, logp);
		}
		if (err && err->exit_class == CRPC_EXIT_FAIL)
			err->exit_class = CRPC_EXIT_ENV;
		if (err && !err->hint)
			crpc_error_set_hint(err, "run scripts/setup (as root) to provision a CRIU that "
						 "works on this kernel, or pass --criu PATH");
		goto fail;
	}

	crpc_version_format(crpc_session_version(s), ver, sizeof(ver));
	if (cli->json) {
		json_t *doc = crpc_cli_jobj();

		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "criu", crpc_cli_json_criu(s));
		rc = crpc_cli_emit(doc) < 0 ? CRPC_EXIT_FAIL : 0;
	} else {
		printf("CRIU %s at %s: check passed\n", ver, crpc_session_criu_path(s));
		rc = 0;
	}
	crpc_session_close(s);
	remove_tmpdir(cli, dirfd, tmpdir);
	close(dirfd);
	return rc;

fail:
	crpc_session_close(s);
	if (tmpdir) {
		if (dirfd >= 0)
			remove_tmpdir(cli, dirfd, tmpdir);
		else if (rmdir(tmpdir) < 0)
			crpc_cli_warn(cli, "cannot remove %s: %s", tmpdir, strerror(errno));
		/* the log is gone with the directory; its excerpt is in the error */
		if (err && err->log_path && strncmp(err->log_path, tmpdir, strlen(tmpdir)) == 0) {
			free(err->log_path);
			err->log_path = NULL;
		}
	}
	if (dirfd >= 0)
		close(dirfd);
	rc = crpc_cli_fail(cli, err, NULL, NULL);
	crpc_error_free(err);
	return rc;
}
