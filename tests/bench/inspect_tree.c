/* SPDX-License-Identifier: MIT */
/*
 * inspect_tree - a process tree to inspect: NPROCS processes holding about
 * NFDS file descriptors in total, of many kinds (pipes, UNIX socket pairs,
 * loopback TCP connections inside the tree, eventfd, timerfd, epoll, signalfd,
 * inotify, memfd, regular files, /dev/null), for tests/bench/inspect.sh.
 *
 *   inspect_tree [-p NPROCS] [-f NFDS] PIDFILE
 *
 * Starts a new session, writes the root's PID to PIDFILE once every process
 * holds its fds, and waits. SIGTERM to the root ends the whole tree (each
 * child dies with its parent through PR_SET_PDEATHSIG).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

static int listen_fd = -1;
static struct sockaddr_in listen_addr;

static void die(const char *what)
{
	fprintf(stderr, "inspect_tree: %s: %s\n", what, strerror(errno));
	_exit(1);
}

/* Open about n fds of assorted kinds in this process. */
static void open_fds(int n, int idx)
{
	int opened = 0, k;

	k = idx % 10;
	while (opened < n) {
		int fds[2], fd;

		switch (k++ % 10) {
		case 0:
			if (pipe2(fds, O_CLOEXEC) < 0)
				die("pipe");
			opened += 2;
			break;
		case 1:
			if (listen_fd < 0 || idx == 0) {
				if (eventfd(0, EFD_CLOEXEC) < 0)
					die("eventfd");
				opened++;
				break;
			}
			/* a loopback TCP connection to the root's listener, accepted by nobody:
			 * it completes in the backlog and is ESTABLISHED on this side */
			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0 || connect(fd, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0)
				die("connect");
			opened++;
			break;
		case 2:
			if (eventfd(0, EFD_CLOEXEC) < 0)
				die("eventfd");
			opened++;
			break;
		case 3:
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
				die("socketpair");
			opened += 2;
			break;
		case 4:
			if (open("/proc/self/stat", O_RDONLY | O_CLOEXEC) < 0)
				die("open");
			opened++;
			break;
		case 5:
			if (timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC) < 0)
				die("timerfd");
			opened++;
			break;
		case 6:
			if (memfd_create("inspect-bench", MFD_CLOEXEC) < 0)
				die("memfd");
			opened++;
			break;
		case 7:
			fd = epoll_create1(EPOLL_CLOEXEC);
			if (fd < 0)
				die("epoll");
			opened++;
			break;
		case 8:
			fd = inotify_init1(IN_CLOEXEC);
			if (fd < 0)
				die("inotify");
			inotify_add_watch(fd, "/tmp", IN_CREATE);
			opened++;
			break;
		case 9:
			if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds) < 0)
				die("socketpair");
			opened += 2;
			break;
		}
	}
}

static void quit(int sig)
{
	(void)sig;
	_exit(0);
}

int main(int argc, char **argv)
{
	int nprocs = 100, nfds = 1000, opt, ready[2];
	const char *pidfile;
	pid_t root;
	FILE *f;

	while ((opt = getopt(argc, argv, "p:f:")) != -1) {
		if (opt == 'p')
			nprocs = atoi(optarg);
		else if (opt == 'f')
			nfds = atoi(optarg);
		else
			return 2;
	}
	if (optind != argc - 1 || nprocs < 1 || nfds < 0) {
		fprintf(stderr, "usage: inspect_tree [-p NPROCS] [-f NFDS] PIDFILE\n");
		return 2;
	}
	pidfile = argv[optind];
	/* only the fds made here count: drop whatever the caller left open */
	close_range(3, ~0U, 0);
	if (pipe(ready) < 0)
		die("pipe");
	root = fork();
	if (root < 0)
		die("fork");
	if (root > 0) {
		char c;

		/* wait for the tree to be ready, then leave it running */
		close(ready[1]);
		if (read(ready[0], &c, 1) != 1)
			return 1;
		f = fopen(pidfile, "w");
		if (!f || fprintf(f, "%d\n", (int)root) < 0 || fclose(f) != 0)
			die(pidfile);
		return 0;
	}
	close(ready[0]);
	setsid();
	signal(SIGTERM, quit);
	{
		int nul = open("/dev/null", O_RDWR);

		if (nul < 0)
			die("/dev/null");
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		if (nul > 2)
			close(nul);
	}
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&listen_addr, 0, sizeof(listen_addr));
	listen_addr.sin_family = AF_INET;
	listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	{
		socklen_t len = sizeof(listen_addr);

		if (listen_fd < 0 ||
		    bind(listen_fd, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0 ||
		    listen(listen_fd, 4096) < 0 ||
		    getsockname(listen_fd, (struct sockaddr *)&listen_addr, &len) < 0)
			die("listen");
	}
	/* the fds each process opens besides its 3 stdio fds; a two-level tree */
	{
		int per = nfds / nprocs - 3; /* besides stdio */
		int children = nprocs - 1;
		int level1 = (children + 10) / 11;
		int left = children - level1, sync[2];

		if (per < 0)
			per = 0;
		if (pipe(sync) < 0)
			die("pipe");
		for (int i = 0; i < level1; i++) {
			int kids = left / (level1 - i);
			pid_t c;

			left -= kids;
			c = fork();
			if (c < 0)
				die("fork");
			if (c > 0)
				continue;
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(ready[1]);
			close(sync[0]);
			close(listen_fd);
			for (int k = 0; k < kids; k++) {
				pid_t g = fork();

				if (g < 0)
					die("fork");
				if (g == 0) {
					prctl(PR_SET_PDEATHSIG, SIGKILL);
					open_fds(per, i * 11 + k + 2);
					if (write(sync[1], "x", 1) != 1)
						_exit(1);
					close(sync[1]);
					for (;;)
						pause();
				}
			}
			open_fds(per, i * 11 + 1);
			if (write(sync[1], "x", 1) != 1)
				_exit(1);
			close(sync[1]);
			for (;;)
				pause();
		}
		open_fds(per - 1, 0); /* the listener is one of the root's */
		close(sync[1]);
		for (int i = 0; i < children; i++) {
			char c;

			if (read(sync[0], &c, 1) != 1)
				die("a child failed");
		}
		close(sync[0]);
	}
	if (write(ready[1], "r", 1) != 1)
		die("ready");
	close(ready[1]);
	for (;;)
		pause();
}
