/* SPDX-License-Identifier: MIT */
/*
 * checkpoint.c - checkpoint a process tree into a directory with
 * crpc_checkpoint_dump() and print what it did.
 *
 *     checkpoint [-R] PID DIR
 *
 * -R leaves the tree running. Must run as root. CRIU is $CRPC_CRIU, else
 * criu on $PATH; no configuration file is read.
 */
#include <crpc/crpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Print what the dump says on its way, as crpc does. */
static void on_event(crpc_checkpoint_event kind, const char *message, void *userdata)
{
	(void)userdata;
	if (kind == CRPC_CHECKPOINT_WARNING)
		fprintf(stderr, "warning: %s\n", message);
	else if (kind == CRPC_CHECKPOINT_NOTICE)
		fprintf(stderr, "%s\n", message);
}

int main(int argc, char **argv)
{
	crpc_checkpoint_params p;
	crpc_checkpoint_result *res = NULL;
	crpc_error *err = NULL;
	crpc_opts opts;
	int arg = 1, rc;

	crpc_opts_init(&opts);
	if (argc > 1 && strcmp(argv[1], "-R") == 0) {
		opts.leave_running = true;
		arg++;
	}
	if (argc - arg != 2 || atoi(argv[arg]) <= 0) {
		fprintf(stderr, "usage: %s [-R] PID DIR\n", argv[0]);
		return 2;
	}

	crpc_checkpoint_params_init(&p);
	p.pid = atoi(argv[arg]);
	p.dir = argv[arg + 1];
	p.opts = &opts;
	p.on_event = on_event;

	if (crpc_checkpoint_dump(&p, &res, &err) < 0) {
		char *text = crpc_error_format(err); /* message, CRIU's log excerpt, hint */

		fputs(text ? text : "checkpoint failed\n", stderr);
		free(text);
		if (res && res->target.checked)
			fprintf(stderr, "PID %d %s\n", (int)p.pid,
				!res->target.exists   ? "no longer exists"
				: res->target.running ? "is still running"
						      : "is stopped");
		rc = err && err->exit_class ? (int)err->exit_class : 1;
	} else {
		printf("checkpointed PID %d (%s) into %s in %.3f s\n", (int)res->pid, res->comm,
		       res->images_dir, res->wall_seconds);
		for (size_t i = 0; i < res->options.n; i++)
			printf("  option %s=%s (%s: %s)\n", res->options.v[i].option, res->options.v[i].value,
			       crpc_opt_source_name(res->options.v[i].source), res->options.v[i].reason);
		printf("  crpc.json: %zu files, %llu bytes\n", res->manifest.files,
		       (unsigned long long)res->manifest.bytes);
		if (res->have_stats)
			printf("  frozen for %u us, %llu pages written\n", res->stats.frozen_time,
			       (unsigned long long)res->stats.pages_written);
		rc = res->hook_failed ? 4 : 0;
	}
	crpc_checkpoint_result_free(res);
	crpc_error_free(err);
	crpc_opts_release(&opts);
	return rc;
}
