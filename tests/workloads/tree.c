/*
 * tree DIR: a tree of 10 processes: the root, 3 children, 2 children each
 * of those. Parents and children talk over pipes. On SIGUSR1 the root sends
 * "verify N" down the tree; every process checks that its parent is the one
 * of setup and that its children are alive and still its children, gets the
 * reports of its children and sends its own up ("ok COUNT" with the number
 * of processes found intact in its subtree, or "FAIL: REASON"). The root
 * reports ok when all 10 are intact.
 */
#include "zoo.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXKIDS 3
#define NPROCS 10

struct node {
	int down, up; /* from and to the parent; -1 for the root */
	pid_t parent;
	int nkids;
	pid_t kids[MAXKIDS];
	int kdown[MAXKIDS], kup[MAXKIDS];
};

static void node_loop(struct node *me) __attribute__((noreturn));

static pid_t ppid_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	long ppid = -1;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 1, " %*c %ld", &ppid);
	fclose(f);
	return (pid_t)ppid;
}

static void spawn(struct node *me, int depth)
{
	int n = depth == 0 ? 3 : depth == 1 ? 2 : 0;

	me->nkids = 0;
	for (int i = 0; i < n; i++) {
		int d[2], u[2];
		pid_t pid;

		if (pipe2(d, O_CLOEXEC) < 0 || pipe2(u, O_CLOEXEC) < 0)
			zoo_die("pipe: %s", strerror(errno));
		pid = fork();
		if (pid < 0)
			zoo_die("fork: %s", strerror(errno));
		if (pid == 0) {
			struct node child = { .down = d[0], .up = u[1], .parent = getppid() };

			close(d[1]);
			close(u[0]);
			for (int j = 0; j < me->nkids; j++) {
				close(me->kdown[j]);
				close(me->kup[j]);
			}
			if (me->down >= 0) {
				close(me->down);
				close(me->up);
			}
			spawn(&child, depth + 1);
			node_loop(&child);
		}
		close(d[0]);
		close(u[1]);
		me->kids[i] = pid;
		me->kdown[i] = d[1];
		me->kup[i] = u[0];
		me->nkids++;
	}
}

/* Check this node and its subtree for round seq; returns the intact count. */
static int check_subtree(struct node *me, unsigned seq)
{
	char line[600];
	int count = 1;

	snprintf(line, sizeof(line), "verify %u\n", seq);
	for (int i = 0; i < me->nkids; i++)
		if (zoo_write_all(me->kdown[i], line, strlen(line)) < 0)
			zoo_check(false, "PID %ld: cannot reach child %ld: %s", (long)getpid(),
				  (long)me->kids[i], strerror(errno));
	if (me->down >= 0)
		zoo_check(getppid() == me->parent, "PID %ld: parent is %ld, expected %ld", (long)getpid(),
			  (long)getppid(), (long)me->parent);
	for (int i = 0; i < me->nkids; i++) {
		pid_t pp = ppid_of(me->kids[i]);
		int n;

		zoo_check(pp == getpid(), "PID %ld: child %ld has parent %ld", (long)getpid(),
			  (long)me->kids[i], (long)pp);
		if (zoo_read_line(me->kup[i], line, sizeof(line), 5000) < 0) {
			zoo_check(false, "PID %ld: no report from child %ld: %s", (long)getpid(),
				  (long)me->kids[i], strerror(errno));
			continue;
		}
		if (sscanf(line, "ok %d", &n) == 1)
			count += n;
		else
			zoo_check(false, "%s", strncmp(line, "FAIL: ", 6) == 0 ? line + 6 : line);
	}
	return count;
}

static void node_loop(struct node *me)
{
	char line[600];
	unsigned seq;

	for (;;) {
		int count;

		if (zoo_read_line(me->down, line, sizeof(line), 60000) < 0) {
			if (errno == ETIMEDOUT || errno == EINTR)
				continue;
			_exit(0); /* the parent is gone */
		}
		if (sscanf(line, "verify %u", &seq) != 1)
			continue;
		count = check_subtree(me, seq);
		if (zoo_take_failure(line + 6, sizeof(line) - 7)) {
			memcpy(line, "FAIL: ", 6);
			strcat(line, "\n");
		} else {
			snprintf(line, sizeof(line), "ok %d\n", count);
		}
		zoo_write_all(me->up, line, strlen(line));
	}
}

int main(int argc, char **argv)
{
	struct node root = { .down = -1, .up = -1 };
	unsigned seq = 0;

	zoo_init("tree", argc, argv);
	spawn(&root, 0);
	/* a first round: every process is there and answers */
	zoo_check(check_subtree(&root, ++seq) == NPROCS, "not all %d processes answered at setup", NPROCS);
	zoo_setup_done();
	for (;;) {
		if (zoo_verify_requested()) {
			int count = check_subtree(&root, ++seq);

			zoo_check(count == NPROCS, "%d of the %d processes are intact", count, NPROCS);
			zoo_finish("seq %u processes %d", seq, count);
		}
		zoo_sleep_ms(50);
	}
}
