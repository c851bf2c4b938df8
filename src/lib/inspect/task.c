/* SPDX-License-Identifier: MIT */
/*
 * task.c - what /proc says of one task, for the checks a command makes
 * before it touches a process (crpc/inspect.h: crpc_task_status_read()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "crpc/inspect.h"
#include "inspect_int.h"
#include "internal.h"

/* task flag of kernel threads in /proc/PID/stat */
#define TASK_PF_KTHREAD 0x00200000UL

CRPC_API int crpc_task_status_read(pid_t pid, crpc_task_status *st)
{
	char path[64], buf[4096];
	ins_status ss;
	ins_stat s;

	memset(st, 0, sizeof(*st));
	if (pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (ins_read_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
		return -1;
	if (ins_parse_stat(buf, &s) < 0) {
		errno = EINVAL;
		return -1;
	}
	st->pid = st->tgid = pid;
	st->ppid = s.ppid;
	st->pgid = s.pgid;
	st->sid = s.sid;
	st->state = s.state;
	st->kernel_thread = (s.flags & TASK_PF_KTHREAD) != 0;
	snprintf(st->comm, sizeof(st->comm), "%s", s.comm);
	/* the process a thread ID belongs to; a task that just exited keeps its stat */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (ins_read_at(AT_FDCWD, path, buf, sizeof(buf)) >= 0) {
		memset(&ss, 0, sizeof(ss));
		ins_parse_status(buf, &ss);
		if (ss.tgid > 0)
			st->tgid = ss.tgid;
		st->kernel_thread = st->kernel_thread || ss.kthread;
	}
	return 0;
}
