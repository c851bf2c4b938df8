/* SPDX-License-Identifier: MIT */
/*
 * target.c - the process a dump is asked to checkpoint: what is refused
 * before anything is touched, and what became of it after a failed dump.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint/ck_int.h"

/* Whether pid is crpc's parent, grandparent, ... */
static bool is_ancestor(pid_t pid)
{
	pid_t p = getppid();

	for (int i = 0; i < 4096 && p > 1; i++) {
		crpc_task_status st;

		if (p == pid)
			return true;
		if (crpc_task_status_read(p, &st) < 0)
			break;
		p = st.ppid;
	}
	return false;
}

static int refuse(crpc_error **err, crpc_cause cause, const char *op, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refuse(crpc_error **err, crpc_cause cause, const char *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	crpc_error_setv(err, CRPC_EXIT_FAIL, 0, op, fmt, ap);
	va_end(ap);
	if (err && *err)
		(*err)->cause = cause;
	return -1;
}

int ck_target_check(ck_op *o, char *state_before, crpc_error **err)
{
	const char *op = o->op;
	pid_t pid = o->p.pid;
	crpc_task_status pi;

	if (pid == 1)
		return refuse(err, CRPC_CAUSE_UNKNOWN, op, "refusing to checkpoint PID 1 (init)");
	if (pid == getpid())
		return refuse(err, CRPC_CAUSE_UNKNOWN, op, "refusing to checkpoint crpc itself (PID %d)",
			      (int)pid);
	if (crpc_task_status_read(pid, &pi) < 0) {
		if (errno == ENOENT || errno == ESRCH)
			return refuse(err, CRPC_CAUSE_NO_PROCESS, op, "no process with PID %d", (int)pid);
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot inspect PID %d", (int)pid);
	}
	snprintf(o->res->comm, sizeof(o->res->comm), "%s", pi.comm);
	if (pi.tgid != pid)
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, op,
				      "%d is a thread of process %d (%s), not a process; give the "
				      "process ID %d",
				      (int)pid, (int)pi.tgid, pi.comm, (int)pi.tgid);
	if (pi.state == 'Z' || pi.state == 'X' || pi.state == 'x')
		return refuse(err, CRPC_CAUSE_NO_PROCESS, op,
			      "PID %d (%s) is a zombie: it has exited and waits to be reaped by its "
			      "parent, there is nothing to checkpoint",
			      (int)pid, pi.comm);
	/* the flag, not PID 2's children: in a PID namespace PID 2 is a user process */
	if (pi.kernel_thread)
		return refuse(err, CRPC_CAUSE_UNKNOWN, op,
			      "PID %d (%s) is a kernel thread; only user processes can be "
			      "checkpointed",
			      (int)pid, pi.comm);
	if (is_ancestor(pid))
		return refuse(err, CRPC_CAUSE_UNKNOWN, op,
			      "refusing to checkpoint PID %d (%s): it is an ancestor of crpc, so "
			      "crpc and CRIU would be part of the tree to checkpoint",
			      (int)pid, pi.comm);
	*state_before = pi.state;
	return 0;
}

void ck_target_after(ck_op *o, char state_before)
{
	crpc_checkpoint_target *t = &o->res->target;
	crpc_task_status pi;

	t->checked = true;
	if (crpc_task_status_read(o->p.pid, &pi) < 0 || pi.state == 'Z' || pi.state == 'X') {
		t->exists = false;
		t->running = false;
		return;
	}
	if (pi.state == 'T' && state_before != 'T') {
		if (kill(o->p.pid, SIGCONT) == 0) {
			t->sent_sigcont = true;
			if (crpc_task_status_read(o->p.pid, &pi) < 0)
				pi.state = '?';
		}
	}
	t->exists = true;
	t->running = pi.state != 'T';
	snprintf(t->comm, sizeof(t->comm), "%s", pi.comm);
}
