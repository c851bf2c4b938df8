/* SPDX-License-Identifier: MIT */
/*
 * auto.c - the automatic options of a dump: inspect the tree before CRIU
 * is started, stop on blockers, add the options the tree needs (the
 * caller's own options win) and keep every option in effect with its
 * reason and source for the result and the checkpoint's manifest.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "checkpoint/ck_int.h"

/* The blockers as the dump's failure. */
static int blocked(ck_op *o, crpc_error **err)
{
	const crpc_verdict *v = &o->res->verdict;
	pid_t pid = o->p.pid;
	char names[256];

	/* the message names the blockers; the result holds their reasons */
	names[0] = '\0';
	for (size_t i = 0, used = 0; i < v->n_blockers && used < sizeof(names); i++) {
		int n = snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
				 v->blockers[i].name);

		if (n < 0)
			break;
		used += (size_t)n;
	}
	o->res->failed_step = CRPC_CHECKPOINT_BLOCKED;
	crpc_error_set(err, CRPC_EXIT_FAIL, 0, o->op,
		       "the process tree cannot be checkpointed: %zu blocker%s (%s)", v->n_blockers,
		       v->n_blockers == 1 ? "" : "s", names);
	if (err && *err) {
		crpc_error *e = *err;

		if (strcmp(v->blockers[0].name, "kernel-feature") == 0)
			e->cause = CRPC_CAUSE_KERNEL;
		else if (strcmp(v->blockers[0].name, "zombie-root") == 0)
			e->cause = CRPC_CAUSE_NO_PROCESS;
		else if (strcmp(v->blockers[0].name, "session-zero") == 0)
			e->cause = CRPC_CAUSE_SESSION_ZERO;
		crpc_error_set_hint(e,
				    "nothing was changed and CRIU was asked nothing; 'crpc inspect %d' shows the "
				    "tree, and --no-auto skips this check",
				    (int)pid);
	}
	return -1;
}

/*
 * The inodes of the pipes of which the tree holds one end only, and the
 * tree's PIDs: crpc.json's outside pipes are found from them while CRIU
 * dumps (mf_pipe_scan_start()). Nothing kept when out of memory: crpc.json's
 * writer then scans /proc itself.
 */
static void keep_outside_pipes(ck_op *o, const crpc_inspect_result *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_procs; i++)
		for (size_t j = 0; j < r->procs[i].n_fds; j++)
			n += r->procs[i].fds[j].type == CRPC_FD_PIPE &&
			     r->procs[i].fds[j].peer == CRPC_PEER_OUTSIDE;
	if (!n || !(o->out_pipes = calloc(n, sizeof(*o->out_pipes))) ||
	    !(o->tree_pids = calloc(r->n_procs, sizeof(*o->tree_pids)))) {
		free(o->out_pipes);
		o->out_pipes = NULL;
		return;
	}
	for (size_t i = 0; i < r->n_procs; i++) {
		o->tree_pids[o->n_tree_pids++] = r->procs[i].pid;
		for (size_t j = 0; j < r->procs[i].n_fds; j++)
			if (r->procs[i].fds[j].type == CRPC_FD_PIPE &&
			    r->procs[i].fds[j].peer == CRPC_PEER_OUTSIDE)
				o->out_pipes[o->n_out_pipes++] = r->procs[i].fds[j].inode;
	}
}

int ck_auto_dump(ck_op *o, crpc_error **err)
{
	const crpc_opts *config = o->p.config ? &o->p.config->dump : NULL;
	crpc_checkpoint_result *res = o->res;
	crpc_inspect_result *r = NULL;
	crpc_opts none;
	crpc_error *e = NULL;

	crpc_opts_init(&none);
	o->res->failed_step = CRPC_CHECKPOINT_INSPECT;
	if (o->p.no_auto) {
		ck_info(o, "automatic options are off (--no-auto)");
		goto apply;
	}
	/* the locks CRIU can dump are those fdinfo shows: no wait for /proc/locks */
	if (crpc_inspect_tree(o->p.pid, CRPC_INSPECT_FDINFO_LOCKS, &r, &e) < 0) {
		if (e && e->cause == CRPC_CAUSE_NO_PROCESS) {
			if (err && !*err)
				*err = e;
			else
				crpc_error_free(e);
			return -1;
		}
		ck_warn(o, "cannot inspect PID %d (%s); dumping without automatic options", (int)o->p.pid,
			e && e->message ? e->message : "unknown error");
		crpc_error_free(e);
		goto apply;
	}
	o->expect_bytes = r->mem.anon + r->mem.shmem; /* what the page images will hold, about */
	if (crpc_inspect_verdict(r, &res->verdict, err) < 0) {
		crpc_inspect_free(r);
		return -1;
	}
	ck_info(o, "inspected PID %d: %zu process(es), %zu fd(s) in %.1f ms", (int)o->p.pid, r->n_procs,
		r->n_fds, r->elapsed * 1e3);
	/* kept for crpc.json: the pipes shared with outside processes, whose holders it names */
	keep_outside_pipes(o, r);
	/* kept for crpc.json: what the restore gives back */
	o->nst = r->nst;
	memset(&r->nst, 0, sizeof(r->nst));
	crpc_inspect_free(r);
	/* a container's own namespaces, mounts and cgroups are what it is made of */
	if (o->p.target) {
		size_t n = crpc_container_verdict_filter(&res->verdict);

		if (n)
			ck_info(o,
				"%zu warning(s) about the container's own namespaces left out: expected of a "
				"container",
				n);
	}
	/* what the dump will break or lose (a pipe or socket to the outside, ...): always said */
	for (size_t i = 0; i < res->verdict.n_warnings; i++)
		ck_warn(o, "%s", res->verdict.warnings[i].reason);
	if (res->verdict.n_blockers)
		return blocked(o, err);
apply:
	if (crpc_inspect_apply(&res->verdict, o->p.opts ? o->p.opts : &none, config, &o->opts, &res->options,
			       err) < 0)
		return -1;
	res->auto_ran = true;
	for (size_t i = 0; i < res->options.n; i++) {
		const crpc_opt_reason *x = &res->options.v[i];

		if (x->source == CRPC_OPT_SOURCE_AUTO) {
			if (strcmp(x->value, "true") == 0)
				ck_notice(o, "auto: %s (%s)", x->option, x->reason);
			else
				ck_notice(o, "auto: %s=%s (%s)", x->option, x->value, x->reason);
		} else if (x->overrides) {
			ck_warn(o, "%s=%s kept: %s", x->option, x->value, x->reason);
		}
	}
	return 0;
}
