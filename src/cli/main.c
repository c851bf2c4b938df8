/* SPDX-License-Identifier: MIT */
/* main.c - crpc [GLOBAL OPTIONS] COMMAND [ARGS]: global options and dispatch. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "timing.h"

typedef struct cli_command {
	const char *name;
	const char *alias;
	const char *summary;
	int (*run)(crpc_cli *cli, int argc, char **argv);
	const char *help;
} cli_command;

static const cli_command commands[] = {
	{ "check", NULL, "check that CRIU works on this machine", crpc_cmd_check, crpc_help_check },
	{ "version", NULL, "show the versions of crpc and CRIU", crpc_cmd_version, crpc_help_version },
	{ "features", NULL, "show which optional CRIU features work here", crpc_cmd_features,
	  crpc_help_features },
	{ "dump", "checkpoint", "checkpoint a process tree into a directory", crpc_cmd_dump, crpc_help_dump },
	{ "restore", NULL, "restore a process tree from a directory", crpc_cmd_restore, crpc_help_restore },
	{ "recover", NULL, "complete the checkpoint a killed dump left", crpc_cmd_recover,
	  crpc_help_recover },
	{ "show", NULL, "show what a checkpoint holds", crpc_cmd_show, crpc_help_show },
	{ "inspect", NULL, "show what a running process tree holds and what a dump needs", crpc_cmd_inspect,
	  crpc_help_inspect },
	{ "ps", NULL, "list the containers of every engine and whether crpc can checkpoint them",
	  crpc_cmd_ps, crpc_help_ps },
	{ "config", NULL, "validate a configuration file and show the one in effect", crpc_cmd_config,
	  crpc_help_config },
	{ "trace", NULL, "show or replay a trace written by --trace", crpc_cmd_trace, crpc_help_trace },
	{ "key", NULL, "generate a key pair to sign checkpoints with", crpc_cmd_key, crpc_help_key },
	{ "shim", NULL, "stand in for CRIU between a client (runc, podman) and CRIU", crpc_cmd_shim,
	  crpc_help_shim },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char help_main[] =
	"Usage: crpc [OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Checkpoint and restore Linux processes with CRIU, driven through CRIU's RPC\n"
	"interface ('criu swrk').\n"
	"\n"
	"Commands:\n"
	"  check       check that CRIU works on this machine\n"
	"  version     show the versions of crpc and CRIU\n"
	"  features    show which optional CRIU features work on this kernel\n"
	"  dump        checkpoint a process tree into a directory (alias: checkpoint)\n"
	"  restore     restore a process tree from a directory\n"
	"  recover     complete the checkpoint a killed dump left (crpc recover LEFTOVER)\n"
	"  show        show what a checkpoint holds (manifest, tree, fds, memory)\n"
	"  inspect     show what a running process tree holds and what a dump of it needs\n"
	"  ps          list the containers of every engine and whether crpc can checkpoint them\n"
	"  config      validate a configuration file (crpc config check [FILE])\n"
	"  trace       show or replay a trace written by --trace (crpc trace show|replay)\n"
	"  key         generate a key pair to sign checkpoints with (crpc key generate)\n"
	"  shim ARGS   stand in for CRIU (also: crpc run as a symlink named criu)\n"
	"  help [CMD]  show this help, or the help of a command\n"
	"\n"
	"Options (accepted before or after the command):\n" CRPC_CLI_HELP_COMMON "\n"
	"Examples:\n"
	"  crpc check\n"
	"  crpc dump 1234 /var/tmp/ckpt\n"
	"  crpc restore /var/tmp/ckpt\n"
	"  crpc help dump\n"
	"\n" CRPC_CLI_HELP_EXIT_CODES "\n"
	"Run 'crpc COMMAND --help' for the options of a command.\n";

static const cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
		if (commands[i].alias && strcmp(commands[i].alias, name) == 0)
			return &commands[i];
	}
	return NULL;
}

static int unknown_command(crpc_cli *cli, const char *name)
{
	cli->cmd = NULL;
	return crpc_cli_usage(
		cli, false,
		"unknown command '%s'\n"
		"Commands: check, version, features, dump (alias checkpoint), restore, recover, show, inspect, ps, config, trace, key, shim, help",
		name);
}

/* crpc help [COMMAND] */
static int cmd_help(crpc_cli *cli, int argc, char **argv)
{
	const cli_command *c;
	int rc;

	cli->cmd = "help";
	cli->usage = "crpc help [COMMAND]";
	while (crpc_cli_getopt(cli, argc, argv, ":hv", crpc_cli_common_options) != -1)
		;
	if (cli->usage_error)
		return crpc_cli_usage(cli, false, "%s", cli->usage_error);
	if (optind >= argc)
		return crpc_cli_print_help(cli, help_main);
	if (optind + 1 < argc)
		return crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind + 1]);
	if (strcmp(argv[optind], "help") == 0)
		return crpc_cli_print_help(cli, help_main);
	c = find_command(argv[optind]);
	if (!c)
		return unknown_command(cli, argv[optind]);
	rc = crpc_cli_print_help(cli, c->help);
	return rc;
}

int main(int argc, char **argv)
{
	crpc_cli cli;
	const cli_command *c;
	int rc = 0;
	int first;

	/* started by `crpc trace replay` in CRIU's place: answer from the trace */
	if (crpc_cli_replay_peer_wanted(argc, argv))
		return crpc_cli_replay_peer(argc, argv);
	/* run under the name criu (a symlink): stand in for CRIU, every argument is CRIU's */
	if (argc > 0 && strcmp(crpc_cli_basename(argv[0]), "criu") == 0)
		return crpc_shim_main(argc, argv);

	crpc__timing_mark("main");
	memset(&cli, 0, sizeof(cli));
	cli.usage = "crpc [OPTIONS] COMMAND [ARGS]";
	cli.argc = argc;
	cli.argv = argv;

	/*
	 * An inherited "ignore SIGCHLD" makes the kernel reap children by
	 * itself: crpc could then not learn how CRIU or a restored tree ended.
	 */
	if (signal(SIGCHLD, SIG_DFL) == SIG_ERR) {
		perror("crpc: cannot reset SIGCHLD");
		return CRPC_EXIT_FAIL;
	}

	/* global options, up to the command ("+": stop at the first operand) */
	while (crpc_cli_getopt(&cli, argc, argv, "+:hv", crpc_cli_common_options) != -1)
		;
	first = optind;
	if (cli.help) {
		rc = crpc_cli_print_help(&cli, help_main);
		goto out;
	}
	if (cli.version) {
		rc = crpc_cli_print_version(&cli);
		goto out;
	}
	if (cli.usage_error) {
		rc = crpc_cli_usage(&cli, false, "%s", cli.usage_error);
		goto out;
	}
	if (first >= argc) {
		rc = crpc_cli_usage(
			&cli, true,
			"missing COMMAND\n"
			"Commands: check, version, features, dump (alias checkpoint), restore, recover, show, inspect, ps, config, trace, key, shim, help");
		goto out;
	}

	/* the command parses the rest, its own options and the global ones again */
	optind = 0;
	if (strcmp(argv[first], "help") == 0) {
		rc = cmd_help(&cli, argc - first, argv + first);
		goto out;
	}
	c = find_command(argv[first]);
	if (!c) {
		rc = unknown_command(&cli, argv[first]);
		goto out;
	}
	cli.cmd = argv[first];
	{
		double t = crpc__timing_now();

		rc = c->run(&cli, argc - first, argv + first);
		crpc__timing(cli.cmd, t);
	}

out:
	crpc_cli_trace_close(&cli);
	crpc_cli_config_release(&cli);
	free(cli.usage_error);
	if (fflush(stdout) != 0 && rc == 0) {
		perror("crpc: writing to stdout");
		rc = CRPC_EXIT_FAIL;
	}
	return rc;
}
